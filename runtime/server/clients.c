/*
 * A server's clients from accept to close: told of (on_connect, once the
 * hello was accepted), listed for broadcasts, noticed when they leave,
 * and closed each on a closer thread of its own (on_disconnect, then the
 * peer's close, which waits for its handlers), joined by the accept
 * thread. See server.c for the accept thread and the locks.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <string.h>
#include <unistd.h>

#include "server-int.h"

void
epy__server_wake(epy_server *srv)
{
    char c = 1;
    ssize_t w;

    do
        w = write(srv->wake[1], &c, 1);
    while (w < 0 && errno == EINTR);
}

/*
 * A client's reader saw the end: queue its peer to be closed. Runs on
 * one of the client's threads, which its peer's closing waits for, so
 * the server outlives it.
 */
void
epy__client_ended(epy_peer *peer, void *ctx)
{
    epy_server *srv = ctx;
    client **pp;

    epy__monitor_forget(srv->mon, peer);
    pthread_mutex_lock(&srv->lock);
    for (pp = &srv->clients; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->peer == peer) {
            client *c = *pp;

            *pp = c->next;
            c->next = srv->dead;
            srv->dead = c;
            break;
        }
    }
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    epy__server_wake(srv);
}

/* on_connect, on one of the client's workers. */
void
epy__client_connect_run(epy__job *job)
{
    client *c = EPY__CONTAINER(job, client, connect_job);
    epy_server *srv = c->srv;

    pthread_mutex_lock(&srv->lock);
    if (c->conn != CONN_QUEUED) {
        pthread_mutex_unlock(&srv->lock);
        return;                 /* it left first: no on_connect */
    }
    c->conn = CONN_RUNNING;
    pthread_mutex_unlock(&srv->lock);
    srv->cfg.on_connect(srv, c->peer, 0, srv->cfg.ctx);
    pthread_mutex_lock(&srv->lock);
    c->conn = CONN_DONE;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
}

/*
 * The client's hello was accepted (its reader): it may now be told
 * about (on_connect, on a worker, so that it may call the client) and
 * receives broadcasts.
 */
void
epy__client_ready(epy_peer *peer, void *ctx)
{
    client *c = ctx;
    epy_server *srv = c->srv;
    bool run = srv->cfg.on_connect != NULL;

    pthread_mutex_lock(&srv->lock);
    c->conn = run ? CONN_QUEUED : CONN_DONE;
    pthread_mutex_unlock(&srv->lock);
    if (run)
        epy__peer_push(peer, &c->connect_job);
}

/*
 * Tells on_disconnect (if the client was announced: after its
 * on_connect has returned) and closes the client's peer, waiting for
 * its running handlers. A closer thread, or the accept thread when the
 * server closes and no closer could be started.
 */
static void
close_client(epy_server *srv, client *c)
{
    int reason = epy_peer_status(c->peer);
    bool announced;

    if (reason == 0)
        reason = EPY_ECLOSED;       /* the server closes it */
    pthread_mutex_lock(&srv->lock);
    if (c->conn == CONN_QUEUED) {
        /* Its hello was accepted: it is announced here, then. */
        c->conn = CONN_CANCELLED;
        pthread_mutex_unlock(&srv->lock);
        srv->cfg.on_connect(srv, c->peer, 0, srv->cfg.ctx);
        pthread_mutex_lock(&srv->lock);
        c->conn = CONN_DONE;
    }
    while (c->conn == CONN_RUNNING)
        pthread_cond_wait(&srv->cond, &srv->lock);
    announced = c->conn == CONN_DONE;
    pthread_mutex_unlock(&srv->lock);
    if (announced && srv->cfg.on_disconnect != NULL)
        srv->cfg.on_disconnect(srv, c->peer, reason, srv->cfg.ctx);
    c->peer = epy_peer_close(c->peer);
}

static void *
closer_main(void *arg)
{
    client *c = arg;
    epy_server *srv = c->srv;

    close_client(srv, c);
    /*
     * The accept thread joins this thread before it frees the server, so
     * the server is still there for the wake-up.
     */
    pthread_mutex_lock(&srv->lock);
    c->next = srv->finished;
    srv->finished = c;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    epy__server_wake(srv);
    return NULL;
}

/*
 * Joins the closers that finished and starts one for each client that
 * ended (with @all, for each client still connected too). A closer that
 * cannot be started is tried again on the next call, or, with @all
 * (the server closes), replaced by closing the client here. Returns
 * false if some client waits for a closer. Accept thread only.
 */
bool
epy__server_reap(epy_server *srv, bool all)
{
    client *done, *list, *c;
    size_t njoined = 0;
    bool ok = true, report;

    pthread_mutex_lock(&srv->lock);
    done = srv->finished;
    srv->finished = NULL;
    list = srv->dead;
    srv->dead = NULL;
    if (all) {
        client **pp = &list;

        while (*pp != NULL)
            pp = &(*pp)->next;
        *pp = srv->clients;
        srv->clients = NULL;
    }
    pthread_mutex_unlock(&srv->lock);

    while (done != NULL) {
        c = done;
        done = c->next;
        pthread_join(c->closer, NULL);
        free(c);
        njoined++;
    }
    while (list != NULL) {
        c = list;
        list = c->next;
        if (srv->cfg.peer.loop_mode != 0) {
            /* The loop's thread closes its clients itself. */
            close_client(srv, c);
            free(c);
            njoined++;
            continue;
        }
        if (pthread_create(&c->closer, NULL, closer_main, c) == 0)
            continue;
        if (all) {
            close_client(srv, c);
            free(c);
            njoined++;
            continue;
        }
        /* Back on the dead list, with the others not started. */
        c->next = list;
        pthread_mutex_lock(&srv->lock);
        {
            client **pp = &c->next;

            while (*pp != NULL)
                pp = &(*pp)->next;
            *pp = srv->dead;
        }
        srv->dead = c;
        report = !srv->closer_failed;
        srv->closer_failed = true;
        pthread_mutex_unlock(&srv->lock);
        if (report)
            epy__srv_log(srv, EPY_LOG_WARNING, "cannot start a thread to close "
                    "a client that went away; trying again");
        ok = false;
        break;
    }
    pthread_mutex_lock(&srv->lock);
    srv->nclients -= njoined;
    if (ok)
        srv->closer_failed = false;
    pthread_mutex_unlock(&srv->lock);
    return ok;
}

/* Clients of @uid connected or waiting to be closed. Lock held. */
size_t
epy__server_clients_of(epy_server *srv, long uid)
{
    size_t n = 0;

    for (const client *c = srv->clients; c != NULL; c = c->next)
        n += c->uid == uid;
    for (const client *c = srv->dead; c != NULL; c = c->next)
        n += c->uid == uid;
    return n;
}

int
epy__server_peers(epy_server *srv, epy_peer ***ret_peers, size_t *ret_n)
{
    epy_peer **peers;
    size_t n = 0;

    pthread_mutex_lock(&srv->lock);
    for (client *c = srv->clients; c != NULL; c = c->next)
        n++;
    peers = calloc(n != 0 ? n : 1, sizeof *peers);
    if (peers == NULL) {
        pthread_mutex_unlock(&srv->lock);
        return EPY_ENOMEM;
    }
    n = 0;
    for (client *c = srv->clients; c != NULL; c = c->next)
        if (c->conn != CONN_NONE && c->conn != CONN_CANCELLED)
            peers[n++] = epy__peer_ref(c->peer);
    pthread_mutex_unlock(&srv->lock);
    *ret_peers = peers;
    *ret_n = n;
    return 0;
}

/* --- accepting a client --------------------------------------------------- */

/* The send buffer of a TCP client's socket (the kernel doubles it). */
#define TCP_SNDBUF (256 * 1024)

void
epy__srv_log(epy_server *srv, epy_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (srv->cfg.peer.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv->cfg.peer.log(NULL, level, msg, srv->cfg.peer.log_ctx);
}

static bool
in_list(const long *list, size_t n, long id)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == id)
            return true;
    return false;
}

/* True if the unix client with @uc may connect; else logs why not. */
static bool
client_allowed(epy_server *srv, const struct ucred *puc)
{
    const struct ucred uc = *puc;
    const epy_server_config *cfg = &srv->cfg;
    bool ok;

    if (cfg->n_allowed_uids == 0 && cfg->n_allowed_gids == 0)
        ok = uc.uid == srv->euid;
    else
        ok = in_list(cfg->allowed_uids, cfg->n_allowed_uids, (long) uc.uid)
             || in_list(cfg->allowed_gids, cfg->n_allowed_gids,
                        (long) uc.gid);
    if (!ok)
        epy__srv_log(srv, EPY_LOG_WARNING,
                "refused a client: uid %ld, gid %ld (pid %ld) is not allowed",
                (long) uc.uid, (long) uc.gid, (long) uc.pid);
    return ok;
}

/*
 * Accepts one client. Returns false if the system is out of descriptors
 * or memory for it: the accept thread then waits a little before it
 * tries again, instead of spinning on a connection it cannot take.
 */
bool
epy__server_accept_one(epy_server *srv)
{
    epy__peer_opts o;
    epy_peer_config pcfg = srv->cfg.peer;
    epy_error err = EPY_ERROR_INIT;
    struct ucred uc = { 0, (uid_t) -1, (gid_t) -1 };
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    client *c;
    int fd, rc;

    pcfg.start_paused = false;     /* the shared handler table is ready */

    fd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        int e = errno;

        if (e == EAGAIN || e == EINTR || e == ECONNABORTED)
            return true;
        epy__srv_log(srv, EPY_LOG_WARNING, "accept: %s", strerror(e));
        return e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM;
    }
    if (getsockname(fd, (struct sockaddr *) &ss, &sslen) < 0)
        ss.ss_family = AF_UNSPEC;
    if (srv->is_unix) {
        socklen_t len = sizeof uc;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
            epy__srv_log(srv, EPY_LOG_WARNING, "refused a client: cannot read "
                    "its credentials: %s", strerror(errno));
            close(fd);
            return true;
        }
        if (srv->check_cred && !client_allowed(srv, &uc)) {
            close(fd);
            return true;
        }
    }
    pthread_mutex_lock(&srv->lock);
    if (srv->nclients >= (size_t) srv->cfg.max_clients) {
        pthread_mutex_unlock(&srv->lock);
        epy__srv_log(srv, EPY_LOG_WARNING,
                "refused a client: the server has max_clients");
        close(fd);
        return true;
    }
    if (srv->is_unix && epy__server_clients_of(srv, (long) uc.uid)
                        >= (size_t) srv->cfg.max_clients_per_uid) {
        pthread_mutex_unlock(&srv->lock);
        epy__srv_log(srv, EPY_LOG_WARNING, "refused a client: uid %ld has "
                "max_clients_per_uid (%d) already", (long) uc.uid,
                srv->cfg.max_clients_per_uid);
        close(fd);
        return true;
    }
    memset(&o, 0, sizeof o);
    o.reg = srv->reg;
    o.listener = srv->has_listener ? &srv->listener : NULL;
    o.listener_ctx = srv->listener_ctx;
    pthread_mutex_unlock(&srv->lock);
    o.server = srv;
    o.end_hook = epy__client_ended;
    o.end_hook_ctx = srv;
    o.ready_hook = epy__client_ready;
    o.handshake_timeout_ms = srv->cfg.handshake_timeout_ms;
    o.idle_timeout_ms = srv->cfg.idle_timeout_ms;
    o.limits = srv->limits;
    o.poller = srv->poller;
    o.pool = &srv->pool;
    o.send_timeout_ms = srv->cfg.send_timeout_ms;
    o.cb_pool = srv->cb_pool;
    o.manual = srv->manual;
    o.intro = srv->intro;
    o.tap = epy__monitor_tap(srv->mon);
    o.client_id = atomic_fetch_add(&srv->next_client_id, 1) + 1;
    if (ss.ss_family != AF_UNSPEC)
        epy__socket_tune(fd, ss.ss_family);
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        /*
         * TCP's send buffer grows to megabytes: a client that sends
         * calls and never reads their replies would have the server
         * answer that many before it stops reading it (drive.c).
         */
        int sndbuf = TCP_SNDBUF;

        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    if (srv->cfg.send_timeout_ms > 0) {
        struct timeval tv;

        tv.tv_sec = (time_t) (srv->cfg.send_timeout_ms / 1000);
        tv.tv_usec = (suseconds_t) (srv->cfg.send_timeout_ms % 1000) * 1000;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return false;
    }
    c->srv = srv;
    c->conn = CONN_NONE;
    c->uid = srv->is_unix ? (long) uc.uid : -1;
    c->connect_job.run = epy__client_connect_run;
    o.ready_hook_ctx = c;
    /*
     * The client is listed before its reader can end it, so that
     * client_ended() always finds it: hold the lock across creation.
     */
    pthread_mutex_lock(&srv->lock);
    rc = epy__peer_new_fd(fd, &pcfg, &o, &c->peer, &err);
    if (rc < 0) {
        pthread_mutex_unlock(&srv->lock);
        epy__srv_log(srv, EPY_LOG_WARNING, "%s", err.message);
        epy_error_clear(&err);
        close(fd);
        free(c);
        return rc != EPY_ENOMEM && rc != EPY_ESYSTEM;
    }
    c->next = srv->clients;
    srv->clients = c;
    srv->nclients++;
    pthread_mutex_unlock(&srv->lock);
    return true;
}
