/*
 * protobuf-c -> C layout: decodes a received message (which may come
 * from an untrusted peer) into a C value laid out as an epy_gen_struct:
 * its nesting depth checked first, then parsed by protobuf-c and
 * converted, every allocation counted against a budget, narrow integers
 * and enum values checked against their ranges.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gen-int.h"

/* --- the decoding budget ------------------------------------------------ */

/*
 * Everything decoding allocates is counted against a budget before it is
 * allocated (EPY_GEN_DECODE_FACTOR and EPY_GEN_DECODE_SLACK in gen.h).
 * protobuf-c's message lives in an arena: a first block on the stack (a
 * small message allocates nothing else), then chunks, and blocks of
 * their own for large allocations; protobuf-c's frees are ignored and
 * the whole arena goes at the end, so what is counted is what is held
 * (and a message whose parsing would reallocate again and again, such
 * as a singular field repeated many times, soon runs out of budget).
 * The arena's chunks grow as the message does (64 KiB, then twice the
 * last, up to 4 MiB). Large blocks (past 4 KiB) are allocations of
 * their own: from the heap below 1 MiB, each as malloc() returned it, so
 * that a bytes or string value's block can be handed to the C value as
 * it is instead of copied (the arena lets go of it); blocks of 1 MiB or
 * more are mapped from the system
 * and unmapped at the end, so that what a large or hostile message took
 * goes back to the system at once, not into a heap that keeps it;
 * smaller ones come from the heap (mapping them for every message made
 * a 64 KiB round trip ten times slower). The C value is allocated with
 * malloc(), each block counted with an estimate of malloc()'s own
 * overhead.
 */
typedef union arena_unit {
    void *p;
    uint64_t u;
    double d;
    size_t z;
} arena_unit;

#define ARENA_ALIGN _Alignof(arena_unit)
#define ARENA_STACK 4096                        /* the first block */
#define ARENA_CHUNK ((size_t) 64 << 10)         /* the next ones, at least */
#define ARENA_CHUNK_MAX ((size_t) 4 << 20)      /* ... and at most */
#define ARENA_LARGE ((size_t) 4 << 10)          /* then a block of its own */
#define ARENA_MAP ((size_t) 1 << 20)            /* blocks mapped from here */

typedef struct arena_block {
    struct arena_block *next;
    size_t size;                /* mapped, this header included */
    max_align_t data[];
} arena_block;

typedef struct dec_ctx {
    size_t left;                /* what the budget still allows */
    bool over;                  /* an allocation went past the budget */
    char *cur, *end;            /* the free part of the arena's block */
    size_t chunk;               /* the size of the next chunk */
    arena_block *blocks;        /* the arena's blocks but the first */
    void **heap;                /* large blocks from the heap (NULL: given) */
    size_t n_heap, cap_heap;
    size_t cursor;              /* where the last one given was */
    ProtobufCAllocator pb;      /* the arena, for protobuf-c */
    epy__fdset *fds;            /* that came with the message, or NULL */
    uint32_t *path;             /* of the value decoded, if fds has blobs */
    size_t depth;               /* may pass EPY__BLOB_PATH_MAX */
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

/*
 * A block of @size bytes, counted and kept in the arena's list: from the
 * heap, or mapped from the system from ARENA_MAP bytes on.
 */
static void *
arena_block_new(dec_ctx *d, size_t size)
{
    size_t page = (size_t) sysconf(_SC_PAGESIZE);
    size_t map;
    arena_block *b;

    if (size > SIZE_MAX / 2)
        return NULL;
    map = (sizeof *b + size + page - 1) & ~(page - 1);
    if (map < ARENA_MAP) {
        map = sizeof *b + size;
        if (!charge(d, heap_cost(map)))
            return NULL;
        b = malloc(map);
        if (b == NULL)
            return NULL;
        b->size = 0;    /* from the heap */
    } else {
        if (!charge(d, map))
            return NULL;
        b = mmap(NULL, map, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b == MAP_FAILED)
            return NULL;
        b->size = map;
    }
    b->next = d->blocks;
    d->blocks = b;
    return b->data;
}

/* A large block of @size bytes from the heap, kept in d->heap. */
static void *
arena_heap_new(dec_ctx *d, size_t size)
{
    void *p;

    if (d->n_heap == d->cap_heap) {
        size_t cap = d->cap_heap ? 2 * d->cap_heap : 16;
        void **grown;

        if (!charge(d, heap_cost(cap * sizeof *grown)))
            return NULL;
        grown = realloc(d->heap, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        d->heap = grown;
        d->cap_heap = cap;
    }
    if (!charge(d, heap_cost(size)))
        return NULL;
    p = malloc(size);
    if (p != NULL)
        d->heap[d->n_heap++] = p;
    return p;
}

/*
 * Hands the large heap block at @p over to the caller (false if @p is
 * not one): protobuf-c's copy of a value becomes the C value's. Blocks
 * are mostly claimed in the order they were made: the search starts
 * where the last one was found.
 */
static bool
arena_give(dec_ctx *d, const void *p)
{
    for (size_t k = 0; k < d->n_heap; k++) {
        size_t i = (d->cursor + k) % d->n_heap;

        if (d->heap[i] == p) {
            d->heap[i] = NULL;
            d->cursor = i + 1;
            return true;
        }
    }
    return false;
}

static void *
arena_alloc(void *ctx, size_t size)
{
    dec_ctx *d = ctx;
    char *p;

    if (size > SIZE_MAX / 2)
        return NULL;
    if (size > ARENA_LARGE && size < ARENA_MAP - 4096)
        return arena_heap_new(d, size);
    size = size == 0 ? ARENA_ALIGN
                     : (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (size > (size_t) (d->end - d->cur)) {
        size_t chunk = d->chunk;

        if (size > ARENA_LARGE)
            return arena_block_new(d, size);
        /* A smaller chunk rather than none where the budget is short. */
        if (chunk > d->left && d->left >= 2 * ARENA_CHUNK)
            chunk = d->left / 2;
        p = arena_block_new(d, chunk);
        if (p == NULL)
            return NULL;
        d->cur = p;
        d->end = p + chunk;
        if (d->chunk < ARENA_CHUNK_MAX)
            d->chunk *= 2;
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
    d->chunk = ARENA_CHUNK;
    d->blocks = NULL;
    d->heap = NULL;
    d->n_heap = d->cap_heap = d->cursor = 0;
    d->pb.alloc = arena_alloc;
    d->pb.free = arena_free;
    d->pb.allocator_data = d;
}

static void
dec_release(dec_ctx *d)
{
    for (size_t i = 0; i < d->n_heap; i++)
        free(d->heap[i]);
    free(d->heap);
    while (d->blocks != NULL) {
        arena_block *next = d->blocks->next;

        if (d->blocks->size == 0)
            free(d->blocks);
        else
            munmap(d->blocks, d->blocks->size);
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

/* --- values that came out of line --------------------------------------- */

static void
path_push(dec_ctx *d, size_t v)
{
    if (d->path != NULL)
        epy__blob_path_push(d->path, &d->depth, v);
}

static void
path_pop(dec_ctx *d)
{
    if (d->path != NULL)
        d->depth--;
}

/*
 * The view of the blob whose path is the value's, in *@ret (NULL if
 * none is): the value on the wire (@wire_len bytes) must then be empty.
 * A blob is taken once: its descriptor becomes the view's.
 */
static int
blob_in(dec_ctx *d, size_t wire_len, bool string, void **ret, size_t *len)
{
    epy__fdset *s = d->fds;

    *ret = NULL;
    if (d->depth > EPY__BLOB_PATH_MAX)
        return 0;
    for (int i = 0; i < s->n_blobs; i++) {
        const epy__blobref *r = &s->blobs[i];
        int rc;

        if (r->depth != d->depth
            || memcmp(r->path, d->path, d->depth * sizeof *d->path) != 0)
            continue;
        if (wire_len != 0 || r->fd == 0 || r->fd > (uint32_t) s->n
            || s->fd[r->fd - 1] < 0 || r->len > SIZE_MAX - 1)
            return EPY_EPROTO;
        rc = epy__blob_map(s->fd[r->fd - 1], r->len, string, ret);
        if (rc < 0)
            return rc;
        s->fd[r->fd - 1] = -1;
        *len = (size_t) r->len;
        return 0;
    }
    return 0;
}

/* --- protobuf-c -> C layout --------------------------------------------- */

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
    case EPY_GEN_FD: {
        uint32_t k;
        int v = -1;

        memcpy(&k, slot, sizeof k);
        if (k != 0) {
            /* Each descriptor that came is taken once, by one value. */
            if (d->fds == NULL || k > (uint32_t) d->fds->n
                || d->fds->fd[k - 1] < 0)
                return EPY_EPROTO;
            v = d->fds->fd[k - 1];
            d->fds->fd[k - 1] = -1;
        }
        memcpy(cv, &v, sizeof v);
        return 0;
    }
    case EPY_GEN_STRING: {
        const char *p;
        char *copy;
        size_t n;

        memcpy(&p, slot, sizeof p);
        if (p == NULL)
            p = "";
        n = strlen(p);
        if (d->path != NULL) {
            void *view;
            int rc = blob_in(d, n, true, &view, &n);

            if (rc < 0)
                return rc;
            if (view != NULL) {
                memcpy(cv, &view, sizeof view);
                return 0;
            }
        }
        if (n + 1 > ARENA_LARGE && arena_give(d, p)) {
            memcpy(cv, &p, sizeof p);       /* protobuf-c's, now the value's */
            return 0;
        }
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
        if (d->path != NULL) {
            void *view;
            int rc = blob_in(d, pd.len, false, &view, &b.len);

            if (rc < 0)
                return rc;
            if (view != NULL) {
                b.data = view;
                memcpy(cv, &b, sizeof b);
                return 0;
            }
        }
        b.len = pd.len;
        if (pd.len > ARENA_LARGE && arena_give(d, pd.data)) {
            b.data = pd.data;               /* protobuf-c's, now the value's */
            memcpy(cv, &b, sizeof b);
            return 0;
        }
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

        epy__gen_wrapper_of(t, &f, &w, fd->descriptor);
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
        path_push(d, 1);
        rc = dec_one(d, t->key, (const char *) m + kfd->offset, kfd, cv);
        path_pop(d);
        if (rc < 0)
            return rc;
    }
    if (t->elem->kind == EPY_GEN_STRING || t->elem->kind == EPY_GEN_STRUCT
        || pb_present(m, vfd)) {
        path_push(d, 2);
        rc = dec_one(d, t->elem, (const char *) m + vfd->offset, vfd,
                     (char *) cv + t->value_offset);
        path_pop(d);
        return rc;
    }
    return 0;
}

static bool
pb_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
    const char *slot = (const char *) msg + fd->offset;

    if (epy__gen_pb_has_flag(fd)) {
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
        size_t esize = epy__gen_pb_slot_size(fd);
        size_t csize = t->kind == EPY_GEN_MAP ? t->entry_size
                                              : t->elem->size;
        epy__gen_list l = { 0, NULL };
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
            int rc;

            path_push(d, i);
            rc = t->kind == EPY_GEN_MAP
                ? dec_entry(d, t, arr + i * esize, item)
                : dec_one(d, t->elem, arr + i * esize, fd, item);
            path_pop(d);
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
    case EPY_GEN_FD:
        /*
         * An absent string reads as "", never NULL; a struct as empty; a
         * descriptor as -1.
         */
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
        int rc;

        path_push(d, st->fields[i].number);
        rc = dec_field(d, &st->fields[i], msg, cv);
        path_pop(d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int
epy_gen_decode(const epy_gen_struct *st, const void *data, size_t len,
               void *value)
{
    return epy__gen_decode_fds(st, data, len, value, NULL);
}

int
epy__gen_decode_fds(const epy_gen_struct *st, const void *data, size_t len,
                    void *value, epy__fdset *fds)
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
    if (len > 0 && !epy__gen_depth_ok(st->pb, data, len))
        return EPY_EPROTO;
    dec_init(&d, len, first, sizeof first);
    d.fds = fds;
    d.path = NULL;
    d.depth = 0;
    if (fds != NULL && fds->n_blobs > 0) {
        d.path = malloc(EPY__BLOB_PATH_MAX * sizeof *d.path);
        if (d.path == NULL)
            return EPY_ENOMEM;
    }
    msg = protobuf_c_message_unpack(st->pb, &d.pb, len,
                                    data != NULL ? data
                                                 : (const void *) "");
    rc = msg == NULL ? EPY_EPROTO : dec_struct(&d, st, msg, value);
    free(d.path);
    /* Whatever failed, an allocation refused for the budget is the cause. */
    if (d.over)
        rc = EPY_ETOOBIG;
    if (rc < 0)
        epy_gen_clear(st, value);
    dec_release(&d);
    return rc;
}
