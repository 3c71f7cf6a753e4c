/*
 * Servers: many clients on a unix-domain socket (by path or in the
 * abstract namespace) or TCP over IPv4 and IPv6. Addresses are parsed in
 * address.c, socket files made in socket-file.c; clients connect with
 * connect.c.
 *
 * A server has one accept thread. It accepts clients (after checking a
 * unix client's credentials against the allowed uids and gids), makes
 * each a peer sharing the server's handler table and listener, and never
 * waits for a client: a client's reader, on seeing the end of the
 * connection, moves its peer to the server's dead list and wakes the
 * accept thread through a pipe; the accept thread starts a closer thread
 * for it, which calls on_disconnect, closes the peer (waiting for its
 * running handlers, however long they take), puts the client on the
 * finished list and wakes the accept thread again, which joins it. A
 * client counts in nclients until its closer has been joined, so that
 * there are never more closers than max_clients. When the server
 * closes, the accept thread gives every remaining client a closer too
 * and waits until all have been joined.
 *
 * Locks: epy_server.lock guards the client lists, the counts and the
 * listener; it is taken alone, or before a peer's listener lock
 * (epy_server_set_listener()), never with a peer's lock held.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <epyrpc/loop.h>

#include "server-int.h"

/* --- the server ----------------------------------------------------------- */

static void *
accept_main(void *arg)
{
    epy_server *srv = arg;
    int64_t resume = 0;         /* out of resources: no accept till then */
    bool reaped = true;

    for (;;) {
        struct pollfd pfd[2] = {
            { srv->wake[0], POLLIN, 0 },
            { srv->fd, POLLIN, 0 },
        };
        int timeout = reaped ? -1 : 100;
        nfds_t n = 2;
        bool stopping;

        if (resume != 0) {
            int64_t left = (resume - epy__now_ns()) / 1000000;

            if (left > 0) {
                n = 1;
                timeout = timeout < 0 || left < timeout ? (int) left
                                                        : timeout;
            } else {
                resume = 0;
            }
        }
        if (poll(pfd, n, timeout) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents) {
            char buf[64];

            while (read(srv->wake[0], buf, sizeof buf) > 0)
                ;
        }
        /* A closer that could not be started is tried again soon. */
        reaped = epy__server_reap(srv, false);
        pthread_mutex_lock(&srv->lock);
        stopping = srv->stopping;
        pthread_mutex_unlock(&srv->lock);
        if (stopping)
            break;
        if (n == 2 && (pfd[1].revents & POLLIN) && !epy__server_accept_one(srv))
            resume = epy__now_ns() + 100 * 1000000;
    }
    /* Close every client still here, each on a closer, and join them. */
    pthread_mutex_lock(&srv->lock);
    for (;;) {
        if (srv->clients != NULL || srv->dead != NULL
            || srv->finished != NULL) {
            pthread_mutex_unlock(&srv->lock);
            epy__server_reap(srv, true);
            pthread_mutex_lock(&srv->lock);
        } else if (srv->nclients == 0) {
            break;
        } else {
            pthread_cond_wait(&srv->cond, &srv->lock);
        }
    }
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

static void
server_free(epy_server *srv)
{
    if (srv->fd >= 0)
        close(srv->fd);
    if (srv->path != NULL) {
        struct stat st;

        /* Only our own socket: never one that has replaced it. */
        if (lstat(srv->path, &st) == 0 && S_ISSOCK(st.st_mode)
            && st.st_dev == srv->path_dev && st.st_ino == srv->path_ino)
            unlink(srv->path);
        free(srv->path);
    }
    for (int i = 0; i < 2; i++)
        if (srv->wake[i] >= 0)
            close(srv->wake[i]);
    /* Every client has been closed: nothing of theirs is left on these. */
    epy__poller_free(srv->poller);
    if (srv->manual == &srv->loop_pool)
        epy__pool_destroy(&srv->loop_pool);
    srv->pool.on_wait = NULL;
    epy__pool_stop(&srv->pool, 0, NULL, NULL);
    epy__pool_destroy(&srv->pool);
    if (srv->stall_fd >= 0)
        close(srv->stall_fd);
    epy__registry_unref(srv->reg);
    epy__limits_unref(srv->limits);
    epy__intro_unref(srv->intro);
    epy__monitor_free(srv->mon);
    free(srv->allowed_uids);
    free(srv->allowed_gids);
    pthread_cond_destroy(&srv->cond);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}

/* Checks @cfg; 0 or EPY_EPARAM with @err filled. */
static int
check_config(const epy_server_config *cfg, const epy__address *a, epy_error *err)
{
    if (cfg->max_clients < 1 || cfg->backlog < 1
        || cfg->max_clients_per_uid < 1)
        return epy_error_set(err, EPY_EPARAM, "max_clients, "
                             "max_clients_per_uid and backlog must be at "
                             "least 1");
    if (cfg->handshake_timeout_ms < 0 || cfg->send_timeout_ms < 0
        || cfg->idle_timeout_ms < 0)
        return epy_error_set(err, EPY_EPARAM, "negative timeout");
    if (cfg->socket_mode < -1 || cfg->socket_mode > 07777)
        return epy_error_setf(err, EPY_EPARAM,
                              "socket_mode %#o is not a file mode (or -1)",
                              (unsigned) cfg->socket_mode);
    if (cfg->max_spare_workers < 1)
        return epy_error_set(err, EPY_EPARAM,
                             "max_spare_workers must be at least 1");
    if (cfg->max_call_memory == 0)
        return epy_error_set(err, EPY_EPARAM, "max_call_memory is 0");
    if (cfg->monitor < EPY_MONITOR_OFF || cfg->monitor > EPY_MONITOR_ANY)
        return epy_error_set(err, EPY_EPARAM, "unknown monitor setting");
    if (cfg->workers < 0 || cfg->workers > EPY__POOL_MAX_THREADS / 2
        || cfg->io_threads < 0 || cfg->io_threads > 64)
        return epy_error_setf(err, EPY_EPARAM, "workers must be 0..%d and "
                              "io_threads 0..64", EPY__POOL_MAX_THREADS / 2);
    if ((cfg->n_allowed_uids > 0 && cfg->allowed_uids == NULL)
        || (cfg->n_allowed_gids > 0 && cfg->allowed_gids == NULL))
        return epy_error_set(err, EPY_EPARAM,
                             "allowed uids or gids counted but NULL");
    if ((cfg->n_allowed_uids > 0 || cfg->n_allowed_gids > 0)
        && a->family != AF_UNIX)
        return epy_error_set(err, EPY_EPARAM,
                             "allowed uids and gids need a unix socket "
                             "(TCP clients have none)");
    return 0;
}

/* A copy of @n longs at @src into *@dst (NULL if @n is 0). */
static int
copy_ids(long **dst, const long *src, size_t n)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    *dst = calloc(n, sizeof **dst);
    if (*dst == NULL)
        return EPY_ENOMEM;
    memcpy(*dst, src, n * sizeof **dst);
    return 0;
}

/*
 * The pool is saturated: clients whose loop stopped reading (their
 * queue is full) read again, and refuse calls, so that the replies the
 * blocked workers wait for come in.
 */
static void
pool_saturated(void *ctx)
{
    epy_server *srv = ctx;

    pthread_mutex_lock(&srv->lock);
    for (client *c = srv->clients; c != NULL; c = c->next)
        if (atomic_load(&c->peer->io_wait))
            epy__peer_drive_kick(c->peer);
    pthread_mutex_unlock(&srv->lock);
}

/*
 * Handlers that wait on something of their own (a lock, a sleep, I/O)
 * look busy to the pool. While jobs wait, the poller looks every
 * STALL_NS: if no worker took one meanwhile, one more worker starts
 * (within max_spare_workers), so that stuck handlers of one client
 * delay the others by STALL_NS at most. Spares wait SPARE_LINGER_NS
 * for more work before they exit.
 */
#define STALL_NS ((int64_t) 100000000)
#define SPARE_LINGER_NS ((int64_t) 250000000)

static int
stall_ready(epy__pollent *e, uint32_t events)
{
    (void) events;
    if (e->deadline == 0)
        e->deadline = epy__now_ns() + STALL_NS;
    return EPOLLIN;
}

static int
stall_expire(epy__pollent *e)
{
    epy_server *srv = EPY__CONTAINER(e, epy_server, stall_ent);

    atomic_store(&srv->stall_watch, false);
    if (epy__pool_check_stall(&srv->pool)) {
        atomic_store(&srv->stall_watch, true);
        e->deadline = epy__now_ns() + STALL_NS;
    } else {
        e->deadline = 0;
    }
    return EPOLLIN;
}

/* A job waits for a worker: have the poller look. */
static void
pool_waits(void *ctx)
{
    epy_server *srv = ctx;

    if (!atomic_load_explicit(&srv->stall_watch, memory_order_relaxed)
        && !atomic_exchange(&srv->stall_watch, true))
        epy__poller_kick(&srv->stall_ent);
}

static void
pool_warn(void *ctx, const char *msg)
{
    epy__srv_log(ctx, EPY_LOG_WARNING, "%s", msg);
}

/* The worker pool and the I/O threads. Returns 0 or a negative code. */
static int
start_core(epy_server *srv, epy_error *err)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = srv->cfg.workers > 0 ? srv->cfg.workers
                  : ncpu > 0 && ncpu < EPY__POOL_MAX_THREADS / 2 ? (int) ncpu
                  : ncpu > 0 ? EPY__POOL_MAX_THREADS / 2 : 2;
    int rc;

    srv->cfg.workers = workers;
    if (srv->cfg.peer.loop_mode == EPY_LOOP_THREADLESS)
        rc = epy__pool_init_manual(&srv->pool);
    else
        rc = epy__pool_init(&srv->pool, workers, 0,
                            srv->cfg.max_spare_workers, srv->limits);
    if (rc < 0)
        return epy_error_set(err, rc, "cannot start the worker threads");
    srv->cb_pool = &srv->pool;
    srv->pool.saturated = pool_saturated;
    srv->pool.saturated_ctx = srv;
    srv->pool.warn = pool_warn;
    srv->pool.warn_ctx = srv;
    srv->pool.linger_ns = SPARE_LINGER_NS;
    rc = epy__poller_new(srv->cfg.peer.loop_mode != 0 ? 0
                         : srv->cfg.io_threads > 0 ? srv->cfg.io_threads : 1,
                         &srv->poller);
    if (rc < 0)
        return epy_error_set(err, rc, "cannot start the I/O threads");
    srv->stall_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (srv->stall_fd < 0)
        return epy__sys_error(err, EPY_ESYSTEM, "eventfd");
    srv->stall_ent.fd = srv->stall_fd;
    srv->stall_ent.ready = stall_ready;
    srv->stall_ent.expire = stall_expire;
    rc = epy__poller_add(srv->poller, &srv->stall_ent, EPOLLIN);
    if (rc < 0)
        return epy__sys_error(err, rc, "epoll_ctl");
    if (srv->cfg.peer.loop_mode != 0) {
        rc = epy__server_loop_init(srv);
        if (rc < 0)
            return epy_error_set(err, rc, "cannot watch the listening socket");
    }
    if (!srv->pool.manual) {
        srv->pool.on_wait_ctx = srv;
        srv->pool.on_wait = pool_waits;
    }
    return 0;
}

/* Starts the accept thread. Returns 0 or EPY_ESYSTEM. */
static int
start_accepting(epy_server *srv)
{
    if (pthread_create(&srv->thread, NULL, accept_main, srv) != 0)
        return EPY_ESYSTEM;
    srv->started = true;
    return 0;
}

int
epy_server_new(const char *url, const epy_server_config *cfg,
               epy_server **ret_server, epy_error *ret_err)
{
    epy_server_config defaults = EPY_SERVER_CONFIG_INIT;
    epy_server *srv;
    epy__address a;
    int rc, one = 1, given = -1;

    if (ret_server == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL result");
    if (cfg == NULL)
        cfg = &defaults;
    rc = epy__address_inherited(url, &a, &given, ret_err);
    if (rc == 0)
        rc = epy__address_parse(url, true, &a, ret_err);
    if (rc < 0)
        return rc;
    rc = check_config(cfg, &a, ret_err);
    if (rc < 0)
        return rc;
    srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return epy_error_set(ret_err, EPY_ENOMEM, NULL);
    srv->cfg = *cfg;
    srv->fd = srv->wake[0] = srv->wake[1] = srv->stall_fd = -1;
    srv->euid = geteuid();
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    srv->reg = epy__registry_new();
    srv->limits = epy__limits_new(cfg->max_spare_workers,
                                  cfg->max_call_memory);
    if (!cfg->peer.no_introspection)
        srv->intro = epy__intro_new(cfg->peer.interfaces,
                                    cfg->peer.n_interfaces);
    if (cfg->monitor != EPY_MONITOR_OFF)
        srv->mon = epy__monitor_new(srv);
    if (srv->reg == NULL || srv->limits == NULL
        || (!cfg->peer.no_introspection && srv->intro == NULL)
        || (cfg->monitor != EPY_MONITOR_OFF && srv->mon == NULL)
        || copy_ids(&srv->allowed_uids, cfg->allowed_uids,
                    cfg->n_allowed_uids) < 0
        || copy_ids(&srv->allowed_gids, cfg->allowed_gids,
                    cfg->n_allowed_gids) < 0) {
        rc = epy_error_set(ret_err, EPY_ENOMEM, NULL);
        goto fail;
    }
    srv->cfg.allowed_uids = srv->allowed_uids;
    srv->cfg.allowed_gids = srv->allowed_gids;
    /* Abstract sockets have no file permissions: check by default. */
    srv->is_unix = a.family == AF_UNIX;
    srv->check_cred = a.family == AF_UNIX
                      && (a.abstract || cfg->n_allowed_uids > 0
                          || cfg->n_allowed_gids > 0);
    if (pipe2(srv->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        rc = epy__sys_error(ret_err, EPY_ESYSTEM, "pipe");
        goto fail;
    }
    /* A paused server (not a loop's) starts no thread before its start. */
    if (!cfg->peer.start_paused || cfg->peer.loop_mode != 0) {
        rc = start_core(srv, ret_err);
        if (rc < 0)
            goto fail;
    }
    if (given >= 0) {
        /* Listening already; its file, if any, is not the server's. */
        srv->fd = given;
        if (a.family == AF_UNIX)
            snprintf(srv->url, sizeof srv->url, "%s", url);
        else
            epy__address_format(&a.ss, srv->url, sizeof srv->url);
    } else if ((srv->fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC
                                 | SOCK_NONBLOCK, 0)) < 0) {
        rc = epy__sys_error(ret_err, EPY_ESYSTEM, "socket");
        goto fail;
    }
    if (given >= 0) {
        /* Bound and listening: nothing to do. */
    } else if (a.family == AF_UNIX && !a.abstract) {
        char *path = strdup(a.path);

        if (path == NULL) {
            rc = epy_error_set(ret_err, EPY_ENOMEM, NULL);
            goto fail;
        }
        epy__socket_file_opts fo = { srv->cfg.socket_mode,
                                     srv->cfg.socket_uid,
                                     srv->cfg.socket_gid,
                                     srv->cfg.backlog };

        rc = epy__socket_file_bind(srv->fd, &a, &fo, &srv->path_dev,
                                   &srv->path_ino, ret_err);
        if (rc < 0) {
            free(path);
            goto fail;
        }
        srv->path = path;   /* listening already */
        snprintf(srv->url, sizeof srv->url, "%s", url);
    } else {
        if (a.family == AF_UNIX) {
            snprintf(srv->url, sizeof srv->url, "%s", url);
        } else {
            setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        }
        if (bind(srv->fd, (const struct sockaddr *) &a.ss, a.len) < 0) {
            rc = epy__sys_error(ret_err, errno == EADDRINUSE ? EPY_EEXIST
                                                         : EPY_ESYSTEM, "bind");
            goto fail;
        }
        if (a.family != AF_UNIX) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof ss;

            getsockname(srv->fd, (struct sockaddr *) &ss, &len);
            epy__address_format(&ss, srv->url, sizeof srv->url);
        }
        if (listen(srv->fd, cfg->backlog) < 0) {
            rc = epy__sys_error(ret_err, EPY_ESYSTEM, "listen");
            goto fail;
        }
    }
    /* Paused: clients wait in the backlog until epy_server_start(). */
    if (!cfg->peer.start_paused && cfg->peer.loop_mode != 0) {
        rc = epy__server_loop_start(srv);
        if (rc < 0) {
            epy_error_set(ret_err, rc, "cannot watch the listening socket");
            goto fail;
        }
    } else if (!cfg->peer.start_paused && start_accepting(srv) < 0) {
        rc = epy_error_set(ret_err, EPY_ESYSTEM,
                           "cannot start the accept thread");
        goto fail;
    }
    *ret_server = srv;
    return 0;

fail:
    server_free(srv);
    return rc;
}

const char *
epy_server_url(const epy_server *srv)
{
    return srv != NULL ? srv->url : NULL;
}

int
epy_server_handle(epy_server *srv, const char *name, epy_handler_fn fn,
                  void *ctx, epy_error *ret_err)
{
    if (srv == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL server");
    return epy__registry_set(srv->reg, name, false, fn, ctx, ret_err);
}

int
epy_server_handle_ns(epy_server *srv, const char *ns, epy_handler_fn fn,
                     void *ctx, epy_error *ret_err)
{
    if (srv == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL server");
    return epy__registry_set(srv->reg, ns, true, fn, ctx, ret_err);
}

int
epy_server_serve_ns(epy_server *srv, const char *ns, bool serve,
                    epy_error *ret_err)
{
    if (srv == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL server");
    return epy__registry_serve(srv->reg, ns, serve, ret_err);
}

void
epy_server_set_listener(epy_server *srv, const epy_listener *listener,
                        void *ctx)
{
    if (srv == NULL)
        return;
    pthread_mutex_lock(&srv->lock);
    srv->has_listener = listener != NULL;
    if (listener != NULL)
        srv->listener = *listener;
    srv->listener_ctx = ctx;
    for (client *c = srv->clients; c != NULL; c = c->next)
        epy_peer_set_listener(c->peer, listener, ctx);
    pthread_mutex_unlock(&srv->lock);
}

epy__registry *
epy__server_registry(epy_server *srv)
{
    return srv->reg;
}

size_t
epy_server_clients(epy_server *srv)
{
    size_t n;

    if (srv == NULL)
        return 0;
    pthread_mutex_lock(&srv->lock);
    n = srv->nclients;
    pthread_mutex_unlock(&srv->lock);
    return n;
}

int
epy_server_start(epy_server *srv)
{
    int rc;

    if (srv == NULL)
        return EPY_EPARAM;
    pthread_mutex_lock(&srv->lock);
    if (srv->started || srv->stopping)
        rc = EPY_EPARAM;
    else if (srv->cfg.peer.loop_mode != 0)
        rc = epy__server_loop_start(srv);
    else if ((rc = srv->poller == NULL ? start_core(srv, NULL) : 0) == 0)
        rc = start_accepting(srv);
    pthread_mutex_unlock(&srv->lock);
    return rc;
}

epy_server *
epy_server_close(epy_server *srv)
{
    if (srv == NULL)
        return NULL;
    pthread_mutex_lock(&srv->lock);
    srv->stopping = true;
    pthread_mutex_unlock(&srv->lock);
    epy__server_wake(srv);
    if (srv->cfg.peer.loop_mode != 0)
        epy__server_loop_close(srv);
    else if (srv->started)
        pthread_join(srv->thread, NULL);
    server_free(srv);
    return NULL;
}

