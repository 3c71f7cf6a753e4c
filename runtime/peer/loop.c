/*
 * Peers run by the user's event loop (<epyrpc/loop.h>). Such a peer is
 * a driven peer (drive.c) whose poller has no thread: the loop watches
 * the poller's descriptor and calls epy_peer_process(), which runs the
 * poller's ready work, then the jobs waiting in the peer's manual pool
 * (in the thread-less mode every job: handlers too; in the workers mode
 * the async callbacks). Waits on the loop's thread (synchronous calls,
 * the hello, closing) run that work themselves (epy__peer_loop_wait()).
 */
#include <config.h>

#include <poll.h>
#include <stdlib.h>

#include <epyrpc/loop.h>

#include "conn-int.h"

/* Longest sleep of a wait between looks at its condition. */
#define WAIT_SLICE_MS 100

/* A job waits in the manual pool: the loop's descriptor becomes readable. */
static void
loop_wake(void *ctx)
{
    epy_peer *peer = ctx;

    epy__poller_wake(peer->poller);
}

int
epy__peer_loop_init(epy_peer *peer, const epy_peer_config *cfg)
{
    int rc;

    peer->loop_mode = cfg->loop_mode;
    rc = epy__poller_new(0, &peer->poller);
    if (rc < 0)
        return rc;
    peer->own_poller = true;
    if (cfg->loop_mode == EPY_LOOP_THREADLESS) {
        rc = epy__pool_init_manual(&peer->own_pool);
        peer->pool = peer->cb_pool = peer->manual = &peer->own_pool;
    } else {
        rc = epy__pool_init(&peer->own_pool, cfg->workers, 0,
                            cfg->max_spare_workers > 0
                                ? cfg->max_spare_workers
                                : EPY_DEFAULT_MAX_SPARE_WORKERS,
                            NULL);
        peer->pool = &peer->own_pool;
        epy__peer_pool_hooks(peer, &peer->own_pool);
        if (rc == 0)
            rc = epy__pool_init_manual(&peer->loop_pool);
        peer->cb_pool = peer->manual = &peer->loop_pool;
    }
    if (rc < 0)
        return rc;
    peer->manual->on_wait = loop_wake;
    peer->manual->on_wait_ctx = peer;
    return 0;
}

bool
epy__peer_loop_owns(epy_peer *peer)
{
    return peer->loop_mode == EPY_LOOP_THREADLESS
           || (peer->loop_mode != 0 && epy__poller_owned(peer->poller));
}

/* One turn of the loop's work. */
static void
turn(epy_peer *peer)
{
    epy__poller_process(peer->poller);
    epy__pool_run_queued(peer->manual);
}

/* How long the loop may sleep now (ms; -1: no limit). */
static int64_t
loop_timeout(epy_peer *peer)
{
    if (epy__pool_has_queued(peer->manual))
        return 0;
    return epy__poller_timeout(peer->poller);
}

int
epy__peer_loop_wait(epy_peer *peer, bool (*done)(void *ctx), void *ctx,
                    int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = { epy__poller_fd(peer->poller), POLLIN, 0 };
        int64_t ms = loop_timeout(peer);

        turn(peer);
        if (done(ctx))
            return 0;
        if (deadline != 0) {
            int64_t left = (deadline - epy__now_ns() + 999999) / 1000000;

            if (left <= 0)
                return EPY_ETIMEDOUT;
            if (ms < 0 || left < ms)
                ms = left;
        }
        if (ms < 0 || ms > WAIT_SLICE_MS)
            ms = WAIT_SLICE_MS;
        poll(&pfd, 1, (int) ms);
    }
}

/* --- the API ------------------------------------------------------------- */

int
epy_peer_get_fd(const epy_peer *peer)
{
    if (peer == NULL || peer->loop_mode == 0)
        return EPY_EPARAM;
    return epy__poller_fd(peer->poller);
}

short
epy_peer_get_events(const epy_peer *peer)
{
    (void) peer;
    return POLLIN;
}

int64_t
epy_peer_get_timeout(epy_peer *peer)
{
    if (peer == NULL || peer->loop_mode == 0)
        return -1;
    return loop_timeout(peer);
}

int
epy_peer_process(epy_peer *peer)
{
    int rc;

    if (peer == NULL || peer->loop_mode == 0)
        return EPY_EPARAM;
    turn(peer);
    rc = epy__peer_check(peer);
    if (rc == 0)
        return 0;
    /*
     * The end is reported once it has been handled (a worker may still
     * be at it: the loop is woken when it is done) and the completions
     * it queued have run, so that a loop that stops here misses none.
     */
    if (!epy__peer_reader_done(peer))
        return 0;
    while (epy__pool_run_queued(peer->manual) > 0)
        ;
    return rc;
}
