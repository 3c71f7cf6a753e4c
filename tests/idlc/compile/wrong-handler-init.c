/* A handler of the wrong signature in a designated initializer. */
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
add_wrong(epy_call *call, int64_t a, int64_t b, double *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = (double) (a + b);
    return 0;
}

int
use(calc_api *api, calc_stats_api *stats)
{
#ifdef WRONG
    static const calc_handlers table = { .add = add_wrong };
#else
    static const calc_handlers table = { .add = add };
#endif

    (void) api;
    (void) stats;
    (void) add;
    (void) add_wrong;
    return calc_serve(NULL, &table, NULL);
}
