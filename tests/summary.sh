#!/bin/sh
# Sums the results of `make check` runs in one or more build folders,
# counting test cases, not programs. The suites run with
# CK_VERBOSITY=verbose, so each Check test case leaves one line
# "FILE:LINE:R:TCASE:TEST:N: ..." (R: P passed, F failed, E error) in
# its program's .log. A test case that ran in several builds (the plain
# one and the sanitizer one) counts once: as failed if it failed in any.
# A program without such lines (a script, an example, a program that died
# before its first case) counts as one case, from its .trs result; a
# program whose cases all passed but which failed anyway (valgrind, a
# sanitizer at exit) adds one failure of its own.
#
# Usage: tests/summary.sh BUILD_DIR...
# Prints "N passed, N failed[, N skipped]"; exits 1 if any failed.
set -u
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for dir in "$@"; do
    for trs in $(find "$dir" -name '*.trs' 2>/dev/null | sort); do
        log=${trs%.trs}.log
        prog=$(basename "${trs%.trs}")
        result=$(sed -n 's/^:test-result: *//p' "$trs" | head -n 1)
        cases=$(grep -cE '^[^:]+:[0-9]+:[PFE]:[^:]+:[^:]+:' "$log" 2>/dev/null)
        if [ "${cases:-0}" -gt 0 ]; then
            grep -E '^[^:]+:[0-9]+:[PFE]:[^:]+:[^:]+:' "$log" |
                awk -F: -v p="$prog" '{ print p "/" $4 "/" $5 "\t" $3 }' >> "$tmp"
            bad=$(grep -cE '^[^:]+:[0-9]+:[FE]:' "$log")
            case $result in
                FAIL|ERROR|XPASS) [ "$bad" -eq 0 ] && printf '%s\tF\n' "$prog/(exit:$dir)" >> "$tmp" ;;
            esac
        else
            case $result in
                PASS|XFAIL) printf '%s\tP\n' "$prog/(program)" >> "$tmp" ;;
                SKIP) printf '%s\tS\n' "$prog/(program)" >> "$tmp" ;;
                *) printf '%s\tF\n' "$prog/(program)" >> "$tmp" ;;
            esac
        fi
    done
done
# One line per case ("name<TAB>result"; test case names may hold spaces):
# failed if any run failed, else skipped if skipped.
sort "$tmp" | awk -F '\t' '
    { st = $2 == "E" ? "F" : $2
      if (!($1 in r) || st == "F" || (st == "S" && r[$1] == "P")) r[$1] = st }
    END { p = f = s = 0
          for (k in r) { if (r[k] == "P") p++; else if (r[k] == "F") f++; else s++ }
          if (s > 0) printf "%d passed, %d failed, %d skipped\n", p, f, s
          else printf "%d passed, %d failed\n", p, f
          exit f > 0 }'
