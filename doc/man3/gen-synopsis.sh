#!/bin/sh
# Prints the roff lines of a SYNOPSIS for the functions named, with each
# prototype exactly as its header declares it: the type and name in
# bold, the parameter names in italics. A "-" among the names prints
# ".PP" (a blank line between groups).
#
# Usage: doc/man3/gen-synopsis.sh INCLUDE_DIR NAME... > fragment
# e.g.   doc/man3/gen-synopsis.sh include epy_api_open epy_api_child
set -eu
here=$(dirname "$0")
inc=$1
shift
tab=$(printf '\t')
protos=$(awk -f "$here/protos.awk" "$inc"/epyrpc/*.h)
for fn in "$@"; do
    if [ "$fn" = "-" ]; then
        echo ".PP"
        continue
    fi
    lines=$(printf '%s\n' "$protos" | awk -F "$tab" -v f="$fn" '$1 == f { print $3 }')
    if [ -z "$lines" ]; then
        echo "gen-synopsis.sh: no EPY_API function $fn" >&2
        exit 1
    fi
    printf '%s\n' "$lines" | awk '
    # Splits a line into bold text and italic parameter names: an
    # identifier before "," or ")" that follows a space or "*".
    {
        gsub(/-/, "\\-")
        out = ""
        rest = $0
        nital = 0
        while (match(rest, /[ *][A-Za-z_][A-Za-z0-9_]*[,)]/)) {
            bold = substr(rest, 1, RSTART)
            id = substr(rest, RSTART + 1, RLENGTH - 2)
            out = out " \"" bold "\" " id
            rest = substr(rest, RSTART + RLENGTH - 1)
            nital++
        }
        if (nital == 0)
            print ".B \"" rest "\""
        else
            print ".BI" out " \"" rest "\""
    }'
done
