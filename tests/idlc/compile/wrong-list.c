/* A list of the wrong element type. */
/* expect: incompatible pointer type|incompatible-pointer-types */
#include "common.h"

int
use(calc_api *api, calc_stats_api *stats)
{
    epy_double_list xs = { 0, NULL };
    calc_point_list pts = { 0, NULL };
    calc_point c;

    (void) api;
    (void) xs;
    (void) pts;
#ifdef WRONG
    return calc_stats_centroid(stats, &xs, &c, NULL);
#else
    return calc_stats_centroid(stats, &pts, &c, NULL);
#endif
}
