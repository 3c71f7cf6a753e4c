# Examples of the raw (dynamic) API; run by `make check`.
check_PROGRAMS += %D%/raw
%C%_raw_SOURCES = %D%/raw.c
%C%_raw_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
%C%_raw_LDADD = libepyrpc.la $(PTHREAD_LIBS)
%C%_raw_LDFLAGS = $(AM_LDFLAGS) -no-install

# Using your own event loop (<epyrpc/loop.h>): a poll() loop, no thread
# of the library at all; GLib and libuv loops when those are installed.
check_PROGRAMS += %D%/loop-poll
%C%_loop_poll_SOURCES = %D%/loop-poll.c
%C%_loop_poll_LDADD = libepyrpc.la
%C%_loop_poll_LDFLAGS = $(AM_LDFLAGS) -no-install
