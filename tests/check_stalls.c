/*
 * Hostile peers that stall, and the limits that keep the other end
 * alive: threads started for nested calls that a raw client never
 * answers (per client and server-wide), and the deadlines of the
 * handshake (a hello trickled byte by byte), of idle clients and of
 * writes to a server that never reads. What a hostile peer sends
 * (memory, the wire) is in check_hostile.
 *
 * Every server under test runs in the test process, on a unix socket in
 * the test's own mkdtemp() folder (hostile-helpers.h); the fake server
 * that never reads listens beside it.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

#include "hostile-helpers.h"
#include "rt-helpers.h"
#include "testutil.h"
#include "wire-helpers.h"

/* Upper bound of something specified to happen within half a second. */
#define PROMPT_MS ((int64_t) 3000 * tu_slow())

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
    c->fd = hh_raw_hello(false);
    for (int i = 1; i <= calls; i++)
        hh_raw_call(c->fd, (uint64_t) i, "t.nest", "x", 1);
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
    ck_assert_msg(hh_clients_at_most(0, 15000 * tu_slow()),
                  "%zu clients still open after they hung up",
                  epy_server_clients(hh_srv));
    hh_srv = epy_server_close(hh_srv);
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
    hh_start_server(&cfg);
    ck_assert_int_eq(epy_server_handle(hh_srv, "t.nest", nest, NULL, NULL), 0);
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
    hh_start_server(&cfg);
    ck_assert_int_eq(epy_server_handle(hh_srv, "t.nest", nest, NULL, NULL), 0);
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
    hh_start_server(&cfg);
    fd = tw_connect_unix(hh_url);
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
    hh_assert_server_serves();
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
    rc = epy_connect(hh_url, &cfg, RT_WAIT_MS, &peer, &err);
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
    hh_start_server(&cfg);
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
    ck_assert(hh_clients_at_most(0, RT_WAIT_MS));
    hh_srv = epy_server_close(hh_srv);
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
    hh_start_server(&cfg);
    ck_assert_int_eq(epy_server_handle(hh_srv, "t.slow", slow_echo, NULL, NULL),
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
    hh_srv = epy_server_close(hh_srv);
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
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/w", hh_dir);
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

static Suite *
stalls_suite(void)
{
    Suite *s = suite_create("stalls");
    TCase *tc;

    tc = hh_tcase(s, "threads", 90, hh_teardown);
    tcase_add_test(tc, test_nested_callbacks_bounded);
    tcase_add_test(tc, test_server_spare_cap);

    tc = hh_tcase(s, "deadlines", 60, hh_teardown);
    tcase_add_test(tc, test_handshake_trickle);
    tcase_add_test(tc, test_idle_client_dropped);
    tcase_add_test(tc, test_idle_busy_call_kept);
    tcase_add_test(tc, test_write_deadline_sync);
    tcase_add_test(tc, test_write_deadline_async);
    return s;
}

int
main(void)
{
    return tu_run_suite(stalls_suite());
}
