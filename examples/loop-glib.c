/*
 * epyrpc in a GLib main loop: a GSource per epyrpc object. prepare()
 * gives GLib the object's timeout, the descriptor is watched with
 * g_source_add_unix_fd(), and dispatch() calls process().
 *
 * The server (a child process) runs its handlers on workers
 * (EPY_LOOP_WORKERS: a slow handler never holds the loop up); the
 * client is thread-less. The script is loop-demo.c's.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "loop-demo.h"

/* --- a GSource for an epyrpc peer or server ------------------------------ */

typedef struct epy_gsource {
    GSource base;
    gpointer tag;
    epy_peer *peer;             /* one of the two */
    epy_server *srv;
    int *ended;                 /* receives the peer's end code */
} epy_gsource;

static int64_t
obj_timeout(epy_gsource *s)
{
    return s->peer != NULL ? epy_peer_get_timeout(s->peer)
                           : epy_server_get_timeout(s->srv);
}

static gboolean
src_prepare(GSource *base, gint *timeout)
{
    int64_t t = obj_timeout((epy_gsource *) base);

    *timeout = t < 0 ? -1 : t > G_MAXINT ? G_MAXINT : (gint) t;
    return t == 0;
}

static gboolean
src_check(GSource *base)
{
    epy_gsource *s = (epy_gsource *) base;

    return (g_source_query_unix_fd(base, s->tag) & G_IO_IN)
           || obj_timeout(s) == 0;
}

static gboolean
src_dispatch(GSource *base, GSourceFunc cb, gpointer data)
{
    epy_gsource *s = (epy_gsource *) base;

    (void) cb, (void) data;
    if (s->peer == NULL) {
        epy_server_process(s->srv);
        return G_SOURCE_CONTINUE;
    }
    *s->ended = epy_peer_process(s->peer);
    /* The connection ended: stop watching (then close the peer). */
    return *s->ended == 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static GSourceFuncs src_funcs = { src_prepare, src_check, src_dispatch,
                                  NULL, NULL, NULL };

/*
 * Attaches @peer or @srv to the default main context; *@ended receives
 * the peer's end code (process()'s once not 0).
 */
static GSource *
epy_gsource_new(epy_peer *peer, epy_server *srv, int *ended)
{
    GSource *base = g_source_new(&src_funcs, sizeof(epy_gsource));
    epy_gsource *s = (epy_gsource *) base;
    int fd = peer != NULL ? epy_peer_get_fd(peer) : epy_server_get_fd(srv);

    s->peer = peer;
    s->srv = srv;
    s->ended = ended;
    s->tag = g_source_add_unix_fd(base, fd, G_IO_IN);
    g_source_attach(base, NULL);
    return base;
}

static void
epy_gsource_free(GSource *s)
{
    g_source_destroy(s);
    g_source_unref(s);
}

/* --- the server process -------------------------------------------------- */

static int
server_main(const char *url)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;
    GSource *src;

    cfg.peer.loop_mode = EPY_LOOP_WORKERS;
    cfg.workers = 2;
    if (epy_server_new(url, &cfg, &srv, &err) < 0) {
        fprintf(stderr, "loop-glib: server: %s\n", err.message);
        return 1;
    }
    demo_serve(srv);
    src = epy_gsource_new(NULL, srv, NULL);
    while (!demo_server_quit)
        g_main_context_iteration(NULL, TRUE);
    demo_server_cleanup();
    epy_gsource_free(src);
    epy_server_close(srv);
    return 0;
}

/* --- the client ---------------------------------------------------------- */

static gboolean
time_up(gpointer data)
{
    *(bool *) data = true;
    return G_SOURCE_REMOVE;
}

static void
run_glib(const int *flag, int want, int timeout_ms)
{
    bool up = false;
    guint t = g_timeout_add((guint) timeout_ms, time_up, &up);

    while (*flag < want && !up)
        g_main_context_iteration(NULL, TRUE);
    if (!up)
        g_source_remove(t);
}

int
main(void)
{
    demo_run r;
    GSource *sc, *sv;
    int failures;

    if (demo_begin(&r, "loop-glib", server_main) < 0)
        return 1;
    sc = epy_gsource_new(r.c.peer, NULL, &r.c.ended);
    sv = epy_gsource_new(r.v.peer, NULL, &r.v.ended);
    failures = demo_client_script(&r.c, &r.v, r.victim, run_glib, "loop-glib");
    epy_gsource_free(sv);
    epy_gsource_free(sc);
    failures += demo_end(&r, "loop-glib");
    if (failures == 0)
        printf("loop-glib: ok\n");
    return failures != 0;
}
