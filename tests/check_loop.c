/*
 * Peers and servers run by the user's loop (<epyrpc/loop.h>): the
 * rules of the API, the workers mode, and waits on the loop's thread.
 * The examples (examples/loop-*.c) run whole scripts through poll(),
 * GLib and libuv; these are the cases they do not reach.
 */
#include <config.h>

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <check.h>

#include <epyrpc/epyrpc.h>

#include "hostile-helpers.h"
#include "rt-helpers.h"
#include "testutil.h"

/* Runs @peer's loop once, waiting up to @ms. */
static void
turn(epy_peer *peer, int ms)
{
    struct pollfd pfd = { epy_peer_get_fd(peer), epy_peer_get_events(peer),
                          0 };
    int64_t t = epy_peer_get_timeout(peer);

    poll(&pfd, 1, t >= 0 && t < ms ? (int) t : ms);
    epy_peer_process(peer);
}

START_TEST(test_api_rules)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_peer *a, *b;

    /* Not a loop peer: no descriptor, no process. */
    ck_assert_int_eq(epy_pair_new(NULL, NULL, &a, &b, NULL), 0);
    ck_assert_int_eq(epy_peer_get_fd(a), EPY_EPARAM);
    ck_assert_int_eq(epy_peer_process(a), EPY_EPARAM);
    ck_assert_int_eq(epy_peer_get_timeout(a), -1);
    ck_assert_int_eq(epy_peer_get_fd(NULL), EPY_EPARAM);
    epy_peer_close(a);
    epy_peer_close(b);
    /* A pair has no socket: a loop mode is refused. */
    cfg.loop_mode = EPY_LOOP_THREADLESS;
    ck_assert_int_eq(epy_pair_new(&cfg, NULL, &a, &b, NULL), EPY_EPARAM);
    cfg.loop_mode = 7;
    ck_assert_int_eq(epy_pair_new(NULL, &cfg, &a, &b, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_server_get_fd(NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_server_process(NULL), EPY_EPARAM);
}
END_TEST

static atomic_int events;

static int
on_tick(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call, (void) req, (void) len, (void) ctx;
    atomic_fetch_add(&events, 1);
    return 0;
}

/* The server calls back the client from its handler ("t.back"). */
static int
back(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    epy_api *api;
    epy_buf out = EPY_BUF_INIT;
    int rc;

    (void) ctx;
    rc = epy_api_open(epy_call_peer(call), "c", &api, NULL);
    if (rc == 0) {
        rc = epy_api_call(api, "echo", req, len, NULL, &out, NULL);
        epy_api_close(api);
    }
    if (rc == 0)
        rc = epy_call_reply(call, out.data, out.len);
    epy_buf_clear(&out);
    return rc;
}

static int
c_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

/*
 * Workers mode: the client connects before its loop ever ran, makes
 * synchronous calls on the loop's thread (this one), is called back
 * from the server's handler while it waits (its own handler runs on a
 * worker), and gets events and callbacks only inside process().
 */
START_TEST(test_workers_mode)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_buf out = EPY_BUF_INIT;
    epy_peer *peer;
    epy_api *api;
    int rc;

    hh_start_server(NULL);
    ck_assert_int_eq(epy_server_handle(hh_srv, "t.back", back, NULL, NULL), 0);
    cfg.loop_mode = EPY_LOOP_WORKERS;
    cfg.workers = 1;
    rc = epy_connect(hh_url, &cfg, RT_WAIT_MS, &peer, &err);
    ck_assert_msg(rc == 0, "connect: %s", err.message);
    ck_assert_int_eq(epy_peer_handle(peer, "c.echo", c_echo, NULL, NULL), 0);
    ck_assert_int_eq(epy_peer_handle(peer, "c.tick", on_tick, NULL, NULL), 0);
    api = rt_api(peer, "t");
    epy_api_set_timeout(api, RT_WAIT_MS);

    rc = epy_api_call(api, "echo", "abc", 3, NULL, &out, NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert(out.len == 3 && memcmp(out.data, "abc", 3) == 0);
    epy_buf_clear(&out);
    rc = epy_api_call(api, "back", "xyz", 3, NULL, &out, NULL);
    ck_assert_msg(rc == 0, "nested call back: %s", epy_status_name(rc));
    ck_assert(out.len == 3 && memcmp(out.data, "xyz", 3) == 0);
    epy_buf_clear(&out);

    /* An event from the server is handled (on a worker) once read. */
    ck_assert_int_eq(epy_server_broadcast(hh_srv, "c.tick", NULL, 0, NULL), 1);
    for (int64_t end = tu_now_ms() + RT_WAIT_MS;
         atomic_load(&events) < 1 && tu_now_ms() < end;)
        turn(peer, 10);
    ck_assert_int_eq(atomic_load(&events), 1);

    epy_api_close(api);
    epy_peer_close(peer);
}
END_TEST

/* Thread-less: closing a peer whose loop never runs again still ends. */
START_TEST(test_threadless_close_unprocessed)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    int before;
    epy_peer *peer;
    epy_api *api;
    epy_async *a;
    epy_call_opts o = EPY_CALL_OPTS_INIT;

    hh_start_server(NULL);
    before = tu_count_threads();
    cfg.loop_mode = EPY_LOOP_THREADLESS;
    ck_assert_int_eq(epy_connect(hh_url, &cfg, RT_WAIT_MS, &peer, NULL), 0);
    ck_assert_int_eq(tu_threads_settle(before), before);
    api = rt_api(peer, "t");
    /* A call whose reply nobody processes: closing fails it. */
    ck_assert_int_eq(epy_api_call_async(api, "echo", "q", 1, &o, &a, NULL), 0);
    epy_api_close(api);
    epy_peer_close(peer);
    ck_assert(epy_async_status_get(a) != EPY_ASYNC_PENDING);
    epy_async_release(a);
    ck_assert_int_eq(tu_threads_settle(before), before);
}
END_TEST

static Suite *
loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = hh_tcase(s, "loop", 60, hh_teardown);

    tcase_add_test(tc, test_api_rules);
    tcase_add_test(tc, test_workers_mode);
    tcase_add_test(tc, test_threadless_close_unprocessed);
    return s;
}

int
main(void)
{
    return tu_run_suite(loop_suite());
}
