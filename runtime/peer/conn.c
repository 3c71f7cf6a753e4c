/*
 * A peer's connection state, which every module of the peer reads:
 * its log, references, status (why the connection ended), readiness,
 * listener, and the counted read buffers calls borrow from. The bottom
 * of the peer's modules: it calls none of them (the last reference
 * frees the peer through its destroy function).
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn-int.h"

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
        peer->destroy(peer);
}

/* --- status ---------------------------------------------------------------- */

int
epy__peer_check(epy_peer *peer)
{
    return atomic_load_explicit(&peer->status, memory_order_acquire);
}

/* Records why the connection ended; the first reason wins. */
bool
epy__peer_set_status(epy_peer *peer, int code)
{
    int zero = 0;

    return atomic_compare_exchange_strong(&peer->status, &zero, code);
}

bool
epy__peer_abort(epy_peer *peer, int code)
{
    if (!epy__peer_set_status(peer, code))
        return false;
    peer->tr->ops->shutdown(peer->tr);
    return true;
}

void
epy__peer_set_ready(epy_peer *peer, int state, const char *message)
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
void
epy__peer_wake_queue(epy_peer *peer)
{
    epy__peer_drive_kick(peer);
    pthread_mutex_lock(&peer->calls_lock);
    pthread_cond_broadcast(&peer->queue_cond);
    pthread_mutex_unlock(&peer->calls_lock);
}

void
epy__peer_listener(epy_peer *peer, epy_listener *l, void **ctx)
{
    pthread_mutex_lock(&peer->listener_lock);
    *l = peer->listener;
    *ctx = peer->listener_ctx;
    pthread_mutex_unlock(&peer->listener_lock);
}

/* Wakes a reader waiting for room in the queue: the pool is saturated. */
static void
pool_saturated(void *ctx)
{
    epy_peer *peer = ctx;

    if (atomic_load(&peer->queue_waiting)) {
        pthread_mutex_lock(&peer->calls_lock);
        pthread_cond_broadcast(&peer->queue_cond);
        pthread_mutex_unlock(&peer->calls_lock);
    }
}

bool
epy__peer_reader_done(epy_peer *peer)
{
    bool done;

    pthread_mutex_lock(&peer->state_lock);
    done = peer->reader_done;
    pthread_mutex_unlock(&peer->state_lock);
    return done;
}

void
epy__peer_drive_kick(epy_peer *peer)
{
    if (peer->driven && peer->pent.loop != NULL && !atomic_load(&peer->io_gone))
        epy__poller_kick(&peer->pent);
}

/* --- the peer's jobs -------------------------------------------------------- */

void
epy__peer_push_to(epy_peer *peer, epy__pool *pool, epy__job *job)
{
    atomic_fetch_add(&peer->jobs, 1);
    job->count = &peer->jobs;
    epy__pool_push(pool, job);
}

void
epy__peer_push(epy_peer *peer, epy__job *job)
{
    epy__peer_push_to(peer, peer->pool, job);
}

void
epy__peer_jobs_wait(epy_peer *peer, int64_t timeout_ms,
                    void (*late)(epy_peer *peer))
{
    int64_t deadline = epy__deadline(timeout_ms);

    for (;;) {
        unsigned n = atomic_load(&peer->jobs);

        if (n == 0)
            break;
        epy__futex_wait(&peer->jobs, n, deadline);
        if (deadline != 0 && epy__now_ns() >= deadline) {
            deadline = 0;
            if (late != NULL)
                late(peer);
        }
    }
}

static void
pool_warn(void *ctx, const char *msg)
{
    epy__log(ctx, EPY_LOG_WARNING, "%s", msg);
}

void
epy__peer_pool_hooks(epy_peer *peer, epy__pool *pool)
{
    pool->saturated = pool_saturated;
    pool->saturated_ctx = peer;
    pool->warn = pool_warn;
    pool->warn_ctx = peer;
}

/* --- async handles --------------------------------------------------------- */

epy_async *
epy__async_ref(epy_async *a)
{
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

void
epy__async_unref(epy_async *a)
{
    if (a == NULL || atomic_fetch_sub_explicit(&a->refs, 1,
                                               memory_order_acq_rel) != 1)
        return;
    epy_buf_clear(&a->reply);
    epy__fdset_free(a->fds);
    epy_error_clear(&a->err);
    pthread_cond_destroy(&a->cond);
    epy__peer_unref(a->peer);
    free(a);
}

/* --- read buffers ---------------------------------------------------------- */

static atomic_int *
rbuf_refs(const uint8_t *b)
{
    return (atomic_int *) (void *) (b - EPY__RBUF_HDR);
}

uint8_t *
epy__rbuf_alloc(size_t cap)
{
    uint8_t *p = malloc(EPY__RBUF_HDR + cap);

    if (p == NULL)
        return NULL;
    atomic_init((atomic_int *) (void *) p, 1);
    return p + EPY__RBUF_HDR;
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
        free((uint8_t *) b - EPY__RBUF_HDR);
}

