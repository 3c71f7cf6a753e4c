/*
 * Support for the code idlc generates: conversion between the generated
 * C layouts and protobuf-c messages (protobuf-c does all the encoding),
 * typed calls, replies and errors over the dynamic API, and handler
 * tables.
 *
 * Locks: one mutex guards the list of served handler tables; no other
 * lock is taken while it is held, except the runtime's own inside
 * epy_peer_handle() and epy_peer_serve_ns().
 */
#include <config.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include <epyrpc/gen.h>

#include "peer-int.h"

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

/* The common header of every generated list and map. */
typedef struct gen_list {
    size_t n;
    void *items;
} gen_list;

void *
epy_gen_alloc(size_t size)
{
    return malloc(size != 0 ? size : 1);
}

void
epy_gen_free(void *p)
{
    free(p);
}

void
epy_gen_bytes_clear(epy_bytes *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* --- scratch memory for the messages being packed ------------------------ */

typedef struct scratch {
    struct scratch *next;
    max_align_t data[];
} scratch;

static void *
scratch_alloc(scratch **s, size_t size)
{
    scratch *c = calloc(1, sizeof *c + (size != 0 ? size : 1));

    if (c == NULL)
        return NULL;
    c->next = *s;
    *s = c;
    return c->data;
}

static void
scratch_free(scratch *s)
{
    while (s != NULL) {
        scratch *next = s->next;

        free(s);
        s = next;
    }
}

/* The size of one value of @fd in a protobuf-c message or array. */
static size_t
pb_slot_size(const ProtobufCFieldDescriptor *fd)
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
static bool
pb_has_flag(const ProtobufCFieldDescriptor *fd)
{
    return fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset != 0
           && fd->type != PROTOBUF_C_TYPE_STRING
           && fd->type != PROTOBUF_C_TYPE_MESSAGE;
}

/* A composite value used as an element travels in a one-field message. */
static void
wrapper_of(const epy_gen_type *t, epy_gen_field *f, epy_gen_struct *st,
           const ProtobufCMessageDescriptor *pb)
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

/* --- C layout -> protobuf-c ------------------------------------------------ */

static int enc_struct(scratch **s, const epy_gen_struct *st, const void *cv,
                      ProtobufCMessage *msg);

static int
enc_message(scratch **s, const epy_gen_struct *st,
            const ProtobufCFieldDescriptor *fd, const void *cv, void *slot)
{
    const ProtobufCMessageDescriptor *md = fd->descriptor;
    ProtobufCMessage *m;

    if (md == NULL)
        return EPY_EPARAM;
    m = scratch_alloc(s, md->sizeof_message);
    if (m == NULL)
        return EPY_ENOMEM;
    protobuf_c_message_init(md, m);
    memcpy(slot, &m, sizeof m);
    return enc_struct(s, st, cv, m);
}

/*
 * The small integer types travel as protobuf's 32-bit ones: WIDEN copies
 * the C value at cv into the protobuf slot (dec_small() is the other
 * way). Returns 0 from the enclosing function.
 */
#define WIDEN(ctype, pbtype)                                               \
    do {                                                                   \
        ctype x_;                                                          \
        pbtype v_;                                                         \
                                                                           \
        memcpy(&x_, cv, sizeof x_);                                        \
        v_ = x_;                                                           \
        memcpy(slot, &v_, sizeof v_);                                      \
        return 0;                                                          \
    } while (0)

/* Stores the C value @cv of type @t as one protobuf-c value at @slot. */
static int
enc_one(scratch **s, const epy_gen_type *t, const void *cv,
        const ProtobufCFieldDescriptor *fd, void *slot)
{
    switch (t->kind) {
    case EPY_GEN_BOOL: {
        bool b;
        protobuf_c_boolean v;

        memcpy(&b, cv, sizeof b);
        v = b;
        memcpy(slot, &v, sizeof v);
        return 0;
    }
    case EPY_GEN_INT8:
        WIDEN(int8_t, int32_t);
    case EPY_GEN_INT16:
        WIDEN(int16_t, int32_t);
    case EPY_GEN_UINT8:
        WIDEN(uint8_t, uint32_t);
    case EPY_GEN_UINT16:
        WIDEN(uint16_t, uint32_t);
    case EPY_GEN_INT32:
    case EPY_GEN_INT64:
    case EPY_GEN_UINT32:
    case EPY_GEN_UINT64:
    case EPY_GEN_FLOAT:
    case EPY_GEN_DOUBLE:
    case EPY_GEN_ENUM:
        memcpy(slot, cv, t->size);
        return 0;
    case EPY_GEN_STRING: {
        char *p;

        memcpy(&p, cv, sizeof p);
        if (p == NULL)
            p = (char *) "";
        memcpy(slot, &p, sizeof p);
        return 0;
    }
    case EPY_GEN_BYTES: {
        epy_bytes b;
        ProtobufCBinaryData d;

        memcpy(&b, cv, sizeof b);
        if (b.data == NULL && b.len > 0)
            return EPY_EPARAM;
        d.len = b.len;
        d.data = b.data;
        memcpy(slot, &d, sizeof d);
        return 0;
    }
    case EPY_GEN_STRUCT:
        return enc_message(s, t->st, fd, cv, slot);
    case EPY_GEN_LIST:
    case EPY_GEN_OPTIONAL:
    case EPY_GEN_MAP: {
        epy_gen_field f;
        epy_gen_struct w;

        wrapper_of(t, &f, &w, fd->descriptor);
        return enc_message(s, &w, fd, cv, slot);
    }
    }
    return EPY_EPARAM;
}

static void
set_flag(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
    if (pb_has_flag(fd)) {
        protobuf_c_boolean one = 1;

        memcpy((char *) msg + fd->quantifier_offset, &one, sizeof one);
    }
}

/*
 * A map entry { K key; V value; } as its message: key = 1, value = 2; a
 * generic value travels in its one-field wrapper message.
 */
static int
enc_entry(scratch **s, const epy_gen_type *t, const void *cv,
          const ProtobufCFieldDescriptor *fd, void *slot)
{
    const ProtobufCMessageDescriptor *md = fd->descriptor;
    const ProtobufCFieldDescriptor *kfd, *vfd;
    ProtobufCMessage *m;
    int rc;

    if (md == NULL)
        return EPY_EPARAM;
    kfd = protobuf_c_message_descriptor_get_field(md, 1);
    vfd = protobuf_c_message_descriptor_get_field(md, 2);
    if (kfd == NULL || vfd == NULL)
        return EPY_EPARAM;
    m = scratch_alloc(s, md->sizeof_message);
    if (m == NULL)
        return EPY_ENOMEM;
    protobuf_c_message_init(md, m);
    memcpy(slot, &m, sizeof m);
    rc = enc_one(s, t->key, cv, kfd, (char *) m + kfd->offset);
    if (rc < 0)
        return rc;
    set_flag(m, kfd);
    rc = enc_one(s, t->elem, (const char *) cv + t->value_offset, vfd,
                 (char *) m + vfd->offset);
    if (rc < 0)
        return rc;
    set_flag(m, vfd);
    return 0;
}

static int
enc_field(scratch **s, const epy_gen_field *f, const void *base,
          ProtobufCMessage *msg)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(msg->descriptor, f->number);
    const epy_gen_type *t = f->type;
    const char *cv = (const char *) base + f->offset;
    char *slot;

    if (fd == NULL)
        return EPY_EPARAM;
    slot = (char *) msg + fd->offset;
    switch (t->kind) {
    case EPY_GEN_LIST:
    case EPY_GEN_MAP: {
        gen_list l;
        size_t esize = pb_slot_size(fd);
        size_t csize = t->kind == EPY_GEN_MAP ? t->entry_size
                                              : t->elem->size;
        char *arr;
        int rc;

        memcpy(&l, cv, sizeof l);
        if (l.n == 0)
            return 0;
        if (l.items == NULL || fd->label != PROTOBUF_C_LABEL_REPEATED)
            return EPY_EPARAM;
        if (l.n > SIZE_MAX / (esize > csize ? esize : csize))
            return EPY_ENOMEM;
        arr = scratch_alloc(s, l.n * esize);
        if (arr == NULL)
            return EPY_ENOMEM;
        for (size_t i = 0; i < l.n; i++) {
            const char *item = (const char *) l.items + i * csize;

            if (t->kind == EPY_GEN_MAP)
                rc = enc_entry(s, t, item, fd, arr + i * esize);
            else
                rc = enc_one(s, t->elem, item, fd, arr + i * esize);
            if (rc < 0)
                return rc;
        }
        memcpy((char *) msg + fd->quantifier_offset, &l.n, sizeof l.n);
        memcpy(slot, &arr, sizeof arr);
        return 0;
    }
    case EPY_GEN_OPTIONAL: {
        bool has;
        int rc;

        memcpy(&has, cv, sizeof has);
        if (!has)
            return 0;
        rc = enc_one(s, t->elem, cv + t->value_offset, fd, slot);
        if (rc == 0)
            set_flag(msg, fd);
        return rc;
    }
    default: {
        int rc = enc_one(s, t, cv, fd, slot);

        if (rc == 0)
            set_flag(msg, fd);
        return rc;
    }
    }
}

static int
enc_struct(scratch **s, const epy_gen_struct *st, const void *cv,
           ProtobufCMessage *msg)
{
    for (size_t i = 0; i < st->n_fields; i++) {
        int rc = enc_field(s, &st->fields[i], cv, msg);

        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * Builds the protobuf-c message of @value in scratch memory *@s (free
 * with scratch_free() whatever the outcome). Strings and bytes are not
 * copied: the message refers to @value's.
 */
static int
build_message(scratch **s, const epy_gen_struct *st, const void *value,
              ProtobufCMessage **ret_msg)
{
    ProtobufCMessage *msg;

    if (st == NULL || (value == NULL && st->n_fields > 0))
        return EPY_EPARAM;
    msg = scratch_alloc(s, st->pb->sizeof_message);
    if (msg == NULL)
        return EPY_ENOMEM;
    protobuf_c_message_init(st->pb, msg);
    *ret_msg = msg;
    return enc_struct(s, st, value, msg);
}

int
epy_gen_encode(const epy_gen_struct *st, const void *value, epy_buf *out)
{
    scratch *s = NULL;
    ProtobufCMessage *msg = NULL;
    int rc;

    if (out == NULL)
        return EPY_EPARAM;
    rc = build_message(&s, st, value, &msg);
    if (rc == 0) {
        size_t len = protobuf_c_message_get_packed_size(msg);

        rc = epy_buf_reserve(out, len);
        if (rc == 0)
            out->len = protobuf_c_message_pack(msg, out->data);
    }
    scratch_free(s);
    return rc;
}

/* --- the decoding budget -------------------------------------------------- */

/*
 * Everything decoding allocates is counted against a budget before it is
 * allocated (EPY_GEN_DECODE_FACTOR and EPY_GEN_DECODE_SLACK in gen.h).
 * protobuf-c's message lives in an arena: a first block on the stack (a
 * small message allocates nothing else), then chunks, and blocks of
 * their own for large allocations; protobuf-c's frees are ignored and
 * the whole arena goes at the end, so what is counted is what is held
 * (and a message whose parsing would reallocate again and again, such
 * as a singular field repeated many times, soon runs out of budget).
 * The C value is allocated with malloc(), each block counted with an
 * estimate of malloc()'s own overhead.
 */
typedef union arena_unit {
    void *p;
    uint64_t u;
    double d;
    size_t z;
} arena_unit;

#define ARENA_ALIGN _Alignof(arena_unit)
#define ARENA_STACK 4096                        /* the first block */
#define ARENA_CHUNK ((size_t) 64 << 10)         /* the next ones */
#define ARENA_LARGE ((size_t) 4 << 10)          /* then a block of its own */

typedef struct arena_block {
    struct arena_block *next;
    max_align_t data[];
} arena_block;

typedef struct dec_ctx {
    size_t left;                /* what the budget still allows */
    bool over;                  /* an allocation went past the budget */
    char *cur, *end;            /* the free part of the arena's block */
    arena_block *blocks;        /* the arena's blocks but the first */
    ProtobufCAllocator pb;      /* the arena, for protobuf-c */
} dec_ctx;

/* What malloc() takes for @size bytes (glibc: 16-byte steps, 32 least). */
static size_t
heap_cost(size_t size)
{
    if (size > SIZE_MAX / 2)
        return SIZE_MAX;
    return size <= 24 ? 32 : (size + 8 + 15) & ~(size_t) 15;
}

/* Takes @n bytes from the budget; false (and remembered) past it. */
static bool
charge(dec_ctx *d, size_t n)
{
    if (n > d->left) {
        d->over = true;
        return false;
    }
    d->left -= n;
    return true;
}

/* A block of @size bytes of heap, counted and kept in the arena's list. */
static void *
arena_block_new(dec_ctx *d, size_t size)
{
    arena_block *b;

    if (size > SIZE_MAX / 2
        || !charge(d, heap_cost(sizeof *b + size)))
        return NULL;
    b = malloc(sizeof *b + size);
    if (b == NULL)
        return NULL;
    b->next = d->blocks;
    d->blocks = b;
    return b->data;
}

static void *
arena_alloc(void *ctx, size_t size)
{
    dec_ctx *d = ctx;
    char *p;

    if (size > SIZE_MAX / 2)
        return NULL;
    size = size == 0 ? ARENA_ALIGN
                     : (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (size > (size_t) (d->end - d->cur)) {
        if (size > ARENA_LARGE)
            return arena_block_new(d, size);
        p = arena_block_new(d, ARENA_CHUNK);
        if (p == NULL)
            return NULL;
        d->cur = p;
        d->end = p + ARENA_CHUNK;
    }
    p = d->cur;
    d->cur += size;
    return p;
}

/* protobuf-c frees nothing itself: the arena goes as a whole. */
static void
arena_free(void *ctx, void *p)
{
    (void) ctx;
    (void) p;
}

static void
dec_init(dec_ctx *d, size_t len, void *first, size_t first_size)
{
    d->left = len <= (SIZE_MAX - EPY_GEN_DECODE_SLACK) / EPY_GEN_DECODE_FACTOR
        ? len * EPY_GEN_DECODE_FACTOR + EPY_GEN_DECODE_SLACK : SIZE_MAX;
    d->over = false;
    d->cur = first;
    d->end = d->cur + first_size;
    d->blocks = NULL;
    d->pb.alloc = arena_alloc;
    d->pb.free = arena_free;
    d->pb.allocator_data = d;
}

static void
dec_release(dec_ctx *d)
{
    while (d->blocks != NULL) {
        arena_block *next = d->blocks->next;

        free(d->blocks);
        d->blocks = next;
    }
}

/* malloc() (calloc() with @zero) for the C value, within the budget. */
static void *
dec_malloc(dec_ctx *d, size_t size, bool zero)
{
    if (size == 0)
        size = 1;
    if (!charge(d, heap_cost(size)))
        return NULL;
    return zero ? calloc(1, size) : malloc(size);
}

/* --- protobuf-c -> C layout -------------------------------------------------- */

static void clear_value(const epy_gen_type *t, void *cv);
static int dec_struct(dec_ctx *d, const epy_gen_struct *st,
                      const ProtobufCMessage *msg, void *cv);

/*
 * An absent message reads as an empty one, so that the strings of an
 * absent struct are "" as everywhere else, never NULL.
 */
static int
dec_message(dec_ctx *d, const epy_gen_struct *st, const void *slot, void *cv)
{
    const ProtobufCMessage *m;

    memcpy(&m, slot, sizeof m);
    if (m == NULL) {
        ProtobufCMessage *empty = arena_alloc(d, st->pb->sizeof_message);

        if (empty == NULL)
            return EPY_ENOMEM;
        protobuf_c_message_init(st->pb, empty);
        m = empty;
    }
    return dec_struct(d, st, m, cv);
}

/*
 * The small integer types travel as protobuf's 32-bit ones: stores the
 * value at @slot in the C integer of kind @k at @cv, or returns
 * EPY_EPROTO if it does not fit (rather than cutting it as a C
 * conversion would).
 */
static int
dec_small(epy_gen_kind k, const void *slot, void *cv)
{
    int32_t s;
    uint32_t u;

    memcpy(&s, slot, sizeof s);
    memcpy(&u, slot, sizeof u);
    switch (k) {
    case EPY_GEN_INT8: {
        int8_t x;

        if (s < INT8_MIN || s > INT8_MAX)
            return EPY_EPROTO;
        x = (int8_t) s;
        memcpy(cv, &x, sizeof x);
        return 0;
    }
    case EPY_GEN_INT16: {
        int16_t x;

        if (s < INT16_MIN || s > INT16_MAX)
            return EPY_EPROTO;
        x = (int16_t) s;
        memcpy(cv, &x, sizeof x);
        return 0;
    }
    case EPY_GEN_UINT8: {
        uint8_t x;

        if (u > UINT8_MAX)
            return EPY_EPROTO;
        x = (uint8_t) u;
        memcpy(cv, &x, sizeof x);
        return 0;
    }
    case EPY_GEN_UINT16: {
        uint16_t x;

        if (u > UINT16_MAX)
            return EPY_EPROTO;
        x = (uint16_t) u;
        memcpy(cv, &x, sizeof x);
        return 0;
    }
    default:
        return EPY_EPROTO;
    }
}

/* An enum value must be one of its enum's (the IDL's) values. */
static int
dec_enum(const void *slot, const ProtobufCFieldDescriptor *fd, void *cv)
{
    int v;

    memcpy(&v, slot, sizeof v);
    if (fd->type != PROTOBUF_C_TYPE_ENUM || fd->descriptor == NULL
        || protobuf_c_enum_descriptor_get_value(fd->descriptor, v) == NULL)
        return EPY_EPROTO;
    memcpy(cv, &v, sizeof v);
    return 0;
}

static int
dec_one(dec_ctx *d, const epy_gen_type *t, const void *slot,
        const ProtobufCFieldDescriptor *fd, void *cv)
{
    switch (t->kind) {
    case EPY_GEN_BOOL: {
        protobuf_c_boolean v;
        bool b;

        memcpy(&v, slot, sizeof v);
        b = v != 0;
        memcpy(cv, &b, sizeof b);
        return 0;
    }
    case EPY_GEN_INT8:
    case EPY_GEN_INT16:
    case EPY_GEN_UINT8:
    case EPY_GEN_UINT16:
        return dec_small(t->kind, slot, cv);
    case EPY_GEN_ENUM:
        return dec_enum(slot, fd, cv);
    case EPY_GEN_INT32:
    case EPY_GEN_INT64:
    case EPY_GEN_UINT32:
    case EPY_GEN_UINT64:
    case EPY_GEN_FLOAT:
    case EPY_GEN_DOUBLE:
        memcpy(cv, slot, t->size);
        return 0;
    case EPY_GEN_STRING: {
        const char *p;
        char *copy;
        size_t n;

        memcpy(&p, slot, sizeof p);
        if (p == NULL)
            p = "";
        n = strlen(p);
        copy = dec_malloc(d, n + 1, false);
        if (copy == NULL)
            return EPY_ENOMEM;
        memcpy(copy, p, n + 1);
        memcpy(cv, &copy, sizeof copy);
        return 0;
    }
    case EPY_GEN_BYTES: {
        ProtobufCBinaryData pd;
        epy_bytes b;

        /*
         * Copied: protobuf-c's copy is in the arena. Received empty
         * bytes get a block of their own too, so that their data is not
         * NULL (absent ones are { NULL, 0 }).
         */
        memcpy(&pd, slot, sizeof pd);
        b.len = pd.len;
        b.data = dec_malloc(d, pd.len, false);
        if (b.data == NULL)
            return EPY_ENOMEM;
        if (pd.len > 0)
            memcpy(b.data, pd.data, pd.len);
        memcpy(cv, &b, sizeof b);
        return 0;
    }
    case EPY_GEN_STRUCT:
        return dec_message(d, t->st, slot, cv);
    case EPY_GEN_LIST:
    case EPY_GEN_OPTIONAL:
    case EPY_GEN_MAP: {
        epy_gen_field f;
        epy_gen_struct w;

        wrapper_of(t, &f, &w, fd->descriptor);
        return dec_message(d, &w, slot, cv);
    }
    }
    return EPY_EPROTO;
}

static bool pb_present(const ProtobufCMessage *msg,
                       const ProtobufCFieldDescriptor *fd);

static int
dec_entry(dec_ctx *d, const epy_gen_type *t, const void *slot, void *cv)
{
    const ProtobufCMessage *m;
    const ProtobufCFieldDescriptor *kfd, *vfd;
    int rc;

    memcpy(&m, slot, sizeof m);
    if (m == NULL)
        return EPY_EPROTO;
    kfd = protobuf_c_message_descriptor_get_field(m->descriptor, 1);
    vfd = protobuf_c_message_descriptor_get_field(m->descriptor, 2);
    if (kfd == NULL || vfd == NULL)
        return EPY_EPROTO;
    if (t->key->kind == EPY_GEN_STRING || pb_present(m, kfd)) {
        rc = dec_one(d, t->key, (const char *) m + kfd->offset, kfd, cv);
        if (rc < 0)
            return rc;
    }
    if (t->elem->kind == EPY_GEN_STRING || t->elem->kind == EPY_GEN_STRUCT
        || pb_present(m, vfd))
        return dec_one(d, t->elem, (const char *) m + vfd->offset, vfd,
                       (char *) cv + t->value_offset);
    return 0;
}

static bool
pb_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
    const char *slot = (const char *) msg + fd->offset;

    if (pb_has_flag(fd)) {
        protobuf_c_boolean has;

        memcpy(&has, (const char *) msg + fd->quantifier_offset, sizeof has);
        return has != 0;
    }
    if (fd->type == PROTOBUF_C_TYPE_STRING
        || fd->type == PROTOBUF_C_TYPE_MESSAGE) {
        const void *p;

        memcpy(&p, slot, sizeof p);
        return p != NULL;
    }
    return true;
}

static int
dec_field(dec_ctx *d, const epy_gen_field *f, const ProtobufCMessage *msg,
          void *base)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(msg->descriptor, f->number);
    const epy_gen_type *t = f->type;
    char *cv = (char *) base + f->offset;
    const char *slot;

    if (fd == NULL)
        return EPY_EPROTO;
    slot = (const char *) msg + fd->offset;
    switch (t->kind) {
    case EPY_GEN_LIST:
    case EPY_GEN_MAP: {
        size_t esize = pb_slot_size(fd);
        size_t csize = t->kind == EPY_GEN_MAP ? t->entry_size
                                              : t->elem->size;
        gen_list l = { 0, NULL };
        const char *arr;
        size_t n;

        if (fd->label != PROTOBUF_C_LABEL_REPEATED)
            return EPY_EPROTO;
        memcpy(&n, (const char *) msg + fd->quantifier_offset, sizeof n);
        memcpy(&arr, slot, sizeof arr);
        if (n == 0)
            return 0;
        if (n > SIZE_MAX / 2 / csize) {
            d->over = true;
            return EPY_ENOMEM;
        }
        l.items = dec_malloc(d, n * csize, true);
        if (l.items == NULL)
            return EPY_ENOMEM;
        l.n = n;
        memcpy(cv, &l, sizeof l);
        for (size_t i = 0; i < n; i++) {
            char *item = (char *) l.items + i * csize;
            int rc = t->kind == EPY_GEN_MAP
                ? dec_entry(d, t, arr + i * esize, item)
                : dec_one(d, t->elem, arr + i * esize, fd, item);

            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case EPY_GEN_OPTIONAL: {
        bool has = pb_present(msg, fd);

        if (!has)
            return 0;
        memcpy(cv, &has, sizeof has);
        return dec_one(d, t->elem, slot, fd, cv + t->value_offset);
    }
    case EPY_GEN_STRING:
    case EPY_GEN_STRUCT:
        /* An absent string reads as "", never NULL; a struct as empty. */
        return dec_one(d, t, slot, fd, cv);
    default:
        if (!pb_present(msg, fd))
            return 0;
        return dec_one(d, t, slot, fd, cv);
    }
}

static int
dec_struct(dec_ctx *d, const epy_gen_struct *st, const ProtobufCMessage *msg,
           void *cv)
{
    if (msg->descriptor != st->pb)
        return EPY_EPROTO;
    for (size_t i = 0; i < st->n_fields; i++) {
        int rc = dec_field(d, &st->fields[i], msg, cv);

        if (rc < 0)
            return rc;
    }
    return 0;
}

/* --- nesting depth of received messages ------------------------------------ */

/* Reads a varint at *@p (below @end); false if malformed. */
static bool
read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;

        if (*p >= end)
            return false;
        b = *(*p)++;
        v |= (uint64_t) (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *ret = v;
            return true;
        }
    }
    return false;
}

/*
 * True if the message @data of type @desc nests sub-messages at most
 * EPY_GEN_MAX_DEPTH deep, and its framing is sound. Walks the wire form
 * with its own stack: protobuf-c's parser and the conversion below
 * recurse once per level, so a hostile peer could otherwise exhaust the
 * stack with a deeply nested message of a recursive type.
 */
static bool
depth_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
         size_t len)
{
    struct level {
        const ProtobufCMessageDescriptor *desc;
        const uint8_t *end;
    } stack[EPY_GEN_MAX_DEPTH + 1];
    const uint8_t *p = data;
    int sp = 0;

    stack[0].desc = desc;
    stack[0].end = data + len;
    for (;;) {
        const ProtobufCFieldDescriptor *fd;
        uint64_t key, n;

        while (p == stack[sp].end) {
            if (sp == 0)
                return true;
            sp--;
        }
        if (!read_varint(&p, stack[sp].end, &key) || (key >> 3) == 0
            || (key >> 3) > UINT32_MAX)
            return false;
        switch (key & 7) {
        case 0:
            if (!read_varint(&p, stack[sp].end, &n))
                return false;
            break;
        case 1:
            if (stack[sp].end - p < 8)
                return false;
            p += 8;
            break;
        case 5:
            if (stack[sp].end - p < 4)
                return false;
            p += 4;
            break;
        case 2:
            if (!read_varint(&p, stack[sp].end, &n)
                || n > (uint64_t) (stack[sp].end - p))
                return false;
            fd = stack[sp].desc != NULL
                ? protobuf_c_message_descriptor_get_field(stack[sp].desc,
                                                          (unsigned) (key >> 3))
                : NULL;
            if (fd != NULL && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (sp == EPY_GEN_MAX_DEPTH)
                    return false;
                sp++;
                stack[sp].desc = fd->descriptor;
                stack[sp].end = p + n;
            } else {
                p += n;
            }
            break;
        default:
            return false;
        }
    }
}

int
epy_gen_decode(const epy_gen_struct *st, const void *data, size_t len,
               void *value)
{
    arena_unit first[ARENA_STACK / sizeof(arena_unit)];
    ProtobufCMessage *msg;
    dec_ctx d;
    int rc;

    if (st == NULL || (value == NULL && st->size > 0)
        || (data == NULL && len > 0))
        return EPY_EPARAM;
    if (st->size > 0)
        memset(value, 0, st->size);
    if (len > 0 && !depth_ok(st->pb, data, len))
        return EPY_EPROTO;
    dec_init(&d, len, first, sizeof first);
    msg = protobuf_c_message_unpack(st->pb, &d.pb, len,
                                    data != NULL ? data
                                                 : (const void *) "");
    rc = msg == NULL ? EPY_EPROTO : dec_struct(&d, st, msg, value);
    /* Whatever failed, an allocation refused for the budget is the cause. */
    if (d.over)
        rc = EPY_ETOOBIG;
    if (rc < 0)
        epy_gen_clear(st, value);
    dec_release(&d);
    return rc;
}

/* --- freeing ---------------------------------------------------------------- */

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
    case EPY_GEN_STRING: {
        char *p;

        memcpy(&p, cv, sizeof p);
        free(p);
        break;
    }
    case EPY_GEN_BYTES: {
        epy_bytes b;

        memcpy(&b, cv, sizeof b);
        free(b.data);
        break;
    }
    case EPY_GEN_STRUCT:
        clear_struct(t->st, cv);
        return;
    case EPY_GEN_LIST:
    case EPY_GEN_MAP: {
        gen_list l;
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

/* --- typed calls ---------------------------------------------------------------- */

/*
 * The arguments' message, built in *@s (free with scratch_free()); the
 * frame packs it in place. Sets @ret_err on failure.
 */
static int
build_args(scratch **s, const epy_gen_struct *st, const void *args,
           epy__payload *p, const char *method, epy_error *ret_err)
{
    ProtobufCMessage *msg = NULL;
    int rc = build_message(s, st, args, &msg);

    if (rc < 0)
        return epy_error_setf(ret_err, rc, "%s: cannot encode the arguments: %s",
                              method, epy_strerror(rc));
    p->data = NULL;
    p->len = 0;
    p->msg = msg;
    p->deadline = 0;
    return 0;
}

/* Why a received message was refused, for an error message. */
static const char *
decode_failure(int rc)
{
    return rc == EPY_ETOOBIG ? "exceeds the decoding budget"
                             : "does not decode";
}

/* The decoder of a synchronous typed call: the reply, into @value. */
typedef struct result_sink {
    const epy_gen_struct *st;
    void *value;                /* st->size bytes */
    bool bad;                   /* the reply did not decode */
} result_sink;

static int
decode_result(void *ctx, const uint8_t *data, size_t len)
{
    result_sink *r = ctx;
    int rc = epy_gen_decode(r->st, data, data != NULL ? len : 0, r->value);

    r->bad = rc < 0;
    return rc;
}

int
epy_gen_call(epy_api *api, const char *method, const epy_gen_struct *args_st,
             const void *args, const epy_call_opts *opts,
             const epy_gen_struct *result_st, void *ret_result,
             epy_error *ret_err)
{
    scratch *s = NULL;
    epy__payload req;
    result_sink sink = { result_st, NULL, false };
    bool typed = result_st != NULL && ret_result != NULL;
    int rc;

    if (api == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL api");
    rc = build_args(&s, args_st, args, &req, method, ret_err);
    if (rc == 0 && typed) {
        /* Decoded aside, so that @ret_result is untouched on failure. */
        sink.value = malloc(result_st->size != 0 ? result_st->size : 1);
        if (sink.value == NULL)
            rc = epy_error_set(ret_err, EPY_ENOMEM, NULL);
    }
    if (rc == 0)
        rc = epy__api_call(api, method, &req, opts, NULL,
                           typed ? decode_result : NULL, &sink, ret_err);
    scratch_free(s);
    if (rc == 0 && typed)
        memcpy(ret_result, sink.value, result_st->size);
    else if (sink.bad)
        epy_error_setf(ret_err, rc, "%s: the reply %s", method,
                       decode_failure(rc));
    free(sink.value);
    return rc;
}

int
epy_gen_call_async(epy_api *api, const char *method,
                   const epy_gen_struct *args_st, const void *args,
                   const epy_call_opts *opts, epy_async **ret_async,
                   epy_error *ret_err)
{
    scratch *s = NULL;
    epy__payload req;
    int rc;

    if (api == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL api");
    rc = build_args(&s, args_st, args, &req, method, ret_err);
    if (rc == 0)
        rc = epy__api_call_async(api, method, &req, opts, ret_async, ret_err);
    scratch_free(s);
    return rc;
}

int
epy_gen_send(epy_api *api, const char *method, const epy_gen_struct *args_st,
             const void *args, epy_error *ret_err)
{
    scratch *s = NULL;
    epy__payload req;
    int rc;

    if (api == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL api");
    rc = build_args(&s, args_st, args, &req, method, ret_err);
    if (rc == 0)
        rc = epy__api_send(api, method, &req, ret_err);
    scratch_free(s);
    return rc;
}

int
epy_gen_result(epy_async *async, const epy_gen_struct *result_st,
               void *ret_result, epy_error *ret_err)
{
    const uint8_t *data;
    size_t len = 0;
    void *tmp;
    int rc;

    if (async == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL async handle");
    switch (epy_async_status_get(async)) {
    case EPY_ASYNC_PENDING:
        return epy_error_set(ret_err, EPY_EPENDING, NULL);
    case EPY_ASYNC_DONE:
        break;
    default:
        rc = epy_async_result(async, NULL, ret_err);
        return rc < 0 ? rc : epy_error_set(ret_err, EPY_EFAILED, NULL);
    }
    if (result_st == NULL || ret_result == NULL)
        return 0;
    data = epy_async_reply(async, &len);
    tmp = malloc(result_st->size != 0 ? result_st->size : 1);
    if (tmp == NULL)
        return epy_error_set(ret_err, EPY_ENOMEM, NULL);
    rc = epy_gen_decode(result_st, data, data != NULL ? len : 0, tmp);
    if (rc == 0)
        memcpy(ret_result, tmp, result_st->size);
    else
        epy_error_setf(ret_err, rc, "the reply %s", decode_failure(rc));
    free(tmp);
    return rc;
}

/* --- the receiving side ---------------------------------------------------------- */

int
epy_gen_reply(epy_call *call, const epy_gen_struct *result_st,
              const void *result)
{
    scratch *s = NULL;
    ProtobufCMessage *msg = NULL;
    epy__payload p = { NULL, 0, NULL, 0 };
    int rc;

    if (call == NULL)
        return EPY_EPARAM;
    if (result_st == NULL || !epy_call_solicited(call))
        return epy_call_reply(call, NULL, 0);
    rc = build_message(&s, result_st, result, &msg);
    if (rc < 0) {
        scratch_free(s);
        epy_call_fail(call, rc, NULL, "cannot encode the result", NULL, 0);
        return rc;
    }
    p.msg = msg;
    rc = epy__call_reply_payload(call, &p);
    scratch_free(s);
    return rc;
}

int
epy_gen_finish(epy_call *call, int rc, const epy_gen_struct *result_st,
               void *result)
{
    int ret;

    if (rc == 0) {
        epy_gen_reply(call, result_st, result);
        ret = 0;
    } else if (rc == EPY_GEN_RAISED) {
        ret = 0;
    } else if (rc == EPY_DEFER || rc < 0) {
        ret = rc;
    } else {
        ret = EPY_EFAILED;
    }
    if (result_st != NULL && result != NULL)
        epy_gen_clear(result_st, result);
    return ret;
}

int
epy_gen_raise(epy_call *call, const char *type_name,
              const epy_gen_struct *st, const void *value,
              const char *message)
{
    epy_buf out = EPY_BUF_INIT;
    int rc;

    if (call == NULL)
        return EPY_GEN_RAISED;
    rc = value != NULL ? epy_gen_encode(st, value, &out) : 0;
    if (rc < 0)
        epy_call_fail(call, rc, type_name, "cannot encode the error", NULL,
                      0);
    else
        epy_call_fail(call, EPY_EFAILED, type_name,
                      message != NULL ? message : type_name, out.data,
                      out.len);
    epy_buf_clear(&out);
    return EPY_GEN_RAISED;
}

int
epy_gen_error_get(const epy_error *err, const char *type_name,
                  const epy_gen_struct *st, void *ret_value)
{
    if (err == NULL || type_name == NULL || st == NULL || ret_value == NULL)
        return EPY_EPARAM;
    if (err->type == NULL || strcmp(err->type, type_name) != 0)
        return EPY_ENOTFOUND;
    return epy_gen_decode(st, err->payload, err->payload_len, ret_value);
}

/* --- handler tables ------------------------------------------------------------- */

typedef struct served {
    struct served *next;
    epy_peer *peer;
    char *ns;
    char **names;
    size_t n_names;
    void *closure;
} served;

static pthread_mutex_t served_lock = PTHREAD_MUTEX_INITIALIZER;
static served *served_list;

static void
served_free(served *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i]);
    free(s->names);
    free(s->ns);
    free(s->closure);
    free(s);
}

static void
served_undo(served *s)
{
    for (size_t i = 0; i < s->n_names; i++)
        epy_peer_handle(s->peer, s->names[i], NULL, NULL, NULL);
    epy_peer_serve_ns(s->peer, s->ns, false, NULL);
}

int
epy_gen_serve(epy_peer *peer, const char *ns, const epy_gen_handler *h,
              size_t n, void *closure)
{
    served *s;
    size_t nslen;
    int rc;

    if (peer == NULL || ns == NULL || (h == NULL && n > 0)) {
        free(closure);
        return EPY_EPARAM;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        free(closure);
        return EPY_ENOMEM;
    }
    s->peer = peer;
    s->closure = closure;
    nslen = strlen(ns);
    s->ns = malloc(nslen + 1);
    s->names = calloc(n != 0 ? n : 1, sizeof *s->names);
    if (s->ns == NULL || s->names == NULL) {
        served_free(s);
        return EPY_ENOMEM;
    }
    memcpy(s->ns, ns, nslen + 1);
    rc = epy_peer_serve_ns(peer, ns, true, NULL);
    if (rc < 0) {
        served_free(s);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        size_t mlen;
        char *name;

        if (h[i].fn == NULL)
            continue;
        mlen = strlen(h[i].method);
        name = malloc(nslen + 1 + mlen + 1);
        if (name == NULL) {
            rc = EPY_ENOMEM;
            break;
        }
        memcpy(name, ns, nslen);
        name[nslen] = '.';
        memcpy(name + nslen + 1, h[i].method, mlen + 1);
        rc = epy_peer_handle(peer, name, h[i].fn, closure, NULL);
        if (rc < 0) {
            free(name);
            break;
        }
        s->names[s->n_names++] = name;
    }
    if (rc < 0) {
        served_undo(s);
        served_free(s);
        return rc;
    }
    pthread_mutex_lock(&served_lock);
    s->next = served_list;
    served_list = s;
    pthread_mutex_unlock(&served_lock);
    return 0;
}

int
epy_gen_unserve(epy_peer *peer, const char *ns)
{
    served *s = NULL;

    if (peer == NULL || ns == NULL)
        return EPY_EPARAM;
    pthread_mutex_lock(&served_lock);
    for (served **p = &served_list; *p != NULL; p = &(*p)->next)
        if ((*p)->peer == peer && strcmp((*p)->ns, ns) == 0) {
            s = *p;
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&served_lock);
    if (s == NULL)
        return EPY_ENOTFOUND;
    served_undo(s);
    served_free(s);
    return 0;
}

/* --- settings ---------------------------------------------------------------------- */

int
epy_gen_apply(epy_api *api, int64_t timeout_ms, int solicited, int mode)
{
    int rc = 0;

    if (timeout_ms != EPY_INHERIT)
        rc = epy_api_set_timeout(api, timeout_ms);
    if (rc == 0 && solicited >= 0)
        rc = epy_api_set_solicited(api, solicited);
    if (rc == 0 && mode >= 0)
        rc = epy_api_set_mode(api, mode);
    return rc;
}

const epy_call_opts *
epy_gen_opts(const epy_call_opts *opts, int64_t timeout_ms, int solicited,
             epy_call_opts *out)
{
    static const epy_call_opts init = EPY_CALL_OPTS_INIT;

    *out = opts != NULL ? *opts : init;
    if (out->timeout_ms == EPY_INHERIT)
        out->timeout_ms = timeout_ms;
    if (out->solicited < 0)
        out->solicited = solicited;
    return out;
}
