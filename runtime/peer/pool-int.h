/*
 * libepyrpc: the limits a server shares among its clients (limits.c) and
 * the worker pool that runs calls and callbacks (pool.c). Never installed.
 * The lock order is in runtime-int.h.
 */
#ifndef EPYRPC_POOL_INT_H
#define EPYRPC_POOL_INT_H

#include "runtime-int.h"
#include "transport-int.h"

/* --- limits shared by a server's clients (limits.c) ------------------- */

typedef struct epy__limits {
    atomic_int refs;            /* the server's and each client peer's */
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* memory was given back */
    int spare_max, spare_used;  /* spare workers of all the pools */
    size_t mem_max, mem_used;   /* bytes held by received calls */
} epy__limits;

/* NULL on ENOMEM. */
epy__limits *epy__limits_new(int spare_max, size_t mem_max);
epy__limits *epy__limits_ref(epy__limits *l);
void epy__limits_unref(epy__limits *l);
/* Counts one more spare worker; false (nothing counted) at the cap. */
bool epy__limits_take_spare(epy__limits *l);
void epy__limits_give_spare(epy__limits *l);
/* True if no spare worker may start. */
bool epy__limits_spare_full(epy__limits *l);
/*
 * Counts @n bytes held by a received call, waiting up to @wait_ns for
 * room. Returns 0, EPY_EBUSY (no room in time) or EPY_ETOOBIG (more than
 * the whole budget). NULL @l: no limit.
 */
int epy__limits_take_mem(epy__limits *l, size_t n, int64_t wait_ns);
void epy__limits_give_mem(epy__limits *l, size_t n);

/* --- worker pool (pool.c) ---------------------------------------------- */

/* A piece of the outgoing queue: bytes [@off, @len) wait to be written. */
typedef struct epy__outchunk {
    struct epy__outchunk *next;
    size_t off, len, cap;
    int n_fds;                  /* descriptors for its next write (dups) */
    int fds[EPY__FDS_PER_WRITE];
    uint8_t data[];
} epy__outchunk;

typedef struct epy__job {
    struct epy__job *next;
    void (*run)(struct epy__job *job);
    atomic_uint *count;         /* if set: one less once run (epy__peer_push) */
} epy__job;

typedef struct epy__worker_slot {
    pthread_t tid;
    bool used;
    bool finished;
    /* while idle: */
    struct epy__worker_slot *next_idle;
    epy__job *job;              /* handed over with the wake-up; NULL: stop */
    epy__wake wake;
} epy__worker_slot;

typedef struct epy__pool {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;   /* a worker exited */
    epy__job *head, *tail;      /* waiting jobs (only when none is idle) */
    epy__worker_slot *idle_top; /* idle workers, the latest first */
    int workers;                /* configured workers */
    int base;                   /* threads kept: workers + extra */
    int alive;                  /* running worker threads */
    int idle;                   /* waiting for work */
    int blocked;                /* waiting in a call of their own */
    bool stopping;
    int max_spare;              /* spares beyond base at most */
    int spares_held;            /* counted in @limits */
    bool capped;                /* a spare was refused: logged once */
    int64_t linger_ns;          /* spares wait this long for work; 0: not */
    bool manual;                /* no threads: epy__pool_run_queued() */
    uint64_t taken;             /* jobs taken by workers */
    uint64_t stall_seen;        /* @taken at the last stall check */
    bool stall_armed;           /* jobs waited at the last check */
    void (*on_wait)(void *ctx); /* a job waits with no worker idle */
    void *on_wait_ctx;
    epy__limits *limits;        /* shared with a server's other clients */
    epy__worker_slot *slots;
    size_t nslots;
    /* called (no lock held) when work may starve */
    void (*saturated)(void *ctx);
    void *saturated_ctx;
    void (*warn)(void *ctx, const char *msg);   /* a log line, or NULL */
    void *warn_ctx;
} epy__pool;

#define EPY__POOL_MAX_THREADS 256

/*
 * A pool of @workers threads (at least 1), plus @extra kept for the
 * reader, and at most @max_spare spares beyond them (also counted in
 * @limits, if not NULL) while every worker is blocked.
 */
int epy__pool_init(epy__pool *pool, int workers, int extra, int max_spare,
                   epy__limits *limits);
/*
 * True if work that comes now would wait for a worker that may never
 * come: none idle, every one blocked in a call of its own, and no spare
 * may start.
 */
bool epy__pool_saturated(epy__pool *pool);
/*
 * Gives @pool, a pool of @peer's, its hooks: when a worker blocks and no
 * spare may start, a reader waiting for room in the queue looks again
 * (call.c); warnings go to the peer's log.
 */
void epy__peer_pool_hooks(epy_peer *peer, epy__pool *pool);
/* Queues @job; it runs on a worker. */
void epy__pool_push(epy__pool *pool, epy__job *job);
/*
 * Counts the calling thread's blocking waits (epy__pool_block()) in
 * @counter too, until called again with NULL (a driven peer's calls).
 */
void epy__pool_count_blocked(atomic_int *counter);
/*
 * Starts a spare worker if jobs have waited since the last call with no
 * worker taking one (handlers stuck in code of their own). Returns
 * true while jobs wait (call again in a while).
 */
bool epy__pool_check_stall(epy__pool *pool);
/*
 * A pool without threads, for an event loop: jobs wait until the loop
 * runs them with epy__pool_run_queued() (on_wait tells it). Stopped and
 * freed with epy__pool_destroy() once empty.
 */
int epy__pool_init_manual(epy__pool *pool);
/* Runs the jobs queued so far (not those they queue); returns how many. */
size_t epy__pool_run_queued(epy__pool *pool);
bool epy__pool_has_queued(epy__pool *pool);
/* Runs @job here, counting it as done (epy__job.count). */
void epy__pool_run_job(epy__job *job);
/*
 * For a pool thread counted as blocked (by epy__pool_block()) that is
 * about to run a job itself: takes an idle worker aside as its stand-in
 * and counts the thread as running. NULL (and nothing changed) if no
 * worker is idle. The stand-in then either gets a job of its own with
 * epy__pool_give(), or goes back with epy__pool_unreserve(), which
 * counts the calling thread as blocked again.
 */
epy__worker_slot *epy__pool_reserve(epy__pool *pool);
void epy__pool_unreserve(epy__pool *pool, epy__worker_slot *w);
void epy__pool_give(epy__worker_slot *w, epy__job *job);
/*
 * Sets, for the calling thread, a function that epy__pool_block() calls
 * (once) before it blocks; NULL clears it.
 */
void epy__pool_set_block_hook(void (*hook)(void *ctx), void *ctx);
/*
 * Stops the pool: queued jobs still run; waits up to @timeout_ms for the
 * workers to finish (0: no limit), then calls @late (if any) and waits
 * for them without limit. Joins every thread.
 */
void epy__pool_stop(epy__pool *pool, int64_t timeout_ms,
                    void (*late)(epy_peer *peer), epy_peer *peer);
void epy__pool_destroy(epy__pool *pool);
/*
 * Around a blocking wait: if the calling thread is a worker of some
 * pool, that pool counts it as blocked and starts a spare worker when
 * work would otherwise starve. Returns the pool to pass to unblock.
 */
epy__pool *epy__pool_block(void);
void epy__pool_unblock(epy__pool *pool);

#endif
