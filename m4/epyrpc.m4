# epyrpc.m4 - configure checks for programs built on epyrpc.
# serial 1
#
# EPYRPC_INIT([MIN-VERSION])
# --------------------------
# Finds epyrpc (at least MIN-VERSION, default 0.1.0) through pkg-config
# and sets, for the Makefiles:
#
#   EPYRPC_CFLAGS, EPYRPC_LIBS   compiler and linker flags
#   IDLC                         the IDL compiler (pkg-config's
#                                `idlc' variable, unless IDLC is set)
#   PROTOC_C                     the protoc-c idlc runs (pkg-config's
#                                `protoc_c' variable, else protoc-c
#                                from PATH, unless PROTOC_C is set)
#   EPYRPC_MK                    the make rules to include:
#                                  include $(EPYRPC_MK)
#   EPYRPC_HEADERS               the headers generated from the files
#                                of EPYRPC_IDL, for BUILT_SOURCES
#   EPYRPC_CLEANFILES            everything those rules write, for
#                                CLEANFILES
#
# Each is an error when missing. The rules need GNU make.
AC_DEFUN([EPYRPC_INIT],
[m4_ifndef([PKG_CHECK_MODULES],
  [m4_fatal([EPYRPC_INIT needs pkg.m4 of pkg-config (Debian package: pkg-config)])])dnl
AC_REQUIRE([PKG_PROG_PKG_CONFIG])dnl
AC_ARG_VAR([IDLC], [the epyrpc IDL compiler (default: pkg-config's)])dnl
AC_ARG_VAR([PROTOC_C], [the protoc-c that idlc runs (default: epyrpc's)])dnl
m4_pushdef([epy_min], [m4_default([$1], [0.1.0])])dnl
PKG_CHECK_MODULES([EPYRPC], [epyrpc >= epy_min], [],
  [AC_MSG_ERROR([epyrpc >= epy_min not found by pkg-config:
$EPYRPC_PKG_ERRORS
If epyrpc is installed under a prefix that pkg-config does not search,
set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig.])])
m4_popdef([epy_min])dnl

AC_MSG_CHECKING([for idlc])
AS_IF([test -z "$IDLC"],
      [IDLC=`$PKG_CONFIG --variable=idlc epyrpc 2>/dev/null`])
epy_idlc=$IDLC
AS_CASE([$IDLC], [*/*|""], [],
        [IDLC=`command -v "$IDLC" 2>/dev/null`])
AS_IF([test -n "$IDLC" && test -x "$IDLC" && "$IDLC" --version >/dev/null 2>&1],
      [AC_MSG_RESULT([$IDLC])],
      [AC_MSG_RESULT([no])
       AC_MSG_ERROR([idlc, epyrpc's IDL compiler, not found or not runnable: '$epy_idlc'
(IDLC if set, else pkg-config --variable=idlc epyrpc); set IDLC=/path/to/idlc])])

AS_IF([test -z "$PROTOC_C"],
      [epy_protoc_c=`$PKG_CONFIG --variable=protoc_c epyrpc 2>/dev/null`
       AS_IF([test -n "$epy_protoc_c" && test -x "$epy_protoc_c"],
             [PROTOC_C=$epy_protoc_c])])
AS_IF([test -z "$PROTOC_C"], [AC_PATH_PROG([PROTOC_C], [protoc-c])])
AC_MSG_CHECKING([for the protoc-c idlc runs])
AS_CASE([$PROTOC_C], [*/*|""], [],
        [PROTOC_C=`command -v "$PROTOC_C" 2>/dev/null`])
AS_IF([test -n "$PROTOC_C" && test -x "$PROTOC_C"],
      [AC_MSG_RESULT([$PROTOC_C])],
      [AC_MSG_RESULT([no])
       AC_MSG_ERROR([protoc-c not found (Debian package: protobuf-c-compiler); set PROTOC_C=/path/to/protoc-c])])

AC_MSG_CHECKING([for epyrpc's make rules])
EPYRPC_MK=`$PKG_CONFIG --variable=pkgdatadir epyrpc 2>/dev/null`/epyrpc.mk
AS_IF([test -f "$EPYRPC_MK"],
      [AC_MSG_RESULT([$EPYRPC_MK])],
      [AC_MSG_RESULT([no])
       AC_MSG_ERROR([$EPYRPC_MK not found: is epyrpc completely installed?])])
AC_SUBST([EPYRPC_MK])
AC_SUBST([EPYRPC_HEADERS],
         ['$(EPYRPC_IDL:.idl=.epy.h) $(EPYRPC_IDL:.idl=.pb-c.h)'])
AC_SUBST([EPYRPC_CLEANFILES],
         ['$(EPYRPC_IDL:.idl=.epy.c) $(EPYRPC_IDL:.idl=.epy.h) $(EPYRPC_IDL:.idl=.pb-c.c) $(EPYRPC_IDL:.idl=.pb-c.h) $(EPYRPC_IDL:.idl=.proto) $(EPYRPC_IDL:.idl=.epyrpc-stamp) $(EPYRPC_IDL:.idl=.epyrpc-deps)'])
])
