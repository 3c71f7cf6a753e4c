/*
 * Helpers shared by the Check suites.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static int
count_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    ck_assert_msg(d != NULL, "cannot open %s", path);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int
tu_count_threads(void)
{
    return count_dir("/proc/self/task");
}

int
tu_count_fds(void)
{
    /* The directory stream itself holds one descriptor while counting. */
    return count_dir("/proc/self/fd") - 1;
}

static void *
nothing(void *arg)
{
    return arg;
}

void
tu_resources_take(tu_resources *r)
{
    static bool warm;

    /*
     * Some runtimes (ThreadSanitizer) start a helper thread of their own
     * at the first pthread_create(): start and join one thread first, so
     * the snapshot already counts it.
     */
    if (!warm) {
        pthread_t th;

        if (pthread_create(&th, NULL, nothing, NULL) == 0)
            pthread_join(th, NULL);
        warm = true;
    }
    r->threads = tu_count_threads();
    r->fds = tu_count_fds();
}

void
tu_resources_check(const tu_resources *r)
{
    int64_t deadline = tu_now_ms() + 5000 * tu_slow();
    int threads;
    pid_t child;
    int status;

    /*
     * A joined thread may linger in /proc for a moment, here and in the
     * snapshot (the warm-up thread of tu_resources_take()): fewer threads
     * than then is no leak.
     */
    while ((threads = tu_count_threads()) > r->threads
           && tu_now_ms() < deadline) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    ck_assert_int_le(threads, r->threads);
    ck_assert_int_eq(tu_count_fds(), r->fds);
    child = waitpid(-1, &status, WNOHANG);
    ck_assert_msg(child == -1 && errno == ECHILD,
                  "a child process is left (waitpid gave %d)", (int) child);
}

static tu_resources fixture_snapshot;

void
tu_setup_resources(void)
{
    tu_resources_take(&fixture_snapshot);
}

void
tu_teardown_resources(void)
{
    tu_resources_check(&fixture_snapshot);
}

int64_t
tu_now_ms(void)
{
    return tu_now_us() / 1000;
}

int64_t
tu_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
tu_threads_settle(int at_most)
{
    int64_t deadline = tu_now_ms() + 5000 * tu_slow();
    int n;

    while ((n = tu_count_threads()) > at_most && tu_now_ms() < deadline)
        usleep(20000);
    return n;
}

int
tu_slow(void)
{
    const char *s = getenv("EPY_TEST_SLOW");
    int n = s != NULL ? atoi(s) : 1;

    return n > 0 ? n : 1;
}

int
tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
