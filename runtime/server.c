/*
 * Servers and connecting clients: unix-domain sockets (by path or in the
 * abstract namespace) and TCP over IPv4 and IPv6.
 *
 * A server has one accept thread. It accepts clients, makes each a peer
 * sharing the server's handler table and listener, and closes the peers
 * of clients that went away: a client's reader, on seeing the end of the
 * connection, queues its peer on the server's dead list and wakes the
 * accept thread through a pipe. The accept thread is the only one that
 * closes client peers, also when the server closes.
 *
 * Locks: epy_server.lock guards the client lists and the listener; it is
 * taken alone (never with a peer's lock held).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "peer-int.h"

typedef struct client {
    struct client *next;
    epy_peer *peer;
} client;

struct epy_server {
    epy_server_config cfg;
    epy__registry *reg;
    int fd;
    int wake[2];                /* the accept thread's wake-up pipe */
    pthread_t thread;
    bool started;
    char url[EPY_NAME_MAX];
    char *path;                 /* unix socket file to remove, or NULL */
    pthread_mutex_t lock;
    client *clients;            /* connected */
    client *dead;               /* ended, to be closed */
    size_t nclients;            /* in either list */
    bool stopping;
    epy_listener listener;
    bool has_listener;
    void *listener_ctx;
};

/* --- addresses ------------------------------------------------------------ */

typedef struct address {
    int family;                 /* AF_UNIX, AF_INET or AF_INET6 */
    struct sockaddr_storage ss;
    socklen_t len;
    bool abstract;
    char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
} address;

/*
 * Parses @url into @out; for TCP, resolves the host (passive: for
 * binding). Returns 0 or EPY_EPARAM with @err filled.
 */
static int
parse_url(const char *url, bool passive, address *out, epy_error *err)
{
    memset(out, 0, sizeof *out);
    if (url == NULL)
        return epy_error_set(err, EPY_EPARAM, "NULL address");
    if (strncmp(url, "unix:", 5) == 0) {
        struct sockaddr_un *sun = (struct sockaddr_un *) &out->ss;
        const char *p = url + 5;
        size_t n = strlen(p);

        out->family = AF_UNIX;
        sun->sun_family = AF_UNIX;
        if (n == 0 || n >= sizeof sun->sun_path)
            return epy_error_setf(err, EPY_EPARAM,
                                  "unix socket path of %zu bytes (1..%zu)", n,
                                  sizeof sun->sun_path - 1);
        if (p[0] == '@') {
            out->abstract = true;
            memcpy(sun->sun_path + 1, p + 1, n - 1);
            out->len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
        } else {
            memcpy(sun->sun_path, p, n);
            memcpy(out->path, p, n + 1);
            out->len = sizeof *sun;
        }
        return 0;
    }
    if (strncmp(url, "tcp:", 4) == 0) {
        const char *p = url + 4, *colon;
        char host[256];
        struct addrinfo hints, *res = NULL;
        size_t hlen;
        int rc;

        if (*p == '[') {
            const char *end = strchr(p, ']');

            if (end == NULL || end[1] != ':')
                return epy_error_setf(err, EPY_EPARAM, "bad address '%s'", url);
            hlen = (size_t) (end - p - 1);
            if (hlen >= sizeof host)
                return epy_error_set(err, EPY_EPARAM, "host name too long");
            memcpy(host, p + 1, hlen);
            colon = end + 1;
        } else {
            colon = strrchr(p, ':');
            if (colon == NULL)
                return epy_error_setf(err, EPY_EPARAM,
                                      "address '%s' has no port", url);
            hlen = (size_t) (colon - p);
            if (hlen >= sizeof host)
                return epy_error_set(err, EPY_EPARAM, "host name too long");
            memcpy(host, p, hlen);
        }
        host[hlen] = '\0';
        if (colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1)
            || atol(colon + 1) > 65535)
            return epy_error_setf(err, EPY_EPARAM, "bad port in '%s'", url);
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = passive ? AI_PASSIVE : 0;
        rc = getaddrinfo(hlen > 0 ? host : NULL, colon + 1, &hints, &res);
        if (rc != 0 || res == NULL)
            return epy_error_setf(err, EPY_EPARAM, "cannot resolve '%s': %s",
                                  host, gai_strerror(rc));
        out->family = res->ai_family;
        memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
        out->len = res->ai_addrlen;
        freeaddrinfo(res);
        return 0;
    }
    return epy_error_setf(err, EPY_EPARAM,
                          "unsupported address '%s' (unix:PATH, unix:@NAME, "
                          "tcp:HOST:PORT)", url);
}

static void
format_inet(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) ss;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, len, "tcp:%s:%u", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, len, "tcp:[%s]:%u", host, port);
    } else {
        snprintf(out, len, "unix");
    }
}

void
epy__socket_credentials(int fd, epy_credentials *cred)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    cred->pid = cred->uid = cred->gid = -1;
    cred->address[0] = '\0';
    if (getpeername(fd, (struct sockaddr *) &ss, &len) < 0)
        return;
    if (ss.ss_family == AF_UNIX) {
        struct ucred uc;
        socklen_t ulen = sizeof uc;

        snprintf(cred->address, sizeof cred->address, "unix");
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) == 0) {
            cred->pid = uc.pid;
            cred->uid = (long) uc.uid;
            cred->gid = (long) uc.gid;
        }
    } else {
        format_inet(&ss, cred->address, sizeof cred->address);
    }
}

static int
sys_error(epy_error *err, int code, const char *what)
{
    int e = errno;

    epy_error_setf(err, code, "%s: %s", what, strerror(e));
    if (err != NULL)
        err->sys_errno = e;
    return code;
}

static void
tune_socket(int fd, int family)
{
    int one = 1;

    if (family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* --- the server ----------------------------------------------------------- */

static void
wake(epy_server *srv)
{
    char c = 1;
    ssize_t w;

    do
        w = write(srv->wake[1], &c, 1);
    while (w < 0 && errno == EINTR);
}

/* A client's reader saw the end: queue its peer to be closed. */
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
    pthread_mutex_unlock(&srv->lock);
    wake(srv);
}

/* Closes the peers of clients that went away. Accept thread only. */
static void
reap(epy_server *srv)
{
    client *list;

    pthread_mutex_lock(&srv->lock);
    list = srv->dead;
    srv->dead = NULL;
    pthread_mutex_unlock(&srv->lock);
    while (list != NULL) {
        client *c = list;

        list = c->next;
        if (srv->cfg.on_disconnect != NULL)
            srv->cfg.on_disconnect(srv, c->peer, epy_peer_status(c->peer),
                                   srv->cfg.ctx);
        epy_peer_close(c->peer);
        free(c);
        pthread_mutex_lock(&srv->lock);
        srv->nclients--;
        pthread_mutex_unlock(&srv->lock);
    }
}

static void
accept_one(epy_server *srv)
{
    epy__peer_opts o;
    epy_peer_config pcfg = srv->cfg.peer;
    epy_error err = EPY_ERROR_INIT;
    client *c;
    int fd, rc;

    pcfg.start_paused = false;     /* the shared handler table is ready */

    fd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            epy__log(NULL, EPY_LOG_WARNING, "accept: %s", strerror(errno));
        return;
    }
    pthread_mutex_lock(&srv->lock);
    if (srv->nclients >= (size_t) srv->cfg.max_clients) {
        pthread_mutex_unlock(&srv->lock);
        if (srv->cfg.peer.log != NULL)
            srv->cfg.peer.log(NULL, EPY_LOG_WARNING,
                              "refused a client: the server has max_clients",
                              srv->cfg.peer.log_ctx);
        close(fd);
        return;
    }
    memset(&o, 0, sizeof o);
    o.reg = srv->reg;
    o.listener = srv->has_listener ? &srv->listener : NULL;
    o.listener_ctx = srv->listener_ctx;
    pthread_mutex_unlock(&srv->lock);
    o.server = srv;
    o.end_hook = client_ended;
    o.end_hook_ctx = srv;
    o.handshake_timeout_ms = srv->cfg.handshake_timeout_ms;
    {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;

        if (getsockname(fd, (struct sockaddr *) &ss, &len) == 0)
            tune_socket(fd, ss.ss_family);
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
        return;
    }
    /*
     * The client is listed before its reader can end it, so that
     * client_ended() always finds it: hold the lock across creation.
     */
    pthread_mutex_lock(&srv->lock);
    rc = epy__peer_new_fd(fd, &pcfg, &o, &c->peer, &err);
    if (rc < 0) {
        pthread_mutex_unlock(&srv->lock);
        if (srv->cfg.peer.log != NULL)
            srv->cfg.peer.log(NULL, EPY_LOG_WARNING, err.message,
                              srv->cfg.peer.log_ctx);
        epy_error_clear(&err);
        close(fd);
        free(c);
        return;
    }
    c->next = srv->clients;
    srv->clients = c;
    srv->nclients++;
    pthread_mutex_unlock(&srv->lock);
    if (srv->cfg.on_connect != NULL)
        srv->cfg.on_connect(srv, c->peer, 0, srv->cfg.ctx);
}

static void *
accept_main(void *arg)
{
    epy_server *srv = arg;

    for (;;) {
        struct pollfd pfd[2] = {
            { srv->fd, POLLIN, 0 },
            { srv->wake[0], POLLIN, 0 },
        };
        bool stopping;

        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents) {
            char buf[64];

            while (read(srv->wake[0], buf, sizeof buf) > 0)
                ;
        }
        reap(srv);
        pthread_mutex_lock(&srv->lock);
        stopping = srv->stopping;
        pthread_mutex_unlock(&srv->lock);
        if (stopping)
            break;
        if (pfd[0].revents & POLLIN)
            accept_one(srv);
    }
    /* Close every client still here. */
    for (;;) {
        client *c;

        pthread_mutex_lock(&srv->lock);
        c = srv->clients;
        if (c != NULL) {
            srv->clients = c->next;
            srv->nclients--;
        }
        pthread_mutex_unlock(&srv->lock);
        if (c == NULL)
            break;
        epy_peer_close(c->peer);
        free(c);
    }
    reap(srv);
    return NULL;
}

/* Binds a unix socket, replacing a stale socket file only. */
static int
bind_unix(int fd, const address *a, epy_error *err)
{
    struct stat st;

    if (bind(fd, (const struct sockaddr *) &a->ss, a->len) == 0)
        return 0;
    if (errno != EADDRINUSE || a->abstract)
        return sys_error(err, errno == EADDRINUSE ? EPY_EEXIST : EPY_ESYSTEM,
                         "bind");
    if (lstat(a->path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return epy_error_setf(err, EPY_EEXIST,
                              "'%s' exists and is not a socket", a->path);
    {
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int live = probe >= 0
                   && connect(probe, (const struct sockaddr *) &a->ss, a->len) == 0;

        if (probe >= 0)
            close(probe);
        if (live)
            return epy_error_setf(err, EPY_EEXIST,
                                  "a server already listens on '%s'", a->path);
    }
    unlink(a->path);
    if (bind(fd, (const struct sockaddr *) &a->ss, a->len) < 0)
        return sys_error(err, EPY_ESYSTEM, "bind");
    return 0;
}

static void
server_free(epy_server *srv)
{
    if (srv->fd >= 0)
        close(srv->fd);
    if (srv->path != NULL) {
        unlink(srv->path);
        free(srv->path);
    }
    for (int i = 0; i < 2; i++)
        if (srv->wake[i] >= 0)
            close(srv->wake[i]);
    epy__registry_unref(srv->reg);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}

int
epy_server_new(const char *url, const epy_server_config *cfg,
               epy_server **ret_server, epy_error *ret_err)
{
    epy_server_config defaults = EPY_SERVER_CONFIG_INIT;
    epy_server *srv;
    address a;
    int rc, one = 1;

    if (ret_server == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL result");
    if (cfg == NULL)
        cfg = &defaults;
    if (cfg->max_clients < 1 || cfg->backlog < 1
        || cfg->handshake_timeout_ms < 0 || cfg->send_timeout_ms < 0)
        return epy_error_set(ret_err, EPY_EPARAM, "invalid server configuration");
    rc = parse_url(url, true, &a, ret_err);
    if (rc < 0)
        return rc;
    srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return epy_error_set(ret_err, EPY_ENOMEM, NULL);
    srv->cfg = *cfg;
    srv->fd = srv->wake[0] = srv->wake[1] = -1;
    pthread_mutex_init(&srv->lock, NULL);
    srv->reg = epy__registry_new();
    if (srv->reg == NULL) {
        rc = epy_error_set(ret_err, EPY_ENOMEM, NULL);
        goto fail;
    }
    if (pipe2(srv->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        rc = sys_error(ret_err, EPY_ESYSTEM, "pipe");
        goto fail;
    }
    srv->fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (srv->fd < 0) {
        rc = sys_error(ret_err, EPY_ESYSTEM, "socket");
        goto fail;
    }
    if (a.family == AF_UNIX) {
        rc = bind_unix(srv->fd, &a, ret_err);
        if (rc < 0)
            goto fail;
        if (!a.abstract) {
            srv->path = strdup(a.path);
            if (srv->path == NULL) {
                unlink(a.path);
                rc = epy_error_set(ret_err, EPY_ENOMEM, NULL);
                goto fail;
            }
            /* Before listen(): nobody can connect yet. */
            if ((cfg->socket_mode >= 0
                 && chmod(a.path, (mode_t) cfg->socket_mode & 07777) < 0)
                || ((cfg->socket_uid >= 0 || cfg->socket_gid >= 0)
                    && chown(a.path, (uid_t) cfg->socket_uid,
                             (gid_t) cfg->socket_gid) < 0)) {
                rc = sys_error(ret_err, EPY_ESYSTEM, "socket file permissions");
                goto fail;
            }
        }
        snprintf(srv->url, sizeof srv->url, "%s", url);
    } else {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;

        setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(srv->fd, (const struct sockaddr *) &a.ss, a.len) < 0) {
            rc = sys_error(ret_err, errno == EADDRINUSE ? EPY_EEXIST
                                                         : EPY_ESYSTEM, "bind");
            goto fail;
        }
        getsockname(srv->fd, (struct sockaddr *) &ss, &len);
        format_inet(&ss, srv->url, sizeof srv->url);
    }
    if (listen(srv->fd, cfg->backlog) < 0) {
        rc = sys_error(ret_err, EPY_ESYSTEM, "listen");
        goto fail;
    }
    if (pthread_create(&srv->thread, NULL, accept_main, srv) != 0) {
        rc = epy_error_set(ret_err, EPY_ESYSTEM, "cannot start the accept thread");
        goto fail;
    }
    srv->started = true;
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

/* --- connecting ------------------------------------------------------------- */

int
epy_connect(const char *url, const epy_peer_config *cfg, int64_t timeout_ms,
            epy_peer **ret_peer, epy_error *ret_err)
{
    int64_t deadline;
    address a;
    epy_peer *peer = NULL;
    int fd, rc, flags;

    if (ret_peer == NULL || timeout_ms < 0)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL result or negative timeout");
    rc = parse_url(url, false, &a, ret_err);
    if (rc < 0)
        return rc;
    deadline = epy__deadline(timeout_ms);
    fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return sys_error(ret_err, EPY_ESYSTEM, "socket");
    if (connect(fd, (const struct sockaddr *) &a.ss, a.len) < 0) {
        struct pollfd pfd = { fd, POLLOUT, 0 };
        int soerr = 0;
        socklen_t slen = sizeof soerr;

        if (errno != EINPROGRESS && errno != EAGAIN) {
            rc = sys_error(ret_err, EPY_EDISCONNECTED, "connect");
            close(fd);
            return rc;
        }
        do {
            int64_t left = deadline ? (deadline - epy__now_ns()) / 1000000 : -1;

            if (deadline && left <= 0) {
                close(fd);
                return epy_error_setf(ret_err, EPY_ETIMEDOUT,
                                      "connect to '%s' timed out", url);
            }
            rc = poll(&pfd, 1, deadline ? (int) (left > 1 ? left : 1) : -1);
        } while (rc == 0 || (rc < 0 && errno == EINTR));
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen);
        if (soerr != 0) {
            errno = soerr;
            rc = sys_error(ret_err, EPY_EDISCONNECTED, "connect");
            close(fd);
            return rc;
        }
    }
    flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    tune_socket(fd, a.family);
    {
        epy_peer_config c = EPY_PEER_CONFIG_INIT;

        if (cfg != NULL)
            c = *cfg;
        c.start_paused = false;     /* the server's hello must be read */
        rc = epy_peer_new_fd(fd, &c, &peer, ret_err);
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    if (deadline != 0) {
        int64_t left = (deadline - epy__now_ns()) / 1000000;

        rc = epy_peer_wait_ready(peer, left > 1 ? left : 1, ret_err);
    } else {
        rc = epy_peer_wait_ready(peer, 0, ret_err);
    }
    if (rc < 0) {
        epy_peer_close(peer);
        return rc;
    }
    *ret_peer = peer;
    return 0;
}
