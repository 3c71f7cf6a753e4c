/*
 * The reading role of a peer: which thread reads the connection (the
 * pool's reader, or a synchronous caller waiting for its reply), calls
 * run on the reader, and the watchdog that hands the reading over when
 * such a call runs long.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "conn-int.h"

/*
 * Callers that read. A synchronous caller waits for its reply; if the
 * reply went through the reader, two threads would wake up for it (the
 * reader, then the caller). Instead, while synchronous calls are made,
 * the reader lends the reading out: it stops reading between frames,
 * and a caller that finds nobody reading reads the connection itself
 * until its reply has come (epy__peer_read_own()), handling whatever
 * else comes as the reader would (calls go to the workers). So the
 * reply wakes only the thread that waits for it. This is for one caller
 * at a time: while several synchronous calls wait on a peer, the reader
 * reads for them all (one wake-up of it serves several replies), and
 * neither lends nor is lent to.
 *
 * The token, rtok, is (generation << 3 | KICK | state); each change of
 * hands makes a new generation. While the token is lent out, the reader
 * sleeps and looks at it, first after LEND_GRACE_MIN_NS, then at periods
 * that double while callers keep taking it, up to LEND_GRACE_MAX_NS: if
 * nobody took it in a whole period, synchronous calls have stopped, and
 * the reader reads again. So a frame that comes while no call waits (and
 * so nobody reads) waits one period at most; the periods are long only
 * while calls are made back to back, and few wake-ups of the reader
 * come between the calls.
 * A caller gives the token back with KICK, which wakes the reader at
 * once, when others wait for replies too, when its own reply has not
 * come within OWN_READ_NS (the reader then reads while it waits), and
 * when the connection has ended (the reader, not the caller, ends it).
 * Closing the peer kicks too.
 *
 * A caller reads as the reader does, through the transport's recv():
 * it reads what is there and waits only when nothing is (for a socket,
 * with poll() for POLLIN: a blocked read() would also wake up whenever
 * the other end takes in what this end sent, one context switch more per
 * round trip; transport-fd.c). The wait is bounded by a read timeout of
 * OWN_READ_MS that the reader sets on the transport while it lends the
 * reading out, and clears when it reads for good again. So a
 * caller reads for OWN_READ_NS and one timeout more at the most; a call
 * whose deadline is nearer than OWN_READ_SKIP_NS waits for its reply
 * instead. Transports without set_recv_timeout are read by the reader
 * only.
 */

#define LEND_GRACE_MIN_NS ((int64_t) 250000)
#define LEND_GRACE_MAX_NS ((int64_t) 2000000)
#define OWN_READ_MS 2
#define OWN_READ_NS ((int64_t) OWN_READ_MS * 1000000)
#define OWN_READ_SKIP_NS ((int64_t) 20000000)

/* @v with the next generation and @state (KICK cleared). */
static unsigned
rt_next(unsigned v, unsigned state)
{
    return ((v & ~(EPY__RT_GEN - 1)) + EPY__RT_GEN) | state;
}

/* Wakes the reader out of a lending, to read again at once. */
void
epy__peer_kick_reader(epy_peer *peer)
{
    atomic_fetch_or(&peer->rtok, EPY__RT_KICK);
    epy__futex_wake(&peer->rtok);
}

/*
 * The reader (holding the token) lends it out, and returns once it holds
 * it again. Returns true if a caller's reading ended the connection
 * (peer->rerr says how).
 */
static bool
lend_reading(epy_peer *peer)
{
    unsigned v = atomic_load(&peer->rtok), last;
    int64_t period = LEND_GRACE_MIN_NS;

    if (peer->tr->ops->set_recv_timeout == NULL || !peer->got_hello
        || peer->lend_unable)
        return false;
    /* Callers' reads are bounded by the read timeout: set it first. */
    if (peer->tr->ops->set_recv_timeout(peer->tr, OWN_READ_MS) < 0) {
        peer->lend_unable = true;
        return false;
    }
    do {
        if ((v & EPY__RT_KICK) || epy__peer_check(peer) != 0) {
            atomic_fetch_and(&peer->rtok, ~(unsigned) EPY__RT_KICK);
            return false;
        }
    } while (!atomic_compare_exchange_weak_explicit(&peer->rtok, &v,
                                                    rt_next(v, EPY__RT_FREE),
                                                    memory_order_release,
                                                    memory_order_relaxed));
    last = v = rt_next(v, EPY__RT_FREE);
    for (;;) {
        epy__futex_wait(&peer->rtok, v, epy__now_ns() + period);
        v = atomic_load_explicit(&peer->rtok, memory_order_acquire);
        if ((v & EPY__RT_STATE) != EPY__RT_FREE
            || (v != last && !(v & EPY__RT_KICK) && epy__peer_check(peer) == 0)) {
            /* A caller reads, or has read since: wait on, longer. */
            last = v;
            if (period < LEND_GRACE_MAX_NS)
                period *= 2;
            continue;
        }
        if (atomic_compare_exchange_strong_explicit(&peer->rtok, &v,
                                                    rt_next(v, EPY__RT_POOL),
                                                    memory_order_acquire,
                                                    memory_order_acquire))
            break;
        last = v;
    }
    if (v == last && !(v & EPY__RT_KICK))
        epy__peer_read_for_good(peer);    /* nobody took it for a whole period */
    return peer->rerr != 0;
}

static bool
wake_set(void *ctx)
{
    return epy__wake_is_set(ctx);
}

void
epy__peer_read_own(epy_peer *peer, epy__wake *w, int64_t deadline)
{
    unsigned v = atomic_load_explicit(&peer->rtok, memory_order_relaxed);
    int64_t now = epy__now_ns(), limit = now + OWN_READ_NS;
    bool kick;
    epy__pool *pool;
    char why[sizeof peer->rwhy] = "";
    int rc = 0;

    if (peer->driven) {
        /* A loop's thread runs the loop while it waits; others wait. */
        if (epy__peer_loop_owns(peer))
            epy__peer_loop_wait(peer, wake_set, w, deadline);
        return;
    }
    if (deadline != 0 && deadline - now < OWN_READ_SKIP_NS)
        return;         /* reads could overrun it: wait for the reader */
    if (atomic_load_explicit(&peer->sync_calls, memory_order_relaxed) > 1) {
        /* Callers at once: the reader serves them all, from now on. */
        if ((v & EPY__RT_STATE) == EPY__RT_FREE)
            epy__peer_kick_reader(peer);
        return;
    }
    if ((v & (EPY__RT_STATE | EPY__RT_KICK)) != EPY__RT_FREE
        || !atomic_compare_exchange_strong_explicit(&peer->rtok, &v,
                                                    rt_next(v, EPY__RT_CALLER),
                                                    memory_order_acquire,
                                                    memory_order_relaxed)) {
        /* Somebody reads: wait, and have the reader lend next time. */
        if (!atomic_load_explicit(&peer->lend, memory_order_relaxed))
            atomic_store_explicit(&peer->lend, true, memory_order_relaxed);
        return;
    }
    pool = epy__pool_block();
    while (!epy__wake_is_set(w)) {
        epy_call *call = NULL;

        rc = epy__peer_read_frame(peer, limit, &call, why, sizeof why);
        if (call != NULL)
            epy__peer_push(peer, &call->job);
        if (rc != 0)
            break;
    }
    if (rc < 0) {
        peer->rerr = rc;
        snprintf(peer->rwhy, sizeof peer->rwhy, "%s", why);
    }
    kick = rc != 0 || epy__txn_count(&peer->txn) > 0;
    v = atomic_load_explicit(&peer->rtok, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
               &peer->rtok, &v,
               rt_next(v, EPY__RT_FREE) | (kick || (v & EPY__RT_KICK) ? EPY__RT_KICK : 0),
               memory_order_release, memory_order_relaxed))
        ;
    if (kick || (v & EPY__RT_KICK))
        epy__futex_wake(&peer->rtok);
    epy__pool_unblock(pool);
}

/*
 * The reader runs as a job of the worker pool: one thread at a time (the
 * leader) reads and decodes frames. A call that arrives alone runs on
 * the thread that read it, which goes on reading afterwards: no other
 * thread wakes up on the way from the socket to the handler and back.
 * Calls that arrive together go to the workers.
 *
 * While a call runs on the leader, nobody reads. Another thread takes
 * the reading over when that call blocks in a call of its own (through
 * epy__pool_block()), and when it has run longer than LEAD_WATCH_NS (a
 * watchdog thread, started with the first such call, checks; it sleeps
 * while no call runs on the leader). The thread that ran the call then
 * becomes a worker.
 *
 * lead_word is (generation << 2 | state): the leader sets a new
 * generation for each call it runs, so that a thread taking the reading
 * over takes it from that call only.
 */
enum { LEAD_READING = 0, LEAD_INLINE = 1, LEAD_TAKEN = 2 };

#define LEAD_WATCH_NS ((int64_t) 1000000)

/* A call that ran this long on the leader sends the next to workers. */
#define INLINE_NS ((int64_t) 50000)

/* Takes the reading over from the call running on the leader, if any. */
static void
lead_take(void *ctx)
{
    epy_peer *peer = ctx;
    uint64_t v = atomic_load(&peer->lead_word);

    if ((v & 3) == LEAD_INLINE
        && atomic_compare_exchange_strong(&peer->lead_word, &v,
                                          (v & ~(uint64_t) 3) | LEAD_TAKEN)) {
        /*
         * What the call corked goes now: it waits, or runs long; and the
         * calls that came with it go to the workers, to run beside it.
         */
        atomic_store_explicit(&peer->inline_slow, true, memory_order_relaxed);
        epy__peer_uncork(peer, false);
        epy__pool_give(peer->standby, &peer->lead_job);
    }
}

static void *
watch_main(void *arg)
{
    epy_peer *peer = arg;
    uint64_t last = 0;

    pthread_mutex_lock(&peer->watch_lock);
    while (!peer->watch_stop) {
        uint64_t v;

        if (!atomic_load(&peer->watch_armed)) {
            pthread_cond_wait(&peer->watch_cond, &peer->watch_lock);
            last = 0;
            continue;
        }
        {
            struct timespec ts = epy__abstime(epy__now_ns() + LEAD_WATCH_NS);

            pthread_cond_timedwait(&peer->watch_cond, &peer->watch_lock, &ts);
        }
        if (peer->watch_stop)
            break;
        v = atomic_load(&peer->lead_word);
        if (v == last && (v & 3) == LEAD_INLINE) {
            /* The same call for a whole period: read elsewhere. */
            pthread_mutex_unlock(&peer->watch_lock);
            lead_take(peer);
            pthread_mutex_lock(&peer->watch_lock);
        } else if (v == last) {
            /* No call on the leader for a whole period: sleep. */
            atomic_store(&peer->watch_armed, false);
            if (atomic_load(&peer->lead_word) != v)
                atomic_store(&peer->watch_armed, true);
        }
        last = v;
    }
    pthread_mutex_unlock(&peer->watch_lock);
    return NULL;
}

/* Makes sure the watchdog looks at the leader. */
static void
watch_arm(epy_peer *peer)
{
    if (atomic_load(&peer->watch_armed))
        return;
    pthread_mutex_lock(&peer->watch_lock);
    if (!peer->watch_started && !peer->watch_stop) {
        if (pthread_create(&peer->watch, NULL, watch_main, peer) == 0)
            peer->watch_started = true;
        else
            epy__log(peer, EPY_LOG_WARNING, "cannot start the reader's watchdog");
    }
    atomic_store(&peer->watch_armed, true);
    pthread_cond_signal(&peer->watch_cond);
    pthread_mutex_unlock(&peer->watch_lock);
}

void
epy__peer_watch_stop(epy_peer *peer)
{
    pthread_mutex_lock(&peer->watch_lock);
    peer->watch_stop = true;
    pthread_cond_signal(&peer->watch_cond);
    pthread_mutex_unlock(&peer->watch_lock);
    if (peer->watch_started) {
        pthread_join(peer->watch, NULL);
        peer->watch_started = false;
    }
}

/* The peer whose leader runs a call on the calling thread (corking). */
static _Thread_local epy_peer *tl_corking;

bool
epy__peer_corking(epy_peer *peer)
{
    return tl_corking == peer
           && (atomic_load(&peer->lead_word) & 3) == LEAD_INLINE;
}

/*
 * Runs @call on the leader, if a worker is idle to take the reading over
 * (so that no more calls run at once than there are workers). Returns
 * true if the calling thread is still the leader afterwards, false if
 * it is not (the call is queued, or another thread took the reading
 * over).
 */
static bool
run_on_leader(epy_peer *peer, epy__job *job)
{
    uint64_t v;

    peer->standby = epy__pool_reserve(peer->pool);
    if (peer->standby == NULL) {
        epy__peer_push(peer, job);
        return true;
    }
    v = (++peer->lead_gen << 2) | LEAD_INLINE;
    atomic_store(&peer->lead_word, v);
    watch_arm(peer);
    epy__pool_set_block_hook(lead_take, peer);
    tl_corking = peer;
    job->run(job);
    tl_corking = NULL;
    epy__pool_set_block_hook(NULL, NULL);
    if (!atomic_compare_exchange_strong(&peer->lead_word, &v,
                                        (v & ~(uint64_t) 3) | LEAD_READING)) {
        epy__peer_uncork(peer, true);   /* corked after the hand-over */
        return false;
    }
    epy__pool_unreserve(peer->pool, peer->standby);
    return true;
}

/*
 * Runs or queues @job (a call, or an async call's callback) that the
 * leader read; false if the calling thread is no longer the leader. A
 * call, event or callback runs here, on the thread
 * that read it, which spares the wake-up of a worker: calls and events
 * that came together run one after the other, as long as they are
 * short. After one that took INLINE_NS or more, or was handed over (it
 * blocked in a call of its own or ran past the watchdog's period: the
 * pool's block hook, the watchdog), those with more frames behind them
 * go to the workers instead (and run together), until one runs short
 * here again; a call that came alone always runs here.
 */
static bool
run_here(epy_peer *peer, epy__job *job)
{
    int64_t t0, t1;

    if (epy__peer_frame_buffered(peer)
        && atomic_load_explicit(&peer->inline_slow, memory_order_relaxed)) {
        epy__peer_push(peer, job);
        return true;
    }
    /*
     * A call that came in the same read as the last one run here starts
     * when that one ended (decoding it in between is part of its time),
     * which spares a clock reading per call.
     */
    t0 = peer->inline_end != 0 && peer->inline_recvs == peer->recvs
             ? peer->inline_end : epy__now_ns();
    peer->inline_end = 0;
    if (!run_on_leader(peer, job))
        return false;
    t1 = epy__now_ns();
    peer->inline_end = t1;
    peer->inline_recvs = peer->recvs;
    atomic_store_explicit(&peer->inline_slow, t1 - t0 >= INLINE_NS,
                          memory_order_relaxed);
    return true;
}

/* The peer whose reading the calling thread leads, in its reader loop. */
static _Thread_local epy_peer *tl_leading;

bool
epy__peer_lead_take(epy_peer *peer, epy__job *job)
{
    if (tl_leading != peer || peer->cb_pool != peer->pool
        || peer->lead_ready != NULL)
        return false;
    peer->lead_ready = job;
    return true;
}

void
epy__peer_lead_run(epy__job *job)
{
    epy_peer *peer = EPY__CONTAINER(job, epy_peer, lead_job);
    epy__pool *pool = epy__pool_block();
    char why[256] = "";
    int rc;

    if (!peer->reading) {
        pthread_mutex_lock(&peer->state_lock);
        while (peer->paused && epy__peer_check(peer) == 0)
            pthread_cond_wait(&peer->state_cond, &peer->state_lock);
        pthread_mutex_unlock(&peer->state_lock);
        peer->reading = true;
    }
    for (;;) {
        epy_call *call = NULL;

        /* Nothing more to read at once: what the calls corked goes. */
        if (!epy__peer_frame_buffered(peer))
            epy__peer_uncork(peer, true);
        if (atomic_load_explicit(&peer->lend, memory_order_relaxed)
            && atomic_load_explicit(&peer->sync_calls, memory_order_relaxed) <= 1
            && !epy__peer_frame_buffered(peer) && lend_reading(peer)) {
            /* A caller that read met the end of the connection. */
            rc = peer->rerr;
            snprintf(why, sizeof why, "%s", peer->rwhy);
            break;
        }
        tl_leading = peer;
        rc = epy__peer_read_frame(peer, 0, &call, why, sizeof why);
        tl_leading = NULL;
        if (call != NULL && !run_here(peer, &call->job))
            return;         /* another thread reads now */
        if (peer->lead_ready != NULL) {
            epy__job *done = peer->lead_ready;

            peer->lead_ready = NULL;
            if (!run_here(peer, done))
                return;
        }
        if (rc < 0)
            break;
    }
    epy__peer_end(peer, rc, why[0] ? why : NULL);
    pthread_mutex_lock(&peer->state_lock);
    peer->reader_done = true;
    pthread_cond_broadcast(&peer->state_cond);
    pthread_mutex_unlock(&peer->state_lock);
    epy__pool_unblock(pool);
}

/*
 * The connection has ended with @code: stop the transport, fail every
 * pending call, tell calls in progress their callers are gone, and (for
 * an end the other side caused) tell the listener. Reader thread only,
 * once.
 */
void
epy__peer_end(epy_peer *peer, int code, const char *why)
{
    int status;

    /* The code may already be set (a failed write); it is final either way. */
    epy__peer_set_status(peer, atomic_load(&peer->leaving) ? EPY_ECLOSED : code);
    status = epy__peer_check(peer);

    peer->tr->ops->shutdown(peer->tr);
    epy__peer_wake_queue(peer);
    epy__txn_fail_all(&peer->txn, status, true);
    epy__call_cancel_all(peer);
    epy__peer_set_ready(peer, status, why);
    if (status != EPY_ECLOSED) {
        epy_listener l;
        void *ctx;

        epy__log(peer, status == EPY_EDISCONNECTED ? EPY_LOG_INFO
                                                   : EPY_LOG_ERROR,
                 "connection ended: %s%s%s", epy_strerror(status),
                 why != NULL ? ": " : "", why != NULL ? why : "");
        epy__peer_listener(peer, &l, &ctx);
        if (l.disconnected != NULL)
            l.disconnected(peer, status, ctx);
        if (peer->end_hook != NULL)
            peer->end_hook(peer, peer->end_hook_ctx);
    }
}
