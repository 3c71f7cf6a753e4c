/*
 * bench/attack's processes (see attack.h): the server process under
 * attack, with handlers that report to the attacker through shm, a raw
 * server that never reads, the figures of a process, and the children
 * that call through the library (so that the attacker never holds
 * library threads across a fork()).
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

#include "attack.h"
#include "calc.epy.h"

/* --- processes ---------------------------------------------------------- */

/* A "Vm...:" line of /proc/@pid/status, in KiB; -1 if absent. */
static long
proc_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    size_t klen = strlen(key);
    long v = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", (long) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) == 0) {
            v = strtol(line + klen, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

int
proc_threads(pid_t pid)
{
    char path[64];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof path, "/proc/%ld/task", (long) pid);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

bool
alive(pid_t pid)
{
    int st;

    return waitpid(pid, &st, WNOHANG) == 0;
}

void
kill_wait(pid_t pid)
{
    int st;

    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

pid_t
child_run(void (*fn)(const char *url, int out), const char *url, int *ret_fd)
{
    int p[2];
    pid_t pid;

    if (pipe(p) < 0)
        die("pipe");
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm(60);
        fn(url, p[1]);
        _exit(0);
    }
    close(p[1]);
    *ret_fd = p[0];
    return pid;
}

bool
read_line(int fd, double deadline, char *line, size_t size)
{
    size_t n = 0;

    while (n + 1 < size) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        double left = deadline - now_s();
        ssize_t r;

        if (left <= 0 || poll(&pfd, 1, (int) (left * 1000) + 1) <= 0) {
            if (now_s() >= deadline)
                break;
            continue;
        }
        r = read(fd, line + n, 1);
        if (r <= 0)
            break;
        if (line[n] == '\n') {
            line[n] = '\0';
            return true;
        }
        n++;
    }
    line[n] = '\0';
    return false;
}

void
emit(int fd, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && write(fd, line, strlen(line)) < 0)
        _exit(1);
}

/* --- the server --------------------------------------------------------- */

static int
h_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    snprintf(shm->last_method, sizeof shm->last_method, "%s",
             epy_call_method(call));
    atomic_fetch_add(&shm->echo_calls, 1);
    return epy_call_reply(call, req, len);
}

/* Sleeps 15 s, whatever the caller does. */
static int
h_sleep(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call, (void) req, (void) len, (void) ctx;
    atomic_fetch_add(&shm->sleep_started, 1);
    sleep_s(15);
    return 0;
}

/* Holds its request for 2 s. */
static int
h_hold(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call, (void) req, (void) len, (void) ctx;
    atomic_fetch_add(&shm->hold_calls, 1);
    sleep_s(2);
    return 0;
}

/* Calls the caller back (c.back), waiting up to 30 s. */
static int
h_nested(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    epy_error err = EPY_ERROR_INIT;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_api *api;
    int rc;

    (void) req, (void) len, (void) ctx;
    atomic_fetch_add(&shm->nested_started, 1);
    rc = epy_api_open(epy_call_peer(call), "c", &api, &err);
    if (rc == 0) {
        opts.timeout_ms = 30000;
        rc = epy_api_call(api, "back", NULL, 0, &opts, NULL, &err);
        epy_api_close(api);
    }
    epy_error_clear(&err);
    return rc < 0 ? rc : 0;
}

static int
h_centroid(epy_call *call, const calc_point_list *pts, calc_point *ret,
           void *ctx)
{
    (void) call, (void) ctx;
    atomic_fetch_add(&shm->centroid_calls, 1);
    atomic_fetch_add(&shm->centroid_points, (long) pts->n);
    ret->x = ret->y = 0;
    for (size_t i = 0; i < pts->n; i++) {
        ret->x += pts->items[i].x;
        ret->y += pts->items[i].y;
    }
    return 0;
}

static atomic_int gen_served;

/* Serves the typed calc.stats on the first client, the server's own. */
static void
on_connect(epy_server *srv, epy_peer *peer, int reason, void *ctx)
{
    static const calc_stats_handlers tbl = { h_centroid, NULL, NULL };

    (void) srv, (void) reason, (void) ctx;
    if (atomic_load(&gen_served) == 0)
        atomic_store(&gen_served, calc_stats_serve(peer, &tbl, NULL) == 0
                                  ? 1 : -1);
}

static void
server_main(const server *s, const server_opts *o, int ready)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;
    epy_peer *self = NULL;
    char ok = 1;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(60);                  /* whatever happens, not for ever */
    cfg.peer.compress_threshold = o->compress_threshold;
    if (o->handshake_timeout_ms > 0)
        cfg.handshake_timeout_ms = o->handshake_timeout_ms;
    if (o->gen)
        cfg.on_connect = on_connect;
    if (epy_server_new(s->url, &cfg, &srv, &err) < 0
        || epy_server_handle(srv, "t.echo", h_echo, NULL, &err) < 0
        || epy_server_handle(srv, "t.sleep", h_sleep, NULL, &err) < 0
        || epy_server_handle(srv, "t.hold", h_hold, NULL, &err) < 0
        || epy_server_handle(srv, "t.nested", h_nested, NULL, &err) < 0) {
        fprintf(stderr, "attack: server: %s\n", err.message);
        _exit(1);
    }
    if (o->gen) {
        /*
         * The generated skeleton registers on a peer: on the server's
         * own first client, into the table all clients share. That
         * client stays connected, so the registration stays.
         */
        if (epy_connect(s->url, NULL, 5000, &self, &err) < 0) {
            fprintf(stderr, "attack: server: %s\n", err.message);
            _exit(1);
        }
        for (int i = 0; i < 500 && atomic_load(&gen_served) == 0; i++)
            sleep_s(0.01);
        if (atomic_load(&gen_served) != 1) {
            fprintf(stderr, "attack: server: cannot serve calc.stats\n");
            _exit(1);
        }
    }
    if (write(ready, &ok, 1) != 1)
        _exit(1);
    for (;;)
        pause();
}

bool
server_start(server *s, const server_opts *o)
{
    int p[2];
    char c;
    struct pollfd pfd;

    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s/s%d.sock", sock_dir, sock_seq++);
    snprintf(s->url, sizeof s->url, "unix:%s", s->path);
    memset(shm, 0, sizeof *shm);
    if (pipe(p) < 0)
        die("pipe");
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0)
        die("fork");
    if (s->pid == 0) {
        close(p[0]);
        server_main(s, o, p[1]);
        _exit(0);
    }
    close(p[1]);
    pfd.fd = p[0];
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (poll(&pfd, 1, 10000) != 1 || read(p[0], &c, 1) != 1) {
        close(p[0]);
        kill_wait(s->pid);
        s->pid = 0;
        return false;
    }
    close(p[0]);
    sleep_s(0.2);
    s->hwm0 = proc_kb(s->pid, "VmHWM:");
    s->rss0 = proc_kb(s->pid, "VmRSS:");
    s->threads0 = proc_threads(s->pid);
    return true;
}

double
hwm_growth_mib(const server *s)
{
    long v = proc_kb(s->pid, "VmHWM:");

    return v < 0 ? -1 : (double) (v - s->hwm0) / 1024.0;
}

double
rss_growth_mib(const server *s)
{
    long v = proc_kb(s->pid, "VmRSS:");

    return v < 0 ? -1 : (double) (v - s->rss0) / 1024.0;
}

void
server_stop(server *s)
{
    kill_wait(s->pid);
    s->pid = 0;
    unlink(s->path);
}

/* --- a server that never reads ------------------------------------------ */

pid_t
deaf_server(const char *path)
{
    struct sockaddr_un sun;
    int lfd, p[2];
    pid_t pid;
    char ok;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    unlink(path);
    if (bind(lfd, (struct sockaddr *) &sun, sizeof sun) < 0
        || listen(lfd, 8) < 0)
        die("bind");
    if (pipe(p) < 0)
        die("pipe");
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        wbuf b = { 0 };
        int fd;

        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm(60);
        ok = 1;
        if (write(p[1], &ok, 1) != 1)
            _exit(1);
        frame_hello(&b, 0, false);
        for (;;) {
            fd = accept(lfd, NULL, NULL);
            if (fd >= 0 && send(fd, b.p, b.len, MSG_NOSIGNAL) < 0)
                close(fd);
            /* never read; keep the descriptor open */
        }
    }
    close(lfd);
    close(p[1]);
    if (read(p[0], &ok, 1) != 1)
        die("deaf server");
    close(p[0]);
    return pid;
}
