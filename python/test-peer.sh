# The Python peer's test (run as python/test-peer, which the build makes
# from this file, setting PYTHON, PROTOC, EPY_SRC and EPY_BUILD above).
# Exit 77 (skipped) when python3, its google.protobuf or protoc are
# missing.

skip() {
    echo "test-peer: skipped: $*"
    exit 77
}

case $PYTHON in ""|:) skip "no python3 (Debian package: python3)" ;; esac
[ -n "$PROTOC" ] || skip "no protoc (Debian package: protobuf-compiler)"
"$PYTHON" -c 'import google.protobuf' >/dev/null 2>&1 ||
    skip "$PYTHON has no google.protobuf (Debian package: python3-protobuf)"
[ -f "$EPY_BUILD/epyrpc/envelope_pb2.py" ] && [ -f "$EPY_BUILD/calc_pb2.py" ] ||
    skip "the generated _pb2 modules are missing"

# The package's sources, its generated envelope_pb2 (both folders hold
# an epyrpc/: the package joins them), and calc_pb2.
PYTHONPATH="$EPY_SRC:$EPY_BUILD${PYTHONPATH:+:$PYTHONPATH}"
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
exec "$PYTHON" "$EPY_SRC/test_peer.py" "$EPY_BUILD/test-server"
