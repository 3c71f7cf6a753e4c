# libepyrpc: the runtime. Built as a convenience library first, so that
# the internal tests can link the modules directly; libepyrpc.la exports
# only the public epy_* names. One folder per layer, calls going down
# only (doc/architecture.md): base, io (transports, wake-ups), wire (the
# envelope, interface descriptions), peer, server, gen (typed code).
lib_LTLIBRARIES += libepyrpc.la
noinst_LTLIBRARIES = libepyrpc-core.la

libepyrpc_core_la_SOURCES = \
	%D%/base/runtime-int.h \
	%D%/base/error.c \
	%D%/base/version.c \
	%D%/base/util.c \
	%D%/base/limits.c \
	%D%/io/transport-int.h \
	%D%/io/wake.c \
	%D%/io/poller-int.h \
	%D%/io/poller.c \
	%D%/io/transport-fd.c \
	%D%/io/transport-queue.c \
	%D%/io/ring-int.h %D%/io/ring.c %D%/io/transport-shm.h %D%/io/transport-shm.c \
	%D%/wire/schema.h \
	%D%/wire/schema-int.h \
	%D%/wire/schema.c \
	%D%/wire/schema-equal.c \
	%D%/wire/schema-compare.c \
	%D%/peer/peer-int.h %D%/peer/pool-int.h %D%/peer/txn-int.h \
	%D%/peer/conn-int.h \
	%D%/peer/conn.c \
	%D%/peer/pool.c \
	%D%/peer/txn.c \
	%D%/peer/async.c \
	%D%/peer/registry.c \
	%D%/peer/call.c \
	%D%/peer/hello.c \
	%D%/peer/outq.c \
	%D%/peer/writer.c \
	%D%/peer/writer-nb.c \
	%D%/peer/reader.c \
	%D%/peer/lead.c \
	%D%/peer/drive.c \
	%D%/peer/loop.c \
	%D%/peer/peer.c \
	%D%/peer/api.c \
	%D%/peer/builtin.c \
	%D%/peer/shm.c \
	%D%/peer/blobs.c \
	%D%/server/net-int.h \
	%D%/server/server-int.h \
	%D%/server/address.c \
	%D%/server/activation.c \
	%D%/server/socket-file.c \
	%D%/server/connect.c \
	%D%/server/server.c \
	%D%/server/clients.c \
	%D%/server/server-loop.c \
	%D%/server/events.c \
	%D%/server/monitor.c \
	%D%/gen/gen-int.h \
	%D%/gen/gen-layout.c \
	%D%/gen/gen-encode.c \
	%D%/gen/gen-decode.c \
	%D%/gen/gen-depth.c \
	%D%/gen/blob.c \
	%D%/gen/gen.c
nodist_libepyrpc_core_la_SOURCES = %D%/wire/envelope.pb-c.c \
	%D%/wire/envelope.pb-c.h %D%/wire/introspect.pb-c.c \
	%D%/wire/introspect.pb-c.h
libepyrpc_core_la_CPPFLAGS = $(AM_CPPFLAGS) -DEPY_BUILDING_LIBRARY
libepyrpc_core_la_CFLAGS = $(AM_CFLAGS) $(EPY_VIS_CFLAGS) $(PTHREAD_CFLAGS) \
	$(PROTOBUF_C_CFLAGS) $(ZLIB_CFLAGS)
libepyrpc_core_la_LIBADD = $(PROTOBUF_C_LIBS) $(ZLIB_LIBS) $(PTHREAD_LIBS)

libepyrpc_la_SOURCES =
libepyrpc_la_LIBADD = libepyrpc-core.la
libepyrpc_la_LDFLAGS = $(AM_LDFLAGS) -version-info $(EPY_LT_VERSION) \
	-export-symbols-regex '^epy_[a-z]' -no-undefined

# The wire envelope and the built-in services' messages, compiled by
# protoc-c at build time.
EXTRA_DIST += %D%/wire/envelope.proto %D%/wire/introspect.proto
# Installed for peers written in other languages (doc/wire.md).
epyrpcprotodir = $(datadir)/epyrpc
dist_epyrpcproto_DATA = %D%/wire/envelope.proto %D%/wire/introspect.proto
BUILT_SOURCES += %D%/wire/envelope.pb-c.h %D%/wire/introspect.pb-c.h
CLEANFILES += %D%/wire/envelope.pb-c.c %D%/wire/envelope.pb-c.h \
	%D%/wire/introspect.pb-c.c %D%/wire/introspect.pb-c.h
%D%/wire/envelope.pb-c.h: %D%/wire/envelope.pb-c.c
	@test -f $@ || { rm -f $<; $(MAKE) $(AM_MAKEFLAGS) $<; }
%D%/wire/envelope.pb-c.c: %D%/wire/envelope.proto
	$(AM_V_GEN)$(MKDIR_P) %D%/wire && \
	$(PROTOC_C) --proto_path=$(srcdir)/%D%/wire --c_out=%D%/wire \
	    $(srcdir)/%D%/wire/envelope.proto
%D%/wire/introspect.pb-c.h: %D%/wire/introspect.pb-c.c
	@test -f $@ || { rm -f $<; $(MAKE) $(AM_MAKEFLAGS) $<; }
%D%/wire/introspect.pb-c.c: %D%/wire/introspect.proto
	$(AM_V_GEN)$(MKDIR_P) %D%/wire && \
	$(PROTOC_C) --proto_path=$(srcdir)/%D%/wire --c_out=%D%/wire \
	    $(srcdir)/%D%/wire/introspect.proto
