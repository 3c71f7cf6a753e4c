/*
 * idlc: the names of the language - what C, C++ and the C library
 * reserve, and the C names each declaration claims in the generated
 * code (so that two declarations never make the same C name). Part of
 * the semantic checks (sema.c).
 */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "idlc-int.h"
#include "sema-int.h"

static const char *const c_keywords[] = {
    /* C (C23 included) */
    "alignas", "alignof", "auto", "bool", "break", "case", "char", "const",
    "constexpr", "continue", "default", "do", "double", "else", "enum",
    "extern", "false", "float", "for", "goto", "if", "inline", "int", "long",
    "nullptr", "register", "restrict", "return", "short", "signed", "sizeof",
    "static", "static_assert", "struct", "switch", "thread_local", "true",
    "typedef", "typeof", "typeof_unqual", "union", "unsigned", "void",
    "volatile", "while",
    /* C++ */
    "and", "and_eq", "asm", "bitand", "bitor", "catch", "char8_t",
    "char16_t", "char32_t", "class", "compl", "concept", "consteval",
    "constinit", "const_cast", "co_await", "co_return", "co_yield",
    "decltype", "delete", "dynamic_cast", "explicit", "export", "friend",
    "mutable", "namespace", "new", "noexcept", "not", "not_eq", "operator",
    "or", "or_eq", "private", "protected", "public", "reinterpret_cast",
    "requires", "static_cast", "template", "this", "throw", "try",
    "typeid", "typename", "using", "virtual", "wchar_t", "xor", "xor_eq",
    NULL
};

/* Names the C library defines as macros or objects. */
static const char *const c_library[] = {
    "errno", "stdin", "stdout", "stderr", "NULL", "EOF", "assert",
    "offsetof", "static_assert", "alignas", "alignof", "noreturn",
    "complex", "imaginary", "I", "va_arg", "va_start", "va_end", "va_list",
    "setjmp", "math_errhandling", "SIZE_MAX", NULL
};

bool
idlc_is_c_keyword(const char *s)
{
    for (size_t i = 0; c_keywords[i] != NULL; i++)
        if (strcmp(s, c_keywords[i]) == 0)
            return true;
    return false;
}

/* --- names ------------------------------------------------------------- */

/*
 * Reports a name that C, C++ or the runtime reserves. @bare: the name is
 * used as it is in C (a field or parameter), not behind a prefix, so the
 * C library's macros and objects are refused too.
 */
void
idlc__check_name_as(idlc_ctx *ctx, const char *name, idlc_loc loc, bool bare)
{
    if (name[0] == '_')
        idlc_error(ctx, loc, "'%s': names may not start with '_'", name);
    else if (strncmp(name, "epy_", 4) == 0)
        idlc_error(ctx, loc, "'%s': names starting with 'epy_' are "
                   "reserved for the runtime", name);
    else if (idlc_is_c_keyword(name))
        idlc_error(ctx, loc, "'%s' is a C or C++ keyword", name);
    else if (bare)
        for (size_t i = 0; c_library[i] != NULL; i++)
            if (strcmp(name, c_library[i]) == 0) {
                idlc_error(ctx, loc, "'%s' is reserved by the C library",
                           name);
                break;
            }
}

void
idlc__check_name(idlc_ctx *ctx, const char *name, idlc_loc loc)
{
    idlc__check_name_as(ctx, name, loc, false);
}

static char *
upper(idlc_ctx *ctx, const char *s)
{
    char *u = idlc_strdup(&ctx->arena, s);

    for (char *p = u; *p != '\0'; p++)
        *p = (char) toupper((unsigned char) *p);
    return u;
}

/*
 * Claims the C identifier @cname for @d (described by @what). A second
 * claim is an error at the later declaration, reported once for each
 * pair of declarations (not for each of the names they share).
 */
static void
claim(idlc_ctx *ctx, const char *cname, idlc_decl *d, const char *what)
{
    const char *desc = idlc_printf(&ctx->arena, "%s '%s'", what,
                                   d->qname != NULL ? d->qname : d->name);
    const char *prev;

    if (strncmp(cname, "epy_", 4) == 0 || strncmp(cname, "EPY_", 4) == 0) {
        /* Not again for what a namespace reported so holds. */
        for (const idlc_decl *p = d->parent; p != NULL; p = p->parent)
            if (p->clash != NULL && strcmp(p->clash, "epy_") == 0)
                return;
        if (d->clash == NULL || strcmp(d->clash, "epy_") != 0)
            idlc_error(ctx, d->loc, "%s would define the C name '%s'; "
                       "names starting with 'epy_' belong to the runtime",
                       desc, cname);
        d->clash = "epy_";
        return;
    }
    prev = idlc_map_put(&ctx->arena, &ctx->cnames,
                        idlc_strdup(&ctx->arena, cname), (void *) desc);
    if (prev != NULL && strcmp(prev, desc) != 0
        && (d->clash == NULL || strcmp(d->clash, prev) != 0)) {
        idlc_error(ctx, d->loc, "%s mangles to the C name '%s', already "
                   "used by %s", desc, cname, prev);
        d->clash = prev;
    }
}

static void
claim_suffixes(idlc_ctx *ctx, idlc_decl *d, const char *what,
               const char *const *suffixes)
{
    for (size_t i = 0; suffixes[i] != NULL; i++)
        claim(ctx, idlc_printf(&ctx->arena, "%s%s", d->cname, suffixes[i]),
              d, what);
}

void
idlc__claim_names(idlc_ctx *ctx, idlc_decl *d)
{
    static const char *const ns_names[] = {
        "_api", "_api_open", "_api_close", "_api_raw", "_handlers", "_serve",
        "_unserve", "_serve_server", "_unserve_server", "_table_", "_server_",
        NULL
    };
    static const char *const child_names[] = { "_api_child", NULL };
    static const char *const root_names[] = {
        "_interface", "_interface_text", NULL
    };
    static const char *const struct_names[] = {
        "", "_clear", "_copy", "_desc", NULL
    };
    static const char *const error_names[] = { "_get", "_raise", NULL };
    static const char *const enum_names[] = { "", NULL };
    /* With the .proto's messages: NAME_args, NAME_result. */
    static const char *const method_names[] = {
        "", "_opts", "_async", "_async_cb", "_done_fn", "_result", "_send",
        "_fn", "_reply", "_args", NULL
    };
    static const char *const event_names[] = {
        "_send", "_post", "_broadcast", "_fn", "_args", NULL
    };

    switch (d->kind) {
    case DK_NAMESPACE:
        claim_suffixes(ctx, d, "namespace", ns_names);
        if (d->parent != &ctx->root)
            claim_suffixes(ctx, d, "namespace", child_names);
        else
            claim_suffixes(ctx, d, "namespace", root_names);
        break;
    case DK_STRUCT:
        claim_suffixes(ctx, d, "struct", struct_names);
        break;
    case DK_ERROR:
        claim_suffixes(ctx, d, "error", struct_names);
        claim_suffixes(ctx, d, "error", error_names);
        break;
    case DK_ENUM:
        claim_suffixes(ctx, d, "enum", enum_names);
        for (idlc_enumval *v = d->values; v != NULL; v = v->next)
            claim(ctx, idlc_printf(&ctx->arena, "%s_%s", upper(ctx, d->cname),
                                   upper(ctx, v->name)), d, "enum");
        break;
    case DK_METHOD:
        claim_suffixes(ctx, d, "method", method_names);
        break;
    case DK_EVENT:
        claim_suffixes(ctx, d, "event", event_names);
        break;
    }
}

/* Handlers and serve functions belong to namespaces with methods. */
void
idlc__claim_serve(idlc_ctx *ctx, idlc_decl *ns)
{
    static const char *const names[] = {
        "_handlers", "_serve", "_unserve", NULL
    };

    claim_suffixes(ctx, ns, "namespace", names);
}
