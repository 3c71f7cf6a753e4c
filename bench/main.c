/*
 * `make bench`: runs every measurement, prints one table and writes
 * bench/results.csv (metric,value,unit,baseline,ratio).
 *
 * Measurements come in groups: a raw baseline and the epyrpc figures
 * compared with it (the "sides"). Each side runs 3 times and each
 * figure is the median of its runs. Runs are interleaved: each round
 * runs every side once, A B C A B C A B C, so that the machine's drift
 * over time reaches every side alike. Every run is a fresh child
 * process (it forks the other end itself), so that none inherits the
 * heap, threads or CPU placement of another. The ratio is the median
 * of the value divided by the median of its baseline. Beside each
 * figure: CPU time and context switches per call, of every process
 * taking part.
 *
 * Usage: bench [--quick] [--csv=FILE] [--only=GROUP,...] [--runs=N]
 *              [--idlc=PATH] [--protoc-c=PATH] [--zmq=PATH] [--nng=PATH]
 *              [--no-zmq=WHY] [--no-nng=WHY]
 * Groups: rtt rate 64k events inproc threads memory shm big idlc peers
 * (shm: shared memory offered on both ends; big: 16 MiB echoes, bytes
 * and a memfd passed as an `fd`, and memory per echo).
 * --quick runs ten times fewer calls (the pending-call count and the
 * idlc input stay as they are) and 4 big echoes (twice) instead of 16.
 * The peers' rows need --zmq and --nng: the paths of bench/peer-zmq and
 * bench/peer-nng, built by `make bench` when their libraries are there.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int64_t start_ns;

/* --- the peers (programs built only when their libraries are there) ------ */

typedef struct peer_prog {
    const char *name;           /* "zmq" */
    const char *path;           /* NULL: not built */
    const char *why;            /* why not */
    bool failed;
} peer_prog;

/* Runs @p once: `PATH WARM N PAYLOAD` prints "P50 P99 CPU CSW". */
static void
peer_run(peer_prog *p, size_t warm, size_t n, size_t payload, bench_sample *s)
{
    char a1[32], a2[32], a3[32], out[256];
    size_t len = 0;
    int fd[2], status;
    pid_t pid;
    ssize_t r;

    snprintf(a1, sizeof a1, "%zu", warm);
    snprintf(a2, sizeof a2, "%zu", n);
    snprintf(a3, sizeof a3, "%zu", payload);
    if (pipe(fd) < 0)
        bench_die("pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 1);
        execl(p->path, p->path, a1, a2, a3, (char *) NULL);
        fprintf(stderr, "bench: %s: %s\n", p->path, strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    while (len < sizeof out - 1
           && ((r = read(fd[0], out + len, sizeof out - 1 - len)) > 0
               || (r < 0 && errno == EINTR)))
        len += r > 0 ? (size_t) r : 0;
    out[len] = '\0';
    close(fd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0
        || sscanf(out, "%lf %lf %lf %lf", &s->v[BENCH_P50],
                  &s->v[BENCH_P99], &s->cpu_us, &s->csw) != 4) {
        fprintf(stderr, "bench: %s failed (status 0x%x)\n", p->path, status);
        p->failed = true;
    }
}

/* --- the sides of a comparison, each run in a process of its own --------- */

typedef enum kind {
    RAW_PINGPONG, RAW_PIPELINED, RAW_ONEWAY, RAW_THREADED, RAW_THREAD_PP,
    EPY_SYNC, EPY_ASYNC_CB, EPY_ASYNC_SEM, EPY_ECHO, EPY_EVENTS, EPY_INPROC,
    EPY_THREADS, EPY_MEMORY, EPY_PENDING, RAW_BIG, EPY_BIG, PEER
} kind;

typedef struct side {
    const char *name;           /* in the progress lines */
    kind kind;
    size_t payload, window, warm, n, n2;
    int threads, pin;
    int mode;                   /* EPY_BIG: BIG_BYTES, ... */
    bool latency;
    bool shm;                   /* EPY_*: epy_set_shm(shm, spin_us) */
    int spin_us;
    size_t blob;                /* EPY_*: epy_set_blob_threshold() */
    peer_prog *peer;
    const char *unit;           /* of v[0], in the progress lines */
    bool off;                   /* not run: its group is not wanted */
    bench_sample s[BENCH_MAX_RUNS];
    bool skipped;
} side;

/* Runs @sd once; false if it cannot run here. In a child process. */
static bool
measure(const side *sd, bench_sample *s)
{
    epy_set_shm(sd->shm, sd->spin_us);
    epy_set_blob_threshold(sd->blob);
    switch (sd->kind) {
    case RAW_PINGPONG:
        return raw_pingpong(sd->payload, sd->pin, sd->warm, sd->n, s);
    case RAW_PIPELINED:
        raw_pipelined(sd->payload, sd->window, sd->warm, sd->n, s);
        break;
    case RAW_ONEWAY:
        raw_oneway(sd->payload, sd->warm, sd->n, s);
        break;
    case RAW_THREADED:
        raw_threaded(sd->payload, sd->threads, sd->warm, sd->n, sd->latency,
                     s);
        break;
    case RAW_THREAD_PP:
        raw_thread_pingpong(sd->payload, sd->warm, sd->n, s);
        break;
    case EPY_SYNC:
        epy_sync(sd->warm, sd->n, s);
        break;
    case EPY_ASYNC_CB:
        epy_async_callback(sd->window, sd->warm, sd->n, s);
        break;
    case EPY_ASYNC_SEM:
        epy_async_sem(sd->window, sd->warm, sd->n, s);
        break;
    case EPY_ECHO:
        epy_echo(sd->payload, sd->warm, sd->n, s);
        break;
    case EPY_EVENTS:
        epy_events(sd->warm, sd->n, s);
        break;
    case EPY_INPROC:
        epy_inproc(sd->warm, sd->n, s);
        break;
    case EPY_THREADS:
        epy_threads(sd->threads, sd->warm, sd->n, s);
        break;
    case EPY_MEMORY:
        epy_memory(sd->warm, sd->n, sd->n2, s);
        break;
    case EPY_PENDING:
        epy_pending(sd->n, s);
        break;
    case RAW_BIG:
        raw_big(sd->payload, sd->warm, sd->n, s);
        break;
    case EPY_BIG:
        return big_echo(sd->mode, sd->payload, sd->warm, sd->n, s);
    case PEER:
        break;
    }
    return true;
}

/*
 * Runs @sd once in a fresh child process, so that no run inherits the
 * heap, threads or CPU placement of another.
 */
static void
run_side(side *sd, int round)
{
    struct {
        bench_sample s;
        bool ran;
    } res;
    int fd[2];
    pid_t pid;

    if (sd->kind == PEER) {
        if (sd->peer->path != NULL && !sd->peer->failed)
            peer_run(sd->peer, sd->warm, sd->n, sd->payload, &sd->s[round]);
        sd->skipped = sd->peer->path == NULL || sd->peer->failed;
        return;
    }
    if (pipe(fd) < 0)
        bench_die("pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fd[0]);
        memset(&res, 0, sizeof res);
        res.ran = measure(sd, &res.s);
        if (bench_write_full(fd[1], &res, sizeof res) < 0)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    if (bench_read_full(fd[0], &res, sizeof res) < 0)
        bench_die("%s: the measuring process failed", sd->name);
    close(fd[0]);
    bench_wait_child(pid, NULL);
    sd->s[round] = res.s;
    sd->skipped = !res.ran;
}

/* Runs the sides of a group round by round: A B C, A B C, ... */
static void
run_group(const char *group, side *sides, size_t n)
{
    for (int r = 0; r < bench_runs; r++) {
        fprintf(stderr, "bench: %-7s round %d/%d (%3.0f s):", group, r + 1,
                bench_runs, (double) (bench_now_ns() - start_ns) / 1e9);
        for (size_t i = 0; i < n; i++) {
            side *sd = &sides[i];
            char v[32];

            if (sd->off)
                continue;
            run_side(sd, r);
            if (sd->skipped)
                fprintf(stderr, " [%s -]", sd->name);
            else
                fprintf(stderr, " [%s %s %s]", sd->name,
                        bench_num(v, sizeof v, sd->s[r].v[0]), sd->unit);
        }
        fputc('\n', stderr);
    }
}

/* --- idlc (its runs: idlc.c) --------------------------------------------- */

static void
bench_idlc(const char *idlc, const char *protoc)
{
    static const char *what = "idlc on 100 namespaces x 20 methods, "
                              "protoc-c included (wall)";
    bench_sample s[BENCH_MAX_RUNS];
    bench_row *r;

    if (idlc == NULL || access(idlc, X_OK) != 0) {
        bench_row_skip("idlc_2000_methods_s", "s", what, "idlc is not built");
        return;
    }
    bench_idlc_runs(idlc, protoc, bench_runs, start_ns, s);
    r = bench_row_add("idlc_2000_methods_s", "s", what);
    bench_row_value(r, bench_med(s, 0), -1);
    r = bench_row_add("idlc_2000_methods_cpu_s", "s",
                "idlc as above: CPU time of idlc and protoc-c");
    bench_row_value(r, bench_med(s, BENCH_MED_CPU), -1);
}

/* --- main ----------------------------------------------------------------- */

static const char *only;

static bool
want(const char *group)
{
    size_t len = strlen(group);

    for (const char *p = only; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");

        if (n == len && strncmp(p, group, len) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return only == NULL;
}

static const char *
opt(const char *arg, const char *name)
{
    size_t n = strlen(name);

    return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

/* A row comparing the median figure @idx of @val with that of @base. */
static void
compare(const char *metric, const char *unit, const char *what,
        const side *val, const side *base, int idx)
{
    bench_row *r;

    if (val->skipped) {
        bench_row_skip(metric, unit, what, "not possible here");
        return;
    }
    r = bench_row_add(metric, unit, what);
    bench_row_value(r, bench_med(val->s, idx),
                    bench_med(val->s, BENCH_MED_CPU));
    bench_row_csw(r, false, bench_med(val->s, BENCH_MED_CSW));
    if (base != NULL && !base->skipped) {
        bench_row_base(r, bench_med(base->s, idx),
                       bench_med(base->s, BENCH_MED_CPU));
        bench_row_csw(r, true, bench_med(base->s, BENCH_MED_CSW));
    }
}

#define NSIDES(a) (sizeof (a) / sizeof (a)[0])

int
main(int argc, char **argv)
{
    const char *csv = NULL, *idlc = NULL, *protoc = "", *v;
    peer_prog zmq = { "zmq", NULL, "libzmq3-dev is not installed", false };
    peer_prog nng = { "nng", NULL, "libnng-dev is not installed", false };
    bool quick = false;
    size_t div, p16, ptick;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if ((v = opt(argv[i], "--csv")) != NULL)
            csv = v;
        else if ((v = opt(argv[i], "--only")) != NULL)
            only = v;
        else if ((v = opt(argv[i], "--runs")) != NULL)
            bench_runs = atoi(v);
        else if ((v = opt(argv[i], "--idlc")) != NULL)
            idlc = v;
        else if ((v = opt(argv[i], "--protoc-c")) != NULL)
            protoc = v;
        else if ((v = opt(argv[i], "--zmq")) != NULL)
            zmq.path = v;
        else if ((v = opt(argv[i], "--nng")) != NULL)
            nng.path = v;
        else if ((v = opt(argv[i], "--no-zmq")) != NULL)
            zmq.why = v;
        else if ((v = opt(argv[i], "--no-nng")) != NULL)
            nng.why = v;
        else
            bench_die("unknown argument '%s' (see bench/main.c)", argv[i]);
    }
    if (bench_runs < 1 || bench_runs > BENCH_MAX_RUNS)
        bench_die("--runs: 1 to %d", BENCH_MAX_RUNS);
    start_ns = bench_now_ns();
    div = quick ? 10 : 1;
    /* The raw sides send messages of the size of epyrpc's payloads. */
    p16 = epy_add_args_size();
    ptick = epy_tick_args_size();
    if (p16 < 12 || ptick < 8)
        bench_die("unexpected message sizes %zu, %zu", p16, ptick);

    /* 16-byte round trips: raw (also pinned), raw threaded, epyrpc, peers. */
    if (want("rtt") || want("peers")) {
        size_t n = 200000 / div, w = n / 10;
        side all[] = {
            { .name = "raw", .kind = RAW_PINGPONG, .payload = p16,
              .pin = BENCH_PIN_NONE, .warm = w, .n = n, .unit = "us" },
            /* Where the scheduler put the processes, fixed: a quarter
             * of the round trips is plenty for these two. */
            { .name = "raw same CPU", .kind = RAW_PINGPONG, .payload = p16,
              .pin = BENCH_PIN_SAME, .warm = w / 4, .n = n / 4,
              .unit = "us" },
            { .name = "raw 2 CPUs", .kind = RAW_PINGPONG, .payload = p16,
              .pin = BENCH_PIN_APART, .warm = w / 4, .n = n / 4,
              .unit = "us" },
            { .name = "raw threaded", .kind = RAW_THREADED, .payload = p16,
              .threads = 1, .latency = true, .warm = w, .n = n,
              .unit = "us" },
            { .name = "epyrpc", .kind = EPY_SYNC, .warm = w, .n = n,
              .unit = "us" },
            { .name = "zmq", .kind = PEER, .peer = &zmq, .payload = p16,
              .warm = w, .n = n, .unit = "us" },
            { .name = "nng", .kind = PEER, .peer = &nng, .payload = p16,
              .warm = w, .n = n, .unit = "us" },
        };
        side *raw = &all[0], *same = &all[1], *apart = &all[2];
        side *rawt = &all[3], *sync = &all[4], *peers = &all[5];

        /* With only the peers: the raw baseline and the peers. */
        for (size_t i = 1; i < NSIDES(all); i++)
            all[i].off = !want(i < 5 ? "rtt" : "peers");
        run_group("rtt", all, NSIDES(all));

        compare("raw_rtt_p50_us", "us",
                "raw blocking ping-pong, 2 processes, 16 B",
                raw, NULL, BENCH_P50);
        compare("raw_rtt_p99_us", "us", "raw blocking ping-pong, p99",
                raw, NULL, BENCH_P99);
        if (want("rtt")) {
            compare("raw_rtt_same_cpu_p50_us", "us",
                    "raw ping-pong, pinned to one CPU (raw)",
                    same, raw, BENCH_P50);
            compare("raw_rtt_two_cpus_p50_us", "us",
                    "raw ping-pong, pinned to two CPUs (raw)",
                    apart, raw, BENCH_P50);
            compare("raw_threaded_rtt_p50_us", "us",
                    "raw + reader thread + worker handoff each side (raw)",
                    rawt, raw, BENCH_P50);
            compare("raw_threaded_rtt_p99_us", "us",
                    "the same, p99 (raw p99)", rawt, raw, BENCH_P99);
            compare("sync_rtt_p50_us", "us",
                    "calc_add() sync across fork, 16 B args (raw)",
                    sync, raw, BENCH_P50);
            compare("sync_rtt_p99_us", "us",
                    "calc_add() sync, p99 (raw p99)", sync, raw, BENCH_P99);
            if (!sync->skipped) {
                bench_row *r = bench_row_add("sync_cpu_us_per_call", "us",
                                 "CPU per calc_add(), both processes "
                                 "(raw CPU per round trip)");

                bench_row_value(r, bench_med(sync->s, BENCH_MED_CPU), -1);
                bench_row_base(r, bench_med(raw->s, BENCH_MED_CPU), -1);
                r = bench_row_add("sync_csw_per_call", "switches",
                            "context switches per calc_add(), both "
                            "processes (raw)");
                bench_row_value(r, bench_med(sync->s, BENCH_MED_CSW), -1);
                bench_row_base(r, bench_med(raw->s, BENCH_MED_CSW), -1);
            }
        }
        for (int k = 0; k < 2 && want("peers"); k++) {
            side *p = &peers[k];
            static const char *const m[2][2] = {
                { "zmq_rtt_p50_us", "zmq_rtt_p99_us" },
                { "nng_rtt_p50_us", "nng_rtt_p99_us" } };
            static const char *const what[2][2] = {
                { "ZeroMQ REQ/REP over ipc://, 16 B (raw)",
                  "ZeroMQ REQ/REP, p99 (raw p99)" },
                { "NNG req/rep over ipc://, 16 B (raw)",
                  "NNG req/rep, p99 (raw p99)" } };

            if (p->skipped) {
                const char *why = p->peer->failed ? "it failed" : p->peer->why;

                bench_row_skip(m[k][0], "us", what[k][0], why);
                bench_row_skip(m[k][1], "us", what[k][1], why);
                continue;
            }
            compare(m[k][0], "us", what[k][0], p, raw, BENCH_P50);
            compare(m[k][1], "us", what[k][1], p, raw, BENCH_P99);
        }
    }

    /* Throughput with up to 128 calls in flight. */
    if (want("rate")) {
        size_t n = 200000 / div, w = n / 10;
        side g[] = {
            { .name = "raw", .kind = RAW_PIPELINED, .payload = p16,
              .window = 128, .warm = w, .n = n, .unit = "/s" },
            { .name = "epyrpc callback", .kind = EPY_ASYNC_CB,
              .window = 128, .warm = w, .n = n, .unit = "/s" },
            { .name = "epyrpc semaphore", .kind = EPY_ASYNC_SEM,
              .window = 128, .warm = w, .n = n, .unit = "/s" },
        };

        run_group("rate", g, NSIDES(g));
        compare("raw_pipelined_per_s", "calls/s",
                "raw pipelined round trips, 128 in flight, 16 B",
                &g[0], NULL, BENCH_RATE);
        compare("async_calls_per_s", "calls/s",
                "calc_add_async_cb(), 128 in flight, each callback "
                "starts the next (raw)", &g[1], &g[0], BENCH_RATE);
        compare("async_sem_calls_per_s", "calls/s",
                "calc_add_async(), a semaphore per slot, 128 in flight "
                "(raw)", &g[2], &g[0], BENCH_RATE);
    }

    /* 64 KiB round trips. */
    if (want("64k")) {
        size_t n = 20000 / div, w = n / 10;
        side g[] = {
            { .name = "raw", .kind = RAW_PINGPONG, .payload = 65536,
              .pin = BENCH_PIN_NONE, .warm = w, .n = n, .unit = "us" },
            { .name = "epyrpc", .kind = EPY_ECHO, .payload = 65536,
              .warm = w, .n = n, .unit = "us" },
            { .name = "epyrpc blob", .kind = EPY_ECHO, .payload = 65536,
              .blob = 65536, .warm = w, .n = n, .unit = "us" },
            { .name = "epyrpc shm", .kind = EPY_ECHO, .payload = 65536,
              .shm = true, .warm = w, .n = n, .unit = "us" },
        };

        run_group("64k", g, NSIDES(g));
        compare("raw_rtt_64k_p50_us", "us",
                "raw blocking ping-pong, 64 KiB each way",
                &g[0], NULL, BENCH_P50);
        compare("rtt_64k_p50_us", "us",
                "calc_echo() sync, 64 KiB bytes echoed (raw)",
                &g[1], &g[0], BENCH_P50);
        compare("rtt_64k_p99_us", "us", "the same, p99 (raw p99)",
                &g[1], &g[0], BENCH_P99);
        compare("rtt_64k_blob_p50_us", "us",
                "the same out of line: blob_threshold 64 KiB on both ends "
                "(raw)", &g[2], &g[0], BENCH_P50);
        compare("rtt_64k_shm_p50_us", "us",
                "the same through shared memory: shm on both ends (raw)",
                &g[3], &g[0], BENCH_P50);
    }

    /* One way. */
    if (want("events")) {
        size_t n = 200000 / div, w = n / 10;
        side g[] = {
            { .name = "raw", .kind = RAW_ONEWAY, .payload = ptick,
              .warm = w, .n = n, .unit = "/s" },
            { .name = "epyrpc", .kind = EPY_EVENTS, .warm = w, .n = n,
              .unit = "/s" },
        };

        run_group("events", g, NSIDES(g));
        compare("raw_oneway_per_s", "msgs/s",
                "raw frames written back to back, one way",
                &g[0], NULL, BENCH_RATE);
        compare("events_per_s", "events/s",
                "calc_tick_send() one way, all handled (raw one way)",
                &g[1], &g[0], BENCH_RATE);
    }

    /* In one process. */
    if (want("inproc")) {
        size_t n = 200000 / div, w = n / 10;
        side g[] = {
            { .name = "raw", .kind = RAW_THREAD_PP, .payload = p16,
              .warm = w, .n = n, .unit = "us" },
            { .name = "epyrpc", .kind = EPY_INPROC, .warm = w, .n = n,
              .unit = "us" },
        };

        run_group("inproc", g, NSIDES(g));
        compare("raw_inproc_rtt_p50_us", "us",
                "raw 2-thread ping-pong, mutex + condvar, 16 B",
                &g[0], NULL, BENCH_P50);
        compare("inproc_sync_rtt_p50_us", "us",
                "calc_add() over epy_pair_new() (raw 2-thread)",
                &g[1], &g[0], BENCH_P50);
        compare("inproc_sync_rtt_p99_us", "us",
                "the same, p99 (raw 2-thread p99)", &g[1], &g[0], BENCH_P99);
    }

    /* Client threads sharing one peer. */
    if (want("threads")) {
        size_t n = 100000 / div, w = n / 10;
        side g[6];
        static const char *const metric[3] = {
            "threads_1_calls_per_s", "threads_2_calls_per_s",
            "threads_4_calls_per_s" };
        static const char *const what[3] = {
            "calc_add() sync, 1 thread (raw threaded, 1 caller)",
            "calc_add() sync, 2 threads, one peer (raw threaded, 2)",
            "calc_add() sync, 4 threads, one peer (raw threaded, 4)" };
        static const char *const names[6] = {
            "raw 1", "epyrpc 1", "raw 2", "epyrpc 2", "raw 4", "epyrpc 4" };

        memset(g, 0, sizeof g);
        for (int k = 0; k < 3; k++) {
            side *raw = &g[2 * k], *epy = &g[2 * k + 1];

            raw->name = names[2 * k];
            raw->kind = RAW_THREADED;
            raw->payload = p16;
            raw->threads = 1 << k;
            raw->warm = w;
            raw->n = n;
            raw->unit = "/s";
            epy->name = names[2 * k + 1];
            epy->kind = EPY_THREADS;
            epy->threads = 1 << k;
            epy->warm = w;
            epy->n = n;
            epy->unit = "/s";
        }
        run_group("threads", g, NSIDES(g));
        for (int k = 0; k < 3; k++)
            compare(metric[k], "calls/s", what[k], &g[2 * k + 1], &g[2 * k],
                    BENCH_RATE);
    }

    /* Memory. */
    if (want("memory")) {
        side g[] = {
            { .name = "memory", .kind = EPY_MEMORY, .warm = 20000 / div,
              .n = 1000000 / div, .n2 = 100000 / div, .unit = "KiB" },
            { .name = "pending", .kind = EPY_PENDING, .n = 10000,
              .unit = "B" },
        };
        bench_row *r;

        run_group("memory", g, NSIDES(g));
        r = bench_row_add("rss_growth_1m_calls_kib", "KiB",
                    quick ? "caller RSS (anon) growth, 100000 sync calls "
                            "(quick)"
                          : "caller RSS (anon) growth, 1000000 sync calls");
        bench_row_value(r, bench_med(g[0].s, BENCH_MEM_SYNC_CALLER),
                  bench_med(g[0].s, BENCH_MED_CPU));
        r = bench_row_add("rss_growth_1m_calls_server_kib", "KiB",
                    "answering process RSS (anon) growth, same");
        bench_row_value(r, bench_med(g[0].s, BENCH_MEM_SYNC_SERVER), -1);
        r = bench_row_add("heap_growth_1m_calls_b", "B",
                    "caller malloc heap growth, same calls");
        bench_row_value(r, bench_med(g[0].s, BENCH_MEM_SYNC_HEAP), -1);
        r = bench_row_add("rss_growth_100k_async_kib", "KiB",
                    quick ? "caller RSS (anon) growth, 10000 async calls "
                            "done (quick)"
                          : "caller RSS (anon) growth, 100000 async calls "
                            "done");
        bench_row_value(r, bench_med(g[0].s, BENCH_MEM_ASYNC_CALLER), -1);
        r = bench_row_add("rss_growth_100k_async_server_kib", "KiB",
                    "answering process RSS (anon) growth, same");
        bench_row_value(r, bench_med(g[0].s, BENCH_MEM_ASYNC_SERVER), -1);
        r = bench_row_add("heap_growth_100k_async_b", "B",
                    "caller malloc heap growth, same calls");
        bench_row_value(r, bench_med(g[0].s, BENCH_MEM_ASYNC_HEAP), -1);
        r = bench_row_add("bytes_per_pending_call", "B",
                    "caller malloc heap per pending async call, 10000 "
                    "in flight");
        bench_row_value(r, bench_med(g[1].s, 0), -1);
        r = bench_row_add("bytes_per_pending_call_rss", "B",
                    "caller RSS (anon) growth per pending call");
        bench_row_value(r, bench_med(g[1].s, 1), -1);
        r = bench_row_add("bytes_per_deferred_call_server", "B",
                    "answering process RSS (anon) per deferred call");
        bench_row_value(r, bench_med(g[1].s, 2), -1);
    }

    /* Shared memory offered on both ends (the socket carries on until
     * both switch): round trips spinning or not, beside the socket's;
     * pipelined calls; events. Each against its raw baseline. */
    if (want("shm")) {
        size_t n = 200000 / div, w = n / 10;
        side g[] = {
            { .name = "raw", .kind = RAW_PINGPONG, .payload = p16,
              .pin = BENCH_PIN_NONE, .warm = w, .n = n, .unit = "us" },
            { .name = "shm", .kind = EPY_SYNC, .shm = true, .warm = w,
              .n = n, .unit = "us" },
            { .name = "shm no spin", .kind = EPY_SYNC, .shm = true,
              .spin_us = -1, .warm = w, .n = n, .unit = "us" },
            { .name = "socket", .kind = EPY_SYNC, .warm = w, .n = n,
              .unit = "us" },
            { .name = "raw pipelined", .kind = RAW_PIPELINED, .payload = p16,
              .window = 128, .warm = w, .n = n, .unit = "/s" },
            { .name = "shm async", .kind = EPY_ASYNC_CB, .shm = true,
              .window = 128, .warm = w, .n = n, .unit = "/s" },
            { .name = "raw one way", .kind = RAW_ONEWAY, .payload = ptick,
              .warm = w, .n = n, .unit = "/s" },
            { .name = "shm events", .kind = EPY_EVENTS, .shm = true,
              .warm = w, .n = n, .unit = "/s" },
        };
        static const char *const m[3] = { "shm", "shm_nospin", "shm_off" };
        static const char *const what[3] = {
            "calc_add() sync, shm on both ends (raw)",
            "calc_add() sync, shm, shm_spin_us = -1 (raw)",
            "calc_add() sync, shm off: the socket (raw)" };
        static char metric[3][2][40];

        run_group("shm", g, NSIDES(g));
        for (int k = 0; k < 3; k++) {
            snprintf(metric[k][0], 40, "%s_sync_rtt_p50_us", m[k]);
            snprintf(metric[k][1], 40, "%s_sync_rtt_p99_us", m[k]);
            compare(metric[k][0], "us", what[k], &g[1 + k], &g[0], BENCH_P50);
            compare(metric[k][1], "us", "the same, p99 (raw p99)", &g[1 + k],
                    &g[0], BENCH_P99);
        }
        compare("shm_async_calls_per_s", "calls/s",
                "calc_add_async_cb(), 128 in flight, shm (raw pipelined)",
                &g[5], &g[4], BENCH_RATE);
        compare("shm_events_per_s", "events/s",
                "calc_tick_send() one way, shm (raw one way)", &g[7], &g[6],
                BENCH_RATE);
    }

    /* 16 MiB echoed (big.c): N echoes, then N timed; memory N to 2N. */
    if (want("big")) {
        size_t n = quick ? 4 : 16, sz = (size_t) 16 << 20;
        side g[] = {
            { .name = "raw", .kind = RAW_BIG, .payload = sz, .warm = n,
              .n = n, .unit = "ms" },
            { .name = "bytes", .kind = EPY_BIG, .mode = BIG_BYTES,
              .payload = sz, .warm = n, .n = n, .unit = "ms" },
            { .name = "bytes shm", .kind = EPY_BIG, .mode = BIG_BYTES_SHM,
              .payload = sz, .warm = n, .n = n, .unit = "ms" },
            { .name = "memfd", .kind = EPY_BIG, .mode = BIG_MEMFD,
              .payload = sz, .warm = n, .n = n, .unit = "ms" },
            { .name = "bytes blob", .kind = EPY_BIG, .mode = BIG_BLOB,
              .payload = sz, .warm = n, .n = n, .unit = "ms" },
            { .name = "blob sent on", .kind = EPY_BIG, .mode = BIG_BLOB_FWD,
              .payload = sz, .warm = n, .n = n, .unit = "ms" },
        };
        static const char *const m[5][2] = {
            { "echo_16m_ms", "echo_16m_rss_kib_per_call" },
            { "echo_16m_shm_ms", "echo_16m_shm_rss_kib_per_call" },
            { "echo_fd_16m_ms", "echo_fd_16m_rss_kib_per_call" },
            { "echo_blob_16m_ms", "echo_blob_16m_rss_kib_per_call" },
            { "echo_blob_fwd_16m_ms", "echo_blob_fwd_16m_rss_kib_per_call" } };
        static const char *const what[5][2] = {
            { "calc_echo() sync, 16 MiB bytes, socket (raw)",
              "caller RSS growth per echo, peak of echoes N+1..2N less "
              "that of 1..N, / N (N: 16, quick 4)" },
            { "calc_echo() sync, 16 MiB bytes, shm on both ends (raw)",
              "the same, shm" },
            { "blob_echo_fd(): 16 MiB written to a memfd, passed, the "
              "echoed fd mapped (raw)", "the same, memfd" },
            { "calc_echo() sync, 16 MiB bytes out of line (blob_threshold "
              "64 KiB on both ends; raw)", "the same, out of line" },
            { "calc_echo() sync of a 16 MiB view received, sent on (its "
              "memfd again; raw)", "the same, view sent on" } };

        run_group("big", g, NSIDES(g));
        compare("raw_echo_16m_ms", "ms",
                "raw socketpair, 16 MiB there and back", &g[0], NULL, BIG_MS);
        for (int k = 0; k < 5; k++)
            compare(m[k][0], "ms", what[k][0], &g[1 + k], &g[0], BIG_MS);
        for (int k = 0; k < 5; k++)
            if (!g[1 + k].skipped)
                bench_row_value(bench_row_add(m[k][1], "KiB", what[k][1]),
                          bench_med(g[1 + k].s, BIG_RSS), -1);
        if (!g[3].skipped)
            bench_row_value(bench_row_add("echo_fd_16m_fds_gained", "fds",
                              "descriptors both processes gained, echo N to "
                              "2N (leaks)"), bench_med(g[3].s, BIG_FDS), -1);
    }

    if (want("idlc"))
        bench_idlc(idlc, protoc);

    bench_table_print(quick ? "quick run, 10x fewer calls" : "full run");
    if (csv != NULL) {
        bench_table_csv(csv);
        printf("\nwritten: %s (%.0f s)\n", csv,
               (double) (bench_now_ns() - start_ns) / 1e9);
    }
    return 0;
}
