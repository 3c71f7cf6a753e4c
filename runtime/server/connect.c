/*
 * epy_connect(): a client's connection to a server by address, made
 * without blocking past the caller's timeout, then a peer on it that
 * waits for the server's hello.
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

int
epy_connect(const char *url, const epy_peer_config *cfg, int64_t timeout_ms,
            epy_peer **ret_peer, epy_error *ret_err)
{
    int64_t deadline;
    epy__address a;
    epy_peer *peer = NULL;
    int fd, rc, flags;

    if (ret_peer == NULL || timeout_ms < 0)
        return epy_error_set(ret_err, EPY_EPARAM,
                             "NULL result or negative timeout");
    rc = epy__address_parse(url, false, &a, ret_err);
    if (rc < 0)
        return rc;
    deadline = epy__deadline(timeout_ms);
    fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return epy__sys_error(ret_err, EPY_ESYSTEM, "socket");
    if (connect(fd, (const struct sockaddr *) &a.ss, a.len) < 0) {
        struct pollfd pfd = { fd, POLLOUT, 0 };
        int soerr = 0;
        socklen_t slen = sizeof soerr;

        if (errno != EINPROGRESS && errno != EAGAIN) {
            rc = epy__sys_error(ret_err, EPY_EDISCONNECTED, "connect");
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
            rc = epy__sys_error(ret_err, EPY_EDISCONNECTED, "connect");
            close(fd);
            return rc;
        }
    }
    flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    epy__socket_tune(fd, a.family);
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
