/*
 * epyctl: JSON to protobuf-c messages of a description and back (the
 * mapping is in epyctl.1, "JSON"). Messages to send live in an arena
 * and are packed with protobuf_c_message_pack(); received ones come
 * from protobuf_c_message_unpack() and are walked field by field.
 */
#include <config.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Depth of nested values past which a default value is not spelled out. */
#define MAX_DEFAULT_DEPTH 64

/* --- the path of the value being converted ------------------------------ */

static size_t
path_push(ctl_codec *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static size_t
path_push(ctl_codec *c, const char *fmt, ...)
{
    size_t old = c->path.len;
    char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctl_str_puts(&c->path, buf);
    return old;
}

static void
path_pop(ctl_codec *c, size_t len)
{
    c->path.len = len;
    if (c->path.data != NULL)
        c->path.data[len] = '\0';
}

static int
fail(ctl_codec *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int
fail(ctl_codec *c, const char *fmt, ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, sizeof c->err, "%s: %s",
             c->path.data != NULL ? c->path.data : "", msg);
    return -1;
}

static const char *
json_kind(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double:
    case json_type_int: return "a number";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "a JSON value";
}

static const ctl_msg *
msg_of(const ProtobufCFieldDescriptor *fd)
{
    return (const ctl_msg *) fd->descriptor;
}

static size_t
elem_size(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
        return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return sizeof(uint32_t);
    }
}

static const sc_decl *
decl_of(const ctl_codec *c, const sc_type *t)
{
    return &c->schema->decls[t->decl];
}

/* --- JSON to messages ------------------------------------------------------ */

/* An integer of @kind from @v into *@ri (signed) or *@ru (unsigned). */
static int
get_int(ctl_codec *c, json_object *v, int kind, int64_t *ri, uint64_t *ru)
{
    static const int64_t smin[] = { 0, INT8_MIN, INT16_MIN, INT32_MIN,
                                    INT64_MIN };
    static const int64_t smax[] = { 0, INT8_MAX, INT16_MAX, INT32_MAX,
                                    INT64_MAX };
    static const uint64_t umax[] = { UINT8_MAX, UINT16_MAX, UINT32_MAX,
                                     UINT64_MAX };
    bool is_signed = kind <= SC_INT64;
    bool neg = false;
    int64_t i = 0;
    uint64_t u = 0;

    switch (json_object_get_type(v)) {
    case json_type_int:
        i = json_object_get_int64(v);
        neg = i < 0;
        if (!neg)
            u = json_object_get_uint64(v);
        break;
    case json_type_double: {
        double d = json_object_get_double(v);

        if (!isfinite(d) || d != floor(d) || d < -0x1p63 || d >= 0x1p64)
            return fail(c, "%s is not an integer",
                        json_object_get_string(v));
        neg = d < 0;
        if (neg)
            i = (int64_t) d;
        else
            u = (uint64_t) d;
        break;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        char *end;

        errno = 0;
        if (*s == '-') {
            neg = true;
            i = strtoll(s, &end, 10);
        } else {
            u = (*s >= '0' && *s <= '9') ? strtoull(s, &end, 10) : 0;
            end = (*s >= '0' && *s <= '9') ? end : (char *) s;
        }
        if (end == s || *end != '\0' || (neg && end == s + 1))
            return fail(c, "\"%s\" is not a decimal integer", s);
        if (errno == ERANGE)
            return fail(c, "%s is out of the range of %s", s,
                        ctl_scalar_name(kind));
        if (neg && i == 0)
            neg = false;
        break;
    }
    default:
        return fail(c, "expected an integer (%s), not %s",
                    ctl_scalar_name(kind), json_kind(v));
    }
    if (is_signed) {
        if ((neg && i < smin[kind]) || (!neg && u > (uint64_t) smax[kind]))
            goto range;
        *ri = neg ? i : (int64_t) u;
    } else {
        if (neg || u > umax[kind - SC_UINT8])
            goto range;
        *ru = u;
    }
    return 0;
range:
    return fail(c, "%s is out of the range of %s", json_object_get_string(v),
                ctl_scalar_name(kind));
}

static int
get_float(ctl_codec *c, json_object *v, int kind, double *ret)
{
    switch (json_object_get_type(v)) {
    case json_type_int:
    case json_type_double:
        *ret = json_object_get_double(v);
        /* Out of range: what does not round to FLT_MAX at most. */
        if (kind == SC_FLOAT && isfinite(*ret)
            && fabs(*ret) >= (double) FLT_MAX + 0x1p103)
            return fail(c, "%s is out of the range of float",
                        json_object_get_string(v));
        return 0;
    case json_type_string: {
        const char *s = json_object_get_string(v);

        if (strcmp(s, "NaN") == 0)
            *ret = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *ret = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *ret = -INFINITY;
        else
            return fail(c, "\"%s\" is not a number (strings: \"NaN\", "
                        "\"Infinity\", \"-Infinity\")", s);
        return 0;
    }
    default:
        return fail(c, "expected a number (%s), not %s",
                    ctl_scalar_name(kind), json_kind(v));
    }
}

static int get_enum(ctl_codec *c, const sc_decl *d, json_object *v,
                    int32_t *ret);
static int from_object(ctl_codec *c, ctl_arena *a, const ctl_msg *m,
                       json_object *j, ProtobufCMessage **ret);
static int from_field(ctl_codec *c, ctl_arena *a, ProtobufCMessage *msg,
                      const ctl_field *f, json_object *v);

static ProtobufCMessage *
new_message(ctl_arena *a, const ctl_msg *m)
{
    ProtobufCMessage *msg = ctl_alloc(a, m->desc.sizeof_message);

    msg->descriptor = &m->desc;
    return msg;
}

/* One value of type @t from @v into @slot, as @fd carries it. */
static int
from_elem(ctl_codec *c, ctl_arena *a, const ProtobufCFieldDescriptor *fd,
          const sc_type *t, json_object *v, void *slot)
{
    int64_t i = 0;
    uint64_t u = 0;
    double d = 0;

    switch (t->kind) {
    case SC_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return fail(c, "expected true or false, not %s", json_kind(v));
        *(protobuf_c_boolean *) slot = json_object_get_boolean(v);
        return 0;
    case SC_INT8:
    case SC_INT16:
    case SC_INT32:
        if (get_int(c, v, t->kind, &i, &u) < 0)
            return -1;
        *(int32_t *) slot = (int32_t) i;
        return 0;
    case SC_INT64:
        if (get_int(c, v, t->kind, &i, &u) < 0)
            return -1;
        *(int64_t *) slot = i;
        return 0;
    case SC_UINT8:
    case SC_UINT16:
    case SC_UINT32:
        if (get_int(c, v, t->kind, &i, &u) < 0)
            return -1;
        *(uint32_t *) slot = (uint32_t) u;
        return 0;
    case SC_UINT64:
        if (get_int(c, v, t->kind, &i, &u) < 0)
            return -1;
        *(uint64_t *) slot = u;
        return 0;
    case SC_FLOAT:
        if (get_float(c, v, t->kind, &d) < 0)
            return -1;
        *(float *) slot = (float) d;
        return 0;
    case SC_DOUBLE:
        if (get_float(c, v, t->kind, &d) < 0)
            return -1;
        *(double *) slot = d;
        return 0;
    case SC_STRING: {
        size_t n;

        if (!json_object_is_type(v, json_type_string))
            return fail(c, "expected a string, not %s", json_kind(v));
        n = (size_t) json_object_get_string_len(v);
        if (memchr(json_object_get_string(v), '\0', n) != NULL)
            return fail(c, "strings cannot hold a NUL character");
        *(char **) slot = ctl_strndup(a, json_object_get_string(v), n);
        return 0;
    }
    case SC_BYTES: {
        ProtobufCBinaryData *b = slot;
        uint8_t *raw;
        size_t n;

        if (!json_object_is_type(v, json_type_string))
            return fail(c, "expected a base64 string, not %s", json_kind(v));
        if (ctl_base64_decode(json_object_get_string(v),
                              (size_t) json_object_get_string_len(v), &raw,
                              &n) < 0)
            return fail(c, "not base64: \"%.40s\"", json_object_get_string(v));
        b->data = ctl_alloc(a, n);
        memcpy(b->data, raw, n);
        b->len = n;
        free(raw);
        return 0;
    }
    case SC_FD:
        return fail(c, "a file descriptor: epyctl cannot pass one");
    case SC_NAMED:
        if (decl_of(c, t)->kind == SC_ENUM)
            return get_enum(c, decl_of(c, t), v, slot);
        return from_object(c, a, msg_of(fd), v, slot);
    default: {                  /* a generic, in its wrapper */
        const ctl_msg *w = msg_of(fd);
        ProtobufCMessage *msg = new_message(a, w);

        *(ProtobufCMessage **) slot = msg;
        return from_field(c, a, msg, &w->fields[0], v);
    }
    }
}

static int
get_enum(ctl_codec *c, const sc_decl *d, json_object *v, int32_t *ret)
{
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);

        for (size_t i = 0; i < d->n_mems; i++)
            if (strcmp(d->mems[i].name, s) == 0) {
                *ret = (int32_t) d->mems[i].num;
                return 0;
            }
        return fail(c, "\"%s\" is not a value of enum %s", s, d->qname);
    }
    if (json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);

        for (size_t i = 0; i < d->n_mems; i++)
            if (d->mems[i].num == n) {
                *ret = (int32_t) n;
                return 0;
            }
        return fail(c, "%lld is not a value of enum %s", (long long) n,
                    d->qname);
    }
    return fail(c, "expected a value of enum %s (a name or a number), not %s",
                d->qname, json_kind(v));
}

/* The quantifier of an optional field: set it, when it has one. */
static void
set_present(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
    if (fd->type != PROTOBUF_C_TYPE_STRING
        && fd->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *) ((char *) msg + fd->quantifier_offset) = 1;
}

/* The entries of a map from an object (string keys) or [key, value] pairs. */
static int
from_map(ctl_codec *c, ctl_arena *a, ProtobufCMessage *msg,
         const ctl_field *f, json_object *v)
{
    const ProtobufCFieldDescriptor *fd = f->pb;
    const ctl_msg *em = msg_of(fd);
    bool by_object = f->type->key->kind == SC_STRING;
    size_t n, i = 0;
    ProtobufCMessage **items;

    if (by_object && !json_object_is_type(v, json_type_object))
        return fail(c, "expected an object (a map with string keys), not %s",
                    json_kind(v));
    if (!by_object && !json_object_is_type(v, json_type_array))
        return fail(c, "expected an array of [key, value] pairs, not %s",
                    json_kind(v));
    n = by_object ? (size_t) json_object_object_length(v)
                  : json_object_array_length(v);
    items = ctl_alloc(a, (n + 1) * sizeof *items);
    if (by_object) {
        struct json_object_iterator it = json_object_iter_begin(v);
        struct json_object_iterator end = json_object_iter_end(v);

        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
            const char *key = json_object_iter_peek_name(&it);
            json_object *val = json_object_iter_peek_value(&it);
            size_t old = path_push(c, "[\"%s\"]", key);
            json_object *k = json_object_new_string(key);
            int rc;

            items[i] = new_message(a, em);
            rc = from_field(c, a, items[i], &em->fields[0], k);
            json_object_put(k);
            if (rc < 0 || from_field(c, a, items[i], &em->fields[1], val) < 0)
                return -1;
            path_pop(c, old);
            i++;
        }
    } else {
        for (i = 0; i < n; i++) {
            json_object *pair = json_object_array_get_idx(v, i);
            size_t old = path_push(c, "[%zu]", i);

            if (!json_object_is_type(pair, json_type_array)
                || json_object_array_length(pair) != 2)
                return fail(c, "expected a [key, value] pair, not %s",
                            json_kind(pair));
            items[i] = new_message(a, em);
            if (from_field(c, a, items[i], &em->fields[0],
                           json_object_array_get_idx(pair, 0)) < 0
                || from_field(c, a, items[i], &em->fields[1],
                              json_object_array_get_idx(pair, 1)) < 0)
                return -1;
            path_pop(c, old);
        }
    }
    *(size_t *) ((char *) msg + fd->quantifier_offset) = n;
    *(ProtobufCMessage ***) ((char *) msg + fd->offset) = items;
    return 0;
}

static int
from_field(ctl_codec *c, ctl_arena *a, ProtobufCMessage *msg,
           const ctl_field *f, json_object *v)
{
    const ProtobufCFieldDescriptor *fd = f->pb;
    const sc_type *t = f->type;
    char *member = (char *) msg + fd->offset;
    int rc;

    if (++c->depth > 900) {
        c->depth--;
        return fail(c, "nested too deeply");
    }
    if (!f->plain && t->kind == SC_LIST) {
        size_t n, es = elem_size(fd);
        char *items;

        if (!json_object_is_type(v, json_type_array)) {
            c->depth--;
            return fail(c, "expected an array (%s), not %s",
                        t->elem->kind == SC_NAMED ? t->elem->name : "a list",
                        json_kind(v));
        }
        n = json_object_array_length(v);
        items = ctl_alloc(a, (n + 1) * es);
        for (size_t i = 0; i < n; i++) {
            size_t old = path_push(c, "[%zu]", i);

            if (from_elem(c, a, fd, t->elem, json_object_array_get_idx(v, i),
                          items + i * es) < 0) {
                c->depth--;
                return -1;
            }
            path_pop(c, old);
        }
        *(size_t *) ((char *) msg + fd->quantifier_offset) = n;
        *(void **) member = items;
        rc = 0;
    } else if (!f->plain && t->kind == SC_OPTIONAL) {
        rc = 0;
        if (!json_object_is_type(v, json_type_null)) {
            rc = from_elem(c, a, fd, t->elem, v, member);
            set_present(msg, fd);
        }
    } else if (!f->plain && t->kind == SC_MAP) {
        rc = from_map(c, a, msg, f, v);
    } else {
        rc = from_elem(c, a, fd, t, v, member);
        set_present(msg, fd);
    }
    c->depth--;
    return rc;
}

static int
from_object(ctl_codec *c, ctl_arena *a, const ctl_msg *m, json_object *j,
            ProtobufCMessage **ret)
{
    ProtobufCMessage *msg;

    if (!json_object_is_type(j, json_type_object))
        return fail(c, "expected an object (%s), not %s",
                    m->decl != NULL ? m->decl->qname : "a struct",
                    json_kind(j));
    msg = new_message(a, m);
    *ret = msg;
    for (struct json_object_iterator it = json_object_iter_begin(j),
         end = json_object_iter_end(j); !json_object_iter_equal(&it, &end);
         json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        json_object *val = json_object_iter_peek_value(&it);
        const ctl_field *f = NULL;
        size_t old;

        for (size_t i = 0; i < m->n_fields && f == NULL; i++)
            if (strcmp(m->fields[i].name, key) == 0)
                f = &m->fields[i];
        old = path_push(c, ".%s", key);
        if (f == NULL)
            return fail(c, "unknown field '%s' of %s%s", key,
                        m->kind == CTL_MSG_ARGS ? "the parameters of "
                                                : "",
                        m->decl != NULL ? m->decl->qname : "the message");
        if (from_field(c, a, msg, f, val) < 0)
            return -1;
        path_pop(c, old);
    }
    return 0;
}

int
ctl_json_pack(ctl_codec *c, const ctl_msg *m, json_object *j,
              const char *what, uint8_t **ret, size_t *ret_len)
{
    ctl_arena a = { NULL };
    ProtobufCMessage *msg = NULL;
    int rc;

    path_pop(c, 0);
    ctl_str_puts(&c->path, what);
    c->depth = 0;
    rc = from_object(c, &a, m, j, &msg);
    if (rc == 0) {
        size_t n = protobuf_c_message_get_packed_size(msg);

        *ret = ctl_xmalloc(n);
        *ret_len = protobuf_c_message_pack(msg, *ret);
    }
    ctl_arena_free(&a);
    return rc;
}

/* --- messages to JSON ---------------------------------------------------------- */

static json_object *to_object(ctl_codec *c, const ctl_msg *m,
                              const ProtobufCMessage *msg);
static json_object *to_field(ctl_codec *c, const ProtobufCMessage *msg,
                             const ctl_field *f);

static json_object *
enum_json(const sc_decl *d, int32_t v)
{
    for (size_t i = 0; i < d->n_mems; i++)
        if (d->mems[i].num == v)
            return json_object_new_string(d->mems[i].name);
    return json_object_new_int(v);
}

/* What a value of @t that is not in the message reads as. */
static json_object *
default_json(ctl_codec *c, const sc_type *t, int depth)
{
    switch (t->kind) {
    case SC_BOOL:
        return json_object_new_boolean(0);
    case SC_FLOAT:
    case SC_DOUBLE:
        return json_object_new_double_s(0, "0");
    case SC_STRING:
    case SC_BYTES:
        return json_object_new_string("");
    case SC_LIST:
        return json_object_new_array();
    case SC_OPTIONAL:
        return NULL;
    case SC_MAP:
        return t->key->kind == SC_STRING ? json_object_new_object()
                                         : json_object_new_array();
    case SC_NAMED: {
        const sc_decl *d = decl_of(c, t);
        json_object *o;

        if (d->kind == SC_ENUM)
            return enum_json(d, 0);
        if (depth > MAX_DEFAULT_DEPTH)
            return NULL;
        o = json_object_new_object();
        for (size_t i = 0; i < d->n_mems; i++)
            json_object_object_add(o, d->mems[i].name,
                                   default_json(c, d->mems[i].type,
                                                depth + 1));
        return o;
    }
    default:
        return json_object_new_int(0);
    }
}

static json_object *
to_elem(ctl_codec *c, const ProtobufCFieldDescriptor *fd, const sc_type *t,
        const void *slot)
{
    switch (t->kind) {
    case SC_BOOL:
        return json_object_new_boolean(*(const protobuf_c_boolean *) slot);
    case SC_INT8:
    case SC_INT16:
    case SC_INT32:
        return json_object_new_int(*(const int32_t *) slot);
    case SC_INT64:
        return ctl_json_int64(*(const int64_t *) slot);
    case SC_UINT8:
    case SC_UINT16:
    case SC_UINT32:
    case SC_FD:                 /* its index: 0 none, k the k-th passed */
        return json_object_new_int64(*(const uint32_t *) slot);
    case SC_UINT64:
        return ctl_json_uint64(*(const uint64_t *) slot);
    case SC_FLOAT:
        return ctl_json_float(*(const float *) slot);
    case SC_DOUBLE:
        return ctl_json_double(*(const double *) slot);
    case SC_STRING: {
        const char *s = *(char *const *) slot;

        return json_object_new_string(s != NULL ? s : "");
    }
    case SC_BYTES: {
        const ProtobufCBinaryData *b = slot;
        char *s = ctl_base64_encode(b->data, b->len);
        json_object *j = json_object_new_string(s);

        free(s);
        return j;
    }
    case SC_NAMED: {
        const ProtobufCMessage *msg;

        if (decl_of(c, t)->kind == SC_ENUM)
            return enum_json(decl_of(c, t), *(const int32_t *) slot);
        msg = *(ProtobufCMessage *const *) slot;
        return msg != NULL ? to_object(c, msg_of(fd), msg)
                           : default_json(c, t, 0);
    }
    default: {                  /* a generic, in its wrapper */
        const ProtobufCMessage *msg = *(ProtobufCMessage *const *) slot;

        return msg != NULL ? to_field(c, msg, &msg_of(fd)->fields[0])
                           : default_json(c, t, 0);
    }
    }
}

static bool
present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
    const char *base = (const char *) msg;

    if (fd->type == PROTOBUF_C_TYPE_STRING
        || fd->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void *const *) (base + fd->offset) != NULL;
    return *(const protobuf_c_boolean *) (base + fd->quantifier_offset);
}

static json_object *
to_field(ctl_codec *c, const ProtobufCMessage *msg, const ctl_field *f)
{
    const ProtobufCFieldDescriptor *fd = f->pb;
    const sc_type *t = f->type;
    const char *base = (const char *) msg;
    const void *member = base + fd->offset;

    if (!f->plain && (t->kind == SC_LIST || t->kind == SC_MAP)) {
        size_t n = *(const size_t *) (base + fd->quantifier_offset);
        const char *items = *(char *const *) member;
        size_t es = elem_size(fd);
        bool by_object = t->kind == SC_MAP && t->key->kind == SC_STRING;
        json_object *r = by_object ? json_object_new_object()
                                   : json_object_new_array();

        for (size_t i = 0; i < n; i++) {
            const ProtobufCMessage *e;
            const ctl_msg *em;
            json_object *k, *v;

            if (t->kind == SC_LIST) {
                json_object_array_add(r, to_elem(c, fd, t->elem,
                                                 items + i * es));
                continue;
            }
            e = ((ProtobufCMessage *const *) items)[i];
            em = msg_of(fd);
            k = to_field(c, e, &em->fields[0]);
            v = to_field(c, e, &em->fields[1]);
            if (by_object) {
                json_object_object_add(r, json_object_get_string(k), v);
                json_object_put(k);
            } else {
                json_object *pair = json_object_new_array();

                json_object_array_add(pair, k);
                json_object_array_add(pair, v);
                json_object_array_add(r, pair);
            }
        }
        return r;
    }
    if (!f->plain && t->kind == SC_OPTIONAL)
        return present(msg, fd) ? to_elem(c, fd, t->elem, member) : NULL;
    return present(msg, fd) ? to_elem(c, fd, t, member)
                            : default_json(c, t, 0);
}

static json_object *
to_object(ctl_codec *c, const ctl_msg *m, const ProtobufCMessage *msg)
{
    json_object *o = json_object_new_object();

    for (size_t i = 0; i < m->n_fields; i++)
        json_object_object_add(o, m->fields[i].name,
                               to_field(c, msg, &m->fields[i]));
    return o;
}

json_object *
ctl_json_unpack(ctl_codec *c, const ctl_msg *m, const uint8_t *data,
                size_t len)
{
    ProtobufCMessage *msg = protobuf_c_message_unpack(&m->desc, NULL, len,
                                                      data);
    json_object *j;

    if (msg == NULL) {
        snprintf(c->err, sizeof c->err, "%zu bytes that do not decode as "
                 "%s", len, m->desc.name);
        return NULL;
    }
    j = to_object(c, m, msg);
    protobuf_c_message_free_unpacked(msg, NULL);
    return j;
}
