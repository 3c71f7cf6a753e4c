# Fuzzing. `make check` runs each target over its seed corpus (with the
# ordinary compiler), so every input kept there stays a regression test.
# With ./configure --enable-fuzzing CC=clang, `make fuzz` runs each
# libFuzzer target for FUZZ_RUNS executions; inputs that crash are
# written to fuzz/crash-*: add them to the corpus once fixed.
FUZZ_RUNS = 1000000
FUZZ_FLAGS = -runs=$(FUZZ_RUNS) -max_len=65536 -timeout=10 -print_final_stats=1

check_PROGRAMS += %D%/frame-corpus %D%/idl-corpus %D%/gen-corpus %D%/ring-corpus
%C%_frame_corpus_SOURCES = %D%/fuzz-frame.c %D%/standalone.c
%C%_frame_corpus_CPPFLAGS = $(AM_CPPFLAGS) \
	-DEPY_FUZZ_CORPUS='"$(abs_top_srcdir)/%D%/corpus/frame"'
%C%_frame_corpus_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(PTHREAD_CFLAGS)
%C%_frame_corpus_LDADD = libepyrpc-core.la $(PTHREAD_LIBS)
# The shared-memory ring's reader, and its checks of a ring it is given.
%C%_ring_corpus_SOURCES = %D%/fuzz-ring.c %D%/standalone.c
%C%_ring_corpus_CPPFLAGS = $(AM_CPPFLAGS) \
	-DEPY_FUZZ_CORPUS='"$(abs_top_srcdir)/%D%/corpus/ring"'
%C%_ring_corpus_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(PTHREAD_CFLAGS)
%C%_ring_corpus_LDADD = libepyrpc-core.la $(PTHREAD_LIBS)
%C%_idl_corpus_SOURCES = %D%/fuzz-idl.c %D%/standalone.c
%C%_idl_corpus_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/idlc \
	-DEPY_FUZZ_CORPUS='"$(abs_top_srcdir)/%D%/corpus/idl"'
%C%_idl_corpus_LDADD = idlc/libidlc.la

# The decoder of generated code, on the types of idl-examples/alltypes.idl
# (its generated sources are built by idl-examples/local.mk).
%C%_gen_corpus_SOURCES = %D%/fuzz-gen.c %D%/standalone.c
nodist_%C%_gen_corpus_SOURCES = $(IDL_ALLTYPES)
%C%_gen_corpus_CPPFLAGS = $(IDL_EXAMPLES_CPPFLAGS) \
	-DEPY_FUZZ_CORPUS='"$(abs_top_srcdir)/%D%/corpus/gen"'
%C%_gen_corpus_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(PTHREAD_CFLAGS)
%C%_gen_corpus_LDADD = libepyrpc-core.la $(PROTOBUF_C_LIBS) $(PTHREAD_LIBS)

# Its objects need the generated headers even when built alone (make
# fuzz builds no BUILT_SOURCES).
%D%/gen_corpus-fuzz-gen.$(OBJEXT) %D%/gen_seeds-fuzz-gen.$(OBJEXT) \
    %D%/fuzz_gen-fuzz-gen.$(OBJEXT): idl-examples/alltypes.epy.h \
    idl-examples/alltypes.pb-c.h idl-examples/shapes.epy.h \
    idl-examples/shapes.pb-c.h

# `make fuzz/gen-seeds && fuzz/gen-seeds ../fuzz/corpus/gen` rewrites the
# valid seeds of fuzz/corpus/gen (values of every type of alltypes.idl).
EXTRA_PROGRAMS += %D%/gen-seeds
CLEANFILES += %D%/gen-seeds$(EXEEXT)
%C%_gen_seeds_SOURCES = %D%/fuzz-gen.c
nodist_%C%_gen_seeds_SOURCES = $(IDL_ALLTYPES)
%C%_gen_seeds_CPPFLAGS = $(IDL_EXAMPLES_CPPFLAGS) -DEPY_FUZZ_SEEDS
%C%_gen_seeds_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(PTHREAD_CFLAGS)
%C%_gen_seeds_LDADD = libepyrpc-core.la $(PROTOBUF_C_LIBS) $(PTHREAD_LIBS)

EXTRA_DIST += %D%/corpus %D%/idl.dict

if EPY_FUZZING
noinst_PROGRAMS += %D%/fuzz-frame %D%/fuzz-idl %D%/fuzz-gen %D%/fuzz-ring
%C%_fuzz_frame_SOURCES = %D%/fuzz-frame.c
%C%_fuzz_frame_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(PTHREAD_CFLAGS)
%C%_fuzz_frame_LDADD = libepyrpc-core.la $(PTHREAD_LIBS)
%C%_fuzz_frame_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
%C%_fuzz_ring_SOURCES = %D%/fuzz-ring.c
%C%_fuzz_ring_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(PTHREAD_CFLAGS)
%C%_fuzz_ring_LDADD = libepyrpc-core.la $(PTHREAD_LIBS)
%C%_fuzz_ring_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
%C%_fuzz_idl_SOURCES = %D%/fuzz-idl.c
%C%_fuzz_idl_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/idlc
%C%_fuzz_idl_LDADD = idlc/libidlc.la
%C%_fuzz_idl_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
%C%_fuzz_gen_SOURCES = %D%/fuzz-gen.c
nodist_%C%_fuzz_gen_SOURCES = $(IDL_ALLTYPES)
%C%_fuzz_gen_CPPFLAGS = $(IDL_EXAMPLES_CPPFLAGS)
%C%_fuzz_gen_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(PTHREAD_CFLAGS)
%C%_fuzz_gen_LDADD = libepyrpc-core.la $(PROTOBUF_C_LIBS) $(PTHREAD_LIBS)
%C%_fuzz_gen_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer

fuzz: %D%/fuzz-frame$(EXEEXT) %D%/fuzz-idl$(EXEEXT) %D%/fuzz-gen$(EXEEXT) \
    %D%/fuzz-ring$(EXEEXT)
	$(MKDIR_P) %D%/work-frame %D%/work-idl %D%/work-gen %D%/work-ring
	cd %D% && ./fuzz-frame$(EXEEXT) $(FUZZ_FLAGS) work-frame \
	    $(abs_top_srcdir)/%D%/corpus/frame 2>&1 | tee fuzz-frame.log | tail -n 12
	cd %D% && ./fuzz-idl$(EXEEXT) $(FUZZ_FLAGS) -dict=$(abs_top_srcdir)/%D%/idl.dict \
	    work-idl $(abs_top_srcdir)/%D%/corpus/idl 2>&1 | tee fuzz-idl.log | tail -n 12
	cd %D% && ./fuzz-gen$(EXEEXT) $(FUZZ_FLAGS) work-gen \
	    $(abs_top_srcdir)/%D%/corpus/gen 2>&1 | tee fuzz-gen.log | tail -n 12
	cd %D% && ./fuzz-ring$(EXEEXT) $(FUZZ_FLAGS) work-ring \
	    $(abs_top_srcdir)/%D%/corpus/ring 2>&1 | tee fuzz-ring.log | tail -n 12
else
fuzz:
	@echo "make fuzz needs a fuzzing build: ./configure --enable-fuzzing CC=clang" >&2
	@exit 1
endif

clean-fuzz:
	-rm -rf %D%/work-frame %D%/work-idl %D%/work-gen %D%/work-ring %D%/fuzz-*.log
.PHONY: clean-fuzz
