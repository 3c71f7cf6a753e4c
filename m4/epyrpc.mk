# epyrpc.mk - make rules for the .idl files of a program built on epyrpc.
# Installed as $(pkgdatadir)/epyrpc.mk; EPYRPC_INIT (epyrpc.m4) sets
# EPYRPC_MK to its path. Needs GNU make. In a Makefile.am:
#
#   EPYRPC_IDL = shapes.idl geom.idl     # every .idl, imported ones too
#   EPYRPC_IDLCFLAGS = -I $(srcdir)/idl  # more idlc options, if any
#   BUILT_SOURCES = $(EPYRPC_HEADERS)
#   CLEANFILES = $(EPYRPC_CLEANFILES)
#   EXTRA_DIST = $(EPYRPC_IDL)
#   nodist_prog_SOURCES = geom.epy.c geom.pb-c.c shapes.epy.c shapes.pb-c.c
#   prog_CFLAGS = $(EPYRPC_CFLAGS)
#   prog_LDADD = $(EPYRPC_LIBS)
#   include $(EPYRPC_MK)
#
# DIR/NAME.idl (a path below $(srcdir)) gives DIR/NAME.proto,
# DIR/NAME.epy.[ch] and DIR/NAME.pb-c.[ch] in the build folder, from one
# run of idlc, which DIR/NAME.epyrpc-stamp records, so that make -j runs
# it once. The stamp depends on the .idl, on every file it imports (idlc -M,
# kept in DIR/NAME.epyrpc-deps) and on idlc itself.

# The stamps are named targets, so that make never takes them for
# intermediate files and removes them.
$(EPYRPC_IDL:.idl=.epyrpc-stamp): %.epyrpc-stamp: %.idl $(wildcard $(IDLC))
	$(AM_V_GEN)$(IDLC) $(if $(PROTOC_C),--protoc-c='$(PROTOC_C)') \
	    $(EPYRPC_IDLCFLAGS) $(IDLCFLAGS) -o $(@D) $<
	$(AM_V_at)$(IDLC) -M $(if $(PROTOC_C),--protoc-c='$(PROTOC_C)') \
	    $(EPYRPC_IDLCFLAGS) $(IDLCFLAGS) -o $(@D) $< \
	    | sed '1s|^[^:]*:|$@:|' > $*.epyrpc-deps-t \
	  && mv -f $*.epyrpc-deps-t $*.epyrpc-deps && touch $@

# All five outputs come from one run (a grouped pattern rule). One that
# is missing while its stamp is not makes the stamp again.
%.epy.c %.epy.h %.pb-c.c %.pb-c.h %.proto: %.epyrpc-stamp
	@test -f $@ || { rm -f $<; $(MAKE) $(AM_MAKEFLAGS) $<; }

-include $(EPYRPC_IDL:.idl=.epyrpc-deps)
