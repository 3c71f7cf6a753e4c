#!/bin/sh
# Writes one alias page per function named in the NAME section of each
# main page (doc/man3/*.3 that are not aliases, and doc/libepyrpc.3):
# doc/man3/FUNCTION.3 holding ".so man3/PAGE.3"; then pages.mk, the
# list that doc/local.mk installs. Run after adding a function to a
# page's NAME section (then autoreconf).
# Usage: doc/man3/gen-aliases.sh
set -eu
cd "$(dirname "$0")"
# Old aliases go first, so that renamed functions leave none behind.
for f in *.3; do
    if head -n 1 "$f" | grep -q '^\.so '; then rm -f "$f"; fi
done
names() {   # the names of the NAME section of $1
    awk '/^\.SH/ { insec = ($2 == "NAME"); next }
         insec { print }' "$1" | tr '\n' ' ' |
        sed -e 's/\\-.*//' -e 's/,/ /g'
}
for page in *.3 ../libepyrpc.3; do
    base=$(basename "$page" .3)
    for n in $(names "$page"); do
        [ "$n" = "$base" ] && continue
        [ -e "$n.3" ] && { echo "gen-aliases.sh: $n.3 exists" >&2; exit 1; }
        printf '.so man3/%s.3\n' "$base" > "$n.3"
    done
done
{
    echo "# Section 3 pages, written by doc/man3/gen-aliases.sh: main pages"
    echo "# and one alias (.so) page per function. Do not edit."
    printf 'dist_man3_MANS ='
    for f in *.3; do printf ' \\\n\t%%D%%/%s' "$f"; done
    echo
} > pages.mk
