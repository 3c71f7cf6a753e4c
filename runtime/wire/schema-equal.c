/*
 * Interface descriptions: structural equality of types, for
 * schema-compare.c. Types may be recursive, so the comparison is
 * coinductive: a pair of declarations under comparison is assumed equal
 * while its members are compared, and pairs wait on a work list instead
 * of the C stack (a chain of 65536 types must not overflow it). What a
 * comparison proves is remembered: a pair found equal stays equal, one
 * found unequal stays unequal with the pairs that needed it, so each
 * pair costs its members' comparison about once. A budget bounds the
 * whole, whatever the input; past it, types compare unequal.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "schema-int.h"

/* Member comparisons allowed to one sc_equal. */
#define BUDGET ((size_t) 1 << 22)
/*
 * Candidates tried for each type that may have been renamed; the search
 * for renamed types stops when half the budget is spent, leaving the
 * rest to the types of members.
 */
#define MAX_TRIES 16

/* What is known of a pair of declarations (old, new). */
enum { P_NONE, P_ASSUMED, P_EQUAL, P_UNEQUAL };

struct sc_pair {
    uint64_t key;                /* see pair_key(); 0: an empty slot */
    uint64_t parent;             /* the pair that needs this one, or 0 */
    int st;
};

struct sc_work {
    uint64_t key, parent;
};

typedef struct sc_pair pair;
typedef struct sc_work work;

/*
 * The array @v of *@cap elements of @size, grown if needed to hold @n + 1:
 * @v itself, or its new place, or NULL when out of memory (@v is kept).
 */
static void *
grow(void *v, size_t *cap, size_t n, size_t size)
{
    size_t ncap;

    if (n < *cap)
        return v;
    ncap = *cap != 0 ? *cap * 2 : 64;
    while (ncap <= n)
        ncap *= 2;
    v = realloc(v, ncap * size);
    if (v != NULL)
        *cap = ncap;
    return v;
}

void
epy__schema_equal_init(sc_equal *c, const epy__schema *a,
                       const epy__schema *b)
{
    memset(c, 0, sizeof *c);
    c->a = a;
    c->b = b;
    c->budget = BUDGET;
}

void
epy__schema_equal_free(sc_equal *c)
{
    free(c->pairs);
    free(c->work);
    free(c->assumed);
}

static uint64_t
pair_key(long i, long j)
{
    return (uint64_t) (i + 1) << 32 | (uint64_t) j;
}

/* The slot of @key, made if missing when @make; NULL if out of memory. */
static pair *
pair_get(sc_equal *c, uint64_t key, bool make)
{
    size_t mask;

    if (make && 2 * (c->n_pairs + 1) > c->cap_pairs) {
        size_t cap = c->cap_pairs != 0 ? c->cap_pairs * 2 : 256;
        pair *v = calloc(cap, sizeof *v);

        if (v == NULL)
            return NULL;
        for (size_t k = 0; k < c->cap_pairs; k++) {
            size_t i;

            if (c->pairs[k].key == 0)
                continue;
            i = (size_t) (c->pairs[k].key * UINT64_C(0x9e3779b97f4a7c15)
                          >> 20) & (cap - 1);
            while (v[i].key != 0)
                i = (i + 1) & (cap - 1);
            v[i] = c->pairs[k];
        }
        free(c->pairs);
        c->pairs = v;
        c->cap_pairs = cap;
    }
    if (c->cap_pairs == 0)
        return NULL;
    mask = c->cap_pairs - 1;
    for (size_t i = (size_t) (key * UINT64_C(0x9e3779b97f4a7c15) >> 20)
         & mask;; i = (i + 1) & mask) {
        if (c->pairs[i].key == key)
            return &c->pairs[i];
        if (c->pairs[i].key == 0) {
            if (!make)
                return NULL;
            c->pairs[i].key = key;
            c->n_pairs++;
            return &c->pairs[i];
        }
    }
}

static int
push(sc_equal *c, uint64_t key, uint64_t parent)
{
    work *v = grow(c->work, &c->cap_work, c->n_work, sizeof *v);

    if (v == NULL)
        return -2;
    c->work = v;
    c->work[c->n_work].key = key;
    c->work[c->n_work++].parent = parent;
    return 1;
}

/*
 * Whether @x (old) and @y (new) may be the same type: 1, 0, or -2. Pairs
 * of declarations that must be equal too go to the work list, needed by
 * the pair @parent.
 */
static int
type_match(sc_equal *c, const sc_type *x, const sc_type *y, uint64_t parent)
{
    int rc;

    if (x->kind != y->kind)
        return 0;
    switch (x->kind) {
    case SC_NAMED:
        /* The same name: the declaration's own changes are its own. */
        if (strcmp(x->name, y->name) == 0)
            return 1;
        /* Another interface's type is known by its name only. */
        if (x->decl < 0 || y->decl < 0)
            return 0;
        return push(c, pair_key(x->decl, y->decl), parent);
    case SC_MAP:
        rc = type_match(c, x->key, y->key, parent);
        if (rc != 1)
            return rc;
        /* fall through */
    case SC_LIST:
    case SC_OPTIONAL:
        return type_match(c, x->elem, y->elem, parent);
    default:
        return 1;
    }
}

/* The members of the pair @key, by number: 1, 0, or -2. */
static int
members_match(sc_equal *c, uint64_t key)
{
    const sc_decl *x = &c->a->decls[(key >> 32) - 1];
    const sc_decl *y = &c->b->decls[key & UINT32_MAX];

    if ((x->kind == SC_ENUM) != (y->kind == SC_ENUM)
        || x->n_mems != y->n_mems || c->budget < x->n_mems + 1)
        return 0;
    c->budget -= x->n_mems + 1;
    for (size_t k = 0; k < x->n_mems; k++) {
        const sc_member *mx = x->by_num[k], *my = y->by_num[k];
        int rc;

        if (mx->num != my->num)
            return 0;
        if (mx->type != NULL && my->type != NULL) {
            rc = type_match(c, mx->type, my->type, key);
            if (rc != 1)
                return rc;
        }
    }
    return 1;
}

/* Compares the pairs of the work list: 1, 0, or -2. */
static int
settle(sc_equal *c)
{
    while (c->n_work > 0) {
        work w = c->work[--c->n_work];
        pair *p = pair_get(c, w.key, true);
        uint64_t *v;
        int rc;

        if (p == NULL)
            return -2;
        if (p->st == P_ASSUMED || p->st == P_EQUAL)
            continue;
        if (p->st == P_UNEQUAL) {
            c->fail_from = w.parent;
            return 0;
        }
        v = grow(c->assumed, &c->cap_assumed, c->n_assumed, sizeof *v);
        if (v == NULL)
            return -2;
        c->assumed = v;
        c->assumed[c->n_assumed++] = w.key;
        p->st = P_ASSUMED;
        p->parent = w.parent;
        rc = members_match(c, w.key);
        if (rc == 0) {
            pair_get(c, w.key, false)->st = P_UNEQUAL;
            c->fail_from = w.parent;
        }
        if (rc != 1)
            return rc;
    }
    return 1;
}

/*
 * Ends a comparison: what was assumed is proven if it succeeded; if it
 * failed, the pairs that needed the unequal one are unequal too, and the
 * rest is unknown again.
 */
static int
finish(sc_equal *c, int rc)
{
    if (rc == 0)
        for (uint64_t k = c->fail_from; k != 0;) {
            pair *p = pair_get(c, k, false);

            if (p == NULL || p->st == P_UNEQUAL)
                break;
            p->st = P_UNEQUAL;
            k = p->parent;
        }
    for (size_t i = 0; i < c->n_assumed; i++) {
        pair *p = pair_get(c, c->assumed[i], false);

        if (p != NULL && p->st == P_ASSUMED)
            p->st = rc == 1 ? P_EQUAL : P_NONE;
    }
    c->n_work = c->n_assumed = 0;
    c->fail_from = 0;
    return rc;
}

int
epy__schema_types_equal(sc_equal *c, const sc_type *x, const sc_type *y)
{
    int rc = type_match(c, x, y, 0);

    return finish(c, rc == 1 ? settle(c) : rc);
}

int
epy__schema_decls_equal(sc_equal *c, long i, long j)
{
    int rc = push(c, pair_key(i, j), 0);

    return finish(c, rc == 1 ? settle(c) : rc);
}

/* --- renamed types ------------------------------------------------------- */

typedef struct shaped {
    uint64_t shape;
    long d;
} shaped;

static int
cmp_shaped(const void *a, const void *b)
{
    const shaped *x = a, *y = b;

    if (x->shape != y->shape)
        return x->shape < y->shape ? -1 : 1;
    return x->d < y->d ? -1 : x->d > y->d;
}

static bool
is_type(int kind)
{
    return kind == SC_ENUM || kind == SC_STRUCT || kind == SC_ERROR;
}

static long
find(const epy__schema *s, const char *name)
{
    return epy__schema_find(s, name, strlen(name));
}

/*
 * Pairs each type only the old version has with a type only the new one
 * has, of the same kind and structure, if any: a renamed type.
 */
/*
 * The first candidate not yet taken at or after @k: @skip links each
 * taken one to the next (with path halving), so that types of one shape
 * are not scanned again and again.
 */
static size_t
untaken(size_t *skip, size_t k)
{
    while (skip[k] != k) {
        skip[k] = skip[skip[k]];
        k = skip[k];
    }
    return k;
}

int
epy__schema_renames(sc_equal *c, long *ren_a, long *ren_b)
{
    shaped *added = malloc((c->b->n_decls + 1) * sizeof *added);
    size_t *skip = malloc((c->b->n_decls + 1) * sizeof *skip);
    size_t n = 0;
    int rc = 0;

    if (added == NULL || skip == NULL) {
        free(added);
        free(skip);
        return -2;
    }
    for (size_t j = 0; j < c->b->n_decls; j++) {
        const sc_decl *y = &c->b->decls[j];

        if (is_type(y->kind) && find(c->a, y->qname) < 0) {
            added[n].shape = y->shape;
            added[n++].d = (long) j;
        }
    }
    qsort(added, n, sizeof *added, cmp_shaped);
    for (size_t k = 0; k <= n; k++)
        skip[k] = k;
    for (size_t i = 0; rc == 0 && n > 0 && i < c->a->n_decls
         && c->budget > BUDGET / 2; i++) {
        const sc_decl *x = &c->a->decls[i];
        size_t lo = 0, hi = n;
        int tries = 0;

        if (!is_type(x->kind) || find(c->b, x->qname) >= 0)
            continue;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;

            if (added[mid].shape < x->shape)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (lo = untaken(skip, lo); lo < n && added[lo].shape == x->shape
             && tries++ < MAX_TRIES; lo = untaken(skip, lo + 1)) {
            long j = added[lo].d;

            if (c->b->decls[j].kind != x->kind)
                continue;
            rc = epy__schema_decls_equal(c, (long) i, j);
            if (rc < 0)
                break;
            if (rc == 1) {
                ren_a[i] = j;
                ren_b[j] = (long) i;
                skip[lo] = lo + 1;
                break;
            }
        }
        rc = rc < 0 ? rc : 0;
    }
    free(added);
    free(skip);
    return rc;
}
