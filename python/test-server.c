/*
 * The C server the Python peer's test talks to: calc.idl served on a
 * unix socket, through the code idlc generates.
 *
 *   test-server PATH     serve unix:PATH until SIGTERM or SIGINT
 *
 * Prints "ready calc=FINGERPRINT" once clients may connect. Beyond the
 * plain arithmetic:
 *   calc.tick(n)        (an event) is answered with the event tick(n + 1)
 *   calc.reset()        calls the client back: calc.add(20, 22) must give
 *                       42, and calc.div(7, 0) must raise
 *                       calc.divide_by_zero { "from python", 7 }; answers
 *                       EPY_EFAILED with what differed otherwise
 *   calc.stats.mean(xs) with xs = [-S], sleeps S seconds first (a call
 *                       that hangs, to kill the server in the middle)
 * calc.stats.centroid and histogram are left unhandled (EPY_EUNSUPPORTED).
 * Payloads of 64 KiB or more go zlib-compressed to clients that accept it.
 */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calc-handlers.h"

static int
srv_tick(epy_call *call, uint64_t n, void *ctx)
{
    (void) ctx;
    return calc_tick_post(epy_call_peer(call), n + 1, NULL);
}

/* Fails @call with EPY_EFAILED and @why. */
static int
refuse(epy_call *call, const char *why)
{
    epy_call_fail(call, EPY_EFAILED, NULL, why, NULL, 0);
    return EPY_GEN_ANSWERED;
}

static int
srv_reset(epy_call *call, void *ctx)
{
    calc_api *api = NULL;
    epy_error err = EPY_ERROR_INIT;
    calc_divide_by_zero e = { NULL, 0 };
    char why[512];
    int64_t sum = 0;
    double q = 0;
    int rc;

    (void) ctx;
    if (calc_api_open(epy_call_peer(call), &api, &err) < 0) {
        snprintf(why, sizeof why, "calc_api_open: %s", err.message);
        epy_error_clear(&err);
        return refuse(call, why);
    }
    rc = calc_add(api, 20, 22, &sum, &err);
    if (rc < 0 || sum != 42) {
        snprintf(why, sizeof why, "the client's calc.add(20, 22): %s %lld",
                 rc < 0 ? err.message : "answered", (long long) sum);
        goto fail;
    }
    rc = calc_div(api, 7, 0, CALC_ROUNDING_NEAREST, &q, &err);
    if (rc != EPY_EFAILED || calc_divide_by_zero_get(&err, &e) != 0
        || e.numerator != 7 || e.detail == NULL
        || strcmp(e.detail, "from python") != 0) {
        snprintf(why, sizeof why, "the client's calc.div(7, 0): %s (%s), "
                 "%s, numerator %lld", epy_status_name(rc),
                 err.message != NULL ? err.message : "no message",
                 err.type != NULL ? err.type : "no type",
                 (long long) e.numerator);
        goto fail;
    }
    calc_divide_by_zero_clear(&e);
    epy_error_clear(&err);
    calc_api_close(api);
    return 0;

fail:
    calc_divide_by_zero_clear(&e);
    epy_error_clear(&err);
    calc_api_close(api);
    return refuse(call, why);
}

static int
srv_mean(epy_call *call, const epy_double_list *xs, epy_double_opt *ret,
         void *ctx)
{
    double sum = 0;

    (void) call;
    (void) ctx;
    if (xs->n == 1 && xs->items[0] < 0)
        sleep((unsigned) -xs->items[0]);
    for (size_t i = 0; i < xs->n; i++)
        sum += xs->items[i];
    ret->has = xs->n > 0;
    ret->value = xs->n > 0 ? sum / (double) xs->n : 0;
    return 0;
}

static void
log_line(epy_peer *peer, epy_log_level level, const char *message,
         void *ctx)
{
    (void) peer;
    (void) ctx;
    if (level <= EPY_LOG_INFO)
        fprintf(stderr, "test-server: %s\n", message);
}

int
main(int argc, char **argv)
{
    static const calc_handlers calc_table = {
        .add = example_calc_add, .div = example_calc_div, .reset = srv_reset,
        .echo = example_calc_echo, .tick = srv_tick
    };
    static const calc_stats_handlers stats_table = { .mean = srv_mean };
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;
    char url[4096];
    sigset_t set;
    int sig;

    if (argc != 2) {
        fprintf(stderr, "usage: test-server PATH\n");
        return 2;
    }
    snprintf(url, sizeof url, "unix:%s", argv[1]);
    /* Blocked in every thread the server starts: sigwait() takes them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    cfg.peer.start_paused = true;
    cfg.peer.interfaces = &calc_interface;
    cfg.peer.n_interfaces = 1;
    cfg.peer.log = log_line;
    cfg.peer.compress_threshold = 65536;    /* to clients that inflate */
    if (epy_server_new(url, &cfg, &srv, &err) < 0
        || calc_serve_server(srv, &calc_table, NULL) < 0
        || calc_stats_serve_server(srv, &stats_table, NULL) < 0
        || epy_server_start(srv) < 0) {
        fprintf(stderr, "test-server: %s\n",
                err.message != NULL ? err.message : "cannot serve");
        return 1;
    }
    printf("ready calc=%s\n", calc_interface.fingerprint);
    fflush(stdout);
    sigwait(&set, &sig);
    srv = epy_server_close(srv);
    return 0;
}
