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

if HAVE_GLIB
check_PROGRAMS += %D%/loop-glib
%C%_loop_glib_SOURCES = %D%/loop-glib.c %D%/loop-demo.c %D%/loop-demo.h
%C%_loop_glib_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
%C%_loop_glib_LDADD = libepyrpc.la $(GLIB_LIBS)
%C%_loop_glib_LDFLAGS = $(AM_LDFLAGS) -no-install
endif
if HAVE_LIBUV
check_PROGRAMS += %D%/loop-uv
%C%_loop_uv_SOURCES = %D%/loop-uv.c %D%/loop-demo.c %D%/loop-demo.h
%C%_loop_uv_CFLAGS = $(AM_CFLAGS) $(LIBUV_CFLAGS)
%C%_loop_uv_LDADD = libepyrpc.la $(LIBUV_LIBS)
%C%_loop_uv_LDFLAGS = $(AM_LDFLAGS) -no-install
endif
EXTRA_DIST += %D%/loop-glib.c %D%/loop-uv.c %D%/loop-demo.c \
	%D%/loop-demo.h
