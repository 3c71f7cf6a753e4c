# idlc tests: golden outputs, diagnostics, limits and mutations (a Check
# suite calling the compiler library), compile tests of generated code
# (a script), and end to end through generated code.

check_PROGRAMS += %D%/idlc/check_idlc
%C%_idlc_check_idlc_SOURCES = %D%/idlc/check_idlc.c %D%/testutil.c \
	%D%/testutil.h
%C%_idlc_check_idlc_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/idlc \
	-DIDLC_TEST_SRCDIR='"$(abs_top_srcdir)/tests/idlc"'
%C%_idlc_check_idlc_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_idlc_check_idlc_LDADD = idlc/libidlc.la $(CHECK_LIBS)
%C%_idlc_check_idlc_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# The IDL type fd: its spellings, description, diagnostics and retypes.
check_PROGRAMS += %D%/idlc/check_idlc_fd
%C%_idlc_check_idlc_fd_SOURCES = %D%/idlc/check_idlc_fd.c %D%/testutil.c \
	%D%/testutil.h
%C%_idlc_check_idlc_fd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/idlc
%C%_idlc_check_idlc_fd_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_idlc_check_idlc_fd_LDADD = idlc/libidlc.la $(CHECK_LIBS)
%C%_idlc_check_idlc_fd_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# The compile tests run as a script with this build's paths filled in.
check_SCRIPTS += %D%/idlc/compile-test
TESTS += %D%/idlc/compile-test
CLEANFILES += %D%/idlc/compile-test
%D%/idlc/compile-test: %D%/idlc/compile-test.sh idlc/idlc$(EXEEXT) Makefile
	$(AM_V_GEN)$(MKDIR_P) %D%/idlc && $(SED) \
	    -e 's|%%IDLC%%|$(abs_top_builddir)/idlc/idlc$(EXEEXT)|' \
	    -e 's|%%PROTOC_C%%|$(PROTOC_C)|' \
	    -e 's|%%CC%%|$(CC)|' \
	    -e 's|%%CXX%%|$(CXX)|' \
	    -e 's|%%TOP_SRCDIR%%|$(abs_top_srcdir)|' \
	    -e 's|%%PROTOBUF_C_CFLAGS%%|$(PROTOBUF_C_CFLAGS)|' \
	    $(srcdir)/%D%/idlc/compile-test.sh > $@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@

EXTRA_DIST += %D%/idlc/compile-test.sh %D%/idlc/ok %D%/idlc/bad \
	%D%/idlc/limits \
	%D%/idlc/compile
EXTRA_DIST += %D%/idlc/compat-test.sh %D%/idlc/compat

# idlc --check-compat on the pairs of tests/idlc/compat, also a script.
check_SCRIPTS += %D%/idlc/compat-test
TESTS += %D%/idlc/compat-test
CLEANFILES += %D%/idlc/compat-test
%D%/idlc/compat-test: %D%/idlc/compat-test.sh idlc/idlc$(EXEEXT) Makefile
	$(AM_V_GEN)$(MKDIR_P) %D%/idlc && $(SED) \
	    -e 's|%%IDLC%%|$(abs_top_builddir)/idlc/idlc$(EXEEXT)|' \
	    -e 's|%%TOP_SRCDIR%%|$(abs_top_srcdir)|' \
	    $(srcdir)/%D%/idlc/compat-test.sh > $@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@

# The runtime's interface descriptions (runtime/wire/schema.h): parsing,
# hostile texts, and the comparison itself.
check_PROGRAMS += %D%/idlc/check_schema
%C%_idlc_check_schema_SOURCES = %D%/idlc/check_schema.c %D%/testutil.c \
	%D%/testutil.h
%C%_idlc_check_schema_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_idlc_check_schema_LDADD = idlc/libidlc.la $(CHECK_LIBS)
%C%_idlc_check_schema_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# `make idlc-golden` rewrites the expected outputs of tests/idlc/ok after
# an intended change of the generators; `make idlc-bad-errors` rewrites
# the expected first diagnostic of each tests/idlc/bad file. Review the
# difference (git diff) before committing it.
# The expected outputs are kept as NAME.golden, so that they are not
# taken for build products.
idlc-golden: idlc/idlc$(EXEEXT)
	cd $(srcdir)/tests/idlc/ok && rm -rf expected.new && mkdir expected.new && \
	for f in *.idl; do \
	    $(abs_top_builddir)/idlc/idlc$(EXEEXT) --no-protoc-c -o expected.new $$f \
	    || exit 1; done && \
	for g in expected.new/*; do mv $$g expected/$${g#expected.new/}.golden; done && \
	rmdir expected.new
idlc-bad-errors: idlc/idlc$(EXEEXT)
	cd $(srcdir)/tests/idlc/bad && for f in *.idl; do \
	    $(abs_top_builddir)/idlc/idlc$(EXEEXT) --no-protoc-c -o /tmp $$f \
	    2>&1 >/dev/null | head -n 1 > $${f%.idl}.err; done
# `make idlc-compat-expected` rewrites tests/idlc/compat/*.expected from
# what idlc --check-compat now reports (keeping each file's "# args:").
idlc-compat-expected: idlc/idlc$(EXEEXT)
	cd $(srcdir)/tests/idlc/compat && for old in *-old.idl; do \
	    name=$${old%-old.idl}; \
	    args=$$(sed -n 's/^# args: //p' $$name.expected 2>/dev/null); \
	    $(abs_top_builddir)/idlc/idlc$(EXEEXT) --check-compat $$args \
	        $$old $$name-new.idl 2> $$name.err; rc=$$?; \
	    { echo "# exit $$rc"; test -z "$$args" || echo "# args: $$args"; \
	      cat $$name.err; } > $$name.expected; rm -f $$name.err; \
	done
.PHONY: idlc-golden idlc-bad-errors idlc-compat-expected

# End to end through generated code, across fork().
%D%/idlc/e2e.stamp: %D%/idlc/e2e.idl idlc/idlc$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) %D%/idlc && $(top_builddir)/idlc/idlc$(EXEEXT) \
	    --protoc-c='$(PROTOC_C)' -o %D%/idlc $(srcdir)/%D%/idlc/e2e.idl \
	    && touch $@
%D%/idlc/e2e.epy.c %D%/idlc/e2e.epy.h %D%/idlc/e2e.pb-c.c \
	    %D%/idlc/e2e.pb-c.h: %D%/idlc/e2e.stamp
	@test -f $@ || { rm -f %D%/idlc/e2e.stamp; \
	    $(MAKE) $(AM_MAKEFLAGS) %D%/idlc/e2e.stamp; }
BUILT_SOURCES += %D%/idlc/e2e.epy.h %D%/idlc/e2e.pb-c.h
CLEANFILES += %D%/idlc/e2e.epy.c %D%/idlc/e2e.epy.h %D%/idlc/e2e.pb-c.c \
	%D%/idlc/e2e.pb-c.h %D%/idlc/e2e.proto %D%/idlc/e2e.stamp
EXTRA_DIST += %D%/idlc/e2e.idl

check_PROGRAMS += %D%/idlc/check_e2e
%C%_idlc_check_e2e_SOURCES = %D%/idlc/check_e2e.c %D%/testutil.c \
	%D%/testutil.h
nodist_%C%_idlc_check_e2e_SOURCES = %D%/idlc/e2e.epy.c %D%/idlc/e2e.epy.h \
	%D%/idlc/e2e.pb-c.c %D%/idlc/e2e.pb-c.h
%C%_idlc_check_e2e_CPPFLAGS = $(AM_CPPFLAGS) -I%D%/idlc
%C%_idlc_check_e2e_CFLAGS = $(EPY_TEST_CCFLAGS) $(PROTOBUF_C_CFLAGS)
%C%_idlc_check_e2e_LDADD = $(EPY_TEST_LIBS) $(PROTOBUF_C_LIBS)
%C%_idlc_check_e2e_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# A typed server with many client processes: *_serve_server(),
# broadcasts, posts, start-up order, clients coming and going.
%D%/idlc/typed-server.stamp: %D%/idlc/typed-server.idl idlc/idlc$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) %D%/idlc && $(top_builddir)/idlc/idlc$(EXEEXT) \
	    --protoc-c='$(PROTOC_C)' -o %D%/idlc \
	    $(srcdir)/%D%/idlc/typed-server.idl && touch $@
%D%/idlc/typed-server.epy.c %D%/idlc/typed-server.epy.h \
	    %D%/idlc/typed-server.pb-c.c %D%/idlc/typed-server.pb-c.h: \
	    %D%/idlc/typed-server.stamp
	@test -f $@ || { rm -f %D%/idlc/typed-server.stamp; \
	    $(MAKE) $(AM_MAKEFLAGS) %D%/idlc/typed-server.stamp; }
BUILT_SOURCES += %D%/idlc/typed-server.epy.h %D%/idlc/typed-server.pb-c.h
CLEANFILES += %D%/idlc/typed-server.epy.c %D%/idlc/typed-server.epy.h \
	%D%/idlc/typed-server.pb-c.c %D%/idlc/typed-server.pb-c.h \
	%D%/idlc/typed-server.proto %D%/idlc/typed-server.stamp
EXTRA_DIST += %D%/idlc/typed-server.idl

check_PROGRAMS += %D%/idlc/check_typed_server
%C%_idlc_check_typed_server_SOURCES = %D%/idlc/check_typed_server.c \
	%D%/idlc/typed-server-peers.c %D%/idlc/typed-server-peers.h \
	%D%/testutil.c %D%/testutil.h
nodist_%C%_idlc_check_typed_server_SOURCES = %D%/idlc/typed-server.epy.c \
	%D%/idlc/typed-server.epy.h %D%/idlc/typed-server.pb-c.c \
	%D%/idlc/typed-server.pb-c.h
%C%_idlc_check_typed_server_CPPFLAGS = $(AM_CPPFLAGS) -I%D%/idlc
%C%_idlc_check_typed_server_CFLAGS = $(EPY_TEST_CCFLAGS) $(PROTOBUF_C_CFLAGS)
%C%_idlc_check_typed_server_LDADD = $(EPY_TEST_LIBS) $(PROTOBUF_C_LIBS)
%C%_idlc_check_typed_server_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# Deep copies through the generated _copy functions of
# idl-examples/alltypes.idl. Links the runtime's modules directly, with
# malloc, calloc and free wrapped (ld --wrap) so that the test can make
# allocations fail.
check_PROGRAMS += %D%/idlc/check_copy
%C%_idlc_check_copy_SOURCES = %D%/idlc/check_copy.c %D%/testutil.c \
	%D%/testutil.h
nodist_%C%_idlc_check_copy_SOURCES = $(IDL_ALLTYPES)
%C%_idlc_check_copy_CPPFLAGS = $(AM_CPPFLAGS) -Iidl-examples
%C%_idlc_check_copy_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_idlc_check_copy_LDADD = $(EPY_INTERNAL_LIBS) $(PROTOBUF_C_LIBS)
%C%_idlc_check_copy_LDFLAGS = $(EPY_TEST_LINKFLAGS) -Wl,--wrap=malloc \
	-Wl,--wrap=calloc -Wl,--wrap=free

# Interfaces that change between releases, at run time: the hello's
# comparison of descriptions, on hand-written ones and on every pair of
# tests/idlc/compat (described through idlc's library).
check_PROGRAMS += %D%/idlc/check_evolution
%C%_idlc_check_evolution_SOURCES = %D%/idlc/check_evolution.c \
	%D%/testutil.c %D%/testutil.h
%C%_idlc_check_evolution_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/idlc \
	-DIDLC_TEST_SRCDIR='"$(abs_top_srcdir)/tests/idlc"'
%C%_idlc_check_evolution_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_idlc_check_evolution_LDADD = idlc/libidlc.la $(EPY_TEST_LIBS)
%C%_idlc_check_evolution_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# IDL `fd` values end to end: pipes and memfds through a socketpair and a
# unix-socket server; refused over TCP.
%D%/idlc/files.stamp: %D%/idlc/files.idl idlc/idlc$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) %D%/idlc && $(top_builddir)/idlc/idlc$(EXEEXT) \
	    --protoc-c='$(PROTOC_C)' -o %D%/idlc $(srcdir)/%D%/idlc/files.idl \
	    && touch $@
%D%/idlc/files.epy.c %D%/idlc/files.epy.h %D%/idlc/files.pb-c.c \
	    %D%/idlc/files.pb-c.h: %D%/idlc/files.stamp
	@test -f $@ || { rm -f %D%/idlc/files.stamp; \
	    $(MAKE) $(AM_MAKEFLAGS) %D%/idlc/files.stamp; }
BUILT_SOURCES += %D%/idlc/files.epy.h %D%/idlc/files.pb-c.h
CLEANFILES += %D%/idlc/files.epy.c %D%/idlc/files.epy.h %D%/idlc/files.pb-c.c \
	%D%/idlc/files.pb-c.h %D%/idlc/files.proto %D%/idlc/files.stamp
EXTRA_DIST += %D%/idlc/files.idl

check_PROGRAMS += %D%/idlc/check_fds
%C%_idlc_check_fds_SOURCES = %D%/idlc/check_fds.c %D%/testutil.c \
	%D%/testutil.h
nodist_%C%_idlc_check_fds_SOURCES = %D%/idlc/files.epy.c %D%/idlc/files.epy.h \
	%D%/idlc/files.pb-c.c %D%/idlc/files.pb-c.h
%C%_idlc_check_fds_CPPFLAGS = $(AM_CPPFLAGS) -I%D%/idlc
%C%_idlc_check_fds_CFLAGS = $(EPY_TEST_CCFLAGS) $(PROTOBUF_C_CFLAGS)
%C%_idlc_check_fds_LDADD = $(EPY_TEST_LIBS) $(PROTOBUF_C_LIBS)
%C%_idlc_check_fds_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# Large bytes and string values out of line (sealed memfds): views, sent
# on, written to, past max_frame; refused where not offered; hostile
# frames.
%D%/idlc/blobs.stamp: %D%/idlc/blobs.idl idlc/idlc$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) %D%/idlc && $(top_builddir)/idlc/idlc$(EXEEXT) \
	    --protoc-c='$(PROTOC_C)' -o %D%/idlc $(srcdir)/%D%/idlc/blobs.idl \
	    && touch $@
%D%/idlc/blobs.epy.c %D%/idlc/blobs.epy.h %D%/idlc/blobs.pb-c.c \
	    %D%/idlc/blobs.pb-c.h: %D%/idlc/blobs.stamp
	@test -f $@ || { rm -f %D%/idlc/blobs.stamp; \
	    $(MAKE) $(AM_MAKEFLAGS) %D%/idlc/blobs.stamp; }
BUILT_SOURCES += %D%/idlc/blobs.epy.h %D%/idlc/blobs.pb-c.h
CLEANFILES += %D%/idlc/blobs.epy.c %D%/idlc/blobs.epy.h %D%/idlc/blobs.pb-c.c \
	%D%/idlc/blobs.pb-c.h %D%/idlc/blobs.proto %D%/idlc/blobs.stamp
EXTRA_DIST += %D%/idlc/blobs.idl

check_PROGRAMS += %D%/idlc/check_blobs
%C%_idlc_check_blobs_SOURCES = %D%/idlc/check_blobs.c %D%/testutil.c \
	%D%/testutil.h
nodist_%C%_idlc_check_blobs_SOURCES = %D%/idlc/blobs.epy.c \
	%D%/idlc/blobs.epy.h %D%/idlc/blobs.pb-c.c %D%/idlc/blobs.pb-c.h
%C%_idlc_check_blobs_CPPFLAGS = $(AM_CPPFLAGS) -I%D%/idlc
%C%_idlc_check_blobs_CFLAGS = $(EPY_TEST_CCFLAGS) $(PROTOBUF_C_CFLAGS)
%C%_idlc_check_blobs_LDADD = $(EPY_TEST_LIBS) $(PROTOBUF_C_LIBS)
%C%_idlc_check_blobs_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# Hostile frames with values out of line, written by hand (wire-helpers).
check_PROGRAMS += %D%/idlc/check_blobs_hostile
%C%_idlc_check_blobs_hostile_SOURCES = %D%/idlc/check_blobs_hostile.c \
	%D%/testutil.c %D%/testutil.h %D%/wire-helpers.c %D%/wire-helpers.h
nodist_%C%_idlc_check_blobs_hostile_SOURCES = %D%/idlc/blobs.epy.c \
	%D%/idlc/blobs.epy.h %D%/idlc/blobs.pb-c.c %D%/idlc/blobs.pb-c.h
%C%_idlc_check_blobs_hostile_CPPFLAGS = $(AM_CPPFLAGS) -I%D%/idlc
%C%_idlc_check_blobs_hostile_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_idlc_check_blobs_hostile_LDADD = $(EPY_INTERNAL_LIBS) $(PROTOBUF_C_LIBS)
%C%_idlc_check_blobs_hostile_LDFLAGS = $(EPY_TEST_LINKFLAGS)
