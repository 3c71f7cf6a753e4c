/*
 * epyctl: protobuf-c message descriptors built at run time from an
 * interface description, by the rules idlc's .proto generator follows
 * (doc/idl.md, "Types"):
 *
 *   list<T>       repeated T (packed for numbers, bools and enums)
 *   optional<T>   optional T
 *   map<K,V>      repeated entry { optional K key = 1; V value = 2; }
 *   a generic as one value (an element, a map's value): a wrapper
 *                 message { the generic as field value = 1 }
 *   int8, int16   int32;  uint8, uint16: uint32;  enums: int32 varints
 *   a method      M_args { its parameters }, M_result { value = 1 }
 *
 * Each descriptor gets a C layout as protoc-c would write it (the
 * ProtobufCMessage header, then per field in number order its quantifier
 * - has_ for optional scalars and bytes, n_ for repeated fields - and its
 * member), so that protobuf_c_message_pack() and _unpack() work on it.
 * Messages are made on first use; a struct's fields are filled after it
 * is registered, from a queue, so recursive types need no recursion.
 */
#include <config.h>

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char *const scalar_names[] = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "float", "double", "string", "bytes", "fd", "void"
};

const char *
ctl_scalar_name(int kind)
{
    return kind >= 0 && kind <= SC_VOID ? scalar_names[kind] : "?";
}

void
ctl_type_spell(const sc_type *t, ctl_str *out)
{
    switch (t->kind) {
    case SC_NAMED:
        ctl_str_puts(out, t->name);
        break;
    case SC_LIST:
    case SC_OPTIONAL:
        ctl_str_puts(out, t->kind == SC_LIST ? "list<" : "optional<");
        ctl_type_spell(t->elem, out);
        ctl_str_puts(out, ">");
        break;
    case SC_MAP:
        ctl_str_puts(out, "map<");
        ctl_type_spell(t->key, out);
        ctl_str_puts(out, ",");
        ctl_type_spell(t->elem, out);
        ctl_str_puts(out, ">");
        break;
    default:
        ctl_str_puts(out, ctl_scalar_name(t->kind));
        break;
    }
}

int
ctl_codec_open(ctl_codec *c, const char *text, size_t len)
{
    char why[256];
    int rc;

    memset(c, 0, sizeof *c);
    rc = epy__schema_parse(text, len, &c->schema, why, sizeof why);
    if (rc == -2) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return -1;
    }
    if (rc < 0) {
        snprintf(c->err, sizeof c->err,
                 "the interface description does not parse: %s", why);
        return -1;
    }
    return 0;
}

void
ctl_codec_close(ctl_codec *c)
{
    epy__schema_free(c->schema);
    ctl_arena_free(&c->arena);
    ctl_str_free(&c->path);
    c->schema = NULL;
    c->msgs = NULL;
}

const sc_decl *
ctl_codec_find(const ctl_codec *c, const char *name, int kind)
{
    long i = epy__schema_find(c->schema, name, strlen(name));

    if (i < 0 || (kind >= 0 && c->schema->decls[i].kind != kind))
        return NULL;
    return &c->schema->decls[i];
}

/* --- the queue of messages whose fields wait to be filled ----------------- */

/* What one field of a message is made of, before the descriptor. */
typedef struct spec {
    const char *name;
    int64_t num;
    const sc_type *type;
    bool plain;
} spec;

typedef struct pending {
    ctl_msg *m;
    spec *specs;
    size_t n;
    struct pending *next;
} pending;

typedef struct builder {
    ctl_codec *c;
    pending *head, *tail;
    int failed;
} builder;

static ctl_msg *
find_msg(ctl_codec *c, const char *key)
{
    for (ctl_msg *m = c->msgs; m != NULL; m = m->next)
        if (strcmp(m->key, key) == 0)
            return m;
    return NULL;
}

/* A new message @key, its fields to fill from @specs (copied). */
static ctl_msg *
new_msg(builder *b, const char *key, const char *name, int kind,
        const spec *specs, size_t n)
{
    ctl_codec *c = b->c;
    ctl_msg *m = ctl_alloc(&c->arena, sizeof *m);
    pending *p = ctl_alloc(&c->arena, sizeof *p);

    m->key = ctl_strndup(&c->arena, key, strlen(key));
    m->kind = kind;
    m->desc.magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
    m->desc.name = ctl_strndup(&c->arena, name, strlen(name));
    m->desc.short_name = m->desc.name;
    m->desc.c_name = m->desc.name;
    m->desc.package_name = "";
    m->next = c->msgs;
    c->msgs = m;
    p->m = m;
    p->n = n;
    p->specs = ctl_alloc(&c->arena, (n + 1) * sizeof *specs);
    if (n > 0)
        memcpy(p->specs, specs, n * sizeof *specs);
    if (b->tail != NULL)
        b->tail->next = p;
    else
        b->head = p;
    b->tail = p;
    return m;
}

static const ctl_msg *msg_of_decl(builder *b, const sc_decl *d);

/* The wrapper message of the generic @t. */
static const ctl_msg *
wrapper(builder *b, const sc_type *t)
{
    ctl_str key = { NULL, 0, 0 };
    ctl_msg *m;
    spec s = { "value", 1, t, false };

    ctl_str_puts(&key, "W:");
    ctl_type_spell(t, &key);
    m = find_msg(b->c, key.data);
    if (m == NULL) {
        m = new_msg(b, key.data, key.data + 2, CTL_MSG_WRAPPER, &s, 1);
        m->type = t;
    }
    ctl_str_free(&key);
    return m;
}

/* The entry message of the map @t. */
static const ctl_msg *
entry(builder *b, const sc_type *t)
{
    ctl_str key = { NULL, 0, 0 };
    ctl_msg *m;
    spec s[2] = { { "key", 1, t->key, false }, { "value", 2, t->elem, true } };

    ctl_str_puts(&key, "E:");
    ctl_type_spell(t, &key);
    m = find_msg(b->c, key.data);
    if (m == NULL) {
        m = new_msg(b, key.data, key.data + 2, CTL_MSG_ENTRY, s, 2);
        m->type = t;
    }
    ctl_str_free(&key);
    return m;
}

static bool
packable(const ctl_codec *c, const sc_type *t)
{
    if (t->kind == SC_NAMED)
        return t->decl >= 0 && c->schema->decls[t->decl].kind == SC_ENUM;
    return t->kind < SC_STRING || t->kind == SC_FD;
}

/* Sets @fd's type for one value of @t. */
static void
set_elem(builder *b, ProtobufCFieldDescriptor *fd, const sc_type *t)
{
    static const ProtobufCType pb[] = {
        PROTOBUF_C_TYPE_BOOL, PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_INT32,
        PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_UINT32,
        PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_UINT32,
        PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FLOAT,
        PROTOBUF_C_TYPE_DOUBLE, PROTOBUF_C_TYPE_STRING,
        PROTOBUF_C_TYPE_BYTES,
        PROTOBUF_C_TYPE_UINT32       /* fd: its index among the frame's */
    };
    ctl_codec *c = b->c;

    if (t->kind < SC_VOID) {
        fd->type = pb[t->kind];
        return;
    }
    if (t->kind == SC_NAMED) {
        const sc_decl *d;

        if (t->decl < 0) {
            if (!b->failed)
                snprintf(c->err, sizeof c->err, "the server's description "
                         "lacks the type '%s'", t->name);
            b->failed = 1;
            fd->type = PROTOBUF_C_TYPE_INT32;
            return;
        }
        d = &c->schema->decls[t->decl];
        if (d->kind == SC_ENUM) {
            fd->type = PROTOBUF_C_TYPE_INT32;  /* the same varint */
            return;
        }
        fd->type = PROTOBUF_C_TYPE_MESSAGE;
        fd->descriptor = &msg_of_decl(b, d)->desc;
        return;
    }
    fd->type = PROTOBUF_C_TYPE_MESSAGE;
    fd->descriptor = &wrapper(b, t)->desc;
}

static void
set_field(builder *b, ProtobufCFieldDescriptor *fd, const spec *s)
{
    const sc_type *t = s->type;

    fd->label = PROTOBUF_C_LABEL_OPTIONAL;
    if (!s->plain && t->kind == SC_LIST) {
        fd->label = PROTOBUF_C_LABEL_REPEATED;
        set_elem(b, fd, t->elem);
        if (packable(b->c, t->elem))
            fd->flags |= PROTOBUF_C_FIELD_FLAG_PACKED;
    } else if (!s->plain && t->kind == SC_OPTIONAL) {
        set_elem(b, fd, t->elem);
    } else if (!s->plain && t->kind == SC_MAP) {
        fd->label = PROTOBUF_C_LABEL_REPEATED;
        fd->type = PROTOBUF_C_TYPE_MESSAGE;
        fd->descriptor = &entry(b, t)->desc;
    } else {
        set_elem(b, fd, t);
    }
}

/* --- layout ----------------------------------------------------------------- */

static size_t
align_up(size_t off, size_t a)
{
    return (off + a - 1) / a * a;
}

/* Size and alignment of one value of a protobuf-c type in C. */
static void
c_size(ProtobufCType t, size_t *size, size_t *align)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *size = sizeof(uint64_t);
        *align = alignof(uint64_t);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        *size = sizeof(double);
        *align = alignof(double);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *size = sizeof(protobuf_c_boolean);
        *align = alignof(protobuf_c_boolean);
        break;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        *size = sizeof(void *);
        *align = alignof(void *);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        *size = sizeof(ProtobufCBinaryData);
        *align = alignof(ProtobufCBinaryData);
        break;
    default:                     /* 32-bit numbers, enums, float */
        *size = sizeof(uint32_t);
        *align = alignof(uint32_t);
        break;
    }
}

static int
cmp_spec_num(const void *a, const void *b)
{
    int64_t x = ((const spec *) a)->num, y = ((const spec *) b)->num;

    return x < y ? -1 : x > y;
}

static const ProtobufCFieldDescriptor *sort_fields;

static int
cmp_field_name(const void *a, const void *b)
{
    return strcmp(sort_fields[*(const unsigned *) a].name,
                  sort_fields[*(const unsigned *) b].name);
}

/* Fills @p's message: its fields, layout and lookup tables. */
static void
fill(builder *b, pending *p)
{
    ctl_codec *c = b->c;
    ctl_msg *m = p->m;
    size_t n = p->n, off = sizeof(ProtobufCMessage), nr = 0;
    ProtobufCFieldDescriptor *fds = ctl_alloc(&c->arena, (n + 1) * sizeof *fds);
    unsigned *by_name = ctl_alloc(&c->arena, (n + 1) * sizeof *by_name);
    ProtobufCIntRange *ranges = ctl_alloc(&c->arena, (n + 1) * sizeof *ranges);
    spec *sorted = ctl_alloc(&c->arena, (n + 1) * sizeof *sorted);

    m->fields = ctl_alloc(&c->arena, (n + 1) * sizeof *m->fields);
    m->n_fields = n;
    if (n > 0)
        memcpy(sorted, p->specs, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_spec_num);
    for (size_t i = 0; i < n; i++) {
        ProtobufCFieldDescriptor *fd = &fds[i];
        size_t size, align;

        fd->name = sorted[i].name;
        fd->id = (uint32_t) sorted[i].num;
        set_field(b, fd, &sorted[i]);
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            off = align_up(off, alignof(size_t));
            fd->quantifier_offset = (unsigned) off;
            off += sizeof(size_t);
            size = sizeof(void *);
            align = alignof(void *);
        } else {
            c_size(fd->type, &size, &align);
            if (fd->type != PROTOBUF_C_TYPE_STRING
                && fd->type != PROTOBUF_C_TYPE_MESSAGE) {
                off = align_up(off, alignof(protobuf_c_boolean));
                fd->quantifier_offset = (unsigned) off;
                off += sizeof(protobuf_c_boolean);
            }
        }
        off = align_up(off, align);
        fd->offset = (unsigned) off;
        off += size;
        by_name[i] = (unsigned) i;
        if (i == 0 || fd->id != fds[i - 1].id + 1) {
            ranges[nr].start_value = (int) fd->id;
            ranges[nr].orig_index = (unsigned) i;
            nr++;
        }
    }
    ranges[nr].start_value = 0;
    ranges[nr].orig_index = (unsigned) n;
    sort_fields = fds;
    qsort(by_name, n, sizeof *by_name, cmp_field_name);
    m->desc.sizeof_message = align_up(off, alignof(max_align_t));
    m->desc.n_fields = (unsigned) n;
    m->desc.fields = fds;
    m->desc.fields_sorted_by_name = by_name;
    m->desc.n_field_ranges = (unsigned) nr;
    m->desc.field_ranges = ranges;
    /* The ctl_fields, in the description's order. */
    for (size_t i = 0; i < n; i++) {
        ctl_field *f = &m->fields[i];

        f->name = p->specs[i].name;
        f->type = p->specs[i].type;
        f->plain = p->specs[i].plain;
        for (size_t k = 0; k < n; k++)
            if (fds[k].id == (uint32_t) p->specs[i].num)
                f->pb = &fds[k];
    }
}

static const ctl_msg *
run(builder *b, const ctl_msg *m)
{
    while (b->head != NULL) {
        pending *p = b->head;

        b->head = p->next;
        if (b->head == NULL)
            b->tail = NULL;
        fill(b, p);
    }
    if (b->failed)
        b->c->broken = true;
    return b->c->broken ? NULL : m;
}

/* Members of a declaration as field specs (arena memory). */
static spec *
member_specs(ctl_codec *c, const sc_decl *d)
{
    spec *s = ctl_alloc(&c->arena, (d->n_mems + 1) * sizeof *s);

    for (size_t i = 0; i < d->n_mems; i++) {
        s[i].name = d->mems[i].name;
        s[i].num = d->mems[i].num;
        s[i].type = d->mems[i].type;
    }
    return s;
}

static const ctl_msg *
msg_of_decl(builder *b, const sc_decl *d)
{
    ctl_str key = { NULL, 0, 0 };
    ctl_msg *m;

    ctl_str_printf(&key, "S:%s", d->qname);
    m = find_msg(b->c, key.data);
    if (m == NULL) {
        m = new_msg(b, key.data, d->qname, CTL_MSG_STRUCT,
                    member_specs(b->c, d), d->n_mems);
        m->decl = d;
    }
    ctl_str_free(&key);
    return m;
}

const ctl_msg *
ctl_msg_of_decl(ctl_codec *c, const sc_decl *d)
{
    builder b = { c, NULL, NULL, 0 };

    return run(&b, msg_of_decl(&b, d));
}

const ctl_msg *
ctl_msg_args(ctl_codec *c, const sc_decl *method)
{
    builder b = { c, NULL, NULL, 0 };
    ctl_str key = { NULL, 0, 0 };
    ctl_msg *m;

    ctl_str_printf(&key, "A:%s", method->qname);
    m = find_msg(c, key.data);
    if (m == NULL) {
        m = new_msg(&b, key.data, key.data + 2, CTL_MSG_ARGS,
                    member_specs(c, method), method->n_mems);
        m->decl = method;
    }
    ctl_str_free(&key);
    return run(&b, m);
}

const ctl_msg *
ctl_msg_result(ctl_codec *c, const sc_decl *method)
{
    builder b = { c, NULL, NULL, 0 };
    ctl_str key = { NULL, 0, 0 };
    ctl_msg *m;
    spec s = { "value", 1, method->result, false };
    bool has = method->result != NULL && method->result->kind != SC_VOID;

    ctl_str_printf(&key, "R:%s", method->qname);
    m = find_msg(c, key.data);
    if (m == NULL) {
        m = new_msg(&b, key.data, key.data + 2, CTL_MSG_RESULT, &s,
                    has ? 1 : 0);
        m->decl = method;
    }
    ctl_str_free(&key);
    return run(&b, m);
}

/* --- file descriptors ------------------------------------------------------- */

/*
 * What a value of @t holds: 1 an fd (itself or in generics), else 0 and
 * in *@ret_decl the struct or error it holds (through generics), or -1;
 * *@many: a list or map lies on the way.
 */
static int
fd_or_struct(const ctl_codec *c, const sc_type *t, long *ret_decl,
             bool *many)
{
    *ret_decl = -1;
    *many = false;
    while (t->kind == SC_LIST || t->kind == SC_OPTIONAL
           || t->kind == SC_MAP) {
        *many = *many || t->kind != SC_OPTIONAL;
        t = t->elem;
    }
    if (t->kind == SC_FD)
        return 1;
    if (t->kind == SC_NAMED && t->decl >= 0
        && c->schema->decls[t->decl].kind != SC_ENUM)
        *ret_decl = t->decl;
    return 0;
}

bool
ctl_fd_path(ctl_codec *c, const sc_decl *method, ctl_str *out)
{
    size_t n = c->schema->n_decls, head = 0, tail = 0;
    long *queue = ctl_xmalloc((n + 1) * sizeof *queue);
    long *parent = ctl_xmalloc((n + 1) * sizeof *parent);
    const char **via = ctl_xmalloc((n + 1) * sizeof *via);
    bool found = false;

    for (size_t i = 0; i < n; i++)
        via[i] = NULL;
    /* The parameters and the result, then the types they hold, breadth
     * first: the path found is a shortest one. */
    for (size_t k = 0; !found && k <= method->n_mems; k++) {
        const sc_type *t = k < method->n_mems ? method->mems[k].type
                                              : method->result;
        const char *name = k < method->n_mems ? method->mems[k].name : NULL;
        long d;
        bool many;

        if (t == NULL)
            continue;
        if (fd_or_struct(c, t, &d, &many)) {
            if (name != NULL)
                ctl_str_printf(out, "args.%s", name);
            else
                ctl_str_puts(out, "the result");
            found = true;
        } else if (d >= 0 && via[d] == NULL) {
            ctl_str p = { NULL, 0, 0 };

            ctl_str_printf(&p, "%s%s%s", name != NULL ? "args." : "result",
                           name != NULL ? name : "", many ? "[]" : "");
            via[d] = ctl_strndup(&c->arena, p.data, p.len);
            ctl_str_free(&p);
            parent[d] = -1;
            queue[tail++] = d;
        }
    }
    while (!found && head < tail) {
        long at = queue[head++];
        const sc_decl *x = &c->schema->decls[at];

        for (size_t k = 0; !found && k < x->n_mems; k++) {
            long d;
            bool many;

            if (x->mems[k].type == NULL)
                continue;
            if (fd_or_struct(c, x->mems[k].type, &d, &many)) {
                /* The path: the fields from the root to @at, then this. */
                size_t depth = 0;

                for (long y = at; y >= 0; y = parent[y])
                    queue[depth++] = y;     /* the queue is done with */
                while (depth-- > 0)
                    ctl_str_printf(out, "%s.", via[queue[depth]]);
                ctl_str_puts(out, x->mems[k].name);
                found = true;
            } else if (d >= 0 && via[d] == NULL) {
                ctl_str p = { NULL, 0, 0 };

                ctl_str_printf(&p, "%s%s", x->mems[k].name, many ? "[]" : "");
                via[d] = ctl_strndup(&c->arena, p.data, p.len);
                ctl_str_free(&p);
                parent[d] = at;
                queue[tail++] = d;
            }
        }
    }
    free(queue);
    free(parent);
    free(via);
    return found;
}
