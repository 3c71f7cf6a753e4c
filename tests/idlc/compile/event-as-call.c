/* An event called as if it were a method: events are only sent. */
/* expect: implicit declaration of function .calc_tick. */
#include "common.h"

int
use(calc_api *api, calc_stats_api *stats)
{
    (void) stats;
#ifdef WRONG
    return calc_tick(api, 5, NULL);
#else
    return calc_tick_send(api, 5, NULL);
#endif
}
