# Prints the prototypes of the EPY_API functions of the headers given as
# input, one output line per line of each declaration:
#     NAME <TAB> N <TAB> TEXT
# N counts the lines of the declaration from 1. EPY_API is removed (and
# the indentation of continuation lines shifted to match), as are
# preprocessor conditionals inside a declaration (attributes) and the
# lone ";" they leave. Data (EPY_API extern ...) is skipped.
# Used by gen-synopsis.sh and check-pages.sh.

function flush(   i) {
    for (i = 1; i <= n; i++)
        printf "%s\t%d\t%s\n", name, i, text[i]
    n = 0
    indecl = 0
}

indecl == 0 && /^[ \t]*EPY_API[ \t]/ && $0 !~ /EPY_API[ \t]+extern[ \t]/ {
    indecl = 1
    n = 0
    skip = 0
    line = $0
    sub(/^[ \t]*EPY_API[ \t]+/, "", line)
    nm = line
    sub(/\(.*/, "", nm)
    sub(/.*[^A-Za-z0-9_]/, "", nm)
    name = nm
    text[++n] = line
    if (line ~ /;/)
        flush()
    next
}

indecl {
    if ($0 ~ /^[ \t]*#[ \t]*if/) { skip++; next }
    if ($0 ~ /^[ \t]*#[ \t]*endif/) { if (skip) skip--; next }
    if (skip) next
    if ($0 ~ /^[ \t]*#/) next
    line = $0
    if (line ~ /^[ \t]*;[ \t]*$/) {
        text[n] = text[n] ";"
        flush()
        next
    }
    if (substr(line, 1, 8) == "        ")
        line = substr(line, 9)
    text[++n] = line
    if (line ~ /;/)
        flush()
}
