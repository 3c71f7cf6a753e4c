"""The epyrpc wire format (doc/wire.md): frames, the envelope, status
codes, fingerprints and addresses.

A frame is a 4-byte little-endian length followed by one
epyrpc.Envelope (envelope.proto, compiled by protoc into
envelope_pb2, which is installed beside this module).
"""

import re
import socket
import struct
import zlib

from . import envelope_pb2 as pb

Envelope = pb.Envelope
Hello = pb.Hello

HELLO = pb.HELLO
CALL = pb.CALL
EVENT = pb.EVENT
REPLY = pb.REPLY
ERROR = pb.ERROR
CANCEL = pb.CANCEL
DISCONNECT = pb.DISCONNECT
KINDS = (HELLO, CALL, EVENT, REPLY, ERROR, CANCEL, DISCONNECT)

PROTOCOL_VERSION = 1
DEFAULT_MAX_FRAME = 16 << 20
TIMEOUT_MAX_MS = 86400000

# Inflating a compressed payload: at most this times the frame's length
# plus this slack (and at most max_frame).
INFLATE_FACTOR = 8
INFLATE_SLACK = 1 << 20

# The status codes (doc/wire.md, "Status codes"): number -> (name, text).
STATUS = {
    0: ("EPY_OK", "success"),
    -1: ("EPY_EPARAM", "invalid parameter"),
    -2: ("EPY_EUNKNOWN", "unknown api"),
    -3: ("EPY_EUNSUPPORTED", "unsupported method"),
    -4: ("EPY_EFAILED", "handler failed"),
    -5: ("EPY_ETIMEDOUT", "call timed out"),
    -6: ("EPY_EDISCONNECTED", "peer disconnected"),
    -7: ("EPY_ECANCELED", "call cancelled"),
    -8: ("EPY_EPROTO", "protocol error"),
    -9: ("EPY_ETOOBIG", "message too large"),
    -10: ("EPY_EBUSY", "resource busy"),
    -11: ("EPY_ECLOSED", "peer closed"),
    -12: ("EPY_ENOMEM", "out of memory"),
    -13: ("EPY_ENOTFOUND", "no such transaction"),
    -14: ("EPY_EMODE", "operation not allowed in this completion mode"),
    -15: ("EPY_EFOREIGN", "transaction id of another origin"),
    -16: ("EPY_EEXIST", "already registered"),
    -17: ("EPY_EVERSION", "protocol version mismatch"),
    -18: ("EPY_ESYSTEM", "system error"),
    -19: ("EPY_EPENDING", "call still pending"),
    -20: ("EPY_EPERM", "permission denied"),
}

for _num, (_name, _text) in STATUS.items():
    globals()[_name] = _num
del _num, _name, _text


def status_name(code):
    """The symbolic name of a status code: "EPY_ETIMEDOUT", "EPY_E?"."""
    if code >= 0:
        return "EPY_OK"
    return STATUS.get(code, ("EPY_E?", ""))[0]


def strerror(code):
    """The standard text of a status code."""
    if code >= 0:
        return "success"
    return STATUS.get(code, ("", "unknown error"))[1]


# --- interface fingerprints ---------------------------------------------------

_FNV_PRIME = 0x100000001b3
_MASK = (1 << 64) - 1


def _fnv1a(data, h):
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & _MASK
    return h


def fingerprint(description):
    """The fingerprint of an interface description (str or bytes): two
    FNV-1a 64-bit hashes of its bytes, as 32 lowercase hex digits."""
    if isinstance(description, str):
        description = description.encode("utf-8")
    return "%016x%016x" % (_fnv1a(description, 0xcbf29ce484222325),
                           _fnv1a(description, 0x84222325cbf29ce4))


# --- transaction ids ------------------------------------------------------------

def txn_make(origin, seq):
    return ((origin & 0xffff) << 48) | (seq & 0xffffffffffff)


def txn_origin(txn):
    return txn >> 48


def txn_seq(txn):
    return txn & 0xffffffffffff


def txn_str(txn):
    return "%d:%d" % (txn_origin(txn), txn_seq(txn))


# --- method names -----------------------------------------------------------------

def valid_name(name):
    """True if @name is a dotted name the protocol accepts."""
    if not isinstance(name, str) or not 0 < len(name) <= 1024:
        return False
    parts = name.split(".")
    if len(parts) > 64:
        return False
    for p in parts:
        if not 0 < len(p) <= 128 or not (p[0].isascii() and
                                         (p[0].isalpha() or p[0] == "_")):
            return False
        for c in p:
            if not (c.isascii() and (c.isalnum() or c == "_")):
                return False
    return True


# --- interface descriptions -------------------------------------------------------

_TYPE_WORDS = re.compile(r"[A-Za-z0-9_.]+")


def _describe_members(words):
    """{name: type} of the "name:type=number" words of a description."""
    members = []
    for w in words:
        name, colon, rest = w.partition(":")
        if colon:
            members.append((name, rest.rpartition("=")[0]))
    return members


def fd_path(description, method):
    """Where method or event @method (dotted) of an interface description
    (doc/wire.md, the hello's descriptions) passes a file descriptor
    (IDL `fd`) in its parameters or result, a struct they hold included:
    "args.s.out", "the result", or None when it passes none or the text
    does not describe it. The Python peer cannot pass descriptors."""
    types = {}
    target = None
    for line in (description or "").splitlines():
        words = line.split()
        if len(words) < 2:
            continue
        if words[0] in ("struct", "error"):
            types[words[1]] = _describe_members(words[2:])
        elif words[0] in ("method", "event") and \
                words[1].partition("(")[0] == method:
            members = _describe_members(words[2:])
            if "->" in words[:-1]:
                members.append((None, words[words.index("->") + 1]))
            target = members
    if target is None:
        return None
    # Breadth first from the parameters and the result.
    todo = [("args." + n if n is not None else "the result", t, n is None)
            for n, t in target]
    seen = set()
    while todo:
        where, spelled, is_result = todo.pop(0)
        words = _TYPE_WORDS.findall(spelled)
        if "fd" in words:
            return where
        many = "list" in words or "map" in words
        for w in words:
            if w in types and w not in seen:
                seen.add(w)
                base = ("result" if is_result else where) + \
                    ("[]" if many else "")
                todo.extend((base + "." + n, t, False) for n, t in types[w])
    return None


# --- frames ---------------------------------------------------------------------

def encode_frame(env):
    """The bytes of one frame: the length prefix and the envelope."""
    body = env.SerializeToString()
    return struct.pack("<I", len(body)) + body


def compress(payload, level=6):
    """(data, raw_len) to send: compressed when it pays and stays within
    the receiver's inflation limit, else (payload, None)."""
    z = zlib.compress(payload, level)
    if len(z) < len(payload) and \
            len(payload) <= INFLATE_FACTOR * len(z) + INFLATE_SLACK:
        return z, len(payload)
    return payload, None


def inflate(data, raw_len, frame_len, max_frame):
    """Inflates a compressed payload, checking the limits first.
    Raises ValueError(code, why)."""
    limit = min(INFLATE_FACTOR * frame_len + INFLATE_SLACK, max_frame)
    if raw_len > limit:
        raise ValueError(EPY_ETOOBIG,
                         "compressed payload of %d bytes would inflate to %d "
                         "bytes, past the limit of %d" %
                         (len(data), raw_len, limit))
    try:
        d = zlib.decompressobj()
        out = d.decompress(data, raw_len + 1)
        out += d.flush()
    except zlib.error:
        out = None
    if out is None or len(out) != raw_len or not d.eof:
        raise ValueError(EPY_EPROTO, "corrupt compressed payload")
    return out


# --- addresses ------------------------------------------------------------------

def parse_address(address):
    """(family, sockaddr) of an address: "unix:/path", "unix:@name",
    "tcp:host:port", "tcp:[v6]:port". Raises ValueError."""
    if address.startswith("unix:"):
        path = address[5:]
        if not path:
            raise ValueError("empty unix socket path in %r" % address)
        if path.startswith("@"):
            return socket.AF_UNIX, "\0" + path[1:]
        return socket.AF_UNIX, path
    if address.startswith("tcp:"):
        rest = address[4:]
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0 or rest[end + 1:end + 2] != ":":
                raise ValueError("bad TCP address %r" % address)
            host, port = rest[1:end], rest[end + 2:]
        else:
            host, _, port = rest.rpartition(":")
        if not host:
            raise ValueError("a TCP address must name its host: %r" % address)
        try:
            port = int(port)
        except ValueError:
            raise ValueError("bad TCP port in %r" % address) from None
        if not 0 <= port <= 65535:
            raise ValueError("bad TCP port in %r" % address)
        return None, (host, port)
    raise ValueError("unknown address %r: expected unix:/path, unix:@name "
                     "or tcp:host:port" % address)
