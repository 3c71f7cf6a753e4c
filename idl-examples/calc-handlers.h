/*
 * Handlers of calc.idl shared by the demo and the servers of the tests
 * (tools/test-server.c, python/test-server.c): plain arithmetic, a typed
 * error, an echo that answers with the caller's own bytes. Each program
 * adds its own tick (and reset) and puts them in its table.
 */
#ifndef EPYRPC_EXAMPLE_CALC_HANDLERS_H
#define EPYRPC_EXAMPLE_CALC_HANDLERS_H

#include "calc.epy.h"

/* a + b, wrapping around past the range of int64. */
int example_calc_add(epy_call *call, int64_t a, int64_t b, int64_t *ret,
                     void *ctx);
/* a / b rounded as @r; b == 0 raises calc.divide_by_zero. */
int example_calc_div(epy_call *call, double a, double b, calc_rounding r,
                     double *ret, void *ctx);
/* Answers with @data as it is: no copy of it is made. */
int example_calc_echo(epy_call *call, const epy_bytes *data, epy_bytes *ret,
                      void *ctx);
int example_calc_mean(epy_call *call, const epy_double_list *xs,
                      epy_double_opt *ret, void *ctx);
int example_calc_histogram(epy_call *call, const epy_string_list *words,
                           epy_int64_string_map *ret, void *ctx);
int example_calc_centroid(epy_call *call, const calc_point_list *pts,
                          calc_point *ret, void *ctx);

#endif
