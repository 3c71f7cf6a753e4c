/*
 * Interface descriptions: what changed between two versions, along the
 * compatibility model of doc/idl.md ("Wire compatibility").
 *
 * Declarations match by full name, members (parameters, fields, enum
 * values) by name, else by number (a rename). Types used by members
 * compare by structure where their names differ (schema-equal.c): a
 * renamed type is the same type.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema-int.h"

typedef struct cmp {
    const epy__schema *a, *b;    /* old, new */
    bool sym;
    epy__compat_fn fn;
    void *ctx;
    int breaking;
    bool oom;
    sc_equal eq;
    long *ren_a, *ren_b;         /* renamed types: old -> new, new -> old */
    bool *used;                  /* members of the old declaration matched */
    size_t cap_used;
} cmp;

static const char *const kind_words[] = {
    "namespace", "enum", "struct", "error", "method", "event"
};

static const char *
an(int kind)
{
    return kind == SC_ENUM || kind == SC_ERROR || kind == SC_EVENT ? "an"
                                                                   : "a";
}

static const char *
member_word(int kind)
{
    return kind == SC_ENUM ? "value" : kind >= SC_METHOD ? "parameter"
                                                         : "field";
}

static bool
is_record(int kind)
{
    return kind == SC_STRUCT || kind == SC_ERROR;
}

static long
find(const epy__schema *s, const char *name)
{
    return epy__schema_find(s, name, strlen(name));
}

/* --- findings ------------------------------------------------------------ */

static void
report(cmp *c, bool breaking, bool in_old, const char *decl,
       const char *member, const char *note, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;

static void
report(cmp *c, bool breaking, bool in_old, const char *decl,
       const char *member, const char *note, const char *fmt, ...)
{
    epy__compat_finding f;
    va_list ap;
    char *msg;
    int n;

    c->breaking += breaking;
    if (c->fn == NULL || c->oom)
        return;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    msg = n >= 0 ? malloc((size_t) n + 1) : NULL;
    if (msg == NULL) {
        c->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, (size_t) n + 1, fmt, ap);
    va_end(ap);
    f.severity = breaking ? EPY__COMPAT_BREAKING : EPY__COMPAT_SAFE;
    f.in_old = in_old;
    f.decl = decl;
    f.member = member;
    f.message = msg;
    f.note = note;
    c->fn(&f, c->ctx);
    free(msg);
}

/* --- declarations -------------------------------------------------------- */

static const sc_member *
by_name(const sc_decl *d, const char *name)
{
    size_t lo = 0, hi = d->n_mems;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(d->by_name[mid]->name, name);

        if (r == 0)
            return d->by_name[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const sc_member *
by_num(const sc_decl *d, int64_t num)
{
    size_t lo = 0, hi = d->n_mems;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (d->by_num[mid]->num == num)
            return d->by_num[mid];
        if (d->by_num[mid]->num < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

#define NOTE_TYPE "the receiver decodes it as its own type: the message " \
    "does not decode (EPY_EPROTO) or its value reads wrong"
#define NOTE_NUMBER "fields and parameters travel by number: the other " \
    "end reads it as another one, or not at all"
#define NOTE_VALUE "enum values travel as numbers: the two ends read " \
    "different values"

/* A member in both versions, by name (@x old, @y new). */
static int
same_member(cmp *c, const sc_decl *y, const sc_member *mx,
            const sc_member *my)
{
    const char *mw = member_word(y->kind), *dw = kind_words[y->kind];
    const char *q = y->qname;
    int rc;

    if (mx->num != my->num && y->kind == SC_ENUM)
        report(c, true, false, q, my->name, NOTE_VALUE, c->sym
               ? "value '%s' of enum '%s' is %lld in one version and %lld "
               "in the other" : "value '%s' of enum '%s' changed from %lld "
               "to %lld", my->name, q, (long long) mx->num,
               (long long) my->num);
    else if (mx->num != my->num)
        report(c, true, false, q, my->name, NOTE_NUMBER, c->sym
               ? "%s '%s' of %s '%s' is number %lld in one version and "
               "%lld in the other" : "%s '%s' of %s '%s' changed number "
               "from %lld to %lld", mw, my->name, dw, q, (long long) mx->num,
               (long long) my->num);
    if (mx->type == NULL || my->type == NULL)
        return 0;
    rc = epy__schema_types_equal(&c->eq, mx->type, my->type);
    if (rc == 0)
        report(c, true, false, q, my->name, NOTE_TYPE, c->sym
               ? "%s '%s' of %s '%s' is %s in one version and %s in the "
               "other" : "%s '%s' of %s '%s' changed type from %s to %s",
               mw, my->name, dw, q, mx->spell, my->spell);
    return rc < 0 ? rc : 0;
}

/* A member of the new version with the number of one the old lacks. */
static int
renamed_member(cmp *c, const sc_decl *y, const sc_member *mx,
               const sc_member *my)
{
    const char *mw = member_word(y->kind), *dw = kind_words[y->kind];
    const char *q = y->qname;
    int rc = mx->type != NULL && my->type != NULL
        ? epy__schema_types_equal(&c->eq, mx->type, my->type) : 1;

    if (rc == 1 && c->sym)
        report(c, false, false, q, my->name, NULL, "%s %lld of %s '%s' is "
               "named '%s' in one version and '%s' in the other", mw,
               (long long) my->num, dw, q, mx->name, my->name);
    else if (rc == 1)
        report(c, false, false, q, my->name, NULL, "%s '%s' of %s '%s' was "
               "renamed to '%s'", mw, mx->name, dw, q, my->name);
    else if (rc == 0 && c->sym)
        report(c, true, false, q, my->name, NOTE_TYPE, "%s %lld of %s '%s' "
               "is '%s' of type %s in one version and '%s' of type %s in "
               "the other", mw, (long long) my->num, dw, q, mx->name,
               mx->spell, my->name, my->spell);
    else if (rc == 0)
        report(c, true, false, q, my->name, NOTE_TYPE, "%s '%s' of %s '%s' "
               "takes number %lld of removed %s '%s' with type %s instead "
               "of %s", mw, my->name, dw, q, (long long) my->num, mw,
               mx->name, my->spell, mx->spell);
    return rc < 0 ? rc : 0;
}

static int
compare_members(cmp *c, const sc_decl *x, const sc_decl *y)
{
    const char *mw = member_word(y->kind), *dw = kind_words[y->kind];
    bool en = y->kind == SC_ENUM;
    int rc = 0;

    if (x->n_mems > c->cap_used) {
        bool *used = realloc(c->used, x->n_mems * sizeof *used);

        if (used == NULL)
            return -2;
        c->used = used;
        c->cap_used = x->n_mems;
    }
    if (x->n_mems > 0)
        memset(c->used, 0, x->n_mems * sizeof *c->used);
    for (size_t k = 0; rc == 0 && k < y->n_mems; k++) {
        const sc_member *my = &y->mems[k];
        const sc_member *mx = by_name(x, my->name);

        if (mx != NULL) {
            c->used[mx - x->mems] = true;
            rc = same_member(c, y, mx, my);
        } else if ((mx = by_num(x, my->num)) != NULL
                   && by_name(y, mx->name) == NULL) {
            c->used[mx - x->mems] = true;
            rc = renamed_member(c, y, mx, my);
        } else if (!c->sym) {
            report(c, false, false, y->qname, my->name, en
                   ? "peers built from the old version refuse it "
                   "(EPY_EPROTO): send it only to peers that know it"
                   : "peers built from the old version neither send nor "
                   "read it: from them it reads as zero",
                   "%s '%s' was added to %s '%s'", mw, my->name, dw,
                   y->qname);
        }
    }
    for (size_t k = 0; rc == 0 && !c->sym && k < x->n_mems; k++)
        if (!c->used[k])
            report(c, true, true, x->qname, x->mems[k].name, en
                   ? "peers built from the old version may still send it; "
                   "the new version refuses it (EPY_EPROTO)"
                   : "peers built from the old version still expect it "
                   "and read it as zero; what they send of it is ignored",
                   "%s '%s' of %s '%s' was removed", member_word(x->kind),
                   x->mems[k].name, kind_words[x->kind], x->qname);
    return rc;
}

static bool
raises(const sc_decl *d, const char *name)
{
    size_t lo = 0, hi = d->n_raises;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(d->raises_sorted[mid], name);

        if (r == 0)
            return true;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The name that @name of one version has in the other (renamed types). */
static const char *
counterpart(const epy__schema *s, const long *ren, const epy__schema *other,
            const char *name)
{
    long d = find(s, name);

    return d >= 0 && ren[d] >= 0 ? other->decls[ren[d]].qname : name;
}

/* Result and raised errors of a method in both versions. */
static int
compare_method(cmp *c, const sc_decl *x, const sc_decl *y)
{
    int rc = epy__schema_types_equal(&c->eq, x->result, y->result);

    if (rc == 0)
        report(c, true, false, y->qname, NULL, "the result travels as "
               "field 1 of the reply: the caller decodes it as its own type",
               c->sym ? "method '%s' returns %s in one version and %s in the "
               "other" : "result of method '%s' changed from %s to %s",
               y->qname, x->result_spell, y->result_spell);
    if (rc < 0 || c->sym)
        return rc < 0 ? rc : 0;
    for (size_t k = 0; k < y->n_raises; k++)
        if (!raises(x, counterpart(c->b, c->ren_b, c->a, y->raises[k])))
            report(c, false, false, y->qname, NULL, "callers built from "
                   "the old version see it as an error without type",
                   "method '%s' now raises '%s'", y->qname, y->raises[k]);
    for (size_t k = 0; k < x->n_raises; k++)
        if (!raises(y, counterpart(c->a, c->ren_a, c->b, x->raises[k])))
            report(c, false, false, y->qname, NULL, NULL,
                   "method '%s' no longer raises '%s'", y->qname,
                   x->raises[k]);
    return 0;
}

static int
compare_decl(cmp *c, const sc_decl *x, const sc_decl *y)
{
    const char *q = y->qname;

    if (x->kind != y->kind) {
        bool calls = x->kind >= SC_METHOD && y->kind >= SC_METHOD;
        bool records = is_record(x->kind) && is_record(y->kind);
        const char *note = calls ? "a method is answered and an event is "
            "not: the two ends disagree on whether a reply comes"
            : records ? "its fields travel as before" : x->kind == SC_ENUM
            || y->kind == SC_ENUM ? "enum values travel as numbers, structs "
            "and errors as messages" : NULL;

        if (c->sym)
            report(c, !records, false, q, NULL, note, "'%s' is %s %s in one "
                   "version and %s %s in the other", q, an(x->kind),
                   kind_words[x->kind], an(y->kind), kind_words[y->kind]);
        else
            report(c, !records, false, q, NULL, note, "%s '%s' became %s %s",
                   kind_words[x->kind], q, an(y->kind), kind_words[y->kind]);
        if (!calls && !records)
            return 0;
    }
    if (x->kind == SC_NAMESPACE)
        return 0;
    if (compare_members(c, x, y) < 0)
        return -2;
    if (x->kind == SC_METHOD && y->kind == SC_METHOD)
        return compare_method(c, x, y);
    return 0;
}

static bool
is_ns(const epy__schema *s, const char *q, size_t n)
{
    long d = epy__schema_find(s, q, n);

    return d >= 0 && s->decls[d].kind == SC_NAMESPACE;
}

/* @q's namespace is in @s but not in @other: @q came or went with it. */
static bool
with_namespace(const epy__schema *s, const epy__schema *other, const char *q)
{
    const char *dot = strrchr(q, '.');

    return dot != NULL && is_ns(s, q, (size_t) (dot - q))
        && !is_ns(other, q, (size_t) (dot - q));
}

static void
added(cmp *c, const sc_decl *y, long j)
{
    if (c->ren_b[j] >= 0) {
        const sc_decl *x = &c->a->decls[c->ren_b[j]];
        bool error = x->kind == SC_ERROR;

        report(c, error, false, y->qname, NULL, error ? "errors travel by "
               "their full name: callers built from the old version see "
               "it as an error without type" : "its structure is "
               "unchanged: the wire format is the same",
               "%s '%s' was renamed to '%s'", kind_words[x->kind], x->qname,
               y->qname);
    } else if (!with_namespace(c->b, c->a, y->qname)) {
        report(c, false, false, y->qname, NULL, y->kind == SC_METHOD
               ? "peers built from the old version answer its calls with "
               "EPY_EUNSUPPORTED" : NULL, "%s '%s' was added",
               kind_words[y->kind], y->qname);
    }
}

static void
removed(cmp *c, const sc_decl *x)
{
    static const char *const notes[] = {
        "peers built from the old version may still use what it held",
        "a renamed enum is the same type only with the same value numbers",
        "a renamed struct is the same type only with the same field "
        "numbers and types",
        "callers built from the old version may still expect it",
        "peers built from the old version may still call it: their "
        "calls fail with EPY_EUNSUPPORTED",
        "peers built from the old version may still send or expect it"
    };

    if (!with_namespace(c->a, c->b, x->qname))
        report(c, true, true, x->qname, NULL, notes[x->kind],
               "%s '%s' was removed", kind_words[x->kind], x->qname);
}

int
epy__schema_compare(const epy__schema *old_s, const epy__schema *new_s,
                    bool symmetric, epy__compat_fn fn, void *ctx)
{
    cmp c;
    int rc = 0;

    memset(&c, 0, sizeof c);
    c.a = old_s;
    c.b = new_s;
    c.sym = symmetric;
    c.fn = fn;
    c.ctx = ctx;
    epy__schema_equal_init(&c.eq, old_s, new_s);
    c.ren_a = malloc((old_s->n_decls + 1) * sizeof *c.ren_a);
    c.ren_b = malloc((new_s->n_decls + 1) * sizeof *c.ren_b);
    if (c.ren_a == NULL || c.ren_b == NULL) {
        rc = -2;
        goto out;
    }
    for (size_t i = 0; i < old_s->n_decls; i++)
        c.ren_a[i] = -1;
    for (size_t j = 0; j < new_s->n_decls; j++)
        c.ren_b[j] = -1;
    if (!symmetric)
        rc = epy__schema_renames(&c.eq, c.ren_a, c.ren_b);
    for (size_t j = 0; rc == 0 && !c.oom && j < new_s->n_decls; j++) {
        const sc_decl *y = &new_s->decls[j];
        long i = find(old_s, y->qname);

        if (i >= 0)
            rc = compare_decl(&c, &old_s->decls[i], y);
        else if (!symmetric)
            added(&c, y, (long) j);
    }
    for (size_t i = 0; rc == 0 && !symmetric && i < old_s->n_decls; i++)
        if (c.ren_a[i] < 0 && find(new_s, old_s->decls[i].qname) < 0)
            removed(&c, &old_s->decls[i]);
out:
    free(c.ren_a);
    free(c.ren_b);
    epy__schema_equal_free(&c.eq);
    free(c.used);
    return rc < 0 || c.oom ? -2 : c.breaking;
}
