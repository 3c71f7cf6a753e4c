"""An epyrpc peer over a stream socket (doc/wire.md).

One reader thread reads the connection; each received call or event
runs its handler on a thread of its own (so a handler may call the other
end, which may call back); callers wait on events of their own. Every
wait is bounded: calls by their timeout, writes by the call's timeout,
connecting and the hello by connect()'s timeout.
"""

import itertools
import logging
import socket
import threading
import time

from google.protobuf.message import DecodeError

from . import wire
from .wire import (EPY_EPARAM, EPY_EUNKNOWN, EPY_EUNSUPPORTED, EPY_EFAILED,
                   EPY_ETIMEDOUT, EPY_EDISCONNECTED, EPY_EPROTO,
                   EPY_ETOOBIG, EPY_ECLOSED, EPY_EVERSION)

log = logging.getLogger("epyrpc")
log.addHandler(logging.NullHandler())

DEFAULT_TIMEOUT = 30.0
GOODBYE_TIMEOUT = 0.25
# How often the reader looks up from a quiet connection.
POLL_INTERVAL = 0.5


# --- exceptions -----------------------------------------------------------------

class Error(Exception):
    """Base class of epyrpc's exceptions; .code is an EPY_E* number."""

    def __init__(self, code, message=None):
        self.code = code
        self.message = message if message else wire.strerror(code)
        super().__init__(self._text())

    @property
    def status_name(self):
        return wire.status_name(self.code)

    def _text(self):
        return "%s: %s" % (self.status_name, self.message)


class CallError(Error):
    """A call failed: the other end answered with an error, or the call
    could not be made. Raise it from a served handler to answer with an
    error: CallError(code, message, error_type, payload), where payload
    is bytes or a protobuf message (a typed error: error_type names it,
    "calc.divide_by_zero")."""

    def __init__(self, code=EPY_EFAILED, message=None, error_type=None,
                 payload=b""):
        if code >= 0:
            raise ValueError("a CallError's code is negative")
        if payload is None:
            payload = b""
        elif not isinstance(payload, (bytes, bytearray, memoryview)):
            payload = payload.SerializeToString()
        self.error_type = error_type or None
        self.payload = bytes(payload)
        super().__init__(code, message)

    def decode(self, cls):
        """The error's payload decoded as message class @cls."""
        return cls.FromString(self.payload)

    def _text(self):
        t = super()._text()
        return t + (" (%s)" % self.error_type if self.error_type else "")


class CallTimeout(CallError, TimeoutError):
    """No answer within the call's timeout (code EPY_ETIMEDOUT)."""

    def __init__(self, message):
        super().__init__(EPY_ETIMEDOUT, message)


class Disconnected(Error, ConnectionError):
    """The connection ended: the other end went away (EPY_EDISCONNECTED),
    it was closed here (EPY_ECLOSED), or the other end sent something
    malformed (EPY_EPROTO). Pending calls fail with it."""


class ProtocolError(Disconnected):
    """The other end broke the protocol; the connection was closed."""


class VersionError(Disconnected):
    """The hellos do not agree (protocol version, interface fingerprint):
    the connection was closed (code EPY_EVERSION)."""


# --- the peer --------------------------------------------------------------------

def _payload_of(msg):
    if msg is None:
        return b""
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return bytes(msg)
    return msg.SerializeToString()


class _Pending:
    __slots__ = ("done", "payload", "error")

    def __init__(self):
        self.done = threading.Event()
        self.payload = None
        self.error = None


class _Incoming:
    __slots__ = ("cancelled",)

    def __init__(self):
        self.cancelled = False


class Peer:
    """One end of an epyrpc connection, on a connected stream socket.

    interfaces: {name: fingerprint} or {name: (fingerprint, description)},
        announced in the hello and checked against the other end's.
    origin: the origin tag of this peer's transaction ids (0..65535).
    max_frame: the largest frame sent or accepted (16 MiB).
    compress_threshold: payloads of at least this many bytes travel
        zlib-compressed when the other end accepts it (0: never).
    default_timeout: seconds, for calls and events given no timeout.
    """

    def __init__(self, sock, interfaces=None, origin=0,
                 max_frame=wire.DEFAULT_MAX_FRAME, compress_threshold=0,
                 compress_level=6, default_timeout=DEFAULT_TIMEOUT):
        self._sock = sock
        self._sock.settimeout(POLL_INTERVAL)
        self._wsock = sock.dup()
        self.origin = origin & 0xffff
        self.max_frame = int(max_frame)
        self.compress_threshold = int(compress_threshold)
        self.compress_level = compress_level
        self.default_timeout = default_timeout
        self._ifaces = {}
        for name, v in (interfaces or {}).items():
            fp, desc = (v, "") if isinstance(v, str) else v
            if isinstance(desc, bytes):
                desc = desc.decode("utf-8")
            self._ifaces[name] = (fp, desc or "")
        self._lock = threading.Lock()
        self._wlock = threading.Lock()
        self._seq = itertools.count(1)
        self._pending = {}
        self._incoming = {}
        self._handlers = {}        # method -> (kind, cls, fn)
        self._known = {}           # namespace -> number of names below it
        self._got_hello = False
        self._hello_ok = threading.Event()
        self._closed = threading.Event()
        self._status = 0
        self._why = None
        self._leaving = False
        self._error = None         # the exception pending calls get
        self._frames_after_hello = 0
        self._differs = []         # interfaces accepted with other fingerprints
        self.remote_interfaces = {}
        self.remote_zlib = False
        self.remote_max_frame = 0
        self.remote_version = None
        self.deflated = 0          # payloads sent compressed
        self.inflated = 0          # payloads received compressed
        # The hello goes first; the other end may send while we read.
        try:
            self._write(self._hello_frame(), time.monotonic() + 5.0)
        except Disconnected:
            pass    # the reader reports the end
        self._reader = threading.Thread(target=self._read_loop,
                                        name="epyrpc-reader", daemon=True)
        self._reader.start()

    # --- state ---------------------------------------------------------------

    @property
    def is_connected(self):
        return self._status == 0

    @property
    def status(self):
        """0 while connected, else why the connection ended (EPY_E*)."""
        return self._status

    def wait_ready(self, timeout):
        """Waits for the other end's hello and its check. Raises
        VersionError, ProtocolError, Disconnected, or Disconnected with
        EPY_ETIMEDOUT when none came in time."""
        if not self._hello_ok.wait(timeout):
            raise Disconnected(EPY_ETIMEDOUT, "no hello from the other end "
                               "within %g s" % timeout)
        if self._error is not None and not self._got_hello:
            raise self._error
        if self._error is not None and isinstance(self._error, VersionError):
            raise self._error

    def wait_closed(self, timeout):
        """True once the connection has ended (within @timeout s)."""
        return self._closed.wait(timeout)

    def close(self):
        """Says goodbye (a DISCONNECT frame), ends the connection (pending
        calls fail with Disconnected, EPY_ECLOSED) and joins the reader."""
        if self._status == 0:
            self._leaving = True
            env = wire.Envelope(kind=wire.DISCONNECT)
            try:
                self._write(wire.encode_frame(env),
                            time.monotonic() + GOODBYE_TIMEOUT)
            except Error:
                pass
            self._end(EPY_ECLOSED, "closed here", Disconnected)
        if self._reader is not threading.current_thread():
            self._reader.join(2.0)
        for s in (self._sock, self._wsock):
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- calling ----------------------------------------------------------------

    def call(self, method, args=None, result_cls=None, timeout=None):
        """Calls @method ("calc.add") with @args (a protobuf message, the
        method's _args, or bytes) and returns the reply decoded as
        @result_cls (its _result message), or None for a method returning
        void (@result_cls None). Raises CallError (CallTimeout after
        @timeout seconds, default the peer's; EPY_EUNSUPPORTED, before
        sending, for a method that passes a file descriptor by either
        end's description: see fd_path()) or Disconnected."""
        payload = self.call_raw(method, _payload_of(args), timeout)
        if result_cls is None:
            return None
        try:
            return result_cls.FromString(payload)
        except DecodeError:
            raise CallError(EPY_EPROTO, "%s: the reply does not decode"
                            % method) from None

    def call_raw(self, method, payload=b"", timeout=None):
        """As call(), with the payload as bytes both ways."""
        timeout = self._timeout(timeout)
        if not wire.valid_name(method):
            raise CallError(EPY_EPARAM, "invalid method name %r" % (method,))
        self._refuse_fds(method)
        deadline = time.monotonic() + timeout
        p = _Pending()
        with self._lock:
            if self._error is not None:
                raise self._error
            while True:
                seq = next(self._seq)
                if seq > 0xffffffffffff:
                    self._seq = itertools.count(1)
                    continue
                txn = wire.txn_make(self.origin, seq)
                if txn not in self._pending:
                    break
            self._pending[txn] = p
        env = wire.Envelope(kind=wire.CALL, txn=txn, method=method,
                            timeout_ms=max(1, int(timeout * 1000)))
        try:
            self._send(env, payload, deadline, method)
        except BaseException:
            with self._lock:
                self._pending.pop(txn, None)
            raise
        if not p.done.wait(max(0.0, deadline - time.monotonic())):
            with self._lock:
                gone = self._pending.pop(txn, None) is not None
            if gone:
                self._cancel(txn)
                raise CallTimeout("%s: no answer within %g s"
                                  % (method, timeout))
            p.done.wait()       # answered meanwhile: it is being filled
        if p.error is not None:
            raise p.error
        return p.payload

    def send_event(self, method, args=None, timeout=None):
        """Sends @method as an event (no answer): @args as in call()."""
        timeout = self._timeout(timeout)
        if not wire.valid_name(method):
            raise CallError(EPY_EPARAM, "invalid method name %r" % (method,))
        self._refuse_fds(method)
        if self._error is not None:
            raise self._error
        env = wire.Envelope(kind=wire.EVENT, method=method)
        self._send(env, _payload_of(args), time.monotonic() + timeout, method)

    def fd_path(self, method):
        """Where @method passes a file descriptor (IDL `fd`) by the
        descriptions of either end ("args.x", "the result"), or None."""
        for ifaces in (self.remote_interfaces, self._ifaces):
            for ns in self._prefixes(method):
                v = ifaces.get(ns)
                where = wire.fd_path(v[1], method) if v else None
                if where is not None:
                    return where
        return None

    def _refuse_fds(self, method):
        where = self.fd_path(method)
        if where is not None:
            raise CallError(EPY_EUNSUPPORTED, "%s: %s passes a file "
                            "descriptor; the Python peer cannot"
                            % (method, where))

    def _timeout(self, timeout):
        if timeout is None:
            timeout = self.default_timeout
        if not timeout > 0:
            raise ValueError("a timeout is a positive number of seconds")
        return float(timeout)

    def _cancel(self, txn):
        try:
            self._write(wire.encode_frame(
                wire.Envelope(kind=wire.CANCEL, txn=txn)),
                time.monotonic() + GOODBYE_TIMEOUT)
        except Error:
            pass

    # --- serving ------------------------------------------------------------------

    def serve(self, method, args_cls, fn):
        """Answers calls of @method: fn(args) gets the arguments decoded as
        @args_cls and returns the result (the method's _result message,
        bytes, or None for void), or raises CallError. Other exceptions
        answer EPY_EFAILED with their text. Runs on a thread of its own."""
        self._register(method, ("call", args_cls, fn))

    def on_event(self, method, cls, fn):
        """Calls fn(msg) for each event @method, decoded as @cls."""
        self._register(method, ("event", cls, fn))

    def unserve(self, method):
        with self._lock:
            if self._handlers.pop(method, None) is not None:
                for ns in self._prefixes(method):
                    self._known[ns] -= 1
                    if self._known[ns] == 0:
                        del self._known[ns]

    @staticmethod
    def _prefixes(name):
        parts = name.split(".")
        return [".".join(parts[:i]) for i in range(1, len(parts))]

    def _register(self, method, entry):
        if not wire.valid_name(method):
            raise ValueError("invalid method name %r" % (method,))
        where = self.fd_path(method)
        if where is not None:
            raise ValueError("%s: %s passes a file descriptor; the Python "
                             "peer cannot" % (method, where))
        if method == "epyrpc" or method.startswith("epyrpc."):
            raise ValueError("the namespace 'epyrpc' is reserved")
        with self._lock:
            if method in self._handlers:
                raise ValueError("%r already has a handler" % method)
            self._handlers[method] = entry
            for ns in self._prefixes(method):
                self._known[ns] = self._known.get(ns, 0) + 1

    # --- writing ---------------------------------------------------------------------

    def _limit(self):
        r = self.remote_max_frame
        return r if 0 < r < self.max_frame else self.max_frame

    def _send(self, env, payload, deadline, what):
        """Sends @env with @payload (compressed when negotiated)."""
        if payload:
            if (self.compress_threshold > 0 and self.remote_zlib
                    and len(payload) >= self.compress_threshold):
                payload, raw_len = wire.compress(payload, self.compress_level)
                if raw_len is not None:
                    env.raw_len = raw_len
                    self.deflated += 1
            env.payload = payload
        frame = wire.encode_frame(env)
        if len(frame) - 4 > self._limit():
            raise CallError(EPY_ETOOBIG, "%s: a frame of %d bytes exceeds "
                            "the largest frame (%d)" %
                            (what, len(frame) - 4, self._limit()))
        self._write(frame, deadline)

    def _write(self, data, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or not self._wlock.acquire(timeout=left):
            raise CallError(EPY_ETIMEDOUT, "could not write in time: "
                            "other threads' frames wait")
        try:
            if self._error is not None:
                raise self._error
            left = deadline - time.monotonic()
            self._wsock.settimeout(max(left, 0.001))
            self._wsock.sendall(data)
        except socket.timeout:
            # Part of the frame may be out: the stream is unusable.
            self._end(EPY_ETIMEDOUT, "the other end read nothing in time",
                      Disconnected)
            raise self._error from None
        except OSError as e:
            self._end(EPY_EDISCONNECTED, "write failed: %s" % e.strerror,
                      Disconnected)
            raise self._error from None
        finally:
            self._wlock.release()

    def _answer(self, txn, incoming, code=0, payload=b"", message=None,
                error_type=None, error_payload=b""):
        if incoming.cancelled or self._status != 0:
            return
        if code == 0:
            env = wire.Envelope(kind=wire.REPLY, txn=txn)
            try:
                self._send(env, payload, time.monotonic()
                           + self.default_timeout, "reply")
                return
            except CallError as e:
                if e.code != EPY_ETOOBIG:
                    return
                code, message = EPY_ETOOBIG, \
                    "the reply exceeds the largest frame"
                error_type, error_payload = None, b""
            except Error:
                return
        env = wire.Envelope(kind=wire.ERROR, txn=txn, code=code,
                            message=message or wire.strerror(code))
        if error_type:
            env.error_type = error_type
        if error_payload:
            env.error_payload = error_payload
        try:
            self._write(wire.encode_frame(env),
                        time.monotonic() + self.default_timeout)
        except Error:
            pass

    # --- the hello --------------------------------------------------------------------

    def _hello_frame(self):
        env = wire.Envelope(kind=wire.HELLO)
        h = env.hello
        h.version = wire.PROTOCOL_VERSION
        for name, (fp, desc) in self._ifaces.items():
            h.interfaces.append("%s=%s" % (name, fp))
            h.descriptions.append(desc)
        h.zlib = self.compress_threshold > 0
        h.max_frame = self.max_frame
        return wire.encode_frame(env)

    def _check_hello(self, h):
        if h.version != wire.PROTOCOL_VERSION:
            raise VersionError(EPY_EVERSION, "the other end speaks protocol "
                               "%d, this one %d" %
                               (h.version, wire.PROTOCOL_VERSION))
        seen = set()
        theirs = {}
        for i, s in enumerate(h.interfaces):
            name, eq, fp = s.partition("=")
            desc = h.descriptions[i] if i < len(h.descriptions) else ""
            theirs[name] = (fp if eq else None, desc)
            if name not in self._ifaces:
                continue
            if name in seen:
                raise ProtocolError(EPY_EPROTO, "interface '%s' announced "
                                    "twice" % name)
            seen.add(name)
            my_fp, my_desc = self._ifaces[name]
            if eq and fp == my_fp:
                continue
            if not my_desc or not desc:
                raise VersionError(
                    EPY_EVERSION, "interface '%s' differs: fingerprint %s "
                    "here, %s there, and %s end does not describe it" %
                    (name, my_fp, fp if eq else "(none)",
                     "this" if not my_desc else "the other"))
            # Both described: the comparison of doc/idl.md is left to the
            # other end, which closes the connection if it breaks.
            log.info("interface '%s' differs from the other end's "
                     "(fingerprint %s here, %s there)", name, my_fp, fp)
            self._differs.append((name, my_fp, fp))
        self.remote_interfaces = theirs
        self.remote_zlib = h.HasField("zlib") and h.zlib
        if h.HasField("max_frame") and h.max_frame > 0:
            self.remote_max_frame = h.max_frame
        self.remote_version = h.version

    # --- reading ------------------------------------------------------------------------

    def _recv_exact(self, n, inside):
        """@n bytes, or None at the end of the stream before any of them
        (@inside: in the middle of a frame already)."""
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self._sock.recv(min(n - len(buf), 1 << 20))
            except socket.timeout:
                if self._status != 0:
                    raise _End(self._status, self._why)
                continue
            except OSError as e:
                if self._status != 0:
                    raise _End(self._status, self._why)
                raise _End(EPY_EDISCONNECTED, "read failed: %s" % e.strerror)
            if not chunk:
                if buf or inside:
                    raise _End(EPY_EDISCONNECTED,
                               "the stream ended inside a frame")
                return None
            buf += chunk
        return bytes(buf)

    def _read_loop(self):
        try:
            while True:
                head = self._recv_exact(4, False)
                if head is None:
                    raise _End(EPY_EDISCONNECTED, "the other end closed "
                               "the connection")
                n = int.from_bytes(head, "little")
                if n > self.max_frame:
                    raise _End(EPY_EPROTO, "frame of %d bytes exceeds the "
                               "limit of %d" % (n, self.max_frame),
                               ProtocolError)
                body = self._recv_exact(n, True) if n else b""
                try:
                    env = wire.Envelope.FromString(body)
                except DecodeError:
                    raise _End(EPY_EPROTO, "undecodable frame of %d bytes"
                               % n, ProtocolError) from None
                self._dispatch(env, n)
        except _End as e:
            cls = e.cls
            why = e.why
            if (cls is Disconnected and self._differs
                    and self._frames_after_hello == 0
                    and e.code == EPY_EDISCONNECTED):
                cls = VersionError
                why = ("the other end closed the connection right after the "
                       "hellos: it probably refused interface %s" %
                       ", ".join("'%s' (fingerprint %s here, %s there)" % d
                                 for d in self._differs))
                e.code = EPY_EVERSION
            self._end(e.code, why, cls)
        except Exception as e:      # a bug here must not hang callers
            log.exception("epyrpc reader failed")
            self._end(EPY_EPROTO, "reader failed: %r" % e, ProtocolError)

    def _dispatch(self, env, size):
        kind = env.kind
        if not self._got_hello:
            if kind != wire.HELLO or not env.HasField("hello"):
                raise _End(EPY_EPROTO, "first frame is not a hello",
                           ProtocolError)
            try:
                self._check_hello(env.hello)
            except Disconnected as e:
                raise _End(e.code, e.message, type(e)) from None
            self._got_hello = True
            self._hello_ok.set()
            return
        self._frames_after_hello += 1
        payload = env.payload
        if env.HasField("raw_len"):
            if not (self.remote_zlib and self.compress_threshold > 0):
                raise _End(EPY_EPROTO, "unexpected compressed payload",
                           ProtocolError)
            try:
                payload = wire.inflate(payload, env.raw_len, size,
                                       self.max_frame)
            except ValueError as e:
                raise _End(e.args[0], e.args[1], ProtocolError) from None
            self.inflated += 1
        if kind == wire.CALL or kind == wire.EVENT:
            solicited = kind == wire.CALL
            if not env.HasField("method") or \
                    (solicited and not env.txn):
                raise _End(EPY_EPROTO, "call frame without method or "
                           "transaction", ProtocolError)
            self._received(env, solicited, payload)
        elif kind == wire.REPLY or kind == wire.ERROR:
            if not env.txn:
                raise _End(EPY_EPROTO, "reply without a transaction id",
                           ProtocolError)
            self._complete(env, payload)
        elif kind == wire.CANCEL:
            with self._lock:
                inc = self._incoming.get(env.txn)
            if inc is not None:
                inc.cancelled = True
        elif kind == wire.DISCONNECT:
            if env.txn:
                self._answer(env.txn, _Incoming(), EPY_EDISCONNECTED,
                             message="disconnected")
            raise _End(EPY_EDISCONNECTED, "the other end disconnected")
        elif kind == wire.HELLO:
            raise _End(EPY_EPROTO, "second hello", ProtocolError)
        else:
            raise _End(EPY_EPROTO, "unknown frame kind %d" % kind,
                       ProtocolError)

    def _complete(self, env, payload):
        with self._lock:
            p = self._pending.pop(env.txn, None)
        if p is None:
            if wire.txn_origin(env.txn) != self.origin:
                log.warning("dropped a reply for transaction %s of another "
                            "origin", wire.txn_str(env.txn))
            else:
                log.info("dropped a late reply for transaction %s",
                         wire.txn_str(env.txn))
            return
        if env.kind == wire.REPLY:
            p.payload = payload
        else:
            code = env.code if env.HasField("code") and env.code < 0 \
                else EPY_EPROTO
            p.error = CallError(code, env.message or None,
                                env.error_type or None, env.error_payload)
        p.done.set()

    def _received(self, env, solicited, payload):
        method = env.method
        txn = env.txn if solicited else 0
        if not wire.valid_name(method):
            log.warning("call of an invalid method name")
            if solicited:
                self._answer(txn, _Incoming(), EPY_EPARAM,
                             message="invalid method name")
            return
        with self._lock:
            entry = self._handlers.get(method)
            known = any(ns in self._known for ns in self._prefixes(method))
            inc = None
            if solicited:
                inc = self._incoming[txn] = _Incoming()
        if entry is None:
            if solicited:
                with self._lock:
                    self._incoming.pop(txn, None)
                if method == "epyrpc.introspect.ping":
                    self._answer(txn, inc)
                elif known:
                    self._answer(txn, inc, EPY_EUNSUPPORTED, message=(
                        "unsupported method '%s' (namespace '%s')" %
                        (method, method.split(".")[0])))
                else:
                    self._answer(txn, inc, EPY_EUNKNOWN, message=(
                        "unknown api: no namespace here serves '%s'" %
                        method))
            else:
                log.info("dropped unhandled event '%s'", method)
            return
        t = threading.Thread(target=self._run, name="epyrpc-call",
                             args=(entry, method, txn, inc, payload),
                             daemon=True)
        t.start()

    def _run(self, entry, method, txn, inc, payload):
        kind, cls, fn = entry
        solicited = inc is not None
        try:
            try:
                args = cls.FromString(payload) if cls is not None else payload
            except DecodeError:
                raise CallError(EPY_EPROTO, "%s: the arguments do not decode"
                                % method) from None
            result = fn(args)
            if solicited:
                self._answer(txn, inc, 0, _payload_of(result)
                             if kind == "call" else b"")
        except CallError as e:
            if solicited:
                self._answer(txn, inc, e.code, message=e.message,
                             error_type=e.error_type,
                             error_payload=e.payload)
            else:
                log.warning("event '%s' failed: %s", method, e)
        except Exception as e:
            log.warning("handler of '%s' failed: %r", method, e)
            if solicited:
                self._answer(txn, inc, EPY_EFAILED, message=str(e) or None)
        finally:
            if solicited:
                with self._lock:
                    self._incoming.pop(txn, None)

    # --- the end -------------------------------------------------------------------------

    def _end(self, code, why, cls):
        with self._lock:
            if self._status != 0:
                return
            if self._leaving:       # whatever ended it, it was our doing
                code, why, cls = EPY_ECLOSED, "closed here", Disconnected
            self._status = code
            self._why = why
            self._error = cls(code, why)
            pending, self._pending = self._pending, {}
            incoming, self._incoming = self._incoming, {}
        if code not in (EPY_ECLOSED,):
            (log.info if code == EPY_EDISCONNECTED else log.error)(
                "connection ended: %s: %s", wire.strerror(code), why)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        for inc in incoming.values():
            inc.cancelled = True
        for p in pending.values():
            p.error = self._error
            p.done.set()
        self._hello_ok.set()
        self._closed.set()


class _End(Exception):
    def __init__(self, code, why, cls=Disconnected):
        super().__init__(why)
        self.code = code
        self.why = why
        self.cls = cls


# --- connecting ------------------------------------------------------------------------

def connect(address, interfaces=None, timeout=5.0, **kwargs):
    """Connects to @address ("unix:/path", "unix:@name", "tcp:host:port"),
    exchanges hellos and returns the Peer once the other end's hello is
    accepted, within @timeout seconds. Raises VersionError (the hellos
    disagree), Disconnected (refused, or the server went away) or
    OSError (no such server). Other arguments as Peer()."""
    family, addr = wire.parse_address(address)
    deadline = time.monotonic() + timeout
    if family == socket.AF_UNIX:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(addr)
        except BaseException:
            sock.close()
            raise
    else:
        sock = socket.create_connection(addr, timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peer = Peer(sock, interfaces=interfaces, **kwargs)
    try:
        peer.wait_ready(max(0.0, deadline - time.monotonic()))
    except BaseException:
        peer.close()
        raise
    return peer
