#!/bin/sh
# Sums the results of `make check` runs, counting Check test cases rather
# than programs: for each test the harness ran (a .trs file), the Check
# summary line "NN%: Checks: N, Failures: F, Errors: E" of its .log gives
# the passed and failed cases; a test without one (a script, or a program
# that died before its summary) counts as one case from its .trs result.
# A program whose cases all passed but which failed anyway (valgrind, a
# sanitizer, a crash at exit) adds one failure.
#
# Usage: tests/summary.sh BUILD_DIR...
# Prints "N passed, N failed[, N skipped]" and exits 1 if any failed.
set -u
passed=0 failed=0 skipped=0
for dir in "$@"; do
    for trs in $(find "$dir" -name '*.trs' 2>/dev/null | sort); do
        log=${trs%.trs}.log
        result=$(sed -n 's/^:test-result: *//p' "$trs" | head -n 1)
        line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" 2>/dev/null | tail -n 1)
        if [ -n "$line" ]; then
            n=$(echo "$line" | sed 's/.*Checks: \([0-9]*\).*/\1/')
            f=$(echo "$line" | sed 's/.*Failures: \([0-9]*\).*/\1/')
            e=$(echo "$line" | sed 's/.*Errors: \([0-9]*\).*/\1/')
            passed=$((passed + n - f - e))
            failed=$((failed + f + e))
            case $result in
                FAIL|ERROR|XPASS) [ $((f + e)) -eq 0 ] && failed=$((failed + 1)) ;;
            esac
        else
            case $result in
                PASS|XFAIL) passed=$((passed + 1)) ;;
                SKIP) skipped=$((skipped + 1)) ;;
                *) failed=$((failed + 1)) ;;
            esac
        fi
    done
done
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
