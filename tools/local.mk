# epyctl: the command-line client (introspection, calls, events, the
# monitor, ping). It needs json-c; without it, it is not built and its
# test skips.
EXTRA_DIST += %D%/epyctl.1 tests/check-epyctl.sh
TESTS += tests/check-epyctl.sh

if HAVE_JSONC
bin_PROGRAMS += %D%/epyctl
dist_man_MANS += %D%/epyctl.1

%C%_epyctl_SOURCES = %D%/epyctl.c %D%/ctl.h %D%/ctl-util.c \
	%D%/ctl-schema.c %D%/ctl-json.c %D%/ctl-introspect.c \
	%D%/ctl-monitor.c %D%/ctl-proto.c \
	runtime/wire/schema.c runtime/wire/schema.h runtime/wire/schema-int.h
nodist_%C%_epyctl_SOURCES = %D%/introspect.pb-c.c %D%/introspect.pb-c.h
%C%_epyctl_CPPFLAGS = -I%D% $(AM_CPPFLAGS)
%C%_epyctl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(PROTOBUF_C_CFLAGS) \
	$(PTHREAD_CFLAGS)
%C%_epyctl_LDADD = libepyrpc.la $(JSONC_LIBS) $(PROTOBUF_C_LIBS) \
	$(PTHREAD_LIBS) -lm

# The built-in services' messages, compiled by protoc-c at build time.
BUILT_SOURCES += %D%/introspect.pb-c.h
CLEANFILES += %D%/introspect.pb-c.c %D%/introspect.pb-c.h
%D%/introspect.pb-c.h: %D%/introspect.pb-c.c
	@test -f $@ || { rm -f $<; $(MAKE) $(AM_MAKEFLAGS) $<; }
%D%/introspect.pb-c.c: runtime/wire/introspect.proto
	$(AM_V_GEN)$(MKDIR_P) %D% && \
	$(PROTOC_C) --proto_path=$(srcdir)/runtime/wire --c_out=%D% \
	    $(srcdir)/runtime/wire/introspect.proto

# The test's server (calc.idl and alltypes.idl on an address given on
# its command line) and pcap reader.
noinst_PROGRAMS += %D%/test-server
%C%_test_server_SOURCES = %D%/test-server.c \
	idl-examples/calc-handlers.c idl-examples/alltypes-handlers.c
nodist_%C%_test_server_SOURCES = $(IDL_CALC) $(IDL_ALLTYPES)
%C%_test_server_CPPFLAGS = $(IDL_EXAMPLES_CPPFLAGS)
%C%_test_server_CFLAGS = $(IDL_EXAMPLES_CFLAGS)
%C%_test_server_LDADD = $(IDL_EXAMPLES_LIBS)
%C%_test_server_LDFLAGS = $(AM_LDFLAGS) -no-install
endif
