/*
 * The receiver's side of the runtime API: exact handlers and catch-alls,
 * lookup order, registration at run time, the listener (default, custom,
 * ignore), typed errors, deferred replies, nested calls, the caller's
 * remaining budget, failing event handlers.
 *
 * Items are those of SEED-BEHAVIOURS.md ("item N"); a test of a
 * deliberately changed behaviour says so and tests the port's behaviour.
 */
#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <epyrpc/epyrpc.h>

#include "rt-helpers.h"
#include "testutil.h"

#define SHORT_MS 200

/* A handler answering with its context, a string naming it. */
static int
say_who(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    const char *who = ctx;

    (void) req;
    (void) len;
    RT_CHECK(epy_call_ctx(call) == ctx);
    epy_call_reply(call, who, strlen(who));
    return 0;
}

/* A sync call expecting @who as the answer. */
static void
expect_who(epy_api *api, const char *method, const char *who)
{
    rt_call_expect(api, method, NULL, 0, who, strlen(who));
}

/* A sync call expecting the failure @code; returns nothing. */
static void
expect_fail(epy_api *api, const char *method, int code)
{
    epy_error err = EPY_ERROR_INIT;
    int rc = epy_api_call(api, method, NULL, 0, NULL, NULL, &err);

    ck_assert_msg(rc == code, "%s.%s: %s, expected %s", epy_api_name(api),
                  method, epy_status_name(rc), epy_status_name(code));
    ck_assert_int_eq(err.code, code);
    ck_assert_ptr_nonnull(err.message);
    epy_error_clear(&err);
}

/* --- core: lookup --------------------------------------------------------- */

START_TEST(test_item42_call_accessors)
{
    /* items 41, 42: the handler receives the caller's transaction id and
     * argument, and its answer completes the caller's transaction (the
     * caller's listener sees nothing). */
    rt_duo d;
    rt_listen la;
    epy_async *h = NULL;
    uint8_t req[64];

    rt_duo_open(&d, NULL, NULL);
    rt_listen_init(&la);
    rt_listen_install(&la, d.a);
    rt_fill(req, sizeof req, 42);
    rt_handle(d.b, "api.add", rt_srv_echo, &d.srv);
    ck_assert_int_eq(epy_api_call_async(d.api, "add", req, sizeof req, NULL,
                                        &h, NULL), 0);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    ck_assert_uint_eq(d.srv.last_txn, epy_async_id(h));
    ck_assert(d.srv.last_solicited);
    ck_assert_ptr_eq(d.srv.last_peer, d.b);
    ck_assert_ptr_eq(d.srv.last_ctx, &d.srv);
    ck_assert_str_eq(d.srv.last_method, "api.add");
    ck_assert_int_eq(epy_async_result(h, NULL, NULL), 0);
    epy_async_release(h);
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&la.unhandled), 0);
    rt_duo_close(&d);
    rt_listen_destroy(&la);
}
END_TEST

START_TEST(test_item16_exact_beats_catchall)
{
    /* item 16: on one node, the exact handler wins over the catch-all,
     * which takes the node's other methods. */
    rt_duo d;

    rt_duo_open(&d, NULL, NULL);
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "api", say_who, "all", NULL),
                     0);
    rt_handle(d.b, "api.add", say_who, "add");
    expect_who(d.api, "add", "add");
    expect_who(d.api, "sub", "all");
    expect_who(d.api, "deeper.still", "all");
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item15_catchall_at_run_time)
{
    /* item 15: a catch-all registered at run time on a sub-namespace gets
     * calls of unknown methods under it, with the request's id and
     * argument. */
    rt_duo d;
    epy_api *stats;
    epy_async *h = NULL;
    epy_buf reply = EPY_BUF_INIT;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.add", say_who, "add");
    expect_who(d.api, "add", "add");
    expect_fail(d.api, "stats.mean", EPY_EUNSUPPORTED);
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "api.stats", rt_srv_echo,
                                        &d.srv, NULL), 0);
    stats = rt_api(d.a, "api.stats");
    ck_assert_int_eq(epy_api_call_async(stats, "mean", "1,2,3", 5, NULL, &h,
                                        NULL), 0);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    ck_assert_int_eq(epy_async_result(h, &reply, NULL), 0);
    ck_assert_uint_eq(reply.len, 5);
    ck_assert_mem_eq(reply.data, "1,2,3", 5);
    ck_assert_uint_eq(d.srv.last_txn, epy_async_id(h));
    ck_assert_str_eq(d.srv.last_method, "api.stats.mean");
    epy_async_release(h);
    epy_buf_clear(&reply);
    epy_api_close(stats);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item17_most_specific_wins)
{
    /* item 17, deliberately changed: the most specific handler wins. A
     * child's exact handler and a child's catch-all both win over a
     * parent's catch-all (the original used the parent's). */
    rt_duo d;
    epy_api *x;

    rt_duo_open(&d, NULL, NULL);
    x = rt_api(d.a, "x");
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "x", say_who, "x.*", NULL), 0);
    rt_handle(d.b, "x.b.m", say_who, "x.b.m");
    expect_who(x, "b.m", "x.b.m");
    expect_who(x, "b.n", "x.*");
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "x.b", say_who, "x.b.*", NULL),
                     0);
    expect_who(x, "b.m", "x.b.m");
    expect_who(x, "b.n", "x.b.*");
    expect_who(x, "b.c.d", "x.b.*");
    expect_who(x, "c.n", "x.*");
    expect_who(x, "m", "x.*");
    /* A catch-all of "x.b" does not take "x.bb.m". */
    expect_who(x, "bb.m", "x.*");
    epy_api_close(x);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item19_unregister)
{
    /* item 19: registering, then registering NULL, makes the method
     * unhandled again; it can be registered anew. */
    rt_duo d;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.add", say_who, "add");
    rt_handle(d.b, "api.sub", say_who, "sub");
    expect_who(d.api, "add", "add");
    ck_assert_int_eq(epy_peer_handle(d.b, "api.add", NULL, NULL, NULL), 0);
    expect_fail(d.api, "add", EPY_EUNSUPPORTED);
    ck_assert_int_eq(epy_peer_handle(d.b, "api.add", NULL, NULL, NULL),
                     EPY_ENOTFOUND);
    rt_handle(d.b, "api.add", say_who, "add2");
    expect_who(d.api, "add", "add2");
    /* The catch-all likewise. */
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "api", say_who, "all", NULL),
                     0);
    expect_who(d.api, "mul", "all");
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "api", NULL, NULL, NULL), 0);
    expect_fail(d.api, "mul", EPY_EUNSUPPORTED);
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "api", NULL, NULL, NULL),
                     EPY_ENOTFOUND);
    /* With nothing left in "api", it is unknown. */
    ck_assert_int_eq(epy_peer_handle(d.b, "api.add", NULL, NULL, NULL), 0);
    ck_assert_int_eq(epy_peer_handle(d.b, "api.sub", NULL, NULL, NULL), 0);
    expect_fail(d.api, "add", EPY_EUNKNOWN);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item64_double_registration_refused)
{
    /* item 64, deliberately changed: two handlers for one name are refused
     * at registration (EPY_EEXIST) instead of MultipleResponse at call
     * time; the first stays in effect. */
    rt_duo d;
    epy_error err = EPY_ERROR_INIT;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.ccc", say_who, "first");
    ck_assert_int_eq(epy_peer_handle(d.b, "api.ccc", say_who, "second",
                                     &err), EPY_EEXIST);
    ck_assert_int_eq(err.code, EPY_EEXIST);
    ck_assert_ptr_nonnull(err.message);
    epy_error_clear(&err);
    expect_who(d.api, "ccc", "first");
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "api", say_who, "all1", NULL),
                     0);
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "api", say_who, "all2", NULL),
                     EPY_EEXIST);
    expect_who(d.api, "zzz", "all1");
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item3_unsupported_names_method)
{
    /* item 3: a known namespace without a handler for the method: the
     * default listener answers EPY_EUNSUPPORTED with a message naming the
     * method. */
    rt_duo d;
    epy_error err = EPY_ERROR_INIT;
    epy_api *parent;

    rt_duo_open(&d, NULL, NULL);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "api", true, NULL), 0);
    parent = rt_api(d.a, "api.parent");
    ck_assert_int_eq(epy_api_call(parent, "method_b", NULL, 0, NULL, NULL,
                                  &err), EPY_EUNSUPPORTED);
    ck_assert_int_eq(err.code, EPY_EUNSUPPORTED);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_msg(strstr(err.message, "api.parent.method_b") != NULL,
                  "message does not name the method: %s", err.message);
    epy_error_clear(&err);
    ck_assert(rt_counter_wait(&d.listen.unhandled, 1, RT_WAIT_MS));
    ck_assert_int_eq(d.listen.unhandled_reason, EPY_EUNSUPPORTED);
    ck_assert_str_eq(d.listen.unhandled_method, "api.parent.method_b");
    ck_assert_uint_ne(d.listen.unhandled_txn, EPY_TXN_NONE);
    /* A namespace holding a handler is known as well. */
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "api", false, NULL), 0);
    rt_handle(d.b, "api.parent.method_a", rt_echo, NULL);
    expect_fail(parent, "method_b", EPY_EUNSUPPORTED);
    epy_api_close(parent);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item20_unknown_namespace)
{
    /* item 20: a namespace the receiver does not serve: EPY_EUNKNOWN
     * (the original's Unsupported for foreign namespaces), with a message
     * naming the method; methods under the served one are unsupported. */
    rt_duo d;
    epy_api *other, *mine;
    epy_error err = EPY_ERROR_INIT;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "test.myway.myapi.m", rt_echo, NULL);
    other = rt_api(d.a, "other");
    mine = rt_api(d.a, "test.myway.myapi");
    ck_assert_int_eq(epy_api_call(other, "x", NULL, 0, NULL, NULL, &err),
                     EPY_EUNKNOWN);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_msg(strstr(err.message, "other.x") != NULL,
                  "message does not name the method: %s", err.message);
    epy_error_clear(&err);
    ck_assert(rt_counter_wait(&d.listen.unhandled, 1, RT_WAIT_MS));
    ck_assert_int_eq(d.listen.unhandled_reason, EPY_EUNKNOWN);
    rt_call_expect(mine, "m", "q", 1, "q", 1);
    expect_fail(mine, "zz", EPY_EUNSUPPORTED);
    /* Case matters: "Test" is another namespace. */
    epy_api_close(other);
    other = rt_api(d.a, "Test.myway.myapi");
    expect_fail(other, "m", EPY_EUNKNOWN);
    epy_api_close(other);
    epy_api_close(mine);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_serve_ns_counted)
{
    /* epy_peer_serve_ns(): declarations are counted. */
    rt_duo d;
    epy_api *svc;

    rt_duo_open(&d, NULL, NULL);
    svc = rt_api(d.a, "svc");
    expect_fail(svc, "x", EPY_EUNKNOWN);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "svc", true, NULL), 0);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "svc", true, NULL), 0);
    expect_fail(svc, "x", EPY_EUNSUPPORTED);
    expect_fail(svc, "deep.x", EPY_EUNSUPPORTED);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "svc", false, NULL), 0);
    expect_fail(svc, "x", EPY_EUNSUPPORTED);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "svc", false, NULL), 0);
    expect_fail(svc, "x", EPY_EUNKNOWN);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "svc", false, NULL),
                     EPY_ENOTFOUND);
    epy_api_close(svc);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_registration_bad_args)
{
    /* Registration refuses bad names (EPY_EPARAM) and removal of what is
     * not there (EPY_ENOTFOUND). */
    static const char *const bad[] = { "", ".", "a.", ".a", "a..b", "1a",
                                       "a-b", "a b" };
    rt_duo d;

    rt_duo_open(&d, NULL, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(epy_peer_handle(d.b, bad[i], rt_echo, NULL, NULL)
                      == EPY_EPARAM, "handle \"%s\"", bad[i]);
        ck_assert_msg(epy_peer_handle_ns(d.b, bad[i], rt_echo, NULL, NULL)
                      == EPY_EPARAM, "handle_ns \"%s\"", bad[i]);
        ck_assert_msg(epy_peer_serve_ns(d.b, bad[i], true, NULL)
                      == EPY_EPARAM, "serve_ns \"%s\"", bad[i]);
    }
    ck_assert_int_eq(epy_peer_handle(d.b, NULL, rt_echo, NULL, NULL),
                     EPY_EPARAM);
    ck_assert_int_eq(epy_peer_handle_ns(d.b, NULL, rt_echo, NULL, NULL),
                     EPY_EPARAM);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, NULL, true, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_peer_handle(d.b, "no.such", NULL, NULL, NULL),
                     EPY_ENOTFOUND);
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "no.such", NULL, NULL, NULL),
                     EPY_ENOTFOUND);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "no.such", false, NULL),
                     EPY_ENOTFOUND);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_several_namespaces)
{
    /* items 62, 63, 65 (public face; the port has no arbiter: one peer
     * serves several namespaces): a call reaches only its namespace's
     * handler, exactly once; unhandled methods run no handler; namespaces
     * added and removed in any order (10 inserted, every third insertion
     * removing a random one) answer or are unknown accordingly. */
    static const char *const names[10] = {
        "ns0.api", "ns1.api", "ns2.api", "ns3.api", "ns4.api",
        "ns5.api", "ns6.api", "ns7.api", "ns8.api", "ns9.api"
    };
    rt_duo d;
    rt_srv one, two;
    epy_api *a1, *a2;
    bool present[10] = { false };
    unsigned seed = 65;

    rt_duo_open(&d, NULL, NULL);
    rt_srv_init(&one);
    rt_srv_init(&two);
    rt_handle(d.b, "one.api1.aaa", rt_srv_echo, &one);
    rt_handle(d.b, "two.api1.aaa", rt_srv_echo, &two);
    a1 = rt_api(d.a, "one.api1");
    a2 = rt_api(d.a, "two.api1");
    rt_call_expect(a1, "aaa", "1", 1, "1", 1);
    ck_assert_int_eq(rt_counter_get(&one.calls), 1);
    ck_assert_int_eq(rt_counter_get(&two.calls), 0);
    expect_fail(a1, "zzz", EPY_EUNSUPPORTED);
    expect_fail(a2, "zzz", EPY_EUNSUPPORTED);
    ck_assert_int_eq(rt_counter_get(&one.calls), 1);
    ck_assert_int_eq(rt_counter_get(&two.calls), 0);

    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(epy_peer_handle_ns(d.b, names[i], say_who,
                                            (void *) names[i], NULL), 0);
        present[i] = true;
        if ((i + 1) % 3 == 0) {
            int k;

            do
                k = rand_r(&seed) % (i + 1);
            while (!present[k]);
            ck_assert_int_eq(epy_peer_handle_ns(d.b, names[k], NULL, NULL,
                                                NULL), 0);
            present[k] = false;
        }
        for (int j = 0; j <= i; j++) {
            epy_api *api = rt_api(d.a, names[j]);

            if (present[j])
                expect_who(api, "anything", names[j]);
            else
                expect_fail(api, "anything", EPY_EUNKNOWN);
            epy_api_close(api);
        }
    }
    epy_api_close(a1);
    epy_api_close(a2);
    rt_duo_close(&d);
    rt_srv_destroy(&one);
    rt_srv_destroy(&two);
}
END_TEST

/* --- core: the listener --------------------------------------------------- */

typedef struct generic {
    rt_counter n;
    pthread_mutex_t mu;
    int mode;               /* 0 answer, 1 fail with EPY_EBUSY, 2 defer */
    int reason;
    void *ctx_seen;
    epy_txn_id txn;
    epy_call *deferred;
    rt_counter deferred_n;
} generic;

static int
generic_unhandled(epy_call *call, int reason, const uint8_t *req,
                  size_t req_len, void *ctx)
{
    generic *g = ctx;
    char out[EPY_NAME_MAX + 64];
    int n;

    pthread_mutex_lock(&g->mu);
    g->reason = reason;
    g->ctx_seen = ctx;
    g->txn = epy_call_txn_id(call);
    pthread_mutex_unlock(&g->mu);
    rt_counter_add(&g->n, 1);
    switch (g->mode) {
    case 1:
        return EPY_EBUSY;
    case 2:
        pthread_mutex_lock(&g->mu);
        g->deferred = call;
        pthread_mutex_unlock(&g->mu);
        rt_counter_add(&g->deferred_n, 1);
        return EPY_DEFER;
    default:
        n = snprintf(out, sizeof out, "%s:%s:%.*s", epy_status_name(reason),
                     epy_call_method(call), (int) req_len,
                     (const char *) req);
        epy_call_reply(call, out, (size_t) n);
        return 0;
    }
}

START_TEST(test_item59_custom_listener)
{
    /* item 59: a custom listener receives what no handler takes (with
     * the reason, the id and the argument) and answers like a handler:
     * a reply, a failure code, or a deferred answer; NULL restores the
     * default. */
    static const epy_listener lst = { generic_unhandled, NULL, NULL };
    rt_duo d;
    generic g;
    epy_api *other;
    epy_buf reply = EPY_BUF_INIT;
    epy_async *h = NULL;
    const char *want;

    memset(&g, 0, sizeof g);
    rt_counter_init(&g.n);
    rt_counter_init(&g.deferred_n);
    pthread_mutex_init(&g.mu, NULL);
    rt_duo_open(&d, NULL, NULL);
    epy_peer_set_listener(d.b, &lst, &g);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "api", true, NULL), 0);
    other = rt_api(d.a, "other");

    ck_assert_int_eq(epy_api_call(d.api, "m", "arg", 3, NULL, &reply, NULL),
                     0);
    want = "EPY_EUNSUPPORTED:api.m:arg";
    ck_assert_uint_eq(reply.len, strlen(want));
    ck_assert_mem_eq(reply.data, want, strlen(want));
    ck_assert_ptr_eq(g.ctx_seen, &g);
    ck_assert_int_eq(epy_api_call(other, "n", "z", 1, NULL, &reply, NULL), 0);
    want = "EPY_EUNKNOWN:other.n:z";
    ck_assert_uint_eq(reply.len, strlen(want));
    ck_assert_mem_eq(reply.data, want, strlen(want));

    ck_assert_int_eq(epy_api_call_async(d.api, "m", NULL, 0, NULL, &h, NULL),
                     0);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    ck_assert_uint_eq(g.txn, epy_async_id(h));
    h = epy_async_release(h);

    g.mode = 1;
    expect_fail(d.api, "m", EPY_EBUSY);

    g.mode = 2;
    ck_assert_int_eq(epy_api_call_async(d.api, "m", NULL, 0, NULL, &h, NULL),
                     0);
    ck_assert(rt_counter_wait(&g.deferred_n, 1, RT_WAIT_MS));
    ck_assert_int_eq(epy_call_reply(g.deferred, "done", 4), 0);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    ck_assert_int_eq(epy_async_result(h, &reply, NULL), 0);
    ck_assert_mem_eq(reply.data, "done", 4);
    h = epy_async_release(h);

    /* Events reach the listener too; their answer goes nowhere. */
    g.mode = 0;
    ck_assert_int_eq(epy_api_send(other, "ev", "e", 1, NULL), 0);
    ck_assert(rt_counter_wait(&g.n, 6, RT_WAIT_MS));
    ck_assert_uint_eq(g.txn, EPY_TXN_NONE);

    epy_peer_set_listener(d.b, NULL, NULL);
    expect_fail(other, "n", EPY_EUNKNOWN);
    expect_fail(d.api, "m", EPY_EUNSUPPORTED);
    ck_assert_int_eq(rt_counter_get(&g.n), 6);
    epy_api_close(other);
    epy_buf_clear(&reply);
    rt_duo_close(&d);
    rt_counter_destroy(&g.n);
    rt_counter_destroy(&g.deferred_n);
    pthread_mutex_destroy(&g.mu);
}
END_TEST

START_TEST(test_item61_nothing_served)
{
    /* item 61 (public face; the port has no arbiter): a peer serving
     * nothing answers every call with EPY_EUNKNOWN. */
    epy_peer *a, *b;
    epy_api *api;

    rt_pair(NULL, NULL, &a, &b);
    api = rt_api(a, "one.api1");
    expect_fail(api, "aaa", EPY_EUNKNOWN);
    expect_fail(api, "x.y", EPY_EUNKNOWN);
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
}
END_TEST

START_TEST(test_item58_ignore_unhandled)
{
    /* item 58: with ignore-unhandled, a call no handler takes gets no
     * answer (the caller times out) and the listener is not called;
     * handled methods still work. */
    rt_duo d;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_api *other;
    int64_t t0;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    other = rt_api(d.a, "other");
    epy_peer_set_ignore_unhandled(d.b, true);
    opts.timeout_ms = SHORT_MS;
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_api_call(d.api, "nope", NULL, 0, &opts, NULL, NULL),
                     EPY_ETIMEDOUT);
    ck_assert_int_ge(tu_now_ms() - t0, SHORT_MS - 10);
    ck_assert_int_eq(epy_api_call(other, "x", NULL, 0, &opts, NULL, NULL),
                     EPY_ETIMEDOUT);
    ck_assert_int_eq(epy_api_send(other, "x", NULL, 0, NULL), 0);
    rt_call_expect(d.api, "echo", "s", 1, "s", 1);
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&d.listen.unhandled), 0);
    epy_peer_set_ignore_unhandled(d.b, false);
    expect_fail(other, "x", EPY_EUNKNOWN);
    ck_assert_int_eq(rt_counter_get(&d.listen.unhandled), 1);
    epy_api_close(other);
    rt_duo_close(&d);
}
END_TEST

/* --- core: answers -------------------------------------------------------- */

static int
return_busy(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call;
    (void) req;
    (void) len;
    (void) ctx;
    return EPY_EBUSY;
}

static int
return_nothing(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call;
    (void) req;
    (void) len;
    (void) ctx;
    return 0;
}

static int
reply_twice(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    RT_CHECK_INT_EQ(epy_call_reply(call, req, len), 0);
    RT_CHECK_INT_EQ(epy_call_reply(call, "again", 5), EPY_EPARAM);
    RT_CHECK_INT_EQ(epy_call_fail(call, EPY_EFAILED, NULL, "again", NULL, 0),
                    EPY_EPARAM);
    return 0;
}

START_TEST(test_item2_typed_error_passthrough)
{
    /* item 2: a handler's error reaches the caller unchanged: code, type
     * name, message and payload bytes (NULs included); sync, async and
     * callback alike. A handler returning a code without answering fails
     * the call with that code. */
    static const uint8_t payload[] = { 0, 'd', 0, 0, 'z', 0, 0xff, 0 };
    rt_duo d;
    rt_cb cb;
    epy_error err = EPY_ERROR_INIT;
    epy_buf reply = EPY_BUF_INIT;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h = NULL;

    rt_duo_open(&d, NULL, NULL);
    rt_cb_init(&cb);
    d.srv.fail_code = EPY_EFAILED;
    d.srv.fail_type = "calc.divide_by_zero";
    d.srv.fail_message = "cannot divide 1 by 0";
    d.srv.fail_payload = payload;
    d.srv.fail_len = sizeof payload;
    rt_handle(d.b, "api.div", rt_srv_fail, &d.srv);
    ck_assert_int_eq(epy_buf_set(&reply, "keep", 4), 0);
    ck_assert_int_eq(epy_api_call(d.api, "div", "1/0", 3, NULL, &reply,
                                  &err), EPY_EFAILED);
    ck_assert_uint_eq(reply.len, 4);
    ck_assert_int_eq(err.code, EPY_EFAILED);
    ck_assert_str_eq(err.type, "calc.divide_by_zero");
    ck_assert_str_eq(err.message, "cannot divide 1 by 0");
    ck_assert_uint_eq(err.payload_len, sizeof payload);
    ck_assert_mem_eq(err.payload, payload, sizeof payload);
    epy_error_clear(&err);

    ck_assert_int_eq(epy_api_call_async(d.api, "div", NULL, 0, NULL, &h,
                                        NULL), 0);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), EPY_EFAILED);
    ck_assert_int_eq(epy_async_result(h, &reply, &err), EPY_EFAILED);
    ck_assert_str_eq(err.type, "calc.divide_by_zero");
    ck_assert_str_eq(err.message, "cannot divide 1 by 0");
    ck_assert_uint_eq(err.payload_len, sizeof payload);
    ck_assert_mem_eq(err.payload, payload, sizeof payload);
    epy_error_clear(&err);
    h = epy_async_release(h);

    opts.callback = rt_cb_fn;
    opts.callback_ctx = &cb;
    ck_assert_int_eq(epy_api_call_async(d.api, "div", NULL, 0, &opts, NULL,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&cb.count, 1, RT_WAIT_MS));
    ck_assert_int_eq(cb.rc, EPY_EFAILED);
    ck_assert_int_eq(cb.status, EPY_ASYNC_FAILED);
    ck_assert_str_eq(cb.err.type, "calc.divide_by_zero");
    ck_assert_uint_eq(cb.err.payload_len, sizeof payload);
    ck_assert_mem_eq(cb.err.payload, payload, sizeof payload);

    /* Another code, no type, no message, no payload. */
    d.srv.fail_code = EPY_ENOTFOUND;
    d.srv.fail_type = NULL;
    d.srv.fail_message = NULL;
    d.srv.fail_payload = NULL;
    d.srv.fail_len = 0;
    ck_assert_int_eq(epy_api_call(d.api, "div", NULL, 0, NULL, NULL, &err),
                     EPY_ENOTFOUND);
    ck_assert_int_eq(err.code, EPY_ENOTFOUND);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_ptr_null(err.type);
    ck_assert_uint_eq(err.payload_len, 0);
    epy_error_clear(&err);

    /* The error as the handler's return value. */
    rt_handle(d.b, "api.busy", return_busy, NULL);
    ck_assert_int_eq(epy_api_call(d.api, "busy", NULL, 0, NULL, NULL, &err),
                     EPY_EBUSY);
    ck_assert_int_eq(err.code, EPY_EBUSY);
    ck_assert_ptr_nonnull(err.message);
    epy_error_clear(&err);

    /* No answer and 0: an empty result. */
    rt_handle(d.b, "api.nothing", return_nothing, NULL);
    ck_assert_int_eq(epy_api_call(d.api, "nothing", "x", 1, NULL, &reply,
                                  NULL), 0);
    ck_assert_uint_eq(reply.len, 0);

    /* A second answer is refused; the first one counts. */
    rt_handle(d.b, "api.twice", reply_twice, NULL);
    rt_call_expect(d.api, "twice", "first", 5, "first", 5);
    epy_buf_clear(&reply);
    rt_duo_close(&d);
    rt_cb_destroy(&cb);
}
END_TEST

/* Deferred answers given by a thread of the test's own. */
typedef struct replier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    epy_call *calls[64];
    int n_in, n_out;
    bool stop;
    pthread_t th;
} replier;

static int
defer_to_replier(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    replier *r = ctx;

    (void) req;
    (void) len;
    pthread_mutex_lock(&r->mu);
    if (r->n_in < 64)
        r->calls[r->n_in++] = call;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return EPY_DEFER;
}

static void *
replier_main(void *arg)
{
    replier *r = arg;

    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->n_out == r->n_in && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->n_out == r->n_in)
            break;
        {
            epy_call *call = r->calls[r->n_out];
            int i = r->n_out++;
            char text[16];

            pthread_mutex_unlock(&r->mu);
            RT_CHECK(!epy_call_cancelled(call));
            snprintf(text, sizeof text, "r%d", i);
            if (i % 2 == 0)
                RT_CHECK_INT_EQ(epy_call_reply(call, text, strlen(text)), 0);
            else
                RT_CHECK_INT_EQ(epy_call_fail(call, EPY_EFAILED, "t.odd",
                                              text, "\0p", 2), 0);
            pthread_mutex_lock(&r->mu);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

START_TEST(test_deferred_reply_other_thread)
{
    /* Handlers keep their calls (EPY_DEFER) and another thread answers
     * them later, with results and with typed errors. */
    enum { N = 10 };
    rt_duo d;
    replier r;
    epy_async *h[N];
    epy_buf reply = EPY_BUF_INIT;
    epy_error err = EPY_ERROR_INIT;

    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    ck_assert_int_eq(pthread_create(&r.th, NULL, replier_main, &r), 0);
    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.later", defer_to_replier, &r);
    /* One at a time, so answer i belongs to call i. */
    for (int i = 0; i < N; i++) {
        char text[16];

        snprintf(text, sizeof text, "r%d", i);
        ck_assert_int_eq(epy_api_call_async(d.api, "later", NULL, 0, NULL,
                                            &h[i], NULL), 0);
        if (i % 2 == 0) {
            ck_assert_int_eq(epy_async_wait(h[i], RT_WAIT_MS), 0);
            ck_assert_int_eq(epy_async_result(h[i], &reply, NULL), 0);
            ck_assert_uint_eq(reply.len, strlen(text));
            ck_assert_mem_eq(reply.data, text, strlen(text));
        } else {
            ck_assert_int_eq(epy_async_wait(h[i], RT_WAIT_MS), EPY_EFAILED);
            ck_assert_int_eq(epy_async_result(h[i], NULL, &err),
                             EPY_EFAILED);
            ck_assert_str_eq(err.type, "t.odd");
            ck_assert_str_eq(err.message, text);
            ck_assert_uint_eq(err.payload_len, 2);
            ck_assert_mem_eq(err.payload, "\0p", 2);
            epy_error_clear(&err);
        }
        epy_async_release(h[i]);
    }
    pthread_mutex_lock(&r.mu);
    r.stop = true;
    pthread_cond_signal(&r.cv);
    pthread_mutex_unlock(&r.mu);
    pthread_join(r.th, NULL);
    epy_buf_clear(&reply);
    rt_duo_close(&d);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
}
END_TEST

typedef struct spent {
    rt_counter done;
    rt_gate release;
    int64_t first_remaining;
    bool reached_zero;
    bool cancelled_then;
} spent;

/* Waits (polling, as a handler would) until the budget is spent. */
static int
wait_budget_spent(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    spent *s = ctx;
    int64_t end = tu_now_ms() + 4 * RT_WAIT_MS;

    (void) req;
    (void) len;
    s->first_remaining = epy_call_remaining_ms(call);
    while (epy_call_remaining_ms(call) != 0 && tu_now_ms() < end)
        rt_sleep_ms(1);
    s->reached_zero = epy_call_remaining_ms(call) == 0;
    s->cancelled_then = epy_call_cancelled(call);
    /* Answer only once the caller has given up. */
    rt_gate_wait(&s->release, 4 * RT_WAIT_MS);
    rt_counter_add(&s->done, 1);
    return 0;
}

START_TEST(test_remaining_budget)
{
    /* The caller's remaining budget travels with the call: the handler
     * sees at most the caller's timeout, -1 without limit, 0 once it is
     * spent; once the caller's timeout has passed, the call reads as
     * cancelled. */
    rt_duo d;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    spent sp = { .reached_zero = false };

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.echo", rt_srv_echo, &d.srv);
    opts.timeout_ms = 3000;
    ck_assert_int_eq(epy_api_call(d.api, "echo", NULL, 0, &opts, NULL, NULL),
                     0);
    ck_assert_int_le(d.srv.last_remaining, 3000);
    ck_assert_int_ge(d.srv.last_remaining, 3000 - 1000 * tu_slow());
    ck_assert_int_eq(epy_api_call(d.api, "echo", NULL, 0, NULL, NULL, NULL),
                     0);
    ck_assert_int_eq(d.srv.last_remaining, -1);
    ck_assert_int_eq(epy_api_set_timeout(d.api, 2000), 0);
    ck_assert_int_eq(epy_api_call(d.api, "echo", NULL, 0, NULL, NULL, NULL),
                     0);
    ck_assert_int_le(d.srv.last_remaining, 2000);
    ck_assert_int_ge(d.srv.last_remaining, 1);

    /* A short budget: seen at the start, then 0 once spent, and then the
     * call reads as cancelled. */
    opts.timeout_ms = SHORT_MS;
    rt_counter_init(&sp.done);
    rt_gate_init(&sp.release);
    rt_handle(d.b, "api.spend", wait_budget_spent, &sp);
    ck_assert_int_eq(epy_api_call(d.api, "spend", NULL, 0, &opts, NULL,
                                  NULL), EPY_ETIMEDOUT);
    rt_gate_open(&sp.release);
    ck_assert(rt_counter_wait(&sp.done, 1, 2 * RT_WAIT_MS));
    ck_assert_int_ge(sp.first_remaining, 1);
    ck_assert_int_le(sp.first_remaining, SHORT_MS);
    ck_assert(sp.reached_zero);
    ck_assert(sp.cancelled_then);
    rt_counter_destroy(&sp.done);
    rt_gate_destroy(&sp.release);
    rt_duo_close(&d);
}
END_TEST

/* --- core: events --------------------------------------------------------- */

static int
event_fails_typed(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req;
    (void) len;
    (void) ctx;
    RT_CHECK(!epy_call_solicited(call));
    epy_call_fail(call, EPY_EFAILED, "api.event_error", "boom", "\0", 1);
    return 0;
}

START_TEST(test_event_failed_reaches_listener)
{
    /* A failing event handler is reported to the receiver's listener
     * (event_failed): by its return code, or with the error it raised;
     * with the default listener, as a log line. The sender sees nothing. */
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_log log;
    rt_duo d;
    long before;

    rt_log_init(&log);
    cb.log = rt_log_fn;
    cb.log_ctx = &log;
    rt_duo_open(&d, NULL, &cb);
    rt_handle(d.b, "api.busy", return_busy, NULL);
    rt_handle(d.b, "api.typed", event_fails_typed, NULL);
    ck_assert_int_eq(epy_api_send(d.api, "busy", NULL, 0, NULL), 0);
    ck_assert(rt_counter_wait(&d.listen.event_failed, 1, RT_WAIT_MS));
    ck_assert_int_eq(d.listen.failed_code, EPY_EBUSY);
    ck_assert_str_eq(d.listen.failed_method, "api.busy");
    ck_assert_int_eq(epy_api_send(d.api, "typed", NULL, 0, NULL), 0);
    ck_assert(rt_counter_wait(&d.listen.event_failed, 2, RT_WAIT_MS));
    ck_assert_int_eq(d.listen.failed_code, EPY_EFAILED);
    ck_assert(d.listen.failed_has_err);
    ck_assert_str_eq(d.listen.failed_type, "api.event_error");
    ck_assert_str_eq(d.listen.failed_message, "boom");
    ck_assert_str_eq(d.listen.failed_method, "api.typed");
    /* Solicited calls of the same handlers are no event failures. */
    expect_fail(d.api, "busy", EPY_EBUSY);
    ck_assert_int_eq(rt_counter_get(&d.listen.event_failed), 2);

    /* The default listener logs it. */
    epy_peer_set_listener(d.b, NULL, NULL);
    before = rt_log_count(&log);
    ck_assert_int_eq(epy_api_send(d.api, "busy", NULL, 0, NULL), 0);
    ck_assert_msg(rt_log_wait(&log, before + 1, RT_WAIT_MS),
                  "no log line for a failed event");
    ck_assert_int_eq(epy_peer_status(d.a), 0);
    rt_duo_close(&d);
    rt_log_destroy(&log);
}
END_TEST

/* --- threads -------------------------------------------------------------- */

/* ctx: the api this side uses to call the other side. */
static int
nested_down(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    epy_api *other = ctx;
    epy_buf reply = EPY_BUF_INIT;
    int32_t n, r = -1;
    int rc;

    if (len != sizeof n) {
        rt_note_failure(__FILE__, __LINE__, "bad argument length %zu", len);
        return EPY_EPARAM;
    }
    memcpy(&n, req, sizeof n);
    if (n == 0) {
        r = 0;
    } else {
        int32_t m = n - 1;

        rc = epy_api_call(other, "down", &m, sizeof m, NULL, &reply, NULL);
        if (rc < 0) {
            epy_buf_clear(&reply);
            return rc;
        }
        if (reply.len == sizeof r) {
            memcpy(&r, reply.data, sizeof r);
            r++;
        }
    }
    epy_buf_clear(&reply);
    epy_call_reply(call, &r, sizeof r);
    return 0;
}

START_TEST(test_nested_calls_one_worker)
{
    /* A handler calls back into its caller, which calls back in turn,
     * six deep, with one worker on each side: no deadlock (a worker
     * blocked in a call is covered by a spare one). */
    epy_peer_config one = EPY_PEER_CONFIG_INIT;
    epy_peer *a, *b;
    epy_api *to_b, *to_a;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_buf reply = EPY_BUF_INIT;
    int32_t n = 6, r = -1;

    one.workers = 1;
    rt_pair(&one, &one, &a, &b);
    ck_assert_int_eq(epy_peer_workers(a), 1);
    to_b = rt_api(a, "b");
    to_a = rt_api(b, "a");
    rt_handle(a, "a.down", nested_down, to_b);
    rt_handle(b, "b.down", nested_down, to_a);
    /* A deadlock shows as a timeout, not a hung test. */
    opts.timeout_ms = 10000 * tu_slow();
    ck_assert_int_eq(epy_api_call(to_b, "down", &n, sizeof n, &opts, &reply,
                                  NULL), 0);
    ck_assert_uint_eq(reply.len, sizeof r);
    memcpy(&r, reply.data, sizeof r);
    ck_assert_int_eq(r, 6);
    n = 5;
    ck_assert_int_eq(epy_api_call(to_a, "down", &n, sizeof n, &opts, &reply,
                                  NULL), 0);
    memcpy(&r, reply.data, sizeof r);
    ck_assert_int_eq(r, 5);
    epy_buf_clear(&reply);
    epy_api_close(to_a);
    epy_api_close(to_b);
    epy_peer_close(a);
    epy_peer_close(b);
}
END_TEST

START_TEST(test_item57_reader_not_blocked)
{
    /* item 57: handlers run on workers, not on the reading thread: with
     * the only worker busy, a second call is queued (no immediate answer)
     * while the connection still carries other traffic; both complete
     * later with their own ids. */
    epy_peer_config one = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    rt_srv s2;
    epy_async *h1 = NULL, *h2 = NULL;

    one.workers = 1;
    rt_duo_open(&d, NULL, &one);
    rt_srv_init(&s2);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    rt_handle(d.b, "api.echo", rt_srv_echo, &s2);
    ck_assert_int_eq(epy_api_call_async(d.api, "block", "1", 1, NULL, &h1,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&d.srv.started, 1, RT_WAIT_MS));
    ck_assert_int_eq(epy_api_call_async(d.api, "echo", "2", 1, NULL, &h2,
                                        NULL), 0);
    /* b's reader still works: b calls a and reads the reply. */
    rt_ping(d.b);
    ck_assert_int_eq(epy_async_wait(h2, 100), EPY_EPENDING);
    ck_assert_int_eq(rt_counter_get(&s2.calls), 0);
    rt_gate_open(&d.srv.gate);
    ck_assert_int_eq(epy_async_wait(h1, RT_WAIT_MS), 0);
    ck_assert_int_eq(epy_async_wait(h2, RT_WAIT_MS), 0);
    ck_assert_uint_eq(d.srv.last_txn, epy_async_id(h1));
    ck_assert_uint_eq(s2.last_txn, epy_async_id(h2));
    ck_assert(s2.last_solicited);
    epy_async_release(h1);
    epy_async_release(h2);
    rt_duo_close(&d);
    rt_srv_destroy(&s2);
}
END_TEST

typedef struct unreg {
    epy_peer *peer;
    rt_counter returned;
    int rc;
} unreg;

static void *
unregister_main(void *arg)
{
    unreg *u = arg;

    u->rc = epy_peer_handle(u->peer, "api.block", NULL, NULL, NULL);
    rt_counter_add(&u->returned, 1);
    return NULL;
}

START_TEST(test_item60_unregister_waits_running)
{
    /* item 60 (public face): removing a handler waits until its running
     * invocations have returned; afterwards the name can be registered
     * again. */
    rt_duo d;
    unreg u;
    pthread_t th;
    epy_async *h = NULL;

    rt_duo_open(&d, NULL, NULL);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "api", true, NULL), 0);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    ck_assert_int_eq(epy_api_call_async(d.api, "block", "u", 1, NULL, &h,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&d.srv.started, 1, RT_WAIT_MS));
    u.peer = d.b;
    u.rc = 1;
    rt_counter_init(&u.returned);
    ck_assert_int_eq(pthread_create(&th, NULL, unregister_main, &u), 0);
    /* Not returning is the point: look for a while. */
    ck_assert(!rt_counter_wait(&u.returned, 1, 150));
    rt_gate_open(&d.srv.gate);
    ck_assert(rt_counter_wait(&u.returned, 1, RT_WAIT_MS));
    pthread_join(th, NULL);
    ck_assert_int_eq(u.rc, 0);
    ck_assert_int_eq(rt_counter_get(&d.srv.done), 1);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    epy_async_release(h);
    expect_fail(d.api, "block", EPY_EUNSUPPORTED);
    rt_handle(d.b, "api.block", say_who, "again");
    expect_who(d.api, "block", "again");
    rt_counter_destroy(&u.returned);
    rt_duo_close(&d);
}
END_TEST

static int
remove_myself(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    RT_CHECK_INT_EQ(epy_peer_handle(epy_call_peer(call),
                                    epy_call_method(call), NULL, NULL, NULL),
                    0);
    epy_call_reply(call, req, len);
    return 0;
}

START_TEST(test_unregister_from_own_handler)
{
    /* A handler may remove its own registration (no wait on itself). */
    rt_duo d;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;

    rt_duo_open(&d, NULL, NULL);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "api", true, NULL), 0);
    rt_handle(d.b, "api.once", remove_myself, NULL);
    opts.timeout_ms = RT_WAIT_MS;
    ck_assert_int_eq(epy_api_call(d.api, "once", "o", 1, &opts, NULL, NULL),
                     0);
    expect_fail(d.api, "once", EPY_EUNSUPPORTED);
    rt_duo_close(&d);
}
END_TEST

typedef struct churn {
    epy_api *api;
    rt_gate *stop;
    rt_counter calls;
    long ok, unsupported, other;
    int last_other;
} churn;

static void *
churn_caller(void *arg)
{
    churn *c = arg;
    epy_buf reply = EPY_BUF_INIT;

    while (!rt_gate_is_open(c->stop)) {
        int rc = epy_api_call(c->api, "m", "ab", 2, NULL, &reply, NULL);

        if (rc == 0 && reply.len == 2 && memcmp(reply.data, "ab", 2) == 0)
            c->ok++;
        else if (rc == EPY_EUNSUPPORTED)
            c->unsupported++;
        else {
            c->other++;
            c->last_other = rc;
        }
        rt_counter_add(&c->calls, 1);
    }
    epy_buf_clear(&reply);
    return NULL;
}

START_TEST(test_handlers_change_under_load)
{
    /* Registering and removing a handler while calls to it are flowing
     * from two threads: every call is either handled or unsupported,
     * nothing else. */
    enum { CHANGES = 200, CALLS = 200 };
    rt_duo d;
    rt_gate stop;
    churn c[2];
    pthread_t th[2];
    int64_t end;

    rt_duo_open(&d, NULL, NULL);
    rt_gate_init(&stop);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "dyn", true, NULL), 0);
    for (int i = 0; i < 2; i++) {
        memset(&c[i], 0, sizeof c[i]);
        rt_counter_init(&c[i].calls);
        c[i].api = rt_api(d.a, "dyn");
        c[i].stop = &stop;
        ck_assert_int_eq(pthread_create(&th[i], NULL, churn_caller, &c[i]),
                         0);
    }
    /* Change the registration while both callers are under way. */
    ck_assert(rt_counter_wait(&c[0].calls, 1, RT_WAIT_MS));
    ck_assert(rt_counter_wait(&c[1].calls, 1, RT_WAIT_MS));
    end = tu_now_ms() + RT_WAIT_MS;
    for (int i = 0; i < CHANGES
         || (tu_now_ms() < end && (rt_counter_get(&c[0].calls) < CALLS
                                   || rt_counter_get(&c[1].calls) < CALLS));
         i++) {
        rt_handle(d.b, "dyn.m", rt_echo, NULL);
        ck_assert_int_eq(epy_peer_handle(d.b, "dyn.m", NULL, NULL, NULL), 0);
    }
    rt_gate_open(&stop);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(c[i].other == 0, "caller %d: %ld unexpected outcomes, "
                      "last %s", i, c[i].other,
                      epy_status_name(c[i].last_other));
        ck_assert_int_ge(c[i].ok + c[i].unsupported, CALLS);
        epy_api_close(c[i].api);
        rt_counter_destroy(&c[i].calls);
    }
    rt_gate_destroy(&stop);
    rt_duo_close(&d);
}
END_TEST

static Suite *
handler_suite(void)
{
    Suite *s = suite_create("handler");
    TCase *tc;

    tc = rt_tcase(s, "core", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_item42_call_accessors);
    tcase_add_test(tc, test_item16_exact_beats_catchall);
    tcase_add_test(tc, test_item15_catchall_at_run_time);
    tcase_add_test(tc, test_item17_most_specific_wins);
    tcase_add_test(tc, test_item19_unregister);
    tcase_add_test(tc, test_item3_unsupported_names_method);
    tcase_add_test(tc, test_item20_unknown_namespace);
    tcase_add_test(tc, test_serve_ns_counted);
    tcase_add_test(tc, test_several_namespaces);
    tcase_add_test(tc, test_item59_custom_listener);
    tcase_add_test(tc, test_item61_nothing_served);
    tcase_add_test(tc, test_item58_ignore_unhandled);
    tcase_add_test(tc, test_item2_typed_error_passthrough);
    tcase_add_test(tc, test_deferred_reply_other_thread);
    tcase_add_test(tc, test_remaining_budget);
    tcase_add_test(tc, test_event_failed_reaches_listener);

    tc = rt_tcase(s, "errors", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_item64_double_registration_refused);
    tcase_add_test(tc, test_registration_bad_args);

    tc = rt_tcase(s, "threads", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_nested_calls_one_worker);
    tcase_add_test(tc, test_item57_reader_not_blocked);
    tcase_add_test(tc, test_item60_unregister_waits_running);
    tcase_add_test(tc, test_unregister_from_own_handler);
    tcase_add_test(tc, test_handlers_change_under_load);
    return s;
}

int
main(void)
{
    return tu_run_suite(handler_suite());
}
