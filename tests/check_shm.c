/*
 * The shared-memory transport (runtime/io/transport-shm.c) and its ring
 * (runtime/io/ring.c): byte streams each way, timeouts, non-blocking
 * reads and doorbells, the other end's close and death, descriptors
 * passed before and after the switch, hostile indices, rings that
 * set_tx() refuses, what is left after destroy, the spin counter.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime-int.h"
#include "ring-int.h"
#include "transport-shm.h"
#include "testutil.h"

#define S_NS ((int64_t) 1000000000)

/* --- two connected, switched transports ------------------------------------- */

typedef struct pair {
    epy__transport *a, *b;
    int fd_a, fd_b;                 /* their sockets (theirs to close) */
    epy__ring_shared *view_a;       /* the test's own mapping of a's rx ring */
    epy__ring_shared *view_b;       /* ...and of b's (a's tx ring) */
    size_t len_a, len_b;
} pair;

static epy__ring_shared *
view(int memfd, size_t *len)
{
    struct stat st;
    void *p;

    ck_assert_int_eq(fstat(memfd, &st), 0);
    *len = (size_t) st.st_size;
    p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

/* Makes a pair; switched unless @raw (then only the rings are exchanged). */
static void
pair_make(pair *p, const epy__shm_opts *o, bool raw)
{
    int sv[2], ma, mb;

    memset(p, 0, sizeof *p);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p->fd_a = sv[0];
    p->fd_b = sv[1];
    p->a = epy__transport_shm_new(sv[0], o);
    p->b = epy__transport_shm_new(sv[1], o);
    ck_assert(p->a != NULL && p->b != NULL);
    ck_assert(epy__transport_is_shm(p->a));
    ck_assert_int_eq(epy__shm_make_rx(p->a, &ma), 0);
    ck_assert_int_eq(epy__shm_make_rx(p->b, &mb), 0);
    ck_assert_int_eq(epy__shm_make_rx(p->a, &(int){ 0 }), -EBUSY);
    p->view_a = view(ma, &p->len_a);
    p->view_b = view(mb, &p->len_b);
    ck_assert_int_eq(epy__shm_set_tx(p->a, mb), 0);
    ck_assert_int_eq(epy__shm_set_tx(p->b, ma), 0);
    if (raw)
        return;
    ck_assert(!epy__shm_tx_switched(p->a));
    epy__shm_switch_tx(p->a);
    epy__shm_switch_rx(p->a);
    epy__shm_switch_tx(p->b);
    epy__shm_switch_rx(p->b);
    ck_assert(epy__shm_tx_switched(p->a));
}

static void
pair_free(pair *p)
{
    if (p->a != NULL)
        p->a->ops->destroy(p->a);
    if (p->b != NULL)
        p->b->ops->destroy(p->b);
    munmap(p->view_a, p->len_a);
    munmap(p->view_b, p->len_b);
    memset(p, 0, sizeof *p);
}

static int64_t
in_ns(int64_t s)
{
    return epy__now_ns() + s * S_NS * tu_slow();
}

static int
send_all(epy__transport *t, const void *buf, size_t len, int64_t deadline)
{
    struct iovec v = { (void *) buf, len };

    return t->ops->sendv(t, &v, 1, deadline);
}

/* Reads exactly @len bytes; returns 0, or what recv() returned instead. */
static ssize_t
recv_all(epy__transport *t, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t r = t->ops->recv(t, (char *) buf + got, len - got);

        if (r <= 0)
            return r == 0 ? -1 : r;
        got += (size_t) r;
    }
    return 0;
}

/* Waits (looking every ms, 5 s at most) until @word is @val. */
static bool
wait_word(_Atomic uint32_t *word, uint32_t val)
{
    int64_t end = in_ns(5);

    while (atomic_load(word) != val) {
        struct timespec ts = { 0, 1000000 };

        if (epy__now_ns() > end)
            return false;
        nanosleep(&ts, NULL);
    }
    return true;
}

static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* --- streams ------------------------------------------------------------------------ */

static uint8_t
pattern(uint64_t i, unsigned dir)
{
    return (uint8_t) (((i + dir) * UINT64_C(0x9E3779B97F4A7C15)) >> 56);
}

typedef struct flow {
    epy__transport *t;
    unsigned dir;
    size_t total, max_chunk;
    int rc;                 /* 0, or what failed */
    uint64_t bad_at;        /* the first byte that was wrong */
} flow;

static void *
writer_main(void *arg)
{
    flow *f = arg;
    uint64_t seed = 0x1234567 + f->dir;
    uint8_t *buf = malloc(f->max_chunk);

    for (size_t off = 0; off < f->total && f->rc == 0;) {
        size_t n = 1 + rnd(&seed) % f->max_chunk, cut;
        struct iovec v[2];

        if (n > f->total - off)
            n = f->total - off;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(off + i, f->dir);
        cut = rnd(&seed) % (n + 1);
        v[0] = (struct iovec) { buf, cut };
        v[1] = (struct iovec) { buf + cut, n - cut };
        f->rc = f->t->ops->sendv(f->t, v, 2, in_ns(20));
        off += n;
    }
    free(buf);
    return NULL;
}

static void *
reader_main(void *arg)
{
    flow *f = arg;
    uint64_t seed = 0x7654321 + f->dir;
    uint8_t *buf = malloc(f->max_chunk);

    for (size_t got = 0; got < f->total && f->rc == 0;) {
        ssize_t r = f->t->ops->recv(f->t, buf, 1 + rnd(&seed) % f->max_chunk);

        if (r <= 0) {
            f->rc = r == 0 ? -EPIPE : (int) r;
            break;
        }
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(got + (size_t) i, f->dir)) {
                f->rc = -EILSEQ;
                f->bad_at = got + (uint64_t) i;
                break;
            }
        got += (size_t) r;
    }
    free(buf);
    return NULL;
}

/* 16 MiB each way at once, in frames up to 3 times the ring. */
static void
stream_both_ways(const epy__shm_opts *o, size_t total)
{
    size_t chunk = 3 * epy__ring_size(o->ring_size);
    pthread_t th[4];
    flow f[4];
    pair p;

    pair_make(&p, o, false);
    /* a writes to b (direction 0), b to a (1). */
    for (int i = 0; i < 4; i++)
        f[i] = (flow) { i == 0 || i == 3 ? p.a : p.b, (unsigned) i / 2, total,
                        chunk, 0, 0 };
    ck_assert_int_eq(p.a->ops->set_recv_timeout(p.a, 20000 * tu_slow()), 0);
    ck_assert_int_eq(p.b->ops->set_recv_timeout(p.b, 20000 * tu_slow()), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL,
                                        i % 2 == 0 ? writer_main : reader_main,
                                        &f[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(f[i].rc == 0, "flow %d: %d (byte %llu)", i, f[i].rc,
                      (unsigned long long) f[i].bad_at);
    pair_free(&p);
}

START_TEST(test_stream_spin)
{
    epy__shm_opts o = { 64 << 10, -1 };

    stream_both_ways(&o, (size_t) 16 << 20);
}
END_TEST

START_TEST(test_stream_futex)
{
    /* The smallest ring and no spinning: every wait sleeps. */
    epy__shm_opts o = { 1, 0 };

    stream_both_ways(&o, (size_t) 16 << 20);
}
END_TEST

/* --- waits, timeouts, doorbells ---------------------------------------------- */

START_TEST(test_recv_timeout)
{
    pair p;
    char c;
    int64_t t0;

    pair_make(&p, NULL, false);
    ck_assert_int_eq(p.a->ops->set_recv_timeout(p.a, 50), 0);
    t0 = epy__now_ns();
    ck_assert_int_eq(p.a->ops->recv(p.a, &c, 1), -EAGAIN);
    ck_assert_int_ge(epy__now_ns() - t0, 45000000);
    ck_assert_int_lt(epy__now_ns() - t0, S_NS * tu_slow());
    /* Still usable afterwards. */
    ck_assert_int_eq(send_all(p.b, "x", 1, 0), 0);
    ck_assert_int_eq(p.a->ops->recv(p.a, &c, 1), 1);
    ck_assert_int_eq(c, 'x');
    pair_free(&p);
}
END_TEST

static bool
readable(int fd, int ms)
{
    struct pollfd pfd = { fd, POLLIN, 0 };

    return poll(&pfd, 1, ms) == 1 && (pfd.revents & POLLIN);
}

START_TEST(test_nonblocking_doorbells)
{
    epy__shm_opts o = { 4096, 0 };
    char buf[8192];
    struct iovec v = { buf, sizeof buf };
    ssize_t w;
    pair p;

    memset(buf, 'z', sizeof buf);
    pair_make(&p, &o, false);
    ck_assert_int_eq(p.a->ops->set_nonblocking(p.a), 0);
    ck_assert_int_eq(p.b->ops->set_nonblocking(p.b), 0);
    /* Empty: -EAGAIN at once, the doorbell asked for. */
    ck_assert_int_eq(p.a->ops->recv(p.a, buf, 10), -EAGAIN);
    ck_assert_uint_eq(atomic_load(&p.view_a->reader_waiting), 1);
    ck_assert(!readable(p.fd_a, 0));
    ck_assert_int_eq(send_all(p.b, "hello", 5, 0), 0);
    ck_assert(readable(p.fd_a, 1000 * tu_slow()));
    ck_assert_int_eq(p.a->ops->recv(p.a, buf, 10), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    /* The next empty read takes the doorbell: no busy poller. */
    ck_assert_int_eq(p.a->ops->recv(p.a, buf, 10), -EAGAIN);
    ck_assert(!readable(p.fd_a, 0));

    /* A full ring: trysendv() asks the reader for a doorbell. */
    ck_assert_int_eq(p.b->ops->trysendv(p.b, &v, 1), 4096);
    ck_assert_int_eq(p.b->ops->trysendv(p.b, &v, 1), -EAGAIN);
    ck_assert_uint_eq(atomic_load(&p.view_a->writer_waiting),
                      EPY__RING_WRITER_DOORBELL);
    ck_assert(!readable(p.fd_b, 0));
    ck_assert_int_eq(p.a->ops->recv(p.a, buf, 100), 100);
    ck_assert(readable(p.fd_b, 1000 * tu_slow()));
    ck_assert_int_eq(p.b->ops->recv(p.b, buf, 10), -EAGAIN);   /* drained */
    ck_assert(!readable(p.fd_b, 0));
    w = p.b->ops->trysendv(p.b, &v, 1);
    ck_assert_int_eq(w, 100);
    pair_free(&p);
}
END_TEST

/* A reader whose end still writes on the socket rings no doorbell there. */
START_TEST(test_doorbell_after_switch_tx)
{
    epy__shm_opts o = { 4096, 0 };
    char buf[8192] = { 0 };
    struct iovec v = { buf, sizeof buf };
    pair p;

    pair_make(&p, &o, true);
    epy__shm_switch_tx(p.a);
    epy__shm_switch_rx(p.b);
    ck_assert_int_eq(p.a->ops->trysendv(p.a, &v, 1), 4096);
    ck_assert_int_eq(p.a->ops->trysendv(p.a, &v, 1), -EAGAIN);
    ck_assert_int_eq(recv_all(p.b, buf, 4096), 0);
    ck_assert(!readable(p.fd_a, 0));
    ck_assert_uint_eq(atomic_load(&p.view_b->writer_waiting),
                      EPY__RING_WRITER_DOORBELL);
    ck_assert_int_eq(send_all(p.b, "last", 4, 0), 0);   /* on the socket */
    epy__shm_switch_tx(p.b);
    ck_assert_int_eq(recv_all(p.a, buf, 4), 0);
    ck_assert_int_eq(memcmp(buf, "last", 4), 0);
    ck_assert(readable(p.fd_a, 0));
    ck_assert_uint_eq(atomic_load(&p.view_b->writer_waiting), 0);
    pair_free(&p);
}
END_TEST

typedef struct blocked {
    epy__transport *t;
    bool send;              /* sendv() of 1 MiB, else recv() */
    ssize_t r;
    int64_t end;            /* when it returned */
} blocked;

static void *
blocked_main(void *arg)
{
    blocked *b = arg;

    if (b->send) {
        size_t len = (size_t) 1 << 20;
        char *buf = calloc(1, len);

        b->r = send_all(b->t, buf, len, 0);
        free(buf);
    } else {
        char buf[64];

        b->r = b->t->ops->recv(b->t, buf, sizeof buf);
    }
    b->end = epy__now_ns();
    return NULL;
}

/* The other end's close ends a blocked recv() (0) or sendv() (-EPIPE). */
START_TEST(test_close_wakes)
{
    epy__shm_opts o = { 4096, -1 };
    blocked bl = { .send = _i == 1 };
    pthread_t th;
    int64_t t0;
    pair p;

    pair_make(&p, &o, false);
    bl.t = p.a;
    ck_assert_int_eq(pthread_create(&th, NULL, blocked_main, &bl), 0);
    if (bl.send)
        ck_assert(wait_word(&p.view_b->writer_waiting, EPY__RING_WRITER_FUTEX));
    else
        ck_assert(wait_word(&p.view_a->reader_waiting, 1));
    t0 = epy__now_ns();
    p.b->ops->destroy(p.b);
    p.b = NULL;
    pthread_join(th, NULL);
    ck_assert_int_eq(bl.r, bl.send ? -EPIPE : 0);
    ck_assert_int_lt(bl.end - t0, S_NS * tu_slow());
    pair_free(&p);
}
END_TEST

/* shutdown() from another thread ends this end's blocked recv() and sendv(). */
START_TEST(test_shutdown_wakes)
{
    epy__shm_opts o = { 4096, -1 };
    blocked rb = { .send = false }, sb = { .send = true };
    pthread_t th[2];
    int64_t t0;
    pair p;

    pair_make(&p, &o, false);
    rb.t = sb.t = p.a;
    ck_assert_int_eq(pthread_create(&th[0], NULL, blocked_main, &rb), 0);
    ck_assert_int_eq(pthread_create(&th[1], NULL, blocked_main, &sb), 0);
    ck_assert(wait_word(&p.view_a->reader_waiting, 1));
    ck_assert(wait_word(&p.view_b->writer_waiting, EPY__RING_WRITER_FUTEX));
    t0 = epy__now_ns();
    p.a->ops->shutdown(p.a);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    ck_assert_int_eq(rb.r, 0);
    ck_assert_int_eq(sb.r, -EPIPE);
    ck_assert_int_lt(rb.end - t0, S_NS * tu_slow());
    ck_assert_int_lt(sb.end - t0, S_NS * tu_slow());
    ck_assert_int_eq(send_all(p.a, "x", 1, 0), -EPIPE);
    p.a->ops->shutdown(p.a);
    pair_free(&p);
}
END_TEST

/* --- another process -------------------------------------------------------------- */

/*
 * The switch as peers would do it: each end sends its rx ring's memfd on
 * the socket (before the switch), takes the other's and switches.
 * Returns the test's view of its rx ring when @v is not NULL.
 */
static int
exchange(epy__transport *t, epy__ring_shared **v, size_t *vlen)
{
    int mine, theirs;
    char c;

    if (epy__shm_make_rx(t, &mine) != 0)
        return -1;
    if (v != NULL)
        *v = view(mine, vlen);
    if (t->ops->attach_fds(t, &mine, 1) != 0 || send_all(t, "m", 1, 0) != 0)
        return -1;
    close(mine);
    if (t->ops->recv(t, &c, 1) != 1 || c != 'm'
        || t->ops->take_fds(t, &theirs, 1) != 0
        || epy__shm_set_tx(t, theirs) != 0)
        return -1;
    epy__shm_switch_tx(t);
    epy__shm_switch_rx(t);
    return 0;
}

typedef struct killer {
    pid_t pid;
    epy__ring_shared *rx;
    int64_t when;
    bool armed;
} killer;

static void *
killer_main(void *arg)
{
    killer *k = arg;

    k->armed = wait_word(&k->rx->reader_waiting, 1);
    k->when = epy__now_ns();
    kill(k->pid, SIGKILL);
    return NULL;
}

START_TEST(test_killed_child)
{
    epy__ring_shared *rx;
    epy__transport *a;
    killer k = { 0 };
    pthread_t th;
    size_t rx_len;
    int sv[2], status;
    int64_t end;
    char c;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    k.pid = fork();
    ck_assert_int_ge(k.pid, 0);
    if (k.pid == 0) {
        epy__transport *b;

        close(sv[0]);
        b = epy__transport_shm_new(sv[1], NULL);
        if (b == NULL || exchange(b, NULL, NULL) != 0)
            _exit(1);
        b->ops->recv(b, &c, 1);     /* nothing comes: until killed */
        _exit(2);
    }
    close(sv[1]);
    a = epy__transport_shm_new(sv[0], NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(exchange(a, &rx, &rx_len), 0);
    k.rx = rx;
    ck_assert_int_eq(pthread_create(&th, NULL, killer_main, &k), 0);
    ck_assert_int_eq(a->ops->recv(a, &c, 1), 0);
    end = epy__now_ns();
    pthread_join(th, NULL);
    ck_assert_int_lt(end - k.when, S_NS * tu_slow());
    ck_assert(k.armed);
    ck_assert_int_eq(waitpid(k.pid, &status, 0), k.pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* Writing to the dead: fills the ring, then -EPIPE. */
    {
        size_t len = (size_t) 1 << 20;
        char *buf = calloc(1, len);

        ck_assert_int_eq(send_all(a, buf, len, in_ns(5)), -EPIPE);
        free(buf);
    }
    a->ops->destroy(a);
    munmap(rx, rx_len);
}
END_TEST

/* --- descriptors -------------------------------------------------------------------- */

static bool
same_file(int x, int y)
{
    struct stat a, b;

    return fstat(x, &a) == 0 && fstat(y, &b) == 0 && a.st_dev == b.st_dev
           && a.st_ino == b.st_ino;
}

START_TEST(test_fds)
{
    epy__shm_opts o = { 4096, 0 };
    int fds[2], got[3];
    char buf[4096];
    struct iovec v = { buf, sizeof buf };
    pair p;

    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    /* Before the switch: the descriptor transport's own. */
    pair_make(&p, &o, true);
    ck_assert(!epy__shm_tx_switched(p.a));
    ck_assert_int_eq(p.a->ops->attach_fds(p.a, fds, 1), 0);
    ck_assert_int_eq(send_all(p.a, "pre", 3, 0), 0);
    ck_assert_int_eq(recv_all(p.b, buf, 3), 0);
    ck_assert_int_eq(memcmp(buf, "pre", 3), 0);
    ck_assert_int_eq(p.b->ops->take_fds(p.b, got, 1), 0);
    ck_assert(same_file(got[0], fds[0]));
    close(got[0]);
    epy__shm_switch_tx(p.a);
    epy__shm_switch_rx(p.b);
    epy__shm_switch_tx(p.b);
    epy__shm_switch_rx(p.a);

    /*
     * After: on the socket, ahead of the frame in the ring, behind a
     * doorbell here (the reader asked for one).
     */
    ck_assert_int_eq(p.a->ops->attach_fds(p.a, NULL, 0), 0);
    ck_assert_int_eq(p.b->ops->set_recv_timeout(p.b, 1), 0);
    ck_assert_int_eq(p.b->ops->recv(p.b, buf, 1), -EAGAIN);
    ck_assert_int_eq(send_all(p.a, "x", 1, 0), 0);
    ck_assert(readable(p.fd_b, 0));
    ck_assert_int_eq(p.a->ops->attach_fds(p.a, fds, 2), 0);
    ck_assert_int_eq(send_all(p.a, "one", 3, 0), 0);
    ck_assert_int_eq(p.a->ops->attach_fds(p.a, fds + 1, 1), 0);
    ck_assert_int_eq(send_all(p.a, "two", 3, 0), 0);
    ck_assert_int_eq(p.b->ops->set_recv_timeout(p.b, 0), 0);
    ck_assert_int_eq(recv_all(p.b, buf, 7), 0);
    ck_assert_int_eq(memcmp(buf, "xonetwo", 7), 0);
    ck_assert_int_eq(p.b->ops->take_fds(p.b, got, 2), 0);
    ck_assert_int_eq(p.b->ops->take_fds(p.b, got + 2, 1), 0);
    ck_assert(same_file(got[0], fds[0]) && same_file(got[1], fds[1])
              && same_file(got[2], fds[1]));
    for (int i = 0; i < 3; i++)
        close(got[i]);
    ck_assert_int_eq(p.b->ops->take_fds(p.b, got, 1), -EPROTO);

    /* A write that writes nothing sends none. */
    ck_assert_int_eq(p.a->ops->trysendv(p.a, &v, 1), 4096);
    ck_assert_int_eq(p.a->ops->attach_fds(p.a, fds, 1), 0);
    ck_assert_int_eq(p.a->ops->trysendv(p.a, &v, 1), -EAGAIN);
    ck_assert_int_eq(p.a->ops->attach_fds(p.a, fds, 1), 0);
    ck_assert_int_eq(send_all(p.a, buf, 1, epy__now_ns() + 20000000), -ETIMEDOUT);
    ck_assert_int_eq(recv_all(p.b, buf, 4096), 0);
    ck_assert_int_eq(p.b->ops->take_fds(p.b, got, 1), -EPROTO);
    pair_free(&p);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

/* --- hostile ---------------------------------------------------------------------------- */

/*
 * An index that the other end could not have written: a tail (@ahead)
 * more than @size past the head @other, or a head more than @size behind
 * the tail @other, or one on the wrong side of it.
 */
static uint64_t
bad_index(uint64_t *seed, uint64_t other, uint64_t size, bool ahead)
{
    uint64_t d;

    switch (rnd(seed) % 3) {
    case 0:
        d = size + 1 + rnd(seed) % 1000;
        break;
    case 1:
        d = -(1 + rnd(seed) % 1000);
        break;
    default:
        d = rnd(seed);
        if (d <= size)
            d = size + 1;
    }
    return ahead ? other + d : other - d;
}

START_TEST(test_hostile_indices)
{
    epy__shm_opts o = { 4096, _i % 2 == 0 ? 0 : -1 };
    uint64_t seed = 0x9876543ull + (uint64_t) _i * 7919;
    char buf[3 * 4096];
    struct iovec v = { buf, 100 };
    uint64_t size = 4096;
    pair p;

    memset(buf, 'q', sizeof buf);
    pair_make(&p, &o, false);
    ck_assert_int_eq(p.a->ops->set_recv_timeout(p.a, 1000 * tu_slow()), 0);

    /*
     * Noise where no index is: the header's identity (read once, at
     * set_tx), the flags, the data. Traffic goes on.
     */
    for (int k = 0; k < 64; k++)
        ((uint8_t *) p.view_a)[rnd(&seed) % 16] = (uint8_t) rnd(&seed);
    atomic_store(&p.view_a->reader_waiting, (uint32_t) rnd(&seed));
    atomic_store(&p.view_a->writer_waiting, (uint32_t) rnd(&seed));
    atomic_store(&p.view_b->reader_waiting, (uint32_t) rnd(&seed));
    atomic_store(&p.view_b->writer_waiting, (uint32_t) rnd(&seed));
    ck_assert_int_eq(send_all(p.b, buf, 3000, in_ns(1)), 0);
    ck_assert_int_eq(send_all(p.a, buf, 3000, in_ns(1)), 0);
    ck_assert_int_eq(recv_all(p.a, buf, 3000), 0);
    ck_assert_int_eq(recv_all(p.b, buf, 3000), 0);

    /* A plausible but false tail: bytes (garbage), never more than there is. */
    atomic_store(&p.view_a->tail, 3000 + size);
    ck_assert_int_eq(p.a->ops->recv(p.a, buf, sizeof buf), (ssize_t) size);

    /* Indices out of reach: -EPROTO, every time, at once. */
    atomic_store(&p.view_a->tail, bad_index(&seed, 3000 + size, size, true));
    ck_assert_int_eq(p.a->ops->recv(p.a, buf, 10), -EPROTO);
    ck_assert_int_eq(p.a->ops->recv(p.a, buf, 10), -EPROTO);
    atomic_store(&p.view_b->head, bad_index(&seed, 3000, size, false));
    ck_assert_int_eq(send_all(p.a, buf, 100, in_ns(1)), -EPROTO);
    ck_assert_int_eq(p.a->ops->trysendv(p.a, &v, 1), -EPROTO);

    /* A head that claims the ring is full, from a reader that never reads. */
    atomic_store(&p.view_b->head, 3000 - size);
    ck_assert_int_eq(send_all(p.a, buf, 100, epy__now_ns() + 30000000),
                     -ETIMEDOUT);
    pair_free(&p);
}
END_TEST

/* --- set_tx() refuses ------------------------------------------------------------------ */

/* A memfd as a creator would make it, with what the test chooses. */
static int
fake_ring(unsigned flags, uint32_t magic, uint32_t version, uint64_t size,
          off_t file_len, int seals)
{
    uint32_t id[4] = { magic, version, (uint32_t) size, (uint32_t) (size >> 32) };
    int fd = memfd_create("fake-ring", MFD_CLOEXEC | flags);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, file_len), 0);
    ck_assert_int_eq(pwrite(fd, id, sizeof id, 0), (ssize_t) sizeof id);
    if (seals != 0)
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
    return fd;
}

/* True if a fake ring is mapped here. */
static bool
fake_mapped(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[1024];
    bool found = false;

    ck_assert_ptr_nonnull(f);
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, "fake-ring") != NULL;
    fclose(f);
    return found;
}

START_TEST(test_set_tx_refuses)
{
    const int sealed = F_SEAL_SHRINK | F_SEAL_GROW;
    const unsigned as = MFD_ALLOW_SEALING;
    const uint32_t m = EPY__RING_MAGIC, v = EPY__RING_VERSION;
    const off_t len = EPY__RING_HEADER + 4096;
    uint32_t id[4] = { m, v, 4096, 0 };
    char path[] = "/tmp/epy-shm-XXXXXX", proc[64];
    int sv[2], fd, pv[2];
    epy__transport *t;

#define REFUSED(fl, mg, vs, sz, ln, se) \
    ck_assert_int_eq(epy__shm_set_tx(t, fake_ring(fl, mg, vs, sz, ln, se)), -EPROTO)
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    t = epy__transport_shm_new(sv[0], NULL);
    ck_assert_ptr_nonnull(t);
    /* Not sealed; not sealable; sealed against growing only. */
    REFUSED(as, m, v, 4096, len, 0);
    REFUSED(0, m, v, 4096, len, 0);
    REFUSED(as, m, v, 4096, len, F_SEAL_GROW);
    /* Sizes that do not agree, or are no power of two, too small, too large. */
    REFUSED(as, m, v, 4096, len + 8192, sealed);
    REFUSED(as, m, v, 8192, len, sealed);
    REFUSED(as, m, v, 6000, EPY__RING_HEADER + 6000, sealed);
    REFUSED(as, m, v, 2048, EPY__RING_HEADER + 2048, sealed);
    REFUSED(as, m, v, UINT64_C(1) << 40, len, sealed);
    /* A bad magic, a bad version. */
    REFUSED(as, m ^ 1, v, 4096, len, sealed);
    REFUSED(as, m, v + 1, 4096, len, sealed);
#undef REFUSED
    /* A regular file, a pipe, a read-only descriptor of a good ring. */
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(ftruncate(fd, len), 0);
    ck_assert_int_eq(pwrite(fd, id, sizeof id, 0), (ssize_t) sizeof id);
    ck_assert_int_eq(epy__shm_set_tx(t, fd), -EPROTO);
    ck_assert_int_eq(pipe2(pv, O_CLOEXEC), 0);
    ck_assert_int_eq(epy__shm_set_tx(t, pv[0]), -EPROTO);
    close(pv[1]);
    fd = fake_ring(as, m, v, 4096, len, sealed);
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ck_assert_int_eq(epy__shm_set_tx(t, open(proc, O_RDONLY | O_CLOEXEC)),
                     -EPROTO);
#define GOOD(sz) fake_ring(as, m, v, (sz), EPY__RING_HEADER + (off_t) (sz), sealed)
    /* Larger than the ring this end reads (256 KiB): refused, unmapped. */
    ck_assert_int_eq(epy__shm_set_tx(t, GOOD(2 * EPY__RING_DEFAULT)), -EFBIG);
    ck_assert(!fake_mapped());
    /* The same ring, read and write: taken; a second one is not. */
    ck_assert_int_eq(epy__shm_set_tx(t, fd), 0);
    ck_assert_int_eq(epy__shm_set_tx(t, fake_ring(as, m, v, 4096, len, sealed)),
                     -EBUSY);
    t->ops->destroy(t);
    /* No shm transport: refused, the memfd closed all the same. */
    t = epy__transport_fd_new(sv[1]);
    ck_assert(!epy__transport_is_shm(t));
    ck_assert_int_eq(epy__shm_make_rx(t, &fd), -EINVAL);
    ck_assert_int_eq(epy__shm_set_tx(t, fake_ring(as, m, v, 4096, len, sealed)),
                     -EINVAL);
    t->ops->destroy(t);
    /* A ring_size of 8 KiB: a ring of 16 KiB is refused, one of 8 KiB taken. */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    close(sv[1]);
    t = epy__transport_shm_new(sv[0], &(epy__shm_opts){ 8192, 0 });
    ck_assert_int_eq(epy__shm_set_tx(t, GOOD(16384)), -EFBIG);
    ck_assert(!fake_mapped());
    ck_assert_int_eq(epy__shm_set_tx(t, GOOD(8192)), 0);
    ck_assert(fake_mapped());
    t->ops->destroy(t);
#undef GOOD
}
END_TEST

/* --- what destroy leaves --------------------------------------------------------------- */

/* Lines of /proc/self/maps, and those of rings. */
static int
count_maps(int *rings)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[1024];
    int n = 0;

    ck_assert_ptr_nonnull(f);
    *rings = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        n++;
        if (strstr(line, "epyrpc-ring") != NULL)
            (*rings)++;
    }
    fclose(f);
    return n;
}

static void
round_trip_and_destroy(void)
{
    char buf[100];
    pair p;

    pair_make(&p, NULL, false);
    memset(buf, 1, sizeof buf);
    ck_assert_int_eq(send_all(p.a, buf, sizeof buf, 0), 0);
    ck_assert_int_eq(send_all(p.b, buf, sizeof buf, 0), 0);
    ck_assert_int_eq(recv_all(p.b, buf, sizeof buf), 0);
    ck_assert_int_eq(recv_all(p.a, buf, sizeof buf), 0);
    pair_free(&p);
}

START_TEST(test_destroy_leaves_nothing)
{
    int fds, maps, rings;

    round_trip_and_destroy();   /* the allocator's first mappings */
    fds = tu_count_fds();
    maps = count_maps(&rings);
    ck_assert_int_eq(rings, 0);
    round_trip_and_destroy();
    ck_assert_int_eq(tu_count_fds(), fds);
    ck_assert_int_eq(count_maps(&rings), maps);
    ck_assert_int_eq(rings, 0);
}
END_TEST

/* --- the spin counter ------------------------------------------------------------------ */

START_TEST(test_spin_counter)
{
    epy__shm_opts on = { 0, 100000 }, off = { 0, 0 };
    char c;
    pair p;

    pair_make(&p, &on, false);
    ck_assert_uint_eq(epy__shm_spin_ns(p.a), 0);
    ck_assert_int_eq(p.a->ops->set_recv_timeout(p.a, 20), 0);
    ck_assert_int_eq(p.a->ops->recv(p.a, &c, 1), -EAGAIN);
    ck_assert_uint_ge(epy__shm_spin_ns(p.a), 100000);
    pair_free(&p);

    pair_make(&p, &off, false);
    ck_assert_int_eq(p.a->ops->set_recv_timeout(p.a, 20), 0);
    ck_assert_int_eq(p.a->ops->recv(p.a, &c, 1), -EAGAIN);
    ck_assert_int_eq(send_all(p.b, "y", 1, 0), 0);
    ck_assert_int_eq(p.a->ops->recv(p.a, &c, 1), 1);
    ck_assert_uint_eq(epy__shm_spin_ns(p.a), 0);
    ck_assert_uint_eq(epy__shm_spin_ns(p.b), 0);
    pair_free(&p);
    stream_both_ways(&off, (size_t) 1 << 20);
}
END_TEST

static Suite *
shm_suite(void)
{
    Suite *s = suite_create("shm");
    TCase *tc = tcase_create("shm");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, tu_setup_resources, tu_teardown_resources);
    tcase_add_test(tc, test_stream_spin);
    tcase_add_test(tc, test_stream_futex);
    tcase_add_test(tc, test_recv_timeout);
    tcase_add_test(tc, test_nonblocking_doorbells);
    tcase_add_test(tc, test_doorbell_after_switch_tx);
    tcase_add_loop_test(tc, test_close_wakes, 0, 2);
    tcase_add_test(tc, test_shutdown_wakes);
    tcase_add_test(tc, test_killed_child);
    tcase_add_test(tc, test_fds);
    tcase_add_loop_test(tc, test_hostile_indices, 0, 8);
    tcase_add_test(tc, test_set_tx_refuses);
    tcase_add_test(tc, test_destroy_leaves_nothing);
    tcase_add_test(tc, test_spin_counter);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(shm_suite());
}
