/*
 * Concurrency through the runtime API: many sync callers at once, ten
 * thousand async calls in flight, events interleaved with calls in both
 * directions, worker-count scaling (item 56) and transactions at random
 * times with delayed replies (item 68).
 *
 * The original's values are scaled down to keep the whole runtime suite
 * within about a minute on two cores; each test says how.
 */
#include <config.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <epyrpc/epyrpc.h>

#include "rt-helpers.h"
#include "testutil.h"

/* The answer a "transform" handler gives: every byte xor 0x5a, reversed. */
static void
transform(const uint8_t *in, size_t len, uint8_t *out)
{
    for (size_t i = 0; i < len; i++)
        out[len - 1 - i] = in[i] ^ 0x5a;
}

static int
transform_handler(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    uint8_t out[256];

    (void) ctx;
    if (len > sizeof out)
        return EPY_EPARAM;
    transform(req, len, out);
    /* Mix up the order in which answers leave. */
    if (req != NULL && len > 0 && req[0] % 3 == 0)
        sched_yield();
    epy_call_reply(call, out, len);
    return 0;
}

/* --- 100 sync calls on each of 8 threads ---------------------------------- */

typedef struct sync_caller {
    pthread_t th;
    epy_api *api;
    int index;
    int calls;
    int wrong;
} sync_caller;

static void *
sync_caller_main(void *arg)
{
    sync_caller *c = arg;
    epy_buf reply = EPY_BUF_INIT;
    uint8_t req[64], want[64];

    for (int i = 0; i < c->calls; i++) {
        size_t len = 8 + (size_t) (i % 50);
        int rc;

        rt_fill(req, len, (unsigned) (c->index * 1000 + i));
        req[0] = (uint8_t) c->index;
        req[1] = (uint8_t) i;
        transform(req, len, want);
        rc = epy_api_call(c->api, "transform", req, len, NULL, &reply, NULL);
        if (rc != 0 || reply.len != len || memcmp(reply.data, want, len) != 0)
            c->wrong++;
    }
    epy_buf_clear(&reply);
    return NULL;
}

START_TEST(test_sync_callers_8_threads)
{
    /* 8 threads, 100 sync calls each, against 4 workers: every call gets
     * exactly its own result. */
    enum { THREADS = 8, CALLS = 100 };
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    epy_peer *a, *b;
    epy_api *api;
    sync_caller c[THREADS];

    cb.workers = 4;
    rt_pair(NULL, &cb, &a, &b);
    rt_handle(b, "api.transform", transform_handler, NULL);
    api = rt_api(a, "api");
    for (int i = 0; i < THREADS; i++) {
        c[i].api = api;
        c[i].index = i;
        c[i].calls = CALLS;
        c[i].wrong = 0;
        ck_assert_int_eq(pthread_create(&c[i].th, NULL, sync_caller_main,
                                        &c[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(c[i].th, NULL);
        ck_assert_msg(c[i].wrong == 0, "thread %d: %d wrong results", i,
                      c[i].wrong);
    }
    ck_assert_uint_eq(epy_peer_pending_count(a), 0);
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
}
END_TEST

/* --- 10,000 async calls in flight ----------------------------------------- */

enum { NASYNC = 10000 };

static atomic_int async_seen[NASYNC];
static atomic_int async_bad;
static rt_counter async_done;

static void
async_cb(epy_async *async, void *ctx)
{
    uintptr_t i = (uintptr_t) ctx;
    size_t len = 0;
    const uint8_t *r = epy_async_reply(async, &len);
    uint32_t got;

    if (i >= NASYNC || r == NULL || len != sizeof got) {
        atomic_fetch_add(&async_bad, 1);
    } else {
        memcpy(&got, r, sizeof got);
        if (got != (uint32_t) i)
            atomic_fetch_add(&async_bad, 1);
        atomic_fetch_add(&async_seen[i], 1);
    }
    rt_counter_add(&async_done, 1);
}

START_TEST(test_10000_async_exactly_once)
{
    /* 10,000 async calls in flight at once complete exactly once each
     * with their own result: first by callback, then by handle. */
    epy_peer *a, *b;
    epy_api *api;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async **h = calloc(NASYNC, sizeof *h);

    ck_assert_ptr_nonnull(h);
    for (int i = 0; i < NASYNC; i++)
        atomic_store(&async_seen[i], 0);
    atomic_store(&async_bad, 0);
    rt_counter_init(&async_done);
    rt_pair(NULL, NULL, &a, &b);
    rt_handle(b, "api.echo", rt_echo, NULL);
    rt_serve_ping(b);
    api = rt_api(a, "api");

    opts.callback = async_cb;
    for (uint32_t i = 0; i < NASYNC; i++) {
        opts.callback_ctx = (void *) (uintptr_t) i;
        ck_assert_int_eq(epy_api_call_async(api, "echo", &i, sizeof i, &opts,
                                            NULL, NULL), 0);
    }
    ck_assert(rt_counter_wait(&async_done, NASYNC, 4 * RT_WAIT_MS));
    rt_ping(a);
    ck_assert_int_eq(rt_counter_get(&async_done), NASYNC);
    ck_assert_int_eq(atomic_load(&async_bad), 0);
    for (int i = 0; i < NASYNC; i++)
        ck_assert_msg(atomic_load(&async_seen[i]) == 1,
                      "call %d completed %d times", i,
                      atomic_load(&async_seen[i]));
    ck_assert_uint_eq(epy_peer_pending_count(a), 0);

    for (uint32_t i = 0; i < NASYNC; i++)
        ck_assert_int_eq(epy_api_call_async(api, "echo", &i, sizeof i, NULL,
                                            &h[i], NULL), 0);
    for (uint32_t i = 0; i < NASYNC; i++) {
        size_t len = 0;
        const uint8_t *r;
        uint32_t got;

        ck_assert_int_eq(epy_async_wait(h[i], 4 * RT_WAIT_MS), 0);
        r = epy_async_reply(h[i], &len);
        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(len, sizeof got);
        memcpy(&got, r, sizeof got);
        ck_assert_uint_eq(got, i);
        h[i] = epy_async_release(h[i]);
    }
    ck_assert_uint_eq(epy_peer_pending_count(a), 0);
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
    rt_counter_destroy(&async_done);
    free(h);
}
END_TEST

/* --- events interleaved with calls, both directions ----------------------- */

typedef struct ev_count {
    rt_counter n;
    atomic_long sum;
} ev_count;

static int
count_event(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    ev_count *e = ctx;
    int32_t v;

    RT_CHECK(!epy_call_solicited(call));
    RT_CHECK_INT_EQ(len, sizeof v);
    if (len == sizeof v) {
        memcpy(&v, req, sizeof v);
        atomic_fetch_add(&e->sum, v);
    }
    rt_counter_add(&e->n, 1);
    return 0;
}

typedef struct mixer {
    pthread_t th;
    epy_api *api;
    int n;
    int base;
    int wrong;
} mixer;

static void *
mixer_main(void *arg)
{
    mixer *m = arg;
    epy_buf reply = EPY_BUF_INIT;

    for (int i = 0; i < m->n; i++) {
        int32_t v = m->base + i;

        if (i % 2 == 0) {
            if (epy_api_send(m->api, "ev", &v, sizeof v, NULL) != 0)
                m->wrong++;
        } else if (epy_api_call(m->api, "echo", &v, sizeof v, NULL, &reply,
                                NULL) != 0
                   || reply.len != sizeof v
                   || memcmp(reply.data, &v, sizeof v) != 0) {
            m->wrong++;
        }
    }
    epy_buf_clear(&reply);
    return NULL;
}

START_TEST(test_events_and_calls_both_ways)
{
    /* Two threads on each side alternate events and calls to the other
     * side: every call gets its own answer, every event arrives once. */
    enum { PER = 400, THREADS = 2 };
    epy_peer *a, *b;
    ev_count ea, eb;
    mixer m[2 * THREADS];
    long want_a = 0, want_b = 0;

    rt_counter_init(&ea.n);
    rt_counter_init(&eb.n);
    atomic_store(&ea.sum, 0);
    atomic_store(&eb.sum, 0);
    rt_pair(NULL, NULL, &a, &b);
    rt_handle(a, "x.ev", count_event, &ea);
    rt_handle(b, "x.ev", count_event, &eb);
    rt_handle(a, "x.echo", rt_echo, NULL);
    rt_handle(b, "x.echo", rt_echo, NULL);
    for (int i = 0; i < 2 * THREADS; i++) {
        m[i].api = rt_api(i < THREADS ? a : b, "x");
        m[i].n = PER;
        m[i].base = i * 100000;
        m[i].wrong = 0;
        for (int k = 0; k < PER; k += 2) {
            if (i < THREADS)
                want_b += m[i].base + k;
            else
                want_a += m[i].base + k;
        }
    }
    for (int i = 0; i < 2 * THREADS; i++)
        ck_assert_int_eq(pthread_create(&m[i].th, NULL, mixer_main, &m[i]),
                         0);
    for (int i = 0; i < 2 * THREADS; i++) {
        pthread_join(m[i].th, NULL);
        ck_assert_msg(m[i].wrong == 0, "thread %d: %d failures", i,
                      m[i].wrong);
    }
    ck_assert(rt_counter_wait(&ea.n, THREADS * PER / 2, RT_WAIT_MS));
    ck_assert(rt_counter_wait(&eb.n, THREADS * PER / 2, RT_WAIT_MS));
    ck_assert_int_eq(atomic_load(&ea.sum), want_a);
    ck_assert_int_eq(atomic_load(&eb.sum), want_b);
    for (int i = 0; i < 2 * THREADS; i++)
        epy_api_close(m[i].api);
    epy_peer_close(a);
    epy_peer_close(b);
    ck_assert_int_eq(rt_counter_get(&ea.n), THREADS * PER / 2);
    ck_assert_int_eq(rt_counter_get(&eb.n), THREADS * PER / 2);
    rt_counter_destroy(&ea.n);
    rt_counter_destroy(&eb.n);
}
END_TEST

/* --- item 56: worker-count scaling ---------------------------------------- */

typedef struct scaling {
    int64_t t_ms;
    atomic_int running;
    atomic_int max_running;
} scaling;

static int
scaling_handler(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    scaling *s = ctx;
    int now = atomic_fetch_add(&s->running, 1) + 1;
    int max = atomic_load(&s->max_running);

    while (now > max
           && !atomic_compare_exchange_weak(&s->max_running, &max, now))
        continue;
    /* item 56: the handler sees a solicited call whatever the caller's
     * mode (the original's bSynchronous). */
    RT_CHECK(epy_call_solicited(call));
    rt_sleep_ms(s->t_ms);       /* the handler's work */
    atomic_fetch_sub(&s->running, 1);
    epy_call_reply(call, req, len);
    return 0;
}

static void
scaling_run(int n, int m, int64_t t_ms)
{
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    epy_peer *a, *b;
    epy_api *api;
    epy_async **h = calloc((size_t) m, sizeof *h);
    scaling s;
    int64_t t0, el, want = (m + n - 1) / n * t_ms;

    ck_assert_ptr_nonnull(h);
    s.t_ms = t_ms;
    atomic_store(&s.running, 0);
    atomic_store(&s.max_running, 0);
    cb.workers = n;
    rt_pair(NULL, &cb, &a, &b);
    rt_handle(b, "s.work", scaling_handler, &s);
    api = rt_api(a, "s");
    ck_assert_int_eq(epy_api_set_mode(api, EPY_ASYNC), 0);
    t0 = tu_now_ms();
    for (int i = 0; i < m; i++)
        ck_assert_int_eq(epy_api_invoke(api, "work", &i, sizeof i, NULL,
                                        &h[i], NULL), 0);
    for (int i = 0; i < m; i++) {
        size_t len = 0;
        const uint8_t *r;

        ck_assert_int_eq(epy_async_wait(h[i], 4 * RT_WAIT_MS), 0);
        r = epy_async_reply(h[i], &len);
        ck_assert_uint_eq(len, sizeof i);
        ck_assert_mem_eq(r, &i, sizeof i);
        epy_async_release(h[i]);
    }
    el = tu_now_ms() - t0;
    ck_assert_msg(el >= want - 15, "N=%d M=%d T=%lld: %lld ms, expected %lld",
                  n, m, (long long) t_ms, (long long) el, (long long) want);
    ck_assert_msg(el < want + 500 * tu_slow(),
                  "N=%d M=%d T=%lld: %lld ms, expected %lld", n, m,
                  (long long) t_ms, (long long) el, (long long) want);
    ck_assert_int_eq(atomic_load(&s.max_running), n < m ? n : m);
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
    free(h);
}

START_TEST(test_item56_worker_scaling)
{
    /* item 56: N workers, M concurrent calls whose handlers take T: all
     * complete in about ceil(M/N)*T, at most N at once, each with its own
     * argument. The original's (10,10,4s), (10,100,1s), (1,100,0.1s) are
     * scaled down to about a second in all. */
    scaling_run(4, 8, 150);
    scaling_run(8, 8, 150);
    scaling_run(1, 6, 50);
    scaling_run(2, 10, 40);
}
END_TEST

/* --- item 68: transactions at random times -------------------------------- */

enum { N68 = 50, EVENTS68 = 100 };

/* Deferred replies, each sent when its delay has passed. */
typedef struct sched {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {
        int64_t due_ms;
        epy_call *call;
        uint8_t payload[8];
    } item[N68];
    int n;
    bool stop;
    pthread_t th;
} sched;

static int
schedule_reply(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    sched *s = ctx;
    int32_t delay;

    if (len != 8) {
        rt_note_failure(__FILE__, __LINE__, "bad argument length %zu", len);
        return EPY_EPARAM;
    }
    memcpy(&delay, req + 4, sizeof delay);
    pthread_mutex_lock(&s->mu);
    if (s->n < N68) {
        s->item[s->n].due_ms = tu_now_ms() + delay;
        s->item[s->n].call = call;
        memcpy(s->item[s->n].payload, req, 8);
        s->n++;
    }
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return EPY_DEFER;
}

static void *
sched_main(void *arg)
{
    sched *s = arg;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        int first = -1;
        int64_t now = tu_now_ms();

        for (int i = 0; i < s->n; i++)
            if (first < 0 || s->item[i].due_ms < s->item[first].due_ms)
                first = i;
        if (first < 0) {
            if (s->stop)
                break;
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        if (s->item[first].due_ms > now) {
            struct timespec ts;
            int64_t wait_ms = s->item[first].due_ms - now;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += (time_t) (wait_ms / 1000);
            ts.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        {
            epy_call *call = s->item[first].call;
            uint8_t payload[8];

            memcpy(payload, s->item[first].payload, 8);
            s->item[first] = s->item[--s->n];
            pthread_mutex_unlock(&s->mu);
            RT_CHECK_INT_EQ(epy_call_reply(call, payload, 8), 0);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

typedef struct txn68 {
    pthread_t th;
    epy_api *api;
    int32_t index;
    int32_t start_ms;
    int32_t delay_ms;
    int rc;
    bool own_reply;
} txn68;

static void *
txn68_main(void *arg)
{
    txn68 *t = arg;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_buf reply = EPY_BUF_INIT;
    uint8_t req[8];

    rt_sleep_ms(t->start_ms);   /* the transaction's random start time */
    memcpy(req, &t->index, 4);
    memcpy(req + 4, &t->delay_ms, 4);
    opts.timeout_ms = 5000 * tu_slow();
    t->rc = epy_api_call(t->api, "slow", req, sizeof req, &opts, &reply,
                         NULL);
    t->own_reply = reply.len == sizeof req
                   && memcmp(reply.data, req, sizeof req) == 0;
    epy_buf_clear(&reply);
    return NULL;
}

typedef struct eventer {
    pthread_t th;
    epy_api *api;
    unsigned seed;
} eventer;

static void *
eventer_main(void *arg)
{
    eventer *e = arg;

    for (int32_t i = 0; i < EVENTS68; i++) {
        rt_sleep_ms(rand_r(&e->seed) % 20);     /* random times, ~1 s */
        RT_CHECK_INT_EQ(epy_api_send(e->api, "ev", &i, sizeof i, NULL), 0);
    }
    return NULL;
}

START_TEST(test_item68_random_transactions)
{
    /* item 68: 50 solicited transactions started at random times, replies
     * delayed at random, each waited on its own thread with a 5 s timeout,
     * while the other side sends events: every transaction gets its own
     * reply, none times out. Scaled from starts within 5 s and delays of
     * 0-4.9 s to starts within 1 s and delays of 0-0.9 s. */
    epy_peer *a, *b;
    epy_api *api, *back;
    sched s;
    txn68 t[N68];
    eventer ev;
    ev_count ea;
    unsigned seed = 68;

    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    ck_assert_int_eq(pthread_create(&s.th, NULL, sched_main, &s), 0);
    rt_counter_init(&ea.n);
    atomic_store(&ea.sum, 0);
    rt_pair(NULL, NULL, &a, &b);
    rt_handle(b, "api.slow", schedule_reply, &s);
    rt_handle(a, "back.ev", count_event, &ea);
    api = rt_api(a, "api");
    back = rt_api(b, "back");
    ev.api = back;
    ev.seed = 6868;
    ck_assert_int_eq(pthread_create(&ev.th, NULL, eventer_main, &ev), 0);
    for (int i = 0; i < N68; i++) {
        t[i].api = api;
        t[i].index = i;
        t[i].start_ms = rand_r(&seed) % 1000;
        t[i].delay_ms = rand_r(&seed) % 900;
        t[i].rc = 1;
        t[i].own_reply = false;
        ck_assert_int_eq(pthread_create(&t[i].th, NULL, txn68_main, &t[i]),
                         0);
    }
    for (int i = 0; i < N68; i++) {
        pthread_join(t[i].th, NULL);
        ck_assert_msg(t[i].rc == 0, "transaction %d: %s", i,
                      epy_status_name(t[i].rc));
        ck_assert_msg(t[i].own_reply, "transaction %d: not its own reply", i);
    }
    pthread_join(ev.th, NULL);
    ck_assert(rt_counter_wait(&ea.n, EVENTS68, RT_WAIT_MS));
    ck_assert_int_eq(atomic_load(&ea.sum), EVENTS68 * (EVENTS68 - 1) / 2);
    pthread_mutex_lock(&s.mu);
    s.stop = true;
    pthread_cond_signal(&s.cv);
    pthread_mutex_unlock(&s.mu);
    pthread_join(s.th, NULL);
    epy_api_close(api);
    epy_api_close(back);
    epy_peer_close(a);
    epy_peer_close(b);
    rt_counter_destroy(&ea.n);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
}
END_TEST

/* --- events that come together --------------------------------------------- */

typedef struct burst {
    rt_gate release;            /* lets the blocked event go */
    rt_counter blocked;         /* the blocking event started */
    rt_counter counted;         /* the short events handled */
} burst;

static int
burst_block(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    burst *b = ctx;

    (void) call;
    (void) req;
    (void) len;
    rt_counter_add(&b->blocked, 1);
    RT_CHECK(rt_gate_wait(&b->release, RT_WAIT_MS));
    return 0;
}

static int
burst_count(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call;
    (void) req;
    (void) len;
    rt_counter_add(&((burst *) ctx)->counted, 1);
    return 0;
}

/*
 * Events written back to back reach the receiver together, and it runs
 * them on the thread that read them, one after the other (calls too,
 * runtime/peer/lead.c). One that
 * blocks must not hold the others up: they are handled while it waits
 * (the reading goes to another thread), with every round of the burst
 * starting with a blocking one.
 */
START_TEST(test_blocked_event_holds_none)
{
    epy_peer *a, *b;
    epy_api *api;
    burst bu;
    int sv[2];

    rt_gate_init(&bu.release);
    rt_counter_init(&bu.blocked);
    rt_counter_init(&bu.counted);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    ck_assert_int_eq(epy_peer_new_fd(sv[0], NULL, &a, NULL), 0);
    ck_assert_int_eq(epy_peer_new_fd(sv[1], NULL, &b, NULL), 0);
    ck_assert_int_eq(epy_peer_wait_ready(a, RT_WAIT_MS, NULL), 0);
    ck_assert_int_eq(epy_peer_wait_ready(b, RT_WAIT_MS, NULL), 0);
    rt_handle(b, "x.block", burst_block, &bu);
    rt_handle(b, "x.count", burst_count, &bu);
    api = rt_api(a, "x");
    ck_assert_int_eq(epy_api_send(api, "block", NULL, 0, NULL), 0);
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(epy_api_send(api, "count", NULL, 0, NULL), 0);
    ck_assert(rt_counter_wait(&bu.blocked, 1, RT_WAIT_MS));
    ck_assert(rt_counter_wait(&bu.counted, 200, RT_WAIT_MS));
    ck_assert(!rt_gate_is_open(&bu.release));
    rt_gate_open(&bu.release);
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
    rt_gate_destroy(&bu.release);
    rt_counter_destroy(&bu.blocked);
    rt_counter_destroy(&bu.counted);
}
END_TEST

static Suite *
concurrency_suite(void)
{
    Suite *s = suite_create("concurrency");
    TCase *tc;

    tc = rt_tcase(s, "threads", 60);
    tcase_add_test(tc, test_sync_callers_8_threads);
    tcase_add_test(tc, test_10000_async_exactly_once);
    tcase_add_test(tc, test_events_and_calls_both_ways);
    tcase_add_test(tc, test_blocked_event_holds_none);

    tc = rt_tcase(s, "limits", 60);
    tcase_add_test(tc, test_item56_worker_scaling);
    tcase_add_test(tc, test_item68_random_transactions);
    return s;
}

int
main(void)
{
    return tu_run_suite(concurrency_suite());
}
