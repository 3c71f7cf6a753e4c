/*
 * Driven peers: no thread of their own reads them. A poller's loop (an
 * I/O thread of a server, or the user's event loop) calls drive_ready()
 * when the connection is readable or writable, which reads the frames
 * that are there without blocking (calls go to the pool, replies to
 * their callers), writes what waits in the outgoing queue, and tells
 * the loop what to watch next. The loop also keeps the peer's deadlines
 * (the whole hello within the handshake timeout, the idle timeout, the
 * send timeout of queued frames). When the connection ends, end_run()
 * ends the peer on the pool, off the loop: the listener and the
 * server's hooks never run on the loop.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn-int.h"
#include "transport-shm.h"

/* Frames read in one turn before the loop serves other connections. */
#define FRAMES_PER_TURN 64
/* Frames waiting for the other end past which it is not read. */
#define READ_STOP_OUT ((size_t) 256 * 1024)
/* How often a call waiting for memory is tried again. */
#define HOLD_RETRY_NS ((int64_t) 20000000)

/* Ends the peer on the pool: the reader's end, as lead.c's. */
static void
end_run(epy__job *job)
{
    epy_peer *peer = EPY__CONTAINER(job, epy_peer, end_job);

    epy__peer_end(peer, peer->end_code, peer->end_why[0] ? peer->end_why : NULL);
    pthread_mutex_lock(&peer->state_lock);
    peer->reader_done = true;
    pthread_cond_broadcast(&peer->state_cond);
    pthread_mutex_unlock(&peer->state_lock);
    if (peer->own_poller)
        epy__poller_wake(peer->poller);     /* process() reports the end */
}

/* The connection has ended with @code: leave the loop, then end_run(). */
static int
finish(epy_peer *peer, int code, const char *why)
{
    peer->end_code = code;
    snprintf(peer->end_why, sizeof peer->end_why, "%s", why != NULL ? why : "");
    atomic_store(&peer->io_wait, false);
    return -1;
}

/* The peer has left the loop, which no longer touches it. */
static void
drive_left(epy__pollent *e)
{
    epy_peer *peer = EPY__CONTAINER(e, epy_peer, pent);

    atomic_store(&peer->io_gone, true);
    peer->end_job.run = end_run;
    epy__peer_push(peer, &peer->end_job);
}

/*
 * True if the queue of received calls has room, or must take more. A
 * peer that does not read what it is sent (more than READ_STOP_OUT
 * bytes wait for it) is not read either until it does: a client that
 * floods calls and never reads their replies then costs nothing but its
 * queue, until send_timeout_ms drops it.
 */
static bool
may_read(epy_peer *peer)
{
    bool room;

    pthread_mutex_lock(&peer->qlock);
    room = peer->out_bytes <= READ_STOP_OUT;
    pthread_mutex_unlock(&peer->qlock);
    if (!room)
        return false;

    pthread_mutex_lock(&peer->calls_lock);
    room = peer->queued < peer->cfg.max_queued;
    pthread_mutex_unlock(&peer->calls_lock);
    /*
     * With every worker blocked in a call of its own, calls are read and
     * refused (EPY_EBUSY), so that the replies those workers wait for
     * still come in.
     */
    return room || epy__pool_saturated(peer->pool)
           || epy__call_gate_saturated(peer);
}

/* The next deadline of the peer (ns; 0: none). */
static int64_t
next_deadline(epy_peer *peer)
{
    int64_t d = 0;

    if (!peer->got_hello && peer->hello_deadline != 0)
        d = peer->hello_deadline;
    else if (peer->idle_ms != 0)
        d = peer->idle_since + peer->idle_ms * 1000000;
    {
        int64_t t = epy__txn_sweep(&peer->txn);     /* async deadlines */

        if (t != 0 && (d == 0 || t < d))
            d = t;
    }
    if (peer->hold_since != 0) {
        int64_t h = epy__now_ns() + HOLD_RETRY_NS;

        if (d == 0 || h < d)
            d = h;
    }
    if (peer->send_timeout_ns != 0) {
        int64_t s = 0;

        pthread_mutex_lock(&peer->qlock);
        if (peer->out_bytes > 0)
            s = peer->out_since + peer->send_timeout_ns;
        pthread_mutex_unlock(&peer->qlock);
        if (s != 0 && (d == 0 || s < d))
            d = s;
    }
    return d;
}

/* What the loop watches next. */
static int
settle(epy_peer *peer)
{
    uint32_t want = peer->io_paused ? 0 : EPOLLIN;

    /*
     * Room in a shared ring is told by a wake-up byte on the socket
     * (transport-shm.c): the socket itself is always writable.
     */
    if (epy__peer_out_waiting(peer))
        want |= epy__shm_tx_switched(peer->tr) ? EPOLLIN : EPOLLOUT;
    peer->pent.deadline = next_deadline(peer);
    return (int) want;
}

static int
drive_ready(epy__pollent *e, uint32_t events)
{
    epy_peer *peer = EPY__CONTAINER(e, epy_peer, pent);
    char why[256] = "";
    int rc = 0, n;

    if ((events & EPOLLIN) && epy__transport_is_shm(peer->tr)) {
        /* Wake-ups: room in the ring written, or frames in the one read. */
        n = epy__shm_drain(peer->tr);
        if (n == -EPROTO)
            return finish(peer, EPY_EPROTO, "descriptors that no frame claims");
        if (n < 0) {
            epy__peer_recv_why(-n, why, sizeof why);
            return finish(peer, EPY_ESYSTEM, why);
        }
        if (epy__peer_out_waiting(peer))
            events |= EPY__POLL_KICK;
    }
    if (events & (EPOLLOUT | EPY__POLL_KICK)) {
        rc = epy__peer_flush_nb(peer);
        if (rc < 0)
            return finish(peer, rc, NULL);
    }
    if (peer->io_paused && !(events & (EPOLLHUP | EPOLLERR))
        && !may_read(peer) && epy__peer_check(peer) == 0)
        return settle(peer);
    peer->io_paused = false;
    atomic_store(&peer->io_wait, false);
    for (n = 0; n < FRAMES_PER_TURN; n++) {
        epy_call *call = NULL;

        /* A hang-up is read to its end: the queue cannot drain it. */
        if (!(events & (EPOLLHUP | EPOLLERR)) && !may_read(peer)
            && epy__peer_check(peer) == 0) {
            peer->io_paused = true;
            atomic_store(&peer->io_wait, true);
            break;
        }
        rc = epy__peer_read_frame(peer, 0, &call, why, sizeof why);
        if (call != NULL)
            epy__call_queue(call);
        if (rc == EPY__FRAME_LATER)
            break;
        if (rc == EPY__FRAME_HOLD) {
            /* No memory for the call yet: look again in a while. */
            peer->io_paused = true;
            break;
        }
        if (rc < 0)
            return finish(peer, rc, why);
    }
    /*
     * A full turn: more may wait, in the read buffer or in the
     * transport. A shared ring that the last read took from asked for
     * no wake-up, so its next frame would ring no doorbell: look again
     * after the others, whatever the read buffer holds.
     */
    if (n == FRAMES_PER_TURN)
        epy__poller_kick(e);
    return settle(peer);
}

static int
drive_expire(epy__pollent *e)
{
    epy_peer *peer = EPY__CONTAINER(e, epy_peer, pent);
    int64_t now = epy__now_ns();
    char why[128];

    if (!peer->got_hello && peer->hello_deadline != 0
        && now >= peer->hello_deadline)
        return finish(peer, EPY_EPROTO,
                      "no whole hello within the handshake timeout");
    if (peer->send_timeout_ns != 0) {
        bool stuck;

        pthread_mutex_lock(&peer->qlock);
        stuck = peer->out_bytes > 0
                && now - peer->out_since >= peer->send_timeout_ns;
        pthread_mutex_unlock(&peer->qlock);
        if (stuck) {
            snprintf(why, sizeof why, "the other end read nothing for "
                     "%lld ms", (long long) (peer->send_timeout_ns / 1000000));
            epy__log(peer, EPY_LOG_WARNING, "%s: ending the connection", why);
            epy__peer_set_status(peer, EPY_ETIMEDOUT);
            return finish(peer, EPY_ETIMEDOUT, why);
        }
    }
    if (peer->hold_since != 0) {
        int r = drive_ready(e, EPY__POLL_KICK);

        if (r < 0)
            return r;
    }
    if (peer->got_hello && peer->idle_ms != 0
        && now - peer->idle_since >= peer->idle_ms * 1000000) {
        bool busy = epy__txn_count(&peer->txn) > 0;

        pthread_mutex_lock(&peer->calls_lock);
        busy = busy || peer->queued > 0 || peer->calls.next != &peer->calls;
        pthread_mutex_unlock(&peer->calls_lock);
        if (!busy && !peer->idle_was_busy) {
            snprintf(why, sizeof why, "idle for %lld ms with no call in flight",
                     (long long) peer->idle_ms);
            return finish(peer, EPY_ETIMEDOUT, why);
        }
        /* Busy, or busy until lately: idle for a whole period from now. */
        peer->idle_was_busy = busy;
        peer->idle_since = now;
    }
    return settle(peer);
}

/* An async call with a nearer deadline: the loop looks again. */
static void
txn_timer(void *owner)
{
    epy__peer_drive_kick(owner);
}

int
epy__peer_drive_start(epy_peer *peer)
{
    if (peer->tr->ops->trysendv == NULL
        || peer->tr->ops->set_nonblocking == NULL
        || peer->tr->ops->set_nonblocking(peer->tr) < 0)
        return EPY_ESYSTEM;
    peer->idle_since = epy__now_ns();
    peer->txn.timer_hook = txn_timer;
    peer->pent.fd = peer->fd;
    peer->pent.ready = drive_ready;
    peer->pent.expire = drive_expire;
    peer->pent.left = drive_left;
    peer->pent.deadline = next_deadline(peer);
    peer->reading = true;
    peer->reader_started = true;
    return epy__poller_add(peer->poller, &peer->pent,
                           EPOLLIN | (epy__peer_out_waiting(peer) ? EPOLLOUT : 0));
}
