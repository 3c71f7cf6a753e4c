/*
 * Apis: nodes of the namespace tree bound to a peer, carrying call
 * defaults that children inherit, and the calls made through them.
 *
 * Defaults are atomics read on every call; per-method sticky defaults
 * are a short list under the api's lock, looked at only when not empty.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "peer-int.h"

typedef struct method_defaults {
    struct method_defaults *next;
    int64_t timeout_ms;
    int solicited;
    int mode;
    char name[];
} method_defaults;

struct epy_api {
    atomic_int refs;            /* the caller's + one per open child */
    epy_peer *peer;
    epy_api *parent;
    _Atomic int64_t timeout_ms; /* EPY_INHERIT: the parent's */
    atomic_int solicited;       /* -1: the parent's */
    atomic_int mode;            /* -1: the parent's */
    pthread_mutex_t lock;
    method_defaults *methods;
    atomic_bool has_methods;
    size_t name_len;
    char name[];
};

static epy_api *
api_new(epy_peer *peer, epy_api *parent, const char *name, size_t len)
{
    epy_api *api = calloc(1, sizeof *api + len + 1);

    if (api == NULL)
        return NULL;
    atomic_init(&api->refs, 1);
    api->peer = epy__peer_ref(peer);
    api->parent = parent;
    atomic_init(&api->timeout_ms, parent != NULL ? EPY_INHERIT : EPY_FOREVER);
    atomic_init(&api->solicited, parent != NULL ? -1 : 1);
    atomic_init(&api->mode, parent != NULL ? -1 : EPY_SYNC);
    pthread_mutex_init(&api->lock, NULL);
    memcpy(api->name, name, len);
    api->name_len = len;
    return api;
}

int
epy_api_open(epy_peer *peer, const char *ns, epy_api **ret_api,
             epy_error *ret_err)
{
    size_t len = ns != NULL ? strlen(ns) : 0;
    epy_api *api;
    int rc;

    if (peer == NULL || ret_api == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL peer or result");
    if (epy__name_check(ns, len) < 0)
        return epy_error_setf(ret_err, EPY_EPARAM, "invalid namespace '%s'",
                              ns != NULL ? ns : "(null)");
    rc = epy__peer_check(peer);
    if (rc < 0)
        return epy_error_set(ret_err, rc, NULL);
    api = api_new(peer, NULL, ns, len);
    if (api == NULL)
        return epy_error_set(ret_err, EPY_ENOMEM, NULL);
    *ret_api = api;
    return 0;
}

int
epy_api_child(epy_api *parent, const char *name, epy_api **ret_api,
              epy_error *ret_err)
{
    size_t len = name != NULL ? strlen(name) : 0;
    char full[EPY_NAME_MAX + 1];
    epy_api *api;

    if (parent == NULL || ret_api == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL parent or result");
    if (epy__name_check(name, len) < 0
        || parent->name_len + 1 + len > EPY_NAME_MAX)
        return epy_error_setf(ret_err, EPY_EPARAM, "invalid child name '%s'",
                              name != NULL ? name : "(null)");
    memcpy(full, parent->name, parent->name_len);
    full[parent->name_len] = '.';
    memcpy(full + parent->name_len + 1, name, len);
    len += parent->name_len + 1;
    if (epy__name_check(full, len) < 0)
        return epy_error_setf(ret_err, EPY_EPARAM, "name '%s.%s' too deep",
                              parent->name, name);
    api = api_new(parent->peer, parent, full, len);
    if (api == NULL)
        return epy_error_set(ret_err, EPY_ENOMEM, NULL);
    atomic_fetch_add(&parent->refs, 1);
    *ret_api = api;
    return 0;
}

epy_api *
epy_api_close(epy_api *api)
{
    while (api != NULL && atomic_fetch_sub(&api->refs, 1) == 1) {
        epy_api *parent = api->parent;

        while (api->methods != NULL) {
            method_defaults *m = api->methods;

            api->methods = m->next;
            free(m);
        }
        pthread_mutex_destroy(&api->lock);
        epy__peer_unref(api->peer);
        free(api);
        api = parent;
    }
    return NULL;
}

const char *
epy_api_name(const epy_api *api)
{
    return api != NULL ? api->name : NULL;
}

epy_peer *
epy_api_peer(const epy_api *api)
{
    return api != NULL ? api->peer : NULL;
}

int
epy_api_set_timeout(epy_api *api, int64_t timeout_ms)
{
    if (api == NULL || timeout_ms > EPY_TIMEOUT_MAX
        || (timeout_ms < 0 && timeout_ms != EPY_INHERIT)
        || (timeout_ms == EPY_INHERIT && api->parent == NULL))
        return EPY_EPARAM;
    atomic_store(&api->timeout_ms, timeout_ms);
    return 0;
}

int
epy_api_set_solicited(epy_api *api, int solicited)
{
    if (api == NULL || solicited < -1 || solicited > 1
        || (solicited == -1 && api->parent == NULL))
        return EPY_EPARAM;
    atomic_store(&api->solicited, solicited);
    return 0;
}

int
epy_api_set_mode(epy_api *api, int mode)
{
    if (api == NULL || mode < -1 || mode > EPY_ASYNC
        || (mode == -1 && api->parent == NULL))
        return EPY_EPARAM;
    atomic_store(&api->mode, mode);
    return 0;
}

int64_t
epy_api_timeout(const epy_api *api)
{
    for (; api != NULL; api = api->parent) {
        int64_t t = atomic_load(&((epy_api *) api)->timeout_ms);

        if (t != EPY_INHERIT)
            return t;
    }
    return EPY_FOREVER;
}

bool
epy_api_solicited(const epy_api *api)
{
    for (; api != NULL; api = api->parent) {
        int s = atomic_load(&((epy_api *) api)->solicited);

        if (s >= 0)
            return s != 0;
    }
    return true;
}

epy_mode
epy_api_mode(const epy_api *api)
{
    for (; api != NULL; api = api->parent) {
        int m = atomic_load(&((epy_api *) api)->mode);

        if (m >= 0)
            return (epy_mode) m;
    }
    return EPY_SYNC;
}

int
epy_api_set_method_defaults(epy_api *api, const char *method,
                            int64_t timeout_ms, int solicited, int mode)
{
    size_t len = method != NULL ? strlen(method) : 0;
    method_defaults *m;

    if (api == NULL || epy__name_check(method, len) < 0
        || timeout_ms > EPY_TIMEOUT_MAX
        || (timeout_ms < 0 && timeout_ms != EPY_INHERIT)
        || solicited < -1 || solicited > 1 || mode < -1 || mode > EPY_ASYNC)
        return EPY_EPARAM;
    pthread_mutex_lock(&api->lock);
    for (m = api->methods; m != NULL; m = m->next)
        if (strcmp(m->name, method) == 0)
            break;
    if (m == NULL) {
        m = malloc(sizeof *m + len + 1);
        if (m == NULL) {
            pthread_mutex_unlock(&api->lock);
            return EPY_ENOMEM;
        }
        memcpy(m->name, method, len + 1);
        m->next = api->methods;
        api->methods = m;
        atomic_store(&api->has_methods, true);
    }
    m->timeout_ms = timeout_ms;
    m->solicited = solicited;
    m->mode = mode;
    pthread_mutex_unlock(&api->lock);
    return 0;
}

/* --- calls ------------------------------------------------------------------ */

/* The effective settings of one call. */
typedef struct settings {
    int64_t timeout_ms;
    bool solicited;
    epy_mode mode;
} settings;

/*
 * Checks the arguments of a call and works out its settings and its full
 * method name (into @full). Returns 0 or EPY_EPARAM.
 */
static int
prepare(epy_api *api, const char *method, const void *req, size_t req_len,
        const epy_call_opts *opts, char *full, settings *s, epy_error *err)
{
    size_t mlen, len;

    if (api == NULL)
        return epy_error_set(err, EPY_EPARAM, "NULL api");
    mlen = method != NULL ? strlen(method) : 0;
    if (epy__name_check(method, mlen) < 0)
        return epy_error_setf(err, EPY_EPARAM, "invalid method name '%s'",
                              method != NULL ? method : "(null)");
    len = api->name_len + 1 + mlen;
    if (len > EPY_NAME_MAX)
        return epy_error_set(err, EPY_EPARAM, "method name too long");
    memcpy(full, api->name, api->name_len);
    full[api->name_len] = '.';
    memcpy(full + api->name_len + 1, method, mlen + 1);
    if (epy__name_check(full, len) < 0)
        return epy_error_set(err, EPY_EPARAM, "method name too deep");
    if (req == NULL && req_len > 0)
        return epy_error_set(err, EPY_EPARAM, "NULL request with a length");

    s->timeout_ms = epy_api_timeout(api);
    s->solicited = epy_api_solicited(api);
    s->mode = epy_api_mode(api);
    if (atomic_load(&api->has_methods)) {
        pthread_mutex_lock(&api->lock);
        for (method_defaults *m = api->methods; m != NULL; m = m->next) {
            if (strcmp(m->name, method) == 0) {
                if (m->timeout_ms != EPY_INHERIT)
                    s->timeout_ms = m->timeout_ms;
                if (m->solicited >= 0)
                    s->solicited = m->solicited != 0;
                if (m->mode >= 0)
                    s->mode = (epy_mode) m->mode;
                break;
            }
        }
        pthread_mutex_unlock(&api->lock);
    }
    if (opts != NULL) {
        if (opts->timeout_ms > EPY_TIMEOUT_MAX
            || (opts->timeout_ms < 0 && opts->timeout_ms != EPY_INHERIT))
            return epy_error_setf(err, EPY_EPARAM, "invalid timeout %lld ms",
                                  (long long) opts->timeout_ms);
        if (opts->solicited < -1 || opts->solicited > 1)
            return epy_error_set(err, EPY_EPARAM, "solicited must be -1, 0 or 1");
        if (opts->mode < -1 || opts->mode > EPY_ASYNC)
            return epy_error_set(err, EPY_EPARAM, "invalid mode");
        if (opts->timeout_ms != EPY_INHERIT)
            s->timeout_ms = opts->timeout_ms;
        if (opts->solicited >= 0)
            s->solicited = opts->solicited != 0;
        if (opts->mode >= 0)
            s->mode = (epy_mode) opts->mode;
    }
    return 0;
}

/*
 * Sends an EVENT frame. Its write waits for the other end to read for
 * the api's timeout at most.
 */
static int
send_event(epy_api *api, const char *full, const epy__payload *p,
           int64_t timeout_ms, epy_error *err)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    epy__payload q = *p;
    int rc;

    env.kind = EPYRPC__KIND__EVENT;
    env.method = (char *) full;
    q.deadline = epy__deadline(timeout_ms);
    rc = epy__peer_send_payload(api->peer, &env, &q);
    if (rc < 0)
        return rc == EPY_ETOOBIG
               ? epy_error_setf(err, rc, "event '%s' of %zu bytes is too large",
                                full, epy__payload_len(p))
               : rc == EPY_ETIMEDOUT
               ? epy_error_setf(err, rc, "event '%s': the other end read "
                                "nothing for %lld ms", full,
                                (long long) timeout_ms)
               : rc == EPY_EUNSUPPORTED
               ? epy_error_setf(err, rc, "event '%s' passes file descriptors, "
                                "which this connection cannot carry", full)
               : epy_error_set(err, rc, NULL);
    return 0;
}

/*
 * Sends the CALL frame of transaction @t. The write gives up at the
 * call's @deadline: a peer that stops reading cannot hold the caller
 * past it.
 */
static int
send_call(epy_api *api, const char *full, epy_txn_id id, int64_t timeout_ms,
          int64_t deadline, const epy__payload *p)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    epy__payload q = *p;

    env.kind = EPYRPC__KIND__CALL;
    env.has_txn = true;
    env.txn = id;
    env.method = (char *) full;
    if (timeout_ms > 0) {
        env.has_timeout_ms = true;
        env.timeout_ms = timeout_ms;
    }
    q.deadline = deadline;
    return epy__peer_send_payload(api->peer, &env, &q);
}

static int
call_failed(int rc, const char *full, size_t len, epy_error *err)
{
    switch (rc) {
    case EPY_ETOOBIG:
        return epy_error_setf(err, rc, "call '%s' of %zu bytes is too large",
                              full, len);
    case EPY_EBUSY:
        return epy_error_set(err, rc, "too many calls pending");
    case EPY_ETIMEDOUT:
        return epy_error_setf(err, rc, "call '%s' timed out: the other end "
                              "read nothing of it", full);
    case EPY_EUNSUPPORTED:
        return epy_error_setf(err, rc, "call '%s' passes file descriptors, "
                              "which this connection cannot carry (TCP, an "
                              "in-process pair, or the other end takes "
                              "none)", full);
    default:
        return epy_error_setf(err, rc, "call '%s': %s", full, epy_strerror(rc));
    }
}

int
epy_api_call(epy_api *api, const char *method, const void *req,
             size_t req_len, const epy_call_opts *opts, epy_buf *ret_reply,
             epy_error *ret_err)
{
    epy__payload p = { .data = req, .len = req_len };

    return epy__api_call(api, method, &p, opts, ret_reply, NULL, NULL,
                         ret_err);
}

int
epy__api_call(epy_api *api, const char *method, const epy__payload *p,
              const epy_call_opts *opts, epy_buf *ret_reply,
              epy__decode_fn decode, void *decode_ctx, epy_error *ret_err)
{
    char full[EPY_NAME_MAX + 1];
    settings s;
    epy__txn t;
    epy_buf scratch = EPY_BUF_INIT;
    int64_t deadline;
    int rc;

    rc = prepare(api, method, p->data, p->len, opts, full, &s, ret_err);
    if (rc < 0)
        return rc;
    if (opts != NULL && (opts->callback != NULL || opts->sem != NULL))
        return epy_error_set(ret_err, EPY_EPARAM,
                             "callback or semaphore on a synchronous call");
    if (!s.solicited) {
        rc = send_event(api, full, p, s.timeout_ms, ret_err);
        if (rc == 0 && decode != NULL)
            rc = decode(decode_ctx, NULL, 0, NULL);
        else if (rc == 0 && ret_reply != NULL)
            ret_reply->len = 0;
        return rc;
    }
    memset(&t, 0, sizeof t);
    t.kind = EPY__TXN_SYNC;
    t.reply = ret_reply != NULL ? ret_reply : &scratch;
    t.decode = decode;
    t.decode_ctx = decode_ctx;
    t.err = ret_err;
    rc = epy__txn_begin(&api->peer->txn, &t);
    if (rc < 0)
        return call_failed(rc, full, epy__payload_len(p), ret_err);
    deadline = epy__deadline(s.timeout_ms);
    atomic_fetch_add(&api->peer->sync_calls, 1);
    rc = send_call(api, full, t.id, s.timeout_ms, deadline, p);
    if (rc < 0) {
        atomic_fetch_sub(&api->peer->sync_calls, 1);
        epy__txn_abort(&api->peer->txn, &t);
        return call_failed(rc, full, epy__payload_len(p), ret_err);
    }
    epy__peer_read_own(api->peer, &t.wake, deadline);
    rc = epy__txn_wait_sync(&api->peer->txn, &t, deadline);
    atomic_fetch_sub(&api->peer->sync_calls, 1);
    epy_buf_clear(&scratch);
    if (rc == EPY_ETIMEDOUT)
        epy_error_setf(ret_err, rc, "call '%s' timed out after %lld ms", full,
                       (long long) s.timeout_ms);
    return rc;
}

/* Starts an asynchronous call with settings @s. */
static int
call_async(epy_api *api, const char *full, const settings *s,
           const epy__payload *p, const epy_call_opts *opts,
           epy_async **ret_async, epy_error *err)
{
    epy_async *a;
    int rc;

    a = calloc(1, sizeof *a);
    if (a == NULL)
        return epy_error_set(err, EPY_ENOMEM, NULL);
    epy__cond_init(&a->cond);
    a->peer = epy__peer_ref(api->peer);
    a->status = EPY_ASYNC_PENDING;
    a->txn.kind = EPY__TXN_ASYNC;
    a->txn.async = a;
    a->txn.deadline = epy__deadline(s->timeout_ms);
    if (opts != NULL) {
        a->callback = opts->callback;
        a->callback_ctx = opts->callback_ctx;
        a->sem = opts->sem;
    }
    a->user_handle = ret_async != NULL;
    /* The table's reference, and the caller's. */
    atomic_init(&a->refs, a->user_handle ? 2 : 1);
    rc = epy__txn_begin(&api->peer->txn, &a->txn);
    if (rc < 0)
        goto fail;
    rc = send_call(api, full, a->txn.id, s->timeout_ms, a->txn.deadline, p);
    if (rc < 0 && !epy__txn_abort(&api->peer->txn, &a->txn)) {
        /*
         * Retired while it was being sent (its deadline passed, or the
         * connection ended): its callback or semaphore has been told,
         * so the call is made, and has failed as its result says.
         */
        rc = 0;
    } else if (rc < 0) {
        goto fail;
    }
    if (ret_async != NULL)
        *ret_async = a;
    return 0;

fail:
    /* Never sent: no callback, no semaphore. */
    atomic_store(&a->refs, 1);
    epy__async_unref(a);
    return call_failed(rc, full, epy__payload_len(p), err);
}

/*
 * The common start of epy_api_call_async() and epy_api_invoke(): checks,
 * settings, and an unsolicited call sent as an event. Returns < 0 on
 * failure, 1 if the event was sent (nothing more to do), 0 to go on.
 */
static int
begin_async(epy_api *api, const char *method, const epy__payload *p,
            const epy_call_opts *opts, char *full, settings *s,
            epy_async **ret_async, epy_error *err)
{
    int rc;

    if (ret_async != NULL)
        *ret_async = NULL;
    rc = prepare(api, method, p->data, p->len, opts, full, s, err);
    if (rc < 0)
        return rc;
    if (!s->solicited) {
        rc = send_event(api, full, p, s->timeout_ms, err);
        return rc < 0 ? rc : 1;
    }
    if (ret_async == NULL && (opts == NULL || (opts->callback == NULL
                                               && opts->sem == NULL)))
        return epy_error_set(err, EPY_EPARAM,
                             "an async call needs a handle, a callback or a semaphore");
    return 0;
}

int
epy_api_call_async(epy_api *api, const char *method, const void *req,
                   size_t req_len, const epy_call_opts *opts,
                   epy_async **ret_async, epy_error *ret_err)
{
    epy__payload p = { .data = req, .len = req_len };

    return epy__api_call_async(api, method, &p, opts, ret_async, ret_err);
}

int
epy__api_call_async(epy_api *api, const char *method, const epy__payload *p,
                    const epy_call_opts *opts, epy_async **ret_async,
                    epy_error *ret_err)
{
    char full[EPY_NAME_MAX + 1];
    settings s;
    int rc;

    rc = begin_async(api, method, p, opts, full, &s, ret_async, ret_err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    return call_async(api, full, &s, p, opts, ret_async, ret_err);
}

int
epy_api_invoke(epy_api *api, const char *method, const void *req,
               size_t req_len, const epy_call_opts *opts,
               epy_async **ret_async, epy_error *ret_err)
{
    char full[EPY_NAME_MAX + 1];
    epy__payload p = { .data = req, .len = req_len };
    settings s;
    epy_async *a = NULL;
    bool sync;
    int rc;

    rc = begin_async(api, method, &p, opts, full, &s, ret_async, ret_err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    sync = s.mode == EPY_SYNC && (opts == NULL || opts->callback == NULL);
    rc = call_async(api, full, &s, &p, opts,
                    ret_async != NULL || sync ? &a : NULL, ret_err);
    if (rc < 0)
        return rc;
    /* A synchronous invocation blocks, unless a callback reports it. */
    if (sync)
        epy_async_wait(a, 0);
    if (ret_async != NULL)
        *ret_async = a;
    else
        epy_async_release(a);   /* completed: releasing cancels nothing */
    return 0;
}

int
epy_api_send(epy_api *api, const char *method, const void *req,
             size_t req_len, epy_error *ret_err)
{
    epy__payload p = { .data = req, .len = req_len };

    return epy__api_send(api, method, &p, ret_err);
}

int
epy__api_send(epy_api *api, const char *method, const epy__payload *p,
              epy_error *ret_err)
{
    char full[EPY_NAME_MAX + 1];
    settings s;
    int rc;

    rc = prepare(api, method, p->data, p->len, NULL, full, &s, ret_err);
    if (rc < 0)
        return rc;
    return send_event(api, full, p, s.timeout_ms, ret_err);
}
