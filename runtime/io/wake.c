/*
 * One thread waits, another wakes it: the hand-offs of the call path
 * (a reply to its caller, a job to an idle worker).
 *
 * A condition variable would do, but it needs a mutex that the woken
 * thread must take again (and the waker usually still holds), and the
 * waker must signal before the waiter may return and free it. Here the
 * state is one word: the waker sets it and enters the kernel only if
 * the waiter is asleep; the waiter returns as soon as it sees the word
 * set, and may free it at once. A futex wake on an address that is
 * reused meanwhile is harmless: every futex user re-checks its word.
 *
 * Waiters do not spin before they sleep: measured on two CPUs, a
 * spinning caller or worker takes the CPU that the thread it waits for
 * needs, and round trips got slower (see README, Performance).
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime-int.h"

enum { IDLE = 0, SLEEPING = 1, SET = 2 };

static long
futex(atomic_uint *word, int op, unsigned val, const struct timespec *ts)
{
    return syscall(SYS_futex, (void *) word, op, val, ts, NULL,
                   FUTEX_BITSET_MATCH_ANY);
}

void
epy__wake_signal(epy__wake *w)
{
    if (atomic_exchange_explicit(&w->word, SET, memory_order_acq_rel) == SLEEPING)
        futex(&w->word, FUTEX_WAKE_PRIVATE, 1, NULL);
}

bool
epy__wake_is_set(epy__wake *w)
{
    return atomic_load_explicit(&w->word, memory_order_acquire) == SET;
}

bool
epy__wake_wait(epy__wake *w, int64_t deadline)
{
    for (;;) {
        unsigned v = IDLE;
        struct timespec ts;

        if (!atomic_compare_exchange_strong_explicit(&w->word, &v, SLEEPING,
                                                     memory_order_acquire,
                                                     memory_order_acquire)
            && v == SET)
            return true;
        if (deadline != 0) {
            if (epy__now_ns() >= deadline)
                return epy__wake_is_set(w);
            ts = epy__abstime(deadline);
        }
        /* Absolute CLOCK_MONOTONIC time with FUTEX_WAIT_BITSET. */
        futex(&w->word, FUTEX_WAIT_BITSET_PRIVATE, SLEEPING,
              deadline != 0 ? &ts : NULL);
    }
}

void
epy__futex_wait(atomic_uint *word, unsigned val, int64_t deadline)
{
    struct timespec ts;

    if (deadline != 0)
        ts = epy__abstime(deadline);
    futex(word, FUTEX_WAIT_BITSET_PRIVATE, val, deadline != 0 ? &ts : NULL);
}

void
epy__futex_wake(atomic_uint *word)
{
    futex(word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}
