# libepyrpc: the runtime.
lib_LTLIBRARIES += libepyrpc.la

libepyrpc_la_SOURCES = \
	%D%/runtime-int.h \
	%D%/error.c \
	%D%/version.c
libepyrpc_la_CPPFLAGS = $(AM_CPPFLAGS) -DEPY_BUILDING_LIBRARY
libepyrpc_la_CFLAGS = $(AM_CFLAGS) $(EPY_VIS_CFLAGS) $(PTHREAD_CFLAGS) \
	$(PROTOBUF_C_CFLAGS) $(ZLIB_CFLAGS)
libepyrpc_la_LIBADD = $(PROTOBUF_C_LIBS) $(ZLIB_LIBS) $(PTHREAD_LIBS)
libepyrpc_la_LDFLAGS = $(AM_LDFLAGS) -version-info $(EPY_LT_VERSION) \
	-export-symbols-regex '^epy_[a-z]' -no-undefined
