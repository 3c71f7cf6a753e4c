/*
 * The quick start demo: calc.idl served by one process and called by
 * another, through the typed code idlc generates (calc.epy.h).
 *
 * The parent forks a server child; the two are joined by a socketpair.
 * The parent makes typed calls, an asynchronous call, sends an event
 * and receives one back, catches a typed error, and calls a method the
 * server leaves unhandled. Exits 0 when every answer is the expected one.
 *
 * With --serve ADDRESS ("unix:/tmp/calc.sock", "tcp:127.0.0.1:7000",
 * "systemd:" under socket activation) it is only the server, for any
 * client: try it with epyctl (README, "From the shell").
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calc-handlers.h"

static int failures;

#define EXPECT(cond, ...)                                                \
    do {                                                                 \
        if (!(cond)) {                                                   \
            printf("  unexpected: " __VA_ARGS__);                        \
            printf("\n");                                                \
            failures++;                                                  \
        }                                                                \
    } while (0)

/* Waits for @sem up to @ms milliseconds; 0 or -1. */
static int
sem_wait_ms(sem_t *sem, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long) (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (sem_timedwait(sem, &ts) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

/* --- the server (child process) ------------------------------------------ */

typedef struct server {
    epy_peer *peer;
    sem_t gone;
} server;

/* An event from the client: answer with an event of our own. */
static int
srv_tick(epy_call *call, uint64_t n, void *ctx)
{
    calc_api *api = NULL;

    (void) ctx;
    printf("server: tick %llu received; sending tick %llu back\n",
           (unsigned long long) n, (unsigned long long) n + 1);
    fflush(stdout);
    if (calc_api_open(epy_call_peer(call), &api, NULL) == 0) {
        calc_tick_send(api, n + 1, NULL);
        calc_api_close(api);
    }
    return 0;
}

static void
srv_disconnected(epy_peer *peer, int reason, void *ctx)
{
    server *s = ctx;

    (void) peer;
    (void) reason;
    sem_post(&s->gone);
}

/* reset is left unhandled: the listener answers EPY_EUNSUPPORTED. */
static const calc_handlers calc_table = {
    .add = example_calc_add, .div = example_calc_div, .echo = example_calc_echo, .tick = srv_tick
};
static const calc_stats_handlers stats_table = {
    example_calc_centroid, example_calc_mean, example_calc_histogram
};

/*
 * demo --serve ADDR: the same handlers as a server at @addr for any
 * number of clients (`epyctl` among them: introspection is on, and the
 * server's own user may monitor it), until SIGINT or SIGTERM.
 */
static int
serve_at(const char *addr)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);     /* before any thread */
    cfg.peer.interfaces = &calc_interface;
    cfg.peer.n_interfaces = 1;
    cfg.monitor = EPY_MONITOR_OWNER;
    if (epy_server_new(addr, &cfg, &srv, &err) < 0
        || calc_serve_server(srv, &calc_table, NULL) < 0
        || calc_stats_serve_server(srv, &stats_table, NULL) < 0) {
        fprintf(stderr, "demo: %s: %s\n", addr,
                err.message != NULL ? err.message : "cannot serve");
        epy_error_clear(&err);
        return 1;
    }
    printf("demo: serving calc on %s until interrupted\n",
           epy_server_url(srv));
    sigwait(&set, &sig);
    epy_server_close(srv);
    return 0;
}

static int
run_server(epy_link *link)
{
    epy_listener listener = { NULL, NULL, srv_disconnected };
    server s;

    sem_init(&s.gone, 0, 0);
    if (epy_link_peer(link, EPY_LINK_NECK, NULL, &s.peer, NULL) < 0)
        return 1;
    epy_peer_set_listener(s.peer, &listener, &s);
    if (calc_serve(s.peer, &calc_table, &s) < 0
        || calc_stats_serve(s.peer, &stats_table, &s) < 0)
        return 1;
    while (sem_wait(&s.gone) < 0)
        ;
    calc_unserve(s.peer);
    calc_stats_unserve(s.peer);
    epy_peer_close(s.peer);
    sem_destroy(&s.gone);
    return 0;
}

/* --- the client (parent process) ---------------------------------------------- */

static sem_t tick_back;
static uint64_t tick_value;

static int
cli_tick(epy_call *call, uint64_t n, void *ctx)
{
    (void) call;
    (void) ctx;
    tick_value = n;
    sem_post(&tick_back);
    return 0;
}

static sem_t cb_done;
static int cb_rc;
static int64_t cb_sum;

static void
add_done(int rc, int64_t *result, const epy_error *err, void *ctx)
{
    (void) err;
    (void) ctx;
    cb_rc = rc;
    cb_sum = rc == 0 ? *result : 0;
    sem_post(&cb_done);
}

static void
run_client(epy_peer *peer)
{
    static const calc_handlers client_table = { .tick = cli_tick };
    epy_error err = EPY_ERROR_INIT;
    calc_api *calc = NULL;
    calc_stats_api *stats = NULL;
    epy_async *async = NULL;
    int64_t sum = 0;
    double q = 0;
    int rc;

    sem_init(&tick_back, 0, 0);
    sem_init(&cb_done, 0, 0);
    /* Both ends are peers: the client serves calc.tick for the server. */
    calc_serve(peer, &client_table, NULL);
    if (calc_api_open(peer, &calc, &err) < 0
        || calc_stats_api_child(calc, &stats, &err) < 0) {
        printf("client: cannot open the apis: %s\n", err.message);
        failures++;
        return;
    }

    /* The server registers its tables method by method just after its
     * peer starts: until the last one (calc.stats.histogram) is in, calls
     * may find a namespace unknown or a method unsupported. */
    for (int i = 0; i < 5000; i++) {
        epy_string_list none = { 0, NULL };
        epy_int64_string_map hist = { 0, NULL };

        rc = calc_stats_histogram(stats, &none, &hist, NULL);
        if (rc != EPY_EUNKNOWN && rc != EPY_EUNSUPPORTED)
            break;
        usleep(1000);
    }
    rc = calc_add(calc, 2, 3, &sum, &err);
    printf("client: calc.add(2, 3) = %lld\n", (long long) sum);
    EXPECT(rc == 0 && sum == 5, "add: %s", epy_strerror(rc));

    rc = calc_div(calc, 7, 2, CALC_ROUNDING_DOWN, &q, &err);
    printf("client: calc.div(7, 2, DOWN) = %g\n", q);
    EXPECT(rc == 0 && q == 3, "div: %s", epy_strerror(rc));

    {
        uint8_t raw[] = { 'e', 0, 'p', 0xff, 'y' };
        epy_bytes in = { raw, sizeof raw }, out = { NULL, 0 };

        rc = calc_echo(calc, &in, &out, &err);
        printf("client: calc.echo(5 bytes, a NUL among them) = %zu bytes back\n",
               out.len);
        EXPECT(rc == 0 && out.len == sizeof raw
               && memcmp(out.data, raw, sizeof raw) == 0, "echo");
        epy_bytes_clear(&out);
    }
    {
        double xs[] = { 1, 2, 3, 4 };
        epy_double_list list = { 4, xs };
        epy_double_opt mean = { false, 0 };

        rc = calc_stats_mean(stats, &list, &mean, &err);
        printf("client: calc.stats.mean([1, 2, 3, 4]) = %g\n", mean.value);
        EXPECT(rc == 0 && mean.has && mean.value == 2.5, "mean");
        list.n = 0;
        rc = calc_stats_mean(stats, &list, &mean, &err);
        printf("client: calc.stats.mean([]) = %s\n",
               mean.has ? "a value" : "(absent)");
        EXPECT(rc == 0 && !mean.has, "mean of nothing");
    }
    {
        char *words[] = { (char *) "to", (char *) "be", (char *) "or",
                          (char *) "not", (char *) "to", (char *) "be" };
        epy_string_list list = { 6, words };
        epy_int64_string_map hist = { 0, NULL };

        rc = calc_stats_histogram(stats, &list, &hist, &err);
        printf("client: calc.stats.histogram(to be or not to be) =");
        for (size_t i = 0; i < hist.n; i++)
            printf(" %s:%lld", hist.items[i].key,
                   (long long) hist.items[i].value);
        printf("\n");
        EXPECT(rc == 0 && hist.n == 4, "histogram");
        epy_int64_string_map_clear(&hist);
    }

    /* Asynchronous: a handle polled with a wait, then a typed callback. */
    rc = calc_add_async(calc, 40, 2, NULL, &async, &err);
    if (rc == 0)
        rc = epy_async_wait(async, 5000);
    if (rc == 0)
        rc = calc_add_result(async, &sum, &err);
    printf("client: calc.add_async(40, 2) = %lld\n", (long long) sum);
    EXPECT(rc == 0 && sum == 42, "add async: %s", epy_strerror(rc));
    async = epy_async_release(async);
    rc = calc_add_async_cb(calc, 20, 22, NULL, add_done, NULL, &err);
    EXPECT(rc == 0 && sem_wait_ms(&cb_done, 5000) == 0 && cb_rc == 0
           && cb_sum == 42, "add with a callback");
    printf("client: calc.add_async_cb(20, 22) called back with %lld\n",
           (long long) cb_sum);

    /* Events, one each way. */
    rc = calc_tick_send(calc, 41, &err);
    printf("client: sent tick 41\n");
    EXPECT(rc == 0 && sem_wait_ms(&tick_back, 5000) == 0
           && tick_value == 42, "no tick came back");
    printf("client: tick %llu received from the server\n",
           (unsigned long long) tick_value);

    /* A typed error. */
    rc = calc_div(calc, 1, 0, CALC_ROUNDING_NEAREST, &q, &err);
    {
        calc_divide_by_zero e;

        if (calc_divide_by_zero_get(&err, &e) == 0) {
            printf("client: calc.div(1, 0) failed: %s (%s: detail \"%s\", "
                   "numerator %lld)\n", epy_status_name(rc), err.type,
                   e.detail, (long long) e.numerator);
            calc_divide_by_zero_clear(&e);
        } else {
            printf("client: calc.div(1, 0) failed: %s\n",
                   epy_status_name(rc));
            failures++;
        }
    }
    EXPECT(rc == EPY_EFAILED, "div by zero: %s", epy_strerror(rc));
    epy_error_clear(&err);

    /* A method the server does not handle. */
    rc = calc_reset(calc, &err);
    printf("client: calc.reset() failed: %s: %s\n", epy_status_name(rc),
           err.message != NULL ? err.message : "");
    EXPECT(rc == EPY_EUNSUPPORTED, "reset: %s", epy_strerror(rc));
    epy_error_clear(&err);

    calc_stats_api_close(stats);
    calc_api_close(calc);
    calc_unserve(peer);
    sem_destroy(&tick_back);
    sem_destroy(&cb_done);
}

int
main(int argc, char **argv)
{
    epy_link link = EPY_LINK_INIT;
    epy_peer *peer = NULL;
    epy_error err = EPY_ERROR_INIT;
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    int status;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "--serve") == 0)
        return serve_at(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: demo [--serve ADDRESS]\n");
        return 64;
    }
    printf("epyrpc %s demo: calc.idl, a server process and a client "
           "process\n", epy_version());
    cfg.interfaces = &calc_interface;
    cfg.n_interfaces = 1;
    if (epy_link_open(&link, &err) < 0) {
        fprintf(stderr, "demo: %s\n", err.message);
        return 1;
    }
    child = fork();
    if (child < 0)
        return 1;
    if (child == 0)
        _exit(run_server(&link));
    if (epy_link_peer(&link, EPY_LINK_HEAD, &cfg, &peer, &err) < 0
        || epy_peer_wait_ready(peer, 5000, &err) < 0) {
        fprintf(stderr, "demo: %s\n", err.message);
        return 1;
    }
    run_client(peer);
    epy_peer_close(peer);
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0) {
        printf("the server failed\n");
        failures++;
    }
    printf("%s\n", failures == 0 ? "demo: ok" : "demo: FAILED");
    return failures == 0 ? 0 : 1;
}
