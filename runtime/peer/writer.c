/*
 * The writing side of a peer: frames encoded and written.
 *
 * Frames are a 4-byte little-endian length and an epyrpc.Envelope packed
 * by protobuf-c. Packing goes through a ProtobufCBuffer that copies small
 * pieces into a scratch area and refers to large ones (the payload) where
 * they are, so a frame is written with one sendmsg() and the payload is
 * never copied on the way out. Frames of several threads meet at the
 * writer; a write with a deadline gives up at it. A driven peer's writer
 * never blocks: writer-nb.c.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "conn-int.h"
#include "transport-shm.h"

/* Frames up to this size may wait for another thread's write. */
#define COALESCE_MAX ((size_t) 4096)
/* ... as long as no more than this waits in all. */
#define PEND_CAP ((size_t) 16 * 1024)
/*
 * The leader's corked frames go once this much waits, without waiting
 * for the end of what it read: a pipeline of calls keeps both ends busy.
 */
#define CORK_MAX ((size_t) 1024)
#define ZERO_COPY_MIN 256
#define MAX_IOV 16

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
 * own, as epy__peer_end() would say: the other end may have gone first
 * (its acknowledgement of a disconnect read, its close raced with ours).
 * -ECANCELED: a write with a deadline stopped in the middle of a frame,
 * the other end having read nothing for that long; the stream is broken.
 * -EPROTO: the other end broke the shared ring this end writes into
 * (its head out of range), a protocol error as on the reading side.
 * Returns the peer's status.
 */
int
epy__peer_write_failed(epy_peer *peer, int rc)
{
    if (epy__peer_check(peer) == 0) {
        int code = atomic_load(&peer->leaving) ? EPY_ECLOSED
                   : rc == -ECANCELED ? EPY_ETIMEDOUT
                   : rc == -EPROTO ? EPY_EPROTO : EPY_EDISCONNECTED;

        if (rc == -ECANCELED)
            epy__log(peer, EPY_LOG_WARNING,
                     "the other end read nothing until a call's deadline, "
                     "in the middle of a frame: ending the connection");
        else if (rc == -EPROTO)
            epy__log(peer, EPY_LOG_WARNING,
                     "the other end broke the shared ring this end writes "
                     "into (indices out of range): ending the connection");
        else
            epy__log(peer, EPY_LOG_INFO, "write failed: %s", strerror(-rc));
        epy__peer_set_status(peer, code);
        peer->tr->ops->shutdown(peer->tr);
    }
    return epy__peer_check(peer) ? epy__peer_check(peer) : EPY_EDISCONNECTED;
}

/*
 * Sends the frames waiting; the writer (wlock held). Returns 0,
 * EPY_ETIMEDOUT (@deadline passed with nothing of a chunk written: it
 * is all still there), or the peer's status once the connection has
 * ended (they are dropped).
 */
static int
flush_pending(epy_peer *peer, int64_t deadline)
{
    for (;;) {
        epy__outchunk *c;
        struct iovec v;
        size_t n;
        int rc, fds[EPY__FDS_PER_WRITE], nf = 0;

        pthread_mutex_lock(&peer->qlock);
        c = peer->out_head;
        n = c != NULL ? c->len - c->off : 0;
        if (n > 0)
            nf = epy__out_attach(peer, c, fds);
        pthread_mutex_unlock(&peer->qlock);
        if (n == 0 && (c == NULL || c->next == NULL))
            return 0;
        v.iov_base = c->data + c->off;
        v.iov_len = n;
        rc = epy__peer_check(peer);
        if (rc == 0 && n > 0) {
            rc = peer->tr->ops->sendv(peer->tr, &v, 1, deadline);
            if (rc == -ETIMEDOUT)
                return EPY_ETIMEDOUT;
            if (rc < 0)
                rc = epy__peer_write_failed(peer, rc);
        }
        pthread_mutex_lock(&peer->qlock);
        if (rc < 0) {
            epy__out_drop(peer);     /* nobody will read them */
        } else {
            epy__out_fds_sent(c, nf);
            c->off += n;
            peer->out_bytes -= n;
            if (c->off == c->len) {
                if (c->next != NULL) {
                    peer->out_head = c->next;
                    free(c);
                } else {
                    c->off = c->len = 0;    /* kept for the next ones */
                }
            }
        }
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
        if (peer->out_bytes == 0) {
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
        epy__peer_push(peer, &peer->flush_job);
    }
}

void
epy__peer_uncork(epy_peer *peer, bool now)
{
    bool write = false, queue = false;

    if (!atomic_load_explicit(&peer->corked, memory_order_relaxed)
        || !atomic_exchange_explicit(&peer->corked, false,
                                     memory_order_relaxed))
        return;
    pthread_mutex_lock(&peer->qlock);
    if (peer->out_bytes > 0 && !peer->writing && !peer->flush_queued) {
        if (now)
            write = peer->writing = true;
        else
            queue = peer->flush_queued = true;
    }
    pthread_mutex_unlock(&peer->qlock);
    if (write) {
        pthread_mutex_lock(&peer->wlock);
        writer_leave(peer, 0, true);
    } else if (queue) {
        epy__peer_ref(peer);
        epy__peer_push(peer, &peer->flush_job);
    }
}

void
epy__peer_flush_run(epy__job *job)
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
 * Writes @iov with @fds now; the writer (wlock held). Returns 0,
 * EPY_ETIMEDOUT (nothing written by @deadline), or the peer's status
 * once the connection has ended.
 */
static int
send_now(epy_peer *peer, struct iovec *iov, int n, int64_t deadline,
         const int *fds, int n_fds)
{
    int rc;

    if (n_fds > 0)
        peer->tr->ops->attach_fds(peer->tr, fds, n_fds);
    rc = peer->tr->ops->sendv(peer->tr, iov, n, deadline);
    if (rc == -ETIMEDOUT)
        return EPY_ETIMEDOUT;
    return rc < 0 ? epy__peer_write_failed(peer, rc) : 0;
}

/*
 * The writer (wlock held) of a blocking peer: what other threads left
 * pending, then @iov. Returns as send_now(); writer_leave() follows.
 */
static int
write_held(epy_peer *peer, struct iovec *iov, int n, int64_t deadline,
           const int *fds, int n_fds)
{
    int rc;

    pthread_mutex_lock(&peer->qlock);
    peer->writing = true;
    pthread_mutex_unlock(&peer->qlock);
    rc = flush_pending(peer, deadline);
    if (rc == 0)
        rc = epy__peer_check(peer);
    return rc == 0 ? send_now(peer, iov, n, deadline, fds, n_fds) : rc;
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
write_frame(epy_peer *peer, struct iovec *iov, int n, int64_t deadline,
            const int *fds, int n_fds)
{
    size_t total = 0;
    int rc;

    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    if (total <= COALESCE_MAX && n_fds == 0 && epy__peer_corking(peer)) {
        bool left = false, full = false;

        /*
         * Written with the leader's next ones (epy__peer_uncork()), or
         * now once CORK_MAX bytes wait: the other end starts on those
         * while the leader runs the rest of what it read.
         */
        pthread_mutex_lock(&peer->qlock);
        if (peer->out_bytes + total <= PEND_CAP) {
            left = epy__out_append(peer, iov, n, total, NULL, 0);
            full = peer->out_bytes >= CORK_MAX;
        }
        pthread_mutex_unlock(&peer->qlock);
        if (left) {
            atomic_store_explicit(&peer->corked, true, memory_order_relaxed);
            if (full)
                epy__peer_uncork(peer, true);
            return 0;
        }
    }
    if (pthread_mutex_trylock(&peer->wlock) != 0) {
        bool left = false;

        pthread_mutex_lock(&peer->qlock);
        if (peer->writing && total <= COALESCE_MAX && n_fds == 0
            && peer->out_bytes + total <= PEND_CAP)
            left = epy__out_append(peer, iov, n, total, NULL, 0);
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
    rc = write_held(peer, iov, n, deadline, fds, n_fds);
    writer_leave(peer, deadline, rc == 0 || rc == EPY_ETIMEDOUT);
    return rc;
}

/*
 * Queues one frame of @total bytes to be written by a worker, without
 * waiting: EPY_EBUSY if the queue would pass max_send_queue, EPY_ETOOBIG
 * if the frame alone is larger than that.
 */
static int
post_frame(epy_peer *peer, struct iovec *iov, int n, size_t total,
           const int *fds, int n_fds)
{
    bool queue = false;
    int rc = 0;

    if (total > peer->cfg.max_send_queue)
        return EPY_ETOOBIG;     /* would never fit: not the peer's fault */
    pthread_mutex_lock(&peer->qlock);
    if (peer->out_bytes + total > peer->cfg.max_send_queue)
        rc = EPY_EBUSY;
    else if (!epy__out_append(peer, iov, n, total, fds, n_fds))
        rc = EPY_ENOMEM;
    else if (!peer->writing && !peer->flush_queued)
        queue = peer->flush_queued = true;
    pthread_mutex_unlock(&peer->qlock);
    if (queue) {
        epy__peer_ref(peer);
        epy__peer_push(peer, &peer->flush_job);
    }
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
    epy__payload p = { .data = payload, .len = len };

    return epy__peer_send_payload(peer, env, &p);
}

bool
epy__peer_passes_fds(epy_peer *peer)
{
    return peer != NULL && peer->tr->ops->attach_fds != NULL
           && atomic_load(&peer->remote_fds);
}

int
epy__peer_send_payload(epy_peer *peer, Epyrpc__Envelope *env,
                       const epy__payload *pl)
{
    uint8_t stack[1024], field[20];
    Epyrpc__Blob blobs[EPY__FDS_PER_WRITE], *blob_ptrs[EPY__FDS_PER_WRITE];
    const ProtobufCMessage *msg = pl->msg;
    const void *payload = pl->data;
    size_t len = pl->len, size, msg_len = 0, field_len = 0;
    uint8_t *packed = NULL, *zbuf = NULL;
    iobuf b;
    int rc;

    rc = epy__peer_check(peer);
    if (rc != 0)
        return rc;
    if (pl->n_fds > 0) {
        /* Refused before anything is sent: the connection goes on. */
        if (pl->n_fds > EPY__FDS_PER_WRITE)
            return EPY_ETOOBIG;
        /* A hello's (its ring) goes before the other end has said. */
        if (env->kind == EPYRPC__KIND__HELLO
                ? peer->tr->ops->attach_fds == NULL
                : !epy__peer_passes_fds(peer))
            return EPY_EUNSUPPORTED;
        env->has_fds = true;
        env->fds = (uint32_t) pl->n_fds;
        if (pl->n_blobs > 0 && pl->n_blobs <= pl->n_fds)
            epy__blobs_put(env, pl, blobs, blob_ptrs);
    }
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
        field_len = put_varint(field, EPY__PAYLOAD_FIELD << 3 | 2);
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

    if (!b.failed)
        epy__tap_frame(peer, false, env, b.iov, b.n, size + 4);
    if (b.failed)
        rc = EPY_ENOMEM;
    else if (peer->driven)
        rc = epy__peer_write_nb(peer, b.iov, b.n, size + 4, pl->post,
                                pl->fds, pl->n_fds);
    else if (pl->post)
        rc = post_frame(peer, b.iov, b.n, size + 4, pl->fds, pl->n_fds);
    else
        rc = write_frame(peer, b.iov, b.n, pl->deadline, pl->fds, pl->n_fds);
    free(b.block);
    free(zbuf);
    free(packed);
    return rc;
}

int
epy__peer_send_error(epy_peer *peer, epy_txn_id txn, int code,
                     const char *message)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;

    env.kind = EPYRPC__KIND__ERROR;
    env.has_txn = true;
    env.txn = txn;
    env.has_code = true;
    env.code = code;
    env.message = (char *) message;
    return epy__peer_send(peer, &env, NULL, 0);
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

/*
 * Sends the SWITCH frame, the last this end writes on the socket, and
 * moves the writing to the shared ring (shm.c), frames queued meanwhile
 * included. A driven peer whose queue does not empty within the goodbye
 * delay stays on the socket (EPY_EBUSY).
 */
int
epy__peer_send_switch(epy_peer *peer)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    uint8_t frame[16];
    struct iovec v;
    size_t size;
    int64_t deadline = epy__deadline(EPY__GOODBYE_MS);
    int rc;

    env.kind = EPYRPC__KIND__SWITCH;
    size = epyrpc__envelope__pack(&env, frame + 4);
    frame[0] = (uint8_t) size;
    frame[1] = frame[2] = frame[3] = 0;
    v.iov_base = frame;
    v.iov_len = size + 4;
    if (peer->driven) {
        epy__peer_flush_until(peer, deadline);  /* what waits goes first */
        pthread_mutex_lock(&peer->wlock);
        rc = epy__peer_flush_nb_locked(peer);
        if (rc == 0 && epy__peer_out_waiting(peer))
            rc = EPY_EBUSY;
        if (rc == 0)
            rc = send_now(peer, &v, 1, deadline, NULL, 0);
        if (rc == 0)
            epy__shm_switch_tx(peer->tr);
        pthread_mutex_unlock(&peer->wlock);
        return rc;
    }
    pthread_mutex_lock(&peer->wlock);
    rc = write_held(peer, &v, 1, deadline, NULL, 0);
    if (rc == 0)
        epy__shm_switch_tx(peer->tr);   /* before the queue's rest */
    writer_leave(peer, deadline, rc == 0 || rc == EPY_ETIMEDOUT);
    return rc;
}
