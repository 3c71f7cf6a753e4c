# Check suites, run by `make check` through the automake test harness.
# Verbose Check output: one line per test case, which tests/summary.sh
# counts. EPY_TEST_ENV adds settings (check-valgrind, check-tsan).
EPY_TEST_ENV =
AM_TESTS_ENVIRONMENT = export CK_VERBOSITY=verbose $(EPY_TEST_ENV);
TESTS += $(check_PROGRAMS)

EPY_TEST_CCFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(PTHREAD_CFLAGS)
EPY_TEST_LIBS = libepyrpc.la $(CHECK_LIBS) $(PTHREAD_LIBS)
EPY_TEST_LINKFLAGS = $(AM_LDFLAGS) -no-install

check_PROGRAMS += %D%/check_error
%C%_check_error_SOURCES = %D%/check_error.c %D%/testutil.c %D%/testutil.h
%C%_check_error_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_check_error_LDADD = $(EPY_TEST_LIBS)
%C%_check_error_LDFLAGS = $(EPY_TEST_LINKFLAGS)

EXTRA_DIST += %D%/valgrind.supp

# Internal suites: link the runtime's modules directly.
EPY_INTERNAL_CCFLAGS = $(EPY_TEST_CCFLAGS) $(PROTOBUF_C_CFLAGS)
EPY_INTERNAL_LIBS = libepyrpc-core.la $(CHECK_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += %D%/check_txn
%C%_check_txn_SOURCES = %D%/check_txn.c %D%/testutil.c %D%/testutil.h
%C%_check_txn_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_check_txn_LDADD = $(EPY_INTERNAL_LIBS)
%C%_check_txn_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_wire
%C%_check_wire_SOURCES = %D%/check_wire.c %D%/testutil.c %D%/testutil.h \
	%D%/wire-helpers.c %D%/wire-helpers.h
%C%_check_wire_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_check_wire_LDADD = $(EPY_INTERNAL_LIBS)
%C%_check_wire_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_writer
%C%_check_writer_SOURCES = %D%/check_writer.c %D%/testutil.c %D%/testutil.h \
	%D%/wire-helpers.c %D%/wire-helpers.h
%C%_check_writer_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_check_writer_LDADD = $(EPY_INTERNAL_LIBS)
%C%_check_writer_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_server
%C%_check_server_SOURCES = %D%/check_server.c %D%/testutil.c %D%/testutil.h \
	%D%/wire-helpers.c %D%/wire-helpers.h
%C%_check_server_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_check_server_LDADD = $(EPY_INTERNAL_LIBS)
%C%_check_server_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# Soak test: `make soak` (SOAK_SECONDS, SOAK_CLIENTS); never part of check.
SOAK_SECONDS = 120
SOAK_CLIENTS = 6
EXTRA_PROGRAMS += tests/soak
tests_soak_SOURCES = tests/soak.c
tests_soak_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
tests_soak_LDADD = libepyrpc.la $(PTHREAD_LIBS)
tests_soak_LDFLAGS = $(AM_LDFLAGS) -no-install

soak: tests/soak$(EXEEXT)
	./tests/soak$(EXEEXT) $(SOAK_SECONDS) $(SOAK_CLIENTS)
.PHONY: soak
