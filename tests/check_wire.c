/*
 * The wire, seen from a raw socket: the hello exchange, frames the other
 * end gets wrong (garbage, a 4 GiB length, half a frame, an unknown kind,
 * a second hello), the frame size limit on both sides, version and
 * fingerprint mismatches, zlib compression, and large payloads in any
 * field order. How frames leave: check_writer.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "peer-int.h"
#include "testutil.h"
#include "wire-helpers.h"

/* A peer on one end of a socketpair; the test speaks raw on the other. */
static epy_peer *peer;
static int raw = -1;
static tu_resources res;

static void
log_sink(epy_peer *p, epy_log_level level, const char *msg, void *ctx)
{
    (void) p;
    (void) level;
    (void) msg;
    (void) ctx;
}

static void
open_raw(const epy_peer_config *cfg)
{
    int sv[2];
    epy_error err = EPY_ERROR_INIT;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_msg(epy_peer_new_fd(sv[0], cfg, &peer, &err) == 0, "%s",
                  err.message);
    raw = sv[1];
}

static void
setup(void)
{
    tu_resources_take(&res);
    peer = NULL;
    raw = -1;
}

static void
teardown(void)
{
    peer = epy_peer_close(peer);
    if (raw >= 0)
        close(raw);
    raw = -1;
    tu_resources_check(&res);
}

static void
send_env(Epyrpc__Envelope *env)
{
    tw_send_env(raw, env);
}

static void
send_hello(uint32_t version, const char *iface, bool zlib)
{
    tw_send_hello(raw, version, iface, zlib);
}

static Epyrpc__Envelope *
read_env(void)
{
    return tw_read_env(raw);
}

/* Reads frames until the stream ends; true once it has. */
static bool
read_until_eof(void)
{
    tw_read_until_eof(raw);
    return true;
}

static void
expect_hello(void)
{
    Epyrpc__Envelope *env = read_env();

    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(env->kind, EPYRPC__KIND__HELLO);
    ck_assert_ptr_nonnull(env->hello);
    ck_assert_uint_eq(env->hello->version, EPY_PROTOCOL_VERSION);
    epyrpc__envelope__free_unpacked(env, NULL);
}

/* A raw peer past the hello (zlib announced or not), with api "z". */
static epy_api *
open_ready(const epy_peer_config *cfg, bool zlib)
{
    epy_api *api = NULL;

    open_raw(cfg);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION, NULL, zlib);
    ck_assert_int_eq(epy_peer_wait_ready(peer, 5000, NULL), 0);
    ck_assert_int_eq(epy_api_open(peer, "z", &api, NULL), 0);
    return api;
}

/* Closes @api, the peer and the raw end (for a test that opens several). */
static void
close_ready(epy_api *api)
{
    epy_api_close(api);
    peer = epy_peer_close(peer);
    close(raw);
    raw = -1;
}

/* Starts a call on its own thread; returns its rc through the struct. */
typedef struct pending_call {
    pthread_t th;
    epy_api *api;
    int rc;
} pending_call;

static void *
call_main(void *p)
{
    pending_call *c = p;

    c->rc = epy_api_call(c->api, "m", NULL, 0, NULL, NULL, NULL);
    return NULL;
}

START_TEST(test_hello_exchange)
{
    open_raw(NULL);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION, NULL, false);
    ck_assert_int_eq(epy_peer_wait_ready(peer, 5000, NULL), 0);
    ck_assert(epy_peer_is_connected(peer));
}
END_TEST

START_TEST(test_version_mismatch)
{
    epy_error err = EPY_ERROR_INIT;

    open_raw(NULL);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION + 1, NULL, false);
    ck_assert_int_eq(epy_peer_wait_ready(peer, 5000, &err), EPY_EVERSION);
    ck_assert_ptr_nonnull(strstr(err.message, "protocol"));
    ck_assert_int_eq(epy_peer_status(peer), EPY_EVERSION);
    ck_assert(read_until_eof());
    epy_error_clear(&err);
}
END_TEST

START_TEST(test_fingerprint_mismatch)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_interface ifc = { "calc", "abc123", NULL };
    epy_error err = EPY_ERROR_INIT;

    cfg.interfaces = &ifc;
    cfg.n_interfaces = 1;
    open_raw(&cfg);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION, "calc=def456", false);
    ck_assert_int_eq(epy_peer_wait_ready(peer, 5000, &err), EPY_EVERSION);
    ck_assert_ptr_nonnull(strstr(err.message, "calc"));
    epy_error_clear(&err);
}
END_TEST

START_TEST(test_fingerprint_match_and_other_interfaces)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_interface ifc = { "calc", "abc123", NULL };

    cfg.interfaces = &ifc;
    cfg.n_interfaces = 1;
    open_raw(&cfg);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION, "calc=abc123", false);
    ck_assert_int_eq(epy_peer_wait_ready(peer, 5000, NULL), 0);
}
END_TEST

/* Garbage of several shapes: each closes the connection with EPY_EPROTO,
 * and a call that was pending fails at once, not at its timeout. */
static void
garbage_case(const void *bytes, size_t n, bool hello_first, int expect)
{
    epy_api *api = NULL;
    pending_call c;
    int64_t t0;
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;

    cfg.log = log_sink;
    open_raw(&cfg);
    expect_hello();
    if (hello_first) {
        send_hello(EPY_PROTOCOL_VERSION, NULL, false);
        ck_assert_int_eq(epy_peer_wait_ready(peer, 5000, NULL), 0);
    }
    ck_assert_int_eq(epy_api_open(peer, "x", &api, NULL), 0);
    c.api = api;
    c.rc = 1;
    pthread_create(&c.th, NULL, call_main, &c);
    if (hello_first) {
        /* Wait for the call frame, so the call is surely pending. */
        Epyrpc__Envelope *env = read_env();

        ck_assert_ptr_nonnull(env);
        ck_assert_int_eq(env->kind, EPYRPC__KIND__CALL);
        epyrpc__envelope__free_unpacked(env, NULL);
    }
    t0 = tu_now_ms();
    tw_write_all(raw, bytes, n);
    pthread_join(c.th, NULL);
    ck_assert_int_lt(tu_now_ms() - t0, 2000 * tu_slow());
    ck_assert_int_eq(c.rc, expect);
    ck_assert_int_eq(epy_peer_status(peer), expect);
    ck_assert(read_until_eof());
    epy_api_close(api);
}

START_TEST(test_garbage_bytes)
{
    static const uint8_t junk[] = { 5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff };

    garbage_case(junk, sizeof junk, true, EPY_EPROTO);
}
END_TEST

START_TEST(test_garbage_before_hello)
{
    static const uint8_t junk[] = "GET / HTTP/1.1\r\n\r\n";

    garbage_case(junk, sizeof junk, false, EPY_EPROTO);
}
END_TEST

START_TEST(test_huge_length_prefix)
{
    static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 1, 2, 3 };

    garbage_case(huge, sizeof huge, true, EPY_EPROTO);
}
END_TEST

START_TEST(test_half_frame_then_close)
{
    static const uint8_t half[] = { 100, 0, 0, 0, 8, 2 };
    epy_api *api = NULL;
    pending_call c;

    open_raw(NULL);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION, NULL, false);
    ck_assert_int_eq(epy_api_open(peer, "x", &api, NULL), 0);
    c.api = api;
    pthread_create(&c.th, NULL, call_main, &c);
    epyrpc__envelope__free_unpacked(read_env(), NULL);
    tw_write_all(raw, half, sizeof half);
    shutdown(raw, SHUT_WR);
    pthread_join(c.th, NULL);
    ck_assert_int_eq(c.rc, EPY_EDISCONNECTED);
    epy_api_close(api);
}
END_TEST

START_TEST(test_unknown_kind_and_second_hello)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;

    open_raw(NULL);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION, NULL, false);
    env.kind = (Epyrpc__Kind) 99;
    send_env(&env);
    ck_assert(read_until_eof());
    ck_assert_int_eq(epy_peer_status(peer), EPY_EPROTO);
    peer = epy_peer_close(peer);
    close(raw);

    open_raw(NULL);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION, NULL, false);
    send_hello(EPY_PROTOCOL_VERSION, NULL, false);
    ck_assert(read_until_eof());
    ck_assert_int_eq(epy_peer_status(peer), EPY_EPROTO);
}
END_TEST

/* A frame above the receiver's limit closes the connection. */
START_TEST(test_oversized_frame_received)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    uint8_t *big = calloc(1, 4096);

    cfg.max_frame = 1024;
    open_raw(&cfg);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION, NULL, false);
    env.kind = EPYRPC__KIND__EVENT;
    env.method = (char *) "x.y";
    env.has_payload = true;
    env.payload.data = big;
    env.payload.len = 4096;
    send_env(&env);
    ck_assert(read_until_eof());
    ck_assert_int_eq(epy_peer_status(peer), EPY_EPROTO);
    free(big);
}
END_TEST

/* Sending more than the limit: EPY_ETOOBIG, nothing sent, still connected. */
START_TEST(test_oversized_send_refused)
{
    epy_peer *a, *b;
    epy_api *api;
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    size_t n = 4096;
    uint8_t *big = calloc(1, n);

    cfg.max_frame = 1024;
    ck_assert_int_eq(epy_pair_new(&cfg, NULL, &a, &b, NULL), 0);
    ck_assert_int_eq(epy_api_open(a, "x", &api, NULL), 0);
    ck_assert_int_eq(epy_api_call(api, "m", big, n, NULL, NULL, &err),
                     EPY_ETOOBIG);
    ck_assert_int_eq(err.code, EPY_ETOOBIG);
    ck_assert_int_eq(epy_api_send(api, "m", big, n, NULL), EPY_ETOOBIG);
    ck_assert_uint_eq(epy_peer_pending_count(a), 0);
    ck_assert(epy_peer_is_connected(a));
    /* A small call still works (answered by b's default listener). */
    ck_assert_int_eq(epy_api_call(api, "m", big, 10, NULL, NULL, NULL),
                     EPY_EUNKNOWN);
    epy_error_clear(&err);
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
    free(big);
}
END_TEST

/* The receiver's smaller limit, learnt from its hello, applies too. */
START_TEST(test_remote_limit_applies)
{
    epy_peer *a, *b;
    epy_api *api;
    epy_peer_config small = EPY_PEER_CONFIG_INIT;
    uint8_t *big = calloc(1, 4096);

    small.max_frame = 1024;
    ck_assert_int_eq(epy_pair_new(NULL, &small, &a, &b, NULL), 0);
    ck_assert_int_eq(epy_peer_wait_ready(a, 5000, NULL), 0);
    ck_assert_int_eq(epy_api_open(a, "x", &api, NULL), 0);
    ck_assert_int_eq(epy_api_call(api, "m", big, 4096, NULL, NULL, NULL),
                     EPY_ETOOBIG);
    ck_assert(epy_peer_is_connected(b));
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
    free(big);
}
END_TEST

static int
echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

/* Item 70 (changed: one built-in codec): zlib round trips, compressed. */
START_TEST(test_item70_zlib_round_trips)
{
    epy_peer *a, *b;
    epy_api *api;
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_buf out = EPY_BUF_INIT;
    size_t n = 256 * 1024;
    uint8_t *data = malloc(n);

    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t) ("epyrpc"[i % 6] + (i / 4096));
    cfg.compress_threshold = 1024;
    cfg.compress_level = 9;
    ck_assert_int_eq(epy_pair_new(&cfg, &cfg, &a, &b, NULL), 0);
    ck_assert_int_eq(epy_peer_handle(b, "z.echo", echo, NULL, NULL), 0);
    ck_assert_int_eq(epy_peer_wait_ready(a, 5000, NULL), 0);
    ck_assert_int_eq(epy_peer_wait_ready(b, 5000, NULL), 0);
    ck_assert_int_eq(epy_api_open(a, "z", &api, NULL), 0);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(epy_api_call(api, "echo", data, n, NULL, &out, NULL), 0);
        ck_assert_uint_eq(out.len, n);
        ck_assert_mem_eq(out.data, data, n);
    }
    /* Small payloads go uncompressed, and work too. */
    ck_assert_int_eq(epy_api_call(api, "echo", "hi", 2, NULL, &out, NULL), 0);
    ck_assert_uint_eq(out.len, 2);
    epy_buf_clear(&out);
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
    free(data);
}
END_TEST

/* Compression is used only when the other end announced it, and then
 * the frame on the wire is compressed. */
START_TEST(test_zlib_on_the_wire)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_api *api;
    size_t n = 64 * 1024;
    uint8_t *data = calloc(1, n);
    Epyrpc__Envelope *env;

    cfg.compress_threshold = 1024;
    for (int zlib = 0; zlib < 2; zlib++) {
        api = open_ready(&cfg, zlib);
        ck_assert_int_eq(epy_api_send(api, "ev", data, n, NULL), 0);
        env = read_env();
        ck_assert_ptr_nonnull(env);
        ck_assert_int_eq(env->kind, EPYRPC__KIND__EVENT);
        ck_assert_int_eq(env->has_raw_len, zlib);
        if (zlib) {
            ck_assert_uint_eq(env->raw_len, n);
            ck_assert_uint_lt(env->payload.len, n / 10);
        } else {
            ck_assert_uint_eq(env->payload.len, n);
        }
        epyrpc__envelope__free_unpacked(env, NULL);
        close_ready(api);
    }
    free(data);
}
END_TEST

/* A reply for an id of another origin is dropped with a log line. */
static int foreign_logs;

static void
count_logs(epy_peer *p, epy_log_level level, const char *msg, void *ctx)
{
    (void) p;
    (void) level;
    (void) ctx;
    if (strstr(msg, "another origin") != NULL)
        __atomic_add_fetch(&foreign_logs, 1, __ATOMIC_SEQ_CST);
}

START_TEST(test_foreign_reply_dropped)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;

    cfg.origin = EPY_ORIGIN_HEAD;
    cfg.log = count_logs;
    open_raw(&cfg);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION, NULL, false);
    env.kind = EPYRPC__KIND__REPLY;
    env.has_txn = true;
    env.txn = EPY_TXN_MAKE(EPY_ORIGIN_NECK, 1);
    send_env(&env);
    /* A disconnect after it: once it is seen, the reply was handled. */
    env.kind = EPYRPC__KIND__DISCONNECT;
    env.has_txn = false;
    send_env(&env);
    ck_assert(read_until_eof());
    ck_assert_int_eq(__atomic_load_n(&foreign_logs, __ATOMIC_SEQ_CST), 1);
    ck_assert_int_eq(epy_peer_status(peer), EPY_EDISCONNECTED);
}
END_TEST

static sem_t paused_sem;

static int
note_event(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call;
    (void) req;
    (void) len;
    (void) ctx;
    sem_post(&paused_sem);
    return 0;
}

/* A paused peer handles nothing until started: an event sent before its
 * handler exists is not lost. The listener can come with the config. */
START_TEST(test_start_paused)
{
    epy_peer *a, *b;
    epy_api *api;
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_listener l = { NULL, NULL, NULL };
    struct timespec ts;

    sem_init(&paused_sem, 0, 0);
    cfg.start_paused = true;
    cfg.listener = &l;
    ck_assert_int_eq(epy_pair_new(NULL, &cfg, &a, &b, NULL), 0);
    ck_assert_int_eq(epy_api_open(a, "p", &api, NULL), 0);
    ck_assert_int_eq(epy_api_send(api, "ev", "x", 1, NULL), 0);
    /* Not started: b has not even seen a's hello. */
    ck_assert_int_eq(epy_peer_wait_ready(b, 100, NULL), EPY_ETIMEDOUT);
    ck_assert_int_eq(epy_peer_handle(b, "p.ev", note_event, NULL, NULL), 0);
    ck_assert_int_eq(epy_peer_start(b), 0);
    ck_assert_int_eq(epy_peer_start(b), EPY_EPARAM);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5 * tu_slow();
    ck_assert_int_eq(sem_timedwait(&paused_sem, &ts), 0);
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
    sem_destroy(&paused_sem);
}
END_TEST

/* A paused peer can be closed without ever starting. */
START_TEST(test_close_paused)
{
    epy_peer *a, *b;
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;

    cfg.start_paused = true;
    ck_assert_int_eq(epy_pair_new(&cfg, &cfg, &a, &b, NULL), 0);
    epy_peer_close(a);
    epy_peer_close(b);
}
END_TEST

static epy_call *kept;
static sem_t kept_sem;

static int
keep(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req;
    (void) len;
    (void) ctx;
    kept = call;
    sem_post(&kept_sem);
    return EPY_DEFER;
}

/* A kept (deferred) call does not pin its handler: removing the handler
 * returns although the call is still unanswered. */
START_TEST(test_unregister_with_deferred_call)
{
    epy_peer *a, *b;
    epy_api *api;
    epy_call_opts o = EPY_CALL_OPTS_INIT;
    int64_t t0;

    sem_init(&kept_sem, 0, 0);
    ck_assert_int_eq(epy_pair_new(NULL, NULL, &a, &b, NULL), 0);
    ck_assert_int_eq(epy_peer_handle(b, "k.keep", keep, NULL, NULL), 0);
    ck_assert_int_eq(epy_api_open(a, "k", &api, NULL), 0);
    o.timeout_ms = 200;
    ck_assert_int_eq(epy_api_call(api, "keep", NULL, 0, &o, NULL, NULL),
                     EPY_ETIMEDOUT);
    ck_assert_int_eq(sem_wait(&kept_sem), 0);   /* the handler has kept it */
    ck_assert_ptr_nonnull(kept);
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_peer_handle(b, "k.keep", NULL, NULL, NULL), 0);
    ck_assert_int_lt(tu_now_ms() - t0, 1000 * tu_slow());
    /* The late answer is still accepted here, and dropped there. */
    ck_assert_int_eq(epy_call_reply(kept, "late", 4), 0);
    kept = NULL;
    epy_api_close(api);
    epy_peer_close(a);
    epy_peer_close(b);
    sem_destroy(&kept_sem);
}
END_TEST

/* Answers with the request. */
static int
echo_handler(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

/* Appends a protobuf varint to @p; returns the end. */
static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t) v;
    return p;
}

/*
 * Sends a CALL of "p.echo" (transaction @txn) whose envelope is followed
 * by the raw fields @tail (@tail_len bytes), then reads the reply and
 * checks its payload is @want.
 */
static void
call_with_tail(uint64_t txn, const uint8_t *tail, size_t tail_len,
               const uint8_t *want, size_t want_len)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    Epyrpc__Envelope *rep;
    size_t head, n;
    uint8_t *buf;

    env.kind = EPYRPC__KIND__CALL;
    env.has_txn = true;
    env.txn = txn;
    env.method = (char *) "p.echo";
    head = epyrpc__envelope__get_packed_size(&env);
    n = head + tail_len;
    buf = malloc(n + 4);
    ck_assert_ptr_nonnull(buf);
    buf[0] = (uint8_t) n;
    buf[1] = (uint8_t) (n >> 8);
    buf[2] = (uint8_t) (n >> 16);
    buf[3] = (uint8_t) (n >> 24);
    epyrpc__envelope__pack(&env, buf + 4);
    memcpy(buf + 4 + head, tail, tail_len);
    tw_write_all(raw, buf, n + 4);
    free(buf);
    rep = read_env();
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->kind, EPYRPC__KIND__REPLY);
    ck_assert_uint_eq(rep->txn, txn);
    ck_assert_uint_eq(rep->has_payload ? rep->payload.len : 0, want_len);
    ck_assert(want_len == 0 || memcmp(rep->payload.data, want, want_len) == 0);
    epyrpc__envelope__free_unpacked(rep, NULL);
}

/*
 * A large payload that ends its frame is used where it lies; one
 * followed by other fields, or given twice (the last one counts), is
 * decoded as protobuf says all the same.
 */
START_TEST(test_large_payload_any_field_order)
{
    size_t big = 100000, small = 5000;
    uint8_t *a = malloc(big), *b = malloc(small);
    uint8_t *tail = malloc(2 * big + 64), *p;

    ck_assert(a != NULL && b != NULL && tail != NULL);
    for (size_t i = 0; i < big; i++)
        a[i] = (uint8_t) (i * 7 + 1);
    for (size_t i = 0; i < small; i++)
        b[i] = (uint8_t) (i * 13 + 5);
    open_raw(NULL);
    expect_hello();
    send_hello(EPY_PROTOCOL_VERSION, NULL, false);
    ck_assert_int_eq(epy_peer_wait_ready(peer, 5000, NULL), 0);
    ck_assert_int_eq(epy_peer_handle(peer, "p.echo", echo_handler, NULL, NULL), 0);

    /* The payload last: as epyrpc writes it. */
    p = put_varint(put_varint(tail, 15 << 3 | 2), big);
    memcpy(p, a, big);
    p += big;
    call_with_tail(1, tail, (size_t) (p - tail), a, big);

    /* The payload, then a timeout field after it. */
    p = put_varint(put_varint(tail, 15 << 3 | 2), big);
    memcpy(p, a, big);
    p += big;
    p = put_varint(put_varint(p, 8 << 3 | 0), 5000);
    call_with_tail(2, tail, (size_t) (p - tail), a, big);

    /* Two payloads: the second (the last one) counts, in place or not. */
    p = put_varint(put_varint(tail, 15 << 3 | 2), big);
    memcpy(p, a, big);
    p += big;
    p = put_varint(put_varint(p, 15 << 3 | 2), small);
    memcpy(p, b, small);
    p += small;
    call_with_tail(3, tail, (size_t) (p - tail), b, small);

    /* A field of an unknown number after the payload is skipped. */
    p = put_varint(put_varint(tail, 15 << 3 | 2), big);
    memcpy(p, a, big);
    p += big;
    p = put_varint(p, 100 << 3 | 5);
    memset(p, 0, 4);
    p += 4;
    call_with_tail(4, tail, (size_t) (p - tail), a, big);
    free(a);
    free(b);
    free(tail);
}
END_TEST

/*
 * A message as a frame's payload (what generated code sends) is packed
 * into the frame in place: what arrives is exactly what
 * protobuf_c_message_pack() makes of it, whatever its shape: a few
 * large fields, more large fields than a write takes pieces, many small
 * ones (more than the frame's stack scratch holds), both mixed, none.
 * Compressed when the other end takes zlib; refused whole when too big.
 */
typedef struct shape {
    size_t n, big_every, big, small;
} shape;

static void
fill_hello(Epyrpc__Hello *h, const shape *sh, char **strs)
{
    epyrpc__hello__init(h);
    for (size_t i = 0; i < sh->n; i++) {
        size_t len = sh->big_every != 0 && i % sh->big_every == 0 ? sh->big
                                                                   : sh->small;

        strs[i] = malloc(len + 1);
        ck_assert_ptr_nonnull(strs[i]);
        for (size_t j = 0; j < len; j++)
            strs[i][j] = (char) ('a' + (i + j) % 26);
        strs[i][len] = '\0';
    }
    h->n_interfaces = sh->n;
    h->interfaces = strs;
    h->version = 7;
}

static void
expect_payload_is(const ProtobufCMessage *msg, bool zlib)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *want = malloc(len + 1);
    Epyrpc__Envelope *env = read_env();

    ck_assert_ptr_nonnull(want);
    protobuf_c_message_pack(msg, want);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(env->kind, EPYRPC__KIND__EVENT);
    ck_assert_str_eq(env->method, "z.ev");
    ck_assert_int_eq(env->has_raw_len, zlib);
    if (zlib) {
        uLongf out = len;
        uint8_t *got = malloc(len + 1);

        ck_assert_uint_eq(env->raw_len, len);
        ck_assert_uint_lt(env->payload.len, len);
        ck_assert_int_eq(uncompress(got, &out, env->payload.data,
                                    env->payload.len), Z_OK);
        ck_assert_uint_eq(out, len);
        ck_assert_mem_eq(got, want, len);
        free(got);
    } else {
        ck_assert_uint_eq(env->payload.len, len);
        if (len > 0)
            ck_assert_mem_eq(env->payload.data, want, len);
    }
    epyrpc__envelope__free_unpacked(env, NULL);
    free(want);
}

START_TEST(test_message_payload_packed_in_place)
{
    static const shape shapes[] = {
        { 3, 1, 40000, 0 },             /* a few large fields */
        { 40, 1, 300, 0 },              /* more than a write's pieces */
        { 300, 0, 0, 10 },              /* small ones past the stack */
        { 100, 2, 300, 10 },            /* both, mixed */
        { 0, 0, 0, 0 },                 /* nothing but the version */
    };
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_api *api;

    cfg.compress_threshold = 1024;
    for (int zlib = 0; zlib < 2; zlib++) {
        api = open_ready(&cfg, zlib);
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            char *strs[300];
            Epyrpc__Hello h;
            epy__payload p = { .msg = &h.base };
            size_t len;

            fill_hello(&h, &shapes[k], strs);
            ck_assert_int_eq(epy__api_send(api, "ev", &p, NULL), 0);
            len = protobuf_c_message_get_packed_size(&h.base);
            expect_payload_is(&h.base, zlib && len >= cfg.compress_threshold);
            for (size_t i = 0; i < shapes[k].n; i++)
                free(strs[i]);
        }
        close_ready(api);
    }
}
END_TEST

START_TEST(test_message_payload_too_big)
{
    /* A message over max_frame is refused and nothing of it is sent: the
     * next frame on the wire is the small event after it. */
    static const shape big = { 2, 1, 40000, 0 }, small = { 1, 0, 0, 5 };
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_api *api;
    char *strs[2];
    Epyrpc__Hello h;
    epy__payload p = { .msg = &h.base };

    cfg.max_frame = 64 * 1024;
    api = open_ready(&cfg, false);
    fill_hello(&h, &big, strs);
    ck_assert_int_eq(epy__api_send(api, "ev", &p, NULL), EPY_ETOOBIG);
    free(strs[0]);
    free(strs[1]);
    fill_hello(&h, &small, strs);
    ck_assert_int_eq(epy__api_send(api, "ev", &p, NULL), 0);
    expect_payload_is(&h.base, false);
    free(strs[0]);
    epy_api_close(api);
}
END_TEST

static Suite *
wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_hello_exchange);
    tcase_add_test(tc, test_fingerprint_match_and_other_interfaces);
    tcase_add_test(tc, test_item70_zlib_round_trips);
    tcase_add_test(tc, test_start_paused);
    tcase_add_test(tc, test_close_paused);
    tcase_add_test(tc, test_unregister_with_deferred_call);
    tcase_add_test(tc, test_large_payload_any_field_order);
    tcase_add_test(tc, test_message_payload_packed_in_place);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_version_mismatch);
    tcase_add_test(tc, test_fingerprint_mismatch);
    tcase_add_test(tc, test_garbage_bytes);
    tcase_add_test(tc, test_garbage_before_hello);
    tcase_add_test(tc, test_huge_length_prefix);
    tcase_add_test(tc, test_half_frame_then_close);
    tcase_add_test(tc, test_unknown_kind_and_second_hello);
    tcase_add_test(tc, test_foreign_reply_dropped);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_oversized_frame_received);
    tcase_add_test(tc, test_oversized_send_refused);
    tcase_add_test(tc, test_remote_limit_applies);
    tcase_add_test(tc, test_zlib_on_the_wire);
    tcase_add_test(tc, test_message_payload_too_big);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(wire_suite());
}
