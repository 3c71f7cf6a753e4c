/*
 * ZeroMQ REQ/REP over ipc://, for comparison: a REP process forked from
 * a REQ process, @payload-byte messages, one in flight. Built by
 * `make bench` only when pkg-config finds libzmq (libzmq3-dev).
 *
 * Usage: peer-zmq WARM N PAYLOAD
 * Prints "P50_US P99_US CPU_US CSW": CPU time and context switches per
 * round trip, of both processes and all their threads, warm-up included.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "bench.h"

static void
rep_child(const char *endpoint, size_t cap, int ready_fd)
{
    void *ctx = zmq_ctx_new();
    void *rep = zmq_socket(ctx, ZMQ_REP);
    char *buf = malloc(cap);
    int linger = 0;

    if (rep == NULL || buf == NULL || zmq_bind(rep, endpoint) != 0)
        _exit(1);
    zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
    if (bench_write_full(ready_fd, "r", 1) < 0)
        _exit(1);
    close(ready_fd);
    for (;;) {
        int n = zmq_recv(rep, buf, cap, 0);

        if (n < 0 || zmq_send(rep, buf, (size_t) n, 0) < 0)
            _exit(1);
        if (n == 0)
            break;      /* the last message */
    }
    zmq_close(rep);
    zmq_ctx_term(ctx);
    free(buf);
    _exit(0);
}

int
main(int argc, char **argv)
{
    char dir[] = "/tmp/epybench-zmq-XXXXXX", endpoint[128], path[96];
    size_t warm, n, payload;
    int64_t *lat;
    char *msg, *in;
    void *ctx, *req;
    bench_sample s;
    bench_cpu cpu;
    int ready[2], linger = 0;
    char byte;
    pid_t pid;

    if (argc != 4)
        bench_die("usage: peer-zmq WARM N PAYLOAD");
    warm = strtoul(argv[1], NULL, 10);
    n = strtoul(argv[2], NULL, 10);
    payload = strtoul(argv[3], NULL, 10);
    if (n == 0 || payload < 8)
        bench_die("peer-zmq: N > 0 and PAYLOAD >= 8");
    lat = calloc(n, sizeof *lat);
    msg = calloc(1, payload);
    in = calloc(1, payload);
    if (lat == NULL || msg == NULL || in == NULL)
        bench_die("out of memory");
    if (mkdtemp(dir) == NULL)
        bench_die("mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/s", dir);
    snprintf(endpoint, sizeof endpoint, "ipc://%s", path);
    if (pipe(ready) < 0)
        bench_die("pipe: %s", strerror(errno));
    bench_cpu_start(&cpu);
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(ready[0]);
        rep_child(endpoint, payload, ready[1]);
    }
    close(ready[1]);
    if (bench_read_full(ready[0], &byte, 1) < 0)
        bench_die("peer-zmq: the REP process did not start");
    close(ready[0]);
    ctx = zmq_ctx_new();
    req = zmq_socket(ctx, ZMQ_REQ);
    if (req == NULL || zmq_connect(req, endpoint) != 0)
        bench_die("zmq_connect: %s", zmq_strerror(zmq_errno()));
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    for (size_t i = 0; i < warm + n; i++) {
        int64_t t0 = bench_now_ns();
        uint64_t seq = i, back;

        memcpy(msg, &seq, sizeof seq);
        if (zmq_send(req, msg, payload, 0) < 0
            || zmq_recv(req, in, payload, 0) != (int) payload)
            bench_die("peer-zmq: %s", zmq_strerror(zmq_errno()));
        if (i >= warm)
            lat[i - warm] = bench_now_ns() - t0;
        memcpy(&back, in, sizeof back);
        if (back != seq)
            bench_die("peer-zmq: wrong reply");
    }
    if (zmq_send(req, msg, 0, 0) < 0 || zmq_recv(req, in, payload, 0) != 0)
        bench_die("peer-zmq: %s", zmq_strerror(zmq_errno()));
    zmq_close(req);
    zmq_ctx_term(ctx);
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
