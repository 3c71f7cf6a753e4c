/*
 * Benchmark utilities: clocks, CPU time, memory, statistics, framed I/O.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <epyrpc/epyrpc.h>

#include "bench.h"

void
bench_die(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

int64_t
bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

int64_t
bench_percentile(int64_t *v, size_t n, double p)
{
    size_t i;

    qsort(v, n, sizeof *v, cmp_i64);
    i = (size_t) (p / 100.0 * (double) (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double
bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

void
bench_latencies(int64_t *lat, size_t n, bench_sample *s)
{
    s->v[BENCH_P50] = (double) bench_percentile(lat, n, 50) / 1000.0;
    s->v[BENCH_P99] = (double) bench_percentile(lat, n, 99) / 1000.0;
}

int
bench_read_full(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;

    while (n > 0) {
        ssize_t r = read(fd, p, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t) r;
    }
    return 0;
}

int
bench_write_full(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;

    while (n > 0) {
        ssize_t r = write(fd, p, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t) r;
    }
    return 0;
}

long
bench_rss_anon_kib(pid_t pid)
{
    char path[64], line[128];
    long kib = -1;
    FILE *f;

    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/status");
    else
        snprintf(path, sizeof path, "/proc/%ld/status", (long) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "RssAnon: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

long long
bench_heap_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();

    return (long long) (mi.uordblks + mi.hblkhd);
#else
    return -1;
#endif
}

double
bench_rusage_s(const struct rusage *ru)
{
    return (double) ru->ru_utime.tv_sec + (double) ru->ru_utime.tv_usec / 1e6
           + (double) ru->ru_stime.tv_sec + (double) ru->ru_stime.tv_usec / 1e6;
}

void
bench_cpu_start(bench_cpu *c)
{
    getrusage(RUSAGE_SELF, &c->self);
}

void
bench_wait_child(pid_t pid, struct rusage *ru)
{
    int status;

    while (wait4(pid, &status, 0, ru) < 0)
        if (errno != EINTR)
            bench_die("wait4: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bench_die("the other end (pid %ld) failed (status 0x%x)", (long) pid,
                  status);
}

double
bench_rusage_csw(const struct rusage *ru)
{
    return (double) ru->ru_nvcsw + (double) ru->ru_nivcsw;
}

void
bench_cpu_stop(bench_cpu *c, pid_t child, size_t calls, bench_sample *s)
{
    struct rusage now, ru;
    double cpu = 0.0, csw = 0.0;

    if (child > 0) {
        bench_wait_child(child, &ru);
        cpu += bench_rusage_s(&ru);
        csw += bench_rusage_csw(&ru);
    }
    getrusage(RUSAGE_SELF, &now);
    cpu += bench_rusage_s(&now) - bench_rusage_s(&c->self);
    csw += bench_rusage_csw(&now) - bench_rusage_csw(&c->self);
    s->cpu_us = cpu * 1e6 / (double) (calls ? calls : 1);
    s->csw = csw / (double) (calls ? calls : 1);
}

void *
bench_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        bench_die("out of memory");
    return p;
}

void
bench_check(int rc, const epy_error *err, const char *what)
{
    if (rc < 0)
        bench_die("%s: %s%s%s", what, epy_strerror(rc),
                  err != NULL && err->message != NULL ? ": " : "",
                  err != NULL && err->message != NULL ? err->message : "");
}
