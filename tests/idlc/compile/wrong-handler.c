/* A handler whose signature does not match its table slot. */
/* expect: incompatible pointer type|incompatible function pointer|incompatible-pointer-types */
#include "common.h"

static int
add(epy_call *call, int64_t a, int64_t b, int64_t *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = a + b;
    return 0;
}

static int
add_wrong(epy_call *call, int32_t a, int32_t b, int64_t *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = a + b;
    return 0;
}

int
use(calc_api *api, calc_stats_api *stats)
{
    calc_handlers table = { NULL, NULL, NULL, NULL };

    (void) api;
    (void) stats;
    (void) add;
    (void) add_wrong;
#ifdef WRONG
    table.add = add_wrong;
#else
    table.add = add;
#endif
    return calc_serve(NULL, &table, NULL);
}
