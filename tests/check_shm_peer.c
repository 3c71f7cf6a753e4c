/*
 * Peers over shared memory whose rings are scribbled on, as a hostile
 * process that shares them could: indices out of range end the
 * connection with EPY_EPROTO; random bytes over the indices and flags
 * never crash or hang either side (a call ends by its timeout at the
 * latest, and both peers close). The rings are found in this process's
 * own mappings (/proc/self/maps): both ends live here.
 */
#include <config.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include <epyrpc/epyrpc.h>

#include "ring-int.h"
#include "testutil.h"

static int
h_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

static epy_peer *a, *b;
static epy_api *api;
static int sv[2];

static void
start(void)
{
    epy_peer_config cfg;
    epy_error err = EPY_ERROR_INIT;
    epy_buf reply = EPY_BUF_INIT;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    epy_peer_config_init(&cfg);
    cfg.shm = true;
    cfg.shm_ring_size = 4096;
    ck_assert_int_eq(epy_peer_new_fd(sv[0], &cfg, &a, &err), 0);
    ck_assert_int_eq(epy_peer_handle(a, "t.echo", h_echo, NULL, &err), 0);
    ck_assert_int_eq(epy_peer_new_fd(sv[1], &cfg, &b, &err), 0);
    ck_assert_int_eq(epy_peer_wait_ready(b, 5000, &err), 0);
    ck_assert_int_eq(epy_api_open(b, "t", &api, &err), 0);
    epy_api_set_timeout(api, 2000);
    ck_assert_int_eq(epy_api_call(api, "echo", "hi", 2, NULL, &reply, &err), 0);
    ck_assert(epy_peer_shm(b));
    epy_buf_clear(&reply);
}

static void
stop(void)
{
    epy_api_close(api);
    epy_peer_close(b);
    epy_peer_close(a);
}

/* The shared headers of every ring mapped here (4: each ring twice). */
static size_t
rings(epy__ring_shared **out, size_t max)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    size_t n = 0;

    ck_assert_ptr_nonnull(f);
    while (n < max && fgets(line, sizeof line, f) != NULL) {
        uintptr_t lo;

        if (strstr(line, "epyrpc-ring") == NULL
            || sscanf(line, "%" SCNxPTR "-", &lo) != 1)
            continue;
        out[n++] = (epy__ring_shared *) lo;
    }
    fclose(f);
    return n;
}

START_TEST(test_index_out_of_range)
{
    epy__ring_shared *r[8];
    epy_error err = EPY_ERROR_INIT;
    epy_buf reply = EPY_BUF_INIT;
    int64_t t0;
    size_t n;
    int rc;

    start();
    n = rings(r, 8);
    ck_assert_uint_ge(n, 2);
    /* Idle: no end writes, so nothing puts the indices back. */
    for (size_t i = 0; i < n; i++)
        atomic_fetch_add(&r[i]->tail, UINT64_C(1) << 40);
    /* A wake-up byte each way: both readers look at their rings. */
    /* (One end may have ended already: no SIGPIPE then.) */
    (void) send(sv[0], "w", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void) send(sv[1], "w", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    t0 = tu_now_ms();
    while ((epy_peer_is_connected(a) || epy_peer_is_connected(b))
           && tu_now_ms() - t0 < 5000 * tu_slow())
        usleep(1000);       /* the end is a state: polled, bounded */
    ck_assert_int_eq(epy_peer_status(a), EPY_EPROTO);
    ck_assert_int_eq(epy_peer_status(b), EPY_EPROTO);
    rc = epy_api_call(api, "echo", "hi", 2, NULL, &reply, &err);
    ck_assert_int_eq(rc, EPY_EPROTO);
    epy_error_clear(&err);
    epy_buf_clear(&reply);
    stop();
}
END_TEST

START_TEST(test_random_scribbles)
{
    for (unsigned seed = 1; seed <= 8; seed++) {
        epy__ring_shared *r[8];
        epy_error err = EPY_ERROR_INIT;
        epy_buf reply = EPY_BUF_INIT;
        int64_t t0;
        size_t n;

        srand(seed);
        start();
        n = rings(r, 8);
        for (size_t i = 0; i < n; i++) {
            uint64_t v = (uint64_t) rand() << 33 ^ (uint64_t) rand() << 9
                         ^ (uint64_t) rand();

            switch (rand() % 4) {
            case 0: atomic_store(&r[i]->tail, v); break;
            case 1: atomic_store(&r[i]->head, v); break;
            case 2: atomic_store(&r[i]->reader_waiting, (uint32_t) v); break;
            default: atomic_store(&r[i]->writer_waiting, (uint32_t) v); break;
            }
        }
        t0 = tu_now_ms();
        (void) epy_api_call(api, "echo", "hi", 2, NULL, &reply, &err);
        /* Within its timeout, however it ends. */
        ck_assert_int_lt(tu_now_ms() - t0, 2000 + 3000 * tu_slow());
        epy_error_clear(&err);
        epy_buf_clear(&reply);
        stop();
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("shm_peer");
    TCase *tc = tcase_create("hostile rings");

    tcase_add_checked_fixture(tc, tu_setup_resources, tu_teardown_resources);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_index_out_of_range);
    tcase_add_test(tc, test_random_scribbles);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
