/*
 * The transaction manager: ids tagged with this manager's origin, the
 * table of pending transactions, deadlines of asynchronous calls (one
 * timer thread per manager, started on first need, sleeping until the
 * earliest deadline), and retirement exactly once: by reply, error,
 * timeout, cancel, or the end of the connection. The first completion
 * wins; later ones find the transaction gone or done and are refused.
 *
 * Synchronous transactions live on their caller's stack and are waited
 * for on a condition variable of the caller's (with the manager's lock);
 * they leave the table when they complete. Asynchronous ones stay in the
 * table, completed, until their handle is released (the original's
 * "purge"), or until their callback has run.
 *
 * Completion copies the reply outside the lock: the transaction is first
 * marked COMPLETING (so a timeout can no longer take it), then filled,
 * then marked DONE and its waiter woken.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peer-int.h"

#define NO_HEAP SIZE_MAX

/* --- the id table ------------------------------------------------------ */

static size_t
bucket(const epy__txnmgr *m, epy_txn_id id)
{
    uint64_t x = id * UINT64_C(0x9E3779B97F4A7C15);

    return (size_t) (x >> 32) & (m->nbuckets - 1);
}

static epy__txn *
find(const epy__txnmgr *m, epy_txn_id id)
{
    epy__txn *t;

    for (t = m->buckets[bucket(m, id)]; t != NULL; t = t->hnext)
        if (t->id == id)
            return t;
    return NULL;
}

static void
grow(epy__txnmgr *m)
{
    size_t n = m->nbuckets * 2;
    epy__txn **b = calloc(n, sizeof *b);
    epy__txn **old = m->buckets;
    size_t oldn = m->nbuckets;

    if (b == NULL)
        return;     /* longer chains, still correct */
    m->buckets = b;
    m->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        epy__txn *t = old[i], *next;

        for (; t != NULL; t = next) {
            size_t k = bucket(m, t->id);

            next = t->hnext;
            t->hnext = b[k];
            b[k] = t;
        }
    }
    free(old);
}

static void
unlink_txn(epy__txnmgr *m, epy__txn *t)
{
    epy__txn **pp = &m->buckets[bucket(m, t->id)];

    if (!t->in_table)
        return;
    while (*pp != t)
        pp = &(*pp)->hnext;
    *pp = t->hnext;
    t->hnext = NULL;
    t->in_table = false;
    m->count--;
}

/* --- the deadline heap ---------------------------------------------------- */

static void
heap_set(epy__txnmgr *m, size_t i, epy__txn *t)
{
    m->heap[i] = t;
    t->heap_idx = i;
}

static void
sift_up(epy__txnmgr *m, size_t i)
{
    epy__txn *t = m->heap[i];

    while (i > 0) {
        size_t up = (i - 1) / 2;

        if (m->heap[up]->deadline <= t->deadline)
            break;
        heap_set(m, i, m->heap[up]);
        i = up;
    }
    heap_set(m, i, t);
}

static void
sift_down(epy__txnmgr *m, size_t i)
{
    epy__txn *t = m->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= m->heap_len)
            break;
        if (c + 1 < m->heap_len && m->heap[c + 1]->deadline < m->heap[c]->deadline)
            c++;
        if (t->deadline <= m->heap[c]->deadline)
            break;
        heap_set(m, i, m->heap[c]);
        i = c;
    }
    heap_set(m, i, t);
}

static int
heap_push(epy__txnmgr *m, epy__txn *t)
{
    if (m->heap_len == m->heap_cap) {
        size_t n = m->heap_cap ? m->heap_cap * 2 : 64;
        epy__txn **h = realloc(m->heap, n * sizeof *h);

        if (h == NULL)
            return EPY_ENOMEM;
        m->heap = h;
        m->heap_cap = n;
    }
    heap_set(m, m->heap_len++, t);
    sift_up(m, t->heap_idx);
    return 0;
}

static void
heap_remove(epy__txnmgr *m, epy__txn *t)
{
    size_t i = t->heap_idx;

    if (i == NO_HEAP)
        return;
    t->heap_idx = NO_HEAP;
    if (--m->heap_len == i)
        return;
    heap_set(m, i, m->heap[m->heap_len]);
    sift_down(m, i);
    sift_up(m, m->heap[i]->heap_idx);
}

/* --- completion ------------------------------------------------------------ */

static epy_async_status
status_of(int rc)
{
    switch (rc) {
    case 0:
        return EPY_ASYNC_DONE;
    case EPY_ETIMEDOUT:
        return EPY_ASYNC_TIMEDOUT;
    case EPY_ECANCELED:
        return EPY_ASYNC_CANCELLED;
    default:
        return EPY_ASYNC_FAILED;
    }
}

/*
 * Fails pending @t with @code (lock held). An async transaction is put
 * on *@notify, with a reference, for epy__txn notification after unlock.
 */
static void
fail_locked(epy__txnmgr *m, epy__txn *t, int code, epy__txn **notify)
{
    t->state = EPY__TXN_DONE;
    t->rc = code;
    heap_remove(m, t);
    if (t->kind == EPY__TXN_SYNC) {
        unlink_txn(m, t);
        epy_error_set(t->err, code, NULL);
        epy__wake_signal(&t->wake);     /* the caller may return now */
    } else {
        epy_async *a = t->async;

        a->status = status_of(code);
        epy_error_set(&a->err, code, NULL);
        pthread_cond_broadcast(&a->cond);
        epy__async_ref(a);
        t->notify_next = *notify;
        *notify = t;
    }
}

/* Runs the notifications collected by fail_locked(). No lock held. */
static void
run_notify(epy__txnmgr *m, epy__txn *list, bool cancel)
{
    while (list != NULL) {
        epy__txn *t = list;
        epy_async *a = t->async;

        list = t->notify_next;
        t->notify_next = NULL;
        if (cancel && m->cancel != NULL)
            m->cancel(m->owner, t->id);
        if (m->notify != NULL)
            m->notify(m->owner, a);
        epy__async_unref(a);
    }
}

static void *
timer_main(void *arg)
{
    epy__txnmgr *m = arg;

    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        if (m->heap_len == 0) {
            pthread_cond_wait(&m->timer_cond, &m->lock);
        } else if (m->heap[0]->deadline <= epy__now_ns()) {
            epy__txn *list = NULL;

            while (m->heap_len > 0 && m->heap[0]->deadline <= epy__now_ns())
                fail_locked(m, m->heap[0], EPY_ETIMEDOUT, &list);
            pthread_mutex_unlock(&m->lock);
            run_notify(m, list, true);
            pthread_mutex_lock(&m->lock);
        } else {
            struct timespec ts = epy__abstime(m->heap[0]->deadline);

            pthread_cond_timedwait(&m->timer_cond, &m->lock, &ts);
        }
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

/* --- the interface --------------------------------------------------------- */

int
epy__txnmgr_init(epy__txnmgr *m, unsigned origin, size_t max_pending,
                 epy__txn_notify_fn notify, epy__txn_cancel_fn cancel,
                 void *owner)
{
    memset(m, 0, sizeof *m);
    m->nbuckets = 64;
    m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
    if (m->buckets == NULL)
        return EPY_ENOMEM;
    m->origin = origin & 0xffff;
    m->max_pending = max_pending ? max_pending : EPY_DEFAULT_MAX_PENDING;
    m->notify = notify;
    m->cancel = cancel;
    m->owner = owner;
    pthread_mutex_init(&m->lock, NULL);
    epy__cond_init(&m->timer_cond);
    return 0;
}

void
epy__txnmgr_stop(epy__txnmgr *m, int code)
{
    epy__txn_fail_all(m, code, true);
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_cond_signal(&m->timer_cond);
    pthread_mutex_unlock(&m->lock);
    if (m->timer_running) {
        pthread_join(m->timer, NULL);
        m->timer_running = false;
    }
}

void
epy__txnmgr_destroy(epy__txnmgr *m)
{
    if (m->buckets == NULL)
        return;
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->timer_cond);
    free(m->buckets);
    free(m->heap);
    m->buckets = NULL;
}

int
epy__txn_begin(epy__txnmgr *m, epy__txn *t)
{
    int rc = 0;
    bool kick = false;

    t->hnext = NULL;
    t->notify_next = NULL;
    t->state = EPY__TXN_PENDING;
    t->heap_idx = NO_HEAP;
    t->rc = EPY_EPENDING;
    pthread_mutex_lock(&m->lock);
    if (m->closed) {
        rc = m->closed;
    } else if (m->count >= m->max_pending) {
        rc = EPY_EBUSY;
    } else {
        size_t k;

        if (++m->next_seq > UINT64_C(0xffffffffffff))
            m->next_seq = 1;
        t->id = EPY_TXN_MAKE(m->origin, m->next_seq);
        k = bucket(m, t->id);
        t->hnext = m->buckets[k];
        m->buckets[k] = t;
        t->in_table = true;
        if (++m->count > m->nbuckets)
            grow(m);
        if (t->kind == EPY__TXN_ASYNC && t->deadline != 0) {
            if (m->timer_hook == NULL && !m->timer_running) {
                if (pthread_create(&m->timer, NULL, timer_main, m) != 0)
                    rc = EPY_ESYSTEM;
                else
                    m->timer_running = true;
            }
            if (rc == 0)
                rc = heap_push(m, t);
            if (rc == 0 && t->heap_idx == 0)
                pthread_cond_signal(&m->timer_cond);
            if (rc < 0)
                unlink_txn(m, t);
            else if (t->heap_idx == 0)
                kick = m->timer_hook != NULL;
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (kick)
        m->timer_hook(m->owner);
    return rc;
}

int64_t
epy__txn_sweep(epy__txnmgr *m)
{
    epy__txn *list = NULL;
    int64_t next;

    pthread_mutex_lock(&m->lock);
    while (m->heap_len > 0 && m->heap[0]->deadline <= epy__now_ns())
        fail_locked(m, m->heap[0], EPY_ETIMEDOUT, &list);
    next = m->heap_len > 0 ? m->heap[0]->deadline : 0;
    pthread_mutex_unlock(&m->lock);
    if (list != NULL)
        run_notify(m, list, true);
    return next;
}

bool
epy__txn_abort(epy__txnmgr *m, epy__txn *t)
{
    bool pending;

    pthread_mutex_lock(&m->lock);
    pending = t->state == EPY__TXN_PENDING;
    if (pending || t->kind == EPY__TXN_SYNC) {
        heap_remove(m, t);
        unlink_txn(m, t);
        t->state = EPY__TXN_DONE;
    }
    pthread_mutex_unlock(&m->lock);
    return pending;
}

int
epy__txn_wait_sync(epy__txnmgr *m, epy__txn *t, int64_t deadline)
{
    epy__pool *pool;
    bool timed_out = false;

    if (epy__wake_is_set(&t->wake))
        return t->rc;
    pool = epy__pool_block();
    if (!epy__wake_wait(&t->wake, deadline)) {
        pthread_mutex_lock(&m->lock);
        if (t->state == EPY__TXN_PENDING) {
            fail_locked(m, t, EPY_ETIMEDOUT, NULL);
            timed_out = true;
        }
        pthread_mutex_unlock(&m->lock);
        /* Being completed: its completer is about to set the wake-up. */
        epy__wake_wait(&t->wake, 0);
    }
    epy__pool_unblock(pool);
    if (timed_out && m->cancel != NULL)
        m->cancel(m->owner, t->id);
    return t->rc;
}

int
epy__txn_complete(epy__txnmgr *m, epy_txn_id id, int rc,
                  const uint8_t *payload, size_t len, epy__fdset **fds,
                  const char *type, const char *message,
                  const uint8_t *err_payload, size_t err_len)
{
    epy__txn *t;
    epy_async *a = NULL;

    if (EPY_TXN_ORIGIN(id) != m->origin)
        return EPY_EFOREIGN;
    if (rc > 0)
        rc = EPY_EPROTO;
    pthread_mutex_lock(&m->lock);
    t = find(m, id);
    if (t == NULL || t->state != EPY__TXN_PENDING) {
        pthread_mutex_unlock(&m->lock);
        return EPY_ENOTFOUND;
    }
    t->state = EPY__TXN_COMPLETING;
    heap_remove(m, t);
    if (t->kind == EPY__TXN_SYNC)
        unlink_txn(m, t);
    else
        a = epy__async_ref(t->async);
    pthread_mutex_unlock(&m->lock);

    /* Fill the result outside the lock: the caller is blocked or polling. */
    if (a == NULL) {
        if (rc == 0 && t->decode != NULL)
            rc = t->decode(t->decode_ctx, payload, len,
                           fds != NULL ? *fds : NULL);
        else if (rc == 0 && t->reply != NULL
                 && epy_buf_set(t->reply, payload, len) < 0)
            rc = EPY_ENOMEM;
        if (rc < 0)
            epy__error_fill(t->err, rc, type, message, err_payload, err_len);
        /* Out of the table, and nobody else may retire it: no lock. */
        t->rc = rc;
        epy__wake_signal(&t->wake);     /* the caller may return now */
        return 0;
    }
    if (rc == 0 && epy_buf_set(&a->reply, payload, len) < 0)
        rc = EPY_ENOMEM;
    if (rc == 0 && fds != NULL) {
        a->fds = *fds;          /* epy_gen_result() takes them */
        *fds = NULL;
    }
    if (rc < 0)
        epy__error_fill(&a->err, rc, type, message, err_payload, err_len);

    pthread_mutex_lock(&m->lock);
    t->state = EPY__TXN_DONE;
    t->rc = rc;
    a->status = status_of(rc);
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&m->lock);
    if (m->notify != NULL)
        m->notify(m->owner, a);
    epy__async_unref(a);
    return 0;
}

void
epy__txn_fail_all(epy__txnmgr *m, int code, bool close)
{
    epy__txn *list = NULL;

    pthread_mutex_lock(&m->lock);
    if (close && m->closed == 0)
        m->closed = code;
    for (size_t i = 0; i < m->nbuckets; i++) {
        epy__txn *t, *next;

        for (t = m->buckets[i]; t != NULL; t = next) {
            next = t->hnext;
            if (t->state == EPY__TXN_PENDING)
                fail_locked(m, t, code, &list);
        }
    }
    pthread_mutex_unlock(&m->lock);
    run_notify(m, list, false);
}

int
epy__txn_fail(epy__txnmgr *m, epy__txn *t, int code)
{
    epy__txn *list = NULL;

    pthread_mutex_lock(&m->lock);
    if (t->state != EPY__TXN_PENDING) {
        pthread_mutex_unlock(&m->lock);
        return EPY_ENOTFOUND;
    }
    fail_locked(m, t, code, &list);
    pthread_mutex_unlock(&m->lock);
    run_notify(m, list, true);
    return 0;
}

bool
epy__txn_known(epy__txnmgr *m, epy_txn_id id)
{
    bool known;

    if (id == EPY_TXN_NONE)
        return false;
    pthread_mutex_lock(&m->lock);
    known = find(m, id) != NULL;
    pthread_mutex_unlock(&m->lock);
    return known;
}

size_t
epy__txn_count(epy__txnmgr *m)
{
    size_t n;

    pthread_mutex_lock(&m->lock);
    n = m->count;
    pthread_mutex_unlock(&m->lock);
    return n;
}

bool
epy__txn_forget(epy__txnmgr *m, epy__txn *t)
{
    bool was;

    pthread_mutex_lock(&m->lock);
    was = t->in_table;
    heap_remove(m, t);
    unlink_txn(m, t);
    pthread_mutex_unlock(&m->lock);
    return was;
}
