/*
 * libepyrpc: the transport interface. A transport moves bytes between two
 * peers as a reliable, ordered stream; the peer does the framing. Each
 * built-in transport is a static const epy__transport_ops.
 */
#ifndef EPYRPC_TRANSPORT_INT_H
#define EPYRPC_TRANSPORT_INT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct epy__transport epy__transport;

typedef struct epy__transport_ops {
    const char *name;
    /*
     * Writes all of @iov (@n entries; the array may be modified). May
     * block, until @deadline (CLOCK_MONOTONIC ns; 0: no limit) at most.
     * Called with the peer's write lock held, so frames never
     * interleave. Returns 0 or a negative errno: -ETIMEDOUT if the
     * deadline passed before anything was written (the stream is
     * intact), -ECANCELED if it passed in the middle (the stream is
     * broken: the peer must end the connection).
     */
    int (*sendv)(epy__transport *t, struct iovec *iov, int n,
                 int64_t deadline);
    /*
     * Reads at least one and at most @len bytes. Blocks until some are
     * there. Returns the count, 0 at the end of the stream (the other
     * end closed, or shutdown() was called), or a negative errno
     * (-EAGAIN when a timeout set with set_recv_timeout() passed). One
     * thread at a time: the holder of the peer's reading token.
     */
    ssize_t (*recv)(epy__transport *t, void *buf, size_t len);
    /*
     * Ends the stream both ways: a blocked recv() returns 0, later
     * sendv() calls fail. Any thread; no lock held. Idempotent.
     */
    void (*shutdown)(epy__transport *t);
    /* Frees the transport and closes its descriptors. Once no thread uses it. */
    void (*destroy)(epy__transport *t);
    /*
     * Optional: makes recv() fail with -EAGAIN after @ms without data
     * (0: wait without limit). Any thread; it applies to the recv()
     * calls that start afterwards. Returns 0, or a negative errno if the
     * transport cannot (a descriptor that is no socket). Transports
     * without it are read by the peer's reader only (no caller reads its
     * own reply on them).
     */
    int (*set_recv_timeout)(epy__transport *t, int64_t ms);
    /*
     * Optional: writes what it can of @iov without blocking. Returns the
     * count (0 and -EAGAIN: nothing now), or a negative errno. Transports
     * with it can be driven by a poller (their descriptor is @fd).
     */
    ssize_t (*trysendv)(epy__transport *t, const struct iovec *iov, int n);
    /*
     * Optional (with trysendv): makes recv() return -EAGAIN at once when
     * nothing is there, for a poller that reads when the descriptor is
     * readable. Returns 0 or a negative errno. Before any thread reads.
     */
    int (*set_nonblocking)(epy__transport *t);
    /*
     * Optional: descriptors to send with the next bytes written (the
     * next sendv() or trysendv() that writes anything), as SCM_RIGHTS;
     * they stay the caller's (the kernel takes its own references when
     * they are sent). At most EPY__FDS_PER_WRITE. The writer, with the
     * write lock held, just before the write. Returns 0 or a negative
     * errno (-EOPNOTSUPP: the transport cannot pass descriptors).
     */
    int (*attach_fds)(epy__transport *t, const int *fds, int n);
    /*
     * Optional (with attach_fds): moves the next @n descriptors received
     * into @fds, in the order they were sent; the caller owns them then.
     * Only descriptors that came with bytes recv() has returned are
     * there. Returns 0, or -EPROTO if fewer than @n are there (none is
     * taken then). The holder of the reading.
     */
    int (*take_fds)(epy__transport *t, int *fds, int n);
} epy__transport_ops;

/* The most descriptors one write carries (SCM_MAX_FD is 253). */
#define EPY__FDS_PER_WRITE 64
/*
 * The most descriptors received and not yet taken that a transport
 * keeps: past it, recv() fails with -EPROTO (a peer that sends
 * descriptors no frame claims, to fill this process's table).
 */
#define EPY__FDS_QUEUED 256

struct epy__transport {
    const epy__transport_ops *ops;
};

/* A transport on a connected stream socket; takes @fd. NULL on ENOMEM. */
epy__transport *epy__transport_fd_new(int fd);

/*
 * The descriptor transport's socket read without waiting: reads what is
 * there (at most @len bytes), keeping the descriptors that came with it
 * for take_fds(). Returns the count, 0 at the end of the stream, -EAGAIN
 * if nothing is there, or a negative errno (-EPROTO: too many
 * descriptors wait). For transports built on it (transport-shm.c).
 */
ssize_t epy__transport_fd_drain(epy__transport *t, void *buf, size_t len);

/* A transport that discards what is sent and delivers nothing. */
epy__transport *epy__transport_null_new(void);

/* Two connected in-process transports. Returns 0 or EPY_ENOMEM/ESYSTEM. */
int epy__transport_queue_pair(epy__transport **a, epy__transport **b);

#endif /* EPYRPC_TRANSPORT_INT_H */
