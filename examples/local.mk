# Examples of the raw (dynamic) API; run by `make check`.
check_PROGRAMS += %D%/raw
%C%_raw_SOURCES = %D%/raw.c
%C%_raw_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
%C%_raw_LDADD = libepyrpc.la $(PTHREAD_LIBS)
%C%_raw_LDFLAGS = $(AM_LDFLAGS) -no-install
