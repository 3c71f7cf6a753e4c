/*
 * server - serves geom (geom.idl) on the unix socket given as its
 * argument until a client calls geom.quit, then exits 0.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "geom.epy.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool quitting;

static int
on_add(epy_call *call, int64_t a, int64_t b, int64_t *ret_result, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret_result = a + b;
    return 0;
}

static int
on_centroid(epy_call *call, const shapes_point_list *corners,
            shapes_point *ret_result, void *ctx)
{
    (void) call;
    (void) ctx;
    if (corners->n == 0)
        return EPY_EPARAM;
    ret_result->x = ret_result->y = 0;
    for (size_t i = 0; i < corners->n; i++) {
        ret_result->x += corners->items[i].x / (double) corners->n;
        ret_result->y += corners->items[i].y / (double) corners->n;
    }
    return 0;
}

static int
on_area(epy_call *call, const shapes_point_list *corners, double *ret_result,
        void *ctx)
{
    double twice = 0;

    (void) ctx;
    if (corners->n < 3) {
        shapes_degenerate err = { (uint32_t) corners->n };

        return shapes_degenerate_raise(call, &err, "fewer than 3 corners");
    }
    for (size_t i = 0; i < corners->n; i++) {
        const shapes_point *p = &corners->items[i];
        const shapes_point *q = &corners->items[(i + 1) % corners->n];

        twice += p->x * q->y - q->x * p->y;
    }
    *ret_result = (twice < 0 ? -twice : twice) / 2;
    return 0;
}

static int
on_quit(epy_call *call, void *ctx)
{
    (void) call;
    (void) ctx;
    pthread_mutex_lock(&lock);
    quitting = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    return 0;
}

int
main(int argc, char **argv)
{
    static const geom_handlers table = {
        .add = on_add, .centroid = on_centroid, .area = on_area,
        .quit = on_quit,
    };
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;
    struct timespec deadline;

    if (argc != 2) {
        fprintf(stderr, "usage: server URL\n");
        return 2;
    }
    cfg.peer.start_paused = true;       /* the table first, then clients */
    cfg.peer.interfaces = &geom_interface;
    cfg.peer.n_interfaces = 1;
    if (epy_server_new(argv[1], &cfg, &srv, &err) < 0
        || geom_serve_server(srv, &table, NULL) < 0
        || epy_server_start(srv) < 0) {
        fprintf(stderr, "server: %s\n", err.message != NULL ? err.message
                                                            : "cannot serve");
        return 1;
    }
    printf("server: serving geom on %s\n", argv[1]);
    fflush(stdout);

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&lock);
    while (!quitting
           && pthread_cond_timedwait(&cond, &lock, &deadline) == 0)
        ;
    pthread_mutex_unlock(&lock);
    geom_unserve_server(srv);
    epy_server_close(srv);
    printf("server: %s\n", quitting ? "asked to quit" : "timed out");
    return quitting ? 0 : 1;
}
