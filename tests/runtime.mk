# Runtime test suites (public API): peers, calls, handlers, concurrency.
# Included from the top Makefile.am, so %D% is "tests".
EPY_RT_TEST_SOURCES = %D%/rt-helpers.c %D%/rt-helpers.h \
	%D%/testutil.c %D%/testutil.h

check_PROGRAMS += %D%/check_peer
%C%_check_peer_SOURCES = %D%/check_peer.c $(EPY_RT_TEST_SOURCES)
%C%_check_peer_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_check_peer_LDADD = $(EPY_TEST_LIBS)
%C%_check_peer_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_call
%C%_check_call_SOURCES = %D%/check_call.c $(EPY_RT_TEST_SOURCES)
%C%_check_call_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_check_call_LDADD = $(EPY_TEST_LIBS)
%C%_check_call_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_call_errors
%C%_check_call_errors_SOURCES = %D%/check_call_errors.c $(EPY_RT_TEST_SOURCES)
%C%_check_call_errors_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_check_call_errors_LDADD = $(EPY_TEST_LIBS)
%C%_check_call_errors_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_api
%C%_check_api_SOURCES = %D%/check_api.c $(EPY_RT_TEST_SOURCES)
%C%_check_api_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_check_api_LDADD = $(EPY_TEST_LIBS)
%C%_check_api_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_handler
%C%_check_handler_SOURCES = %D%/check_handler.c $(EPY_RT_TEST_SOURCES)
%C%_check_handler_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_check_handler_LDADD = $(EPY_TEST_LIBS)
%C%_check_handler_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_concurrency
%C%_check_concurrency_SOURCES = %D%/check_concurrency.c $(EPY_RT_TEST_SOURCES)
%C%_check_concurrency_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_check_concurrency_LDADD = $(EPY_TEST_LIBS)
%C%_check_concurrency_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_readown
%C%_check_readown_SOURCES = %D%/check_readown.c $(EPY_RT_TEST_SOURCES)
%C%_check_readown_CFLAGS = $(EPY_TEST_CCFLAGS)
%C%_check_readown_LDADD = $(EPY_TEST_LIBS)
%C%_check_readown_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# Hostile peers and clients: raw frames (wire-helpers, so the internal
# envelope schema). check_hostile: what a hostile peer sends (memory, the
# wire), with zlib to build compressed payloads; check_stalls: peers that
# stall (threads, deadlines).
EPY_HOSTILE_TEST_SOURCES = $(EPY_RT_TEST_SOURCES) \
	%D%/wire-helpers.c %D%/wire-helpers.h \
	%D%/hostile-helpers.c %D%/hostile-helpers.h

check_PROGRAMS += %D%/check_hostile
%C%_check_hostile_SOURCES = %D%/check_hostile.c $(EPY_HOSTILE_TEST_SOURCES)
%C%_check_hostile_CFLAGS = $(EPY_INTERNAL_CCFLAGS) $(ZLIB_CFLAGS)
%C%_check_hostile_LDADD = $(EPY_INTERNAL_LIBS) $(ZLIB_LIBS)
%C%_check_hostile_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_scale
%C%_check_scale_SOURCES = %D%/check_scale.c $(EPY_HOSTILE_TEST_SOURCES)
%C%_check_scale_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_check_scale_LDADD = $(EPY_INTERNAL_LIBS)
%C%_check_scale_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_loop
%C%_check_loop_SOURCES = %D%/check_loop.c $(EPY_HOSTILE_TEST_SOURCES)
%C%_check_loop_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_check_loop_LDADD = $(EPY_INTERNAL_LIBS)
%C%_check_loop_LDFLAGS = $(EPY_TEST_LINKFLAGS)

check_PROGRAMS += %D%/check_stalls
%C%_check_stalls_SOURCES = %D%/check_stalls.c $(EPY_HOSTILE_TEST_SOURCES)
%C%_check_stalls_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_check_stalls_LDADD = $(EPY_INTERNAL_LIBS)
%C%_check_stalls_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# The built-in services: introspection, the monitor, given sockets.
check_PROGRAMS += %D%/check_builtin
%C%_check_builtin_SOURCES = %D%/check_builtin.c $(EPY_RT_TEST_SOURCES)
%C%_check_builtin_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_check_builtin_LDADD = $(EPY_INTERNAL_LIBS)
%C%_check_builtin_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# The shared-memory transport and its ring (internal: runtime/io).
check_PROGRAMS += %D%/check_shm
%C%_check_shm_SOURCES = %D%/check_shm.c %D%/testutil.c %D%/testutil.h
%C%_check_shm_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_check_shm_LDADD = $(EPY_INTERNAL_LIBS)
%C%_check_shm_LDFLAGS = $(EPY_TEST_LINKFLAGS)

# The runtime suites over shared memory (needs them built: check_PROGRAMS).
TESTS += %D%/check-shm.sh
EXTRA_DIST += %D%/check-shm.sh

# Peers whose shared rings are scribbled on (the rings' internal layout).
check_PROGRAMS += %D%/check_shm_peer
%C%_check_shm_peer_SOURCES = %D%/check_shm_peer.c %D%/testutil.c %D%/testutil.h
%C%_check_shm_peer_CFLAGS = $(EPY_INTERNAL_CCFLAGS)
%C%_check_shm_peer_LDADD = $(EPY_INTERNAL_LIBS)
%C%_check_shm_peer_LDFLAGS = $(EPY_TEST_LINKFLAGS)
