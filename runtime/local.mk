# libepyrpc: the runtime. Built as a convenience library first, so that
# the internal tests can link the modules directly; libepyrpc.la exports
# only the public epy_* names.
lib_LTLIBRARIES += libepyrpc.la
noinst_LTLIBRARIES = libepyrpc-core.la

libepyrpc_core_la_SOURCES = \
	%D%/runtime-int.h \
	%D%/peer-int.h \
	%D%/transport-int.h \
	%D%/error.c \
	%D%/version.c \
	%D%/util.c \
	%D%/wake.c \
	%D%/transport-fd.c \
	%D%/transport-queue.c \
	%D%/limits.c \
	%D%/pool.c \
	%D%/txn.c \
	%D%/async.c \
	%D%/registry.c \
	%D%/call.c \
	%D%/conn.c \
	%D%/peer.c \
	%D%/hello.c \
	%D%/writer.c \
	%D%/reader.c \
	%D%/lead.c \
	%D%/conn-int.h \
	%D%/api.c \
	%D%/events.c \
	%D%/server.c \
	%D%/address.c \
	%D%/socket-file.c \
	%D%/connect.c \
	%D%/net-int.h \
	%D%/gen-int.h \
	%D%/schema.h \
	%D%/schema-int.h \
	%D%/schema.c \
	%D%/schema-equal.c \
	%D%/schema-compare.c \
	%D%/gen-layout.c \
	%D%/gen-encode.c \
	%D%/gen-decode.c \
	%D%/gen.c
nodist_libepyrpc_core_la_SOURCES = %D%/envelope.pb-c.c %D%/envelope.pb-c.h
libepyrpc_core_la_CPPFLAGS = $(AM_CPPFLAGS) -DEPY_BUILDING_LIBRARY
libepyrpc_core_la_CFLAGS = $(AM_CFLAGS) $(EPY_VIS_CFLAGS) $(PTHREAD_CFLAGS) \
	$(PROTOBUF_C_CFLAGS) $(ZLIB_CFLAGS)
libepyrpc_core_la_LIBADD = $(PROTOBUF_C_LIBS) $(ZLIB_LIBS) $(PTHREAD_LIBS)

libepyrpc_la_SOURCES =
libepyrpc_la_LIBADD = libepyrpc-core.la
libepyrpc_la_LDFLAGS = $(AM_LDFLAGS) -version-info $(EPY_LT_VERSION) \
	-export-symbols-regex '^epy_[a-z]' -no-undefined

# The wire envelope, compiled by protoc-c at build time.
EXTRA_DIST += %D%/envelope.proto
BUILT_SOURCES += %D%/envelope.pb-c.h
CLEANFILES += %D%/envelope.pb-c.c %D%/envelope.pb-c.h
%D%/envelope.pb-c.h: %D%/envelope.pb-c.c
	@test -f $@ || { rm -f $<; $(MAKE) $(AM_MAKEFLAGS) $<; }
%D%/envelope.pb-c.c: %D%/envelope.proto
	$(AM_V_GEN)$(MKDIR_P) %D% && \
	$(PROTOC_C) --proto_path=$(srcdir)/%D% --c_out=%D% $(srcdir)/%D%/envelope.proto
