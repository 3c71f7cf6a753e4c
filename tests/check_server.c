/*
 * Servers: many client processes over a unix socket and over TCP, clients
 * that misbehave (garbage, a 4 GiB length prefix, half a frame, never
 * reading their replies, never saying hello), socket permissions, peer
 * credentials, stale socket files, the client limit.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
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

static void
teardown(void)
{
    char path[128];

    srv = epy_server_close(srv);
    snprintf(path, sizeof path, "%s/s.sock", dir);
    ck_assert_msg(access(path, F_OK) != 0, "socket file left behind");
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

/* The other-uid client: connecting must be refused with EACCES. */
static int
other_uid_client(const char *where)
{
    epy_peer *peer;
    epy_error err = EPY_ERROR_INIT;
    int rc;

    if (setgid(65534) < 0 || setuid(65534) < 0)
        return 10;
    rc = epy_connect(where, NULL, 5000, &peer, &err);
    rc = rc == EPY_EDISCONNECTED && err.sys_errno == EACCES ? 0 : 11;
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
        "tcp:127.0.0.1:x", "http://x", "tcp:[::1:5",
    };
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(epy_server_new(bad[i], NULL, &srv, &err), EPY_EPARAM);
        ck_assert_int_eq(epy_connect(bad[i], NULL, 100, &peer, &err), EPY_EPARAM);
    }
    ck_assert_int_eq(epy_server_new(NULL, NULL, &srv, &err), EPY_EPARAM);
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

static Suite *
server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_unix_many_clients);
    tcase_add_test(tc, test_tcp_clients);
    tcase_add_test(tc, test_tcp_ipv6);
    tcase_add_test(tc, test_credentials);
    tcase_add_test(tc, test_tcp_credentials_address);
    tcase_add_test(tc, test_abstract_socket);
    tcase_add_test(tc, test_stale_socket_replaced);
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
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_max_clients);
    tcase_add_test(tc, test_socket_mode_refuses_other_uid);
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
        return other_uid_client(argv[2]);
    return tu_run_suite(server_suite());
}
