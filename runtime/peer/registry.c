/*
 * The handler registry: one entry per dotted name, holding the exact
 * handler of the method of that name, the catch-all of the namespace of
 * that name, how often the namespace was declared served, and how many
 * registrations lie below it (which makes it a known namespace).
 *
 * Resolution of "a.b.m": the exact handler of "a.b.m"; else the nearest
 * catch-all among "a.b", "a"; else unhandled, with EPY_EUNSUPPORTED if
 * one of those is known, EPY_EUNKNOWN if none is. A resolved entry is
 * held (its active count) until the invocation ends, so removing a
 * handler can wait until no invocation of it runs.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "peer-int.h"

/* The entry whose handler the calling thread is running, if any. */
static _Thread_local epy__entry *tl_running;

static uint32_t
hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t) s[i]) * 16777619u;
    return h;
}

static epy__entry *
find(epy__registry *r, const char *name, size_t len, uint32_t h)
{
    epy__entry *e;

    for (e = r->buckets[h & (r->nbuckets - 1)]; e != NULL; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0)
            return e;
    return NULL;
}

static void
grow(epy__registry *r)
{
    size_t n = r->nbuckets * 2;
    epy__entry **b = calloc(n, sizeof *b);

    if (b == NULL)
        return;
    for (size_t i = 0; i < r->nbuckets; i++) {
        epy__entry *e, *next;

        for (e = r->buckets[i]; e != NULL; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = n;
}

static epy__entry *
get(epy__registry *r, const char *name, size_t len)
{
    uint32_t h = hash(name, len);
    epy__entry *e = find(r, name, len, h);

    if (e != NULL)
        return e;
    e = calloc(1, sizeof *e + len + 1);
    if (e == NULL)
        return NULL;
    e->hash = h;
    e->len = len;
    memcpy(e->name, name, len);
    e->next = r->buckets[h & (r->nbuckets - 1)];
    r->buckets[h & (r->nbuckets - 1)] = e;
    if (++r->count > r->nbuckets)
        grow(r);
    return e;
}

/* Frees @e if nothing refers to it any more. */
static void
maybe_free(epy__registry *r, epy__entry *e)
{
    epy__entry **pp;

    if (e->method_fn != NULL || e->ns_fn != NULL || e->served > 0
        || e->known > 0 || e->active > 0)
        return;
    for (pp = &r->buckets[e->hash & (r->nbuckets - 1)]; *pp != e;
         pp = &(*pp)->next)
        ;
    *pp = e->next;
    r->count--;
    free(e);
}

/* Removes one from the known count of the strict prefixes of @name
 * that end at or after @from. */
static void
unmark_prefixes(epy__registry *r, const char *name, size_t len, size_t from)
{
    for (size_t i = len; i-- > from;) {
        epy__entry *e;

        if (name[i] != '.' || (e = find(r, name, i, hash(name, i))) == NULL)
            continue;
        e->known--;
        maybe_free(r, e);
    }
}

/* Adds one to the known count of every strict prefix of @name. */
static int
mark_prefixes(epy__registry *r, const char *name, size_t len)
{
    for (size_t i = len; i-- > 0;) {
        epy__entry *e;

        if (name[i] != '.')
            continue;
        e = get(r, name, i);
        if (e == NULL) {
            unmark_prefixes(r, name, len, i + 1);
            return EPY_ENOMEM;
        }
        e->known++;
    }
    return 0;
}

epy__registry *
epy__registry_new(void)
{
    epy__registry *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    r->nbuckets = 64;
    r->buckets = calloc(r->nbuckets, sizeof *r->buckets);
    if (r->buckets == NULL) {
        free(r);
        return NULL;
    }
    atomic_init(&r->refs, 1);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->idle, NULL);
    return r;
}

epy__registry *
epy__registry_ref(epy__registry *r)
{
    atomic_fetch_add(&r->refs, 1);
    return r;
}

void
epy__registry_unref(epy__registry *r)
{
    if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    for (size_t i = 0; i < r->nbuckets; i++) {
        epy__entry *e, *next;

        for (e = r->buckets[i]; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(r->buckets);
    while (r->kept != NULL) {
        epy__kept *k = r->kept;

        r->kept = k->next;
        k->free_fn(k->ptr);
        free(k);
    }
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->idle);
    free(r);
}

int
epy__registry_keep(epy__registry *r, void *ptr, void (*free_fn)(void *))
{
    epy__kept *k = malloc(sizeof *k);

    if (k == NULL)
        return EPY_ENOMEM;
    k->ptr = ptr;
    k->free_fn = free_fn;
    pthread_mutex_lock(&r->lock);
    k->next = r->kept;
    r->kept = k;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

void *
epy__registry_take(epy__registry *r, bool (*match)(void *ptr, void *ctx),
                   void *ctx)
{
    void *ptr = NULL;

    pthread_mutex_lock(&r->lock);
    for (epy__kept **pp = &r->kept; *pp != NULL; pp = &(*pp)->next) {
        if (match((*pp)->ptr, ctx)) {
            epy__kept *k = *pp;

            *pp = k->next;
            ptr = k->ptr;
            free(k);
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return ptr;
}

void
epy__registry_resolve(epy__registry *r, const char *name, size_t len,
                      epy__target *out)
{
    epy__entry *e;
    bool known = false;

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&r->lock);
    e = find(r, name, len, hash(name, len));
    if (e != NULL && e->method_fn != NULL) {
        out->fn = e->method_fn;
        out->ctx = e->method_ctx;
    } else {
        e = NULL;
        for (size_t i = len; i-- > 0 && e == NULL;) {
            epy__entry *p;

            if (name[i] != '.')
                continue;
            p = find(r, name, i, hash(name, i));
            if (p == NULL)
                continue;
            if (p->ns_fn != NULL) {
                e = p;
                out->fn = p->ns_fn;
                out->ctx = p->ns_ctx;
            } else if (p->served > 0 || p->known > 0) {
                known = true;
            }
        }
    }
    if (e != NULL) {
        e->active++;
        out->entry = e;
    } else {
        out->reason = known ? EPY_EUNSUPPORTED : EPY_EUNKNOWN;
    }
    pthread_mutex_unlock(&r->lock);
}

void
epy__registry_done(epy__registry *r, epy__target *t)
{
    if (t->entry == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    /* A remover may be waiting (it holds one count itself). */
    pthread_cond_broadcast(&r->idle);
    if (--t->entry->active == 0)
        maybe_free(r, t->entry);
    pthread_mutex_unlock(&r->lock);
    t->entry = NULL;
}

/* Runs @fn as the handler of @t's entry (for the removal wait). */
int
epy__registry_invoke(epy__target *t, epy_call *call, const uint8_t *req,
                     size_t len)
{
    epy__entry *saved = tl_running;
    int rc;

    tl_running = t->entry;
    rc = t->fn(call, req, len, t->ctx);
    tl_running = saved;
    return rc;
}

/* Registers or removes a method handler (@ns false) or catch-all. */
int
epy__registry_set(epy__registry *r, const char *name, bool ns,
                  epy_handler_fn fn, void *ctx, epy_error *err)
{
    size_t len = name != NULL ? strlen(name) : 0;
    epy__entry *e;
    int rc = 0;

    if (epy__name_check(name, len) < 0)
        return epy_error_setf(err, EPY_EPARAM, "invalid name '%s'",
                              name != NULL ? name : "(null)");
    if (fn != NULL && epy__builtin_name(name) && (ns || strcmp(name,
                                 EPY__BUILTIN_NS ".monitor.frame") != 0))
        return epy_error_setf(err, EPY_EPARAM, "'%s': the namespace '"
                              EPY__BUILTIN_NS "' is reserved for the "
                              "built-in services", name);
    pthread_mutex_lock(&r->lock);
    if (fn != NULL) {
        e = get(r, name, len);
        if (e == NULL) {
            rc = EPY_ENOMEM;
        } else if ((ns ? e->ns_fn : e->method_fn) != NULL) {
            rc = EPY_EEXIST;
        } else if ((rc = mark_prefixes(r, name, len)) == 0) {
            if (ns) {
                e->ns_fn = fn;
                e->ns_ctx = ctx;
            } else {
                e->method_fn = fn;
                e->method_ctx = ctx;
            }
        }
        if (rc < 0 && e != NULL)
            maybe_free(r, e);
    } else {
        e = find(r, name, len, hash(name, len));
        if (e == NULL || (ns ? e->ns_fn : e->method_fn) == NULL) {
            rc = EPY_ENOTFOUND;
        } else {
            if (ns)
                e->ns_fn = NULL;
            else
                e->method_fn = NULL;
            unmark_prefixes(r, name, len, 0);
            /* Wait for running invocations, unless we are one of them. */
            e->active++;
            while (e->active > 1 && tl_running != e)
                pthread_cond_wait(&r->idle, &r->lock);
            e->active--;
            maybe_free(r, e);
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (rc == EPY_EEXIST)
        return epy_error_setf(err, rc, "'%s' already has a %s", name,
                              ns ? "catch-all handler" : "handler");
    if (rc == EPY_ENOTFOUND)
        return epy_error_setf(err, rc, "'%s' has no %s", name,
                              ns ? "catch-all handler" : "handler");
    return rc < 0 ? epy_error_set(err, rc, NULL) : 0;
}

int
epy_peer_handle(epy_peer *peer, const char *name, epy_handler_fn fn,
                void *ctx, epy_error *ret_err)
{
    if (peer == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL peer");
    return epy__registry_set(peer->reg, name, false, fn, ctx, ret_err);
}

int
epy_peer_handle_ns(epy_peer *peer, const char *ns, epy_handler_fn fn,
                   void *ctx, epy_error *ret_err)
{
    if (peer == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL peer");
    return epy__registry_set(peer->reg, ns, true, fn, ctx, ret_err);
}

int
epy__registry_serve(epy__registry *r, const char *ns, bool serve,
                    epy_error *ret_err)
{
    size_t len = ns != NULL ? strlen(ns) : 0;
    epy__entry *e;
    int rc = 0;

    if (epy__name_check(ns, len) < 0)
        return epy_error_setf(ret_err, EPY_EPARAM, "invalid namespace '%s'",
                              ns != NULL ? ns : "(null)");
    if (serve && epy__builtin_name(ns))
        return epy_error_setf(ret_err, EPY_EPARAM, "'%s': the namespace '"
                              EPY__BUILTIN_NS "' is reserved for the "
                              "built-in services", ns);
    pthread_mutex_lock(&r->lock);
    if (serve) {
        e = get(r, ns, len);
        if (e == NULL)
            rc = EPY_ENOMEM;
        else if ((rc = mark_prefixes(r, ns, len)) == 0)
            e->served++;
        else
            maybe_free(r, e);
    } else {
        e = find(r, ns, len, hash(ns, len));
        if (e == NULL || e->served == 0) {
            rc = EPY_ENOTFOUND;
        } else {
            e->served--;
            unmark_prefixes(r, ns, len, 0);
            maybe_free(r, e);
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (rc == EPY_ENOTFOUND)
        return epy_error_setf(ret_err, rc, "namespace '%s' is not served", ns);
    return rc < 0 ? epy_error_set(ret_err, rc, NULL) : 0;
}

int
epy_peer_serve_ns(epy_peer *peer, const char *ns, bool serve,
                  epy_error *ret_err)
{
    if (peer == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL peer");
    return epy__registry_serve(peer->reg, ns, serve, ret_err);
}
