/* Handlers of alltypes.idl shared by the example and a test server. */
#include <config.h>

#include "alltypes-handlers.h"

/* The generated _copy functions make the deep copies a result needs. */
int
example_echo_scalars(epy_call *call, const alltypes_scalars *v,
                     alltypes_scalars *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    return alltypes_scalars_copy(ret, v);
}

int
example_echo_tree(epy_call *call, const alltypes_tree *t, alltypes_tree *ret,
                  void *ctx)
{
    (void) call;
    (void) ctx;
    return alltypes_tree_copy(ret, t);
}

static int
count(const alltypes_tree *t)
{
    int n = 1;

    for (size_t i = 0; i < t->children.n; i++)
        n += count(&t->children.items[i]);
    return n;
}

int
example_count_nodes(epy_call *call, const alltypes_tree *t, int32_t *ret,
                    void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = count(t);
    return 0;
}

int
example_check(epy_call *call, const alltypes_scalars *v,
              alltypes_scalars *ret, void *ctx)
{
    (void) ctx;
    if (v->i32 < 0) {
        alltypes_rejected r;

        r.why = (char *) "negative i32";
        r.got = *v;
        return alltypes_rejected_raise(call, &r, "rejected");
    }
    return alltypes_scalars_copy(ret, v);
}
