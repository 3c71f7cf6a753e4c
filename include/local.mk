# Public headers, installed under $(includedir)/epyrpc.
epyrpcincludedir = $(includedir)/epyrpc
epyrpcinclude_HEADERS = \
	%D%/epyrpc/epyrpc.h \
	%D%/epyrpc/version.h \
	%D%/epyrpc/error.h
