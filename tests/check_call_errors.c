/*
 * The caller's side of the runtime API when calls fail: timeouts,
 * cancel, late replies, refused modes, names and timeouts, and the
 * connection ending under a caller (check_call.c: calls that succeed).
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

/* A timeout short enough to keep the suite fast, long enough to measure. */
#define SHORT_MS 200

static void
err_expect(const epy_error *err, int code)
{
    ck_assert_int_eq(err->code, code);
    ck_assert_ptr_nonnull(err->message);
}

/* --- errors: timeouts, cancel, refused calls ------------------------------ */

START_TEST(test_item4_sync_timeout)
{
    /* item 4: a sync call times out after about its timeout with
     * EPY_ETIMEDOUT, and its transaction is gone. */
    rt_duo d;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_buf reply = EPY_BUF_INIT;
    int64_t t0, el;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    ck_assert_int_eq(epy_buf_set(&reply, "keep", 4), 0);
    opts.timeout_ms = SHORT_MS;
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_api_call(d.api, "block", "t", 1, &opts, &reply,
                                  &err), EPY_ETIMEDOUT);
    el = tu_now_ms() - t0;
    ck_assert_int_ge(el, SHORT_MS - 10);
    ck_assert_int_lt(el, SHORT_MS + 1000 * tu_slow());
    err_expect(&err, EPY_ETIMEDOUT);
    /* Out-parameters are untouched on failure. */
    ck_assert_uint_eq(reply.len, 4);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    /* The same through the api's default. */
    ck_assert_int_eq(epy_api_set_timeout(d.api, SHORT_MS), 0);
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_api_call(d.api, "block", "t", 1, NULL, NULL, NULL),
                     EPY_ETIMEDOUT);
    ck_assert_int_ge(tu_now_ms() - t0, SHORT_MS - 10);
    rt_gate_open(&d.srv.gate);
    ck_assert(rt_counter_wait(&d.srv.done, 2, RT_WAIT_MS));
    rt_ping(d.a);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    epy_error_clear(&err);
    epy_buf_clear(&reply);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item8_async_timeout)
{
    /* item 8: an async call with a timeout reports EPY_ETIMEDOUT through
     * its handle. */
    rt_duo d;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_async *h = NULL;
    int64_t t0;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    opts.timeout_ms = SHORT_MS;
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_api_call_async(d.api, "block", NULL, 0, &opts, &h,
                                        NULL), 0);
    ck_assert_int_eq(epy_async_wait(h, EPY_FOREVER), EPY_ETIMEDOUT);
    ck_assert_int_ge(tu_now_ms() - t0, SHORT_MS - 10);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_TIMEDOUT);
    ck_assert_int_eq(epy_async_result(h, NULL, &err), EPY_ETIMEDOUT);
    err_expect(&err, EPY_ETIMEDOUT);
    /* Cancelling a call that completed already (item 34's public face:
     * nothing to find). */
    ck_assert_int_eq(epy_async_cancel(h), EPY_ENOTFOUND);
    epy_async_release(h);
    epy_error_clear(&err);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item10_callback_timeout)
{
    /* item 10: a callback call times out: the callback gets ETIMEDOUT,
     * once. */
    rt_duo d;
    rt_cb cb;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;

    rt_duo_open(&d, NULL, NULL);
    rt_cb_init(&cb);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    opts.timeout_ms = SHORT_MS;
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &cb;
    ck_assert_int_eq(epy_api_call_async(d.api, "block", NULL, 0, &opts, NULL,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&cb.count, 1, RT_WAIT_MS));
    ck_assert_int_eq(cb.rc, EPY_ETIMEDOUT);
    ck_assert_int_eq(cb.status, EPY_ASYNC_TIMEDOUT);
    ck_assert_int_eq(cb.err.code, EPY_ETIMEDOUT);
    /* The late reply after the timeout runs no second callback. */
    rt_gate_open(&d.srv.gate);
    ck_assert(rt_counter_wait(&d.srv.done, 1, RT_WAIT_MS));
    rt_ping(d.b);
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&cb.count), 1);
    rt_duo_close(&d);
    rt_cb_destroy(&cb);
}
END_TEST

START_TEST(test_item32_wait_bounds_wait_only)
{
    /* item 32, adapted: a timed wait on a handle bounds the wait, not the
     * call (the call's own timeout is what fails a call): EPY_EPENDING. */
    rt_duo d;
    epy_async *h = NULL;
    int64_t t0;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    ck_assert_int_eq(epy_api_call_async(d.api, "block", "p", 1, NULL, &h,
                                        NULL), 0);
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_async_wait(h, 100), EPY_EPENDING);
    ck_assert_int_ge(tu_now_ms() - t0, 90);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_PENDING);
    rt_gate_open(&d.srv.gate);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    epy_async_release(h);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_cancel)
{
    /* Cancel: the call completes with EPY_ECANCELED (handle, callback),
     * the receiver learns it may skip the work, a second cancel finds
     * nothing. */
    rt_duo d;
    rt_cb cb;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_async *h = NULL, *h2 = NULL;

    rt_duo_open(&d, NULL, NULL);
    rt_cb_init(&cb);
    rt_handle(d.b, "api.work", rt_srv_until_cancel, &d.srv);
    ck_assert_int_eq(epy_api_call_async(d.api, "work", NULL, 0, NULL, &h,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&d.srv.started, 1, RT_WAIT_MS));
    ck_assert_int_eq(epy_async_cancel(h), 0);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_CANCELLED);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), EPY_ECANCELED);
    ck_assert_int_eq(epy_async_result(h, NULL, &err), EPY_ECANCELED);
    err_expect(&err, EPY_ECANCELED);
    ck_assert_int_eq(epy_async_cancel(h), EPY_ENOTFOUND);
    ck_assert(rt_counter_wait(&d.srv.cancels_seen, 1, RT_WAIT_MS));
    h = epy_async_release(h);

    opts.callback = rt_cb_fn;
    opts.callback_ctx = &cb;
    ck_assert_int_eq(epy_api_call_async(d.api, "work", NULL, 0, &opts, &h2,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&d.srv.started, 2, RT_WAIT_MS));
    ck_assert_int_eq(epy_async_cancel(h2), 0);
    ck_assert(rt_counter_wait(&cb.count, 1, RT_WAIT_MS));
    ck_assert_int_eq(cb.rc, EPY_ECANCELED);
    ck_assert_int_eq(cb.status, EPY_ASYNC_CANCELLED);
    ck_assert(rt_counter_wait(&d.srv.cancels_seen, 2, RT_WAIT_MS));
    ck_assert(rt_counter_wait(&d.srv.done, 2, RT_WAIT_MS));
    /* The receiver's answer after the cancel is dropped: one callback. */
    rt_ping(d.b);
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&cb.count), 1);
    epy_async_release(h2);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    epy_error_clear(&err);
    rt_duo_close(&d);
    rt_cb_destroy(&cb);
}
END_TEST

START_TEST(test_release_pending_cancels)
{
    /* Releasing the handle of a pending call cancels it first. */
    rt_duo d;
    epy_async *h = NULL;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.work", rt_srv_until_cancel, &d.srv);
    ck_assert_int_eq(epy_api_call_async(d.api, "work", NULL, 0, NULL, &h,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&d.srv.started, 1, RT_WAIT_MS));
    ck_assert_ptr_null(epy_async_release(h));
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    ck_assert(rt_counter_wait(&d.srv.cancels_seen, 1, RT_WAIT_MS));
    ck_assert(rt_counter_wait(&d.srv.done, 1, RT_WAIT_MS));
    rt_ping(d.a);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item72_late_reply_dropped)
{
    /* item 72 (a deliberate fix): a reply arriving after its call timed
     * out is dropped with a log line, never delivered as a new call; so
     * is a reply whose id has another origin (item 30's public face); the
     * next call gets its own reply. The test plays the other end by hand,
     * so that its answer surely comes after the timeout. */
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    rt_log log;
    rt_listen l;
    int sv[2];
    epy_peer *p;
    epy_api *api;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h = NULL;
    epy_buf reply = EPY_BUF_INIT;
    rt_frame f, f2;
    long before;

    rt_log_init(&log);
    rt_listen_init(&l);
    cfg.log = rt_log_fn;
    cfg.log_ctx = &log;
    p = rt_raw_peer(sv, &cfg);
    rt_listen_install(&l, p);
    rt_wire_hello(sv[1]);
    ck_assert_int_eq(epy_peer_wait_ready(p, RT_WAIT_MS, NULL), 0);
    api = rt_api(p, "x");
    opts.timeout_ms = SHORT_MS;
    ck_assert_int_eq(epy_api_call(api, "m", "q", 1, &opts, NULL, NULL),
                     EPY_ETIMEDOUT);
    ck_assert(rt_wire_read(sv[1], RT_KIND_CALL, &f, RT_WAIT_MS));
    ck_assert(f.has_txn);
    ck_assert_str_eq(f.method, "x.m");
    ck_assert(!epy_peer_txn_pending(p, f.txn));

    before = rt_log_count(&log);
    rt_wire_write(sv[1], RT_KIND_REPLY, f.txn, 0, "late", 4);
    ck_assert_msg(rt_log_wait(&log, before + 1, RT_WAIT_MS),
                  "no log line for the late reply");
    before = rt_log_count(&log);
    rt_wire_write(sv[1], RT_KIND_REPLY, EPY_TXN_MAKE(9, EPY_TXN_SEQ(f.txn)),
                  0, "foreign", 7);
    ck_assert_msg(rt_log_wait(&log, before + 1, RT_WAIT_MS),
                  "no log line for a reply of another origin");

    ck_assert_int_eq(epy_api_call_async(api, "m", "r", 1, NULL, &h, NULL),
                     0);
    ck_assert(rt_wire_read(sv[1], RT_KIND_CALL, &f2, RT_WAIT_MS));
    ck_assert_uint_eq(f2.txn, epy_async_id(h));
    ck_assert_uint_ne(f2.txn, f.txn);
    rt_wire_write(sv[1], RT_KIND_REPLY, f2.txn, 0, "own", 3);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    ck_assert_int_eq(epy_async_result(h, &reply, NULL), 0);
    ck_assert_uint_eq(reply.len, 3);
    ck_assert_mem_eq(reply.data, "own", 3);
    epy_async_release(h);

    ck_assert_int_eq(rt_counter_get(&l.unhandled), 0);
    ck_assert_int_eq(epy_peer_status(p), 0);
    ck_assert_uint_eq(epy_peer_pending_count(p), 0);
    epy_buf_clear(&reply);
    epy_api_close(api);
    epy_peer_close(p);
    close(sv[1]);
    rt_listen_destroy(&l);
    rt_log_destroy(&log);
}
END_TEST

START_TEST(test_item25_bad_timeouts)
{
    /* item 25: a negative timeout is refused with EPY_EPARAM and nothing
     * is sent; 0 stores "without limit"; at most EPY_TIMEOUT_MAX. */
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h = NULL;
    epy_error err = EPY_ERROR_INIT;

    cb.workers = 1;
    rt_duo_open(&d, NULL, &cb);
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "api", rt_srv_echo, &d.srv,
                                        NULL), 0);
    ck_assert_int_eq(epy_api_set_timeout(d.api, 300), 0);
    ck_assert_int_eq(epy_api_set_timeout(d.api, -5), EPY_EPARAM);
    ck_assert_int_eq(epy_api_timeout(d.api), 300);
    ck_assert_int_eq(epy_api_set_timeout(d.api, EPY_TIMEOUT_MAX + 1),
                     EPY_EPARAM);
    ck_assert_int_eq(epy_api_set_timeout(d.api, EPY_TIMEOUT_MAX), 0);
    ck_assert_int_eq(epy_api_timeout(d.api), EPY_TIMEOUT_MAX);
    ck_assert_int_eq(epy_api_set_timeout(d.api, 0), 0);
    ck_assert_int_eq(epy_api_timeout(d.api), EPY_FOREVER);

    opts.timeout_ms = -7;
    ck_assert_int_eq(epy_api_call(d.api, "m", "x", 1, &opts, NULL, &err),
                     EPY_EPARAM);
    err_expect(&err, EPY_EPARAM);
    ck_assert_int_eq(epy_api_call_async(d.api, "m", "x", 1, &opts, &h, NULL),
                     EPY_EPARAM);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(epy_api_invoke(d.api, "m", "x", 1, &opts, &h, NULL),
                     EPY_EPARAM);
    ck_assert_ptr_null(h);
    opts.timeout_ms = EPY_TIMEOUT_MAX + 1;
    ck_assert_int_eq(epy_api_call(d.api, "m", "x", 1, &opts, NULL, NULL),
                     EPY_EPARAM);
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&d.srv.calls), 0);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    epy_error_clear(&err);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item26_bad_mode_and_solicited)
{
    /* item 26: a mode or solicited flag other than the documented values
     * is refused with EPY_EPARAM, nothing sent; so are a callback or a
     * semaphore given to a sync call. */
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    rt_cb rcb;
    sem_t sem;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h = NULL;

    cb.workers = 1;
    rt_duo_open(&d, NULL, &cb);
    rt_cb_init(&rcb);
    ck_assert_int_eq(sem_init(&sem, 0, 0), 0);
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "api", rt_srv_echo, &d.srv,
                                        NULL), 0);
    ck_assert_int_eq(epy_api_set_mode(d.api, 2), EPY_EPARAM);
    ck_assert_int_eq(epy_api_set_mode(d.api, -2), EPY_EPARAM);
    ck_assert_int_eq(epy_api_mode(d.api), EPY_SYNC);
    ck_assert_int_eq(epy_api_set_solicited(d.api, 2), EPY_EPARAM);
    ck_assert_int_eq(epy_api_set_solicited(d.api, -2), EPY_EPARAM);
    ck_assert(epy_api_solicited(d.api));

    opts.mode = 7;
    ck_assert_int_eq(epy_api_invoke(d.api, "m", NULL, 0, &opts, &h, NULL),
                     EPY_EPARAM);
    ck_assert_ptr_null(h);
    opts.mode = -1;
    opts.solicited = 3;
    ck_assert_int_eq(epy_api_call(d.api, "m", NULL, 0, &opts, NULL, NULL),
                     EPY_EPARAM);
    ck_assert_int_eq(epy_api_call_async(d.api, "m", NULL, 0, &opts, &h,
                                        NULL), EPY_EPARAM);
    ck_assert_ptr_null(h);
    opts.solicited = -1;
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &rcb;
    ck_assert_int_eq(epy_api_call(d.api, "m", NULL, 0, &opts, NULL, NULL),
                     EPY_EPARAM);
    opts.callback = NULL;
    opts.sem = &sem;
    ck_assert_int_eq(epy_api_call(d.api, "m", NULL, 0, &opts, NULL, NULL),
                     EPY_EPARAM);
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&d.srv.calls), 0);
    ck_assert_int_eq(rt_counter_get(&rcb.count), 0);
    ck_assert_int_eq(sem_trywait(&sem), -1);
    rt_duo_close(&d);
    rt_cb_destroy(&rcb);
    sem_destroy(&sem);
}
END_TEST

/* Names every entry point must refuse. */
static const char *const bad_names[] = {
    "", ".", "a.", ".a", "a..b", "1a", "a-b", "a b", "a/b", "a\tb",
    "caf\xc3\xa9", "a.2", "a.b.", "\n",
};
#define N_BAD_NAMES (sizeof bad_names / sizeof bad_names[0])

START_TEST(test_item73_bad_names_nothing_sent)
{
    /* items 22, 73: bad or NULL names and arguments are refused locally
     * with EPY_EPARAM; nothing is sent, no callback runs, out-parameters
     * stay untouched. */
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    rt_cb rcb;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_async *h = NULL;
    epy_api *x = NULL;

    cb.workers = 1;
    rt_duo_open(&d, NULL, &cb);
    rt_cb_init(&rcb);
    ck_assert_int_eq(epy_peer_handle_ns(d.b, "api", rt_srv_echo, &d.srv,
                                        NULL), 0);
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &rcb;
    for (size_t i = 0; i < N_BAD_NAMES; i++) {
        const char *n = bad_names[i];

        ck_assert_msg(epy_api_call(d.api, n, "x", 1, NULL, NULL, &err)
                      == EPY_EPARAM, "call \"%s\"", n);
        err_expect(&err, EPY_EPARAM);
        epy_error_clear(&err);
        ck_assert_msg(epy_api_call_async(d.api, n, "x", 1, &opts, &h, NULL)
                      == EPY_EPARAM, "call_async \"%s\"", n);
        ck_assert_ptr_null(h);
        ck_assert_msg(epy_api_invoke(d.api, n, "x", 1, NULL, &h, NULL)
                      == EPY_EPARAM, "invoke \"%s\"", n);
        ck_assert_ptr_null(h);
        ck_assert_msg(epy_api_send(d.api, n, "x", 1, NULL) == EPY_EPARAM,
                      "send \"%s\"", n);
        ck_assert_msg(epy_api_open(d.a, n, &x, &err) == EPY_EPARAM,
                      "api_open \"%s\"", n);
        ck_assert_ptr_null(x);
        err_expect(&err, EPY_EPARAM);
        epy_error_clear(&err);
        ck_assert_msg(epy_api_child(d.api, n, &x, NULL) == EPY_EPARAM,
                      "api_child \"%s\"", n);
        ck_assert_ptr_null(x);
    }
    /* item 22: NULL names and other NULL arguments. */
    ck_assert_int_eq(epy_api_open(d.a, NULL, &x, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_api_open(NULL, "api", &x, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_api_open(d.a, "api", NULL, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_api_child(d.api, NULL, &x, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_api_child(NULL, "c", &x, NULL), EPY_EPARAM);
    ck_assert_ptr_null(x);
    ck_assert_int_eq(epy_api_call(d.api, NULL, "x", 1, NULL, NULL, NULL),
                     EPY_EPARAM);
    ck_assert_int_eq(epy_api_call(NULL, "m", "x", 1, NULL, NULL, NULL),
                     EPY_EPARAM);
    ck_assert_int_eq(epy_api_call(d.api, "m", NULL, 5, NULL, NULL, NULL),
                     EPY_EPARAM);
    ck_assert_int_eq(epy_api_call_async(d.api, "m", NULL, 5, &opts, &h,
                                        NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_api_send(d.api, NULL, "x", 1, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_api_send(NULL, "m", "x", 1, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_api_send(d.api, "m", NULL, 5, NULL), EPY_EPARAM);
    ck_assert_ptr_null(h);

    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&d.srv.calls), 0);
    ck_assert_int_eq(rt_counter_get(&d.listen.unhandled), 0);
    ck_assert_int_eq(rt_counter_get(&rcb.count), 0);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    ck_assert_int_eq(epy_peer_status(d.b), 0);
    rt_duo_close(&d);
    rt_cb_destroy(&rcb);
}
END_TEST

START_TEST(test_item21_names_case_kept)
{
    /* item 21, deliberately changed: names are case-sensitive as in the
     * IDL and never lower-cased; empty parts are refused rather than
     * dropped. "parentNs" + "voo" is "parentNs.voo". */
    rt_duo d;
    epy_api *p = NULL, *c = NULL;
    epy_error err = EPY_ERROR_INIT;

    rt_duo_open(&d, NULL, NULL);
    ck_assert_int_eq(epy_api_open(d.a, "parentNs", &p, NULL), 0);
    ck_assert_int_eq(epy_api_child(p, "voo", &c, NULL), 0);
    ck_assert_str_eq(epy_api_name(c), "parentNs.voo");
    epy_api_close(c);
    ck_assert_int_eq(epy_api_child(p, "Voo", &c, NULL), 0);
    ck_assert_str_eq(epy_api_name(c), "parentNs.Voo");
    epy_api_close(c);
    c = NULL;
    ck_assert_int_eq(epy_api_child(p, ".Voo", &c, NULL), EPY_EPARAM);
    ck_assert_ptr_null(c);

    rt_handle(d.b, "api.Parent.m", rt_echo, NULL);
    ck_assert_int_eq(epy_peer_serve_ns(d.b, "api", true, NULL), 0);
    rt_call_expect(d.api, "Parent.m", "c", 1, "c", 1);
    ck_assert_int_eq(epy_api_call(d.api, "parent.m", "c", 1, NULL, NULL,
                                  &err), EPY_EUNSUPPORTED);
    epy_error_clear(&err);
    epy_api_close(p);
    rt_duo_close(&d);
}
END_TEST

/* --- errors: the connection ends ------------------------------------------ */

START_TEST(test_item28_after_remote_close)
{
    /* item 28: once the other end has gone, calls fail with
     * EPY_EDISCONNECTED. */
    rt_duo d;
    rt_listen la;
    epy_async *h = NULL;

    rt_duo_open(&d, NULL, NULL);
    rt_listen_init(&la);
    rt_listen_install(&la, d.a);
    d.b = epy_peer_close(d.b);
    ck_assert(rt_counter_wait(&la.disconnected, 1, RT_WAIT_MS));
    ck_assert(!epy_peer_is_connected(d.a));
    ck_assert_int_eq(epy_peer_status(d.a), EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_api_call(d.api, "m", NULL, 0, NULL, NULL, NULL),
                     EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_api_send(d.api, "m", NULL, 0, NULL),
                     EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_api_call_async(d.api, "m", NULL, 0, NULL, &h, NULL),
                     EPY_EDISCONNECTED);
    ck_assert_ptr_null(h);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    /* The closing end's own listener hears nothing of its close. */
    ck_assert_int_eq(rt_counter_get(&d.listen.disconnected), 0);
    rt_duo_close(&d);
    rt_listen_destroy(&la);
}
END_TEST

START_TEST(test_item51_after_local_disconnect)
{
    /* items 28, 51: after a local disconnect the state is terminal: calls,
     * events, new apis and a second disconnect give EPY_ECLOSED. */
    rt_duo d;
    epy_api *x = NULL;

    rt_duo_open(&d, NULL, NULL);
    ck_assert_int_eq(epy_peer_disconnect(d.a, false, 0, NULL), 0);
    ck_assert(!epy_peer_is_connected(d.a));
    ck_assert_int_eq(epy_peer_status(d.a), EPY_ECLOSED);
    ck_assert_int_eq(epy_api_call(d.api, "m", NULL, 0, NULL, NULL, NULL),
                     EPY_ECLOSED);
    ck_assert_int_eq(epy_api_send(d.api, "m", NULL, 0, NULL), EPY_ECLOSED);
    ck_assert_int_eq(epy_api_open(d.a, "other", &x, NULL), EPY_ECLOSED);
    ck_assert_ptr_null(x);
    ck_assert_int_eq(epy_peer_disconnect(d.a, false, 0, NULL), EPY_ECLOSED);
    ck_assert_int_eq(epy_peer_disconnect(d.a, true, 100, NULL), EPY_ECLOSED);
    ck_assert(!epy_peer_is_connected(d.a));
    rt_duo_close(&d);
}
END_TEST


static Suite *
call_errors_suite(void)
{
    Suite *s = suite_create("call_errors");
    TCase *tc;

    tc = rt_tcase(s, "errors", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_item4_sync_timeout);
    tcase_add_test(tc, test_item8_async_timeout);
    tcase_add_test(tc, test_item10_callback_timeout);
    tcase_add_test(tc, test_item32_wait_bounds_wait_only);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_release_pending_cancels);
    tcase_add_test(tc, test_item72_late_reply_dropped);
    tcase_add_test(tc, test_item25_bad_timeouts);
    tcase_add_test(tc, test_item26_bad_mode_and_solicited);
    tcase_add_test(tc, test_item73_bad_names_nothing_sent);
    tcase_add_test(tc, test_item21_names_case_kept);
    tcase_add_test(tc, test_item28_after_remote_close);
    tcase_add_test(tc, test_item51_after_local_disconnect);
    return s;
}

int
main(void)
{
    return tu_run_suite(call_errors_suite());
}
