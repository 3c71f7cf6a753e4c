/*
 * epyrpc in a libuv loop: a uv_poll_t watches the object's descriptor, a
 * uv_timer_t is set from its timeout after each process(). The server (a
 * child process) runs its handlers on workers (EPY_LOOP_WORKERS); the
 * client is thread-less. The script is loop-demo.c's.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "loop-demo.h"

/* --- a watcher for an epyrpc peer or server ------------------------------ */

typedef struct epy_uv {
    uv_poll_t poll;
    uv_timer_t timer;
    epy_peer *peer;             /* one of the two */
    epy_server *srv;
} epy_uv;

static void on_timer(uv_timer_t *t);

/* Processes, then sets the timer for the object's next deadline. */
static void
epy_uv_process(epy_uv *w)
{
    int64_t t;

    if (w->peer != NULL) {
        epy_peer_process(w->peer);
        t = epy_peer_get_timeout(w->peer);
    } else {
        epy_server_process(w->srv);
        t = epy_server_get_timeout(w->srv);
    }
    uv_timer_stop(&w->timer);
    if (t >= 0)
        uv_timer_start(&w->timer, on_timer, (uint64_t) t, 0);
}

static void
on_readable(uv_poll_t *p, int status, int events)
{
    (void) status, (void) events;
    epy_uv_process(p->data);
}

static void
on_timer(uv_timer_t *t)
{
    epy_uv_process(t->data);
}

static void
epy_uv_start(uv_loop_t *loop, epy_uv *w, epy_peer *peer, epy_server *srv)
{
    w->peer = peer;
    w->srv = srv;
    uv_poll_init(loop, &w->poll, peer != NULL ? epy_peer_get_fd(peer)
                                              : epy_server_get_fd(srv));
    uv_timer_init(loop, &w->timer);
    w->poll.data = w->timer.data = w;
    uv_poll_start(&w->poll, UV_READABLE, on_readable);
    epy_uv_process(w);
}

static void
epy_uv_stop(epy_uv *w)
{
    uv_poll_stop(&w->poll);
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *) &w->poll, NULL);
    uv_close((uv_handle_t *) &w->timer, NULL);
}

/* --- the server process -------------------------------------------------- */

static int
server_main(const char *url)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    uv_loop_t loop;
    epy_server *srv;
    epy_uv w;

    cfg.peer.loop_mode = EPY_LOOP_WORKERS;
    cfg.workers = 2;
    if (epy_server_new(url, &cfg, &srv, &err) < 0) {
        fprintf(stderr, "loop-uv: server: %s\n", err.message);
        return 1;
    }
    demo_serve(srv);
    uv_loop_init(&loop);
    epy_uv_start(&loop, &w, NULL, srv);
    while (!demo_server_quit)
        uv_run(&loop, UV_RUN_ONCE);
    demo_server_cleanup();
    epy_uv_stop(&w);
    uv_run(&loop, UV_RUN_DEFAULT);      /* the closes complete */
    uv_loop_close(&loop);
    epy_server_close(srv);
    return 0;
}

/* --- the client ---------------------------------------------------------- */

static uv_loop_t client_loop;

static void
time_up(uv_timer_t *t)
{
    *(bool *) t->data = true;
}

static void
run_uv(const int *flag, int want, int timeout_ms)
{
    bool up = false;
    uv_timer_t t;

    uv_timer_init(&client_loop, &t);
    t.data = &up;
    uv_timer_start(&t, time_up, (uint64_t) timeout_ms, 0);
    while (*flag < want && !up)
        uv_run(&client_loop, UV_RUN_ONCE);
    uv_timer_stop(&t);
    uv_close((uv_handle_t *) &t, NULL);
    uv_run(&client_loop, UV_RUN_NOWAIT);
}

int
main(void)
{
    demo_run r;
    epy_uv wc, wv;
    int failures;

    if (demo_begin(&r, "loop-uv", server_main) < 0)
        return 1;
    uv_loop_init(&client_loop);
    epy_uv_start(&client_loop, &wc, r.c.peer, NULL);
    epy_uv_start(&client_loop, &wv, r.v.peer, NULL);
    failures = demo_client_script(&r.c, &r.v, r.victim, run_uv, "loop-uv");
    epy_uv_stop(&wv);
    epy_uv_stop(&wc);
    uv_run(&client_loop, UV_RUN_DEFAULT);
    uv_loop_close(&client_loop);
    failures += demo_end(&r, "loop-uv");
    if (failures == 0)
        printf("loop-uv: ok\n");
    return failures != 0;
}
