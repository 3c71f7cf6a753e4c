# Benchmarks: `make bench` builds and runs them; never part of `make check`.
# BENCH_QUICK=1 runs a ten times shorter version.
EXTRA_PROGRAMS += %D%/pingpong
%C%_pingpong_SOURCES = %D%/pingpong.c %D%/bench-util.h
%C%_pingpong_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
%C%_pingpong_LDADD = libepyrpc.la $(PTHREAD_LIBS)
%C%_pingpong_LDFLAGS = $(AM_LDFLAGS) -no-install
CLEANFILES += $(EXTRA_PROGRAMS)

BENCH_ROUNDS = $$(if test -n "$(BENCH_QUICK)"; then echo 20000; else echo 200000; fi)

bench: %D%/pingpong$(EXEEXT)
	@./%D%/pingpong$(EXEEXT) $(BENCH_ROUNDS)
