/*
 * idlc --check-compat OLD.idl NEW.idl: whether peers built from the two
 * versions of a file still talk. Each file is read and checked as for a
 * compilation, the interfaces it defines are described as the generated
 * code describes them (idlc_describe_ns()), and the descriptions are
 * compared by the runtime's own module (runtime/wire/schema.h), which peers
 * also use in the hello: both ends of the comparison agree on the rules.
 * Findings are reported at the declarations they name, in the new file
 * for changes and in the old one for removals. Nothing is written.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idlc-int.h"
#include "schema.h"

/*
 * Reads and checks @path into @ctx, and describes the interfaces it
 * defines (its own root namespaces) into @text. False if it has errors
 * (reported).
 */
static bool
load(idlc_ctx *ctx, const idlc_options *opts, const char *path,
     idlc_buf *text)
{
    if (!idlc_load(ctx, opts, path))
        return false;
    for (size_t i = 0; i < ctx->root.n_items; i++)
        if (ctx->root.items[i]->src == ctx->sources[0])
            idlc_describe_ns(ctx, ctx->root.items[i], text);
    /* Every finding is worth seeing: no limit for the report. */
    ctx->max_errors = INT_MAX;
    return true;
}

int
idlc_describe(const idlc_options *opts, char **ret_text,
              char **ret_fingerprint)
{
    idlc_ctx ctx;
    idlc_buf text = { NULL, 0, 0 };
    int status = 1;

    *ret_text = *ret_fingerprint = NULL;
    if (load(&ctx, opts, opts->input, &text)) {
        const char *t = text.data != NULL ? text.data : "";
        uint64_t h1 = idlc_fnv1a(t, text.len, UINT64_C(0xcbf29ce484222325));
        uint64_t h2 = idlc_fnv1a(t, text.len, UINT64_C(0x84222325cbf29ce4));

        *ret_text = strdup(t);
        *ret_fingerprint = malloc(33);
        if (*ret_text != NULL && *ret_fingerprint != NULL) {
            snprintf(*ret_fingerprint, 33, "%016" PRIx64 "%016" PRIx64, h1,
                     h2);
            status = 0;
        } else {
            free(*ret_text);
            free(*ret_fingerprint);
            *ret_text = *ret_fingerprint = NULL;
        }
    }
    idlc_buf_free(&text);
    idlc_unload(&ctx);
    return status;
}

/* --- the report ---------------------------------------------------------- */

typedef struct report {
    idlc_ctx *old_ctx, *new_ctx;
    bool verbose;
} report;

static const idlc_decl *
find_decl(const idlc_ctx *ctx, const char *qname)
{
    const idlc_decl *d = &ctx->root;
    const char *p = qname;

    while (d != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t) (dot - p) : strlen(p);
        char part[IDLC_MAX_IDENT + 1];

        if (d->kind != DK_NAMESPACE || n > IDLC_MAX_IDENT)
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        d = idlc_map_get(&d->members, part);
        p += n + (dot != NULL);
    }
    return d != &ctx->root ? d : NULL;
}

/* Where @member of @d (a parameter, field or enum value) is, if it is. */
static bool
member_loc(const idlc_decl *d, const char *member, idlc_loc *ret)
{
    for (const idlc_field *f = d->fields; f != NULL; f = f->next)
        if (strcmp(f->name, member) == 0) {
            *ret = f->loc;
            return true;
        }
    for (const idlc_enumval *v = d->values; v != NULL; v = v->next)
        if (strcmp(v->name, member) == 0) {
            *ret = v->loc;
            return true;
        }
    return false;
}

static idlc_loc
locate(const idlc_ctx *ctx, const epy__compat_finding *f)
{
    const idlc_decl *d = find_decl(ctx, f->decl);
    idlc_loc loc = { ctx->sources[0], 1, 1 };

    if (d != NULL && (f->member == NULL || !member_loc(d, f->member, &loc)))
        loc = d->loc;
    return loc;
}

/*
 * An enum value the new version adds (neither its name nor its number
 * is in the old enum): safe, but an old peer refuses it. Such findings
 * are warnings, shown without -v too.
 */
static bool
is_new_value(const report *r, const epy__compat_finding *f)
{
    const idlc_decl *d = find_decl(r->new_ctx, f->decl);
    const idlc_decl *old = find_decl(r->old_ctx, f->decl);
    const idlc_enumval *v = NULL;

    if (f->severity != EPY__COMPAT_SAFE || f->in_old || f->member == NULL
        || d == NULL || d->kind != DK_ENUM || old == NULL
        || old->kind != DK_ENUM)
        return false;
    for (v = d->values; v != NULL && strcmp(v->name, f->member) != 0;)
        v = v->next;
    if (v == NULL)
        return false;
    for (const idlc_enumval *o = old->values; o != NULL; o = o->next)
        if (strcmp(o->name, v->name) == 0 || o->value == v->value)
            return false;
    return true;
}

static void
on_finding(const epy__compat_finding *f, void *arg)
{
    report *r = arg;
    idlc_ctx *ctx = f->in_old ? r->old_ctx : r->new_ctx;
    idlc_loc loc = locate(ctx, f);

    if (f->severity == EPY__COMPAT_BREAKING)
        idlc_error(ctx, loc, "%s", f->message);
    else if (is_new_value(r, f))
        idlc_warning(ctx, loc, "%s", f->message);
    else if (r->verbose)
        idlc_note(ctx, loc, "%s", f->message);
    else
        return;
    if (f->note != NULL)
        idlc_note(ctx, loc, "%s", f->note);
}

/* Parses a description idlc made; a failure is idlc's own bug. */
static epy__schema *
read_back(idlc_ctx *ctx, const idlc_buf *text)
{
    epy__schema *s = NULL;
    char why[256];
    int rc = epy__schema_parse(text->data != NULL ? text->data : "",
                               text->len, &s, why, sizeof why);

    if (rc < 0)
        idlc_error_plain(ctx, "cannot compare the interfaces of '%s': %s",
                         ctx->sources[0]->path, rc == -2 ? "out of memory"
                         : why);
    return s;
}

int
idlc_check_compat(const idlc_compat_options *opts)
{
    idlc_options o;
    idlc_ctx old_ctx, new_ctx;
    idlc_buf old_text = { NULL, 0, 0 }, new_text = { NULL, 0, 0 };
    epy__schema *old_s = NULL, *new_s = NULL;
    FILE *diag = opts->diag != NULL ? opts->diag : stderr;
    report r = { &old_ctx, &new_ctx, opts->verbose };
    int status = 2, n;
    bool ok;

    memset(&o, 0, sizeof o);
    o.include_dirs = opts->include_dirs;
    o.n_include_dirs = opts->n_include_dirs;
    o.diag = diag;
    o.max_errors = opts->max_errors;
    /* Both are read, so that the errors of both are seen at once. */
    ok = load(&old_ctx, &o, opts->old_input, &old_text);
    ok = load(&new_ctx, &o, opts->new_input, &new_text) && ok;
    if (ok) {
        old_s = read_back(&old_ctx, &old_text);
        new_s = read_back(&new_ctx, &new_text);
    }
    if (old_s != NULL && new_s != NULL) {
        n = epy__schema_compare(old_s, new_s, false, on_finding, &r);
        if (n < 0) {
            fputs("idlc: out of memory\n", diag);
        } else if (n > 0) {
            fprintf(diag, "idlc: %d breaking change%s\n", n,
                    n > 1 ? "s" : "");
            status = 1;
        } else {
            fputs("idlc: compatible\n", diag);
            status = 0;
        }
    }
    epy__schema_free(old_s);
    epy__schema_free(new_s);
    idlc_buf_free(&old_text);
    idlc_buf_free(&new_text);
    idlc_unload(&old_ctx);
    idlc_unload(&new_ctx);
    return status;
}
