/*
 * Many clients on one server (bench/scale measures 10,000): 1,000 raw
 * unix-socket clients connected at once each get their own answer, the
 * server's threads do not grow with them, and a slow-loris and a
 * never-reading client among them do not stop a good client's calls.
 * The good client is a thread-less loop peer, so that every thread of
 * this process but the test's own is the server's.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include <epyrpc/epyrpc.h>

#include "hostile-helpers.h"
#include "rt-helpers.h"
#include "testutil.h"
#include "wire-helpers.h"

/* Fewer under valgrind (EPY_TEST_SLOW > 1): the same shape, smaller. */
static int
nclients(void)
{
    return tu_slow() > 1 ? 200 : 1000;
}

/* Connects @n raw clients from @from on, each making one call. */
static void
connect_and_call(int *fds, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char pay[16];

        fds[i] = hh_raw_hello(false);
        snprintf(pay, sizeof pay, "c%d", i);
        hh_raw_call(fds[i], (uint64_t) i + 1, "t.echo", pay, strlen(pay));
    }
}

/* Each of @fds[from..from+n) gets the answer of its own call. */
static void
check_answers(int *fds, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        Epyrpc__Envelope *env = NULL;
        char pay[16];
        int rc;

        snprintf(pay, sizeof pay, "c%d", i);
        do {
            if (env != NULL)
                epyrpc__envelope__free_unpacked(env, NULL);
            env = NULL;
            rc = tw_read_env_timeout(fds[i], 10000 * tu_slow(), &env);
            ck_assert_msg(rc > 0, "client %d: no answer (%d)", i, rc);
        } while (env->kind == EPYRPC__KIND__HELLO);
        ck_assert_msg(env->kind == EPYRPC__KIND__REPLY && env->txn
                      == (uint64_t) i + 1, "client %d: kind %d txn %llu", i,
                      (int) env->kind, (unsigned long long) env->txn);
        ck_assert_msg(env->payload.len == strlen(pay)
                      && memcmp(env->payload.data, pay, env->payload.len) == 0,
                      "client %d got another's answer", i);
        epyrpc__envelope__free_unpacked(env, NULL);
    }
}

START_TEST(test_thousand_clients)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_peer_config pc = EPY_PEER_CONFIG_INIT;
    int n = nclients(), *fds = calloc((size_t) n, sizeof *fds);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int bound, th10, thn, loris, deaf;
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;
    epy_api *api;
    struct rlimit rl;
    uint8_t frame[64];

    ck_assert_ptr_nonnull(fds);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t) 2 * n + 64)
        n = ((int) rl.rlim_cur - 64) / 2;
    cfg.max_clients = n + 16;
    cfg.max_clients_per_uid = n + 16;
    cfg.backlog = 1024;
    /* Before the server: this thread (and a sanitizer's, if any). */
    bound = tu_count_threads();
    hh_start_server(&cfg);
    /* + accept + I/O + the pool, and a closer at most */
    bound += 2 + (int) ncpu + 1;

    pc.loop_mode = EPY_LOOP_THREADLESS;
    ck_assert_int_eq(epy_connect(hh_url, &pc, 5000 * tu_slow(), &peer, &err),
                     0);
    api = rt_api(peer, "t");
    epy_api_set_timeout(api, 5000 * tu_slow());

    connect_and_call(fds, 0, 10);
    check_answers(fds, 0, 10);
    th10 = tu_threads_settle(bound);
    connect_and_call(fds, 10, n - 10);
    check_answers(fds, 10, n - 10);
    thn = tu_threads_settle(th10);
    ck_assert_msg(thn <= bound, "%d threads with %d clients (bound %d)",
                  thn, n, bound);
    ck_assert_msg(thn <= th10 + 1, "threads grew from %d (10 clients) to %d "
                  "(%d clients)", th10, thn, n);
    ck_assert_uint_eq(epy_server_clients(hh_srv), (size_t) n + 1);

    /* A slow-loris: one byte of a frame. A never-reading client: calls. */
    loris = hh_raw_hello(false);
    memset(frame, 0, sizeof frame);
    frame[0] = 60;
    tw_write_all(loris, frame, 1);
    deaf = hh_raw_hello(false);
    for (int i = 0; i < 3000; i++)
        hh_raw_call(deaf, (uint64_t) i + 1, "t.echo", "deaf", 4);
    for (int i = 0; i < 200; i++) {
        epy_buf out = EPY_BUF_INIT;
        char msg[16];
        int64_t t0 = tu_now_ms();
        int rc;

        snprintf(msg, sizeof msg, "good%d", i);
        rc = epy_api_call(api, "echo", msg, strlen(msg), NULL, &out, &err);
        ck_assert_msg(rc == 0, "call %d: %s", i, epy_status_name(rc));
        ck_assert(out.len == strlen(msg) && memcmp(out.data, msg, out.len) == 0);
        ck_assert_int_lt(tu_now_ms() - t0, 5000 * tu_slow());
        epy_buf_clear(&out);
    }
    epy_api_close(api);
    epy_peer_close(peer);
    close(loris);
    close(deaf);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    ck_assert_msg(hh_clients_at_most(0, 20000 * tu_slow()),
                  "%zu clients left after they hung up",
                  epy_server_clients(hh_srv));
}
END_TEST

static Suite *
scale_suite(void)
{
    Suite *s = suite_create("scale");
    TCase *tc = hh_tcase(s, "clients", 120, hh_teardown);

    tcase_add_test(tc, test_thousand_clients);
    return s;
}

int
main(void)
{
    return tu_run_suite(scale_suite());
}
