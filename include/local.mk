# Public headers, installed under $(includedir)/epyrpc.
epyrpcincludedir = $(includedir)/epyrpc
epyrpcinclude_HEADERS = \
	%D%/epyrpc/epyrpc.h \
	%D%/epyrpc/version.h \
	%D%/epyrpc/error.h \
	%D%/epyrpc/types.h \
	%D%/epyrpc/peer.h \
	%D%/epyrpc/client.h \
	%D%/epyrpc/server.h \
	%D%/epyrpc/net.h \
	%D%/epyrpc/loop.h \
	%D%/epyrpc/gen.h
