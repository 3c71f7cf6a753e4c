/*
 * The server, client and pcap reader of tests/check-epyctl.sh.
 *
 *   test-server serve ADDR        serve calc.idl and alltypes.idl at ADDR
 *                                 (and describe fdt, which passes fds),
 *                                 monitoring allowed, until SIGINT/SIGTERM
 *   test-server burst ADDR N      make N calls calc.add(i, 1000), i = 0..N-1
 *   test-server pcap FILE         check a pcap file of epyctl monitor and
 *                                 print one line per packet:
 *                                 "DIRECTION CLIENT INCL_LEN ORIG_LEN"
 */
#include <config.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alltypes-handlers.h"
#include "calc-handlers.h"

/* --- calc ------------------------------------------------------------------- */

static int
srv_tick(epy_call *call, uint64_t n, void *ctx)
{
    (void) call;
    (void) n;
    (void) ctx;
    return 0;
}

/* reset is left unhandled: its calls fail with EPY_EUNSUPPORTED. */
static const calc_handlers calc_table = {
    .add = example_calc_add, .div = example_calc_div, .echo = example_calc_echo, .tick = srv_tick
};
static const calc_stats_handlers stats_table = {
    example_calc_centroid, example_calc_mean, example_calc_histogram
};

/* --- alltypes: every argument comes back as it came ------------------------ */

static int
echo_generics(epy_call *call, const alltypes_generics *v,
              alltypes_generics *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    return alltypes_generics_copy(ret, v);
}

static const alltypes_handlers alltypes_table = {
    example_echo_scalars, echo_generics, example_echo_tree,
    example_count_nodes, example_check
};

/*
 * --- fdt: an interface passing file descriptors, described only (no
 * handlers: epyctl refuses to call it). --------------------------------
 */

static const char *const fdt_text[] = {
    "namespace fdt\n",
    "struct fdt.sink out:fd=1 name:string=2\n",
    "method fdt.open( path:string=1 ) -> fd\n",
    "method fdt.attach( sinks:list<fdt.sink>=1 n:int32=2 ) -> void\n",
    "method fdt.spare( ) -> optional<fdt.sink>\n",
    "event fdt.handed( f:optional<fd>=1 )\n",
    NULL
};
static const epy_interface fdt_interface = {
    "fdt", "00000000000000000000000000000000", fdt_text
};

static int
serve(const char *addr)
{
    static epy_interface ifaces[3];
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);     /* before any thread */
    ifaces[0] = calc_interface;
    ifaces[1] = alltypes_interface;
    ifaces[2] = fdt_interface;
    cfg.peer.interfaces = ifaces;
    cfg.peer.n_interfaces = 3;
    cfg.peer.start_paused = true;
    cfg.monitor = EPY_MONITOR_OWNER;
    if (epy_server_new(addr, &cfg, &srv, &err) < 0
        || calc_serve_server(srv, &calc_table, NULL) < 0
        || calc_stats_serve_server(srv, &stats_table, NULL) < 0
        || alltypes_serve_server(srv, &alltypes_table, NULL) < 0
        || epy_server_start(srv) < 0) {
        fprintf(stderr, "test-server: %s: %s\n", addr,
                err.message != NULL ? err.message : "cannot serve");
        epy_error_clear(&err);
        return 1;
    }
    printf("serving %s\n", epy_server_url(srv));
    fflush(stdout);
    sigwait(&set, &sig);
    epy_server_close(srv);
    return 0;
}

/* --- another client ------------------------------------------------------------ */

static int
burst(const char *addr, long n)
{
    epy_peer *peer = NULL;
    calc_api *api = NULL;
    epy_error err = EPY_ERROR_INIT;

    if (epy_connect(addr, NULL, 5000, &peer, &err) < 0
        || calc_api_open(peer, &api, &err) < 0) {
        fprintf(stderr, "test-server: burst: %s\n", err.message);
        return 1;
    }
    for (long i = 0; i < n; i++) {
        int64_t sum;

        if (calc_add(api, i, 1000, &sum, &err) < 0 || sum != i + 1000) {
            fprintf(stderr, "test-server: burst: call %ld: %s\n", i,
                    err.message != NULL ? err.message : "wrong sum");
            return 1;
        }
    }
    calc_api_close(api);
    epy_peer_close(peer);
    return 0;
}

/* --- the pcap reader -------------------------------------------------------------- */

static uint64_t
le(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int
read_pcap(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char h[24], r[16];
    uint64_t snaplen;
    long n = 0;

    if (f == NULL || fread(h, sizeof h, 1, f) != 1) {
        fprintf(stderr, "test-server: %s: no pcap header\n", path);
        return 1;
    }
    if (le(h, 4) != 0xa1b2c3d4u || le(h + 4, 2) != 2 || le(h + 6, 2) != 4
        || le(h + 20, 4) != 147) {
        fprintf(stderr, "test-server: %s: not a pcap file of LINKTYPE_USER0 "
                "(magic %llx, version %u.%u, link type %u)\n", path,
                (unsigned long long) le(h, 4), (unsigned) le(h + 4, 2),
                (unsigned) le(h + 6, 2), (unsigned) le(h + 20, 4));
        return 1;
    }
    snaplen = le(h + 16, 4);
    while (fread(r, sizeof r, 1, f) == 1) {
        uint64_t incl = le(r + 8, 4), orig = le(r + 12, 4);
        unsigned char *p;

        if (incl < 12 || incl > snaplen || incl > orig || le(r + 4, 4) >= 1000000) {
            fprintf(stderr, "test-server: %s: packet %ld: bad header\n", path,
                    n);
            return 1;
        }
        p = malloc(incl);
        if (p == NULL || fread(p, incl, 1, f) != 1) {
            fprintf(stderr, "test-server: %s: packet %ld: cut short\n", path,
                    n);
            return 1;
        }
        /* The frame: a 4-byte little-endian length, then the envelope. */
        if (p[0] > 1 || p[1] != 0 || p[2] != 0 || p[3] != 0
            || (incl >= 16 && le(p + 12, 4) + 4 != orig - 12)) {
            fprintf(stderr, "test-server: %s: packet %ld: bad contents\n",
                    path, n);
            return 1;
        }
        printf("%s %llu %llu %llu\n", p[0] == 0 ? "in" : "out",
               (unsigned long long) le(p + 4, 8), (unsigned long long) incl,
               (unsigned long long) orig);
        free(p);
        n++;
    }
    fclose(f);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2]);
    if (argc == 4 && strcmp(argv[1], "burst") == 0)
        return burst(argv[2], atol(argv[3]));
    if (argc == 3 && strcmp(argv[1], "pcap") == 0)
        return read_pcap(argv[2]);
    fputs("usage: test-server serve ADDR | burst ADDR N | pcap FILE\n", stderr);
    return 64;
}
