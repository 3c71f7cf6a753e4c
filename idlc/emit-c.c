/*
 * idlc: the C generators, file.epy.h and file.epy.c: typed C types for
 * the IDL's types, per namespace an api type, per method caller stubs and
 * a handler type, per namespace a handler table, and the layout tables
 * that let runtime/gen/gen-encode.c and gen-decode.c convert values to and
 * from protobuf-c messages.
 *
 * C representations:
 *   bool, intN, uintN, float, double   bool, intN_t, uintN_t, float, double
 *   string                              char * (NUL-terminated, malloc'd)
 *   bytes                               epy_bytes { uint8_t *data; size_t len; }
 *   fd                                  int (-1: none; the holder closes it)
 *   enum E, struct S                    ns_E, ns_S
 *   list<T>                             { size_t n; T *items; }
 *   optional<T>                         { bool has; T value; }
 *   map<K,V>                            { size_t n; { K key; V value; } *items; }
 * Arguments are passed by value (scalars, enums), as const char *
 * (strings), or by const pointer (everything else).
 */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "emit-c-int.h"

bool
cg_mine(const cgen *g, const idlc_decl *d)
{
    return d->src == g->src;
}

const char *
cg_upper(idlc_ctx *ctx, const char *s)
{
    char *u = idlc_strdup(&ctx->arena, s);

    for (char *p = u; *p != '\0'; p++)
        *p = (char) toupper((unsigned char) *p);
    return u;
}

/* --- layout of the output ------------------------------------------------- */


/*
 * Breaks a long comment line at spaces: a " * text" line into several,
 * a one-line comment into a comment block.
 */
static void
wrap_comment_line(idlc_buf *out, const char *p, size_t len, size_t indent)
{
    const char *text = p + indent;
    size_t tlen = len - indent;
    bool single = text[0] == '/';
    size_t room = WIDTH - indent - 3;

    if (single) {
        /* The text between the comment markers. */
        text += 3;
        tlen -= 3;
        if (tlen >= 3 && memcmp(text + tlen - 3, " */", 3) == 0)
            tlen -= 3;
        idlc_buf_add(out, p, indent);
        idlc_buf_add(out, "/*\n", 3);
    } else {
        text += 2;
        tlen = tlen >= 2 ? tlen - 2 : 0;
    }
    while (tlen > 0) {
        size_t n = tlen;

        if (n > room) {
            n = room;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = tlen;
        }
        idlc_buf_add(out, p, indent);
        idlc_buf_add(out, single ? " * " : "* ", single ? 3 : 2);
        idlc_buf_add(out, text, n);
        idlc_buf_add(out, "\n", 1);
        text += n;
        tlen -= n;
        while (tlen > 0 && *text == ' ') {
            text++;
            tlen--;
        }
    }
    if (single) {
        idlc_buf_add(out, p, indent);
        idlc_buf_add(out, " */\n", 4);
    }
}

/*
 * Breaks code lines longer than WIDTH after the commas of their first
 * parenthesis, continuation lines aligned under it. Comments and lines
 * holding strings are left alone.
 */
void
cg_wrap_lines(idlc_buf *text)
{
    idlc_buf out = { NULL, 0, 0 };
    const char *p = text->data;

    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t) (nl - p) + 1 : strlen(p);
        size_t len = nl != NULL ? n - 1 : n;
        const char *open = memchr(p, '(', len);
        const char *lead = p;

        while (lead < p + len && *lead == ' ')
            lead++;
        if (len > WIDTH && memchr(p, '"', len) == NULL
            && ((lead[0] == '*' && (lead[1] == ' ' || lead[1] == '/'))
                || (lead[0] == '/' && lead[1] == '*'))) {
            wrap_comment_line(&out, p, len, (size_t) (lead - p));
        } else if (len <= WIDTH || open == NULL
                   || (lead[0] == '*' && (lead[1] == ' ' || lead[1] == '/'))
                   || lead[0] == '/' || lead[0] == '"' || lead[0] == '#'
                   || memchr(p, ',', len) == NULL) {
            idlc_buf_add(&out, p, n);
        } else {
            size_t indent = (size_t) (open - p) + 1;
            size_t col;
            const char *q = open + 1;

            if (indent > 40)
                indent = 8;
            idlc_buf_add(&out, p, (size_t) (q - p));
            col = (size_t) (q - p);
            while (q < p + len) {
                /* The next piece ends after a comma outside strings. */
                const char *end = q;
                bool in_str = false;
                size_t piece;

                while (end < p + len) {
                    char ch = *end++;

                    if (in_str && ch == '\\' && end < p + len)
                        end++;
                    else if (ch == '"')
                        in_str = !in_str;
                    else if (ch == ',' && !in_str)
                        break;
                }
                piece = (size_t) (end - q);
                if (col + piece > WIDTH && col > indent) {
                    while (out.len > 0 && out.data[out.len - 1] == ' ')
                        out.len--;
                    idlc_buf_add(&out, "\n", 1);
                    for (size_t i = 0; i < indent; i++)
                        idlc_buf_add(&out, " ", 1);
                    col = indent;
                    while (q < end && *q == ' ') {
                        q++;
                        piece--;
                    }
                }
                idlc_buf_add(&out, q, piece);
                col += piece;
                q = end;
            }
            if (nl != NULL)
                idlc_buf_add(&out, "\n", 1);
        }
        p += n;
    }
    idlc_buf_free(text);
    *text = out;
}

/* --- C spellings of types ------------------------------------------------ */

const char *
cg_ctype(cgen *g, const idlc_type *t)
{
    switch (t->kind) {
    case TK_BOOL: return "bool";
    case TK_INT8: return "int8_t";
    case TK_INT16: return "int16_t";
    case TK_INT32: return "int32_t";
    case TK_INT64: return "int64_t";
    case TK_UINT8: return "uint8_t";
    case TK_UINT16: return "uint16_t";
    case TK_UINT32: return "uint32_t";
    case TK_UINT64: return "uint64_t";
    case TK_FLOAT: return "float";
    case TK_DOUBLE: return "double";
    case TK_STRING: return "char *";
    case TK_BYTES: return "epy_bytes";
    case TK_FD: return "int";
    case TK_ENUM:
    case TK_STRUCT:
        return t->decl->cname;
    default:
        return idlc_type_mangle(g->ctx, t);
    }
}

bool
cg_by_value(const idlc_type *t)
{
    return (t->kind <= TK_DOUBLE) || t->kind == TK_ENUM || t->kind == TK_FD;
}

/* "int64_t a", "const char *s", "const calc_point *p". */
const char *
cg_in_decl(cgen *g, const idlc_type *t, const char *name)
{
    if (cg_by_value(t))
        return idlc_printf(&g->ctx->arena, "%s %s", cg_ctype(g, t), name);
    if (t->kind == TK_STRING)
        return idlc_printf(&g->ctx->arena, "const char *%s", name);
    return idlc_printf(&g->ctx->arena, "const %s *%s", cg_ctype(g, t), name);
}

/* "int64_t *ret", "char **ret". */
const char *
cg_out_decl(cgen *g, const idlc_type *t, const char *name)
{
    const char *c = cg_ctype(g, t);

    return idlc_printf(&g->ctx->arena, "%s%s*%s", c,
                       c[strlen(c) - 1] == '*' ? "" : " ", name);
}

/* A member declaration "int64_t a" / "char *s". */
const char *
cg_member_decl(cgen *g, const idlc_type *t, const char *name)
{
    const char *c = cg_ctype(g, t);

    return idlc_printf(&g->ctx->arena, "%s%s%s", c,
                       c[strlen(c) - 1] == '*' ? "" : " ", name);
}

/* The layout table of @t, as a C expression. */
const char *
cg_tref(cgen *g, const idlc_type *t)
{
    switch (t->kind) {
    case TK_ENUM:
        return "&epy_gen_type_enum";
    case TK_STRUCT:
        return idlc_printf(&g->ctx->arena, "&%s_type_", t->decl->cname);
    case TK_LIST:
    case TK_OPTIONAL:
    case TK_MAP:
        return idlc_printf(&g->ctx->arena, "&%s_type_",
                           idlc_type_mangle(g->ctx, t));
    default:
        return idlc_printf(&g->ctx->arena, "&epy_gen_type_%s",
                           idlc_tkind_name(t->kind));
    }
}

/* protoc-c's descriptor of message @msg of file @src. */
const char *
cg_pbdesc(cgen *g, const idlc_source *src, const char *msg)
{
    return idlc_printf(&g->ctx->arena, "%s__%s__descriptor",
                       idlc_proto_lower(g->ctx,
                                        idlc_proto_package(g->ctx, src)),
                       idlc_proto_lower(g->ctx, msg));
}

/*
 * Comments: doc text must neither end the C comment early nor trip
 * -Wcomment or -Wtrigraphs. A space goes between a star and a slash
 * after it, a slash and a star after it, and the "??" and slash of a
 * trigraph backslash (which could splice lines); control characters
 * other than tabs are written as spaces.
 */
void
cg_doc_lines(cgen *g, const char *doc, const char *indent)
{
    const char *p = doc;

    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t) (nl - p) : strlen(p);

        P("%s *%s", indent, n > 0 ? " " : "");
        for (size_t i = 0; i < n; i++) {
            char c = p[i];
            char next = i + 1 < n ? p[i + 1] : '\0';

            if (((unsigned char) c < ' ' && c != '\t') || c == 0x7f)
                c = ' ';
            idlc_buf_add(g->out, &c, 1);
            if ((c == '*' && next == '/') || (c == '/' && next == '*')
                || (c == '?' && next == '/' && i > 0 && p[i - 1] == '?'))
                S(" ");
        }
        S("\n");
        p = nl != NULL ? nl + 1 : NULL;
    }
}

/* Writes @text as comment lines of at most WIDTH columns. */
static void
comment_wrapped(cgen *g, const char *text, const char *indent)
{
    const char *p = text;
    size_t room = WIDTH - strlen(indent) - 3;

    while (*p != '\0') {
        size_t n = strlen(p);

        if (n > room) {
            n = room;
            while (n > 0 && p[n] != ' ')
                n--;
            if (n == 0)
                n = strcspn(p, " ");
        }
        P("%s * %.*s\n", indent, (int) n, p);
        p += n;
        while (*p == ' ')
            p++;
    }
}

/*
 * A comment: the summary @first (wrapped), the IDL's `///` text @doc,
 * then @extra, lines already starting with " * ".
 */
void
cg_doc_block_ex(cgen *g, const char *first, const char *doc, const char *extra,
             const char *indent)
{
    P("%s/*\n", indent);
    comment_wrapped(g, first, indent);
    if (doc != NULL) {
        P("%s *\n", indent);
        cg_doc_lines(g, doc, indent);
    }
    if (extra != NULL) {
        P("%s *\n", indent);
        S(extra);
    }
    P("%s */\n", indent);
}

void
cg_doc_block(cgen *g, const char *first, const char *doc, const char *indent)
{
    cg_doc_block_ex(g, first, doc, NULL, indent);
}

/* --- generics used by the file ------------------------------------------------ */

static void
use_type(cgen *g, const idlc_type *t)
{
    const char *m;

    if (!idlc_is_generic(t->kind))
        return;
    use_type(g, t->elem);
    if (t->key != NULL)
        use_type(g, t->key);
    m = idlc_type_mangle(g->ctx, t);
    if (idlc_map_put(&g->ctx->arena, &g->gen_seen, m, (void *) t) != NULL)
        return;
    if (g->n_gens == g->cap_gens) {
        size_t cap = g->cap_gens != 0 ? g->cap_gens * 2 : 16;
        const idlc_type **v = idlc_alloc(&g->ctx->arena, cap * sizeof *v);

        if (g->n_gens > 0)
            memcpy(v, g->gens, g->n_gens * sizeof *v);
        g->gens = v;
        g->cap_gens = cap;
    }
    g->gens[g->n_gens++] = t;
}

void
cg_collect_ns(cgen *g, const idlc_decl *ns)
{
    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *d = ns->items[i];

        if (d->kind == DK_NAMESPACE) {
            cg_collect_ns(g, d);
            continue;
        }
        if (!cg_mine(g, d))
            continue;
        for (const idlc_field *f = d->fields; f != NULL; f = f->next)
            use_type(g, f->type);
        if (d->result != NULL)
            use_type(g, d->result);
    }
}

/*
 * True if a value of @t may own memory or a descriptor: strings, bytes,
 * fds, structs (each has a _copy), lists, maps, and optionals of those.
 * The generics that do get a _copy; optionals of numbers, bools and
 * enums are assigned.
 */
bool
cg_owns_memory(const idlc_type *t)
{
    switch (t->kind) {
    case TK_STRING:
    case TK_BYTES:
    case TK_FD:
    case TK_STRUCT:
    case TK_LIST:
    case TK_MAP:
        return true;
    case TK_OPTIONAL:
        return cg_owns_memory(t->elem);
    default:
        return false;
    }
}

/* Claims the C names of the generics; reported like other collisions. */
void
cg_claim_generics(cgen *g)
{
    for (size_t i = 0; i < g->n_gens; i++) {
        const idlc_type *t = g->gens[i];
        const char *m = idlc_type_mangle(g->ctx, t);
        idlc_buf d = { NULL, 0, 0 };
        const char *names[4];
        int n = 0;
        bool clashed = false;

        if (strncmp(m, "epy_", 4) == 0)
            continue;
        idlc_describe_type(t, &d);
        names[n++] = m;
        names[n++] = idlc_printf(&g->ctx->arena, "%s_clear", m);
        if (cg_owns_memory(t))
            names[n++] = idlc_printf(&g->ctx->arena, "%s_copy", m);
        if (t->kind == TK_MAP)
            names[n++] = idlc_printf(&g->ctx->arena, "%s_entry", m);
        for (int k = 0; k < n; k++) {
            const char *desc = idlc_printf(&g->ctx->arena, "type '%s'",
                                           d.data);
            const char *prev = idlc_map_put(&g->ctx->arena, &g->ctx->cnames,
                                            names[k], (void *) desc);

            /* Once for the type, not for each name it shares. */
            if (prev != NULL && strcmp(prev, desc) != 0 && !clashed) {
                idlc_error(g->ctx, t->loc, "%s mangles to the C name '%s', "
                           "already used by %s", desc, names[k], prev);
                clashed = true;
            }
        }
        idlc_buf_free(&d);
    }
}
