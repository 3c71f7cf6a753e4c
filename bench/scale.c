/*
 * bench/scale: what clients cost a server. One server process (forked,
 * the public API only) serves t.echo; this process connects N raw
 * clients at once (each sends a hello, makes one call and checks that
 * it gets its own answer, then stays idle), and one epyrpc client that
 * makes synchronous calls. Reported, for a unix socket and for TCP on
 * 127.0.0.1:
 *   - the server's threads with no idle client and with N;
 *   - the server's anonymous RSS per idle client;
 *   - p50 and p99 of the active client's calls with N idle clients,
 *     then with a slow-loris and a never-reading client among them,
 *     each divided by the same with none. Conditions alternate in
 *     rounds, so that drift cancels.
 * `make scale` runs it (SCALE_FLAGS='--clients=2000' for a smaller run).
 * Never part of `make check` (tests/check_scale.c is its small brother).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

#include "attack.h"
#include "bench.h"

/* attack-wire.c's globals, unused here but declared in attack.h. */
shared *shm;
char sock_dir[64];
int sock_seq;

static int nclients = 10000;
static int rounds = 3;
static int calls_per_round = 4000;

/* --- the server process ----------------------------------------------- */

static int
h_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

/* Serves @url until killed; writes its URL to @out once listening. */
static void
server_child(const char *url, int out)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;

    alarm(0);           /* child_run()'s: it serves as long as the bench runs */
    cfg.max_clients = nclients + 64;
    cfg.max_clients_per_uid = nclients + 64;
    cfg.backlog = 4096;
    if (epy_server_new(url, &cfg, &srv, &err) < 0
        || epy_server_handle(srv, "t.echo", h_echo, NULL, &err) < 0) {
        emit(out, "error %s\n", err.message ? err.message : "?");
        _exit(1);
    }
    emit(out, "%s\n", epy_server_url(srv));
    for (;;)
        pause();
}

/* --- raw clients --------------------------------------------------------- */

/* Connects to @url (unix:PATH or tcp:HOST:PORT); -1 on failure. */
static int
raw_connect(const char *url)
{
    if (strncmp(url, "unix:", 5) == 0) {
        conn c;

        return conn_open(&c, url + 5) ? c.fd : -1;
    } else {
        char host[64];
        int port, fd, one = 1;
        struct sockaddr_in sin;
        const char *colon = strrchr(url + 4, ':');

        if (colon == NULL || (size_t) (colon - (url + 4)) >= sizeof host)
            return -1;
        memcpy(host, url + 4, (size_t) (colon - (url + 4)));
        host[colon - (url + 4)] = '\0';
        port = atoi(colon + 1);
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t) port);
        inet_pton(AF_INET, host, &sin.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *) &sin, sizeof sin) < 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
}

/*
 * Connects @n clients, each sending a hello and one call whose answer it
 * checks (its own txn id). Returns how many got their own answer.
 */
static int
connect_idle(const char *url, conn *cs, int n)
{
    wbuf hello = { 0 }, call = { 0 };
    int ok = 0;

    frame_hello(&hello, 0, false);
    for (int i = 0; i < n; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i].fd = raw_connect(url);
        if (cs[i].fd < 0) {
            fprintf(stderr, "scale: connect %d: %s\n", i, strerror(errno));
            cs[i].closed = true;
            continue;
        }
        call.len = 0;
        frame_call_str(&call, (uint64_t) i + 1, "t.echo", "x", 1);
        if (!conn_send(&cs[i], &hello) || !conn_send(&cs[i], &call))
            fprintf(stderr, "scale: send %d failed\n", i);
    }
    for (int i = 0; i < n; i++) {
        int code = 0;

        if (!cs[i].closed
            && conn_answer(&cs[i], (uint64_t) i + 1, now_s() + 30, &code)
                   == K_REPLY)
            ok++;
        /* The hello and the answer are read: the client is idle now. */
        free(cs[i].buf);
        cs[i].buf = NULL;
        cs[i].len = cs[i].cap = 0;
    }
    free(hello.p);
    free(call.p);
    return ok;
}

static void
close_all(conn *cs, int n)
{
    for (int i = 0; i < n; i++)
        conn_close(&cs[i]);
}

/* --- misbehaving clients ------------------------------------------------ */

typedef struct bad {
    const char *url;
    atomic_bool stop;
    pthread_t loris, deaf;
} bad;

/* Sends a call's bytes one at a time, one every 100 ms. */
static void *
loris_main(void *arg)
{
    bad *b = arg;
    wbuf hello = { 0 }, call = { 0 };
    conn c = { .fd = raw_connect(b->url) };
    size_t off = 0;

    frame_hello(&hello, 0, false);
    frame_call_str(&call, 1, "t.echo", "slow", 4);
    conn_send(&c, &hello);
    while (!atomic_load(&b->stop) && c.fd >= 0) {
        if (send(c.fd, call.p + off, 1, MSG_NOSIGNAL) != 1)
            break;
        off = (off + 1) % call.len;
        sleep_s(0.1);
    }
    if (c.fd >= 0)
        close(c.fd);
    free(hello.p);
    free(call.p);
    return NULL;
}

/* Sends calls as fast as the socket takes them and never reads. */
static void *
deaf_main(void *arg)
{
    bad *b = arg;
    wbuf hello = { 0 }, call = { 0 };
    conn c = { .fd = raw_connect(b->url) };
    uint64_t txn = 1;

    frame_hello(&hello, 0, false);
    conn_send(&c, &hello);
    while (!atomic_load(&b->stop) && c.fd >= 0) {
        call.len = 0;
        frame_call_str(&call, txn++, "t.echo", "deaf", 4);
        if (send(c.fd, call.p, call.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            if (errno != EAGAIN)
                break;  /* dropped by the server */
            sleep_s(0.001);
        }
    }
    if (c.fd >= 0)
        close(c.fd);
    free(hello.p);
    free(call.p);
    return NULL;
}

/* --- the active client --------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

/* Makes @n sync calls; their p50 and p99 in microseconds. */
static void
measure(epy_api *api, int n, double *p50, double *p99)
{
    double *lat = malloc((size_t) n * sizeof *lat);

    for (int i = 0; i < n; i++) {
        epy_buf out = EPY_BUF_INIT;
        double t0 = now_s();
        int rc = epy_api_call(api, "echo", "ping", 4, NULL, &out, NULL);

        lat[i] = (now_s() - t0) * 1e6;
        if (rc != 0 || out.len != 4) {
            fprintf(stderr, "scale: active call failed: %s\n",
                    epy_status_name(rc));
            exit(1);
        }
        epy_buf_clear(&out);
    }
    qsort(lat, (size_t) n, sizeof *lat, cmp_double);
    *p50 = lat[n / 2];
    *p99 = lat[n * 99 / 100];
    free(lat);
}

/* --- one transport -------------------------------------------------------- */

static void
run(const char *label, const char *listen_url)
{
    char url[128];
    int out;
    pid_t pid = child_run(server_child, listen_url, &out);
    conn *cs = calloc((size_t) nclients, sizeof *cs);
    double p50[3][8], p99[3][8];
    int th0 = 0, thn = 0, answered = 0;
    long rss0 = 0, rssn = 0;
    epy_peer *peer;
    epy_api *api;
    epy_error err = EPY_ERROR_INIT;

    if (!read_line(out, now_s() + 10, url, sizeof url)
        || strncmp(url, "error", 5) == 0) {
        fprintf(stderr, "scale: the server did not start: %s\n", url);
        exit(1);
    }
    if (epy_connect(url, NULL, 5000, &peer, &err) < 0
        || epy_api_open(peer, "t", &api, &err) < 0) {
        fprintf(stderr, "scale: %s\n", err.message);
        exit(1);
    }
    measure(api, 500, &p50[0][0], &p99[0][0]);     /* warm up */
    for (int r = 0; r < rounds; r++) {
        bad b = { .url = url };
        int ok;

        measure(api, calls_per_round, &p50[0][r], &p99[0][r]);
        if (r == 0) {
            /* Later rounds reuse the heap the first one grew. */
            th0 = proc_threads(pid);
            rss0 = bench_rss_anon_kib(pid);
        }
        ok = connect_idle(url, cs, nclients);
        answered = r == 0 || ok < answered ? ok : answered;
        sleep_s(0.5);   /* settle: RSS and threads after the burst */
        if (r == 0) {
            thn = proc_threads(pid);
            rssn = bench_rss_anon_kib(pid);
        }
        measure(api, calls_per_round, &p50[1][r], &p99[1][r]);
        atomic_init(&b.stop, false);
        pthread_create(&b.loris, NULL, loris_main, &b);
        pthread_create(&b.deaf, NULL, deaf_main, &b);
        sleep_s(0.5);   /* the never-reading client fills its socket */
        measure(api, calls_per_round, &p50[2][r], &p99[2][r]);
        atomic_store(&b.stop, true);
        pthread_join(b.loris, NULL);
        pthread_join(b.deaf, NULL);
        close_all(cs, nclients);
        /* The server closes them (closer threads): back to its threads. */
        for (double end = now_s() + 20; proc_threads(pid) > th0
                                        && now_s() < end;)
            sleep_s(0.05);
        sleep_s(3.0);   /* and the kernel its closed connections */
    }
    printf("%-5s clients=%d answered=%d  threads idle0=%d idleN=%d  "
           "rss/client=%.1fKiB\n", label, nclients, answered, th0, thn,
           (double) (rssn - rss0) / nclients);
    {
        size_t n = (size_t) rounds;
        double a50 = bench_median(p50[0], n), a99 = bench_median(p99[0], n);
        double b50 = bench_median(p50[1], n), b99 = bench_median(p99[1], n);
        double c50 = bench_median(p50[2], n), c99 = bench_median(p99[2], n);

        printf("%-5s p50 us: none %.1f  idle %.1f (%.2fx)  +loris+deaf %.1f "
               "(%.2fx)\n", label, a50, b50, b50 / a50, c50, c50 / a50);
        printf("%-5s p99 us: none %.1f  idle %.1f (%.2fx)  +loris+deaf %.1f "
               "(%.2fx)\n", label, a99, b99, b99 / a99, c99, c99 / a99);
    }
    fflush(stdout);
    epy_api_close(api);
    epy_peer_close(peer);
    kill_wait(pid);
    close(out);
    free(cs);
}

int
main(int argc, char **argv)
{
    struct rlimit rl;
    char dir[] = "/tmp/epy-scale-XXXXXX", url[128];

    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--clients=", 10) == 0)
            nclients = atoi(argv[i] + 10);
        else if (strncmp(argv[i], "--calls=", 8) == 0)
            calls_per_round = atoi(argv[i] + 8);
        else {
            fprintf(stderr, "usage: scale [--clients=N] [--calls=N]\n");
            return 2;
        }
    }
    if (nclients < 1 || calls_per_round < 100)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t) nclients + 256) {
            fprintf(stderr, "scale: RLIMIT_NOFILE %lu is too low for %d "
                    "clients\n", (unsigned long) rl.rlim_cur, nclients);
            return 1;
        }
    }
    if (mkdtemp(dir) == NULL)
        die("mkdtemp");
    snprintf(url, sizeof url, "unix:%s/s.sock", dir);
    run("unix", url);
    run("tcp", "tcp:127.0.0.1:0");
    unlink(url + 5);
    rmdir(dir);
    return 0;
}
