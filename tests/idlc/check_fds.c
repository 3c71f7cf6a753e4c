/*
 * Descriptors end to end through generated code (tests/idlc/files.idl):
 * IDL `fd` arguments, results, struct fields, lists, optionals and
 * events, between two peers on a socketpair (threaded) and through a
 * unix-socket server (driven); refused over TCP and by a peer that takes
 * none; none leaked.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "files.epy.h"
#include "../testutil.h"

/* --- the handlers ---------------------------------------------------------- */

static int
h_write_to(epy_call *call, int w, const char *text, uint64_t *ret, void *ctx)
{
    size_t n = strlen(text);

    (void) call;
    (void) ctx;
    if (write(w, text, n) != (ssize_t) n)
        return EPY_ESYSTEM;
    *ret = n;
    return 0;
}

static int
h_make_pipe(epy_call *call, const char *text, int *ret, void *ctx)
{
    int p[2];
    size_t n = strlen(text);

    (void) call;
    (void) ctx;
    if (pipe(p) < 0)
        return EPY_ESYSTEM;
    if (write(p[1], text, n) != (ssize_t) n) {
        close(p[0]);
        close(p[1]);
        return EPY_ESYSTEM;
    }
    close(p[1]);
    *ret = p[0];        /* sent, then closed with the result */
    return 0;
}

static int
h_echo(epy_call *call, int f, int *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = dup(f);      /* @f is the arguments', closed after the call */
    return *ret < 0 ? EPY_ESYSTEM : 0;
}

static int
h_echo_handles(epy_call *call, const files_handle_list *hs,
               files_handle_list *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    return files_handle_list_copy(ret, hs);
}

static int
h_maybe(epy_call *call, const epy_fd_opt *f, epy_fd_opt *ret,
        void *ctx)
{
    (void) call;
    (void) ctx;
    ret->has = f->has;
    ret->value = f->has ? dup(f->value) : -1;
    return f->has && ret->value < 0 ? EPY_ESYSTEM : 0;
}

static int
h_size_of(epy_call *call, int f, uint64_t *ret, void *ctx)
{
    struct stat st;

    (void) call;
    (void) ctx;
    if (fstat(f, &st) < 0)
        return EPY_ESYSTEM;
    *ret = (uint64_t) st.st_size;
    return 0;
}

static int
h_note(epy_call *call, int w, void *ctx)
{
    (void) call;
    (void) ctx;
    return write(w, "note", 4) == 4 ? 0 : EPY_ESYSTEM;
}

static const files_handlers handlers = {
    .write_to = h_write_to, .make_pipe = h_make_pipe, .echo = h_echo,
    .echo_handles = h_echo_handles, .maybe = h_maybe, .size_of = h_size_of,
    .note = h_note,
};

/* --- the connections -------------------------------------------------------- */

static epy_peer *srv_peer, *cli;
static epy_server *srv;
static files_api *api;
static char dir[64];

static void
config(epy_peer_config *cfg)
{
    epy_peer_config_init(cfg);
    cfg->interfaces = &files_interface;
    cfg->n_interfaces = 1;
    cfg->shm = getenv("SHM") != NULL;
}

static void
open_api(void)
{
    epy_error err = EPY_ERROR_INIT;

    ck_assert_int_eq(files_api_open(cli, &api, &err), 0);
}

/* Two peers on a socketpair: the server side reads with its own threads. */
static void
start_pair(bool server_takes_fds)
{
    epy_peer_config cfg;
    epy_error err = EPY_ERROR_INIT;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    config(&cfg);
    cfg.no_fd_passing = !server_takes_fds;
    ck_assert_int_eq(epy_peer_new_fd(sv[0], &cfg, &srv_peer, &err), 0);
    ck_assert_int_eq(files_serve(srv_peer, &handlers, NULL), 0);
    config(&cfg);
    ck_assert_int_eq(epy_peer_new_fd(sv[1], &cfg, &cli, &err), 0);
    ck_assert_int_eq(epy_peer_wait_ready(cli, 5000, &err), 0);
    ck_assert_int_eq(epy_peer_wait_ready(srv_peer, 5000, &err), 0);
    open_api();
}

/*
 * A server (driven by its I/O thread) and a client, at @url; with
 * @max_mem, the server's max_call_memory.
 */
static void
start_server_mem(const char *url, size_t max_mem)
{
    epy_server_config scfg = EPY_SERVER_CONFIG_INIT;
    epy_peer_config cfg;
    epy_error err = EPY_ERROR_INIT;

    config(&scfg.peer);
    if (max_mem != 0)
        scfg.max_call_memory = max_mem;
    ck_assert_int_eq(epy_server_new(url, &scfg, &srv, &err), 0);
    ck_assert_int_eq(files_serve_server(srv, &handlers, NULL), 0);
    config(&cfg);
    ck_assert_int_eq(epy_connect(epy_server_url(srv), &cfg, 5000, &cli, &err), 0);
    open_api();
}

static void
start_server(const char *url)
{
    start_server_mem(url, 0);
}

static void
start_unix_server_mem(size_t max_mem)
{
    char url[128];

    snprintf(dir, sizeof dir, "/tmp/epy-fds-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(url, sizeof url, "unix:%s/s.sock", dir);
    start_server_mem(url, max_mem);
}

static void
start_unix_server(void)
{
    start_unix_server_mem(0);
}

static void
stop(void)
{
    files_api_close(api);
    api = NULL;
    epy_peer_close(cli);
    cli = NULL;
    if (srv_peer != NULL)
        epy_peer_close(srv_peer);
    srv_peer = NULL;
    if (srv != NULL)
        epy_server_close(srv);
    srv = NULL;
    if (dir[0] != '\0')
        rmdir(dir);
    dir[0] = '\0';
}

/* --- the calls ---------------------------------------------------------------- */

/* Reads what @fd has until its end. */
static size_t
read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;

    while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
        n += (size_t) r;
    return n;
}

/* A pipe passed both ways and used: the other end writes, this one reads. */
static void
pipes_both_ways(void)
{
    epy_error err = EPY_ERROR_INIT;
    uint64_t wrote = 0;
    char buf[64];
    int p[2], r = -1;

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(files_write_to(api, p[1], "through the pipe", &wrote,
                                    &err), 0);
    ck_assert_uint_eq(wrote, 16);
    /* With $SHM (make check-shm), the reply came through the ring. */
    ck_assert(epy_peer_shm(cli) == (getenv("SHM") != NULL));
    close(p[1]);        /* this end's: the other end closed its own */
    ck_assert_uint_eq(read_all(p[0], buf, sizeof buf), 16);
    ck_assert_int_eq(memcmp(buf, "through the pipe", 16), 0);
    close(p[0]);

    ck_assert_int_eq(files_make_pipe(api, "made there", &r, &err), 0);
    ck_assert_int_ge(r, 3);
    ck_assert_uint_eq(read_all(r, buf, sizeof buf), 10);  /* to its end */
    ck_assert_int_eq(memcmp(buf, "made there", 10), 0);
    close(r);
}

/* A memfd of @mib MiB echoed: the same file comes back, its bytes intact. */
static void
memfd_echo(size_t mib)
{
    epy_error err = EPY_ERROR_INIT;
    size_t len = mib << 20;
    struct stat a, b;
    uint64_t size = 0;
    uint8_t *p, *q;
    int m = memfd_create("epy-test", MFD_CLOEXEC), back = -1;

    ck_assert_int_ge(m, 0);
    ck_assert_int_eq(ftruncate(m, (off_t) len), 0);
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    for (size_t i = 0; i < len; i += 4096)
        p[i] = (uint8_t) (i >> 12), p[i + 4095] = (uint8_t) ~(i >> 12);
    ck_assert_int_eq(files_echo(api, m, &back, &err), 0);
    ck_assert_int_ge(back, 3);
    ck_assert_int_ne(back, m);
    ck_assert_int_eq(fstat(m, &a), 0);
    ck_assert_int_eq(fstat(back, &b), 0);
    ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    q = mmap(NULL, len, PROT_READ, MAP_SHARED, back, 0);
    ck_assert_ptr_ne(q, MAP_FAILED);
    ck_assert_int_eq(memcmp(p, q, len), 0);
    ck_assert_int_eq(files_size_of(api, back, &size, &err), 0);
    ck_assert_uint_eq(size, len);
    munmap(q, len);
    munmap(p, len);
    close(back);
    close(m);
}

/* Descriptors in a list of structs, and in an optional. */
static void
composites(void)
{
    epy_error err = EPY_ERROR_INIT;
    files_handle items[3];
    files_handle_list hs = { 3, items }, out = { 0, NULL };
    epy_fd_opt none = { false, -1 }, some, got;
    int p[3][2];

    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pipe(p[i]), 0);
        items[i].name = (char *) (i == 0 ? "a" : i == 1 ? "b" : "c");
        items[i].file = p[i][1];
    }
    ck_assert_int_eq(files_echo_handles(api, &hs, &out, &err), 0);
    ck_assert_uint_eq(out.n, 3);
    for (int i = 0; i < 3; i++) {
        char c = 0;

        ck_assert_str_eq(out.items[i].name, items[i].name);
        /* Written through the echoed one, read from this end's pipe. */
        ck_assert_int_eq(write(out.items[i].file, &"xyz"[i], 1), 1);
        ck_assert_int_eq(read(p[i][0], &c, 1), 1);
        ck_assert_int_eq(c, "xyz"[i]);
    }
    files_handle_list_clear(&out);     /* closes the echoed descriptors */
    for (int i = 0; i < 3; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }

    ck_assert_int_eq(files_maybe(api, &none, &got, &err), 0);
    ck_assert(!got.has);
    some.has = true;
    some.value = STDERR_FILENO;     /* a low number crosses as any other */
    ck_assert_int_eq(files_maybe(api, &some, &got, &err), 0);
    ck_assert(got.has);
    ck_assert_int_ge(got.value, 3);
    close(got.value);
}

/* An event carries its descriptor too. */
static void
event_with_fd(void)
{
    epy_error err = EPY_ERROR_INIT;
    char buf[8];
    int p[2];

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(files_note_send(api, p[1], &err), 0);
    close(p[1]);
    ck_assert_uint_eq(read_all(p[0], buf, sizeof buf), 4);  /* ends with it */
    ck_assert_int_eq(memcmp(buf, "note", 4), 0);
    close(p[0]);
}

START_TEST(test_pair)
{
    start_pair(true);
    pipes_both_ways();
    memfd_echo(1);
    composites();
    event_with_fd();
    stop();
}
END_TEST

START_TEST(test_server)
{
    start_unix_server();
    pipes_both_ways();
    composites();
    event_with_fd();
    stop();
}
END_TEST

/*
 * Descriptors held by a server's received calls count in its
 * max_call_memory (256 KiB each), so that queued calls cannot take its
 * descriptor table: with room for 3, a call bringing 4 is refused, one
 * bringing 2 runs, and the connection goes on.
 */
START_TEST(test_server_fds_charged)
{
    epy_error err = EPY_ERROR_INIT;
    files_handle items[4];
    files_handle_list hs = { 4, items }, out = { 0, NULL };
    int p[2];

    start_unix_server_mem(3 * 256 * 1024 + 4096);
    ck_assert_int_eq(pipe(p), 0);
    for (int i = 0; i < 4; i++) {
        items[i].name = (char *) "h";
        items[i].file = p[1];
    }
    ck_assert_int_eq(files_echo_handles(api, &hs, &out, &err), EPY_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err.message, "4 descriptors"));
    ck_assert_ptr_nonnull(strstr(err.message, "max_call_memory"));
    epy_error_clear(&err);
    hs.n = 2;
    ck_assert_int_eq(files_echo_handles(api, &hs, &out, &err), 0);
    ck_assert_uint_eq(out.n, 2);
    files_handle_list_clear(&out);
    close(p[0]);
    close(p[1]);
    stop();
}
END_TEST

START_TEST(test_memfd_100mib)
{
    start_pair(true);
    memfd_echo(100);
    stop();
    start_unix_server();
    memfd_echo(100);
    stop();
}
END_TEST

START_TEST(test_refused_tcp)
{
    epy_error err = EPY_ERROR_INIT;
    int m = memfd_create("epy-test", MFD_CLOEXEC), back = -1;
    uint64_t n = 0;

    start_server("tcp:127.0.0.1:0");
    ck_assert_int_eq(files_echo(api, m, &back, &err), EPY_EUNSUPPORTED);
    ck_assert_int_eq(back, -1);
    ck_assert_ptr_nonnull(strstr(err.message, "descriptor"));
    epy_error_clear(&err);
    /* The connection goes on: the call was refused before it was sent. */
    ck_assert_int_eq(files_size_of(api, -1, &n, &err), EPY_ESYSTEM);
    epy_error_clear(&err);
    stop();
    close(m);
}
END_TEST

START_TEST(test_refused_by_peer)
{
    epy_error err = EPY_ERROR_INIT;
    int back = -1;

    start_pair(false);      /* the server side takes no descriptors */
    ck_assert_int_eq(files_echo(api, STDIN_FILENO, &back, &err),
                     EPY_EUNSUPPORTED);
    epy_error_clear(&err);
    /* The other way is open: this end takes them. */
    ck_assert_int_eq(files_make_pipe(api, "x", &back, &err), 0);
    ck_assert_int_ge(back, 3);
    close(back);
    stop();
}
END_TEST

/*
 * Over shared memory, the other process killed while a call waits on it:
 * the call fails within a second, as over the socket (the socket stays
 * to tell the death).
 */
START_TEST(test_shm_peer_killed)
{
    epy_peer_config cfg;
    epy_error err = EPY_ERROR_INIT;
    epy_async *a = NULL;
    int sv[2], p[2], back = -1;
    pid_t pid;
    int64_t t0;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(sv[0]);
        config(&cfg);
        cfg.shm = true;
        cfg.start_paused = true;    /* served before the first call */
        if (epy_peer_new_fd(sv[1], &cfg, &srv_peer, &err) < 0
            || files_serve(srv_peer, &handlers, NULL) < 0
            || epy_peer_start(srv_peer) < 0)
            _exit(1);
        for (;;)
            pause();    /* until killed */
    }
    close(sv[1]);
    config(&cfg);
    cfg.shm = true;
    ck_assert_int_eq(epy_peer_new_fd(sv[0], &cfg, &cli, &err), 0);
    ck_assert_int_eq(epy_peer_wait_ready(cli, 5000, &err), 0);
    open_api();
    ck_assert_int_eq(files_make_pipe(api, "x", &back, &err), 0);
    close(back);
    ck_assert(epy_peer_shm(cli));
    /* A full pipe: the handler's write blocks, the call never ends. */
    {
        int size = fcntl(p[1], F_GETPIPE_SZ);
        char *junk = calloc(1, (size_t) size);

        ck_assert_ptr_nonnull(junk);
        ck_assert_int_eq(write(p[1], junk, (size_t) size), size);
        free(junk);
    }
    ck_assert_int_eq(files_write_to_async(api, p[1], "blocked", NULL, &a,
                                          &err), 0);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_async_wait(a, 10000), EPY_EDISCONNECTED);
    ck_assert_int_lt(tu_now_ms() - t0, 1000 * tu_slow());
    ck_assert_int_eq(files_write_to_result(a, NULL, &err), EPY_EDISCONNECTED);
    epy_error_clear(&err);
    epy_async_release(a);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    close(p[0]);
    close(p[1]);
    srv_peer = NULL;
    stop();
}
END_TEST

static Suite *
fds_suite(void)
{
    Suite *s = suite_create("fds");
    TCase *tc = tcase_create("fds");

    tcase_add_checked_fixture(tc, tu_setup_resources, tu_teardown_resources);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pair);
    tcase_add_test(tc, test_server);
    tcase_add_test(tc, test_server_fds_charged);
    tcase_add_test(tc, test_memfd_100mib);
    tcase_add_test(tc, test_refused_tcp);
    tcase_add_test(tc, test_refused_by_peer);
    tcase_add_test(tc, test_shm_peer_killed);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(fds_suite());
}
