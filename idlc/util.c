/*
 * idlc: memory arenas, growable strings, string tables, edit distance.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idlc-int.h"

/* Arena chunks: a header followed by the data. */
struct idlc_arena {
    struct idlc_arena *next;
    size_t used;
    size_t cap;
    max_align_t data[];
};

#define ARENA_CHUNK ((size_t) 64 * 1024)

static void *
xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);

    if (p == NULL) {
        fputs("idlc: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *
idlc_alloc(idlc_arena **a, size_t size)
{
    size_t align = sizeof(max_align_t);
    size_t need = (size + align - 1) / align * align;
    idlc_arena *c = *a;
    void *p;

    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;

        c = xmalloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        c->next = *a;
        *a = c;
    }
    p = (char *) c->data + c->used;
    c->used += need;
    memset(p, 0, size);
    return p;
}

char *
idlc_strndup(idlc_arena **a, const char *s, size_t n)
{
    char *p = idlc_alloc(a, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
idlc_strdup(idlc_arena **a, const char *s)
{
    return idlc_strndup(a, s, strlen(s));
}

char *
idlc_printf(idlc_arena **a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    p = idlc_alloc(a, (size_t) n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t) n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void
idlc_arena_free(idlc_arena *a)
{
    while (a != NULL) {
        idlc_arena *next = a->next;

        free(a);
        a = next;
    }
}

/* --- growable strings ------------------------------------------------ */

void
idlc_buf_add(idlc_buf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap != 0 ? b->cap : 256;
        char *p;

        while (cap - b->len < n + 1)
            cap *= 2;
        p = realloc(b->data, cap);
        if (p == NULL) {
            fputs("idlc: out of memory\n", stderr);
            abort();
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
idlc_buf_puts(idlc_buf *b, const char *s)
{
    idlc_buf_add(b, s, strlen(s));
}

void
idlc_buf_printf(idlc_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n < sizeof small) {
        idlc_buf_add(b, small, (size_t) n);
    } else {
        char *p = xmalloc((size_t) n + 1);

        va_start(ap, fmt);
        vsnprintf(p, (size_t) n + 1, fmt, ap);
        va_end(ap);
        idlc_buf_add(b, p, (size_t) n);
        free(p);
    }
}

void
idlc_buf_free(idlc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* --- tables ------------------------------------------------------------ */

uint64_t
idlc_fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char) s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static size_t
slot_of(const idlc_map *m, const char *key)
{
    size_t i = (size_t) idlc_fnv1a(key, strlen(key),
                                   UINT64_C(0xcbf29ce484222325));

    for (i &= m->cap - 1; m->keys[i] != NULL; i = (i + 1) & (m->cap - 1))
        if (strcmp(m->keys[i], key) == 0)
            break;
    return i;
}

void *
idlc_map_get(const idlc_map *m, const char *key)
{
    size_t i;

    if (m->cap == 0)
        return NULL;
    i = slot_of(m, key);
    return m->keys[i] != NULL ? m->vals[i] : NULL;
}

void *
idlc_map_put(idlc_arena **a, idlc_map *m, const char *key, void *val)
{
    size_t i;

    if (m->cap == 0 || (m->n + 1) * 2 > m->cap) {
        idlc_map old = *m;

        m->cap = old.cap != 0 ? old.cap * 2 : 16;
        m->n = 0;
        m->keys = idlc_alloc(a, m->cap * sizeof *m->keys);
        m->vals = idlc_alloc(a, m->cap * sizeof *m->vals);
        for (size_t j = 0; j < old.cap; j++)
            if (old.keys[j] != NULL) {
                i = slot_of(m, old.keys[j]);
                m->keys[i] = old.keys[j];
                m->vals[i] = old.vals[j];
                m->n++;
            }
    }
    i = slot_of(m, key);
    if (m->keys[i] != NULL)
        return m->vals[i];
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return NULL;
}

/* Edit distance with adjacent transpositions (optimal string alignment). */
size_t
idlc_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][IDLC_MAX_IDENT * 2 + 2];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];

    if (la > IDLC_MAX_IDENT * 2 || lb > IDLC_MAX_IDENT * 2)
        return (size_t) -1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *t;

        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);

            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}
