/*
 * The C layouts of the types idlc generates (epy_gen_type,
 * epy_gen_struct in gen.h): the scalar ones every generated file shares,
 * where a layout's values sit in protobuf-c's messages (for gen-encode.c
 * and gen-decode.c), and the memory of C values: allocating, clearing
 * what a value owns, and deep copies.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen-int.h"

#define SCALAR(name, k, t) \
    const epy_gen_type epy_gen_type_##name = { k, sizeof(t), NULL, NULL, \
                                               NULL, 0, 0 }

SCALAR(bool, EPY_GEN_BOOL, bool);
SCALAR(int8, EPY_GEN_INT8, int8_t);
SCALAR(int16, EPY_GEN_INT16, int16_t);
SCALAR(int32, EPY_GEN_INT32, int32_t);
SCALAR(int64, EPY_GEN_INT64, int64_t);
SCALAR(uint8, EPY_GEN_UINT8, uint8_t);
SCALAR(uint16, EPY_GEN_UINT16, uint16_t);
SCALAR(uint32, EPY_GEN_UINT32, uint32_t);
SCALAR(uint64, EPY_GEN_UINT64, uint64_t);
SCALAR(float, EPY_GEN_FLOAT, float);
SCALAR(double, EPY_GEN_DOUBLE, double);
SCALAR(string, EPY_GEN_STRING, char *);
SCALAR(bytes, EPY_GEN_BYTES, epy_bytes);
SCALAR(enum, EPY_GEN_ENUM, int);
SCALAR(fd, EPY_GEN_FD, int);

/* --- layouts next to protobuf-c's --------------------------------------- */

/* The size of one value of @fd in a protobuf-c message or array. */
size_t
epy__gen_pb_slot_size(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return sizeof(int32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(int64_t);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* True for fields whose presence protobuf-c keeps in a has_ member. */
bool
epy__gen_pb_has_flag(const ProtobufCFieldDescriptor *fd)
{
    return fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset != 0
           && fd->type != PROTOBUF_C_TYPE_STRING
           && fd->type != PROTOBUF_C_TYPE_MESSAGE;
}

/* A composite value used as an element travels in a one-field message. */
void
epy__gen_wrapper_of(const epy_gen_type *t, epy_gen_field *f,
                    epy_gen_struct *st, const ProtobufCMessageDescriptor *pb)
{
    f->number = 1;
    f->offset = 0;
    f->type = t;
    st->name = "wrapper";
    st->pb = pb;
    st->size = t->size;
    st->n_fields = 1;
    st->fields = f;
}

/* --- the memory of C values --------------------------------------------- */

void *
epy_gen_alloc(size_t size)
{
    return malloc(size != 0 ? size : 1);
}

void
epy_gen_free(void *p)
{
    if (!epy__blob_release(p))
        free(p);
}

void
epy_gen_bytes_clear(epy_bytes *b)
{
    if (b == NULL)
        return;
    epy_gen_free(b->data);
    b->data = NULL;
    b->len = 0;
}

static void clear_value(const epy_gen_type *t, void *cv);

static void
clear_struct(const epy_gen_struct *st, void *cv)
{
    for (size_t i = 0; i < st->n_fields; i++)
        clear_value(st->fields[i].type, (char *) cv + st->fields[i].offset);
}

static void
clear_value(const epy_gen_type *t, void *cv)
{
    switch (t->kind) {
    case EPY_GEN_FD: {
        int v;

        memcpy(&v, cv, sizeof v);
        if (v > 2)
            close(v);
        v = -1;
        memcpy(cv, &v, sizeof v);
        return;
    }
    case EPY_GEN_STRING: {
        char *p;

        memcpy(&p, cv, sizeof p);
        epy_gen_free(p);
        break;
    }
    case EPY_GEN_BYTES: {
        epy_bytes b;

        memcpy(&b, cv, sizeof b);
        epy_gen_free(b.data);
        break;
    }
    case EPY_GEN_STRUCT:
        clear_struct(t->st, cv);
        return;
    case EPY_GEN_LIST:
    case EPY_GEN_MAP: {
        epy__gen_list l;
        size_t csize = t->kind == EPY_GEN_MAP ? t->entry_size
                                              : t->elem->size;

        memcpy(&l, cv, sizeof l);
        for (size_t i = 0; l.items != NULL && i < l.n; i++) {
            char *item = (char *) l.items + i * csize;

            if (t->kind == EPY_GEN_MAP) {
                clear_value(t->key, item);
                clear_value(t->elem, item + t->value_offset);
            } else {
                clear_value(t->elem, item);
            }
        }
        free(l.items);
        break;
    }
    case EPY_GEN_OPTIONAL: {
        bool has;

        memcpy(&has, cv, sizeof has);
        if (has)
            clear_value(t->elem, (char *) cv + t->value_offset);
        break;
    }
    default:
        return;
    }
    memset(cv, 0, t->size);
}

void
epy_gen_clear(const epy_gen_struct *st, void *value)
{
    if (st == NULL || value == NULL)
        return;
    clear_struct(st, value);
    memset(value, 0, st->size);
}

/*
 * Copies the value @src of type @t into @dst, which is zeroed. On
 * failure @dst holds what was copied so far, every allocation reachable
 * from it and the rest zeroed, so clear_value() frees it.
 */
static int
copy_value(const epy_gen_type *t, void *dst, const void *src)
{
    switch (t->kind) {
    case EPY_GEN_FD: {
        int v;

        memcpy(&v, src, sizeof v);
        if (v >= 0) {
            v = fcntl(v, F_DUPFD_CLOEXEC, 3);
            if (v < 0)
                return errno == EMFILE || errno == ENFILE ? EPY_ENOMEM
                                                          : EPY_EPARAM;
        } else {
            v = -1;
        }
        memcpy(dst, &v, sizeof v);
        return 0;
    }
    case EPY_GEN_STRING: {
        const char *s;
        char *d;
        size_t n;

        memcpy(&s, src, sizeof s);
        if (s == NULL)
            return 0;
        n = strlen(s) + 1;
        d = malloc(n);
        if (d == NULL)
            return EPY_ENOMEM;
        memcpy(d, s, n);
        memcpy(dst, &d, sizeof d);
        return 0;
    }
    case EPY_GEN_BYTES: {
        epy_bytes s, d;

        memcpy(&s, src, sizeof s);
        if (s.data == NULL) {
            if (s.len > 0)
                return EPY_EPARAM;
            return 0;
        }
        /*
         * Empty bytes that have a block get one of their own (one byte
         * long), with no memcpy().
         */
        d.len = s.len;
        d.data = malloc(s.len != 0 ? s.len : 1);
        if (d.data == NULL)
            return EPY_ENOMEM;
        if (s.len > 0)
            memcpy(d.data, s.data, s.len);
        memcpy(dst, &d, sizeof d);
        return 0;
    }
    case EPY_GEN_STRUCT:
        for (size_t i = 0; i < t->st->n_fields; i++) {
            const epy_gen_field *f = &t->st->fields[i];
            int rc = copy_value(f->type, (char *) dst + f->offset,
                                (const char *) src + f->offset);

            if (rc < 0)
                return rc;
        }
        return 0;
    case EPY_GEN_LIST:
    case EPY_GEN_MAP: {
        epy__gen_list s, d;
        size_t csize = t->kind == EPY_GEN_MAP ? t->entry_size
                                              : t->elem->size;

        memcpy(&s, src, sizeof s);
        if (s.n == 0)
            return 0;
        if (s.items == NULL)
            return EPY_EPARAM;
        if (s.n > SIZE_MAX / csize)
            return EPY_ENOMEM;
        d.n = s.n;
        d.items = malloc(s.n * csize);
        if (d.items == NULL)
            return EPY_ENOMEM;
        memset(d.items, 0, s.n * csize);
        memcpy(dst, &d, sizeof d);
        for (size_t i = 0; i < s.n; i++) {
            const char *from = (const char *) s.items + i * csize;
            char *to = (char *) d.items + i * csize;
            int rc;

            if (t->kind == EPY_GEN_MAP) {
                rc = copy_value(t->key, to, from);
                if (rc == 0)
                    rc = copy_value(t->elem, to + t->value_offset,
                                    from + t->value_offset);
            } else {
                rc = copy_value(t->elem, to, from);
            }
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case EPY_GEN_OPTIONAL: {
        bool has;

        memcpy(&has, src, sizeof has);
        if (!has)
            return 0;
        memcpy(dst, &has, sizeof has);
        return copy_value(t->elem, (char *) dst + t->value_offset,
                          (const char *) src + t->value_offset);
    }
    default:
        /* Numbers, bool and enums own nothing. */
        memcpy(dst, src, t->size);
        return 0;
    }
}

int
epy_gen_copy(const epy_gen_struct *st, void *dst, const void *src)
{
    epy_gen_type t = { EPY_GEN_STRUCT, 0, NULL, NULL, NULL, 0, 0 };
    void *tmp;
    int rc;

    if (st == NULL || dst == NULL || src == NULL)
        return EPY_EPARAM;
    t.size = st->size;
    t.st = st;
    /* Built aside, so that *@dst is untouched on failure. */
    tmp = malloc(st->size != 0 ? st->size : 1);
    if (tmp == NULL)
        return EPY_ENOMEM;
    memset(tmp, 0, st->size);
    rc = copy_value(&t, tmp, src);
    if (rc < 0) {
        clear_struct(st, tmp);
        free(tmp);
        return rc;
    }
    memcpy(dst, tmp, st->size);
    free(tmp);
    return 0;
}
