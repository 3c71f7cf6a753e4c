/*
 * The shared-memory transport (transport-shm.h): a descriptor transport
 * on a unix socket until it is switched, then two rings in shared
 * memory (ring-int.h) with the socket for wake-ups.
 *
 * A reader that finds its ring empty spins a while, then asks the
 * writer for a doorbell (reader_waiting) and sleeps in poll() on the
 * socket: so the other end's death (the socket hangs up) ends its wait
 * at once, and a poller can watch the socket for it. A writer that
 * finds the ring full spins a while, then sleeps on the futex of the
 * ring's head, 50 ms at a time, looking between sleeps whether the
 * socket hung up; a writer that must not block (trysendv(), a peer
 * driven by a poller) asks for a doorbell instead and returns.
 *
 * Threads: one reader (recv, take_fds) and one writer (sendv, trysendv,
 * attach_fds, under the caller's write lock) at a time, which run
 * concurrently; shutdown() from any thread.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime-int.h"
#include "ring-int.h"
#include "transport-shm.h"

_Static_assert(EPY__SHM_RING_MIN == EPY__RING_MIN
               && EPY__SHM_RING_MAX == EPY__RING_MAX
               && EPY__SHM_RING_DEFAULT == EPY__RING_DEFAULT,
               "transport-shm.h tells the ring's sizes");

/* A writer waiting for room looks at the socket this often (ns). */
#define WAIT_SLICE_NS 50000000
/* After this many spins in a row that ended with nothing, spinning stops... */
#define SPIN_FAILS 4
/* ...but is tried again once every this many waits. */
#define SPIN_PROBE 64
/* Socket reads per drain: the rest waits for the next one. */
#define DRAIN_READS 64

/* The adaptive spin of one direction (its thread's alone). */
typedef struct spin_state {
    int64_t budget;             /* ns; 0: no spinning for now */
    unsigned fails;             /* spins in a row that found nothing */
    unsigned waits;             /* waits without spinning */
} spin_state;

typedef struct shm_transport {
    epy__transport base;
    epy__transport *inner;      /* the descriptor transport on the socket */
    int fd;                     /* its socket (it closes it) */
    size_t ring_size;
    int64_t spin_full;          /* spin_ns: the full budget */
    epy__ring rx, tx;
    atomic_bool rx_made;        /* rx mapped (then never changed) */
    atomic_bool tx_set;         /* tx mapped (then never changed) */
    atomic_bool rx_on, tx_on;   /* switched */
    atomic_bool down;           /* shutdown() was called */
    _Atomic int64_t timeout_ms; /* of recv(); 0: none */
    bool nonblocking;           /* set_nonblocking() was called */
    bool eof;                   /* the reader's: the socket ended */
    const int *attached;        /* the writer's: descriptors for the next write */
    int n_attached;
    spin_state rspin, wspin;    /* the reader's, the writer's */
    _Atomic uint64_t spun_ns;
} shm_transport;

static const epy__transport_ops shm_ops;

/* A pause for a CPU that spins on a shared word. */
static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* --- spinning ----------------------------------------------------------------- */

static int64_t
spin_budget(const shm_transport *st, spin_state *s)
{
    if (st->spin_full <= 0)
        return 0;
    if (s->budget > 0)
        return s->budget;
    if (++s->waits % SPIN_PROBE == 0)
        return st->spin_full;           /* has the other end got faster? */
    return 0;
}

/*
 * Spins until the rx ring has data (@reader) or the tx ring has room,
 * for the direction's budget at most. Returns true if it has (or its
 * indices are invalid: the caller finds out).
 */
static bool
spin(shm_transport *st, spin_state *s, bool reader)
{
    int64_t budget = spin_budget(st, s), start, now;
    bool ok;

    if (budget == 0)
        return false;
    start = epy__now_ns();
    do {
        cpu_relax();
        ok = reader ? epy__ring_avail(&st->rx) != 0
                    : epy__ring_room(&st->tx, NULL) != 0;
        now = epy__now_ns();
    } while (!ok && now - start < budget
             && !atomic_load_explicit(&st->down, memory_order_relaxed));
    atomic_fetch_add_explicit(&st->spun_ns, (uint64_t) (now - start),
                              memory_order_relaxed);
    if (ok) {
        s->budget = st->spin_full;
        s->fails = 0;
        s->waits = 0;
    } else if (++s->fails >= SPIN_FAILS) {
        s->budget = 0;
    } else {
        s->budget /= 2;
    }
    return ok;
}

/* --- the socket ------------------------------------------------------------------ */

/*
 * Rings the other end's doorbell: one byte. A full socket is fine: a
 * wake-up is pending there already.
 */
static void
doorbell(shm_transport *st)
{
    static const char bell = 0;
    ssize_t r;

    do
        r = send(st->fd, &bell, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
}

/*
 * Reads the doorbells waiting on the socket (keeping the descriptors
 * that came with them). Returns 0 (st->eof set if the socket ended), or
 * a negative errno (-EPROTO: too many descriptors wait). The reader.
 */
static int
drain(shm_transport *st)
{
    char buf[256];

    for (int i = 0; i < DRAIN_READS; i++) {
        ssize_t r = epy__transport_fd_drain(st->inner, buf, sizeof buf);

        if (r == -EAGAIN)
            return 0;
        if (r == 0) {
            st->eof = true;
            return 0;
        }
        if (r < 0)
            return (int) r;
    }
    return 0;
}

/* True once the socket hung up, or shutdown() was called. */
static bool
hung_up(shm_transport *st)
{
    struct pollfd p = { st->fd, 0, 0 };

    if (atomic_load_explicit(&st->down, memory_order_acquire))
        return true;
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/*
 * Sends the attached descriptors on the socket with one doorbell byte,
 * before the bytes of the write they go with enter the ring (so they are
 * in the socket when the reader finds that frame). Waits until @deadline
 * if @block, else not at all (-EAGAIN). Returns 0 or a negative errno;
 * the descriptors are detached in every case (the caller attaches them
 * again before it tries again, as with any transport).
 */
static int
send_fds(shm_transport *st, bool block, int64_t deadline)
{
    static char bell = 0;
    struct iovec v = { &bell, 1 };
    int rc = st->inner->ops->attach_fds(st->inner, st->attached,
                                        st->n_attached);

    st->n_attached = 0;
    if (rc < 0)
        return rc;
    if (block)
        return st->inner->ops->sendv(st->inner, &v, 1, deadline);
    {
        ssize_t w = st->inner->ops->trysendv(st->inner, &v, 1);

        return w == 1 ? 0 : w == 0 ? -EAGAIN : (int) w;
    }
}

/* --- writing ------------------------------------------------------------------------ */

/*
 * Waits until the tx ring has room: spins, then sleeps on its head's
 * futex in slices, looking at the socket between them. Returns 0 (room,
 * or invalid indices: the caller finds out), -EPIPE (the socket hung up
 * or shutdown() was called) or -ETIMEDOUT.
 */
static int
wait_room(shm_transport *st, int64_t deadline)
{
    if (spin(st, &st->wspin, false))
        return 0;
    for (;;) {
        uint64_t head;
        int64_t left = WAIT_SLICE_NS;

        if (hung_up(st))
            return -EPIPE;
        epy__ring_writer_arm(&st->tx, EPY__RING_WRITER_FUTEX);
        if (epy__ring_room(&st->tx, &head) != 0) {
            epy__ring_writer_disarm(&st->tx);
            return 0;
        }
        if (deadline != 0) {
            int64_t until = deadline - epy__now_ns();

            if (until <= 0) {
                epy__ring_writer_disarm(&st->tx);
                return -ETIMEDOUT;
            }
            if (until < left)
                left = until;
        }
        epy__ring_wait_room(&st->tx, head, left);
    }
}

/* Publishes: rings the doorbell if the reader asked for one. */
static void
wrote(shm_transport *st)
{
    if (epy__ring_write_done(&st->tx))
        doorbell(st);
}

static int
shm_sendv(epy__transport *t, struct iovec *iov, int n, int64_t deadline)
{
    shm_transport *st = (shm_transport *) t;
    bool sent = false;
    int rc = 0;

    if (!atomic_load_explicit(&st->tx_on, memory_order_acquire))
        return st->inner->ops->sendv(st->inner, iov, n, deadline);
    if (atomic_load_explicit(&st->down, memory_order_acquire)) {
        st->n_attached = 0;
        return -EPIPE;
    }
    while (n > 0 && iov->iov_len == 0) {
        iov++;
        n--;
    }
    while (n > 0) {
        ssize_t w = epy__ring_room(&st->tx, NULL);

        if (w == 0) {
            rc = wait_room(st, deadline);
            if (rc == -ETIMEDOUT && sent)
                rc = -ECANCELED;    /* a frame is cut: the stream is broken */
            if (rc < 0)
                break;
            continue;
        }
        if (w > 0 && st->n_attached > 0) {
            rc = send_fds(st, true, deadline);
            if (rc < 0)
                break;
        }
        if (w > 0)
            w = epy__ring_write(&st->tx, iov, n);
        if (w < 0) {
            rc = (int) w;
            break;
        }
        sent = true;
        wrote(st);
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
    st->n_attached = 0;
    return rc;
}

static ssize_t
shm_trysendv(epy__transport *t, const struct iovec *iov, int n)
{
    shm_transport *st = (shm_transport *) t;
    ssize_t w;

    if (!atomic_load_explicit(&st->tx_on, memory_order_acquire))
        return st->inner->ops->trysendv(st->inner, iov, n);
    if (atomic_load_explicit(&st->down, memory_order_acquire)) {
        st->n_attached = 0;
        return -EPIPE;
    }
    w = epy__ring_room(&st->tx, NULL);
    if (w == 0) {
        /* Full: the reader rings the socket once it made room. */
        epy__ring_writer_arm(&st->tx, EPY__RING_WRITER_DOORBELL);
        w = epy__ring_room(&st->tx, NULL);
        if (w == 0) {
            st->n_attached = 0;
            return -EAGAIN;
        }
        epy__ring_writer_disarm(&st->tx);
    }
    if (w > 0 && st->n_attached > 0) {
        int rc = send_fds(st, false, 0);

        if (rc < 0)
            return rc;
    }
    if (w > 0)
        w = epy__ring_write(&st->tx, iov, n);
    st->n_attached = 0;
    if (w > 0)
        wrote(st);
    return w;
}

static int
shm_attach_fds(epy__transport *t, const int *fds, int n)
{
    shm_transport *st = (shm_transport *) t;

    if (!atomic_load_explicit(&st->tx_on, memory_order_acquire))
        return st->inner->ops->attach_fds(st->inner, fds, n);
    if (n < 0 || n > EPY__FDS_PER_WRITE)
        return -EINVAL;
    /* Sent on the socket by the next write that puts bytes in the ring. */
    st->attached = fds;
    st->n_attached = n;
    return 0;
}

/* --- reading ---------------------------------------------------------------------- */

/*
 * After the rx ring was read: wakes the writer at the other end if it
 * waits for room. A doorbell for it goes on the socket only once this
 * end wrote its last frame there (switch_tx): before, the byte would
 * land among the frames; switch_tx() rings it then.
 */
static void
room_made(shm_transport *st)
{
    if (epy__ring_read_done(&st->rx, &st->tx_on))
        doorbell(st);
}

/* Reads the rx ring; wakes the writer if it waits. */
static ssize_t
take(shm_transport *st, void *buf, size_t len)
{
    ssize_t r = epy__ring_read(&st->rx, buf, len);

    if (r > 0)
        room_made(st);
    return r;
}

static ssize_t
shm_recv(epy__transport *t, void *buf, size_t len)
{
    shm_transport *st = (shm_transport *) t;
    int64_t ms, deadline = 0;
    bool spun = false;

    if (!atomic_load_explicit(&st->rx_on, memory_order_acquire))
        return st->inner->ops->recv(st->inner, buf, len);
    if (len == 0)
        return 0;
    ms = atomic_load_explicit(&st->timeout_ms, memory_order_relaxed);
    if (ms > 0 && !st->nonblocking)
        deadline = epy__now_ns() + ms * 1000000;
    for (;;) {
        struct pollfd pfd = { st->fd, POLLIN, 0 };
        int wait_ms = -1, p;
        ssize_t r;

        if (atomic_load_explicit(&st->down, memory_order_acquire))
            return 0;
        r = take(st, buf, len);
        if (r != 0 || st->eof)
            return r;       /* the ring is read to its end before the EOF */
        if (!spun && !st->nonblocking) {
            spun = true;
            if (spin(st, &st->rspin, true))
                continue;
        }
        /*
         * The doorbells read first, then the ring looked at once more
         * after asking for one: a doorbell rung after that is seen.
         */
        r = drain(st);
        if (r < 0)
            return r;
        if (st->eof)
            continue;
        epy__ring_reader_arm(&st->rx);
        r = take(st, buf, len);
        if (r != 0) {
            epy__ring_reader_disarm(&st->rx);
            return r;
        }
        if (st->nonblocking)
            return -EAGAIN;     /* the doorbell makes the socket readable */
        if (deadline != 0) {
            int64_t left = deadline - epy__now_ns();

            if (left <= 0)
                return -EAGAIN;
            wait_ms = left > (int64_t) INT_MAX * 1000000 ? INT_MAX
                                                         : (int) ((left + 999999) / 1000000);
        }
        p = poll(&pfd, 1, wait_ms);
        if (p < 0 && errno != EINTR)
            return -errno;
        if (p == 0)
            return -EAGAIN;     /* the timeout passed */
    }
}

static int
shm_take_fds(epy__transport *t, int *fds, int n)
{
    shm_transport *st = (shm_transport *) t;
    int rc = st->inner->ops->take_fds(st->inner, fds, n);

    /*
     * They were sent before the frame that uses them went into the ring,
     * so they wait in the socket, behind doorbells perhaps.
     */
    if (rc == -EPROTO && atomic_load_explicit(&st->rx_on, memory_order_acquire)
        && drain(st) == 0)
        rc = st->inner->ops->take_fds(st->inner, fds, n);
    return rc;
}

/* --- the rest ---------------------------------------------------------------------- */

static void
shm_shutdown(epy__transport *t)
{
    shm_transport *st = (shm_transport *) t;

    /* Readers in poll() see the socket hang up; the writer is woken. */
    atomic_store_explicit(&st->down, true, memory_order_release);
    st->inner->ops->shutdown(st->inner);
    if (atomic_load_explicit(&st->tx_set, memory_order_acquire))
        epy__ring_wake_writer(&st->tx);
}

static void
shm_destroy(epy__transport *t)
{
    shm_transport *st = (shm_transport *) t;

    if (st == NULL)
        return;
    st->inner->ops->destroy(st->inner);
    epy__ring_unmap(&st->rx);
    epy__ring_unmap(&st->tx);
    free(st);
}

static int
shm_set_recv_timeout(epy__transport *t, int64_t ms)
{
    shm_transport *st = (shm_transport *) t;
    int rc = st->inner->ops->set_recv_timeout(st->inner, ms);

    if (rc == 0)
        atomic_store_explicit(&st->timeout_ms, ms > INT_MAX ? INT_MAX : ms,
                              memory_order_relaxed);
    return rc;
}

static int
shm_set_nonblocking(epy__transport *t)
{
    shm_transport *st = (shm_transport *) t;
    int rc = st->inner->ops->set_nonblocking(st->inner);

    if (rc == 0)
        st->nonblocking = true;
    return rc;
}

static const epy__transport_ops shm_ops = {
    .name = "shm",
    .sendv = shm_sendv,
    .recv = shm_recv,
    .shutdown = shm_shutdown,
    .destroy = shm_destroy,
    .set_recv_timeout = shm_set_recv_timeout,
    .trysendv = shm_trysendv,
    .set_nonblocking = shm_set_nonblocking,
    .attach_fds = shm_attach_fds,
    .take_fds = shm_take_fds,
};

epy__transport *
epy__transport_shm_new(int fd, const epy__shm_opts *o)
{
    shm_transport *st = calloc(1, sizeof *st);

    if (st == NULL)
        return NULL;
    st->inner = epy__transport_fd_new(fd);
    if (st->inner == NULL) {
        free(st);
        return NULL;
    }
    st->base.ops = &shm_ops;
    st->fd = fd;
    st->ring_size = o != NULL ? o->ring_size : 0;
    st->spin_full = o == NULL || o->spin_ns < 0 ? EPY__SHM_SPIN_DEFAULT_NS
                                                : o->spin_ns;
    st->rspin.budget = st->wspin.budget = st->spin_full;
    atomic_init(&st->rx_made, false);
    atomic_init(&st->tx_set, false);
    atomic_init(&st->rx_on, false);
    atomic_init(&st->tx_on, false);
    atomic_init(&st->down, false);
    atomic_init(&st->timeout_ms, 0);
    atomic_init(&st->spun_ns, 0);
    return &st->base;
}

bool
epy__transport_is_shm(const epy__transport *t)
{
    return t != NULL && t->ops == &shm_ops;
}

int
epy__shm_make_rx(epy__transport *t, int *ret_memfd)
{
    shm_transport *st = (shm_transport *) t;
    int rc;

    if (!epy__transport_is_shm(t))
        return -EINVAL;
    if (atomic_load_explicit(&st->rx_made, memory_order_acquire))
        return -EBUSY;
    rc = epy__ring_create(&st->rx, st->ring_size, ret_memfd);
    if (rc == 0)
        atomic_store_explicit(&st->rx_made, true, memory_order_release);
    return rc;
}

int
epy__shm_set_tx(epy__transport *t, int memfd)
{
    shm_transport *st = (shm_transport *) t;
    epy__ring ring;
    int rc;

    if (!epy__transport_is_shm(t) || atomic_load(&st->tx_set)) {
        close(memfd);
        return epy__transport_is_shm(t) ? -EBUSY : -EINVAL;
    }
    /* No larger than the ring this end reads: its own memory pays. */
    rc = epy__ring_attach(&ring, memfd, epy__ring_size(st->ring_size));
    if (rc == 0) {
        st->tx = ring;
        atomic_store_explicit(&st->tx_set, true, memory_order_release);
    }
    return rc;
}

void
epy__shm_switch_tx(epy__transport *t)
{
    shm_transport *st = (shm_transport *) t;

    if (!epy__transport_is_shm(t)
        || !atomic_load_explicit(&st->tx_set, memory_order_acquire))
        return;
    atomic_store_explicit(&st->tx_on, true, memory_order_release);
    /* The doorbell that the reader could not ring until now. */
    if (atomic_load_explicit(&st->rx_made, memory_order_acquire))
        room_made(st);
}

void
epy__shm_switch_rx(epy__transport *t)
{
    shm_transport *st = (shm_transport *) t;

    if (epy__transport_is_shm(t)
        && atomic_load_explicit(&st->rx_made, memory_order_acquire))
        atomic_store_explicit(&st->rx_on, true, memory_order_release);
}

bool
epy__shm_tx_switched(const epy__transport *t)
{
    const shm_transport *st = (const shm_transport *) t;

    return epy__transport_is_shm(t)
           && atomic_load_explicit(&st->tx_on, memory_order_acquire);
}

bool
epy__shm_rx_switched(const epy__transport *t)
{
    const shm_transport *st = (const shm_transport *) t;

    return epy__transport_is_shm(t)
           && atomic_load_explicit(&st->rx_on, memory_order_acquire);
}

int
epy__shm_drain(epy__transport *t)
{
    shm_transport *st = (shm_transport *) t;

    if (!epy__transport_is_shm(t)
        || !atomic_load_explicit(&st->rx_on, memory_order_acquire))
        return 0;
    return drain(st);
}

uint64_t
epy__shm_spin_ns(const epy__transport *t)
{
    const shm_transport *st = (const shm_transport *) t;

    return epy__transport_is_shm(t)
           ? atomic_load_explicit(&st->spun_ns, memory_order_relaxed) : 0;
}

void
epy__transport_forget(epy__transport *t)
{
    if (epy__transport_is_shm(t)) {
        shm_transport *st = (shm_transport *) t;

        free(st->inner);        /* nothing read yet: no descriptor queued */
        free(st);
    } else {
        free(t);
    }
}
