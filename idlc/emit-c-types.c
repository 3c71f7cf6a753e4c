/*
 * idlc: the types of the C header, file.epy.h: structs, enums, the
 * generic containers, and their _clear and _copy functions, in the order
 * their definitions need. See emit-c-header.c.
 */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "emit-c-int.h"

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
          cg_out_decl(g, t->elem, "items"));
        break;
    case TK_OPTIONAL:
        P("/* %s: @value is set when @has is true. */\n", d.data);
        P("struct %s {\n    bool has;\n    %s;\n};\n", m,
          cg_member_decl(g, t->elem, "value"));
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
      cg_member_decl(g, t->key, "key"), cg_member_decl(g, t->elem, "value"));
}

static void
write_struct(cgen *g, const idlc_decl *d)
{
    cg_doc_block(g, idlc_printf(&g->ctx->arena, "%s - %s %s.", d->cname,
                             d->kind == DK_ERROR ? "error" : "struct",
                             d->qname), d->doc, "");
    P("struct %s {\n", d->cname);
    if (d->fields == NULL)
        S("    char epy_unused;    /* C needs a member */\n");
    for (const idlc_field *f = d->fields; f != NULL; f = f->next) {
        if (f->doc != NULL) {
            S("    /*\n");
            cg_doc_lines(g, f->doc, "    ");
            S("     */\n");
        }
        P("    %s;\n", cg_member_decl(g, f->type, f->name));
    }
    S("};\n\n");
}

/*
 * Type definitions in C order: each after the types it holds by value.
 * A node is a struct of this file, a generic, or a map's entry; the walk
 * keeps its own stack, as chains of structs may be long.
 */

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
    if (t->kind == TK_STRUCT && cg_mine(g, t->decl)) {
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

void
cg_define(cgen *g, const dnode *root)
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
const char *
cg_clear_stmt(cgen *g, const idlc_type *t, const char *x)
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

static const char *copy_table(cgen *g, const idlc_type *t, int depth);
static void init_items(cgen *g, const char *const *items, size_t n,
                       size_t indent);

/*
 * The layout of a one-field struct holding the generic @t, as locals
 * epy_field and epy_st: for epy_gen_copy() and epy_gen_clear().
 */
static void
holder_layout(cgen *g, const idlc_type *t)
{
    const char *m = idlc_type_mangle(g->ctx, t);
    const char *st[5];

    P("    static const epy_gen_field epy_field = { 1, 0, %s };\n",
      copy_table(g, t, 0));
    S("    static const epy_gen_struct epy_st = {\n");
    st[0] = idlc_printf(&g->ctx->arena, "\"%s\"", m);
    st[1] = "NULL";
    st[2] = idlc_printf(&g->ctx->arena, "sizeof(%s)", m);
    st[3] = "1";
    st[4] = "&epy_field";
    init_items(g, st, 5, 8);
    S("    };\n\n");
}

void
cg_def_clear(cgen *g, const idlc_type *t)
{
    const char *m = idlc_type_mangle(g->ctx, t);
    const char *e, *k;

    P("#ifndef EPY_GEN_CLEAR_%s\n#define EPY_GEN_CLEAR_%s\n", m, m);
    P("/* Frees what @v owns%s and empties it. */\n"
      "static inline void\n%s_clear(%s *v)\n{\n",
      t->elem->kind == TK_FD ? " (closes its descriptors)" : "", m, m);
    if (t->elem->kind == TK_FD) {
        /* The runtime closes descriptors: its clear, on the layout. */
        holder_layout(g, t);
        S("    epy_gen_clear(&epy_st, v);\n}\n#endif\n\n");
        return;
    }
    switch (t->kind) {
    case TK_LIST:
        e = cg_clear_stmt(g, t->elem, "v->items[i]");
        if (e != NULL)
            P("    for (size_t i = 0; i < v->n; i++)\n        %s\n", e);
        S("    epy_gen_free(v->items);\n    v->items = NULL;\n"
          "    v->n = 0;\n");
        break;
    case TK_MAP:
        k = cg_clear_stmt(g, t->key, "v->items[i].key");
        e = cg_clear_stmt(g, t->elem, "v->items[i].value");
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
        e = cg_clear_stmt(g, t->elem, "v->value");
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
        return cg_tref(g, t);
    }
    items[1] = idlc_printf(a, "sizeof(%s)", m);
    items[3] = t->kind == TK_MAP ? cg_tref(g, t->key) : "NULL";
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
void
cg_def_copy(cgen *g, const idlc_type *t)
{
    const char *m = idlc_type_mangle(g->ctx, t);

    if (!cg_owns_memory(t))
        return;
    P("\n#ifndef EPY_GEN_COPY_%s\n#define EPY_GEN_COPY_%s\n", m, m);
    S(COPY_DOC);
    P("static inline int\n%s_copy(%s *dst, const %s *src)\n{\n", m, m, m);
    holder_layout(g, t);
    S("    return epy_gen_copy(&epy_st, dst, src);\n}\n#endif\n");
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

void
cg_header_types(cgen *g)
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
            if (d->kind != DK_ENUM || !cg_mine(g, d))
                continue;
            cg_doc_block(g, idlc_printf(&g->ctx->arena, "%s - enum %s.",
                                     d->cname, d->qname), d->doc, "");
            P("typedef enum %s {\n", d->cname);
            for (const idlc_enumval *v = d->values; v != NULL; v = v->next) {
                if (v->doc != NULL) {
                    S("    /*\n");
                    cg_doc_lines(g, v->doc, "    ");
                    S("     */\n");
                }
                P("    %s_%s = %" PRId64 "%s\n", cg_upper(g->ctx, d->cname),
                  cg_upper(g->ctx, v->name), v->value,
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
            if ((d->kind == DK_STRUCT || d->kind == DK_ERROR)
                && cg_mine(g, d)) {
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
            if ((d->kind == DK_STRUCT || d->kind == DK_ERROR)
                && cg_mine(g, d)) {
                dnode n;

                memset(&n, 0, sizeof n);
                n.kind = DN_STRUCT;
                n.decl = d;
                n.next = d->fields;
                cg_define(g, &n);
            }
        }
    }
    for (size_t i = 0; i < g->n_gens; i++) {
        dnode n;

        memset(&n, 0, sizeof n);
        n.kind = DN_GENERIC;
        n.type = g->gens[i];
        cg_define(g, &n);
        if (g->gens[i]->kind == TK_MAP) {
            n.kind = DN_ENTRY;
            n.looked = false;
            cg_define(g, &n);
        }
    }
}

/* Visits the declarations of this file in tree order. */

void
cg_visit(cgen *g, const idlc_decl *ns, visit_fn fn)
{
    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *d = ns->items[i];

        fn(g, d);
        if (d->kind == DK_NAMESPACE)
            cg_visit(g, d, fn);
    }
}

/* True if a value of @t holds an fd itself (not in a struct). */
static bool
holds_fd(const idlc_type *t)
{
    while (idlc_is_generic(t->kind))
        t = t->elem;
    return t->kind == TK_FD;
}

void
cg_clear_protos(cgen *g, const idlc_decl *d)
{
    bool fds = false;

    if ((d->kind != DK_STRUCT && d->kind != DK_ERROR) || !cg_mine(g, d))
        return;
    for (const idlc_field *f = d->fields; f != NULL; f = f->next)
        fds = fds || holds_fd(f->type);
    if (fds)
        S("/*\n * Frees what @value owns (strings, lists, ...), closes its "
          "descriptors\n * and zeroes it.\n */\n");
    else
        S("/* Frees what @value owns (strings, lists, ...) and zeroes it. "
          "*/\n");
    P("void %s_clear(%s *value);\n", d->cname, d->cname);
    S(COPY_DOC);
    P("int %s_copy(%s *dst, const %s *src);\n", d->cname, d->cname,
      d->cname);
}
