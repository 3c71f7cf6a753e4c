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

/*
 * Source lines longer than this (in characters) are quoted in part: a
 * window of QUOTE_WINDOW characters, QUOTE_BEFORE of them before the
 * column.
 */
#define QUOTE_MAX 400
#define QUOTE_WINDOW 100
#define QUOTE_BEFORE 60

/*
 * Length of the character at @p (before @end) if it is printable: ASCII
 * or a well-formed UTF-8 sequence; 0 for a control character, a NUL or
 * a byte that starts no valid sequence (quoted as '?').
 */
static size_t
char_len(const unsigned char *p, const unsigned char *end)
{
    size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xC2 && p[0] <= 0xDF ? 2
             : p[0] >= 0xE0 && p[0] <= 0xEF ? 3
             : p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : 0;

    if (n == 1)
        return p[0] >= ' ' && p[0] != 0x7f ? 1 : 0;
    if (n == 0 || (size_t) (end - p) < n)
        return 0;
    for (size_t k = 1; k < n; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0)
        || (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

/*
 * Quotes the line of @loc and puts a caret under its column. Columns
 * count characters, so each character is written as one: tabs as they
 * are, what is not printable text (a NUL, a control character, a byte
 * of invalid UTF-8) as '?'. Of a long line, a window around the column.
 */
static void
quote_line(idlc_ctx *ctx, idlc_loc loc)
{
    const unsigned char *p, *end, *line;
    int n = 1, col = 1, first = 1, last;

    if (loc.src == NULL || loc.src->text == NULL || loc.line < 1)
        return;
    p = (const unsigned char *) loc.src->text;
    end = p + loc.src->len;
    while (n < loc.line && p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t) (end - p));

        if (nl == NULL)
            return;
        p = nl + 1;
        n++;
    }
    line = p;
    for (last = 1; p < end && *p != '\n'; last++) {
        size_t len = char_len(p, end);

        p += len > 0 ? len : 1;
    }
    if (last > QUOTE_MAX + 1) {
        first = loc.col > QUOTE_BEFORE ? loc.col - QUOTE_BEFORE : 1;
        last = first + QUOTE_WINDOW;
    }
    if (first > 1)
        fputs("...", ctx->diag);
    for (p = line; p < end && *p != '\n' && col < last; col++) {
        size_t len = char_len(p, end);
        bool cr_end = *p == '\r' && (p + 1 == end || p[1] == '\n');

        if (cr_end)
            break;
        if (col >= first) {
            if (*p == '\t')
                fputc('\t', ctx->diag);
            else if (len == 0)
                fputc('?', ctx->diag);
            else
                fwrite(p, 1, len, ctx->diag);
        }
        p += len > 0 ? len : 1;
    }
    if (p < end && *p != '\n' && *p != '\r')
        fputs("...", ctx->diag);
    fputc('\n', ctx->diag);
    if (first > 1)
        fputs("   ", ctx->diag);
    /* The caret: under the column, tabs kept for the alignment. */
    for (p = line, col = 1; col < loc.col && p < end && *p != '\n'; col++) {
        size_t len = char_len(p, end);

        if (col >= first)
            fputc(*p == '\t' ? '\t' : ' ', ctx->diag);
        p += len > 0 ? len : 1;
    }
    fputs("^\n", ctx->diag);
}

/*
 * After the first error or warning in an imported file: which file
 * imported it, up to the main file, once per file.
 */
static void
import_notes(idlc_ctx *ctx, const idlc_source *src)
{
    while (src != NULL && src->importer != NULL) {
        idlc_source *s = ctx->sources[src->index];

        if (s->import_noted)
            return;
        s->import_noted = true;
        fprintf(ctx->diag, "%s: note: imported from %s:%d\n", s->path,
                s->importer->path, s->import_line);
        src = s->importer;
    }
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
    if (strcmp(kind, "note") != 0)
        import_notes(ctx, loc.src);
}

/*
 * An error in an imported file that does not even start with a keyword
 * (/etc/passwd, a binary): the file is clearly no IDL, so the lexer
 * stops reading it rather than report every line of it.
 */
static void
maybe_stop_file(idlc_ctx *ctx, idlc_loc loc)
{
    if (!ctx->parsing || ctx->stop_file || ctx->fatal || loc.src != ctx->cur
        || ctx->cur->index == 0 || ctx->looks_idl)
        return;
    ctx->stop_file = true;
    fprintf(ctx->diag, "%s: note: this does not look like an IDL file (it "
            "does not start with a keyword); the rest of it is "
            "skipped\n", loc.src->path);
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
    maybe_stop_file(ctx, loc);
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
