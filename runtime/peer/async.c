/*
 * Async results: the caller's handle on an asynchronous call, and its
 * completion by callback (run on a worker, or on the reader that read
 * its reply: lead.c), by semaphore, or by polling.
 *
 * References: the transaction table holds one while the transaction is
 * in it; the caller's handle holds one until epy_async_release(); a
 * queued callback and a completion in progress hold one each.
 *
 * A transaction leaves the table when its handle is released (the
 * original's purge, made explicit); one whose caller took no handle
 * leaves it once completed (after its callback, if it has one).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>

#include "peer-int.h"

/* Drops the table's reference, if the transaction was still in it. */
static void
purge(epy_async *a)
{
    if (epy__txn_forget(&a->peer->txn, &a->txn))
        epy__async_unref(a);
}

static void
run_callback(epy__job *job)
{
    epy_async *a = EPY__CONTAINER(job, epy_async, job);

    a->callback(a, a->callback_ctx);
    /* Without a handle nobody will release it: purge now. */
    if (!a->user_handle)
        purge(a);
    epy__async_unref(a);
}

void
epy__async_notify(void *owner, epy_async *a)
{
    epy_peer *peer = owner;

    if (a->callback != NULL) {
        a->job.run = run_callback;
        epy__async_ref(a);
        if (!epy__peer_lead_take(peer, &a->job))
            epy__peer_push_to(peer, peer->cb_pool, &a->job);
        return;
    }
    if (a->sem != NULL)
        sem_post(a->sem);
    if (!a->user_handle)
        purge(a);
}

epy_txn_id
epy_async_id(const epy_async *a)
{
    return a != NULL ? a->txn.id : EPY_TXN_NONE;
}

void *
epy_async_ctx(const epy_async *a)
{
    return a != NULL ? a->callback_ctx : NULL;
}

epy_async_status
epy_async_status_get(epy_async *a)
{
    epy_async_status s;

    if (a == NULL)
        return EPY_ASYNC_FAILED;
    pthread_mutex_lock(&a->peer->txn.lock);
    s = a->txn.state == EPY__TXN_DONE ? a->status : EPY_ASYNC_PENDING;
    pthread_mutex_unlock(&a->peer->txn.lock);
    return s;
}

static bool
async_done(void *ctx)
{
    epy_async *a = ctx;
    bool done;

    pthread_mutex_lock(&a->peer->txn.lock);
    done = a->txn.state == EPY__TXN_DONE;
    pthread_mutex_unlock(&a->peer->txn.lock);
    return done;
}

int
epy_async_wait(epy_async *a, int64_t timeout_ms)
{
    epy__txnmgr *m;
    int64_t deadline;
    epy__pool *pool = NULL;
    int rc;

    if (a == NULL || timeout_ms < 0)
        return EPY_EPARAM;
    if (a->callback != NULL)
        return EPY_EMODE;
    m = &a->peer->txn;
    deadline = epy__deadline(timeout_ms);
    if (a->peer->driven && epy__peer_loop_owns(a->peer))
        epy__peer_loop_wait(a->peer, async_done, a, deadline);
    pthread_mutex_lock(&m->lock);
    if (a->txn.state != EPY__TXN_DONE) {
        pthread_mutex_unlock(&m->lock);
        pool = epy__pool_block();
        pthread_mutex_lock(&m->lock);
    }
    while (a->txn.state != EPY__TXN_DONE) {
        if (deadline != 0) {
            struct timespec ts = epy__abstime(deadline);

            if (pthread_cond_timedwait(&a->cond, &m->lock, &ts) == ETIMEDOUT)
                break;
        } else {
            pthread_cond_wait(&a->cond, &m->lock);
        }
    }
    rc = a->txn.state == EPY__TXN_DONE ? a->txn.rc : EPY_EPENDING;
    pthread_mutex_unlock(&m->lock);
    epy__pool_unblock(pool);
    return rc;
}

int
epy_async_result(epy_async *a, epy_buf *ret_reply, epy_error *ret_err)
{
    int rc;

    if (a == NULL)
        return EPY_EPARAM;
    pthread_mutex_lock(&a->peer->txn.lock);
    rc = a->txn.state == EPY__TXN_DONE ? a->txn.rc : EPY_EPENDING;
    pthread_mutex_unlock(&a->peer->txn.lock);
    /* Once done, the result no longer changes: read it without the lock. */
    if (rc == 0) {
        if (ret_reply != NULL && epy_buf_set(ret_reply, a->reply.data,
                                             a->reply.len) < 0)
            return epy_error_set(ret_err, EPY_ENOMEM, NULL);
    } else if (rc == EPY_EPENDING) {
        epy_error_set(ret_err, rc, NULL);
    } else if (ret_err != NULL) {
        epy_error_copy(ret_err, &a->err);
    }
    return rc;
}

const uint8_t *
epy_async_reply(epy_async *a, size_t *ret_len)
{
    int rc;

    if (ret_len != NULL)
        *ret_len = 0;
    if (a == NULL)
        return NULL;
    pthread_mutex_lock(&a->peer->txn.lock);
    rc = a->txn.state == EPY__TXN_DONE ? a->txn.rc : EPY_EPENDING;
    pthread_mutex_unlock(&a->peer->txn.lock);
    if (rc != 0)
        return NULL;
    if (ret_len != NULL)
        *ret_len = a->reply.len;
    /* An empty result is a valid, non-NULL result. */
    return a->reply.data != NULL ? a->reply.data : (const uint8_t *) "";
}

int
epy_async_cancel(epy_async *a)
{
    if (a == NULL)
        return EPY_EPARAM;
    return epy__txn_fail(&a->peer->txn, &a->txn, EPY_ECANCELED);
}

epy_async *
epy_async_release(epy_async *a)
{
    if (a == NULL)
        return NULL;
    epy__txn_fail(&a->peer->txn, &a->txn, EPY_ECANCELED);
    purge(a);
    epy__async_unref(a);
    return NULL;
}
