#!/bin/sh
# Times idlc on a generated interface of 100 namespaces of 20 methods
# each, protoc-c included (goal: under 1 s).
#
#   sh idlc/bench.sh IDLC PROTOC_C
set -eu
idlc=${1:?usage: bench.sh IDLC PROTOC_C}
protoc=${2:-protoc-c}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/idlc-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
{
    while [ $n -lt 100 ]; do
        echo "namespace bench.n$n {"
        echo "    struct item { string s; list<int64> v; optional<double> d; }"
        m=0
        while [ $m -lt 20 ]; do
            echo "    item m$m(int32 a, string b, list<item> c, map<string, item> d);"
            m=$((m + 1))
        done
        echo "}"
        n=$((n + 1))
    done
} > "$tmp/bench.idl"

best=
for run in 1 2 3; do
    start=$(date +%s%N)
    "$idlc" --protoc-c="$protoc" -o "$tmp" "$tmp/bench.idl"
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
echo "idlc: 100 namespaces x 20 methods, protoc-c included: ${best} ms (best of 3)"
