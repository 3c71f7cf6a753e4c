/*
 * Synchronous callers that read their own replies (runtime/peer/peer.c,
 * "Callers that read"): while synchronous calls are being made, a
 * caller waiting for its reply reads the connection itself, and the
 * peer's reader stands aside. These tests hold that path to what the
 * reader guarantees: whatever else arrives meanwhile is handled, a
 * reply that arrives in pieces across the caller's reading limit is put
 * together, bad input and the end of the connection are reported as the
 * reader reports them, timeouts and close still work, and frames that
 * arrive after the calls have stopped are still read.
 *
 * Each test first makes a few synchronous calls, so that the peer's
 * reader has lent the reading out when the case under test comes.
 * Raw-socket cases play the other end by hand (rt_wire_*), in a thread.
 */
#include <config.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

#include "rt-helpers.h"
#include "testutil.h"

#define WARM_CALLS 20
#define BIG_LEN ((size_t) 200 * 1024)

/* --- the other end, by hand ----------------------------------------------- */

/*
 * Answers the CALL frames of a raw peer by method:
 *   x.echo     replies "pong";
 *   x.big      replies BIG_LEN bytes (rt_fill seed 7), the frame written
 *              in two halves 30 ms apart, as a slow sender would;
 *   x.event    sends the event x.ev ("ev"), then replies "pong";
 *   x.garbage  writes a frame that is no envelope, then stops;
 *   x.vanish   closes its end of the connection, then stops;
 *   x.ignore   does not answer.
 */
typedef struct raw_end {
    pthread_t th;
    int fd;
    atomic_bool stop;
    rt_counter calls;
    uint8_t *big;
} raw_end;

static void *
raw_end_main(void *arg)
{
    raw_end *r = arg;

    while (!atomic_load(&r->stop)) {
        rt_frame f;

        if (!rt_wire_read(r->fd, RT_KIND_CALL, &f, 100))
            continue;
        rt_counter_add(&r->calls, 1);
        if (strcmp(f.method, "x.echo") == 0) {
            rt_wire_write(r->fd, RT_KIND_REPLY, f.txn, 0, "pong", 4);
        } else if (strcmp(f.method, "x.big") == 0) {
            rt_wire_write_split(r->fd, RT_KIND_REPLY, f.txn, 0, r->big,
                                BIG_LEN, BIG_LEN / 2, 30);
        } else if (strcmp(f.method, "x.event") == 0) {
            rt_wire_write_method(r->fd, RT_KIND_EVENT, 0, "x.ev", "ev", 2);
            rt_wire_write(r->fd, RT_KIND_REPLY, f.txn, 0, "pong", 4);
        } else if (strcmp(f.method, "x.garbage") == 0) {
            static const uint8_t bad[] = { 5, 0, 0, 0, 0xff, 0xff, 0xff,
                                           0xff, 0xff };

            if (write(r->fd, bad, sizeof bad) != (ssize_t) sizeof bad)
                rt_note_failure(__FILE__, __LINE__, "write of the garbage");
            break;
        } else if (strcmp(f.method, "x.vanish") == 0) {
            close(r->fd);
            r->fd = -1;
            break;
        }
    }
    return NULL;
}

/* A peer on a socketpair whose other end runs raw_end_main(). */
typedef struct raw_duo {
    epy_peer *p;
    epy_api *api;
    int sv[2];
    raw_end end;
    rt_listen listen;
    rt_counter events;
} raw_duo;

static int
count_event(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call;
    if (len == 2 && memcmp(req, "ev", 2) == 0)
        rt_counter_add(ctx, 1);
    return 0;
}

static void
raw_duo_open(raw_duo *d)
{
    memset(d, 0, sizeof *d);
    rt_listen_init(&d->listen);
    rt_counter_init(&d->events);
    rt_counter_init(&d->end.calls);
    d->end.big = malloc(BIG_LEN);
    ck_assert_ptr_nonnull(d->end.big);
    rt_fill(d->end.big, BIG_LEN, 7);
    d->p = rt_raw_peer(d->sv, NULL);
    rt_listen_install(&d->listen, d->p);
    rt_handle(d->p, "x.ev", count_event, &d->events);
    rt_wire_hello(d->sv[1]);
    ck_assert_int_eq(epy_peer_wait_ready(d->p, RT_WAIT_MS, NULL), 0);
    d->api = rt_api(d->p, "x");
    d->end.fd = d->sv[1];
    atomic_init(&d->end.stop, false);
    ck_assert_int_eq(pthread_create(&d->end.th, NULL, raw_end_main, &d->end),
                     0);
}

static void
raw_duo_close(raw_duo *d)
{
    atomic_store(&d->end.stop, true);
    epy_api_close(d->api);
    d->p = epy_peer_close(d->p);
    pthread_join(d->end.th, NULL);
    if (d->end.fd >= 0)
        close(d->end.fd);
    free(d->end.big);
    rt_counter_destroy(&d->end.calls);
    rt_counter_destroy(&d->events);
    rt_listen_destroy(&d->listen);
}

static void
warm_up(epy_api *api, const char *method, size_t want_len, const void *want)
{
    epy_buf reply = EPY_BUF_INIT;

    for (int i = 0; i < WARM_CALLS; i++) {
        ck_assert_int_eq(epy_api_call(api, method, "ping", 4, NULL, &reply,
                                      NULL), 0);
        ck_assert_uint_eq(reply.len, want_len);
        ck_assert_mem_eq(reply.data, want, want_len);
    }
    epy_buf_clear(&reply);
}

START_TEST(test_reply_in_two_pieces)
{
    /* A 200 KiB reply whose second half comes 30 ms after its first
     * (longer than a caller reads before it gives the reading back): the
     * caller gets it whole and right, and the stream stays in step for
     * the calls after it. */
    raw_duo d;
    epy_buf reply = EPY_BUF_INIT;

    raw_duo_open(&d);
    warm_up(d.api, "echo", 4, "pong");
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(epy_api_call(d.api, "big", NULL, 0, NULL, &reply,
                                      NULL), 0);
        ck_assert_uint_eq(reply.len, BIG_LEN);
        ck_assert_mem_eq(reply.data, d.end.big, BIG_LEN);
        warm_up(d.api, "echo", 4, "pong");
    }
    ck_assert_int_eq(epy_peer_status(d.p), 0);
    ck_assert_uint_eq(epy_peer_pending_count(d.p), 0);
    epy_buf_clear(&reply);
    raw_duo_close(&d);
}
END_TEST

START_TEST(test_event_before_reply)
{
    /* The other end sends an event just before each reply: the caller
     * that reads hands the event to a worker and still gets its reply;
     * no event is lost. */
    raw_duo d;
    epy_buf reply = EPY_BUF_INIT;

    raw_duo_open(&d);
    warm_up(d.api, "echo", 4, "pong");
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(epy_api_call(d.api, "event", NULL, 0, NULL, &reply,
                                      NULL), 0);
        ck_assert_uint_eq(reply.len, 4);
        ck_assert_mem_eq(reply.data, "pong", 4);
    }
    ck_assert(rt_counter_wait(&d.events, 50, RT_WAIT_MS));
    ck_assert_int_eq(rt_counter_get(&d.events), 50);
    ck_assert_int_eq(rt_counter_get(&d.listen.unhandled), 0);
    epy_buf_clear(&reply);
    raw_duo_close(&d);
}
END_TEST

START_TEST(test_garbage_while_caller_reads)
{
    /* The reply is a frame that is no envelope: the call fails with
     * EPY_EPROTO, the connection ends with EPY_EPROTO, and the listener
     * is told once, as when the reader itself meets bad input. */
    raw_duo d;
    int rc;

    raw_duo_open(&d);
    warm_up(d.api, "echo", 4, "pong");
    rc = epy_api_call(d.api, "garbage", NULL, 0, NULL, NULL, NULL);
    ck_assert_msg(rc == EPY_EPROTO, "call gave %s", epy_status_name(rc));
    ck_assert(rt_counter_wait(&d.listen.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(d.listen.disconnect_reason, EPY_EPROTO);
    ck_assert_int_eq(epy_peer_status(d.p), EPY_EPROTO);
    ck_assert_int_eq(epy_api_call(d.api, "echo", NULL, 0, NULL, NULL, NULL),
                     EPY_EPROTO);
    ck_assert_int_eq(rt_counter_get(&d.listen.disconnected), 1);
    raw_duo_close(&d);
}
END_TEST

START_TEST(test_other_end_leaves_while_caller_reads)
{
    /* The other end closes the connection while the caller waits (no
     * timeout set): the call fails with EPY_EDISCONNECTED at once, and
     * the listener is told once. */
    raw_duo d;
    int64_t t0;
    int rc;

    raw_duo_open(&d);
    warm_up(d.api, "echo", 4, "pong");
    t0 = tu_now_ms();
    rc = epy_api_call(d.api, "vanish", NULL, 0, NULL, NULL, NULL);
    ck_assert_msg(rc == EPY_EDISCONNECTED, "call gave %s",
                  epy_status_name(rc));
    ck_assert_int_lt(tu_now_ms() - t0, 2000 * tu_slow());
    ck_assert(rt_counter_wait(&d.listen.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(d.listen.disconnect_reason, EPY_EDISCONNECTED);
    ck_assert_int_eq(rt_counter_get(&d.listen.disconnected), 1);
    raw_duo_close(&d);
}
END_TEST

START_TEST(test_timeout_while_caller_reads)
{
    /* Nothing answers: the call times out at its timeout, not before and
     * not much later; the late caller's transaction is gone, and the
     * next call works. */
    raw_duo d;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    int64_t t0, took;

    raw_duo_open(&d);
    warm_up(d.api, "echo", 4, "pong");
    opts.timeout_ms = 150;
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_api_call(d.api, "ignore", NULL, 0, &opts, NULL,
                                  NULL), EPY_ETIMEDOUT);
    took = tu_now_ms() - t0;
    ck_assert_int_ge(took, 150);
    ck_assert_int_lt(took, 150 + 2000 * tu_slow());
    ck_assert_uint_eq(epy_peer_pending_count(d.p), 0);
    warm_up(d.api, "echo", 4, "pong");
    ck_assert_int_eq(epy_peer_status(d.p), 0);
    raw_duo_close(&d);
}
END_TEST

/* --- both ends runtime peers --------------------------------------------- */

typedef struct relay {
    epy_api *back;              /* b's api on a: "back" */
    rt_counter events;
} relay;

/* b's handler: sends an event to a, calls a back, replies with what a
 * answered. */
static int
relay_handler(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    relay *r = ctx;
    epy_buf out = EPY_BUF_INIT;
    int rc;

    rc = epy_api_send(r->back, "ev", "ev", 2, NULL);
    if (rc == 0)
        rc = epy_api_call(r->back, "echo", req, len, NULL, &out, NULL);
    if (rc == 0)
        epy_call_reply(call, out.data, out.len);
    epy_buf_clear(&out);
    return rc;
}

START_TEST(test_calls_back_while_caller_reads)
{
    /* a calls b; b's handler sends a an event and calls a back before it
     * answers. The call back and the event reach a while a's caller
     * reads: they run on a's workers, and every reply is right. */
    rt_duo d;
    relay r;
    epy_buf reply = EPY_BUF_INIT;
    uint8_t req[32];

    rt_duo_open(&d, NULL, NULL);
    rt_counter_init(&r.events);
    r.back = rt_api(d.b, "back");
    rt_handle(d.a, "back.echo", rt_echo, NULL);
    rt_handle(d.a, "back.ev", count_event, &r.events);
    rt_handle(d.b, "api.relay", relay_handler, &r);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    warm_up(d.api, "echo", 4, "ping");
    for (int i = 0; i < 100; i++) {
        rt_fill(req, sizeof req, (unsigned) i);
        ck_assert_int_eq(epy_api_call(d.api, "relay", req, sizeof req, NULL,
                                      &reply, NULL), 0);
        ck_assert_uint_eq(reply.len, sizeof req);
        ck_assert_mem_eq(reply.data, req, sizeof req);
    }
    ck_assert(rt_counter_wait(&r.events, 100, RT_WAIT_MS));
    ck_assert_int_eq(rt_counter_get(&r.events), 100);
    epy_buf_clear(&reply);
    epy_api_close(r.back);
    rt_duo_close(&d);
    rt_counter_destroy(&r.events);
}
END_TEST

START_TEST(test_frames_after_calls_stop)
{
    /* After a run of synchronous calls, a makes none: an event and a
     * call from b still reach a (its reader reads again), within far
     * less than the wait bound. */
    rt_duo d;
    epy_api *back;
    rt_counter events;
    epy_buf reply = EPY_BUF_INIT;
    int64_t t0;

    rt_duo_open(&d, NULL, NULL);
    rt_counter_init(&events);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    rt_handle(d.a, "back.ev", count_event, &events);
    rt_handle(d.a, "back.echo", rt_echo, NULL);
    back = rt_api(d.b, "back");
    for (int round = 0; round < 5; round++) {
        warm_up(d.api, "echo", 4, "ping");
        t0 = tu_now_ms();
        ck_assert_int_eq(epy_api_send(back, "ev", "ev", 2, NULL), 0);
        ck_assert(rt_counter_wait(&events, round + 1, RT_WAIT_MS));
        ck_assert_int_lt(tu_now_ms() - t0, 1000 * tu_slow());
        warm_up(d.api, "echo", 4, "ping");
        t0 = tu_now_ms();
        ck_assert_int_eq(epy_api_call(back, "echo", "hey", 3, NULL, &reply,
                                      NULL), 0);
        ck_assert_int_lt(tu_now_ms() - t0, 1000 * tu_slow());
        ck_assert_mem_eq(reply.data, "hey", 3);
    }
    epy_buf_clear(&reply);
    epy_api_close(back);
    rt_duo_close(&d);
    rt_counter_destroy(&events);
}
END_TEST

/* Sync callers and async calls at once on one peer. */
typedef struct mixer {
    pthread_t th;
    epy_api *api;
    int index;
    int wrong;
} mixer;

#define MIX_SYNC 300
#define MIX_ASYNC 1000

static void *
mixer_main(void *arg)
{
    mixer *m = arg;
    epy_buf reply = EPY_BUF_INIT;
    uint8_t req[16];

    for (int i = 0; i < MIX_SYNC; i++) {
        rt_fill(req, sizeof req, (unsigned) (m->index * 100000 + i));
        if (epy_api_call(m->api, "echo", req, sizeof req, NULL, &reply, NULL)
                != 0
            || reply.len != sizeof req
            || memcmp(reply.data, req, sizeof req) != 0)
            m->wrong++;
    }
    epy_buf_clear(&reply);
    return NULL;
}

START_TEST(test_sync_and_async_together)
{
    /* Three threads make synchronous calls while this one keeps async
     * calls in flight with callbacks: every reply reaches its own caller
     * (the callers take turns at reading, and hand it back when others
     * wait), and nothing stays pending. */
    rt_duo d;
    mixer m[3];
    rt_cb cb;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;

    rt_duo_open(&d, NULL, NULL);
    rt_cb_init(&cb);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    for (int i = 0; i < 3; i++) {
        m[i].api = d.api;
        m[i].index = i;
        m[i].wrong = 0;
        ck_assert_int_eq(pthread_create(&m[i].th, NULL, mixer_main, &m[i]),
                         0);
    }
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &cb;
    for (int i = 0; i < MIX_ASYNC; i++) {
        ck_assert_int_eq(epy_api_call_async(d.api, "echo", "a", 1, &opts,
                                            NULL, NULL), 0);
        if (i % 100 == 99)
            ck_assert(rt_counter_wait(&cb.count, i + 1 - 50, RT_WAIT_MS));
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(m[i].th, NULL);
        ck_assert_int_eq(m[i].wrong, 0);
    }
    ck_assert(rt_counter_wait(&cb.count, MIX_ASYNC, RT_WAIT_MS));
    ck_assert_int_eq(rt_counter_get(&cb.count), MIX_ASYNC);
    ck_assert_int_eq(cb.rc, 0);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    rt_duo_close(&d);
    rt_cb_destroy(&cb);
}
END_TEST

START_TEST(test_slow_handler_reply_after_limit)
{
    /* The handler takes 20 ms, longer than a caller reads before it
     * hands the reading back: the reply still reaches the caller (the
     * reader reads it), and an event sent meanwhile is handled. */
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    rt_counter events;
    epy_api *back;
    epy_buf reply = EPY_BUF_INIT;

    rt_duo_open(&d, NULL, &cb);
    rt_counter_init(&events);
    d.srv.sleep_ms = 20;
    rt_handle(d.b, "api.slow", rt_srv_sleep, &d.srv);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    rt_handle(d.a, "back.ev", count_event, &events);
    back = rt_api(d.b, "back");
    warm_up(d.api, "echo", 4, "ping");
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(epy_api_send(back, "ev", "ev", 2, NULL), 0);
        ck_assert_int_eq(epy_api_call(d.api, "slow", "zz", 2, NULL, &reply,
                                      NULL), 0);
        ck_assert_uint_eq(reply.len, 2);
        ck_assert_mem_eq(reply.data, "zz", 2);
    }
    ck_assert(rt_counter_wait(&events, 5, RT_WAIT_MS));
    epy_buf_clear(&reply);
    epy_api_close(back);
    rt_duo_close(&d);
    rt_counter_destroy(&events);
}
END_TEST

/* --- requests lent from the read buffer ---------------------------------- */

#define LENT_LEN ((size_t) 100 * 1024)

typedef struct keeper {
    rt_counter got;
    epy_call *call;
    const uint8_t *req;
    size_t len;
} keeper;

/* Keeps the call and its request, to answer later with the request. */
static int
keep_handler(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    keeper *k = ctx;

    k->call = call;
    k->req = req;
    k->len = len;
    rt_counter_add(&k->got, 1);
    return EPY_DEFER;
}

/* Works for a while (past the reader's watchdog), checking that its
 * request does not change meanwhile, then echoes it. */
static int
slow_check_handler(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    uint8_t *copy = malloc(len ? len : 1);
    int rc = 0;

    (void) ctx;
    if (copy == NULL)
        return EPY_ENOMEM;
    memcpy(copy, req, len);
    rt_sleep_ms(20);            /* the work; others read meanwhile */
    if (memcmp(copy, req, len) != 0)
        rc = EPY_EFAILED;
    else
        epy_call_reply(call, req, len);
    free(copy);
    return rc;
}

static uint8_t *
pattern(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len);

    ck_assert_ptr_nonnull(p);
    rt_fill(p, len, seed);
    return p;
}

/* Waits for @h, checks that its reply is @want (LENT_LEN bytes), releases it. */
static void
expect_lent_reply(epy_async *h, const uint8_t *want)
{
    epy_buf reply = EPY_BUF_INIT;

    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    ck_assert_int_eq(epy_async_result(h, &reply, NULL), 0);
    ck_assert_uint_eq(reply.len, LENT_LEN);
    ck_assert_mem_eq(reply.data, want, LENT_LEN);
    epy_async_release(h);
    epy_buf_clear(&reply);
}

START_TEST(test_lent_request_of_deferred_call)
{
    /* A large request is lent to its call, not copied. The handler defers
     * and keeps the request; twenty large calls later (read meanwhile,
     * so the reader must have moved to another buffer), it answers with
     * the kept request, which is intact. */
    rt_duo d;
    keeper k;
    uint8_t *a = pattern(LENT_LEN, 1), *b = pattern(LENT_LEN, 2);
    epy_async *h = NULL;
    epy_buf reply = EPY_BUF_INIT;

    rt_duo_open(&d, NULL, NULL);
    memset(&k, 0, sizeof k);
    rt_counter_init(&k.got);
    rt_handle(d.b, "api.keep", keep_handler, &k);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    ck_assert_int_eq(epy_api_call_async(d.api, "keep", a, LENT_LEN, NULL, &h,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&k.got, 1, RT_WAIT_MS));
    for (int i = 0; i < 20; i++) {
        b[0] = (uint8_t) i;
        ck_assert_int_eq(epy_api_call(d.api, "echo", b, LENT_LEN, NULL,
                                      &reply, NULL), 0);
        ck_assert_uint_eq(reply.len, LENT_LEN);
        ck_assert_mem_eq(reply.data, b, LENT_LEN);
    }
    ck_assert_uint_eq(k.len, LENT_LEN);
    ck_assert_mem_eq(k.req, a, LENT_LEN);
    ck_assert_int_eq(epy_call_reply(k.call, k.req, k.len), 0);
    expect_lent_reply(h, a);
    epy_buf_clear(&reply);
    rt_duo_close(&d);
    rt_counter_destroy(&k.got);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_lent_request_while_others_read)
{
    /* A handler with a large request works for 20 ms (the reading is
     * taken over from it meanwhile) while ten more large calls arrive
     * and are answered: its request stays intact throughout, and every
     * reply is its own request. */
    enum { N = 10 };
    rt_duo d;
    uint8_t *slow = pattern(LENT_LEN, 3), *req[N];
    epy_async *hs = NULL, *h[N];

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.slow", slow_check_handler, NULL);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    ck_assert_int_eq(epy_api_call_async(d.api, "slow", slow, LENT_LEN, NULL,
                                        &hs, NULL), 0);
    for (int i = 0; i < N; i++) {
        req[i] = pattern(LENT_LEN, 10 + (unsigned) i);
        ck_assert_int_eq(epy_api_call_async(d.api, "echo", req[i], LENT_LEN,
                                            NULL, &h[i], NULL), 0);
    }
    for (int i = 0; i < N; i++) {
        expect_lent_reply(h[i], req[i]);
        free(req[i]);
    }
    expect_lent_reply(hs, slow);
    rt_duo_close(&d);
    free(slow);
}
END_TEST

/* Context switches of this process so far, every thread counted. */
static long
switches(void)
{
    struct rusage ru;

    ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_nvcsw + ru.ru_nivcsw;
}

START_TEST(test_idle_after_calls_sleeps)
{
    /* Once calls have stopped, no thread of either peer wakes up on a
     * timer: over 300 ms of quiet the process barely switches (a reader
     * still lending the reading out, or a watchdog still ticking, would
     * wake hundreds of times); and the next call still works. */
    rt_duo d;
    long before;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    for (int round = 0; round < 3; round++) {
        warm_up(d.api, "echo", 4, "ping");
        rt_sleep_ms(100);       /* the readers take the reading back */
        before = switches();
        rt_sleep_ms(300);
        ck_assert_msg(switches() - before < 30, "%ld switches while idle",
                      switches() - before);
    }
    rt_duo_close(&d);
}
END_TEST

static Suite *
readown_suite(void)
{
    Suite *s = suite_create("readown");
    TCase *tc;

    tc = rt_tcase(s, "raw other end", 30);
    tcase_add_test(tc, test_reply_in_two_pieces);
    tcase_add_test(tc, test_event_before_reply);
    tcase_add_test(tc, test_garbage_while_caller_reads);
    tcase_add_test(tc, test_other_end_leaves_while_caller_reads);
    tcase_add_test(tc, test_timeout_while_caller_reads);

    tc = rt_tcase(s, "runtime peers", 60);
    tcase_add_test(tc, test_calls_back_while_caller_reads);
    tcase_add_test(tc, test_frames_after_calls_stop);
    tcase_add_test(tc, test_sync_and_async_together);
    tcase_add_test(tc, test_slow_handler_reply_after_limit);
    tcase_add_test(tc, test_idle_after_calls_sleeps);

    tc = rt_tcase(s, "lent requests", 60);
    tcase_add_test(tc, test_lent_request_of_deferred_call);
    tcase_add_test(tc, test_lent_request_while_others_read);
    return s;
}

int
main(void)
{
    return tu_run_suite(readown_suite());
}
