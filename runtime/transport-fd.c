/*
 * The descriptor transport: a connected stream socket (socketpair, unix
 * or TCP). Writes use sendmsg() with MSG_NOSIGNAL, so a peer that went
 * away gives EPIPE rather than SIGPIPE.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "runtime-int.h"
#include "transport-int.h"

typedef struct fd_transport {
    epy__transport base;
    int fd;
    bool is_socket;
} fd_transport;

static int
fd_sendv(epy__transport *t, struct iovec *iov, int n)
{
    fd_transport *ft = (fd_transport *) t;

    while (n > 0) {
        ssize_t w;

        if (ft->is_socket) {
            struct msghdr msg = { 0 };

            msg.msg_iov = iov;
            msg.msg_iovlen = (size_t) n;
            w = sendmsg(ft->fd, &msg, MSG_NOSIGNAL);
            if (w < 0 && errno == ENOTSOCK) {
                ft->is_socket = false;
                continue;
            }
        } else {
            w = writev(ft->fd, iov, n);
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        while (n > 0 && (size_t) w >= iov->iov_len) {
            w -= (ssize_t) iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *) iov->iov_base + w;
            iov->iov_len -= (size_t) w;
        }
    }
    return 0;
}

static ssize_t
fd_recv(epy__transport *t, void *buf, size_t len)
{
    fd_transport *ft = (fd_transport *) t;
    ssize_t r;

    do
        r = read(ft->fd, buf, len);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return errno == ECONNRESET ? 0 : errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return r;
}

static void
fd_shutdown(epy__transport *t)
{
    fd_transport *ft = (fd_transport *) t;

    shutdown(ft->fd, SHUT_RDWR);
}

static void
fd_destroy(epy__transport *t)
{
    fd_transport *ft = (fd_transport *) t;

    if (ft == NULL)
        return;
    close(ft->fd);
    free(ft);
}

static void
fd_set_recv_timeout(epy__transport *t, int64_t ms)
{
    fd_transport *ft = (fd_transport *) t;
    struct timeval tv;

    tv.tv_sec = (time_t) (ms / 1000);
    tv.tv_usec = (suseconds_t) (ms % 1000) * 1000;
    setsockopt(ft->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static int
fd_wait_readable(epy__transport *t, int64_t deadline)
{
    fd_transport *ft = (fd_transport *) t;

    for (;;) {
        struct pollfd p = { .fd = ft->fd, .events = POLLIN };
        int64_t left = deadline - epy__now_ns();
        struct timespec ts;
        int r;

        if (left <= 0)
            left = 0;
        ts.tv_sec = (time_t) (left / 1000000000);
        ts.tv_nsec = (long) (left % 1000000000);
        r = ppoll(&p, 1, &ts, NULL);
        if (r > 0)
            return 1;   /* data, or POLLHUP/POLLERR: recv() tells */
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

static const epy__transport_ops fd_ops = {
    .name = "fd",
    .sendv = fd_sendv,
    .recv = fd_recv,
    .shutdown = fd_shutdown,
    .destroy = fd_destroy,
    .set_recv_timeout = fd_set_recv_timeout,
    .wait_readable = fd_wait_readable,
};

epy__transport *
epy__transport_fd_new(int fd)
{
    fd_transport *ft = calloc(1, sizeof *ft);

    if (ft == NULL)
        return NULL;
    ft->base.ops = &fd_ops;
    ft->fd = fd;
    ft->is_socket = true;
    return &ft->base;
}
