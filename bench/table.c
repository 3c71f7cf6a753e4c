/*
 * The benchmark's table: one row per figure, with its baseline, printed
 * at the end and written as CSV (main.c adds the rows), and the medians
 * of a side's runs.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAX_ROWS 96

int bench_runs = 3;

struct bench_row {
    const char *metric;
    const char *what;           /* what is measured, and against what */
    const char *unit;
    double value, base;
    double cpu, base_cpu;       /* us per call; < 0: none */
    double csw, base_csw;       /* context switches per call; < 0: none */
    bool has_value, has_base;
    const char *skipped;        /* why there is no value */
};

static bench_row rows[MAX_ROWS];
static size_t nrows;

bench_row *
bench_row_add(const char *metric, const char *unit, const char *what)
{
    bench_row *r;

    if (nrows == MAX_ROWS)
        bench_die("too many rows");
    r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    r->metric = metric;
    r->unit = unit;
    r->what = what;
    r->cpu = r->base_cpu = -1;
    r->csw = r->base_csw = -1;
    return r;
}

void
bench_row_value(bench_row *r, double value, double cpu)
{
    r->value = value;
    r->has_value = true;
    r->cpu = cpu;
}

void
bench_row_base(bench_row *r, double base, double cpu)
{
    r->base = base;
    r->has_base = true;
    r->base_cpu = cpu;
}

void
bench_row_csw(bench_row *r, bool base, double csw)
{
    if (base)
        r->base_csw = csw;
    else
        r->csw = csw;
}

void
bench_row_skip(const char *metric, const char *unit, const char *what,
               const char *why)
{
    bench_row_add(metric, unit, what)->skipped = why;
}

/* A number with a precision that suits its size. */
const char *
bench_num(char *buf, size_t len, double v)
{
    double a = v < 0 ? -v : v;

    if (a >= 10000)
        snprintf(buf, len, "%.0f", v);
    else if (a >= 100)
        snprintf(buf, len, "%.1f", v);
    else if (a >= 1)
        snprintf(buf, len, "%.2f", v);
    else
        snprintf(buf, len, "%.3f", v);
    return buf;
}

void
bench_table_print(const char *mode)
{
    char v[32], b[32], q[32], c[32], d[32], e[32], f2[32];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    char model[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");

    if (f != NULL) {
        char line[256];

        while (fgets(line, sizeof line, f) != NULL) {
            char *colon = strchr(line, ':');

            if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
                snprintf(model, sizeof model, "%s", colon + 2);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    printf("\nepyrpc benchmark (%s): %ld CPUs, %s\n", mode, ncpu, model);
    printf("Each figure is the median of %d runs, interleaved with its "
           "baseline's; ratio = value / baseline.\n"
           "cpu, csw: CPU time (us) and context switches per call of every "
           "process taking part\n(getrusage), for the value and for the "
           "baseline.\n\n", bench_runs);
    printf("%-32s %9s %-8s %9s %6s %7s %7s %5s %5s  %s\n", "metric", "value",
           "unit", "baseline", "ratio", "cpu", "b.cpu", "csw", "b.csw",
           "what (baseline)");
    for (size_t i = 0; i < nrows; i++) {
        bench_row *r = &rows[i];

        if (r->skipped != NULL) {
            printf("%-32s %9s %-8s %9s %6s %7s %7s %5s %5s  %s: skipped, %s\n",
                   r->metric, "-", r->unit, "", "", "", "", "", "", r->what,
                   r->skipped);
            continue;
        }
        printf("%-32s %9s %-8s %9s %6s %7s %7s %5s %5s  %s\n", r->metric,
               bench_num(v, sizeof v, r->value), r->unit,
               r->has_base ? bench_num(b, sizeof b, r->base) : "",
               r->has_base && r->base != 0
                   ? (snprintf(q, sizeof q, "%.2f", r->value / r->base), q)
                   : "",
               r->cpu >= 0 ? bench_num(c, sizeof c, r->cpu) : "",
               r->base_cpu >= 0 ? bench_num(d, sizeof d, r->base_cpu) : "",
               r->csw >= 0 ? (snprintf(e, sizeof e, "%.1f", r->csw), e) : "",
               r->base_csw >= 0
                   ? (snprintf(f2, sizeof f2, "%.1f", r->base_csw), f2) : "",
               r->what);
    }
}

void
bench_table_csv(const char *path)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        bench_die("%s: %s", path, strerror(errno));
    fprintf(f, "metric,value,unit,baseline,ratio\n");
    for (size_t i = 0; i < nrows; i++) {
        bench_row *r = &rows[i];

        fprintf(f, "%s,", r->metric);
        if (r->has_value && r->skipped == NULL)
            fprintf(f, "%.6g", r->value);
        fprintf(f, ",%s,", r->unit);
        if (r->has_base && r->skipped == NULL) {
            fprintf(f, "%.6g,", r->base);
            if (r->base != 0)
                fprintf(f, "%.4f", r->value / r->base);
        } else {
            fputc(',', f);
        }
        fputc('\n', f);
    }
    if (fclose(f) != 0)
        bench_die("%s: %s", path, strerror(errno));
}

/* --- medians of runs ------------------------------------------------------ */

double
bench_med(const bench_sample *s, int idx)
{
    double v[BENCH_MAX_RUNS];

    for (int r = 0; r < bench_runs; r++)
        v[r] = idx == BENCH_MED_CPU ? s[r].cpu_us
               : idx == BENCH_MED_CSW ? s[r].csw : s[r].v[idx];
    return bench_median(v, (size_t) bench_runs);
}
