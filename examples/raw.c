/*
 * The raw (dynamic) API, without generated code: two processes joined by
 * a socketpair across fork(). The child serves "demo.echo" and
 * "demo.divide"; the parent calls them synchronously and asynchronously,
 * and gets a typed error back. Payloads here are plain text; with idlc
 * they would be protobuf messages.
 *
 * Exits 0 when every call gave the expected answer.
 */
#include <config.h>

#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

/* Answers with the request, unchanged. */
static int
echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

/* "a/b" -> the quotient; b == 0 raises the error type demo.divide_by_zero. */
static int
divide(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    char text[64], out[64];
    long a, b;

    (void) ctx;
    /* An empty request may be NULL: "%.*s" needs a string even then. */
    snprintf(text, sizeof text, "%.*s", (int) len,
             req != NULL ? (const char *) req : "");
    if (sscanf(text, "%ld/%ld", &a, &b) != 2)
        return EPY_EPARAM;
    if (b == 0)
        return epy_call_fail(call, EPY_EFAILED, "demo.divide_by_zero",
                             "division by zero", text, strlen(text));
    snprintf(out, sizeof out, "%ld", a / b);
    return epy_call_reply(call, out, strlen(out));
}

/* A listener callback: the parent's disconnect ends the child. */
static void
on_disconnect(epy_peer *peer, int reason, void *ctx)
{
    (void) peer;
    (void) reason;
    sem_post(ctx);
}

static int
serve(epy_link *link)
{
    epy_peer *peer = NULL;
    epy_listener listener = { NULL, NULL, on_disconnect };
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    sem_t gone;

    sem_init(&gone, 0, 0);
    /* Paused until the handlers are in place: no call can come too early. */
    cfg.start_paused = true;
    cfg.origin = EPY_ORIGIN_NECK;
    cfg.listener = &listener;
    cfg.listener_ctx = &gone;
    if (epy_link_peer(link, EPY_LINK_NECK, &cfg, &peer, NULL) < 0)
        return 1;
    epy_peer_handle(peer, "demo.echo", echo, NULL, NULL);
    epy_peer_handle(peer, "demo.divide", divide, NULL, NULL);
    epy_peer_start(peer);
    /* Serve until the parent goes away. */
    while (sem_wait(&gone) < 0)
        ;
    epy_peer_close(peer);
    sem_destroy(&gone);
    return 0;
}

int
main(void)
{
    epy_link link = EPY_LINK_INIT;
    epy_peer *peer = NULL;
    epy_api *api = NULL;
    epy_buf reply = EPY_BUF_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_async *async = NULL;
    int rc, status, failures = 0;
    pid_t child;

    if (epy_link_open(&link, &err) < 0) {
        fprintf(stderr, "link: %s\n", err.message);
        return 1;
    }
    child = fork();
    if (child == 0)
        _exit(serve(&link));
    if (epy_link_peer(&link, EPY_LINK_HEAD, NULL, &peer, &err) < 0
        || epy_peer_wait_ready(peer, 5000, &err) < 0
        || epy_api_open(peer, "demo", &api, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err.message);
        return 1;
    }
    epy_api_set_timeout(api, 5000);

    /* A synchronous call. */
    rc = epy_api_call(api, "echo", "hello", 5, NULL, &reply, &err);
    printf("echo(\"hello\") -> %d \"%.*s\"\n", rc, (int) reply.len,
           (const char *) reply.data);
    failures += rc != 0 || reply.len != 5 || memcmp(reply.data, "hello", 5);

    /* An asynchronous call, waited for. */
    rc = epy_api_call_async(api, "divide", "84/2", 4, NULL, &async, &err);
    if (rc == 0)
        rc = epy_async_wait(async, 5000);
    if (rc == 0)
        rc = epy_async_result(async, &reply, &err);
    printf("divide(84/2) async -> %d \"%.*s\"\n", rc, (int) reply.len,
           (const char *) reply.data);
    failures += rc != 0 || reply.len != 2 || memcmp(reply.data, "42", 2);
    async = epy_async_release(async);

    /* A typed error raised by the handler. */
    rc = epy_api_call(api, "divide", "1/0", 3, NULL, &reply, &err);
    printf("divide(1/0) -> %s: %s [type %s, payload \"%.*s\"]\n",
           epy_status_name(rc), err.message, err.type ? err.type : "-",
           (int) err.payload_len, (const char *) err.payload);
    failures += rc != EPY_EFAILED || err.type == NULL
                || strcmp(err.type, "demo.divide_by_zero") != 0;
    epy_error_clear(&err);

    /* A method nobody handles. */
    rc = epy_api_call(api, "missing", NULL, 0, NULL, &reply, &err);
    printf("missing() -> %s: %s\n", epy_status_name(rc), err.message);
    failures += rc != EPY_EUNSUPPORTED;
    epy_error_clear(&err);

    epy_buf_clear(&reply);
    api = epy_api_close(api);
    peer = epy_peer_close(peer);
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0)
        failures++;
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
