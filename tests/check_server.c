/*
 * Servers: many client processes over a unix socket and over TCP, clients
 * that misbehave (garbage, a 4 GiB length prefix, half a frame, never
 * reading their replies, never saying hello, leaving while their handlers
 * run), socket permissions and symbolic links, peer credentials and the
 * allowed uids, stale socket files, the client limit, addresses and
 * configurations refused.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "peer-int.h"
#include "testutil.h"
#include "wire-helpers.h"

static tu_resources res;
static char dir[64];
static char url[160];
static epy_server *srv;

static void
setup(void)
{
    tu_resources_take(&res);
    snprintf(dir, sizeof dir, "/tmp/epy-srv-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(url, sizeof url, "unix:%s/s.sock", dir);
    srv = NULL;
}

static void assert_only(const char *name);

static void
teardown(void)
{
    char path[128];

    srv = epy_server_close(srv);
    snprintf(path, sizeof path, "%s/s.sock", dir);
    ck_assert_msg(access(path, F_OK) != 0, "socket file left behind");
    assert_only(NULL);      /* no private folder of a server either */
    rmdir(dir);
    tu_resources_check(&res);
}

static int
echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

/* Answers "pid uid gid address" of the caller as the server sees it. */
static int
whoami(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    epy_credentials c;
    char out[160];

    (void) req;
    (void) len;
    (void) ctx;
    if (epy_peer_credentials(epy_call_peer(call), &c) < 0)
        return EPY_EFAILED;
    snprintf(out, sizeof out, "%ld %ld %ld %s", c.pid, c.uid, c.gid, c.address);
    return epy_call_reply(call, out, strlen(out));
}

static void
start_server(const char *where, const epy_server_config *cfg)
{
    epy_error err = EPY_ERROR_INIT;

    ck_assert_msg(epy_server_new(where, cfg, &srv, &err) == 0, "%s",
                  err.message);
    ck_assert_int_eq(epy_server_handle(srv, "t.echo", echo, NULL, NULL), 0);
    ck_assert_int_eq(epy_server_handle(srv, "t.whoami", whoami, NULL, NULL), 0);
}

/* One client: @calls echo calls with its own payloads; 0 if all right. */
static int
client_run(const char *where, int id, int calls)
{
    epy_peer *peer;
    epy_api *api;
    epy_buf out = EPY_BUF_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    int bad = 0;

    cfg.workers = 1;
    if (epy_connect(where, &cfg, 10000, &peer, &err) < 0) {
        fprintf(stderr, "client %d: connect: %s\n", id, err.message);
        return 2;
    }
    epy_api_open(peer, "t", &api, NULL);
    epy_api_set_timeout(api, 20000);
    for (int i = 0; i < calls && !bad; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "client %d call %d", id, i);

        if (epy_api_call(api, "echo", msg, (size_t) n, NULL, &out, &err) < 0) {
            fprintf(stderr, "client %d call %d: %s\n", id, i, err.message);
            bad = 3;
        } else if (out.len != (size_t) n || memcmp(out.data, msg, (size_t) n)) {
            bad = 4;
        }
    }
    epy_buf_clear(&out);
    epy_error_clear(&err);
    epy_api_close(api);
    epy_peer_close(peer);
    return bad;
}

/* This program, for the clients to run (not /proc/self/exe: under
 * valgrind that is valgrind itself). */
static char self_path[4096];

/*
 * Client processes run this program again (exec), so that they start
 * single-threaded: forking a process that has threads, then starting
 * threads in the child, is what ThreadSanitizer cannot follow.
 */
static pid_t
spawn_client(const char *mode, const char *where, int id, int calls)
{
    char sid[16], scalls[16];
    pid_t pid;

    snprintf(sid, sizeof sid, "%d", id);
    snprintf(scalls, sizeof scalls, "%d", calls);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(self_path, "check_server", mode, where, sid, scalls,
              (char *) NULL);
        _exit(127);
    }
    return pid;
}

/*
 * The other-uid client: connecting must be refused with EACCES (a socket
 * file) or by the server (an abstract socket, @abstract).
 */
static int
other_uid_client(const char *where, bool abstract)
{
    epy_peer *peer;
    epy_error err = EPY_ERROR_INIT;
    int rc;

    if (setgid(65534) < 0 || setuid(65534) < 0)
        return 10;
    rc = epy_connect(where, NULL, 5000, &peer, &err);
    rc = rc == EPY_EDISCONNECTED && (abstract || err.sys_errno == EACCES)
         ? 0 : 11;
    epy_error_clear(&err);
    return rc;
}

static void
many_clients(const char *where, int nclients, int calls)
{
    pid_t *pids = calloc((size_t) nclients, sizeof *pids);

    for (int i = 0; i < nclients; i++)
        pids[i] = spawn_client("--client", where, i, calls);
    for (int i = 0; i < nclients; i++) {
        int status;

        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "client %d ended with status %d", i, status);
    }
    free(pids);
}

/* A client that connects and calls at once, whatever the server's state. */
typedef struct eager {
    const char *where;
    int rc;
    char reply[32];
} eager;

static void *
eager_client(void *arg)
{
    eager *e = arg;
    epy_peer *peer;
    epy_api *api;
    epy_buf out = EPY_BUF_INIT;

    e->rc = epy_connect(e->where, NULL, 10000 * tu_slow(), &peer, NULL);
    if (e->rc < 0)
        return NULL;
    epy_api_open(peer, "t", &api, NULL);
    epy_api_set_timeout(api, 5000 * tu_slow());
    e->rc = epy_api_call(api, "echo", "first", 5, NULL, &out, NULL);
    if (e->rc == 0 && out.len < sizeof e->reply)
        memcpy(e->reply, out.data, out.len);
    epy_buf_clear(&out);
    epy_api_close(api);
    epy_peer_close(peer);
    return NULL;
}

START_TEST(test_paused_server)
{
    /* Made paused, a server accepts nobody until it is started: a client
     * that connects first waits, and its first call meets the handler
     * registered meanwhile, never "no handler". */
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    eager e = { url, EPY_EPENDING, "" };
    pthread_t t;

    cfg.peer.start_paused = true;
    ck_assert_int_eq(epy_server_new(url, &cfg, &srv, NULL), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, eager_client, &e), 0);
    usleep(200000);     /* the client is connecting: nobody accepts it */
    ck_assert_uint_eq(epy_server_clients(srv), 0);
    ck_assert_int_eq(epy_server_handle(srv, "t.echo", echo, NULL, NULL), 0);
    ck_assert_int_eq(epy_server_start(srv), 0);
    ck_assert_int_eq(epy_server_start(srv), EPY_EPARAM);
    pthread_join(t, NULL);
    ck_assert_int_eq(e.rc, 0);
    ck_assert_str_eq(e.reply, "first");
}
END_TEST

START_TEST(test_paused_server_closed)
{
    /* A server closed without having been started leaves nothing. */
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;

    cfg.peer.start_paused = true;
    ck_assert_int_eq(epy_server_new(url, &cfg, &srv, NULL), 0);
    ck_assert_int_eq(epy_server_start(NULL), EPY_EPARAM);
    srv = epy_server_close(srv);
}
END_TEST

START_TEST(test_unix_many_clients)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    int64_t deadline;

    cfg.peer.workers = 2;
    start_server(url, &cfg);
    many_clients(url, 50, 1000 / tu_slow());
    /* Every client's peer is closed once it has gone. */
    deadline = tu_now_ms() + 10000;
    while (epy_server_clients(srv) > 0 && tu_now_ms() < deadline)
        usleep(10000);
    ck_assert_uint_eq(epy_server_clients(srv), 0);
}
END_TEST

START_TEST(test_tcp_clients)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;

    cfg.peer.workers = 2;
    start_server("tcp:127.0.0.1:0", &cfg);
    ck_assert_ptr_nonnull(strstr(epy_server_url(srv), "tcp:127.0.0.1:"));
    ck_assert_str_ne(epy_server_url(srv), "tcp:127.0.0.1:0");
    many_clients(epy_server_url(srv), 8, 500 / tu_slow());
}
END_TEST

START_TEST(test_tcp_ipv6)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;

    if (epy_server_new("tcp:[::1]:0", &cfg, &srv, &err) < 0) {
        /* A machine without IPv6 loopback. */
        fprintf(stderr, "skipped: no IPv6 loopback: %s\n", err.message);
        epy_error_clear(&err);
        return;
    }
    ck_assert_int_eq(epy_server_handle(srv, "t.echo", echo, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(epy_server_url(srv), "tcp:[::1]:"));
    ck_assert_int_eq(client_run(epy_server_url(srv), 0, 20), 0);
}
END_TEST

START_TEST(test_credentials)
{
    epy_peer *peer;
    epy_api *api;
    epy_buf out = EPY_BUF_INIT;
    char expect[64];

    start_server(url, NULL);
    ck_assert_int_eq(epy_connect(url, NULL, 5000, &peer, NULL), 0);
    ck_assert_ptr_null(epy_peer_server(peer));
    ck_assert_int_eq(epy_api_open(peer, "t", &api, NULL), 0);
    ck_assert_int_eq(epy_api_call(api, "whoami", NULL, 0, NULL, &out, NULL), 0);
    snprintf(expect, sizeof expect, "%ld %ld %ld unix", (long) getpid(),
             (long) getuid(), (long) getgid());
    ck_assert_uint_eq(out.len, strlen(expect));
    ck_assert_mem_eq(out.data, expect, out.len);
    epy_buf_clear(&out);
    epy_api_close(api);
    epy_peer_close(peer);
}
END_TEST

START_TEST(test_tcp_credentials_address)
{
    epy_peer *peer;
    epy_api *api;
    epy_buf out = EPY_BUF_INIT;

    start_server("tcp:127.0.0.1:0", NULL);
    ck_assert_int_eq(epy_connect(epy_server_url(srv), NULL, 5000, &peer, NULL), 0);
    ck_assert_int_eq(epy_api_open(peer, "t", &api, NULL), 0);
    ck_assert_int_eq(epy_api_call(api, "whoami", NULL, 0, NULL, &out, NULL), 0);
    ck_assert_int_eq(epy_buf_reserve(&out, out.len + 1), 0);
    out.data[out.len] = '\0';
    ck_assert_msg(strncmp((char *) out.data, "-1 -1 -1 tcp:127.0.0.1:", 23) == 0,
                  "got '%s'", (char *) out.data);
    epy_buf_clear(&out);
    epy_api_close(api);
    epy_peer_close(peer);
}
END_TEST

/* --- misbehaving clients --------------------------------------------- */

static int
raw_connect(const char *where)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert(strncmp(where, "unix:", 5) == 0);
    ck_assert_uint_lt(strlen(where + 5), sizeof sun.sun_path);
    memcpy(sun.sun_path, where + 5, strlen(where + 5) + 1);
    ck_assert_int_eq(connect(fd, (struct sockaddr *) &sun, sizeof sun), 0);
    return fd;
}

/* True once the server has closed @fd's connection (read gives EOF). */
static bool
raw_dropped(int fd, int64_t within_ms)
{
    int64_t deadline = tu_now_ms() + within_ms;
    char buf[4096];

    while (tu_now_ms() < deadline) {
        struct timeval tv = { 0, 100000 };
        ssize_t r;

        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        r = read(fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}

/* A good client's calls, timed: each must answer promptly. */
static void
good_client_meanwhile(void)
{
    epy_peer *peer;
    epy_api *api;

    ck_assert_int_eq(epy_connect(url, NULL, 5000, &peer, NULL), 0);
    ck_assert_int_eq(epy_api_open(peer, "t", &api, NULL), 0);
    for (int i = 0; i < 50; i++) {
        int64_t t0 = tu_now_ms();

        ck_assert_int_eq(epy_api_call(api, "echo", "ok", 2, NULL, NULL, NULL), 0);
        ck_assert_int_lt(tu_now_ms() - t0, 1000 * tu_slow());
    }
    epy_api_close(api);
    epy_peer_close(peer);
}

START_TEST(test_garbage_client_dropped)
{
    static const char junk[] = "\x10\x00\x00\x00garbage garbage!";
    int fd;

    start_server(url, NULL);
    fd = raw_connect(url);
    tw_send_hello(fd, EPY_PROTOCOL_VERSION, NULL, false);
    tw_write_all(fd, junk, sizeof junk - 1);
    ck_assert(raw_dropped(fd, 5000 * tu_slow()));
    close(fd);
    good_client_meanwhile();
}
END_TEST

START_TEST(test_huge_length_dropped)
{
    static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
    int fd;

    start_server(url, NULL);
    fd = raw_connect(url);
    tw_send_hello(fd, EPY_PROTOCOL_VERSION, NULL, false);
    tw_write_all(fd, huge, sizeof huge);
    ck_assert(raw_dropped(fd, 5000 * tu_slow()));
    close(fd);
    good_client_meanwhile();
}
END_TEST

START_TEST(test_half_frame_client)
{
    static const uint8_t half[] = { 0, 0, 0x10, 0, 8, 2, 16, 1 };  /* 1 MiB */
    int fd;

    start_server(url, NULL);
    fd = raw_connect(url);
    tw_send_hello(fd, EPY_PROTOCOL_VERSION, NULL, false);
    tw_write_all(fd, half, sizeof half);
    /* The stalled client costs its own reader only. */
    good_client_meanwhile();
    {
        int64_t deadline = tu_now_ms() + 5000 * tu_slow();

        while (epy_server_clients(srv) > 1 && tu_now_ms() < deadline)
            usleep(10000);
    }
    ck_assert_uint_eq(epy_server_clients(srv), 1);     /* still connected */
    close(fd);
    {
        int64_t deadline = tu_now_ms() + 5000 * tu_slow();

        while (epy_server_clients(srv) > 0 && tu_now_ms() < deadline)
            usleep(10000);
    }
    ck_assert_uint_eq(epy_server_clients(srv), 0);
}
END_TEST

START_TEST(test_client_never_reads)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    size_t n = 64 * 1024;
    uint8_t *big = calloc(1, n);
    int fd, small = 4096;

    cfg.send_timeout_ms = 300;
    start_server(url, &cfg);
    fd = raw_connect(url);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    tw_send_hello(fd, EPY_PROTOCOL_VERSION, NULL, false);
    env.kind = EPYRPC__KIND__CALL;
    env.method = (char *) "t.echo";
    env.has_payload = true;
    env.payload.data = big;
    env.payload.len = n;
    env.has_txn = true;
    /* Many large calls whose replies it never reads. */
    for (int i = 1; i <= 64; i++) {
        env.txn = (uint64_t) i;
        tw_send_env(fd, &env);
    }
    good_client_meanwhile();
    /* Without reading anything: the server gives up on it. */
    {
        int64_t deadline = tu_now_ms() + 10000 * tu_slow();

        while (epy_server_clients(srv) > 0 && tu_now_ms() < deadline)
            usleep(10000);
    }
    ck_assert_uint_eq(epy_server_clients(srv), 0);
    ck_assert(raw_dropped(fd, 10000 * tu_slow()));
    close(fd);
    free(big);
    good_client_meanwhile();
}
END_TEST

START_TEST(test_silent_client_dropped)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    int fd;
    int64_t t0;

    cfg.handshake_timeout_ms = 300;
    start_server(url, &cfg);
    fd = raw_connect(url);
    t0 = tu_now_ms();
    ck_assert(raw_dropped(fd, 5000 * tu_slow()));
    ck_assert_int_ge(tu_now_ms() - t0, 250);
    close(fd);
}
END_TEST

START_TEST(test_max_clients)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_peer *a, *b;
    epy_error err = EPY_ERROR_INIT;

    cfg.max_clients = 1;
    start_server(url, &cfg);
    ck_assert_int_eq(epy_connect(url, NULL, 5000, &a, NULL), 0);
    ck_assert_int_lt(epy_connect(url, NULL, 5000, &b, &err), 0);
    ck_assert(err.code == EPY_EDISCONNECTED);
    epy_error_clear(&err);
    epy_peer_close(a);
}
END_TEST

/* One uid may hold max_clients_per_uid slots, not all of max_clients. */
START_TEST(test_max_clients_per_uid)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_peer *a, *b, *c;
    epy_error err = EPY_ERROR_INIT;

    ck_assert_int_eq(cfg.max_clients_per_uid, 1024);
    cfg.max_clients_per_uid = 2;
    start_server(url, &cfg);
    ck_assert_int_eq(epy_connect(url, NULL, 5000, &a, NULL), 0);
    ck_assert_int_eq(epy_connect(url, NULL, 5000, &b, NULL), 0);
    ck_assert_int_lt(epy_connect(url, NULL, 5000, &c, &err), 0);
    ck_assert(err.code == EPY_EDISCONNECTED);
    epy_error_clear(&err);
    /* A slot freed is a slot for the same uid again. */
    epy_peer_close(b);
    {
        int64_t deadline = tu_now_ms() + 5000 * tu_slow();

        /* Polled: the server's count has no notification to wait on. */
        while (epy_server_clients(srv) > 1 && tu_now_ms() < deadline)
            usleep(10000);
    }
    ck_assert_uint_eq(epy_server_clients(srv), 1);
    ck_assert_int_eq(epy_connect(url, NULL, 5000, &c, NULL), 0);
    epy_peer_close(c);
    epy_peer_close(a);
    {
        epy_server *other = NULL;

        cfg.max_clients_per_uid = 0;
        ck_assert_int_eq(epy_server_new("unix:@epy-per-uid", &cfg, &other,
                                        NULL), EPY_EPARAM);
        ck_assert_ptr_null(other);
    }
}
END_TEST

/* Broadcasts: an event no client's queue can hold is sent to nobody,
 * and drops nobody; one that fits reaches the client. */
static sem_t bc_got;
static size_t bc_len;

/* 0 once @sem is posted, -1 after @ms. */
static int
sem_wait_ms(sem_t *sem, int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ms *= tu_slow();
    ts.tv_sec += (time_t) (ms / 1000);
    ts.tv_nsec += (long) (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    while (sem_timedwait(sem, &ts) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

static int
on_bc(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call;
    (void) req;
    (void) ctx;
    bc_len = len;
    sem_post(&bc_got);
    return 0;
}

START_TEST(test_broadcast_too_big_drops_nobody)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    static uint8_t big[2048], small[100];
    epy_peer *c;

    sem_init(&bc_got, 0, 0);
    cfg.peer.max_send_queue = 1024;
    start_server(url, &cfg);
    ck_assert_int_eq(epy_connect(url, &cfg.peer, 5000, &c, NULL), 0);
    ck_assert_int_eq(epy_peer_handle(c, "t.ev", on_bc, NULL, NULL), 0);
    /* The client's hello was accepted once a call has been answered. */
    {
        epy_api *api;

        ck_assert_int_eq(epy_api_open(c, "t", &api, NULL), 0);
        epy_api_set_timeout(api, 5000);
        ck_assert_int_lt(epy_api_call(api, "x", NULL, 0, NULL, NULL, NULL),
                         0);    /* answered: unknown or unsupported */
        epy_api_close(api);
    }
    ck_assert_int_eq(epy_server_broadcast(srv, "t.ev", big, sizeof big,
                                          &err), 0);
    epy_error_clear(&err);
    ck_assert_int_eq(epy_server_broadcast(srv, "t.ev", small, sizeof small,
                                          NULL), 1);
    ck_assert_int_eq(sem_wait_ms(&bc_got, 5000), 0);
    ck_assert_uint_eq(bc_len, sizeof small);
    ck_assert(epy_peer_is_connected(c));
    ck_assert_int_eq(epy_peer_post_event(c, "t.ev", big, sizeof big, &err),
                     EPY_ETOOBIG);
    epy_error_clear(&err);
    ck_assert_int_eq(epy_server_broadcast(srv, "bad name", small, 1, NULL),
                     EPY_EPARAM);
    epy_peer_close(c);
    sem_destroy(&bc_got);
}
END_TEST

/* --- socket files -------------------------------------------------------- */

START_TEST(test_stale_socket_replaced)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    /* A socket file nobody listens on: what a crashed server leaves. */
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/s.sock", dir);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sun, sizeof sun), 0);
    close(fd);
    start_server(url, NULL);
    ck_assert_int_eq(client_run(url, 0, 3), 0);
    {
        struct stat st;

        ck_assert_int_eq(lstat(sun.sun_path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
    }
}
END_TEST

START_TEST(test_live_socket_and_plain_file_kept)
{
    epy_server *second = NULL;
    epy_error err = EPY_ERROR_INIT;
    char path[128];
    FILE *f;

    start_server(url, NULL);
    ck_assert_int_eq(epy_server_new(url, NULL, &second, &err), EPY_EEXIST);
    ck_assert_ptr_nonnull(strstr(err.message, "already listens"));
    ck_assert_int_eq(client_run(url, 0, 3), 0);   /* the first still works */
    srv = epy_server_close(srv);

    snprintf(path, sizeof path, "%s/s.sock", dir);
    f = fopen(path, "w");
    fputs("precious", f);
    fclose(f);
    ck_assert_int_eq(epy_server_new(url, NULL, &second, &err), EPY_EEXIST);
    ck_assert_int_eq(access(path, F_OK), 0);
    unlink(path);
    epy_error_clear(&err);
}
END_TEST

START_TEST(test_socket_mode_refuses_other_uid)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    struct stat st;
    char path[128];
    pid_t pid;
    int status;

    cfg.socket_mode = 0600;
    start_server(url, &cfg);
    snprintf(path, sizeof path, "%s/s.sock", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    if (geteuid() != 0) {
        fprintf(stderr, "skipped the other-uid client: not running as root\n");
        return;
    }
    chmod(dir, 0755);
    pid = spawn_client("--other-uid", url, 0, 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "other-uid client: status %d", status);
    /* The owner still gets in. */
    ck_assert_int_eq(client_run(url, 0, 3), 0);
}
END_TEST

START_TEST(test_abstract_socket)
{
    char name[96];

    snprintf(name, sizeof name, "unix:@epy-test-%ld", (long) getpid());
    start_server(name, NULL);
    ck_assert_int_eq(client_run(name, 0, 10), 0);
}
END_TEST

START_TEST(test_bad_urls)
{
    static const char *bad[] = {
        "", "unix:", "tcp:", "tcp:127.0.0.1", "tcp:127.0.0.1:99999",
        "tcp:127.0.0.1:x", "http://x", "tcp:[::1:5", "tcp::0",
    };
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(epy_server_new(bad[i], NULL, &srv, &err), EPY_EPARAM);
        ck_assert_int_eq(epy_connect(bad[i], NULL, 100, &peer, &err), EPY_EPARAM);
    }
    ck_assert_int_eq(epy_server_new(NULL, NULL, &srv, &err), EPY_EPARAM);
    srv = NULL;

    /* What a server takes, all of it; a client is not given fd:N. */
    ck_assert_int_eq(epy_server_new("/tmp/x.sock", NULL, &srv, &err),
                     EPY_EPARAM);
    ck_assert_ptr_nonnull(strstr(err.message, "'/tmp/x.sock'"));
    ck_assert_ptr_nonnull(strstr(err.message, "unix:PATH"));
    ck_assert_ptr_nonnull(strstr(err.message, "fd:N"));
    ck_assert_ptr_nonnull(strstr(err.message, "systemd:"));
    ck_assert_int_eq(epy_connect("/tmp/x.sock", NULL, 100, &peer, &err),
                     EPY_EPARAM);
    ck_assert_ptr_nonnull(strstr(err.message, "tcp:HOST:PORT"));
    ck_assert_ptr_null(strstr(err.message, "fd:N"));

    /* A folder that is not there is named. */
    ck_assert_int_eq(epy_server_new("unix:/nonexistent-epy/x.sock", NULL,
                                    &srv, &err), EPY_ESYSTEM);
    ck_assert_ptr_nonnull(strstr(err.message, "'/nonexistent-epy'"));
    ck_assert_ptr_nonnull(strstr(err.message, "No such file"));
    srv = NULL;
    epy_error_clear(&err);
}
END_TEST

START_TEST(test_connect_refused_and_server_close)
{
    epy_peer *peer;
    epy_api *api;
    epy_error err = EPY_ERROR_INIT;

    ck_assert_int_eq(epy_connect(url, NULL, 1000, &peer, &err), EPY_EDISCONNECTED);
    ck_assert_int_ne(err.sys_errno, 0);
    start_server(url, NULL);
    ck_assert_int_eq(epy_connect(url, NULL, 5000, &peer, &err), 0);
    ck_assert_int_eq(epy_api_open(peer, "t", &api, NULL), 0);
    srv = epy_server_close(srv);
    /* The client hears of it: its calls fail instead of hanging. */
    ck_assert_int_eq(epy_api_call(api, "echo", "x", 1, NULL, NULL, NULL),
                     EPY_EDISCONNECTED);
    epy_api_close(api);
    epy_peer_close(peer);
    epy_error_clear(&err);
}
END_TEST

/* --- departed clients never hold up the others ---------------------------- */

/*
 * What a blocking handler and the server's notifications saw, with a
 * condition to wait on. The handler blocks until released, noting that
 * it started and that it saw its call cancelled.
 */
typedef struct blocker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;
    int cancelled;
    int done;
    int released;
    int connects;
    int disconnects;
    int last_reason;
    pthread_t connect_thread;
    pthread_t disconnect_thread;
} blocker;

static void
blk_init(blocker *b)
{
    pthread_condattr_t ca;

    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
}

static void
blk_destroy(blocker *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

static void
blk_deadline(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t) (ms / 1000);
    ts->tv_nsec += (long) (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* True if *@field reaches @at_least within @ms. */
static bool
blk_wait(blocker *b, const int *field, int at_least, int64_t ms)
{
    struct timespec ts;
    bool ok;

    blk_deadline(&ts, ms);
    pthread_mutex_lock(&b->mu);
    while (*field < at_least
           && pthread_cond_timedwait(&b->cv, &b->mu, &ts) != ETIMEDOUT)
        ;
    ok = *field >= at_least;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

static int
blk_get(blocker *b, const int *field)
{
    int n;

    pthread_mutex_lock(&b->mu);
    n = *field;
    pthread_mutex_unlock(&b->mu);
    return n;
}

static void
blk_release(blocker *b)
{
    pthread_mutex_lock(&b->mu);
    b->released = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static int
blocking(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    blocker *b = ctx;
    int64_t give_up = tu_now_ms() + 60000;     /* a failed test ends anyway */

    pthread_mutex_lock(&b->mu);
    b->started++;
    pthread_cond_broadcast(&b->cv);
    while (!b->released && tu_now_ms() < give_up) {
        struct timespec ts;

        if (epy_call_cancelled(call) && !b->cancelled) {
            b->cancelled = 1;
            pthread_cond_broadcast(&b->cv);
        }
        /* epy_call_cancelled() tells nobody: look again every 10 ms. */
        blk_deadline(&ts, 10);
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    b->done++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return epy_call_reply(call, req, len);
}

static void
note_connect(epy_server *server, epy_peer *peer, int reason, void *ctx)
{
    blocker *b = ctx;

    (void) server;
    (void) peer;
    pthread_mutex_lock(&b->mu);
    if (reason == 0)
        b->connects++;
    else
        b->disconnects = 1000;      /* wrong callback: fails the counts */
    b->connect_thread = pthread_self();
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void
note_disconnect(epy_server *server, epy_peer *peer, int reason, void *ctx)
{
    blocker *b = ctx;

    (void) server;
    pthread_mutex_lock(&b->mu);
    b->disconnects++;
    b->last_reason = reason;
    b->disconnect_thread = pthread_self();
    /* The peer is still there: its status tells why it ended. */
    if (epy_peer_status(peer) != reason && reason != EPY_ECLOSED)
        b->disconnects = 1000;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* A server with the blocking handler "t.block" and the notifications. */
static void
start_blocking_server(blocker *b, epy_server_config *cfg)
{
    cfg->on_connect = note_connect;
    cfg->on_disconnect = note_disconnect;
    cfg->ctx = b;
    start_server(url, cfg);
    ck_assert_int_eq(epy_server_handle(srv, "t.block", blocking, b, NULL), 0);
}

/*
 * A client that calls "t.block", waits until the handler runs, and goes
 * away (closing its peer) without waiting for the reply.
 */
static void
client_blocks_and_leaves(blocker *b)
{
    epy_peer *peer;
    epy_api *api;
    epy_async *as;
    int started = blk_get(b, &b->started);

    ck_assert_int_eq(epy_connect(url, NULL, 5000, &peer, NULL), 0);
    ck_assert_int_eq(epy_api_open(peer, "t", &api, NULL), 0);
    ck_assert_int_eq(epy_api_call_async(api, "block", "x", 1, NULL, &as,
                                        NULL), 0);
    ck_assert(blk_wait(b, &b->started, started + 1, 10000 * tu_slow()));
    epy_api_close(api);
    epy_async_release(as);
    epy_peer_close(peer);
}

/* The number of clients reaches @n within @ms. */
static bool
clients_become(size_t n, int64_t ms)
{
    int64_t deadline = tu_now_ms() + ms;

    /* epy_server_clients() has nothing to wait on: look every 10 ms. */
    while (epy_server_clients(srv) != n && tu_now_ms() < deadline)
        usleep(10000);
    return epy_server_clients(srv) == n;
}

static atomic_int counted;

static int
count_call(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    atomic_fetch_add(&counted, 1);
    return epy_call_reply(call, req, len);
}

/*
 * The calls a client queued and left behind are not run: its running
 * call sees epy_call_cancelled() as soon as the server sees it gone,
 * and its queued ones are dropped rather than run before the calls of
 * the clients that are still there.
 */
START_TEST(test_departed_client_queued_calls_dropped)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_peer *stay, *gone;
    epy_api *a_stay, *a_gone;
    epy_async *held, *h_gone, *h[20];
    blocker b;
    int gfd;

    blk_init(&b);
    atomic_store(&counted, 0);
    cfg.workers = 1;
    cfg.max_spare_workers = 1;
    start_blocking_server(&b, &cfg);
    ck_assert_int_eq(epy_server_handle(srv, "t.count", count_call, NULL,
                                       NULL), 0);
    /* One client blocks the worker, the one that leaves the spare. */
    ck_assert_int_eq(epy_connect(url, NULL, 5000, &stay, NULL), 0);
    ck_assert_int_eq(epy_api_open(stay, "t", &a_stay, NULL), 0);
    ck_assert_int_eq(epy_api_call_async(a_stay, "block", "x", 1, NULL, &held,
                                        NULL), 0);
    ck_assert(blk_wait(&b, &b.started, 1, 10000 * tu_slow()));
    gfd = raw_connect(url);
    ck_assert_int_eq(epy_peer_new_fd(gfd, NULL, &gone, NULL), 0);
    ck_assert_int_eq(epy_peer_wait_ready(gone, 5000, NULL), 0);
    ck_assert_int_eq(epy_api_open(gone, "t", &a_gone, NULL), 0);
    ck_assert_int_eq(epy_api_call_async(a_gone, "block", "y", 1, NULL,
                                        &h_gone, NULL), 0);
    ck_assert(blk_wait(&b, &b.started, 2, 10000 * tu_slow()));
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(epy_api_call_async(a_gone, "count", "z", 1, NULL,
                                            &h[i], NULL), 0);
    /*
     * Gone as a killed process goes, its calls pending: no DISCONNECT,
     * no CANCEL (releasing the calls first would send those).
     */
    ck_assert_int_eq(shutdown(gfd, SHUT_RDWR), 0);

    /* Its running call is cancelled while both workers are still held. */
    ck_assert(blk_wait(&b, &b.cancelled, 1, 10000 * tu_slow()));
    blk_release(&b);
    ck_assert_int_eq(epy_async_wait(held, 10000 * tu_slow()), 0);
    epy_async_release(held);
    for (int i = 0; i < 20; i++)
        epy_async_release(h[i]);
    epy_async_release(h_gone);
    epy_api_close(a_gone);
    epy_peer_close(gone);
    ck_assert_int_eq(epy_api_call(a_stay, "count", "w", 1, NULL, NULL, NULL),
                     0);
    ck_assert_int_eq(atomic_load(&counted), 1);
    epy_api_close(a_stay);
    epy_peer_close(stay);
    ck_assert(clients_become(0, 10000 * tu_slow()));
    srv = epy_server_close(srv);
    blk_destroy(&b);
}
END_TEST

START_TEST(test_departed_client_does_not_block_accept)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    blocker b;
    epy_peer *peer;
    epy_api *api;
    int64_t t0, took;
    int rc;

    blk_init(&b);
    start_blocking_server(&b, &cfg);
    client_blocks_and_leaves(&b);
    /* The server hears of it; the gone client's handler too. */
    ck_assert(blk_wait(&b, &b.disconnects, 1, 10000 * tu_slow()));
    ck_assert(blk_wait(&b, &b.cancelled, 1, 10000 * tu_slow()));

    /* A new client gets in and is answered while that handler runs. */
    t0 = tu_now_ms();
    rc = epy_connect(url, NULL, 2000, &peer, &err);
    ck_assert_msg(rc == 0, "connect: %s", err.message);
    ck_assert_int_eq(epy_api_open(peer, "t", &api, NULL), 0);
    ck_assert_int_eq(epy_api_call(api, "echo", "y", 1, NULL, NULL, NULL), 0);
    took = tu_now_ms() - t0;
    ck_assert_msg(took < 1000 * tu_slow(), "connect and call took %lld ms",
                  (long long) took);

    /* The gone client's handler still runs. */
    ck_assert_int_eq(blk_get(&b, &b.done), 0);
    /* on_connect may come after the client's first calls. */
    ck_assert(blk_wait(&b, &b.connects, 2, 10000 * tu_slow()));
    ck_assert_int_eq(blk_get(&b, &b.last_reason), EPY_EDISCONNECTED);
    ck_assert(!pthread_equal(b.connect_thread, b.disconnect_thread));
    /* It counts until its peer is closed. */
    ck_assert_uint_eq(epy_server_clients(srv), 2);

    blk_release(&b);
    ck_assert(blk_wait(&b, &b.done, 1, 10000 * tu_slow()));
    ck_assert(clients_become(1, 10000 * tu_slow()));
    ck_assert_int_eq(epy_api_call(api, "echo", "z", 1, NULL, NULL, NULL), 0);

    /* Closing the server tells about the client still connected. */
    srv = epy_server_close(srv);
    ck_assert_int_eq(blk_get(&b, &b.disconnects), 2);
    ck_assert_int_eq(blk_get(&b, &b.last_reason), EPY_ECLOSED);
    epy_api_close(api);
    epy_peer_close(peer);
    epy_error_clear(&err);
    blk_destroy(&b);
}
END_TEST

START_TEST(test_stuck_handlers_leave_clients_in)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    blocker b;

    /* Handlers that never return: every departed client keeps one. */
    blk_init(&b);
    cfg.peer.close_timeout_ms = 100;
    cfg.max_clients = 8;
    start_blocking_server(&b, &cfg);
    for (int i = 0; i < 4; i++)
        client_blocks_and_leaves(&b);
    ck_assert(blk_wait(&b, &b.disconnects, 4, 10000 * tu_slow()));
    for (int i = 0; i < 4; i++) {
        int64_t t0 = tu_now_ms();

        ck_assert_int_eq(client_run(url, i, 3), 0);
        ck_assert_int_lt(tu_now_ms() - t0, 1000 * tu_slow());
    }
    ck_assert_int_eq(blk_get(&b, &b.done), 0);
    blk_release(&b);
    ck_assert(blk_wait(&b, &b.done, 4, 10000 * tu_slow()));
    ck_assert(clients_become(0, 10000 * tu_slow()));
    srv = epy_server_close(srv);
    ck_assert_int_eq(blk_get(&b, &b.connects), 8);
    ck_assert_int_eq(blk_get(&b, &b.disconnects), 8);
    blk_destroy(&b);
}
END_TEST

static void *
release_later(void *arg)
{
    blocker *b = arg;

    /* The handler's work: it takes a while (not synchronisation). */
    usleep(300000);
    blk_release(b);
    return NULL;
}

START_TEST(test_close_waits_for_departed_handlers)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    tu_resources before;
    pthread_t th;
    blocker b;
    int64_t t0;

    blk_init(&b);
    tu_resources_take(&before);
    start_blocking_server(&b, &cfg);
    for (int i = 0; i < 3; i++)
        client_blocks_and_leaves(&b);
    ck_assert(blk_wait(&b, &b.disconnects, 3, 10000 * tu_slow()));
    ck_assert_int_eq(pthread_create(&th, NULL, release_later, &b), 0);
    t0 = tu_now_ms();
    srv = epy_server_close(srv);
    /* It waited for the handlers, and left no thread or descriptor. */
    ck_assert_int_eq(blk_get(&b, &b.done), 3);
    ck_assert_int_ge(tu_now_ms() - t0, 250);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    tu_resources_check(&before);
    ck_assert_int_eq(blk_get(&b, &b.disconnects), 3);
    blk_destroy(&b);
}
END_TEST

/* --- socket files ------------------------------------------------------ */

/* The names in the test's folder other than @except, as "a b ". */
static int
dir_others(const char *except, char *out, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int count = 0;

    ck_assert_ptr_nonnull(d);
    out[0] = '\0';
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
            || (except != NULL && strcmp(e->d_name, except) == 0))
            continue;
        count++;
        strncat(out, e->d_name, n - strlen(out) - 1);
        strncat(out, " ", n - strlen(out) - 1);
    }
    closedir(d);
    return count;
}

static void
assert_only(const char *name)
{
    char names[512];

    ck_assert_msg(dir_others(name, names, sizeof names) == 0,
                  "left in the folder: %s", names);
}

static mode_t
socket_file_mode(void)
{
    struct stat st;
    char path[128];

    snprintf(path, sizeof path, "%s/s.sock", dir);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    return st.st_mode & 07777;
}

START_TEST(test_socket_mode_default_and_set)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    struct stat st;
    char path[128];
    mode_t old_umask = umask(0);

    start_server(url, NULL);
    ck_assert_uint_eq(socket_file_mode(), 0600);
    assert_only("s.sock");
    ck_assert_int_eq(client_run(url, 0, 3), 0);
    srv = epy_server_close(srv);
    assert_only(NULL);

    cfg.socket_mode = 0660;
    start_server(url, &cfg);
    ck_assert_uint_eq(socket_file_mode(), 0660);
    srv = epy_server_close(srv);

    cfg.socket_mode = -1;           /* what the umask (0) gives */
    start_server(url, &cfg);
    ck_assert_uint_eq(socket_file_mode(), 0777);
    srv = epy_server_close(srv);

    /* An owner and group too. */
    cfg.socket_mode = 0640;
    cfg.socket_uid = geteuid() == 0 ? 65534 : (long) geteuid();
    cfg.socket_gid = geteuid() == 0 ? 65534 : (long) getegid();
    start_server(url, &cfg);
    ck_assert_uint_eq(socket_file_mode(), 0640);
    snprintf(path, sizeof path, "%s/s.sock", dir);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_int_eq((long) st.st_uid, cfg.socket_uid);
    ck_assert_int_eq((long) st.st_gid, cfg.socket_gid);
    assert_only("s.sock");
    umask(old_umask);
}
END_TEST

START_TEST(test_socket_long_path)
{
    char longdir[160], lurl[200], sub[200];
    size_t n;

    /*
     * A path of 107 bytes, the longest there is, with a short name: the
     * private folder's path next to it is longer than that.
     */
    snprintf(longdir, sizeof longdir, "%s/", dir);
    n = strlen(longdir);
    while (n < 105) {
        longdir[n++] = 'd';
        longdir[n] = '\0';
    }
    ck_assert_int_eq(mkdir(longdir, 0700), 0);
    snprintf(lurl, sizeof lurl, "unix:%s/s", longdir);
    ck_assert_uint_eq(strlen(lurl + 5), 107);
    start_server(lurl, NULL);
    ck_assert_int_eq(client_run(lurl, 0, 3), 0);
    srv = epy_server_close(srv);
    snprintf(sub, sizeof sub, "%s/s", longdir);
    ck_assert_int_ne(access(sub, F_OK), 0);
    ck_assert_int_eq(rmdir(longdir), 0);   /* nothing left in it */
}
END_TEST

START_TEST(test_symlink_at_socket_path_kept)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    epy_error err = EPY_ERROR_INIT;
    char path[128], target[128], stale[128], buf[32];
    struct stat st;
    FILE *f;
    int fd;

    snprintf(path, sizeof path, "%s/s.sock", dir);
    snprintf(target, sizeof target, "%s/precious", dir);

    f = fopen(target, "w");
    ck_assert_ptr_nonnull(f);
    fputs("precious", f);
    fclose(f);
    ck_assert_int_eq(chmod(target, 0644), 0);

    /* A symbolic link to a file. */
    ck_assert_int_eq(symlink(target, path), 0);
    ck_assert_int_eq(epy_server_new(url, NULL, &srv, &err), EPY_EEXIST);
    ck_assert_ptr_nonnull(strstr(err.message, "not a socket"));
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(stat(target, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 07777, 0644);
    f = fopen(target, "r");
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    fclose(f);
    ck_assert_str_eq(buf, "precious");
    ck_assert_int_eq(unlink(path), 0);

    /* A symbolic link to a stale socket: not a socket either. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/stale", dir);
    snprintf(stale, sizeof stale, "%s", sun.sun_path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sun, sizeof sun), 0);
    close(fd);
    ck_assert_int_eq(symlink(stale, path), 0);
    ck_assert_int_eq(epy_server_new(url, NULL, &srv, &err), EPY_EEXIST);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(lstat(stale, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_int_eq(unlink(path), 0);

    /* A dangling one. */
    ck_assert_int_eq(symlink("/nonexistent/epy-test", path), 0);
    ck_assert_int_eq(epy_server_new(url, NULL, &srv, &err), EPY_EEXIST);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(unlink(path), 0);

    srv = NULL;
    {
        char names[512];

        ck_assert_int_eq(dir_others(NULL, names, sizeof names), 2);
        ck_assert_msg(strstr(names, ".epy") == NULL, "left: %s", names);
    }
    unlink(target);
    unlink(stale);
    epy_error_clear(&err);
}
END_TEST

/* --- who may connect ------------------------------------------------------ */

typedef struct logcap {
    pthread_mutex_t mu;
    int count;
    char last[256];
} logcap;

static void
log_capture(epy_peer *peer, epy_log_level level, const char *message,
            void *ctx)
{
    logcap *l = ctx;

    (void) level;
    if (peer != NULL)
        return;                     /* the clients' lines */
    pthread_mutex_lock(&l->mu);
    l->count++;
    snprintf(l->last, sizeof l->last, "%s", message);
    pthread_mutex_unlock(&l->mu);
}

/* epy_connect() to @where must fail, and the server never see a client. */
static void
assert_refused(const char *where, blocker *b, logcap *l)
{
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;
    int64_t t0 = tu_now_ms();
    int rc;

    rc = epy_connect(where, NULL, 5000 * tu_slow(), &peer, &err);
    ck_assert_msg(rc == EPY_EDISCONNECTED, "connect gave %d (%s)", rc,
                  err.message != NULL ? err.message : "");
    ck_assert_int_lt(tu_now_ms() - t0, 4000 * tu_slow());    /* not a timeout */
    ck_assert_int_eq(blk_get(b, &b->connects), 0);
    ck_assert_uint_eq(epy_server_clients(srv), 0);
    pthread_mutex_lock(&l->mu);
    ck_assert_int_ge(l->count, 1);
    ck_assert_msg(strstr(l->last, "refused a client") != NULL, "log: %s",
                  l->last);
    pthread_mutex_unlock(&l->mu);
    epy_error_clear(&err);
}

START_TEST(test_allowed_uids)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    char name[96];
    long ids[2];
    logcap l;
    blocker b;

    memset(&l, 0, sizeof l);
    pthread_mutex_init(&l.mu, NULL);
    blk_init(&b);
    cfg.peer.log = log_capture;
    cfg.peer.log_ctx = &l;
    cfg.on_connect = note_connect;
    cfg.ctx = &b;
    snprintf(name, sizeof name, "unix:@epy-test-uids-%ld", (long) getpid());

    /* Abstract, by default: our own uid gets in. */
    start_server(name, &cfg);
    ck_assert_int_eq(client_run(name, 0, 3), 0);
    srv = epy_server_close(srv);
    ck_assert_int_eq(blk_get(&b, &b.connects), 1);
    b.connects = 0;

    /* Abstract, with another uid only: we do not. */
    ids[0] = (long) geteuid() + 1;
    cfg.allowed_uids = ids;
    cfg.n_allowed_uids = 1;
    start_server(name, &cfg);
    assert_refused(name, &b, &l);
    srv = epy_server_close(srv);

    /* A socket file, likewise. */
    start_server(url, &cfg);
    assert_refused(url, &b, &l);
    /* The lists were copied: changing ours changes nothing. */
    ids[0] = (long) geteuid();
    assert_refused(url, &b, &l);
    srv = epy_server_close(srv);

    /* Our group lets us in even though the uid is not listed. */
    ids[0] = (long) geteuid() + 1;
    ids[1] = (long) getegid();
    cfg.allowed_gids = &ids[1];
    cfg.n_allowed_gids = 1;
    start_server(url, &cfg);
    ck_assert_int_eq(client_run(url, 0, 3), 0);
    srv = epy_server_close(srv);
    ck_assert_int_eq(blk_get(&b, &b.connects), 1);
    pthread_mutex_destroy(&l.mu);
    blk_destroy(&b);
}
END_TEST

START_TEST(test_abstract_refuses_other_uid)
{
    char name[96];
    pid_t pid;
    int status;

    if (geteuid() != 0) {
        fprintf(stderr, "skipped the other-uid client: not running as root\n");
        return;
    }
    snprintf(name, sizeof name, "unix:@epy-test-other-%ld", (long) getpid());
    start_server(name, NULL);
    pid = spawn_client("--other-uid-abstract", name, 0, 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "other-uid client: status %d", status);
    ck_assert_int_eq(client_run(name, 0, 3), 0);
}
END_TEST

/* --- addresses and configuration ------------------------------------------ */

START_TEST(test_tcp_needs_a_host)
{
    static const char *bad[] = { "tcp::0", "tcp::7000", "tcp:[]:0" };
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(epy_server_new(bad[i], NULL, &srv, &err), EPY_EPARAM);
        ck_assert_ptr_nonnull(strstr(err.message, "tcp:0.0.0.0:PORT"));
        ck_assert_ptr_nonnull(strstr(err.message, "tcp:[::]:PORT"));
        ck_assert_int_eq(epy_connect(bad[i], NULL, 100, &peer, &err),
                         EPY_EPARAM);
    }
    srv = NULL;
    /* What the message says works. */
    start_server("tcp:0.0.0.0:0", NULL);
    ck_assert_ptr_nonnull(strstr(epy_server_url(srv), "tcp:0.0.0.0:"));
    epy_error_clear(&err);
}
END_TEST

START_TEST(test_bad_configs)
{
    epy_server_config cfg;
    epy_error err = EPY_ERROR_INIT;
    long ids[1] = { 0 };

#define BAD_CONFIG(where, change)                                           \
    do {                                                                    \
        epy_server_config init_ = EPY_SERVER_CONFIG_INIT;                   \
        cfg = init_;                                                        \
        change;                                                             \
        ck_assert_int_eq(epy_server_new(where, &cfg, &srv, &err),           \
                         EPY_EPARAM);                                       \
        ck_assert_ptr_nonnull(err.message);                                 \
        epy_error_clear(&err);                                              \
    } while (0)

    BAD_CONFIG(url, cfg.idle_timeout_ms = -1);
    BAD_CONFIG(url, cfg.max_spare_workers = 0);
    BAD_CONFIG(url, cfg.max_call_memory = 0);
    BAD_CONFIG(url, cfg.n_allowed_uids = 1);
    BAD_CONFIG(url, cfg.n_allowed_gids = 2);
    BAD_CONFIG(url, cfg.socket_mode = 010000);
    BAD_CONFIG(url, cfg.socket_mode = -2);
    BAD_CONFIG(url, cfg.handshake_timeout_ms = -1);
    BAD_CONFIG("tcp:127.0.0.1:0",
               (cfg.allowed_uids = ids, cfg.n_allowed_uids = 1));
#undef BAD_CONFIG
    srv = NULL;
    assert_only(NULL);
}
END_TEST

static Suite *
server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_unix_many_clients);
    tcase_add_test(tc, test_paused_server);
    tcase_add_test(tc, test_paused_server_closed);
    tcase_add_test(tc, test_tcp_clients);
    tcase_add_test(tc, test_tcp_ipv6);
    tcase_add_test(tc, test_credentials);
    tcase_add_test(tc, test_tcp_credentials_address);
    tcase_add_test(tc, test_abstract_socket);
    tcase_add_test(tc, test_stale_socket_replaced);
    tcase_add_test(tc, test_socket_mode_default_and_set);
    tcase_add_test(tc, test_socket_long_path);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_garbage_client_dropped);
    tcase_add_test(tc, test_huge_length_dropped);
    tcase_add_test(tc, test_half_frame_client);
    tcase_add_test(tc, test_client_never_reads);
    tcase_add_test(tc, test_silent_client_dropped);
    tcase_add_test(tc, test_live_socket_and_plain_file_kept);
    tcase_add_test(tc, test_bad_urls);
    tcase_add_test(tc, test_connect_refused_and_server_close);
    tcase_add_test(tc, test_symlink_at_socket_path_kept);
    tcase_add_test(tc, test_tcp_needs_a_host);
    tcase_add_test(tc, test_bad_configs);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_max_clients);
    tcase_add_test(tc, test_max_clients_per_uid);
    tcase_add_test(tc, test_broadcast_too_big_drops_nobody);
    tcase_add_test(tc, test_socket_mode_refuses_other_uid);
    tcase_add_test(tc, test_allowed_uids);
    tcase_add_test(tc, test_abstract_refuses_other_uid);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_departed_client_does_not_block_accept);
    tcase_add_test(tc, test_stuck_handlers_leave_clients_in);
    tcase_add_test(tc, test_departed_client_queued_calls_dropped);
    tcase_add_test(tc, test_close_waits_for_departed_handlers);
    suite_add_tcase(s, tc);
    return s;
}

int
main(int argc, char **argv)
{
    if (realpath(argv[0], self_path) == NULL)
        snprintf(self_path, sizeof self_path, "%s", argv[0]);
    if (argc == 5 && strcmp(argv[1], "--client") == 0)
        return client_run(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "--other-uid") == 0)
        return other_uid_client(argv[2], false);
    if (argc == 5 && strcmp(argv[1], "--other-uid-abstract") == 0)
        return other_uid_client(argv[2], true);
    return tu_run_suite(server_suite());
}
