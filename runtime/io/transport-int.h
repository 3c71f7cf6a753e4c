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
} epy__transport_ops;

struct epy__transport {
    const epy__transport_ops *ops;
};

/* A transport on a connected stream socket; takes @fd. NULL on ENOMEM. */
epy__transport *epy__transport_fd_new(int fd);

/* A transport that discards what is sent and delivers nothing. */
epy__transport *epy__transport_null_new(void);

/* Two connected in-process transports. Returns 0 or EPY_ENOMEM/ESYSTEM. */
int epy__transport_queue_pair(epy__transport **a, epy__transport **b);

#endif /* EPYRPC_TRANSPORT_INT_H */
