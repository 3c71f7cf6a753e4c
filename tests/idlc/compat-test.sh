#!/bin/sh
# idlc --check-compat:
#  - each pair compat/NAME-old.idl, compat/NAME-new.idl gives exactly the
#    diagnostics of compat/NAME.expected and its exit status. The
#    .expected file starts with "# exit N" and, if the run takes more
#    options, "# args: ..."; the rest is idlc's stderr, with the paths
#    relative to compat/ (idlc runs there). Nothing goes to stdout;
#  - every tests/idlc/ok and idl-examples file is compatible with itself;
#  - bad usage and files that do not compile exit 2; nothing is written.
# `make idlc-compat-expected` rewrites the .expected files (review the
# difference before committing it).
# The build substitutes the %%...%% values (see tests/idlc.mk).
set -u

IDLC='%%IDLC%%'
TOP_SRCDIR='%%TOP_SRCDIR%%'

here=$TOP_SRCDIR/tests/idlc
tmp=$(mktemp -d "${TMPDIR:-/tmp}/idlc-compat.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# --- the pairs ---------------------------------------------------------------
cd "$here/compat" || exit 99
for old in *-old.idl; do
    name=${old%-old.idl}
    exp=$name.expected
    if [ ! -f "$exp" ]; then
        fail "$name: no $exp"
        continue
    fi
    want_rc=$(sed -n 's/^# exit \([0-9]*\)$/\1/p' "$exp")
    args=$(sed -n 's/^# args: //p' "$exp")
    sed '/^# /d' "$exp" > "$tmp/want"
    # shellcheck disable=SC2086
    "$IDLC" --check-compat $args "$old" "$name-new.idl" \
        > "$tmp/out" 2> "$tmp/got"
    rc=$?
    if [ "$rc" != "$want_rc" ]; then
        fail "$name: exit $rc, expected $want_rc"; cat "$tmp/got"
    elif [ -s "$tmp/out" ]; then
        fail "$name: wrote to stdout"; cat "$tmp/out"
    elif ! diff -u "$tmp/want" "$tmp/got" > "$tmp/diff"; then
        fail "$name: diagnostics differ"; cat "$tmp/diff"
    else
        pass "$name"
    fi
done

# --- every file is compatible with itself ------------------------------------
for idl in "$here"/ok/*.idl "$TOP_SRCDIR"/idl-examples/*.idl; do
    name=$(basename "$idl" .idl)
    if "$IDLC" --check-compat -v -I "$here/ok" "$idl" "$idl" \
            > "$tmp/out" 2> "$tmp/got" \
            && [ "$(cat "$tmp/got")" = "idlc: compatible" ]; then
        pass "$name is compatible with itself"
    else
        fail "$name against itself"; cat "$tmp/got"
    fi
done

# --- the command line --------------------------------------------------------
mkdir "$tmp/cwd" || exit 99
cd "$tmp/cwd" || exit 99
c=$here/compat
expect_2() {
    what=$1
    shift
    "$IDLC" "$@" > /dev/null 2> "$tmp/err"
    rc=$?
    if [ $rc -eq 2 ] && [ -s "$tmp/err" ]; then
        pass "$what exits 2"
    else
        fail "$what: exit $rc"; cat "$tmp/err"
    fi
}
expect_2 "one file" --check-compat "$c/break-several-old.idl"
expect_2 "three files" --check-compat "$c/break-several-old.idl" \
    "$c/break-several-new.idl" "$c/break-several-new.idl"
expect_2 "-M" --check-compat -M "$c/break-several-old.idl" \
    "$c/break-several-new.idl"
expect_2 "a missing file" --check-compat "$c/break-several-old.idl" \
    "$tmp/missing.idl"
expect_2 "a new file with errors" --check-compat \
    "$c/break-several-old.idl" "$here/bad/sem-unknown-type.idl"
if grep -q "sem-unknown-type.idl:[0-9]*:[0-9]*: error: unknown type" \
        "$tmp/err"; then
    pass "its errors are reported"
else
    fail "its errors are not reported"; cat "$tmp/err"
fi
expect_2 "an old file with errors" --check-compat \
    "$here/bad/sem-unknown-type.idl" "$c/break-several-old.idl"
"$IDLC" --check-compat -o "$tmp/cwd/out" "$c/break-several-old.idl" \
    "$c/break-several-new.idl" > /dev/null 2>&1
rc=$?
if [ $rc -eq 1 ] && [ -z "$(ls -A "$tmp/cwd")" ]; then
    pass "nothing is written"
else
    fail "exit $rc, or files written:"; ls -A "$tmp/cwd"
fi
if "$IDLC" --help | grep -q -- "--check-compat"; then
    pass "--help names --check-compat"
else
    fail "--help does not name --check-compat"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
