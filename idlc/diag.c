/*
 * idlc: diagnostics in gcc's form, each followed by the source line and a
 * caret under the offending character:
 *
 *     calc.idl:12:17: error: unknown type 'pointt'; did you mean 'point'?
 *         point centre(pointt p);
 *                      ^
 *
 * This is the only part of idlc that writes diagnostics.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "idlc-int.h"

/* Source lines longer than this are not quoted. */
#define QUOTE_MAX 400

static void
quote_line(idlc_ctx *ctx, idlc_loc loc)
{
    const char *p, *end, *line;
    int n = 1;
    int col = 1;

    if (loc.src == NULL || loc.src->text == NULL || loc.line < 1)
        return;
    p = loc.src->text;
    end = p + loc.src->len;
    while (n < loc.line && p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));

        if (nl == NULL)
            return;
        p = nl + 1;
        n++;
    }
    line = p;
    while (p < end && *p != '\n')
        p++;
    if (p > line && p[-1] == '\r')
        p--;
    if (p - line > QUOTE_MAX)
        return;
    for (const char *q = line; q < p; q++)
        if (*q == '\0' || (unsigned char) *q >= 0x80)
            return;    /* binary or non-ASCII: do not echo it */
    fprintf(ctx->diag, "%.*s\n", (int) (p - line), line);
    for (const char *q = line; q < p && col < loc.col; q++, col++)
        fputc(*q == '\t' ? '\t' : ' ', ctx->diag);
    fputs("^\n", ctx->diag);
}

static void
vreport(idlc_ctx *ctx, idlc_loc loc, const char *kind, const char *fmt,
        va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 0)))
#endif
    ;

static void
vreport(idlc_ctx *ctx, idlc_loc loc, const char *kind, const char *fmt,
        va_list ap)
{
    if (loc.src != NULL)
        fprintf(ctx->diag, "%s:%d:%d: %s: ", loc.src->path, loc.line,
                loc.col, kind);
    else
        fprintf(ctx->diag, "idlc: %s: ", kind);
    vfprintf(ctx->diag, fmt, ap);
    fputc('\n', ctx->diag);
    quote_line(ctx, loc);
}

static bool
count_error(idlc_ctx *ctx)
{
    if (ctx->fatal)
        return false;
    if (ctx->errors >= ctx->max_errors) {
        fprintf(ctx->diag, "idlc: too many errors (%d); stopping\n",
                ctx->max_errors);
        ctx->fatal = true;
        return false;
    }
    ctx->errors++;
    return true;
}

void
idlc_error(idlc_ctx *ctx, idlc_loc loc, const char *fmt, ...)
{
    va_list ap;

    if (!count_error(ctx))
        return;
    va_start(ap, fmt);
    vreport(ctx, loc, "error", fmt, ap);
    va_end(ap);
}

void
idlc_warning(idlc_ctx *ctx, idlc_loc loc, const char *fmt, ...)
{
    va_list ap;

    if (ctx->fatal)
        return;
    ctx->warnings++;
    va_start(ap, fmt);
    vreport(ctx, loc, "warning", fmt, ap);
    va_end(ap);
}

void
idlc_note(idlc_ctx *ctx, idlc_loc loc, const char *fmt, ...)
{
    va_list ap;

    if (ctx->fatal)
        return;
    va_start(ap, fmt);
    vreport(ctx, loc, "note", fmt, ap);
    va_end(ap);
}

void
idlc_error_plain(idlc_ctx *ctx, const char *fmt, ...)
{
    idlc_loc none = { NULL, 0, 0 };
    va_list ap;

    if (!count_error(ctx))
        return;
    va_start(ap, fmt);
    vreport(ctx, none, "error", fmt, ap);
    va_end(ap);
}

void
idlc_diag_text(idlc_ctx *ctx, const char *text)
{
    fputs(text, ctx->diag);
    if (*text != '\0' && text[strlen(text) - 1] != '\n')
        fputc('\n', ctx->diag);
}
