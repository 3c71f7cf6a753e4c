/*
 * Apis and their limits: api defaults and their inheritance, per-method
 * sticky defaults, origins and sequence numbers, pending transactions,
 * name and size limits, the pending-call limit (check_call.c: the calls
 * themselves).
 *
 * Items are those of SEED-BEHAVIOURS.md ("item N"); a test of a
 * deliberately changed behaviour says so and tests the port's behaviour.
 */

#include <config.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

#include "rt-helpers.h"
#include "testutil.h"

static void
err_expect(const epy_error *err, int code)
{
    ck_assert_int_eq(err->code, code);
    ck_assert_ptr_nonnull(err->message);
}

/* --- core: api defaults --------------------------------------------------- */

START_TEST(test_item23_defaults)
{
    /* item 23: with no overrides a call is sync, waits without limit,
     * takes its api's solicited flag, and has no callback. */
    rt_duo d;
    epy_api *child = NULL;
    epy_async *h = NULL;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.echo", rt_srv_echo, &d.srv);
    rt_handle(d.b, "api.sub.echo", rt_srv_echo, &d.srv);
    ck_assert_int_eq(epy_api_timeout(d.api), EPY_FOREVER);
    ck_assert(epy_api_solicited(d.api));
    ck_assert_int_eq(epy_api_mode(d.api), EPY_SYNC);
    ck_assert_str_eq(epy_api_name(d.api), "api");
    ck_assert_int_eq(epy_api_invoke(d.api, "echo", "d", 1, NULL, &h, NULL),
                     0);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_DONE);
    ck_assert(d.srv.last_solicited);
    ck_assert_int_eq(d.srv.last_remaining, -1);
    h = epy_async_release(h);

    /* The child takes the api's flag: unsolicited here. */
    ck_assert_int_eq(epy_api_set_solicited(d.api, 0), 0);
    ck_assert_int_eq(epy_api_child(d.api, "sub", &child, NULL), 0);
    ck_assert(!epy_api_solicited(child));
    ck_assert_int_eq(epy_api_invoke(child, "echo", "e", 1, NULL, &h, NULL),
                     0);
    ck_assert_ptr_null(h);
    ck_assert(rt_counter_wait(&d.srv.calls, 2, RT_WAIT_MS));
    ck_assert(!d.srv.last_solicited);
    ck_assert_str_eq(d.srv.last_method, "api.sub.echo");
    epy_api_close(child);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_api_inheritance)
{
    /* Children inherit every default they do not set, also later changes
     * of the parent's; EPY_INHERIT and -1 return to the parent's. */
    rt_duo d;
    epy_api *c = NULL, *g = NULL;

    rt_duo_open(&d, NULL, NULL);
    ck_assert_int_eq(epy_api_child(d.api, "c", &c, NULL), 0);
    ck_assert_int_eq(epy_api_child(c, "g.h", &g, NULL), 0);
    ck_assert_str_eq(epy_api_name(c), "api.c");
    ck_assert_str_eq(epy_api_name(g), "api.c.g.h");

    ck_assert_int_eq(epy_api_set_timeout(d.api, 100), 0);
    ck_assert_int_eq(epy_api_timeout(c), 100);
    ck_assert_int_eq(epy_api_timeout(g), 100);
    ck_assert_int_eq(epy_api_set_timeout(d.api, 200), 0);
    ck_assert_int_eq(epy_api_timeout(g), 200);
    ck_assert_int_eq(epy_api_set_timeout(c, 300), 0);
    ck_assert_int_eq(epy_api_set_timeout(d.api, 400), 0);
    ck_assert_int_eq(epy_api_timeout(c), 300);
    ck_assert_int_eq(epy_api_timeout(g), 300);
    ck_assert_int_eq(epy_api_timeout(d.api), 400);
    ck_assert_int_eq(epy_api_set_timeout(c, EPY_INHERIT), 0);
    ck_assert_int_eq(epy_api_timeout(c), 400);
    ck_assert_int_eq(epy_api_timeout(g), 400);

    ck_assert_int_eq(epy_api_set_solicited(d.api, 0), 0);
    ck_assert(!epy_api_solicited(g));
    ck_assert_int_eq(epy_api_set_solicited(c, 1), 0);
    ck_assert(epy_api_solicited(g));
    ck_assert(!epy_api_solicited(d.api));
    ck_assert_int_eq(epy_api_set_solicited(c, -1), 0);
    ck_assert(!epy_api_solicited(g));

    ck_assert_int_eq(epy_api_set_mode(d.api, EPY_ASYNC), 0);
    ck_assert_int_eq(epy_api_mode(g), EPY_ASYNC);
    ck_assert_int_eq(epy_api_set_mode(g, EPY_SYNC), 0);
    ck_assert_int_eq(epy_api_mode(g), EPY_SYNC);
    ck_assert_int_eq(epy_api_mode(c), EPY_ASYNC);
    ck_assert_int_eq(epy_api_set_mode(g, -1), 0);
    ck_assert_int_eq(epy_api_mode(g), EPY_ASYNC);

    /* A child keeps its parent alive: close the parent first. */
    epy_api_close(c);
    ck_assert_int_eq(epy_api_timeout(g), 400);
    ck_assert_str_eq(epy_api_name(g), "api.c.g.h");
    ck_assert_int_eq(epy_api_set_timeout(d.api, 500), 0);
    ck_assert_int_eq(epy_api_timeout(g), 500);
    rt_handle(d.b, "api.c.g.h.echo", rt_echo, NULL);
    ck_assert_int_eq(epy_api_set_solicited(g, 1), 0);
    ck_assert_int_eq(epy_api_set_mode(g, EPY_SYNC), 0);
    rt_call_expect(g, "echo", "k", 1, "k", 1);
    epy_api_close(g);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_api_open_many)
{
    /* Apis are made and closed at any time, any number, also several for
     * one namespace; closing an api does not affect its calls in flight. */
    rt_duo d;
    epy_api *apis[20];
    epy_async *h = NULL;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 20; i++)
            apis[i] = rt_api(d.a, "api");
        for (int i = 0; i < 20; i++) {
            rt_call_expect(apis[i], "echo", &i, sizeof i, &i, sizeof i);
            apis[i] = epy_api_close(apis[i]);
        }
    }
    apis[0] = rt_api(d.a, "api");
    ck_assert_int_eq(epy_api_call_async(apis[0], "block", "f", 1, NULL, &h,
                                        NULL), 0);
    epy_api_close(apis[0]);
    rt_gate_open(&d.srv.gate);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    ck_assert_int_eq(epy_async_result(h, NULL, NULL), 0);
    epy_async_release(h);
    epy_api_close(NULL);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item24_method_sticky_defaults)
{
    /* item 24: per-method defaults persist from call to call until
     * changed; a per-call override applies to its call only; EPY_INHERIT
     * returns to the api's default. */
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h = NULL;
    int64_t t0, el;

    cb.workers = 12;        /* each timed-out call keeps a worker busy */
    rt_duo_open(&d, NULL, &cb);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    ck_assert_int_eq(epy_api_set_method_defaults(d.api, "block", 100, -1,
                                                 -1), 0);
    for (int i = 0; i < 2; i++) {
        t0 = tu_now_ms();
        ck_assert_int_eq(epy_api_call(d.api, "block", NULL, 0, NULL, NULL,
                                      NULL), EPY_ETIMEDOUT);
        el = tu_now_ms() - t0;
        ck_assert_int_ge(el, 90);
        ck_assert_int_lt(el, 100 + 1000 * tu_slow());
    }
    /* Other methods keep the api's default (forever). */
    rt_call_expect(d.api, "echo", "z", 1, "z", 1);
    /* A per-call override wins for that call. */
    opts.timeout_ms = 300;
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_api_call(d.api, "block", NULL, 0, &opts, NULL,
                                  NULL), EPY_ETIMEDOUT);
    ck_assert_int_ge(tu_now_ms() - t0, 290);
    /* Back to the api's default, itself changed. */
    ck_assert_int_eq(epy_api_set_timeout(d.api, 150), 0);
    ck_assert_int_eq(epy_api_set_method_defaults(d.api, "block", EPY_INHERIT,
                                                 -1, -1), 0);
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_api_call(d.api, "block", NULL, 0, NULL, NULL,
                                  NULL), EPY_ETIMEDOUT);
    ck_assert_int_ge(tu_now_ms() - t0, 140);
    ck_assert_int_eq(epy_api_set_timeout(d.api, EPY_FOREVER), 0);

    /* Sticky unsolicited and async. */
    ck_assert_int_eq(epy_api_set_method_defaults(d.api, "echo", EPY_INHERIT,
                                                 0, -1), 0);
    ck_assert_int_eq(epy_api_call(d.api, "echo", "u", 1, NULL, NULL, NULL),
                     0);
    ck_assert_int_eq(epy_api_call(d.api, "echo", "v", 1, NULL, NULL, NULL),
                     0);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    ck_assert_int_eq(epy_api_set_method_defaults(d.api, "block", EPY_INHERIT,
                                                 -1, EPY_ASYNC), 0);
    ck_assert_int_eq(epy_api_invoke(d.api, "block", "w", 1, NULL, &h, NULL),
                     0);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_PENDING);
    rt_gate_open(&d.srv.gate);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    epy_async_release(h);

    /* item 25/26 for method defaults: bad values refused. */
    ck_assert_int_eq(epy_api_set_method_defaults(d.api, "block", -5, -1, -1),
                     EPY_EPARAM);
    ck_assert_int_eq(epy_api_set_method_defaults(d.api, "block", EPY_INHERIT,
                                                 2, -1), EPY_EPARAM);
    ck_assert_int_eq(epy_api_set_method_defaults(d.api, "block", EPY_INHERIT,
                                                 -1, 3), EPY_EPARAM);
    ck_assert_int_eq(epy_api_set_method_defaults(d.api, "b..x", EPY_INHERIT,
                                                 -1, -1), EPY_EPARAM);
    ck_assert_int_eq(epy_api_set_method_defaults(d.api, NULL, EPY_INHERIT,
                                                 -1, -1), EPY_EPARAM);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item29_origin_and_sequence)
{
    /* items 29, 39 (public face): ids carry the peer's origin and count
     * from 1; the default origin is EPY_ORIGIN_STANDARD. */
    epy_peer_config ca = EPY_PEER_CONFIG_INIT;
    epy_peer *a, *b;
    epy_api *api;
    epy_async *h[3];

    ca.origin = 7;
    rt_pair(&ca, NULL, &a, &b);
    rt_handle(b, "o.echo", rt_echo, NULL);
    rt_handle(a, "o.echo", rt_echo, NULL);
    api = rt_api(a, "o");
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(epy_api_call_async(api, "echo", NULL, 0, NULL, &h[i],
                                            NULL), 0);
        ck_assert_uint_eq(EPY_TXN_ORIGIN(epy_async_id(h[i])), 7);
        ck_assert_uint_eq(EPY_TXN_SEQ(epy_async_id(h[i])), (uint64_t) i + 1);
    }
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(epy_async_wait(h[i], RT_WAIT_MS), 0);
        epy_async_release(h[i]);
    }
    epy_api_close(api);
    api = rt_api(b, "o");
    ck_assert_int_eq(epy_api_call_async(api, "echo", NULL, 0, NULL, &h[0],
                                        NULL), 0);
    ck_assert_uint_eq(epy_async_id(h[0]),
                      EPY_TXN_MAKE(EPY_ORIGIN_STANDARD, 1));
    ck_assert_int_eq(epy_async_wait(h[0], RT_WAIT_MS), 0);
    epy_async_release(h[0]);
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
}
END_TEST

START_TEST(test_item35_txn_pending)
{
    /* item 35 (public face): EPY_TXN_NONE and unknown ids are not
     * pending; an id in the table is. */
    rt_duo d;
    epy_async *h = NULL;
    epy_txn_id id;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    ck_assert(!epy_peer_txn_pending(d.a, EPY_TXN_NONE));
    ck_assert(!epy_peer_txn_pending(d.a, EPY_TXN_MAKE(0, 12345)));
    ck_assert_int_eq(epy_api_call_async(d.api, "block", NULL, 0, NULL, &h,
                                        NULL), 0);
    id = epy_async_id(h);
    ck_assert(epy_peer_txn_pending(d.a, id));
    ck_assert(!epy_peer_txn_pending(d.a, id + 1));
    ck_assert(!epy_peer_txn_pending(d.a, EPY_TXN_MAKE(9, EPY_TXN_SEQ(id))));
    /* The id is the caller's, not the receiver's. */
    ck_assert(!epy_peer_txn_pending(d.b, id));
    rt_gate_open(&d.srv.gate);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    epy_async_release(h);
    ck_assert(!epy_peer_txn_pending(d.a, id));
    rt_duo_close(&d);
}
END_TEST

/* --- limits --------------------------------------------------------------- */

static void
make_name(char *out, int parts, int part_len)
{
    char *p = out;

    for (int i = 0; i < parts; i++) {
        if (i > 0)
            *p++ = '.';
        for (int j = 0; j < part_len; j++)
            *p++ = j == 0 ? 'n' : (char) ('a' + (i + j) % 26);
    }
    *p = '\0';
}

START_TEST(test_name_limits)
{
    /* Names: parts up to 128 characters, up to 64 parts, 1024 in all,
     * the api's name and the method's together. */
    rt_duo d;
    char name[2100];
    epy_api *x = NULL;

    rt_duo_open(&d, NULL, NULL);
    make_name(name, 1, 128);
    ck_assert_int_eq(epy_api_open(d.a, name, &x, NULL), 0);
    x = epy_api_close(x);
    make_name(name, 1, 129);
    ck_assert_int_eq(epy_api_open(d.a, name, &x, NULL), EPY_EPARAM);
    make_name(name, 64, 1);
    ck_assert_int_eq(epy_api_open(d.a, name, &x, NULL), 0);
    x = epy_api_close(x);
    make_name(name, 65, 1);
    ck_assert_int_eq(epy_api_open(d.a, name, &x, NULL), EPY_EPARAM);
    /* 8 parts of 127 and 7 dots: 1023; of 128: 1031. */
    make_name(name, 8, 127);
    ck_assert_uint_eq(strlen(name), 1023);
    ck_assert_int_eq(epy_api_open(d.a, name, &x, NULL), 0);
    x = epy_api_close(x);
    make_name(name, 8, 128);
    ck_assert_int_eq(epy_api_open(d.a, name, &x, NULL), EPY_EPARAM);
    ck_assert_ptr_null(x);
    /* "api." (4) + a method of 1021 characters: 1025 in all. */
    make_name(name, 8, 127);
    name[1021] = '\0';
    ck_assert_int_eq(epy_api_call(d.api, name, NULL, 0, NULL, NULL, NULL),
                     EPY_EPARAM);
    ck_assert_int_eq(epy_api_send(d.api, name, NULL, 0, NULL), EPY_EPARAM);
    name[1020] = '\0';
    /* 1024 in all: valid, sent, unknown at the receiver. */
    ck_assert_int_eq(epy_api_call(d.api, name, NULL, 0, NULL, NULL, NULL),
                     EPY_EUNKNOWN);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_etoobig_nothing_sent)
{
    /* A payload above max_frame fails with EPY_ETOOBIG, nothing sent, the
     * connection unharmed; a reply above the receiver's max_frame gives
     * the caller EPY_ETOOBIG. */
    enum { MAX = 64 * 1024, BIG = 128 * 1024 };
    epy_peer_config ca = EPY_PEER_CONFIG_INIT, cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    rt_cb rcb;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_async *h = NULL;
    uint8_t *big = malloc(BIG);

    ck_assert_ptr_nonnull(big);
    rt_fill(big, BIG, 3);
    ca.max_frame = MAX;
    cb.max_frame = MAX;
    cb.workers = 1;
    rt_duo_open(&d, &ca, &cb);
    rt_cb_init(&rcb);
    rt_handle(d.b, "api.echo", rt_srv_echo, &d.srv);
    ck_assert_int_eq(epy_api_call(d.api, "echo", big, BIG, NULL, NULL, &err),
                     EPY_ETOOBIG);
    err_expect(&err, EPY_ETOOBIG);
    ck_assert_int_eq(epy_api_send(d.api, "echo", big, BIG, NULL),
                     EPY_ETOOBIG);
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &rcb;
    ck_assert_int_eq(epy_api_call_async(d.api, "echo", big, BIG, &opts, &h,
                                        NULL), EPY_ETOOBIG);
    ck_assert_ptr_null(h);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&d.srv.calls), 0);
    ck_assert_int_eq(rt_counter_get(&rcb.count), 0);
    rt_call_expect(d.api, "echo", big, 1000, big, 1000);
    ck_assert(epy_peer_is_connected(d.a));
    ck_assert(epy_peer_is_connected(d.b));
    epy_error_clear(&err);
    rt_duo_close(&d);
    rt_cb_destroy(&rcb);
    free(big);
}
END_TEST

static int
reply_big(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    size_t n = 128 * 1024;
    uint8_t *big = calloc(1, n);

    (void) req;
    (void) len;
    (void) ctx;
    RT_CHECK(big != NULL);
    if (big != NULL) {
        RT_CHECK_INT_EQ(epy_call_reply(call, big, n), EPY_ETOOBIG);
        free(big);
    }
    return 0;
}

START_TEST(test_etoobig_reply)
{
    /* A handler's reply above the receiver's max_frame: epy_call_reply()
     * says EPY_ETOOBIG and the caller gets EPY_ETOOBIG. */
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    epy_error err = EPY_ERROR_INIT;

    cb.max_frame = 64 * 1024;
    rt_duo_open(&d, NULL, &cb);
    rt_handle(d.b, "api.big", reply_big, NULL);
    ck_assert_int_eq(epy_api_call(d.api, "big", NULL, 0, NULL, NULL, &err),
                     EPY_ETOOBIG);
    err_expect(&err, EPY_ETOOBIG);
    ck_assert(epy_peer_is_connected(d.a));
    rt_ping(d.a);
    epy_error_clear(&err);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_max_pending_busy)
{
    /* Beyond max_pending calls awaiting a reply, calls fail EPY_EBUSY. */
    enum { MAXP = 4 };
    epy_peer_config ca = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    epy_async *h[MAXP], *extra = NULL;

    ca.max_pending = MAXP;
    rt_duo_open(&d, &ca, NULL);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    for (int i = 0; i < MAXP; i++)
        ck_assert_int_eq(epy_api_call_async(d.api, "block", NULL, 0, NULL,
                                            &h[i], NULL), 0);
    ck_assert_int_eq(epy_api_call_async(d.api, "block", NULL, 0, NULL,
                                        &extra, NULL), EPY_EBUSY);
    ck_assert_ptr_null(extra);
    ck_assert_int_eq(epy_api_call(d.api, "block", NULL, 0, NULL, NULL, NULL),
                     EPY_EBUSY);
    /* Events need no transaction. */
    ck_assert_int_eq(epy_api_send(d.api, "block", NULL, 0, NULL), 0);
    rt_gate_open(&d.srv.gate);
    for (int i = 0; i < MAXP; i++) {
        ck_assert_int_eq(epy_async_wait(h[i], RT_WAIT_MS), 0);
        epy_async_release(h[i]);
    }
    rt_call_expect(d.api, "block", "n", 1, "n", 1);
    rt_duo_close(&d);
}
END_TEST


static Suite *
api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc;

    tc = rt_tcase(s, "defaults", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_item23_defaults);
    tcase_add_test(tc, test_api_inheritance);
    tcase_add_test(tc, test_api_open_many);
    tcase_add_test(tc, test_item24_method_sticky_defaults);
    tcase_add_test(tc, test_item29_origin_and_sequence);
    tcase_add_test(tc, test_item35_txn_pending);

    tc = rt_tcase(s, "limits", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_name_limits);
    tcase_add_test(tc, test_etoobig_nothing_sent);
    tcase_add_test(tc, test_etoobig_reply);
    tcase_add_test(tc, test_max_pending_busy);
    return s;
}

int
main(void)
{
    return tu_run_suite(api_suite());
}
