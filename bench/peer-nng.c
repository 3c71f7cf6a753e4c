/*
 * NNG req/rep over ipc://, for comparison: a rep process forked from a
 * req process, @payload-byte messages, one in flight. Built by
 * `make bench` only when NNG (libnng-dev) is there.
 *
 * Usage: peer-nng WARM N PAYLOAD
 * Prints "P50_US P99_US CPU_US CSW": CPU time and context switches per
 * round trip, of both processes and all their threads, warm-up included.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench.h"

static void
rep_child(const char *url, size_t cap, int ready_fd)
{
    nng_socket rep;
    char *buf = malloc(cap);

    if (buf == NULL || nng_rep0_open(&rep) != 0
        || nng_listen(rep, url, NULL, 0) != 0)
        _exit(1);
    if (bench_write_full(ready_fd, "r", 1) < 0)
        _exit(1);
    close(ready_fd);
    for (;;) {
        size_t n = cap;

        if (nng_recv(rep, buf, &n, 0) != 0 || nng_send(rep, buf, n, 0) != 0)
            _exit(1);
        if (n == 0)
            break;      /* the last message */
    }
    nng_close(rep);
    free(buf);
    _exit(0);
}

int
main(int argc, char **argv)
{
    char dir[] = "/tmp/epybench-nng-XXXXXX", url[128], path[96];
    size_t warm, n, payload, got;
    int64_t *lat;
    char *msg, *in;
    nng_socket req;
    bench_sample s;
    bench_cpu cpu;
    int ready[2], rv;
    char byte;
    pid_t pid;

    if (argc != 4)
        bench_die("usage: peer-nng WARM N PAYLOAD");
    warm = strtoul(argv[1], NULL, 10);
    n = strtoul(argv[2], NULL, 10);
    payload = strtoul(argv[3], NULL, 10);
    if (n == 0 || payload < 8)
        bench_die("peer-nng: N > 0 and PAYLOAD >= 8");
    lat = calloc(n, sizeof *lat);
    msg = calloc(1, payload);
    in = calloc(1, payload);
    if (lat == NULL || msg == NULL || in == NULL)
        bench_die("out of memory");
    if (mkdtemp(dir) == NULL)
        bench_die("mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/s", dir);
    snprintf(url, sizeof url, "ipc://%s", path);
    if (pipe(ready) < 0)
        bench_die("pipe: %s", strerror(errno));
    bench_cpu_start(&cpu);
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(ready[0]);
        rep_child(url, payload, ready[1]);
    }
    close(ready[1]);
    if (bench_read_full(ready[0], &byte, 1) < 0)
        bench_die("peer-nng: the rep process did not start");
    close(ready[0]);
    if ((rv = nng_req0_open(&req)) != 0
        || (rv = nng_dial(req, url, NULL, 0)) != 0)
        bench_die("peer-nng: %s", nng_strerror(rv));
    for (size_t i = 0; i < warm + n; i++) {
        int64_t t0 = bench_now_ns();
        uint64_t seq = i, back;

        memcpy(msg, &seq, sizeof seq);
        got = payload;
        if ((rv = nng_send(req, msg, payload, 0)) != 0
            || (rv = nng_recv(req, in, &got, 0)) != 0)
            bench_die("peer-nng: %s", nng_strerror(rv));
        if (i >= warm)
            lat[i - warm] = bench_now_ns() - t0;
        memcpy(&back, in, sizeof back);
        if (got != payload || back != seq)
            bench_die("peer-nng: wrong reply");
    }
    got = payload;
    if ((rv = nng_send(req, msg, 0, 0)) != 0
        || (rv = nng_recv(req, in, &got, 0)) != 0)
        bench_die("peer-nng: %s", nng_strerror(rv));
    nng_close(req);
    bench_cpu_stop(&cpu, pid, warm + n, &s);
    bench_latencies(lat, n, &s);
    unlink(path);
    rmdir(dir);
    printf("%.3f %.3f %.3f %.3f\n", s.v[BENCH_P50], s.v[BENCH_P99], s.cpu_us,
           s.csw);
    free(lat);
    free(msg);
    free(in);
    return 0;
}
