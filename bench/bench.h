/*
 * The benchmark programs' shared parts: clocks, CPU time, resident
 * memory, percentiles and medians, framed blocking I/O, and the
 * measurements themselves (raw.c: the baselines without epyrpc; epy.c:
 * epyrpc through the code idlc generates from calc.idl; big.c: 16 MiB
 * payloads, with bench/blob.idl; idlc.c: idlc itself).
 *
 * Every measurement fills a bench_sample: its figures in v[] (what each
 * index holds is documented with the function), and the CPU time and
 * the context switches it cost per call, summed over every process and
 * thread taking part (getrusage of the caller's process and of the
 * other end's, from wait4()), warm-up included.
 */
#ifndef EPYRPC_BENCH_H
#define EPYRPC_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* --- one measurement's result --------------------------------------------- */

#define BENCH_NV 6

typedef struct bench_sample {
    double v[BENCH_NV];         /* the figures; see each function */
    double cpu_us;              /* CPU time per call, all processes, us */
    double csw;                 /* context switches per call, likewise */
} bench_sample;

/* Latency runs: v[BENCH_P50] and v[BENCH_P99] in microseconds. */
#define BENCH_P50 0
#define BENCH_P99 1
/* Rate runs: v[BENCH_RATE] in calls (or messages) per second. */
#define BENCH_RATE 0

/* --- the table (table.c) -------------------------------------------------- */

#define BENCH_MAX_RUNS 9

/* Runs of each measurement (--runs), 3 by default. */
extern int bench_runs;

typedef struct bench_row bench_row;

/* A new row: @metric in @unit, measuring @what (all kept, not copied). */
bench_row *bench_row_add(const char *metric, const char *unit,
                         const char *what);
/* Its value and baseline, with their CPU per call (< 0: none). */
void bench_row_value(bench_row *r, double value, double cpu);
void bench_row_base(bench_row *r, double base, double cpu);
/* Context switches per call of its value, or with @base of its baseline. */
void bench_row_csw(bench_row *r, bool base, double csw);
/* A row without a value, and why. */
void bench_row_skip(const char *metric, const char *unit, const char *what,
                    const char *why);
/* @v in @buf with 3 significant figures or more. */
const char *bench_num(char *buf, size_t len, double v);
/* Prints the table, with the machine and @mode ("quick run", ...). */
void bench_table_print(const char *mode);
/* Writes it as CSV: metric,value,unit,baseline,ratio. */
void bench_table_csv(const char *path);

/* The median over bench_runs of @s[].v[@idx], of CPU or of switches. */
#define BENCH_MED_CPU (-1)
#define BENCH_MED_CSW (-2)
double bench_med(const bench_sample *s, int idx);

/* --- utilities (util.c) --------------------------------------------------- */

/* Prints "bench: " and the message to stderr and exits with status 1. */
/* malloc(), or bench_die() when out of memory. */
void *bench_xmalloc(size_t n);
/* bench_die() with @what and @err's message if @rc is an error. */
struct epy_error;
void bench_check(int rc, const struct epy_error *err, const char *what);
void bench_die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);

/* Sorts @v (@n > 0 values) and returns its @p-th percentile (0..100). */
int64_t bench_percentile(int64_t *v, size_t n, double p);

/* The median of @n doubles (the middle one; the mean of the two middle
 * ones for an even count). @v is sorted in place. */
double bench_median(double *v, size_t n);

/* Fills @s->v[BENCH_P50] and [BENCH_P99] from @n latencies in ns. */
void bench_latencies(int64_t *lat, size_t n, bench_sample *s);

/* Reads or writes exactly @n bytes. Returns 0, or -1 at the end of the
 * stream or on an error. */
int bench_read_full(int fd, void *buf, size_t n);
int bench_write_full(int fd, const void *buf, size_t n);

/*
 * The anonymous resident memory of process @pid (0: this one) in KiB,
 * -1 if unknown: RssAnon, the resident set less the pages of mapped
 * files (a library's code, first run after a fork, is paged in then and
 * shared, not memory the process grows by).
 */
long bench_rss_anon_kib(pid_t pid);

/* Bytes allocated by malloc in this process (all arenas), or -1. */
long long bench_heap_bytes(void);

/*
 * CPU accounting of a measurement: bench_cpu_start() before the other
 * end is forked (or the threads started), bench_cpu_stop() after
 * everything has ended. @child (0: none) is waited for with wait4(),
 * which gives its CPU time and context switches; it must exit with
 * status 0. Sets @s->cpu_us and @s->csw: the CPU time (us) and the
 * context switches (voluntary and not) of this process since the start
 * plus those of @child, divided by @calls.
 */
typedef struct bench_cpu {
    struct rusage self;
} bench_cpu;

void bench_cpu_start(bench_cpu *c);
void bench_cpu_stop(bench_cpu *c, pid_t child, size_t calls,
                    bench_sample *s);

/* Waits for @pid and dies unless it exited with status 0; fills @ru. */
void bench_wait_child(pid_t pid, struct rusage *ru);

/* The user and system time of @ru, in seconds. */
double bench_rusage_s(const struct rusage *ru);
/* The context switches of @ru, voluntary and involuntary. */
double bench_rusage_csw(const struct rusage *ru);

/* --- the baselines (raw.c) ------------------------------------------------ */

/*
 * Every raw baseline runs two processes over a socketpair with epyrpc's
 * framing: a 4-byte little-endian length, then the payload. A frame is
 * written with one write() and read with two read()s (length, payload),
 * blocking. @warm round trips (or messages) run first and are not
 * counted; then @n are measured.
 */

/*
 * Ping-pong of @payload bytes, one in flight: latencies (v: P50, P99).
 * @pin: BENCH_PIN_NONE leaves the two processes where the scheduler puts
 * them; BENCH_PIN_SAME puts both on one CPU, BENCH_PIN_APART on two.
 * Pinning also pins the calling process, for good: main.c runs every
 * measurement in a process of its own. Returns false if the pinning
 * asked for is impossible (one CPU).
 */
#define BENCH_PIN_NONE 0
#define BENCH_PIN_SAME 1
#define BENCH_PIN_APART 2
bool raw_pingpong(size_t payload, int pin, size_t warm, size_t n,
                  bench_sample *s);

/* Pipelined: up to @window requests in flight from one thread, the
 * other end echoing each: round trips per second (v: RATE). */
void raw_pipelined(size_t payload, size_t window, size_t warm, size_t n,
                   bench_sample *s);

/* One way: @n frames written back to back, the other end reading and
 * acknowledging the last: messages per second (v: RATE). */
void raw_oneway(size_t payload, size_t warm, size_t n, bench_sample *s);

/*
 * Threaded: a reader thread and a worker handoff (mutex + condition
 * variable) on each side. Calling side: @callers threads write their
 * requests under a write lock and sleep until the reader thread hands
 * them their reply. Answering side: a reader thread queues requests for
 * a worker thread, which writes the replies. With @latency, @callers
 * must be 1 and v holds P50, P99; else v holds RATE (calls per second,
 * all callers together).
 */
void raw_threaded(size_t payload, int callers, size_t warm, size_t n,
                  bool latency, bench_sample *s);

/* Two threads of one process handing a @payload-byte message back and
 * forth through a mutex and condition variables: latencies (P50, P99). */
void raw_thread_pingpong(size_t payload, size_t warm, size_t n,
                         bench_sample *s);

/* --- epyrpc (epy.c) ------------------------------------------------------- */

/* The size of calc.add's argument message for the values the benchmarks
 * send, and of calc.tick's: the raw baselines use the same sizes. */
size_t epy_add_args_size(void);
size_t epy_tick_args_size(void);

/* Both ends of every later measurement of this file offer shared
 * memory (epy_peer_config.shm) when @shm, with shm_spin_us = @spin_us
 * (0: the default spin; negative: none). Off until called; main.c sets
 * it in each measuring process. */
void epy_set_shm(bool shm, int spin_us);
/* Both ends' blob_threshold for the later measurements (0: off). */
void epy_set_blob_threshold(size_t threshold);

/* calc_add() across fork, sync: latencies (P50, P99). */
void epy_sync(size_t warm, size_t n, bench_sample *s);

/* calc_add_async_cb() across fork, up to @window in flight, each
 * completion callback starting the next call: calls per second (RATE). */
void epy_async_callback(size_t window, size_t warm, size_t n,
                        bench_sample *s);

/* calc_add_async() with a semaphore per slot, up to @window in flight,
 * the main thread waiting on the oldest slot, reading its typed result
 * and releasing its handle: calls per second (RATE). */
void epy_async_sem(size_t window, size_t warm, size_t n, bench_sample *s);

/* A sync call whose @payload-byte argument is echoed back (raw API: see
 * epy.c): latencies (P50, P99). */
void epy_echo(size_t payload, size_t warm, size_t n, bench_sample *s);

/* calc_tick_send() one way; the other end counts and reports the last
 * with an event back: events per second (RATE). */
void epy_events(size_t warm, size_t n, bench_sample *s);

/* calc_add() over an in-process queue pair (epy_pair_new()): latencies. */
void epy_inproc(size_t warm, size_t n, bench_sample *s);

/* calc_add() from @threads threads sharing one peer and api: calls per
 * second, all threads together (RATE). */
void epy_threads(int threads, size_t warm, size_t n, bench_sample *s);

/*
 * Memory across fork. v[0], v[1]: growth of the anonymous resident
 * memory (KiB, see bench_rss_anon_kib()) of the calling and the
 * answering process over @n sync calls, after @warm; v[2], v[3]: the
 * same over @n_async async calls (semaphore mode, 128 in flight) once
 * all have completed; cpu_us per call.
 */
#define BENCH_MEM_SYNC_CALLER 0
#define BENCH_MEM_SYNC_SERVER 1
#define BENCH_MEM_ASYNC_CALLER 2
#define BENCH_MEM_ASYNC_SERVER 3
/* v[4], v[5]: growth of the calling process's heap (malloc, bytes) over
 * the same sync and async calls. */
#define BENCH_MEM_SYNC_HEAP 4
#define BENCH_MEM_ASYNC_HEAP 5
void epy_memory(size_t warm, size_t n, size_t n_async, bench_sample *s);

/*
 * The cost of a pending call: @pending async calls whose handlers defer
 * their answers. v[0]: bytes the caller's heap grew by per pending call;
 * v[1]: the caller's anonymous resident memory growth per pending call
 * (bytes); v[2]: the answering process's, per deferred call.
 */
void epy_pending(size_t pending, bench_sample *s);

/* --- 16 MiB payloads (big.c) --------------------------------------------- */

/*
 * Every big measurement makes @warm echoes of @size bytes, then @n more,
 * each timed. v[BIG_MS], v[BIG_P99_MS]: milliseconds per echo, median
 * and p99, of the @n. v[BIG_RSS]: the growth of the calling process's
 * resident memory (RssAnon + RssShmem, KiB) from the @warm echoes to
 * the @n, per echo: the highest sampled after each echo of the @n less
 * the highest of the @warm, divided by @n (see big.c).
 */
#define BIG_MS 0
#define BIG_P99_MS 1
#define BIG_RSS 2
/* v[BIG_FDS]: the descriptors both processes gained over the same
 * echoes (a line on stderr when any). */
#define BIG_FDS 3

/* The baseline: @size bytes written to the other process over a
 * socketpair and written back (a write loop and a read loop each way). */
void raw_big(size_t size, size_t warm, size_t n, bench_sample *s);

/*
 * epyrpc across fork, both ends with max_frame BIG_MAX_FRAME.
 * BIG_BYTES: calc_echo() of @size bytes over the socket; BIG_BYTES_SHM:
 * the same with shm on both ends; BIG_MEMFD: blob_echo_fd() of a memfd
 * of @size bytes, which the caller writes whole before each call, then
 * maps the descriptor that comes back and checks its first and last
 * bytes. BIG_BLOB: calc_echo() with blob_threshold on both ends: the
 * bytes go out of line in a sealed memfd, and come back as the same
 * memfd (the handler replies with its argument's view). BIG_BLOB_FWD:
 * the same, but what the caller sends is the view that its first echo
 * returned, never written to (a proxy passing a value on): its memfd
 * goes again, with no copy anywhere; each echo's reply is checked.
 * Returns false if it cannot run here (no memfd_create, or the
 * first blob_echo_fd() fails: descriptors do not travel; said on
 * stderr).
 */
#define BIG_BYTES 0
#define BIG_BYTES_SHM 1
#define BIG_MEMFD 2
#define BIG_BLOB 3
#define BIG_BLOB_FWD 4
#define BIG_MAX_FRAME ((size_t) 64 << 20)
bool big_echo(int mode, size_t size, size_t warm, size_t n,
              bench_sample *s);

/* --- idlc (idlc.c) -------------------------------------------------------- */

/*
 * Runs @idlc (protoc-c: @protoc, "" for idlc's own choice) @runs times
 * on an IDL of 100 namespaces of 20 methods in a temporary folder, then
 * removes it: s[i].v[0] is run i's wall time, s[i].cpu_us its CPU time
 * (idlc and protoc-c), both in seconds. A progress line per run on
 * stderr, with the seconds since @start_ns.
 */
void bench_idlc_runs(const char *idlc, const char *protoc, int runs,
                     int64_t start_ns, bench_sample *s);

#endif /* EPYRPC_BENCH_H */
