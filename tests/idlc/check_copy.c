/*
 * Deep copies through generated code: the _copy function of every struct
 * and generic of idl-examples/alltypes.idl (and shapes.idl, which it
 * imports) copies a value with every field set, empty strings, bytes and
 * lists included, into one equal to it that shares no pointer with it;
 * a copy that fails (allocations made to fail one after the other, sizes
 * that overflow, malformed values) leaves its destination untouched and
 * nothing allocated.
 *
 * The program links the runtime's modules directly and is linked with
 * ld's --wrap=malloc, calloc and free (tests/idlc.mk): __wrap_malloc()
 * below fails on request and counts what the copy allocates and frees.
 */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "alltypes.epy.h"
#include "../testutil.h"

/* --- failing allocations --------------------------------------------------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void __wrap_free(void *p);

/*
 * While armed, the fail_at-th allocation (from 1) fails; allocations and
 * frees are counted. Single-threaded: only the test runs while armed.
 */
static struct {
    bool armed;
    long fail_at;
    long calls;
    long allocs;
    long frees;
} fi;

static void
arm(long fail_at)
{
    memset(&fi, 0, sizeof fi);
    fi.fail_at = fail_at;
    fi.armed = true;
}

static void
disarm(void)
{
    fi.armed = false;
}

static bool
fail_now(void)
{
    return fi.armed && ++fi.calls == fi.fail_at;
}

void *
__wrap_malloc(size_t size)
{
    void *p;

    if (fail_now())
        return NULL;
    p = __real_malloc(size);
    if (fi.armed && p != NULL)
        fi.allocs++;
    return p;
}

void *
__wrap_calloc(size_t n, size_t size)
{
    void *p;

    if (fail_now())
        return NULL;
    p = __real_calloc(n, size);
    if (fi.armed && p != NULL)
        fi.allocs++;
    return p;
}

void
__wrap_free(void *p)
{
    if (fi.armed && p != NULL)
        fi.frees++;
    __real_free(p);
}

/* --- building values ---------------------------------------------------------- */

static void *
xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);

    ck_assert_ptr_nonnull(p);
    return p;
}

static char *
xstr(const char *s)
{
    char *p = xmalloc(strlen(s) + 1);

    strcpy(p, s);
    return p;
}

/* Bytes @len long; with @len 0, an empty block (not NULL). */
static epy_bytes
xbytes(const void *data, size_t len)
{
    epy_bytes b;

    b.data = xmalloc(len);
    b.len = len;
    if (len > 0)
        memcpy(b.data, data, len);
    return b;
}

/* Every field set, extremes and a non-ASCII string. */
static void
fill_scalars(alltypes_scalars *v)
{
    static const uint8_t raw[] = { 0, 1, 2, 0, 255 };

    memset(v, 0, sizeof *v);
    v->b = true;
    v->i8 = INT8_MIN;
    v->i16 = INT16_MIN;
    v->i32 = INT32_MIN;
    v->i64 = INT64_MIN;
    v->u8 = UINT8_MAX;
    v->u16 = UINT16_MAX;
    v->u32 = UINT32_MAX;
    v->u64 = UINT64_MAX;
    v->f = -0.0f;
    v->d = NAN;
    v->s = xstr("caf\xc3\xa9 \xe2\x82\xac");
    v->raw = xbytes(raw, sizeof raw);
}

/* Empty string, empty bytes that have a block. */
static void
fill_scalars_empty(alltypes_scalars *v)
{
    memset(v, 0, sizeof *v);
    v->i32 = 1;
    v->s = xstr("");
    v->raw = xbytes(NULL, 0);
}

static void
fill_polygon(shapes_polygon *p, const char *name, shapes_colour c,
             size_t corners)
{
    p->name = xstr(name);
    p->colour = c;
    p->corners.n = corners;
    p->corners.items = NULL;
    if (corners > 0)
        p->corners.items = xmalloc(corners * sizeof *p->corners.items);
    for (size_t i = 0; i < corners; i++) {
        p->corners.items[i].x = (double) i;
        p->corners.items[i].y = -(double) i / 3;
    }
}

static void
fill_string_list(epy_string_list *l, size_t n)
{
    static const char *const words[] = { "two", "", "four" };

    l->n = n;
    l->items = n > 0 ? xmalloc(n * sizeof *l->items) : NULL;
    for (size_t i = 0; i < n; i++)
        l->items[i] = xstr(words[i % 3]);
}

/* Every generic: full and empty elements, set and unset optionals. */
static void
fill_generics(alltypes_generics *v)
{
    memset(v, 0, sizeof *v);
    v->polygons.n = 3;
    v->polygons.items = xmalloc(3 * sizeof *v->polygons.items);
    fill_polygon(&v->polygons.items[0], "triangle", SHAPES_COLOUR_BLUE, 3);
    fill_polygon(&v->polygons.items[1], "", SHAPES_COLOUR_RED, 0);
    fill_polygon(&v->polygons.items[2], "line", SHAPES_COLOUR_GREEN, 2);
    v->centre.has = true;
    v->centre.value.x = 3;
    v->centre.value.y = -4.5;
    v->note.has = true;
    v->note.value = xstr("a note");
    v->colours.n = 2;
    v->colours.items = xmalloc(2 * sizeof *v->colours.items);
    v->colours.items[0].key = xstr("sky");
    v->colours.items[0].value = SHAPES_COLOUR_BLUE;
    v->colours.items[1].key = xstr("");
    v->colours.items[1].value = SHAPES_COLOUR_GREEN;
    v->groups.n = 3;
    v->groups.items = xmalloc(3 * sizeof *v->groups.items);
    v->groups.items[0].key = 3;
    fill_string_list(&v->groups.items[0].value, 3);
    v->groups.items[1].key = 0;
    fill_string_list(&v->groups.items[1].value, 0);
    v->groups.items[2].key = INT64_MIN;
    fill_string_list(&v->groups.items[2].value, 1);
    v->matrix.n = 3;
    v->matrix.items = xmalloc(3 * sizeof *v->matrix.items);
    v->matrix.items[0].n = 3;
    v->matrix.items[0].items = xmalloc(3 * sizeof(int32_t));
    v->matrix.items[0].items[0] = 1;
    v->matrix.items[0].items[1] = INT32_MIN;
    v->matrix.items[0].items[2] = INT32_MAX;
    v->matrix.items[1].n = 0;
    v->matrix.items[1].items = NULL;
    v->matrix.items[2].n = 1;
    v->matrix.items[2].items = xmalloc(sizeof(int32_t));
    v->matrix.items[2].items[0] = 7;
    v->samples.n = 3;
    v->samples.items = xmalloc(3 * sizeof *v->samples.items);
    v->samples.items[0].has = true;
    v->samples.items[0].value = 0.5;
    v->samples.items[1].has = false;
    v->samples.items[1].value = 0;
    v->samples.items[2].has = true;
    v->samples.items[2].value = -1e300;
}

/* A tree @depth levels deep, @width children a node. */
static void
fill_tree(alltypes_tree *t, int depth, size_t width, const char *label)
{
    t->label = xstr(label);
    t->children.n = depth > 1 ? width : 0;
    t->children.items = NULL;
    if (t->children.n > 0)
        t->children.items = xmalloc(width * sizeof *t->children.items);
    for (size_t i = 0; i < t->children.n; i++)
        fill_tree(&t->children.items[i], depth - 1, width,
                  i == 0 ? "" : label);
}

/* --- comparing values --------------------------------------------------------- */

/* Equal strings, not the same block; NULL copies as NULL. */
static void
eq_str(const char *a, const char *b)
{
    if (a == NULL) {
        ck_assert_ptr_null(b);
        return;
    }
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_str_eq(a, b);
}

static void
eq_bytes(const epy_bytes *a, const epy_bytes *b)
{
    ck_assert_uint_eq(a->len, b->len);
    if (a->data == NULL) {
        ck_assert_ptr_null(b->data);
        return;
    }
    ck_assert_ptr_nonnull(b->data);
    ck_assert_ptr_ne(a->data, b->data);
    if (a->len > 0)
        ck_assert(memcmp(a->data, b->data, a->len) == 0);
}

/* The items of equal-length lists: NULL when empty, else a new block. */
static void
eq_items(size_t an, const void *a, size_t bn, const void *b)
{
    ck_assert_uint_eq(an, bn);
    if (an == 0) {
        ck_assert_ptr_null(b);
        return;
    }
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
}

static void
eq_scalars(const alltypes_scalars *a, const alltypes_scalars *b)
{
    ck_assert(a->b == b->b);
    ck_assert_int_eq(a->i8, b->i8);
    ck_assert_int_eq(a->i16, b->i16);
    ck_assert_int_eq(a->i32, b->i32);
    ck_assert_int_eq(a->i64, b->i64);
    ck_assert_uint_eq(a->u8, b->u8);
    ck_assert_uint_eq(a->u16, b->u16);
    ck_assert_uint_eq(a->u32, b->u32);
    ck_assert_uint_eq(a->u64, b->u64);
    /* Bit for bit: -0.0 and NaN too. */
    ck_assert(memcmp(&a->f, &b->f, sizeof a->f) == 0);
    ck_assert(memcmp(&a->d, &b->d, sizeof a->d) == 0);
    eq_str(a->s, b->s);
    eq_bytes(&a->raw, &b->raw);
}

static void
eq_point(const shapes_point *a, const shapes_point *b)
{
    ck_assert(a->x == b->x && a->y == b->y);
}

static void
eq_point_list(const shapes_point_list *a, const shapes_point_list *b)
{
    eq_items(a->n, a->items, b->n, b->items);
    for (size_t i = 0; i < a->n; i++)
        eq_point(&a->items[i], &b->items[i]);
}

static void
eq_polygon(const shapes_polygon *a, const shapes_polygon *b)
{
    eq_str(a->name, b->name);
    ck_assert_int_eq(a->colour, b->colour);
    eq_point_list(&a->corners, &b->corners);
}

static void
eq_polygon_list(const shapes_polygon_list *a, const shapes_polygon_list *b)
{
    eq_items(a->n, a->items, b->n, b->items);
    for (size_t i = 0; i < a->n; i++)
        eq_polygon(&a->items[i], &b->items[i]);
}

static void
eq_point_opt(const shapes_point_opt *a, const shapes_point_opt *b)
{
    ck_assert(a->has == b->has);
    if (a->has)
        eq_point(&a->value, &b->value);
}

static void
eq_string_opt(const epy_string_opt *a, const epy_string_opt *b)
{
    ck_assert(a->has == b->has);
    if (a->has)
        eq_str(a->value, b->value);
}

static void
eq_colour_map(const shapes_colour_string_map *a,
              const shapes_colour_string_map *b)
{
    eq_items(a->n, a->items, b->n, b->items);
    for (size_t i = 0; i < a->n; i++) {
        eq_str(a->items[i].key, b->items[i].key);
        ck_assert_int_eq(a->items[i].value, b->items[i].value);
    }
}

static void
eq_string_list(const epy_string_list *a, const epy_string_list *b)
{
    eq_items(a->n, a->items, b->n, b->items);
    for (size_t i = 0; i < a->n; i++)
        eq_str(a->items[i], b->items[i]);
}

static void
eq_groups(const epy_string_list_int64_map *a,
          const epy_string_list_int64_map *b)
{
    eq_items(a->n, a->items, b->n, b->items);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert_int_eq(a->items[i].key, b->items[i].key);
        eq_string_list(&a->items[i].value, &b->items[i].value);
    }
}

static void
eq_int32_list(const epy_int32_list *a, const epy_int32_list *b)
{
    eq_items(a->n, a->items, b->n, b->items);
    for (size_t i = 0; i < a->n; i++)
        ck_assert_int_eq(a->items[i], b->items[i]);
}

static void
eq_matrix(const epy_int32_list_list *a, const epy_int32_list_list *b)
{
    eq_items(a->n, a->items, b->n, b->items);
    for (size_t i = 0; i < a->n; i++)
        eq_int32_list(&a->items[i], &b->items[i]);
}

static void
eq_samples(const epy_double_opt_list *a, const epy_double_opt_list *b)
{
    eq_items(a->n, a->items, b->n, b->items);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert(a->items[i].has == b->items[i].has);
        if (a->items[i].has)
            ck_assert(a->items[i].value == b->items[i].value);
    }
}

static void
eq_generics(const alltypes_generics *a, const alltypes_generics *b)
{
    eq_polygon_list(&a->polygons, &b->polygons);
    eq_point_opt(&a->centre, &b->centre);
    eq_string_opt(&a->note, &b->note);
    eq_colour_map(&a->colours, &b->colours);
    eq_groups(&a->groups, &b->groups);
    eq_matrix(&a->matrix, &b->matrix);
    eq_samples(&a->samples, &b->samples);
}

static void
eq_tree(const alltypes_tree *a, const alltypes_tree *b)
{
    eq_str(a->label, b->label);
    eq_items(a->children.n, a->children.items, b->children.n,
             b->children.items);
    for (size_t i = 0; i < a->children.n; i++)
        eq_tree(&a->children.items[i], &b->children.items[i]);
}

static void
eq_tree_list(const alltypes_tree_list *a, const alltypes_tree_list *b)
{
    eq_items(a->n, a->items, b->n, b->items);
    for (size_t i = 0; i < a->n; i++)
        eq_tree(&a->items[i], &b->items[i]);
}

static void
eq_rejected(const alltypes_rejected *a, const alltypes_rejected *b)
{
    eq_str(a->why, b->why);
    eq_scalars(&a->got, &b->got);
}

/* A destination full of garbage, to see that a copy overwrites it all. */
#define GARBAGE(v) memset(&(v), 0xa5, sizeof(v))

/* --- core: every type round-trips ------------------------------------------- */

START_TEST(test_scalars)
{
    alltypes_scalars v, empty, zero, c;

    fill_scalars(&v);
    GARBAGE(c);
    ck_assert_int_eq(alltypes_scalars_copy(&c, &v), 0);
    eq_scalars(&v, &c);
    alltypes_scalars_clear(&c);

    /* "" and empty bytes with a block copy as such. */
    fill_scalars_empty(&empty);
    GARBAGE(c);
    ck_assert_int_eq(alltypes_scalars_copy(&c, &empty), 0);
    eq_scalars(&empty, &c);
    ck_assert(c.s != NULL && c.s[0] == '\0');
    ck_assert(c.raw.data != NULL && c.raw.len == 0);
    alltypes_scalars_clear(&c);

    /* A zeroed struct: NULL string and bytes { NULL, 0 } stay so. */
    memset(&zero, 0, sizeof zero);
    GARBAGE(c);
    ck_assert_int_eq(alltypes_scalars_copy(&c, &zero), 0);
    eq_scalars(&zero, &c);
    ck_assert(c.s == NULL && c.raw.data == NULL && c.raw.len == 0);
    alltypes_scalars_clear(&c);

    alltypes_scalars_clear(&v);
    alltypes_scalars_clear(&empty);
}
END_TEST

START_TEST(test_generics)
{
    alltypes_generics v, c;

    fill_generics(&v);
    GARBAGE(c);
    ck_assert_int_eq(alltypes_generics_copy(&c, &v), 0);
    eq_generics(&v, &c);
    alltypes_generics_clear(&c);

    /* Unset optionals, empty lists and maps. */
    alltypes_generics_clear(&v);
    GARBAGE(c);
    ck_assert_int_eq(alltypes_generics_copy(&c, &v), 0);
    eq_generics(&v, &c);
    ck_assert(!c.centre.has && !c.note.has && c.polygons.n == 0
              && c.colours.n == 0 && c.groups.n == 0 && c.matrix.n == 0
              && c.samples.n == 0);
    alltypes_generics_clear(&c);
}
END_TEST

START_TEST(test_tree)
{
    alltypes_tree t, c, *p;

    fill_tree(&t, 4, 3, "node");
    GARBAGE(c);
    ck_assert_int_eq(alltypes_tree_copy(&c, &t), 0);
    eq_tree(&t, &c);
    alltypes_tree_clear(&c);
    alltypes_tree_clear(&t);

    /* A chain 1000 deep. */
    fill_tree(&t, 1000, 1, "deep");
    GARBAGE(c);
    ck_assert_int_eq(alltypes_tree_copy(&c, &t), 0);
    eq_tree(&t, &c);
    p = &c;
    for (int i = 1; i < 1000; i++)
        p = p->children.items;
    ck_assert(p->children.n == 0 && p->children.items == NULL);
    alltypes_tree_clear(&c);
    alltypes_tree_clear(&t);
}
END_TEST

START_TEST(test_error)
{
    alltypes_rejected r, c;

    r.why = xstr("negative i32");
    fill_scalars(&r.got);
    GARBAGE(c);
    ck_assert_int_eq(alltypes_rejected_copy(&c, &r), 0);
    eq_rejected(&r, &c);
    alltypes_rejected_clear(&c);
    alltypes_rejected_clear(&r);
}
END_TEST

/* The imported file's structs and generic. */
START_TEST(test_imported)
{
    shapes_point pt = { 1.5, -2 }, cpt;
    shapes_polygon poly, cpoly;
    shapes_point_list cl;

    GARBAGE(cpt);
    ck_assert_int_eq(shapes_point_copy(&cpt, &pt), 0);
    eq_point(&pt, &cpt);
    shapes_point_clear(&cpt);

    fill_polygon(&poly, "square", SHAPES_COLOUR_RED, 4);
    GARBAGE(cpoly);
    ck_assert_int_eq(shapes_polygon_copy(&cpoly, &poly), 0);
    eq_polygon(&poly, &cpoly);
    shapes_polygon_clear(&cpoly);

    GARBAGE(cl);
    ck_assert_int_eq(shapes_point_list_copy(&cl, &poly.corners), 0);
    eq_point_list(&poly.corners, &cl);
    shapes_point_list_clear(&cl);
    shapes_polygon_clear(&poly);
}
END_TEST

/* Each generic's own _copy, on the fields of a full alltypes.generics. */
START_TEST(test_generic_copies)
{
    alltypes_generics v;
    alltypes_tree t;
    shapes_polygon_list polygons;
    shapes_point_opt centre;
    epy_string_opt note;
    shapes_colour_string_map colours;
    epy_string_list words;
    epy_string_list_int64_map groups;
    epy_int32_list row;
    epy_int32_list_list matrix;
    epy_double_opt_list samples;
    alltypes_tree_list children;

    fill_generics(&v);
    fill_tree(&t, 3, 2, "t");

    GARBAGE(polygons);
    ck_assert_int_eq(shapes_polygon_list_copy(&polygons, &v.polygons), 0);
    eq_polygon_list(&v.polygons, &polygons);
    shapes_polygon_list_clear(&polygons);

    GARBAGE(centre);
    ck_assert_int_eq(shapes_point_opt_copy(&centre, &v.centre), 0);
    eq_point_opt(&v.centre, &centre);
    shapes_point_opt_clear(&centre);

    GARBAGE(note);
    ck_assert_int_eq(epy_string_opt_copy(&note, &v.note), 0);
    eq_string_opt(&v.note, &note);
    epy_string_opt_clear(&note);

    GARBAGE(colours);
    ck_assert_int_eq(shapes_colour_string_map_copy(&colours, &v.colours),
                     0);
    eq_colour_map(&v.colours, &colours);
    shapes_colour_string_map_clear(&colours);

    GARBAGE(words);
    ck_assert_int_eq(epy_string_list_copy(&words, &v.groups.items[0].value),
                     0);
    eq_string_list(&v.groups.items[0].value, &words);
    epy_string_list_clear(&words);

    GARBAGE(groups);
    ck_assert_int_eq(epy_string_list_int64_map_copy(&groups, &v.groups), 0);
    eq_groups(&v.groups, &groups);
    epy_string_list_int64_map_clear(&groups);

    GARBAGE(row);
    ck_assert_int_eq(epy_int32_list_copy(&row, &v.matrix.items[0]), 0);
    eq_int32_list(&v.matrix.items[0], &row);
    epy_int32_list_clear(&row);

    GARBAGE(matrix);
    ck_assert_int_eq(epy_int32_list_list_copy(&matrix, &v.matrix), 0);
    eq_matrix(&v.matrix, &matrix);
    epy_int32_list_list_clear(&matrix);

    GARBAGE(samples);
    ck_assert_int_eq(epy_double_opt_list_copy(&samples, &v.samples), 0);
    eq_samples(&v.samples, &samples);
    epy_double_opt_list_clear(&samples);

    GARBAGE(children);
    ck_assert_int_eq(alltypes_tree_list_copy(&children, &t.children), 0);
    eq_tree_list(&t.children, &children);
    alltypes_tree_list_clear(&children);

    /* An unset optional copies as unset, whatever its value holds. */
    v.note.has = false;
    GARBAGE(note);
    ck_assert_int_eq(epy_string_opt_copy(&note, &v.note), 0);
    ck_assert(!note.has && note.value == NULL);
    v.note.has = true;

    alltypes_tree_clear(&t);
    alltypes_generics_clear(&v);
}
END_TEST

/* --- errors: a failed copy leaves nothing ------------------------------------- */

/* The copies under test, as one type of function. */
typedef int copy_fn(void *dst, const void *src);
typedef void clear_fn(void *value);

static int
copy_scalars(void *dst, const void *src)
{
    return alltypes_scalars_copy(dst, src);
}

static void
clear_scalars(void *v)
{
    alltypes_scalars_clear(v);
}

static int
copy_generics(void *dst, const void *src)
{
    return alltypes_generics_copy(dst, src);
}

static void
clear_generics(void *v)
{
    alltypes_generics_clear(v);
}

static int
copy_tree(void *dst, const void *src)
{
    return alltypes_tree_copy(dst, src);
}

static void
clear_tree(void *v)
{
    alltypes_tree_clear(v);
}

static int
copy_rejected(void *dst, const void *src)
{
    return alltypes_rejected_copy(dst, src);
}

static void
clear_rejected(void *v)
{
    alltypes_rejected_clear(v);
}

static int
copy_groups(void *dst, const void *src)
{
    return epy_string_list_int64_map_copy(dst, src);
}

static void
clear_groups(void *v)
{
    epy_string_list_int64_map_clear(v);
}

/*
 * Copies @src (@size bytes) with its first, second, ... allocation
 * failing until the copy needs no more: each failure returns EPY_ENOMEM
 * with the destination untouched and as many frees as allocations.
 * Returns the number of allocations a copy makes.
 */
static long
fail_each(copy_fn *copy, clear_fn *clear, const void *src, size_t size)
{
    unsigned char *dst = xmalloc(size), *was = xmalloc(size);
    long k;

    for (k = 1;; k++) {
        int rc;

        memset(dst, 0xa5, size);
        memcpy(was, dst, size);
        arm(k);
        rc = copy(dst, src);
        disarm();
        if (rc == 0) {
            ck_assert_int_eq(fi.calls, k - 1);
            break;
        }
        ck_assert_int_eq(rc, EPY_ENOMEM);
        ck_assert_int_eq(fi.calls, k);
        ck_assert_msg(memcmp(dst, was, size) == 0,
                      "allocation %ld failed: destination changed", k);
        ck_assert_msg(fi.allocs == fi.frees, "allocation %ld failed: %ld "
                      "allocated, %ld freed", k, fi.allocs, fi.frees);
    }
    clear(dst);
    free(dst);
    free(was);
    return k - 1;
}

START_TEST(test_nomem)
{
    alltypes_scalars s;
    alltypes_generics g;
    alltypes_tree t;
    alltypes_rejected r;

    fill_scalars(&s);
    /* The struct built aside, the string, the bytes. */
    ck_assert_int_eq(fail_each(copy_scalars, clear_scalars, &s, sizeof s),
                     3);
    alltypes_scalars_clear(&s);

    fill_generics(&g);
    ck_assert_int_gt(fail_each(copy_generics, clear_generics, &g, sizeof g),
                     20);
    ck_assert_int_gt(fail_each(copy_groups, clear_groups, &g.groups,
                               sizeof g.groups), 5);
    alltypes_generics_clear(&g);

    fill_tree(&t, 3, 3, "n");
    /* 13 nodes: 13 labels, 4 lists of children, the root built aside. */
    ck_assert_int_eq(fail_each(copy_tree, clear_tree, &t, sizeof t), 18);
    alltypes_tree_clear(&t);

    r.why = xstr("why");
    fill_scalars(&r.got);
    ck_assert_int_eq(fail_each(copy_rejected, clear_rejected, &r, sizeof r),
                     4);
    alltypes_rejected_clear(&r);
}
END_TEST

/*
 * A list whose size in bytes would overflow fails with EPY_ENOMEM before
 * allocating it, deep in a value whose earlier parts were copied: they
 * are freed, the destination untouched. (Without the wrapped malloc.)
 */
START_TEST(test_overflow)
{
    alltypes_generics g, c, was;
    alltypes_tree t, ct, twas, *leaf;
    epy_int32_list_list m;
    size_t n;

    fill_generics(&g);
    n = g.matrix.items[2].n;
    g.matrix.items[2].n = SIZE_MAX / sizeof(int32_t) + 1;
    GARBAGE(c);
    memcpy(&was, &c, sizeof c);
    ck_assert_int_eq(alltypes_generics_copy(&c, &g), EPY_ENOMEM);
    ck_assert(memcmp(&c, &was, sizeof c) == 0);
    GARBAGE(m);
    ck_assert_int_eq(epy_int32_list_list_copy(&m, &g.matrix), EPY_ENOMEM);
    g.matrix.items[2].n = n;

    /* In a map's value. */
    n = g.groups.items[2].value.n;
    g.groups.items[2].value.n = SIZE_MAX;
    ck_assert_int_eq(alltypes_generics_copy(&c, &g), EPY_ENOMEM);
    ck_assert(memcmp(&c, &was, sizeof c) == 0);
    g.groups.items[2].value.n = n;
    alltypes_generics_clear(&g);

    /* At the last leaf of a tree. */
    fill_tree(&t, 4, 2, "n");
    leaf = &t;
    while (leaf->children.n > 0)
        leaf = &leaf->children.items[leaf->children.n - 1];
    leaf->children.n = SIZE_MAX / sizeof(alltypes_tree) + 1;
    leaf->children.items = leaf;
    GARBAGE(ct);
    memcpy(&twas, &ct, sizeof ct);
    ck_assert_int_eq(alltypes_tree_copy(&ct, &t), EPY_ENOMEM);
    ck_assert(memcmp(&ct, &twas, sizeof ct) == 0);
    leaf->children.n = 0;
    leaf->children.items = NULL;
    alltypes_tree_clear(&t);
}
END_TEST

/* Malformed values: EPY_EPARAM, the destination untouched. */
START_TEST(test_malformed)
{
    alltypes_scalars s, cs, swas;
    alltypes_generics g, c, was;
    uint8_t *raw;

    fill_scalars(&s);
    raw = s.raw.data;
    s.raw.data = NULL;
    GARBAGE(cs);
    memcpy(&swas, &cs, sizeof cs);
    ck_assert_int_eq(alltypes_scalars_copy(&cs, &s), EPY_EPARAM);
    ck_assert(memcmp(&cs, &swas, sizeof cs) == 0);
    s.raw.data = raw;
    alltypes_scalars_clear(&s);

    fill_generics(&g);
    g.samples.n = 5;
    free(g.samples.items);
    g.samples.items = NULL;
    GARBAGE(c);
    memcpy(&was, &c, sizeof c);
    ck_assert_int_eq(alltypes_generics_copy(&c, &g), EPY_EPARAM);
    ck_assert(memcmp(&c, &was, sizeof c) == 0);
    g.samples.n = 0;
    alltypes_generics_clear(&g);

    /* NULL arguments. */
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(alltypes_scalars_copy(NULL, &s), EPY_EPARAM);
    ck_assert_int_eq(alltypes_scalars_copy(&s, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_gen_copy(NULL, &s, &s), EPY_EPARAM);
}
END_TEST

static Suite *
copy_suite(void)
{
    Suite *s = suite_create("copy");
    TCase *tc;

    tc = tcase_create("core");
    tcase_add_test(tc, test_scalars);
    tcase_add_test(tc, test_generics);
    tcase_add_test(tc, test_tree);
    tcase_add_test(tc, test_error);
    tcase_add_test(tc, test_imported);
    tcase_add_test(tc, test_generic_copies);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_nomem);
    tcase_add_test(tc, test_overflow);
    tcase_add_test(tc, test_malformed);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(copy_suite());
}
