/*
 * epyrpc in a plain poll() loop, with no thread of the library at all
 * (EPY_LOOP_THREADLESS): a server process and a client process, each
 * single-threaded, calling each other.
 *
 * The pattern, for any loop: watch epy_*_get_fd() for reading, wake up
 * after epy_*_get_timeout() at the latest, and call epy_*_process().
 * Handlers, callbacks and events run inside process(); a synchronous
 * call made on the loop's thread runs the loop's work while it waits.
 *
 * Also a test (`make check`): calls both ways, a nested call (the
 * server calls the client back while the client waits in a call of its
 * own), events both ways, a timeout, and a server killed mid-call; at
 * the end both processes check that they never started a thread.
 */
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

static int failures;

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "loop-poll: %s:%d: ", __FILE__, __LINE__);   \
            fprintf(stderr, __VA_ARGS__);                                \
            fprintf(stderr, "\n");                                       \
            failures++;                                                  \
        }                                                                \
    } while (0)

/* The threads of this process (/proc/self/task). */
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

/* --- the server ----------------------------------------------------------- */

static bool server_quit;
static epy_call *never_answered;        /* t.never's call, answered at quit */

static int
t_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

/* Asks the caller its name (a nested call back), answers "hello NAME". */
static int
t_greet(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    epy_api *client;
    epy_buf name = EPY_BUF_INIT;
    char msg[128];
    int rc;

    (void) req, (void) len, (void) ctx;
    rc = epy_api_open(epy_call_peer(call), "c", &client, NULL);
    if (rc == 0) {
        /* Synchronous, inside process(): it runs the loop while it waits. */
        rc = epy_api_call(client, "name", NULL, 0, NULL, &name, NULL);
        epy_api_close(client);
    }
    if (rc < 0)
        return rc;
    snprintf(msg, sizeof msg, "hello %.*s", (int) name.len,
             (const char *) name.data);
    epy_buf_clear(&name);
    return epy_call_reply(call, msg, strlen(msg));
}

/* An event from the client: answered with an event back. */
static int
t_note(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    epy_peer_post_event(epy_call_peer(call), "c.tick", req, len, NULL);
    return 0;
}

/* Never answers (until the server quits): the client's call times out. */
static int
t_never(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req, (void) len, (void) ctx;
    never_answered = call;
    return EPY_DEFER;
}

static int
t_quit(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call, (void) req, (void) len, (void) ctx;
    server_quit = true;
    return 0;
}

/* A server on @url, run by a poll() loop until t.quit. Exit status 0: ok. */
static int
server_main(const char *url)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;

    cfg.peer.loop_mode = EPY_LOOP_THREADLESS;
    if (epy_server_new(url, &cfg, &srv, &err) < 0) {
        fprintf(stderr, "loop-poll: server: %s\n", err.message);
        return 1;
    }
    epy_server_handle(srv, "t.echo", t_echo, NULL, NULL);
    epy_server_handle(srv, "t.greet", t_greet, NULL, NULL);
    epy_server_handle(srv, "t.note", t_note, NULL, NULL);
    epy_server_handle(srv, "t.never", t_never, NULL, NULL);
    epy_server_handle(srv, "t.quit", t_quit, NULL, NULL);

    while (!server_quit) {
        struct pollfd pfd = { epy_server_get_fd(srv),
                              epy_server_get_events(srv), 0 };
        int64_t timeout = epy_server_get_timeout(srv);

        poll(&pfd, 1, timeout < 0 || timeout > 1000 ? 1000 : (int) timeout);
        epy_server_process(srv);
    }
    if (never_answered != NULL)
        epy_call_fail(never_answered, EPY_ECANCELED, NULL, "quitting", NULL, 0);
    epy_server_close(srv);
    if (threads() != 1) {
        fprintf(stderr, "loop-poll: the server ran %d threads\n", threads());
        return 1;
    }
    return 0;
}

/* --- the client ------------------------------------------------------------ */

typedef struct client {
    epy_peer *peer;
    epy_api *api;
    int ticks;                  /* events received */
    int done;                   /* async callbacks run */
    int last_rc;                /* the last callback's status */
} client;

static int
c_name(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req, (void) len, (void) ctx;
    return epy_call_reply(call, "poll-client", 11);
}

static int
c_tick(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    client *c = ctx;

    (void) call, (void) req, (void) len;
    c->ticks++;
    return 0;
}

static void
on_done(epy_async *a, void *ctx)
{
    client *c = ctx;

    c->last_rc = epy_async_result(a, NULL, NULL);
    c->done++;
    epy_async_release(a);
}

/* Runs @n peers' loop until *@flag reaches @want or 5 s pass. */
static void
run_until(epy_peer **peers, int n, const int *flag, int want)
{
    for (int spins = 0; *flag < want && spins < 500; spins++) {
        struct pollfd pfd[4];
        int64_t timeout = 10;

        for (int i = 0; i < n; i++) {
            int64_t t = epy_peer_get_timeout(peers[i]);

            pfd[i].fd = epy_peer_get_fd(peers[i]);
            pfd[i].events = epy_peer_get_events(peers[i]);
            if (t >= 0 && t < timeout)
                timeout = t;
        }
        poll(pfd, (nfds_t) n, (int) timeout);
        for (int i = 0; i < n; i++)
            epy_peer_process(peers[i]);
    }
}

static int
client_connect(const char *url, client *c)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    int rc;

    memset(c, 0, sizeof *c);
    cfg.loop_mode = EPY_LOOP_THREADLESS;
    /*
     * Waits for the server's hello, running the loop itself meanwhile.
     * The server has just been forked: try again while it starts.
     */
    for (int tries = 0; tries < 500; tries++) {
        epy_error_clear(&err);
        rc = epy_connect(url, &cfg, 5000, &c->peer, &err);
        if (rc != EPY_EDISCONNECTED)
            break;
        usleep(10000);
    }
    if (rc < 0) {
        fprintf(stderr, "loop-poll: connect: %s\n", err.message);
        epy_error_clear(&err);
        return rc;
    }
    epy_peer_handle(c->peer, "c.name", c_name, c, NULL);
    epy_peer_handle(c->peer, "c.tick", c_tick, c, NULL);
    return epy_api_open(c->peer, "t", &c->api, NULL);
}

static void
client_close(client *c)
{
    epy_api_close(c->api);
    epy_peer_close(c->peer);
}

static pid_t
fork_server(const char *url)
{
    pid_t pid = fork();

    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        _exit(server_main(url));
    }
    return pid;
}

int
main(void)
{
    char dir[] = "/tmp/epy-loop-poll-XXXXXX", url[96], url2[96];
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_buf out = EPY_BUF_INIT;
    pid_t server, victim;
    epy_async *a;
    client c, v;
    int rc, status;

    alarm(60);          /* a hang fails the test */
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(url, sizeof url, "unix:%s/s.sock", dir);
    snprintf(url2, sizeof url2, "unix:%s/victim.sock", dir);
    server = fork_server(url);
    victim = fork_server(url2);
    if (client_connect(url, &c) < 0 || client_connect(url2, &v) < 0)
        return 1;

    /* A synchronous call on the loop's thread. */
    rc = epy_api_call(c.api, "echo", "ping", 4, NULL, &out, NULL);
    CHECK(rc == 0 && out.len == 4 && memcmp(out.data, "ping", 4) == 0,
          "sync echo: %s", epy_status_name(rc));
    epy_buf_clear(&out);

    /* An asynchronous call: its callback runs inside process(). */
    opts.callback = on_done;
    opts.callback_ctx = &c;
    rc = epy_api_call_async(c.api, "echo", "pong", 4, &opts, &a, NULL);
    CHECK(rc == 0, "async echo: %s", epy_status_name(rc));
    run_until(&c.peer, 1, &c.done, 1);
    CHECK(c.done == 1 && c.last_rc == 0, "async echo: done %d, %s", c.done,
          epy_status_name(c.last_rc));

    /* Nested: the server's handler calls us back while we wait. */
    rc = epy_api_call(c.api, "greet", NULL, 0, NULL, &out, NULL);
    CHECK(rc == 0 && out.len == 17
          && memcmp(out.data, "hello poll-client", 17) == 0,
          "nested greet: %s", epy_status_name(rc));
    epy_buf_clear(&out);

    /* Events both ways: our note, the server's tick back. */
    rc = epy_api_send(c.api, "note", "n", 1, NULL);
    CHECK(rc == 0, "event: %s", epy_status_name(rc));
    run_until(&c.peer, 1, &c.ticks, 1);
    CHECK(c.ticks == 1, "no event back from the server");

    /* A call that is never answered times out, through the loop. */
    opts.timeout_ms = 200;
    rc = epy_api_call_async(c.api, "never", NULL, 0, &opts, &a, NULL);
    CHECK(rc == 0, "async never: %s", epy_status_name(rc));
    run_until(&c.peer, 1, &c.done, 2);
    CHECK(c.done == 2 && c.last_rc == EPY_ETIMEDOUT,
          "the unanswered call ended with %s", epy_status_name(c.last_rc));

    /* A server killed mid-call: the call fails, process() says why. */
    opts.timeout_ms = 0;
    opts.callback_ctx = &v;
    rc = epy_api_call_async(v.api, "never", NULL, 0, &opts, &a, NULL);
    CHECK(rc == 0, "async never (victim): %s", epy_status_name(rc));
    for (int i = 0; i < 5; i++) {           /* the call goes out */
        struct pollfd pfd = { epy_peer_get_fd(v.peer), POLLIN, 0 };

        poll(&pfd, 1, 10);
        epy_peer_process(v.peer);
    }
    kill(victim, SIGKILL);
    waitpid(victim, NULL, 0);
    run_until(&v.peer, 1, &v.done, 1);
    CHECK(v.done == 1 && v.last_rc == EPY_EDISCONNECTED,
          "the call to a killed server ended with %s",
          epy_status_name(v.last_rc));
    rc = epy_peer_process(v.peer);
    CHECK(rc == EPY_EDISCONNECTED, "process() after the kill: %s",
          epy_status_name(rc));
    client_close(&v);

    epy_api_send(c.api, "quit", NULL, 0, NULL);
    client_close(&c);
    CHECK(waitpid(server, &status, 0) == server && WIFEXITED(status)
          && WEXITSTATUS(status) == 0, "the server failed");
    CHECK(threads() == 1, "the client ran %d threads", threads());
    unlink(url2 + 5);
    rmdir(dir);
    if (failures == 0)
        printf("loop-poll: ok\n");
    return failures != 0;
}
