/*
 * Round-trip time of a 16-byte message between two processes over a
 * socketpair: the raw baseline (4-byte length + payload, blocking
 * read/write, no threads) and an epyrpc synchronous call through the raw
 * API, measured alternately in the same run (raw, epyrpc, raw, ...).
 *
 * Usage: pingpong [ROUND_TRIPS]   (default 200000)
 * Prints one line per side with p50 and p99 in microseconds, and the
 * ratio of the p50s.
 */
#include <config.h>

#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

#include "bench-util.h"

#define MSG 16

static int
full_io(int fd, void *buf, size_t n, bool rd)
{
    uint8_t *p = buf;

    while (n > 0) {
        ssize_t r = rd ? read(fd, p, n) : write(fd, p, n);

        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t) r;
    }
    return 0;
}

/* The raw baseline: returns p50 in ns, fills *p99. */
static int64_t
raw_run(size_t n, int64_t *p99)
{
    int sv[2];
    pid_t pid;
    uint8_t frame[4 + MSG] = { MSG, 0, 0, 0 };
    int64_t *lat = malloc(n * sizeof *lat), p50;

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        while (full_io(sv[1], frame, sizeof frame, true) == 0)
            if (full_io(sv[1], frame, sizeof frame, false) < 0)
                break;
        _exit(0);
    }
    close(sv[1]);
    for (size_t i = 0; i < n + n / 10; i++) {
        int64_t t0 = bench_now_ns();

        full_io(sv[0], frame, sizeof frame, false);
        full_io(sv[0], frame, sizeof frame, true);
        if (i >= n / 10)
            lat[i - n / 10] = bench_now_ns() - t0;
    }
    close(sv[0]);
    waitpid(pid, NULL, 0);
    p50 = bench_percentile(lat, n, 50);
    *p99 = bench_percentile(lat, n, 99);
    free(lat);
    return p50;
}

static int
echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

static void
on_disconnect(epy_peer *peer, int reason, void *ctx)
{
    (void) peer;
    (void) reason;
    sem_post(ctx);
}

static int64_t
epy_run(size_t n, int64_t *p99)
{
    epy_link link = EPY_LINK_INIT;
    epy_peer *peer;
    epy_api *api;
    epy_buf out = EPY_BUF_INIT;
    uint8_t msg[MSG] = { 0 };
    int64_t *lat = malloc(n * sizeof *lat), p50;
    pid_t pid;

    epy_link_open(&link, NULL);
    pid = fork();
    if (pid == 0) {
        epy_peer *srv;
        epy_listener l = { NULL, NULL, on_disconnect };
        sem_t gone;

        sem_init(&gone, 0, 0);
        epy_link_peer(&link, EPY_LINK_NECK, NULL, &srv, NULL);
        epy_peer_set_listener(srv, &l, &gone);
        epy_peer_handle(srv, "b.echo", echo, NULL, NULL);
        while (sem_wait(&gone) < 0)     /* serve until the parent leaves */
            ;
        epy_peer_close(srv);
        _exit(0);
    }
    epy_link_peer(&link, EPY_LINK_HEAD, NULL, &peer, NULL);
    epy_api_open(peer, "b", &api, NULL);
    for (size_t i = 0; i < n + n / 10; i++) {
        int64_t t0 = bench_now_ns();

        if (epy_api_call(api, "echo", msg, sizeof msg, NULL, &out, NULL) < 0) {
            fprintf(stderr, "pingpong: call failed\n");
            exit(1);
        }
        if (i >= n / 10)
            lat[i - n / 10] = bench_now_ns() - t0;
    }
    epy_buf_clear(&out);
    epy_api_close(api);
    epy_peer_close(peer);
    waitpid(pid, NULL, 0);
    p50 = bench_percentile(lat, n, 50);
    *p99 = bench_percentile(lat, n, 99);
    free(lat);
    return p50;
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    int64_t raw50[3], raw99[3], epy50[3], epy99[3];

    if (n < 100)
        n = 100;
    for (int r = 0; r < 3; r++) {
        raw50[r] = raw_run(n, &raw99[r]);
        epy50[r] = epy_run(n, &epy99[r]);
    }
    qsort(raw50, 3, sizeof raw50[0], bench_cmp_i64);
    qsort(raw99, 3, sizeof raw99[0], bench_cmp_i64);
    qsort(epy50, 3, sizeof epy50[0], bench_cmp_i64);
    qsort(epy99, 3, sizeof epy99[0], bench_cmp_i64);
    printf("%-28s %10s %10s %8s\n", "16-byte round trip", "p50 us", "p99 us",
           "ratio");
    printf("%-28s %10.2f %10.2f %8s\n", "raw socketpair ping-pong",
           raw50[1] / 1000.0, raw99[1] / 1000.0, "1.00");
    printf("%-28s %10.2f %10.2f %8.2f\n", "epyrpc sync call (raw API)",
           epy50[1] / 1000.0, epy99[1] / 1000.0,
           (double) epy50[1] / (double) raw50[1]);
    return 0;
}
