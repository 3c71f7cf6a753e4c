"""epyrpc: typed remote calls between processes, a Python peer.

Speaks the epyrpc wire protocol (doc/wire.md) with C peers and servers
built on libepyrpc. Payloads are the protobuf messages of the .proto
file idlc writes for an interface (compile it with protoc --python_out):

    import epyrpc, calc_pb2
    peer = epyrpc.connect("unix:/run/calc.sock",
                          interfaces={"calc": CALC_FINGERPRINT})
    r = peer.call("calc.add", calc_pb2.calc_add_args(a=2, b=3),
                  calc_pb2.calc_add_result, timeout=2.0)
    print(r.value)
    peer.close()
"""

# The generated envelope_pb2 module may lie in another folder of the
# search path (a build folder) than these sources.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from .wire import (STATUS, PROTOCOL_VERSION, DEFAULT_MAX_FRAME,  # noqa: E402
                   fingerprint, status_name, strerror, parse_address)
from .peer import (Peer, connect, Error, CallError, CallTimeout,  # noqa: E402
                   Disconnected, ProtocolError, VersionError)

for _num, (_name, _text) in STATUS.items():
    globals()[_name] = _num
del _num, _name, _text

__all__ = [
    "Peer", "connect", "Error", "CallError", "CallTimeout", "Disconnected",
    "ProtocolError", "VersionError", "fingerprint", "status_name",
    "strerror", "parse_address", "PROTOCOL_VERSION", "DEFAULT_MAX_FRAME",
] + [name for name, _ in STATUS.values()]
