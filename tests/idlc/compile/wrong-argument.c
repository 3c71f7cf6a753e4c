/* A string where an enum argument is expected. */
/* expect: incompatible type for argument 4|pointer to integer conversion */
#include "common.h"

int
use(calc_api *api, calc_stats_api *stats)
{
    double q;

    (void) stats;
#ifdef WRONG
    return calc_div(api, 1.0, 2.0, "up", &q, NULL);
#else
    return calc_div(api, 1.0, 2.0, CALC_ROUNDING_UP, &q, NULL);
#endif
}
