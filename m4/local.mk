# Installed for programs built on epyrpc: the autoconf macro EPYRPC_INIT,
# where aclocal finds it, and the make rules it points EPYRPC_MK at.
aclocaldir = $(datadir)/aclocal
dist_aclocal_DATA = %D%/epyrpc.m4
dist_pkgdata_DATA = %D%/epyrpc.mk
