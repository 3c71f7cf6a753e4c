/*
 * client - calls the server (server.c) on the unix socket given as its
 * argument, checks every answer, asks the server to quit; exits 0 when
 * all was as expected.
 */
#include <stdio.h>
#include <string.h>

#include "geom.epy.h"

static int failed;

static void
expect(int ok, const char *what)
{
    printf("client: %s: %s\n", what, ok ? "ok" : "FAILED");
    failed += !ok;
}

int
main(int argc, char **argv)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer;
    geom_api *geom;
    shapes_point square[] = { { 0, 0 }, { 4, 0 }, { 4, 4 }, { 0, 4 } };
    shapes_point_list corners = { 4, square }, two = { 2, square };
    shapes_point centre = { 0, 0 };
    shapes_degenerate bad = { 0 };
    int64_t sum = 0;
    double area = 0;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: client URL\n");
        return 2;
    }
    cfg.interfaces = &geom_interface;
    cfg.n_interfaces = 1;
    if (epy_connect(argv[1], &cfg, 10000, &peer, &err) < 0
        || geom_api_open(peer, &geom, &err) < 0) {
        fprintf(stderr, "client: %s\n", err.message);
        return 1;
    }

    expect(geom_add(geom, 40, 2, &sum, NULL) == 0 && sum == 42,
           "geom.add(40, 2) = 42");
    expect(geom_centroid(geom, &corners, &centre, NULL) == 0
           && centre.x == 2 && centre.y == 2, "geom.centroid = (2, 2)");
    expect(geom_area(geom, &corners, &area, NULL) == 0
           && area == 16, "geom.area(square) = 16");
    rc = geom_area(geom, &two, &area, &err);
    expect(rc == EPY_EFAILED && shapes_degenerate_get(&err, &bad) == 0
           && bad.corners == 2 && err.type != NULL
           && strcmp(err.type, "shapes.degenerate") == 0,
           "geom.area(2 corners) raises shapes.degenerate");
    shapes_degenerate_clear(&bad);
    epy_error_clear(&err);
    expect(geom_quit(geom, NULL) == 0, "geom.quit");

    geom_api_close(geom);
    epy_peer_close(peer);
    printf("client: %s\n", failed == 0 ? "all answers right" : "FAILED");
    return failed == 0 ? 0 : 1;
}
