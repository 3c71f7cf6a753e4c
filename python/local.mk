# The Python peer (package epyrpc, doc/wire.md): installed under
# $(pythondir) when configure found python3 and protoc, which compiles
# the envelope into epyrpc/envelope_pb2.py here, in the build folder.
# Its test (python/test-peer) talks to a C server serving calc.idl; it
# skips when python3, its google.protobuf or protoc are missing.

EPY_PY_SOURCES = %D%/epyrpc/__init__.py %D%/epyrpc/wire.py \
	%D%/epyrpc/peer.py
EXTRA_DIST += $(EPY_PY_SOURCES) %D%/test_peer.py %D%/test-peer.sh \
	%D%/test-server.c

if HAVE_PYTHON
if HAVE_PROTOC
epyrpcpydir = $(pythondir)/epyrpc
epyrpcpy_PYTHON = $(EPY_PY_SOURCES)
nodist_epyrpcpy_PYTHON = %D%/epyrpc/envelope_pb2.py
BUILT_SOURCES += %D%/epyrpc/envelope_pb2.py
CLEANFILES += %D%/epyrpc/envelope_pb2.py %D%/calc_pb2.py

%D%/epyrpc/envelope_pb2.py: runtime/wire/envelope.proto
	$(AM_V_GEN)$(MKDIR_P) %D%/epyrpc && \
	$(PROTOC) --proto_path=$(srcdir)/runtime/wire --python_out=%D%/epyrpc \
	    $(srcdir)/runtime/wire/envelope.proto

# The test's messages: calc.proto as idlc writes it.
%D%/calc_pb2.py: idl-examples/calc.stamp
	$(AM_V_GEN)$(MKDIR_P) %D% && \
	$(PROTOC) --proto_path=idl-examples --python_out=%D% \
	    idl-examples/calc.proto
EPY_PY_TEST_DEPS = %D%/epyrpc/envelope_pb2.py %D%/calc_pb2.py
endif

# The test: a script made here that knows the build's python, protoc and
# folders, around test-peer.sh.
EXTRA_PROGRAMS += %D%/test-server
%C%_test_server_SOURCES = %D%/test-server.c \
	idl-examples/calc-handlers.c
nodist_%C%_test_server_SOURCES = $(IDL_CALC)
%C%_test_server_CPPFLAGS = $(IDL_EXAMPLES_CPPFLAGS)
%C%_test_server_CFLAGS = $(IDL_EXAMPLES_CFLAGS)
%C%_test_server_LDADD = $(IDL_EXAMPLES_LIBS)
%C%_test_server_LDFLAGS = $(AM_LDFLAGS) -no-install
# (Generated headers first, for a make of this target alone.)
%D%/%C%_test_server-test-server.$(OBJEXT): idl-examples/calc.epy.h

check_SCRIPTS += %D%/test-peer
TESTS += %D%/test-peer
CLEANFILES += %D%/test-peer %D%/test-server$(EXEEXT)

%D%/test-peer: %D%/test-peer.sh %D%/test-server$(EXEEXT) \
	    $(EPY_PY_TEST_DEPS) Makefile
	$(AM_V_GEN)$(MKDIR_P) %D% && { \
	    echo '#!/bin/sh'; \
	    echo "PYTHON='$(PYTHON)'"; \
	    echo "PROTOC='$(PROTOC)'"; \
	    echo "EPY_SRC='$(abs_top_srcdir)/%D%'"; \
	    echo "EPY_BUILD='$(abs_top_builddir)/%D%'"; \
	    cat $(srcdir)/%D%/test-peer.sh; } > $@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@
endif
