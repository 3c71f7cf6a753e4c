/*
 * idlc: what the files of the semantic checks share (sema.c, the names
 * in sema-names.c, the settings in sema-settings.c). Never installed.
 */
#ifndef IDLC_SEMA_INT_H
#define IDLC_SEMA_INT_H

#include "idlc-int.h"

/* The closest name to @want among the candidates, for "did you mean". */
typedef struct suggest {
    const char *want;
    size_t best;
    const char *name;
    idlc_decl *decl;
} suggest;

/* Takes @name (of @d, or NULL) as the suggestion if it is the closest yet. */
void idlc__consider(suggest *s, const char *name, idlc_decl *d);

/*
 * Reports a name that C, C++ or the runtime reserves. @bare: used as it
 * is in C (a field or parameter), so the C library's names count too.
 */
void idlc__check_name_as(idlc_ctx *ctx, const char *name, idlc_loc loc,
                         bool bare);
void idlc__check_name(idlc_ctx *ctx, const char *name, idlc_loc loc);
/* Claims the C names @d makes in generated code; reports clashes. */
void idlc__claim_names(idlc_ctx *ctx, idlc_decl *d);
/* Claims the names of a served namespace's handler table functions. */
void idlc__claim_serve(idlc_ctx *ctx, idlc_decl *ns);

/* Applies the options @opts of a namespace, method or @event to @s. */
void idlc__apply_settings(idlc_ctx *ctx, idlc_opt *opts, idlc_settings *s,
                          bool event);
/* Checks that an unsolicited method returns nothing. */
void idlc__unsolicited_result(idlc_ctx *ctx, idlc_decl *d);
/* @eff: @own's settings, with what it leaves unset taken from @up. */
void idlc__inherit(idlc_settings *eff, const idlc_settings *own,
                   const idlc_settings *up);

#endif /* IDLC_SEMA_INT_H */
