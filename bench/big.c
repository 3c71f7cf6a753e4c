/*
 * 16 MiB payloads: the big group of `make bench` (main.c wires it). Two
 * processes across fork, as in raw.c and epy.c:
 *
 * - raw_big(): the baseline, 16 MiB written to the other process over a
 *   socketpair and written back, with blocking write and read loops.
 * - big_echo(): calc_echo() of 16 MiB of bytes over the socket, the same
 *   with shared memory offered on both ends (epy_peer_config.shm; the
 *   frames go through its rings once the two ends have switched, the
 *   socket until then), the same with blob_threshold on both ends (the
 *   bytes travel in a sealed memfd, written from the caller's buffer in
 *   every call, and come back as that memfd: the handler replies with
 *   its argument's view), and blob_echo_fd() (bench/blob.idl) of a 16 MiB
 *   memfd. Only the descriptor moves there, so to be honest about what
 *   moves the caller writes the 16 MiB into the memfd before every call,
 *   and maps the descriptor that comes back to check it.
 *
 * Every echo carries its sequence number in its first 8 bytes and its
 * low byte in its last one; the caller checks both in every reply. Both
 * ends set max_frame to BIG_MAX_FRAME: the default, 16 MiB, is less than
 * a 16 MiB argument and its envelope.
 *
 * Memory per echo: the caller's resident memory (anonymous and shared:
 * RssAnon + RssShmem, not the pages of mapped files such as the
 * library's code) through the warm-up echoes (N) and through as many
 * again (main.c makes both counts equal: echo N to 2N). Buffers of
 * 16 MiB come and go (freed by other threads, kept or returned by
 * malloc), so the resident memory swings by tens of MiB from one echo
 * to the next: each half's figure is its highest, sampled after every
 * echo, and their difference is divided by N. The descriptors of both
 * processes are counted after the warm-up and at the end, so that a
 * leak of them shows too.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "blob.epy.h"
#include "calc.epy.h"

#include "bench.h"

/* How long one 16 MiB call may take (calc.idl says 2 s for calc.echo). */
#define BIG_TIMEOUT_MS 30000

/* @size bytes of a fixed pattern (touched: no page is left to fault). */
static uint8_t *
new_payload(size_t size)
{
    uint8_t *p = bench_xmalloc(size);

    if (size < 9)
        bench_die("big payloads carry a 9-byte stamp");
    for (size_t i = 0; i < size; i++)
        p[i] = (uint8_t) (i * 7 + 1);
    return p;
}

static void
stamp(uint8_t *p, size_t size, uint64_t seq)
{
    memcpy(p, &seq, sizeof seq);
    p[size - 1] = (uint8_t) seq;
}

static void
check_stamp(const uint8_t *p, size_t size, uint64_t seq, const char *what)
{
    uint64_t back;

    memcpy(&back, p, sizeof back);
    if (back != seq || p[size - 1] != (uint8_t) seq)
        bench_die("%s: wrong reply (echo %llu)", what,
                  (unsigned long long) seq);
}

/* --- memory and descriptors ----------------------------------------------- */

/* RssAnon + RssShmem of this process in KiB, or -1. */
static long
rss_kib(void)
{
    char line[128];
    long anon = -1, shmem = -1, v;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "RssAnon: %ld kB", &v) == 1)
            anon = v;
        else if (sscanf(line, "RssShmem: %ld kB", &v) == 1)
            shmem = v;
    }
    fclose(f);
    return anon < 0 || shmem < 0 ? -1 : anon + shmem;
}

/* The open descriptors of @pid (0: this process), or -1. */
static long
count_fds(pid_t pid)
{
    char path[64];
    struct dirent *e;
    long n = 0;
    DIR *d;

    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/fd");
    else
        snprintf(path, sizeof path, "/proc/%ld/fd", (long) pid);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The highest resident memory of each half, and the descriptors. */
typedef struct mark {
    long peak[2];
    long fds, other_fds;
} mark;

static void
mark_fds(mark *m, pid_t other)
{
    m->fds = count_fds(0);
    m->other_fds = count_fds(other);
}

/* After echo @i (0-based) of @warm + n. */
static void
mark_rss(mark *m, size_t i, size_t warm)
{
    long kib = rss_kib();
    int half = i >= warm;

    if (kib < 0)
        bench_die("cannot read RssAnon and RssShmem in /proc/self/status");
    if (kib > m->peak[half])
        m->peak[half] = kib;
}

/*
 * Fills @s from the latencies of @n echoes and @m (descriptors counted
 * after the warm-up). The other end may close a descriptor of the last
 * reply just after sending it: the count is taken again for up to a
 * second while it is higher.
 */
static void
finish(const char *what, const mark *m, pid_t other, int64_t *lat,
       size_t n, bench_sample *s)
{
    mark end;
    long grown;

    for (int tries = 0;; tries++) {
        struct timespec ts = { 0, 10000000 };

        mark_fds(&end, other);
        grown = (end.fds - m->fds) + (end.other_fds - m->other_fds);
        if (grown <= 0 || tries == 100)
            break;
        nanosleep(&ts, NULL);
    }
    if (grown > 0)
        fprintf(stderr, "\nbench: %s: %ld descriptors more after %zu "
                "echoes\n", what, grown, n);
    s->v[BIG_MS] = (double) bench_percentile(lat, n, 50) / 1e6;
    s->v[BIG_P99_MS] = (double) bench_percentile(lat, n, 99) / 1e6;
    s->v[BIG_RSS] = (double) (m->peak[1] - m->peak[0]) / (double) n;
    s->v[BIG_FDS] = (double) grown;
}

/* --- the baseline --------------------------------------------------------- */

void
raw_big(size_t size, size_t warm, size_t n, bench_sample *s)
{
    uint8_t *out = new_payload(size), *in = bench_xmalloc(size);
    int64_t *lat = bench_xmalloc((n ? n : 1) * sizeof *lat);
    mark m = { { 0, 0 }, 0, 0 };
    bench_cpu cpu;
    int sv[2];
    pid_t pid;

    if (n == 0)
        bench_die("raw_big: no echo to time");
    memset(in, 0, size);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        bench_die("socketpair: %s", strerror(errno));
    bench_cpu_start(&cpu);
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* Reads @size bytes, writes them back, until the end. */
        close(sv[0]);
        while (bench_read_full(sv[1], in, size) == 0)
            if (bench_write_full(sv[1], in, size) < 0)
                break;
        _exit(0);
    }
    close(sv[1]);
    for (size_t i = 0; i < warm + n; i++) {
        int64_t t0;

        if (i == warm)
            mark_fds(&m, pid);
        t0 = bench_now_ns();
        stamp(out, size, i);
        if (bench_write_full(sv[0], out, size) < 0
            || bench_read_full(sv[0], in, size) < 0)
            bench_die("raw big: the other end is gone");
        if (i >= warm)
            lat[i - warm] = bench_now_ns() - t0;
        check_stamp(in, size, i, "raw big");
        mark_rss(&m, i, warm);
    }
    finish("raw big", &m, pid, lat, n, s);
    close(sv[0]);
    bench_cpu_stop(&cpu, pid, warm + n, s);
    free(lat);
    free(in);
    free(out);
}

/* --- epyrpc --------------------------------------------------------------- */

static epy_interface ifaces[2];

static void
big_config(epy_peer_config *cfg, unsigned origin, int mode)
{
    ifaces[0] = calc_interface;
    ifaces[1] = blob_interface;
    epy_peer_config_init(cfg);
    cfg->origin = origin;
    cfg->interfaces = ifaces;
    cfg->n_interfaces = 2;
    cfg->max_frame = BIG_MAX_FRAME;
    cfg->shm = mode == BIG_BYTES_SHM;
    cfg->blob_threshold =
        mode == BIG_BLOB || mode == BIG_BLOB_FWD ? (size_t) 64 << 10 : 0;
}

static int
srv_calc_echo(epy_call *call, const epy_bytes *data, epy_bytes *ret_result,
              void *ctx)
{
    (void) ret_result;
    (void) ctx;
    calc_echo_reply(call, data);
    return EPY_GEN_ANSWERED;
}

static int
srv_blob_echo(epy_call *call, const epy_bytes *data, epy_bytes *ret_result,
              void *ctx)
{
    (void) ret_result;
    (void) ctx;
    blob_echo_reply(call, data);
    return EPY_GEN_ANSWERED;
}

/* @f is closed when this returns: the reply gets a descriptor of its own
 * (closed in its turn once sent). */
static int
srv_echo_fd(epy_call *call, int f, int *ret_result, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret_result = dup(f);
    return *ret_result < 0 ? EPY_ESYSTEM : 0;
}

static void
srv_gone(epy_peer *peer, int reason, void *ctx)
{
    (void) peer;
    (void) reason;
    sem_post(ctx);
}

/* The child process: serves calc.echo and blob until the end. */
static void
big_server(epy_link *link, int mode, int ready_fd)
{
    static const epy_listener l = { NULL, NULL, srv_gone };
    calc_handlers ch = { 0 };
    blob_handlers bh = { 0 };
    epy_error err = EPY_ERROR_INIT;
    epy_peer_config cfg;
    epy_peer *peer;
    sem_t gone;

    sem_init(&gone, 0, 0);
    big_config(&cfg, EPY_ORIGIN_NECK, mode);
    cfg.listener = &l;
    cfg.listener_ctx = &gone;
    bench_check(epy_link_peer(link, EPY_LINK_NECK, &cfg, &peer, &err), &err,
          "epy_link_peer");
    ch.echo = srv_calc_echo;
    bh.echo = srv_blob_echo;
    bh.echo_fd = srv_echo_fd;
    bench_check(calc_serve(peer, &ch, NULL), NULL, "calc_serve");
    bench_check(blob_serve(peer, &bh, NULL), NULL, "blob_serve");
    if (bench_write_full(ready_fd, "r", 1) < 0)
        _exit(1);
    close(ready_fd);
    while (sem_wait(&gone) < 0 && errno == EINTR)
        ;
    calc_unserve(peer);
    blob_unserve(peer);
    epy_peer_close(peer);
    sem_destroy(&gone);
    _exit(0);
}

typedef struct bconn {
    pid_t pid;
    epy_peer *peer;
    calc_api *calc;
    blob_api *blob;
    bench_cpu cpu;
} bconn;

static void
bconn_open(bconn *c, int mode)
{
    epy_link link = EPY_LINK_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_peer_config cfg;
    int ready[2];
    char byte;

    memset(c, 0, sizeof *c);
    bench_check(epy_link_open(&link, &err), &err, "epy_link_open");
    if (pipe(ready) < 0)
        bench_die("pipe: %s", strerror(errno));
    bench_cpu_start(&c->cpu);
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (c->pid == 0) {
        close(ready[0]);
        big_server(&link, mode, ready[1]);
    }
    close(ready[1]);
    big_config(&cfg, EPY_ORIGIN_HEAD, mode);
    bench_check(epy_link_peer(&link, EPY_LINK_HEAD, &cfg, &c->peer, &err), &err,
          "epy_link_peer");
    bench_check(calc_api_open(c->peer, &c->calc, &err), &err, "calc_api_open");
    bench_check(blob_api_open(c->peer, &c->blob, &err), &err, "blob_api_open");
    bench_check(epy_peer_wait_ready(c->peer, 10000, &err), &err, "wait_ready");
    if (bench_read_full(ready[0], &byte, 1) < 0)
        bench_die("the answering process did not start");
    close(ready[0]);
}

static void
bconn_close(bconn *c, size_t calls, bench_sample *s)
{
    c->blob = blob_api_close(c->blob);
    c->calc = calc_api_close(c->calc);
    c->peer = epy_peer_close(c->peer);
    bench_cpu_stop(&c->cpu, c->pid, calls, s);
}

/* calc_echo() of @buf, stamped @i, and the reply checked. */
static void
echo_bytes(bconn *c, uint8_t *buf, size_t size, uint64_t i)
{
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_bytes arg = { buf, size }, rep = { NULL, 0 };

    opts.timeout_ms = BIG_TIMEOUT_MS;
    stamp(buf, size, i);
    bench_check(calc_echo_opts(c->calc, &arg, &opts, &rep, &err), &err,
          "calc_echo");
    if (rep.len != size)
        bench_die("calc_echo: %zu bytes back, not %zu", rep.len, size);
    check_stamp(rep.data, size, i, "calc_echo");
    epy_bytes_clear(&rep);
}

/*
 * calc_echo() of *@view, the view of its memfd that the first echo (@i
 * 0, of @buf) returned, and the reply checked against that first echo.
 */
static void
echo_view(bconn *c, epy_bytes *view, uint8_t *buf, size_t size, uint64_t i)
{
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_bytes arg = { buf, size }, rep = { NULL, 0 };

    opts.timeout_ms = BIG_TIMEOUT_MS;
    if (i == 0)
        stamp(buf, size, 0);
    else
        arg = *view;
    bench_check(calc_echo_opts(c->calc, &arg, &opts, &rep, &err), &err,
          "calc_echo");
    if (rep.len != size)
        bench_die("calc_echo: %zu bytes back, not %zu", rep.len, size);
    check_stamp(rep.data, size, 0, "calc_echo of a view");
    if (i == 0)
        *view = rep;
    else
        epy_bytes_clear(&rep);
}

static int
pwrite_full(int fd, const uint8_t *p, size_t n)
{
    off_t off = 0;

    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        off += w;
        n -= (size_t) w;
    }
    return 0;
}

/*
 * The 16 MiB written into @mfd, the descriptor passed and echoed, the
 * echoed one mapped and checked. A failure of the first echo (@i 0:
 * descriptors cannot travel here, or not yet) is returned, with a line
 * on stderr, so that the row is skipped and the other groups go on;
 * a later one is fatal.
 */
static int
echo_memfd(bconn *c, int mfd, uint8_t *buf, size_t size, uint64_t i)
{
    epy_error err = EPY_ERROR_INIT;
    const uint8_t *map;
    int back = -1, rc;

    stamp(buf, size, i);
    if (pwrite_full(mfd, buf, size) < 0)
        bench_die("memfd write: %s", strerror(errno));
    rc = blob_echo_fd(c->blob, mfd, &back, &err);
    if (rc < 0 && i == 0) {
        fprintf(stderr, "\nbench: blob_echo_fd: %s%s%s: the memfd rows "
                "are skipped\n", epy_strerror(rc),
                err.message != NULL ? ": " : "",
                err.message != NULL ? err.message : "");
        epy_error_clear(&err);
        return rc;
    }
    bench_check(rc, &err, "blob_echo_fd");
    map = mmap(NULL, size, PROT_READ, MAP_SHARED, back, 0);
    if (map == MAP_FAILED)
        bench_die("mmap of the echoed descriptor: %s", strerror(errno));
    check_stamp(map, size, i, "blob_echo_fd");
    munmap((void *) map, size);
    close(back);
    return 0;
}

bool
big_echo(int mode, size_t size, size_t warm, size_t n, bench_sample *s)
{
    static const char *const what[5] = { "calc_echo", "calc_echo shm",
                                         "blob_echo_fd", "calc_echo blob",
                                         "calc_echo blob sent on" };
    epy_bytes view = { NULL, 0 };
    uint8_t *buf = new_payload(size);
    int64_t *lat = bench_xmalloc((n ? n : 1) * sizeof *lat);
    mark m = { { 0, 0 }, 0, 0 };
    bool ok = true;
    int mfd = -1;
    bconn c;

    if (mode < BIG_BYTES || mode > BIG_BLOB_FWD || n == 0)
        bench_die("big_echo: bad parameters");
    if (mode == BIG_MEMFD) {
        mfd = memfd_create("epybench", MFD_CLOEXEC);
        if (mfd < 0 && errno == ENOSYS) {
            free(lat);
            free(buf);
            return false;
        }
        if (mfd < 0 || ftruncate(mfd, (off_t) size) < 0)
            bench_die("memfd: %s", strerror(errno));
    }
    bconn_open(&c, mode);
    for (size_t i = 0; i < warm + n && ok; i++) {
        int64_t t0;

        if (i == warm)
            mark_fds(&m, c.pid);
        t0 = bench_now_ns();
        if (mode == BIG_MEMFD)
            ok = echo_memfd(&c, mfd, buf, size, i) == 0;
        else if (mode == BIG_BLOB_FWD)
            echo_view(&c, &view, buf, size, i);
        else
            echo_bytes(&c, buf, size, i);
        if (i >= warm)
            lat[i - warm] = bench_now_ns() - t0;
        if (ok)
            mark_rss(&m, i, warm);
    }
    if (ok) {
        finish(what[mode], &m, c.pid, lat, n, s);
    }
    epy_bytes_clear(&view);
    bconn_close(&c, warm + n, s);
    if (mfd >= 0)
        close(mfd);
    free(lat);
    free(buf);
    return ok;
}
