/*
 * Handlers of alltypes.idl shared by the alltypes example and the
 * server of tests/check-epyctl.sh: each answers with a deep copy of its
 * argument (the generated _copy functions), check() raises
 * alltypes.rejected for a negative i32. Each program adds its own
 * echo_generics.
 */
#ifndef EPYRPC_EXAMPLE_ALLTYPES_HANDLERS_H
#define EPYRPC_EXAMPLE_ALLTYPES_HANDLERS_H

#include "alltypes.epy.h"

int example_echo_scalars(epy_call *call, const alltypes_scalars *v,
                         alltypes_scalars *ret, void *ctx);
int example_echo_tree(epy_call *call, const alltypes_tree *t,
                      alltypes_tree *ret, void *ctx);
int example_count_nodes(epy_call *call, const alltypes_tree *t, int32_t *ret,
                        void *ctx);
int example_check(epy_call *call, const alltypes_scalars *v,
                  alltypes_scalars *ret, void *ctx);

#endif
