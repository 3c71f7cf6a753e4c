/*
 * The built-in services every peer offers in the reserved root namespace
 * "epyrpc" (runtime/wire/introspect.proto, doc/wire.md):
 *
 *   epyrpc.introspect.interfaces(sources)  the interfaces of the config
 *   epyrpc.introspect.about()              library and protocol version
 *   epyrpc.introspect.ping()               an empty answer
 *   epyrpc.monitor.start(snap), stop()     a server's tap (server/monitor.c,
 *                                          through the peer's epy__tap)
 *
 * They run where a handler would (a worker, or process() in a thread-less
 * loop) for calls no handler takes: user handlers cannot be registered in
 * the namespace (registry.c refuses it).
 */
#include <config.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <epyrpc/gen.h>
#include <epyrpc/version.h>

#include "peer-int.h"
#include "introspect.pb-c.h"

struct epy__intro {
    atomic_int refs;
    uint8_t *brief;             /* packed interfaces_result, no sources */
    size_t brief_len;
    uint8_t *full;              /* ... with the sources */
    size_t full_len;
};

bool
epy__builtin_name(const char *name)
{
    size_t n = strlen(EPY__BUILTIN_NS);

    return name != NULL && strncmp(name, EPY__BUILTIN_NS, n) == 0
           && (name[n] == '\0' || name[n] == '.');
}

/* Pieces, NULL last, joined into one string; "" for NULL. */
static char *
join(const char *const *pieces)
{
    size_t n = 0;
    char *s;

    for (size_t i = 0; pieces != NULL && pieces[i] != NULL; i++)
        n += strlen(pieces[i]);
    s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    n = 0;
    for (size_t i = 0; pieces != NULL && pieces[i] != NULL; i++) {
        size_t k = strlen(pieces[i]);

        memcpy(s + n, pieces[i], k);
        n += k;
    }
    s[n] = '\0';
    return s;
}

/* --- details of interfaces, described by generated code ------------------------ */

typedef struct known {
    struct known *next;
    const epy_gen_details *d;
} known;

static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static known *known_list;

void
epy_gen_describe(const epy_gen_details *d)
{
    known *k;

    if (d == NULL || d->name == NULL || d->fingerprint == NULL)
        return;
    pthread_mutex_lock(&known_lock);
    for (k = known_list; k != NULL && k->d != d; k = k->next)
        ;
    if (k == NULL && (k = malloc(sizeof *k)) != NULL) {
        k->d = d;
        k->next = known_list;
        known_list = k;
    }
    pthread_mutex_unlock(&known_lock);
}

void
epy_gen_undescribe(const epy_gen_details *d)
{
    known *gone = NULL;

    pthread_mutex_lock(&known_lock);
    for (known **pp = &known_list; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->d == d) {
            gone = *pp;
            *pp = gone->next;
            break;
        }
    pthread_mutex_unlock(&known_lock);
    free(gone);
}

/* The details of @in, or NULL. Under known_lock. */
static const epy_gen_details *
details_of(const epy_interface *in)
{
    for (known *k = known_list; k != NULL; k = k->next)
        if (strcmp(k->d->name, in->name) == 0
            && strcmp(k->d->fingerprint, in->fingerprint) == 0)
            return k->d;
    return NULL;
}

/* Packs the interfaces_result of @ifaces, with their sources or not. */
static uint8_t *
pack_interfaces(const epy_interface *ifaces, size_t n, bool sources,
                size_t *ret_len)
{
    Epyrpc__IntrospectInterfacesResult res =
        EPYRPC__INTROSPECT_INTERFACES_RESULT__INIT;
    Epyrpc__IntrospectInterface *items, **ptrs;
    Epyrpc__IntrospectSource *srcs = NULL, **sptrs = NULL;
    size_t n_src = 0, k = 0;
    uint8_t *out = NULL;
    bool ok = true;

    pthread_mutex_lock(&known_lock);
    for (size_t i = 0; sources && i < n; i++) {
        const epy_gen_details *d = details_of(&ifaces[i]);

        n_src += d != NULL && d->sources != NULL ? d->n_sources : 0;
    }
    items = calloc(n + 1, sizeof *items);
    ptrs = calloc(n + 1, sizeof *ptrs);
    if (n_src > 0) {
        srcs = calloc(n_src, sizeof *srcs);
        sptrs = calloc(n_src, sizeof *sptrs);
    }
    if (items == NULL || ptrs == NULL
        || (n_src > 0 && (srcs == NULL || sptrs == NULL)))
        goto done;      /* (unlocks) */
    for (size_t i = 0; i < n; i++) {
        const epy_interface *in = &ifaces[i];
        const epy_gen_details *d = details_of(in);
        Epyrpc__IntrospectInterface *it = &items[i];

        epyrpc__introspect_interface__init(it);
        ptrs[i] = it;
        it->name = (char *) in->name;
        it->fingerprint = (char *) in->fingerprint;
        it->description = join(in->text);
        it->types = join(d != NULL ? d->types : NULL);
        ok = ok && it->description != NULL && it->types != NULL;
        if (!sources || d == NULL || d->sources == NULL)
            continue;
        it->sources = &sptrs[k];
        for (size_t j = 0; j < d->n_sources; j++, k++) {
            epyrpc__introspect_source__init(&srcs[k]);
            sptrs[k] = &srcs[k];
            srcs[k].name = (char *) (d->sources[j].name != NULL
                                     ? d->sources[j].name : "");
            srcs[k].text = join(d->sources[j].text);
            ok = ok && srcs[k].text != NULL;
            it->n_sources++;
        }
    }
    if (ok) {
        res.n_value = n;
        res.value = ptrs;
        *ret_len = epyrpc__introspect_interfaces_result__get_packed_size(&res);
        out = malloc(*ret_len > 0 ? *ret_len : 1);
        if (out != NULL)
            epyrpc__introspect_interfaces_result__pack(&res, out);
    }
done:
    pthread_mutex_unlock(&known_lock);
    for (size_t i = 0; items != NULL && i < n; i++) {
        free(items[i].description);
        free(items[i].types);
    }
    for (size_t j = 0; j < k; j++)
        free(srcs[j].text);
    free(items);
    free(ptrs);
    free(srcs);
    free(sptrs);
    return out;
}

epy__intro *
epy__intro_new(const epy_interface *ifaces, size_t n)
{
    epy__intro *in = calloc(1, sizeof *in);

    if (in == NULL)
        return NULL;
    atomic_init(&in->refs, 1);
    in->brief = pack_interfaces(ifaces, n, false, &in->brief_len);
    in->full = pack_interfaces(ifaces, n, true, &in->full_len);
    if (in->brief == NULL || in->full == NULL) {
        epy__intro_unref(in);
        return NULL;
    }
    return in;
}

epy__intro *
epy__intro_ref(epy__intro *in)
{
    if (in != NULL)
        atomic_fetch_add(&in->refs, 1);
    return in;
}

void
epy__intro_unref(epy__intro *in)
{
    if (in == NULL || atomic_fetch_sub(&in->refs, 1) != 1)
        return;
    free(in->brief);
    free(in->full);
    free(in);
}

/* --- the calls ------------------------------------------------------------ */

static void
reply_message(epy_call *call, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t stack[256], *buf = len <= sizeof stack ? stack : malloc(len);

    if (buf == NULL) {
        epy_call_fail(call, EPY_ENOMEM, NULL, NULL, NULL, 0);
        return;
    }
    protobuf_c_message_pack(msg, buf);
    epy_call_reply(call, buf, len);
    if (buf != stack)
        free(buf);
}

static void
introspect(epy_call *call, const char *what)
{
    epy__intro *in = call->peer->intro;

    if (strcmp(what, "interfaces") == 0) {
        Epyrpc__IntrospectInterfacesArgs *a =
            epyrpc__introspect_interfaces_args__unpack(NULL, call->req_len,
                                                       call->req);
        bool full;

        if (a == NULL) {
            epy_call_fail(call, EPY_EPROTO, NULL,
                          "undecodable arguments", NULL, 0);
            return;
        }
        full = a->has_sources && a->sources;
        epyrpc__introspect_interfaces_args__free_unpacked(a, NULL);
        epy_call_reply(call, full ? in->full : in->brief,
                       full ? in->full_len : in->brief_len);
    } else if (strcmp(what, "about") == 0) {
        Epyrpc__IntrospectAboutResult r = EPYRPC__INTROSPECT_ABOUT_RESULT__INIT;
        Epyrpc__IntrospectInfo info = EPYRPC__INTROSPECT_INFO__INIT;
        const epy__tap *t = call->peer->tap;

        info.version = (char *) EPY_VERSION_STRING;
        info.has_protocol = true;
        info.protocol = EPY_PROTOCOL_VERSION;
        info.has_monitor = true;
        info.monitor = t != NULL && t->start != NULL;
        r.value = &info;
        reply_message(call, &r.base);
    } else {    /* ping */
        epy_call_reply(call, NULL, 0);
    }
}

static void
monitor(epy_call *call, const char *what)
{
    const epy__tap *t = call->peer->tap;
    int rc;

    if (t == NULL || t->start == NULL) {
        epy_call_fail(call, EPY_EUNSUPPORTED, NULL,
                      "this peer offers no monitoring", NULL, 0);
        return;
    }
    if (strcmp(what, "start") == 0) {
        Epyrpc__MonitorStartArgs *a =
            epyrpc__monitor_start_args__unpack(NULL, call->req_len, call->req);

        if (a == NULL) {
            epy_call_fail(call, EPY_EPROTO, NULL,
                          "undecodable arguments", NULL, 0);
            return;
        }
        rc = t->start(t->ctx, call->peer, a->has_snap ? a->snap : 0);
        epyrpc__monitor_start_args__free_unpacked(a, NULL);
    } else {
        rc = t->stop(t->ctx, call->peer);
    }
    if (rc == 0)
        epy_call_reply(call, NULL, 0);
    else
        epy_call_fail(call, rc, NULL, rc == EPY_EPERM
                      ? "monitoring is not allowed to this client"
                      : rc == EPY_EBUSY ? "too many monitors at once" : NULL,
                      NULL, 0);
}

bool
epy__builtin_call(epy_call *call)
{
    static const char intro[] = EPY__BUILTIN_NS ".introspect.";
    static const char mon[] = EPY__BUILTIN_NS ".monitor.";
    const char *m = call->method;

    if (strncmp(m, intro, sizeof intro - 1) == 0 && call->peer->intro != NULL) {
        m += sizeof intro - 1;
        if (strcmp(m, "interfaces") != 0 && strcmp(m, "about") != 0
            && strcmp(m, "ping") != 0)
            return false;
        if (call->solicited)
            introspect(call, m);
        return true;
    }
    if (strncmp(m, mon, sizeof mon - 1) == 0 && call->peer->tap != NULL) {
        m += sizeof mon - 1;
        if (strcmp(m, "start") != 0 && strcmp(m, "stop") != 0)
            return false;
        if (call->solicited)
            monitor(call, m);
        return true;
    }
    return false;
}
