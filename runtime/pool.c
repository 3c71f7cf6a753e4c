/*
 * The worker pool: a fixed number of threads running jobs (received
 * calls, completion callbacks) in FIFO order. A worker that blocks in a
 * call of its own is counted as blocked; when every live worker is
 * blocked and work is waiting, a spare worker starts (up to
 * EPY__POOL_MAX_THREADS), so nested calls never deadlock. Workers beyond
 * the configured number exit as soon as they find no work.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peer-int.h"

/* The pool the calling thread works for, if any. */
static _Thread_local epy__pool *tl_pool;

typedef struct worker_arg {
    epy__pool *pool;
    size_t slot;
} worker_arg;

static void *worker_main(void *arg);

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

/* Starts a spare worker if waiting work would otherwise starve. Lock held. */
static void
maybe_spare(epy__pool *pool)
{
    if (pool->head != NULL && pool->idle == 0 && !pool->stopping
        && pool->alive - pool->blocked <= 0) {
        if (spawn(pool) < 0)
            epy__log(pool->peer, EPY_LOG_WARNING,
                     "worker pool: cannot start a spare worker (%d alive)",
                     pool->alive);
    }
}

static void *
worker_main(void *p)
{
    worker_arg *arg = p;
    epy__pool *pool = arg->pool;
    size_t slot = arg->slot;

    free(arg);
    tl_pool = pool;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        epy__job *job;

        while (pool->head == NULL && !pool->stopping
               && pool->alive <= pool->base) {
            pool->idle++;
            pthread_cond_wait(&pool->cond, &pool->lock);
            pool->idle--;
        }
        job = pool->head;
        if (job == NULL)
            break;      /* stopping, or a spare with nothing to do */
        pool->head = job->next;
        if (pool->head == NULL)
            pool->tail = NULL;
        pthread_mutex_unlock(&pool->lock);
        job->run(job);
        pthread_mutex_lock(&pool->lock);
    }
    pool->alive--;
    pool->slots[slot].finished = true;
    pthread_cond_broadcast(&pool->done_cond);
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

int
epy__pool_init(epy__pool *pool, int workers, epy_peer *peer)
{
    memset(pool, 0, sizeof *pool);
    pool->base = workers < 1 ? 1 : workers;
    if (pool->base > EPY__POOL_MAX_THREADS)
        pool->base = EPY__POOL_MAX_THREADS;
    pool->peer = peer;
    pool->nslots = EPY__POOL_MAX_THREADS;
    pool->slots = calloc(pool->nslots, sizeof *pool->slots);
    if (pool->slots == NULL)
        return EPY_ENOMEM;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);
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
    job->next = NULL;
    pthread_mutex_lock(&pool->lock);
    if (pool->stopping && pool->alive == 0) {
        /* Nobody is left to run it: a completion arriving after stop. */
        pthread_mutex_unlock(&pool->lock);
        job->run(job);
        return;
    }
    if (pool->tail != NULL)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    if (pool->idle > 0)
        pthread_cond_signal(&pool->cond);
    else
        maybe_spare(pool);
    pthread_mutex_unlock(&pool->lock);
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
    pthread_cond_broadcast(&pool->cond);
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
    pthread_cond_destroy(&pool->cond);
    pthread_cond_destroy(&pool->done_cond);
    free(pool->slots);
    pool->slots = NULL;
}

epy__pool *
epy__pool_block(void)
{
    epy__pool *pool = tl_pool;

    if (pool == NULL)
        return NULL;
    pthread_mutex_lock(&pool->lock);
    pool->blocked++;
    maybe_spare(pool);
    pthread_mutex_unlock(&pool->lock);
    return pool;
}

void
epy__pool_unblock(epy__pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->blocked--;
    pthread_mutex_unlock(&pool->lock);
}
