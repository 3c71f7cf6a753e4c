/*
 * The caller's side of the runtime API when calls succeed: sync, async,
 * callback, semaphore and polled calls, epy_api_invoke() modes, events in
 * both directions, and callers on several threads (check_call_errors.c:
 * calls that fail; check_api.c: api defaults and limits).
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
