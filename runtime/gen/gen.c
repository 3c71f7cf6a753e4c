/*
 * Support for the code idlc generates: typed calls, replies and errors
 * over the dynamic API, and handler tables. Values are converted by
 * gen-encode.c and gen-decode.c, on the layouts of gen-layout.c.
 *
 * Served handler tables are kept by the registry they are registered
 * in (the peer's, or the server's shared one), and freed with it when
 * they were never unserved.
 */
#include <config.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <epyrpc/gen.h>

#include "gen-int.h"
#include "net-int.h"

/* --- typed calls -------------------------------------------------------- */

/*
 * The arguments' message, built in *@s (free with
 * epy__gen_scratch_free()); the frame packs it in place. Its large
 * values go out of line as @peer (NULL: none) allows. Sets @ret_err on
 * failure.
 */
static int
build_args(epy__gen_scratch **s, const epy_gen_struct *st, const void *args,
           epy_peer *peer, epy__payload *p, const char *method,
           epy_error *ret_err)
{
    ProtobufCMessage *msg = NULL;
    epy__blob_policy pol;
    int rc;

    epy__peer_blob_policy(peer, &pol);
    rc = epy__gen_build_message_blobs(s, st, args, &pol, &msg);

    if (rc < 0)
        return epy_error_setf(ret_err, rc,
                              "%s: cannot encode the arguments: %s", method,
                              epy_strerror(rc));
    p->data = NULL;
    p->len = 0;
    p->msg = msg;
    p->deadline = 0;
    p->post = false;
    p->n_fds = epy__gen_scratch_fds(*s, &p->fds);
    p->n_blobs = epy__gen_scratch_blobs(*s, &p->blobs);
    return 0;
}

/* Why a received message was refused, for an error message. */
static const char *
decode_failure(int rc)
{
    return rc == EPY_ETOOBIG ? "exceeds the decoding budget"
                             : "does not decode";
}

/* The decoder of a synchronous typed call: the reply, into @value. */
typedef struct result_sink {
    const epy_gen_struct *st;
    void *value;                /* st->size bytes */
    bool bad;                   /* the reply did not decode */
} result_sink;

static int
decode_result(void *ctx, const uint8_t *data, size_t len, epy__fdset *fds)
{
    result_sink *r = ctx;
    int rc = epy__gen_decode_fds(r->st, data, data != NULL ? len : 0,
                                 r->value, fds);

    r->bad = rc < 0;
    return rc;
}

int
epy_gen_call(epy_api *api, const char *method, const epy_gen_struct *args_st,
             const void *args, const epy_call_opts *opts,
             const epy_gen_struct *result_st, void *ret_result,
             epy_error *ret_err)
{
    epy__gen_scratch *s = NULL;
    epy__payload req;
    result_sink sink = { result_st, NULL, false };
    bool typed = result_st != NULL && ret_result != NULL;
    int rc;

    if (api == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL api");
    rc = build_args(&s, args_st, args, epy_api_peer(api), &req, method,
                    ret_err);
    if (rc == 0 && typed) {
        /* Decoded aside, so that @ret_result is untouched on failure. */
        sink.value = malloc(result_st->size != 0 ? result_st->size : 1);
        if (sink.value == NULL)
            rc = epy_error_set(ret_err, EPY_ENOMEM, NULL);
    }
    if (rc == 0)
        rc = epy__api_call(api, method, &req, opts, NULL,
                           typed ? decode_result : NULL, &sink, ret_err);
    epy__gen_scratch_free(s);
    if (rc == 0 && typed)
        memcpy(ret_result, sink.value, result_st->size);
    else if (sink.bad)
        epy_error_setf(ret_err, rc, "%s: the reply %s", method,
                       decode_failure(rc));
    free(sink.value);
    return rc;
}

int
epy_gen_call_async(epy_api *api, const char *method,
                   const epy_gen_struct *args_st, const void *args,
                   const epy_call_opts *opts, epy_async **ret_async,
                   epy_error *ret_err)
{
    epy__gen_scratch *s = NULL;
    epy__payload req;
    int rc;

    if (api == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL api");
    rc = build_args(&s, args_st, args, epy_api_peer(api), &req, method,
                    ret_err);
    if (rc == 0)
        rc = epy__api_call_async(api, method, &req, opts, ret_async, ret_err);
    epy__gen_scratch_free(s);
    return rc;
}

int
epy_gen_send(epy_api *api, const char *method, const epy_gen_struct *args_st,
             const void *args, epy_error *ret_err)
{
    epy__gen_scratch *s = NULL;
    epy__payload req;
    int rc;

    if (api == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL api");
    rc = build_args(&s, args_st, args, epy_api_peer(api), &req, method,
                    ret_err);
    if (rc == 0)
        rc = epy__api_send(api, method, &req, ret_err);
    epy__gen_scratch_free(s);
    return rc;
}

int
epy_gen_result(epy_async *async, const epy_gen_struct *result_st,
               void *ret_result, epy_error *ret_err)
{
    const uint8_t *data;
    size_t len = 0;
    void *tmp;
    int rc;

    if (async == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL async handle");
    switch (epy_async_status_get(async)) {
    case EPY_ASYNC_PENDING:
        return epy_error_set(ret_err, EPY_EPENDING, NULL);
    case EPY_ASYNC_DONE:
        break;
    default:
        rc = epy_async_result(async, NULL, ret_err);
        return rc < 0 ? rc : epy_error_set(ret_err, EPY_EFAILED, NULL);
    }
    if (result_st == NULL || ret_result == NULL)
        return 0;
    data = epy_async_reply(async, &len);
    tmp = malloc(result_st->size != 0 ? result_st->size : 1);
    if (tmp == NULL)
        return epy_error_set(ret_err, EPY_ENOMEM, NULL);
    rc = epy__gen_decode_fds(result_st, data, data != NULL ? len : 0, tmp,
                             async->fds);
    if (rc == 0)
        memcpy(ret_result, tmp, result_st->size);
    else
        epy_error_setf(ret_err, rc, "the reply %s", decode_failure(rc));
    free(tmp);
    return rc;
}

/* --- the receiving side ------------------------------------------------- */

int
epy_gen_reply(epy_call *call, const epy_gen_struct *result_st,
              const void *result)
{
    epy__gen_scratch *s = NULL;
    ProtobufCMessage *msg = NULL;
    epy__payload p = { 0 };
    epy__blob_policy pol;
    int rc;

    if (call == NULL)
        return EPY_EPARAM;
    if (result_st == NULL || !epy_call_solicited(call))
        return epy_call_reply(call, NULL, 0);
    epy__peer_blob_policy(epy_call_peer(call), &pol);
    rc = epy__gen_build_message_blobs(&s, result_st, result, &pol, &msg);
    if (rc < 0) {
        epy__gen_scratch_free(s);
        epy_call_fail(call, rc, NULL, "cannot encode the result", NULL, 0);
        return rc;
    }
    p.msg = msg;
    p.n_fds = epy__gen_scratch_fds(s, &p.fds);
    p.n_blobs = epy__gen_scratch_blobs(s, &p.blobs);
    if (p.n_fds > 0 && !epy__peer_passes_fds(epy_call_peer(call))) {
        epy__gen_scratch_free(s);
        rc = EPY_EUNSUPPORTED;
        epy_call_fail(call, rc, NULL, "the result holds descriptors, which "
                      "cannot travel over this connection", NULL, 0);
        return rc;
    }
    rc = epy__call_reply_payload(call, &p);
    epy__gen_scratch_free(s);
    return rc;
}

int
epy_gen_decode_call(epy_call *call, const epy_gen_struct *st,
                    const void *data, size_t len, void *value)
{
    if (call == NULL)
        return epy_gen_decode(st, data, len, value);
    return epy__gen_decode_fds(st, data, len, value, call->fds);
}

int
epy_gen_finish(epy_call *call, int rc, const epy_gen_struct *result_st,
               void *result)
{
    int ret;

    if (rc == 0) {
        epy_gen_reply(call, result_st, result);
        ret = 0;
    } else if (rc == EPY_GEN_RAISED) {
        ret = 0;
    } else if (rc == EPY_DEFER || rc < 0) {
        ret = rc;
    } else {
        ret = EPY_EFAILED;
    }
    if (result_st != NULL && result != NULL)
        epy_gen_clear(result_st, result);
    return ret;
}

int
epy_gen_raise(epy_call *call, const char *type_name,
              const epy_gen_struct *st, const void *value,
              const char *message)
{
    epy_buf out = EPY_BUF_INIT;
    int rc;

    if (call == NULL)
        return EPY_GEN_RAISED;
    rc = value != NULL ? epy_gen_encode(st, value, &out) : 0;
    if (rc < 0)
        epy_call_fail(call, rc, type_name, "cannot encode the error", NULL,
                      0);
    else
        epy_call_fail(call, EPY_EFAILED, type_name,
                      message != NULL ? message : type_name, out.data,
                      out.len);
    epy_buf_clear(&out);
    return EPY_GEN_RAISED;
}

int
epy_gen_error_get(const epy_error *err, const char *type_name,
                  const epy_gen_struct *st, void *ret_value)
{
    if (err == NULL || type_name == NULL || st == NULL || ret_value == NULL)
        return EPY_EPARAM;
    if (err->type == NULL || strcmp(err->type, type_name) != 0)
        return EPY_ENOTFOUND;
    return epy_gen_decode(st, err->payload, err->payload_len, ret_value);
}

/* --- handler tables ----------------------------------------------------- */

/* A served handler table: on one peer, or on every client of a server. */
typedef struct served {
    epy_peer *peer;
    epy_server *server;
    char *ns;
    char **names;
    size_t n_names;
    void *closure;
} served;

static void
served_free(served *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i]);
    free(s->names);
    free(s->ns);
    free(s->closure);
    free(s);
}

static int
served_handle(served *s, const char *name, epy_handler_fn fn)
{
    return s->server != NULL
           ? epy_server_handle(s->server, name, fn, s->closure, NULL)
           : epy_peer_handle(s->peer, name, fn, s->closure, NULL);
}

static int
served_declare(served *s, bool serve)
{
    return s->server != NULL
           ? epy_server_serve_ns(s->server, s->ns, serve, NULL)
           : epy_peer_serve_ns(s->peer, s->ns, serve, NULL);
}

static void
served_undo(served *s)
{
    for (size_t i = 0; i < s->n_names; i++)
        served_handle(s, s->names[i], NULL);
    served_declare(s, false);
}

static void
served_free_any(void *s)
{
    served_free(s);
}

static epy__registry *
served_registry(const served *s)
{
    return s->server != NULL ? epy__server_registry(s->server)
                             : s->peer->reg;
}

/* Registers @h on @s's peer or server; @s is freed on failure. */
static int
serve(served *s, const epy_gen_handler *h, size_t n)
{
    size_t nslen = strlen(s->ns);
    int rc = served_declare(s, true);

    if (rc < 0) {
        served_free(s);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        size_t mlen;
        char *name;

        if (h[i].fn == NULL)
            continue;
        mlen = strlen(h[i].method);
        name = malloc(nslen + 1 + mlen + 1);
        if (name == NULL) {
            rc = EPY_ENOMEM;
            break;
        }
        memcpy(name, s->ns, nslen);
        name[nslen] = '.';
        memcpy(name + nslen + 1, h[i].method, mlen + 1);
        rc = served_handle(s, name, h[i].fn);
        if (rc < 0) {
            free(name);
            break;
        }
        s->names[s->n_names++] = name;
    }
    if (rc < 0) {
        served_undo(s);
        served_free(s);
        return rc;
    }
    /* Kept by the registry: freed with it if never unserved. */
    rc = epy__registry_keep(served_registry(s), s, served_free_any);
    if (rc < 0) {
        served_undo(s);
        served_free(s);
    }
    return rc;
}

/* A record for @ns, or NULL (@closure freed) on EPY_ENOMEM. */
static served *
served_new(const char *ns, size_t n, void *closure)
{
    served *s = calloc(1, sizeof *s);

    if (s == NULL) {
        free(closure);
        return NULL;
    }
    s->closure = closure;
    s->ns = strdup(ns);
    s->names = calloc(n != 0 ? n : 1, sizeof *s->names);
    if (s->ns == NULL || s->names == NULL) {
        served_free(s);
        return NULL;
    }
    return s;
}

int
epy_gen_serve(epy_peer *peer, const char *ns, const epy_gen_handler *h,
              size_t n, void *closure)
{
    served *s;

    if (peer == NULL || ns == NULL || (h == NULL && n > 0)) {
        free(closure);
        return EPY_EPARAM;
    }
    s = served_new(ns, n, closure);
    if (s == NULL)
        return EPY_ENOMEM;
    s->peer = peer;
    return serve(s, h, n);
}

int
epy_gen_serve_server(epy_server *server, const char *ns,
                     const epy_gen_handler *h, size_t n, void *closure)
{
    served *s;

    if (server == NULL || ns == NULL || (h == NULL && n > 0)) {
        free(closure);
        return EPY_EPARAM;
    }
    s = served_new(ns, n, closure);
    if (s == NULL)
        return EPY_ENOMEM;
    s->server = server;
    return serve(s, h, n);
}

static bool
served_is(void *ptr, void *ctx)
{
    return strcmp(((served *) ptr)->ns, ctx) == 0;
}

/* Takes the record of @ns off the registry of @peer or @server. */
static int
unserve(epy_peer *peer, epy_server *server, const char *ns)
{
    served *s;

    if ((peer == NULL && server == NULL) || ns == NULL)
        return EPY_EPARAM;
    s = epy__registry_take(peer != NULL ? peer->reg
                           : epy__server_registry(server), served_is,
                           (void *) ns);
    if (s == NULL)
        return EPY_ENOTFOUND;
    served_undo(s);
    served_free(s);
    return 0;
}

int
epy_gen_unserve(epy_peer *peer, const char *ns)
{
    return peer != NULL ? unserve(peer, NULL, ns) : EPY_EPARAM;
}

int
epy_gen_unserve_server(epy_server *server, const char *ns)
{
    return server != NULL ? unserve(NULL, server, ns) : EPY_EPARAM;
}

/* --- events to clients -------------------------------------------------- */

int
epy_gen_post(epy_peer *peer, const char *method, const epy_gen_struct *args_st,
             const void *args, epy_error *ret_err)
{
    epy__gen_scratch *s = NULL;
    epy__payload p;
    int rc;

    if (peer == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL peer");
    rc = build_args(&s, args_st, args, peer, &p, method, ret_err);
    if (rc == 0)
        rc = epy__peer_post_payload(peer, method, &p, ret_err);
    epy__gen_scratch_free(s);
    return rc;
}

int
epy_gen_broadcast(epy_server *server, const char *method,
                  const epy_gen_struct *args_st, const void *args,
                  epy_error *ret_err)
{
    epy__gen_scratch *s = NULL;
    epy__payload p;
    int rc;

    if (server == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL server");
    /* Each client its own frame: the values travel in it. */
    rc = build_args(&s, args_st, args, NULL, &p, method, ret_err);
    if (rc == 0)
        rc = epy__server_broadcast_payload(server, method, &p, ret_err);
    epy__gen_scratch_free(s);
    return rc;
}

/* --- settings ----------------------------------------------------------- */

int
epy_gen_apply(epy_api *api, int64_t timeout_ms, int solicited, int mode)
{
    int rc = 0;

    if (timeout_ms != EPY_INHERIT)
        rc = epy_api_set_timeout(api, timeout_ms);
    if (rc == 0 && solicited >= 0)
        rc = epy_api_set_solicited(api, solicited);
    if (rc == 0 && mode >= 0)
        rc = epy_api_set_mode(api, mode);
    return rc;
}

const epy_call_opts *
epy_gen_opts(const epy_call_opts *opts, int64_t timeout_ms, int solicited,
             epy_call_opts *out)
{
    static const epy_call_opts init = EPY_CALL_OPTS_INIT;

    *out = opts != NULL ? *opts : init;
    if (out->timeout_ms == EPY_INHERIT)
        out->timeout_ms = timeout_ms;
    if (out->solicited < 0)
        out->solicited = solicited;
    return out;
}
