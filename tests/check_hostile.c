/*
 * Hostile peers: clients (raw sockets writing frames by hand, or epyrpc
 * clients that misbehave) and servers that attack the other end, and the
 * limits that keep the attacked process alive: memory per decoded frame
 * and per compressed payload, memory held by received calls, threads
 * started for nested calls, the deadlines of the handshake, of idle
 * clients and of writes, and what the wire may carry (timeouts out of
 * range, method names with NUL bytes or invalid UTF-8).
 *
 * Every server under test runs in the test process, on a unix socket in
 * the test's own mkdtemp() folder.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

#include <epyrpc/epyrpc.h>

#include "rt-helpers.h"
#include "testutil.h"
#include "wire-helpers.h"

#define KIB ((size_t) 1024)
#define MIB ((size_t) 1024 * 1024)

/* Upper bound of something specified to happen within half a second. */
#define PROMPT_MS ((int64_t) 3000 * tu_slow())

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

static tu_resources res;
static int fail_base;
static char dir[64];
static char url[160];       /* the server under test: unix:DIR/s */
static epy_server *srv;

static void
setup(void)
{
    tu_resources_take(&res);
    fail_base = rt_failure_count();
    snprintf(dir, sizeof dir, "/tmp/epy-hostile-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(url, sizeof url, "unix:%s/s", dir);
    srv = NULL;
}

static void
teardown(void)
{
    char path[128];

    if (held.live)
        rt_gate_open(&held.gate);
    srv = epy_server_close(srv);
    if (held.live) {
        rt_gate_destroy(&held.gate);
        rt_counter_destroy(&held.started);
        held.live = false;
    }
    snprintf(path, sizeof path, "%s/s", dir);
    ck_assert_msg(access(path, F_OK) != 0, "server socket file left behind");
    snprintf(path, sizeof path, "%s/w", dir);      /* a fake server's */
    unlink(path);
    ck_assert_msg(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
    if (rt_failure_count() != fail_base)
        rt_assert_no_failures();
    tu_resources_check(&res);
}

static TCase *
hostile_tcase(Suite *s, const char *name, int timeout_s)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, timeout_s);
    suite_add_tcase(s, tc);
    return tc;
}

/* --- the server under test ------------------------------------------------ */

static int
echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

/* Starts the server on @url with @cfg (NULL: defaults), "t.echo" served. */
static void
start_server(const epy_server_config *cfg)
{
    epy_error err = EPY_ERROR_INIT;
    int rc = epy_server_new(url, cfg, &srv, &err);

    ck_assert_msg(rc == 0, "epy_server_new: %s: %s", epy_status_name(rc),
                  err.message != NULL ? err.message : "");
    ck_assert_int_eq(epy_server_handle(srv, "t.echo", echo, NULL, NULL), 0);
}

/* True once the server has at most @n clients, within @timeout_ms. */
static bool
clients_at_most(size_t n, int64_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;

    while (epy_server_clients(srv) > n) {
        if (tu_now_ms() >= deadline)
            return false;
        rt_sleep_ms(5);         /* polling a condition with no waiter */
    }
    return true;
}

/*
 * Waits until the server has made the peers of @n clients (their
 * threads started), so that a measure taken next does not count them.
 */
static void
wait_accepted(size_t n)
{
    int64_t deadline = tu_now_ms() + RT_WAIT_MS;

    while (epy_server_clients(srv) < n && tu_now_ms() < deadline)
        rt_sleep_ms(5);         /* polling a condition with no waiter */
    ck_assert_uint_eq(epy_server_clients(srv), n);
}

/* A well-behaved client still gets its echo: the server is serving. */
static void
assert_server_serves(void)
{
    epy_peer *peer;
    epy_api *api;
    epy_error err = EPY_ERROR_INIT;
    int rc = epy_connect(url, NULL, RT_WAIT_MS, &peer, &err);

    ck_assert_msg(rc == 0, "a good client cannot connect: %s: %s",
                  epy_status_name(rc), err.message != NULL ? err.message : "");
    api = rt_api(peer, "t");
    epy_api_set_timeout(api, RT_WAIT_MS);
    rt_call_expect(api, "echo", "ok", 2, "ok", 2);
    epy_api_close(api);
    epy_peer_close(peer);
}

/* --- a raw client --------------------------------------------------------- */

/* Sends a CALL of @method with @payload (protobuf-c encoded). */
static void
raw_call(int fd, uint64_t txn, const char *method, const void *payload,
         size_t len)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;

    env.kind = EPYRPC__KIND__CALL;
    env.has_txn = true;
    env.txn = txn;
    env.method = (char *) method;
    env.has_payload = payload != NULL;
    env.payload.data = (uint8_t *) payload;
    env.payload.len = len;
    tw_send_env(fd, &env);
}

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

/* Connects a raw client and sends its hello. */
static int
raw_hello(bool zlib)
{
    int fd = tw_connect_unix(url);
    struct timeval tv = { 5, 0 };

    /* Writes that the server does not take give up instead of hanging. */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    tw_send_hello(fd, EPY_PROTOCOL_VERSION, NULL, zlib);
    return fd;
}

/* --- memory --------------------------------------------------------------- */

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

    start_server(NULL);
    tw_msg_init(&hello);
    tw_msg_init(&env);
    tw_msg_varint(&hello, 1, EPY_PROTOCOL_VERSION);
    for (int i = 0; i < N_IFACES; i++)
        tw_msg_bytes(&hello, 2, "", 0);
    tw_msg_varint(&env, 1, EPYRPC__KIND__HELLO);
    tw_msg_bytes(&env, 9, hello.data, hello.len);
    tw_msg_free(&hello);

    fd = tw_connect_unix(url);
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
    assert_server_serves();
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
    start_server(&cfg);
    fd = raw_hello(true);
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
    assert_server_serves();
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
    start_server(&scfg);
    ccfg.compress_threshold = 1024;
    ck_assert_int_eq(epy_connect(url, &ccfg, RT_WAIT_MS, &peer, NULL), 0);
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
    start_server(&cfg);
    ck_assert_int_eq(epy_server_handle(srv, "t.hold", hold, &held, NULL), 0);
    ck_assert_int_eq(epy_connect(url, NULL, RT_WAIT_MS, &peer, NULL), 0);
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

/* --- threads -------------------------------------------------------------- */

/*
 * A handler that calls its caller back ("cb.ping") and waits for the
 * answer: a raw client never gives one, so each call blocks a worker.
 */
static int
nest(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    epy_call_opts o = EPY_CALL_OPTS_INIT;
    epy_api *api = NULL;
    int rc;

    (void) ctx;
    rc = epy_api_open(epy_call_peer(call), "cb", &api, NULL);
    if (rc == 0) {
        o.timeout_ms = 10000 * tu_slow();
        rc = epy_api_call(api, "ping", req, len, &o, NULL, NULL);
        epy_api_close(api);
    }
    return rc < 0 ? rc : epy_call_reply(call, NULL, 0);
}

/* What a raw client of the nested-call tests has received. */
typedef struct raw_client {
    int fd;
    long callbacks;     /* CALL frames from the server (its nested calls) */
    long ebusy;         /* ERROR frames with EPY_EBUSY */
    long errors;        /* other ERROR frames */
    long replies;
    bool eof;
} raw_client;

/* Pipelines @calls calls of "t.nest" after the hello. */
static void
raw_client_start(raw_client *c, int calls)
{
    memset(c, 0, sizeof *c);
    c->fd = raw_hello(false);
    for (int i = 1; i <= calls; i++)
        raw_call(c->fd, (uint64_t) i, "t.nest", "x", 1);
}

/* Reads what @c has received, for up to @wait_ms. Never answers. */
static void
raw_client_pump(raw_client *c, int64_t wait_ms)
{
    int64_t deadline = tu_now_ms() + wait_ms;

    while (!c->eof) {
        Epyrpc__Envelope *env;
        int rc = tw_read_env_timeout(c->fd, deadline - tu_now_ms(), &env);

        if (rc < 0)
            return;
        if (rc == 0) {
            c->eof = true;
            return;
        }
        switch (env->kind) {
        case EPYRPC__KIND__CALL:
            c->callbacks++;
            break;
        case EPYRPC__KIND__ERROR:
            if (env->has_code && env->code == EPY_EBUSY)
                c->ebusy++;
            else
                c->errors++;
            break;
        case EPYRPC__KIND__REPLY:
            c->replies++;
            break;
        default:
            break;
        }
        epyrpc__envelope__free_unpacked(env, NULL);
    }
}

/*
 * Reads for the clients and counts the process's threads until neither
 * threads nor frames have changed for a second (at most a few seconds);
 * returns the most threads seen.
 */
static int
watch_threads(raw_client *cs, int n)
{
    int64_t start = tu_now_ms(), last_change = start;
    int64_t settle = 1000 * (tu_slow() < 3 ? tu_slow() : 3);
    int most = tu_count_threads();
    long last_sum = -1;

    while (tu_now_ms() - start < 5000 * tu_slow()) {
        long sum = 0;
        int th;

        for (int i = 0; i < n; i++) {
            raw_client_pump(&cs[i], 20);
            sum += cs[i].callbacks + cs[i].ebusy + cs[i].errors + cs[i].replies;
        }
        th = tu_count_threads();
        if (th > most) {
            most = th;
            last_change = tu_now_ms();
        }
        if (sum != last_sum) {
            last_sum = sum;
            last_change = tu_now_ms();
        }
        if (tu_now_ms() - last_change >= settle)
            break;
    }
    return most;
}

/* Hangs up the raw clients and waits for the server to let them go. */
static void
raw_clients_end(raw_client *cs, int n)
{
    for (int i = 0; i < n; i++)
        close(cs[i].fd);
    ck_assert_msg(clients_at_most(0, 15000 * tu_slow()),
                  "%zu clients still open after they hung up",
                  epy_server_clients(srv));
    srv = epy_server_close(srv);
}

/*
 * workers 2, max_spare_workers 4, max_queued 8: 100 pipelined calls
 * whose handlers all block in a callback the client never answers. At
 * most 2 + 4 threads run them; 8 more wait; the rest are refused with
 * EPY_EBUSY (the reading goes on, so replies could still arrive).
 */
START_TEST(test_nested_callbacks_bounded)
{
    enum { CALLS = 100, WORKERS = 2, SPARE = 4, QUEUED = 8 };
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    raw_client c;
    int base, most;

    cfg.peer.workers = WORKERS;
    cfg.peer.max_spare_workers = SPARE;
    cfg.peer.max_queued = QUEUED;
    start_server(&cfg);
    ck_assert_int_eq(epy_server_handle(srv, "t.nest", nest, NULL, NULL), 0);
    base = tu_count_threads();
    raw_client_start(&c, CALLS);
    most = watch_threads(&c, 1);
    ck_assert_msg(most <= base + WORKERS + SPARE + 8,
                  "threads grew from %d to %d (bound %d); %ld callbacks, "
                  "%ld EPY_EBUSY", base, most, base + WORKERS + SPARE + 8,
                  c.callbacks, c.ebusy);
    ck_assert_msg(c.callbacks <= WORKERS + SPARE,
                  "%ld handlers ran at once (bound %d)", c.callbacks,
                  WORKERS + SPARE);
    ck_assert_msg(c.ebusy >= 1, "no EPY_EBUSY error frame (%ld callbacks, "
                  "%ld other errors, %ld replies, eof %d)", c.callbacks,
                  c.errors, c.replies, (int) c.eof);
    ck_assert_msg(c.ebusy >= CALLS - (WORKERS + SPARE + QUEUED) - 8,
                  "only %ld of %d calls refused with EPY_EBUSY", c.ebusy,
                  CALLS);
    ck_assert(!c.eof);
    raw_clients_end(&c, 1);
}
END_TEST

/*
 * The server-wide cap: max_spare_workers 3 for all clients together,
 * three clients each pipelining 100 blocked nested calls.
 */
START_TEST(test_server_spare_cap)
{
    enum { CALLS = 100, WORKERS = 2, SPARE = 3, QUEUED = 8, NCLI = 3 };
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    raw_client c[NCLI];
    int base, most, bound;
    long callbacks = 0, ebusy = 0;

    cfg.peer.workers = WORKERS;
    cfg.peer.max_queued = QUEUED;
    cfg.max_spare_workers = SPARE;
    start_server(&cfg);
    ck_assert_int_eq(epy_server_handle(srv, "t.nest", nest, NULL, NULL), 0);
    base = tu_count_threads();
    for (int i = 0; i < NCLI; i++)
        raw_client_start(&c[i], CALLS);
    most = watch_threads(c, NCLI);
    /* Per client a reader and its workers; the spares of all; the rest. */
    bound = base + NCLI * (WORKERS + 1) + SPARE + 8;
    for (int i = 0; i < NCLI; i++) {
        callbacks += c[i].callbacks;
        ebusy += c[i].ebusy;
    }
    ck_assert_msg(most <= bound, "threads grew from %d to %d (bound %d); "
                  "%ld callbacks, %ld EPY_EBUSY", base, most, bound,
                  callbacks, ebusy);
    ck_assert_msg(callbacks <= NCLI * WORKERS + SPARE,
                  "%ld handlers ran at once (bound %d)", callbacks,
                  NCLI * WORKERS + SPARE);
    for (int i = 0; i < NCLI; i++)
        ck_assert_msg(c[i].ebusy >= 1, "client %d got no EPY_EBUSY "
                      "(%ld callbacks, %ld other errors, eof %d)", i,
                      c[i].callbacks, c[i].errors, (int) c[i].eof);
    ck_assert_msg(ebusy >= NCLI * CALLS
                  - (NCLI * (WORKERS + QUEUED) + SPARE) - 8 * NCLI,
                  "only %ld of %d calls refused with EPY_EBUSY", ebusy,
                  NCLI * CALLS);
    raw_clients_end(c, NCLI);
}
END_TEST

/* --- deadlines ------------------------------------------------------------ */

/*
 * handshake_timeout_ms 500 bounds the whole hello: a client trickling it
 * one byte every 100 ms (the hello would take several seconds) is
 * dropped after about half a second.
 */
START_TEST(test_handshake_trickle)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    Epyrpc__Hello h = EPYRPC__HELLO__INIT;
    int64_t limit = PROMPT_MS, t0, elapsed;
    size_t n_iface = (size_t) (limit / 100) + 40, n, sent = 0;
    char *iface = malloc(n_iface + 1), *ifaces[1];
    uint8_t *frame;
    bool dropped = false;
    int fd;

    ck_assert_ptr_nonnull(iface);
    memcpy(iface, "x=", 2);
    memset(iface + 2, 'f', n_iface - 2);
    iface[n_iface] = '\0';
    ifaces[0] = iface;
    h.version = EPY_PROTOCOL_VERSION;
    h.n_interfaces = 1;
    h.interfaces = ifaces;
    env.kind = EPYRPC__KIND__HELLO;
    env.hello = &h;
    n = epyrpc__envelope__get_packed_size(&env);
    frame = malloc(n + 4);
    ck_assert_ptr_nonnull(frame);
    frame[0] = (uint8_t) n;
    frame[1] = (uint8_t) (n >> 8);
    frame[2] = (uint8_t) (n >> 16);
    frame[3] = (uint8_t) (n >> 24);
    epyrpc__envelope__pack(&env, frame + 4);
    n += 4;
    ck_assert_int_gt((int64_t) n * 100, limit + 1000);

    cfg.handshake_timeout_ms = 500;
    start_server(&cfg);
    fd = tw_connect_unix(url);
    t0 = tu_now_ms();
    while (!dropped && (elapsed = tu_now_ms() - t0) < limit) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        int64_t next = (int64_t) sent * 100;

        if (elapsed >= next && sent < n) {
            ssize_t w = send(fd, frame + sent, 1, MSG_NOSIGNAL);

            if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
                dropped = true;
                break;
            }
            ck_assert_int_eq(w, 1);
            sent++;
            next += 100;
        }
        if (poll(&pfd, 1, (int) (next > elapsed ? next - elapsed : 1)) > 0) {
            char buf[4096];
            ssize_t r = read(fd, buf, sizeof buf);   /* its hello, or the end */

            if (r == 0 || (r < 0 && errno == ECONNRESET))
                dropped = true;
        }
    }
    elapsed = tu_now_ms() - t0;
    ck_assert_msg(sent < n, "the whole hello went through");
    ck_assert_msg(dropped, "a client trickling its hello (%zu of %zu bytes "
                  "in %lld ms) was not dropped", sent, n, (long long) elapsed);
    ck_assert_msg(elapsed >= 400, "dropped after %lld ms, before the "
                  "handshake timeout", (long long) elapsed);
    ck_assert_msg(elapsed < limit, "dropped after %lld ms",
                  (long long) elapsed);
    close(fd);
    free(frame);
    free(iface);
    assert_server_serves();
}
END_TEST

static void
count_disconnect(epy_peer *peer, int reason, void *ctx)
{
    (void) peer;
    (void) reason;
    rt_counter_add(ctx, 1);
}

static const epy_listener disconnect_listener = {
    NULL, NULL, count_disconnect
};

/* Connects a client whose disconnections are counted in @disc. */
static epy_peer *
connect_counted(rt_counter *disc)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;
    int rc;

    cfg.listener = &disconnect_listener;
    cfg.listener_ctx = disc;
    rc = epy_connect(url, &cfg, RT_WAIT_MS, &peer, &err);
    ck_assert_msg(rc == 0, "epy_connect: %s: %s", epy_status_name(rc),
                  err.message != NULL ? err.message : "");
    return peer;
}

/*
 * Counts the disconnections a client's listener sees. Static: a client
 * left open by a failed test (CK_FORK=no) may still report to it.
 */
static rt_counter disc;

/* idle_timeout_ms 300: a client that does nothing is dropped. */
START_TEST(test_idle_client_dropped)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_peer *peer;
    int64_t t0, elapsed;
    int status;
    bool gone;

    rt_counter_init(&disc);
    cfg.idle_timeout_ms = 300;
    start_server(&cfg);
    t0 = tu_now_ms();
    peer = connect_counted(&disc);
    gone = rt_counter_wait(&disc, 1, PROMPT_MS);
    elapsed = tu_now_ms() - t0;
    status = epy_peer_status(peer);
    epy_peer_close(peer);
    ck_assert_msg(gone, "an idle client was not dropped within %lld ms "
                  "(status %s)", (long long) elapsed, epy_status_name(status));
    ck_assert_int_ne(status, 0);
    ck_assert_msg(status == EPY_EDISCONNECTED, "status %s",
                  epy_status_name(status));
    ck_assert_msg(elapsed >= 250, "dropped after %lld ms, before the idle "
                  "timeout", (long long) elapsed);
    ck_assert(clients_at_most(0, RT_WAIT_MS));
    srv = epy_server_close(srv);
}
END_TEST

static int
slow_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    rt_sleep_ms(1500);          /* simulated work */
    return epy_call_reply(call, req, len);
}

/*
 * idle_timeout_ms 300: a client whose call runs for 1.5 s is not idle;
 * it gets its reply, and is dropped once idle after it.
 */
START_TEST(test_idle_busy_call_kept)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_buf out = EPY_BUF_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;
    epy_api *api;
    int64_t t0, call_ms, idle_ms;
    long disc_during;
    int rc, status_after_call, status;
    bool gone, reply_ok;
    char why[256];

    rt_counter_init(&disc);
    cfg.idle_timeout_ms = 300;
    start_server(&cfg);
    ck_assert_int_eq(epy_server_handle(srv, "t.slow", slow_echo, NULL, NULL),
                     0);
    peer = connect_counted(&disc);
    api = rt_api(peer, "t");
    epy_api_set_timeout(api, 20000 * tu_slow());
    t0 = tu_now_ms();
    rc = epy_api_call(api, "slow", "busy", 4, NULL, &out, &err);
    call_ms = tu_now_ms() - t0;
    disc_during = rt_counter_get(&disc);
    status_after_call = epy_peer_status(peer);
    /* Idle now. */
    t0 = tu_now_ms();
    gone = rt_counter_wait(&disc, 1, PROMPT_MS);
    idle_ms = tu_now_ms() - t0;
    status = epy_peer_status(peer);
    epy_api_close(api);
    epy_peer_close(peer);
    reply_ok = out.len == 4 && memcmp(out.data, "busy", 4) == 0;
    epy_buf_clear(&out);
    snprintf(why, sizeof why, "%s", err.message != NULL ? err.message : "");
    epy_error_clear(&err);

    ck_assert_msg(rc == 0, "a client with a call running was dropped: %s: %s",
                  epy_status_name(rc), why);
    ck_assert(reply_ok);
    ck_assert_int_ge(call_ms, 1400);
    ck_assert_int_eq(disc_during, 0);
    ck_assert_int_eq(status_after_call, 0);
    ck_assert_msg(gone, "not dropped within %lld ms once idle",
                  (long long) idle_ms);
    ck_assert_msg(status == EPY_EDISCONNECTED, "status %s",
                  epy_status_name(status));
    srv = epy_server_close(srv);
}
END_TEST

/* A fake server: accepts, sends a valid hello, never reads. */
typedef struct fake_conn {
    int lfd;
    int fd;
} fake_conn;

static void *
fake_accept(void *arg)
{
    fake_conn *f = arg;

    f->fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (f->fd >= 0)
        tw_send_hello(f->fd, EPY_PROTOCOL_VERSION, NULL, false);
    return NULL;
}

static int
fake_listen(char *furl, size_t furl_len)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(lfd, 0);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/w", dir);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *) &sun, sizeof sun), 0);
    ck_assert_int_eq(listen(lfd, 4), 0);
    snprintf(furl, furl_len, "unix:%s", sun.sun_path);
    return lfd;
}

/* An epyrpc client of the fake server at @furl; *@ret_fd: the fake's end. */
static epy_peer *
fake_client(int lfd, const char *furl, int *ret_fd)
{
    fake_conn f = { lfd, -1 };
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer = NULL;
    pthread_t th;
    int rc;

    ck_assert_int_eq(pthread_create(&th, NULL, fake_accept, &f), 0);
    rc = epy_connect(furl, NULL, RT_WAIT_MS, &peer, &err);
    pthread_join(th, NULL);
    ck_assert_int_ge(f.fd, 0);
    ck_assert_msg(rc == 0, "epy_connect to the fake server: %s: %s",
                  epy_status_name(rc), err.message != NULL ? err.message : "");
    *ret_fd = f.fd;
    return peer;
}

/* A blocking call made on a thread of its own, so that a hang is seen. */
typedef struct bounded_job {
    epy_peer *peer;
    epy_api *api;
    const uint8_t *req;
    size_t req_len;
    int rc;             /* of the call */
    int rc_wait;        /* of epy_async_wait() (async calls) */
    int64_t call_ms;    /* until the call returned */
    int64_t total_ms;   /* until its outcome was known */
    rt_gate done;
} bounded_job;

static void *
job_sync_call(void *arg)
{
    bounded_job *j = arg;
    epy_call_opts o = EPY_CALL_OPTS_INIT;
    int64_t t0 = tu_now_ms();

    o.timeout_ms = 1000;
    j->rc = epy_api_call(j->api, "echo", j->req, j->req_len, &o, NULL, NULL);
    j->call_ms = j->total_ms = tu_now_ms() - t0;
    rt_gate_open(&j->done);
    return NULL;
}

static void *
job_async_call(void *arg)
{
    bounded_job *j = arg;
    epy_call_opts o = EPY_CALL_OPTS_INIT;
    epy_async *a = NULL;
    int64_t t0 = tu_now_ms();

    o.timeout_ms = 1000;
    j->rc = epy_api_call_async(j->api, "echo", j->req, j->req_len, &o, &a,
                               NULL);
    j->call_ms = tu_now_ms() - t0;
    j->rc_wait = j->rc;
    if (j->rc == 0) {
        j->rc_wait = epy_async_wait(a, 10000 * tu_slow());
        epy_async_release(a);
    }
    j->total_ms = tu_now_ms() - t0;
    rt_gate_open(&j->done);
    return NULL;
}

static void *
job_close(void *arg)
{
    bounded_job *j = arg;
    int64_t t0 = tu_now_ms();

    epy_peer_close(j->peer);
    j->call_ms = j->total_ms = tu_now_ms() - t0;
    rt_gate_open(&j->done);
    return NULL;
}

/*
 * Runs @fn(@j) on a thread; if it has not finished within @limit_ms,
 * hangs up the fake server's end @fd (which frees a blocked write) and
 * waits for it. True if it finished in time.
 */
static bool
run_bounded(void *(*fn)(void *), bounded_job *j, int64_t limit_ms, int fd)
{
    pthread_t th;
    bool ok;

    rt_gate_init(&j->done);
    ck_assert_int_eq(pthread_create(&th, NULL, fn, j), 0);
    ok = rt_gate_wait(&j->done, limit_ms);
    if (!ok)
        shutdown(fd, SHUT_RDWR);
    pthread_join(th, NULL);
    rt_gate_destroy(&j->done);
    return ok;
}

/*
 * A server that accepts, says hello and never reads: a sync call with a
 * 1 s timeout and an 8 MiB request (more than the socket takes) returns
 * EPY_ETIMEDOUT in time, and the client closes promptly.
 */
START_TEST(test_write_deadline_sync)
{
    char furl[160];
    size_t n = 8 * MIB;
    uint8_t *big = calloc(1, n);
    bounded_job j;
    int lfd, fd;
    bool ok;

    ck_assert_ptr_nonnull(big);
    lfd = fake_listen(furl, sizeof furl);
    memset(&j, 0, sizeof j);
    j.peer = fake_client(lfd, furl, &fd);
    j.api = rt_api(j.peer, "t");
    j.req = big;
    j.req_len = n;
    ok = run_bounded(job_sync_call, &j, PROMPT_MS + 2000, fd);
    ck_assert_msg(ok, "a sync call with a 1000 ms timeout blocked writing "
                  "to a server that never reads (freed after %lld ms)",
                  (long long) (PROMPT_MS + 2000));
    ck_assert_msg(j.rc == EPY_ETIMEDOUT, "the call gave %s",
                  epy_status_name(j.rc));
    ck_assert_msg(j.call_ms >= 900 && j.call_ms < PROMPT_MS,
                  "EPY_ETIMEDOUT after %lld ms", (long long) j.call_ms);
    ok = run_bounded(job_close, &j, PROMPT_MS + 2000, fd);
    ck_assert_msg(ok && j.call_ms < PROMPT_MS,
                  "closing the client took %lld ms%s", (long long) j.call_ms,
                  ok ? "" : " (freed by hanging up)");
    epy_api_close(j.api);
    close(fd);
    close(lfd);
    free(big);
}
END_TEST

/* The same for an async call: the call and its outcome are both prompt. */
START_TEST(test_write_deadline_async)
{
    char furl[160];
    size_t n = 8 * MIB;
    uint8_t *big = calloc(1, n);
    bounded_job j;
    int lfd, fd;
    bool ok;

    ck_assert_ptr_nonnull(big);
    lfd = fake_listen(furl, sizeof furl);
    memset(&j, 0, sizeof j);
    j.peer = fake_client(lfd, furl, &fd);
    j.api = rt_api(j.peer, "t");
    j.req = big;
    j.req_len = n;
    ok = run_bounded(job_async_call, &j, PROMPT_MS + 2000, fd);
    ck_assert_msg(ok, "an async call with a 1000 ms timeout blocked writing "
                  "to a server that never reads (freed by hanging up after "
                  "%lld ms; epy_api_call_async returned after %lld ms)",
                  (long long) (PROMPT_MS + 2000), (long long) j.call_ms);
    ck_assert_msg(j.call_ms < PROMPT_MS, "epy_api_call_async took %lld ms",
                  (long long) j.call_ms);
    ck_assert_msg(j.rc == EPY_ETIMEDOUT
                  || (j.rc == 0 && j.rc_wait == EPY_ETIMEDOUT),
                  "the call gave %s, its outcome %s", epy_status_name(j.rc),
                  epy_status_name(j.rc_wait));
    ck_assert_msg(j.total_ms < PROMPT_MS, "EPY_ETIMEDOUT after %lld ms",
                  (long long) j.total_ms);
    ok = run_bounded(job_close, &j, PROMPT_MS + 2000, fd);
    ck_assert_msg(ok && j.call_ms < PROMPT_MS,
                  "closing the client took %lld ms%s", (long long) j.call_ms,
                  ok ? "" : " (freed by hanging up)");
    epy_api_close(j.api);
    close(fd);
    close(lfd);
    free(big);
}
END_TEST

/* --- wire ----------------------------------------------------------------- */

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

    start_server(NULL);
    ck_assert_int_eq(epy_server_handle(srv, "t.left", remaining, NULL, NULL),
                     0);
    fd = raw_hello(false);
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
    assert_server_serves();
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

    start_server(NULL);
    ck_assert_int_eq(epy_server_handle(srv, "t.left", remaining, NULL, NULL),
                     0);
    fd = raw_hello(false);
    for (size_t i = 0; i < sizeof neg / sizeof neg[0]; i++) {
        left = remaining_seen(fd, txn++, neg[i], &cancelled);
        ck_assert_msg(left == -1 || left == 0,
                      "timeout_ms %lld: the handler sees %lld ms left",
                      (long long) neg[i], (long long) left);
    }
    close(fd);
    assert_server_serves();
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
    start_server(NULL);
    ck_assert_int_eq(epy_server_handle(srv, "t.echo", NULL, NULL, NULL), 0);
    ck_assert_int_eq(epy_server_handle(srv, "t.echo", counting_echo, NULL,
                                       NULL), 0);
    ck_assert_int_eq(epy_server_handle_ns(srv, "t", counting_echo, NULL, NULL),
                     0);
    fd = raw_hello(false);
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
        raw_call(fd, 2, "t.echo", "GOOD", 4);
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
        ck_assert(clients_at_most(0, RT_WAIT_MS));
        ck_assert_msg(rt_counter_get(&reached) == 0, "%s: a handler ran "
                      "before the connection was closed", what);
    }
    srv = epy_server_close(srv);
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

    tc = hostile_tcase(s, "memory", 60);
    tcase_add_test(tc, test_hello_interfaces_bomb);
    tcase_add_test(tc, test_zlib_bomb_refused);
    tcase_add_test(tc, test_compressed_echo_4mib);
    tcase_add_test(tc, test_call_memory_budget);

    tc = hostile_tcase(s, "threads", 90);
    tcase_add_test(tc, test_nested_callbacks_bounded);
    tcase_add_test(tc, test_server_spare_cap);

    tc = hostile_tcase(s, "deadlines", 60);
    tcase_add_test(tc, test_handshake_trickle);
    tcase_add_test(tc, test_idle_client_dropped);
    tcase_add_test(tc, test_idle_busy_call_kept);
    tcase_add_test(tc, test_write_deadline_sync);
    tcase_add_test(tc, test_write_deadline_async);

    tc = hostile_tcase(s, "wire", 60);
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
