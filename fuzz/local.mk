# Fuzzing. `make check` runs each target over its seed corpus (with the
# ordinary compiler), so every input kept there stays a regression test.
# With ./configure --enable-fuzzing CC=clang, `make fuzz` runs each
# libFuzzer target for FUZZ_RUNS executions; inputs that crash are
# written to fuzz/crash-*: add them to the corpus once fixed.
FUZZ_RUNS = 1000000
FUZZ_FLAGS = -runs=$(FUZZ_RUNS) -max_len=65536 -timeout=10 -print_final_stats=1

check_PROGRAMS += %D%/frame-corpus %D%/idl-corpus
%C%_frame_corpus_SOURCES = %D%/fuzz-frame.c %D%/standalone.c
%C%_frame_corpus_CPPFLAGS = $(AM_CPPFLAGS) \
	-DEPY_FUZZ_CORPUS='"$(abs_top_srcdir)/%D%/corpus/frame"'
%C%_frame_corpus_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(PTHREAD_CFLAGS)
%C%_frame_corpus_LDADD = libepyrpc-core.la $(PTHREAD_LIBS)
%C%_idl_corpus_SOURCES = %D%/fuzz-idl.c %D%/standalone.c
%C%_idl_corpus_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/idlc \
	-DEPY_FUZZ_CORPUS='"$(abs_top_srcdir)/%D%/corpus/idl"'
%C%_idl_corpus_LDADD = idlc/libidlc.la

EXTRA_DIST += %D%/corpus %D%/idl.dict

if EPY_FUZZING
noinst_PROGRAMS += %D%/fuzz-frame %D%/fuzz-idl
%C%_fuzz_frame_SOURCES = %D%/fuzz-frame.c
%C%_fuzz_frame_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(PTHREAD_CFLAGS)
%C%_fuzz_frame_LDADD = libepyrpc-core.la $(PTHREAD_LIBS)
%C%_fuzz_frame_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
%C%_fuzz_idl_SOURCES = %D%/fuzz-idl.c
%C%_fuzz_idl_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/idlc
%C%_fuzz_idl_LDADD = idlc/libidlc.la
%C%_fuzz_idl_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer

fuzz: %D%/fuzz-frame$(EXEEXT) %D%/fuzz-idl$(EXEEXT)
	$(MKDIR_P) %D%/work-frame %D%/work-idl
	cd %D% && ./fuzz-frame$(EXEEXT) $(FUZZ_FLAGS) work-frame \
	    $(abs_top_srcdir)/%D%/corpus/frame 2>&1 | tee fuzz-frame.log | tail -n 12
	cd %D% && ./fuzz-idl$(EXEEXT) $(FUZZ_FLAGS) -dict=$(abs_top_srcdir)/%D%/idl.dict \
	    work-idl $(abs_top_srcdir)/%D%/corpus/idl 2>&1 | tee fuzz-idl.log | tail -n 12
else
fuzz:
	@echo "make fuzz needs a fuzzing build: ./configure --enable-fuzzing CC=clang" >&2
	@exit 1
endif

clean-fuzz:
	-rm -rf %D%/work-frame %D%/work-idl %D%/fuzz-*.log
.PHONY: clean-fuzz
