/*
 * epyrpc in your own event loop: a plain poll() loop, and no thread of
 * the library at all (EPY_LOOP_THREADLESS). A server process and a
 * client process, each single-threaded, calling each other.
 *
 * The pattern, for any loop (<epyrpc/loop.h>):
 *
 *     watch epy_peer_get_fd(peer) for epy_peer_get_events(peer) (POLLIN),
 *     wake up after epy_peer_get_timeout(peer) ms at the latest (-1: none),
 *     then call epy_peer_process(peer); ask for the timeout again.
 *
 * and the same with epy_server_*() for a server: one descriptor for the
 * listening socket and every client. Handlers, async callbacks and
 * events all run inside process(), on the loop's thread. A synchronous
 * call made on that thread runs the loop's work itself while it waits,
 * so even a call back into the waiting process (a nested call) is
 * answered.
 *
 * Also a test (`make check`): calls both ways, a nested call, events
 * both ways, a call that times out, a server killed mid-call, and at the
 * end both processes check that they never started a thread.
 */
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>
#include <epyrpc/loop.h>

/* Test helpers, at the bottom. */
static int64_t now_ms(void);
static int threads(void);
static pid_t start_server(const char *url);
static void tell_ready(void);
static void watchdog(int sig);
static int failures;
static int slow = 1;            /* $EPY_TEST_SLOW: valgrind, sanitizers */
#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "loop-poll: line %d: ", __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
            failures++;                                                  \
        }                                                                \
    } while (0)

/* An epyrpc timeout (ms; -1: none) as poll()'s. */
static int
poll_ms(int64_t timeout)
{
    return timeout > INT_MAX ? INT_MAX : (int) timeout;
}

/* === the server ========================================================= */

static bool server_quit;
static epy_call *parked[4];     /* calls to t.never, never answered */
static int n_parked;

static int
t_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

/*
 * A nested call: asks the caller its name (a synchronous call back to
 * the client, which is itself waiting for this very call to return).
 */
static int
t_greet(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    epy_buf name = EPY_BUF_INIT;
    epy_api *client;
    char msg[128];
    int rc;

    (void) req, (void) len, (void) ctx;
    rc = epy_api_open(epy_call_peer(call), "c", &client, NULL);
    if (rc < 0)
        return rc;
    rc = epy_api_call(client, "name", NULL, 0, NULL, &name, NULL);
    epy_api_close(client);
    if (rc < 0)
        return rc;      /* the client gets this code */
    snprintf(msg, sizeof msg, "hello %.*s", (int) name.len,
             (const char *) name.data);
    epy_buf_clear(&name);
    return epy_call_reply(call, msg, strlen(msg));
}

/* The event t.note: answers with an event of ours, c.tick. */
static int
t_note(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_peer_post_event(epy_call_peer(call), "c.tick", req, len, NULL);
}

/* Keeps the call and never answers it (until the server quits). */
static int
t_never(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req, (void) len, (void) ctx;
    if (n_parked == 4)
        return EPY_EBUSY;
    parked[n_parked++] = call;
    return EPY_DEFER;
}

static int
t_quit(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req, (void) len, (void) ctx;
    server_quit = true;
    return epy_call_reply(call, NULL, 0);
}

/* A server on @url run by a poll() loop until t.quit; 0: all went well. */
static int
server_main(const char *url)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;
    int before = threads();

    cfg.peer.loop_mode = EPY_LOOP_THREADLESS;
    cfg.peer.start_paused = true;               /* handlers first */
    if (epy_server_new(url, &cfg, &srv, &err) < 0) {
        fprintf(stderr, "loop-poll: server %s: %s\n", url, err.message);
        return 1;
    }
    epy_server_handle(srv, "t.echo", t_echo, NULL, NULL);
    epy_server_handle(srv, "t.greet", t_greet, NULL, NULL);
    epy_server_handle(srv, "t.note", t_note, NULL, NULL);
    epy_server_handle(srv, "t.never", t_never, NULL, NULL);
    epy_server_handle(srv, "t.quit", t_quit, NULL, NULL);
    epy_server_start(srv);
    tell_ready();                               /* (for the test) */

    /* The loop: one descriptor for the listening socket and all clients. */
    while (!server_quit) {
        struct pollfd pfd = { epy_server_get_fd(srv),
                              epy_server_get_events(srv), 0 };

        poll(&pfd, 1, poll_ms(epy_server_get_timeout(srv)));
        epy_server_process(srv);        /* accepts, reads, runs handlers */
    }

    for (int i = 0; i < n_parked; i++)
        epy_call_fail(parked[i], EPY_ECANCELED, NULL, "quitting", NULL, 0);
    epy_server_close(srv);
    if (threads() != before) {
        fprintf(stderr, "loop-poll: the server ran %d threads\n",
                threads() - before + 1);
        return 1;
    }
    return 0;
}

/* === the client ========================================================= */

/* The client's peers, watched by its loop, and how each ended (0: up). */
static epy_peer *peers[2];
static int ended[2];
static bool in_process;         /* inside epy_peer_process() */

/*
 * The client's loop: runs until *@flag reaches @want or @ms pass. A real
 * program runs its loop forever; this one stops to check what happened.
 */
static void
run_loop(const int *flag, int want, int64_t ms)
{
    int64_t end = now_ms() + ms;

    while (*flag < want && now_ms() < end) {
        struct pollfd pfd[2];
        int64_t timeout = end - now_ms();

        for (int i = 0; i < 2; i++) {
            /* A peer whose connection ended is watched no more. */
            pfd[i].fd = ended[i] == 0 ? epy_peer_get_fd(peers[i]) : -1;
            pfd[i].events = epy_peer_get_events(peers[i]);
            if (ended[i] == 0) {
                int64_t t = epy_peer_get_timeout(peers[i]);

                if (t >= 0 && t < timeout)
                    timeout = t;
            }
        }
        poll(pfd, 2, poll_ms(timeout));
        in_process = true;
        for (int i = 0; i < 2; i++)
            if (ended[i] == 0)
                ended[i] = epy_peer_process(peers[i]);
        in_process = false;
    }
}

/* The client's handlers: c.name (called back by t.greet), c.tick. */
static int names, ticks;

static int
c_name(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req, (void) len, (void) ctx;
    names++;
    return epy_call_reply(call, "loop-client", 11);
}

static int
c_tick(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call, (void) req, (void) len, (void) ctx;
    ticks++;
    return 0;
}

/* An async call's completion: runs inside epy_peer_process(). */
typedef struct completion {
    int done;                   /* 1 once the callback ran */
    int rc;                     /* the call's status */
    bool in_process;            /* did it run inside process()? */
    int64_t at;                 /* when (ms) */
    char reply[16];
} completion;

static void
on_done(epy_async *async, void *ctx)
{
    completion *c = ctx;
    epy_buf reply = EPY_BUF_INIT;

    c->rc = epy_async_result(async, &reply, NULL);
    if (c->rc == 0)
        snprintf(c->reply, sizeof c->reply, "%.*s", (int) reply.len,
                 (const char *) reply.data);
    epy_buf_clear(&reply);
    c->in_process = in_process;
    c->at = now_ms();
    c->done = 1;
}

/* Connects to @url in thread-less loop mode, with the c.* handlers. */
static epy_peer *
connect_to(const char *url)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;

    cfg.loop_mode = EPY_LOOP_THREADLESS;
    /* epy_connect() runs the peer's loop work itself until the hello. */
    if (epy_connect(url, &cfg, 5000 * slow, &peer, &err) < 0) {
        fprintf(stderr, "loop-poll: connect %s: %s\n", url, err.message);
        exit(1);
    }
    epy_peer_handle(peer, "c.name", c_name, NULL, NULL);
    epy_peer_handle(peer, "c.tick", c_tick, NULL, NULL);
    return peer;
}

int
main(void)
{
    char dir[] = "/tmp/epy-loop-poll-XXXXXX", url[64], url2[64];
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_buf out = EPY_BUF_INIT;
    completion c1 = { 0 }, c2 = { 0 }, c3 = { 0 };
    epy_api *api, *api2;
    pid_t server, victim;
    int64_t t0;
    int rc, status;

    if (getenv("EPY_TEST_SLOW") != NULL && atoi(getenv("EPY_TEST_SLOW")) > 1)
        slow = atoi(getenv("EPY_TEST_SLOW"));
    signal(SIGALRM, watchdog);
    alarm(60 * slow);           /* a hang fails the test */
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(url, sizeof url, "unix:%s/server.sock", dir);
    snprintf(url2, sizeof url2, "unix:%s/victim.sock", dir);
    server = start_server(url);
    victim = start_server(url2);   /* to be killed */
    peers[0] = connect_to(url);
    peers[1] = connect_to(url2);
    epy_api_open(peers[0], "t", &api, NULL);
    epy_api_open(peers[1], "t", &api2, NULL);
    epy_api_set_timeout(api, 5000 * slow);

    /* A synchronous call from the loop's thread: it drives the peer. */
    rc = epy_api_call(api, "echo", "ping", 4, NULL, &out, NULL);
    CHECK(rc == 0 && out.len == 4 && memcmp(out.data, "ping", 4) == 0,
          "sync echo: %s", epy_status_name(rc));

    /* An async call: its callback runs inside epy_peer_process(). */
    opts.callback = on_done;
    opts.callback_ctx = &c1;
    rc = epy_api_call_async(api, "echo", "pong", 4, &opts, NULL, NULL);
    CHECK(rc == 0 && c1.done == 0, "async echo: %s", epy_status_name(rc));
    run_loop(&c1.done, 1, 5000 * slow);
    CHECK(c1.done && c1.rc == 0 && strcmp(c1.reply, "pong") == 0,
          "async echo: %s, \"%s\"", epy_status_name(c1.rc), c1.reply);
    CHECK(c1.in_process, "the callback ran outside epy_peer_process()");

    /* A nested call: t.greet calls c.name back while we wait in it. */
    rc = epy_api_call(api, "greet", NULL, 0, NULL, &out, NULL);
    CHECK(rc == 0 && out.len == 17
          && memcmp(out.data, "hello loop-client", 17) == 0,
          "nested greet: %s", epy_status_name(rc));
    CHECK(names == 1, "c.name ran %d times", names);

    /* Events both ways: t.note makes the server send us c.tick. */
    rc = epy_api_send(api, "note", "n", 1, NULL);
    CHECK(rc == 0, "event: %s", epy_status_name(rc));
    run_loop(&ticks, 1, 5000 * slow);
    CHECK(ticks == 1, "no event back (%d)", ticks);

    /* Timeouts: t.never never answers; a 200 ms call fails in time. */
    opts.timeout_ms = 200;
    opts.callback_ctx = &c2;
    t0 = now_ms();
    rc = epy_api_call_async(api, "never", NULL, 0, &opts, NULL, NULL);
    run_loop(&c2.done, 1, 5000 * slow);
    CHECK(c2.done && c2.rc == EPY_ETIMEDOUT && c2.in_process,
          "async call past its timeout: %s", epy_status_name(c2.rc));
    CHECK(c2.at - t0 >= 190 && c2.at - t0 < 2000 * slow,
          "async timeout after %lld ms", (long long) (c2.at - t0));
    t0 = now_ms();
    opts.callback = NULL;                       /* sync: no callback */
    rc = epy_api_call(api, "never", NULL, 0, &opts, NULL, NULL);
    CHECK(rc == EPY_ETIMEDOUT, "sync call past its timeout: %s",
          epy_status_name(rc));
    CHECK(now_ms() - t0 >= 190 && now_ms() - t0 < 2000 * slow,
          "sync timeout after %lld ms", (long long) (now_ms() - t0));

    /* A server killed while our call waits: the call fails at once. */
    opts.timeout_ms = 0;                        /* no limit */
    opts.callback = on_done;
    opts.callback_ctx = &c3;
    rc = epy_api_call_async(api2, "never", NULL, 0, &opts, NULL, NULL);
    CHECK(rc == 0, "call to the victim: %s", epy_status_name(rc));
    run_loop(&c3.done, 1, 100);                 /* the call goes out */
    kill(victim, SIGKILL);
    waitpid(victim, NULL, 0);
    t0 = now_ms();
    run_loop(&c3.done, 1, 5000 * slow);
    CHECK(c3.done && c3.rc == EPY_EDISCONNECTED,
          "call to a killed server: %s", c3.done ? epy_status_name(c3.rc)
                                                 : "no completion");
    CHECK(c3.at - t0 < 1000 * slow, "it failed after %lld ms",
          (long long) (c3.at - t0));
    CHECK(ended[1] == EPY_EDISCONNECTED, "process() returned %s",
          epy_status_name(ended[1]));
    CHECK(epy_peer_process(peers[1]) == EPY_EDISCONNECTED,
          "process() after the end");

    /* Tell the server to quit, then close everything. */
    rc = epy_api_call(api, "quit", NULL, 0, NULL, NULL, NULL);
    CHECK(rc == 0, "quit: %s", epy_status_name(rc));
    epy_buf_clear(&out);
    epy_api_close(api2);
    epy_api_close(api);
    epy_peer_close(peers[1]);
    epy_peer_close(peers[0]);
    CHECK(waitpid(server, &status, 0) == server && WIFEXITED(status)
          && WEXITSTATUS(status) == 0, "the server failed");
    unlink(url2 + 5);           /* the killed server's socket */
    CHECK(rmdir(dir) == 0, "%s is not empty", dir);
    CHECK(threads() == 1, "the client ran %d threads", threads());
    if (failures == 0)
        printf("loop-poll: ok\n");
    return failures != 0;
}

/* === test helpers ======================================================= */

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The number of threads of this process (entries of /proc/self/task). */
static int
threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

static void
watchdog(int sig)
{
    static const char msg[] = "loop-poll: hung (watchdog)\n";

    (void) sig;
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(2);
    _exit(1);
}

/*
 * Runs server_main(@url) in a child process, which dies with us, and
 * returns once it listens (it calls tell_ready() then).
 */
static int ready_fd = -1;

static void
tell_ready(void)
{
    if (write(ready_fd, "", 1) != 1)
        _exit(1);
    close(ready_fd);
}

static pid_t
start_server(const char *url)
{
    pid_t parent = getpid(), pid;
    int p[2];
    char c;

    if (pipe(p) < 0 || (pid = fork()) < 0) {
        perror("loop-poll");
        exit(1);
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);       /* we die, it dies */
        if (getppid() != parent)
            _exit(1);           /* we died before the prctl() */
        signal(SIGALRM, watchdog);
        alarm(60 * slow);       /* alarms are not inherited */
        close(p[0]);
        ready_fd = p[1];
        _exit(server_main(url));
    }
    close(p[1]);
    if (read(p[0], &c, 1) != 1) {
        fprintf(stderr, "loop-poll: the server on %s did not start\n", url);
        exit(1);
    }
    close(p[0]);
    return pid;
}
