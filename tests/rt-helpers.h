/*
 * Helpers shared by the runtime's Check suites (check_peer, check_call,
 * check_handler, check_concurrency): ready-made peers, gates and counters
 * to wait on, a receiving side that records what its handlers saw, log
 * and listener capture, failures noted off the test's main thread, and
 * child processes across fork().
 */
#ifndef EPYRPC_TESTS_RT_HELPERS_H
#define EPYRPC_TESTS_RT_HELPERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <epyrpc/epyrpc.h>

#include "testutil.h"

/* Bound of a wait for something that should happen promptly. */
#define RT_WAIT_MS ((int64_t) 5000 * tu_slow())

/* Timeout of the IPC TCases, in seconds (CK_TIMEOUT_MULTIPLIER scales it). */
#define RT_TCASE_TIMEOUT 30

/* --- failures off the main thread ----------------------------------------- */

/*
 * ck_assert must only run on a test's main thread (with CK_FORK=no it
 * longjmps). Handlers, callbacks and caller threads note failures here;
 * the fixture added by rt_tcase() asserts that none was noted. Each note
 * is also written to stderr, which makes failures in child processes
 * visible too.
 */
void rt_note_failure(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int rt_failure_count(void);
/* Asserts (on the main thread) that no failure was noted; shows the first. */
void rt_assert_no_failures(void);

#define RT_CHECK(cond)                                                      \
    do {                                                                    \
        if (!(cond))                                                        \
            rt_note_failure(__FILE__, __LINE__, "check failed: %s", #cond); \
    } while (0)

#define RT_CHECK_INT_EQ(x, y)                                               \
    do {                                                                    \
        long long rt_x_ = (long long) (x), rt_y_ = (long long) (y);         \
        if (rt_x_ != rt_y_)                                                 \
            rt_note_failure(__FILE__, __LINE__, "%s == %s: %lld != %lld",   \
                            #x, #y, rt_x_, rt_y_);                          \
    } while (0)

/*
 * A TCase named @name in @s with the checked fixtures every runtime test
 * uses: tu_setup_resources/tu_teardown_resources (threads, descriptors,
 * children) and the failure notes above; @timeout_s if > 0.
 */
TCase *rt_tcase(Suite *s, const char *name, int timeout_s);

/* --- gates and counters --------------------------------------------------- */

/* A gate: closed until opened, once; waiters wake when it opens. */
typedef struct rt_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
} rt_gate;

void rt_gate_init(rt_gate *g);
void rt_gate_destroy(rt_gate *g);
void rt_gate_open(rt_gate *g);
bool rt_gate_is_open(rt_gate *g);
/* True if the gate is (or becomes) open within @timeout_ms. */
bool rt_gate_wait(rt_gate *g, int64_t timeout_ms);

/* A counter one can wait on. */
typedef struct rt_counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long n;
} rt_counter;

void rt_counter_init(rt_counter *c);
void rt_counter_destroy(rt_counter *c);
/* Adds @d and returns the new value. */
long rt_counter_add(rt_counter *c, long d);
long rt_counter_get(rt_counter *c);
/* True if the counter reaches @at_least within @timeout_ms. */
bool rt_counter_wait(rt_counter *c, long at_least, int64_t timeout_ms);

/* Sleeps @ms: simulated work only, never as synchronisation. */
void rt_sleep_ms(int64_t ms);

/* --- log capture ---------------------------------------------------------- */

#define RT_LOG_KEEP 64
#define RT_LOG_LINE 240

/* Collects a peer's log lines: set cfg.log = rt_log_fn, cfg.log_ctx = &log. */
typedef struct rt_log {
    pthread_mutex_t mu;
    rt_counter count;
    char lines[RT_LOG_KEEP][RT_LOG_LINE];
    int levels[RT_LOG_KEEP];
} rt_log;

void rt_log_init(rt_log *log);
void rt_log_destroy(rt_log *log);
void rt_log_fn(epy_peer *peer, epy_log_level level, const char *message,
               void *ctx);
long rt_log_count(rt_log *log);
bool rt_log_wait(rt_log *log, long at_least, int64_t timeout_ms);
/* Copies line @i (0-based, in order of arrival; kept: the last 64). */
void rt_log_line(rt_log *log, long i, char *out, size_t n);

/* --- listener capture ----------------------------------------------------- */

/*
 * A listener that records what reaches it and otherwise behaves as the
 * default one (unhandled calls are answered by
 * epy_listener_default_unhandled()).
 */
typedef struct rt_listen {
    pthread_mutex_t mu;
    rt_counter unhandled;
    rt_counter event_failed;
    rt_counter disconnected;
    int unhandled_reason;
    epy_txn_id unhandled_txn;
    char unhandled_method[EPY_NAME_MAX + 1];
    int failed_code;
    bool failed_has_err;
    char failed_method[EPY_NAME_MAX + 1];
    char failed_type[128];
    char failed_message[256];
    int disconnect_reason;
    epy_peer *disconnect_peer;
} rt_listen;

void rt_listen_init(rt_listen *l);
void rt_listen_destroy(rt_listen *l);
void rt_listen_install(rt_listen *l, epy_peer *peer);

/* --- peers ---------------------------------------------------------------- */

/* Makes a connected, ready pair (asserting success). */
void rt_pair(const epy_peer_config *cfg_a, const epy_peer_config *cfg_b,
             epy_peer **ret_a, epy_peer **ret_b);
/* Opens api @ns on @peer (asserting success). */
epy_api *rt_api(epy_peer *peer, const char *ns);
/* Registers @fn for @name on @peer (asserting success). */
void rt_handle(epy_peer *peer, const char *name, epy_handler_fn fn, void *ctx);

/* A handler answering with its argument bytes. */
int rt_echo(epy_call *call, const uint8_t *req, size_t req_len, void *ctx);

/*
 * A round trip to "rt.ping" (served by rt_serve_ping() on the other end)
 * asserting the echo: everything the caller sent earlier has been read by
 * the other end's reader by the time it returns.
 */
void rt_serve_ping(epy_peer *peer);
void rt_ping(epy_peer *peer);

/* A sync call asserting rc 0 and a reply equal to @want, @want_len. */
void rt_call_expect(epy_api *api, const char *method, const void *req,
                    size_t req_len, const void *want, size_t want_len);

/* Fills @buf with a pattern that depends on @seed and contains NUL bytes. */
void rt_fill(uint8_t *buf, size_t len, unsigned seed);

/* --- a recording receiver ------------------------------------------------- */

/*
 * What a receiving side's handlers saw. The rt_srv_* handlers take a
 * struct rt_srv * as their context; each records the call (count, last
 * transaction id, solicited flag, remaining budget, method, thread) and:
 *   rt_srv_echo:   answers with its argument at once;
 *   rt_srv_gated:  counts itself started, waits for @gate, then echoes;
 *   rt_srv_until_cancel: counts itself started, waits until
 *                  epy_call_cancelled() (or @gate), notes what it saw, and
 *                  echoes;
 *   rt_srv_sleep:  sleeps @sleep_ms (simulated work), then echoes;
 *   rt_srv_fail:   answers epy_call_fail(@fail_code, @fail_type,
 *                  @fail_message, @fail_payload, @fail_len).
 * Every handler counts itself in @done when it returns.
 */
typedef struct rt_srv {
    pthread_mutex_t mu;
    rt_counter calls;
    rt_counter started;
    rt_counter done;
    rt_counter cancels_seen;
    rt_gate gate;
    epy_txn_id last_txn;
    bool last_solicited;
    int64_t last_remaining;
    epy_peer *last_peer;
    void *last_ctx;
    char last_method[EPY_NAME_MAX + 1];
    int64_t sleep_ms;
    int fail_code;
    const char *fail_type;
    const char *fail_message;
    const void *fail_payload;
    size_t fail_len;
} rt_srv;

void rt_srv_init(rt_srv *s);
/* Opens the gate (so no handler stays blocked) and frees @s. */
void rt_srv_destroy(rt_srv *s);
int rt_srv_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx);
int rt_srv_gated(epy_call *call, const uint8_t *req, size_t len, void *ctx);
int rt_srv_until_cancel(epy_call *call, const uint8_t *req, size_t len,
                        void *ctx);
int rt_srv_sleep(epy_call *call, const uint8_t *req, size_t len, void *ctx);
int rt_srv_fail(epy_call *call, const uint8_t *req, size_t len, void *ctx);

/* --- two peers with a recording receiver ---------------------------------- */

/*
 * The usual setting of a test: peers @a (the caller) and @b (the
 * receiver) connected and ready, @srv recording b's handlers, @listen
 * installed as b's listener, "rt.ping" served on both ends, and @api, the
 * api "api" opened on a.
 */
typedef struct rt_duo {
    epy_peer *a;
    epy_peer *b;
    epy_api *api;
    rt_srv srv;
    rt_listen listen;
} rt_duo;

void rt_duo_open(rt_duo *d, const epy_peer_config *cfg_a,
                 const epy_peer_config *cfg_b);
/* Releases every gated handler, closes the api and both peers. */
void rt_duo_close(rt_duo *d);

/* --- async completions ---------------------------------------------------- */

/*
 * Records the completions of asynchronous calls: set opts.callback =
 * rt_cb_fn and opts.callback_ctx = &cb. The callback counts itself and
 * keeps the outcome (epy_async_result()), status, id and context of the
 * last completion.
 */
typedef struct rt_cb {
    pthread_mutex_t mu;
    rt_counter count;
    int rc;
    epy_async_status status;
    epy_txn_id id;
    void *ctx_seen;
    epy_buf reply;
    epy_error err;
} rt_cb;

void rt_cb_init(rt_cb *cb);
void rt_cb_destroy(rt_cb *cb);
void rt_cb_fn(epy_async *async, void *ctx);

/* Waits on a sem_t (given as void *) up to @timeout_ms; true if it got it. */
bool rt_sem_wait(void *sem, int64_t timeout_ms);

/* --- a raw other end: frames by hand -------------------------------------- */

/*
 * The test itself plays the other end of a peer on a socketpair, writing
 * and reading frames of the documented wire format (a 4-byte
 * little-endian length, then an epyrpc.Envelope of runtime/wire/envelope.proto)
 * with a small protobuf encoder of its own. Kinds as in envelope.proto.
 */
enum {
    RT_KIND_HELLO = 1,
    RT_KIND_CALL = 2,
    RT_KIND_EVENT = 3,
    RT_KIND_REPLY = 4,
    RT_KIND_ERROR = 5,
    RT_KIND_CANCEL = 6,
    RT_KIND_DISCONNECT = 7
};

typedef struct rt_frame {
    int kind;
    bool has_txn;
    uint64_t txn;
    bool has_code;
    int32_t code;
    char method[EPY_NAME_MAX + 1];
    size_t payload_len;
} rt_frame;

/*
 * Writes one frame: an Envelope of @kind, with @txn and @code unless 0,
 * and @payload of @len bytes if not NULL.
 */
void rt_wire_write(int fd, int kind, uint64_t txn, int32_t code,
                   const void *payload, size_t len);
/*
 * The same frame, written as a slow sender would: its first @split bytes
 * (length prefix included), then, @pause_ms later, the rest.
 */
void rt_wire_write_split(int fd, int kind, uint64_t txn, int32_t code,
                         const void *payload, size_t len, size_t split,
                         int64_t pause_ms);
/* A CALL or EVENT frame for @method (@txn unless 0). */
void rt_wire_write_method(int fd, int kind, uint64_t txn, const char *method,
                          const void *payload, size_t len);
/*
 * Makes a connected socketpair @sv and a peer on sv[0] (which it takes);
 * sv[1] is the test's raw other end, to close when done.
 */
epy_peer *rt_raw_peer(int sv[2], const epy_peer_config *cfg);
/* Writes a hello of EPY_PROTOCOL_VERSION with no interfaces. */
void rt_wire_hello(int fd);
/* Writes a hello of @version announcing @iface ("name=fingerprint") if set. */
void rt_wire_hello_ex(int fd, unsigned version, const char *iface);
/*
 * Reads frames until one of @kind arrives (others are skipped) and
 * describes it in @out; false on a timeout, the end of the stream or a
 * frame it cannot parse.
 */
bool rt_wire_read(int fd, int kind, rt_frame *out, int64_t timeout_ms);

/* --- child processes ------------------------------------------------------ */

/*
 * Forks; the child runs @fn(@arg) and leaves with _exit() of its result
 * (so none of the parent's exit handlers run). Returns the child's pid.
 */
pid_t rt_fork(int (*fn)(void *arg), void *arg);
/*
 * Reaps @pid, waiting up to @timeout_ms; kills it with SIGKILL (and
 * notes a failure) if it is still running then. Returns its wait status.
 */
int rt_reap(pid_t pid, int64_t timeout_ms);

#endif /* EPYRPC_TESTS_RT_HELPERS_H */
