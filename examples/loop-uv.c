/*
 * epyrpc in a libuv loop: a uv_poll_t watches the object's descriptor,
 * a uv_timer_t wakes it at its next deadline (set from
 * epy_*_get_timeout() by a uv_prepare_t before each wait), and both call
 * process(). The server (a child process) runs its handlers on workers
 * (EPY_LOOP_WORKERS); the client is thread-less. The script is
 * loop-demo.c's.
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
    uv_poll_t poll;             /* the descriptor */
    uv_timer_t timer;           /* the next deadline */
    uv_prepare_t prepare;       /* sets the timer before each wait */
    epy_peer *peer;             /* one of the two */
    epy_server *srv;
    int *ended;                 /* receives the peer's end code */
} epy_uv;

static void
epy_uv_process(epy_uv *w)
{
    if (w->peer == NULL) {
        epy_server_process(w->srv);
        return;
    }
    *w->ended = epy_peer_process(w->peer);
    if (*w->ended != 0) {
        /* The connection ended: stop watching (then close the peer). */
        uv_poll_stop(&w->poll);
        uv_timer_stop(&w->timer);
        uv_prepare_stop(&w->prepare);
    }
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

/*
 * Before the loop waits: the timer for the object's next deadline. Asked
 * at each turn, not only after process(), since calls made between two
 * turns (from other callbacks of the loop) bring deadlines of their own.
 */
static void
on_prepare(uv_prepare_t *p)
{
    epy_uv *w = p->data;
    int64_t t = w->peer != NULL ? epy_peer_get_timeout(w->peer)
                                : epy_server_get_timeout(w->srv);

    uv_timer_stop(&w->timer);
    if (t >= 0)
        uv_timer_start(&w->timer, on_timer, (uint64_t) t, 0);
}

/*
 * Watches @peer or @srv in @loop; *@ended receives the peer's end code
 * (process()'s once not 0).
 */
static void
epy_uv_start(uv_loop_t *loop, epy_uv *w, epy_peer *peer, epy_server *srv,
             int *ended)
{
    w->peer = peer;
    w->srv = srv;
    w->ended = ended;
    uv_poll_init(loop, &w->poll, peer != NULL ? epy_peer_get_fd(peer)
                                              : epy_server_get_fd(srv));
    uv_timer_init(loop, &w->timer);
    uv_prepare_init(loop, &w->prepare);
    w->poll.data = w->timer.data = w->prepare.data = w;
    uv_poll_start(&w->poll, UV_READABLE, on_readable);
    uv_prepare_start(&w->prepare, on_prepare);
}

static void
epy_uv_stop(epy_uv *w)
{
    uv_close((uv_handle_t *) &w->poll, NULL);
    uv_close((uv_handle_t *) &w->timer, NULL);
    uv_close((uv_handle_t *) &w->prepare, NULL);
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
    epy_uv_start(&loop, &w, NULL, srv, NULL);
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
    epy_uv_start(&client_loop, &wc, r.c.peer, NULL, &r.c.ended);
    epy_uv_start(&client_loop, &wv, r.v.peer, NULL, &r.v.ended);
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
