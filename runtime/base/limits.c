/*
 * What the clients of one server share: a cap on the spare workers
 * their pools may run together, and a budget for the memory their
 * received calls hold (requests queued or running). Counted, so that a
 * deferred call that outlives its server still finds it.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>

#include "peer-int.h"

epy__limits *
epy__limits_new(int spare_max, size_t mem_max)
{
    epy__limits *l = calloc(1, sizeof *l);

    if (l == NULL)
        return NULL;
    atomic_init(&l->refs, 1);
    pthread_mutex_init(&l->lock, NULL);
    epy__cond_init(&l->cond);
    l->spare_max = spare_max;
    l->mem_max = mem_max;
    return l;
}

epy__limits *
epy__limits_ref(epy__limits *l)
{
    if (l != NULL)
        atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
    return l;
}

void
epy__limits_unref(epy__limits *l)
{
    if (l == NULL
        || atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
}

bool
epy__limits_take_spare(epy__limits *l)
{
    bool ok;

    if (l == NULL)
        return true;
    pthread_mutex_lock(&l->lock);
    ok = l->spare_used < l->spare_max;
    if (ok)
        l->spare_used++;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

void
epy__limits_give_spare(epy__limits *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->lock);
    l->spare_used--;
    pthread_mutex_unlock(&l->lock);
}

bool
epy__limits_spare_full(epy__limits *l)
{
    bool full;

    if (l == NULL)
        return false;
    pthread_mutex_lock(&l->lock);
    full = l->spare_used >= l->spare_max;
    pthread_mutex_unlock(&l->lock);
    return full;
}

int
epy__limits_take_mem(epy__limits *l, size_t n, int64_t wait_ns)
{
    int64_t deadline = 0;
    int rc = 0;

    if (l == NULL || n == 0)
        return 0;
    if (n > l->mem_max)
        return EPY_ETOOBIG;
    pthread_mutex_lock(&l->lock);
    while (l->mem_used + n > l->mem_max) {
        struct timespec ts;

        if (deadline == 0)
            deadline = epy__now_ns() + wait_ns;
        ts = epy__abstime(deadline);

        if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT
            && l->mem_used + n > l->mem_max) {
            rc = EPY_EBUSY;
            break;
        }
    }
    if (rc == 0)
        l->mem_used += n;
    pthread_mutex_unlock(&l->lock);
    return rc;
}

void
epy__limits_give_mem(epy__limits *l, size_t n)
{
    if (l == NULL || n == 0)
        return;
    pthread_mutex_lock(&l->lock);
    l->mem_used -= n;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}
