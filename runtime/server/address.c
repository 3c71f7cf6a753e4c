/*
 * Addresses of servers and clients ("unix:/path", "unix:@name",
 * "tcp:HOST:PORT"), the identity of the other end of a socket, and the
 * small socket helpers that servers and connecting clients share.
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
#include <sys/un.h>
#include <unistd.h>

#include "net-int.h"

/*
 * Parses @url into @out; for TCP, resolves the host (passive: for
 * binding). Returns 0 or EPY_EPARAM with @err filled.
 */
int
epy__address_parse(const char *url, bool passive, epy__address *out, epy_error *err)
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
        if (hlen == 0)
            return epy_error_setf(err, EPY_EPARAM,
                                  passive ? "no host in '%s': write "
                                  "tcp:0.0.0.0:PORT or tcp:[::]:PORT to "
                                  "listen on every interface, or "
                                  "tcp:127.0.0.1:PORT for this machine only"
                                  : "no host in '%s': name the server's "
                                  "host, as in tcp:127.0.0.1:PORT", url);
        if (colon[1] == '\0'
            || strspn(colon + 1, "0123456789") != strlen(colon + 1)
            || atol(colon + 1) > 65535)
            return epy_error_setf(err, EPY_EPARAM, "bad port in '%s'", url);
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = passive ? AI_PASSIVE : 0;
        rc = getaddrinfo(host, colon + 1, &hints, &res);
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
                          "tcp:HOST:PORT%s)", url,
                          passive ? ", fd:N, systemd: or systemd:NAME" : "");
}

void
epy__address_format(const struct sockaddr_storage *ss, char *out, size_t len)
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
        epy__address_format(&ss, cred->address, sizeof cred->address);
    }
}

int
epy__sys_error(epy_error *err, int code, const char *what)
{
    int e = errno;

    epy_error_setf(err, code, "%s: %s", what, strerror(e));
    if (err != NULL)
        err->sys_errno = e;
    return code;
}

void
epy__socket_tune(int fd, int family)
{
    int one = 1;

    if (family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
