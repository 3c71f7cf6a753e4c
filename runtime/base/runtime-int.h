/*
 * libepyrpc: declarations shared by the runtime's modules. Never
 * installed.
 *
 * Lock order (a lock may be taken while holding the ones above it, never
 * the reverse):
 *   1. epy_api.lock (method defaults)
 *   2. epy__registry.lock
 *   3. epy_peer.calls_lock (calls in progress)
 *   4. epy__txnmgr.lock
 *   5. epy__pool.lock
 *   6. epy_peer.wlock (frame writes)
 *   7. epy_peer.qlock (frames waiting for the writer)
 *   8. transport-internal locks
 * No user code (handler, callback, listener, log function) ever runs with
 * any of them held.
 */
#ifndef EPYRPC_RUNTIME_INT_H
#define EPYRPC_RUNTIME_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <epyrpc/epyrpc.h>

#include "envelope.pb-c.h"

/* --- time -------------------------------------------------------------- */

/* Monotonic clock in nanoseconds. */
int64_t epy__now_ns(void);
/* Deadline @ms from now (0: none), as a monotonic time in ns. */
int64_t epy__deadline(int64_t timeout_ms);
/* A timespec for pthread_cond_timedwait on a CLOCK_MONOTONIC condvar. */
struct timespec epy__abstime(int64_t deadline_ns);
/* Initialises @cond to use the monotonic clock. */
int epy__cond_init(pthread_cond_t *cond);

/* --- wake-ups (wake.c) --------------------------------------------------- */

/* One thread waits for it, any thread sets it once. */
typedef struct epy__wake {
    atomic_uint word;
} epy__wake;

/* Makes @w unset. Only while nobody may set it. */
static inline void
epy__wake_reset(epy__wake *w)
{
    atomic_store_explicit(&w->word, 0, memory_order_relaxed);
}

/* Sets @w and wakes its waiter. @w may be freed by the waiter at once. */
void epy__wake_signal(epy__wake *w);
bool epy__wake_is_set(epy__wake *w);
/*
 * Sleeps until @w is set (true) or the monotonic time @deadline (ns, 0:
 * none) passes (false).
 */
bool epy__wake_wait(epy__wake *w, int64_t deadline);
/*
 * A bare futex on @word: waits while it holds @val, until woken or until
 * @deadline (CLOCK_MONOTONIC ns; 0: none). May return early: re-check.
 */
void epy__futex_wait(atomic_uint *word, unsigned val, int64_t deadline);
/* Wakes every thread in epy__futex_wait() on @word. */
void epy__futex_wake(atomic_uint *word);

/* --- names ------------------------------------------------------------- */

/* 0 if @name (of @len bytes) is a valid dotted name; else EPY_EPARAM. */
int epy__name_check(const char *name, size_t len);

/* --- the in-progress list ---------------------------------------------- */

typedef struct epy__link {
    struct epy__link *prev, *next;
} epy__link;

static inline void
epy__list_init(epy__link *head)
{
    head->prev = head->next = head;
}

static inline void
epy__list_add(epy__link *head, epy__link *l)
{
    l->next = head;
    l->prev = head->prev;
    head->prev->next = l;
    head->prev = l;
}

static inline void
epy__list_del(epy__link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}

#define EPY__CONTAINER(ptr, type, member) \
    ((type *) (void *) ((char *) (ptr) - offsetof(type, member)))

/* --- received descriptors ---------------------------------------------- */

/*
 * The longest path of a value out of line (doc/wire.md): a field number,
 * a list index and a map entry's part for each level of nesting
 * (EPY_GEN_MAX_DEPTH).
 */
#define EPY__BLOB_PATH_MAX (3 * (256 + 1))

/* A bytes or string value of a frame that came in a memfd of its own. */
typedef struct epy__blobref {
    const uint32_t *path;       /* where the value is (doc/wire.md) */
    size_t depth;               /* path's length */
    uint32_t fd;                /* the frame's descriptor holding it, from 1 */
    uint64_t len;               /* its length, a string's NUL not counted */
} epy__blobref;

/*
 * When bytes and string values go out of line: those of at least
 * @threshold bytes (0: none do), of at most @limit bytes each and in all
 * (the other end's limit).
 */
typedef struct epy__blob_policy {
    size_t threshold;
    size_t limit;
} epy__blob_policy;

/*
 * The descriptors that came with one frame (IDL `fd` values): owned by
 * the set until taken (the taker sets the entry to -1).
 */
typedef struct epy__fdset {
    int n_blobs;                /* values sent out of line (doc/wire.md) */
    epy__blobref *blobs;        /* one block with their paths, freed with the set */
    int n;
    int fd[];
} epy__fdset;

/* A set of @fds (@n > 0), which it takes: closed if out of memory (NULL). */
epy__fdset *epy__fdset_new(const int *fds, int n);
/* Closes the descriptors not taken and frees @s; NULL is accepted. */
void epy__fdset_free(epy__fdset *s);

/* --- logging ----------------------------------------------------------- */

void epy__log(epy_peer *peer, epy_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* --- errors ------------------------------------------------------------ */

/* Fills @err from the fields of an ERROR envelope (copies). */
int epy__error_fill(epy_error *err, int code, const char *type,
                    const char *message, const uint8_t *payload, size_t len);

#endif /* EPYRPC_RUNTIME_INT_H */
