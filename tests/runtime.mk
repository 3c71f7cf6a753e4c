# Runtime test suites (public API).
