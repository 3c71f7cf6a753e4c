/*
 * Interface descriptions: the parser. The text is untrusted (a peer
 * sends it in the hello), so every line is checked against the grammar
 * idlc writes, within fixed bounds, in one pass; nothing is recursive
 * but types, whose nesting is bounded. The comparison is in
 * schema-compare.c.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema-int.h"

/* --- memory -------------------------------------------------------------- */

struct sc_chunk {
    struct sc_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

#define CHUNK ((size_t) 64 * 1024)

/* Zeroed memory that lives as long as @s; NULL when out of memory. */
static void *
sc_alloc(epy__schema *s, size_t size)
{
    size_t align = sizeof(max_align_t);
    size_t need = (size + align - 1) / align * align;
    struct sc_chunk *c = s->chunks;
    void *p;

    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > CHUNK ? need : CHUNK;

        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = s->chunks;
        s->chunks = c;
    }
    p = (char *) c->data + c->used;
    c->used += need;
    memset(p, 0, size);
    return p;
}

static char *
sc_strndup(epy__schema *s, const char *p, size_t n)
{
    char *r = sc_alloc(s, n + 1);

    if (r != NULL) {
        memcpy(r, p, n);
        r[n] = '\0';
    }
    return r;
}

void
epy__schema_free(epy__schema *s)
{
    if (s == NULL)
        return;
    for (struct sc_chunk *c = s->chunks, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(s->decls);
    free(s->index);
    free(s);
}

/* --- names --------------------------------------------------------------- */

uint64_t
epy__schema_hash(const char *p, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char) p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

long
epy__schema_find(const epy__schema *s, const char *name, size_t n)
{
    size_t mask = s->index_cap - 1;

    if (s->index_cap == 0)
        return -1;
    for (size_t i = (size_t) epy__schema_hash(name, n) & mask;;
         i = (i + 1) & mask) {
        uint32_t v = s->index[i];
        const char *q;

        if (v == 0)
            return -1;
        q = s->decls[v - 1].qname;
        if (strncmp(q, name, n) == 0 && q[n] == '\0')
            return (long) v - 1;
    }
}

static bool
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* An identifier, or with @dotted a dot-separated path of them. */
static bool
is_name(const char *p, size_t n, bool dotted)
{
    bool start = true;

    if (n == 0 || n > EPY__SCHEMA_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (start) {
            if (!is_alpha(p[i]))
                return false;
            start = false;
        } else if (p[i] == '.' && dotted) {
            start = true;
        } else if (!is_alnum(p[i])) {
            return false;
        }
    }
    return !start;
}

/* --- the parser ---------------------------------------------------------- */

typedef struct parser {
    epy__schema *s;
    const char *p, *end;         /* the rest of the current line */
    int line;
    char *why;
    size_t whylen;
    sc_type *named;              /* named types, to resolve at the end */
    sc_member *mems;             /* the members of the current line */
    size_t n_mems, cap_mems;
    const char **raises;
    size_t n_raises, cap_raises;
} parser;

static int
fail(parser *ps, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int
fail(parser *ps, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (ps->why == NULL || ps->whylen == 0)
        return -1;
    n = ps->line > 0 ? snprintf(ps->why, ps->whylen, "line %d: ", ps->line)
                     : 0;
    if (n >= 0 && (size_t) n < ps->whylen) {
        va_start(ap, fmt);
        vsnprintf(ps->why + n, ps->whylen - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Bytes of a token quoted in messages. */
#define QUOTE(n) (int) ((n) > 40 ? 40 : (n))

/* The next space-separated token of the line, or false at its end. */
static bool
token(parser *ps, const char **ret, size_t *ret_n)
{
    const char *p = ps->p;

    while (p < ps->end && *p == ' ')
        p++;
    *ret = p;
    while (p < ps->end && *p != ' ')
        p++;
    *ret_n = (size_t) (p - *ret);
    ps->p = p;
    return *ret_n > 0;
}

static bool
token_is(const char *t, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(t, word, n) == 0;
}

/* A decimal integer in [@min, @max]. */
static bool
parse_int(const char *p, size_t n, int64_t min, int64_t max, int64_t *ret)
{
    bool neg = n > 0 && *p == '-';
    int64_t v = 0;

    if (neg) {
        p++;
        n--;
    }
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    if (neg)
        v = -v;
    *ret = v;
    return v >= min && v <= max;
}

static const char *const scalar_names[] = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "float", "double", "string", "bytes", "fd", "void"
};

/*
 * A type at *@pp, ending at or before @e; *@pp is left after it. @depth
 * generics enclose it.
 */
static int
parse_type(parser *ps, const char **pp, const char *e, int depth,
           bool allow_void, sc_type **ret)
{
    const char *p = *pp, *w = p;
    size_t n;
    sc_type *t;
    int rc;

    while (p < e && (is_alnum(*p) || *p == '.'))
        p++;
    n = (size_t) (p - w);
    if (n == 0)
        return fail(ps, "a type expected at '%.*s'", QUOTE(e - w), w);
    t = sc_alloc(ps->s, sizeof *t);
    if (t == NULL)
        return -2;
    t->decl = -1;
    *ret = t;
    if (p < e && *p == '<') {
        if (token_is(w, n, "list"))
            t->kind = SC_LIST;
        else if (token_is(w, n, "optional"))
            t->kind = SC_OPTIONAL;
        else if (token_is(w, n, "map"))
            t->kind = SC_MAP;
        else
            return fail(ps, "'%.*s' is not a generic type", QUOTE(n), w);
        if (depth >= EPY__SCHEMA_MAX_DEPTH)
            return fail(ps, "types nested more than %d levels",
                        EPY__SCHEMA_MAX_DEPTH);
        p++;
        if (t->kind == SC_MAP) {
            rc = parse_type(ps, &p, e, depth + 1, false, &t->key);
            if (rc < 0)
                return rc;
            /* (Which keeps a type's spelling linear in its depth.) */
            if (t->key->kind >= SC_VOID)
                return fail(ps, "map keys are scalars");
            if (t->key->kind == SC_FD)
                return fail(ps, "a map key cannot be an fd");
            if (p >= e || *p != ',')
                return fail(ps, "',' expected after the key of a map");
            p++;
        }
        rc = parse_type(ps, &p, e, depth + 1, false, &t->elem);
        if (rc < 0)
            return rc;
        if (p >= e || *p != '>')
            return fail(ps, "'>' expected at the end of a %s",
                        t->kind == SC_LIST ? "list"
                        : t->kind == SC_MAP ? "map" : "optional");
        *pp = p + 1;
        return 0;
    }
    *pp = p;
    for (int k = 0; k <= SC_VOID; k++)
        if (token_is(w, n, scalar_names[k])) {
            if (k == SC_VOID && !allow_void)
                return fail(ps, "'void' is only a method's result");
            t->kind = (unsigned char) k;
            return 0;
        }
    if (!is_name(w, n, true))
        return fail(ps, "bad type name '%.*s'", QUOTE(n), w);
    t->kind = SC_NAMED;
    t->line = ps->line;
    t->name = sc_strndup(ps->s, w, n);
    if (t->name == NULL)
        return -2;
    t->next_named = ps->named;
    ps->named = t;
    return 0;
}

static int
add_member(parser *ps, const char *name, size_t n_name, int64_t num)
{
    sc_member *m;

    if (!is_name(name, n_name, false))
        return fail(ps, "bad member name '%.*s'", QUOTE(n_name), name);
    if (ps->n_mems == ps->cap_mems) {
        size_t cap = ps->cap_mems != 0 ? ps->cap_mems * 2 : 16;

        m = realloc(ps->mems, cap * sizeof *m);
        if (m == NULL)
            return -2;
        ps->mems = m;
        ps->cap_mems = cap;
    }
    m = &ps->mems[ps->n_mems++];
    memset(m, 0, sizeof *m);
    m->num = num;
    m->name = sc_strndup(ps->s, name, n_name);
    return m->name != NULL ? 0 : -2;
}

/* "NAME=VALUE" of an enum. */
static int
parse_value(parser *ps, const char *t, size_t n)
{
    const char *eq = memchr(t, '=', n);
    int64_t v;

    if (eq == NULL || !parse_int(eq + 1, (size_t) (t + n - eq - 1),
                                 INT32_MIN, INT32_MAX, &v))
        return fail(ps, "NAME=VALUE expected at '%.*s'", QUOTE(n), t);
    return add_member(ps, t, (size_t) (eq - t), v);
}

/* "name:type=number" of a struct, error, method or event. */
static int
parse_field(parser *ps, const char *t, size_t n)
{
    const char *colon = memchr(t, ':', n), *eq = t + n, *p;
    sc_member *m;
    int64_t num;
    int rc;

    while (eq > t && eq[-1] != '=')
        eq--;
    if (colon == NULL || eq <= colon + 1
        || !parse_int(eq, (size_t) (t + n - eq), 1, SC_MAX_FIELD, &num))
        return fail(ps, "name:type=number expected at '%.*s'", QUOTE(n), t);
    rc = add_member(ps, t, (size_t) (colon - t), num);
    if (rc < 0)
        return rc;
    m = &ps->mems[ps->n_mems - 1];
    p = colon + 1;
    rc = parse_type(ps, &p, eq - 1, 0, false, &m->type);
    if (rc < 0)
        return rc;
    if (p != eq - 1)
        return fail(ps, "junk after the type in '%.*s'", QUOTE(n), t);
    m->spell = sc_strndup(ps->s, colon + 1, (size_t) (eq - 1 - colon - 1));
    return m->spell != NULL ? 0 : -2;
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp((*(sc_member *const *) a)->name,
                  (*(sc_member *const *) b)->name);
}

static int
cmp_num(const void *a, const void *b)
{
    int64_t x = (*(sc_member *const *) a)->num;
    int64_t y = (*(sc_member *const *) b)->num;

    return x < y ? -1 : x > y;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Moves the line's members into @d, with their sorted views. */
static int
finish_members(parser *ps, sc_decl *d)
{
    size_t n = ps->n_mems;

    d->n_mems = n;
    if (n == 0)
        return 0;
    d->mems = sc_alloc(ps->s, n * sizeof *d->mems);
    d->by_name = sc_alloc(ps->s, n * sizeof *d->by_name);
    d->by_num = sc_alloc(ps->s, n * sizeof *d->by_num);
    if (d->mems == NULL || d->by_name == NULL || d->by_num == NULL)
        return -2;
    memcpy(d->mems, ps->mems, n * sizeof *d->mems);
    for (size_t i = 0; i < n; i++)
        d->by_name[i] = d->by_num[i] = &d->mems[i];
    qsort(d->by_name, n, sizeof *d->by_name, cmp_name);
    qsort(d->by_num, n, sizeof *d->by_num, cmp_num);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(d->by_name[i - 1]->name, d->by_name[i]->name) == 0)
            return fail(ps, "'%.*s' twice in '%.*s'",
                        QUOTE(strlen(d->by_name[i]->name)),
                        d->by_name[i]->name, QUOTE(strlen(d->qname)),
                        d->qname);
        if (d->by_num[i - 1]->num == d->by_num[i]->num)
            return fail(ps, "number %lld twice in '%.*s'",
                        (long long) d->by_num[i]->num,
                        QUOTE(strlen(d->qname)), d->qname);
    }
    return 0;
}

static int
parse_raises(parser *ps)
{
    const char *t;
    size_t n;

    while (token(ps, &t, &n)) {
        const char **v;

        if (!token_is(t, n, "raises") || !token(ps, &t, &n)
            || !is_name(t, n, true))
            return fail(ps, "'raises NAME' expected at '%.*s'", QUOTE(n), t);
        if (ps->n_raises == ps->cap_raises) {
            size_t cap = ps->cap_raises != 0 ? ps->cap_raises * 2 : 8;

            v = realloc(ps->raises, cap * sizeof *v);
            if (v == NULL)
                return -2;
            ps->raises = v;
            ps->cap_raises = cap;
        }
        v = &ps->raises[ps->n_raises++];
        *v = sc_strndup(ps->s, t, n);
        if (*v == NULL)
            return -2;
    }
    return 0;
}

static const char *const kind_words[] = {
    "namespace", "enum", "struct", "error", "method", "event"
};

static int
parse_line(parser *ps, sc_decl *d)
{
    const char *t;
    size_t n;
    int rc = 0, k;

    ps->n_mems = ps->n_raises = 0;
    if (!token(ps, &t, &n))
        return fail(ps, "a declaration expected");
    for (k = 0; k <= SC_EVENT; k++)
        if (token_is(t, n, kind_words[k]))
            break;
    if (k > SC_EVENT) {
        /*
         * A kind of declaration of a later version: skipped, so that a
         * peer that describes more than this one knows still compares
         * (what both know must still agree). Only a word is accepted.
         */
        for (size_t i = 0; i < n; i++)
            if (t[i] < 'a' || t[i] > 'z')
                return fail(ps, "unknown declaration '%.*s'", QUOTE(n), t);
        return 1;
    }
    d->kind = k;
    d->line = ps->line;
    if (!token(ps, &t, &n))
        return fail(ps, "a name expected after '%s'", kind_words[k]);
    if (k >= SC_METHOD) {
        if (t[n - 1] != '(')
            return fail(ps, "'(' expected after '%.*s'", QUOTE(n), t);
        n--;
    }
    if (!is_name(t, n, true))
        return fail(ps, "bad name '%.*s'", QUOTE(n), t);
    d->qname = sc_strndup(ps->s, t, n);
    if (d->qname == NULL)
        return -2;
    while (rc == 0 && k != SC_NAMESPACE && token(ps, &t, &n)) {
        if (k == SC_ENUM)
            rc = parse_value(ps, t, n);
        else if (k >= SC_METHOD && token_is(t, n, ")"))
            break;
        else
            rc = parse_field(ps, t, n);
    }
    if (rc < 0)
        return rc;
    if (k >= SC_METHOD && !token_is(t, n, ")"))
        return fail(ps, "')' expected at the end of '%s'", d->qname);
    if (k == SC_METHOD) {
        const char *p;

        if (!token(ps, &t, &n) || !token_is(t, n, "->")
            || !token(ps, &t, &n))
            return fail(ps, "'-> TYPE' expected after the parameters");
        p = t;
        rc = parse_type(ps, &p, t + n, 0, true, &d->result);
        if (rc < 0)
            return rc;
        if (p != t + n)
            return fail(ps, "junk after the result type");
        d->result_spell = sc_strndup(ps->s, t, n);
        if (d->result_spell == NULL)
            return -2;
        rc = parse_raises(ps);
        if (rc < 0)
            return rc;
    }
    if (token(ps, &t, &n))
        return fail(ps, "junk at '%.*s'", QUOTE(n), t);
    if (ps->n_raises > 0) {
        d->n_raises = ps->n_raises;
        d->raises = sc_alloc(ps->s, 2 * ps->n_raises * sizeof *d->raises);
        if (d->raises == NULL)
            return -2;
        d->raises_sorted = d->raises + ps->n_raises;
        memcpy(d->raises, ps->raises, ps->n_raises * sizeof *d->raises);
        memcpy(d->raises_sorted, ps->raises,
               ps->n_raises * sizeof *d->raises);
        qsort(d->raises_sorted, d->n_raises, sizeof *d->raises, cmp_str);
    }
    return finish_members(ps, d);
}

/* --- after the lines ----------------------------------------------------- */

static int
build_index(parser *ps)
{
    epy__schema *s = ps->s;
    size_t cap = 16;

    while (cap < 2 * s->n_decls)
        cap *= 2;
    s->index = calloc(cap, sizeof *s->index);
    if (s->index == NULL)
        return -2;
    s->index_cap = cap;
    for (size_t d = 0; d < s->n_decls; d++) {
        const char *q = s->decls[d].qname;
        size_t i = (size_t) epy__schema_hash(q, strlen(q)) & (cap - 1);

        for (; s->index[i] != 0; i = (i + 1) & (cap - 1))
            if (strcmp(s->decls[s->index[i] - 1].qname, q) == 0) {
                ps->line = s->decls[d].line;
                return fail(ps, "'%.*s' declared twice", QUOTE(strlen(q)), q);
            }
        s->index[i] = (uint32_t) d + 1;
    }
    return 0;
}

/* A hash of a type's structure, blind to the names of named types. */
static uint64_t
shape_of(const sc_type *t)
{
    uint64_t h = t->kind;

    if (t->kind == SC_NAMED)
        return h;
    if (t->key != NULL)
        h = h * 31 + shape_of(t->key);
    if (t->elem != NULL)
        h = h * 31 + shape_of(t->elem);
    return h;
}

static int
resolve(parser *ps)
{
    epy__schema *s = ps->s;

    for (sc_type *t = ps->named; t != NULL; t = t->next_named) {
        long d = epy__schema_find(s, t->name, strlen(t->name));

        if (d >= 0 && s->decls[d].kind != SC_ENUM
            && s->decls[d].kind != SC_STRUCT && s->decls[d].kind != SC_ERROR) {
            ps->line = t->line;
            return fail(ps, "'%.*s' is a %s, not a type",
                        QUOTE(strlen(t->name)), t->name,
                        kind_words[s->decls[d].kind]);
        }
        t->decl = d;
    }
    /* The shapes, for finding renamed types (order-blind sums). */
    for (size_t i = 0; i < s->n_decls; i++) {
        sc_decl *d = &s->decls[i];
        uint64_t h = (uint64_t) d->kind * UINT64_C(0x9e3779b97f4a7c15);

        for (size_t m = 0; m < d->n_mems; m++) {
            const sc_member *mm = &d->mems[m];
            uint64_t x = (uint64_t) mm->num * UINT64_C(0xff51afd7ed558ccd);

            if (mm->type != NULL)
                x ^= shape_of(mm->type) * UINT64_C(0xc4ceb9fe1a85ec53);
            h += x ^ (x >> 29);
        }
        d->shape = h;
    }
    return 0;
}

int
epy__schema_parse(const char *text, size_t len, epy__schema **ret, char *why,
                  size_t whylen)
{
    parser ps;
    size_t cap = 0;
    int rc = 0;

    *ret = NULL;
    memset(&ps, 0, sizeof ps);
    ps.why = why;
    ps.whylen = whylen;
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (len > EPY__SCHEMA_MAX_TEXT)
        return fail(&ps, "the description exceeds %zu bytes",
                    EPY__SCHEMA_MAX_TEXT);
    ps.s = calloc(1, sizeof *ps.s);
    if (ps.s == NULL)
        return -2;
    for (const char *p = text, *end = text + len; rc == 0 && p < end;) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *eol = nl != NULL ? nl : end;

        ps.line++;
        ps.p = p;
        ps.end = eol;
        p = nl != NULL ? nl + 1 : end;
        for (const char *q = ps.p; q < eol; q++)
            if (*q < ' ' || *q > '~') {
                rc = fail(&ps, "unexpected byte 0x%02x",
                          (unsigned) (unsigned char) *q);
                break;
            }
        if (rc < 0 || ps.p == eol)
            continue;
        if (ps.s->n_decls == EPY__SCHEMA_MAX_DECLS) {
            rc = fail(&ps, "more than %d declarations",
                      EPY__SCHEMA_MAX_DECLS);
            break;
        }
        if (ps.s->n_decls == cap) {
            size_t ncap = cap != 0 ? cap * 2 : 64;
            sc_decl *v = realloc(ps.s->decls, ncap * sizeof *v);

            if (v == NULL) {
                rc = -2;
                break;
            }
            ps.s->decls = v;
            cap = ncap;
        }
        memset(&ps.s->decls[ps.s->n_decls], 0, sizeof *ps.s->decls);
        rc = parse_line(&ps, &ps.s->decls[ps.s->n_decls++]);
        if (rc == 1) {
            ps.s->n_decls--;        /* skipped */
            rc = 0;
        }
    }
    if (rc == 0)
        rc = build_index(&ps);
    if (rc == 0)
        rc = resolve(&ps);
    free(ps.mems);
    free(ps.raises);
    if (rc < 0) {
        if (rc == -2 && why != NULL && whylen > 0)
            snprintf(why, whylen, "out of memory");
        epy__schema_free(ps.s);
        return rc;
    }
    *ret = ps.s;
    return 0;
}
