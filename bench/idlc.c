/*
 * The idlc group of `make bench` (main.c makes its rows): idlc, and
 * protoc-c after it, on a generated IDL of 100 namespaces of 20 methods
 * each, in a temporary folder removed afterwards.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define IDLC_NS 100
#define IDLC_METHODS 20

/* Writes an IDL of IDLC_NS namespaces of IDLC_METHODS methods each. */
static void
write_big_idl(const char *path)
{
    static const char *const sig[10][2] = {
        { "int64", "add(int64 a, int64 b);" },
        { "double", "div(double a, double b) raises (failed);" },
        { "void", "reset();" },
        { "event", "tick(uint64 n);" },
        { "point", "centroid(list<point> pts);" },
        { "optional<double>", "mean(list<double> xs);" },
        { "map<string, int64>", "histogram(list<string> words);" },
        { "item", "lookup(string name, mode m) [timeout = 500ms];" },
        { "bytes", "echo(bytes data) [async];" },
        { "list<item>", "search(map<string, string> filter, uint32 limit);" },
    };
    FILE *f = fopen(path, "w");

    if (f == NULL)
        bench_die("%s: %s", path, strerror(errno));
    for (int n = 0; n < IDLC_NS; n++) {
        fprintf(f, "/// Namespace %d of the idlc benchmark.\n"
                "namespace ns%03d {\n"
                "    defaults { timeout = 2s; sync; solicited; }\n"
                "    enum mode { OFF = 0; ON = 1; AUTO = 2; }\n"
                "    struct point { double x; double y; }\n"
                "    struct item { string name; int64 count; list<point> path;"
                " optional<mode> m; }\n"
                "    error failed { string detail; int32 code; }\n", n, n);
        for (int m = 0; m < IDLC_METHODS; m++) {
            fprintf(f, "    /// Method %d.\n    %s m%02d_%s\n", m,
                    sig[m % 10][0], m, sig[m % 10][1]);
        }
        fprintf(f, "}\n\n");
    }
    if (fclose(f) != 0)
        bench_die("%s: %s", path, strerror(errno));
}

/* Runs idlc on @idl into @dir: wall seconds; CPU seconds in *@cpu. */
static double
idlc_run(const char *idlc, const char *protoc, const char *dir,
         const char *idl, double *cpu)
{
    char popt[4096];
    struct rusage ru;
    int64_t t0 = bench_now_ns();
    pid_t pid;

    snprintf(popt, sizeof popt, "--protoc-c=%s", protoc);
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        if (protoc[0] != '\0')
            execl(idlc, idlc, "-o", dir, popt, idl, (char *) NULL);
        else
            execl(idlc, idlc, "-o", dir, idl, (char *) NULL);
        fprintf(stderr, "bench: %s: %s\n", idlc, strerror(errno));
        _exit(127);
    }
    bench_wait_child(pid, &ru);
    *cpu = bench_rusage_s(&ru);
    return (double) (bench_now_ns() - t0) / 1e9;
}

void
bench_idlc_runs(const char *idlc, const char *protoc, int runs,
                int64_t start_ns, bench_sample *s)
{
    static const char *const out[] = { "big.proto", "big.pb-c.c", "big.pb-c.h",
                                       "big.epy.c", "big.epy.h" };
    char dir[] = "/tmp/epybench-idlc-XXXXXX", idl[64], path[128];
    struct stat st;

    if (mkdtemp(dir) == NULL)
        bench_die("mkdtemp: %s", strerror(errno));
    snprintf(idl, sizeof idl, "%s/big.idl", dir);
    write_big_idl(idl);
    for (int i = 0; i < runs; i++) {
        s[i].v[0] = idlc_run(idlc, protoc, dir, idl, &s[i].cpu_us);
        fprintf(stderr, "bench: idlc    round %d/%d (%3.0f s): %.3f s\n",
                i + 1, runs, (double) (bench_now_ns() - start_ns) / 1e9,
                s[i].v[0]);
    }
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, out[i]);
        if (stat(path, &st) != 0 || st.st_size == 0)
            bench_die("idlc wrote no %s", out[i]);
        unlink(path);
    }
    unlink(idl);
    rmdir(dir);
}
