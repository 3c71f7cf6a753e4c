/*
 * The caller's side of the runtime API: sync, async, callback, semaphore
 * and polled calls, epy_api_invoke() modes, events in both directions,
 * timeouts, cancel, late replies, api defaults and their inheritance,
 * per-method sticky defaults, name and size checks.
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

/* --- core: calls that succeed --------------------------------------------- */

START_TEST(test_item1_sync_echo)
{
    /* item 1: the sync call of an echoing api.parent.method_a returns
     * exactly the argument (bytes with NULs in them). */
    rt_duo d;
    epy_api *parent = NULL;
    uint8_t req[300];
    epy_buf reply = EPY_BUF_INIT;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.parent.method_a", rt_srv_echo, &d.srv);
    ck_assert_int_eq(epy_api_child(d.api, "parent", &parent, NULL), 0);
    ck_assert_str_eq(epy_api_name(parent), "api.parent");
    ck_assert_ptr_eq(epy_api_peer(parent), d.a);
    rt_fill(req, sizeof req, 1);
    rt_call_expect(parent, "method_a", req, sizeof req, req, sizeof req);
    rt_call_expect(parent, "method_a", NULL, 0, NULL, 0);
    /* A method name relative to the api may itself be dotted. */
    rt_call_expect(d.api, "parent.method_a", req, 10, req, 10);
    ck_assert_int_eq(rt_counter_get(&d.srv.calls), 3);
    ck_assert_str_eq(d.srv.last_method, "api.parent.method_a");

    /* The reply buffer is reused: a shorter reply replaces a longer one. */
    ck_assert_int_eq(epy_api_call(parent, "method_a", req, 200, NULL, &reply,
                                  NULL), 0);
    ck_assert_uint_eq(reply.len, 200);
    ck_assert_int_eq(epy_api_call(parent, "method_a", req + 50, 7, NULL,
                                  &reply, NULL), 0);
    ck_assert_uint_eq(reply.len, 7);
    ck_assert_mem_eq(reply.data, req + 50, 7);
    /* A NULL reply buffer discards the result. */
    ck_assert_int_eq(epy_api_call(parent, "method_a", req, 5, NULL, NULL,
                                  NULL), 0);

    /* Symmetric: the receiver calls the caller too (item 37 in-process). */
    {
        epy_api *back;

        rt_handle(d.a, "back.echo", rt_echo, NULL);
        back = rt_api(d.b, "back");
        rt_call_expect(back, "echo", req, 33, req, 33);
        epy_api_close(back);
    }
    epy_buf_clear(&reply);
    epy_api_close(parent);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item5_forever_waits)
{
    /* item 5: timeout 0 (or EPY_FOREVER) waits without limit; the handler
     * sees no budget (-1). */
    rt_duo d;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;

    rt_duo_open(&d, NULL, NULL);
    d.srv.sleep_ms = 300;
    rt_handle(d.b, "api.slow", rt_srv_sleep, &d.srv);
    ck_assert_int_eq(epy_api_set_timeout(d.api, 0), 0);
    ck_assert_int_eq(epy_api_timeout(d.api), EPY_FOREVER);
    rt_call_expect(d.api, "slow", "a", 1, "a", 1);
    ck_assert_int_eq(d.srv.last_remaining, -1);
    /* A short api default overridden by EPY_FOREVER for one call. */
    ck_assert_int_eq(epy_api_set_timeout(d.api, 50), 0);
    opts.timeout_ms = EPY_FOREVER;
    ck_assert_int_eq(epy_api_call(d.api, "slow", "b", 1, &opts, NULL, NULL),
                     0);
    ck_assert_int_eq(d.srv.last_remaining, -1);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item6_async_like_sync)
{
    /* item 6 (and 39): an async call returns a pending handle at once with
     * a transaction id; waiting gives what a sync call gives, value or
     * error. */
    static const uint8_t payload[] = { 'e', 0, 'r', 0, 0, 'r' };
    rt_duo d;
    epy_async *h = NULL;
    epy_buf reply = EPY_BUF_INIT;
    epy_error err = EPY_ERROR_INIT, err2 = EPY_ERROR_INIT;
    const uint8_t *borrowed;
    size_t len = 99;
    int64_t t0;
    int rc;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_api_call_async(d.api, "block", "abc", 3, NULL, &h,
                                        &err), 0);
    ck_assert_int_lt(tu_now_ms() - t0, 1000 * tu_slow());
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_ne(epy_async_id(h), EPY_TXN_NONE);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_PENDING);
    ck_assert_int_eq(epy_async_result(h, &reply, &err), EPY_EPENDING);
    ck_assert_ptr_null(epy_async_reply(h, &len));
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(epy_peer_pending_count(d.a), 1);
    ck_assert(rt_counter_wait(&d.srv.started, 1, RT_WAIT_MS));
    /* item 42: the handler sees the caller's transaction id. */
    ck_assert_uint_eq(d.srv.last_txn, epy_async_id(h));
    rt_gate_open(&d.srv.gate);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_DONE);
    ck_assert_int_eq(epy_async_result(h, &reply, &err), 0);
    ck_assert_uint_eq(reply.len, 3);
    ck_assert_mem_eq(reply.data, "abc", 3);
    borrowed = epy_async_reply(h, &len);
    ck_assert_ptr_nonnull(borrowed);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(borrowed, "abc", 3);
    h = epy_async_release(h);
    ck_assert_ptr_null(h);

    /* The same error through both paths. */
    d.srv.fail_code = EPY_EFAILED;
    d.srv.fail_type = "api.oops";
    d.srv.fail_message = "it went wrong";
    d.srv.fail_payload = payload;
    d.srv.fail_len = sizeof payload;
    rt_handle(d.b, "api.fails", rt_srv_fail, &d.srv);
    rc = epy_api_call(d.api, "fails", NULL, 0, NULL, &reply, &err);
    ck_assert_int_eq(rc, EPY_EFAILED);
    ck_assert_int_eq(epy_api_call_async(d.api, "fails", NULL, 0, NULL, &h,
                                        NULL), 0);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), rc);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_FAILED);
    ck_assert_int_eq(epy_async_result(h, &reply, &err2), rc);
    ck_assert_ptr_null(epy_async_reply(h, &len));
    ck_assert_int_eq(err2.code, err.code);
    ck_assert_str_eq(err2.message, err.message);
    ck_assert_str_eq(err2.type, "api.oops");
    ck_assert_str_eq(err.type, "api.oops");
    ck_assert_uint_eq(err2.payload_len, sizeof payload);
    ck_assert_mem_eq(err2.payload, payload, sizeof payload);
    epy_async_release(h);
    epy_buf_clear(&reply);
    epy_error_clear(&err);
    epy_error_clear(&err2);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item7_release_purges)
{
    /* item 7: a completed async call stays in the table until its handle
     * is released (the original's purge); then it is gone. */
    rt_duo d;
    epy_async *h = NULL;
    epy_txn_id id;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.echo", rt_srv_echo, &d.srv);
    ck_assert_int_eq(epy_api_call_async(d.api, "echo", "x", 1, NULL, &h,
                                        NULL), 0);
    id = epy_async_id(h);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    ck_assert(epy_peer_txn_pending(d.a, id));
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 1);
    /* Waiting again returns the same outcome. */
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    epy_async_release(h);
    ck_assert(!epy_peer_txn_pending(d.a, id));
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    epy_async_release(NULL);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item9_callback_once)
{
    /* item 9: a call with a callback returns a handle without blocking;
     * the callback runs exactly once with the id and the result. */
    rt_duo d;
    rt_cb cb, cb2;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h = NULL;

    rt_duo_open(&d, NULL, NULL);
    rt_cb_init(&cb);
    rt_cb_init(&cb2);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &cb;
    ck_assert_int_eq(epy_api_call_async(d.api, "block", "r1", 2, &opts, &h,
                                        NULL), 0);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_PENDING);
    ck_assert_ptr_eq(epy_async_ctx(h), &cb);
    ck_assert(rt_counter_wait(&d.srv.started, 1, RT_WAIT_MS));
    ck_assert_int_eq(rt_counter_get(&cb.count), 0);
    rt_gate_open(&d.srv.gate);
    ck_assert(rt_counter_wait(&cb.count, 1, RT_WAIT_MS));
    ck_assert_int_eq(cb.rc, 0);
    ck_assert_int_eq(cb.status, EPY_ASYNC_DONE);
    ck_assert_uint_eq(cb.id, epy_async_id(h));
    ck_assert_ptr_eq(cb.ctx_seen, &cb);
    ck_assert_uint_eq(cb.reply.len, 2);
    ck_assert_mem_eq(cb.reply.data, "r1", 2);

    /* Without a handle: the runtime releases it after the callback. */
    opts.callback_ctx = &cb2;
    ck_assert_int_eq(epy_api_call_async(d.api, "block", "r2", 2, &opts, NULL,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&cb2.count, 1, RT_WAIT_MS));
    ck_assert_int_eq(cb2.rc, 0);
    ck_assert_uint_ne(cb2.id, EPY_TXN_NONE);
    ck_assert_uint_ne(cb2.id, cb.id);
    ck_assert_mem_eq(cb2.reply.data, "r2", 2);

    /* Exactly once: nothing more after a full round trip. */
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&cb.count), 1);
    ck_assert_int_eq(rt_counter_get(&cb2.count), 1);
    epy_async_release(h);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    rt_duo_close(&d);
    rt_cb_destroy(&cb);
    rt_cb_destroy(&cb2);
}
END_TEST

START_TEST(test_item9_invoke_sync_with_callback)
{
    /* item 9 and its quirk (reproduced): in sync mode, a call with a
     * callback returns a handle at once instead of blocking. */
    rt_duo d;
    rt_cb cb;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h = NULL;

    rt_duo_open(&d, NULL, NULL);
    rt_cb_init(&cb);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    ck_assert_int_eq(epy_api_mode(d.api), EPY_SYNC);
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &cb;
    ck_assert_int_eq(epy_api_invoke(d.api, "block", "q", 1, &opts, &h, NULL),
                     0);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_PENDING);
    rt_gate_open(&d.srv.gate);
    ck_assert(rt_counter_wait(&cb.count, 1, RT_WAIT_MS));
    ck_assert_int_eq(cb.rc, 0);
    ck_assert_uint_eq(cb.id, epy_async_id(h));
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&cb.count), 1);
    epy_async_release(h);
    rt_duo_close(&d);
    rt_cb_destroy(&cb);
}
END_TEST

START_TEST(test_item11_wait_on_callback_refused)
{
    /* item 11: waiting on a callback transaction is refused (EPY_EMODE),
     * which shows it is still registered; the port keeps it until the
     * handle is released (purge made explicit). */
    rt_duo d;
    rt_cb cb;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h = NULL;
    epy_txn_id id;

    rt_duo_open(&d, NULL, NULL);
    rt_cb_init(&cb);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &cb;
    ck_assert_int_eq(epy_api_call_async(d.api, "block", "w", 1, &opts, &h,
                                        NULL), 0);
    id = epy_async_id(h);
    ck_assert_int_eq(epy_async_wait(h, 100), EPY_EMODE);
    rt_gate_open(&d.srv.gate);
    ck_assert(rt_counter_wait(&cb.count, 1, RT_WAIT_MS));
    ck_assert_int_eq(epy_async_wait(h, 100), EPY_EMODE);
    ck_assert(epy_peer_txn_pending(d.a, id));
    /* The outcome is still readable through the handle. */
    ck_assert_int_eq(epy_async_result(h, NULL, NULL), 0);
    epy_async_release(h);
    ck_assert(!epy_peer_txn_pending(d.a, id));
    rt_duo_close(&d);
    rt_cb_destroy(&cb);
}
END_TEST

START_TEST(test_semaphore_completion)
{
    /* Completion by semaphore, posted exactly once; item 31: completed
     * before anyone waits, a wait returns at once (no lost wake-up). */
    rt_duo d;
    sem_t sem;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h = NULL;
    int64_t t0;

    rt_duo_open(&d, NULL, NULL);
    ck_assert_int_eq(sem_init(&sem, 0, 0), 0);
    rt_handle(d.b, "api.echo", rt_srv_echo, &d.srv);
    opts.sem = &sem;
    ck_assert_int_eq(epy_api_call_async(d.api, "echo", "s", 1, &opts, &h,
                                        NULL), 0);
    ck_assert(rt_sem_wait(&sem, RT_WAIT_MS));
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_DONE);
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_async_wait(h, EPY_FOREVER), 0);
    ck_assert_int_lt(tu_now_ms() - t0, 500 * tu_slow());
    epy_async_release(h);
    /* Without a handle. */
    ck_assert_int_eq(epy_api_call_async(d.api, "echo", "t", 1, &opts, NULL,
                                        NULL), 0);
    ck_assert(rt_sem_wait(&sem, RT_WAIT_MS));
    rt_ping(d.a);
    ck_assert_int_eq(sem_trywait(&sem), -1);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    rt_duo_close(&d);
    sem_destroy(&sem);
}
END_TEST

START_TEST(test_poll_completion)
{
    /* Completion by polling the handle. */
    rt_duo d;
    epy_async *h = NULL;
    const uint8_t *r;
    size_t len = 0;
    int64_t deadline;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.echo", rt_srv_echo, &d.srv);
    ck_assert_int_eq(epy_api_call_async(d.api, "echo", "poll", 4, NULL, &h,
                                        NULL), 0);
    deadline = tu_now_ms() + RT_WAIT_MS;
    /* Polling is the point here: look, and look again. */
    while (epy_async_status_get(h) == EPY_ASYNC_PENDING
           && tu_now_ms() < deadline)
        rt_sleep_ms(1);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_DONE);
    r = epy_async_reply(h, &len);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(len, 4);
    ck_assert_mem_eq(r, "poll", 4);
    epy_async_release(h);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_invoke_modes)
{
    /* epy_api_invoke() follows the api's mode or the call's: sync gives a
     * completed handle, async a pending one, errors are the handle's
     * outcome. */
    rt_duo d;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h = NULL;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    d.srv.fail_message = "no";
    rt_handle(d.b, "api.fails", rt_srv_fail, &d.srv);

    ck_assert_int_eq(epy_api_invoke(d.api, "echo", "1", 1, NULL, &h, NULL),
                     0);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_DONE);
    ck_assert_int_eq(epy_async_result(h, NULL, NULL), 0);
    h = epy_async_release(h);

    /* A sync invoke of a failing method: a completed, failed handle. */
    ck_assert_int_eq(epy_api_invoke(d.api, "fails", NULL, 0, NULL, &h, NULL),
                     0);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_FAILED);
    ck_assert_int_eq(epy_async_result(h, NULL, NULL), EPY_EFAILED);
    h = epy_async_release(h);

    /* Per-call async on a sync api. */
    opts.mode = EPY_ASYNC;
    ck_assert_int_eq(epy_api_invoke(d.api, "block", "2", 1, &opts, &h, NULL),
                     0);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_PENDING);
    rt_gate_open(&d.srv.gate);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    h = epy_async_release(h);

    /* Async api; per-call sync on it. */
    ck_assert_int_eq(epy_api_set_mode(d.api, EPY_ASYNC), 0);
    ck_assert_int_eq(epy_api_mode(d.api), EPY_ASYNC);
    ck_assert_int_eq(epy_api_invoke(d.api, "echo", "3", 1, NULL, &h, NULL),
                     0);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), 0);
    h = epy_async_release(h);
    opts.mode = EPY_SYNC;
    ck_assert_int_eq(epy_api_invoke(d.api, "echo", "4", 1, &opts, &h, NULL),
                     0);
    ck_assert_int_eq(epy_async_status_get(h), EPY_ASYNC_DONE);
    h = epy_async_release(h);

    /* item 12: unsolicited invoke: an event, no handle. */
    opts.mode = -1;
    opts.solicited = 0;
    h = NULL;
    ck_assert_int_eq(epy_api_invoke(d.api, "echo", "5", 1, &opts, &h, NULL),
                     0);
    ck_assert_ptr_null(h);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    rt_duo_close(&d);
}
END_TEST

START_TEST(test_item12_unsolicited_no_txn)
{
    /* items 12, 13, 40: an unsolicited call creates no transaction and
     * does not wait; the handler sees EPY_TXN_NONE; a sync invocation
     * returns at once with an empty result; async gives no handle and
     * never uses the callback or the semaphore. */
    rt_duo d;
    epy_buf reply = EPY_BUF_INIT;
    rt_cb cb;
    sem_t sem;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h;

    rt_duo_open(&d, NULL, NULL);
    rt_cb_init(&cb);
    ck_assert_int_eq(sem_init(&sem, 0, 0), 0);
    rt_handle(d.b, "api.ev", rt_srv_gated, &d.srv);
    ck_assert_int_eq(epy_api_set_solicited(d.api, 0), 0);
    ck_assert(!epy_api_solicited(d.api));

    ck_assert_int_eq(epy_buf_set(&reply, "junk", 4), 0);
    /* The handler is blocked: returning proves nobody waits for it. */
    ck_assert_int_eq(epy_api_call(d.api, "ev", "e1", 2, NULL, &reply, NULL),
                     0);
    ck_assert_uint_eq(reply.len, 0);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    ck_assert(rt_counter_wait(&d.srv.started, 1, RT_WAIT_MS));
    ck_assert_uint_eq(d.srv.last_txn, EPY_TXN_NONE);
    ck_assert(!d.srv.last_solicited);

    opts.callback = rt_cb_fn;
    opts.callback_ctx = &cb;
    opts.sem = &sem;
    h = (epy_async *) &cb;      /* any non-NULL value */
    ck_assert_int_eq(epy_api_call_async(d.api, "ev", "e2", 2, &opts, &h,
                                        NULL), 0);
    ck_assert_ptr_null(h);
    h = (epy_async *) &cb;
    ck_assert_int_eq(epy_api_invoke(d.api, "ev", "e3", 2, NULL, &h, NULL), 0);
    ck_assert_ptr_null(h);
    /* Per-call unsolicited on a solicited api. */
    ck_assert_int_eq(epy_api_set_solicited(d.api, 1), 0);
    opts.callback = NULL;
    opts.sem = NULL;
    opts.solicited = 0;
    ck_assert_int_eq(epy_api_call(d.api, "ev", "e4", 2, &opts, NULL, NULL),
                     0);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);

    rt_gate_open(&d.srv.gate);
    ck_assert(rt_counter_wait(&d.srv.done, 4, RT_WAIT_MS));
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&cb.count), 0);
    ck_assert_int_eq(sem_trywait(&sem), -1);
    ck_assert_int_eq(rt_counter_get(&d.listen.unhandled), 0);
    epy_buf_clear(&reply);
    rt_duo_close(&d);
    rt_cb_destroy(&cb);
    sem_destroy(&sem);
}
END_TEST

static int
answer_event_with_reply(epy_call *call, const uint8_t *req, size_t len,
                        void *ctx)
{
    rt_counter *n = ctx;

    RT_CHECK(!epy_call_solicited(call));
    RT_CHECK_INT_EQ(epy_call_reply(call, req, len), 0);
    rt_counter_add(n, 1);
    return 0;
}

static int
answer_event_with_error(epy_call *call, const uint8_t *req, size_t len,
                        void *ctx)
{
    rt_counter *n = ctx;

    (void) req;
    (void) len;
    RT_CHECK_INT_EQ(epy_call_fail(call, EPY_EFAILED, "api.bad", "bad event",
                                  "x", 1), 0);
    rt_counter_add(n, 1);
    return 0;
}

static int
answer_event_with_code(epy_call *call, const uint8_t *req, size_t len,
                       void *ctx)
{
    rt_counter *n = ctx;

    (void) call;
    (void) req;
    (void) len;
    rt_counter_add(n, 1);
    return EPY_EFAILED;
}

START_TEST(test_item13_event_answers_discarded)
{
    /* items 13, 43: an event's handler result or error goes nowhere: the
     * sender sees no reply, no error, nothing unhandled. */
    rt_duo d;
    rt_listen la;
    rt_counter n;

    rt_duo_open(&d, NULL, NULL);
    rt_listen_init(&la);
    rt_listen_install(&la, d.a);
    rt_counter_init(&n);
    rt_handle(d.b, "api.ev_reply", answer_event_with_reply, &n);
    rt_handle(d.b, "api.ev_error", answer_event_with_error, &n);
    rt_handle(d.b, "api.ev_code", answer_event_with_code, &n);
    ck_assert_int_eq(epy_api_send(d.api, "ev_reply", "1", 1, NULL), 0);
    ck_assert_int_eq(epy_api_send(d.api, "ev_error", "2", 1, NULL), 0);
    ck_assert_int_eq(epy_api_send(d.api, "ev_code", "3", 1, NULL), 0);
    ck_assert(rt_counter_wait(&n, 3, RT_WAIT_MS));
    /* Anything b sent back would have been read by a before this reply. */
    rt_ping(d.b);
    rt_ping(d.a);
    ck_assert_int_eq(rt_counter_get(&la.unhandled), 0);
    ck_assert_int_eq(rt_counter_get(&la.disconnected), 0);
    ck_assert_int_eq(epy_peer_status(d.a), 0);
    ck_assert_int_eq(epy_peer_status(d.b), 0);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    rt_duo_close(&d);
    rt_listen_destroy(&la);
    rt_counter_destroy(&n);
}
END_TEST

START_TEST(test_item14_unhandled_event_silent)
{
    /* items 14, 44: an event nobody handles is no error for the sender;
     * the receiver's default listener drops it with a log line. */
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    epy_peer *a, *b;
    epy_api *api;
    rt_log log;
    long before;

    rt_log_init(&log);
    cb.log = rt_log_fn;
    cb.log_ctx = &log;
    rt_pair(NULL, &cb, &a, &b);
    rt_serve_ping(b);
    api = rt_api(a, "nowhere");
    before = rt_log_count(&log);
    ck_assert_int_eq(epy_api_send(api, "x", "1", 1, NULL), 0);
    ck_assert_msg(rt_log_wait(&log, before + 1, RT_WAIT_MS),
                  "no log line for the dropped event");
    rt_ping(a);
    ck_assert_int_eq(epy_peer_status(a), 0);
    ck_assert(epy_peer_is_connected(a));
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
    rt_log_destroy(&log);
}
END_TEST

START_TEST(test_events_both_ways)
{
    /* Events in both directions, by epy_api_send() and by an unsolicited
     * epy_api_call(). */
    enum { N = 20 };
    rt_duo d;
    rt_srv sa;
    epy_api *back;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;

    rt_duo_open(&d, NULL, NULL);
    rt_srv_init(&sa);
    rt_handle(d.b, "api.ev", rt_srv_echo, &d.srv);
    rt_handle(d.a, "back.ev", rt_srv_echo, &sa);
    back = rt_api(d.b, "back");
    opts.solicited = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(epy_api_send(d.api, "ev", &i, sizeof i, NULL), 0);
        ck_assert_int_eq(epy_api_call(back, "ev", &i, sizeof i, &opts, NULL,
                                      NULL), 0);
    }
    ck_assert(rt_counter_wait(&d.srv.calls, N, RT_WAIT_MS));
    ck_assert(rt_counter_wait(&sa.calls, N, RT_WAIT_MS));
    ck_assert_uint_eq(sa.last_txn, EPY_TXN_NONE);
    ck_assert_uint_eq(d.srv.last_txn, EPY_TXN_NONE);
    ck_assert_ptr_eq(sa.last_peer, d.a);
    ck_assert_ptr_eq(d.srv.last_peer, d.b);
    epy_api_close(back);
    rt_duo_close(&d);
    rt_srv_destroy(&sa);
}
END_TEST

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

/* --- threads -------------------------------------------------------------- */

typedef struct waiter {
    pthread_t th;
    epy_async *h;
    int rc;
} waiter;

static void *
waiter_main(void *arg)
{
    waiter *w = arg;

    w->rc = epy_async_wait(w->h, EPY_FOREVER);
    return NULL;
}

static epy_call *deferred_call;
static rt_counter deferred_n;

static int
defer_handler(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req;
    (void) len;
    (void) ctx;
    deferred_call = call;
    rt_counter_add(&deferred_n, 1);
    return EPY_DEFER;
}

START_TEST(test_item33_waiters_released_by_other_thread)
{
    /* item 33: waiters with no time limit (two threads on one handle)
     * return the value another thread answers with later. */
    rt_duo d;
    waiter w[2];
    epy_async *h = NULL;
    epy_buf reply = EPY_BUF_INIT;

    rt_counter_init(&deferred_n);
    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.deferred", defer_handler, NULL);
    ck_assert_int_eq(epy_api_call_async(d.api, "deferred", NULL, 0, NULL, &h,
                                        NULL), 0);
    for (int i = 0; i < 2; i++) {
        w[i].h = h;
        w[i].rc = 1;
        ck_assert_int_eq(pthread_create(&w[i].th, NULL, waiter_main, &w[i]),
                         0);
    }
    ck_assert(rt_counter_wait(&deferred_n, 1, RT_WAIT_MS));
    /* Give the waiters time to block: the scenario, not a synchronisation. */
    rt_sleep_ms(50);
    ck_assert_int_eq(epy_call_reply(deferred_call, "later", 5), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(w[i].th, NULL);
        ck_assert_int_eq(w[i].rc, 0);
    }
    ck_assert_int_eq(epy_async_result(h, &reply, NULL), 0);
    ck_assert_uint_eq(reply.len, 5);
    ck_assert_mem_eq(reply.data, "later", 5);
    epy_async_release(h);
    epy_buf_clear(&reply);
    rt_duo_close(&d);
    rt_counter_destroy(&deferred_n);
}
END_TEST

typedef struct nested_cb {
    epy_api *api;
    rt_counter done;
    int rc;
    epy_buf reply;
} nested_cb;

static void
callback_that_calls(epy_async *async, void *ctx)
{
    nested_cb *n = ctx;

    RT_CHECK_INT_EQ(epy_async_result(async, NULL, NULL), 0);
    n->rc = epy_api_call(n->api, "echo", "inner", 5, NULL, &n->reply, NULL);
    rt_counter_add(&n->done, 1);
}

START_TEST(test_callback_may_call)
{
    /* A completion callback runs with no lock held: it may make a sync
     * call on the same peer. */
    rt_duo d;
    nested_cb n;
    epy_buf empty = EPY_BUF_INIT;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;

    rt_duo_open(&d, NULL, NULL);
    rt_handle(d.b, "api.echo", rt_echo, NULL);
    n.api = d.api;
    n.rc = 1;
    n.reply = empty;
    rt_counter_init(&n.done);
    opts.callback = callback_that_calls;
    opts.callback_ctx = &n;
    ck_assert_int_eq(epy_api_call_async(d.api, "echo", "outer", 5, &opts,
                                        NULL, NULL), 0);
    ck_assert(rt_counter_wait(&n.done, 1, 2 * RT_WAIT_MS));
    ck_assert_int_eq(n.rc, 0);
    ck_assert_uint_eq(n.reply.len, 5);
    ck_assert_mem_eq(n.reply.data, "inner", 5);
    epy_buf_clear(&n.reply);
    rt_counter_destroy(&n.done);
    rt_duo_close(&d);
}
END_TEST

static Suite *
call_suite(void)
{
    Suite *s = suite_create("call");
    TCase *tc;

    tc = rt_tcase(s, "core", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_item1_sync_echo);
    tcase_add_test(tc, test_item5_forever_waits);
    tcase_add_test(tc, test_item6_async_like_sync);
    tcase_add_test(tc, test_item7_release_purges);
    tcase_add_test(tc, test_item9_callback_once);
    tcase_add_test(tc, test_item9_invoke_sync_with_callback);
    tcase_add_test(tc, test_item11_wait_on_callback_refused);
    tcase_add_test(tc, test_semaphore_completion);
    tcase_add_test(tc, test_poll_completion);
    tcase_add_test(tc, test_invoke_modes);
    tcase_add_test(tc, test_item12_unsolicited_no_txn);
    tcase_add_test(tc, test_item13_event_answers_discarded);
    tcase_add_test(tc, test_item14_unhandled_event_silent);
    tcase_add_test(tc, test_events_both_ways);
    tcase_add_test(tc, test_item23_defaults);
    tcase_add_test(tc, test_api_inheritance);
    tcase_add_test(tc, test_api_open_many);
    tcase_add_test(tc, test_item24_method_sticky_defaults);
    tcase_add_test(tc, test_item29_origin_and_sequence);
    tcase_add_test(tc, test_item35_txn_pending);

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

    tc = rt_tcase(s, "limits", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_name_limits);
    tcase_add_test(tc, test_etoobig_nothing_sent);
    tcase_add_test(tc, test_etoobig_reply);
    tcase_add_test(tc, test_max_pending_busy);

    tc = rt_tcase(s, "threads", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_item33_waiters_released_by_other_thread);
    tcase_add_test(tc, test_callback_may_call);
    return s;
}

int
main(void)
{
    return tu_run_suite(call_suite());
}
