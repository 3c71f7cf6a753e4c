/*
 * The raw baselines: what the same exchanges cost without epyrpc. Two
 * processes over a socketpair, epyrpc's framing (a 4-byte little-endian
 * length, then the payload), blocking read() and write(). The payload
 * carries a sequence number in its first 8 bytes, which the calling side
 * checks in every reply, as the epyrpc side checks its results.
 *
 * Lock order in the threaded baseline: a side's write lock, then its
 * state lock; never the other way round.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define HDR 4

static void
put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t) v);
    put_u32(p + 4, (uint32_t) (v >> 32));
}

static uint64_t
get_u64(const uint8_t *p)
{
    return (uint64_t) get_u32(p) | (uint64_t) get_u32(p + 4) << 32;
}

/* A frame of @payload bytes (at least 8): length, then a fixed pattern. */
static uint8_t *
new_frame(size_t payload)
{
    uint8_t *f = bench_xmalloc(HDR + payload);

    if (payload < 8)
        bench_die("raw payloads carry an 8-byte sequence number");
    put_u32(f, (uint32_t) payload);
    for (size_t i = 0; i < payload; i++)
        f[HDR + i] = (uint8_t) (i * 7 + 1);
    return f;
}

/* Reads one frame into @f (room for @cap payload bytes); its length. */
static size_t
read_frame(int fd, uint8_t *f, size_t cap)
{
    size_t len;

    if (bench_read_full(fd, f, HDR) < 0)
        return SIZE_MAX;
    len = get_u32(f);
    if (len > cap || bench_read_full(fd, f + HDR, len) < 0)
        return SIZE_MAX;
    return len;
}

static void
make_pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        bench_die("socketpair: %s", strerror(errno));
}

static pid_t
xfork(void)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    return pid;
}

/* The answering process of the single-threaded baselines: echoes every
 * frame until the end of the stream. */
static void
echo_child(int fd, size_t cap)
{
    uint8_t *f = bench_xmalloc(HDR + cap);
    size_t len;

    while ((len = read_frame(fd, f, cap)) != SIZE_MAX)
        if (bench_write_full(fd, f, HDR + len) < 0)
            break;
    _exit(0);
}

static void
check_reply(const uint8_t *f, size_t len, size_t payload, uint64_t seq)
{
    if (len != payload || get_u64(f + HDR) != seq)
        bench_die("raw: wrong reply (length %zu, sequence %llu, expected %llu)",
                  len, (unsigned long long) get_u64(f + HDR),
                  (unsigned long long) seq);
}

/* The first two CPUs this process may run on; false if it has one. */
static bool
two_cpus(int cpu[2])
{
    cpu_set_t set;
    int found = 0;

    if (sched_getaffinity(0, sizeof set, &set) < 0)
        return false;
    for (int i = 0; i < CPU_SETSIZE && found < 2; i++)
        if (CPU_ISSET(i, &set))
            cpu[found++] = i;
    return found == 2;
}

static void
pin_to(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        bench_die("sched_setaffinity: %s", strerror(errno));
}

bool
raw_pingpong(size_t payload, int pin, size_t warm, size_t n, bench_sample *s)
{
    uint8_t *frame, *reply;
    int64_t *lat;
    bench_cpu cpu;
    int sv[2], cpus[2];
    pid_t pid;

    if (pin != BENCH_PIN_NONE && !two_cpus(cpus))
        return false;
    frame = new_frame(payload);
    reply = new_frame(payload);
    lat = bench_xmalloc(n * sizeof *lat);
    make_pair(sv);
    bench_cpu_start(&cpu);
    pid = xfork();
    if (pid == 0) {
        close(sv[0]);
        if (pin != BENCH_PIN_NONE)
            pin_to(cpus[pin == BENCH_PIN_SAME ? 0 : 1]);
        echo_child(sv[1], payload);
    }
    close(sv[1]);
    if (pin != BENCH_PIN_NONE)
        pin_to(cpus[0]);
    for (size_t i = 0; i < warm + n; i++) {
        int64_t t0 = bench_now_ns();
        size_t len;

        put_u64(frame + HDR, i);
        if (bench_write_full(sv[0], frame, HDR + payload) < 0
            || (len = read_frame(sv[0], reply, payload)) == SIZE_MAX)
            bench_die("raw ping-pong: the other end is gone");
        if (i >= warm)
            lat[i - warm] = bench_now_ns() - t0;
        check_reply(reply, len, payload, i);
    }
    close(sv[0]);
    bench_cpu_stop(&cpu, pid, warm + n, s);
    bench_latencies(lat, n, s);
    free(lat);
    free(frame);
    free(reply);
    return true;
}

void
raw_pipelined(size_t payload, size_t window, size_t warm, size_t n,
              bench_sample *s)
{
    uint8_t *frame = new_frame(payload), *reply = new_frame(payload);
    size_t sent = 0, done = 0, total = warm + n;
    int64_t t0 = 0;
    bench_cpu cpu;
    int sv[2];
    pid_t pid;

    make_pair(sv);
    bench_cpu_start(&cpu);
    pid = xfork();
    if (pid == 0) {
        close(sv[0]);
        echo_child(sv[1], payload);
    }
    close(sv[1]);
    if (warm == 0)
        t0 = bench_now_ns();
    while (done < total) {
        size_t len;

        while (sent < total && sent - done < window) {
            put_u64(frame + HDR, sent++);
            if (bench_write_full(sv[0], frame, HDR + payload) < 0)
                bench_die("raw pipelined: the other end is gone");
        }
        if ((len = read_frame(sv[0], reply, payload)) == SIZE_MAX)
            bench_die("raw pipelined: the other end is gone");
        check_reply(reply, len, payload, done);
        if (++done == warm)
            t0 = bench_now_ns();
    }
    s->v[BENCH_RATE] = (double) n * 1e9 / (double) (bench_now_ns() - t0);
    close(sv[0]);
    bench_cpu_stop(&cpu, pid, total, s);
    free(frame);
    free(reply);
}

void
raw_oneway(size_t payload, size_t warm, size_t n, bench_sample *s)
{
    uint8_t *frame = new_frame(payload), *ack = new_frame(payload);
    int64_t t0 = 0;
    bench_cpu cpu;
    int sv[2];
    pid_t pid;

    make_pair(sv);
    bench_cpu_start(&cpu);
    pid = xfork();
    if (pid == 0) {
        /* Reads @warm frames, acknowledges, then @n, acknowledges. */
        size_t phase[2] = { warm, n };

        close(sv[0]);
        for (int p = 0; p < 2; p++) {
            for (size_t i = 0; i < phase[p]; i++)
                if (read_frame(sv[1], ack, payload) != payload)
                    _exit(1);
            put_u64(ack + HDR, phase[p]);
            if (bench_write_full(sv[1], ack, HDR + payload) < 0)
                _exit(1);
        }
        _exit(0);
    }
    close(sv[1]);
    for (int p = 0; p < 2; p++) {
        size_t count = p == 0 ? warm : n;

        if (p == 1)
            t0 = bench_now_ns();
        for (size_t i = 0; i < count; i++) {
            put_u64(frame + HDR, i);
            if (bench_write_full(sv[0], frame, HDR + payload) < 0)
                bench_die("raw one way: the other end is gone");
        }
        if (read_frame(sv[0], ack, payload) != payload
            || get_u64(ack + HDR) != count)
            bench_die("raw one way: no acknowledgement");
    }
    s->v[BENCH_RATE] = (double) n * 1e9 / (double) (bench_now_ns() - t0);
    close(sv[0]);
    bench_cpu_stop(&cpu, pid, warm + n, s);
    free(frame);
    free(ack);
}

/* --- threaded: reader threads and worker handoff -------------------------- */

#define MAX_CALLERS 64
#define QUEUE_LEN 256

typedef struct slot {
    pthread_cond_t cond;
    bool done;
    uint64_t seq;               /* in the reply */
} slot;

typedef struct tclient {
    int fd;
    size_t payload;
    pthread_mutex_t wlock;      /* serialises writes */
    pthread_mutex_t lock;       /* the slots */
    slot slots[MAX_CALLERS];
    pthread_barrier_t warmed;   /* callers and the timer */
    size_t warm_each, n_each;
    int64_t *lat;               /* latency mode: one caller's latencies */
} tclient;

typedef struct tcaller {
    tclient *c;
    uint32_t id;
    pthread_t tid;
} tcaller;

/* One call: write the request, sleep until the reader hands the reply. */
static void
tcall(tclient *c, uint32_t id, uint8_t *frame, uint64_t seq)
{
    slot *sl = &c->slots[id];

    put_u64(frame + HDR, seq);
    put_u32(frame + HDR + 8, id);
    pthread_mutex_lock(&c->wlock);
    if (bench_write_full(c->fd, frame, HDR + c->payload) < 0)
        bench_die("raw threaded: the other end is gone");
    pthread_mutex_unlock(&c->wlock);
    pthread_mutex_lock(&c->lock);
    while (!sl->done)
        pthread_cond_wait(&sl->cond, &c->lock);
    sl->done = false;
    if (sl->seq != seq)
        bench_die("raw threaded: wrong reply");
    pthread_mutex_unlock(&c->lock);
}

static void *
tcaller_main(void *arg)
{
    tcaller *t = arg;
    tclient *c = t->c;
    uint8_t *frame = new_frame(c->payload);
    uint64_t seq = 0;

    for (size_t i = 0; i < c->warm_each; i++)
        tcall(c, t->id, frame, seq++);
    pthread_barrier_wait(&c->warmed);
    for (size_t i = 0; i < c->n_each; i++) {
        int64_t t0 = bench_now_ns();

        tcall(c, t->id, frame, seq++);
        if (c->lat != NULL)
            c->lat[i] = bench_now_ns() - t0;
    }
    free(frame);
    return NULL;
}

static void *
treader_main(void *arg)
{
    tclient *c = arg;
    uint8_t *f = new_frame(c->payload);

    while (read_frame(c->fd, f, c->payload) == c->payload) {
        uint32_t id = get_u32(f + HDR + 8);

        if (id >= MAX_CALLERS)
            bench_die("raw threaded: reply for an unknown caller");
        pthread_mutex_lock(&c->lock);
        c->slots[id].seq = get_u64(f + HDR);
        c->slots[id].done = true;
        pthread_cond_signal(&c->slots[id].cond);
        pthread_mutex_unlock(&c->lock);
    }
    free(f);
    return NULL;
}

/* The answering side: its reader queues frames, its worker answers them. */
typedef struct tserver {
    int fd;
    size_t payload;
    pthread_mutex_t lock;
    pthread_cond_t nonempty, nonfull;
    uint8_t *ring;              /* QUEUE_LEN frames */
    size_t head, count;
    bool eof;
} tserver;

static void *
tworker_main(void *arg)
{
    tserver *sv = arg;
    size_t fsz = HDR + sv->payload;
    uint8_t *f = bench_xmalloc(fsz);

    for (;;) {
        pthread_mutex_lock(&sv->lock);
        while (sv->count == 0 && !sv->eof)
            pthread_cond_wait(&sv->nonempty, &sv->lock);
        if (sv->count == 0) {
            pthread_mutex_unlock(&sv->lock);
            break;
        }
        memcpy(f, sv->ring + sv->head * fsz, fsz);
        sv->head = (sv->head + 1) % QUEUE_LEN;
        if (sv->count-- == QUEUE_LEN)
            pthread_cond_signal(&sv->nonfull);
        pthread_mutex_unlock(&sv->lock);
        if (bench_write_full(sv->fd, f, fsz) < 0)
            break;
    }
    free(f);
    return NULL;
}

static void
tserver_child(int fd, size_t payload)
{
    tserver sv;
    size_t fsz = HDR + payload;
    uint8_t *f = bench_xmalloc(fsz);
    pthread_t worker;

    memset(&sv, 0, sizeof sv);
    sv.fd = fd;
    sv.payload = payload;
    sv.ring = bench_xmalloc(QUEUE_LEN * fsz);
    pthread_mutex_init(&sv.lock, NULL);
    pthread_cond_init(&sv.nonempty, NULL);
    pthread_cond_init(&sv.nonfull, NULL);
    if (pthread_create(&worker, NULL, tworker_main, &sv) != 0)
        _exit(1);
    while (read_frame(fd, f, payload) == payload) {
        pthread_mutex_lock(&sv.lock);
        while (sv.count == QUEUE_LEN)
            pthread_cond_wait(&sv.nonfull, &sv.lock);
        memcpy(sv.ring + ((sv.head + sv.count) % QUEUE_LEN) * fsz, f, fsz);
        if (sv.count++ == 0)
            pthread_cond_signal(&sv.nonempty);
        pthread_mutex_unlock(&sv.lock);
    }
    pthread_mutex_lock(&sv.lock);
    sv.eof = true;
    pthread_cond_signal(&sv.nonempty);
    pthread_mutex_unlock(&sv.lock);
    pthread_join(worker, NULL);
    _exit(0);
}

void
raw_threaded(size_t payload, int callers, size_t warm, size_t n,
             bool latency, bench_sample *s)
{
    tclient c;
    tcaller t[MAX_CALLERS];
    pthread_t reader;
    bench_cpu cpu;
    int64_t t0;
    int sv[2];
    pid_t pid;

    if (callers < 1 || callers > MAX_CALLERS || (latency && callers != 1)
        || payload < 12)
        bench_die("raw threaded: bad parameters");
    memset(&c, 0, sizeof c);
    c.payload = payload;
    c.warm_each = warm / (size_t) callers;
    c.n_each = n / (size_t) callers;
    c.lat = latency ? bench_xmalloc(c.n_each * sizeof *c.lat) : NULL;
    pthread_mutex_init(&c.wlock, NULL);
    pthread_mutex_init(&c.lock, NULL);
    for (int i = 0; i < callers; i++)
        pthread_cond_init(&c.slots[i].cond, NULL);
    pthread_barrier_init(&c.warmed, NULL, (unsigned) callers + 1);
    make_pair(sv);
    bench_cpu_start(&cpu);
    pid = xfork();
    if (pid == 0) {
        close(sv[0]);
        tserver_child(sv[1], payload);
    }
    close(sv[1]);
    c.fd = sv[0];
    if (pthread_create(&reader, NULL, treader_main, &c) != 0)
        bench_die("pthread_create failed");
    for (int i = 0; i < callers; i++) {
        t[i].c = &c;
        t[i].id = (uint32_t) i;
        if (pthread_create(&t[i].tid, NULL, tcaller_main, &t[i]) != 0)
            bench_die("pthread_create failed");
    }
    pthread_barrier_wait(&c.warmed);
    t0 = bench_now_ns();
    for (int i = 0; i < callers; i++)
        pthread_join(t[i].tid, NULL);
    s->v[BENCH_RATE] = (double) (c.n_each * (size_t) callers) * 1e9
                       / (double) (bench_now_ns() - t0);
    /* The other end exits; then the reader sees the end of the stream. */
    shutdown(sv[0], SHUT_WR);
    pthread_join(reader, NULL);
    close(sv[0]);
    bench_cpu_stop(&cpu, pid, (c.warm_each + c.n_each) * (size_t) callers,
                   s);
    if (latency) {
        bench_latencies(c.lat, c.n_each, s);
        free(c.lat);
    }
    for (int i = 0; i < callers; i++)
        pthread_cond_destroy(&c.slots[i].cond);
    pthread_barrier_destroy(&c.warmed);
    pthread_mutex_destroy(&c.wlock);
    pthread_mutex_destroy(&c.lock);
}

/* --- two threads of one process ------------------------------------------- */

typedef struct tpp {
    pthread_mutex_t lock;
    pthread_cond_t to_b, to_a;
    int state;                  /* 0 idle, 1 request, 2 reply, 3 stop */
    size_t payload;
    uint8_t msg[256];
} tpp;

static void *
tpp_main(void *arg)
{
    tpp *p = arg;
    uint8_t local[256];

    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->state != 1 && p->state != 3)
            pthread_cond_wait(&p->to_b, &p->lock);
        if (p->state == 3)
            break;
        memcpy(local, p->msg, p->payload);      /* receive */
        memcpy(p->msg, local, p->payload);      /* answer */
        p->state = 2;
        pthread_cond_signal(&p->to_a);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void
raw_thread_pingpong(size_t payload, size_t warm, size_t n, bench_sample *s)
{
    int64_t *lat = bench_xmalloc(n * sizeof *lat);
    uint8_t out[256], in[256];
    pthread_t b;
    bench_cpu cpu;
    tpp p;

    if (payload < 8 || payload > sizeof p.msg)
        bench_die("raw thread ping-pong: bad payload size");
    memset(&p, 0, sizeof p);
    memset(out, 0x5a, sizeof out);
    p.payload = payload;
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.to_a, NULL);
    pthread_cond_init(&p.to_b, NULL);
    bench_cpu_start(&cpu);
    if (pthread_create(&b, NULL, tpp_main, &p) != 0)
        bench_die("pthread_create failed");
    for (size_t i = 0; i < warm + n; i++) {
        int64_t t0 = bench_now_ns();

        put_u64(out, i);
        pthread_mutex_lock(&p.lock);
        memcpy(p.msg, out, payload);
        p.state = 1;
        pthread_cond_signal(&p.to_b);
        while (p.state != 2)
            pthread_cond_wait(&p.to_a, &p.lock);
        memcpy(in, p.msg, payload);
        p.state = 0;
        pthread_mutex_unlock(&p.lock);
        if (i >= warm)
            lat[i - warm] = bench_now_ns() - t0;
        if (get_u64(in) != i)
            bench_die("raw thread ping-pong: wrong reply");
    }
    pthread_mutex_lock(&p.lock);
    p.state = 3;
    pthread_cond_signal(&p.to_b);
    pthread_mutex_unlock(&p.lock);
    pthread_join(b, NULL);
    bench_cpu_stop(&cpu, 0, warm + n, s);
    bench_latencies(lat, n, s);
    pthread_cond_destroy(&p.to_a);
    pthread_cond_destroy(&p.to_b);
    pthread_mutex_destroy(&p.lock);
    free(lat);
}
