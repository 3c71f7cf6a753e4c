#!/bin/sh
# Compile tests of generated code:
#  - every tests/idlc/ok and idl-examples file compiles warning-free with
#    each C compiler found (strict flags), as C and its header as C++;
#  - each compile/*.c fails to compile with -DWRONG, with each compiler's
#    default flags (no warning option, no -Werror: the generated header
#    makes these mistakes errors), with an error whose line matches its
#    "expect:" line; and compiles without it (its correct twin), with
#    the default and the strict flags;
#  - the idlc command line: --help, --version, bad usage.
# The build substitutes the %%...%% values (see tests/idlc.mk).
set -u

IDLC='%%IDLC%%'
PROTOC_C='%%PROTOC_C%%'
CC='%%CC%%'
CXX='%%CXX%%'
TOP_SRCDIR='%%TOP_SRCDIR%%'
PROTOBUF_C_CFLAGS='%%PROTOBUF_C_CFLAGS%%'

here=$TOP_SRCDIR/tests/idlc
tmp=$(mktemp -d "${TMPDIR:-/tmp}/idlc-compile.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

flags="-std=c11 -Wall -Wextra -Wpedantic -Werror -Wmissing-prototypes
       -Wstrict-prototypes -Wshadow -I$TOP_SRCDIR/include -I$tmp
       $PROTOBUF_C_CFLAGS"

# What a user's build has when it sets no flags at all.
defaults="-I$TOP_SRCDIR/include -I$tmp $PROTOBUF_C_CFLAGS"

compilers=$CC
for c in gcc clang; do
    if command -v $c >/dev/null 2>&1 && [ "$c" != "$CC" ]; then
        compilers="$compilers $c"
    fi
done

# --- generated code compiles clean -------------------------------------------
# Every file first (some import others), then every compiler on each.
names=
for idl in "$here"/ok/*.idl "$here"/limits/*.idl \
        "$TOP_SRCDIR"/idl-examples/*.idl; do
    name=$(basename "$idl" .idl)
    if "$IDLC" --protoc-c="$PROTOC_C" -I "$here/ok" -o "$tmp" "$idl" \
            > "$tmp/idlc.log" 2>&1; then
        names="$names $name"
    else
        fail "idlc $name"; cat "$tmp/idlc.log"
    fi
done
for name in $names; do
    for cc in $compilers; do
        # shellcheck disable=SC2086
        if $cc $flags -c "$tmp/$name.epy.c" -o "$tmp/$name.$cc.o" \
                > "$tmp/cc.log" 2>&1; then
            pass "$cc $name.epy.c"
        else
            fail "$cc $name.epy.c"; cat "$tmp/cc.log"
        fi
    done
    if [ -n "$CXX" ] && command -v "${CXX%% *}" >/dev/null 2>&1; then
        printf '#include "%s.epy.h"\n' "$name" > "$tmp/hdr.cc"
        if $CXX -Wall -Wextra -Werror -I"$TOP_SRCDIR/include" -I"$tmp" \
                -c "$tmp/hdr.cc" -o "$tmp/hdr.o" > "$tmp/cc.log" 2>&1; then
            pass "C++ $name.epy.h"
        else
            fail "C++ $name.epy.h"; cat "$tmp/cc.log"
        fi
    fi
done

# --- negative compile tests ----------------------------------------------------
"$IDLC" --protoc-c="$PROTOC_C" -o "$tmp" "$here/ok/calc.idl" || fail "idlc calc"
for src in "$here"/compile/*.c; do
    name=$(basename "$src" .c)
    expect=$(sed -n 's|^/\* expect: \(.*\) \*/$|\1|p' "$src")
    for cc in $compilers; do
        # shellcheck disable=SC2086
        if $cc $defaults -I"$here/compile" -DWRONG -c "$src" -o "$tmp/x.o" \
                > "$tmp/err.log" 2>&1; then
            fail "$cc $name: the wrong program compiled with default flags"
            cat "$tmp/err.log"
        elif grep -E "error" "$tmp/err.log" | grep -Eq "$expect"; then
            pass "$cc $name fails as expected"
        else
            fail "$cc $name failed, but with no error matching /$expect/:"
            cat "$tmp/err.log"
        fi
        for f in "$defaults" "$flags"; do
            # shellcheck disable=SC2086
            if $cc $f -I"$here/compile" -c "$src" -o "$tmp/x.o" \
                    > "$tmp/err.log" 2>&1; then
                pass "$cc $name twin compiles ($(echo $f | cut -c1-20)...)"
            else
                fail "$cc $name twin does not compile:"; cat "$tmp/err.log"
            fi
        done
    done
done

# --- the command line ------------------------------------------------------------
if "$IDLC" --help | grep -q "usage: idlc"; then pass "--help"; else fail "--help"; fi
if "$IDLC" --version | grep -q "^idlc (epyrpc) "; then pass "--version"; else fail "--version"; fi
"$IDLC" --bogus > /dev/null 2>&1
if [ $? -eq 2 ]; then pass "bad option exits 2"; else fail "bad option"; fi
"$IDLC" "$here/bad/sem-unknown-type.idl" -o "$tmp" > /dev/null 2>&1
if [ $? -eq 1 ]; then pass "bad input exits 1"; else fail "bad input"; fi
if PROTOC_C=/nonexistent "$IDLC" -o "$tmp" "$here/ok/tree.idl" 2> "$tmp/e.log"; then
    fail "\$PROTOC_C is not used"
elif grep -q nonexistent "$tmp/e.log"; then
    pass "\$PROTOC_C is used"
else
    fail "\$PROTOC_C error message"; cat "$tmp/e.log"
fi

# --max-errors: a number from 1 up, as --max-errors=N or --max-errors N.
for v in abc 0 -3 3x 99999999999 ""; do
    "$IDLC" --no-protoc-c -o "$tmp" "--max-errors=$v" \
        "$here/ok/calc.idl" > /dev/null 2> "$tmp/e.log"
    if [ $? -eq 2 ] && grep -q -- "--max-errors needs a number" "$tmp/e.log"; then
        pass "--max-errors=$v refused"
    else
        fail "--max-errors=$v"; cat "$tmp/e.log"
    fi
done
"$IDLC" --no-protoc-c -o "$tmp" "$here/ok/calc.idl" --max-errors \
    > /dev/null 2> "$tmp/e.log"
if [ $? -eq 2 ] && grep -q -- "--max-errors needs a number" "$tmp/e.log"; then
    pass "--max-errors without a value refused"
else
    fail "--max-errors without a value"; cat "$tmp/e.log"
fi
{
    echo "namespace many {"
    for i in 1 2 3 4 5 6; do echo "    unknown$i f$i();"; done
    echo "}"
} > "$tmp/many.idl"
for form in "--max-errors 3" "--max-errors=3"; do
    # shellcheck disable=SC2086
    "$IDLC" --no-protoc-c -o "$tmp" $form "$tmp/many.idl" 2> "$tmp/e.log"
    if [ "$(grep -c ': error: ' "$tmp/e.log")" -eq 3 ] \
            && grep -q "too many errors (3)" "$tmp/e.log"; then
        pass "$form"
    else
        fail "$form"; cat "$tmp/e.log"
    fi
done

# Any file name gives outputs that compile: the header guard and the
# .proto package are identifiers even for "1st.idl" or "my-calc.idl".
mkdir "$tmp/names"
for stem in 1st my-calc 2-calc.v2; do
    cp "$here/ok/calc.idl" "$tmp/names/$stem.idl"
    if "$IDLC" --protoc-c="$PROTOC_C" -o "$tmp/names" \
            "$tmp/names/$stem.idl" > "$tmp/idlc.log" 2>&1 \
        && $CC $flags -I"$tmp/names" -c "$tmp/names/$stem.epy.c" \
            -o "$tmp/x.o" > "$tmp/cc.log" 2>&1 \
        && $CC $flags -I"$tmp/names" -c "$tmp/names/$stem.pb-c.c" \
            -o "$tmp/x.o" >> "$tmp/cc.log" 2>&1; then
        pass "file name $stem.idl"
    else
        fail "file name $stem.idl"; cat "$tmp/idlc.log" "$tmp/cc.log"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
