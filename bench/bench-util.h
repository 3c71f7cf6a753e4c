/*
 * Helpers of the benchmark programs: clocks and percentiles.
 */
#ifndef EPYRPC_BENCH_UTIL_H
#define EPYRPC_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline int64_t
bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

/* Sorts @v and returns its @p-th percentile (0..100). */
static inline int64_t
bench_percentile(int64_t *v, size_t n, double p)
{
    size_t i;

    qsort(v, n, sizeof *v, bench_cmp_i64);
    i = (size_t) (p / 100.0 * (double) (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

#endif /* EPYRPC_BENCH_UTIL_H */
