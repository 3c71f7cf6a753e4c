#!/bin/sh
# Installed use of epyrpc, as a program built on it meets it: this build
# is installed with `make install DESTDIR=TMP`, then the small project of
# tests/installed-project (configure.ac with EPYRPC_INIT, a Makefile.am
# including $(EPYRPC_MK), geom.idl importing shapes.idl) is made with
# autoreconf, configure and make -j4 in a separate build folder, finding
# epyrpc through pkg-config and aclocal in TMP only. Its server and
# client then talk over a unix socket in TMP. Also checked: that a change
# of the imported shapes.idl makes geom.idl's outputs again, and that
# `make clean` removes what the rules wrote.
#
# make fills in the %%...%% fields (tests/installed.mk). Skipped (77) when
# autoreconf (with automake) or pkg-config is missing.
set -u

make='%%MAKE%%'
top_builddir='%%TOP_BUILDDIR%%'
top_srcdir='%%TOP_SRCDIR%%'
libdir='%%LIBDIR%%'
bindir='%%BINDIR%%'
aclocaldir='%%ACLOCALDIR%%'
pkg_config='%%PKG_CONFIG%%'
cc='%%CC%%'
san_cflags='%%SAN_CFLAGS%%'

command -v autoreconf >/dev/null 2>&1 && command -v automake >/dev/null 2>&1 \
    || { echo "SKIP: autoreconf or automake not found (Debian packages: autoconf, automake)"; exit 77; }
[ -n "$pkg_config" ] && command -v "$pkg_config" >/dev/null 2>&1 \
    || pkg_config=$(command -v pkg-config) \
    || { echo "SKIP: pkg-config not found (Debian package: pkg-config)"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/epy-installed.XXXXXX") || exit 1
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

fail() {
    echo "FAIL: $*"
    exit 1
}
step() {
    echo
    echo "=== $*"
}

# The makes below are not part of the make running this test.
unset MAKEFLAGS MFLAGS MAKELEVEL GNUMAKEFLAGS

dest=$tmp/dest
step "make install DESTDIR=$dest"
(cd "$top_builddir" && $make install DESTDIR="$dest") \
    || fail "make install DESTDIR=$dest"

# pkg-config finds the installed epyrpc.pc, and --define-prefix takes its
# prefix from where the file is (DEST/PREFIX/lib/pkgconfig); a libdir
# outside PREFIX/lib* needs the sysroot instead.
PKG_CONFIG_PATH=$dest$libdir/pkgconfig
export PKG_CONFIG_PATH
PKG_CONFIG="$pkg_config --define-prefix"
idlc=$($PKG_CONFIG --variable=idlc epyrpc 2>/dev/null)
if [ "$idlc" != "$dest$bindir/idlc" ]; then
    PKG_CONFIG=$pkg_config
    PKG_CONFIG_SYSROOT_DIR=$dest
    export PKG_CONFIG_SYSROOT_DIR
    idlc=$($PKG_CONFIG --variable=idlc epyrpc)
fi
export PKG_CONFIG
step "pkg-config ($PKG_CONFIG): epyrpc $($PKG_CONFIG --modversion epyrpc)"
echo "idlc: $idlc"
echo "protoc_c: $($PKG_CONFIG --variable=protoc_c epyrpc)"
echo "pkgdatadir: $($PKG_CONFIG --variable=pkgdatadir epyrpc)"
echo "cflags, libs: $($PKG_CONFIG --cflags --libs epyrpc)"
[ "$idlc" = "$dest$bindir/idlc" ] && [ -x "$idlc" ] \
    || fail "pkg-config --variable=idlc epyrpc: '$idlc', not $dest$bindir/idlc"
[ -f "$dest$aclocaldir/epyrpc.m4" ] || fail "epyrpc.m4 not installed"
ACLOCAL_PATH=$dest$aclocaldir
export ACLOCAL_PATH

LD_LIBRARY_PATH=$dest$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH

src=$tmp/src
build=$tmp/build
cp -R "$top_srcdir/tests/installed-project" "$src" && chmod -R u+w "$src" \
    || fail "copying the project"
step "autoreconf -fi"
(cd "$src" && autoreconf -fi) || fail "autoreconf"
mkdir "$build" || exit 1
cd "$build" || exit 1
step "configure (in a build folder of its own)"
"$src/configure" CC="$cc" CFLAGS="-g -O2 $san_cflags" \
    LDFLAGS="$san_cflags" || { cat config.log; fail "configure"; }
grep -q "^IDLC = $idlc\$" Makefile \
    || fail "configure did not take idlc from pkg-config: $(grep '^IDLC =' Makefile)"
step "make -j4"
$make -j4 || fail "make -j4"
for f in geom.proto geom.epy.h geom.epy.c geom.pb-c.h geom.pb-c.c \
         shapes.proto shapes.epy.h shapes.epy.c shapes.pb-c.h shapes.pb-c.c \
         geom.epyrpc-stamp shapes.epyrpc-stamp; do
    [ -f "$f" ] || fail "$f not made"
done
grep -q 'shapes\.idl' geom.epyrpc-deps \
    || fail "geom.epyrpc-deps does not name the imported shapes.idl"
if command -v ldd >/dev/null 2>&1; then
    ldd ./client | grep libepyrpc
    ldd ./client | grep -q "$dest$libdir/libepyrpc" \
        || fail "client does not load the installed libepyrpc"
fi

step "server and client over unix:$tmp/geom.sock"
./server "unix:$tmp/geom.sock" &
server_pid=$!
i=0
until [ -S "$tmp/geom.sock" ]; do
    kill -0 "$server_pid" 2>/dev/null || fail "the server died"
    i=$((i + 1))
    [ $i -le 200 ] || fail "no socket after 20 s"
    sleep 0.1
done
./client "unix:$tmp/geom.sock" || fail "the client"
wait "$server_pid" || fail "the server's exit status"
server_pid=

step "imports: a change of shapes.idl makes geom.idl's outputs again"
$make -q geom.epyrpc-stamp || fail "geom.epyrpc-stamp out of date after make"
sleep 1
touch "$src/shapes.idl"
if $make -q geom.epyrpc-stamp; then
    fail "geom.epyrpc-stamp up to date after shapes.idl changed"
fi
$make -j4 || fail "make -j4 after touching shapes.idl"
$make -q geom.epyrpc-stamp || fail "geom.epyrpc-stamp out of date after make"
[ geom.epyrpc-stamp -nt "$src/shapes.idl" ] \
    || fail "geom.epyrpc-stamp not made again"

step "make clean"
$make clean || fail "make clean"
for f in *.proto *.epy.* *.pb-c.* *.epyrpc-*; do
    [ -e "$f" ] && fail "$f left by make clean"
done

echo
echo "PASS: installed epyrpc used by a project of its own"
exit 0
