/*
 * idlc: the C generators, file.epy.h and file.epy.c: typed C types for
 * the IDL's types, per namespace an api type, per method caller stubs and
 * a handler type, per namespace a handler table, and the layout tables
 * that let runtime/gen-encode.c and gen-decode.c convert values to and
 * from protobuf-c messages.
 *
 * C representations:
 *   bool, intN, uintN, float, double   bool, intN_t, uintN_t, float, double
 *   string                              char * (NUL-terminated, malloc'd)
 *   bytes                               epy_bytes { uint8_t *data; size_t len; }
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

#include "idlc-int.h"

typedef struct cgen {
    idlc_ctx *ctx;
    const idlc_source *src;
    idlc_buf *out;
    /* generics used by this file, elements first */
    const idlc_type **gens;
    size_t n_gens, cap_gens;
    idlc_map gen_seen;
    idlc_map def_done;           /* definitions written (header) */
} cgen;

#define P(...) idlc_buf_printf(g->out, __VA_ARGS__)
#define S(s) idlc_buf_puts(g->out, (s))

static bool
mine(const cgen *g, const idlc_decl *d)
{
    return d->src == g->src;
}

static const char *
upper(idlc_ctx *ctx, const char *s)
{
    char *u = idlc_strdup(&ctx->arena, s);

    for (char *p = u; *p != '\0'; p++)
        *p = (char) toupper((unsigned char) *p);
    return u;
}

/* --- layout of the output ------------------------------------------------- */

#define WIDTH 79

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
static void
wrap_lines(idlc_buf *text)
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

static const char *
ctype(cgen *g, const idlc_type *t)
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
    case TK_ENUM:
    case TK_STRUCT:
        return t->decl->cname;
    default:
        return idlc_type_mangle(g->ctx, t);
    }
}

static bool
by_value(const idlc_type *t)
{
    return (t->kind <= TK_DOUBLE) || t->kind == TK_ENUM;
}

/* "int64_t a", "const char *s", "const calc_point *p". */
static const char *
in_decl(cgen *g, const idlc_type *t, const char *name)
{
    if (by_value(t))
        return idlc_printf(&g->ctx->arena, "%s %s", ctype(g, t), name);
    if (t->kind == TK_STRING)
        return idlc_printf(&g->ctx->arena, "const char *%s", name);
    return idlc_printf(&g->ctx->arena, "const %s *%s", ctype(g, t), name);
}

/* "int64_t *ret", "char **ret". */
static const char *
out_decl(cgen *g, const idlc_type *t, const char *name)
{
    const char *c = ctype(g, t);

    return idlc_printf(&g->ctx->arena, "%s%s*%s", c,
                       c[strlen(c) - 1] == '*' ? "" : " ", name);
}

/* A member declaration "int64_t a" / "char *s". */
static const char *
member_decl(cgen *g, const idlc_type *t, const char *name)
{
    const char *c = ctype(g, t);

    return idlc_printf(&g->ctx->arena, "%s%s%s", c,
                       c[strlen(c) - 1] == '*' ? "" : " ", name);
}

/* The layout table of @t, as a C expression. */
static const char *
tref(cgen *g, const idlc_type *t)
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
static const char *
pbdesc(cgen *g, const idlc_source *src, const char *msg)
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
static void
doc_lines(cgen *g, const char *doc, const char *indent)
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
static void
doc_block_ex(cgen *g, const char *first, const char *doc, const char *extra,
             const char *indent)
{
    P("%s/*\n", indent);
    comment_wrapped(g, first, indent);
    if (doc != NULL) {
        P("%s *\n", indent);
        doc_lines(g, doc, indent);
    }
    if (extra != NULL) {
        P("%s *\n", indent);
        S(extra);
    }
    P("%s */\n", indent);
}

static void
doc_block(cgen *g, const char *first, const char *doc, const char *indent)
{
    doc_block_ex(g, first, doc, NULL, indent);
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

static void
collect_ns(cgen *g, const idlc_decl *ns)
{
    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *d = ns->items[i];

        if (d->kind == DK_NAMESPACE) {
            collect_ns(g, d);
            continue;
        }
        if (!mine(g, d))
            continue;
        for (const idlc_field *f = d->fields; f != NULL; f = f->next)
            use_type(g, f->type);
        if (d->result != NULL)
            use_type(g, d->result);
    }
}

/*
 * True if a value of @t may own memory: strings, bytes, structs (each
 * has a _copy), lists, maps, and optionals of those. The generics that
 * do get a _copy; optionals of numbers, bools and enums are assigned.
 */
static bool
owns_memory(const idlc_type *t)
{
    switch (t->kind) {
    case TK_STRING:
    case TK_BYTES:
    case TK_STRUCT:
    case TK_LIST:
    case TK_MAP:
        return true;
    case TK_OPTIONAL:
        return owns_memory(t->elem);
    default:
        return false;
    }
}

/* Claims the C names of the generics; reported like other collisions. */
static void
claim_generics(cgen *g)
{
    for (size_t i = 0; i < g->n_gens; i++) {
        const idlc_type *t = g->gens[i];
        const char *m = idlc_type_mangle(g->ctx, t);
        idlc_buf d = { NULL, 0, 0 };
        const char *names[4];
        int n = 0;

        if (strncmp(m, "epy_", 4) == 0)
            continue;
        idlc_describe_type(t, &d);
        names[n++] = m;
        names[n++] = idlc_printf(&g->ctx->arena, "%s_clear", m);
        if (owns_memory(t))
            names[n++] = idlc_printf(&g->ctx->arena, "%s_copy", m);
        if (t->kind == TK_MAP)
            names[n++] = idlc_printf(&g->ctx->arena, "%s_entry", m);
        for (int k = 0; k < n; k++) {
            const char *desc = idlc_printf(&g->ctx->arena, "type '%s'",
                                           d.data);
            const char *prev = idlc_map_put(&g->ctx->arena, &g->ctx->cnames,
                                            names[k], (void *) desc);

            if (prev != NULL && strcmp(prev, desc) != 0)
                idlc_error(g->ctx, t->loc, "%s mangles to the C name '%s', "
                           "already used by %s", desc, names[k], prev);
        }
        idlc_buf_free(&d);
    }
}

/* --- header: types ------------------------------------------------------------ */

static void
write_generic(cgen *g, const idlc_type *t)
{
    const char *m = idlc_type_mangle(g->ctx, t);
    idlc_buf d = { NULL, 0, 0 };

    idlc_describe_type(t, &d);
    P("#ifndef EPY_GEN_TYPE_%s\n#define EPY_GEN_TYPE_%s\n", m, m);
    switch (t->kind) {
    case TK_LIST:
        P("/* %s: @n values at @items. */\n", d.data);
        P("struct %s {\n    size_t n;\n    %s;\n};\n", m,
          out_decl(g, t->elem, "items"));
        break;
    case TK_OPTIONAL:
        P("/* %s: @value is set when @has is true. */\n", d.data);
        P("struct %s {\n    bool has;\n    %s;\n};\n", m,
          member_decl(g, t->elem, "value"));
        break;
    case TK_MAP:
        P("/* %s: @n entries at @items, in the order received. */\n",
          d.data);
        P("struct %s {\n    size_t n;\n    %s_entry *items;\n};\n", m, m);
        break;
    default:
        break;
    }
    S("#endif\n\n");
    idlc_buf_free(&d);
}

static void
write_entry(cgen *g, const idlc_type *t)
{
    const char *m = idlc_type_mangle(g->ctx, t);
    const char *key = idlc_printf(&g->ctx->arena, "%s_entry", m);

    P("#ifndef EPY_GEN_TYPE_%s\n#define EPY_GEN_TYPE_%s\n", key, key);
    P("struct %s {\n    %s;\n    %s;\n};\n#endif\n\n", key,
      member_decl(g, t->key, "key"), member_decl(g, t->elem, "value"));
}

static void
write_struct(cgen *g, const idlc_decl *d)
{
    doc_block(g, idlc_printf(&g->ctx->arena, "%s - %s %s.", d->cname,
                             d->kind == DK_ERROR ? "error" : "struct",
                             d->qname), d->doc, "");
    P("struct %s {\n", d->cname);
    if (d->fields == NULL)
        S("    char epy_unused;    /* C needs a member */\n");
    for (const idlc_field *f = d->fields; f != NULL; f = f->next) {
        if (f->doc != NULL) {
            S("    /*\n");
            doc_lines(g, f->doc, "    ");
            S("     */\n");
        }
        P("    %s;\n", member_decl(g, f->type, f->name));
    }
    S("};\n\n");
}

/*
 * Type definitions in C order: each after the types it holds by value.
 * A node is a struct of this file, a generic, or a map's entry; the walk
 * keeps its own stack, as chains of structs may be long.
 */
typedef enum dkind { DN_STRUCT, DN_GENERIC, DN_ENTRY } dkind;

typedef struct dnode {
    dkind kind;
    const idlc_decl *decl;       /* DN_STRUCT */
    const idlc_type *type;       /* DN_GENERIC, DN_ENTRY */
    const idlc_field *next;      /* DN_STRUCT: next field to look at */
    bool looked;                 /* DN_GENERIC, DN_ENTRY: dependency seen */
} dnode;

static const char *
dnode_key(cgen *g, const dnode *n)
{
    if (n->kind == DN_STRUCT)
        return n->decl->cname;
    if (n->kind == DN_ENTRY)
        return idlc_printf(&g->ctx->arena, "%s_entry",
                           idlc_type_mangle(g->ctx, n->type));
    return idlc_type_mangle(g->ctx, n->type);
}

/* The node a by-value member of type @t needs complete; false if none. */
static bool
value_dep(cgen *g, const idlc_type *t, dnode *out)
{
    memset(out, 0, sizeof *out);
    if (t->kind == TK_STRUCT && mine(g, t->decl)) {
        out->kind = DN_STRUCT;
        out->decl = t->decl;
        out->next = t->decl->fields;
        return true;
    }
    if (idlc_is_generic(t->kind)) {
        out->kind = DN_GENERIC;
        out->type = t;
        return true;
    }
    return false;
}

static void
define(cgen *g, const dnode *root)
{
    dnode *stack;
    size_t sp = 0, cap = 64;

    if (idlc_map_get(&g->def_done, dnode_key(g, root)) != NULL)
        return;
    stack = idlc_alloc(&g->ctx->arena, cap * sizeof *stack);
    stack[0] = *root;
    for (;;) {
        dnode *n = &stack[sp];
        dnode dep;
        bool have = false;

        if (n->kind == DN_STRUCT) {
            while (!have && n->next != NULL) {
                have = value_dep(g, n->next->type, &dep);
                n->next = n->next->next;
            }
        } else if (!n->looked) {
            n->looked = true;
            if (n->kind == DN_ENTRY || n->type->kind == TK_OPTIONAL)
                have = value_dep(g, n->type->elem, &dep);
        }
        if (have) {
            if (idlc_map_get(&g->def_done, dnode_key(g, &dep)) != NULL)
                continue;
            if (sp + 1 == cap) {
                dnode *bigger = idlc_alloc(&g->ctx->arena,
                                           cap * 2 * sizeof *bigger);

                memcpy(bigger, stack, cap * sizeof *stack);
                stack = bigger;
                cap *= 2;
            }
            stack[++sp] = dep;
            continue;
        }
        {
            const char *key = dnode_key(g, n);

            if (idlc_map_put(&g->ctx->arena, &g->def_done, key,
                             (void *) key) == NULL) {
                if (n->kind == DN_STRUCT)
                    write_struct(g, n->decl);
                else if (n->kind == DN_ENTRY)
                    write_entry(g, n->type);
                else
                    write_generic(g, n->type);
            }
        }
        if (sp == 0)
            break;
        sp--;
    }
}

/* The comment above every _copy function. */
#define COPY_DOC \
    "/*\n" \
    " * Makes *@dst a deep copy of *@src, overwriting it (clear it first if\n" \
    " * it owns anything). Returns 0, or EPY_ENOMEM (EPY_EPARAM for a\n" \
    " * malformed *@src, see epy_gen_copy()) leaving *@dst untouched.\n" \
    " */\n"

/* The statement that frees one value @x of type @t, or NULL. */
static const char *
clear_stmt(cgen *g, const idlc_type *t, const char *x)
{
    switch (t->kind) {
    case TK_STRING:
        return idlc_printf(&g->ctx->arena, "epy_gen_free(%s);", x);
    case TK_BYTES:
        return idlc_printf(&g->ctx->arena, "epy_bytes_clear(&%s);", x);
    case TK_STRUCT:
        return idlc_printf(&g->ctx->arena, "%s_clear(&%s);",
                           t->decl->cname, x);
    case TK_LIST:
    case TK_OPTIONAL:
    case TK_MAP:
        return idlc_printf(&g->ctx->arena, "%s_clear(&%s);",
                           idlc_type_mangle(g->ctx, t), x);
    default:
        return NULL;
    }
}

static void
def_clear(cgen *g, const idlc_type *t)
{
    const char *m = idlc_type_mangle(g->ctx, t);
    const char *e, *k;

    P("#ifndef EPY_GEN_CLEAR_%s\n#define EPY_GEN_CLEAR_%s\n", m, m);
    P("/* Frees what @v owns and empties it. */\n"
      "static inline void\n%s_clear(%s *v)\n{\n", m, m);
    switch (t->kind) {
    case TK_LIST:
        e = clear_stmt(g, t->elem, "v->items[i]");
        if (e != NULL)
            P("    for (size_t i = 0; i < v->n; i++)\n        %s\n", e);
        S("    epy_gen_free(v->items);\n    v->items = NULL;\n"
          "    v->n = 0;\n");
        break;
    case TK_MAP:
        k = clear_stmt(g, t->key, "v->items[i].key");
        e = clear_stmt(g, t->elem, "v->items[i].value");
        if (k != NULL || e != NULL) {
            S("    for (size_t i = 0; i < v->n; i++) {\n");
            if (k != NULL)
                P("        %s\n", k);
            if (e != NULL)
                P("        %s\n", e);
            S("    }\n");
        }
        S("    epy_gen_free(v->items);\n    v->items = NULL;\n"
          "    v->n = 0;\n");
        break;
    case TK_OPTIONAL:
        e = clear_stmt(g, t->elem, "v->value");
        if (e != NULL)
            P("    if (v->has)\n        %s\n", e);
        S("    v->has = false;\n");
        break;
    default:
        break;
    }
    S("}\n#endif\n\n");
}

/* Writes @items comma-separated, @indent deep, in lines of WIDTH at most. */
static void
init_items(cgen *g, const char *const *items, size_t n, size_t indent)
{
    size_t col = 0;

    for (size_t i = 0; i < n; i++) {
        const char *comma = i + 1 < n ? "," : "";
        size_t len = strlen(items[i]) + strlen(comma);

        if (col > 0 && col + 1 + len > WIDTH) {
            S("\n");
            col = 0;
        }
        if (col == 0) {
            P("%*s", (int) indent, "");
            col = indent;
        } else {
            S(" ");
            col++;
        }
        P("%s%s", items[i], comma);
        col += len;
    }
    S("\n");
}

/*
 * The layout table of @t, as a C expression, for a _copy in the header:
 * the tables of structs and generics, static in the .epy.c, are written
 * first as locals epy_t<depth> (inner ones first).
 */
static const char *
copy_table(cgen *g, const idlc_type *t, int depth)
{
    idlc_arena **a = &g->ctx->arena;
    const char *name = idlc_printf(a, "epy_t%d", depth);
    const char *m = t->kind == TK_STRUCT ? t->decl->cname
                    : idlc_type_mangle(g->ctx, t);
    const char *items[7];

    switch (t->kind) {
    case TK_STRUCT:
        items[0] = "EPY_GEN_STRUCT";
        items[2] = "NULL";
        items[4] = idlc_printf(a, "&%s_desc", m);
        items[5] = "0";
        break;
    case TK_LIST:
    case TK_OPTIONAL:
    case TK_MAP:
        items[2] = copy_table(g, t->elem, depth + 1);
        items[0] = t->kind == TK_LIST ? "EPY_GEN_LIST"
                   : t->kind == TK_MAP ? "EPY_GEN_MAP" : "EPY_GEN_OPTIONAL";
        items[4] = "NULL";
        items[5] = t->kind == TK_OPTIONAL
                   ? idlc_printf(a, "offsetof(%s, value)", m)
                   : t->kind == TK_MAP
                   ? idlc_printf(a, "offsetof(%s_entry, value)", m) : "0";
        break;
    default:
        return tref(g, t);
    }
    items[1] = idlc_printf(a, "sizeof(%s)", m);
    items[3] = t->kind == TK_MAP ? tref(g, t->key) : "NULL";
    items[6] = t->kind == TK_MAP ? idlc_printf(a, "sizeof(%s_entry)", m)
               : "0";
    P("    static const epy_gen_type %s = {\n", name);
    init_items(g, items, 7, 8);
    S("    };\n");
    return idlc_printf(a, "&%s", name);
}

/*
 * A generic's _copy: static inline, as the generic may be defined by
 * several headers; epy_gen_copy() over the layout of a one-field struct
 * holding the generic.
 */
static void
def_copy(cgen *g, const idlc_type *t)
{
    const char *m = idlc_type_mangle(g->ctx, t);
    const char *st[5];

    if (!owns_memory(t))
        return;
    P("\n#ifndef EPY_GEN_COPY_%s\n#define EPY_GEN_COPY_%s\n", m, m);
    S(COPY_DOC);
    P("static inline int\n%s_copy(%s *dst, const %s *src)\n{\n", m, m, m);
    P("    static const epy_gen_field epy_field = { 1, 0, %s };\n",
      copy_table(g, t, 0));
    S("    static const epy_gen_struct epy_st = {\n");
    st[0] = idlc_printf(&g->ctx->arena, "\"%s\"", m);
    st[1] = "NULL";
    st[2] = idlc_printf(&g->ctx->arena, "sizeof(%s)", m);
    st[3] = "1";
    st[4] = "&epy_field";
    init_items(g, st, 5, 8);
    S("    };\n\n    return epy_gen_copy(&epy_st, dst, src);\n}\n#endif\n");
}

/* Walks the declarations below @root in file order, entering namespaces. */
typedef struct decl_walk {
    const idlc_decl *stack[IDLC_MAX_DEPTH + 2];
    size_t pos[IDLC_MAX_DEPTH + 2];
    int sp;
} decl_walk;

static void
walk_init(decl_walk *w, const idlc_decl *root)
{
    w->stack[0] = root;
    w->pos[0] = 0;
    w->sp = 0;
}

/* The next declaration that is not a namespace, or NULL at the end. */
static const idlc_decl *
walk_next(decl_walk *w)
{
    while (w->sp >= 0) {
        const idlc_decl *ns = w->stack[w->sp];
        const idlc_decl *d;

        if (w->pos[w->sp] >= ns->n_items) {
            w->sp--;
            continue;
        }
        d = ns->items[w->pos[w->sp]++];
        if (d->kind != DK_NAMESPACE)
            return d;
        if (w->sp + 1 < IDLC_MAX_DEPTH + 2) {
            w->stack[++w->sp] = d;
            w->pos[w->sp] = 0;
        }
    }
    return NULL;
}

static void
header_types(cgen *g)
{
    bool any = false;

    S("/* --- types --- */\n\n");
    /* Enums first: they depend on nothing. */
    {
        /* Walk the tree in declaration order. */
        decl_walk w;
        const idlc_decl *d;

        walk_init(&w, &g->ctx->root);
        while ((d = walk_next(&w)) != NULL) {
            if (d->kind != DK_ENUM || !mine(g, d))
                continue;
            doc_block(g, idlc_printf(&g->ctx->arena, "%s - enum %s.",
                                     d->cname, d->qname), d->doc, "");
            P("typedef enum %s {\n", d->cname);
            for (const idlc_enumval *v = d->values; v != NULL; v = v->next) {
                if (v->doc != NULL) {
                    S("    /*\n");
                    doc_lines(g, v->doc, "    ");
                    S("     */\n");
                }
                P("    %s_%s = %" PRId64 "%s\n", upper(g->ctx, d->cname),
                  upper(g->ctx, v->name), v->value,
                  v->next != NULL ? "," : "");
            }
            P("} %s;\n\n", d->cname);
        }
    }
    /* Forward declarations: every struct and generic of this file. */
    {
        decl_walk w;
        const idlc_decl *d;

        walk_init(&w, &g->ctx->root);
        while ((d = walk_next(&w)) != NULL) {
            if ((d->kind == DK_STRUCT || d->kind == DK_ERROR) && mine(g, d)) {
                P("typedef struct %s %s;\n", d->cname, d->cname);
                any = true;
            }
        }
    }
    for (size_t i = 0; i < g->n_gens; i++) {
        const char *m = idlc_type_mangle(g->ctx, g->gens[i]);

        P("typedef struct %s %s;\n", m, m);
        if (g->gens[i]->kind == TK_MAP)
            P("typedef struct %s_entry %s_entry;\n", m, m);
        any = true;
    }
    if (any)
        S("\n");
    /* Definitions, each after what it holds by value. */
    {
        decl_walk w;
        const idlc_decl *d;

        walk_init(&w, &g->ctx->root);
        while ((d = walk_next(&w)) != NULL) {
            if ((d->kind == DK_STRUCT || d->kind == DK_ERROR) && mine(g, d)) {
                dnode n;

                memset(&n, 0, sizeof n);
                n.kind = DN_STRUCT;
                n.decl = d;
                n.next = d->fields;
                define(g, &n);
            }
        }
    }
    for (size_t i = 0; i < g->n_gens; i++) {
        dnode n;

        memset(&n, 0, sizeof n);
        n.kind = DN_GENERIC;
        n.type = g->gens[i];
        define(g, &n);
        if (g->gens[i]->kind == TK_MAP) {
            n.kind = DN_ENTRY;
            n.looked = false;
            define(g, &n);
        }
    }
}

/* Visits the declarations of this file in tree order. */
typedef void (*visit_fn)(cgen *g, const idlc_decl *d);

static void
visit(cgen *g, const idlc_decl *ns, visit_fn fn)
{
    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *d = ns->items[i];

        fn(g, d);
        if (d->kind == DK_NAMESPACE)
            visit(g, d, fn);
    }
}

static void
clear_protos(cgen *g, const idlc_decl *d)
{
    if ((d->kind != DK_STRUCT && d->kind != DK_ERROR) || !mine(g, d))
        return;
    P("/* Frees what @value owns (strings, lists, ...) and zeroes it. */\n"
      "void %s_clear(%s *value);\n", d->cname, d->cname);
    S(COPY_DOC);
    P("int %s_copy(%s *dst, const %s *src);\n", d->cname, d->cname,
      d->cname);
}

/* --- header: client ------------------------------------------------------------ */

/* A name for a generated parameter that no IDL parameter uses. */
static const char *
gname(cgen *g, const idlc_decl *m, const char *base)
{
    const char *n = base;

    for (;;) {
        bool clash = false;

        for (const idlc_field *f = m != NULL ? m->fields : NULL; f != NULL;
             f = f->next)
            if (strcmp(f->name, n) == 0)
                clash = true;
        if (!clash)
            return n;
        n = idlc_printf(&g->ctx->arena, "%s_", n);
    }
}

static const char *
settings_text(cgen *g, const idlc_settings *s)
{
    const char *t = s->timeout_ms == 0 ? "no timeout"
        : idlc_printf(&g->ctx->arena, "timeout %" PRId64 " ms",
                      s->timeout_ms);

    return idlc_printf(&g->ctx->arena, "%s, %s, %s", t,
                       s->async ? "async" : "sync",
                       s->solicited ? "solicited" : "unsolicited");
}

static void
api_protos(cgen *g, const idlc_decl *d)
{
    const char *c;

    if (d->kind != DK_NAMESPACE || !mine(g, d))
        return;
    c = d->cname;
    doc_block(g, idlc_printf(&g->ctx->arena, "%s_api - namespace %s on a "
                             "peer (an epy_api; defaults: %s).", c, d->qname,
                             settings_text(g, &d->eff)), d->doc, "");
    P("typedef struct %s_api %s_api;\n\n", c, c);
    P("/*\n * %s_api_open - open namespace \"%s\" on @peer, with the IDL's\n"
      " * defaults. Release with %s_api_close().\n"
      " * Returns 0 or as epy_api_open().\n"
      " * Thread safety: any thread.\n */\n", c, d->qname, c);
    P("int %s_api_open(epy_peer *peer, %s_api **ret_api, epy_error *ret_err);"
      "\n\n", c, c);
    if (d->parent != &g->ctx->root) {
        const char *pc = d->parent->cname;

        P("/*\n * %s_api_child - open \"%s\" as the child \"%s\" of @parent:\n"
          " * it inherits the parent's defaults except those the IDL sets on\n"
          " * it. Release with %s_api_close().\n"
          " * Returns 0 or as epy_api_child().\n"
          " * Thread safety: any thread.\n */\n", c, d->qname, d->name, c);
        P("int %s_api_child(%s_api *parent, %s_api **ret_api, "
          "epy_error *ret_err);\n\n", c, pc, c);
    }
    P("/* Releases @api (NULL is accepted); returns NULL. */\n"
      "%s_api *%s_api_close(%s_api *api);\n\n", c, c, c);
    P("/*\n * %s_api_raw - the underlying epy_api (borrowed), to change\n"
      " * defaults with epy_api_set_timeout() and the like.\n */\n"
      "epy_api *%s_api_raw(%s_api *api);\n\n", c, c, c);
}

/* The IDL parameters as a C parameter list tail: ", int64_t a, ...". */
static const char *
in_params(cgen *g, const idlc_decl *m)
{
    idlc_buf b = { NULL, 0, 0 };
    const char *r;

    for (const idlc_field *f = m->fields; f != NULL; f = f->next)
        idlc_buf_printf(&b, ", %s", in_decl(g, f->type, f->name));
    r = idlc_strdup(&g->ctx->arena, b.data != NULL ? b.data : "");
    idlc_buf_free(&b);
    return r;
}

static const char *
result_param(cgen *g, const idlc_decl *m)
{
    if (m->result->kind == TK_VOID)
        return "";
    return idlc_printf(&g->ctx->arena, ", %s",
                       out_decl(g, m->result, gname(g, m, "ret_result")));
}

static void
method_protos(cgen *g, const idlc_decl *m)
{
    const char *c, *ns, *api, *err, *opts, *params, *res;

    if ((m->kind != DK_METHOD && m->kind != DK_EVENT) || !mine(g, m))
        return;
    c = m->cname;
    ns = m->parent->cname;
    api = gname(g, m, "api");
    err = gname(g, m, "ret_err");
    opts = gname(g, m, "opts");
    params = in_params(g, m);
    res = result_param(g, m);
    if (m->kind == DK_EVENT) {
        doc_block_ex(g, idlc_printf(&g->ctx->arena, "%s_send - send event "
                                    "%s.", c, m->qname), m->doc,
                     " * Returns 0 once sent, or as epy_api_send().\n"
                     " * Thread safety: any thread.\n", "");
        P("int %s_send(%s_api *%s%s, epy_error *%s);\n\n", c, ns, api, params,
          err);
        return;
    }
    {
        idlc_buf extra = { NULL, 0, 0 };
        const char *owner = NULL;

        if (m->result->kind != TK_VOID && clear_stmt(g, m->result, "x"))
            owner = m->result->kind == TK_STRING ? "free()"
                : m->result->kind == TK_BYTES ? "epy_bytes_clear()"
                : idlc_printf(&g->ctx->arena, "%s_clear()",
                              m->result->kind == TK_STRUCT
                              ? m->result->decl->cname
                              : idlc_type_mangle(g->ctx, m->result));
        if (m->result->kind != TK_VOID)
            idlc_buf_printf(&extra, " * @%s receives the result, untouched "
                            "on failure.\n", gname(g, m, "ret_result"));
        if (owner != NULL)
            idlc_buf_printf(&extra, " * The caller owns it: free it with "
                            "%s.\n", owner);
        idlc_buf_puts(&extra, " * Returns 0 or a negative EPY_E* code (see "
                      "epy_api_call()).\n");
        for (const idlc_raise *r = m->raises; r != NULL; r = r->next)
            if (r->decl != NULL)
                idlc_buf_printf(&extra, " * Raises %s: read it with "
                                "%s_get().\n", r->decl->qname,
                                r->decl->cname);
        idlc_buf_puts(&extra, " * Thread safety: any thread.\n");
        doc_block_ex(g, idlc_printf(&g->ctx->arena, "%s - call %s and wait "
                                    "for the %s (%s).", c, m->qname,
                                    m->result->kind == TK_VOID ? "answer"
                                    : "result", settings_text(g, &m->eff)),
                     m->doc, extra.data, "");
        idlc_buf_free(&extra);
    }
    P("int %s(%s_api *%s%s%s, epy_error *%s);\n\n", c, ns, api, params, res,
      err);
    P("/* %s with per-call options @%s (NULL: the defaults). */\n", c, opts);
    P("int %s_opts(%s_api *%s%s, const epy_call_opts *%s%s, "
      "epy_error *%s);\n\n", c, ns, api, params, opts, res, err);
    P("/*\n * %s_async - start %s; complete through @%s (callback or\n"
      " * semaphore) or by waiting on *@%s; read the outcome with\n"
      " * %s_result(). Release the handle with epy_async_release().\n"
      " */\n", c, m->qname, opts, gname(g, m, "ret_async"), c);
    P("int %s_async(%s_api *%s%s, const epy_call_opts *%s, "
      "epy_async **%s, epy_error *%s);\n\n", c, ns, api, params, opts,
      gname(g, m, "ret_async"), err);
    P("/*\n * %s_result - the outcome of a completed %s_async(): 0 with the\n"
      " * result (owned by the caller), EPY_EPENDING, or the call's error.\n"
      " */\n", c, c);
    P("int %s_result(epy_async *async%s, epy_error *ret_err);\n\n", c,
      m->result->kind == TK_VOID ? ""
      : idlc_printf(&g->ctx->arena, ", %s",
                    out_decl(g, m->result, "ret_result")));
    P("/*\n * %s_done_fn - completion of %s_async_cb(): @rc is 0 with\n"
      " * @result set, or the error with @err. Runs on a worker thread of\n"
      " * the peer with no epyrpc lock held. @result is freed when the\n"
      " * callback returns: to keep it, copy the value and zero the original.\n"
      " */\n", c, c);
    P("typedef void (*%s_done_fn)(int rc%s, const epy_error *err, "
      "void *ctx);\n\n", c, m->result->kind == TK_VOID ? ""
      : idlc_printf(&g->ctx->arena, ", %s", out_decl(g, m->result,
                                                      "result")));
    P("/*\n * %s_async_cb - start %s; @%s runs once when it completes\n"
      " * (never if this returns an error).\n */\n", c, m->qname,
      gname(g, m, "done"));
    P("int %s_async_cb(%s_api *%s%s, const epy_call_opts *%s, "
      "%s_done_fn %s, void *%s, epy_error *%s);\n\n", c, ns, api,
      params, opts, c, gname(g, m, "done"), gname(g, m, "ctx"), err);
    P("/* %s_send - send %s as an event: no reply, no result. */\n", c,
      m->qname);
    P("int %s_send(%s_api *%s%s, epy_error *%s);\n\n", c, ns, api, params,
      err);
}

static void
error_client_protos(cgen *g, const idlc_decl *d)
{
    if (d->kind != DK_ERROR || !mine(g, d))
        return;
    P("/*\n * %s_get - if @err carries error %s, decode its payload into\n"
      " * @ret_error (the caller then owns it: %s_clear()) and return 0;\n"
      " * EPY_ENOTFOUND if it carries another error, EPY_EPROTO if the\n"
      " * payload does not decode.\n */\n", d->cname, d->qname, d->cname);
    P("int %s_get(const epy_error *err, %s *ret_error);\n\n", d->cname,
      d->cname);
}

/* --- header: server ------------------------------------------------------------ */

static void
handler_protos(cgen *g, const idlc_decl *m)
{
    const char *c;
    const char *ctxn, *calln;

    if ((m->kind != DK_METHOD && m->kind != DK_EVENT) || !mine(g, m))
        return;
    c = m->cname;
    ctxn = gname(g, m, "ctx");
    calln = gname(g, m, "call");
    P("/*\n * %s_fn - handler of %s %s. Arguments are borrowed until it\n"
      " * returns.", c, m->kind == DK_EVENT ? "event" : "method", m->qname);
    if (m->kind == DK_METHOD)
        P(" Return 0 (with @%s set%s), a negative\n"
          " * EPY_E* code, the value of an error's _raise(), EPY_GEN_ANSWERED\n"
          " * after answering with %s_reply(), or EPY_DEFER to answer\n"
          " * later with it.\n */\n",
          m->result->kind == TK_VOID ? "nothing" : gname(g, m, "ret_result"),
          m->result->kind == TK_VOID ? "" : ": the runtime frees it", c);
    else
        S(" Return 0 or a negative EPY_E* code (which\n"
          " * goes to the listener: nobody waits for an event).\n */\n");
    P("typedef int (*%s_fn)(epy_call *%s%s%s, void *%s);\n\n", c, calln,
      in_params(g, m), result_param(g, m), ctxn);
    if (m->kind != DK_METHOD)
        return;
    P("/*\n * %s_reply - answer a deferred call of %s.\n"
      " * Returns as epy_call_reply(). Thread safety: any thread, once.\n"
      " */\n", c, m->qname);
    P("int %s_reply(epy_call *call%s);\n\n", c,
      m->result->kind == TK_VOID ? ""
      : idlc_printf(&g->ctx->arena, ", %s",
                    in_decl(g, m->result, "result")));
}

static void
table_protos(cgen *g, const idlc_decl *ns)
{
    const char *c;

    if (ns->kind != DK_NAMESPACE || ns->methods_src != g->src)
        return;
    c = ns->cname;
    P("/*\n * %s_handlers - the handlers of namespace %s. A NULL member\n"
      " * leaves its method unhandled: the listener answers it.\n */\n", c,
      ns->qname);
    P("typedef struct %s_handlers {\n", c);
    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *m = ns->items[i];

        if (m->kind == DK_METHOD || m->kind == DK_EVENT)
            P("    %s_fn %s;\n", m->cname, m->name);
    }
    P("} %s_handlers;\n\n", c);
    P("/*\n * %s_serve - serve namespace %s on @peer with @table (copied),\n"
      " * passing @ctx to every handler. Calls of methods whose handler is\n"
      " * NULL fail with EPY_EUNSUPPORTED (or go to the listener).\n"
      " * Returns 0, EPY_EEXIST (already served), EPY_EPARAM or EPY_ENOMEM.\n"
      " * Thread safety: any thread.\n */\n", c, ns->qname);
    P("int %s_serve(epy_peer *peer, const %s_handlers *table, void *ctx);\n\n",
      c, c);
    P("/* Undoes %s_serve() on @peer and frees its memory. */\n"
      "int %s_unserve(epy_peer *peer);\n\n", c, c);
}

static void
error_server_protos(cgen *g, const idlc_decl *d)
{
    if (d->kind != DK_ERROR || !mine(g, d))
        return;
    P("/*\n * %s_raise - answer @call with error %s (@error may be\n"
      " * NULL for an empty payload); a handler returns what it returns.\n"
      " */\n", d->cname, d->qname);
    P("int %s_raise(epy_call *call, const %s *error, const char *message);"
      "\n\n", d->cname, d->cname);
}

static void
desc_protos(cgen *g, const idlc_decl *d)
{
    if ((d->kind == DK_STRUCT || d->kind == DK_ERROR) && mine(g, d))
        P("extern const epy_gen_struct %s_desc;\n", d->cname);
    if (d->kind == DK_NAMESPACE && d->parent == &g->ctx->root && mine(g, d))
        P("/*\n * Interface %s: its name and fingerprint, for\n"
          " * epy_peer_config.interfaces; and its description (the\n"
          " * fingerprint's input), as pieces to concatenate, NULL last.\n"
          " */\n"
          "extern const epy_interface %s_interface;\n"
          "extern const char *const %s_interface_text[];\n", d->qname,
          d->cname, d->cname);
}

static const char *
guard_of(cgen *g)
{
    char *s = idlc_printf(&g->ctx->arena, "%s_EPY_H",
                          upper(g->ctx, idlc_file_stem(g->ctx, g->src)));

    for (char *p = s; *p != '\0'; p++)
        if (!isalnum((unsigned char) *p))
            *p = '_';
    return s;
}

static void
includes(cgen *g)
{
    idlc_map seen = { 0, 0, NULL, NULL };

    for (idlc_import *imp = g->src->imports; imp != NULL; imp = imp->next) {
        const char *ref;

        if (imp->src == NULL)
            continue;
        ref = idlc_file_ref(g->ctx, imp->src);
        if (idlc_map_put(&g->ctx->arena, &seen, ref, (void *) ref) == NULL)
            P("#include \"%s.epy.h\"\n", ref);
    }
}

static void
init_gen(cgen *g, idlc_ctx *ctx, idlc_buf *out)
{
    memset(g, 0, sizeof *g);
    g->ctx = ctx;
    g->src = ctx->sources[0];
    g->out = out;
    collect_ns(g, &ctx->root);
}

static const char *
file_name(cgen *g)
{
    const char *slash = strrchr(g->src->path, '/');

    return slash != NULL ? slash + 1 : g->src->path;
}

void
idlc_emit_header(idlc_ctx *ctx, idlc_buf *out)
{
    cgen gen, *g = &gen;
    const char *guard;
    bool copies = false;

    init_gen(g, ctx, out);
    claim_generics(g);
    guard = guard_of(g);
    P("/* Generated by idlc from %s. Do not edit. */\n", file_name(g));
    P("#ifndef %s\n#define %s\n\n#include <epyrpc/gen.h>\n", guard, guard);
    includes(g);
    S("\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    S("#if EPY_GEN_ABI != 1\n"
      "#error \"generated for another version of epyrpc: run idlc again\"\n"
      "#endif\n\n");
    header_types(g);
    visit(g, &ctx->root, clear_protos);
    S("\n");
    for (size_t i = 0; i < g->n_gens; i++)
        def_clear(g, g->gens[i]);
    S("/* --- client --- */\n\n");
    visit(g, &ctx->root, api_protos);
    visit(g, &ctx->root, method_protos);
    visit(g, &ctx->root, error_client_protos);
    S("/* --- server --- */\n\n");
    visit(g, &ctx->root, handler_protos);
    visit(g, &ctx->root, table_protos);
    visit(g, &ctx->root, error_server_protos);
    S("/* --- descriptors --- */\n\n");
    visit(g, &ctx->root, desc_protos);
    /* After the struct layouts (above) that they refer to. */
    for (size_t i = 0; i < g->n_gens; i++) {
        if (owns_memory(g->gens[i]) && !copies) {
            S("\n/* Deep copies of the generics, built on the layouts. */\n");
            copies = true;
        }
        def_copy(g, g->gens[i]);
    }
    P("\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* %s */\n", guard);
    wrap_lines(out);
}

/* --- source ------------------------------------------------------------------- */

/* Struct layouts referenced by this file's tables. */
static void
struct_type_of(cgen *g, const idlc_type *t, idlc_map *done)
{
    if (t->kind == TK_STRUCT) {
        if (idlc_map_put(&g->ctx->arena, done, t->decl->cname,
                         (void *) t) == NULL)
            P("static const epy_gen_type %s_type_ = {\n"
              "    EPY_GEN_STRUCT, sizeof(%s), NULL, NULL, &%s_desc, 0, 0\n"
              "};\n", t->decl->cname, t->decl->cname, t->decl->cname);
    } else if (idlc_is_generic(t->kind)) {
        struct_type_of(g, t->elem, done);
    }
}

static void
struct_types(cgen *g, const idlc_decl *ns, idlc_map *done)
{
    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *d = ns->items[i];

        if (d->kind == DK_NAMESPACE) {
            struct_types(g, d, done);
            continue;
        }
        if (!mine(g, d))
            continue;
        for (const idlc_field *f = d->fields; f != NULL; f = f->next)
            struct_type_of(g, f->type, done);
        if (d->result != NULL)
            struct_type_of(g, d->result, done);
    }
}

static void
generic_types(cgen *g)
{
    for (size_t i = 0; i < g->n_gens; i++) {
        const idlc_type *t = g->gens[i];
        const char *m = idlc_type_mangle(g->ctx, t);

        switch (t->kind) {
        case TK_LIST:
            P("static const epy_gen_type %s_type_ = {\n"
              "    EPY_GEN_LIST, sizeof(%s), %s, NULL, NULL, 0, 0\n};\n", m, m,
              tref(g, t->elem));
            break;
        case TK_OPTIONAL:
            P("static const epy_gen_type %s_type_ = {\n"
              "    EPY_GEN_OPTIONAL, sizeof(%s), %s, NULL, NULL,\n"
              "    offsetof(%s, value), 0\n};\n", m, m, tref(g, t->elem), m);
            break;
        case TK_MAP:
            P("static const epy_gen_type %s_type_ = {\n"
              "    EPY_GEN_MAP, sizeof(%s), %s, %s, NULL,\n"
              "    offsetof(%s_entry, value), sizeof(%s_entry)\n};\n", m, m,
              tref(g, t->elem), tref(g, t->key), m, m);
            break;
        default:
            break;
        }
    }
}

/* A struct layout table: @ctype is the C struct, @fields its members. */
static void
layout(cgen *g, const char *var, bool is_static, const char *idlname,
       const char *pb, const char *cty, const idlc_field *fields)
{
    size_t n = 0;

    for (const idlc_field *f = fields; f != NULL; f = f->next)
        n++;
    if (n > 0) {
        P("static const epy_gen_field %s_fields_[] = {\n", var);
        for (const idlc_field *f = fields; f != NULL; f = f->next)
            P("    { %u, offsetof(%s, %s), %s },\n", (unsigned) f->number,
              cty, f->name, tref(g, f->type));
        S("};\n");
    }
    P("%sconst epy_gen_struct %s = {\n    \"%s\", &%s,\n    %s, %u, %s\n};\n\n",
      is_static ? "static " : "", var, idlname, pb,
      cty != NULL ? idlc_printf(&g->ctx->arena, "sizeof(%s)", cty) : "0",
      (unsigned) n, n > 0 ? idlc_printf(&g->ctx->arena, "%s_fields_", var)
      : "NULL");
}

static void
src_layouts(cgen *g, const idlc_decl *d)
{
    idlc_ctx *ctx = g->ctx;

    if (!mine(g, d))
        return;
    switch (d->kind) {
    case DK_STRUCT:
    case DK_ERROR:
        layout(g, idlc_printf(&ctx->arena, "%s_desc", d->cname), false,
               d->qname, pbdesc(g, d->src, d->cname), d->cname, d->fields);
        break;
    case DK_METHOD:
    case DK_EVENT: {
        const char *args = idlc_printf(&ctx->arena, "struct %s_args_",
                                       d->cname);

        if (d->fields != NULL) {
            P("/* The arguments of %s. */\n%s {\n", d->qname, args);
            for (const idlc_field *f = d->fields; f != NULL; f = f->next)
                P("    %s;\n", member_decl(g, f->type, f->name));
            S("};\n");
        }
        layout(g, idlc_printf(&ctx->arena, "%s_args_desc_", d->cname), true,
               d->qname, pbdesc(g, d->src, idlc_printf(&ctx->arena,
                                                       "%s_args", d->cname)),
               d->fields != NULL ? args : NULL, d->fields);
        if (d->result->kind != TK_VOID) {
            P("static const epy_gen_field %s_result_desc_fields_[] = {\n"
              "    { 1, 0, %s },\n};\n", d->cname, tref(g, d->result));
            P("static const epy_gen_struct %s_result_desc_ = {\n"
              "    \"%s\", &%s,\n    sizeof(%s), 1, %s_result_desc_fields_"
              "\n};\n\n", d->cname, d->qname,
              pbdesc(g, d->src, idlc_printf(&ctx->arena, "%s_result",
                                            d->cname)),
              ctype(g, d->result), d->cname);
        }
        break;
    }
    default:
        break;
    }
}

static void
src_clears(cgen *g, const idlc_decl *d)
{
    if ((d->kind != DK_STRUCT && d->kind != DK_ERROR) || !mine(g, d))
        return;
    P("void\n%s_clear(%s *value)\n{\n    epy_gen_clear(&%s_desc, value);\n"
      "}\n\n", d->cname, d->cname, d->cname);
    P("int\n%s_copy(%s *dst, const %s *src)\n{\n"
      "    return epy_gen_copy(&%s_desc, dst, src);\n}\n\n", d->cname,
      d->cname, d->cname, d->cname);
}

static void
src_apis(cgen *g, const idlc_decl *d)
{
    const char *c;
    const idlc_settings *eff, *own;

    if (d->kind != DK_NAMESPACE || !mine(g, d))
        return;
    c = d->cname;
    eff = &d->eff;
    own = &d->settings;
    P("int\n%s_api_open(epy_peer *peer, %s_api **ret_api, "
      "epy_error *ret_err)\n{\n"
      "    epy_api *raw;\n    int rc = epy_api_open(peer, \"%s\", &raw, "
      "ret_err);\n\n"
      "    if (rc < 0)\n        return rc;\n"
      "    rc = epy_gen_apply(raw, %" PRId64 ", %d, %d);\n"
      "    if (rc < 0) {\n        epy_api_close(raw);\n"
      "        return epy_error_set(ret_err, rc, \"%s: cannot apply the "
      "IDL defaults\");\n    }\n"
      "    *ret_api = (%s_api *) raw;\n    return 0;\n}\n\n", c, c, d->qname,
      eff->timeout_ms, eff->solicited, eff->async, d->qname, c);
    if (d->parent != &g->ctx->root)
        P("int\n%s_api_child(%s_api *parent, %s_api **ret_api, "
          "epy_error *ret_err)\n{\n"
          "    epy_api *raw;\n    int rc = epy_api_child(%s_api_raw(parent), "
          "\"%s\", &raw, ret_err);\n\n"
          "    if (rc < 0)\n        return rc;\n"
          "    rc = epy_gen_apply(raw, %" PRId64 ", %d, %d);\n"
          "    if (rc < 0) {\n        epy_api_close(raw);\n"
          "        return epy_error_set(ret_err, rc, \"%s: cannot apply the "
          "IDL defaults\");\n    }\n"
          "    *ret_api = (%s_api *) raw;\n    return 0;\n}\n\n", c,
          d->parent->cname, c, d->parent->cname, d->name,
          own->timeout_ms >= 0 ? own->timeout_ms : -1, own->solicited,
          own->async, d->qname, c);
    P("%s_api *\n%s_api_close(%s_api *api)\n{\n"
      "    epy_api_close((epy_api *) api);\n    return NULL;\n}\n\n", c, c, c);
    P("epy_api *\n%s_api_raw(%s_api *api)\n{\n    return (epy_api *) api;\n"
      "}\n\n", c, c);
}

/* The statements filling `args` from the parameters. */
static void
fill_args(cgen *g, const idlc_decl *m, const char *args, const char *err)
{
    for (const idlc_field *f = m->fields; f != NULL; f = f->next) {
        if (by_value(f->type))
            P("    %s.%s = %s;\n", args, f->name, f->name);
        else if (f->type->kind == TK_STRING)
            P("    %s.%s = (char *) %s;    /* read, never written */\n", args,
              f->name, f->name);
        else
            P("    if (%s == NULL)\n        return epy_error_set(%s, "
              "EPY_EPARAM, \"%s: NULL %s\");\n    %s.%s = *%s;\n", f->name,
              err, m->qname, f->name, args, f->name, f->name);
    }
}

static const char *
arg_names(cgen *g, const idlc_decl *m)
{
    idlc_buf b = { NULL, 0, 0 };
    const char *r;

    for (const idlc_field *f = m->fields; f != NULL; f = f->next)
        idlc_buf_printf(&b, ", %s", f->name);
    r = idlc_strdup(&g->ctx->arena, b.data != NULL ? b.data : "");
    idlc_buf_free(&b);
    return r;
}

static void
src_stubs(cgen *g, const idlc_decl *m)
{
    idlc_ctx *ctx = g->ctx;
    const char *c, *ns, *api, *err, *opts, *params, *res, *args, *argp;
    const char *merged, *ret, *asyncn, *done, *ctxn;
    bool own = m->settings.timeout_ms >= 0 || m->settings.solicited >= 0;

    if ((m->kind != DK_METHOD && m->kind != DK_EVENT) || !mine(g, m))
        return;
    c = m->cname;
    ns = m->parent->cname;
    api = gname(g, m, "api");
    err = gname(g, m, "ret_err");
    opts = gname(g, m, "opts");
    args = gname(g, m, "args");
    merged = gname(g, m, "merged");
    ret = gname(g, m, "ret_result");
    asyncn = gname(g, m, "ret_async");
    done = gname(g, m, "done");
    ctxn = gname(g, m, "ctx");
    params = in_params(g, m);
    res = result_param(g, m);
    argp = m->fields != NULL ? idlc_printf(&ctx->arena, "&%s", args) : "NULL";

    /* _send */
    P("int\n%s_send(%s_api *%s%s, epy_error *%s)\n{\n", c, ns, api, params,
      err);
    if (m->fields != NULL)
        P("    struct %s_args_ %s;\n\n", c, args);
    fill_args(g, m, args, err);
    P("    return epy_gen_send(%s_api_raw(%s), \"%s\", &%s_args_desc_, %s, "
      "%s);\n}\n\n", ns, api, m->name, c, argp, err);
    if (m->kind == DK_EVENT)
        return;

    /* sync */
    P("int\n%s(%s_api *%s%s%s, epy_error *%s)\n{\n"
      "    return %s_opts(%s%s, NULL%s, %s);\n}\n\n", c, ns, api, params, res,
      err, c, api, arg_names(g, m), m->result->kind == TK_VOID ? ""
      : idlc_printf(&ctx->arena, ", %s", ret), err);
    /* options */
    P("int\n%s_opts(%s_api *%s%s, const epy_call_opts *%s%s, "
      "epy_error *%s)\n{\n", c, ns, api, params, opts, res, err);
    if (m->fields != NULL)
        P("    struct %s_args_ %s;\n", c, args);
    if (own)
        P("    epy_call_opts %s;\n", merged);
    S("\n");
    fill_args(g, m, args, err);
    if (own)
        P("    %s = epy_gen_opts(%s, %" PRId64 ", %d, &%s);\n", opts, opts,
          m->settings.timeout_ms, m->settings.solicited, merged);
    P("    return epy_gen_call(%s_api_raw(%s), \"%s\", &%s_args_desc_, %s, "
      "%s, %s, %s, %s);\n}\n\n", ns, api, m->name, c,
      argp, opts, m->result->kind == TK_VOID ? "NULL"
      : idlc_printf(&ctx->arena, "&%s_result_desc_", c),
      m->result->kind == TK_VOID ? "NULL" : ret, err);
    /* async */
    P("int\n%s_async(%s_api *%s%s, const epy_call_opts *%s, "
      "epy_async **%s, epy_error *%s)\n{\n", c, ns, api, params, opts,
      asyncn, err);
    if (m->fields != NULL)
        P("    struct %s_args_ %s;\n", c, args);
    if (own)
        P("    epy_call_opts %s;\n", merged);
    S("\n");
    fill_args(g, m, args, err);
    if (own)
        P("    %s = epy_gen_opts(%s, %" PRId64 ", %d, &%s);\n", opts, opts,
          m->settings.timeout_ms, m->settings.solicited, merged);
    P("    return epy_gen_call_async(%s_api_raw(%s), \"%s\", &%s_args_desc_,"
      "\n                              %s, %s, %s, %s);\n}\n\n", ns, api,
      m->name, c, argp, opts, asyncn, err);
    /* typed result */
    if (m->result->kind == TK_VOID)
        P("int\n%s_result(epy_async *async, epy_error *ret_err)\n{\n"
          "    return epy_gen_result(async, NULL, NULL, ret_err);\n}\n\n", c);
    else
        P("int\n%s_result(epy_async *async, %s, epy_error *ret_err)\n{\n"
          "    return epy_gen_result(async, &%s_result_desc_, ret_result, "
          "ret_err);\n}\n\n", c, out_decl(g, m->result, "ret_result"), c);
    /* typed callback */
    P("/* The typed callback of %s_async_cb() and its context. */\n"
      "struct %s_closure_ {\n    %s_done_fn done;\n    void *ctx;\n};\n\n",
      c, c, c);
    P("static void\n%s_complete_(epy_async *async, void *arg)\n{\n"
      "    struct %s_closure_ closure;\n"
      "    epy_error err = EPY_ERROR_INIT;\n", c, c);
    if (m->result->kind != TK_VOID)
        P("    %s;\n", member_decl(g, m->result, "result"));
    S("    int rc;\n\n    memcpy(&closure, arg, sizeof closure);\n"
      "    epy_gen_free(arg);\n");
    if (m->result->kind != TK_VOID) {
        S("    memset(&result, 0, sizeof result);\n");
        P("    rc = %s_result(async, &result, &err);\n"
          "    closure.done(rc, rc == 0 ? &result : NULL, rc < 0 ? &err : NULL,"
          "\n                 closure.ctx);\n"
          "    if (rc == 0)\n"
          "        epy_gen_clear(&%s_result_desc_, &result);\n", c, c);
    } else {
        P("    rc = %s_result(async, &err);\n"
          "    closure.done(rc, rc < 0 ? &err : NULL, closure.ctx);\n", c);
    }
    S("    epy_error_clear(&err);\n}\n\n");
    P("int\n%s_async_cb(%s_api *%s%s, const epy_call_opts *%s, "
      "%s_done_fn %s, void *%s, epy_error *%s)\n{\n", c, ns, api,
      params, opts, c, done, ctxn, err);
    if (m->fields != NULL)
        P("    struct %s_args_ %s;\n", c, args);
    {
        const char *cl = gname(g, m, "closure");
        const char *rc = gname(g, m, "rc");

        P("    struct %s_closure_ *%s;\n    epy_call_opts %s;\n    int %s;\n\n",
          c, cl, merged, rc);
        fill_args(g, m, args, err);
        P("    if (%s == NULL)\n        return epy_error_set(%s, EPY_EPARAM, "
          "\"%s: NULL callback\");\n", done, err, m->qname);
        P("    epy_gen_opts(%s, %" PRId64 ", %d, &%s);\n", opts,
          m->settings.timeout_ms >= 0 ? m->settings.timeout_ms : -1,
          m->settings.solicited, merged);
        P("    if (%s.solicited == 0)    /* an event: nothing to complete */\n"
          "        return epy_gen_send(%s_api_raw(%s), \"%s\", &%s_args_desc_, "
          "%s, %s);\n", merged, ns, api, m->name, c, argp, err);
        P("    %s.solicited = 1;\n", merged);
        P("    %s = epy_gen_alloc(sizeof *%s);\n"
          "    if (%s == NULL)\n"
          "        return epy_error_set(%s, EPY_ENOMEM, NULL);\n"
          "    %s->done = %s;\n    %s->ctx = %s;\n"
          "    %s.callback = %s_complete_;\n    %s.callback_ctx = %s;\n"
          "    %s.sem = NULL;\n", cl, cl, cl, err, cl, done, cl, ctxn, merged,
          c, merged, cl, merged);
        P("    %s = epy_gen_call_async(%s_api_raw(%s), \"%s\", &%s_args_desc_, "
          "%s, &%s, NULL, %s);\n", rc, ns, api, m->name, c, argp, merged, err);
        P("    if (%s < 0)\n        epy_gen_free(%s);\n    return %s;\n}\n\n",
          rc, cl, rc);
    }

}

static void
src_handlers(cgen *g, const idlc_decl *m)
{
    const char *c;

    if ((m->kind != DK_METHOD && m->kind != DK_EVENT) || !mine(g, m))
        return;
    c = m->cname;
    P("static int\n%s_handle_(epy_call *call, const uint8_t *req, "
      "size_t req_len,\n        void *arg)\n{\n"
      "    const struct %s_server_ *srv = arg;\n", c, m->parent->cname);
    if (m->fields != NULL)
        P("    struct %s_args_ args;\n", c);
    if (m->result->kind != TK_VOID)
        P("    %s;\n", member_decl(g, m->result, "result"));
    S("    int rc;\n\n");
    P("    rc = epy_gen_decode(&%s_args_desc_, req, req_len, %s);\n"
      "    if (rc < 0)\n        return rc;\n", c,
      m->fields != NULL ? "&args" : "NULL");
    if (m->result->kind != TK_VOID)
        S("    memset(&result, 0, sizeof result);\n");
    P("    rc = srv->table.%s(call", m->name);
    for (const idlc_field *f = m->fields; f != NULL; f = f->next)
        P(", %sargs.%s", by_value(f->type) || f->type->kind == TK_STRING
          ? "" : "&", f->name);
    P("%s, srv->ctx);\n", m->result->kind == TK_VOID ? "" : ", &result");
    if (m->fields != NULL)
        P("    epy_gen_clear(&%s_args_desc_, &args);\n", c);
    if (m->result->kind == TK_VOID)
        S("    return epy_gen_finish(call, rc, NULL, NULL);\n}\n\n");
    else
        P("    return epy_gen_finish(call, rc, &%s_result_desc_, &result);\n"
          "}\n\n", c);
    if (m->kind != DK_METHOD)
        return;
    if (m->result->kind == TK_VOID) {
        P("int\n%s_reply(epy_call *call)\n{\n"
          "    return epy_gen_reply(call, NULL, NULL);\n}\n\n", c);
    } else if (m->result->kind == TK_STRING) {
        P("int\n%s_reply(epy_call *call, const char *result)\n{\n"
          "    char *value = (char *) result;    /* read, never written */\n\n"
          "    return epy_gen_reply(call, &%s_result_desc_, &value);\n}\n\n",
          c, c);
    } else {
        P("int\n%s_reply(epy_call *call, %s)\n{\n"
          "    return epy_gen_reply(call, &%s_result_desc_, %sresult);\n"
          "}\n\n", c, in_decl(g, m->result, "result"), c,
          by_value(m->result) ? "&" : "");
    }
}

static void
src_tables(cgen *g, const idlc_decl *ns)
{
    const char *c;
    size_t n = 0, i = 0;

    if (ns->kind != DK_NAMESPACE || ns->methods_src != g->src)
        return;
    c = ns->cname;
    for (size_t k = 0; k < ns->n_items; k++)
        if (ns->items[k]->kind == DK_METHOD || ns->items[k]->kind == DK_EVENT)
            n++;
    P("int\n%s_serve(epy_peer *peer, const %s_handlers *table, void *ctx)\n"
      "{\n    struct %s_server_ *srv;\n    epy_gen_handler h[%zu];\n\n"
      "    if (peer == NULL || table == NULL)\n        return EPY_EPARAM;\n"
      "    srv = epy_gen_alloc(sizeof *srv);\n"
      "    if (srv == NULL)\n        return EPY_ENOMEM;\n"
      "    srv->table = *table;\n    srv->ctx = ctx;\n", c, c, c, n);
    for (size_t k = 0; k < ns->n_items; k++) {
        const idlc_decl *m = ns->items[k];

        if (m->kind != DK_METHOD && m->kind != DK_EVENT)
            continue;
        P("    h[%zu].method = \"%s\";\n"
          "    h[%zu].fn = table->%s != NULL ? %s_handle_ : NULL;\n", i,
          m->name, i, m->name, m->cname);
        i++;
    }
    P("    return epy_gen_serve(peer, \"%s\", h, %zu, srv);\n}\n\n", ns->qname,
      n);
    P("int\n%s_unserve(epy_peer *peer)\n{\n"
      "    return epy_gen_unserve(peer, \"%s\");\n}\n\n", c, ns->qname);
}

static void
src_servers(cgen *g, const idlc_decl *ns)
{
    if (ns->kind != DK_NAMESPACE || ns->methods_src != g->src)
        return;
    P("/* What %s_serve() registers as the handlers' context. */\n"
      "struct %s_server_ {\n    %s_handlers table;\n    void *ctx;\n};\n\n",
      ns->cname, ns->cname, ns->cname);
}

static void
src_errors(cgen *g, const idlc_decl *d)
{
    if (d->kind != DK_ERROR || !mine(g, d))
        return;
    P("int\n%s_get(const epy_error *err, %s *ret_error)\n{\n"
      "    return epy_gen_error_get(err, \"%s\", &%s_desc, ret_error);\n}\n\n",
      d->cname, d->cname, d->qname, d->cname);
    P("int\n%s_raise(epy_call *call, const %s *error, const char *message)\n"
      "{\n    return epy_gen_raise(call, \"%s\", &%s_desc, error, message);\n"
      "}\n\n", d->cname, d->cname, d->qname, d->cname);
}

/* --- interface descriptions ---------------------------------------------------- */

static void
describe_fields(const idlc_field *f, idlc_buf *out)
{
    for (; f != NULL; f = f->next) {
        idlc_buf_printf(out, "%s%s:", f == NULL ? "" : " ", f->name);
        idlc_describe_type(f->type, out);
        idlc_buf_printf(out, "=%u", (unsigned) f->number);
    }
}

void
idlc_describe_ns(idlc_ctx *ctx, const idlc_decl *ns, idlc_buf *out)
{
    idlc_buf_printf(out, "namespace %s\n", ns->qname);
    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *d = ns->items[i];

        switch (d->kind) {
        case DK_NAMESPACE:
            idlc_describe_ns(ctx, d, out);
            break;
        case DK_ENUM:
            idlc_buf_printf(out, "enum %s", d->qname);
            for (const idlc_enumval *v = d->values; v != NULL; v = v->next)
                idlc_buf_printf(out, " %s=%" PRId64, v->name, v->value);
            idlc_buf_puts(out, "\n");
            break;
        case DK_STRUCT:
        case DK_ERROR:
            idlc_buf_printf(out, "%s %s", d->kind == DK_STRUCT ? "struct"
                            : "error", d->qname);
            describe_fields(d->fields, out);
            idlc_buf_puts(out, "\n");
            break;
        case DK_METHOD:
        case DK_EVENT:
            idlc_buf_printf(out, "%s %s(", d->kind == DK_METHOD ? "method"
                            : "event", d->qname);
            describe_fields(d->fields, out);
            idlc_buf_puts(out, " )");
            if (d->kind == DK_METHOD) {
                idlc_buf_puts(out, " -> ");
                idlc_describe_type(d->result, out);
            }
            for (const idlc_raise *r = d->raises; r != NULL; r = r->next)
                idlc_buf_printf(out, " raises %s", r->decl != NULL
                                ? r->decl->qname : r->name);
            idlc_buf_puts(out, "\n");
            break;
        }
    }
}

static void
src_interface(cgen *g, const idlc_decl *d)
{
    idlc_buf text = { NULL, 0, 0 };
    uint64_t h1, h2;

    if (d->kind != DK_NAMESPACE || d->parent != &g->ctx->root || !mine(g, d))
        return;
    idlc_describe_ns(g->ctx, d, &text);
    h1 = idlc_fnv1a(text.data, text.len, UINT64_C(0xcbf29ce484222325));
    h2 = idlc_fnv1a(text.data, text.len, UINT64_C(0x84222325cbf29ce4));
    /* Pieces of at most 2000 characters: C compilers need not accept
     * longer strings. */
    P("const char *const %s_interface_text[] = {\n", d->cname);
    for (const char *p = text.data; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t) (nl - p) : strlen(p);
        bool end = true;

        if (n > 2000) {
            n = 2000;
            end = false;
        }
        P("    \"%.*s%s\",\n", (int) n, p, end ? "\\n" : "");
        p += n + (end && nl != NULL);
    }
    S("    NULL\n};\n\n");
    P("const epy_interface %s_interface = {\n"
      "    \"%s\", \"%016" PRIx64 "%016" PRIx64 "\"\n};\n\n", d->cname,
      d->qname, h1, h2);
    idlc_buf_free(&text);
}

static void
enum_asserts(cgen *g, const idlc_decl *d)
{
    if (d->kind == DK_ENUM && mine(g, d))
        P("_Static_assert(sizeof(%s) == sizeof(int), \"enums are int-sized\");"
          "\n", d->cname);
}

void
idlc_emit_source(idlc_ctx *ctx, idlc_buf *out)
{
    cgen gen, *g = &gen;
    idlc_map done = { 0, 0, NULL, NULL };
    const char *stem;

    init_gen(g, ctx, out);
    stem = idlc_file_stem(ctx, g->src);
    P("/* Generated by idlc from %s. Do not edit. */\n", file_name(g));
    P("#include <stddef.h>\n#include <string.h>\n\n"
      "#include \"%s.epy.h\"\n#include \"%s.pb-c.h\"\n\n", stem, stem);
    visit(g, &ctx->root, enum_asserts);
    S("\n/* --- layouts --- */\n\n");
    struct_types(g, &ctx->root, &done);
    generic_types(g);
    S("\n");
    visit(g, &ctx->root, src_layouts);
    visit(g, &ctx->root, src_clears);
    S("/* --- client --- */\n\n");
    visit(g, &ctx->root, src_apis);
    visit(g, &ctx->root, src_stubs);
    visit(g, &ctx->root, src_errors);
    S("/* --- server --- */\n\n");
    visit(g, &ctx->root, src_servers);
    visit(g, &ctx->root, src_handlers);
    visit(g, &ctx->root, src_tables);
    S("/* --- descriptors --- */\n\n");
    visit(g, &ctx->root, src_interface);
    while (out->len > 1 && out->data[out->len - 1] == '\n'
           && out->data[out->len - 2] == '\n')
        out->data[--out->len] = '\0';
    wrap_lines(out);
}
