/*
 * The worker pool: a fixed number of threads running jobs (received
 * calls, completion callbacks) in FIFO order. A worker that blocks in a
 * call of its own is counted as blocked; when every live worker is
 * blocked and work is waiting, a spare worker starts, so nested calls
 * do not deadlock. Spares are capped per pool (max_spare) and, for a
 * server's clients, across all of them (epy__limits); at the caps work
 * waits, and the reader refuses further calls once its queue is full
 * (call.c), so that the replies the blocked workers wait for still get
 * read. Workers beyond the configured number exit as soon as they find
 * no work.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer-int.h"

/* The pool the calling thread works for, if any. */
static _Thread_local epy__pool *tl_pool;
/* Called (once) when the calling thread is about to block. */
static _Thread_local void (*tl_block_hook)(void *ctx);
static _Thread_local void *tl_block_ctx;
/* Also counts the thread's blocking waits (epy__pool_count_blocked()). */
static _Thread_local atomic_int *tl_blocked;

typedef struct worker_arg {
    epy__pool *pool;
    size_t slot;
} worker_arg;

static void *worker_main(void *arg);

/* A warning through the owner's log (epy__pool.warn), if it has one. */
static void
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
warn(epy__pool *pool, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (pool->warn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pool->warn(pool->warn_ctx, msg);
}

/* Joins workers that have exited. Pool lock held. */
static void
reap(epy__pool *pool)
{
    for (size_t i = 0; i < pool->nslots; i++) {
        if (pool->slots[i].used && pool->slots[i].finished) {
            pthread_join(pool->slots[i].tid, NULL);
            pool->slots[i].used = false;
            pool->slots[i].finished = false;
        }
    }
}

/* Starts one worker. Pool lock held. Returns 0 or a negative code. */
static int
spawn(epy__pool *pool)
{
    size_t i;
    worker_arg *arg;
    int rc;

    reap(pool);
    for (i = 0; i < pool->nslots && pool->slots[i].used; i++)
        ;
    if (i == pool->nslots)
        return EPY_EBUSY;
    arg = malloc(sizeof *arg);
    if (arg == NULL)
        return EPY_ENOMEM;
    arg->pool = pool;
    arg->slot = i;
    pool->slots[i].used = true;
    pool->slots[i].finished = false;
    rc = pthread_create(&pool->slots[i].tid, NULL, worker_main, arg);
    if (rc != 0) {
        pool->slots[i].used = false;
        free(arg);
        return EPY_ESYSTEM;
    }
    pool->alive++;
    return 0;
}

/* Gives back the spares counted in the limits that have exited. Lock held. */
static void
give_spares(epy__pool *pool)
{
    int spares = pool->alive > pool->base ? pool->alive - pool->base : 0;

    while (pool->spares_held > spares) {
        pool->spares_held--;
        epy__limits_give_spare(pool->limits);
    }
}

/*
 * Starts a spare worker if waiting work would otherwise starve. Lock
 * held. Returns false if work starves: no spare may start.
 */
static bool
spare_if(epy__pool *pool, bool stalled)
{
    if (pool->head == NULL || pool->idle > 0 || pool->stopping
        || (!stalled && pool->alive - pool->blocked > 0))
        return true;
    if (pool->alive - pool->base >= pool->max_spare) {
        if (!pool->capped)
            warn(pool, "worker pool: every worker waits in a call and the "
                     "%d spares are running: work waits", pool->max_spare);
        pool->capped = true;
        return false;
    }
    if (!epy__limits_take_spare(pool->limits)) {
        if (!pool->capped)
            warn(pool, "worker pool: every worker waits in a call and the "
                     "server's spare workers are all running: work waits");
        pool->capped = true;
        return false;
    }
    if (spawn(pool) < 0) {
        epy__limits_give_spare(pool->limits);
        warn(pool, "worker pool: cannot start a spare worker (%d alive)",
                 pool->alive);
        return false;
    }
    pool->spares_held++;
    return true;
}

static bool
maybe_spare(epy__pool *pool)
{
    return spare_if(pool, false);
}

void
epy__pool_run_job(epy__job *job)
{
    atomic_uint *count = job->count;

    job->run(job);      /* may free @job */
    if (count != NULL && atomic_fetch_sub(count, 1) == 1)
        epy__futex_wake(count);
}

/* Takes @w off the idle stack; false if it was not on it. Lock held. */
static bool
unlink_idle(epy__pool *pool, epy__worker_slot *w)
{
    for (epy__worker_slot **pp = &pool->idle_top; *pp != NULL;
         pp = &(*pp)->next_idle) {
        if (*pp == w) {
            *pp = w->next_idle;
            w->next_idle = NULL;
            pool->idle--;
            return true;
        }
    }
    return false;
}

static void *
worker_main(void *p)
{
    worker_arg *arg = p;
    epy__pool *pool = arg->pool;
    epy__worker_slot *self = &pool->slots[arg->slot];

    bool lingered = false;

    free(arg);
    tl_pool = pool;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        epy__job *job = pool->head;

        if (job != NULL) {
            pool->taken++;
            pool->head = job->next;
            if (pool->head == NULL)
                pool->tail = NULL;
            lingered = false;
        } else {
            bool spare = pool->alive > pool->base;

            if (pool->stopping
                || (spare && (pool->linger_ns == 0 || lingered)))
                break;  /* stopping, or a spare with nothing to do */
            /* Idle: the next job comes with the wake-up, no lock taken. */
            self->job = NULL;
            epy__wake_reset(&self->wake);
            self->next_idle = pool->idle_top;
            pool->idle_top = self;
            pool->idle++;
            pthread_mutex_unlock(&pool->lock);
            if (!epy__wake_wait(&self->wake, spare ? epy__now_ns()
                                                     + pool->linger_ns : 0)) {
                /* A spare waited long enough: leave, unless just taken. */
                pthread_mutex_lock(&pool->lock);
                if (unlink_idle(pool, self)) {
                    lingered = true;
                    continue;
                }
                pthread_mutex_unlock(&pool->lock);
                epy__wake_wait(&self->wake, 0);
            }
            lingered = false;
            job = self->job;
            if (job == NULL) {
                pthread_mutex_lock(&pool->lock);
                continue;
            }
            epy__pool_run_job(job);
            pthread_mutex_lock(&pool->lock);
            continue;
        }
        pthread_mutex_unlock(&pool->lock);
        epy__pool_run_job(job);
        pthread_mutex_lock(&pool->lock);
    }
    pool->alive--;
    give_spares(pool);
    self->finished = true;
    pthread_cond_broadcast(&pool->done_cond);
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Takes the latest idle worker off the idle stack. Lock held. */
static epy__worker_slot *
pop_idle(epy__pool *pool)
{
    epy__worker_slot *w = pool->idle_top;

    if (w != NULL) {
        pool->idle_top = w->next_idle;
        w->next_idle = NULL;
        pool->idle--;
    }
    return w;
}

int
epy__pool_init(epy__pool *pool, int workers, int extra, int max_spare,
               epy__limits *limits)
{
    memset(pool, 0, sizeof *pool);
    pool->workers = workers < 1 ? 1 : workers;
    if (pool->workers > EPY__POOL_MAX_THREADS / 2)
        pool->workers = EPY__POOL_MAX_THREADS / 2;
    pool->base = pool->workers + extra;
    pool->max_spare = max_spare < 1 ? 1 : max_spare;
    if (pool->max_spare > EPY__POOL_MAX_THREADS - pool->base)
        pool->max_spare = EPY__POOL_MAX_THREADS - pool->base;
    pool->limits = limits;
    pool->nslots = EPY__POOL_MAX_THREADS;
    pool->slots = calloc(pool->nslots, sizeof *pool->slots);
    if (pool->slots == NULL)
        return EPY_ENOMEM;
    pthread_mutex_init(&pool->lock, NULL);
    epy__cond_init(&pool->done_cond);
    pthread_mutex_lock(&pool->lock);
    for (int i = 0; i < pool->base; i++) {
        int rc = spawn(pool);

        if (rc < 0) {
            pthread_mutex_unlock(&pool->lock);
            epy__pool_stop(pool, 0, NULL, NULL);
            return rc;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

void
epy__pool_push(epy__pool *pool, epy__job *job)
{
    epy__worker_slot *w;

    job->next = NULL;
    pthread_mutex_lock(&pool->lock);
    if (pool->manual) {
        /* No threads: the loop runs it (epy__pool_run_queued()). */
        if (pool->tail != NULL)
            pool->tail->next = job;
        else
            pool->head = job;
        pool->tail = job;
        pthread_mutex_unlock(&pool->lock);
        if (pool->on_wait != NULL)
            pool->on_wait(pool->on_wait_ctx);
        return;
    }
    if (pool->stopping && pool->alive == 0) {
        /* Nobody is left to run it: a completion arriving after stop. */
        pthread_mutex_unlock(&pool->lock);
        epy__pool_run_job(job);
        return;
    }
    w = pop_idle(pool);
    if (w != NULL) {
        /* Straight to an idle worker (none idle while jobs wait). */
        w->job = job;
        pthread_mutex_unlock(&pool->lock);
        epy__wake_signal(&w->wake);
        return;
    }
    if (pool->tail != NULL)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    maybe_spare(pool);
    pthread_mutex_unlock(&pool->lock);
    if (pool->on_wait != NULL)
        pool->on_wait(pool->on_wait_ctx);
}

int
epy__pool_init_manual(epy__pool *pool)
{
    memset(pool, 0, sizeof *pool);
    pool->manual = true;
    pool->workers = 0;
    pool->max_spare = 1;
    pool->slots = calloc(1, sizeof *pool->slots);    /* marks it made */
    if (pool->slots == NULL)
        return EPY_ENOMEM;
    pthread_mutex_init(&pool->lock, NULL);
    epy__cond_init(&pool->done_cond);
    return 0;
}

size_t
epy__pool_run_queued(epy__pool *pool)
{
    epy__job *last;
    size_t n = 0;

    pthread_mutex_lock(&pool->lock);
    last = pool->tail;
    while (last != NULL && pool->head != NULL) {
        epy__job *job = pool->head;

        pool->head = job->next;
        if (pool->head == NULL)
            pool->tail = NULL;
        pthread_mutex_unlock(&pool->lock);
        epy__pool_run_job(job);
        n++;
        if (job == last)
            return n;   /* the ones queued meanwhile: next time */
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return n;
}

bool
epy__pool_has_queued(epy__pool *pool)
{
    bool q;

    pthread_mutex_lock(&pool->lock);
    q = pool->head != NULL;
    pthread_mutex_unlock(&pool->lock);
    return q;
}

bool
epy__pool_check_stall(epy__pool *pool)
{
    bool waiting;

    pthread_mutex_lock(&pool->lock);
    waiting = pool->head != NULL && !pool->stopping && !pool->manual;
    if (waiting && pool->stall_armed && pool->idle == 0
        && pool->taken == pool->stall_seen) {
        /*
         * Nobody took a job for a whole period: the workers run code
         * that waits on something of its own. One more worker, as for
         * a blocked one (within the same caps).
         */
        spare_if(pool, true);
    }
    pool->stall_armed = waiting;
    pool->stall_seen = pool->taken;
    pthread_mutex_unlock(&pool->lock);
    return waiting;
}

void
epy__pool_count_blocked(atomic_int *counter)
{
    tl_blocked = counter;
}

bool
epy__pool_saturated(epy__pool *pool)
{
    bool sat;

    pthread_mutex_lock(&pool->lock);
    sat = pool->idle == 0 && pool->alive - pool->blocked <= 0
          && !pool->stopping
          && (pool->alive - pool->base >= pool->max_spare
              || epy__limits_spare_full(pool->limits));
    pthread_mutex_unlock(&pool->lock);
    return sat;
}

epy__worker_slot *
epy__pool_reserve(epy__pool *pool)
{
    epy__worker_slot *w;

    pthread_mutex_lock(&pool->lock);
    w = pool->stopping ? NULL : pop_idle(pool);
    if (w != NULL)
        pool->blocked--;
    pthread_mutex_unlock(&pool->lock);
    return w;
}

void
epy__pool_unreserve(epy__pool *pool, epy__worker_slot *w)
{
    pthread_mutex_lock(&pool->lock);
    pool->blocked++;
    if (pool->stopping) {
        w->job = NULL;
        epy__wake_signal(&w->wake);
    } else {
        w->next_idle = pool->idle_top;
        pool->idle_top = w;
        pool->idle++;
    }
    pthread_mutex_unlock(&pool->lock);
}

void
epy__pool_give(epy__worker_slot *w, epy__job *job)
{
    w->job = job;
    epy__wake_signal(&w->wake);
}

void
epy__pool_stop(epy__pool *pool, int64_t timeout_ms,
               void (*late)(epy_peer *peer), epy_peer *peer)
{
    int64_t deadline = epy__deadline(timeout_ms);

    if (pool->slots == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    for (epy__worker_slot *w; (w = pop_idle(pool)) != NULL;) {
        w->job = NULL;
        epy__wake_signal(&w->wake);
    }
    while (pool->alive > 0) {
        if (deadline != 0) {
            struct timespec ts = epy__abstime(deadline);

            if (pthread_cond_timedwait(&pool->done_cond, &pool->lock, &ts)
                == ETIMEDOUT) {
                deadline = 0;
                if (late != NULL) {
                    pthread_mutex_unlock(&pool->lock);
                    late(peer);
                    pthread_mutex_lock(&pool->lock);
                }
            }
        } else {
            pthread_cond_wait(&pool->done_cond, &pool->lock);
        }
    }
    reap(pool);
    pthread_mutex_unlock(&pool->lock);
}

void
epy__pool_destroy(epy__pool *pool)
{
    if (pool->slots == NULL)
        return;
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->done_cond);
    free(pool->slots);
    pool->slots = NULL;
}

void
epy__pool_set_block_hook(void (*hook)(void *ctx), void *ctx)
{
    tl_block_hook = hook;
    tl_block_ctx = ctx;
}

epy__pool *
epy__pool_block(void)
{
    epy__pool *pool = tl_pool;
    void (*hook)(void *ctx) = tl_block_hook;

    bool starved;

    if (tl_blocked != NULL)
        atomic_fetch_add(tl_blocked, 1);
    if (hook != NULL) {
        tl_block_hook = NULL;
        hook(tl_block_ctx);
    }
    if (pool == NULL)
        return NULL;
    pthread_mutex_lock(&pool->lock);
    pool->blocked++;
    starved = !maybe_spare(pool) || (pool->idle == 0 && !pool->stopping
                                     && pool->alive - pool->blocked <= 0
                                     && pool->head == NULL);
    pthread_mutex_unlock(&pool->lock);
    if (starved && pool->saturated != NULL)
        pool->saturated(pool->saturated_ctx);
    return pool;
}

void
epy__pool_unblock(epy__pool *pool)
{
    if (tl_blocked != NULL)
        atomic_fetch_sub(tl_blocked, 1);
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->blocked--;
    if (pool->alive - pool->blocked > 0)
        pool->capped = false;
    pthread_mutex_unlock(&pool->lock);
}
