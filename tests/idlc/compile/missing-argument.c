/* A call with an argument left out. */
/* expect: too few arguments */
#include "common.h"

int
use(calc_api *api, calc_stats_api *stats)
{
    int64_t sum;

    (void) stats;
#ifdef WRONG
    return calc_add(api, 2, &sum, NULL);
#else
    return calc_add(api, 2, 3, &sum, NULL);
#endif
}
