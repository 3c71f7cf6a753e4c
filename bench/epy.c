/*
 * The epyrpc side of the benchmarks, through the code idlc generates
 * from idl-examples/calc.idl: calc_add() and its async forms, the
 * calc.tick event, the typed handler table served with calc_serve().
 *
 * Message sizes match the raw baselines: calc.add's arguments are two
 * int64 whose varints take 7 bytes each (values from 2^42), so the
 * argument message is 16 bytes, as the raw ping-pong's payload;
 * epy_add_args_size() computes it with protobuf-c and main.c gives the
 * raw side that size. The envelope epyrpc wraps around it (kind,
 * transaction id, method name, timeout) is part of what is measured.
 *
 * The 64 KiB echo is calc_echo(), answered with calc_echo_reply() on
 * the borrowed argument (no copy in the handler). The control calls
 * (bench.expect, bench.defer, bench.count, bench.release; dynamic API)
 * are never timed.
 *
 * The answering side runs in a child process forked for each
 * measurement (or, for epy_inproc(), on the other peer of an in-process
 * pair) with the default configuration: 4 workers; epy_set_shm() makes
 * both ends offer shared memory.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calc.epy.h"
#include "calc.pb-c.h"

#include "bench.h"

/* calc.add's arguments: a = ADD_BASE + i, b = ADD_BASE (7-byte varints). */
#define ADD_BASE (INT64_C(1) << 42)
/* calc.tick's argument: TICK_BASE + i (an 8-byte varint). */
#define TICK_BASE (UINT64_C(1) << 49)
/* Most deferred calls the answering side keeps (epy_pending()). */
#define MAX_DEFERRED 65536

size_t
epy_add_args_size(void)
{
    Calc__CalcAddArgs m = CALC__CALC_ADD_ARGS__INIT;

    m.has_a = m.has_b = 1;
    m.a = ADD_BASE;
    m.b = ADD_BASE;
    return calc__calc_add_args__get_packed_size(&m);
}

size_t
epy_tick_args_size(void)
{
    Calc__CalcTickArgs m = CALC__CALC_TICK_ARGS__INIT;

    m.has_n = 1;
    m.n = TICK_BASE;
    return calc__calc_tick_args__get_packed_size(&m);
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        bench_die("out of memory");
    return p;
}

/* What epy_set_shm() asked for: both ends' shm and shm_spin_us. */
static bool cfg_shm;
static int cfg_spin_us;
static size_t cfg_blob_threshold;   /* epy_set_blob_threshold() */

void
epy_set_blob_threshold(size_t threshold)
{
    cfg_blob_threshold = threshold;
}

void
epy_set_shm(bool shm, int spin_us)
{
    cfg_shm = shm;
    cfg_spin_us = spin_us;
}

static void
peer_config(epy_peer_config *cfg, unsigned origin)
{
    epy_peer_config_init(cfg);
    cfg->origin = origin;
    cfg->interfaces = &calc_interface;
    cfg->n_interfaces = 1;
    cfg->shm = cfg_shm;
    cfg->shm_spin_us = cfg_spin_us;
    cfg->blob_threshold = cfg_blob_threshold;
}

/* --- the answering side --------------------------------------------------- */

typedef struct server {
    epy_peer *peer;
    calc_api *api;              /* to send the tick count back */
    atomic_size_t ticks, expect;
    atomic_bool defer;
    pthread_mutex_t lock;       /* the deferred calls */
    epy_call **deferred;
    int64_t *results;
    size_t ndeferred;
    sem_t gone;                 /* the other end disconnected */
} server;

static int
srv_add(epy_call *call, int64_t a, int64_t b, int64_t *ret_result, void *ctx)
{
    server *s = ctx;

    if (atomic_load(&s->defer)) {
        pthread_mutex_lock(&s->lock);
        if (s->ndeferred == MAX_DEFERRED) {
            pthread_mutex_unlock(&s->lock);
            return EPY_EBUSY;
        }
        s->deferred[s->ndeferred] = call;
        s->results[s->ndeferred++] = a + b;
        pthread_mutex_unlock(&s->lock);
        return EPY_DEFER;
    }
    *ret_result = a + b;
    return 0;
}

static int
srv_tick(epy_call *call, uint64_t n, void *ctx)
{
    server *s = ctx;
    size_t count = atomic_fetch_add(&s->ticks, 1) + 1;

    (void) call;
    (void) n;
    if (count == atomic_load(&s->expect) && s->api != NULL)
        calc_tick_send(s->api, count, NULL);
    return 0;
}

static int
srv_echo(epy_call *call, const epy_bytes *data, epy_bytes *ret_result,
         void *ctx)
{
    (void) ret_result;
    (void) ctx;
    calc_echo_reply(call, data);
    return EPY_GEN_ANSWERED;
}

static int
srv_expect(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    server *s = ctx;
    uint64_t n;

    (void) call;
    if (len != sizeof n)
        return EPY_EPARAM;
    memcpy(&n, req, sizeof n);
    atomic_store(&s->ticks, 0);
    atomic_store(&s->expect, (size_t) n);
    return 0;
}

static int
srv_defer(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    server *s = ctx;

    (void) call;
    atomic_store(&s->defer, len == 1 && req[0] != 0);
    return 0;
}

static int
srv_count(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    server *s = ctx;
    uint64_t n;

    (void) req;
    (void) len;
    pthread_mutex_lock(&s->lock);
    n = s->ndeferred;
    pthread_mutex_unlock(&s->lock);
    return epy_call_reply(call, &n, sizeof n);
}

static int
srv_release(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    server *s = ctx;

    (void) call;
    (void) req;
    (void) len;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->ndeferred; i++)
        calc_add_reply(s->deferred[i], s->results[i]);
    s->ndeferred = 0;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void
srv_disconnected(epy_peer *peer, int reason, void *ctx)
{
    server *s = ctx;

    (void) peer;
    (void) reason;
    sem_post(&s->gone);
}

/* Serves calc and the control methods on @peer. */
static void
server_setup(server *s, epy_peer *peer)
{
    static const epy_listener l = { NULL, NULL, srv_disconnected };
    calc_handlers h = { 0 };
    static const struct {
        const char *name;
        epy_handler_fn fn;
    } raw[] = {
        { "bench.expect", srv_expect },
        { "bench.defer", srv_defer },
        { "bench.count", srv_count },
        { "bench.release", srv_release },
    };
    epy_error err = EPY_ERROR_INIT;

    memset(s, 0, sizeof *s);
    s->peer = peer;
    pthread_mutex_init(&s->lock, NULL);
    sem_init(&s->gone, 0, 0);
    /* Touched now, so that deferring calls later adds no page of ours. */
    s->deferred = xcalloc(MAX_DEFERRED, sizeof *s->deferred);
    s->results = xcalloc(MAX_DEFERRED, sizeof *s->results);
    memset(s->deferred, 0, MAX_DEFERRED * sizeof *s->deferred);
    memset(s->results, 0, MAX_DEFERRED * sizeof *s->results);
    epy_peer_set_listener(peer, &l, s);
    h.add = srv_add;
    h.echo = srv_echo;
    h.tick = srv_tick;
    bench_check(calc_serve(peer, &h, s), NULL, "calc_serve");
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
        bench_check(epy_peer_handle(peer, raw[i].name, raw[i].fn, s, &err), &err,
              raw[i].name);
    bench_check(calc_api_open(peer, &s->api, &err), &err, "calc_api_open");
}

static void
server_teardown(server *s)
{
    s->api = calc_api_close(s->api);
    calc_unserve(s->peer);
    free(s->deferred);
    free(s->results);
    sem_destroy(&s->gone);
    pthread_mutex_destroy(&s->lock);
}

/* The child process: serves until the other end disconnects. */
static void
server_child(epy_link *link, int ready_fd)
{
    epy_peer_config cfg;
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;
    server s;

    peer_config(&cfg, EPY_ORIGIN_NECK);
    bench_check(epy_link_peer(link, EPY_LINK_NECK, &cfg, &peer, &err), &err,
          "epy_link_peer");
    server_setup(&s, peer);
    if (bench_write_full(ready_fd, "r", 1) < 0)
        _exit(1);
    close(ready_fd);
    while (sem_wait(&s.gone) < 0 && errno == EINTR)
        ;
    server_teardown(&s);
    epy_peer_close(peer);
    _exit(0);
}

/* --- the calling side ----------------------------------------------------- */

typedef struct conn {
    pid_t pid;
    epy_peer *peer;
    calc_api *api;
    epy_api *bench;             /* the control methods and the echo */
    bench_cpu cpu;
    sem_t tick_back;            /* the other end counted the expected ticks */
} conn;

static int
cli_tick(epy_call *call, uint64_t n, void *ctx)
{
    conn *c = ctx;

    (void) call;
    (void) n;
    sem_post(&c->tick_back);
    return 0;
}

/* Forks the answering process and connects to it. */
static void
conn_open(conn *c)
{
    epy_link link = EPY_LINK_INIT;
    epy_peer_config cfg;
    epy_error err = EPY_ERROR_INIT;
    calc_handlers h = { 0 };
    int ready[2];
    char byte;

    memset(c, 0, sizeof *c);
    sem_init(&c->tick_back, 0, 0);
    bench_check(epy_link_open(&link, &err), &err, "epy_link_open");
    if (pipe(ready) < 0)
        bench_die("pipe: %s", strerror(errno));
    bench_cpu_start(&c->cpu);
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (c->pid == 0) {
        close(ready[0]);
        server_child(&link, ready[1]);
    }
    close(ready[1]);
    peer_config(&cfg, EPY_ORIGIN_HEAD);
    bench_check(epy_link_peer(&link, EPY_LINK_HEAD, &cfg, &c->peer, &err), &err,
          "epy_link_peer");
    h.tick = cli_tick;
    bench_check(calc_serve(c->peer, &h, c), NULL, "calc_serve");
    bench_check(calc_api_open(c->peer, &c->api, &err), &err, "calc_api_open");
    bench_check(epy_api_open(c->peer, "bench", &c->bench, &err), &err,
          "epy_api_open");
    bench_check(epy_peer_wait_ready(c->peer, 10000, &err), &err, "wait_ready");
    if (bench_read_full(ready[0], &byte, 1) < 0)
        bench_die("the answering process did not start");
    close(ready[0]);
}

/* Disconnects, waits for the child; CPU and switches per call in @s. */
static void
conn_close(conn *c, size_t calls, bench_sample *s)
{
    c->bench = epy_api_close(c->bench);
    c->api = calc_api_close(c->api);
    calc_unserve(c->peer);
    c->peer = epy_peer_close(c->peer);
    sem_destroy(&c->tick_back);
    bench_cpu_stop(&c->cpu, c->pid, calls, s);
}

static void
control(conn *c, const char *method, const void *req, size_t len,
        epy_buf *reply)
{
    epy_error err = EPY_ERROR_INIT;

    bench_check(epy_api_call(c->bench, method, req, len, NULL, reply, &err), &err,
          method);
}

static void
add_sync(calc_api *api, size_t i)
{
    epy_error err = EPY_ERROR_INIT;
    int64_t out = 0;

    bench_check(calc_add(api, ADD_BASE + (int64_t) i, ADD_BASE, &out, &err), &err,
          "calc_add");
    if (out != 2 * ADD_BASE + (int64_t) i)
        bench_die("calc_add: wrong result");
}

static void
sync_loop(calc_api *api, size_t warm, size_t n, int64_t *lat)
{
    for (size_t i = 0; i < warm + n; i++) {
        int64_t t0 = bench_now_ns();

        add_sync(api, i);
        if (lat != NULL && i >= warm)
            lat[i - warm] = bench_now_ns() - t0;
    }
}

void
epy_sync(size_t warm, size_t n, bench_sample *s)
{
    int64_t *lat = xcalloc(n, sizeof *lat);
    conn c;

    conn_open(&c);
    sync_loop(c.api, warm, n, lat);
    conn_close(&c, warm + n, s);
    bench_latencies(lat, n, s);
    free(lat);
}

/* --- async, callback mode ------------------------------------------------- */

typedef struct chain {
    calc_api *api;
    atomic_size_t issued, done;
    size_t total;
    atomic_int failed;
    sem_t finished;
} chain;

static void chain_issue(chain *ch);

static void
chain_done(int rc, int64_t *result, const epy_error *err, void *ctx)
{
    chain *ch = ctx;

    (void) err;
    if (rc < 0)
        atomic_store(&ch->failed, rc);
    else if (*result < 2 * ADD_BASE
             || *result >= 2 * ADD_BASE + (int64_t) ch->total)
        atomic_store(&ch->failed, EPY_EPROTO);
    chain_issue(ch);
    if (atomic_fetch_add(&ch->done, 1) + 1 == ch->total)
        sem_post(&ch->finished);
}

/* Starts the next call of the chain, if any is left. */
static void
chain_issue(chain *ch)
{
    size_t i = atomic_fetch_add(&ch->issued, 1);
    int rc;

    if (i >= ch->total)
        return;
    rc = calc_add_async_cb(ch->api, ADD_BASE + (int64_t) i, ADD_BASE, NULL,
                           chain_done, ch, NULL);
    if (rc < 0) {
        atomic_store(&ch->failed, rc);
        if (atomic_fetch_add(&ch->done, 1) + 1 == ch->total)
            sem_post(&ch->finished);
    }
}

/* Runs @total calls, @window at once; returns the elapsed ns. */
static int64_t
chain_run(calc_api *api, size_t window, size_t total)
{
    chain ch;
    int64_t t0;

    memset(&ch, 0, sizeof ch);
    ch.api = api;
    ch.total = total;
    sem_init(&ch.finished, 0, 0);
    t0 = bench_now_ns();
    for (size_t i = 0; i < window && i < total; i++)
        chain_issue(&ch);
    while (sem_wait(&ch.finished) < 0 && errno == EINTR)
        ;
    t0 = bench_now_ns() - t0;
    sem_destroy(&ch.finished);
    bench_check(atomic_load(&ch.failed), NULL, "calc_add_async_cb");
    return t0;
}

void
epy_async_callback(size_t window, size_t warm, size_t n, bench_sample *s)
{
    conn c;
    int64_t ns;

    conn_open(&c);
    if (warm > 0)
        chain_run(c.api, window, warm);
    ns = chain_run(c.api, window, n);
    s->v[BENCH_RATE] = (double) n * 1e9 / (double) ns;
    conn_close(&c, warm + n, s);
}

/* --- async, semaphore mode ------------------------------------------------ */

typedef struct sslot {
    sem_t sem;
    epy_async *h;
    int64_t want;
} sslot;

static void
slot_finish(sslot *sl)
{
    epy_error err = EPY_ERROR_INIT;
    int64_t out = 0;

    while (sem_wait(&sl->sem) < 0 && errno == EINTR)
        ;
    bench_check(calc_add_result(sl->h, &out, &err), &err, "calc_add_result");
    if (out != sl->want)
        bench_die("calc_add_async: wrong result");
    sl->h = epy_async_release(sl->h);
}

/* Runs @total calls through @window slots; returns the elapsed ns. */
static int64_t
sem_run(calc_api *api, sslot *slots, size_t window, size_t total)
{
    int64_t t0 = bench_now_ns();

    for (size_t i = 0; i < total; i++) {
        sslot *sl = &slots[i % window];
        epy_call_opts opts = EPY_CALL_OPTS_INIT;
        epy_error err = EPY_ERROR_INIT;

        if (sl->h != NULL)
            slot_finish(sl);
        opts.sem = &sl->sem;
        sl->want = 2 * ADD_BASE + (int64_t) i;
        bench_check(calc_add_async(api, ADD_BASE + (int64_t) i, ADD_BASE, &opts,
                             &sl->h, &err), &err, "calc_add_async");
    }
    for (size_t i = 0; i < window; i++)
        if (slots[i].h != NULL)
            slot_finish(&slots[i]);
    return bench_now_ns() - t0;
}

static sslot *
slots_new(size_t window)
{
    sslot *slots = xcalloc(window, sizeof *slots);

    for (size_t i = 0; i < window; i++)
        sem_init(&slots[i].sem, 0, 0);
    return slots;
}

static void
slots_free(sslot *slots, size_t window)
{
    for (size_t i = 0; i < window; i++)
        sem_destroy(&slots[i].sem);
    free(slots);
}

void
epy_async_sem(size_t window, size_t warm, size_t n, bench_sample *s)
{
    sslot *slots = slots_new(window);
    conn c;
    int64_t ns;

    conn_open(&c);
    if (warm > 0)
        sem_run(c.api, slots, window, warm);
    ns = sem_run(c.api, slots, window, n);
    s->v[BENCH_RATE] = (double) n * 1e9 / (double) ns;
    conn_close(&c, warm + n, s);
    slots_free(slots, window);
}

/* --- 64 KiB echo: calc_echo() ---------------------------------------------- */

void
epy_echo(size_t payload, size_t warm, size_t n, bench_sample *s)
{
    int64_t *lat = xcalloc(n, sizeof *lat);
    uint8_t *msg = xcalloc(payload, 1);
    epy_bytes arg = { msg, payload }, rep = { NULL, 0 };
    conn c;

    if (payload < 8)
        bench_die("echo payloads carry an 8-byte sequence number");
    for (size_t i = 0; i < payload; i++)
        msg[i] = (uint8_t) (i * 7 + 1);
    conn_open(&c);
    for (size_t i = 0; i < warm + n; i++) {
        epy_error err = EPY_ERROR_INIT;
        uint64_t seq = i, back;
        int64_t t0 = bench_now_ns();

        memcpy(msg, &seq, sizeof seq);
        bench_check(calc_echo(c.api, &arg, &rep, &err), &err, "calc_echo");
        if (i >= warm)
            lat[i - warm] = bench_now_ns() - t0;
        if (rep.len != payload)
            bench_die("calc_echo: wrong reply");
        memcpy(&back, rep.data, sizeof back);
        if (back != seq)
            bench_die("calc_echo: wrong reply");
        epy_bytes_clear(&rep);
    }
    conn_close(&c, warm + n, s);
    bench_latencies(lat, n, s);
    free(msg);
    free(lat);
}

/* --- events --------------------------------------------------------------- */

/* Sends @count ticks and waits until the other end has handled them all. */
static void
tick_phase(conn *c, size_t count)
{
    uint64_t n = count;

    control(c, "expect", &n, sizeof n, NULL);
    for (size_t i = 0; i < count; i++) {
        epy_error err = EPY_ERROR_INIT;

        bench_check(calc_tick_send(c->api, TICK_BASE + i, &err), &err,
              "calc_tick_send");
    }
    while (sem_wait(&c->tick_back) < 0 && errno == EINTR)
        ;
}

void
epy_events(size_t warm, size_t n, bench_sample *s)
{
    conn c;
    int64_t t0;

    conn_open(&c);
    if (warm > 0)
        tick_phase(&c, warm);
    t0 = bench_now_ns();
    tick_phase(&c, n);
    s->v[BENCH_RATE] = (double) n * 1e9 / (double) (bench_now_ns() - t0);
    conn_close(&c, warm + n, s);
}

/* --- in-process queue pair ------------------------------------------------ */

void
epy_inproc(size_t warm, size_t n, bench_sample *s)
{
    int64_t *lat = xcalloc(n, sizeof *lat);
    epy_peer_config ca, cb;
    epy_error err = EPY_ERROR_INIT;
    epy_peer *a, *b;
    calc_api *api;
    bench_cpu cpu;
    server srv;

    peer_config(&ca, EPY_ORIGIN_HEAD);
    peer_config(&cb, EPY_ORIGIN_NECK);
    bench_cpu_start(&cpu);
    bench_check(epy_pair_new(&ca, &cb, &a, &b, &err), &err, "epy_pair_new");
    server_setup(&srv, b);
    bench_check(calc_api_open(a, &api, &err), &err, "calc_api_open");
    bench_check(epy_peer_wait_ready(a, 10000, &err), &err, "wait_ready");
    sync_loop(api, warm, n, lat);
    api = calc_api_close(api);
    a = epy_peer_close(a);
    server_teardown(&srv);
    b = epy_peer_close(b);
    bench_cpu_stop(&cpu, 0, warm + n, s);
    bench_latencies(lat, n, s);
    free(lat);
}

/* --- client threads sharing a peer ---------------------------------------- */

typedef struct tshare {
    calc_api *api;
    size_t warm, n;
    pthread_barrier_t warmed;
} tshare;

static void *
tshare_main(void *arg)
{
    tshare *t = arg;

    sync_loop(t->api, t->warm, 0, NULL);
    pthread_barrier_wait(&t->warmed);
    sync_loop(t->api, 0, t->n, NULL);
    return NULL;
}

void
epy_threads(int threads, size_t warm, size_t n, bench_sample *s)
{
    pthread_t tid[64];
    tshare t;
    conn c;
    int64_t t0;

    if (threads < 1 || threads > 64)
        bench_die("epy_threads: 1 to 64 threads");
    t.warm = warm / (size_t) threads;
    t.n = n / (size_t) threads;
    pthread_barrier_init(&t.warmed, NULL, (unsigned) threads + 1);
    conn_open(&c);
    t.api = c.api;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, tshare_main, &t) != 0)
            bench_die("pthread_create failed");
    pthread_barrier_wait(&t.warmed);
    t0 = bench_now_ns();
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    s->v[BENCH_RATE] = (double) (t.n * (size_t) threads) * 1e9
                       / (double) (bench_now_ns() - t0);
    conn_close(&c, (t.warm + t.n) * (size_t) threads, s);
    pthread_barrier_destroy(&t.warmed);
}

/* --- memory --------------------------------------------------------------- */

void
epy_memory(size_t warm, size_t n, size_t n_async, bench_sample *s)
{
    sslot *slots = slots_new(128);
    long self0, srv0;
    long long heap0;
    conn c;

    conn_open(&c);
    sync_loop(c.api, warm, 0, NULL);
    self0 = bench_rss_anon_kib(0);
    srv0 = bench_rss_anon_kib(c.pid);
    heap0 = bench_heap_bytes();
    if (self0 < 0 || srv0 < 0)
        bench_die("cannot read RssAnon in /proc/PID/status");
    sync_loop(c.api, 0, n, NULL);
    s->v[BENCH_MEM_SYNC_CALLER] = (double) (bench_rss_anon_kib(0) - self0);
    s->v[BENCH_MEM_SYNC_SERVER] = (double) (bench_rss_anon_kib(c.pid) - srv0);
    s->v[BENCH_MEM_SYNC_HEAP] = (double) (bench_heap_bytes() - heap0);

    sem_run(c.api, slots, 128, n_async / 10 + 128);
    self0 = bench_rss_anon_kib(0);
    srv0 = bench_rss_anon_kib(c.pid);
    heap0 = bench_heap_bytes();
    sem_run(c.api, slots, 128, n_async);
    s->v[BENCH_MEM_ASYNC_CALLER] = (double) (bench_rss_anon_kib(0) - self0);
    s->v[BENCH_MEM_ASYNC_SERVER] = (double) (bench_rss_anon_kib(c.pid) - srv0);
    s->v[BENCH_MEM_ASYNC_HEAP] = (double) (bench_heap_bytes() - heap0);
    conn_close(&c, warm + n + n_async + n_async / 10 + 128, s);
    slots_free(slots, 128);
}

void
epy_pending(size_t pending, bench_sample *s)
{
    epy_async **h = xcalloc(pending, sizeof *h);
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    sslot *slots = slots_new(128);
    epy_buf rep = EPY_BUF_INIT;
    long long heap0, heap1;
    long self0, srv0, self1, srv1;
    uint64_t count = 0;
    uint8_t on = 1, off = 0;
    conn c;

    conn_open(&c);
    /* Steady state first: every thread has run, every buffer is grown. */
    sync_loop(c.api, 2000, 0, NULL);
    sem_run(c.api, slots, 128, 2000);
    control(&c, "defer", &on, 1, NULL);
    control(&c, "count", NULL, 0, &rep);
    heap0 = bench_heap_bytes();
    self0 = bench_rss_anon_kib(0);
    srv0 = bench_rss_anon_kib(c.pid);
    /* A finite timeout, as calc.idl's: each call also has a deadline. */
    opts.timeout_ms = 600000;
    for (size_t i = 0; i < pending; i++) {
        epy_error err = EPY_ERROR_INIT;

        bench_check(calc_add_async(c.api, ADD_BASE + (int64_t) i, ADD_BASE, &opts,
                             &h[i], &err), &err, "calc_add_async");
    }
    /* Wait until the other end holds every call. */
    while (count < pending) {
        struct timespec ts = { 0, 1000000 };

        control(&c, "count", NULL, 0, &rep);
        if (rep.len != sizeof count)
            bench_die("bench.count: wrong reply");
        memcpy(&count, rep.data, sizeof count);
        if (count < pending)
            nanosleep(&ts, NULL);
    }
    heap1 = bench_heap_bytes();
    self1 = bench_rss_anon_kib(0);
    srv1 = bench_rss_anon_kib(c.pid);
    if (epy_peer_pending_count(c.peer) < pending)
        bench_die("fewer calls pending than sent");
    control(&c, "release", NULL, 0, NULL);
    control(&c, "defer", &off, 1, NULL);
    for (size_t i = 0; i < pending; i++) {
        epy_error err = EPY_ERROR_INIT;
        int64_t out = 0;

        bench_check(epy_async_wait(h[i], 0), NULL, "epy_async_wait");
        bench_check(calc_add_result(h[i], &out, &err), &err, "calc_add_result");
        if (out != 2 * ADD_BASE + (int64_t) i)
            bench_die("deferred calc_add: wrong result");
        h[i] = epy_async_release(h[i]);
    }
    s->v[0] = heap0 >= 0 ? (double) (heap1 - heap0) / (double) pending : -1;
    s->v[1] = (double) (self1 - self0) * 1024.0 / (double) pending;
    s->v[2] = (double) (srv1 - srv0) * 1024.0 / (double) pending;
    conn_close(&c, pending + 4000, s);
    epy_buf_clear(&rep);
    slots_free(slots, 128);
    free(h);
}
