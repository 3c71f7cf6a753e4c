/*
 * libepyrpc: the transaction manager that matches replies to calls
 * (txn.c) and the async results it completes (async.c). Never installed.
 * The lock order is in runtime-int.h.
 */
#ifndef EPYRPC_TXN_INT_H
#define EPYRPC_TXN_INT_H

#include <semaphore.h>

#include "pool-int.h"

/* --- transaction manager (txn.c) ---------------------------------------- */

enum { EPY__TXN_SYNC = 0, EPY__TXN_ASYNC = 1 };
enum { EPY__TXN_PENDING = 0, EPY__TXN_COMPLETING = 1, EPY__TXN_DONE = 2 };

/*
 * Takes a reply's payload where it lies, on the thread that read it (a
 * synchronous caller's decoder). Returns 0 or a negative status, which
 * becomes the call's.
 */
typedef int (*epy__decode_fn)(void *ctx, const uint8_t *data, size_t len,
                              epy__fdset *fds);

typedef struct epy__txn {
    epy_txn_id id;
    struct epy__txn *hnext;     /* hash chain */
    struct epy__txn *notify_next;
    uint8_t kind;
    uint8_t state;
    bool in_table;
    int rc;
    int64_t deadline;           /* async: monotonic ns, 0 none */
    size_t heap_idx;            /* async with deadline: index in heap */
    /* sync */
    epy__wake wake;             /* set once rc (and reply, err) are final */
    epy_buf *reply;
    epy__decode_fn decode;      /* if set, takes the reply instead of @reply */
    void *decode_ctx;
    epy_error *err;
    /* async */
    epy_async *async;
} epy__txn;

typedef struct epy__txnmgr epy__txnmgr;

/*
 * Called, with no lock held, once an async transaction has completed:
 * runs or queues its callback, posts its semaphore. @cancel: the remote
 * end should be told (timeout, cancel).
 */
typedef void (*epy__txn_notify_fn)(void *owner, epy_async *async);
typedef void (*epy__txn_cancel_fn)(void *owner, epy_txn_id id);

struct epy__txnmgr {
    pthread_mutex_t lock;
    unsigned origin;
    uint64_t next_seq;
    epy__txn **buckets;
    size_t nbuckets;
    size_t count;
    size_t max_pending;
    int closed;                 /* nonzero: new transactions get this code */
    epy__txn **heap;
    size_t heap_len, heap_cap;
    pthread_cond_t timer_cond;
    pthread_t timer;
    bool timer_running;
    bool stopping;
    epy__txn_notify_fn notify;
    epy__txn_cancel_fn cancel;
    void *owner;
    /*
     * If set, no timer thread: called (no lock held) when an async
     * deadline nearer than the others was added; the owner calls
     * epy__txn_sweep() in time (a driven peer's loop).
     */
    void (*timer_hook)(void *owner);
};

int epy__txnmgr_init(epy__txnmgr *m, unsigned origin, size_t max_pending,
                     epy__txn_notify_fn notify, epy__txn_cancel_fn cancel,
                     void *owner);
/* Fails the async transactions past their deadline; the next one (ns; 0). */
int64_t epy__txn_sweep(epy__txnmgr *m);
/* Stops the timer thread; fails what is left with @code. */
void epy__txnmgr_stop(epy__txnmgr *m, int code);
void epy__txnmgr_destroy(epy__txnmgr *m);

/* Registers @t (kind and targets set by the caller) and gives it an id. */
int epy__txn_begin(epy__txnmgr *m, epy__txn *t);
/*
 * Removes a transaction that was never sent. False if it was no longer
 * pending: an async one that its deadline or the end of the connection
 * retired meanwhile completes as any other (its notification is under
 * way), and stays the completion's.
 */
bool epy__txn_abort(epy__txnmgr *m, epy__txn *t);
/*
 * Waits for sync transaction @t until @deadline (ns, 0: none). On
 * timeout the transaction is retired with EPY_ETIMEDOUT. Returns its rc.
 */
int epy__txn_wait_sync(epy__txnmgr *m, epy__txn *t, int64_t deadline);
/*
 * Completes transaction @id with @rc and either the @payload (rc 0) or
 * the error fields. The descriptors *@fds (may be NULL) that came with
 * the reply go to its caller (*@fds is then NULL). Returns 0; EPY_EFOREIGN (the id is of another
 * origin); EPY_ENOTFOUND (not in the table, or completed already).
 */
int epy__txn_complete(epy__txnmgr *m, epy_txn_id id, int rc,
                      const uint8_t *payload, size_t len, epy__fdset **fds,
                      const char *type, const char *message,
                      const uint8_t *err_payload, size_t err_len);
/* Fails every pending transaction with @code; with @close, refuses new ones. */
void epy__txn_fail_all(epy__txnmgr *m, int code, bool close);
/* Fails one pending async transaction (cancel). Returns 0 or EPY_ENOTFOUND. */
int epy__txn_fail(epy__txnmgr *m, epy__txn *t, int code);
/* True if @id is in the table. */
bool epy__txn_known(epy__txnmgr *m, epy_txn_id id);
size_t epy__txn_count(epy__txnmgr *m);
/* Removes an async transaction from the table (purge); true if it was there. */
bool epy__txn_forget(epy__txnmgr *m, epy__txn *t);
/* --- async results (async.c) -------------------------------------------- */

struct epy_async {
    atomic_int refs;            /* the caller's handle + the runtime's */
    epy_peer *peer;
    epy__txn txn;
    pthread_cond_t cond;        /* with the txnmgr lock */
    epy_async_status status;
    epy_buf reply;
    epy__fdset *fds;            /* that came with the reply */
    epy_error err;
    epy_async_fn callback;
    void *callback_ctx;
    sem_t *sem;
    bool user_handle;           /* the caller holds a handle */
    epy__job job;               /* runs the callback */
};

epy_async *epy__async_ref(epy_async *a);
void epy__async_unref(epy_async *a);
/* The notify hook of a peer's transaction manager. */
void epy__async_notify(void *owner, epy_async *a);

#endif
