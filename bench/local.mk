# Benchmarks: `make bench` builds and runs them; never part of `make check`.
bench: $(EXTRA_PROGRAMS)
	@echo "make bench: no benchmarks yet"
