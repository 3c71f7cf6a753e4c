#!/bin/sh
# Checks the section 3 manual pages against the public headers:
#  - every EPY_API function of include/epyrpc/*.h has a page,
#    doc/man3/NAME.3 (its main page, or an alias: .so man3/PAGE.3),
#    whose main page lists it in NAME and shows its prototype in
#    SYNOPSIS exactly as the header declares it (white space aside);
#    gen.h's epy_gen_* functions, internal to generated code, need only
#    be named on epy_gen.3;
#  - every status code of error.h is on epy_error.3 with its number;
#  - every main page has the required sections;
#  - every page is installed (listed in doc/man3/pages.mk).
# Run by `make check`, which exports srcdir (the top source folder);
# or by hand: doc/man3/check-pages.sh [TOP_SRCDIR]
set -u
top=${1:-${srcdir:-.}}
inc=$top/include/epyrpc
man=$top/doc/man3
doc=$top/doc
fail=0
err() { echo "check-pages: $*" >&2; fail=1; }

[ -f "$man/protos.awk" ] && [ -d "$inc" ] || {
    echo "check-pages: no headers or pages under $top" >&2; exit 99; }

# Normalizes white space: one space at most, none inside parentheses or
# before , ; ) .
norm='{ gsub(/[ \t]+/, " "); gsub(/\( /, "("); gsub(/ \)/, ")");
        gsub(/ ,/, ","); gsub(/ ;/, ";"); sub(/^ /, ""); sub(/ $/, "");
        print }'

# The text of section $2 of page $1, roff requests turned into text.
section() {
    awk -v want="$2" '
    function unesc(s) {
        gsub(/\\f(\[[A-Z]*\]|[BIRP])/, "", s)
        gsub(/\\-/, "-", s); gsub(/\\\(dq/, "\"", s); gsub(/\\&/, "", s)
        gsub(/\\e/, "\\", s)
        return s
    }
    /^\.SH/ { t = $0; sub(/^\.SH[ \t]+/, "", t); gsub(/"/, "", t)
              insec = (t == want); next }
    !insec { next }
    /^\.(B|I|BI|IB|BR|RB|IR|RI)[ \t]/ {
        m = $1; rest = $0; sub(/^\.[A-Z]+[ \t]+/, "", rest)
        n = 0
        while (rest != "") {
            if (substr(rest, 1, 1) == "\"") {
                rest = substr(rest, 2); i = index(rest, "\"")
                if (i == 0) i = length(rest) + 1
                a[++n] = substr(rest, 1, i - 1); rest = substr(rest, i + 1)
            } else {
                i = match(rest, /[ \t]/)
                if (i == 0) i = length(rest) + 1
                a[++n] = substr(rest, 1, i - 1); rest = substr(rest, i)
            }
            sub(/^[ \t]+/, "", rest)
        }
        sep = (m == ".B" || m == ".I") ? " " : ""
        s = ""
        for (i = 1; i <= n; i++) s = s (i > 1 ? sep : "") a[i]
        print unesc(s); next
    }
    /^\./ { next }
    { print unesc($0) }' "$1" | tr '\n' ' '
}

# The page a name resolves to: its main page file, or nothing.
resolve() {
    f=$man/$1.3
    [ -f "$f" ] || return 0
    first=$(head -n 1 "$f")
    case $first in
        ".so "*)
            t=${first#.so }
            t=${t#man3/}
            if [ -f "$man/$t" ]; then echo "$man/$t"
            elif [ -f "$doc/$t" ]; then echo "$doc/$t"
            fi ;;
        *) echo "$f" ;;
    esac
}

tab=$(printf '\t')
protos=$(awk -f "$man/protos.awk" "$inc"/*.h)
fns=$(printf '%s\n' "$protos" | cut -f 1 | uniq)
[ -n "$fns" ] || { echo "check-pages: no EPY_API function found" >&2; exit 99; }
nfn=0
for fn in $fns; do
    nfn=$((nfn + 1))
    case $fn in
        epy_gen_*)
            grep -qw "$fn" "$man/epy_gen.3" ||
                err "$fn: not named on epy_gen.3"
            continue ;;
    esac
    page=$(resolve "$fn")
    if [ -z "$page" ]; then
        err "$fn: no page ($man/$fn.3 missing, or its .so target)"
        continue
    fi
    proto=$(printf '%s\n' "$protos" |
            awk -F "$tab" -v f="$fn" '$1 == f { printf "%s ", $3 }' |
            awk "$norm")
    syn=$(section "$page" SYNOPSIS | awk "$norm")
    case $syn in
        *"$proto"*) ;;
        *) err "$fn: $(basename "$page") SYNOPSIS lacks: $proto" ;;
    esac
    section "$page" NAME | tr ', ' '\n\n' | grep -qx "$fn" ||
        err "$fn: not in the NAME section of $(basename "$page")"
done

# Status codes, each with its number.
codes=$(sed -n 's/.*X(\([A-Z]*\), *\(-*[0-9]*\),.*/\1 \2/p' "$inc/error.h")
[ -n "$codes" ] || err "no status codes found in error.h"
errpage=$(section "$man/epy_error.3" DESCRIPTION)
printf '%s\n' "$codes" | while read -r name num; do
    case $errpage in
        *"EPY_$name ($num,"*) ;;
        *) echo "check-pages: EPY_$name ($num) not listed on epy_error.3" >&2
           echo x ;;
    esac
done | grep -q x && fail=1

# Sections of the main pages; aliases point at pages that exist.
npage=0
for f in "$man"/*.3; do
    npage=$((npage + 1))
    b=$(basename "$f")
    case $(head -n 1 "$f") in
        ".so "*)
            [ -n "$(resolve "${b%.3}")" ] || err "$b: .so target missing" ;;
        *)
            for s in NAME SYNOPSIS DESCRIPTION "RETURN VALUE" OWNERSHIP \
                     "THREAD SAFETY" EXAMPLE "SEE ALSO"; do
                grep -Eq "^\.SH \"?$s\"?\$" "$f" || err "$b: no $s section"
            done ;;
    esac
    awk -v p="%D%/$b" '{ for (i = 1; i <= NF; i++) if ($i == p) f = 1 }
        END { exit !f }' "$man/pages.mk" || err "$b: not in pages.mk"
done

echo "check-pages: $nfn functions, $npage pages"
exit $fail
