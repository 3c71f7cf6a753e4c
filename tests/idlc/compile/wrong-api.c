/* A method called on another namespace's api type. */
/* expect: incompatible pointer type|incompatible-pointer-types */
#include "common.h"

int
use(calc_api *api, calc_stats_api *stats)
{
    epy_double_list xs = { 0, NULL };
    epy_double_opt mean;

    (void) api;
    (void) stats;
#ifdef WRONG
    return calc_stats_mean(api, &xs, &mean, NULL);
#else
    return calc_stats_mean(stats, &xs, &mean, NULL);
#endif
}
