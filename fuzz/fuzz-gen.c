/*
 * Fuzz target: the decoder of generated code, epy_gen_decode(), on the
 * types of idl-examples/alltypes.idl (and shapes.idl, which it imports).
 * The first input byte picks the type, the rest is its message as a
 * peer would send it. A refused message must leave the value zeroed.
 * What decodes is encoded (e1), decoded again and encoded again (e2):
 * the second decoding must succeed and e2 must equal e1 byte for byte;
 * abort() otherwise.
 *
 * Built with libFuzzer by `./configure --enable-fuzzing` (make fuzz), and
 * with a plain driver over the seed corpus in `make check`. Built with
 * -DEPY_FUZZ_SEEDS instead (`make fuzz/gen-seeds`), it is the program
 * that writes the valid seeds of fuzz/corpus/gen.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#ifdef EPY_FUZZ_SEEDS
#include <stdio.h>
#endif

#include "alltypes.epy.h"

/* The types an input may pick, by its first byte. */
static const epy_gen_struct *const types[] = {
    &alltypes_scalars_desc, &alltypes_generics_desc, &alltypes_tree_desc,
    &alltypes_rejected_desc, &shapes_polygon_desc, &shapes_point_desc,
};
#define N_TYPES (sizeof types / sizeof types[0])

/* Room for a value of any of them. */
typedef union any_value {
    alltypes_scalars scalars;
    alltypes_generics generics;
    alltypes_tree tree;
    alltypes_rejected rejected;
    shapes_polygon polygon;
    shapes_point point;
} any_value;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

void
fuzz_cleanup(void)
{
}

static bool
all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const epy_gen_struct *st;
    epy_buf e1 = EPY_BUF_INIT, e2 = EPY_BUF_INIT;
    any_value v1, v2;
    int rc;

    if (size == 0)
        return 0;
    st = types[data[0] % N_TYPES];
    memset(&v1, 0xa5, sizeof v1);
    rc = epy_gen_decode(st, data + 1, size - 1, &v1);
    if (rc < 0) {
        if ((rc != EPY_EPROTO && rc != EPY_ETOOBIG)
            || !all_zero(&v1, st->size))
            abort();
        return 0;
    }
    if (epy_gen_encode(st, &v1, &e1) != 0)
        abort();
    rc = epy_gen_decode(st, e1.data, e1.len, &v2);
    /*
     * The canonical encoding may be much shorter than the input (long
     * varints, unknown fields and repeated singular fields dropped), and
     * the budget, proportional to the length, smaller: EPY_ETOOBIG is
     * the only failure allowed.
     */
    if (rc == 0) {
        if (epy_gen_encode(st, &v2, &e2) != 0 || e2.len != e1.len
            || (e1.len > 0 && memcmp(e1.data, e2.data, e1.len) != 0))
            abort();
        epy_gen_clear(st, &v2);
    } else if (rc != EPY_ETOOBIG) {
        abort();
    }
    epy_gen_clear(st, &v1);
    epy_buf_clear(&e1);
    epy_buf_clear(&e2);
    return 0;
}

#ifdef EPY_FUZZ_SEEDS
/*
 * Writes the valid seeds into the folder named by argv[1]: values of
 * every type, as the typed stubs of alltypes.c send them. The edge cases
 * of the corpus (out of range, hostile, malformed) are written by hand.
 */
static int
write_seed(const char *dir, const char *name, unsigned type,
           const void *value)
{
    epy_buf b = EPY_BUF_INIT;
    char path[4096];
    FILE *f;
    uint8_t t = (uint8_t) type;
    int ok;

    if (epy_gen_encode(types[type], value, &b) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    ok = f != NULL && fwrite(&t, 1, 1, f) == 1
         && (b.len == 0 || fwrite(b.data, 1, b.len, f) == b.len);
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    epy_buf_clear(&b);
    if (!ok)
        fprintf(stderr, "%s: cannot write\n", path);
    return !ok;
}

int
main(int argc, char **argv)
{
    uint8_t raw[] = { 0, 1, 2, 0, 255 };
    alltypes_scalars sc = {
        true, -128, -32768, INT32_MIN, INT64_MIN, 255, 65535, UINT32_MAX,
        UINT64_MAX, 1.5f, -2.25, (char *) "caf\xc3\xa9 \xe2\x82\xac",
        { raw, sizeof raw }
    };
    alltypes_scalars zero;
    shapes_point corners[] = { { 0, 0 }, { 1, 0 }, { 0, 1 } };
    shapes_polygon polys[] = {
        { (char *) "triangle", SHAPES_COLOUR_BLUE, { 3, corners } },
        { (char *) "nothing", SHAPES_COLOUR_RED, { 0, NULL } },
    };
    shapes_colour_string_map_entry colours[] = {
        { (char *) "sky", SHAPES_COLOUR_BLUE },
        { (char *) "grass", SHAPES_COLOUR_GREEN },
    };
    char *evens[] = { (char *) "two", (char *) "four" };
    epy_string_list_int64_map_entry groups[] = {
        { 2, { 2, evens } }, { 0, { 0, NULL } },
    };
    int32_t row0[] = { 1, 2, 3 }, row2[] = { 7 };
    epy_int32_list rows[] = { { 3, row0 }, { 0, NULL }, { 1, row2 } };
    epy_double_opt samples[] = { { true, 0.5 }, { false, 0 },
                                 { true, -1e300 } };
    alltypes_generics gen = {
        { 2, polys }, { true, { 3, 4 } }, { true, (char *) "a note" },
        { 2, colours }, { 2, groups }, { 3, rows }, { 3, samples }
    };
    alltypes_tree leaves[] = {
        { (char *) "a", { 0, NULL } }, { (char *) "b", { 0, NULL } },
    };
    alltypes_tree mid[] = { { (char *) "m", { 2, leaves } } };
    alltypes_tree root = { (char *) "root", { 1, mid } };
    alltypes_tree chain[40];
    alltypes_rejected rej;
    shapes_point pt = { -0.0, 1e-310 };
    int failed = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: gen-seeds FOLDER\n");
        return 2;
    }
    memset(&zero, 0, sizeof zero);
    for (size_t i = 0; i < 40; i++) {
        chain[i].label = (char *) "link";
        chain[i].children.n = i + 1 < 40 ? 1 : 0;
        chain[i].children.items = i + 1 < 40 ? &chain[i + 1] : NULL;
    }
    rej.why = (char *) "negative i32";
    rej.got = sc;
    failed += write_seed(argv[1], "scalars-extremes", 0, &sc);
    failed += write_seed(argv[1], "scalars-zero", 0, &zero);
    failed += write_seed(argv[1], "generics", 1, &gen);
    failed += write_seed(argv[1], "tree", 2, &root);
    failed += write_seed(argv[1], "tree-chain-40", 2, chain);
    failed += write_seed(argv[1], "rejected", 3, &rej);
    failed += write_seed(argv[1], "polygon", 4, &polys[0]);
    failed += write_seed(argv[1], "point", 5, &pt);
    return failed != 0;
}
#endif
