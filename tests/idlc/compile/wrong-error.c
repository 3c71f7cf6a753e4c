/* A typed error read into the wrong struct. */
/* expect: incompatible pointer type|incompatible-pointer-types */
#include "common.h"

int
use(calc_api *api, calc_stats_api *stats)
{
    epy_error err = EPY_ERROR_INIT;
    calc_divide_by_zero dz;
    calc_point p;

    (void) api;
    (void) stats;
    (void) dz;
    (void) p;
#ifdef WRONG
    return calc_divide_by_zero_get(&err, &p);
#else
    return calc_divide_by_zero_get(&err, &dz);
#endif
}
