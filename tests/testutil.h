/*
 * Helpers shared by the Check suites: resource accounting (threads,
 * descriptors, children) and timing.
 */
#ifndef EPYRPC_TESTS_TESTUTIL_H
#define EPYRPC_TESTS_TESTUTIL_H

#include <check.h>
#include <stdint.h>

/* Number of entries in /proc/self/task (threads) and /proc/self/fd. */
int tu_count_threads(void);
/*
 * The thread count once it is at most @at_most, or after 5 s (times
 * tu_slow()) of looking every 20 ms: for spare workers that exit a
 * while after their last job.
 */
int tu_threads_settle(int at_most);
int tu_count_fds(void);

/*
 * A snapshot of the process's threads and descriptors, taken at the start
 * of a test; tu_resources_check() asserts that both are back to it,
 * waiting up to a few seconds for threads that are exiting, and that no
 * child process is left (no zombie either).
 */
typedef struct tu_resources {
    int threads;
    int fds;
} tu_resources;

void tu_resources_take(tu_resources *r);
void tu_resources_check(const tu_resources *r);

/* Checked fixtures that take and check a snapshot around each test. */
void tu_setup_resources(void);
void tu_teardown_resources(void);

/* Monotonic clock in milliseconds and microseconds. */
int64_t tu_now_ms(void);
int64_t tu_now_us(void);

/*
 * Slow-down factor for timing bounds: 1 normally, larger under valgrind
 * or the sanitizers ($EPY_TEST_SLOW).
 */
int tu_slow(void);

/* Runs @s with the usual settings and returns the process exit status. */
int tu_run_suite(Suite *s);

#endif /* EPYRPC_TESTS_TESTUTIL_H */
