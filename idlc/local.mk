# idlc: the IDL compiler. The compiler is a convenience library (so the
# tests can call it) plus a small main.
noinst_LTLIBRARIES += %D%/libidlc.la
%C%_libidlc_la_SOURCES = \
	%D%/idlc.h \
	%D%/idlc-int.h \
	%D%/util.c \
	%D%/diag.c \
	%D%/lexer.l \
	%D%/parser.y \
	%D%/sema.c \
	%D%/sema-int.h \
	%D%/sema-names.c \
	%D%/sema-settings.c \
	%D%/emit-proto.c \
	%D%/emit-c.c \
	%D%/emit-c-header.c \
	%D%/emit-c-types.c \
	%D%/emit-c-source.c \
	%D%/emit-c-describe.c \
	%D%/emit-c-int.h \
	%D%/driver.c \
	%D%/compat.c \
	runtime/wire/schema.h \
	runtime/wire/schema-int.h \
	runtime/wire/schema.c \
	runtime/wire/schema-equal.c \
	runtime/wire/schema-compare.c
%C%_libidlc_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/%D% -I%D%
# Flex and bison output is not held to the project's warning flags.
%C%_libidlc_la_CFLAGS = $(AM_CFLAGS)
AM_YFLAGS = -d -Wno-yacc
BUILT_SOURCES += %D%/parser.h

bin_PROGRAMS += %D%/idlc
%C%_idlc_SOURCES = %D%/main.c
%C%_idlc_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/%D%
%C%_idlc_LDADD = %D%/libidlc.la

EXTRA_DIST += %D%/bench.sh

dist_man_MANS += doc/idlc.1
dist_doc_DATA += doc/idl.md
