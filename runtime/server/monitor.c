/*
 * epyrpc.monitor: a server's tap on its clients' traffic.
 *
 * A client allowed by epy_server_config.monitor calls
 * epyrpc.monitor.start(snap); from then on every frame that crosses the
 * connection of another client is reported to it as the event
 * epyrpc.monitor.frame (runtime/wire/introspect.proto), posted without
 * waiting (epy_peer_post_event()): a monitor that does not keep up loses
 * frames, counted in the next report's `dropped`, and never slows the
 * server. Frames of monitoring clients are not reported.
 *
 * The peers call epy__tap.frame from their readers and writers with no
 * lock held. The monitor's lock guards its list of monitors and its
 * table of calls seen (for the method and duration of their replies): a
 * fixed table where a newer call overwrites an older one that hashes
 * alike, so that its memory stays bounded whatever the clients do.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server-int.h"
#include "introspect.pb-c.h"

#define CALLS 4096              /* slots of the call table (power of 2) */
#define MAX_WATCHERS 16         /* monitors at once: each costs a copy of
                                 * every frame */
#define SNAP_DEFAULT 65536      /* bytes of each frame kept, by default */

typedef struct watcher {
    struct watcher *next;
    epy_peer *peer;             /* held */
    uint32_t snap;
    uint64_t dropped;
} watcher;

typedef struct seen_call {
    const epy_peer *peer;       /* compared, never used */
    uint64_t txn;
    bool in;                    /* the call was received */
    int64_t at;                 /* monotonic ns */
    char *method;
} seen_call;

struct epy__monitor {
    epy__tap tap;
    epy_server *srv;
    pthread_mutex_t lock;
    watcher *watchers;
    seen_call *calls;           /* CALLS slots, made by the first start */
};

static size_t
slot(const epy_peer *peer, uint64_t txn, bool in)
{
    uint64_t h = (uint64_t) (uintptr_t) peer * UINT64_C(0x9e3779b97f4a7c15)
                 ^ txn * UINT64_C(0xc2b2ae3d27d4eb4f) ^ (in ? 1 : 0);

    return (size_t) (h ^ h >> 29) & (CALLS - 1);
}

/*
 * Notes a call (CALL frames), or finds the call a REPLY or ERROR
 * answers: its method (copied into @method) and how long ago it was
 * seen, or -1. Under the lock.
 */
static int64_t
track(epy__monitor *m, const epy_peer *peer, bool in,
      const Epyrpc__Envelope *env, int64_t now, char **method)
{
    seen_call *c;

    if (m->calls == NULL || !env->has_txn)
        return -1;
    if (env->kind == EPYRPC__KIND__CALL) {
        c = &m->calls[slot(peer, env->txn, in)];
        free(c->method);
        c->method = env->method != NULL ? strdup(env->method) : NULL;
        c->peer = peer;
        c->txn = env->txn;
        c->in = in;
        c->at = now;
        return -1;
    }
    if (env->kind != EPYRPC__KIND__REPLY && env->kind != EPYRPC__KIND__ERROR)
        return -1;
    /* An answer goes the other way from its call. */
    c = &m->calls[slot(peer, env->txn, !in)];
    if (c->peer != peer || c->txn != env->txn || c->in == in || c->at == 0)
        return -1;
    int64_t took = (now - c->at) / 1000;

    *method = c->method;
    c->method = NULL;
    c->peer = NULL;
    c->at = 0;
    return took;
}

static int64_t
now_realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
on_frame(void *ctx, epy_peer *peer, bool in, const Epyrpc__Envelope *env,
         const struct iovec *iov, int n, size_t total)
{
    epy__monitor *m = ctx;
    Epyrpc__MonitorFrame f = EPYRPC__MONITOR_FRAME__INIT;
    Epyrpc__MonitorFrameArgs args = EPYRPC__MONITOR_FRAME_ARGS__INIT;
    watcher *list = NULL, **tail = &list;
    char *answered = NULL;
    uint32_t snap = 0;
    uint8_t *data = NULL, *packed = NULL;
    size_t len = 0;
    int64_t mono = epy__now_ns();

    if (atomic_load(&peer->monitoring))
        return;
    /* Who watches, held, with the biggest snap length among them. */
    pthread_mutex_lock(&m->lock);
    f.duration_us = track(m, peer, in, env, mono, &answered);
    for (watcher *w = m->watchers; w != NULL; w = w->next) {
        watcher *copy = malloc(sizeof *copy);

        if (copy == NULL) {
            w->dropped++;
            continue;
        }
        *copy = *w;
        copy->next = NULL;
        copy->peer = epy__peer_ref(w->peer);
        copy->dropped = w->dropped;
        w->dropped = 0;
        *tail = copy;
        tail = &copy->next;
        if (copy->snap > snap)
            snap = copy->snap;
    }
    pthread_mutex_unlock(&m->lock);
    if (list == NULL) {
        free(answered);
        return;
    }

    f.has_time_ns = f.has_incoming = f.has_client = f.has_pid = f.has_uid =
        f.has_kind = f.has_size = f.has_duration_us = f.has_data = true;
    f.time_ns = (uint64_t) now_realtime_ns();
    f.incoming = in;
    f.client = peer->client_id;
    f.pid = peer->has_cred && peer->cred.pid > 0 ? (int32_t) peer->cred.pid : 0;
    f.uid = peer->has_cred && peer->cred.uid >= 0 ? (uint32_t) peer->cred.uid
                                                  : 0;
    f.kind = (uint32_t) env->kind;
    f.method = env->method != NULL ? env->method : answered;
    f.has_txn = env->has_txn;
    f.txn = env->txn;
    f.size = total;
    if (env->kind == EPYRPC__KIND__REPLY || env->kind == EPYRPC__KIND__ERROR) {
        f.has_status = true;
        f.status = env->kind == EPYRPC__KIND__REPLY ? 0 : env->code;
    }
    len = total < snap ? total : snap;
    data = malloc(len > 0 ? len : 1);
    if (data != NULL) {
        size_t k = 0;

        for (int i = 0; i < n && k < len; i++) {
            size_t c = iov[i].iov_len < len - k ? iov[i].iov_len : len - k;

            memcpy(data + k, iov[i].iov_base, c);
            k += c;
        }
    }
    args.f = &f;
    while (list != NULL) {
        watcher *w = list;
        size_t plen;
        int rc = EPY_ENOMEM;

        list = w->next;
        f.data.data = data;
        f.data.len = data != NULL ? (len < w->snap ? len : w->snap) : 0;
        f.has_dropped = w->dropped > 0;
        f.dropped = w->dropped;
        plen = epyrpc__monitor_frame_args__get_packed_size(&args);
        packed = data != NULL ? malloc(plen > 0 ? plen : 1) : NULL;
        if (packed != NULL) {
            epyrpc__monitor_frame_args__pack(&args, packed);
            rc = epy_peer_post_event(w->peer, EPY__BUILTIN_NS ".monitor.frame",
                                     packed, plen, NULL);
            free(packed);
        }
        if (rc < 0) {
            /* Counted with the watcher, if it still watches. */
            pthread_mutex_lock(&m->lock);
            for (watcher *v = m->watchers; v != NULL; v = v->next)
                if (v->peer == w->peer)
                    v->dropped += 1 + w->dropped;
            pthread_mutex_unlock(&m->lock);
        }
        epy__peer_unref(w->peer);
        free(w);
    }
    free(data);
    free(answered);
}

static bool
allowed(const epy__monitor *m, const epy_peer *peer)
{
    if (m->srv->cfg.monitor == EPY_MONITOR_ANY)
        return true;
    return m->srv->cfg.monitor == EPY_MONITOR_OWNER && peer->has_cred
           && (peer->cred.uid == 0 || peer->cred.uid == (long) m->srv->euid);
}

static int
on_start(void *ctx, epy_peer *peer, uint32_t snap)
{
    epy__monitor *m = ctx;
    watcher *w;

    if (!allowed(m, peer))
        return EPY_EPERM;
    pthread_mutex_lock(&m->lock);
    for (w = m->watchers; w != NULL; w = w->next)
        if (w->peer == peer)
            break;
    if (w == NULL) {
        size_t n = 0;

        for (watcher *v = m->watchers; v != NULL; v = v->next)
            n++;
        if (n >= MAX_WATCHERS) {
            pthread_mutex_unlock(&m->lock);
            return EPY_EBUSY;
        }
        if (m->calls == NULL)
            m->calls = calloc(CALLS, sizeof *m->calls);
        w = m->calls != NULL ? calloc(1, sizeof *w) : NULL;
        if (w == NULL) {
            pthread_mutex_unlock(&m->lock);
            return EPY_ENOMEM;
        }
        w->peer = epy__peer_ref(peer);
        w->next = m->watchers;
        m->watchers = w;
        atomic_store(&peer->monitoring, true);
        atomic_fetch_add(&m->tap.active, 1);
    }
    w->snap = snap > 0 ? snap : SNAP_DEFAULT;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int
on_stop(void *ctx, epy_peer *peer)
{
    epy__monitor_forget(ctx, peer);
    return 0;
}

void
epy__monitor_forget(epy__monitor *m, epy_peer *peer)
{
    watcher *gone = NULL;

    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    for (watcher **pp = &m->watchers; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->peer == peer) {
            gone = *pp;
            *pp = gone->next;
            atomic_fetch_sub(&m->tap.active, 1);
            break;
        }
    pthread_mutex_unlock(&m->lock);
    if (gone != NULL) {
        epy__peer_unref(gone->peer);
        free(gone);
    }
}

epy__monitor *
epy__monitor_new(epy_server *srv)
{
    epy__monitor *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    m->srv = srv;
    m->tap.frame = on_frame;
    m->tap.start = on_start;
    m->tap.stop = on_stop;
    m->tap.ctx = m;
    atomic_init(&m->tap.active, 0);
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

const epy__tap *
epy__monitor_tap(const epy__monitor *m)
{
    return m != NULL ? &m->tap : NULL;
}

void
epy__monitor_free(epy__monitor *m)
{
    if (m == NULL)
        return;
    while (m->watchers != NULL)
        epy__monitor_forget(m, m->watchers->peer);
    for (size_t i = 0; m->calls != NULL && i < CALLS; i++)
        free(m->calls[i].method);
    free(m->calls);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
