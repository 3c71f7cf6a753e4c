/*
 * The reading side of a peer: frames read, checked and decoded, the
 * hello, and what each frame kind does. Whoever holds the reading (the
 * pool's reader, or a synchronous caller: see lead.c) calls these.
 *
 * Each frame's envelope is decoded with an arena allocator reset per
 * frame and bounded by the frame's decoding budget; replies complete
 * their transactions here (so they are never stuck behind busy
 * handlers), calls and events are handed on to call.c.
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

/* Frames from this size on have their payload used in place. */
#define ZERO_COPY_RECV_MIN ((size_t) 4096)
#define ARENA_KEEP ((size_t) 1024 * 1024)

/* --- the decoding arena ---------------------------------------------------- */

void *
epy__arena_alloc(void *data, size_t size)
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

void
epy__arena_free(void *data, void *p)
{
    (void) data;
    (void) p;   /* everything goes at the next reset */
}

/*
 * Frees what the last frame took, but keeps its largest block (up to
 * ARENA_KEEP) for the next one: frames of the same large size then
 * allocate nothing.
 */
void
epy__arena_reset(epy__arena *a)
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

/* --- receiving ------------------------------------------------------------- */

static int take_fds(epy_peer *peer, Epyrpc__Kind kind, uint32_t n,
                    epy__fdset **ret, char *why, size_t whylen);
static int dispatch_fds(epy_peer *peer, Epyrpc__Envelope *env, size_t size,
                        const uint8_t *payload, size_t len,
                        const uint8_t *lender, epy__fdset **fds,
                        epy_call **ret_call, char *why, size_t whylen);

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
    epy__fdset *fds = NULL;
    int rc = 0;

    if (env->has_fds && env->fds > 0) {
        rc = take_fds(peer, env->kind, env->fds, &fds, why, whylen);
        if (rc < 0)
            return rc;
    }
    if (env->n_blobs > 0) {
        rc = epy__blobs_take(peer, env, fds, why, whylen);
        if (rc < 0) {
            epy__fdset_free(fds);
            return rc;
        }
    }
    rc = dispatch_fds(peer, env, size, payload, len, lender, &fds,
                      ret_call, why, whylen);
    epy__fdset_free(fds);       /* those no call or reply took */
    return rc;
}

/*
 * The @n descriptors that came with a frame, in *@ret. Returns 0 or
 * EPY_EPROTO (this end takes none, too many, or fewer came).
 */
static int
take_fds(epy_peer *peer, Epyrpc__Kind kind, uint32_t n, epy__fdset **ret,
         char *why, size_t whylen)
{
    int fds[EPY__FDS_PER_WRITE];

    if ((!peer->local_fds && kind != EPYRPC__KIND__HELLO)
        || n > EPY__FDS_PER_WRITE || peer->tr->ops->take_fds == NULL) {
        snprintf(why, whylen, "frame with %u descriptors, where this end "
                 "takes %s", n, peer->local_fds ? "64 at most" : "none");
        return EPY_EPROTO;
    }
    if (peer->tr->ops->take_fds(peer->tr, fds, (int) n) < 0) {
        snprintf(why, whylen, "frame with %u descriptors that did not come "
                 "with it", n);
        return EPY_EPROTO;
    }
    *ret = epy__fdset_new(fds, (int) n);
    return *ret != NULL ? 0 : EPY_ENOMEM;
}

/* dispatch(), with the frame's descriptors in *@fds (taken if used). */
static int
dispatch_fds(epy_peer *peer, Epyrpc__Envelope *env, size_t size,
             const uint8_t *payload, size_t len, const uint8_t *lender,
             epy__fdset **fds, epy_call **ret_call, char *why, size_t whylen)
{
    uint8_t *inflated = NULL;
    int rc = 0;

    if (!peer->got_hello) {
        if (env->kind != EPYRPC__KIND__HELLO) {
            snprintf(why, whylen, "first frame is not a hello");
            return EPY_EPROTO;
        }
        rc = epy__hello_check(peer, env->hello, why, whylen);
        if (rc < 0)
            return rc;
        peer->got_hello = true;
        epy__shm_hello_read(peer, env->hello, *fds);
        peer->idle_since = epy__now_ns();
        if (peer->tr->ops->set_recv_timeout != NULL)
            peer->tr->ops->set_recv_timeout(peer->tr, peer->idle_ms);
        epy__peer_set_ready(peer, 1, NULL);
        if (peer->ready_hook != NULL)
            peer->ready_hook(peer, peer->ready_hook_ctx);
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
                                inflated == NULL ? lender : NULL, fds,
                                ret_call);
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
        r = epy__txn_complete(&peer->txn, env->txn, code, payload, len, fds,
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
        if (env->has_txn && env->txn != 0)   /* the acknowledgement */
            epy__peer_send_error(peer, env->txn, EPY_EDISCONNECTED,
                                 "disconnected");
        snprintf(why, whylen, "the other end disconnected");
        rc = EPY_EDISCONNECTED;
        break;
    case EPYRPC__KIND__HELLO:
        snprintf(why, whylen, "second hello");
        rc = EPY_EPROTO;
        break;
    case EPYRPC__KIND__SWITCH:
        rc = epy__shm_switch_read(peer, why, whylen);
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
 * the buffer until it ends. The count sits EPY__RBUF_HDR bytes before the
 * data. The reader resizes or reuses the buffer only while it is the
 * only holder; otherwise it reads on in a new one (epy__peer_read_frame()).
 */

static atomic_int *
rbuf_refs(const uint8_t *b)
{
    return (atomic_int *) (void *) (b - EPY__RBUF_HDR);
}

/* Only while the reader is the only holder. */
static uint8_t *
rbuf_resize(uint8_t *b, size_t cap)
{
    uint8_t *p = realloc(b - EPY__RBUF_HDR, EPY__RBUF_HDR + cap);

    return p != NULL ? p + EPY__RBUF_HDR : NULL;
}

/* Moves the unread bytes to a new buffer: a call borrows from this one. */
static int
rbuf_leave(epy_peer *peer)
{
    size_t have = peer->rend - peer->rstart;
    size_t cap = have > peer->rchunk ? have : peer->rchunk;
    uint8_t *nb = epy__rbuf_alloc(cap);

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
void
epy__peer_read_for_good(epy_peer *peer)
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

/*
 * Makes sure @need bytes from rstart are buffered. With @deadline (ns,
 * 0: none), waits for them until then only. Returns 0, EPY__FRAME_LATER, or
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
        if (!peer->driven
            && ((peer->hello_deadline != 0 && !peer->got_hello)
                || (peer->idle_ms != 0 && deadline == 0))) {
            int rc = check_deadlines(peer);

            if (rc != 0)
                return rc;
        }
        peer->recvs++;
        n = peer->tr->ops->recv(peer->tr, peer->rbuf + peer->rend,
                                peer->rcap - peer->rend);
        if (n == 0)
            return EPY_EDISCONNECTED;
        if (n == -EAGAIN && peer->driven)
            return EPY__FRAME_LATER;    /* the loop comes back when readable */
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
                return EPY__FRAME_LATER;
            if (deadline == 0)
                epy__peer_read_for_good(peer);
            continue;
        }
        if (n == -EPROTO)
            return EPY_EPROTO;  /* a broken ring, descriptors past the limit */
        if (n < 0) {
            peer->recv_errno = (int) -n;
            return EPY_ESYSTEM;
        }
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
            if (key >> 3 == EPY__PAYLOAD_FIELD && p + n == end
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

        epy__arena_reset(&peer->arena);
        if (over)
            snprintf(why, whylen, "frame of %zu bytes exceeds the decoding "
                     "budget of %zu bytes", size, peer->arena.budget);
        else
            snprintf(why, whylen, "undecodable frame of %zu bytes", size);
        return EPY_EPROTO;
    }
    if (env->method != NULL
        && (env->kind == EPYRPC__KIND__CALL || env->kind == EPYRPC__KIND__EVENT)
        && string_has_nul(frame, head, EPY__METHOD_FIELD))
        env->method = (char *) "";     /* refused as an invalid name */
    if (peer->tap != NULL) {
        uint8_t prefix[4] = { (uint8_t) size, (uint8_t) (size >> 8),
                              (uint8_t) (size >> 16), (uint8_t) (size >> 24) };
        struct iovec iov[2] = { { prefix, 4 }, { (void *) frame, size } };

        epy__tap_frame(peer, true, env, iov, 2, size + 4);
    }
    /*
     * A large request that lies in the read buffer, and is most of it,
     * is lent to its call rather than copied.
     */
    rc = dispatch(peer, env, size,
                  in_rbuf && head < size && 2 * payload.len >= peer->rcap
                      ? peer->rbuf : NULL,
                  ret_call, why, whylen);
    epy__arena_reset(&peer->arena);
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
bool
epy__peer_frame_buffered(const epy_peer *peer)
{
    const uint8_t *p = peer->rbuf + peer->rstart;
    size_t have = peer->rend - peer->rstart, size;

    if (have < 4)
        return false;
    size = (size_t) p[0] | (size_t) p[1] << 8 | (size_t) p[2] << 16
           | (size_t) p[3] << 24;
    return have - 4 >= size;
}

void
epy__peer_recv_why(int err, char *why, size_t whylen)
{
    if (err == EMFILE || err == ENFILE)
        snprintf(why, whylen, "descriptors that came with the data were "
                 "lost: this process has none to spare (%s)", strerror(err));
    else
        snprintf(why, whylen, "read failed: %s", strerror(err));
}

/*
 * Reads and handles one frame; the holder of the reading token. With
 * @deadline (ns, 0: none), gives up at that time with EPY__FRAME_LATER, the
 * bytes read so far kept for the next reader. A call or event read is
 * returned in *@ret_call. Returns 0, EPY__FRAME_LATER, or the code that ends
 * the connection (with @why).
 */
int
epy__peer_read_frame(epy_peer *peer, int64_t deadline, epy_call **ret_call, char *why,
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
        else if (rc == EPY_EPROTO)
            snprintf(why, whylen, "the other end broke the stream: %s",
                     peer->shm_rx_on ? "the shared ring's indices are out "
                     "of range" : "descriptors that no frame claims");
        else if (rc == EPY_ESYSTEM)
            epy__peer_recv_why(peer->recv_errno, why, whylen);
        return rc;
    }
    if (peer->idle_ms != 0)
        peer->idle_since = epy__now_ns();
    rc = process_frame(peer, peer->rbuf + peer->rstart + 4, size, true,
                       ret_call, why, whylen);
    if (rc == EPY__FRAME_HOLD)
        return rc;      /* the frame stays, to be read again */
    peer->rstart += 4 + size;
    if (peer->shm_rx && !peer->shm_rx_on) {
        /*
         * The last frame of the socket: what follows it there is
         * wake-ups; the frames are in the shared ring.
         */
        peer->shm_rx_on = true;
        peer->rstart = peer->rend;
        epy__shm_switch_rx(peer->tr);
    }
    if (peer->rstart == peer->rend)
        peer->rstart = peer->rend = 0;
    if (peer->rcap > (peer->driven ? 1 : 4) * peer->rchunk && peer->rend == 0
        && atomic_load_explicit(rbuf_refs(peer->rbuf), memory_order_acquire) == 1) {
        /* Give back the memory of a large frame. */
        uint8_t *q = rbuf_resize(peer->rbuf, peer->rchunk);

        if (q != NULL) {
            peer->rbuf = q;
            peer->rcap = peer->rchunk;
        }
    }
    return rc;
}
