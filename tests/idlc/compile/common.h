/* Shared by the compile tests: a calc api and handlers to misuse. */
#include <stddef.h>
#include <stdint.h>

#include "calc.epy.h"

int use(calc_api *api, calc_stats_api *stats);
