/*
 * A server run by the user's event loop (<epyrpc/loop.h>): no accept
 * thread and no closers. Its poller, which has no thread, watches the
 * listening socket, the wake-up pipe and every client's connection;
 * epy_server_process() runs what is ready, then the jobs of the manual
 * pool (every job in the thread-less mode; the clients' async callbacks
 * in the workers mode), then closes the clients that went away.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <epyrpc/loop.h>

#include "server-int.h"

/* Clients accepted in one turn at most. */
#define ACCEPT_PER_TURN 32
/* Out of descriptors or memory: no accept for this long. */
#define ACCEPT_PAUSE_NS ((int64_t) 100000000)

static int
listen_ready(epy__pollent *e, uint32_t events)
{
    epy_server *srv = EPY__CONTAINER(e, epy_server, listen_ent);

    (void) events;
    for (int i = 0; i < ACCEPT_PER_TURN; i++) {
        if (!epy__server_accept_one(srv)) {
            e->deadline = epy__now_ns() + ACCEPT_PAUSE_NS;
            return 0;
        }
    }
    return EPOLLIN;
}

static int
listen_expire(epy__pollent *e)
{
    e->deadline = 0;
    return EPOLLIN;
}

static int
wake_ready(epy__pollent *e, uint32_t events)
{
    char buf[64];

    (void) events;
    while (read(e->fd, buf, sizeof buf) > 0)
        ;
    return EPOLLIN;     /* process() closes the clients that ended */
}

static void
loop_kick(void *ctx)
{
    epy_server *srv = ctx;

    epy__poller_kick(&srv->wake_ent);
}

int
epy__server_loop_init(epy_server *srv)
{
    int rc;

    if (srv->cfg.peer.loop_mode == EPY_LOOP_THREADLESS) {
        srv->manual = &srv->pool;
    } else {
        rc = epy__pool_init_manual(&srv->loop_pool);
        if (rc < 0)
            return rc;
        srv->manual = srv->cb_pool = &srv->loop_pool;
    }
    srv->manual->on_wait = loop_kick;
    srv->manual->on_wait_ctx = srv;
    srv->wake_ent.fd = srv->wake[0];
    srv->wake_ent.ready = wake_ready;
    return epy__poller_add(srv->poller, &srv->wake_ent, EPOLLIN);
}

int
epy__server_loop_start(epy_server *srv)
{
    srv->listen_ent.fd = srv->fd;
    srv->listen_ent.ready = listen_ready;
    srv->listen_ent.expire = listen_expire;
    if (epy__poller_add(srv->poller, &srv->listen_ent, EPOLLIN) < 0)
        return EPY_ESYSTEM;
    srv->started = true;
    return 0;
}

void
epy__server_loop_close(epy_server *srv)
{
    epy__server_reap(srv, true);
}

/* --- the API ---------------------------------------------------------------- */

int
epy_server_get_fd(const epy_server *srv)
{
    if (srv == NULL || srv->cfg.peer.loop_mode == 0)
        return EPY_EPARAM;
    return epy__poller_fd(srv->poller);
}

short
epy_server_get_events(const epy_server *srv)
{
    (void) srv;
    return POLLIN;
}

int64_t
epy_server_get_timeout(epy_server *srv)
{
    bool dead;

    if (srv == NULL || srv->cfg.peer.loop_mode == 0)
        return -1;
    pthread_mutex_lock(&srv->lock);
    dead = srv->dead != NULL;
    pthread_mutex_unlock(&srv->lock);
    if (dead || epy__pool_has_queued(srv->manual))
        return 0;
    return epy__poller_timeout(srv->poller);
}

int
epy_server_process(epy_server *srv)
{
    if (srv == NULL || srv->cfg.peer.loop_mode == 0)
        return EPY_EPARAM;
    epy__poller_process(srv->poller);
    epy__pool_run_queued(srv->manual);
    epy__server_reap(srv, false);
    return 0;
}
