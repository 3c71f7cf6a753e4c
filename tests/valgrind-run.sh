#!/bin/sh
# LOG_COMPILER of `make check-valgrind`: runs a test program under
# valgrind memcheck, and a test script as it is (its shell's own
# allocations are not ours to check; the programs it starts are checked
# by their own tests).
# Usage: valgrind-run.sh VALGRIND [FLAGS...] -- TEST [ARGS...]
valgrind=
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    valgrind="$valgrind $1"
    shift
done
shift
case $(head -c 2 "$1" 2>/dev/null) in
    '#!') exec "$@" ;;
esac
# shellcheck disable=SC2086
exec $valgrind "$@"
