/*
 * bench/attack: what a hostile, unprivileged local client can do to an
 * epyrpc unix-socket server (and a hostile server to a client), measured.
 * One line per attack with its figure, so that the figures can be
 * compared before and after hardening. Built by `make attack` (never by
 * `make check`), which also runs it; `bench/attack 2 5` runs attacks 2
 * and 5 only.
 *
 * Only the public API is used (and only configuration fields that every
 * version has), so the same files build against older libraries. Each
 * attack forks a fresh server process (its peak RSS, VmHWM, is its own),
 * attacks it from this process with hand-encoded frames (a 4-byte
 * little-endian length and an epyrpc.Envelope, runtime/wire/envelope.proto),
 * and kills it; calls through the library run in forked children too, so
 * that this process never holds library threads across a fork(). Every
 * attack is bounded in time; the whole run takes about two minutes.
 * The frames and raw connections are in attack-wire.c, the server and
 * the other processes in attack-server.c (attack.h between them).
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

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zlib.h>

#include <epyrpc/epyrpc.h>

#include "attack.h"

shared *shm;
char sock_dir[64];
int sock_seq;

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

    snprintf(path, sizeof path, "%s/s%d.sock", sock_dir, sock_seq++);
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

/* --- the table ---------------------------------------------------------- */

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
    snprintf(sock_dir, sizeof sock_dir, "/tmp/epy-attack-XXXXXX");
    if (mkdtemp(sock_dir) == NULL)
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
    rmdir(sock_dir);
    printf("done in %.0f s\n", now_s() - t0);
    return 0;
}
