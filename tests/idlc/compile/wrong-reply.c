/* A deferred reply of the wrong type. */
/* expect: integer from pointer|pointer to integer */
#include "common.h"

static int
reply(epy_call *call)
{
#ifdef WRONG
    return calc_add_reply(call, "five");
#else
    return calc_add_reply(call, 5);
#endif
}

int
use(calc_api *api, calc_stats_api *stats)
{
    (void) api;
    (void) stats;
    return reply(NULL);
}
