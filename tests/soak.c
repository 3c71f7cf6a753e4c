/*
 * Soak test (`make soak`, not part of `make check`): one server process
 * and several client processes making mixed sync and async calls and
 * sending events, while clients are killed with SIGKILL and restarted at
 * random. At the end: every call that succeeded got the right answer,
 * every other call got an error in time (none hung), and the server's
 * thread count, descriptor count and memory are back where they started.
 *
 * Usage: soak [SECONDS] [CLIENTS]   (default 120 s, 6 clients)
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

#define MAX_CLIENTS 64
#define CALL_TIMEOUT_MS 5000

/* Counters shared by every process through a file mapping. */
typedef struct stats {
    atomic_long ok;             /* answered, and right */
    atomic_long wrong;          /* answered, but wrong */
    atomic_long failed;         /* an error came back */
    atomic_long late;           /* took longer than its timeout allows */
    atomic_long events;         /* sent */
    atomic_long events_seen;    /* received by the server */
    atomic_int stop;
} stats;

static stats *st;
static char self[4096];     /* this program, which the clients run */

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
count_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static long
rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;

    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* --- server side ------------------------------------------------------------ */

/* "a b" -> "a+b" */
static int
add(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    char in[64], out[32];
    long long a, b;

    (void) ctx;
    snprintf(in, sizeof in, "%.*s", (int) len, (const char *) req);
    if (sscanf(in, "%lld %lld", &a, &b) != 2)
        return EPY_EPARAM;
    snprintf(out, sizeof out, "%lld", a + b);
    return epy_call_reply(call, out, strlen(out));
}

/* Like add, after a short pause: calls stay in flight when clients die. */
static int
slow_add(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    struct timespec ts = { 0, (long) (rand() % 20) * 1000000 };

    nanosleep(&ts, NULL);
    return add(call, req, len, ctx);
}

static int
note(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call;
    (void) req;
    (void) len;
    (void) ctx;
    atomic_fetch_add(&st->events_seen, 1);
    return 0;
}

/* --- client side ------------------------------------------------------------- */

static bool
check(const epy_buf *out, long long expect)
{
    char buf[32];

    snprintf(buf, sizeof buf, "%lld", expect);
    return out->len == strlen(buf) && memcmp(out->data, buf, out->len) == 0;
}

static void
account(int rc, const epy_buf *out, long long expect, int64_t t0)
{
    if (now_ms() - t0 > CALL_TIMEOUT_MS + 2000)
        atomic_fetch_add(&st->late, 1);
    if (rc < 0)
        atomic_fetch_add(&st->failed, 1);
    else if (check(out, expect))
        atomic_fetch_add(&st->ok, 1);
    else
        atomic_fetch_add(&st->wrong, 1);
}

static int
client(const char *url, unsigned seed)
{
    epy_peer *peer = NULL;
    epy_api *api;
    epy_buf out = EPY_BUF_INIT;
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;

    srand(seed);
    cfg.workers = 2;
    if (epy_connect(url, &cfg, CALL_TIMEOUT_MS, &peer, NULL) < 0)
        return 2;
    epy_api_open(peer, "s", &api, NULL);
    epy_api_set_timeout(api, CALL_TIMEOUT_MS);
    while (!atomic_load(&st->stop) && epy_peer_is_connected(peer)) {
        long long a = rand() % 100000, b = rand() % 100000;
        char req[48];
        int n = snprintf(req, sizeof req, "%lld %lld", a, b);
        int64_t t0 = now_ms();
        int what = rand() % 10, rc;

        if (what < 4) {
            rc = epy_api_call(api, what < 2 ? "add" : "slow_add", req,
                              (size_t) n, NULL, &out, NULL);
            account(rc, &out, a + b, t0);
        } else if (what < 8) {
            epy_async *as = NULL;
            sem_t sem;
            epy_call_opts o = EPY_CALL_OPTS_INIT;

            sem_init(&sem, 0, 0);
            if (what < 6)
                o.sem = &sem;
            rc = epy_api_call_async(api, "slow_add", req, (size_t) n, &o, &as,
                                    NULL);
            if (rc == 0) {
                if (what < 6)
                    while (sem_wait(&sem) < 0 && errno == EINTR)
                        ;
                rc = epy_async_wait(as, CALL_TIMEOUT_MS + 1000);
                if (rc == 0)
                    rc = epy_async_result(as, &out, NULL);
                epy_async_release(as);
            }
            sem_destroy(&sem);
            account(rc, &out, a + b, t0);
        } else {
            if (epy_api_send(api, "note", req, (size_t) n, NULL) == 0)
                atomic_fetch_add(&st->events, 1);
        }
    }
    epy_buf_clear(&out);
    epy_api_close(api);
    epy_peer_close(peer);
    return 0;
}

static pid_t
spawn(const char *prog, const char *url, const char *statfile, unsigned seed)
{
    char sseed[16];
    pid_t pid;

    snprintf(sseed, sizeof sseed, "%u", seed);
    pid = fork();
    if (pid == 0) {
        execl(prog, prog, "--client", url, statfile, sseed, (char *) NULL);
        _exit(127);
    }
    return pid;
}

static stats *
map_stats(const char *path, bool create)
{
    int fd = open(path, create ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR, 0600);
    void *p;

    if (fd < 0 || (create && ftruncate(fd, sizeof(stats)) < 0))
        return NULL;
    p = mmap(NULL, sizeof(stats), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

static void
wait_clients_gone(epy_server *srv, int64_t ms)
{
    int64_t deadline = now_ms() + ms;

    while (epy_server_clients(srv) > 0 && now_ms() < deadline)
        usleep(10000);
}

int
main(int argc, char **argv)
{
    char dir[64] = "/tmp/epy-soak-XXXXXX", url[128], statfile[128];
    int seconds, nclients, kills = 0, bad = 0;
    int threads0, fds0, threads1, fds1;
    long rss0, rss1;
    pid_t pids[MAX_CLIENTS];
    epy_server *srv;
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    int64_t end;

    if (realpath(argv[0], self) == NULL)
        snprintf(self, sizeof self, "%s", argv[0]);
    if (argc == 5 && strcmp(argv[1], "--client") == 0) {
        st = map_stats(argv[3], false);
        return st != NULL ? client(argv[2], (unsigned) atoi(argv[4])) : 3;
    }
    seconds = argc > 1 ? atoi(argv[1]) : 120;
    nclients = argc > 2 ? atoi(argv[2]) : 6;
    if (seconds < 1 || nclients < 1 || nclients > MAX_CLIENTS) {
        fprintf(stderr, "usage: soak [SECONDS] [CLIENTS (1..%d)]\n", MAX_CLIENTS);
        return 2;
    }
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(url, sizeof url, "unix:%s/soak.sock", dir);
    snprintf(statfile, sizeof statfile, "%s/stats", dir);
    st = map_stats(statfile, true);
    cfg.peer.workers = 2;
    if (st == NULL || epy_server_new(url, &cfg, &srv, &err) < 0) {
        fprintf(stderr, "soak: %s\n", err.message ? err.message : "setup failed");
        return 1;
    }
    epy_server_handle(srv, "s.add", add, NULL, NULL);
    epy_server_handle(srv, "s.slow_add", slow_add, NULL, NULL);
    epy_server_handle(srv, "s.note", note, NULL, NULL);

    /* Warm up: one client comes and goes, then take the baseline. */
    atomic_store(&st->stop, 0);
    pids[0] = spawn(self, url, statfile, 1);
    usleep(300000);
    atomic_store(&st->stop, 1);
    waitpid(pids[0], NULL, 0);
    wait_clients_gone(srv, 5000);
    memset((void *) st, 0, sizeof *st);
    threads0 = count_dir("/proc/self/task");
    fds0 = count_dir("/proc/self/fd");
    rss0 = rss_kib();

    srand((unsigned) getpid());
    for (int i = 0; i < nclients; i++)
        pids[i] = spawn(self, url, statfile, (unsigned) rand());
    end = now_ms() + seconds * 1000;
    while (now_ms() < end) {
        int victim = rand() % nclients;

        usleep((useconds_t) (50000 + rand() % 450000));
        kill(pids[victim], SIGKILL);
        waitpid(pids[victim], NULL, 0);
        kills++;
        pids[victim] = spawn(self, url, statfile, (unsigned) rand());
    }
    atomic_store(&st->stop, 1);
    for (int i = 0; i < nclients; i++) {
        int status;

        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "soak: a client ended with status %d\n", status);
            bad++;
        }
    }
    wait_clients_gone(srv, 10000);
    threads1 = count_dir("/proc/self/task");
    fds1 = count_dir("/proc/self/fd");
    rss1 = rss_kib();

    printf("soak: %d s, %d clients, %d kills\n", seconds, nclients, kills);
    printf("calls: %ld right, %ld wrong, %ld failed with an error, %ld late\n",
           atomic_load(&st->ok), atomic_load(&st->wrong),
           atomic_load(&st->failed), atomic_load(&st->late));
    printf("events: %ld sent, %ld received\n", atomic_load(&st->events),
           atomic_load(&st->events_seen));
    printf("server threads %d -> %d, descriptors %d -> %d, RSS %ld -> %ld KiB\n",
           threads0, threads1, fds0, fds1, rss0, rss1);
    if (atomic_load(&st->wrong) || atomic_load(&st->late) || atomic_load(&st->ok) == 0)
        bad++;
    if (threads1 != threads0 || fds1 != fds0 || epy_server_clients(srv) != 0)
        bad++;
    /* Allocator caches may keep a little; growth must stay small. */
    if (rss1 - rss0 > 8192)
        bad++;
    epy_server_close(srv);
    munmap((void *) st, sizeof *st);
    unlink(statfile);
    rmdir(dir);
    printf("%s\n", bad ? "FAILED" : "passed");
    return bad ? 1 : 0;
}
