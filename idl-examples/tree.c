/*
 * A namespace tree like the original library's tests (tree.idl): the
 * server serves api.parent and api.parent.child_a with handler tables
 * that leave some methods unhandled, answers api.parent.child_b through
 * a catch-all, and watches what nobody handles with its own listener.
 * The client reaches the children from the parent api and checks every
 * answer. Exits 0 when all are as expected.
 */
#include <config.h>

#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tree.epy.h"

static int failures;

#define CHECK(cond, what)                                                \
    do {                                                                 \
        printf("  %-44s %s\n", what, (cond) ? "ok" : "WRONG");           \
        failures += !(cond);                                             \
    } while (0)

/* --- the server ------------------------------------------------------------ */

typedef struct server {
    sem_t gone;
    atomic_int unhandled;        /* calls the listener saw */
} server;

static int
hello(epy_call *call, const char *who, char **ret, void *ctx)
{
    server *s = ctx;
    char text[256];

    (void) call;
    snprintf(text, sizeof text, "hello, %s (%d unhandled so far)", who,
             atomic_load(&s->unhandled));
    *ret = strdup(text);
    return *ret != NULL ? 0 : EPY_ENOMEM;
}

static int
notify(epy_call *call, const char *what, void *ctx)
{
    (void) call;
    (void) ctx;
    printf("server: notified of %s\n", what);
    fflush(stdout);
    return 0;
}

static int
ping(epy_call *call, int32_t n, int32_t *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = n + 1;
    return 0;
}

/*
 * The catch-all of api.parent.child_b. The arguments of echo (string s =
 * 1) and its result (string value = 1) have the same wire form, so the
 * request itself is the answer; every other method is refused.
 */
static int
child_b_catch_all(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    if (strcmp(epy_call_method(call), "api.parent.child_b.echo") == 0)
        return epy_call_reply(call, req, len);
    return epy_call_fail(call, EPY_EUNSUPPORTED, NULL,
                         "the catch-all only echoes", NULL, 0);
}

/* The listener counts what nobody handles, then answers as the default. */
static int
on_unhandled(epy_call *call, int reason, const uint8_t *req, size_t len,
             void *ctx)
{
    server *s = ctx;

    /* Calls that arrive before the tables are registered: not counted. */
    if (strcmp(epy_call_method(call), "api.parent.child_b.echo") != 0)
        atomic_fetch_add(&s->unhandled, 1);
    printf("server: listener: %s for %s\n", epy_status_name(reason),
           epy_call_method(call));
    fflush(stdout);
    return epy_listener_default_unhandled(call, reason, req, len, ctx);
}

static void
on_gone(epy_peer *peer, int reason, void *ctx)
{
    server *s = ctx;

    (void) peer;
    (void) reason;
    sem_post(&s->gone);
}

static int
serve(epy_link *link)
{
    static const api_parent_handlers parent = { hello, NULL, notify };
    static const api_parent_child_a_handlers child_a = { ping, NULL };
    epy_listener listener = { on_unhandled, NULL, on_gone };
    epy_peer *peer = NULL;
    server s;

    sem_init(&s.gone, 0, 0);
    atomic_init(&s.unhandled, 0);
    if (epy_link_peer(link, EPY_LINK_NECK, NULL, &peer, NULL) < 0)
        return 1;
    epy_peer_set_listener(peer, &listener, &s);
    if (api_parent_serve(peer, &parent, &s) < 0
        || api_parent_child_a_serve(peer, &child_a, &s) < 0
        || epy_peer_handle_ns(peer, "api.parent.child_b", child_b_catch_all,
                              NULL, NULL) < 0)
        return 1;
    while (sem_wait(&s.gone) < 0)
        ;
    api_parent_unserve(peer);
    api_parent_child_a_unserve(peer);
    epy_peer_close(peer);
    sem_destroy(&s.gone);
    return 0;
}

/* --- the client ---------------------------------------------------------- */

static void
client(epy_peer *peer)
{
    epy_error err = EPY_ERROR_INIT;
    api_api *root = NULL;
    api_parent_api *parent = NULL;
    api_parent_child_a_api *a = NULL;
    api_parent_child_b_api *b = NULL;
    epy_api *nowhere = NULL;
    char *text = NULL;
    int32_t n = 0;
    int64_t twice = 0;
    int rc;

    if (api_api_open(peer, &root, &err) < 0
        || api_parent_api_child(root, &parent, &err) < 0
        || api_parent_child_a_api_child(parent, &a, &err) < 0
        || api_parent_child_b_api_child(parent, &b, &err) < 0) {
        printf("client: %s\n", err.message);
        failures++;
        return;
    }
    printf("client: apis %s, %s, %s, %s\n",
           epy_api_name(api_api_raw(root)),
           epy_api_name(api_parent_api_raw(parent)),
           epy_api_name(api_parent_child_a_api_raw(a)),
           epy_api_name(api_parent_child_b_api_raw(b)));
    CHECK(epy_api_timeout(api_parent_child_a_api_raw(a)) == 1000,
          "child_a's own timeout (1 s)");
    CHECK(epy_api_timeout(api_parent_child_b_api_raw(b)) == 5000,
          "child_b inherits api's timeout (5 s)");

    /* The server registers its tables and catch-all one by one just
     * after its peer starts: until the last one (child_b's catch-all) is
     * in, calls may find a namespace unknown or a method unsupported. */
    for (int i = 0; i < 5000; i++) {
        rc = api_parent_child_b_echo(b, "ready?", &text, NULL);
        if (rc == 0)
            free(text);
        if (rc != EPY_EUNKNOWN && rc != EPY_EUNSUPPORTED)
            break;
        usleep(1000);
    }
    rc = api_parent_hello(parent, "world", &text, &err);
    printf("client: api.parent.hello -> %s\n", rc == 0 ? text : "-");
    CHECK(rc == 0 && strncmp(text, "hello, world", 12) == 0,
          "handled method");
    free(text);

    rc = api_parent_unhandled(parent, &err);
    CHECK(rc == EPY_EUNSUPPORTED, "unhandled method: EPY_EUNSUPPORTED");
    epy_error_clear(&err);

    rc = api_parent_notify_send(parent, "an event", &err);
    CHECK(rc == 0, "event sent");

    rc = api_parent_child_a_ping(a, 41, &n, &err);
    CHECK(rc == 0 && n == 42, "child_a.ping(41) = 42");
    rc = api_parent_child_a_not_served(a, 1, &n, &err);
    CHECK(rc == EPY_EUNSUPPORTED, "child_a.not_served: EPY_EUNSUPPORTED");
    epy_error_clear(&err);

    rc = api_parent_child_b_echo(b, "through the catch-all", &text, &err);
    CHECK(rc == 0 && strcmp(text, "through the catch-all") == 0,
          "child_b.echo answered by the catch-all");
    free(text);
    rc = api_parent_child_b_twice(b, 21, &twice, &err);
    CHECK(rc == EPY_EUNSUPPORTED, "child_b.twice refused by the catch-all");
    epy_error_clear(&err);

    /* A namespace the server does not know at all. */
    rc = epy_api_open(peer, "nowhere", &nowhere, &err);
    if (rc == 0)
        rc = epy_api_call(nowhere, "thing", NULL, 0, NULL, NULL, &err);
    CHECK(rc == EPY_EUNKNOWN, "unknown namespace: EPY_EUNKNOWN");
    epy_error_clear(&err);
    epy_api_close(nowhere);

    rc = api_parent_hello(parent, "again", &text, &err);
    printf("client: api.parent.hello -> %s\n", rc == 0 ? text : "-");
    CHECK(rc == 0 && strstr(text, "(3 unhandled so far)") != NULL,
          "the server's listener saw 3 calls");
    free(text);

    api_parent_child_b_api_close(b);
    api_parent_child_a_api_close(a);
    api_parent_api_close(parent);
    api_api_close(root);
}

int
main(void)
{
    epy_link link = EPY_LINK_INIT;
    epy_peer *peer = NULL;
    epy_error err = EPY_ERROR_INIT;
    int status;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (epy_link_open(&link, &err) < 0)
        return 1;
    child = fork();
    if (child < 0)
        return 1;
    if (child == 0)
        _exit(serve(&link));
    if (epy_link_peer(&link, EPY_LINK_HEAD, NULL, &peer, &err) < 0
        || epy_peer_wait_ready(peer, 5000, &err) < 0) {
        fprintf(stderr, "tree: %s\n", err.message);
        return 1;
    }
    client(peer);
    epy_peer_close(peer);
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0)
        failures++;
    printf("%s\n", failures == 0 ? "tree: ok" : "tree: FAILED");
    return failures == 0 ? 0 : 1;
}
