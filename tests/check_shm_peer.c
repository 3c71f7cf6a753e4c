/*
 * Peers over shared memory whose rings are scribbled on, as a hostile
 * process that shares them could: indices out of range end the
 * connection with EPY_EPROTO; random bytes over the indices and flags
 * never crash or hang either side (a call ends by its timeout at the
 * latest, and both peers close). The rings are found in this process's
 * own mappings (/proc/self/maps): both ends live here.
 */
#include <config.h>

#include <fcntl.h>
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

/* t.hold: tells the test it runs (held[1]), replies once released. */
static int held[2], release[2];

static int
h_hold(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    char c;

    (void) ctx;
    if (write(held[1], "h", 1) != 1 || read(release[0], &c, 1) != 1)
        abort();
    return epy_call_reply(call, req, len);
}

static epy_peer *a, *b;
static epy_api *api;
static int sv[2];

/* a serves t.echo and t.hold, b calls it; their rings' sizes. */
static void
start_sized(size_t ring_a, size_t ring_b)
{
    epy_peer_config cfg;
    epy_error err = EPY_ERROR_INIT;
    epy_buf reply = EPY_BUF_INIT;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    epy_peer_config_init(&cfg);
    cfg.shm = true;
    cfg.shm_ring_size = ring_a;
    ck_assert_int_eq(epy_peer_new_fd(sv[0], &cfg, &a, &err), 0);
    ck_assert_int_eq(epy_peer_handle(a, "t.echo", h_echo, NULL, &err), 0);
    ck_assert_int_eq(epy_peer_handle(a, "t.hold", h_hold, NULL, &err), 0);
    cfg.shm_ring_size = ring_b;
    ck_assert_int_eq(epy_peer_new_fd(sv[1], &cfg, &b, &err), 0);
    ck_assert_int_eq(epy_peer_wait_ready(b, 5000, &err), 0);
    ck_assert_int_eq(epy_api_open(b, "t", &api, &err), 0);
    epy_api_set_timeout(api, 2000);
    ck_assert_int_eq(epy_api_call(api, "echo", "hi", 2, NULL, &reply, &err), 0);
    epy_buf_clear(&reply);
}

static void
start(void)
{
    start_sized(4096, 4096);
    ck_assert(epy_peer_shm(b));
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

/*
 * A head out of range found by the writer (the other end moved the head
 * of the ring this end writes into): EPY_EPROTO, as on the reading side,
 * for the connection and for the calls still waiting.
 */
START_TEST(test_head_out_of_range)
{
    epy__ring_shared *r[8];
    epy_error err = EPY_ERROR_INIT;
    epy_buf reply = EPY_BUF_INIT;
    epy_async *pending;
    size_t n;

    ck_assert_int_eq(pipe2(held, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(release, O_CLOEXEC), 0);
    start();
    ck_assert_int_eq(epy_api_call_async(api, "hold", "x", 1, NULL, &pending,
                                        &err), 0);
    /* a runs it: it read the call, and nothing writes now. */
    ck_assert_int_eq(read(held[0], &(char){ 0 }, 1), 1);
    n = rings(r, 8);
    ck_assert_uint_ge(n, 2);
    /* The readers keep their own heads: only the writers see this. */
    for (size_t i = 0; i < n; i++)
        atomic_store(&r[i]->head, UINT64_C(1) << 50);
    ck_assert_int_eq(epy_api_call(api, "echo", "hi", 2, NULL, &reply, &err),
                     EPY_EPROTO);
    epy_error_clear(&err);
    ck_assert_int_eq(epy_peer_status(b), EPY_EPROTO);
    ck_assert_int_eq(epy_async_wait(pending, 5000 * tu_slow()), EPY_EPROTO);
    epy_async_release(pending);
    ck_assert_int_eq(write(release[1], "r", 1), 1);
    epy_buf_clear(&reply);
    stop();
    close(held[0]);
    close(held[1]);
    close(release[0]);
    close(release[1]);
}
END_TEST

/* How many mappings of rings here are @len bytes long (header included). */
static int
ring_maps(size_t len)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f) != NULL) {
        uintptr_t lo, hi;

        if (strstr(line, "epyrpc-ring") != NULL
            && sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2
            && hi - lo == len)
            n++;
    }
    fclose(f);
    return n;
}

/*
 * b offers a ring of 64 KiB, a reads one of 4 KiB: a does not take the
 * larger one (its own memory would pay for it) and writes on the socket;
 * b takes a's and switches. Calls go both ways, larger than the rings.
 */
START_TEST(test_larger_ring_declined)
{
    const size_t big = (size_t) 64 << 10, len = (size_t) 100 << 10;
    epy_error err = EPY_ERROR_INIT;
    epy_buf reply = EPY_BUF_INIT;
    epy_api *back;
    uint8_t *msg = malloc(len);

    ck_assert_ptr_nonnull(msg);
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t) (i * 7 + i / 251);
    start_sized(4096, big);
    ck_assert_int_eq(epy_peer_handle(b, "u.echo", h_echo, NULL, &err), 0);
    ck_assert_int_eq(epy_api_open(a, "u", &back, &err), 0);
    epy_api_set_timeout(back, 2000);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(epy_api_call(api, "echo", msg, len, NULL, &reply,
                                      &err), 0);
        ck_assert(reply.len == len && memcmp(reply.data, msg, len) == 0);
        ck_assert_int_eq(epy_api_call(back, "echo", msg, len, NULL, &reply,
                                      &err), 0);
        ck_assert(reply.len == len && memcmp(reply.data, msg, len) == 0);
    }
    /* b's ring is mapped once (by b), a's twice; neither is all shm. */
    ck_assert_int_eq(ring_maps(EPY__RING_HEADER + big), 1);
    ck_assert_int_eq(ring_maps(EPY__RING_HEADER + 4096), 2);
    ck_assert(!epy_peer_shm(a));
    ck_assert(!epy_peer_shm(b));
    ck_assert(epy_peer_is_connected(a) && epy_peer_is_connected(b));
    epy_api_close(back);
    epy_buf_clear(&reply);
    free(msg);
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
    tcase_add_test(tc, test_head_out_of_range);
    tcase_add_test(tc, test_larger_ring_declined);
    tcase_add_test(tc, test_random_scribbles);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
