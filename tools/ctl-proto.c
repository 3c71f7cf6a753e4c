/*
 * epyctl: a .proto text written from an interface description, for
 * servers that send no .proto source. It follows idlc's generator
 * (idlc/emit-proto.c): the same messages, field numbers and wire types;
 * as the description names no files, the package of a root namespace is
 * its name.
 */
#include <config.h>

#include <string.h>

#include "ctl.h"

typedef struct pgen {
    ctl_codec *c;
    const char *pkg;
    ctl_str *out;
    ctl_str wrappers;
    ctl_str written;             /* "|name|" of the wrappers written */
} pgen;

static void
cname(const char *qname, ctl_str *out)
{
    for (const char *p = qname; *p != '\0'; p++)
        ctl_str_add(out, *p == '.' ? "_" : p, 1);
}

static bool
has_user(const sc_type *t)
{
    if (t->kind == SC_NAMED)
        return true;
    if (t->kind == SC_LIST || t->kind == SC_OPTIONAL || t->kind == SC_MAP)
        return has_user(t->elem);
    return false;
}

static void
mangle_part(const sc_type *t, ctl_str *out)
{
    switch (t->kind) {
    case SC_NAMED:
        cname(t->name, out);
        break;
    case SC_LIST:
    case SC_OPTIONAL:
        mangle_part(t->elem, out);
        ctl_str_puts(out, t->kind == SC_LIST ? "_list" : "_opt");
        break;
    case SC_MAP:
        mangle_part(t->elem, out);
        ctl_str_printf(out, "_%s_map", ctl_scalar_name(t->key->kind));
        break;
    default:
        ctl_str_puts(out, ctl_scalar_name(t->kind));
        break;
    }
}

static void
mangle(const sc_type *t, ctl_str *out)
{
    if (!has_user(t))
        ctl_str_puts(out, "epy_");
    mangle_part(t, out);
}

static bool
is_generic(const sc_type *t)
{
    return t->kind == SC_LIST || t->kind == SC_OPTIONAL || t->kind == SC_MAP;
}

static bool
is_enum(pgen *g, const sc_type *t)
{
    return t->kind == SC_NAMED && t->decl >= 0
        && g->c->schema->decls[t->decl].kind == SC_ENUM;
}

static void write_field(pgen *g, ctl_str *out, const sc_type *t,
                        const char *name, int64_t num);

/* Writes once the message @m (wrapper or entry) with @body. */
static bool
claim(pgen *g, const char *m)
{
    ctl_str key = { NULL, 0, 0 };
    bool fresh;

    ctl_str_printf(&key, "|%s|", m);
    fresh = g->written.data == NULL || strstr(g->written.data, key.data) == NULL;
    if (fresh)
        ctl_str_puts(&g->written, key.data);
    ctl_str_free(&key);
    return fresh;
}

/* The proto type of one value of @t. */
static void
elem_type(pgen *g, const sc_type *t, ctl_str *out)
{
    static const char *const pb[] = {
        "bool", "int32", "int32", "int32", "int64", "uint32", "uint32",
        "uint32", "uint64", "float", "double", "string", "bytes",
        "uint32"                     /* fd: see FD_NOTE */
    };

    if (t->kind < SC_VOID) {
        ctl_str_puts(out, pb[t->kind]);
    } else if (t->kind == SC_NAMED) {
        ctl_str_printf(out, ".%.*s.", (int) strcspn(t->name, "."), t->name);
        cname(t->name, out);
    } else {
        ctl_str m = { NULL, 0, 0 };

        mangle(t, &m);
        if (claim(g, m.data)) {
            ctl_str body = { NULL, 0, 0 };

            ctl_str_puts(&body, "// ");
            ctl_type_spell(t, &body);
            ctl_str_printf(&body, " as one value.\nmessage %s {\n", m.data);
            write_field(g, &body, t, "value", 1);
            ctl_str_puts(&body, "}\n\n");
            ctl_str_add(&g->wrappers, body.data, body.len);
            ctl_str_free(&body);
        }
        ctl_str_printf(out, ".%s.%s", g->pkg, m.data);
        ctl_str_free(&m);
    }
}

/* After the `;` of a field of fds, as idlc writes it. */
#define FD_NOTE " // fd: 0 none, k the frame's k-th descriptor"

static void
write_field(pgen *g, ctl_str *out, const sc_type *t, const char *name,
            int64_t num)
{
    ctl_str type = { NULL, 0, 0 };

    if (t->kind == SC_LIST) {
        elem_type(g, t->elem, &type);
        ctl_str_printf(out, "    repeated %s %s = %lld%s;%s\n", type.data,
                       name, (long long) num,
                       t->elem->kind < SC_STRING || t->elem->kind == SC_FD
                       || is_enum(g, t->elem) ? " [packed = true]" : "",
                       t->elem->kind == SC_FD ? FD_NOTE : "");
    } else if (t->kind == SC_MAP) {
        ctl_str m = { NULL, 0, 0 };

        mangle(t, &m);
        ctl_str_puts(&m, "_entry");
        if (claim(g, m.data)) {
            ctl_str body = { NULL, 0, 0 };

            ctl_str_puts(&body, "// An entry of ");
            ctl_type_spell(t, &body);
            ctl_str_printf(&body, ".\nmessage %s {\n", m.data);
            write_field(g, &body, t->key, "key", 1);
            if (is_generic(t->elem)) {
                ctl_str v = { NULL, 0, 0 };

                elem_type(g, t->elem, &v);
                ctl_str_printf(&body, "    optional %s value = 2;\n", v.data);
                ctl_str_free(&v);
            } else {
                write_field(g, &body, t->elem, "value", 2);
            }
            ctl_str_puts(&body, "}\n\n");
            ctl_str_add(&g->wrappers, body.data, body.len);
            ctl_str_free(&body);
        }
        ctl_str_printf(out, "    repeated .%s.%s %s = %lld;\n", g->pkg, m.data,
                       name, (long long) num);
        ctl_str_free(&m);
    } else {
        const sc_type *e = t->kind == SC_OPTIONAL ? t->elem : t;

        elem_type(g, e, &type);
        ctl_str_printf(out, "    optional %s %s = %lld;%s\n", type.data,
                       name, (long long) num,
                       e->kind == SC_FD ? FD_NOTE : "");
    }
    ctl_str_free(&type);
}

/* A field's proto name: protoc-c's own members (base, has_x, n_x) avoided. */
static const char *
field_name(ctl_str *used, const sc_member *m, ctl_str *buf)
{
    const char *flag = m->type->kind == SC_LIST || m->type->kind == SC_MAP
        ? "n_" : "has_";

    buf->len = 0;
    ctl_str_puts(buf, m->name);
    for (;;) {
        ctl_str a = { NULL, 0, 0 }, b = { NULL, 0, 0 };
        bool free_name;

        ctl_str_printf(&a, "|%s|", buf->data);
        ctl_str_printf(&b, "|%s%s|", flag, buf->data);
        free_name = strcmp(buf->data, "base") != 0
            && (used->data == NULL || (strstr(used->data, a.data) == NULL
                                       && strstr(used->data, b.data) == NULL));
        if (free_name) {
            ctl_str_puts(used, a.data);
            ctl_str_puts(used, b.data);
        }
        ctl_str_free(&a);
        ctl_str_free(&b);
        if (free_name)
            return buf->data;
        ctl_str_puts(buf, "_");
    }
}

static void
write_message(pgen *g, const char *name, const sc_member *mems, size_t n)
{
    ctl_str used = { NULL, 0, 0 }, buf = { NULL, 0, 0 };

    ctl_str_printf(g->out, "message %s {\n", name);
    for (size_t i = 0; i < n; i++)
        write_field(g, g->out, mems[i].type, field_name(&used, &mems[i], &buf),
                    mems[i].num);
    ctl_str_puts(g->out, "}\n\n");
    ctl_str_free(&used);
    ctl_str_free(&buf);
}

void
ctl_proto_text(ctl_codec *c, const char *root, ctl_str *out)
{
    pgen g = { c, root, out, { NULL, 0, 0 }, { NULL, 0, 0 } };
    size_t n = strlen(root);

    ctl_str_printf(out, "// Written by epyctl from the description of "
                   "interface %s.\n\nsyntax = \"proto2\";\n\npackage %s;\n\n",
                   root, root);
    /* The namespaces of the types it uses, as if each were its file. */
    for (size_t i = 0, any = 0; i < c->schema->n_decls; i++) {
        const sc_decl *d = &c->schema->decls[i];

        if (d->kind == SC_NAMESPACE && strchr(d->qname, '.') == NULL
            && strcmp(d->qname, root) != 0) {
            ctl_str_printf(out, "import \"%s.proto\";\n", d->qname);
            any = 1;
        }
        if (any && i + 1 == c->schema->n_decls)
            ctl_str_puts(out, "\n");
    }
    for (size_t i = 0; i < c->schema->n_decls; i++) {
        const sc_decl *d = &c->schema->decls[i];
        ctl_str name = { NULL, 0, 0 };

        if (strncmp(d->qname, root, n) != 0
            || (d->qname[n] != '\0' && d->qname[n] != '.'))
            continue;
        cname(d->qname, &name);
        switch (d->kind) {
        case SC_ENUM: {
            ctl_str up = { NULL, 0, 0 };

            ctl_str_puts(&up, name.data);
            for (char *p = up.data; *p != '\0'; p++)
                if (*p >= 'a' && *p <= 'z')
                    *p = (char) (*p - 'a' + 'A');
            ctl_str_printf(out, "enum %s {\n", name.data);
            for (size_t k = 0; k < d->n_mems; k++) {
                ctl_str_printf(out, "    %s_", up.data);
                for (const char *p = d->mems[k].name; *p != '\0'; p++)
                    ctl_str_printf(out, "%c", *p >= 'a' && *p <= 'z'
                                   ? *p - 'a' + 'A' : *p);
                ctl_str_printf(out, " = %lld;\n", (long long) d->mems[k].num);
            }
            ctl_str_puts(out, "}\n\n");
            ctl_str_free(&up);
            break;
        }
        case SC_STRUCT:
        case SC_ERROR:
            write_message(&g, name.data, d->mems, d->n_mems);
            break;
        case SC_METHOD:
        case SC_EVENT: {
            ctl_str m = { NULL, 0, 0 };
            sc_member value = { "value", NULL, d->result, 1 };

            ctl_str_printf(out, "// The arguments of %s %s.\n",
                           d->kind == SC_EVENT ? "event" : "method", d->qname);
            ctl_str_printf(&m, "%s_args", name.data);
            write_message(&g, m.data, d->mems, d->n_mems);
            if (d->kind == SC_METHOD && d->result->kind != SC_VOID) {
                m.len = 0;
                ctl_str_printf(&m, "%s_result", name.data);
                ctl_str_printf(out, "// The result of method %s.\n", d->qname);
                write_message(&g, m.data, &value, 1);
            }
            ctl_str_free(&m);
            break;
        }
        default:
            break;
        }
        ctl_str_free(&name);
    }
    if (g.wrappers.len > 0)
        ctl_str_add(out, g.wrappers.data, g.wrappers.len);
    while (out->len > 1 && out->data[out->len - 1] == '\n'
           && out->data[out->len - 2] == '\n')
        out->data[--out->len] = '\0';
    ctl_str_free(&g.wrappers);
    ctl_str_free(&g.written);
}
