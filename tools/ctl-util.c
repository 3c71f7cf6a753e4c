/*
 * epyctl: small helpers - messages, memory, strings, base64, numbers in
 * JSON, reading files.
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

void
ctl_warn(const char *fmt, ...)
{
    va_list ap;

    fputs("epyctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void
out_of_memory(void)
{
    fputs("epyctl: out of memory\n", stderr);
    exit(-EPY_ENOMEM);
}

void *
ctl_xmalloc(size_t size)
{
    void *p = malloc(size != 0 ? size : 1);

    if (p == NULL)
        out_of_memory();
    return p;
}

void *
ctl_xrealloc(void *p, size_t size)
{
    p = realloc(p, size != 0 ? size : 1);
    if (p == NULL)
        out_of_memory();
    return p;
}

char *
ctl_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;

    return memcpy(ctl_xmalloc(n), s, n);
}

/* --- arena ------------------------------------------------------------------ */

struct ctl_block {
    struct ctl_block *next;
    max_align_t data[];
};

void *
ctl_alloc(ctl_arena *a, size_t size)
{
    struct ctl_block *b;

    if (size > SIZE_MAX - sizeof *b)
        out_of_memory();
    b = calloc(1, sizeof *b + size);
    if (b == NULL)
        out_of_memory();
    b->next = a->blocks;
    a->blocks = b;
    return b->data;
}

char *
ctl_strndup(ctl_arena *a, const char *s, size_t n)
{
    char *r = ctl_alloc(a, n + 1);

    memcpy(r, s, n);
    return r;
}

void
ctl_arena_free(ctl_arena *a)
{
    for (struct ctl_block *b = a->blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    a->blocks = NULL;
}

/* --- strings ------------------------------------------------------------------ */

void
ctl_str_add(ctl_str *s, const char *p, size_t n)
{
    if (s->cap - s->len <= n) {
        size_t cap = s->cap != 0 ? s->cap : 64;

        while (cap - s->len <= n)
            cap *= 2;
        s->data = ctl_xrealloc(s->data, cap);
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    s->data[s->len] = '\0';
}

void
ctl_str_puts(ctl_str *s, const char *p)
{
    ctl_str_add(s, p, strlen(p));
}

void
ctl_str_printf(ctl_str *s, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n < sizeof small) {
        ctl_str_add(s, small, (size_t) n);
        return;
    }
    {
        char *big = ctl_xmalloc((size_t) n + 1);

        va_start(ap, fmt);
        vsnprintf(big, (size_t) n + 1, fmt, ap);
        va_end(ap);
        ctl_str_add(s, big, (size_t) n);
        free(big);
    }
}

void
ctl_str_free(ctl_str *s)
{
    free(s->data);
    s->data = NULL;
    s->len = s->cap = 0;
}

/* --- base64 ------------------------------------------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
ctl_base64_encode(const uint8_t *p, size_t n)
{
    char *r = ctl_xmalloc((n + 2) / 3 * 4 + 1), *w = r;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t) p[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t) p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *w++ = b64[v >> 18 & 63];
        *w++ = b64[v >> 12 & 63];
        *w++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
        *w++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *w = '\0';
    return r;
}

int
ctl_base64_decode(const char *s, size_t n, uint8_t **ret, size_t *ret_n)
{
    uint8_t *r, *w;
    uint32_t acc = 0;
    int bits = 0;

    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    r = w = ctl_xmalloc(n / 4 * 3 + 3);
    for (size_t i = 0; i < n; i++) {
        const char *q = s[i] != '\0' ? strchr(b64, s[i]) : NULL;

        if (q == NULL) {
            free(r);
            return -1;
        }
        acc = acc << 6 | (uint32_t) (q - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *w++ = (uint8_t) (acc >> bits);
        }
    }
    /* The bits left over must be zero, as an encoder writes them. */
    if ((acc & ((1u << bits) - 1)) != 0) {
        free(r);
        return -1;
    }
    *ret = r;
    *ret_n = (size_t) (w - r);
    return 0;
}

/* --- numbers ---------------------------------------------------------------------- */

static json_object *
special(double d)
{
    if (isnan(d))
        return json_object_new_string("NaN");
    if (isinf(d))
        return json_object_new_string(d > 0 ? "Infinity" : "-Infinity");
    return NULL;
}

/* Makes sure the text reads as a JSON number of the double kind. */
static json_object *
number(double d, const char *text)
{
    return json_object_new_double_s(d, text);
}

json_object *
ctl_json_double(double d)
{
    char buf[64];
    json_object *j = special(d);

    if (j != NULL)
        return j;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return number(d, buf);
}

json_object *
ctl_json_float(float f)
{
    char buf[64];
    json_object *j = special(f);

    if (j != NULL)
        return j;
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double) f);
        if (strtof(buf, NULL) == f)
            break;
    }
    return number(f, buf);
}

#define SAFE_INT (INT64_C(1) << 53)

json_object *
ctl_json_int64(int64_t v)
{
    char buf[32];

    if (v >= -SAFE_INT && v <= SAFE_INT)
        return json_object_new_int64(v);
    snprintf(buf, sizeof buf, "%lld", (long long) v);
    return json_object_new_string(buf);
}

json_object *
ctl_json_uint64(uint64_t v)
{
    char buf[32];

    if (v <= (uint64_t) SAFE_INT)
        return json_object_new_int64((int64_t) v);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long) v);
    return json_object_new_string(buf);
}

/* --- JSON text ------------------------------------------------------------------ */

const char *
ctl_json_text(json_object *j, bool pretty)
{
    int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

    flags |= pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                    : JSON_C_TO_STRING_PLAIN;
    return json_object_to_json_string_ext(j, flags);
}

json_object *
ctl_json_parse(const char *text, size_t len, const char *what)
{
    json_tokener *tok = json_tokener_new_ex(1000);
    json_object *j;
    enum json_tokener_error e;
    size_t end;

    if (tok == NULL) {
        ctl_warn("out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    if (len > INT32_MAX) {
        ctl_warn("%s: too large", what);
        json_tokener_free(tok);
        return NULL;
    }
    j = json_tokener_parse_ex(tok, text, (int) len);
    e = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (j == NULL && e == json_tokener_continue) {
        /* The end of the text ends a number at its end. */
        j = json_tokener_parse_ex(tok, "", 1);
        e = json_tokener_get_error(tok);
        if (e == json_tokener_continue)
            e = json_tokener_error_parse_eof;
        if (j != NULL)
            end = len;
    }
    if (j != NULL) {
        /* Only white space may follow. */
        while (end < len && strchr(" \t\r\n", text[end]) != NULL)
            end++;
        if (end < len) {
            ctl_warn("%s: not JSON: text after the value at offset %zu",
                     what, end);
            json_object_put(j);
            j = NULL;
        }
    } else {
        ctl_warn("%s: not JSON: %s at offset %zu", what,
                 json_tokener_error_desc(e), end);
    }
    json_tokener_free(tok);
    return j;
}

/* --- files ------------------------------------------------------------------------ */

char *
ctl_read_file(const char *path, size_t *ret_len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    ctl_str s = { NULL, 0, 0 };
    char buf[65536];
    size_t n;

    if (f == NULL) {
        ctl_warn("%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        ctl_str_add(&s, buf, n);
    if (ferror(f)) {
        ctl_warn("%s: %s", f == stdin ? "standard input" : path,
                 strerror(errno));
        if (f != stdin)
            fclose(f);
        ctl_str_free(&s);
        return NULL;
    }
    if (f != stdin)
        fclose(f);
    ctl_str_add(&s, "", 0);
    *ret_len = s.len;
    return s.data;
}

int
ctl_exit_code(int code)
{
    if (code >= 0)
        return 0;
    return -code < CTL_EXIT_USAGE ? -code : CTL_EXIT_USAGE - 1;
}
