/*
 * Helpers shared by the runtime's Check suites.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt-helpers.h"

/* --- failures off the main thread ----------------------------------------- */

static pthread_mutex_t failure_mu = PTHREAD_MUTEX_INITIALIZER;
static int failure_count;
static char failure_first[512];

void
rt_note_failure(const char *file, int line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d: [pid %d] %s\n", file, line, (int) getpid(), msg);
    pthread_mutex_lock(&failure_mu);
    if (failure_count++ == 0)
        snprintf(failure_first, sizeof failure_first, "%s:%d: %s", file,
                 line, msg);
    pthread_mutex_unlock(&failure_mu);
}

int
rt_failure_count(void)
{
    int n;

    pthread_mutex_lock(&failure_mu);
    n = failure_count;
    pthread_mutex_unlock(&failure_mu);
    return n;
}

void
rt_assert_no_failures(void)
{
    char first[512];
    int n;

    pthread_mutex_lock(&failure_mu);
    n = failure_count;
    memcpy(first, failure_first, sizeof first);
    pthread_mutex_unlock(&failure_mu);
    ck_assert_msg(n == 0, "%d failure(s) off the main thread; first: %s", n,
                  first);
}

static void
failures_setup(void)
{
    pthread_mutex_lock(&failure_mu);
    failure_count = 0;
    failure_first[0] = '\0';
    pthread_mutex_unlock(&failure_mu);
}

static void
failures_teardown(void)
{
    rt_assert_no_failures();
}

TCase *
rt_tcase(Suite *s, const char *name, int timeout_s)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, tu_setup_resources, tu_teardown_resources);
    tcase_add_checked_fixture(tc, failures_setup, failures_teardown);
    if (timeout_s > 0)
        tcase_set_timeout(tc, timeout_s);
    suite_add_tcase(s, tc);
    return tc;
}

/* --- gates and counters --------------------------------------------------- */

static void
cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

static struct timespec
deadline_in(int64_t timeout_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t) (timeout_ms / 1000);
    ts.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

void
rt_gate_init(rt_gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    cond_init(&g->cv);
    g->open = false;
}

void
rt_gate_destroy(rt_gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

void
rt_gate_open(rt_gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

bool
rt_gate_is_open(rt_gate *g)
{
    bool open;

    pthread_mutex_lock(&g->mu);
    open = g->open;
    pthread_mutex_unlock(&g->mu);
    return open;
}

bool
rt_gate_wait(rt_gate *g, int64_t timeout_ms)
{
    struct timespec ts = deadline_in(timeout_ms);
    bool open;

    pthread_mutex_lock(&g->mu);
    while (!g->open)
        if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) == ETIMEDOUT)
            break;
    open = g->open;
    pthread_mutex_unlock(&g->mu);
    return open;
}

void
rt_counter_init(rt_counter *c)
{
    pthread_mutex_init(&c->mu, NULL);
    cond_init(&c->cv);
    c->n = 0;
}

void
rt_counter_destroy(rt_counter *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

long
rt_counter_add(rt_counter *c, long d)
{
    long n;

    pthread_mutex_lock(&c->mu);
    n = c->n += d;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return n;
}

long
rt_counter_get(rt_counter *c)
{
    long n;

    pthread_mutex_lock(&c->mu);
    n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

bool
rt_counter_wait(rt_counter *c, long at_least, int64_t timeout_ms)
{
    struct timespec ts = deadline_in(timeout_ms);
    bool ok;

    pthread_mutex_lock(&c->mu);
    while (c->n < at_least)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT)
            break;
    ok = c->n >= at_least;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

void
rt_sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t) (ms / 1000),
                           (long) (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/* --- log capture ---------------------------------------------------------- */

void
rt_log_init(rt_log *log)
{
    memset(log, 0, sizeof *log);
    pthread_mutex_init(&log->mu, NULL);
    rt_counter_init(&log->count);
}

void
rt_log_destroy(rt_log *log)
{
    rt_counter_destroy(&log->count);
    pthread_mutex_destroy(&log->mu);
}

void
rt_log_fn(epy_peer *peer, epy_log_level level, const char *message,
          void *ctx)
{
    rt_log *log = ctx;
    long i;

    (void) peer;
    if (message == NULL) {
        rt_note_failure(__FILE__, __LINE__, "log line with a NULL message");
        message = "(null)";
    }
    pthread_mutex_lock(&log->mu);
    i = rt_counter_get(&log->count) % RT_LOG_KEEP;
    snprintf(log->lines[i], RT_LOG_LINE, "%s", message);
    log->levels[i] = (int) level;
    /* Counted while still holding the lock, so lines keep their order. */
    rt_counter_add(&log->count, 1);
    pthread_mutex_unlock(&log->mu);
}

long
rt_log_count(rt_log *log)
{
    return rt_counter_get(&log->count);
}

bool
rt_log_wait(rt_log *log, long at_least, int64_t timeout_ms)
{
    return rt_counter_wait(&log->count, at_least, timeout_ms);
}

void
rt_log_line(rt_log *log, long i, char *out, size_t n)
{
    pthread_mutex_lock(&log->mu);
    if (i < 0 || i >= rt_counter_get(&log->count)
        || i < rt_counter_get(&log->count) - RT_LOG_KEEP)
        snprintf(out, n, "%s", "");
    else
        snprintf(out, n, "%s", log->lines[i % RT_LOG_KEEP]);
    pthread_mutex_unlock(&log->mu);
}

/* --- listener capture ----------------------------------------------------- */

void
rt_listen_init(rt_listen *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    rt_counter_init(&l->unhandled);
    rt_counter_init(&l->event_failed);
    rt_counter_init(&l->disconnected);
}

void
rt_listen_destroy(rt_listen *l)
{
    rt_counter_destroy(&l->unhandled);
    rt_counter_destroy(&l->event_failed);
    rt_counter_destroy(&l->disconnected);
    pthread_mutex_destroy(&l->mu);
}

static int
listen_unhandled(epy_call *call, int reason, const uint8_t *req,
                 size_t req_len, void *ctx)
{
    rt_listen *l = ctx;
    const char *method = epy_call_method(call);

    pthread_mutex_lock(&l->mu);
    l->unhandled_reason = reason;
    l->unhandled_txn = epy_call_txn_id(call);
    snprintf(l->unhandled_method, sizeof l->unhandled_method, "%s",
             method != NULL ? method : "(null)");
    pthread_mutex_unlock(&l->mu);
    rt_counter_add(&l->unhandled, 1);
    return epy_listener_default_unhandled(call, reason, req, req_len, ctx);
}

static void
listen_event_failed(epy_call *call, int code, const epy_error *err,
                    void *ctx)
{
    rt_listen *l = ctx;
    const char *method = epy_call_method(call);

    pthread_mutex_lock(&l->mu);
    l->failed_code = code;
    l->failed_has_err = err != NULL;
    snprintf(l->failed_method, sizeof l->failed_method, "%s",
             method != NULL ? method : "(null)");
    snprintf(l->failed_type, sizeof l->failed_type, "%s",
             err != NULL && err->type != NULL ? err->type : "");
    snprintf(l->failed_message, sizeof l->failed_message, "%s",
             err != NULL && err->message != NULL ? err->message : "");
    pthread_mutex_unlock(&l->mu);
    rt_counter_add(&l->event_failed, 1);
}

static void
listen_disconnected(epy_peer *peer, int reason, void *ctx)
{
    rt_listen *l = ctx;

    pthread_mutex_lock(&l->mu);
    l->disconnect_reason = reason;
    l->disconnect_peer = peer;
    pthread_mutex_unlock(&l->mu);
    rt_counter_add(&l->disconnected, 1);
}

void
rt_listen_install(rt_listen *l, epy_peer *peer)
{
    static const epy_listener listener = {
        listen_unhandled, listen_event_failed, listen_disconnected
    };

    epy_peer_set_listener(peer, &listener, l);
}

/* --- peers ---------------------------------------------------------------- */

void
rt_pair(const epy_peer_config *cfg_a, const epy_peer_config *cfg_b,
        epy_peer **ret_a, epy_peer **ret_b)
{
    epy_error err = EPY_ERROR_INIT;
    int rc;

    *ret_a = *ret_b = NULL;
    rc = epy_pair_new(cfg_a, cfg_b, ret_a, ret_b, &err);
    ck_assert_msg(rc == 0, "epy_pair_new: %s: %s", epy_status_name(rc),
                  err.message != NULL ? err.message : "");
    ck_assert_ptr_nonnull(*ret_a);
    ck_assert_ptr_nonnull(*ret_b);
    rc = epy_peer_wait_ready(*ret_a, RT_WAIT_MS, &err);
    ck_assert_msg(rc == 0, "wait_ready a: %s", epy_status_name(rc));
    rc = epy_peer_wait_ready(*ret_b, RT_WAIT_MS, &err);
    ck_assert_msg(rc == 0, "wait_ready b: %s", epy_status_name(rc));
    epy_error_clear(&err);
}

epy_api *
rt_api(epy_peer *peer, const char *ns)
{
    epy_api *api = NULL;
    int rc = epy_api_open(peer, ns, &api, NULL);

    ck_assert_msg(rc == 0, "epy_api_open(%s): %s", ns, epy_status_name(rc));
    ck_assert_ptr_nonnull(api);
    return api;
}

void
rt_handle(epy_peer *peer, const char *name, epy_handler_fn fn, void *ctx)
{
    int rc = epy_peer_handle(peer, name, fn, ctx, NULL);

    ck_assert_msg(rc == 0, "epy_peer_handle(%s): %s", name,
                  epy_status_name(rc));
}

int
rt_echo(epy_call *call, const uint8_t *req, size_t req_len, void *ctx)
{
    (void) ctx;
    epy_call_reply(call, req, req_len);
    return 0;
}

void
rt_serve_ping(epy_peer *peer)
{
    rt_handle(peer, "rt.ping", rt_echo, NULL);
}

void
rt_ping(epy_peer *peer)
{
    static const char word[] = "ping";
    epy_api *api = rt_api(peer, "rt");

    rt_call_expect(api, "ping", word, sizeof word, word, sizeof word);
    epy_api_close(api);
}

void
rt_call_expect(epy_api *api, const char *method, const void *req,
               size_t req_len, const void *want, size_t want_len)
{
    epy_buf reply = EPY_BUF_INIT;
    epy_error err = EPY_ERROR_INIT;
    int rc = epy_api_call(api, method, req, req_len, NULL, &reply, &err);

    ck_assert_msg(rc == 0, "call %s.%s: %s: %s", epy_api_name(api), method,
                  epy_status_name(rc),
                  err.message != NULL ? err.message : "");
    ck_assert_uint_eq(reply.len, want_len);
    if (want_len > 0)
        ck_assert_mem_eq(reply.data, want, want_len);
    epy_buf_clear(&reply);
    epy_error_clear(&err);
}

void
rt_fill(uint8_t *buf, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        /* Every seventh byte is a NUL. */
        buf[i] = i % 7 == 3 ? 0 : (uint8_t) (x >> 16);
    }
}

/* --- a recording receiver ------------------------------------------------- */

void
rt_srv_init(rt_srv *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    rt_counter_init(&s->calls);
    rt_counter_init(&s->started);
    rt_counter_init(&s->done);
    rt_counter_init(&s->cancels_seen);
    rt_gate_init(&s->gate);
    s->fail_code = EPY_EFAILED;
}

void
rt_srv_destroy(rt_srv *s)
{
    rt_gate_open(&s->gate);
    rt_gate_destroy(&s->gate);
    rt_counter_destroy(&s->calls);
    rt_counter_destroy(&s->started);
    rt_counter_destroy(&s->done);
    rt_counter_destroy(&s->cancels_seen);
    pthread_mutex_destroy(&s->mu);
}

static void
srv_record(rt_srv *s, epy_call *call)
{
    const char *method = epy_call_method(call);

    pthread_mutex_lock(&s->mu);
    s->last_txn = epy_call_txn_id(call);
    s->last_solicited = epy_call_solicited(call);
    s->last_remaining = epy_call_remaining_ms(call);
    s->last_peer = epy_call_peer(call);
    s->last_ctx = epy_call_ctx(call);
    snprintf(s->last_method, sizeof s->last_method, "%s",
             method != NULL ? method : "(null)");
    pthread_mutex_unlock(&s->mu);
    rt_counter_add(&s->calls, 1);
}

int
rt_srv_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    rt_srv *s = ctx;

    srv_record(s, call);
    epy_call_reply(call, req, len);
    rt_counter_add(&s->done, 1);
    return 0;
}

int
rt_srv_gated(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    rt_srv *s = ctx;

    srv_record(s, call);
    rt_counter_add(&s->started, 1);
    if (!rt_gate_wait(&s->gate, 4 * RT_WAIT_MS))
        rt_note_failure(__FILE__, __LINE__, "gated handler never released");
    epy_call_reply(call, req, len);
    rt_counter_add(&s->done, 1);
    return 0;
}

int
rt_srv_until_cancel(epy_call *call, const uint8_t *req, size_t len,
                    void *ctx)
{
    rt_srv *s = ctx;
    int64_t deadline = tu_now_ms() + 4 * RT_WAIT_MS;

    srv_record(s, call);
    rt_counter_add(&s->started, 1);
    /* No notification exists for a cancel: poll it, as a handler would. */
    while (!epy_call_cancelled(call) && tu_now_ms() < deadline)
        if (rt_gate_wait(&s->gate, 2))
            break;
    if (epy_call_cancelled(call))
        rt_counter_add(&s->cancels_seen, 1);
    epy_call_reply(call, req, len);
    rt_counter_add(&s->done, 1);
    return 0;
}

int
rt_srv_sleep(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    rt_srv *s = ctx;

    srv_record(s, call);
    rt_counter_add(&s->started, 1);
    rt_sleep_ms(s->sleep_ms);
    epy_call_reply(call, req, len);
    rt_counter_add(&s->done, 1);
    return 0;
}

int
rt_srv_fail(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    rt_srv *s = ctx;

    (void) req;
    (void) len;
    srv_record(s, call);
    epy_call_fail(call, s->fail_code, s->fail_type, s->fail_message,
                  s->fail_payload, s->fail_len);
    rt_counter_add(&s->done, 1);
    return 0;
}

/* --- two peers with a recording receiver ---------------------------------- */

void
rt_duo_open(rt_duo *d, const epy_peer_config *cfg_a,
            const epy_peer_config *cfg_b)
{
    memset(d, 0, sizeof *d);
    rt_srv_init(&d->srv);
    rt_listen_init(&d->listen);
    rt_pair(cfg_a, cfg_b, &d->a, &d->b);
    rt_listen_install(&d->listen, d->b);
    rt_serve_ping(d->a);
    rt_serve_ping(d->b);
    d->api = rt_api(d->a, "api");
}

void
rt_duo_close(rt_duo *d)
{
    rt_gate_open(&d->srv.gate);
    d->api = epy_api_close(d->api);
    d->a = epy_peer_close(d->a);
    d->b = epy_peer_close(d->b);
    rt_listen_destroy(&d->listen);
    rt_srv_destroy(&d->srv);
}

/* --- async completions ---------------------------------------------------- */

void
rt_cb_init(rt_cb *cb)
{
    epy_buf empty_buf = EPY_BUF_INIT;
    epy_error empty_err = EPY_ERROR_INIT;

    memset(cb, 0, sizeof *cb);
    pthread_mutex_init(&cb->mu, NULL);
    rt_counter_init(&cb->count);
    cb->reply = empty_buf;
    cb->err = empty_err;
    cb->rc = 1;
}

void
rt_cb_destroy(rt_cb *cb)
{
    epy_buf_clear(&cb->reply);
    epy_error_clear(&cb->err);
    rt_counter_destroy(&cb->count);
    pthread_mutex_destroy(&cb->mu);
}

void
rt_cb_fn(epy_async *async, void *ctx)
{
    rt_cb *cb = ctx;

    if (async == NULL) {
        rt_note_failure(__FILE__, __LINE__, "callback with a NULL handle");
        rt_counter_add(&cb->count, 1);
        return;
    }
    pthread_mutex_lock(&cb->mu);
    epy_error_clear(&cb->err);
    cb->rc = epy_async_result(async, &cb->reply, &cb->err);
    cb->status = epy_async_status_get(async);
    cb->id = epy_async_id(async);
    cb->ctx_seen = epy_async_ctx(async);
    if (cb->rc == EPY_EPENDING || cb->status == EPY_ASYNC_PENDING)
        rt_note_failure(__FILE__, __LINE__,
                        "callback run while the call is pending");
    pthread_mutex_unlock(&cb->mu);
    rt_counter_add(&cb->count, 1);
}

bool
rt_sem_wait(void *sem, int64_t timeout_ms)
{
    struct timespec ts;

    /* sem_timedwait() measures against CLOCK_REALTIME. */
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t) (timeout_ms / 1000);
    ts.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (sem_timedwait(sem, &ts) != 0)
        if (errno != EINTR)
            return false;
    return true;
}

/* --- a raw other end: frames by hand -------------------------------------- */

static size_t
put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t) v;
    return n;
}

static void
write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "write: %s", strerror(errno));
        p += n;
        len -= (size_t) n;
    }
}

static void
write_frame(int fd, const uint8_t *env, size_t len)
{
    uint8_t head[4] = { (uint8_t) len, (uint8_t) (len >> 8),
                        (uint8_t) (len >> 16), (uint8_t) (len >> 24) };

    write_all(fd, head, 4);
    write_all(fd, env, len);
}

static void write_env(int fd, int kind, uint64_t txn, int32_t code,
                      const char *method, const void *payload, size_t len,
                      size_t split, int64_t pause_ms);

void
rt_wire_write(int fd, int kind, uint64_t txn, int32_t code,
              const void *payload, size_t len)
{
    rt_wire_write_split(fd, kind, txn, code, payload, len, 0, 0);
}

void
rt_wire_write_split(int fd, int kind, uint64_t txn, int32_t code,
                    const void *payload, size_t len, size_t split,
                    int64_t pause_ms)
{
    write_env(fd, kind, txn, code, NULL, payload, len, split, pause_ms);
}

void
rt_wire_write_method(int fd, int kind, uint64_t txn, const char *method,
                     const void *payload, size_t len)
{
    write_env(fd, kind, txn, 0, method, payload, len, 0, 0);
}

static void
write_env(int fd, int kind, uint64_t txn, int32_t code, const char *method,
          const void *payload, size_t len, size_t split, int64_t pause_ms)
{
    size_t mlen = method != NULL ? strlen(method) : 0;
    uint8_t *buf = malloc(len + mlen + 64);
    size_t n = 4, env_len;

    ck_assert_ptr_nonnull(buf);
    buf[n++] = 1 << 3;                                  /* kind */
    n += put_varint(buf + n, (uint64_t) kind);
    if (txn != 0) {
        buf[n++] = 2 << 3;                              /* txn */
        n += put_varint(buf + n, txn);
    }
    if (method != NULL) {
        buf[n++] = 3 << 3 | 2;                          /* method */
        n += put_varint(buf + n, mlen);
        memcpy(buf + n, method, mlen);
        n += mlen;
    }
    if (code != 0) {
        buf[n++] = 4 << 3;                              /* code, sint32 */
        n += put_varint(buf + n, (uint32_t) ((uint32_t) code << 1)
                                 ^ (uint32_t) (code >> 31));
    }
    if (payload != NULL) {
        buf[n++] = 15 << 3 | 2;                         /* payload */
        n += put_varint(buf + n, len);
        memcpy(buf + n, payload, len);
        n += len;
    }
    env_len = n - 4;
    buf[0] = (uint8_t) env_len;
    buf[1] = (uint8_t) (env_len >> 8);
    buf[2] = (uint8_t) (env_len >> 16);
    buf[3] = (uint8_t) (env_len >> 24);
    if (split > 0 && split < n) {
        write_all(fd, buf, split);
        rt_sleep_ms(pause_ms);
        write_all(fd, buf + split, n - split);
    } else {
        write_all(fd, buf, n);
    }
    free(buf);
}

epy_peer *
rt_raw_peer(int sv[2], const epy_peer_config *cfg)
{
    epy_peer *p = NULL;
    epy_error err = EPY_ERROR_INIT;
    int rc;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    rc = epy_peer_new_fd(sv[0], cfg, &p, &err);
    ck_assert_msg(rc == 0, "epy_peer_new_fd: %s: %s", epy_status_name(rc),
                  err.message != NULL ? err.message : "");
    ck_assert_ptr_nonnull(p);
    epy_error_clear(&err);
    return p;
}

void
rt_wire_hello(int fd)
{
    rt_wire_hello_ex(fd, EPY_PROTOCOL_VERSION, NULL);
}

void
rt_wire_hello_ex(int fd, unsigned version, const char *iface)
{
    size_t ilen = iface != NULL ? strlen(iface) : 0;
    uint8_t hello[300], env[320];
    size_t h = 0, n = 0;

    ck_assert_uint_lt(ilen, 256);
    hello[h++] = 1 << 3;                                /* version */
    h += put_varint(hello + h, version);
    if (iface != NULL) {
        hello[h++] = 2 << 3 | 2;                        /* interfaces */
        h += put_varint(hello + h, ilen);
        memcpy(hello + h, iface, ilen);
        h += ilen;
    }
    env[n++] = 1 << 3;                                  /* kind */
    env[n++] = RT_KIND_HELLO;
    env[n++] = 9 << 3 | 2;                              /* hello */
    n += put_varint(env + n, h);
    memcpy(env + n, hello, h);
    n += h;
    write_frame(fd, env, n);
}

/* Reads exactly @len bytes before @deadline; false otherwise. */
static bool
read_full(int fd, uint8_t *p, size_t len, int64_t deadline)
{
    while (len > 0) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        int64_t left = deadline - tu_now_ms();
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, (int) left) <= 0)
            return false;
        n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t) n;
    }
    return true;
}

static bool
get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = p[(*pos)++];

        *v |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

static bool
parse_frame(const uint8_t *p, size_t len, rt_frame *f)
{
    size_t pos = 0;

    memset(f, 0, sizeof *f);
    while (pos < len) {
        uint64_t key, v;

        if (!get_varint(p, len, &pos, &key))
            return false;
        switch (key & 7) {
        case 0:
            if (!get_varint(p, len, &pos, &v))
                return false;
            if (key >> 3 == 1) {
                f->kind = (int) v;
            } else if (key >> 3 == 2) {
                f->has_txn = true;
                f->txn = v;
            } else if (key >> 3 == 4) {
                f->has_code = true;
                f->code = (int32_t) ((uint32_t) (v >> 1)
                                     ^ (uint32_t) -(int32_t) (v & 1));
            }
            break;
        case 2:
            if (!get_varint(p, len, &pos, &v) || v > len - pos)
                return false;
            if (key >> 3 == 3 && v < sizeof f->method) {
                memcpy(f->method, p + pos, (size_t) v);
                f->method[v] = '\0';
            } else if (key >> 3 == 15) {
                f->payload_len = (size_t) v;
            }
            pos += (size_t) v;
            break;
        case 1:
            pos += 8;
            break;
        case 5:
            pos += 4;
            break;
        default:
            return false;
        }
    }
    return pos == len;
}

bool
rt_wire_read(int fd, int kind, rt_frame *out, int64_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;

    for (;;) {
        uint8_t head[4], *env;
        size_t len;
        bool ok;

        if (!read_full(fd, head, 4, deadline))
            return false;
        len = (size_t) head[0] | (size_t) head[1] << 8
              | (size_t) head[2] << 16 | (size_t) head[3] << 24;
        env = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(env);
        ok = read_full(fd, env, len, deadline) && parse_frame(env, len, out);
        free(env);
        if (!ok)
            return false;
        if (out->kind == kind)
            return true;
    }
}

/* --- child processes ------------------------------------------------------ */

pid_t
rt_fork(int (*fn)(void *arg), void *arg)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        _exit(fn(arg) & 0xff);
    return pid;
}

int
rt_reap(pid_t pid, int64_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    int status = 0;
    pid_t got;

    /* Nothing to wait on with a timeout for a child: poll it. */
    while ((got = waitpid(pid, &status, WNOHANG)) == 0
           && tu_now_ms() < deadline)
        rt_sleep_ms(2);
    if (got == 0) {
        rt_note_failure(__FILE__, __LINE__,
                        "child %d still running after %lld ms: killed",
                        (int) pid, (long long) timeout_ms);
        kill(pid, SIGKILL);
        got = waitpid(pid, &status, 0);
    }
    ck_assert_int_eq(got, pid);
    return status;
}
