/*
 * C layout -> protobuf-c: builds the protobuf-c message of a C value laid
 * out as an epy_gen_struct, in scratch memory freed as a whole, for
 * protobuf-c to pack (epy_gen_encode(), and the calls and replies of
 * gen.c, whose frames pack the message in place).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen-int.h"

/* --- scratch memory for the messages being packed ----------------------- */

typedef struct scratch_chunk {
    struct scratch_chunk *next;
    max_align_t data[];
} scratch_chunk;

/*
 * Where the values sent out of line are: the path of the value being
 * built (field numbers, list indices and map entry parts, from the
 * outermost message in), and their references.
 */
typedef struct blob_state {
    epy__blob_policy pol;
    uint64_t total;             /* the bytes sent out of line so far */
    size_t depth;               /* may pass EPY__BLOB_PATH_MAX: none below */
    uint32_t path[EPY__BLOB_PATH_MAX];
    int n;
    epy__blobref refs[EPY_GEN_MAX_FDS];
} blob_state;

/*
 * Made by the first allocation: the chunks, the descriptors met, and a
 * first area from which the messages of a small value are taken, so that
 * sending one costs a single allocation.
 */
#define SCRATCH_FIRST 512

struct epy__gen_scratch {
    scratch_chunk *chunks;
    blob_state *blobs;          /* NULL: no value goes out of line */
    uint64_t owned;             /* fds[i] is a memfd made here: bit i */
    int n_fds;
    size_t first_used;          /* units of first[] taken */
    max_align_t first[SCRATCH_FIRST / sizeof (max_align_t)];
    int fds[EPY_GEN_MAX_FDS];   /* n_fds of them set */
};

static bool
scratch_init(epy__gen_scratch **s)
{
    if (*s == NULL) {
        *s = malloc(sizeof **s);
        if (*s == NULL)
            return false;
        (*s)->chunks = NULL;
        (*s)->blobs = NULL;
        (*s)->owned = 0;
        (*s)->n_fds = 0;
        (*s)->first_used = 0;
    }
    return true;
}

/* @size zeroed bytes, aligned as malloc() aligns, freed with @s. */
static void *
scratch_alloc(epy__gen_scratch **s, size_t size)
{
    scratch_chunk *c;
    size_t units = (size + sizeof (max_align_t) - 1) / sizeof (max_align_t);

    if (!scratch_init(s))
        return NULL;
    if (units <= sizeof (*s)->first / sizeof (max_align_t)
                     - (*s)->first_used) {
        max_align_t *p = (*s)->first + (*s)->first_used;

        (*s)->first_used += units;
        return memset(p, 0, size);
    }
    c = calloc(1, sizeof *c + (size != 0 ? size : 1));
    if (c == NULL)
        return NULL;
    c->next = (*s)->chunks;
    (*s)->chunks = c;
    return c->data;
}

/* Frees @s and every message built in it; NULL is accepted. */
void
epy__gen_scratch_free(epy__gen_scratch *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->n_fds; i++)
        if (s->owned >> i & 1)
            close(s->fds[i]);
    free(s->blobs);
    while (s->chunks != NULL) {
        scratch_chunk *next = s->chunks->next;

        free(s->chunks);
        s->chunks = next;
    }
    free(s);
}

int
epy__gen_scratch_fds(const epy__gen_scratch *s, const int **ret_fds)
{
    *ret_fds = s != NULL ? s->fds : NULL;
    return s != NULL ? s->n_fds : 0;
}

int
epy__gen_scratch_blobs(const epy__gen_scratch *s,
                       const epy__blobref **ret_blobs)
{
    *ret_blobs = s != NULL && s->blobs != NULL ? s->blobs->refs : NULL;
    return s != NULL && s->blobs != NULL ? s->blobs->n : 0;
}

/* --- values out of line ------------------------------------------------- */

static void
path_push(epy__gen_scratch **s, size_t v)
{
    blob_state *b = *s != NULL ? (*s)->blobs : NULL;

    if (b != NULL)
        epy__blob_path_push(b->path, &b->depth, v);
}

static void
path_pop(epy__gen_scratch **s)
{
    if (*s != NULL && (*s)->blobs != NULL)
        (*s)->blobs->depth--;
}

/*
 * Sends the @len bytes at @data (and the NUL after them for a @string)
 * out of line if the policy says so: *@sent tells.
 */
static int
blob_out(epy__gen_scratch **s, const void *data, size_t len, bool string,
         bool *sent)
{
    blob_state *b = (*s)->blobs;
    epy__blobref *r;
    uint32_t *path;
    int rc, fd;

    *sent = false;
    if (b == NULL || len < b->pol.threshold || len == 0
        || b->depth > EPY__BLOB_PATH_MAX || (*s)->n_fds == EPY_GEN_MAX_FDS)
        return 0;
    if (len > b->pol.limit || b->total + len > b->pol.limit)
        return EPY_ETOOBIG;
    path = scratch_alloc(s, b->depth * sizeof *path);
    if (path == NULL)
        return EPY_ENOMEM;
    memcpy(path, b->path, b->depth * sizeof *path);
    rc = epy__blob_make(data, len + (string ? 1 : 0), &fd);
    if (rc < 0)
        return rc;
    (*s)->owned |= (uint64_t) 1 << (*s)->n_fds;
    (*s)->fds[(*s)->n_fds++] = fd;
    r = &b->refs[b->n++];
    r->path = path;
    r->depth = b->depth;
    r->fd = (uint32_t) (*s)->n_fds;
    r->len = len;
    b->total += len;
    *sent = true;
    return 0;
}

/* --- C layout -> protobuf-c --------------------------------------------- */

static int enc_struct(epy__gen_scratch **s, const epy_gen_struct *st,
                      const void *cv, ProtobufCMessage *msg);

static int
enc_message(epy__gen_scratch **s, const epy_gen_struct *st,
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
enc_one(epy__gen_scratch **s, const epy_gen_type *t, const void *cv,
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
        bool sent = false;
        int rc = 0;

        memcpy(&p, cv, sizeof p);
        if (p == NULL)
            p = (char *) "";
        else if ((*s)->blobs != NULL)
            rc = blob_out(s, p, strlen(p), true, &sent);
        if (sent)
            p = (char *) "";
        memcpy(slot, &p, sizeof p);
        return rc;
    }
    case EPY_GEN_BYTES: {
        epy_bytes b;
        ProtobufCBinaryData d;
        bool sent = false;
        int rc = 0;

        memcpy(&b, cv, sizeof b);
        if (b.data == NULL && b.len > 0)
            return EPY_EPARAM;
        if ((*s)->blobs != NULL)
            rc = blob_out(s, b.data, b.len, false, &sent);
        d.len = sent ? 0 : b.len;
        d.data = sent ? NULL : b.data;
        memcpy(slot, &d, sizeof d);
        return rc;
    }
    case EPY_GEN_FD: {
        int v;
        uint32_t k = 0;

        memcpy(&v, cv, sizeof v);
        if (v >= 0) {
            /* The k-th descriptor of the frame, counted from 1. */
            if (!scratch_init(s))
                return EPY_ENOMEM;
            if ((*s)->n_fds == EPY_GEN_MAX_FDS)
                return EPY_ETOOBIG;
            (*s)->fds[(*s)->n_fds++] = v;
            k = (uint32_t) (*s)->n_fds;
        }
        memcpy(slot, &k, sizeof k);
        return 0;
    }
    case EPY_GEN_STRUCT:
        return enc_message(s, t->st, fd, cv, slot);
    case EPY_GEN_LIST:
    case EPY_GEN_OPTIONAL:
    case EPY_GEN_MAP: {
        epy_gen_field f;
        epy_gen_struct w;

        epy__gen_wrapper_of(t, &f, &w, fd->descriptor);
        return enc_message(s, &w, fd, cv, slot);
    }
    }
    return EPY_EPARAM;
}

static void
set_flag(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
    if (epy__gen_pb_has_flag(fd)) {
        protobuf_c_boolean one = 1;

        memcpy((char *) msg + fd->quantifier_offset, &one, sizeof one);
    }
}

/*
 * A map entry { K key; V value; } as its message: key = 1, value = 2; a
 * generic value travels in its one-field wrapper message.
 */
static int
enc_entry(epy__gen_scratch **s, const epy_gen_type *t, const void *cv,
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
    path_push(s, 1);
    rc = enc_one(s, t->key, cv, kfd, (char *) m + kfd->offset);
    path_pop(s);
    if (rc < 0)
        return rc;
    set_flag(m, kfd);
    path_push(s, 2);
    rc = enc_one(s, t->elem, (const char *) cv + t->value_offset, vfd,
                 (char *) m + vfd->offset);
    path_pop(s);
    if (rc < 0)
        return rc;
    set_flag(m, vfd);
    return 0;
}

static int
enc_field(epy__gen_scratch **s, const epy_gen_field *f, const void *base,
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
        epy__gen_list l;
        size_t esize = epy__gen_pb_slot_size(fd);
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

            path_push(s, i);
            if (t->kind == EPY_GEN_MAP)
                rc = enc_entry(s, t, item, fd, arr + i * esize);
            else
                rc = enc_one(s, t->elem, item, fd, arr + i * esize);
            path_pop(s);
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
enc_struct(epy__gen_scratch **s, const epy_gen_struct *st, const void *cv,
           ProtobufCMessage *msg)
{
    for (size_t i = 0; i < st->n_fields; i++) {
        int rc;

        path_push(s, st->fields[i].number);
        rc = enc_field(s, &st->fields[i], cv, msg);
        path_pop(s);

        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * Builds the protobuf-c message of @value in scratch memory *@s (free
 * with epy__gen_scratch_free() whatever the outcome). Strings and bytes
 * are not copied: the message refers to @value's.
 */
int
epy__gen_build_message(epy__gen_scratch **s, const epy_gen_struct *st,
                       const void *value, ProtobufCMessage **ret_msg)
{
    return epy__gen_build_message_blobs(s, st, value, NULL, ret_msg);
}

int
epy__gen_build_message_blobs(epy__gen_scratch **s, const epy_gen_struct *st,
                             const void *value, const epy__blob_policy *pol,
                             ProtobufCMessage **ret_msg)
{
    ProtobufCMessage *msg;

    if (st == NULL || (value == NULL && st->n_fields > 0))
        return EPY_EPARAM;
    msg = scratch_alloc(s, st->pb->sizeof_message);
    if (msg == NULL)
        return EPY_ENOMEM;
    if (pol != NULL && pol->threshold > 0 && (*s)->blobs == NULL) {
        (*s)->blobs = malloc(sizeof *(*s)->blobs);
        if ((*s)->blobs == NULL)
            return EPY_ENOMEM;
        (*s)->blobs->pol = *pol;
        (*s)->blobs->total = 0;
        (*s)->blobs->depth = 0;
        (*s)->blobs->n = 0;
    }
    protobuf_c_message_init(st->pb, msg);
    *ret_msg = msg;
    return enc_struct(s, st, value, msg);
}

int
epy_gen_encode(const epy_gen_struct *st, const void *value, epy_buf *out)
{
    epy__gen_scratch *s = NULL;
    ProtobufCMessage *msg = NULL;
    int rc;

    if (out == NULL)
        return EPY_EPARAM;
    rc = epy__gen_build_message(&s, st, value, &msg);
    if (rc == 0 && s->n_fds > 0)
        rc = EPY_EPARAM;        /* descriptors travel with calls only */
    if (rc == 0) {
        size_t len = protobuf_c_message_get_packed_size(msg);

        rc = epy_buf_reserve(out, len);
        if (rc == 0)
            out->len = protobuf_c_message_pack(msg, out->data);
    }
    epy__gen_scratch_free(s);
    return rc;
}

