/*
 * bench/attack: what a hostile, unprivileged local client can do to an
 * epyrpc unix-socket server (and a hostile server to a client), measured.
 * One line per attack with its figure, so that the figures can be
 * compared before and after hardening. Built by `make attack` (never by
 * `make check`), which also runs it; `bench/attack 2 5` runs attacks 2
 * and 5 only.
 *
 * Only the public API is used (and only configuration fields that every
 * version has), so the same file builds against older libraries. Each
 * attack forks a fresh server process (its peak RSS, VmHWM, is its own),
 * attacks it from this process with hand-encoded frames (a 4-byte
 * little-endian length and an epyrpc.Envelope, runtime/envelope.proto),
 * and kills it; calls through the library run in forked children too, so
 * that this process never holds library threads across a fork(). Every
 * attack is bounded in time; the whole run takes about two minutes.
 *
 *  1a gen decode: 4 pipelined ~2 MB calls of calc.stats.centroid whose
 *     argument is a million empty points (0x0a 0x00 repeated), decoded by
 *     idlc-generated code: server peak RSS growth, and what stays.
 *  1b hello: a HELLO with 400,000 empty interface strings (800 KB).
 *  2  zlib bomb: 4 calls, each 15 MiB of zeros deflated to ~15 KB.
 *  3  accept stall: client A's handler sleeps 15 s, A hangs up; how long
 *     client B's epy_connect() takes.
 *  4  threads: 300 pipelined calls whose handler calls back the caller
 *     (which never answers): server threads after 3 s; then 20 clients.
 *  5  slow hello: 20 clients send a hello one byte a second; how many are
 *     still connected after 8 s (handshake_timeout_ms = 2000).
 *  6  write timeout: a server that never reads; an 8 MiB call with a
 *     1000 ms timeout, sync and async: how long until it returns.
 *  7  hostile timeout: a call with timeout_ms = 2^62: does the server
 *     live on and answer?
 *  8  NUL in the method name: "t.echo\0junk": does t.echo's handler run?
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include <epyrpc/epyrpc.h>

#include "calc.epy.h"

#define MIB (1024.0 * 1024.0)

/* Envelope kinds (runtime/envelope.proto). */
enum { K_HELLO = 1, K_CALL = 2, K_EVENT = 3, K_REPLY = 4, K_ERROR = 5,
       K_CANCEL = 6, K_DISCONNECT = 7 };

/* What the server's handlers report to the attacker, across fork(). */
typedef struct shared {
    atomic_int echo_calls;
    atomic_int sleep_started;
    atomic_int hold_calls;
    atomic_int nested_started;
    atomic_int centroid_calls;
    atomic_long centroid_points;
    char last_method[128];
} shared;

static shared *shm;
static char dir[64];            /* the sockets' folder */
static int sock_seq;

/* --- little helpers ------------------------------------------------------ */

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
sleep_s(double s)
{
    struct timespec ts;

    if (s <= 0)
        return;
    ts.tv_sec = (time_t) s;
    ts.tv_nsec = (long) ((s - (double) ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void
die(const char *what)
{
    fprintf(stderr, "attack: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* A "Vm...:" line of /proc/@pid/status, in KiB; -1 if absent. */
static long
proc_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    size_t klen = strlen(key);
    long v = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", (long) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) == 0) {
            v = strtol(line + klen, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static int
proc_threads(pid_t pid)
{
    char path[64];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof path, "/proc/%ld/task", (long) pid);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static bool
alive(pid_t pid)
{
    int st;

    return waitpid(pid, &st, WNOHANG) == 0;
}

static void
kill_wait(pid_t pid)
{
    int st;

    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* --- frames ------------------------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
} wbuf;

static void
wb_put(wbuf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            die("realloc");
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void
wb_varint(wbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;

    do {
        tmp[n] = (uint8_t) (v & 0x7f);
        v >>= 7;
        if (v != 0)
            tmp[n] |= 0x80;
        n++;
    } while (v != 0);
    wb_put(b, tmp, n);
}

static void
wb_field_varint(wbuf *b, unsigned field, uint64_t v)
{
    wb_varint(b, (uint64_t) field << 3);
    wb_varint(b, v);
}

static void
wb_field_bytes(wbuf *b, unsigned field, const void *data, size_t n)
{
    wb_varint(b, (uint64_t) field << 3 | 2);
    wb_varint(b, n);
    wb_put(b, data, n);
}

/* Prefixes @env with its length, appending the frame to @out. */
static void
wb_frame(wbuf *out, const wbuf *env)
{
    uint8_t len[4] = { (uint8_t) env->len, (uint8_t) (env->len >> 8),
                       (uint8_t) (env->len >> 16), (uint8_t) (env->len >> 24) };

    wb_put(out, len, 4);
    wb_put(out, env->p, env->len);
}

/* A HELLO frame: protocol 1, @n_empty empty interface strings. */
static void
frame_hello(wbuf *out, size_t n_empty, bool zlib)
{
    wbuf h = { 0 }, env = { 0 };

    wb_field_varint(&h, 1, 1);                  /* version */
    for (size_t i = 0; i < n_empty; i++)
        wb_field_bytes(&h, 2, NULL, 0);         /* interfaces: "" */
    wb_field_varint(&h, 3, zlib);               /* zlib */
    wb_field_varint(&h, 4, 16u << 20);          /* max_frame */
    wb_field_varint(&env, 1, K_HELLO);
    wb_field_bytes(&env, 9, h.p, h.len);
    wb_frame(out, &env);
    free(h.p);
    free(env.p);
}

/*
 * A CALL frame. @timeout_ms < 0: none. @raw_len 0: not compressed.
 * @method of @mlen bytes (NUL bytes allowed).
 */
static void
frame_call(wbuf *out, uint64_t txn, const char *method, size_t mlen,
           int64_t timeout_ms, uint64_t raw_len, const void *payload,
           size_t plen)
{
    wbuf env = { 0 };

    wb_field_varint(&env, 1, K_CALL);
    wb_field_varint(&env, 2, txn);
    wb_field_bytes(&env, 3, method, mlen);
    if (timeout_ms >= 0)
        wb_field_varint(&env, 8, (uint64_t) timeout_ms);
    if (raw_len != 0)
        wb_field_varint(&env, 10, raw_len);
    wb_field_bytes(&env, 15, payload, plen);
    wb_frame(out, &env);
    free(env.p);
}

static void
frame_call_str(wbuf *out, uint64_t txn, const char *method,
               const void *payload, size_t plen)
{
    frame_call(out, txn, method, strlen(method), -1, 0, payload, plen);
}

/* --- raw connections ----------------------------------------------------- */

typedef struct conn {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    bool closed;
} conn;

/* A decoded envelope: only what the attacks look at. */
typedef struct envelope {
    unsigned kind;
    uint64_t txn;
    int code;
} envelope;

static int
unix_connect(const char *path, double timeout_s)
{
    struct sockaddr_un sun;
    double end = now_s() + timeout_s;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
            die("socket");
        if (connect(fd, (struct sockaddr *) &sun, sizeof sun) == 0)
            return fd;
        close(fd);
        if (now_s() > end)
            return -1;
        sleep_s(0.01);
    }
}

static bool
conn_open(conn *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->fd = unix_connect(path, 5);
    c->closed = c->fd < 0;
    return c->fd >= 0;
}

static void
conn_close(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->closed = true;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

/* Writes all of @b; false if the connection ended. */
static bool
conn_send(conn *c, const wbuf *b)
{
    size_t off = 0;

    while (off < b->len) {
        ssize_t n = send(c->fd, b->p + off, b->len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->closed = true;
            return false;
        }
        off += (size_t) n;
    }
    return true;
}

static bool
get_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
    uint64_t v = 0;

    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;

        v |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *ret = v;
            return true;
        }
    }
    return false;
}

static void
parse_envelope(const uint8_t *p, size_t size, envelope *e)
{
    const uint8_t *end = p + size;

    memset(e, 0, sizeof *e);
    while (p < end) {
        uint64_t key, v;

        if (!get_varint(&p, end, &key))
            return;
        switch (key & 7) {
        case 0:
            if (!get_varint(&p, end, &v))
                return;
            if (key >> 3 == 1)
                e->kind = (unsigned) v;
            else if (key >> 3 == 2)
                e->txn = v;
            else if (key >> 3 == 4)     /* sint32: zigzag */
                e->code = (int) ((v >> 1) ^ (~(v & 1) + 1));
            break;
        case 1:
            p += 8;
            break;
        case 5:
            p += 4;
            break;
        case 2:
            if (!get_varint(&p, end, &v) || v > (uint64_t) (end - p))
                return;
            p += v;
            break;
        default:
            return;
        }
    }
}

/*
 * Reads the next frame until @deadline (now_s() time). Returns 1 with
 * @e filled, 0 at the deadline, -1 when the connection ended.
 */
static int
conn_next(conn *c, double deadline, envelope *e)
{
    for (;;) {
        struct pollfd pfd;
        ssize_t n;
        double left;

        if (c->len >= 4) {
            size_t size = (size_t) c->buf[0] | (size_t) c->buf[1] << 8
                          | (size_t) c->buf[2] << 16
                          | (size_t) c->buf[3] << 24;

            if (c->len - 4 >= size) {
                parse_envelope(c->buf + 4, size, e);
                memmove(c->buf, c->buf + 4 + size, c->len - 4 - size);
                c->len -= 4 + size;
                return 1;
            }
            if (c->cap < 4 + size) {
                c->buf = realloc(c->buf, 4 + size);
                if (c->buf == NULL)
                    die("realloc");
                c->cap = 4 + size;
            }
        }
        if (c->closed)
            return -1;
        if (c->cap - c->len < 4096) {
            c->cap = c->cap ? c->cap * 2 : 65536;
            c->buf = realloc(c->buf, c->cap);
            if (c->buf == NULL)
                die("realloc");
        }
        left = deadline - now_s();
        if (left <= 0)
            return 0;
        pfd.fd = c->fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, (int) (left * 1000) + 1) <= 0)
            continue;
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            c->closed = true;
            return -1;
        }
        c->len += (size_t) n;
    }
}

/*
 * Waits for the answer (REPLY or ERROR) of @txn until @deadline. Returns
 * its kind (with *@code), 0 at the deadline, -1 if the connection ended.
 */
static int
conn_answer(conn *c, uint64_t txn, double deadline, int *code)
{
    envelope e;
    int rc;

    while ((rc = conn_next(c, deadline, &e)) == 1) {
        if ((e.kind == K_REPLY || e.kind == K_ERROR) && e.txn == txn) {
            if (code != NULL)
                *code = e.code;
            return (int) e.kind;
        }
    }
    return rc;
}

/* What came back for a batch of calls. */
typedef struct answers {
    int replies, errors;
    int first_error;            /* the code of the first ERROR */
    bool closed;                /* the server ended the connection */
    char text[96];              /* all of it, for the report */
} answers;

/* Collects answers (REPLY or ERROR, any txn) until @want or @deadline. */
static void
conn_answers(conn *c, int want, double deadline, answers *a)
{
    envelope e;
    int rc = 0;

    memset(a, 0, sizeof *a);
    while (a->replies + a->errors < want
           && (rc = conn_next(c, deadline, &e)) == 1) {
        if (e.kind == K_REPLY)
            a->replies++;
        if (e.kind == K_ERROR && a->errors++ == 0)
            a->first_error = e.code;
    }
    a->closed = rc < 0;
    snprintf(a->text, sizeof a->text, "answers %d/%d: %d replies, %d errors%s%s%s",
             a->replies + a->errors, want, a->replies, a->errors,
             a->errors > 0 ? " (" : "",
             a->errors > 0 ? epy_status_name(a->first_error) : "",
             a->errors > 0 ? ")" : "");
    if (a->closed)
        snprintf(a->text + strlen(a->text), sizeof a->text - strlen(a->text),
                 "; connection closed by the server");
}

/* Sends a plain hello; false if the connection failed. */
static bool
conn_hello(conn *c, bool zlib)
{
    wbuf b = { 0 };
    bool ok;

    frame_hello(&b, 0, zlib);
    ok = conn_send(c, &b);
    free(b.p);
    return ok;
}

/* A call of t.echo on @c; true if it was answered with a REPLY in 3 s. */
static bool
echo_works(conn *c, uint64_t txn)
{
    wbuf b = { 0 };
    bool ok;

    frame_call_str(&b, txn, "t.echo", "ping", 4);
    ok = conn_send(c, &b) && conn_answer(c, txn, now_s() + 3, NULL) == K_REPLY;
    free(b.p);
    return ok;
}

/* --- the server --------------------------------------------------------- */

typedef struct server_opts {
    size_t compress_threshold;
    int64_t handshake_timeout_ms;       /* 0: the default */
    bool gen;                           /* serve calc.stats (typed) */
} server_opts;

typedef struct server {
    pid_t pid;
    char path[108];
    char url[128];
    long hwm0, rss0;                    /* KiB, once ready */
    int threads0;
} server;

static int
h_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    snprintf(shm->last_method, sizeof shm->last_method, "%s",
             epy_call_method(call));
    atomic_fetch_add(&shm->echo_calls, 1);
    return epy_call_reply(call, req, len);
}

/* Sleeps 15 s, whatever the caller does. */
static int
h_sleep(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call, (void) req, (void) len, (void) ctx;
    atomic_fetch_add(&shm->sleep_started, 1);
    sleep_s(15);
    return 0;
}

/* Holds its request for 2 s. */
static int
h_hold(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call, (void) req, (void) len, (void) ctx;
    atomic_fetch_add(&shm->hold_calls, 1);
    sleep_s(2);
    return 0;
}

/* Calls the caller back (c.back), waiting up to 30 s. */
static int
h_nested(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    epy_error err = EPY_ERROR_INIT;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_api *api;
    int rc;

    (void) req, (void) len, (void) ctx;
    atomic_fetch_add(&shm->nested_started, 1);
    rc = epy_api_open(epy_call_peer(call), "c", &api, &err);
    if (rc == 0) {
        opts.timeout_ms = 30000;
        rc = epy_api_call(api, "back", NULL, 0, &opts, NULL, &err);
        epy_api_close(api);
    }
    epy_error_clear(&err);
    return rc < 0 ? rc : 0;
}

static int
h_centroid(epy_call *call, const calc_point_list *pts, calc_point *ret,
           void *ctx)
{
    (void) call, (void) ctx;
    atomic_fetch_add(&shm->centroid_calls, 1);
    atomic_fetch_add(&shm->centroid_points, (long) pts->n);
    ret->x = ret->y = 0;
    for (size_t i = 0; i < pts->n; i++) {
        ret->x += pts->items[i].x;
        ret->y += pts->items[i].y;
    }
    return 0;
}

static atomic_int gen_served;

/* Serves the typed calc.stats on the first client, the server's own. */
static void
on_connect(epy_server *srv, epy_peer *peer, int reason, void *ctx)
{
    static const calc_stats_handlers tbl = { h_centroid, NULL, NULL };

    (void) srv, (void) reason, (void) ctx;
    if (atomic_load(&gen_served) == 0)
        atomic_store(&gen_served, calc_stats_serve(peer, &tbl, NULL) == 0
                                  ? 1 : -1);
}

static void
server_main(const server *s, const server_opts *o, int ready)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;
    epy_peer *self = NULL;
    char ok = 1;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(60);                  /* whatever happens, not for ever */
    cfg.peer.compress_threshold = o->compress_threshold;
    if (o->handshake_timeout_ms > 0)
        cfg.handshake_timeout_ms = o->handshake_timeout_ms;
    if (o->gen)
        cfg.on_connect = on_connect;
    if (epy_server_new(s->url, &cfg, &srv, &err) < 0
        || epy_server_handle(srv, "t.echo", h_echo, NULL, &err) < 0
        || epy_server_handle(srv, "t.sleep", h_sleep, NULL, &err) < 0
        || epy_server_handle(srv, "t.hold", h_hold, NULL, &err) < 0
        || epy_server_handle(srv, "t.nested", h_nested, NULL, &err) < 0) {
        fprintf(stderr, "attack: server: %s\n", err.message);
        _exit(1);
    }
    if (o->gen) {
        /*
         * The generated skeleton registers on a peer: on the server's
         * own first client, into the table all clients share. That
         * client stays connected, so the registration stays.
         */
        if (epy_connect(s->url, NULL, 5000, &self, &err) < 0) {
            fprintf(stderr, "attack: server: %s\n", err.message);
            _exit(1);
        }
        for (int i = 0; i < 500 && atomic_load(&gen_served) == 0; i++)
            sleep_s(0.01);
        if (atomic_load(&gen_served) != 1) {
            fprintf(stderr, "attack: server: cannot serve calc.stats\n");
            _exit(1);
        }
    }
    if (write(ready, &ok, 1) != 1)
        _exit(1);
    for (;;)
        pause();
}

/* Starts a server process; false if it did not come up. */
static bool
server_start(server *s, const server_opts *o)
{
    int p[2];
    char c;
    struct pollfd pfd;

    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s/s%d.sock", dir, sock_seq++);
    snprintf(s->url, sizeof s->url, "unix:%s", s->path);
    memset(shm, 0, sizeof *shm);
    if (pipe(p) < 0)
        die("pipe");
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0)
        die("fork");
    if (s->pid == 0) {
        close(p[0]);
        server_main(s, o, p[1]);
        _exit(0);
    }
    close(p[1]);
    pfd.fd = p[0];
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (poll(&pfd, 1, 10000) != 1 || read(p[0], &c, 1) != 1) {
        close(p[0]);
        kill_wait(s->pid);
        s->pid = 0;
        return false;
    }
    close(p[0]);
    sleep_s(0.2);
    s->hwm0 = proc_kb(s->pid, "VmHWM:");
    s->rss0 = proc_kb(s->pid, "VmRSS:");
    s->threads0 = proc_threads(s->pid);
    return true;
}

static double
hwm_growth_mib(const server *s)
{
    long v = proc_kb(s->pid, "VmHWM:");

    return v < 0 ? -1 : (double) (v - s->hwm0) / 1024.0;
}

static double
rss_growth_mib(const server *s)
{
    long v = proc_kb(s->pid, "VmRSS:");

    return v < 0 ? -1 : (double) (v - s->rss0) / 1024.0;
}

static void
server_stop(server *s)
{
    kill_wait(s->pid);
    s->pid = 0;
    unlink(s->path);
}

/* --- the attacks ------------------------------------------------------ */

static void
attack_decode(void)
{
    server s;
    server_opts o = { 0, 0, true };
    conn c;
    wbuf b = { 0 };
    size_t npts = 1000000;
    uint8_t *payload;
    answers a;
    double peak, kept;

    if (!server_start(&s, &o)) {
        printf("1a gen decode 4x2MB: server did not start\n");
        return;
    }
    payload = malloc(2 * npts);
    if (payload == NULL)
        die("malloc");
    for (size_t i = 0; i < npts; i++) {
        payload[2 * i] = 0x0a;          /* field 1 (pts), length-delimited */
        payload[2 * i + 1] = 0x00;      /* empty: a point with no fields */
    }
    frame_hello(&b, 0, false);
    for (uint64_t t = 1; t <= 4; t++)
        frame_call_str(&b, t, "calc.stats.centroid", payload, 2 * npts);
    free(payload);
    if (!conn_open(&c, s.path)) {
        printf("1a gen decode 4x2MB: cannot connect\n");
        server_stop(&s);
        free(b.p);
        return;
    }
    conn_send(&c, &b);
    free(b.p);
    conn_answers(&c, 4, now_s() + 25, &a);
    peak = hwm_growth_mib(&s);
    sleep_s(0.5);
    kept = rss_growth_mib(&s);
    printf("1a gen decode 4x2MB: peak +%.1f MiB, kept +%.1f MiB "
           "(%s; handler ran %d times, %ld points)%s\n",
           peak, kept, a.text, atomic_load(&shm->centroid_calls),
           atomic_load(&shm->centroid_points),
           alive(s.pid) ? "" : " [server died]");
    fflush(stdout);
    conn_close(&c);
    server_stop(&s);
}

static void
attack_hello(void)
{
    server s;
    server_opts o = { 0, 0, false };
    conn c;
    wbuf b = { 0 };
    size_t hello_len;
    bool answered;
    double peak;

    if (!server_start(&s, &o)) {
        printf("1b hello 800KB: server did not start\n");
        return;
    }
    frame_hello(&b, 400000, false);
    hello_len = b.len;
    frame_call_str(&b, 1, "t.echo", "x", 1);
    if (!conn_open(&c, s.path)) {
        printf("1b hello 800KB: cannot connect\n");
        server_stop(&s);
        free(b.p);
        return;
    }
    conn_send(&c, &b);
    free(b.p);
    answered = conn_answer(&c, 1, now_s() + 10, NULL) == K_REPLY;
    sleep_s(0.2);
    peak = hwm_growth_mib(&s);
    printf("1b hello %zuKB: peak +%.1f MiB (%s)%s\n", hello_len / 1000, peak,
           answered ? "hello accepted, call answered"
                    : c.closed ? "connection closed" : "no answer",
           alive(s.pid) ? "" : " [server died]");
    fflush(stdout);
    conn_close(&c);
    server_stop(&s);
}

static void
attack_zlib(void)
{
    server s;
    server_opts o = { 1024, 0, false };
    size_t raw = (size_t) 15 << 20;
    uLongf zlen = compressBound((uLong) raw);
    uint8_t *zeros, *z;
    conn c;
    wbuf b = { 0 };
    answers a;
    double peak;

    zeros = calloc(1, raw);
    z = malloc(zlen);
    if (zeros == NULL || z == NULL)
        die("malloc");
    if (compress2(z, &zlen, zeros, (uLong) raw, 9) != Z_OK) {
        fprintf(stderr, "attack: compress2 failed\n");
        exit(1);
    }
    free(zeros);
    frame_hello(&b, 0, true);
    for (uint64_t t = 1; t <= 4; t++)
        frame_call(&b, t, "t.hold", 6, -1, raw, z, zlen);
    free(z);
    if (!server_start(&s, &o)) {
        printf("2  zlib bomb: server did not start\n");
        free(b.p);
        return;
    }
    if (!conn_open(&c, s.path)) {
        printf("2  zlib bomb: cannot connect\n");
        server_stop(&s);
        free(b.p);
        return;
    }
    conn_send(&c, &b);
    free(b.p);
    conn_answers(&c, 4, now_s() + 25, &a);
    peak = hwm_growth_mib(&s);
    printf("2  zlib bomb 4x(15 MiB in %lu B): peak +%.1f MiB "
           "(%s; handler ran %d times)%s\n",
           (unsigned long) zlen, peak, a.text,
           atomic_load(&shm->hold_calls),
           alive(s.pid) ? "" : " [server died]");
    fflush(stdout);
    conn_close(&c);
    server_stop(&s);
}

/* Runs @fn in a child; returns its pid and the read end of its pipe. */
static pid_t
child_run(void (*fn)(const char *url, int out), const char *url, int *ret_fd)
{
    int p[2];
    pid_t pid;

    if (pipe(p) < 0)
        die("pipe");
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm(60);
        fn(url, p[1]);
        _exit(0);
    }
    close(p[1]);
    *ret_fd = p[0];
    return pid;
}

/* Reads a line from @fd until @deadline; false if none came. */
static bool
read_line(int fd, double deadline, char *line, size_t size)
{
    size_t n = 0;

    while (n + 1 < size) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        double left = deadline - now_s();
        ssize_t r;

        if (left <= 0 || poll(&pfd, 1, (int) (left * 1000) + 1) <= 0) {
            if (now_s() >= deadline)
                break;
            continue;
        }
        r = read(fd, line + n, 1);
        if (r <= 0)
            break;
        if (line[n] == '\n') {
            line[n] = '\0';
            return true;
        }
        n++;
    }
    line[n] = '\0';
    return false;
}

static void
emit(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
emit(int fd, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && write(fd, line, strlen(line)) < 0)
        _exit(1);
}

static void
client_connect(const char *url, int out)
{
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;
    double t0 = now_s();
    int rc = epy_connect(url, NULL, 20000, &peer, &err);

    emit(out, "%.2f s (%s)\n", now_s() - t0, epy_status_name(rc));
    if (rc == 0)
        epy_peer_close(peer);
}

static void
attack_accept_stall(void)
{
    server s;
    server_opts o = { 0, 0, false };
    conn a;
    wbuf b = { 0 };
    char line[128];
    pid_t pid;
    int fd;

    if (!server_start(&s, &o)) {
        printf("3  accept stall: server did not start\n");
        return;
    }
    if (!conn_open(&a, s.path)) {
        printf("3  accept stall: cannot connect\n");
        server_stop(&s);
        return;
    }
    frame_hello(&b, 0, false);
    frame_call_str(&b, 1, "t.sleep", NULL, 0);
    conn_send(&a, &b);
    free(b.p);
    for (int i = 0; i < 300 && atomic_load(&shm->sleep_started) == 0; i++)
        sleep_s(0.01);
    conn_close(&a);             /* A hangs up while its handler sleeps */
    sleep_s(0.2);
    pid = child_run(client_connect, s.url, &fd);
    if (read_line(fd, now_s() + 25, line, sizeof line))
        printf("3  accept stall: B's epy_connect took %s "
               "(A's handler sleeping 15 s, A gone)\n", line);
    else
        printf("3  accept stall: B's epy_connect > 25 s, still blocked\n");
    fflush(stdout);
    close(fd);
    kill_wait(pid);
    server_stop(&s);
}

/* @nclients clients each pipeline 300 calls of t.nested; threads at 3 s. */
static void
attack_threads(int nclients)
{
    server s;
    server_opts o = { 0, 0, false };
    conn *c = calloc((size_t) nclients, sizeof *c);
    wbuf b = { 0 };
    int threads, opened = 0;

    if (c == NULL)
        die("calloc");
    if (!server_start(&s, &o)) {
        printf("4  threads: server did not start\n");
        free(c);
        return;
    }
    frame_hello(&b, 0, false);
    for (uint64_t t = 1; t <= 300; t++)
        frame_call_str(&b, t, "t.nested", NULL, 0);
    for (int i = 0; i < nclients; i++) {
        if (conn_open(&c[i], s.path)) {
            opened++;
            conn_send(&c[i], &b);
        }
    }
    free(b.p);
    sleep_s(3);
    threads = proc_threads(s.pid);
    printf("4  threads, %d client%s x 300 nested calls: %d threads after 3 s "
           "(%d at rest; handlers started: %d; peak RSS +%.1f MiB)%s\n",
           opened, opened == 1 ? "" : "s", threads, s.threads0,
           atomic_load(&shm->nested_started), hwm_growth_mib(&s),
           alive(s.pid) ? "" : " [server died]");
    fflush(stdout);
    for (int i = 0; i < nclients; i++)
        conn_close(&c[i]);
    free(c);
    server_stop(&s);
}

/* True while @c has seen neither EOF nor an error (reads what waits). */
static bool
still_connected(conn *c)
{
    if (c->closed)
        return false;
    for (;;) {
        struct pollfd pfd = { c->fd, POLLIN, 0 };
        uint8_t tmp[4096];
        ssize_t n;

        if (poll(&pfd, 1, 0) <= 0)
            return true;
        if ((pfd.revents & (POLLHUP | POLLERR)) && !(pfd.revents & POLLIN))
            return false;
        n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        c->closed = true;
        return false;
    }
}

static void
attack_slow_hello(void)
{
    enum { N = 20 };
    server s;
    server_opts o = { 0, 2000, false };
    conn c[N];
    wbuf b = { 0 };
    int still = 0;
    double t0;

    if (!server_start(&s, &o)) {
        printf("5  slow hello: server did not start\n");
        return;
    }
    frame_hello(&b, 0, false);
    for (int i = 0; i < N; i++)
        conn_open(&c[i], s.path);
    t0 = now_s();
    for (size_t k = 0; k < 8; k++) {
        for (int i = 0; i < N; i++) {
            if (k < b.len && !c[i].closed
                && send(c[i].fd, b.p + k, 1, MSG_NOSIGNAL) != 1)
                c[i].closed = true;
        }
        sleep_s(t0 + (double) (k + 1) - now_s());
    }
    for (int i = 0; i < N; i++)
        still += still_connected(&c[i]);
    printf("5  slow hello (1 byte/s, handshake_timeout 2 s): %d/%d still "
           "connected after 8 s (hello is %zu bytes)\n", still, N, b.len);
    fflush(stdout);
    free(b.p);
    for (int i = 0; i < N; i++)
        conn_close(&c[i]);
    server_stop(&s);
}

/* A server that sends its hello and never reads. */
static pid_t
deaf_server(const char *path)
{
    struct sockaddr_un sun;
    int lfd, p[2];
    pid_t pid;
    char ok;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    unlink(path);
    if (bind(lfd, (struct sockaddr *) &sun, sizeof sun) < 0
        || listen(lfd, 8) < 0)
        die("bind");
    if (pipe(p) < 0)
        die("pipe");
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        wbuf b = { 0 };
        int fd;

        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm(60);
        ok = 1;
        if (write(p[1], &ok, 1) != 1)
            _exit(1);
        frame_hello(&b, 0, false);
        for (;;) {
            fd = accept(lfd, NULL, NULL);
            if (fd >= 0 && send(fd, b.p, b.len, MSG_NOSIGNAL) < 0)
                close(fd);
            /* never read; keep the descriptor open */
        }
    }
    close(lfd);
    close(p[1]);
    if (read(p[0], &ok, 1) != 1)
        die("deaf server");
    close(p[0]);
    return pid;
}

static void
client_big_call(const char *url, int out, bool async)
{
    epy_error err = EPY_ERROR_INIT;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    size_t len = (size_t) 8 << 20;
    uint8_t *req = calloc(1, len);
    epy_peer *peer;
    epy_api *api;
    epy_async *as = NULL;
    double t0;
    int rc;

    if (req == NULL)
        _exit(1);
    rc = epy_connect(url, NULL, 5000, &peer, &err);
    if (rc == 0)
        rc = epy_api_open(peer, "t", &api, &err);
    if (rc < 0) {
        emit(out, "setup failed: %s\n", epy_status_name(rc));
        _exit(1);
    }
    opts.timeout_ms = 1000;
    t0 = now_s();
    if (!async) {
        rc = epy_api_call(api, "big", req, len, &opts, NULL, &err);
        emit(out, "%.2f s (%s)\n", now_s() - t0, epy_status_name(rc));
        _exit(0);
    }
    rc = epy_api_call_async(api, "big", req, len, &opts, &as, &err);
    emit(out, "%.2f s (%s)\n", now_s() - t0, epy_status_name(rc));
    if (rc == 0) {
        rc = epy_async_wait(as, 30000);
        emit(out, "%.2f s (%s)\n", now_s() - t0, epy_status_name(rc));
    } else {
        emit(out, "-\n");          /* failed at once: nothing to wait for */
    }
    _exit(0);
}

static void
client_big_sync(const char *url, int out)
{
    client_big_call(url, out, false);
}

static void
client_big_async(const char *url, int out)
{
    client_big_call(url, out, true);
}

static void
attack_write_timeout(void)
{
    char path[108], url[128], line[128], line2[128];
    pid_t srv, pid;
    int fd;
    double end;

    snprintf(path, sizeof path, "%s/s%d.sock", dir, sock_seq++);
    snprintf(url, sizeof url, "unix:%s", path);
    srv = deaf_server(path);
    pid = child_run(client_big_sync, url, &fd);
    if (read_line(fd, now_s() + 20, line, sizeof line))
        printf("6a write timeout, sync 8 MiB call, 1 s timeout: returned "
               "after %s\n", line);
    else
        printf("6a write timeout, sync 8 MiB call, 1 s timeout: > 20 s "
               "still blocked\n");
    fflush(stdout);
    close(fd);
    kill_wait(pid);
    kill_wait(srv);

    srv = deaf_server(path);
    pid = child_run(client_big_async, url, &fd);
    end = now_s() + 20;
    if (!read_line(fd, end, line, sizeof line))
        printf("6b write timeout, async 8 MiB call, 1 s timeout: "
               "epy_api_call_async > 20 s still blocked\n");
    else if (!read_line(fd, end, line2, sizeof line2))
        printf("6b write timeout, async 8 MiB call, 1 s timeout: "
               "epy_api_call_async returned after %s; not completed "
               "after 20 s\n", line);
    else if (strcmp(line2, "-") == 0)
        printf("6b write timeout, async 8 MiB call, 1 s timeout: "
               "epy_api_call_async returned after %s\n", line);
    else
        printf("6b write timeout, async 8 MiB call, 1 s timeout: "
               "epy_api_call_async returned after %s, completed after %s\n",
               line, line2);
    fflush(stdout);
    close(fd);
    kill_wait(pid);
    kill_wait(srv);
    unlink(path);
}

static void
attack_timeout(void)
{
    server s;
    server_opts o = { 0, 0, false };
    conn c, d;
    wbuf b = { 0 };
    int kind, code = 0;
    bool same = false, fresh = false, up;

    if (!server_start(&s, &o)) {
        printf("7  hostile timeout: server did not start\n");
        return;
    }
    conn_open(&c, s.path);
    frame_hello(&b, 0, false);
    frame_call(&b, 1, "t.echo", 6, INT64_C(1) << 62, 0, "x", 1);
    conn_send(&c, &b);
    free(b.p);
    kind = conn_answer(&c, 1, now_s() + 3, &code);
    sleep_s(0.5);
    up = alive(s.pid);
    if (up)
        same = echo_works(&c, 2);
    if (up && conn_open(&d, s.path)) {
        fresh = conn_hello(&d, false) && echo_works(&d, 1);
        conn_close(&d);
    }
    up = alive(s.pid);
    printf("7  hostile timeout 2^62: server survives: %s (hostile call: %s%s;"
           " a normal call afterwards answered: same connection %s, "
           "new connection %s)\n",
           up ? "yes" : "NO",
           kind == K_REPLY ? "answered" : kind == K_ERROR ? "failed with "
           : kind == 0 ? "no answer in 3 s" : "connection ended",
           kind == K_ERROR ? epy_status_name(code) : "",
           same ? "yes" : "no", fresh ? "yes" : "no");
    fflush(stdout);
    conn_close(&c);
    server_stop(&s);
}

static void
attack_nul_method(void)
{
    static const char method[] = "t.echo\0junk";
    server s;
    server_opts o = { 0, 0, false };
    conn c;
    wbuf b = { 0 };
    int kind, code = 0, ran;

    if (!server_start(&s, &o)) {
        printf("8  NUL in method: server did not start\n");
        return;
    }
    conn_open(&c, s.path);
    frame_hello(&b, 0, false);
    frame_call(&b, 1, method, sizeof method - 1, -1, 0, "hi", 2);
    conn_send(&c, &b);
    free(b.p);
    kind = conn_answer(&c, 1, now_s() + 3, &code);
    sleep_s(0.1);
    ran = atomic_load(&shm->echo_calls);
    printf("8  method \"t.echo\\0junk\": handler ran: %s (%d call%s%s%s; "
           "answer: %s%s)\n",
           ran > 0 ? "YES" : "no", ran, ran == 1 ? "" : "s",
           ran > 0 ? ", as " : "", ran > 0 ? shm->last_method : "",
           kind == K_REPLY ? "reply" : kind == K_ERROR ? "error "
           : kind == 0 ? "none in 3 s" : "connection closed",
           kind == K_ERROR ? epy_status_name(code) : "");
    fflush(stdout);
    conn_close(&c);
    server_stop(&s);
}

static bool
selected(int argc, char **argv, int n)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (atoi(argv[i]) == n)
            return true;
    return false;
}

int
main(int argc, char **argv)
{
    double t0 = now_s();

    for (int i = 1; i < argc; i++) {
        if (atoi(argv[i]) < 1 || atoi(argv[i]) > 8) {
            fprintf(stderr, "usage: %s [ATTACK...]   (1 to 8; none: all)\n",
                    argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED)
        die("mmap");
    snprintf(dir, sizeof dir, "/tmp/epy-attack-XXXXXX");
    if (mkdtemp(dir) == NULL)
        die("mkdtemp");
    printf("epyrpc %s, attacks of a local client (server figures: "
           "its process's own)\n", epy_version());
    if (selected(argc, argv, 1)) {
        attack_decode();
        attack_hello();
    }
    if (selected(argc, argv, 2))
        attack_zlib();
    if (selected(argc, argv, 3))
        attack_accept_stall();
    if (selected(argc, argv, 4)) {
        attack_threads(1);
        attack_threads(20);
    }
    if (selected(argc, argv, 5))
        attack_slow_hello();
    if (selected(argc, argv, 6))
        attack_write_timeout();
    if (selected(argc, argv, 7))
        attack_timeout();
    if (selected(argc, argv, 8))
        attack_nul_method();
    rmdir(dir);
    printf("done in %.0f s\n", now_s() - t0);
    return 0;
}
