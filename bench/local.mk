# Benchmarks, never part of `make check`:
#   make bench                 builds and runs everything, prints one table
#                              and writes bench/results.csv (build folder)
#   make bench BENCH_QUICK=1   the same with ten times fewer calls
#   make bench-peers           only ZeroMQ and NNG beside the raw baseline
#                              (bench/results-peers.csv)
# BENCH_FLAGS passes more options to bench/bench (see bench/main.c), e.g.
# BENCH_FLAGS=--only=rtt,rate, or --only=shm,big: shared memory and
# 16 MiB payloads (bytes, and a memfd passed as an IDL `fd`; big.c).
#
# The peers are compiled by the rules below, at `make bench` time, only
# when their libraries are installed: libzmq through pkg-config; NNG
# through pkg-config or, as Debian's libnng-dev has no nng.pc, through
# its header and -lnng. Nothing else in the build depends on them.

EXTRA_PROGRAMS += %D%/bench
%C%_bench_SOURCES = %D%/main.c %D%/table.c %D%/raw.c %D%/epy.c %D%/big.c %D%/idlc.c \
	%D%/util.c %D%/bench.h
nodist_%C%_bench_SOURCES = $(IDL_CALC) $(IDL_BLOB)
%C%_bench_CPPFLAGS = $(AM_CPPFLAGS) -Iidl-examples -I$(srcdir)/idl-examples \
	-I%D% -I$(srcdir)/%D%
%C%_bench_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(PTHREAD_CFLAGS)
%C%_bench_LDADD = libepyrpc.la $(PROTOBUF_C_LIBS) $(PTHREAD_LIBS) -lm
%C%_bench_LDFLAGS = $(AM_LDFLAGS) -no-install
# epy.c and big.c include the generated headers: make them first, even
# when `make bench` is the first command after configure.
%D%/bench-epy.$(OBJEXT): $(IDL_CALC)
%D%/bench-big.$(OBJEXT): $(IDL_CALC) $(IDL_BLOB)

# blob.idl: the large-payload service of big.c (bytes and a descriptor
# echoed), generated here like idl-examples/local.mk's files.
%D%/blob.stamp: %D%/blob.idl idlc/idlc$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) %D% && $(IDLC_RUN) -o %D% $(srcdir)/%D%/blob.idl \
	    && touch $@
%D%/blob.epy.c %D%/blob.epy.h %D%/blob.pb-c.c %D%/blob.pb-c.h: %D%/blob.stamp
	@test -f $@ || { rm -f %D%/blob.stamp; \
	    $(MAKE) $(AM_MAKEFLAGS) %D%/blob.stamp; }
IDL_BLOB = %D%/blob.epy.c %D%/blob.epy.h %D%/blob.pb-c.c %D%/blob.pb-c.h
CLEANFILES += $(IDL_BLOB) %D%/blob.proto %D%/blob.stamp
EXTRA_DIST += %D%/blob.idl

EXTRA_DIST += %D%/peer-zmq.c %D%/peer-nng.c
CLEANFILES += %D%/bench$(EXEEXT) %D%/peer-zmq$(EXEEXT) \
	%D%/peer-nng$(EXEEXT) %D%/results.csv %D%/results-peers.csv

# bench/attack (attack.c; attack-wire.c: hand-encoded frames and raw
# connections; attack-server.c: the server under attack and the other
# processes): a hostile local client's attacks on a unix-socket server
# (memory of decoding, a zlib bomb, stalls, threads, slow hellos, a server
# that never reads, odd timeouts and names), one line of figures each.
# Never part of `make check` or `make bench`: `make attack` builds and
# runs it (about two minutes); ATTACK_FLAGS picks attacks, e.g.
# ATTACK_FLAGS='2 5'. It uses only the public API, so the same files
# build against older versions of the library.
EXTRA_PROGRAMS += %D%/attack
%C%_attack_SOURCES = %D%/attack.c %D%/attack-wire.c %D%/attack-server.c \
	%D%/attack.h
nodist_%C%_attack_SOURCES = $(IDL_CALC)
%C%_attack_CPPFLAGS = $(AM_CPPFLAGS) -Iidl-examples -I$(srcdir)/idl-examples
%C%_attack_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(ZLIB_CFLAGS) \
	$(PTHREAD_CFLAGS)
%C%_attack_LDADD = libepyrpc.la $(PROTOBUF_C_LIBS) $(ZLIB_LIBS) $(PTHREAD_LIBS)
%C%_attack_LDFLAGS = $(AM_LDFLAGS) -no-install
# attack-server.c includes the generated calc.epy.h: make it first.
%D%/attack-attack-server.$(OBJEXT): $(IDL_CALC)
CLEANFILES += %D%/attack$(EXEEXT)

# bench/scale (scale.c, with attack-wire.c and attack-server.c): what
# clients cost a server: 10,000 idle unix-socket clients, then TCP, with
# the server's threads, RSS per client, and an active client's latency
# beside them (see scale.c). `make scale` builds and runs it (about a
# minute); SCALE_FLAGS='--clients=2000' for fewer.
EXTRA_PROGRAMS += %D%/scale
%C%_scale_SOURCES = %D%/scale.c %D%/attack-wire.c %D%/attack-server.c \
	%D%/attack.h %D%/util.c %D%/bench.h
nodist_%C%_scale_SOURCES = $(IDL_CALC)
%C%_scale_CPPFLAGS = $(AM_CPPFLAGS) -Iidl-examples -I$(srcdir)/idl-examples
%C%_scale_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(ZLIB_CFLAGS) \
	$(PTHREAD_CFLAGS)
%C%_scale_LDADD = libepyrpc.la $(PROTOBUF_C_LIBS) $(ZLIB_LIBS) $(PTHREAD_LIBS)
%C%_scale_LDFLAGS = $(AM_LDFLAGS) -no-install
%D%/scale-attack-server.$(OBJEXT): $(IDL_CALC)
CLEANFILES += %D%/scale$(EXEEXT)

SCALE_FLAGS =
scale: all
	@$(MAKE) $(AM_MAKEFLAGS) %D%/scale$(EXEEXT)
	@./%D%/scale$(EXEEXT) $(SCALE_FLAGS)

ATTACK_FLAGS =
attack: all
	@$(MAKE) $(AM_MAKEFLAGS) %D%/attack$(EXEEXT)
	@./%D%/attack$(EXEEXT) $(ATTACK_FLAGS)

BENCH_FLAGS =
BENCH_QUICK =
# The options every run gets: the quick mode, idlc, the peers built.
BENCH_ARGS = $$(test -z "$(BENCH_QUICK)" || echo --quick) \
	--protoc-c='$(PROTOC_C)' \
	$$(test -x idlc/idlc$(EXEEXT) && echo --idlc=idlc/idlc$(EXEEXT)) \
	$$(test -x %D%/peer-zmq$(EXEEXT) && echo --zmq=%D%/peer-zmq$(EXEEXT)) \
	$$(test -x %D%/peer-nng$(EXEEXT) && echo --nng=%D%/peer-nng$(EXEEXT))

# After `all` (the generated sources and idlc first: `make bench` may be
# the first command after configure), then the programs of the run.
bench: all
	@$(MAKE) $(AM_MAKEFLAGS) %D%/bench$(EXEEXT) bench-peer-progs
	@./%D%/bench$(EXEEXT) $(BENCH_ARGS) --csv=%D%/results.csv $(BENCH_FLAGS)

bench-peers: all
	@$(MAKE) $(AM_MAKEFLAGS) %D%/bench$(EXEEXT) bench-peer-progs
	@./%D%/bench$(EXEEXT) $(BENCH_ARGS) --only=peers \
	    --csv=%D%/results-peers.csv $(BENCH_FLAGS)

# Rebuilt at each run, so that a library removed since is not used.
bench-peer-progs:
	@rm -f %D%/peer-zmq$(EXEEXT) %D%/peer-nng$(EXEEXT)
	@if flags=`$(PKG_CONFIG) --cflags --libs libzmq 2>/dev/null`; then \
	    echo "  CCLD     %D%/peer-zmq$(EXEEXT)"; \
	    $(COMPILE) -o %D%/peer-zmq$(EXEEXT) $(srcdir)/%D%/peer-zmq.c \
	        $(srcdir)/%D%/util.c $$flags $(LDFLAGS) || exit 1; \
	else \
	    echo "bench: ZeroMQ rows skipped: libzmq3-dev is not installed"; \
	fi
	@if flags=`$(PKG_CONFIG) --cflags --libs nng 2>/dev/null` \
	    || { echo '#include <nng/nng.h>' | $(CPP) $(CPPFLAGS) - \
	        >/dev/null 2>&1 && flags=-lnng; }; then \
	    echo "  CCLD     %D%/peer-nng$(EXEEXT)"; \
	    $(COMPILE) -o %D%/peer-nng$(EXEEXT) $(srcdir)/%D%/peer-nng.c \
	        $(srcdir)/%D%/util.c $$flags $(PTHREAD_LIBS) $(LDFLAGS) \
	        || exit 1; \
	else \
	    echo "bench: NNG rows skipped: libnng-dev is not installed"; \
	fi

.PHONY: bench-peers bench-peer-progs attack scale
