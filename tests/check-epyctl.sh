#!/bin/sh
# epyctl against tools/test-server (calc.idl and alltypes.idl on a unix
# socket, and fdt described, passing file descriptors): introspection compared with the IDL, calls of every type
# (JSON in, JSON out), typed errors, exit statuses, events, ping, and
# the monitor (text, JSON and pcap) watching a burst of calls of another
# client. Run by `make check` from the build folder; skipped (77) when
# epyctl is not built (no json-c).
set -u
srcdir=${srcdir:-.}
E=./tools/epyctl
S=./tools/test-server
if [ ! -x "$E" ] || [ ! -x "$S" ]; then
    echo "epyctl is not built (json-c missing: libjson-c-dev): skipped"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-epyctl.XXXXXX") || exit 99
A=unix:$tmp/s.sock
server=
monitor=
cleanup() {
    [ -n "$monitor" ] && kill "$monitor" 2>/dev/null
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$S" serve "$A" > "$tmp/server.out" 2>&1 &
server=$!
i=0
until [ -S "$tmp/s.sock" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        echo "the test server did not start:"; cat "$tmp/server.out"; exit 99
    fi
    sleep 0.1
done

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; shift; for l in "$@"; do echo "  $l"; done; }

# run ARGS...: runs epyctl; $out, $err, $rc.
run() {
    out=$("$E" "$@" 2>"$tmp/err")
    rc=$?
    err=$(cat "$tmp/err")
}

# expect NAME RC OUTPUT ARGS...: epyctl ARGS exits RC and prints OUTPUT.
expect() {
    name=$1 want_rc=$2 want=$3
    shift 3
    run "$@"
    if [ "$rc" = "$want_rc" ] && [ "$out" = "$want" ]; then
        ok "$name"
    else
        bad "$name" "epyctl $*" "exit $rc, expected $want_rc" \
            "got:      $out" "expected: $want" "stderr:   $err"
    fi
}

# same NAME JSON METHOD ARG: the method returns its argument unchanged.
same() {
    expect "$1" 0 "$(printf '%s' "$2" | sed 's/^{"[a-z]*"://; s/}$//')" \
        call "$A" "$3" "$2"
}

# --- introspection ---------------------------------------------------------
expect "introspect calc.add" 0 \
    '{"name":"add","params":[{"name":"a","type":"int64","number":1},{"name":"b","type":"int64","number":2}],"result":"int64","raises":[]}' \
    introspect "$A" calc.add
expect "introspect calc.div" 0 \
    '{"name":"div","params":[{"name":"a","type":"double","number":1},{"name":"b","type":"double","number":2},{"name":"r","type":"calc.rounding","number":3}],"result":"double","raises":["calc.divide_by_zero"]}' \
    introspect "$A" calc.div
expect "introspect calc.reset" 0 \
    '{"name":"reset","params":[],"result":"void","raises":[]}' \
    introspect "$A" calc.reset
expect "introspect calc.echo" 0 \
    '{"name":"echo","params":[{"name":"data","type":"bytes","number":1}],"result":"bytes","raises":[]}' \
    introspect "$A" calc.echo
expect "introspect calc.tick" 0 \
    '{"name":"tick","params":[{"name":"n","type":"uint64","number":1}]}' \
    introspect "$A" calc.tick
expect "introspect calc.stats" 0 \
    '{"name":"calc.stats","methods":[{"name":"centroid","params":[{"name":"pts","type":"list<calc.point>","number":1}],"result":"calc.point","raises":[]},{"name":"mean","params":[{"name":"xs","type":"list<double>","number":1}],"result":"optional<double>","raises":[]},{"name":"histogram","params":[{"name":"words","type":"list<string>","number":1}],"result":"map<string,int64>","raises":[]}],"events":[],"types":[],"namespaces":[]}' \
    introspect "$A" calc.stats
expect "introspect calc.rounding" 0 \
    '{"name":"calc.rounding","kind":"enum","values":[{"name":"NEAREST","value":0},{"name":"DOWN","value":1},{"name":"UP","value":2}]}' \
    introspect "$A" calc.rounding
expect "introspect calc.divide_by_zero" 0 \
    '{"name":"calc.divide_by_zero","kind":"error","fields":[{"name":"detail","type":"string","number":1},{"name":"numerator","type":"int64","number":2}]}' \
    introspect "$A" calc.divide_by_zero
expect "introspect an imported type (shapes.point)" 0 \
    '{"name":"shapes.point","kind":"struct","fields":[{"name":"x","type":"double","number":1},{"name":"y","type":"double","number":2}]}' \
    introspect "$A" shapes.point
run introspect "$A"
case $out in
    '{"server":{"version":"'*'"namespaces":[{"name":"calc",'*'{"name":"alltypes",'*'{"name":"shapes",'*'"imported":true}]}')
        ok "introspect: the whole tree" ;;
    *) bad "introspect: the whole tree" "exit $rc" "$out" "$err" ;;
esac
run introspect "$A" calc.nope
[ "$rc" = 2 ] && ok "introspect of an unknown name: exit 2" \
    || bad "introspect of an unknown name: exit 2" "exit $rc" "$err"

"$E" introspect --idl "$A" calc > "$tmp/calc.idl" 2>"$tmp/err"
if cmp -s "$tmp/calc.idl" "$srcdir/idl-examples/calc.idl"; then
    ok "introspect --idl: calc.idl itself"
else
    bad "introspect --idl: calc.idl itself" "$(cat "$tmp/err")" \
        "$(diff "$tmp/calc.idl" "$srcdir/idl-examples/calc.idl" | head -5)"
fi
"$E" introspect --proto "$A" calc > "$tmp/calc.proto" 2>"$tmp/err"
if cmp -s "$tmp/calc.proto" idl-examples/calc.proto; then
    ok "introspect --proto: calc.proto itself"
else
    bad "introspect --proto: calc.proto itself" "$(cat "$tmp/err")"
fi
run introspect --idl "$A" alltypes
case $out in
    *'// ==> shapes.idl <=='*'// ==> alltypes.idl <=='*|*'// ==> alltypes.idl <=='*'// ==> shapes.idl <=='*)
        ok "introspect --idl: alltypes.idl and its import" ;;
    *) bad "introspect --idl: alltypes.idl and its import" "$err" ;;
esac
run introspect --idl "$A"
case $rc:$out:$err in
    3:*'// ==> calc.idl <=='*'// ==> alltypes.idl <=='*:*'interface fdt: the server sends no IDL source'*)
        ok "introspect --idl of all: the sources there are, fdt's missing, exit 3" ;;
    *) bad "introspect --idl of all: the sources there are, fdt's missing, exit 3" \
           "exit $rc" "$err" ;;
esac

# --- calls -----------------------------------------------------------------
expect "call calc.add" 0 5 call "$A" calc.add '{"a": 2, "b": 3}'
expect "call calc.add, int64 extremes as strings" 0 '"-9223372036854775808"' \
    call "$A" calc.add '{"a": "-9223372036854775807", "b": -1}'
expect "call calc.div, an enum by name" 0 3 \
    call "$A" calc.div '{"a": 7, "b": 2, "r": "DOWN"}'
expect "call calc.div, an enum by number" 0 4 \
    call "$A" calc.div '{"a": 7, "b": 2, "r": 2}'
expect "call calc.echo, bytes" 0 '"AAECAwT/"' \
    call "$A" calc.echo '{"data": "AAECAwT/"}'
expect "call calc.stats.mean, optional present" 0 2.5 \
    call "$A" calc.stats.mean '{"xs": [1, 2.5, 4]}'
expect "call calc.stats.mean, optional absent" 0 null \
    call "$A" calc.stats.mean '{"xs": []}'
expect "call calc.stats.histogram, map<string,int64>" 0 '{"a":2,"b":1}' \
    call "$A" calc.stats.histogram '{"words": ["a", "b", "a"]}'
expect "call calc.stats.centroid, a list of structs" 0 '{"x":2,"y":3}' \
    call "$A" calc.stats.centroid '{"pts": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}'
out=$(printf '{"a": 40, "b": 2}' | "$E" call "$A" calc.add - 2>&1)
[ "$out" = 42 ] && ok "call with the arguments on stdin" \
    || bad "call with the arguments on stdin" "$out"

same "alltypes.echo_scalars: lowest values" \
    '{"v":{"b":false,"i8":-128,"i16":-32768,"i32":-2147483648,"i64":"-9223372036854775808","u8":0,"u16":0,"u32":0,"u64":0,"f":-3.4028235e+38,"d":-1.7976931348623157e+308,"s":"","raw":""}}' \
    alltypes.echo_scalars
same "alltypes.echo_scalars: highest values" \
    '{"v":{"b":true,"i8":127,"i16":32767,"i32":2147483647,"i64":"9223372036854775807","u8":255,"u16":65535,"u32":4294967295,"u64":"18446744073709551615","f":3.4028235e+38,"d":1.7976931348623157e+308,"s":"héllo \"w\" \\ /","raw":"AAEC/f7/"}}' \
    alltypes.echo_scalars
same "alltypes.echo_scalars: NaN, infinities, 2^53" \
    '{"v":{"b":true,"i8":1,"i16":2,"i32":3,"i64":9007199254740992,"u8":4,"u16":5,"u32":6,"u64":9007199254740992,"f":"NaN","d":"-Infinity","s":"x","raw":"AA=="}}' \
    alltypes.echo_scalars
same "alltypes.echo_scalars: beyond 2^53 as strings, fractions" \
    '{"v":{"b":false,"i8":0,"i16":0,"i32":0,"i64":"-9007199254740993","u8":0,"u16":0,"u32":0,"u64":"9007199254740993","f":0.1,"d":0.30000000000000004,"s":"","raw":"AQID"}}' \
    alltypes.echo_scalars
expect "alltypes.echo_scalars: missing fields read as zero" 0 \
    '{"b":false,"i8":0,"i16":0,"i32":0,"i64":0,"u8":0,"u16":0,"u32":0,"u64":0,"f":0,"d":0,"s":"","raw":""}' \
    call "$A" alltypes.echo_scalars '{"v": {}}'
same "alltypes.echo_generics: every generic, nested" \
    '{"v":{"polygons":[{"name":"tri","colour":"GREEN","corners":[{"x":1,"y":2},{"x":0.5,"y":-1},{"x":0,"y":0}]},{"name":"","colour":"RED","corners":[]}],"centre":{"x":1.5,"y":-2.25},"note":"a note","colours":{"sky":"BLUE","grass":"GREEN"},"groups":[[1,["x","y"]],["-9223372036854775808",[]],["9223372036854775807",[""]]],"matrix":[[1,2,-3],[],[2147483647]],"samples":[1.5,null,"NaN","Infinity",0]}}' \
    alltypes.echo_generics
same "alltypes.echo_generics: optionals present but empty" \
    '{"v":{"polygons":[],"centre":{"x":0,"y":0},"note":"","colours":{},"groups":[],"matrix":[[]],"samples":[null]}}' \
    alltypes.echo_generics
expect "alltypes.echo_generics: optionals absent" 0 \
    '{"polygons":[],"centre":null,"note":null,"colours":{},"groups":[],"matrix":[],"samples":[]}' \
    call "$A" alltypes.echo_generics '{"v": {"centre": null}}'
same "alltypes.echo_tree: a recursive struct" \
    '{"t":{"label":"root","children":[{"label":"a","children":[{"label":"a1","children":[]}]},{"label":"b","children":[]}]}}' \
    alltypes.echo_tree
expect "alltypes.count_nodes" 0 4 call "$A" alltypes.count_nodes \
    '{"t":{"label":"root","children":[{"label":"a","children":[{"label":"a1"}]},{"label":"b"}]}}'

# --- failures --------------------------------------------------------------
expect "typed error calc.divide_by_zero with its payload" 4 \
    '{"code":-4,"status":"EPY_EFAILED","error_type":"calc.divide_by_zero","message":"division by zero","payload":{"detail":"b is zero","numerator":7}}' \
    call "$A" calc.div '{"a": 7, "b": 0}'
case $err in
    *'calc.div: EPY_EFAILED: division by zero (calc.divide_by_zero)'*)
        ok "typed error: a line on stderr" ;;
    *) bad "typed error: a line on stderr" "$err" ;;
esac
expect "typed error alltypes.rejected with a struct in its payload" 4 \
    '{"code":-4,"status":"EPY_EFAILED","error_type":"alltypes.rejected","message":"rejected","payload":{"why":"negative i32","got":{"b":false,"i8":0,"i16":0,"i32":-1,"i64":0,"u8":0,"u16":0,"u32":0,"u64":0,"f":0,"d":0,"s":"no","raw":""}}}' \
    call "$A" alltypes.check '{"v": {"i32": -1, "s": "no"}}'
# fdt (described by the test server, not served) passes descriptors.
run call "$A" fdt.open '{"path": "/x"}'
case $rc:$err in
    64:*'fdt.open: the result passes a file descriptor; epyctl cannot'*)
        ok "a method returning an fd: refused, exit 64" ;;
    *) bad "a method returning an fd: refused, exit 64" "exit $rc" "$err" ;;
esac
run call "$A" fdt.attach
case $rc:$err in
    64:*'fdt.attach: args.sinks[].out passes a file descriptor'*)
        ok "an fd in a struct in a list: refused, its path named" ;;
    *) bad "an fd in a struct in a list: refused, its path named" \
           "exit $rc" "$err" ;;
esac
run call "$A" fdt.spare
case $rc:$err in
    64:*'fdt.spare: result.out passes a file descriptor'*)
        ok "an fd in the result's struct: refused" ;;
    *) bad "an fd in the result's struct: refused" "exit $rc" "$err" ;;
esac
run send "$A" fdt.handed '{}'
case $rc:$err in
    64:*'fdt.handed: args.f passes a file descriptor'*)
        ok "an event passing an fd: refused" ;;
    *) bad "an event passing an fd: refused" "exit $rc" "$err" ;;
esac
run introspect "$A" fdt.open
case $out in
    *'"result":"fd"'*) ok "introspect: the type fd" ;;
    *) bad "introspect: the type fd" "exit $rc" "$out" "$err" ;;
esac
run introspect --proto "$A" fdt
note="// fd: 0 none, k the frame's k-th descriptor"
case $out in
    *"optional uint32 out = 1; $note"*"optional uint32 value = 1; $note"*)
        ok "introspect --proto: fd as uint32" ;;
    *) bad "introspect --proto: fd as uint32" "exit $rc" "$out" "$err" ;;
esac
run call "$A" calc.nope '{}'
[ "$rc" = 3 ] && ok "an unknown method: exit 3 (EPY_EUNSUPPORTED)" \
    || bad "an unknown method: exit 3 (EPY_EUNSUPPORTED)" "exit $rc" "$err"
run call "$A" calc.reset
[ "$rc" = 3 ] && ok "a method the server does not handle: exit 3" \
    || bad "a method the server does not handle: exit 3" "exit $rc" "$err"
run call "$A" nosuch.method
[ "$rc" = 2 ] && ok "an unknown namespace: exit 2 (EPY_EUNKNOWN)" \
    || bad "an unknown namespace: exit 2 (EPY_EUNKNOWN)" "exit $rc" "$err"
run call "$A" calc.add '{"a": 1,'
case $rc:$err in
    1:*'not JSON'*) ok "bad JSON: exit 1 with a message" ;;
    *) bad "bad JSON: exit 1 with a message" "exit $rc" "$err" ;;
esac
run call "$A" alltypes.echo_generics '{"v": {"polygons": [{"corners": [{"x": "a"}]}]}}'
case $rc:$err in
    1:*'args.v.polygons[0].corners[0].x:'*) ok "a wrong type: exit 1, its path named" ;;
    *) bad "a wrong type: exit 1, its path named" "exit $rc" "$err" ;;
esac
run call "$A" alltypes.echo_scalars '{"v": {"i8": 128}}'
case $rc:$err in
    1:*'args.v.i8: 128 is out of the range of int8'*) ok "out of range: exit 1" ;;
    *) bad "out of range: exit 1" "exit $rc" "$err" ;;
esac
run call "$A" alltypes.echo_scalars '{"v": {"nope": 1}}'
case $rc:$err in
    1:*"args.v.nope: unknown field 'nope'"*) ok "an unknown field: exit 1" ;;
    *) bad "an unknown field: exit 1" "exit $rc" "$err" ;;
esac
run call "$A" alltypes.echo_generics '{"v": {"colours": {"x": "PINK"}}}'
case $rc:$err in
    1:*'args.v.colours["x"]: "PINK" is not a value of enum shapes.colour'*)
        ok "a bad enum name: exit 1" ;;
    *) bad "a bad enum name: exit 1" "exit $rc" "$err" ;;
esac
run call "$A" alltypes.echo_scalars '{"v": {"raw": "a$"}}'
[ "$rc" = 1 ] && ok "bad base64: exit 1" || bad "bad base64: exit 1" "exit $rc" "$err"
run call "$A" calc.tick '{"n": 1}'
[ "$rc" = 64 ] && ok "call of an event: exit 64" \
    || bad "call of an event: exit 64" "exit $rc" "$err"
for o in --count -c --interval --timeout --snap; do
    run monitor "$A" $o
    case $rc:$err in
        64:*"option '$o' needs a value"*)
            ok "$o without its value: exit 64, named as typed" ;;
        *) bad "$o without its value: exit 64, named as typed" "exit $rc" "$err" ;;
    esac
done
run monitor "$A" --bogus
case $rc:$err in
    64:*"unknown option '--bogus'"*) ok "an unknown option: exit 64" ;;
    *) bad "an unknown option: exit 64" "exit $rc" "$err" ;;
esac
run frobnicate "$A"
[ "$rc" = 64 ] && ok "an unknown command: exit 64" \
    || bad "an unknown command: exit 64" "exit $rc" "$err"
run call unix:"$tmp/none.sock" calc.add '{}'
[ "$rc" = 6 ] && ok "no server: exit 6 (EPY_EDISCONNECTED)" \
    || bad "no server: exit 6 (EPY_EDISCONNECTED)" "exit $rc" "$err"
expect "send calc.tick" 0 "" send "$A" calc.tick '{"n": 7}'

# --- ping --------------------------------------------------------------------
run ping "$A" --count 3 --interval 10
case $rc:$out in
    0:*'seq=3 time='*'3 calls, 3 answered, min/avg/max/p50 = '*' ms')
        ok "ping" ;;
    *) bad "ping" "exit $rc" "$out" "$err" ;;
esac

# --- the monitor ---------------------------------------------------------------
# watch MODE: starts a monitor, waits until it sees frames, then a burst
# of 100 calls of another client; stops it with SIGINT.
watch() {
    : > "$tmp/mon.out"
    "$E" monitor "$A" "$@" > "$tmp/mon.out" 2> "$tmp/mon.err" &
    monitor=$!
    i=0
    while [ ! -s "$tmp/mon.out" ] && [ $i -lt 100 ]; do
        "$E" ping "$A" -c 1 > /dev/null 2>&1
        sleep 0.1
        i=$((i + 1))
    done
    "$S" burst "$A" 100 || bad "burst"
    "$E" ping "$A" -c 1 > /dev/null 2>&1
    i=0
    while ! grep -Eq 'txn(=|":)100[^0-9]' "$tmp/mon.out" && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    sleep 0.2
    kill -INT "$monitor"
    wait "$monitor"
    monrc=$?
    monitor=
}

watch
client=$(grep ' CALL  *calc.add ' "$tmp/mon.out" | head -n 1 |
         sed 's/.*client=\([0-9]*\).*/\1/')
grep " client=$client CALL  *calc.add " "$tmp/mon.out" |
    sed 's/.*txn=\([0-9]*\).*/\1/' > "$tmp/calls"
grep " client=$client REPLY  *calc.add " "$tmp/mon.out" |
    sed 's/.*txn=\([0-9]*\).*/\1/' > "$tmp/replies"
seq 1 100 > "$tmp/want"
if [ "$monrc" = 0 ] && cmp -s "$tmp/calls" "$tmp/want" \
    && cmp -s "$tmp/replies" "$tmp/want"; then
    ok "monitor: 100 calls and replies of another client, in order"
else
    bad "monitor: 100 calls and replies of another client, in order" \
        "exit $monrc" "$(cat "$tmp/mon.err")" "$(head -n 3 "$tmp/mon.out")" \
        "calls: $(wc -l < "$tmp/calls"), replies: $(wc -l < "$tmp/replies")"
fi
if grep -q " -> client=$client CALL  *calc.add txn=1 size=[0-9]* status=- duration=-" "$tmp/mon.out" \
    && grep -q " <- client=$client REPLY  *calc.add txn=1 size=[0-9]* status=EPY_OK duration=[0-9]*us" "$tmp/mon.out"; then
    ok "monitor: the lines"
else
    bad "monitor: the lines" "$(grep "client=$client" "$tmp/mon.out" | head -n 3)"
fi

watch --json --pcap "$tmp/m.pcap" --snap 32
n=$(grep -c '"method":"calc.add"' "$tmp/mon.out")
if [ "$monrc" = 0 ] && [ "$n" -ge 200 ] \
    && grep -q '"direction":"in","client":[0-9]*,"pid":[0-9]*,"uid":[0-9]*,"kind":"CALL","method":"calc.add","txn":100,"size":[0-9]*,"status":null,"duration_us":null,"dropped":0}' "$tmp/mon.out"; then
    ok "monitor --json"
else
    bad "monitor --json" "exit $monrc, $n frames of calc.add" \
        "$(cat "$tmp/mon.err")" "$(head -n 3 "$tmp/mon.out")"
fi
if "$S" pcap "$tmp/m.pcap" > "$tmp/pcap.txt" 2> "$tmp/err" \
    && [ "$(wc -l < "$tmp/pcap.txt")" = "$(wc -l < "$tmp/mon.out")" ] \
    && [ "$(awk '$3 > 44' "$tmp/pcap.txt" | wc -l)" = 0 ] \
    && [ "$(awk '$1 == "in"' "$tmp/pcap.txt" | wc -l)" -ge 100 ] \
    && [ "$(awk '$1 == "out"' "$tmp/pcap.txt" | wc -l)" -ge 100 ]; then
    ok "monitor --pcap: a pcap file, one packet per frame, cut at --snap"
else
    bad "monitor --pcap: a pcap file, one packet per frame, cut at --snap" \
        "$(cat "$tmp/err")" "$(head -n 3 "$tmp/pcap.txt")" \
        "packets: $(wc -l < "$tmp/pcap.txt"), frames: $(wc -l < "$tmp/mon.out")"
fi
if command -v tshark > /dev/null 2>&1; then
    if tshark -r "$tmp/m.pcap" > /dev/null 2>&1; then
        ok "monitor --pcap: tshark reads it"
    else
        bad "monitor --pcap: tshark reads it"
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
