# idlc tests: golden outputs, diagnostics, negative compiles, end to end.
