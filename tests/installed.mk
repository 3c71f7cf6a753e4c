# Installed use: this build installed under a DESTDIR, and the project
# of tests/installed-project built on it with autoreconf, configure
# (EPYRPC_INIT) and the installed make rules, its programs run. A script
# with this build's paths filled in.
check_SCRIPTS += %D%/installed
TESTS += %D%/installed
CLEANFILES += %D%/installed
%D%/installed: %D%/installed.sh Makefile
	$(AM_V_GEN)$(MKDIR_P) %D% && $(SED) \
	    -e 's|%%MAKE%%|$(MAKE)|' \
	    -e 's|%%TOP_BUILDDIR%%|$(abs_top_builddir)|' \
	    -e 's|%%TOP_SRCDIR%%|$(abs_top_srcdir)|' \
	    -e 's|%%LIBDIR%%|$(libdir)|' \
	    -e 's|%%BINDIR%%|$(bindir)|' \
	    -e 's|%%ACLOCALDIR%%|$(aclocaldir)|' \
	    -e 's|%%PKG_CONFIG%%|$(PKG_CONFIG)|' \
	    -e 's|%%CC%%|$(CC)|' \
	    -e 's|%%SAN_CFLAGS%%|$(EPY_SAN_CFLAGS) $(EPY_FUZZ_CFLAGS)|' \
	    $(srcdir)/%D%/installed.sh > $@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@

EXTRA_DIST += %D%/installed.sh %D%/installed-project/configure.ac \
	%D%/installed-project/Makefile.am %D%/installed-project/geom.idl \
	%D%/installed-project/shapes.idl %D%/installed-project/server.c \
	%D%/installed-project/client.c
