# Example programs; `./quickstart demo` runs the demo.
noinst_PROGRAMS += %D%/demo
%C%_demo_SOURCES = %D%/demo.c
%C%_demo_LDADD = libepyrpc.la
%C%_demo_LDFLAGS = $(AM_LDFLAGS) -no-install
