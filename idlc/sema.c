/*
 * idlc: semantic checks. Merges the namespace blocks of every file into
 * one tree, resolves names, numbers fields, applies defaults, and checks
 * every rule of the language (doc/idl.md) that the grammar does not.
 */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "idlc-int.h"
#include "sema-int.h"

static const char *const tkind_names[] = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "float", "double", "string", "bytes", "void", "named",
    "list", "optional", "map", "enum", "struct", "fd"
};

const char *
idlc_tkind_name(idlc_tkind k)
{
    return tkind_names[k];
}

bool
idlc_is_scalar(idlc_tkind k)
{
    return k <= TK_BYTES || k == TK_ENUM || k == TK_FD;
}

bool
idlc_is_generic(idlc_tkind k)
{
    return k == TK_LIST || k == TK_OPTIONAL || k == TK_MAP;
}

static const char *
kind_word(idlc_dkind k)
{
    switch (k) {
    case DK_NAMESPACE: return "namespace";
    case DK_ENUM: return "enum";
    case DK_STRUCT: return "struct";
    case DK_ERROR: return "error";
    case DK_METHOD: return "method";
    case DK_EVENT: return "event";
    }
    return "declaration";
}

/* --- merging ------------------------------------------------------------ */

static void
add_item(idlc_ctx *ctx, idlc_decl *ns, idlc_decl *d)
{
    if (ns->n_items == ns->cap_items) {
        size_t cap = ns->cap_items != 0 ? ns->cap_items * 2 : 8;
        idlc_decl **items = idlc_alloc(&ctx->arena, cap * sizeof *items);

        if (ns->n_items > 0)
            memcpy(items, ns->items, ns->n_items * sizeof *items);
        ns->items = items;
        ns->cap_items = cap;
    }
    ns->items[ns->n_items++] = d;
}

static void
set_names(idlc_ctx *ctx, idlc_decl *d, idlc_decl *ns)
{
    d->parent = ns;
    if (ns == &ctx->root) {
        d->qname = d->name;
        d->cname = d->name;
    } else {
        d->qname = idlc_printf(&ctx->arena, "%s.%s", ns->qname, d->name);
        d->cname = idlc_printf(&ctx->arena, "%s_%s", ns->cname, d->name);
    }
}

/* Finds or makes the namespace @name (one part) in @ns. */
static idlc_decl *
open_ns(idlc_ctx *ctx, idlc_decl *ns, const char *name, idlc_loc loc,
        const char *doc)
{
    idlc_decl *d = idlc_map_get(&ns->members, name);

    if (d != NULL) {
        if (d->kind != DK_NAMESPACE) {
            idlc_error(ctx, loc, "'%s' is already declared as %s %s",
                       name, d->kind == DK_ENUM || d->kind == DK_ERROR
                       || d->kind == DK_EVENT ? "an" : "a",
                       kind_word(d->kind));
            idlc_note(ctx, d->loc, "'%s' is declared here", d->qname);
            return NULL;
        }
        if (d->doc == NULL && doc != NULL)
            d->doc = idlc_strdup(&ctx->arena, doc);
        return d;
    }
    d = idlc_alloc(&ctx->arena, sizeof *d);
    d->kind = DK_NAMESPACE;
    d->name = idlc_strdup(&ctx->arena, name);
    d->loc = loc;
    d->doc = doc != NULL ? idlc_strdup(&ctx->arena, doc) : NULL;
    d->src = loc.src;
    d->settings.timeout_ms = -1;
    d->settings.async = d->settings.solicited = -1;
    idlc__check_name(ctx, name, loc);
    if (ns == &ctx->root && strcmp(name, "epyrpc") == 0)
        idlc_error(ctx, loc, "the root namespace 'epyrpc' is reserved for "
                   "the built-in services of every peer");
    set_names(ctx, d, ns);
    idlc_map_put(&ctx->arena, &ns->members, d->name, d);
    add_item(ctx, ns, d);
    idlc__claim_names(ctx, d);
    return d;
}

static void merge_block(idlc_ctx *ctx, idlc_decl *ns, idlc_block *b);

static void
add_decl(idlc_ctx *ctx, idlc_decl *ns, idlc_decl *d)
{
    idlc_decl *prev = idlc_map_get(&ns->members, d->name);

    idlc__check_name(ctx, d->name, d->loc);
    set_names(ctx, d, ns);
    if (prev != NULL) {
        idlc_error(ctx, d->loc, "redefinition of '%s'", d->qname);
        idlc_note(ctx, prev->loc, "'%s' was declared here as %s %s",
                  prev->qname, prev->kind == DK_ENUM || prev->kind == DK_ERROR
                  || prev->kind == DK_EVENT ? "an" : "a",
                  kind_word(prev->kind));
        return;
    }
    if (d->kind == DK_METHOD || d->kind == DK_EVENT) {
        if (ns->methods_src == NULL) {
            ns->methods_src = d->src;
            idlc__claim_serve(ctx, ns);
        } else if (ns->methods_src != d->src) {
            idlc_error(ctx, d->loc, "namespace '%s' already has methods in "
                       "'%s'; the methods of a namespace must be declared "
                       "in one file", ns->qname, ns->methods_src->path);
            return;
        }
    }
    idlc_map_put(&ctx->arena, &ns->members, d->name, d);
    add_item(ctx, ns, d);
    for (idlc_field *f = d->fields; f != NULL; f = f->next)
        idlc__check_name_as(ctx, f->name, f->loc, true);
    for (idlc_enumval *v = d->values; v != NULL; v = v->next)
        idlc__check_name(ctx, v->name, v->loc);
    idlc__claim_names(ctx, d);
}

static void
merge_block(idlc_ctx *ctx, idlc_decl *ns, idlc_block *b)
{
    const char *p = b->name;
    idlc_loc loc = b->name_loc;
    bool first = true;

    /* Walk (and make) each part of a dotted name. */
    while (ns != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t) (dot - p) : strlen(p);
        char *part = idlc_strndup(&ctx->arena, p, n);

        ns = open_ns(ctx, ns, part, loc, dot == NULL ? b->doc : NULL);
        if (ns != NULL && b->name_loc.src == ctx->sources[0])
            ns->used_here = true;
        loc.col += (int) n + 1;
        p += n + (dot != NULL);
    }
    if (ns == NULL)
        return;
    for (idlc_member *m = b->members; m != NULL; m = m->next) {
        switch (m->kind) {
        case MK_BLOCK:
            merge_block(ctx, ns, m->block);
            break;
        case MK_DEFAULTS:
            if (ns->has_defaults) {
                idlc_error(ctx, m->loc, "namespace '%s' already has "
                           "defaults", ns->qname);
                idlc_note(ctx, ns->defaults_loc, "the first 'defaults' "
                          "is here");
            } else if (!first) {
                idlc_error(ctx, m->loc, "'defaults' must come first in "
                           "the namespace body");
            } else {
                ns->has_defaults = true;
                ns->defaults = m->opts;
                ns->defaults_loc = m->loc;
            }
            break;
        case MK_DECL:
            add_decl(ctx, ns, m->decl);
            break;
        case MK_IMPORT:
            break;
        }
        first = false;
    }
}

/* --- resolution --------------------------------------------------------- */

/* Looks @name (dotted) up from namespace @scope only. */
static idlc_decl *
lookup_in(idlc_decl *scope, const char *name)
{
    char part[IDLC_MAX_IDENT + 1];
    const char *p = name;
    idlc_decl *d = scope;

    while (*p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t) (dot - p) : strlen(p);

        if (d == NULL || d->kind != DK_NAMESPACE || n > IDLC_MAX_IDENT)
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        d = idlc_map_get(&d->members, part);
        p += n + (dot != NULL);
    }
    return d;
}

/* Looks @name up from @ns outward. */
static idlc_decl *
lookup(idlc_ctx *ctx, idlc_decl *ns, const char *name)
{
    for (idlc_decl *s = ns; s != NULL; s = s->parent) {
        idlc_decl *d = lookup_in(s, name);

        if (d != NULL)
            return d;
        if (s == &ctx->root)
            break;
    }
    return NULL;
}

static bool
kind_fits(idlc_dkind k, bool want_error)
{
    return want_error ? k == DK_ERROR : (k == DK_STRUCT || k == DK_ENUM);
}

void
idlc__consider(suggest *s, const char *name, idlc_decl *d)
{
    size_t dist = idlc_edit_distance(s->want, name);
    size_t len = strlen(s->want);
    size_t limit = len / 3 > 1 ? len / 3 : 1;

    if (dist <= limit && dist < len && dist < s->best) {
        s->best = dist;
        s->name = name;
        s->decl = d;
    }
}

static void
unknown_name(idlc_ctx *ctx, idlc_decl *ns, const char *name, idlc_loc loc,
             bool want_error)
{
    const char *last = strrchr(name, '.');
    char *prefix = NULL;
    suggest s = { NULL, (size_t) -1, NULL, NULL };
    idlc_decl *scope = NULL;

    if (last != NULL) {
        prefix = idlc_strndup(&ctx->arena, name, (size_t) (last - name));
        scope = lookup(ctx, ns, prefix);
        s.want = last + 1;
    } else {
        s.want = name;
    }
    for (idlc_decl *sc = ns; sc != NULL; sc = sc->parent) {
        idlc_decl *in = last != NULL ? scope : sc;

        if (in != NULL && in->kind == DK_NAMESPACE)
            for (size_t i = 0; i < in->n_items; i++)
                if (kind_fits(in->items[i]->kind, want_error))
                    idlc__consider(&s, in->items[i]->name, in->items[i]);
        if (last != NULL || sc == &ctx->root)
            break;
    }
    if (!want_error && last == NULL)
        for (int k = TK_BOOL; k <= TK_FD; k++)
            if (k <= TK_BYTES || k == TK_FD)
                idlc__consider(&s, tkind_names[k], NULL);
    if (s.name != NULL) {
        const char *full = prefix != NULL
            ? idlc_printf(&ctx->arena, "%s.%s", prefix, s.name) : s.name;

        idlc_error(ctx, loc, "unknown %s '%s'; did you mean '%s'?",
                   want_error ? "error type" : "type", name, full);
        if (s.decl != NULL)
            idlc_note(ctx, s.decl->loc, "'%s' is declared here",
                      s.decl->qname);
    } else {
        idlc_error(ctx, loc, "unknown %s '%s'",
                   want_error ? "error type" : "type", name);
    }
}

/* Resolves every named type in @t; false after an error. */
static bool
resolve_type(idlc_ctx *ctx, idlc_decl *ns, idlc_type *t, bool top,
             const char *where)
{
    idlc_decl *d;

    switch (t->kind) {
    case TK_VOID:
        if (!top) {
            idlc_error(ctx, t->loc, "'void' is only allowed as a method's "
                       "result, not %s", where);
            return false;
        }
        return true;
    case TK_LIST:
    case TK_OPTIONAL:
        return resolve_type(ctx, ns, t->elem, false, "inside list<> or "
                            "optional<>");
    case TK_MAP:
        if (!resolve_type(ctx, ns, t->key, false, "as a map key")
            || !resolve_type(ctx, ns, t->elem, false, "as a map value"))
            return false;
        if (t->key->kind == TK_FD) {
            idlc_error(ctx, t->key->loc, "map keys must be an integer type, "
                       "bool or string, not 'fd': a file descriptor can "
                       "be a map's value, not its key");
            return false;
        }
        if (!(t->key->kind <= TK_UINT64 || t->key->kind == TK_STRING)) {
            const char *kn = t->key->kind == TK_STRUCT || t->key->kind
                == TK_ENUM ? t->key->decl->qname : tkind_names[t->key->kind];

            idlc_error(ctx, t->key->loc, "map keys must be an integer type, "
                       "bool or string, not '%s'", kn);
            return false;
        }
        return true;
    case TK_NAMED:
        break;
    default:
        return true;
    }
    d = lookup(ctx, ns, t->name);
    if (d == NULL) {
        unknown_name(ctx, ns, t->name, t->loc, false);
        return false;
    }
    switch (d->kind) {
    case DK_STRUCT:
        t->kind = TK_STRUCT;
        t->decl = d;
        return true;
    case DK_ENUM:
        t->kind = TK_ENUM;
        t->decl = d;
        return true;
    case DK_ERROR:
        idlc_error(ctx, t->loc, "'%s' is an error type: it can only be named "
                   "in 'raises (...)', not used %s", d->qname, where);
        return false;
    default:
        idlc_error(ctx, t->loc, "'%s' is %s %s, not a type", d->qname,
                   d->kind == DK_EVENT ? "an" : "a", kind_word(d->kind));
        return false;
    }
}

/* --- checks per declaration ----------------------------------------------- */

static void
number_fields(idlc_ctx *ctx, idlc_decl *d, idlc_field *fields, bool params)
{
    idlc_map seen_names = { 0, 0, NULL, NULL };
    idlc_map seen_nums = { 0, 0, NULL, NULL };
    uint64_t max = 0;
    idlc_field *max_field = NULL;

    for (idlc_field *f = fields; f != NULL; f = f->next) {
        idlc_field *prev = idlc_map_put(&ctx->arena, &seen_names, f->name, f);
        char key[32];

        if (prev != NULL) {
            idlc_error(ctx, f->loc, "duplicate %s '%s' in '%s'",
                       params ? "parameter" : "field", f->name, d->qname);
            idlc_note(ctx, prev->loc, "the first '%s' is here", f->name);
        }
        if (f->pinned) {
            if (f->pin_overflow || f->pin < 1 || f->pin > IDLC_MAX_FIELD) {
                idlc_error(ctx, f->pin_loc, "field number out of range "
                           "(1 to %d)", IDLC_MAX_FIELD);
                continue;
            }
            if (f->pin >= 19000 && f->pin <= 19999) {
                idlc_error(ctx, f->pin_loc, "field numbers 19000 to 19999 "
                           "are reserved by protobuf");
                continue;
            }
            if (f->pin < max && max_field != NULL)
                idlc_warning(ctx, f->pin_loc, "field '%s' is numbered %"
                             PRIu64 ", below the earlier field '%s' (%"
                             PRIu64 "); fields numbered automatically "
                             "continue from the highest number", f->name,
                             f->pin, max_field->name, max);
            f->number = (uint32_t) f->pin;
        } else {
            uint64_t n = max + 1;

            if (n >= 19000 && n <= 19999)
                n = 20000;
            if (n > IDLC_MAX_FIELD) {
                idlc_error(ctx, f->loc, "no field number left for '%s'",
                           f->name);
                continue;
            }
            f->number = (uint32_t) n;
        }
        snprintf(key, sizeof key, "%" PRIu32, f->number);
        prev = idlc_map_put(&ctx->arena, &seen_nums,
                            idlc_strdup(&ctx->arena, key), f);
        if (prev != NULL) {
            idlc_error(ctx, f->pinned ? f->pin_loc : f->loc, "field number "
                       "%" PRIu32 " of '%s' is already used by '%s'",
                       f->number, f->name, prev->name);
            continue;
        }
        if (f->number > max) {
            max = f->number;
            max_field = f;
        }
    }
}

static void
check_enum(idlc_ctx *ctx, idlc_decl *d)
{
    idlc_map names = { 0, 0, NULL, NULL };
    idlc_map nums = { 0, 0, NULL, NULL };

    if (d->values == NULL)
        idlc_error(ctx, d->loc, "enum '%s' has no values", d->qname);
    for (idlc_enumval *v = d->values; v != NULL; v = v->next) {
        idlc_enumval *prev = idlc_map_put(&ctx->arena, &names, v->name, v);
        char key[32];

        if (prev != NULL) {
            idlc_error(ctx, v->loc, "duplicate enum value '%s' in '%s'",
                       v->name, d->qname);
            idlc_note(ctx, prev->loc, "the first '%s' is here", v->name);
            continue;
        }
        if (v->overflow) {
            idlc_error(ctx, v->loc, "value of '%s' is out of the int32 range",
                       v->name);
            continue;
        }
        snprintf(key, sizeof key, "%" PRId64, v->value);
        prev = idlc_map_put(&ctx->arena, &nums,
                            idlc_strdup(&ctx->arena, key), v);
        if (prev != NULL)
            idlc_error(ctx, v->loc, "value %" PRId64 " of '%s' is already "
                       "used by '%s'", v->value, v->name, prev->name);
    }
}

static void
check_fields(idlc_ctx *ctx, idlc_decl *d, idlc_decl *ns)
{
    for (idlc_field *f = d->fields; f != NULL; f = f->next) {
        const char *where = d->kind == DK_METHOD || d->kind == DK_EVENT
            ? "as a parameter type" : "as a field type";

        resolve_type(ctx, ns, f->type, false, where);
    }
}

static void
check_method(idlc_ctx *ctx, idlc_decl *d)
{
    idlc_decl *ns = d->parent;
    idlc_map seen = { 0, 0, NULL, NULL };

    resolve_type(ctx, ns, d->result, true, "");
    check_fields(ctx, d, ns);
    number_fields(ctx, d, d->fields, true);
    if (d->kind == DK_EVENT && d->has_raises)
        idlc_error(ctx, d->raises_loc, "events cannot raise errors: nobody "
                   "receives them");
    for (idlc_raise *r = d->raises; r != NULL; r = r->next) {
        idlc_decl *e = lookup(ctx, ns, r->name);

        if (e == NULL) {
            unknown_name(ctx, ns, r->name, r->loc, true);
            continue;
        }
        if (e->kind != DK_ERROR) {
            idlc_error(ctx, r->loc, "'%s' is %s %s, not an error type; "
                       "'raises' names error types only", e->qname,
                       e->kind == DK_ENUM || e->kind == DK_EVENT ? "an" : "a",
                       kind_word(e->kind));
            continue;
        }
        if (idlc_map_put(&ctx->arena, &seen, e->qname, e) != NULL) {
            idlc_error(ctx, r->loc, "'%s' is raised twice", e->qname);
            continue;
        }
        r->decl = e;
    }
    d->settings.timeout_ms = -1;
    d->settings.async = d->settings.solicited = -1;
    idlc__apply_settings(ctx, d->opts, &d->settings, d->kind == DK_EVENT);
    if (d->kind == DK_EVENT)
        d->settings.solicited = 0;
    idlc__inherit(&d->eff, &d->settings, &ns->eff);
    if (d->kind == DK_METHOD && d->eff.solicited == 0
        && d->result->kind != TK_VOID)
        idlc__unsolicited_result(ctx, d);
}

/* The struct @t holds by value (directly or through optional<>), or NULL. */
static idlc_decl *
held_struct(idlc_type *t)
{
    while (t->kind == TK_OPTIONAL)
        t = t->elem;
    return t->kind == TK_STRUCT ? t->decl : NULL;
}

/*
 * Reports a struct that holds itself by value. Depth-first over the
 * "holds by value" edges with an explicit stack (chains of structs may be
 * as long as the input allows): mark 1 while on the stack, 2 when done.
 */
static void
check_struct_cycle(idlc_ctx *ctx, idlc_decl *start)
{
    typedef struct frame {
        idlc_decl *d;
        idlc_field *next;
    } frame;
    frame *stack;
    size_t sp = 0, cap = 64;

    if (start->mark != 0)
        return;
    stack = idlc_alloc(&ctx->arena, cap * sizeof *stack);
    start->mark = 1;
    stack[0].d = start;
    stack[0].next = start->fields;
    for (;;) {
        frame *f = &stack[sp];
        idlc_field *field = f->next;
        idlc_decl *held;

        if (field == NULL) {
            f->d->mark = 2;
            if (sp == 0)
                break;
            sp--;
            continue;
        }
        f->next = field->next;
        held = held_struct(field->type);
        if (held == NULL || held->mark == 2)
            continue;
        if (held->mark == 1) {
            idlc_error(ctx, field->loc, "'%s' contains itself through "
                       "field '%s'; a struct may refer back to itself only "
                       "through list<> or map<>", held->qname, field->name);
            continue;
        }
        if (sp + 1 == cap) {
            frame *bigger = idlc_alloc(&ctx->arena, cap * 2 * sizeof *bigger);

            memcpy(bigger, stack, cap * sizeof *stack);
            stack = bigger;
            cap *= 2;
        }
        held->mark = 1;
        stack[++sp].d = held;
        stack[sp].next = held->fields;
    }
}

static void
check_ns(idlc_ctx *ctx, idlc_decl *ns)
{
    idlc_settings up = { 0, 0, 1 };

    idlc__apply_settings(ctx, ns->defaults, &ns->settings, false);
    idlc__inherit(&ns->eff, &ns->settings, ns->parent != &ctx->root
            ? &ns->parent->eff : &up);
    for (size_t i = 0; i < ns->n_items && !ctx->fatal; i++) {
        idlc_decl *d = ns->items[i];

        switch (d->kind) {
        case DK_NAMESPACE:
            check_ns(ctx, d);
            break;
        case DK_ENUM:
            check_enum(ctx, d);
            break;
        case DK_STRUCT:
        case DK_ERROR:
            check_fields(ctx, d, ns);
            number_fields(ctx, d, d->fields, false);
            break;
        case DK_METHOD:
        case DK_EVENT:
            check_method(ctx, d);
            break;
        }
    }
}

static void
check_cycles(idlc_ctx *ctx, idlc_decl *ns)
{
    for (size_t i = 0; i < ns->n_items; i++) {
        idlc_decl *d = ns->items[i];

        if (d->kind == DK_NAMESPACE)
            check_cycles(ctx, d);
        else if (d->kind == DK_STRUCT || d->kind == DK_ERROR)
            check_struct_cycle(ctx, d);
    }
}

/* Merges the files in import order: each file after those it imports. */
static void
merge_source(idlc_ctx *ctx, idlc_source *src, idlc_map *done)
{
    idlc_block *rev = NULL;

    if (idlc_map_put(&ctx->arena, done, src->path, src) != NULL)
        return;
    for (idlc_import *imp = src->imports; imp != NULL; imp = imp->next)
        if (imp->src != NULL)
            merge_source(ctx, imp->src, done);
    /* The parser collected blocks last first. */
    for (idlc_block *b = src->blocks, *next; b != NULL; b = next) {
        next = b->next;
        b->next = rev;
        rev = b;
    }
    src->blocks = rev;
    for (idlc_block *b = src->blocks; b != NULL; b = b->next)
        merge_block(ctx, &ctx->root, b);
}

void
idlc_sema(idlc_ctx *ctx)
{
    idlc_map done = { 0, 0, NULL, NULL };

    ctx->root.kind = DK_NAMESPACE;
    ctx->root.name = ctx->root.qname = ctx->root.cname = "";
    merge_source(ctx, ctx->sources[0], &done);
    if (ctx->fatal)
        return;
    for (size_t i = 0; i < ctx->root.n_items && !ctx->fatal; i++)
        check_ns(ctx, ctx->root.items[i]);
    if (ctx->errors == 0)
        check_cycles(ctx, &ctx->root);
}
