/* Handlers of calc.idl shared by the examples and test servers. */
#include <config.h>

#include <math.h>
#include <string.h>

#include "calc-handlers.h"

int
example_calc_add(epy_call *call, int64_t a, int64_t b, int64_t *ret,
                 void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = (int64_t) ((uint64_t) a + (uint64_t) b);
    return 0;
}

int
example_calc_div(epy_call *call, double a, double b, calc_rounding r,
                 double *ret, void *ctx)
{
    (void) ctx;
    if (b == 0) {
        calc_divide_by_zero e = { (char *) "b is zero", (int64_t) a };

        return calc_divide_by_zero_raise(call, &e, "division by zero");
    }
    *ret = r == CALC_ROUNDING_DOWN ? floor(a / b)
           : r == CALC_ROUNDING_UP ? ceil(a / b) : a / b;
    return 0;
}

int
example_calc_echo(epy_call *call, const epy_bytes *data, epy_bytes *ret,
                  void *ctx)
{
    (void) ret;
    (void) ctx;
    calc_echo_reply(call, data);
    return EPY_GEN_ANSWERED;
}

int
example_calc_mean(epy_call *call, const epy_double_list *xs,
                  epy_double_opt *ret, void *ctx)
{
    double sum = 0;

    (void) call;
    (void) ctx;
    for (size_t i = 0; i < xs->n; i++)
        sum += xs->items[i];
    ret->has = xs->n > 0;
    ret->value = xs->n > 0 ? sum / (double) xs->n : 0;
    return 0;
}

int
example_calc_histogram(epy_call *call, const epy_string_list *words,
                       epy_int64_string_map *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    ret->items = epy_gen_alloc((words->n + 1) * sizeof *ret->items);
    if (ret->items == NULL)
        return EPY_ENOMEM;
    ret->n = 0;
    for (size_t i = 0; i < words->n; i++) {
        size_t k;

        for (k = 0; k < ret->n; k++)
            if (strcmp(ret->items[k].key, words->items[i]) == 0)
                break;
        if (k == ret->n) {
            ret->items[k].key = strdup(words->items[i]);
            if (ret->items[k].key == NULL)
                return EPY_ENOMEM;
            ret->items[k].value = 0;
            ret->n++;
        }
        ret->items[k].value++;
    }
    return 0;
}

int
example_calc_centroid(epy_call *call, const calc_point_list *pts,
                      calc_point *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    ret->x = ret->y = 0;
    for (size_t i = 0; i < pts->n; i++) {
        ret->x += pts->items[i].x / (double) pts->n;
        ret->y += pts->items[i].y / (double) pts->n;
    }
    return 0;
}
