/*
 * The in-process queue pair: two peers of one process joined by two
 * bounded byte rings, one per direction. Writers block while a ring is
 * full, readers while it is empty; shutting down either end ends both
 * directions, as shutting down a socket would: the end that shut down
 * reads nothing more, the other end still reads what was sent before.
 *
 * Locking: one mutex for the pair, taken inside the peer's write lock
 * (sendv) or alone (recv, shutdown). Each ring has one
 * reader at a time (the holder of its peer's reading token), so a
 * signal of readable reaches the thread that reads.
 */
#include <config.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-int.h"
#include "transport-int.h"

#define RING_SIZE ((size_t) 256 * 1024)

typedef struct ring {
    uint8_t *data;
    size_t head;            /* next byte to read */
    size_t len;             /* bytes stored */
    pthread_cond_t readable;
    pthread_cond_t writable;
} ring;

typedef struct queue_shared {
    pthread_mutex_t lock;
    ring rings[2];          /* rings[i]: bytes travelling to end i */
    bool closed[2];         /* closed[i]: end i was shut down */
    int refs;
} queue_shared;

typedef struct queue_end {
    epy__transport base;
    queue_shared *q;
    int side;
    _Atomic int64_t timeout_ms;     /* recv() gives up after it; 0: never */
} queue_end;

static int
queue_sendv(epy__transport *t, struct iovec *iov, int n, int64_t deadline)
{
    queue_end *e = (queue_end *) t;
    queue_shared *q = e->q;
    ring *r = &q->rings[1 - e->side];
    struct timespec ts = epy__abstime(deadline);
    bool sent = false;
    int rc = 0;

    pthread_mutex_lock(&q->lock);
    for (int i = 0; i < n && rc == 0; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;

        while (left > 0) {
            size_t tail, room, chunk;

            while (!q->closed[0] && !q->closed[1] && r->len == RING_SIZE
                   && rc == 0) {
                if (deadline == 0)
                    pthread_cond_wait(&r->writable, &q->lock);
                else if (pthread_cond_timedwait(&r->writable, &q->lock, &ts)
                         == ETIMEDOUT && r->len == RING_SIZE)
                    rc = sent ? -ECANCELED : -ETIMEDOUT;
            }
            if (rc == 0 && (q->closed[0] || q->closed[1]))
                rc = -EPIPE;
            if (rc != 0)
                break;
            tail = (r->head + r->len) % RING_SIZE;
            room = RING_SIZE - r->len;
            chunk = RING_SIZE - tail;
            if (chunk > room)
                chunk = room;
            if (chunk > left)
                chunk = left;
            memcpy(r->data + tail, p, chunk);
            sent = true;
            r->len += chunk;
            p += chunk;
            left -= chunk;
            pthread_cond_signal(&r->readable);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static ssize_t
queue_recv(epy__transport *t, void *buf, size_t len)
{
    queue_end *e = (queue_end *) t;
    queue_shared *q = e->q;
    ring *r = &q->rings[e->side];
    int64_t ms = atomic_load(&e->timeout_ms);
    struct timespec ts;
    size_t got = 0;

    if (ms > 0)
        ts = epy__abstime(epy__now_ns() + ms * 1000000);
    pthread_mutex_lock(&q->lock);
    while (!q->closed[0] && !q->closed[1] && r->len == 0) {
        if (ms <= 0) {
            pthread_cond_wait(&r->readable, &q->lock);
        } else if (pthread_cond_timedwait(&r->readable, &q->lock, &ts) != 0
                   && !q->closed[0] && !q->closed[1] && r->len == 0) {
            pthread_mutex_unlock(&q->lock);
            return -EAGAIN;
        }
    }
    if (!q->closed[e->side]) {
        while (got < len && r->len > 0) {
            size_t chunk = RING_SIZE - r->head;

            if (chunk > r->len)
                chunk = r->len;
            if (chunk > len - got)
                chunk = len - got;
            memcpy((uint8_t *) buf + got, r->data + r->head, chunk);
            r->head = (r->head + chunk) % RING_SIZE;
            r->len -= chunk;
            got += chunk;
        }
        pthread_cond_signal(&r->writable);
    }
    pthread_mutex_unlock(&q->lock);
    return (ssize_t) got;
}

static int
queue_set_recv_timeout(epy__transport *t, int64_t ms)
{
    queue_end *e = (queue_end *) t;

    atomic_store(&e->timeout_ms, ms);
    return 0;
}

static void
queue_shutdown(epy__transport *t)
{
    queue_end *e = (queue_end *) t;
    queue_shared *q = e->q;

    pthread_mutex_lock(&q->lock);
    q->closed[e->side] = true;
    for (int i = 0; i < 2; i++) {
        pthread_cond_broadcast(&q->rings[i].readable);
        pthread_cond_broadcast(&q->rings[i].writable);
    }
    pthread_mutex_unlock(&q->lock);
}

static void
shared_free(queue_shared *q)
{
    for (int i = 0; i < 2; i++) {
        free(q->rings[i].data);
        pthread_cond_destroy(&q->rings[i].readable);
        pthread_cond_destroy(&q->rings[i].writable);
    }
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static void
queue_destroy(epy__transport *t)
{
    queue_end *e = (queue_end *) t;
    queue_shared *q;
    int left;

    if (e == NULL)
        return;
    q = e->q;
    queue_shutdown(t);
    pthread_mutex_lock(&q->lock);
    left = --q->refs;
    pthread_mutex_unlock(&q->lock);
    if (left == 0)
        shared_free(q);
    free(e);
}

static const epy__transport_ops queue_ops = {
    .name = "queue",
    .sendv = queue_sendv,
    .recv = queue_recv,
    .shutdown = queue_shutdown,
    .destroy = queue_destroy,
    .set_recv_timeout = queue_set_recv_timeout,
};

int
epy__transport_queue_pair(epy__transport **a, epy__transport **b)
{
    queue_shared *q = calloc(1, sizeof *q);
    queue_end *ends[2] = { NULL, NULL };

    if (q == NULL)
        return EPY_ENOMEM;
    pthread_mutex_init(&q->lock, NULL);
    for (int i = 0; i < 2; i++) {
        epy__cond_init(&q->rings[i].readable);     /* monotonic deadlines */
        epy__cond_init(&q->rings[i].writable);
        q->rings[i].data = malloc(RING_SIZE);
        ends[i] = calloc(1, sizeof *ends[i]);
        if (q->rings[i].data == NULL || ends[i] == NULL)
            goto fail;
        ends[i]->base.ops = &queue_ops;
        ends[i]->q = q;
        ends[i]->side = i;
        atomic_init(&ends[i]->timeout_ms, 0);
    }
    q->refs = 2;
    *a = &ends[0]->base;
    *b = &ends[1]->base;
    return 0;

fail:
    free(ends[0]);
    free(ends[1]);
    shared_free(q);
    return EPY_ENOMEM;
}

/* --- the null transport: sends vanish, recv waits for shutdown --------- */

typedef struct null_transport {
    epy__transport base;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool closed;
} null_transport;

static int
null_sendv(epy__transport *t, struct iovec *iov, int n, int64_t deadline)
{
    null_transport *nt = (null_transport *) t;
    bool closed;

    (void) iov;
    (void) n;
    (void) deadline;
    pthread_mutex_lock(&nt->lock);
    closed = nt->closed;
    pthread_mutex_unlock(&nt->lock);
    return closed ? -EPIPE : 0;
}

static ssize_t
null_recv(epy__transport *t, void *buf, size_t len)
{
    null_transport *nt = (null_transport *) t;

    (void) buf;
    (void) len;
    pthread_mutex_lock(&nt->lock);
    while (!nt->closed)
        pthread_cond_wait(&nt->cond, &nt->lock);
    pthread_mutex_unlock(&nt->lock);
    return 0;
}

static void
null_shutdown(epy__transport *t)
{
    null_transport *nt = (null_transport *) t;

    pthread_mutex_lock(&nt->lock);
    nt->closed = true;
    pthread_cond_broadcast(&nt->cond);
    pthread_mutex_unlock(&nt->lock);
}

static void
null_destroy(epy__transport *t)
{
    null_transport *nt = (null_transport *) t;

    if (nt == NULL)
        return;
    pthread_mutex_destroy(&nt->lock);
    pthread_cond_destroy(&nt->cond);
    free(nt);
}

static const epy__transport_ops null_ops = {
    .name = "null",
    .sendv = null_sendv,
    .recv = null_recv,
    .shutdown = null_shutdown,
    .destroy = null_destroy,
};

epy__transport *
epy__transport_null_new(void)
{
    null_transport *nt = calloc(1, sizeof *nt);

    if (nt == NULL)
        return NULL;
    nt->base.ops = &null_ops;
    pthread_mutex_init(&nt->lock, NULL);
    pthread_cond_init(&nt->cond, NULL);
    return &nt->base;
}
