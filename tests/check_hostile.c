/*
 * Hostile peers, what they send, and the limits that keep the attacked
 * process alive: memory per decoded frame and per compressed payload,
 * memory held by received calls, and what the wire may carry (timeouts
 * out of range, method names with NUL bytes or invalid UTF-8). Raw
 * clients write their frames by hand. Peers that stall (threads,
 * deadlines) are in check_stalls.
 *
 * Every server under test runs in the test process, on a unix socket in
 * the test's own mkdtemp() folder (hostile-helpers.h).
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <epyrpc/epyrpc.h>

#include "hostile-helpers.h"
#include "rt-helpers.h"
#include "testutil.h"
#include "wire-helpers.h"

/* --- fixture -------------------------------------------------------------- */

/*
 * The state of the "t.hold" handler (test_call_memory_budget). Static,
 * and released by the teardown, so that a failed test (CK_FORK=no)
 * leaves no handler blocked, nor one waiting on a stack that is gone.
 */
typedef struct holder {
    rt_counter started;
    rt_gate gate;
    bool live;
} holder;

static holder held;

/* Releases the "t.hold" handler around closing the server. */
static void
teardown(void)
{
    if (held.live)
        rt_gate_open(&held.gate);
    hh_srv = epy_server_close(hh_srv);
    if (held.live) {
        rt_gate_destroy(&held.gate);
        rt_counter_destroy(&held.started);
        held.live = false;
    }
    hh_teardown();
}

/* --- memory --------------------------------------------------------------- */

/*
 * Waits until the server has made the peers of @n clients (their
 * threads started), so that a measure taken next does not count them.
 */
static void
wait_accepted(size_t n)
{
    int64_t deadline = tu_now_ms() + RT_WAIT_MS;

    while (epy_server_clients(hh_srv) < n && tu_now_ms() < deadline)
        rt_sleep_ms(5);         /* polling a condition with no waiter */
    ck_assert_uint_eq(epy_server_clients(hh_srv), n);
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"). */
static long
status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "re");
    size_t klen = strlen(key);
    char line[256];
    long v = -1;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    ck_assert_msg(v >= 0, "no %s in /proc/self/status", key);
    return v;
}

/*
 * Starts a measure of the process's peak memory: resets the peak (VmHWM)
 * to the current RSS, and returns the base to subtract from it later. If
 * the kernel refuses the reset, the base is the old peak (growth beyond
 * it is still seen).
 */
static long
peak_start(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    bool reset = false;

    if (fd >= 0) {
        reset = write(fd, "5", 1) == 1;
        close(fd);
    }
    return reset ? status_kib("VmRSS") : status_kib("VmHWM");
}

/* KiB the peak grew by since peak_start() gave @base. */
static long
peak_growth(long base)
{
    return status_kib("VmHWM") - base;
}

/*
 * A first frame whose hello holds 400,000 empty interface names: about
 * 800 KB on the wire, but each is a string (and a pointer) to decode.
 * The decoder may allocate at most 8 * 800 KB + 64 KiB for it: the
 * connection is closed, and the process does not grow by the decoded
 * size.
 */
START_TEST(test_hello_interfaces_bomb)
{
    enum { N_IFACES = 400000 };
    tw_msg hello, env;
    long base, grew, kinds[8] = { 0 };
    bool closed;
    int fd;

    hh_start_server(NULL);
    tw_msg_init(&hello);
    tw_msg_init(&env);
    tw_msg_varint(&hello, 1, EPY_PROTOCOL_VERSION);
    for (int i = 0; i < N_IFACES; i++)
        tw_msg_bytes(&hello, 2, "", 0);
    tw_msg_varint(&env, 1, EPYRPC__KIND__HELLO);
    tw_msg_bytes(&env, 9, hello.data, hello.len);
    tw_msg_free(&hello);

    fd = tw_connect_unix(hh_url);
    wait_accepted(1);
    base = peak_start();
    tw_send_msg(fd, &env);
    closed = tw_wait_eof(fd, 5000 * tu_slow(), kinds);
    grew = peak_growth(base);
    ck_assert_msg(closed, "a hello of %zu bytes with %d empty interfaces was "
                  "accepted: the connection stayed open (peak RSS grew by "
                  "%ld KiB)", env.len, N_IFACES, grew);
    ck_assert_msg(grew < 32 * 1024, "peak RSS grew by %ld KiB for a frame of "
                  "%zu bytes", grew, env.len);
    close(fd);
    tw_msg_free(&env);
    hh_assert_server_serves();
}
END_TEST

/* Deflates @raw_len zero bytes (zlib format), without a buffer that big. */
static tw_msg
deflate_zeros(size_t raw_len)
{
    static const uint8_t zeros[64 * 1024];
    z_stream z;
    tw_msg out;
    size_t left = raw_len;
    int rc;

    tw_msg_init(&out);
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit(&z, 9), Z_OK);
    out.cap = 64 * 1024;
    out.data = malloc(out.cap);
    ck_assert_ptr_nonnull(out.data);
    do {
        size_t chunk = left < sizeof zeros ? left : sizeof zeros;

        z.next_in = (Bytef *) zeros;
        z.avail_in = (uInt) chunk;
        left -= chunk;
        do {
            if (out.cap - out.len < 1024) {
                out.cap *= 2;
                out.data = realloc(out.data, out.cap);
                ck_assert_ptr_nonnull(out.data);
            }
            z.next_out = out.data + out.len;
            z.avail_out = (uInt) (out.cap - out.len);
            rc = deflate(&z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
            ck_assert(rc != Z_STREAM_ERROR);
            out.len = out.cap - z.avail_out;
        } while (z.avail_out == 0 || (left == 0 && rc != Z_STREAM_END));
    } while (left > 0);
    ck_assert_int_eq(rc, Z_STREAM_END);
    deflateEnd(&z);
    return out;
}

/*
 * A compressed call whose raw_len (15 MiB of zeros, under the 16 MiB
 * max_frame) is far above 8 * its frame (about 15 KB) + 1 MiB: refused,
 * the connection closed, nothing of raw_len's size allocated.
 */
START_TEST(test_zlib_bomb_refused)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    size_t raw_len = 15 * MIB;
    tw_msg z = deflate_zeros(raw_len);
    long base, grew, kinds[8] = { 0 };
    bool closed;
    int fd;

    ck_assert_uint_lt(z.len, 64 * KIB);
    cfg.peer.compress_threshold = 1024;     /* the server takes zlib */
    hh_start_server(&cfg);
    fd = hh_raw_hello(true);
    wait_accepted(1);
    env.kind = EPYRPC__KIND__CALL;
    env.has_txn = true;
    env.txn = 1;
    env.method = (char *) "t.echo";
    env.has_raw_len = true;
    env.raw_len = raw_len;
    env.has_payload = true;
    env.payload.data = z.data;
    env.payload.len = z.len;
    base = peak_start();
    tw_send_env(fd, &env);
    closed = tw_wait_eof(fd, 5000 * tu_slow(), kinds);
    grew = peak_growth(base);
    ck_assert_msg(closed && kinds[EPYRPC__KIND__REPLY] == 0,
                  "a %zu-byte payload inflating to %zu bytes was accepted: "
                  "%ld replies, connection %s (peak RSS grew by %ld KiB)",
                  z.len, raw_len, kinds[EPYRPC__KIND__REPLY],
                  closed ? "closed" : "open", grew);
    /* Below raw_len: inflating it anywhere would show. */
    ck_assert_msg(grew < 12 * 1024, "peak RSS grew by %ld KiB", grew);
    close(fd);
    tw_msg_free(&z);
    hh_assert_server_serves();
}
END_TEST

/*
 * A real client with compression on both ends sends 4 MiB of zeros (a
 * ratio the receiver refuses if sent as one deflate stream): the sender
 * keeps within what the receiver accepts, and the echo comes back whole.
 */
START_TEST(test_compressed_echo_4mib)
{
    epy_server_config scfg = EPY_SERVER_CONFIG_INIT;
    epy_peer_config ccfg = EPY_PEER_CONFIG_INIT;
    size_t n = 4 * MIB;
    uint8_t *zeros = calloc(1, n);
    epy_buf out = EPY_BUF_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;
    epy_api *api;
    int rc;

    ck_assert_ptr_nonnull(zeros);
    scfg.peer.compress_threshold = 1024;
    hh_start_server(&scfg);
    ccfg.compress_threshold = 1024;
    ck_assert_int_eq(epy_connect(hh_url, &ccfg, RT_WAIT_MS, &peer, NULL), 0);
    api = rt_api(peer, "t");
    epy_api_set_timeout(api, 20000 * tu_slow());
    for (int round = 0; round < 2; round++) {
        rc = epy_api_call(api, "echo", zeros, n, NULL, &out, &err);
        ck_assert_msg(rc == 0, "round %d: echo of 4 MiB of zeros: %s: %s",
                      round, epy_status_name(rc),
                      err.message != NULL ? err.message : "");
        ck_assert_uint_eq(out.len, n);
        ck_assert(memcmp(out.data, zeros, n) == 0);
        memset(out.data, 0xee, out.len);
    }
    ck_assert_int_eq(epy_peer_status(peer), 0);
    epy_buf_clear(&out);
    epy_error_clear(&err);
    epy_api_close(api);
    epy_peer_close(peer);
    free(zeros);
}
END_TEST

/* A handler that holds its call (and its request) until the gate opens. */
static void
held_init(void)
{
    rt_counter_init(&held.started);
    rt_gate_init(&held.gate);
    held.live = true;
}

static int
hold(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    holder *h = ctx;

    rt_counter_add(&h->started, 1);
    if (!rt_gate_wait(&h->gate, 60000 * tu_slow()))
        rt_note_failure(__FILE__, __LINE__, "hold: the gate never opened");
    return epy_call_reply(call, req, len < 16 ? len : 16);
}

/*
 * max_call_memory 1 MiB: two 400 KiB calls held by their handlers fit,
 * a third does not: it waits (unanswered, its handler not started), then
 * fails with EPY_EBUSY; the connection stays. Once the first two are
 * released, a later call of the same size succeeds.
 */
START_TEST(test_call_memory_budget)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    size_t n = 400 * KIB;
    uint8_t *req = malloc(n);
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *a[3] = { NULL, NULL, NULL };
    epy_error err = EPY_ERROR_INIT;
    epy_buf out = EPY_BUF_INIT;
    epy_peer *peer;
    epy_api *api;
    int64_t t0, t1;
    int rc;

    ck_assert_ptr_nonnull(req);
    rt_fill(req, n, 7);
    held_init();
    cfg.max_call_memory = 1 * MIB;
    hh_start_server(&cfg);
    ck_assert_int_eq(epy_server_handle(hh_srv, "t.hold", hold, &held, NULL), 0);
    ck_assert_int_eq(epy_connect(hh_url, NULL, RT_WAIT_MS, &peer, NULL), 0);
    api = rt_api(peer, "t");
    epy_api_set_timeout(api, 30000 * tu_slow());

    for (int i = 0; i < 2; i++) {
        rc = epy_api_call_async(api, "hold", req, n, &opts, &a[i], &err);
        ck_assert_msg(rc == 0, "call %d: %s", i + 1, epy_status_name(rc));
    }
    ck_assert_msg(rt_counter_wait(&held.started, 2, RT_WAIT_MS),
                  "the first two calls (800 KiB) did not both start: %ld",
                  rt_counter_get(&held.started));

    /* The third would hold 1.2 MiB. */
    t0 = tu_now_ms();
    rc = epy_api_call_async(api, "hold", req, n, &opts, &a[2], &err);
    ck_assert_msg(rc == 0, "call 3: %s", epy_status_name(rc));
    t1 = tu_now_ms();
    if (t1 - t0 < 300) {
        rc = epy_async_wait(a[2], 300 - (t1 - t0));
        ck_assert_msg(rc == EPY_EPENDING,
                      "the third call was answered at once (%s) while the "
                      "others held the memory", epy_status_name(rc));
    }
    rc = epy_async_wait(a[2], 5000 * tu_slow() + 1000);
    t1 = tu_now_ms();
    ck_assert_msg(rc == EPY_EBUSY, "the third call (over max_call_memory) "
                  "ended with %s after %lld ms, not EPY_EBUSY; handlers "
                  "started: %ld", epy_status_name(rc), (long long) (t1 - t0),
                  rt_counter_get(&held.started));
    ck_assert_msg(t1 - t0 < 5000 * tu_slow(), "EPY_EBUSY after %lld ms",
                  (long long) (t1 - t0));
    ck_assert_int_eq(rt_counter_get(&held.started), 2);
    ck_assert_int_eq(epy_async_status_get(a[0]), EPY_ASYNC_PENDING);
    ck_assert_int_eq(epy_async_status_get(a[1]), EPY_ASYNC_PENDING);
    ck_assert_int_eq(epy_peer_status(peer), 0);

    /* Room again. */
    rt_gate_open(&held.gate);
    for (int i = 0; i < 2; i++) {
        rc = epy_async_wait(a[i], RT_WAIT_MS);
        ck_assert_msg(rc == 0, "held call %d: %s", i + 1, epy_status_name(rc));
    }
    for (int i = 0; i < 3; i++) {
        rc = epy_api_call(api, "hold", req, n, NULL, &out, &err);
        ck_assert_msg(rc == 0, "call after release %d: %s: %s", i,
                      epy_status_name(rc),
                      err.message != NULL ? err.message : "");
        ck_assert_uint_eq(out.len, 16);
        ck_assert(memcmp(out.data, req, 16) == 0);
    }
    for (int i = 0; i < 3; i++)
        epy_async_release(a[i]);
    epy_buf_clear(&out);
    epy_error_clear(&err);
    epy_api_close(api);
    epy_peer_close(peer);
    free(req);
}
END_TEST

/* --- wire ----------------------------------------------------------------- */

/*
 * Reads frames until the answer (REPLY or ERROR) of @txn; others are
 * skipped. Returns 1 with *@ret_env, 0 at the end of the stream, -1 if
 * none came within @timeout_ms.
 */
static int
raw_answer(int fd, uint64_t txn, int64_t timeout_ms, Epyrpc__Envelope **ret_env)
{
    int64_t deadline = tu_now_ms() + timeout_ms;

    for (;;) {
        Epyrpc__Envelope *env;
        int rc = tw_read_env_timeout(fd, deadline - tu_now_ms(), &env);

        if (rc <= 0)
            return rc;
        if ((env->kind == EPYRPC__KIND__REPLY
             || env->kind == EPYRPC__KIND__ERROR)
            && env->has_txn && env->txn == txn) {
            *ret_env = env;
            return 1;
        }
        epyrpc__envelope__free_unpacked(env, NULL);
    }
}

/* Answers the call's remaining budget (8 bytes LE) and its cancelled flag. */
static int
remaining(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    uint8_t out[9];
    uint64_t left = (uint64_t) epy_call_remaining_ms(call);

    (void) req;
    (void) len;
    (void) ctx;
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t) (left >> (8 * i));
    out[8] = epy_call_cancelled(call);
    return epy_call_reply(call, out, sizeof out);
}

/* Calls "t.left" with @timeout_ms on the wire; the handler's view of it. */
static int64_t
remaining_seen(int fd, uint64_t txn, int64_t timeout_ms, bool *ret_cancelled)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT, *got;
    uint64_t left = 0;
    int rc;

    env.kind = EPYRPC__KIND__CALL;
    env.has_txn = true;
    env.txn = txn;
    env.method = (char *) "t.left";
    env.has_timeout_ms = true;
    env.timeout_ms = timeout_ms;
    tw_send_env(fd, &env);
    rc = raw_answer(fd, txn, RT_WAIT_MS, &got);
    ck_assert_msg(rc == 1, "no answer to a call with timeout_ms %lld (%s)",
                  (long long) timeout_ms,
                  rc == 0 ? "connection closed" : "timed out");
    ck_assert_msg(got->kind == EPYRPC__KIND__REPLY,
                  "timeout_ms %lld: error %d (%s)", (long long) timeout_ms,
                  got->code, got->message != NULL ? got->message : "");
    ck_assert_uint_eq(got->payload.len, 9);
    for (int i = 0; i < 8; i++)
        left |= (uint64_t) got->payload.data[i] << (8 * i);
    *ret_cancelled = got->payload.data[8] != 0;
    epyrpc__envelope__free_unpacked(got, NULL);
    return (int64_t) left;
}

/*
 * Timeouts far beyond 24 hours (2^62, INT64_MAX, the first value whose
 * nanoseconds overflow, 24 h + 1 ms) are clamped, not overflowed (the
 * sanitizer build aborts on a signed overflow): the call is answered and
 * the handler sees no limit (-1) or a positive budget of at most 24 h,
 * and the call is not cancelled.
 */
START_TEST(test_huge_timeouts)
{
    static const int64_t huge[] = {
        INT64_C(1) << 62, INT64_MAX, INT64_C(9223372036855),
        EPY_TIMEOUT_MAX + 1,
    };
    uint64_t txn = 1;
    bool cancelled;
    int64_t left;
    int fd;

    hh_start_server(NULL);
    ck_assert_int_eq(epy_server_handle(hh_srv, "t.left", remaining, NULL, NULL),
                     0);
    fd = hh_raw_hello(false);
    /* A plain one first: the handler reports what it was given. */
    left = remaining_seen(fd, txn++, 5000, &cancelled);
    ck_assert_msg(left > 0 && left <= 5000, "timeout 5000: %lld left",
                  (long long) left);
    ck_assert(!cancelled);
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        left = remaining_seen(fd, txn++, huge[i], &cancelled);
        ck_assert_msg(left == -1 || (left > 0 && left <= EPY_TIMEOUT_MAX),
                      "timeout_ms %lld: the handler sees %lld ms left",
                      (long long) huge[i], (long long) left);
        ck_assert_msg(!cancelled, "timeout_ms %lld: the call is cancelled",
                      (long long) huge[i]);
    }
    close(fd);
    hh_assert_server_serves();
}
END_TEST

/* Negative timeouts mean no limit or already expired: -1 or 0 left. */
START_TEST(test_negative_timeouts)
{
    static const int64_t neg[] = { -1, -1000, -EPY_TIMEOUT_MAX - 1, INT64_MIN };
    uint64_t txn = 1;
    bool cancelled;
    int64_t left;
    int fd;

    hh_start_server(NULL);
    ck_assert_int_eq(epy_server_handle(hh_srv, "t.left", remaining, NULL, NULL),
                     0);
    fd = hh_raw_hello(false);
    for (size_t i = 0; i < sizeof neg / sizeof neg[0]; i++) {
        left = remaining_seen(fd, txn++, neg[i], &cancelled);
        ck_assert_msg(left == -1 || left == 0,
                      "timeout_ms %lld: the handler sees %lld ms left",
                      (long long) neg[i], (long long) left);
    }
    close(fd);
    hh_assert_server_serves();
}
END_TEST

/* Counts the calls that reach "t.echo" or the "t" catch-all. */
static rt_counter reached;

static int
counting_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    rt_counter_add(&reached, 1);
    return epy_call_reply(call, req, len);
}

/*
 * Sends a CALL (txn 1) whose method field holds the @mlen bytes @method
 * exactly, then checks: the answer is an error with EPY_EPARAM, or the
 * connection is closed; no handler ran; a good call still works if the
 * connection is up.
 */
static void
assert_method_refused(const char *method, size_t mlen, const char *what)
{
    Epyrpc__Envelope *got;
    tw_msg m;
    int fd, rc;

    rt_counter_init(&reached);
    hh_start_server(NULL);
    ck_assert_int_eq(epy_server_handle(hh_srv, "t.echo", NULL, NULL, NULL), 0);
    ck_assert_int_eq(epy_server_handle(hh_srv, "t.echo", counting_echo, NULL,
                                       NULL), 0);
    ck_assert_int_eq(epy_server_handle_ns(hh_srv, "t", counting_echo, NULL,
                                          NULL), 0);
    fd = hh_raw_hello(false);
    tw_msg_init(&m);
    tw_msg_varint(&m, 1, EPYRPC__KIND__CALL);
    tw_msg_varint(&m, 2, 1);
    tw_msg_bytes(&m, 3, method, mlen);
    tw_msg_bytes(&m, 15, "BAD", 3);
    tw_send_msg(fd, &m);
    tw_msg_free(&m);
    rc = raw_answer(fd, 1, RT_WAIT_MS, &got);
    ck_assert_msg(rc >= 0, "%s: no answer, and the connection is open", what);
    if (rc == 1) {
        ck_assert_msg(got->kind == EPYRPC__KIND__ERROR,
                      "%s: the call was answered with a reply", what);
        ck_assert_msg(got->has_code && got->code == EPY_EPARAM,
                      "%s: error %s (%s), not EPY_EPARAM", what,
                      epy_status_name(got->code),
                      got->message != NULL ? got->message : "");
        epyrpc__envelope__free_unpacked(got, NULL);
        /* The connection goes on. */
        hh_raw_call(fd, 2, "t.echo", "GOOD", 4);
        rc = raw_answer(fd, 2, RT_WAIT_MS, &got);
        ck_assert_msg(rc == 1 && got->kind == EPYRPC__KIND__REPLY,
                      "%s: the good call after it got no reply", what);
        ck_assert_uint_eq(got->payload.len, 4);
        ck_assert_mem_eq(got->payload.data, "GOOD", 4);
        epyrpc__envelope__free_unpacked(got, NULL);
        ck_assert_msg(rt_counter_get(&reached) == 1, "%s: a handler ran for "
                      "it (%ld calls reached handlers, 1 expected)", what,
                      rt_counter_get(&reached) - 1);
        close(fd);
    } else {
        /* Closed: once the server has let it go, no handler has run. */
        close(fd);
        ck_assert(hh_clients_at_most(0, RT_WAIT_MS));
        ck_assert_msg(rt_counter_get(&reached) == 0, "%s: a handler ran "
                      "before the connection was closed", what);
    }
    hh_srv = epy_server_close(hh_srv);
    rt_counter_destroy(&reached);
}

/* "t.echo\0junk": the handler of "t.echo" must not take it. */
START_TEST(test_method_embedded_nul)
{
    static const char method[] = "t.echo\0junk";

    ck_assert_uint_eq(sizeof method - 1, 11);
    assert_method_refused(method, sizeof method - 1, "t.echo\\0junk");
}
END_TEST

/* Method names that are not valid UTF-8 (nor identifiers). */
START_TEST(test_method_invalid_utf8)
{
    static const char *bad[] = { "t.\xff", "t.ech\xc0\xaf", "t.\xc3" };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char what[32];

        snprintf(what, sizeof what, "method #%zu", i);
        assert_method_refused(bad[i], strlen(bad[i]), what);
    }
}
END_TEST

static Suite *
hostile_suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc;

    tc = hh_tcase(s, "memory", 60, teardown);
    tcase_add_test(tc, test_hello_interfaces_bomb);
    tcase_add_test(tc, test_zlib_bomb_refused);
    tcase_add_test(tc, test_compressed_echo_4mib);
    tcase_add_test(tc, test_call_memory_budget);

    tc = hh_tcase(s, "wire", 60, teardown);
    tcase_add_test(tc, test_huge_timeouts);
    tcase_add_test(tc, test_negative_timeouts);
    tcase_add_test(tc, test_method_embedded_nul);
    tcase_add_test(tc, test_method_invalid_utf8);
    return s;
}

int
main(void)
{
    return tu_run_suite(hostile_suite());
}
