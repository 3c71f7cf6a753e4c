/*
 * idlc: the .proto generator (proto2 syntax). One message per struct,
 * error, method arguments and method result; one enum per enum; and the
 * wrapper messages protobuf needs for nested generics:
 *
 *   list<T>      repeated T            optional<T>  optional T
 *   fd           uint32: 0 none, k the frame's k-th descriptor
 *   map<K,V>     repeated NAME_entry { optional K key = 1; V value = 2; }
 *   a generic used as an element (list<list<T>>): a message NAME with
 *   the generic as its single field `value = 1`.
 *
 * Message names are the C names of what they carry (calc_point,
 * calc_add_args, calc_add_result, epy_int64_list), so they are unique by
 * the same rule that makes C names unique.
 */
#include <config.h>

#include <string.h>

#include "idlc-int.h"

/* --- names shared with the C generator ------------------------------------ */

bool
idlc_type_has_user(const idlc_type *t)
{
    switch (t->kind) {
    case TK_ENUM:
    case TK_STRUCT:
        return true;
    case TK_LIST:
    case TK_OPTIONAL:
        return idlc_type_has_user(t->elem);
    case TK_MAP:
        return idlc_type_has_user(t->elem);
    default:
        return false;
    }
}

static void
mangle(const idlc_type *t, idlc_buf *b)
{
    switch (t->kind) {
    case TK_ENUM:
    case TK_STRUCT:
        idlc_buf_puts(b, t->decl->cname);
        break;
    case TK_LIST:
        mangle(t->elem, b);
        idlc_buf_puts(b, "_list");
        break;
    case TK_OPTIONAL:
        mangle(t->elem, b);
        idlc_buf_puts(b, "_opt");
        break;
    case TK_MAP:
        mangle(t->elem, b);
        idlc_buf_printf(b, "_%s_map", idlc_tkind_name(t->key->kind));
        break;
    default:
        idlc_buf_puts(b, idlc_tkind_name(t->kind));
        break;
    }
}

/* The C (and message) name of a generic: calc_point_list, epy_int64_list. */
const char *
idlc_type_mangle(idlc_ctx *ctx, const idlc_type *t)
{
    idlc_buf b = { NULL, 0, 0 };
    const char *r;

    if (!idlc_type_has_user(t))
        idlc_buf_puts(&b, "epy_");
    mangle(t, &b);
    r = idlc_strdup(&ctx->arena, b.data);
    idlc_buf_free(&b);
    return r;
}

void
idlc_describe_type(const idlc_type *t, idlc_buf *out)
{
    switch (t->kind) {
    case TK_ENUM:
    case TK_STRUCT:
        idlc_buf_puts(out, t->decl->qname);
        break;
    case TK_LIST:
    case TK_OPTIONAL:
        idlc_buf_printf(out, "%s<", t->kind == TK_LIST ? "list" : "optional");
        idlc_describe_type(t->elem, out);
        idlc_buf_puts(out, ">");
        break;
    case TK_MAP:
        idlc_buf_printf(out, "map<%s,", idlc_tkind_name(t->key->kind));
        idlc_describe_type(t->elem, out);
        idlc_buf_puts(out, ">");
        break;
    default:
        idlc_buf_puts(out, idlc_tkind_name(t->kind));
        break;
    }
}

/* --- the generator ------------------------------------------------------------ */

typedef struct pgen {
    idlc_ctx *ctx;
    const idlc_source *src;
    const char *pkg;
    idlc_buf *out;
    idlc_buf wrappers;
    idlc_map wrapped;            /* message names of wrappers written */
    idlc_map camel;              /* protoc-c type name -> proto name */
    bool check;                  /* report name clashes (main file) */
} pgen;

static bool
is_packable(idlc_tkind k)
{
    return k != TK_STRING && k != TK_BYTES && idlc_is_scalar(k);
}

/* protoc-c's C type name part for a proto name: calc_point -> CalcPoint. */
static char *
camel(idlc_ctx *ctx, const char *name)
{
    char *r = idlc_strdup(&ctx->arena, name);
    char *w = r;
    bool up = true;

    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        *w++ = up && *p >= 'a' && *p <= 'z' ? (char) (*p - 'a' + 'A') : *p;
        up = false;
    }
    *w = '\0';
    return r;
}

static void
claim_message(pgen *g, const char *name, idlc_loc loc)
{
    const char *c;
    const char *prev;

    if (!g->check)
        return;
    c = camel(g->ctx, name);
    prev = idlc_map_put(&g->ctx->arena, &g->camel, c, (void *) name);
    if (prev != NULL && strcmp(prev, name) != 0)
        idlc_error(g->ctx, loc, "the wire messages '%s' and '%s' get the "
                   "same protobuf-c name '%s'; rename one of the "
                   "declarations", prev, name, c);
}

static void write_wrapper(pgen *g, const idlc_type *t);
static void write_entry(pgen *g, const idlc_type *t);

/* The proto type of @t used as one value (element, map value, field). */
static const char *
elem_type(pgen *g, const idlc_type *t)
{
    idlc_ctx *ctx = g->ctx;

    switch (t->kind) {
    case TK_BOOL: return "bool";
    case TK_INT8:
    case TK_INT16:
    case TK_INT32: return "int32";
    case TK_INT64: return "int64";
    case TK_UINT8:
    case TK_UINT16:
    case TK_UINT32: return "uint32";
    case TK_UINT64: return "uint64";
    case TK_FLOAT: return "float";
    case TK_DOUBLE: return "double";
    case TK_STRING: return "string";
    case TK_BYTES: return "bytes";
    case TK_FD: return "uint32";    /* an index: see FD_NOTE */
    case TK_ENUM:
    case TK_STRUCT:
        return idlc_printf(&ctx->arena, ".%s.%s",
                           idlc_proto_package(ctx, t->decl->src),
                           t->decl->cname);
    default:
        write_wrapper(g, t);
        return idlc_printf(&ctx->arena, ".%s.%s", g->pkg,
                           idlc_type_mangle(ctx, t));
    }
}

/*
 * What a field carrying fds says after its `;`: descriptors travel
 * beside the frame (SCM_RIGHTS), the message holds their positions.
 */
#define FD_NOTE " // fd: 0 none, k the frame's k-th descriptor"

/* Writes the field @name = @num of type @t to @out. */
static void
write_field(pgen *g, idlc_buf *out, const idlc_type *t, const char *name,
            uint32_t num, const char *indent)
{
    idlc_ctx *ctx = g->ctx;

    switch (t->kind) {
    case TK_LIST:
        idlc_buf_printf(out, "%srepeated %s %s = %u%s;%s\n", indent,
                        elem_type(g, t->elem), name, (unsigned) num,
                        is_packable(t->elem->kind) ? " [packed = true]" : "",
                        t->elem->kind == TK_FD ? FD_NOTE : "");
        break;
    case TK_OPTIONAL:
        idlc_buf_printf(out, "%soptional %s %s = %u;%s\n", indent,
                        elem_type(g, t->elem), name, (unsigned) num,
                        t->elem->kind == TK_FD ? FD_NOTE : "");
        break;
    case TK_MAP: {
        const char *m = idlc_type_mangle(ctx, t);

        write_entry(g, t);
        idlc_buf_printf(out, "%srepeated .%s.%s_entry %s = %u;\n", indent,
                        g->pkg, m, name, (unsigned) num);
        break;
    }
    default:
        idlc_buf_printf(out, "%soptional %s %s = %u;%s\n", indent,
                        elem_type(g, t), name, (unsigned) num,
                        t->kind == TK_FD ? FD_NOTE : "");
        break;
    }
}

/* Writes, once per file, the entry message of the map @t. */
static void
write_entry(pgen *g, const idlc_type *t)
{
    idlc_ctx *ctx = g->ctx;
    const char *key = idlc_printf(&ctx->arena, "%s_entry",
                                  idlc_type_mangle(ctx, t));
    idlc_buf body = { NULL, 0, 0 };

    if (idlc_map_get(&g->wrapped, key) != NULL)
        return;
    idlc_map_put(&ctx->arena, &g->wrapped, key, (void *) key);
    claim_message(g, key, t->loc);
    idlc_buf_puts(&body, "// An entry of ");
    idlc_describe_type(t, &body);
    idlc_buf_printf(&body, ".\nmessage %s {\n", key);
    write_field(g, &body, t->key, "key", 1, "    ");
    if (idlc_is_generic(t->elem->kind))
        idlc_buf_printf(&body, "    optional %s value = 2;\n",
                        elem_type(g, t->elem));
    else
        write_field(g, &body, t->elem, "value", 2, "    ");
    idlc_buf_puts(&body, "}\n\n");
    idlc_buf_add(&g->wrappers, body.data, body.len);
    idlc_buf_free(&body);
}

/* Writes, once per file, the message carrying the generic @t as one value. */
static void
write_wrapper(pgen *g, const idlc_type *t)
{
    idlc_ctx *ctx = g->ctx;
    const char *m = idlc_type_mangle(ctx, t);
    idlc_buf body = { NULL, 0, 0 };

    if (idlc_map_get(&g->wrapped, m) != NULL)
        return;
    idlc_map_put(&ctx->arena, &g->wrapped, m, (void *) m);
    claim_message(g, m, t->loc);
    idlc_buf_puts(&body, "// ");
    idlc_describe_type(t, &body);
    idlc_buf_printf(&body, " as one value.\nmessage %s {\n", m);
    write_field(g, &body, t, "value", 1, "    ");
    idlc_buf_puts(&body, "}\n\n");
    idlc_buf_add(&g->wrappers, body.data, body.len);
    idlc_buf_free(&body);
}

/* Proto field names avoid protoc-c's own members (base, has_x, n_x). */
static const char *
field_name(pgen *g, idlc_map *used, const idlc_field *f)
{
    idlc_ctx *ctx = g->ctx;
    const char *name = f->name;
    const char *flag = f->type->kind == TK_LIST || f->type->kind == TK_MAP
        ? "n_" : "has_";

    for (;;) {
        const char *derived = idlc_printf(&ctx->arena, "%s%s", flag, name);

        if (strcmp(name, "base") != 0 && idlc_map_get(used, name) == NULL
            && idlc_map_get(used, derived) == NULL) {
            idlc_map_put(&ctx->arena, used, name, (void *) name);
            idlc_map_put(&ctx->arena, used, derived, (void *) derived);
            return name;
        }
        name = idlc_printf(&ctx->arena, "%s_", name);
    }
}

/*
 * Writes @doc as `//` lines. Each line stays one line: control characters
 * other than tabs (a CR, which protoc-c takes for a line end) are written
 * as spaces. protoc-c copies the text into a C comment of the .pb-c.h,
 * where it defuses star-slash but not a trigraph backslash: "??" and "/"
 * are split by a space, as in the C generator.
 */
static void
write_doc(idlc_buf *out, const char *doc, const char *indent)
{
    const char *p = doc;

    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t) (nl - p) : strlen(p);

        idlc_buf_printf(out, "%s//%s", indent, n > 0 ? " " : "");
        for (size_t i = 0; i < n; i++) {
            char c = p[i];

            if (((unsigned char) c < ' ' && c != '\t') || c == 0x7f)
                c = ' ';
            idlc_buf_add(out, &c, 1);
            if (c == '?' && i + 1 < n && p[i + 1] == '/' && i > 0
                && p[i - 1] == '?')
                idlc_buf_add(out, " ", 1);
        }
        idlc_buf_add(out, "\n", 1);
        p = nl != NULL ? nl + 1 : NULL;
    }
}

static void
write_message(pgen *g, const char *name, const char *doc, idlc_loc loc,
              const idlc_field *fields)
{
    idlc_map used = { 0, 0, NULL, NULL };

    claim_message(g, name, loc);
    write_doc(g->out, doc, "");
    idlc_buf_printf(g->out, "message %s {\n", name);
    for (const idlc_field *f = fields; f != NULL; f = f->next) {
        write_doc(g->out, f->doc, "    ");
        write_field(g, g->out, f->type, field_name(g, &used, f), f->number,
                    "    ");
    }
    idlc_buf_puts(g->out, "}\n\n");
}

static void
write_ns(pgen *g, const idlc_decl *ns)
{
    idlc_ctx *ctx = g->ctx;

    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *d = ns->items[i];

        if (d->kind == DK_NAMESPACE) {
            write_ns(g, d);
            continue;
        }
        if (d->src != g->src)
            continue;
        switch (d->kind) {
        case DK_ENUM: {
            char *up = idlc_strdup(&ctx->arena, d->cname);

            for (char *p = up; *p != '\0'; p++)
                if (*p >= 'a' && *p <= 'z')
                    *p = (char) (*p - 'a' + 'A');
            claim_message(g, d->cname, d->loc);
            write_doc(g->out, d->doc, "");
            idlc_buf_printf(g->out, "enum %s {\n", d->cname);
            for (const idlc_enumval *v = d->values; v != NULL; v = v->next) {
                char *vu = idlc_strdup(&ctx->arena, v->name);

                for (char *p = vu; *p != '\0'; p++)
                    if (*p >= 'a' && *p <= 'z')
                        *p = (char) (*p - 'a' + 'A');
                write_doc(g->out, v->doc, "    ");
                idlc_buf_printf(g->out, "    %s_%s = %lld;\n", up, vu,
                                (long long) v->value);
            }
            idlc_buf_puts(g->out, "}\n\n");
            break;
        }
        case DK_STRUCT:
        case DK_ERROR:
            write_message(g, d->cname, d->doc, d->loc, d->fields);
            break;
        case DK_METHOD:
        case DK_EVENT: {
            idlc_field value;

            idlc_buf_printf(g->out, "// The arguments of %s %s.\n",
                            d->kind == DK_EVENT ? "event" : "method",
                            d->qname);
            write_message(g, idlc_printf(&ctx->arena, "%s_args", d->cname),
                          NULL, d->loc, d->fields);
            if (d->result->kind == TK_VOID)
                break;
            memset(&value, 0, sizeof value);
            value.name = "value";
            value.type = d->result;
            value.number = 1;
            idlc_buf_printf(g->out, "// The result of method %s.\n",
                            d->qname);
            write_message(g, idlc_printf(&ctx->arena, "%s_result",
                                         d->cname), NULL, d->loc, &value);
            break;
        }
        default:
            break;
        }
    }
}

void
idlc_emit_proto(idlc_ctx *ctx, const idlc_source *src, idlc_buf *out)
{
    pgen g;

    memset(&g, 0, sizeof g);
    g.ctx = ctx;
    g.src = src;
    g.pkg = idlc_proto_package(ctx, src);
    g.out = out;
    /* The main file's .proto is made more than once: check it once. */
    g.check = src == ctx->sources[0] && !ctx->proto_checked;
    ctx->proto_checked |= g.check;
    idlc_buf_printf(out, "// Generated by idlc from %s. Do not edit.\n"
                    "//\n// The wire schema of the interface: each call "
                    "carries its method's\n// *_args message and is "
                    "answered with its *_result message.\n\n"
                    "syntax = \"proto2\";\n\npackage %s;\n\n",
                    strrchr(src->path, '/') != NULL
                    ? strrchr(src->path, '/') + 1 : src->path, g.pkg);
    {
        idlc_map seen = { 0, 0, NULL, NULL };
        bool any = false;

        for (idlc_import *imp = src->imports; imp != NULL; imp = imp->next) {
            const char *ref;

            if (imp->src == NULL)
                continue;
            ref = idlc_file_ref(ctx, imp->src);
            if (idlc_map_put(&ctx->arena, &seen, ref, (void *) ref) != NULL)
                continue;
            idlc_buf_printf(out, "import \"%s.proto\";\n", ref);
            any = true;
        }
        if (any)
            idlc_buf_puts(out, "\n");
    }
    write_ns(&g, &ctx->root);
    if (g.wrappers.len > 0)
        idlc_buf_add(out, g.wrappers.data, g.wrappers.len);
    idlc_buf_free(&g.wrappers);
    /* One trailing newline. */
    while (out->len > 1 && out->data[out->len - 1] == '\n'
           && out->data[out->len - 2] == '\n')
        out->data[--out->len] = '\0';
}
