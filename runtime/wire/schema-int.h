/*
 * Interface descriptions as data: what the parser (schema.c) builds and
 * the comparison (schema-compare.c) reads. See schema.h.
 */
#ifndef EPYRPC_RUNTIME_SCHEMA_INT_H
#define EPYRPC_RUNTIME_SCHEMA_INT_H

#include <stdint.h>

#include "schema.h"

/* The highest field number (protobuf's). */
#define SC_MAX_FIELD INT64_C(536870911)

/* Declaration kinds, in the order of their words. */
enum { SC_NAMESPACE, SC_ENUM, SC_STRUCT, SC_ERROR, SC_METHOD, SC_EVENT };

/*
 * Type kinds: the scalars in the order of their names (SC_FD, a file
 * descriptor, is one but cannot be a map key), then the rest.
 */
enum {
    SC_BOOL, SC_INT8, SC_INT16, SC_INT32, SC_INT64, SC_UINT8, SC_UINT16,
    SC_UINT32, SC_UINT64, SC_FLOAT, SC_DOUBLE, SC_STRING, SC_BYTES, SC_FD,
    SC_VOID, SC_NAMED, SC_LIST, SC_OPTIONAL, SC_MAP
};

typedef struct sc_type {
    unsigned char kind;
    int line;                    /* SC_NAMED: where it is used */
    const char *name;            /* SC_NAMED: full dotted name */
    long decl;                   /* SC_NAMED: its declaration, or -1 when
                                  * another interface's (not in the text) */
    struct sc_type *elem;        /* list, optional, map: element, value */
    struct sc_type *key;         /* map: key */
    struct sc_type *next_named;  /* the parser's list of named types */
} sc_type;

/* A parameter, a field or an enum value. */
typedef struct sc_member {
    const char *name;
    const char *spell;           /* the type as written; NULL in enums */
    sc_type *type;               /* NULL in enums */
    int64_t num;                 /* field number, or the enum value */
} sc_member;

typedef struct sc_decl {
    int kind;
    int line;
    const char *qname;
    sc_member *mems;             /* in the order of the text */
    size_t n_mems;
    sc_member **by_name;         /* the same, sorted by name */
    sc_member **by_num;          /* and by number */
    sc_type *result;             /* methods */
    const char *result_spell;
    const char **raises;         /* methods: in order */
    const char **raises_sorted;
    size_t n_raises;
    uint64_t shape;              /* a hash of the structure, names left out */
} sc_decl;

struct sc_chunk;

struct epy__schema {
    struct sc_chunk *chunks;     /* where everything but the arrays lives */
    sc_decl *decls;              /* in the order of the text */
    size_t n_decls;
    uint32_t *index;             /* by full name: open addressing, 1 + the
                                  * declaration's position, 0 empty */
    size_t index_cap;
};

/*
 * Structural equality of types of an old (@a) and a new (@b) version
 * (schema-equal.c). Equal: of the same kinds, built alike of the same
 * scalars, and named types either of the same name (their own changes
 * are their own) or declared in both texts, enums with the same value
 * numbers, structs and errors with the same field numbers of equal
 * types; names of fields, values and types do not matter.
 */
typedef struct sc_equal {
    const epy__schema *a, *b;
    size_t budget;               /* member comparisons left */
    struct sc_pair *pairs;       /* what is known of pairs (open addressing) */
    size_t n_pairs, cap_pairs;
    struct sc_work *work;        /* pairs waiting to be compared */
    size_t n_work, cap_work;
    uint64_t *assumed;           /* pairs assumed by this comparison */
    size_t n_assumed, cap_assumed;
    uint64_t fail_from;          /* the pair that needed an unequal one */
} sc_equal;

void epy__schema_equal_init(sc_equal *e, const epy__schema *a,
                            const epy__schema *b);
void epy__schema_equal_free(sc_equal *e);
/* 1 if @x of @a equals @y of @b, 0 if not, -2 when out of memory. */
int epy__schema_types_equal(sc_equal *e, const sc_type *x, const sc_type *y);
/* The same for the types declared at positions @i of @a and @j of @b. */
int epy__schema_decls_equal(sc_equal *e, long i, long j);
/*
 * Pairs each type (enum, struct, error) that only @a declares with one of
 * the same kind and structure that only @b declares, if any: a renamed
 * type; @ren_a maps the positions of @a's declarations to @b's, @ren_b
 * back, -1 for none (both filled with -1 first). 0, or -2.
 */
int epy__schema_renames(sc_equal *e, long *ren_a, long *ren_b);

uint64_t epy__schema_hash(const char *p, size_t n);
/* The declaration named by the @n bytes at @name, or -1. */
long epy__schema_find(const epy__schema *s, const char *name, size_t n);

#endif /* EPYRPC_RUNTIME_SCHEMA_INT_H */
