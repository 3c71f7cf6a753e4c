/*
 * The descriptor transport: a connected stream socket (socketpair, unix
 * or TCP). Writes use sendmsg() with MSG_NOSIGNAL, so a peer that went
 * away gives EPIPE rather than SIGPIPE.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "runtime-int.h"
#include "transport-int.h"

typedef struct fd_transport {
    epy__transport base;
    int fd;
    bool unix_socket;              /* can pass descriptors */
    bool fds_overflow;             /* more came than the queue keeps */
    bool fds_lost;                 /* this process had no room for them */
    const int *attached;           /* attach_fds(): for the next write */
    int n_attached;
    int fdq[EPY__FDS_QUEUED];      /* received, not yet taken: a ring */
    unsigned fdq_head, fdq_len;
    bool is_socket;                /* the writer's: sendmsg() works */
    bool recv_socket;              /* a socket, as found when made */
    bool nonblocking;              /* set_nonblocking() was called */
    _Atomic int64_t timeout_ms;    /* of recv(); 0: none */
} fd_transport;

/*
 * Waits until @fd is writable or @deadline passes. Returns 0, or
 * -ETIMEDOUT.
 */
static int
wait_writable(int fd, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = { fd, POLLOUT, 0 };
        int64_t left = deadline - epy__now_ns();
        int r;

        if (left <= 0)
            return -ETIMEDOUT;
        if (left > (int64_t) 1000000000)
            left = 1000000000;
        r = poll(&pfd, 1, (int) ((left + 999999) / 1000000));
        if (r > 0)
            return 0;   /* writable, or an error the write will report */
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

/* The control message that carries @n descriptors (SCM_RIGHTS). */
typedef union fds_cmsg {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof (int) * EPY__FDS_PER_WRITE)];
} fds_cmsg;

/*
 * Puts the attached descriptors, if any, into @msg (with @cm as its
 * control buffer); they go with this write only.
 */
static void
put_attached(fd_transport *ft, struct msghdr *msg, fds_cmsg *cm)
{
    struct cmsghdr *c;
    size_t len;

    if (ft->n_attached == 0)
        return;
    len = sizeof (int) * (size_t) ft->n_attached;
    memset(cm, 0, sizeof *cm);
    msg->msg_control = cm->buf;
    msg->msg_controllen = CMSG_SPACE(len);
    c = CMSG_FIRSTHDR(msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), ft->attached, len);
}

static int
fd_sendv(epy__transport *t, struct iovec *iov, int n, int64_t deadline)
{
    fd_transport *ft = (fd_transport *) t;
    bool sent = false;

    while (n > 0) {
        ssize_t w;

        if (ft->is_socket) {
            struct msghdr msg = { 0 };
            fds_cmsg cm;

            msg.msg_iov = iov;
            msg.msg_iovlen = (size_t) n;
            if (!sent)
                put_attached(ft, &msg, &cm);
            /*
             * With a deadline the socket is written without blocking,
             * and waited for with poll() until the deadline.
             */
            w = sendmsg(ft->fd, &msg,
                        MSG_NOSIGNAL | (deadline != 0 ? MSG_DONTWAIT : 0));
            if (w < 0 && errno == ENOTSOCK && ft->n_attached == 0) {
                ft->is_socket = false;
                continue;
            }
        } else {
            w = writev(ft->fd, iov, n);
        }
        if (w < 0) {
            int rc;

            if (errno == EINTR)
                continue;
            if (errno != EAGAIN || deadline == 0 || !ft->is_socket) {
                ft->n_attached = 0;
                return -errno;
            }
            rc = wait_writable(ft->fd, deadline);
            if (rc == -ETIMEDOUT && sent)
                return -ECANCELED;
            if (rc < 0) {
                ft->n_attached = 0;
                return rc;
            }
            continue;
        }
        if (w > 0) {
            sent = true;
            ft->n_attached = 0;
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
fd_trysendv(epy__transport *t, const struct iovec *iov, int n)
{
    fd_transport *ft = (fd_transport *) t;
    struct msghdr msg = { 0 };
    fds_cmsg cm;
    ssize_t w;

    msg.msg_iov = (struct iovec *) iov;
    msg.msg_iovlen = (size_t) n;
    put_attached(ft, &msg, &cm);
    do
        w = sendmsg(ft->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    ft->n_attached = 0;
    if (w < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return w;
}

/*
 * Reads a unix socket without blocking, keeping the descriptors that
 * come with the bytes in the queue. Returns as recv(), or -EPROTO when
 * the queue overflows or more came with one write than one write may
 * carry, or -EMFILE when this process had no descriptor left for them
 * (the kernel closed those that did not fit: the stream cannot be
 * followed either way).
 */
static ssize_t
recv_fds(fd_transport *ft, void *buf, size_t len)
{
    struct iovec v = { buf, len };
    struct msghdr msg = { 0 };
    fds_cmsg cm;
    size_t got = 0;
    ssize_t r;

    if (ft->fds_lost)
        return -EMFILE;
    if (ft->fds_overflow)
        return -EPROTO;
    msg.msg_iov = &v;
    msg.msg_iovlen = 1;
    msg.msg_control = cm.buf;
    msg.msg_controllen = sizeof cm.buf;
    r = recvmsg(ft->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
         c = CMSG_NXTHDR(&msg, c)) {
        size_t n;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof (int);
        got += n;
        for (size_t i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            if (ft->fdq_len == EPY__FDS_QUEUED) {
                close(fd);
                ft->fds_overflow = true;
                continue;
            }
            ft->fdq[(ft->fdq_head + ft->fdq_len++) % EPY__FDS_QUEUED] = fd;
        }
    }
    /*
     * Cut short with room left in the buffer: the kernel could not give
     * this process a descriptor (EMFILE, ENFILE), not the other end's
     * doing.
     */
    if ((msg.msg_flags & MSG_CTRUNC) && got < EPY__FDS_PER_WRITE)
        ft->fds_lost = true;
    else if (msg.msg_flags & MSG_CTRUNC)
        ft->fds_overflow = true;
    return ft->fds_lost ? -EMFILE : ft->fds_overflow ? -EPROTO : r;
}

ssize_t
epy__transport_fd_drain(epy__transport *t, void *buf, size_t len)
{
    fd_transport *ft = (fd_transport *) t;
    ssize_t r;

    do
        r = ft->unix_socket ? recv_fds(ft, buf, len)
                            : recv(ft->fd, buf, len, MSG_DONTWAIT);
    while (r == -1 && errno == EINTR);
    if (r == -1)
        return errno == ECONNRESET ? 0 : errno == EWOULDBLOCK ? -EAGAIN
                                                              : -errno;
    return r;
}

static int
fd_attach_fds(epy__transport *t, const int *fds, int n)
{
    fd_transport *ft = (fd_transport *) t;

    if (!ft->unix_socket)
        return -EOPNOTSUPP;
    if (n < 0 || n > EPY__FDS_PER_WRITE)
        return -EINVAL;
    ft->attached = fds;
    ft->n_attached = n;
    return 0;
}

static int
fd_take_fds(epy__transport *t, int *fds, int n)
{
    fd_transport *ft = (fd_transport *) t;

    if (n < 0 || (unsigned) n > ft->fdq_len)
        return -EPROTO;
    for (int i = 0; i < n; i++) {
        fds[i] = ft->fdq[ft->fdq_head];
        ft->fdq_head = (ft->fdq_head + 1) % EPY__FDS_QUEUED;
        ft->fdq_len--;
    }
    return 0;
}

/*
 * A socket is read without blocking, and waited for with poll() for
 * POLLIN only when nothing is there. A read() blocked on a unix socket
 * also wakes up when the other end takes in what this end sent (the
 * socket's write space), finds nothing and sleeps again: with a call
 * and its reply, one extra context switch on one side or the other of
 * most round trips. poll() waits for readable data alone.
 */
static ssize_t
fd_recv(epy__transport *t, void *buf, size_t len)
{
    fd_transport *ft = (fd_transport *) t;
    ssize_t r;

    for (;;) {
        if (ft->unix_socket)
            r = recv_fds(ft, buf, len);
        else if (ft->recv_socket)
            r = recv(ft->fd, buf, len, MSG_DONTWAIT);
        else
            r = read(ft->fd, buf, len);
        if (r >= 0)
            return r;
        if (r < -1)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == ECONNRESET)
            return 0;
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && ft->recv_socket
            && !ft->nonblocking) {
            int64_t ms = atomic_load(&ft->timeout_ms);
            struct pollfd pfd = { ft->fd, POLLIN, 0 };
            int p = poll(&pfd, 1, ms > 0 ? (int) ms : -1);

            if (p == 0)
                return -EAGAIN;         /* the timeout passed */
            if (p < 0 && errno != EINTR)
                return -errno;
            continue;
        }
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
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
    while (ft->fdq_len > 0) {
        close(ft->fdq[ft->fdq_head]);
        ft->fdq_head = (ft->fdq_head + 1) % EPY__FDS_QUEUED;
        ft->fdq_len--;
    }
    close(ft->fd);
    free(ft);
}

static int
fd_set_recv_timeout(epy__transport *t, int64_t ms)
{
    fd_transport *ft = (fd_transport *) t;

    if (!ft->recv_socket)
        return -ENOTSOCK;
    atomic_store(&ft->timeout_ms, ms > INT_MAX ? INT_MAX : ms);
    return 0;
}

static int
fd_set_nonblocking(epy__transport *t)
{
    fd_transport *ft = (fd_transport *) t;
    int fl = fcntl(ft->fd, F_GETFL);

    if (fl < 0 || fcntl(ft->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    ft->nonblocking = true;
    return 0;
}

static const epy__transport_ops fd_ops = {
    .name = "fd",
    .sendv = fd_sendv,
    .recv = fd_recv,
    .shutdown = fd_shutdown,
    .destroy = fd_destroy,
    .set_recv_timeout = fd_set_recv_timeout,
    .trysendv = fd_trysendv,
    .set_nonblocking = fd_set_nonblocking,
    .attach_fds = fd_attach_fds,
    .take_fds = fd_take_fds,
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
    {
        int type;
        socklen_t len = sizeof type;

        ft->recv_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
        len = sizeof type;
        ft->unix_socket = ft->recv_socket
                          && getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &type, &len) == 0
                          && type == AF_UNIX;
    }
    atomic_init(&ft->timeout_ms, 0);
    return &ft->base;
}
