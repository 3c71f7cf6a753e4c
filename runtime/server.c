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
#include <unistd.h>

#include "net-int.h"

/* Where a client's on_connect is (under the server's lock). */
enum {
    CONN_NONE,                  /* its hello has not been accepted */
    CONN_QUEUED,                /* on_connect waits for a worker */
    CONN_RUNNING,
    CONN_DONE,                  /* announced: on_disconnect will follow */
    CONN_CANCELLED              /* the closer runs on_connect instead */
};

typedef struct client {
    struct client *next;
    epy_peer *peer;
    epy_server *srv;
    pthread_t closer;           /* while on the dead or finished list */
    int conn;                   /* CONN_* */
    long uid;                   /* unix sockets: the client's; else -1 */
    epy__job connect_job;       /* runs on_connect on a worker */
} client;

struct epy_server {
    epy_server_config cfg;
    epy__registry *reg;
    epy__limits *limits;        /* shared by the clients' peers */
    int fd;
    int wake[2];                /* the accept thread's wake-up pipe */
    pthread_t thread;
    bool started;
    char url[EPY_NAME_MAX];
    char *path;                 /* unix socket file to remove, or NULL */
    dev_t path_dev;             /* ... if it is still this file */
    ino_t path_ino;
    bool check_cred;            /* clients' uid and gid are checked */
    bool is_unix;               /* clients have credentials */
    uid_t euid;                 /* the server's, when it was made */
    long *allowed_uids;         /* copies of the configured lists */
    long *allowed_gids;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* a closer finished, or a client ended */
    client *clients;            /* connected */
    client *dead;               /* ended, waiting for a closer */
    client *finished;           /* closed, their closers to be joined */
    size_t nclients;            /* in any list, or being closed */
    bool stopping;
    bool closer_failed;         /* a closer could not be started (logged) */
    epy_listener listener;
    bool has_listener;
    void *listener_ctx;
};

/* --- the server ----------------------------------------------------------- */

/* A log line of the server's own, through the clients' log function. */
static void
srv_log(epy_server *srv, epy_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void
srv_log(epy_server *srv, epy_log_level level, const char *fmt, ...)
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

static void
wake(epy_server *srv)
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
static void
client_ended(epy_peer *peer, void *ctx)
{
    epy_server *srv = ctx;
    client **pp;

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
    wake(srv);
}

/* on_connect, on one of the client's workers. */
static void
connect_run(epy__job *job)
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
static void
client_ready(epy_peer *peer, void *ctx)
{
    client *c = ctx;
    epy_server *srv = c->srv;
    bool run = srv->cfg.on_connect != NULL;

    pthread_mutex_lock(&srv->lock);
    c->conn = run ? CONN_QUEUED : CONN_DONE;
    pthread_mutex_unlock(&srv->lock);
    if (run)
        epy__pool_push(&peer->pool, &c->connect_job);
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
    wake(srv);
    return NULL;
}

/*
 * Joins the closers that finished and starts one for each client that
 * ended (with @all, for each client still connected too). A closer that
 * cannot be started is tried again on the next call, or, with @all
 * (the server closes), replaced by closing the client here. Returns
 * false if some client waits for a closer. Accept thread only.
 */
static bool
reap(epy_server *srv, bool all)
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
            srv_log(srv, EPY_LOG_WARNING, "cannot start a thread to close "
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
static size_t
clients_of(epy_server *srv, long uid)
{
    size_t n = 0;

    for (const client *c = srv->clients; c != NULL; c = c->next)
        n += c->uid == uid;
    for (const client *c = srv->dead; c != NULL; c = c->next)
        n += c->uid == uid;
    return n;
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
        srv_log(srv, EPY_LOG_WARNING,
                "refused a client: uid %ld, gid %ld (pid %ld) is not allowed",
                (long) uc.uid, (long) uc.gid, (long) uc.pid);
    return ok;
}

/*
 * Accepts one client. Returns false if the system is out of descriptors
 * or memory for it: the accept thread then waits a little before it
 * tries again, instead of spinning on a connection it cannot take.
 */
static bool
accept_one(epy_server *srv)
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
        srv_log(srv, EPY_LOG_WARNING, "accept: %s", strerror(e));
        return e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM;
    }
    if (getsockname(fd, (struct sockaddr *) &ss, &sslen) < 0)
        ss.ss_family = AF_UNSPEC;
    if (srv->is_unix) {
        socklen_t len = sizeof uc;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
            srv_log(srv, EPY_LOG_WARNING, "refused a client: cannot read "
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
        srv_log(srv, EPY_LOG_WARNING,
                "refused a client: the server has max_clients");
        close(fd);
        return true;
    }
    if (srv->is_unix && clients_of(srv, (long) uc.uid)
                        >= (size_t) srv->cfg.max_clients_per_uid) {
        pthread_mutex_unlock(&srv->lock);
        srv_log(srv, EPY_LOG_WARNING, "refused a client: uid %ld has "
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
    o.end_hook = client_ended;
    o.end_hook_ctx = srv;
    o.ready_hook = client_ready;
    o.handshake_timeout_ms = srv->cfg.handshake_timeout_ms;
    o.idle_timeout_ms = srv->cfg.idle_timeout_ms;
    o.limits = srv->limits;
    if (ss.ss_family != AF_UNSPEC)
        epy__socket_tune(fd, ss.ss_family);
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
    c->connect_job.run = connect_run;
    o.ready_hook_ctx = c;
    /*
     * The client is listed before its reader can end it, so that
     * client_ended() always finds it: hold the lock across creation.
     */
    pthread_mutex_lock(&srv->lock);
    rc = epy__peer_new_fd(fd, &pcfg, &o, &c->peer, &err);
    if (rc < 0) {
        pthread_mutex_unlock(&srv->lock);
        srv_log(srv, EPY_LOG_WARNING, "%s", err.message);
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
        reaped = reap(srv, false);
        pthread_mutex_lock(&srv->lock);
        stopping = srv->stopping;
        pthread_mutex_unlock(&srv->lock);
        if (stopping)
            break;
        if (n == 2 && (pfd[1].revents & POLLIN) && !accept_one(srv))
            resume = epy__now_ns() + 100 * 1000000;
    }
    /* Close every client still here, each on a closer, and join them. */
    pthread_mutex_lock(&srv->lock);
    for (;;) {
        if (srv->clients != NULL || srv->dead != NULL
            || srv->finished != NULL) {
            pthread_mutex_unlock(&srv->lock);
            reap(srv, true);
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
    epy__registry_unref(srv->reg);
    epy__limits_unref(srv->limits);
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
    int rc, one = 1;

    if (ret_server == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL result");
    if (cfg == NULL)
        cfg = &defaults;
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
    srv->fd = srv->wake[0] = srv->wake[1] = -1;
    srv->euid = geteuid();
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    srv->reg = epy__registry_new();
    srv->limits = epy__limits_new(cfg->max_spare_workers,
                                  cfg->max_call_memory);
    if (srv->reg == NULL || srv->limits == NULL
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
    srv->fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (srv->fd < 0) {
        rc = epy__sys_error(ret_err, EPY_ESYSTEM, "socket");
        goto fail;
    }
    if (a.family == AF_UNIX && !a.abstract) {
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
    if (!cfg->peer.start_paused && start_accepting(srv) < 0) {
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
    rc = srv->started || srv->stopping ? EPY_EPARAM : start_accepting(srv);
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
    wake(srv);
    if (srv->started)
        pthread_join(srv->thread, NULL);
    server_free(srv);
    return NULL;
}

