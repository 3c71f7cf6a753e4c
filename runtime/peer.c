/*
 * The peer: creation on a transport, the reader thread, frame encoding,
 * the hello exchange, the end of the connection, and close.
 *
 * Frames are a 4-byte little-endian length and an epyrpc.Envelope packed
 * by protobuf-c. Packing goes through a ProtobufCBuffer that copies small
 * pieces into a scratch area and refers to large ones (the payload) where
 * they are, so a frame is written with one sendmsg() and the payload is
 * never copied on the way out.
 *
 * The reader decodes each frame with an arena allocator reset per frame,
 * completes replies in the transaction manager itself (so they are never
 * stuck behind busy handlers), and queues calls and events on the pool.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "peer-int.h"

#define READ_CHUNK ((size_t) 64 * 1024)
#define ARENA_SIZE ((size_t) 16 * 1024)
#define ARENA_KEEP ((size_t) 1024 * 1024)
/* Frames up to this size may wait for another thread's write. */
#define COALESCE_MAX ((size_t) 4096)
#define PEND_CAP ((size_t) 16 * 1024)
/* The numbers of Envelope.payload and Envelope.method in envelope.proto. */
#define PAYLOAD_FIELD 15
#define METHOD_FIELD 3
/* Frames from this size on have their payload used in place. */
#define ZERO_COPY_RECV_MIN ((size_t) 4096)
#define ZERO_COPY_MIN 256
#define MAX_IOV 16
/* How long a closing peer tries to write its DISCONNECT frame. */
#define GOODBYE_MS 250

/* --- logging ------------------------------------------------------------- */

void
epy__log(epy_peer *peer, epy_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (peer == NULL || peer->cfg.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    peer->cfg.log(peer, level, msg, peer->cfg.log_ctx);
}

/* --- references ---------------------------------------------------------- */

static void peer_free(epy_peer *peer);

epy_peer *
epy__peer_ref(epy_peer *peer)
{
    atomic_fetch_add_explicit(&peer->refs, 1, memory_order_relaxed);
    return peer;
}

void
epy__peer_unref(epy_peer *peer)
{
    if (peer != NULL
        && atomic_fetch_sub_explicit(&peer->refs, 1, memory_order_acq_rel) == 1)
        peer_free(peer);
}

/* --- the decoding arena ---------------------------------------------------- */

static void *
arena_alloc(void *data, size_t size)
{
    epy__arena *a = data;
    size_t need = (size + 15) & ~(size_t) 15;
    void **big;

    /* Checked before allocating: a hostile frame costs its budget at most. */
    if (need < size || need > a->budget - a->taken) {
        a->over = true;
        return NULL;
    }
    a->taken += need;
    if (a->base != NULL && need <= a->cap - a->used) {
        void *p = a->base + a->used;

        a->used += need;
        return p;
    }
    if (a->spare != NULL && a->spare_size >= size) {
        big = a->spare;         /* the block a large frame left */
        a->spare = NULL;
    } else {
        big = malloc(sizeof(void *) * 2 + size);
        if (big == NULL)
            return NULL;
        big[1] = (void *) (uintptr_t) size;
    }
    big[0] = a->big;
    a->big = big;
    return big + 2;
}

static void
arena_free(void *data, void *p)
{
    (void) data;
    (void) p;   /* everything goes at the next reset */
}

/*
 * Frees what the last frame took, but keeps its largest block (up to
 * ARENA_KEEP) for the next one: frames of the same large size then
 * allocate nothing.
 */
static void
arena_reset(epy__arena *a)
{
    while (a->big != NULL) {
        void **big = a->big;
        size_t size = (size_t) (uintptr_t) big[1];

        a->big = big[0];
        if (size <= ARENA_KEEP && (a->spare == NULL || size > a->spare_size)) {
            free(a->spare);
            a->spare = big;
            a->spare_size = size;
        } else {
            free(big);
        }
    }
    a->used = 0;
    a->taken = 0;
    a->over = false;
}

/* --- status ---------------------------------------------------------------- */

int
epy__peer_check(epy_peer *peer)
{
    return atomic_load_explicit(&peer->status, memory_order_acquire);
}

/* Records why the connection ended; the first reason wins. */
static bool
set_status(epy_peer *peer, int code)
{
    int zero = 0;

    return atomic_compare_exchange_strong(&peer->status, &zero, code);
}

static void
set_ready(epy_peer *peer, int state, const char *message)
{
    pthread_mutex_lock(&peer->state_lock);
    if (peer->ready == 0 || (peer->ready > 0 && state < 0)) {
        if (state < 0 && peer->ready == 0)
            epy_error_set(&peer->ready_err, state, message);
        peer->ready = peer->ready == 0 ? state : peer->ready;
    }
    pthread_cond_broadcast(&peer->state_cond);
    pthread_mutex_unlock(&peer->state_lock);
}

/* Wakes a reader waiting for room in the work queue. */
static void
wake_queue(epy_peer *peer)
{
    pthread_mutex_lock(&peer->calls_lock);
    pthread_cond_broadcast(&peer->queue_cond);
    pthread_mutex_unlock(&peer->calls_lock);
}

/*
 * The connection has ended with @code: stop the transport, fail every
 * pending call, tell calls in progress their callers are gone, and (for
 * an end the other side caused) tell the listener. Reader thread only,
 * once.
 */
static void
end_connection(epy_peer *peer, int code, const char *why)
{
    int status;

    /* The code may already be set (a failed write); it is final either way. */
    set_status(peer, atomic_load(&peer->leaving) ? EPY_ECLOSED : code);
    status = epy__peer_check(peer);

    peer->tr->ops->shutdown(peer->tr);
    wake_queue(peer);
    epy__txn_fail_all(&peer->txn, status, true);
    epy__call_cancel_all(peer);
    set_ready(peer, status, why);
    if (status != EPY_ECLOSED) {
        epy_listener l;
        void *ctx;

        epy__log(peer, status == EPY_EDISCONNECTED ? EPY_LOG_INFO
                                                   : EPY_LOG_ERROR,
                 "connection ended: %s%s%s", epy_strerror(status),
                 why != NULL ? ": " : "", why != NULL ? why : "");
        epy__peer_listener(peer, &l, &ctx);
        if (l.disconnected != NULL)
            l.disconnected(peer, status, ctx);
        if (peer->end_hook != NULL)
            peer->end_hook(peer, peer->end_hook_ctx);
    }
}

/* --- sending --------------------------------------------------------------- */

/*
 * A frame on its way out: a ProtobufCBuffer that copies small pieces
 * into scratch memory and refers to pieces of ZERO_COPY_MIN bytes or
 * more where they lie, making the iovec of one sendmsg(). The scratch is
 * a stack area first; if small pieces overflow it, one block for the
 * rest of the frame (@left bytes at most) takes over, so there is never
 * a second. One iovec entry stays free for the last scratch segment.
 */
typedef struct iobuf {
    ProtobufCBuffer base;
    struct iovec iov[MAX_IOV];
    int n;
    uint8_t *scratch;
    size_t used, cap;
    size_t seg;                 /* start of the open scratch segment */
    size_t left;                /* bytes of the frame still to come */
    uint8_t *block;             /* the scratch block, if one was made */
    bool failed;                /* no memory for the block */
} iobuf;

static void
iobuf_close_seg(iobuf *b)
{
    if (b->used > b->seg) {
        b->iov[b->n].iov_base = b->scratch + b->seg;
        b->iov[b->n].iov_len = b->used - b->seg;
        b->n++;
        b->seg = b->used;
    }
}

static void
iobuf_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
    iobuf *b = (iobuf *) buffer;

    if (b->failed || len == 0)
        return;         /* an empty field may come with no data at all */
    assert(len <= b->left);
    b->left -= len;
    if (len >= ZERO_COPY_MIN && b->n + 4 <= MAX_IOV) {
        iobuf_close_seg(b);
        b->iov[b->n].iov_base = (void *) data;
        b->iov[b->n].iov_len = len;
        b->n++;
        return;
    }
    if (len > b->cap - b->used) {
        /* Room for the rest of the frame, this piece included. */
        size_t size = len + b->left;

        assert(b->block == NULL);
        iobuf_close_seg(b);
        b->block = malloc(size);
        if (b->block == NULL) {
            b->failed = true;
            return;
        }
        b->scratch = b->block;
        b->used = b->seg = 0;
        b->cap = size;
    }
    memcpy(b->scratch + b->used, data, len);
    b->used += len;
}

static size_t
peer_max_frame(epy_peer *peer)
{
    size_t remote = atomic_load(&peer->remote_max_frame);

    return remote != 0 && remote < peer->cfg.max_frame ? remote
                                                        : peer->cfg.max_frame;
}

/*
 * The write failed (@rc, a negative errno): the connection is gone. If
 * this end is leaving (epy_peer_disconnect(), close), the end is its
 * own, as end_connection() would say: the other end may have gone first
 * (its acknowledgement of a disconnect read, its close raced with ours).
 * -ECANCELED: a write with a deadline stopped in the middle of a frame,
 * the other end having read nothing for that long; the stream is broken.
 * Returns the peer's status.
 */
static int
write_failed(epy_peer *peer, int rc)
{
    if (epy__peer_check(peer) == 0) {
        int code = atomic_load(&peer->leaving) ? EPY_ECLOSED
                   : rc == -ECANCELED ? EPY_ETIMEDOUT : EPY_EDISCONNECTED;

        if (rc == -ECANCELED)
            epy__log(peer, EPY_LOG_WARNING,
                     "the other end read nothing until a call's deadline, "
                     "in the middle of a frame: ending the connection");
        else
            epy__log(peer, EPY_LOG_INFO, "write failed: %s", strerror(-rc));
        set_status(peer, code);
        peer->tr->ops->shutdown(peer->tr);
    }
    return epy__peer_check(peer) ? epy__peer_check(peer) : EPY_EDISCONNECTED;
}

/*
 * Sends the frames waiting in pend; the writer (wlock held). They are
 * sent from where they lie, while other threads may append behind them,
 * and removed once written. Returns 0, EPY_ETIMEDOUT (@deadline passed
 * with nothing written: they are all still there), or the peer's status
 * once the connection has ended (they are dropped).
 */
static int
flush_pending(epy_peer *peer, int64_t deadline)
{
    for (;;) {
        struct iovec v;
        size_t n;
        int rc;

        pthread_mutex_lock(&peer->qlock);
        n = peer->pend_len;
        pthread_mutex_unlock(&peer->qlock);
        if (n == 0)
            return 0;
        v.iov_base = peer->pend;
        v.iov_len = n;
        rc = epy__peer_check(peer);
        if (rc == 0) {
            rc = peer->tr->ops->sendv(peer->tr, &v, 1, deadline);
            if (rc == -ETIMEDOUT)
                return EPY_ETIMEDOUT;
            if (rc < 0)
                rc = write_failed(peer, rc);
        }
        pthread_mutex_lock(&peer->qlock);
        if (rc < 0)
            n = peer->pend_len;     /* nobody will read them */
        memmove(peer->pend, peer->pend + n, peer->pend_len - n);
        peer->pend_len -= n;
        pthread_mutex_unlock(&peer->qlock);
        if (rc < 0)
            return rc;
    }
}

/*
 * Lets go of the writer, with nothing left waiting: with @flush, the
 * writer sends what other threads left meanwhile (by @deadline). What
 * is still waiting then (the deadline passed) goes to a worker, which
 * sends it without a deadline; meanwhile other threads' small frames
 * still queue behind it, so no thread's frames change order.
 */
static void
writer_leave(epy_peer *peer, int64_t deadline, bool flush)
{
    bool queue = false;

    for (;;) {
        pthread_mutex_lock(&peer->qlock);
        if (peer->pend_len == 0) {
            peer->writing = false;
            break;
        }
        if (!flush) {
            if (!peer->flush_queued)
                queue = peer->flush_queued = true;
            break;
        }
        pthread_mutex_unlock(&peer->qlock);
        flush = flush_pending(peer, deadline) == 0;
    }
    pthread_mutex_unlock(&peer->qlock);
    pthread_mutex_unlock(&peer->wlock);
    if (queue) {
        epy__peer_ref(peer);
        epy__pool_push(&peer->pool, &peer->flush_job);
    }
}

static void
flush_run(epy__job *job)
{
    epy_peer *peer = EPY__CONTAINER(job, epy_peer, flush_job);

    pthread_mutex_lock(&peer->wlock);
    pthread_mutex_lock(&peer->qlock);
    peer->flush_queued = false;
    pthread_mutex_unlock(&peer->qlock);
    writer_leave(peer, 0, true);
    epy__peer_unref(peer);
}

/*
 * Writes one frame, by @deadline (ns, 0: none). Frames meet at the
 * writer: while one thread writes, small frames of other threads are
 * copied to the pending buffer, and the writer sends them all in one
 * write before it lets go, so that frames ready together (replies of
 * several workers, say) cost one system call. A thread's own frames
 * keep their order: the writer sends what is pending before its own
 * frame. Returns 0, EPY_ETIMEDOUT (the deadline passed before the frame
 * was written: nothing of it was sent, the connection goes on), or the
 * peer's status once the connection has ended.
 */
static int
write_frame(epy_peer *peer, struct iovec *iov, int n, int64_t deadline)
{
    size_t total = 0;
    int rc;

    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    if (pthread_mutex_trylock(&peer->wlock) != 0) {
        bool left = false;

        pthread_mutex_lock(&peer->qlock);
        if (peer->pend == NULL && peer->writing && total <= COALESCE_MAX)
            peer->pend = malloc(PEND_CAP);  /* most peers never need it */
        if (peer->writing && total <= COALESCE_MAX && peer->pend != NULL
            && peer->pend_len + total <= PEND_CAP) {
            for (int i = 0; i < n; i++) {
                memcpy(peer->pend + peer->pend_len, iov[i].iov_base,
                       iov[i].iov_len);
                peer->pend_len += iov[i].iov_len;
            }
            left = true;
        }
        pthread_mutex_unlock(&peer->qlock);
        if (left)
            return 0;
        if (deadline == 0) {
            pthread_mutex_lock(&peer->wlock);
        } else {
            struct timespec ts = epy__abstime(deadline);

            if (pthread_mutex_clocklock(&peer->wlock, CLOCK_MONOTONIC, &ts)
                != 0)
                return EPY_ETIMEDOUT;
        }
    }
    pthread_mutex_lock(&peer->qlock);
    peer->writing = true;
    pthread_mutex_unlock(&peer->qlock);
    rc = flush_pending(peer, deadline);
    if (rc == 0)
        rc = epy__peer_check(peer);
    if (rc == 0) {
        rc = peer->tr->ops->sendv(peer->tr, iov, n, deadline);
        if (rc == -ETIMEDOUT)
            rc = EPY_ETIMEDOUT;
        else if (rc < 0)
            rc = write_failed(peer, rc);
    }
    writer_leave(peer, deadline, rc == 0 || rc == EPY_ETIMEDOUT);
    return rc;
}

/* Writes @v as a varint at @p (10 bytes at most); returns its length. */
static size_t
put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t) v;
    return n;
}

int
epy__peer_send(epy_peer *peer, Epyrpc__Envelope *env, const void *payload,
               size_t len)
{
    epy__payload p = { payload, len, NULL, 0 };

    return epy__peer_send_payload(peer, env, &p);
}

int
epy__peer_send_payload(epy_peer *peer, Epyrpc__Envelope *env,
                       const epy__payload *pl)
{
    uint8_t stack[1024], field[20];
    const ProtobufCMessage *msg = pl->msg;
    const void *payload = pl->data;
    size_t len = pl->len, size, msg_len = 0, field_len = 0;
    uint8_t *packed = NULL, *zbuf = NULL;
    iobuf b;
    int rc;

    rc = epy__peer_check(peer);
    if (rc != 0)
        return rc;
    if (msg != NULL) {
        msg_len = protobuf_c_message_get_packed_size(msg);
        if (msg_len > peer_max_frame(peer))
            return EPY_ETOOBIG;
        if (peer->cfg.compress_threshold > 0
            && msg_len >= peer->cfg.compress_threshold
            && atomic_load(&peer->remote_zlib)) {
            /* Compressed: the message is packed first, then deflated. */
            packed = malloc(msg_len ? msg_len : 1);
            if (packed == NULL)
                return EPY_ENOMEM;
            protobuf_c_message_pack(msg, packed);
            payload = packed;
            len = msg_len;
            msg = NULL;
        }
    }
    if (msg == NULL && len > peer_max_frame(peer)) {
        free(packed);
        return EPY_ETOOBIG;     /* compressed or not, the limit is the same */
    }
    if (msg == NULL && (payload != NULL || len > 0)) {
        env->has_payload = true;
        env->payload.data = (uint8_t *) payload;
        env->payload.len = len;
        if (peer->cfg.compress_threshold > 0 && len >= peer->cfg.compress_threshold
            && atomic_load(&peer->remote_zlib)) {
            uLongf zlen = compressBound((uLong) len);

            zbuf = malloc(zlen);
            /*
             * Sent compressed only if the other end will inflate it:
             * past its ratio limit, the payload goes as it is.
             */
            if (zbuf != NULL
                && compress2(zbuf, &zlen, payload, (uLong) len,
                             peer->cfg.compress_level) == Z_OK
                && zlen < len
                && len <= EPY__INFLATE_FACTOR * (size_t) zlen
                              + EPY__INFLATE_SLACK) {
                env->payload.data = zbuf;
                env->payload.len = zlen;
                env->has_raw_len = true;
                env->raw_len = len;
            }
        }
    }
    /*
     * A message goes after the rest of the envelope as its payload field
     * (the last field, as the encoder would write it), packed in place.
     */
    size = epyrpc__envelope__get_packed_size(env);
    if (msg != NULL) {
        field_len = put_varint(field, PAYLOAD_FIELD << 3 | 2);
        field_len += put_varint(field + field_len, msg_len);
        size += field_len + msg_len;
    }
    if (size > peer_max_frame(peer)) {
        free(zbuf);
        free(packed);
        return EPY_ETOOBIG;
    }
    memset(&b, 0, sizeof b);
    b.base.append = iobuf_append;
    b.scratch = stack;
    b.cap = sizeof stack;
    b.left = size;
    stack[0] = (uint8_t) size;
    stack[1] = (uint8_t) (size >> 8);
    stack[2] = (uint8_t) (size >> 16);
    stack[3] = (uint8_t) (size >> 24);
    b.used = 4;
    epyrpc__envelope__pack_to_buffer(env, &b.base);
    if (msg != NULL) {
        iobuf_append(&b.base, field_len, field);
        protobuf_c_message_pack_to_buffer(msg, &b.base);
    }
    iobuf_close_seg(&b);

    rc = b.failed ? EPY_ENOMEM : write_frame(peer, b.iov, b.n, pl->deadline);
    free(b.block);
    free(zbuf);
    free(packed);
    return rc;
}

void
epy__peer_send_cancel(void *owner, epy_txn_id id)
{
    epy_peer *peer = owner;
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;

    env.kind = EPYRPC__KIND__CANCEL;
    env.has_txn = true;
    env.txn = id;
    epy__peer_send(peer, &env, NULL, 0);
}

static int
send_hello(epy_peer *peer)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    Epyrpc__Hello hello = EPYRPC__HELLO__INIT;

    hello.version = EPY_PROTOCOL_VERSION;
    hello.n_interfaces = peer->n_hello_ifaces;
    hello.interfaces = peer->hello_ifaces;
    hello.has_zlib = true;
    hello.zlib = peer->cfg.compress_threshold > 0;
    hello.has_max_frame = true;
    hello.max_frame = peer->cfg.max_frame;
    env.kind = EPYRPC__KIND__HELLO;
    env.hello = &hello;
    return epy__peer_send(peer, &env, NULL, 0);
}

/* --- receiving ------------------------------------------------------------- */

static int
check_hello(epy_peer *peer, const Epyrpc__Hello *h, char *why, size_t whylen)
{
    if (h == NULL) {
        snprintf(why, whylen, "hello frame without a hello");
        return EPY_EPROTO;
    }
    if (h->version != EPY_PROTOCOL_VERSION) {
        snprintf(why, whylen, "the other end speaks protocol %u, this one %d",
                 h->version, EPY_PROTOCOL_VERSION);
        return EPY_EVERSION;
    }
    for (size_t i = 0; i < h->n_interfaces; i++) {
        const char *theirs = h->interfaces[i];
        const char *eq = strchr(theirs, '=');
        size_t nlen = eq != NULL ? (size_t) (eq - theirs) : strlen(theirs);

        for (size_t j = 0; j < peer->n_hello_ifaces; j++) {
            const char *ours = peer->hello_ifaces[j];

            if (strncmp(ours, theirs, nlen) == 0 && ours[nlen] == '='
                && strcmp(ours, theirs) != 0) {
                snprintf(why, whylen,
                         "interface '%.*s' differs: fingerprint %s here, %s there",
                         (int) nlen, theirs, ours + nlen + 1,
                         eq != NULL ? eq + 1 : "(none)");
                return EPY_EVERSION;
            }
        }
    }
    atomic_store(&peer->remote_zlib, h->has_zlib && h->zlib);
    if (h->has_max_frame && h->max_frame > 0 && h->max_frame < SIZE_MAX)
        atomic_store(&peer->remote_max_frame, (size_t) h->max_frame);
    return 0;
}

/*
 * Handles one decoded frame. Returns 0 to go on, or the code that ends
 * the connection.
 */
static int
dispatch(epy_peer *peer, Epyrpc__Envelope *env, size_t size,
         const uint8_t *lender, epy_call **ret_call, char *why, size_t whylen)
{
    const uint8_t *payload = env->has_payload ? env->payload.data : NULL;
    size_t len = env->has_payload ? env->payload.len : 0;
    uint8_t *inflated = NULL;
    int rc = 0;

    if (!peer->got_hello) {
        if (env->kind != EPYRPC__KIND__HELLO) {
            snprintf(why, whylen, "first frame is not a hello");
            return EPY_EPROTO;
        }
        rc = check_hello(peer, env->hello, why, whylen);
        if (rc < 0)
            return rc;
        peer->got_hello = true;
        peer->idle_since = epy__now_ns();
        if (peer->tr->ops->set_recv_timeout != NULL)
            peer->tr->ops->set_recv_timeout(peer->tr, peer->idle_ms);
        set_ready(peer, 1, NULL);
        return 0;
    }
    if (env->has_raw_len) {
        uLongf out;

        if (!atomic_load(&peer->remote_zlib)
            || peer->cfg.compress_threshold == 0) {
            snprintf(why, whylen, "unexpected compressed payload");
            return EPY_EPROTO;
        }
        if (env->raw_len > peer->cfg.max_frame
            || env->raw_len > EPY__INFLATE_FACTOR * size + EPY__INFLATE_SLACK) {
            /* Checked before inflating anything. */
            snprintf(why, whylen, "compressed payload of %zu bytes would "
                     "inflate to %llu bytes, past the limit of %zu", len,
                     (unsigned long long) env->raw_len,
                     EPY__INFLATE_FACTOR * size + EPY__INFLATE_SLACK
                         < peer->cfg.max_frame
                     ? EPY__INFLATE_FACTOR * size + EPY__INFLATE_SLACK
                     : peer->cfg.max_frame);
            return EPY_ETOOBIG;
        }
        out = (uLongf) env->raw_len;
        inflated = malloc(out ? out : 1);
        if (inflated == NULL)
            return EPY_ENOMEM;
        if (uncompress(inflated, &out, payload, (uLong) len) != Z_OK
            || out != env->raw_len) {
            free(inflated);
            snprintf(why, whylen, "corrupt compressed payload");
            return EPY_EPROTO;
        }
        payload = inflated;
        len = out;
    }
    switch (env->kind) {
    case EPYRPC__KIND__CALL:
    case EPYRPC__KIND__EVENT:
        rc = epy__call_dispatch(peer, env, payload, len,
                                inflated == NULL ? lender : NULL, ret_call);
        if (rc == EPY_EPROTO)
            snprintf(why, whylen, "call frame without method or transaction");
        break;
    case EPYRPC__KIND__REPLY:
    case EPYRPC__KIND__ERROR: {
        int code = env->kind == EPYRPC__KIND__REPLY ? 0
                   : env->has_code && env->code < 0 ? env->code : EPY_EPROTO;
        int r;

        if (!env->has_txn || env->txn == 0) {
            snprintf(why, whylen, "reply without a transaction id");
            rc = EPY_EPROTO;
            break;
        }
        r = epy__txn_complete(&peer->txn, env->txn, code, payload, len,
                              env->error_type, env->message,
                              env->has_error_payload ? env->error_payload.data : NULL,
                              env->has_error_payload ? env->error_payload.len : 0);
        if (r == EPY_EFOREIGN)
            epy__log(peer, EPY_LOG_WARNING,
                     "dropped a reply for transaction %u:%llu of another origin",
                     EPY_TXN_ORIGIN(env->txn),
                     (unsigned long long) EPY_TXN_SEQ(env->txn));
        else if (r == EPY_ENOTFOUND)
            epy__log(peer, EPY_LOG_INFO,
                     "dropped a late reply for transaction %u:%llu",
                     EPY_TXN_ORIGIN(env->txn),
                     (unsigned long long) EPY_TXN_SEQ(env->txn));
        break;
    }
    case EPYRPC__KIND__CANCEL:
        if (env->has_txn)
            epy__call_cancel(peer, env->txn);
        break;
    case EPYRPC__KIND__DISCONNECT:
        if (env->has_txn && env->txn != 0) {
            Epyrpc__Envelope ack = EPYRPC__ENVELOPE__INIT;

            ack.kind = EPYRPC__KIND__ERROR;
            ack.has_txn = true;
            ack.txn = env->txn;
            ack.has_code = true;
            ack.code = EPY_EDISCONNECTED;
            ack.message = (char *) "disconnected";
            epy__peer_send(peer, &ack, NULL, 0);
        }
        snprintf(why, whylen, "the other end disconnected");
        rc = EPY_EDISCONNECTED;
        break;
    case EPYRPC__KIND__HELLO:
        snprintf(why, whylen, "second hello");
        rc = EPY_EPROTO;
        break;
    default:
        snprintf(why, whylen, "unknown frame kind %d", (int) env->kind);
        rc = EPY_EPROTO;
        break;
    }
    free(inflated);
    return rc;
}

/*
 * The read buffer is counted: a call may borrow its request from it
 * (epy__call_dispatch() with a lender) instead of copying it, and keeps
 * the buffer until it ends. The count sits RBUF_HDR bytes before the
 * data. The reader resizes or reuses the buffer only while it is the
 * only holder; otherwise it reads on in a new one (read_frame()).
 */
#define RBUF_HDR ((size_t) 16)

static atomic_int *
rbuf_refs(const uint8_t *b)
{
    return (atomic_int *) (void *) (b - RBUF_HDR);
}

static uint8_t *
rbuf_alloc(size_t cap)
{
    uint8_t *p = malloc(RBUF_HDR + cap);

    if (p == NULL)
        return NULL;
    atomic_init((atomic_int *) (void *) p, 1);
    return p + RBUF_HDR;
}

/* Only while the reader is the only holder. */
static uint8_t *
rbuf_resize(uint8_t *b, size_t cap)
{
    uint8_t *p = realloc(b - RBUF_HDR, RBUF_HDR + cap);

    return p != NULL ? p + RBUF_HDR : NULL;
}

void
epy__rbuf_ref(const uint8_t *b)
{
    atomic_fetch_add_explicit(rbuf_refs(b), 1, memory_order_relaxed);
}

void
epy__rbuf_unref(const uint8_t *b)
{
    if (b != NULL
        && atomic_fetch_sub_explicit(rbuf_refs(b), 1, memory_order_acq_rel) == 1)
        free((uint8_t *) b - RBUF_HDR);
}

/* Moves the unread bytes to a new buffer: a call borrows from this one. */
static int
rbuf_leave(epy_peer *peer)
{
    size_t have = peer->rend - peer->rstart;
    size_t cap = have > READ_CHUNK ? have : READ_CHUNK;
    uint8_t *nb = rbuf_alloc(cap);

    if (nb == NULL)
        return EPY_ENOMEM;
    memcpy(nb, peer->rbuf + peer->rstart, have);
    epy__rbuf_unref(peer->rbuf);
    peer->rbuf = nb;
    peer->rcap = cap;
    peer->rstart = 0;
    peer->rend = have;
    return 0;
}

/*
 * Synchronous calls have stopped (see "Callers that read" below): the
 * reader no longer lends the reading, and reads without a timeout.
 */
static void
read_for_good(epy_peer *peer)
{
    atomic_store_explicit(&peer->lend, false, memory_order_relaxed);
    peer->tr->ops->set_recv_timeout(peer->tr, peer->idle_ms);
}

/* True if a call is in flight either way. */
static bool
busy(epy_peer *peer)
{
    bool b;

    if (epy__txn_count(&peer->txn) > 0)
        return true;
    pthread_mutex_lock(&peer->calls_lock);
    b = peer->queued > 0 || peer->calls.next != &peer->calls;
    pthread_mutex_unlock(&peer->calls_lock);
    return b;
}

/*
 * The reader's deadlines of a server's client: the whole hello within
 * the handshake timeout, and, with an idle timeout, no stretch that long
 * without a whole frame while no call is in flight (bytes that trickle
 * in without making a frame do not count). Returns 0, or the code
 * ending the connection (EPY_ETIMEDOUT).
 */
static int
check_deadlines(epy_peer *peer)
{
    int64_t now;

    if (!peer->got_hello) {
        if (peer->hello_deadline == 0)
            return 0;
        now = epy__now_ns();
        if (now >= peer->hello_deadline)
            return EPY_ETIMEDOUT;
        /* The next read waits for what is left of it, no more. */
        peer->tr->ops->set_recv_timeout(peer->tr,
            (peer->hello_deadline - now + 999999) / 1000000);
        return 0;
    }
    if (peer->idle_ms == 0)
        return 0;
    now = epy__now_ns();
    if (now - peer->idle_since < peer->idle_ms * 1000000)
        return 0;
    if (busy(peer)) {
        peer->idle_since = now;
        return 0;
    }
    return EPY_ETIMEDOUT;
}

/* read_frame() and fill(): the deadline came first; what came is kept. */
#define FRAME_LATER 1

/*
 * Makes sure @need bytes from rstart are buffered. With @deadline (ns,
 * 0: none), waits for them until then only. Returns 0, FRAME_LATER, or
 * the code that ends the connection.
 */
static int
fill(epy_peer *peer, size_t need, int64_t deadline)
{
    while (peer->rend - peer->rstart < need) {
        ssize_t n;

        if (peer->rcap - peer->rstart < need) {
            /* Move what we have to the front, and grow if still short. */
            memmove(peer->rbuf, peer->rbuf + peer->rstart,
                    peer->rend - peer->rstart);
            peer->rend -= peer->rstart;
            peer->rstart = 0;
            if (peer->rcap < need) {
                /*
                 * Grow with what arrives, not with what the length
                 * prefix announces: a peer that announces 16 MiB and
                 * sends ten bytes costs ten bytes.
                 */
                size_t cap = peer->rcap * 2;
                uint8_t *p;

                if (cap > need || cap < peer->rcap)
                    cap = need;
                p = rbuf_resize(peer->rbuf, cap);
                if (p == NULL)
                    return EPY_ENOMEM;
                peer->rbuf = p;
                peer->rcap = cap;
            }
        }
        if ((peer->hello_deadline != 0 && !peer->got_hello)
            || (peer->idle_ms != 0 && deadline == 0)) {
            int rc = check_deadlines(peer);

            if (rc != 0)
                return rc;
        }
        n = peer->tr->ops->recv(peer->tr, peer->rbuf + peer->rend,
                                peer->rcap - peer->rend);
        if (n == 0)
            return EPY_EDISCONNECTED;
        if (n == -EAGAIN && !peer->got_hello && peer->hello_deadline == 0)
            return EPY_ETIMEDOUT;
        if (n == -EAGAIN && !peer->got_hello)
            continue;   /* check_deadlines() decides */
        if (n == -EAGAIN) {
            /*
             * The read timeout of the lending (see lend_reading()) passed
             * with nothing read. A caller reads on until its limit; the
             * reader, with nothing coming, reads without a timeout.
             */
            if (deadline != 0 && epy__now_ns() >= deadline)
                return FRAME_LATER;
            if (deadline == 0)
                read_for_good(peer);
            continue;
        }
        if (n < 0)
            return EPY_ESYSTEM;
        peer->rend += (size_t) n;
    }
    return 0;
}

/* Reads a varint at *@p (before @end); false if there is none. */
static bool
get_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
    uint64_t v = 0;

    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;

        v |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *ret = v;
            return true;
        }
    }
    return false;
}

/*
 * Finds a large payload that ends the frame (the field epyrpc's own
 * senders write last): returns the length of the envelope before it and
 * sets @ret_payload, or returns @size if there is none. The frame is
 * then decoded without the payload, which is used where it lies instead
 * of being copied by the decoder. Anything unusual (a group, a field
 * running past the end) leaves the whole frame to the decoder.
 */
static size_t
split_payload(const uint8_t *frame, size_t size, ProtobufCBinaryData *ret_payload)
{
    const uint8_t *p = frame, *end = frame + size;

    if (size < ZERO_COPY_RECV_MIN)
        return size;
    while (p < end) {
        const uint8_t *field = p;
        uint64_t key, n;

        if (!get_varint(&p, end, &key))
            return size;
        switch (key & 7) {
        case 0:
            if (!get_varint(&p, end, &n))
                return size;
            break;
        case 1:
        case 5:
            n = (key & 7) == 1 ? 8 : 4;
            if ((uint64_t) (end - p) < n)
                return size;
            p += n;
            break;
        case 2:
            if (!get_varint(&p, end, &n) || (uint64_t) (end - p) < n)
                return size;
            if (key >> 3 == PAYLOAD_FIELD && p + n == end
                && n >= ZERO_COPY_RECV_MIN / 2) {
                ret_payload->data = (uint8_t *) p;
                ret_payload->len = (size_t) n;
                return (size_t) (field - frame);
            }
            p += n;
            break;
        default:
            return size;
        }
    }
    return size;
}

/*
 * True if the last string field @field in the envelope bytes @frame
 * (@size) holds a NUL: the decoder would cut the string there, so that
 * "t.echo\0junk" would read as "t.echo".
 */
static bool
string_has_nul(const uint8_t *frame, size_t size, unsigned field)
{
    const uint8_t *p = frame, *end = frame + size, *last = NULL;
    uint64_t key, n, last_len = 0;

    while (p < end && get_varint(&p, end, &key)) {
        if ((key & 7) == 0) {
            if (!get_varint(&p, end, &n))
                break;
        } else if ((key & 7) == 1 || (key & 7) == 5) {
            n = (key & 7) == 1 ? 8 : 4;
            if ((uint64_t) (end - p) < n)
                break;
            p += n;
        } else if ((key & 7) == 2) {
            if (!get_varint(&p, end, &n) || (uint64_t) (end - p) < n)
                break;
            if (key >> 3 == field) {
                last = p;
                last_len = n;
            }
            p += n;
        } else {
            break;
        }
    }
    return last != NULL && memchr(last, 0, (size_t) last_len) != NULL;
}

/*
 * Decodes and handles one frame's envelope. The reader. A call or event
 * is queued, or, with @ret_call, returned.
 */
static int
process_frame(epy_peer *peer, const uint8_t *frame, size_t size, bool in_rbuf,
              epy_call **ret_call, char *why, size_t whylen)
{
    Epyrpc__Envelope *env;
    ProtobufCBinaryData payload = { 0, NULL };
    size_t head = split_payload(frame, size, &payload);
    int rc;

    peer->arena.budget = EPY__DECODE_FACTOR * head + EPY__DECODE_SLACK;
    env = epyrpc__envelope__unpack(&peer->arena.alloc, head, frame);
    if (env != NULL && head < size) {
        /* The last occurrence of a field wins, as the decoder would do. */
        env->has_payload = true;
        env->payload = payload;
    }
    if (env == NULL) {
        bool over = peer->arena.over;

        arena_reset(&peer->arena);
        if (over)
            snprintf(why, whylen, "frame of %zu bytes exceeds the decoding "
                     "budget of %zu bytes", size, peer->arena.budget);
        else
            snprintf(why, whylen, "undecodable frame of %zu bytes", size);
        return EPY_EPROTO;
    }
    if (env->method != NULL
        && (env->kind == EPYRPC__KIND__CALL || env->kind == EPYRPC__KIND__EVENT)
        && string_has_nul(frame, head, METHOD_FIELD))
        env->method = (char *) "";     /* refused as an invalid name */
    /*
     * A large request that lies in the read buffer, and is most of it,
     * is lent to its call rather than copied.
     */
    rc = dispatch(peer, env, size,
                  in_rbuf && head < size && 2 * payload.len >= peer->rcap
                      ? peer->rbuf : NULL,
                  ret_call, why, whylen);
    arena_reset(&peer->arena);
    return rc;
}

int
epy__peer_feed(epy_peer *peer, const uint8_t *data, size_t len)
{
    char why[256];

    while (len >= 4) {
        size_t size = (size_t) data[0] | (size_t) data[1] << 8
                      | (size_t) data[2] << 16 | (size_t) data[3] << 24;
        int rc;

        if (size > peer->cfg.max_frame)
            return EPY_EPROTO;
        if (size > len - 4)
            return 0;   /* incomplete: the reader would wait for more */
        rc = process_frame(peer, data + 4, size, false, NULL, why, sizeof why);
        if (rc < 0)
            return rc;
        data += 4 + size;
        len -= 4 + size;
    }
    return 0;
}

/* True if the frame at rstart is there whole. */
static bool
frame_buffered(const epy_peer *peer)
{
    const uint8_t *p = peer->rbuf + peer->rstart;
    size_t have = peer->rend - peer->rstart, size;

    if (have < 4)
        return false;
    size = (size_t) p[0] | (size_t) p[1] << 8 | (size_t) p[2] << 16
           | (size_t) p[3] << 24;
    return have - 4 >= size;
}

/*
 * Reads and handles one frame; the holder of the reading token. With
 * @deadline (ns, 0: none), gives up at that time with FRAME_LATER, the
 * bytes read so far kept for the next reader. A call or event read is
 * returned in *@ret_call. Returns 0, FRAME_LATER, or the code that ends
 * the connection (with @why).
 */
static int
read_frame(epy_peer *peer, int64_t deadline, epy_call **ret_call, char *why,
           size_t whylen)
{
    const uint8_t *p;
    size_t size;
    int rc;

    if (atomic_load_explicit(rbuf_refs(peer->rbuf), memory_order_acquire) > 1
        && rbuf_leave(peer) < 0)
        return EPY_ENOMEM;
    rc = fill(peer, 4, deadline);
    if (rc == 0) {
        p = peer->rbuf + peer->rstart;
        size = (size_t) p[0] | (size_t) p[1] << 8 | (size_t) p[2] << 16
               | (size_t) p[3] << 24;
        if (size > peer->cfg.max_frame) {
            snprintf(why, whylen, "frame of %zu bytes exceeds the limit of %zu",
                     size, peer->cfg.max_frame);
            return EPY_EPROTO;
        }
        rc = fill(peer, 4 + size, deadline);
    }
    if (rc == EPY_ETIMEDOUT && !peer->got_hello) {
        snprintf(why, whylen, "no whole hello within the handshake timeout");
        return EPY_EPROTO;
    }
    if (rc == EPY_ETIMEDOUT) {
        snprintf(why, whylen, "idle for %lld ms with no call in flight",
                 (long long) peer->idle_ms);
        return rc;
    }
    if (rc != 0) {
        if (rc == EPY_EDISCONNECTED && peer->rend > peer->rstart)
            snprintf(why, whylen, "the stream ended inside a frame");
        return rc;
    }
    if (peer->idle_ms != 0)
        peer->idle_since = epy__now_ns();
    rc = process_frame(peer, peer->rbuf + peer->rstart + 4, size, true,
                       ret_call, why, whylen);
    peer->rstart += 4 + size;
    if (peer->rstart == peer->rend)
        peer->rstart = peer->rend = 0;
    if (peer->rcap > 4 * READ_CHUNK && peer->rend == 0
        && atomic_load_explicit(rbuf_refs(peer->rbuf), memory_order_acquire) == 1) {
        /* Give back the memory of a large frame. */
        uint8_t *q = rbuf_resize(peer->rbuf, READ_CHUNK);

        if (q != NULL) {
            peer->rbuf = q;
            peer->rcap = READ_CHUNK;
        }
    }
    return rc;
}

/*
 * Callers that read. A synchronous caller waits for its reply; if the
 * reply went through the reader, two threads would wake up for it (the
 * reader, then the caller). Instead, while synchronous calls are made,
 * the reader lends the reading out: it stops reading between frames,
 * and a caller that finds nobody reading reads the connection itself
 * until its reply has come (epy__peer_read_own()), handling whatever
 * else comes as the reader would (calls go to the workers). So the
 * reply wakes only the thread that waits for it. This is for one caller
 * at a time: while several synchronous calls wait on a peer, the reader
 * reads for them all (one wake-up of it serves several replies), and
 * neither lends nor is lent to.
 *
 * The token, rtok, is (generation << 3 | KICK | state); each change of
 * hands makes a new generation. While the token is lent out, the reader
 * sleeps and looks at it, first after LEND_GRACE_MIN_NS, then at periods
 * that double while callers keep taking it, up to LEND_GRACE_MAX_NS: if
 * nobody took it in a whole period, synchronous calls have stopped, and
 * the reader reads again. So a frame that comes while no call waits (and
 * so nobody reads) waits one period at most; the periods are long only
 * while calls are made back to back, and few wake-ups of the reader
 * come between the calls.
 * A caller gives the token back with KICK, which wakes the reader at
 * once, when others wait for replies too, when its own reply has not
 * come within OWN_READ_NS (the reader then reads while it waits), and
 * when the connection has ended (the reader, not the caller, ends it).
 * Closing the peer kicks too.
 *
 * A caller reads with a blocking recv(), as the reader does (on these
 * machines, poll() before each read made a 64 KiB round trip twice as
 * slow: the reader woke for every piece of the frame), bounded by a read
 * timeout of OWN_READ_MS that the reader sets on the transport while it
 * lends the reading out, and clears when it reads for good again. So a
 * caller reads for OWN_READ_NS and one timeout more at the most; a call
 * whose deadline is nearer than OWN_READ_SKIP_NS waits for its reply
 * instead. Transports without set_recv_timeout are read by the reader
 * only.
 */
enum { RT_POOL = 0, RT_FREE = 1, RT_CALLER = 2, RT_STATE = 3, RT_KICK = 4,
       RT_GEN = 8 };

#define LEND_GRACE_MIN_NS ((int64_t) 250000)
#define LEND_GRACE_MAX_NS ((int64_t) 2000000)
#define OWN_READ_MS 2
#define OWN_READ_NS ((int64_t) OWN_READ_MS * 1000000)
#define OWN_READ_SKIP_NS ((int64_t) 20000000)

/* @v with the next generation and @state (KICK cleared). */
static unsigned
rt_next(unsigned v, unsigned state)
{
    return ((v & ~(RT_GEN - 1)) + RT_GEN) | state;
}

/* Wakes the reader out of a lending, to read again at once. */
static void
kick_reader(epy_peer *peer)
{
    atomic_fetch_or(&peer->rtok, RT_KICK);
    epy__futex_wake(&peer->rtok);
}

/*
 * The reader (holding the token) lends it out, and returns once it holds
 * it again. Returns true if a caller's reading ended the connection
 * (peer->rerr says how).
 */
static bool
lend_reading(epy_peer *peer)
{
    unsigned v = atomic_load(&peer->rtok), last;
    int64_t period = LEND_GRACE_MIN_NS;

    if (peer->tr->ops->set_recv_timeout == NULL || !peer->got_hello
        || peer->lend_unable)
        return false;
    /* Callers' reads are bounded by the read timeout: set it first. */
    if (peer->tr->ops->set_recv_timeout(peer->tr, OWN_READ_MS) < 0) {
        peer->lend_unable = true;
        return false;
    }
    do {
        if ((v & RT_KICK) || epy__peer_check(peer) != 0) {
            atomic_fetch_and(&peer->rtok, ~(unsigned) RT_KICK);
            return false;
        }
    } while (!atomic_compare_exchange_weak_explicit(&peer->rtok, &v,
                                                    rt_next(v, RT_FREE),
                                                    memory_order_release,
                                                    memory_order_relaxed));
    last = v = rt_next(v, RT_FREE);
    for (;;) {
        epy__futex_wait(&peer->rtok, v, epy__now_ns() + period);
        v = atomic_load_explicit(&peer->rtok, memory_order_acquire);
        if ((v & RT_STATE) != RT_FREE
            || (v != last && !(v & RT_KICK) && epy__peer_check(peer) == 0)) {
            /* A caller reads, or has read since: wait on, longer. */
            last = v;
            if (period < LEND_GRACE_MAX_NS)
                period *= 2;
            continue;
        }
        if (atomic_compare_exchange_strong_explicit(&peer->rtok, &v,
                                                    rt_next(v, RT_POOL),
                                                    memory_order_acquire,
                                                    memory_order_acquire))
            break;
        last = v;
    }
    if (v == last && !(v & RT_KICK))
        read_for_good(peer);    /* nobody took it for a whole period */
    return peer->rerr != 0;
}

void
epy__peer_read_own(epy_peer *peer, epy__wake *w, int64_t deadline)
{
    unsigned v = atomic_load_explicit(&peer->rtok, memory_order_relaxed);
    int64_t now = epy__now_ns(), limit = now + OWN_READ_NS;
    bool kick;
    epy__pool *pool;
    char why[sizeof peer->rwhy] = "";
    int rc = 0;

    if (deadline != 0 && deadline - now < OWN_READ_SKIP_NS)
        return;         /* reads could overrun it: wait for the reader */
    if (atomic_load_explicit(&peer->sync_calls, memory_order_relaxed) > 1) {
        /* Callers at once: the reader serves them all, from now on. */
        if ((v & RT_STATE) == RT_FREE)
            kick_reader(peer);
        return;
    }
    if ((v & (RT_STATE | RT_KICK)) != RT_FREE
        || !atomic_compare_exchange_strong_explicit(&peer->rtok, &v,
                                                    rt_next(v, RT_CALLER),
                                                    memory_order_acquire,
                                                    memory_order_relaxed)) {
        /* Somebody reads: wait, and have the reader lend next time. */
        if (!atomic_load_explicit(&peer->lend, memory_order_relaxed))
            atomic_store_explicit(&peer->lend, true, memory_order_relaxed);
        return;
    }
    pool = epy__pool_block();
    while (!epy__wake_is_set(w)) {
        epy_call *call = NULL;

        rc = read_frame(peer, limit, &call, why, sizeof why);
        if (call != NULL)
            epy__pool_push(&peer->pool, &call->job);
        if (rc != 0)
            break;
    }
    if (rc < 0) {
        peer->rerr = rc;
        snprintf(peer->rwhy, sizeof peer->rwhy, "%s", why);
    }
    kick = rc != 0 || epy__txn_count(&peer->txn) > 0;
    v = atomic_load_explicit(&peer->rtok, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
               &peer->rtok, &v,
               rt_next(v, RT_FREE) | (kick || (v & RT_KICK) ? RT_KICK : 0),
               memory_order_release, memory_order_relaxed))
        ;
    if (kick || (v & RT_KICK))
        epy__futex_wake(&peer->rtok);
    epy__pool_unblock(pool);
}

/*
 * The reader runs as a job of the worker pool: one thread at a time (the
 * leader) reads and decodes frames. A call that arrives alone runs on
 * the thread that read it, which goes on reading afterwards: no other
 * thread wakes up on the way from the socket to the handler and back.
 * Calls that arrive together go to the workers.
 *
 * While a call runs on the leader, nobody reads. Another thread takes
 * the reading over when that call blocks in a call of its own (through
 * epy__pool_block()), and when it has run longer than LEAD_WATCH_NS (a
 * watchdog thread, started with the first such call, checks; it sleeps
 * while no call runs on the leader). The thread that ran the call then
 * becomes a worker.
 *
 * lead_word is (generation << 2 | state): the leader sets a new
 * generation for each call it runs, so that a thread taking the reading
 * over takes it from that call only.
 */
enum { LEAD_READING = 0, LEAD_INLINE = 1, LEAD_TAKEN = 2 };

#define LEAD_WATCH_NS ((int64_t) 1000000)

/* Takes the reading over from the call running on the leader, if any. */
static void
lead_take(void *ctx)
{
    epy_peer *peer = ctx;
    uint64_t v = atomic_load(&peer->lead_word);

    if ((v & 3) == LEAD_INLINE
        && atomic_compare_exchange_strong(&peer->lead_word, &v,
                                          (v & ~(uint64_t) 3) | LEAD_TAKEN))
        epy__pool_give(peer->standby, &peer->lead_job);
}

static void *
watch_main(void *arg)
{
    epy_peer *peer = arg;
    uint64_t last = 0;

    pthread_mutex_lock(&peer->watch_lock);
    while (!peer->watch_stop) {
        uint64_t v;

        if (!atomic_load(&peer->watch_armed)) {
            pthread_cond_wait(&peer->watch_cond, &peer->watch_lock);
            last = 0;
            continue;
        }
        {
            struct timespec ts = epy__abstime(epy__now_ns() + LEAD_WATCH_NS);

            pthread_cond_timedwait(&peer->watch_cond, &peer->watch_lock, &ts);
        }
        if (peer->watch_stop)
            break;
        v = atomic_load(&peer->lead_word);
        if (v == last && (v & 3) == LEAD_INLINE) {
            /* The same call for a whole period: read elsewhere. */
            pthread_mutex_unlock(&peer->watch_lock);
            lead_take(peer);
            pthread_mutex_lock(&peer->watch_lock);
        } else if (v == last) {
            /* No call on the leader for a whole period: sleep. */
            atomic_store(&peer->watch_armed, false);
            if (atomic_load(&peer->lead_word) != v)
                atomic_store(&peer->watch_armed, true);
        }
        last = v;
    }
    pthread_mutex_unlock(&peer->watch_lock);
    return NULL;
}

/* Makes sure the watchdog looks at the leader. */
static void
watch_arm(epy_peer *peer)
{
    if (atomic_load(&peer->watch_armed))
        return;
    pthread_mutex_lock(&peer->watch_lock);
    if (!peer->watch_started && !peer->watch_stop) {
        if (pthread_create(&peer->watch, NULL, watch_main, peer) == 0)
            peer->watch_started = true;
        else
            epy__log(peer, EPY_LOG_WARNING, "cannot start the reader's watchdog");
    }
    atomic_store(&peer->watch_armed, true);
    pthread_cond_signal(&peer->watch_cond);
    pthread_mutex_unlock(&peer->watch_lock);
}

static void
watch_stop(epy_peer *peer)
{
    pthread_mutex_lock(&peer->watch_lock);
    peer->watch_stop = true;
    pthread_cond_signal(&peer->watch_cond);
    pthread_mutex_unlock(&peer->watch_lock);
    if (peer->watch_started) {
        pthread_join(peer->watch, NULL);
        peer->watch_started = false;
    }
}

/*
 * Runs @call on the leader, if a worker is idle to take the reading over
 * (so that no more calls run at once than there are workers). Returns
 * true if the calling thread is still the leader afterwards, false if
 * it is not (the call is queued, or another thread took the reading
 * over).
 */
static bool
run_on_leader(epy_peer *peer, epy_call *call)
{
    uint64_t v;

    peer->standby = epy__pool_reserve(&peer->pool);
    if (peer->standby == NULL) {
        epy__pool_push(&peer->pool, &call->job);
        return true;
    }
    v = (++peer->lead_gen << 2) | LEAD_INLINE;
    atomic_store(&peer->lead_word, v);
    watch_arm(peer);
    epy__pool_set_block_hook(lead_take, peer);
    epy__call_run(call);
    epy__pool_set_block_hook(NULL, NULL);
    if (!atomic_compare_exchange_strong(&peer->lead_word, &v,
                                        (v & ~(uint64_t) 3) | LEAD_READING))
        return false;
    epy__pool_unreserve(&peer->pool, peer->standby);
    return true;
}

static void
lead_run(epy__job *job)
{
    epy_peer *peer = EPY__CONTAINER(job, epy_peer, lead_job);
    epy__pool *pool = epy__pool_block();
    char why[256] = "";
    int rc;

    if (!peer->reading) {
        pthread_mutex_lock(&peer->state_lock);
        while (peer->paused && epy__peer_check(peer) == 0)
            pthread_cond_wait(&peer->state_cond, &peer->state_lock);
        pthread_mutex_unlock(&peer->state_lock);
        peer->reading = true;
    }
    for (;;) {
        epy_call *call = NULL;

        if (atomic_load_explicit(&peer->lend, memory_order_relaxed)
            && atomic_load_explicit(&peer->sync_calls, memory_order_relaxed) <= 1
            && !frame_buffered(peer) && lend_reading(peer)) {
            /* A caller that read met the end of the connection. */
            rc = peer->rerr;
            snprintf(why, sizeof why, "%s", peer->rwhy);
            break;
        }
        rc = read_frame(peer, 0, &call, why, sizeof why);
        if (call != NULL) {
            if (frame_buffered(peer))
                epy__pool_push(&peer->pool, &call->job);
            else if (!run_on_leader(peer, call))
                return;     /* another thread reads now */
        }
        if (rc < 0)
            break;
    }
    end_connection(peer, rc, why[0] ? why : NULL);
    pthread_mutex_lock(&peer->state_lock);
    peer->reader_done = true;
    pthread_cond_broadcast(&peer->state_cond);
    pthread_mutex_unlock(&peer->state_lock);
    epy__pool_unblock(pool);
}

/* --- construction ---------------------------------------------------------- */

static void
peer_free(epy_peer *peer)
{
    if (peer->tr != NULL)
        peer->tr->ops->destroy(peer->tr);
    epy__txnmgr_destroy(&peer->txn);
    epy__pool_destroy(&peer->pool);
    epy__registry_unref(peer->reg);
    epy__limits_unref(peer->limits);
    for (size_t i = 0; i < peer->n_hello_ifaces; i++)
        free(peer->hello_ifaces[i]);
    free(peer->hello_ifaces);
    epy_error_clear(&peer->ready_err);
    pthread_mutex_destroy(&peer->wlock);
    pthread_mutex_destroy(&peer->qlock);
    free(peer->pend);
    pthread_mutex_destroy(&peer->state_lock);
    pthread_cond_destroy(&peer->state_cond);
    pthread_mutex_destroy(&peer->calls_lock);
    pthread_cond_destroy(&peer->queue_cond);
    pthread_mutex_destroy(&peer->listener_lock);
    pthread_mutex_destroy(&peer->watch_lock);
    pthread_cond_destroy(&peer->watch_cond);
    epy__rbuf_unref(peer->rbuf);
    free(peer->arena.base);
    free(peer->arena.spare);
    free(peer);
}

void
epy_peer_config_init(epy_peer_config *cfg)
{
    if (cfg != NULL)
        *cfg = (epy_peer_config) EPY_PEER_CONFIG_INIT;
}

static int
check_config(const epy_peer_config *cfg, epy_error *err)
{
    if (cfg->max_frame < 64 || cfg->max_frame > UINT32_MAX)
        return epy_error_setf(err, EPY_EPARAM,
                              "max_frame %zu out of range (64..4294967295)",
                              cfg->max_frame);
    if (cfg->origin > 0xffff)
        return epy_error_set(err, EPY_EPARAM, "origin out of range (0..65535)");
    if (cfg->compress_level < 1 || cfg->compress_level > 9)
        return epy_error_set(err, EPY_EPARAM, "compress_level must be 1..9");
    if (cfg->n_interfaces > 0 && cfg->interfaces == NULL)
        return epy_error_set(err, EPY_EPARAM, "n_interfaces without interfaces");
    for (size_t i = 0; i < cfg->n_interfaces; i++)
        if (cfg->interfaces[i].name == NULL
            || cfg->interfaces[i].fingerprint == NULL
            || strchr(cfg->interfaces[i].name, '=') != NULL)
            return epy_error_set(err, EPY_EPARAM, "invalid interface entry");
    if (cfg->close_timeout_ms < 0)
        return epy_error_set(err, EPY_EPARAM, "negative close_timeout_ms");
    return 0;
}

/* Makes a peer on @tr (taken on success). */
static int
peer_new(epy__transport *tr, const epy_peer_config *cfg,
         const epy__peer_opts *o, const epy_credentials *cred,
         epy_peer **ret, epy_error *err)
{
    epy__registry *reg = o != NULL ? o->reg : NULL;
    epy_peer *peer;
    int rc;

    peer = calloc(1, sizeof *peer);
    if (peer == NULL)
        return epy_error_set(err, EPY_ENOMEM, NULL);
    atomic_init(&peer->refs, 1);
    atomic_init(&peer->rtok, RT_POOL);     /* the reader holds it */
    atomic_init(&peer->lend, false);
    atomic_init(&peer->sync_calls, 0);
    peer->cfg = *cfg;
    peer->cfg.interfaces = NULL;
    peer->cfg.n_interfaces = 0;
    if (peer->cfg.max_pending == 0)
        peer->cfg.max_pending = EPY_DEFAULT_MAX_PENDING;
    pthread_mutex_init(&peer->wlock, NULL);
    pthread_mutex_init(&peer->qlock, NULL);
    pthread_mutex_init(&peer->state_lock, NULL);
    epy__cond_init(&peer->state_cond);
    pthread_mutex_init(&peer->calls_lock, NULL);
    pthread_cond_init(&peer->queue_cond, NULL);
    pthread_mutex_init(&peer->listener_lock, NULL);
    pthread_mutex_init(&peer->watch_lock, NULL);
    epy__cond_init(&peer->watch_cond);
    if (peer->cfg.max_queued == 0)
        peer->cfg.max_queued = EPY_DEFAULT_MAX_QUEUED;
    if (cred != NULL) {
        peer->cred = *cred;
        peer->has_cred = true;
    }
    if (cfg->listener != NULL) {
        peer->listener = *cfg->listener;
        peer->listener_ctx = cfg->listener_ctx;
    }
    peer->cfg.listener = NULL;
    peer->paused = cfg->start_paused;
    if (o != NULL) {
        if (o->listener != NULL) {
            peer->listener = *o->listener;
            peer->listener_ctx = o->listener_ctx;
        }
        peer->server = o->server;
        peer->end_hook = o->end_hook;
        peer->end_hook_ctx = o->end_hook_ctx;
    }
    epy__list_init(&peer->calls);
    peer->arena.alloc.alloc = arena_alloc;
    peer->arena.alloc.free = arena_free;
    peer->arena.alloc.allocator_data = &peer->arena;
    peer->arena.base = malloc(ARENA_SIZE);
    peer->arena.cap = ARENA_SIZE;
    peer->rbuf = rbuf_alloc(READ_CHUNK);
    peer->rcap = READ_CHUNK;
    peer->hello_ifaces = calloc(cfg->n_interfaces + 1, sizeof (char *));
    if (peer->arena.base == NULL || peer->rbuf == NULL
        || peer->hello_ifaces == NULL)
        goto nomem;
    for (size_t i = 0; i < cfg->n_interfaces; i++) {
        const epy_interface *in = &cfg->interfaces[i];
        size_t n = strlen(in->name) + strlen(in->fingerprint) + 2;

        peer->hello_ifaces[i] = malloc(n);
        if (peer->hello_ifaces[i] == NULL)
            goto nomem;
        snprintf(peer->hello_ifaces[i], n, "%s=%s", in->name, in->fingerprint);
        peer->n_hello_ifaces++;
    }
    peer->reg = reg != NULL ? epy__registry_ref(reg) : epy__registry_new();
    if (peer->reg == NULL
        || epy__txnmgr_init(&peer->txn, cfg->origin, peer->cfg.max_pending,
                            epy__async_notify, epy__peer_send_cancel, peer) < 0)
        goto nomem;
    if (o != NULL) {
        peer->limits = epy__limits_ref(o->limits);
        peer->idle_ms = o->idle_timeout_ms;
        if (o->handshake_timeout_ms > 0)
            peer->hello_deadline = epy__deadline(o->handshake_timeout_ms);
    }
    rc = epy__pool_init(&peer->pool, cfg->workers, 1,
                        cfg->max_spare_workers > 0
                            ? cfg->max_spare_workers
                            : EPY_DEFAULT_MAX_SPARE_WORKERS,
                        peer->limits, peer);
    if (rc < 0) {
        epy_error_set(err, rc, "cannot start the worker threads");
        goto fail;
    }
    peer->tr = tr;
    if (tr->ops->set_recv_timeout == NULL)
        peer->hello_deadline = peer->idle_ms = 0;   /* cannot be enforced */
    else if (peer->hello_deadline != 0)
        tr->ops->set_recv_timeout(tr, o->handshake_timeout_ms);
    /*
     * The hello goes first, before the reader can end the connection:
     * the other end always gets it, even when this end refuses its own.
     * A failure shows as the end of the connection.
     */
    send_hello(peer);
    peer->lead_job.run = lead_run;
    peer->flush_job.run = flush_run;
    peer->reader_started = true;
    epy__pool_push(&peer->pool, &peer->lead_job);
    *ret = peer;
    return 0;

nomem:
    rc = epy_error_set(err, EPY_ENOMEM, NULL);
fail:
    peer_free(peer);
    return rc;
}

int
epy_peer_new_fd(int fd, const epy_peer_config *cfg, epy_peer **ret_peer,
                epy_error *ret_err)
{
    return epy__peer_new_fd(fd, cfg, NULL, ret_peer, ret_err);
}

int
epy__peer_new_fd(int fd, const epy_peer_config *cfg,
                 const epy__peer_opts *opts, epy_peer **ret_peer,
                 epy_error *ret_err)
{
    epy_peer_config defaults = EPY_PEER_CONFIG_INIT;
    epy_credentials cred;
    epy__transport *tr;
    int rc;

    if (fd < 0 || ret_peer == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "invalid descriptor or NULL result");
    if (cfg == NULL)
        cfg = &defaults;
    rc = check_config(cfg, ret_err);
    if (rc < 0)
        return rc;
    tr = epy__transport_fd_new(fd);
    if (tr == NULL)
        return epy_error_set(ret_err, EPY_ENOMEM, NULL);
    epy__socket_credentials(fd, &cred);
    rc = peer_new(tr, cfg, opts, &cred, ret_peer, ret_err);
    if (rc < 0)
        free(tr);   /* not destroy: the caller keeps @fd */
    return rc;
}

int
epy_pair_new(const epy_peer_config *cfg_a, const epy_peer_config *cfg_b,
             epy_peer **ret_a, epy_peer **ret_b, epy_error *ret_err)
{
    epy_peer_config defaults = EPY_PEER_CONFIG_INIT;
    epy__transport *ta, *tb;
    int rc;

    if (ret_a == NULL || ret_b == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL result");
    if (cfg_a == NULL)
        cfg_a = &defaults;
    if (cfg_b == NULL)
        cfg_b = &defaults;
    if ((rc = check_config(cfg_a, ret_err)) < 0
        || (rc = check_config(cfg_b, ret_err)) < 0)
        return rc;
    rc = epy__transport_queue_pair(&ta, &tb);
    if (rc < 0)
        return epy_error_set(ret_err, rc, NULL);
    rc = peer_new(ta, cfg_a, NULL, NULL, ret_a, ret_err);
    if (rc < 0) {
        ta->ops->destroy(ta);
        tb->ops->destroy(tb);
        return rc;
    }
    rc = peer_new(tb, cfg_b, NULL, NULL, ret_b, ret_err);
    if (rc < 0) {
        tb->ops->destroy(tb);
        *ret_a = epy_peer_close(*ret_a);
        return rc;
    }
    return 0;
}

int
epy_link_open(epy_link *link, epy_error *ret_err)
{
    if (link == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL link");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link->fd) < 0) {
        int e = errno;

        link->fd[0] = link->fd[1] = -1;
        epy_error_setf(ret_err, EPY_ESYSTEM, "socketpair: %s", strerror(e));
        if (ret_err != NULL)
            ret_err->sys_errno = e;
        return EPY_ESYSTEM;
    }
    return 0;
}

int
epy_link_peer(epy_link *link, int side, const epy_peer_config *cfg,
              epy_peer **ret_peer, epy_error *ret_err)
{
    epy_peer_config c;
    int rc;

    if (link == NULL || (side != EPY_LINK_HEAD && side != EPY_LINK_NECK)
        || link->fd[side] < 0)
        return epy_error_set(ret_err, EPY_EPARAM, "invalid or taken link side");
    if (cfg != NULL) {
        c = *cfg;
    } else {
        epy_peer_config_init(&c);
        c.origin = side == EPY_LINK_HEAD ? EPY_ORIGIN_HEAD : EPY_ORIGIN_NECK;
    }
    rc = epy_peer_new_fd(link->fd[side], &c, ret_peer, ret_err);
    if (rc < 0)
        return rc;
    link->fd[side] = -1;
    if (link->fd[1 - side] >= 0) {
        close(link->fd[1 - side]);
        link->fd[1 - side] = -1;
    }
    return 0;
}

void
epy_link_close(epy_link *link)
{
    if (link == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        if (link->fd[i] >= 0)
            close(link->fd[i]);
        link->fd[i] = -1;
    }
}

/* --- the running peer ------------------------------------------------------ */

int
epy_peer_wait_ready(epy_peer *peer, int64_t timeout_ms, epy_error *ret_err)
{
    int64_t deadline;
    int rc;

    if (peer == NULL || timeout_ms < 0)
        return epy_error_set(ret_err, EPY_EPARAM, NULL);
    deadline = epy__deadline(timeout_ms);
    pthread_mutex_lock(&peer->state_lock);
    while (peer->ready == 0) {
        if (deadline != 0) {
            struct timespec ts = epy__abstime(deadline);

            if (pthread_cond_timedwait(&peer->state_cond, &peer->state_lock,
                                       &ts) == ETIMEDOUT)
                break;
        } else {
            pthread_cond_wait(&peer->state_cond, &peer->state_lock);
        }
    }
    if (peer->ready > 0)
        rc = 0;
    else if (peer->ready == 0)
        rc = epy_error_set(ret_err, EPY_ETIMEDOUT, "no hello from the other end");
    else if (ret_err != NULL)
        rc = epy_error_copy(ret_err, &peer->ready_err) < 0 ? EPY_ENOMEM
                                                           : peer->ready;
    else
        rc = peer->ready;
    pthread_mutex_unlock(&peer->state_lock);
    return rc;
}

int
epy_peer_start(epy_peer *peer)
{
    int rc = 0;

    if (peer == NULL)
        return EPY_EPARAM;
    pthread_mutex_lock(&peer->state_lock);
    if (peer->paused) {
        peer->paused = false;
        pthread_cond_broadcast(&peer->state_cond);
    } else {
        rc = EPY_EPARAM;
    }
    pthread_mutex_unlock(&peer->state_lock);
    return rc;
}

/* Stops the connection here: tells the other end, ends the reader. */
static void
stop_connection(epy_peer *peer)
{
    if (epy__peer_check(peer) == 0) {
        /*
         * Told if the other end reads: one that stops reading cannot
         * hold the close up (it sees the connection end all the same).
         */
        Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
        epy__payload none = { NULL, 0, NULL, epy__deadline(GOODBYE_MS) };

        env.kind = EPYRPC__KIND__DISCONNECT;
        epy__peer_send_payload(peer, &env, &none);
    }
    set_status(peer, EPY_ECLOSED);
    peer->tr->ops->shutdown(peer->tr);
    kick_reader(peer);
    wake_queue(peer);
    pthread_mutex_lock(&peer->state_lock);
    pthread_cond_broadcast(&peer->state_cond);     /* a paused reader */
    pthread_mutex_unlock(&peer->state_lock);
}

static void
close_late(epy_peer *peer)
{
    epy__log(peer, EPY_LOG_WARNING,
             "handlers still running after %lld ms; waiting for them",
             (long long) peer->cfg.close_timeout_ms);
    epy__call_cancel_all(peer);
}

epy_peer *
epy_peer_close(epy_peer *peer)
{
    if (peer == NULL)
        return NULL;
    atomic_store(&peer->closing, true);
    atomic_store(&peer->leaving, true);
    stop_connection(peer);
    if (peer->reader_started) {
        pthread_mutex_lock(&peer->state_lock);
        while (!peer->reader_done)
            pthread_cond_wait(&peer->state_cond, &peer->state_lock);
        pthread_mutex_unlock(&peer->state_lock);
        peer->reader_started = false;
    }
    watch_stop(peer);
    epy__txnmgr_stop(&peer->txn, epy__peer_check(peer));
    epy__pool_stop(&peer->pool, peer->cfg.close_timeout_ms, close_late, peer);
    /*
     * Deferred calls may still be answered later: they keep the peer's
     * memory, and find it closed. Its descriptor goes now.
     */
    pthread_mutex_lock(&peer->wlock);
    peer->tr->ops->destroy(peer->tr);
    peer->tr = NULL;
    pthread_mutex_unlock(&peer->wlock);
    epy__peer_unref(peer);
    return NULL;
}

int
epy_peer_disconnect(epy_peer *peer, bool solicited, int64_t timeout_ms,
                    epy_error *ret_err)
{
    int rc = 0;

    if (peer == NULL || timeout_ms < 0)
        return epy_error_set(ret_err, EPY_EPARAM, NULL);
    if (epy__peer_check(peer) != 0)
        return epy_error_set(ret_err, EPY_ECLOSED, "already disconnected");
    atomic_store(&peer->leaving, true);
    if (solicited) {
        Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
        epy__txn t;

        memset(&t, 0, sizeof t);
        t.kind = EPY__TXN_SYNC;
        rc = epy__txn_begin(&peer->txn, &t);
        if (rc == 0) {
            epy__payload none = { NULL, 0, NULL, epy__deadline(timeout_ms) };

            env.kind = EPYRPC__KIND__DISCONNECT;
            env.has_txn = true;
            env.txn = t.id;
            rc = epy__peer_send_payload(peer, &env, &none);
            if (rc < 0)
                epy__txn_abort(&peer->txn, &t);
            else
                rc = epy__txn_wait_sync(&peer->txn, &t,
                                        epy__deadline(timeout_ms));
        }
        /* The acknowledgement is an EPY_EDISCONNECTED answer. */
        if (rc == EPY_EDISCONNECTED)
            rc = 0;
        if (rc < 0)
            epy_error_set(ret_err, rc, rc == EPY_ETIMEDOUT
                          ? "no acknowledgement of the disconnect" : NULL);
    }
    stop_connection(peer);
    epy__txn_fail_all(&peer->txn, EPY_ECLOSED, true);
    return rc;
}

bool
epy_peer_is_connected(const epy_peer *peer)
{
    return peer != NULL && epy__peer_check((epy_peer *) peer) == 0;
}

int
epy_peer_status(const epy_peer *peer)
{
    return peer != NULL ? epy__peer_check((epy_peer *) peer) : EPY_EPARAM;
}

bool
epy_peer_txn_pending(epy_peer *peer, epy_txn_id id)
{
    return peer != NULL && epy__txn_known(&peer->txn, id);
}

size_t
epy_peer_pending_count(epy_peer *peer)
{
    return peer != NULL ? epy__txn_count(&peer->txn) : 0;
}

int
epy_peer_workers(const epy_peer *peer)
{
    return peer != NULL ? peer->pool.workers : 0;
}

void
epy_peer_set_user(epy_peer *peer, void *user)
{
    if (peer != NULL)
        peer->user = user;
}

void *
epy_peer_user(const epy_peer *peer)
{
    return peer != NULL ? peer->user : NULL;
}

void
epy_peer_set_listener(epy_peer *peer, const epy_listener *listener, void *ctx)
{
    if (peer == NULL)
        return;
    pthread_mutex_lock(&peer->listener_lock);
    if (listener != NULL)
        peer->listener = *listener;
    else
        memset(&peer->listener, 0, sizeof peer->listener);
    peer->listener_ctx = listener != NULL ? ctx : NULL;
    pthread_mutex_unlock(&peer->listener_lock);
}

void
epy__peer_listener(epy_peer *peer, epy_listener *l, void **ctx)
{
    pthread_mutex_lock(&peer->listener_lock);
    *l = peer->listener;
    *ctx = peer->listener_ctx;
    pthread_mutex_unlock(&peer->listener_lock);
}

void
epy_peer_set_ignore_unhandled(epy_peer *peer, bool ignore)
{
    if (peer != NULL)
        atomic_store(&peer->ignore_unhandled, ignore);
}

int
epy_peer_credentials(const epy_peer *peer, epy_credentials *ret_cred)
{
    if (peer == NULL || ret_cred == NULL || !peer->has_cred)
        return EPY_EPARAM;
    *ret_cred = peer->cred;
    return 0;
}

epy_server *
epy_peer_server(const epy_peer *peer)
{
    return peer != NULL ? peer->server : NULL;
}

int
epy__peer_new_transport(epy__transport *tr, const epy_peer_config *cfg,
                        epy_peer **ret_peer, epy_error *ret_err)
{
    epy_peer_config defaults = EPY_PEER_CONFIG_INIT;
    int rc;

    if (cfg == NULL)
        cfg = &defaults;
    rc = check_config(cfg, ret_err);
    if (rc < 0)
        return rc;
    return peer_new(tr, cfg, NULL, NULL, ret_peer, ret_err);
}
