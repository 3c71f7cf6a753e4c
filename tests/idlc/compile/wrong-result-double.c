/* A double * where the result is int64_t *. */
/* expect: incompatible pointer type|incompatible-pointer-types */
#include "common.h"

int
use(calc_api *api, calc_stats_api *stats)
{
    double small;
    int64_t sum;

    (void) stats;
    (void) small;
    (void) sum;
#ifdef WRONG
    return calc_add(api, 2, 3, &small, NULL);
#else
    return calc_add(api, 2, 3, &sum, NULL);
#endif
}
