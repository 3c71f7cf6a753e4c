"""The Python peer against the C test server (python/test-server.c).

    test_peer.py PATH-OF-test-server

Needs the epyrpc package, its envelope_pb2 and calc_pb2 (calc.proto as
idlc writes it) on the search path. Prints one line per check; exits 0
when all pass, 1 otherwise. Never waits without a limit.
"""

import faulthandler
import os
import queue
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import epyrpc
import calc_pb2 as calc

faulthandler.dump_traceback_later(120, exit=True)

failures = 0


def check(name, fn):
    global failures
    t0 = time.monotonic()
    try:
        fn()
    except Exception:
        failures += 1
        print("FAIL %s (%.2f s)" % (name, time.monotonic() - t0))
        traceback.print_exc(file=sys.stdout)
    else:
        print("ok   %s (%.2f s)" % (name, time.monotonic() - t0))
    sys.stdout.flush()


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_raises(cls, fn):
    try:
        fn()
    except cls as e:
        return e
    raise AssertionError("expected %s" % cls.__name__)


class Server:
    """The C test server on a socket in a fresh folder."""

    def __init__(self, program):
        self.dir = tempfile.mkdtemp(prefix="epy-py-")
        self.path = os.path.join(self.dir, "calc.sock")
        self.address = "unix:" + self.path
        self.proc = subprocess.Popen([program, self.path],
                                     stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("ready calc="):
            self.stop()
            raise RuntimeError("the test server did not start: %r" % line)
        self.fingerprint = line.strip().split("=", 1)[1]

    def kill(self):
        self.proc.kill()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait(5)
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    program = sys.argv[1]
    srv = Server(program)
    ifaces = {"calc": srv.fingerprint}
    peers = []

    def connect(**kw):
        p = epyrpc.connect(srv.address, interfaces=ifaces, timeout=5, **kw)
        peers.append(p)
        return p

    peer = connect()
    state = {}

    def hello():
        fp, desc = peer.remote_interfaces["calc"]
        expect(fp == srv.fingerprint, "announced %s, printed %s"
               % (fp, srv.fingerprint))
        expect(desc.startswith("namespace calc\n"), "description %r" % desc)
        expect(epyrpc.fingerprint(desc) == fp,
               "fingerprint(description) %s != %s"
               % (epyrpc.fingerprint(desc), fp))
        expect(peer.remote_version == 1, "protocol %r" % peer.remote_version)
        expect(peer.remote_max_frame == 16 << 20,
               "max_frame %d" % peer.remote_max_frame)
        state["desc"] = desc
    check("hello: fingerprint, description, frame limit", hello)

    def add():
        r = peer.call("calc.add", calc.calc_add_args(a=2, b=3),
                      calc.calc_add_result, timeout=2.0)
        expect(r.value == 5, "2 + 3 = %d" % r.value)
        r = peer.call("calc.add", calc.calc_add_args(a=-(1 << 40), b=1),
                      calc.calc_add_result, timeout=2.0)
        expect(r.value == -(1 << 40) + 1, "got %d" % r.value)
    check("call calc.add", add)

    def div():
        r = peer.call("calc.div", calc.calc_div_args(a=7, b=2),
                      calc.calc_div_result, timeout=2.0)
        expect(r.value == 3.5, "7 / 2 = %r" % r.value)
        e = expect_raises(epyrpc.CallError, lambda: peer.call(
            "calc.div", calc.calc_div_args(a=1, b=0), calc.calc_div_result,
            timeout=2.0))
        expect(e.code == epyrpc.EPY_EFAILED, "code %d" % e.code)
        expect(e.status_name == "EPY_EFAILED", e.status_name)
        expect(e.error_type == "calc.divide_by_zero", e.error_type)
        expect(e.message == "division by zero", e.message)
        d = e.decode(calc.calc_divide_by_zero)
        expect(d.detail == "b is zero" and d.numerator == 1, str(d))
    check("call calc.div: result and typed error", div)

    def echo():
        data = os.urandom(1 << 20)
        r = peer.call("calc.echo", calc.calc_echo_args(data=data),
                      calc.calc_echo_result, timeout=5.0)
        expect(r.value == data, "1 MiB echoed back different")
        r = peer.call("calc.echo", calc.calc_echo_args(),
                      calc.calc_echo_result, timeout=5.0)
        expect(r.value == b"", "empty echo %r" % r.value)
    check("call calc.echo with 1 MiB", echo)

    def compressed():
        p = connect(compress_threshold=4096)
        expect(p.remote_zlib, "the server does not announce zlib")
        data = bytes(range(256)) * 4096
        r = p.call("calc.echo", calc.calc_echo_args(data=data),
                   calc.calc_echo_result, timeout=5.0)
        expect(r.value == data, "compressed echo differs")
        expect(p.deflated == 1 and p.inflated == 1,
               "%d sent, %d received compressed" % (p.deflated, p.inflated))
        expect(peer.deflated == 0 and peer.inflated == 0,
               "compressed without zlib in both hellos")
        p.close()
    check("zlib-compressed payloads both ways", compressed)

    def events():
        got = queue.Queue()
        peer.on_event("calc.tick", calc.calc_tick_args, got.put)
        peer.send_event("calc.tick", calc.calc_tick_args(n=41))
        m = got.get(timeout=2)
        expect(m.n == 42, "tick %d" % m.n)
    check("event to the C side, event back from it", events)

    def served():
        calls = []

        def py_add(a):
            calls.append(("add", a.a, a.b))
            return calc.calc_add_result(value=a.a + a.b)

        def py_div(a):
            calls.append(("div", a.a, a.b))
            if a.b == 0:
                raise epyrpc.CallError(
                    epyrpc.EPY_EFAILED, "division by zero in python",
                    "calc.divide_by_zero",
                    calc.calc_divide_by_zero(detail="from python",
                                             numerator=int(a.a)))
            return calc.calc_div_result(value=a.a / a.b)

        peer.serve("calc.add", calc.calc_add_args, py_add)
        peer.serve("calc.div", calc.calc_div_args, py_div)
        # calc.reset makes the server call calc.add and calc.div here.
        r = peer.call("calc.reset", calc.calc_reset_args(), None, timeout=5)
        expect(r is None, "reset returned %r" % r)
        expect(calls == [("add", 20, 22), ("div", 7.0, 0.0)],
               "handlers saw %r" % calls)
    check("the C side calls methods served in Python", served)

    def unhandled():
        e = expect_raises(epyrpc.CallError, lambda: peer.call_raw(
            "calc.nope", b"", timeout=2))
        expect(e.code == epyrpc.EPY_EUNSUPPORTED, e.status_name)
        expect("calc.nope" in e.message, e.message)
        e = expect_raises(epyrpc.CallError, lambda: peer.call_raw(
            "calc.stats.centroid", b"", timeout=2))
        expect(e.code == epyrpc.EPY_EUNSUPPORTED, e.status_name)
        e = expect_raises(epyrpc.CallError, lambda: peer.call_raw(
            "other.thing", b"", timeout=2))
        expect(e.code == epyrpc.EPY_EUNKNOWN, e.status_name)
        e = expect_raises(epyrpc.CallError, lambda: peer.call_raw(
            "bad name", b"", timeout=2))
        expect(e.code == epyrpc.EPY_EPARAM, e.status_name)
    check("unhandled methods: EPY_EUNSUPPORTED, EPY_EUNKNOWN", unhandled)

    def timeout():
        t0 = time.monotonic()
        e = expect_raises(epyrpc.CallTimeout, lambda: peer.call(
            "calc.stats.mean", calc.calc_stats_mean_args(xs=[-2]),
            calc.calc_stats_mean_result, timeout=0.3))
        took = time.monotonic() - t0
        expect(0.25 < took < 1.5, "timed out after %.2f s" % took)
        expect(isinstance(e, TimeoutError), "not a TimeoutError")
        expect(e.code == epyrpc.EPY_ETIMEDOUT, e.status_name)
        r = peer.call("calc.add", calc.calc_add_args(a=1, b=1),
                      calc.calc_add_result, timeout=2.0)
        expect(r.value == 2, "after the timeout: %d" % r.value)
    check("a call's timeout (and the connection goes on)", timeout)

    def mismatch():
        t0 = time.monotonic()
        e = expect_raises(epyrpc.VersionError, lambda: epyrpc.connect(
            srv.address, interfaces={"calc": "0" * 32}, timeout=5))
        expect(time.monotonic() - t0 < 2, "took too long")
        expect(isinstance(e, ConnectionError), "not a ConnectionError")
        expect(e.code == epyrpc.EPY_EVERSION, e.status_name)
        expect("interface 'calc' differs" in e.message, e.message)
        # Described, with an equal fingerprint, all is well.
        p = connect()
        p.close()
        p = epyrpc.connect(srv.address, timeout=5,
                           interfaces={"calc": (srv.fingerprint,
                                                state["desc"])})
        r = p.call("calc.add", calc.calc_add_args(a=1, b=2),
                   calc.calc_add_result, timeout=2.0)
        expect(r.value == 3, "3")
        p.close()
    check("hello mismatch: VersionError", mismatch)

    def closed():
        p = connect()
        p.close()
        e = expect_raises(epyrpc.Disconnected, lambda: p.call(
            "calc.add", calc.calc_add_args(a=1, b=1),
            calc.calc_add_result, timeout=1))
        expect(e.code == epyrpc.EPY_ECLOSED, e.status_name)
    check("calls after close(): Disconnected", closed)

    def killed():
        result = {}
        started = threading.Event()

        def kill_later():
            started.wait(2)
            time.sleep(0.3)
            result["killed"] = time.monotonic()
            srv.kill()
        threading.Thread(target=kill_later, daemon=True).start()
        started.set()
        e = expect_raises(epyrpc.Disconnected, lambda: peer.call(
            "calc.stats.mean", calc.calc_stats_mean_args(xs=[-30]),
            calc.calc_stats_mean_result, timeout=10))
        took = time.monotonic() - result["killed"]
        expect(took < 2, "%.2f s after the kill" % took)
        expect(isinstance(e, ConnectionError), "not a ConnectionError")
        expect(e.code == epyrpc.EPY_EDISCONNECTED, e.status_name)
        expect(not peer.is_connected, "still connected")
        e = expect_raises(epyrpc.Disconnected, lambda: peer.call(
            "calc.add", calc.calc_add_args(a=1, b=1), calc.calc_add_result,
            timeout=1))
        expect_raises(ConnectionError, lambda: epyrpc.connect(
            srv.address, interfaces=ifaces, timeout=2))
    check("the server killed in the middle of a call", killed)

    def fds():
        desc = ("namespace io\n"
                "struct io.sink out:fd=1 name:string=2\n"
                "method io.open( path:string=1 ) -> fd\n"
                "method io.attach( sinks:list<io.sink>=1 ) -> void\n"
                "method io.name( ) -> string\n"
                "event io.handed( f:optional<fd>=1 )\n")
        expect(epyrpc.wire.fd_path(desc, "io.open") == "the result",
               "io.open")
        expect(epyrpc.wire.fd_path(desc, "io.attach") == "args.sinks[].out",
               repr(epyrpc.wire.fd_path(desc, "io.attach")))
        expect(epyrpc.wire.fd_path(desc, "io.name") is None, "io.name")
        a, b = socket.socketpair()
        io = {"io": (epyrpc.fingerprint(desc), desc)}
        one = epyrpc.Peer(a, interfaces=io)
        two = epyrpc.Peer(b, interfaces=io)
        try:
            one.wait_ready(5)
            two.wait_ready(5)
            e = expect_raises(epyrpc.CallError, lambda: one.call_raw(
                "io.attach", b"", timeout=1))
            expect(e.code == epyrpc.EPY_EUNSUPPORTED, e.status_name)
            expect("io.attach: args.sinks[].out passes a file descriptor"
                   in str(e), str(e))
            expect_raises(epyrpc.CallError, lambda: one.send_event(
                "io.handed", b"", timeout=1))
            expect_raises(ValueError, lambda: two.serve(
                "io.open", None, lambda args: None))
            two.serve("io.name", None, lambda args: b"")
            expect(one.call_raw("io.name", b"", timeout=2) == b"",
                   "io.name")
        finally:
            one.close()
            two.close()
    check("methods passing file descriptors are refused", fds)

    for p in peers:
        p.close()
    srv.stop()
    print("%d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
