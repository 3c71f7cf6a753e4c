/*
 * The script of the GLib and libuv examples (see loop-demo.h).
 */
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop-demo.h"

atomic_bool demo_server_quit;
static int slow = 1;            /* $EPY_TEST_SLOW: valgrind, sanitizers */
static epy_call *never_answered;

/* --- the server's handlers ----------------------------------------------- */

static int
t_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

/* A nested call: asks the caller its name, answers "hello NAME". */
static int
t_greet(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    epy_buf name = EPY_BUF_INIT;
    epy_api *client;
    char msg[128];
    int rc;

    (void) req, (void) len, (void) ctx;
    rc = epy_api_open(epy_call_peer(call), "c", &client, NULL);
    if (rc == 0) {
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

static int
t_note(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_peer_post_event(epy_call_peer(call), "c.tick", req, len, NULL);
}

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
    (void) req, (void) len, (void) ctx;
    demo_server_quit = true;
    return epy_call_reply(call, NULL, 0);
}

int64_t
demo_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
watchdog(int sig)
{
    static const char msg[] = "loop example: hung (watchdog)\n";

    (void) sig;
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(2);
    _exit(1);
}

pid_t
demo_fork(const char *url, int (*server_main)(const char *url))
{
    pid_t parent = getpid(), pid = fork();

    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);           /* it died before the prctl() */
        signal(SIGALRM, watchdog);
        alarm(60 * slow);       /* alarms are not inherited */
        _exit(server_main(url));
    }
    return pid;
}

void
demo_serve(epy_server *srv)
{
    epy_server_handle(srv, "t.echo", t_echo, NULL, NULL);
    epy_server_handle(srv, "t.greet", t_greet, NULL, NULL);
    epy_server_handle(srv, "t.note", t_note, NULL, NULL);
    epy_server_handle(srv, "t.never", t_never, NULL, NULL);
    epy_server_handle(srv, "t.quit", t_quit, NULL, NULL);
}

void
demo_server_cleanup(void)
{
    if (never_answered != NULL)
        epy_call_fail(never_answered, EPY_ECANCELED, NULL, "quitting",
                      NULL, 0);
    never_answered = NULL;
}

/* --- the client ---------------------------------------------------------- */

static int
c_name(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req, (void) len, (void) ctx;
    return epy_call_reply(call, "loop-client", 11);
}

static int
c_tick(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    demo_client *c = ctx;

    (void) call, (void) req, (void) len;
    c->ticks++;
    return 0;
}

static void
on_done(epy_async *a, void *ctx)
{
    demo_client *c = ctx;

    c->last_rc = epy_async_result(a, NULL, NULL);
    c->last_at = demo_now_ms();
    c->done++;
    epy_async_release(a);
}

int
demo_connect(const char *url, demo_client *c)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    int rc = EPY_EDISCONNECTED;

    memset(c, 0, sizeof *c);
    cfg.loop_mode = EPY_LOOP_THREADLESS;
    for (int tries = 0; tries < 500 && rc == EPY_EDISCONNECTED; tries++) {
        epy_error_clear(&err);
        rc = epy_connect(url, &cfg, 5000 * slow, &c->peer, &err);
        if (rc == EPY_EDISCONNECTED)
            usleep(10000);      /* the server is still starting */
    }
    if (rc < 0) {
        fprintf(stderr, "connect %s: %s\n", url, err.message);
        epy_error_clear(&err);
        return rc;
    }
    epy_peer_handle(c->peer, "c.name", c_name, c, NULL);
    epy_peer_handle(c->peer, "c.tick", c_tick, c, NULL);
    return epy_api_open(c->peer, "t", &c->api, NULL);
}

void
demo_close(demo_client *c)
{
    epy_api_close(c->api);
    epy_peer_close(c->peer);
}

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "%s: line %d: ", who, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                \
            fprintf(stderr, "\n");                                       \
            failures++;                                                  \
        }                                                                \
    } while (0)

int
demo_client_script(demo_client *c, demo_client *v, pid_t victim,
                   demo_run_fn run, const char *who)
{
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_buf out = EPY_BUF_INIT;
    int failures = 0, rc, zero = 0;
    int64_t t0;
    epy_async *a;

    rc = epy_api_call(c->api, "echo", "ping", 4, NULL, &out, NULL);
    CHECK(rc == 0 && out.len == 4, "sync echo: %s", epy_status_name(rc));
    epy_buf_clear(&out);

    opts.callback = on_done;
    opts.callback_ctx = c;
    rc = epy_api_call_async(c->api, "echo", "pong", 4, &opts, &a, NULL);
    CHECK(rc == 0, "async echo: %s", epy_status_name(rc));
    run(&c->done, 1, 5000 * slow);
    CHECK(c->done == 1 && c->last_rc == 0, "async echo: %s",
          epy_status_name(c->last_rc));

    rc = epy_api_call(c->api, "greet", NULL, 0, NULL, &out, NULL);
    CHECK(rc == 0 && out.len == 17
          && memcmp(out.data, "hello loop-client", 17) == 0,
          "nested greet: %s", epy_status_name(rc));
    epy_buf_clear(&out);

    rc = epy_api_send(c->api, "note", "n", 1, NULL);
    CHECK(rc == 0, "event: %s", epy_status_name(rc));
    run(&c->ticks, 1, 5000 * slow);
    CHECK(c->ticks == 1, "no event back");

    opts.timeout_ms = 200;
    t0 = demo_now_ms();
    rc = epy_api_call_async(c->api, "never", NULL, 0, &opts, &a, NULL);
    run(&c->done, 2, 5000 * slow);
    CHECK(c->done == 2 && c->last_rc == EPY_ETIMEDOUT,
          "unanswered call: %s", c->done == 2 ? epy_status_name(c->last_rc)
                                              : "no completion");
    CHECK(c->last_at - t0 >= 190 && c->last_at - t0 < 2000 * slow,
          "timeout after %lld ms", (long long) (c->last_at - t0));

    opts.timeout_ms = 0;
    opts.callback_ctx = v;
    rc = epy_api_call_async(v->api, "never", NULL, 0, &opts, &a, NULL);
    CHECK(rc == 0, "call to the victim: %s", epy_status_name(rc));
    run(&zero, 1, 50);          /* the loop sends it */
    kill(victim, SIGKILL);
    waitpid(victim, NULL, 0);
    t0 = demo_now_ms();
    run(&v->done, 1, 5000 * slow);
    CHECK(v->done == 1 && v->last_rc == EPY_EDISCONNECTED,
          "call to a killed server: %s",
          v->done == 1 ? epy_status_name(v->last_rc) : "no completion");
    CHECK(v->done != 1 || v->last_at - t0 < 1000 * slow,
          "the call failed after %lld ms", (long long) (v->last_at - t0));
    CHECK(v->ended == EPY_EDISCONNECTED, "process() returned %s",
          epy_status_name(v->ended));
    CHECK(epy_peer_process(v->peer) == EPY_EDISCONNECTED,
          "process() after the end");

    rc = epy_api_call(c->api, "quit", NULL, 0, NULL, NULL, NULL);
    CHECK(rc == 0, "quit: %s", epy_status_name(rc));
    return failures;
}

int
demo_begin(demo_run *r, const char *who, int (*server_main)(const char *url))
{
    if (getenv("EPY_TEST_SLOW") != NULL && atoi(getenv("EPY_TEST_SLOW")) > 1)
        slow = atoi(getenv("EPY_TEST_SLOW"));
    signal(SIGALRM, watchdog);
    alarm(60 * slow);   /* a hang fails the test */
    snprintf(r->dir, sizeof r->dir, "/tmp/epy-%s-XXXXXX", who);
    if (mkdtemp(r->dir) == NULL)
        return -1;
    snprintf(r->url, sizeof r->url, "unix:%s/s.sock", r->dir);
    snprintf(r->url2, sizeof r->url2, "unix:%s/victim.sock", r->dir);
    r->server = demo_fork(r->url, server_main);
    r->victim = demo_fork(r->url2, server_main);
    if (demo_connect(r->url, &r->c) < 0 || demo_connect(r->url2, &r->v) < 0)
        return -1;
    return 0;
}

int
demo_end(demo_run *r, const char *who)
{
    int failures = 0, status;

    demo_close(&r->v);
    demo_close(&r->c);
    if (waitpid(r->server, &status, 0) != r->server || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: the server failed\n", who);
        failures++;
    }
    unlink(r->url2 + 5);    /* the killed one's */
    if (rmdir(r->dir) < 0) {
        fprintf(stderr, "%s: %s is not empty\n", who, r->dir);
        failures++;
    }
    return failures;
}
