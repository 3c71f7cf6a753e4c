/*
 * Listening sockets a server is given rather than makes: by the service
 * manager (socket activation, "systemd:" and "systemd:NAME", the
 * protocol of sd_listen_fds(3): LISTEN_PID, LISTEN_FDS and
 * LISTEN_FDNAMES, descriptors from 3 on) or by the program that started
 * it ("fd:N").
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server-int.h"

#define FIRST_FD 3              /* SD_LISTEN_FDS_START */

/* A non-negative decimal number of at most @max, or -1. */
static long
number(const char *s, long max)
{
    char *end;
    long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    return v;
}

/* The descriptor the service manager passed under @name (NULL: the first). */
static int
from_manager(const char *name, epy_error *err)
{
    long pid = number(getenv("LISTEN_PID"), 0x7fffffffL);
    long n = number(getenv("LISTEN_FDS"), 4096);
    const char *names = getenv("LISTEN_FDNAMES");

    if (pid < 0 || n < 0 || (pid_t) pid != getpid())
        return epy_error_set(err, EPY_EPARAM, "no socket was passed by the "
                             "service manager (LISTEN_PID and LISTEN_FDS "
                             "are not set for this process)");
    if (n == 0)
        return epy_error_set(err, EPY_EPARAM, "the service manager passed "
                             "no socket (LISTEN_FDS=0)");
    if (name == NULL || *name == '\0')
        return FIRST_FD;
    for (long i = 0; names != NULL && i < n; i++) {
        const char *colon = strchr(names, ':');
        size_t len = colon != NULL ? (size_t) (colon - names) : strlen(names);

        if (len == strlen(name) && memcmp(names, name, len) == 0)
            return FIRST_FD + (int) i;
        if (colon == NULL)
            break;
        names = colon + 1;
    }
    return epy_error_setf(err, EPY_EPARAM, "the service manager passed no "
                          "socket named '%s' (LISTEN_FDNAMES)", name);
}

int
epy__address_inherited(const char *url, epy__address *a, int *ret_fd,
                       epy_error *err)
{
    int fd, type = 0, listening = 0;
    socklen_t len = sizeof type;

    *ret_fd = -1;
    if (url == NULL)
        return 0;       /* refused by the parser */
    if (strncmp(url, "systemd:", 8) == 0) {
        fd = from_manager(url + 8, err);
    } else if (strncmp(url, "fd:", 3) == 0) {
        long v = number(url + 3, 0x7fffffffL);

        fd = v >= 0 ? (int) v : epy_error_setf(err, EPY_EPARAM,
                                               "bad descriptor in '%s'", url);
    } else {
        return 0;
    }
    if (fd < 0)
        return fd;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0
        || type != SOCK_STREAM
        || (len = sizeof listening,
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len)) < 0
        || !listening)
        return epy_error_setf(err, EPY_EPARAM, "descriptor %d of '%s' is not "
                              "a listening stream socket", fd, url);
    memset(a, 0, sizeof *a);
    a->len = sizeof a->ss;
    if (getsockname(fd, (struct sockaddr *) &a->ss, &a->len) < 0)
        return epy__sys_error(err, EPY_ESYSTEM, "getsockname");
    a->family = a->ss.ss_family;
    if (a->family != AF_UNIX && a->family != AF_INET && a->family != AF_INET6)
        return epy_error_setf(err, EPY_EPARAM, "descriptor %d of '%s' is "
                              "neither a unix nor a TCP socket", fd, url);
    if (a->family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *) &a->ss;

        a->abstract = a->len > sizeof(sa_family_t) && un->sun_path[0] == '\0';
    }
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0
        || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        return epy__sys_error(err, EPY_ESYSTEM, "fcntl");
    *ret_fd = fd;
    return 1;
}
