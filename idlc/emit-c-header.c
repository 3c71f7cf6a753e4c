/*
 * idlc: the C header generator, file.epy.h: the client's api types and
 * stubs, the server's handler tables, the file around them (the types
 * are emit-c-types.c's). See emit-c.c.
 */
#include <config.h>

#include <inttypes.h>
#include <string.h>

#include "emit-c-int.h"

/* --- header: client ------------------------------------------------------------ */

/* A name for a generated parameter that no IDL parameter uses. */
const char *
cg_gname(cgen *g, const idlc_decl *m, const char *base)
{
    const char *n = base;

    for (;;) {
        bool clash = false;

        for (const idlc_field *f = m != NULL ? m->fields : NULL; f != NULL;
             f = f->next)
            if (strcmp(f->name, n) == 0)
                clash = true;
        if (!clash)
            return n;
        n = idlc_printf(&g->ctx->arena, "%s_", n);
    }
}

static const char *
settings_text(cgen *g, const idlc_settings *s)
{
    const char *t = s->timeout_ms == 0 ? "no timeout"
        : idlc_printf(&g->ctx->arena, "timeout %" PRId64 " ms",
                      s->timeout_ms);

    return idlc_printf(&g->ctx->arena, "%s, %s, %s", t,
                       s->async ? "async" : "sync",
                       s->solicited ? "solicited" : "unsolicited");
}

static void
api_protos(cgen *g, const idlc_decl *d)
{
    const char *c;

    if (d->kind != DK_NAMESPACE || !cg_mine(g, d))
        return;
    c = d->cname;
    cg_doc_block(g, idlc_printf(&g->ctx->arena, "%s_api - namespace %s on a "
                             "peer (an epy_api; defaults: %s).", c, d->qname,
                             settings_text(g, &d->eff)), d->doc, "");
    P("typedef struct %s_api %s_api;\n\n", c, c);
    P("/*\n * %s_api_open - open namespace \"%s\" on @peer, with the IDL's\n"
      " * defaults. Release with %s_api_close().\n"
      " * Returns 0 or as epy_api_open().\n"
      " * Thread safety: any thread.\n */\n", c, d->qname, c);
    P("int %s_api_open(epy_peer *peer, %s_api **ret_api, epy_error *ret_err);"
      "\n\n", c, c);
    if (d->parent != &g->ctx->root) {
        const char *pc = d->parent->cname;

        P("/*\n * %s_api_child - open \"%s\" as the child \"%s\" of @parent:\n"
          " * it inherits the parent's defaults except those the IDL sets on\n"
          " * it. Release with %s_api_close().\n"
          " * Returns 0 or as epy_api_child().\n"
          " * Thread safety: any thread.\n */\n", c, d->qname, d->name, c);
        P("int %s_api_child(%s_api *parent, %s_api **ret_api, "
          "epy_error *ret_err);\n\n", c, pc, c);
    }
    P("/* Releases @api (NULL is accepted); returns NULL. */\n"
      "%s_api *%s_api_close(%s_api *api);\n\n", c, c, c);
    P("/*\n * %s_api_raw - the underlying epy_api (borrowed), to change\n"
      " * defaults with epy_api_set_timeout() and the like.\n */\n"
      "epy_api *%s_api_raw(%s_api *api);\n\n", c, c, c);
}

/* The IDL parameters as a C parameter list tail: ", int64_t a, ...". */
const char *
cg_in_params(cgen *g, const idlc_decl *m)
{
    idlc_buf b = { NULL, 0, 0 };
    const char *r;

    for (const idlc_field *f = m->fields; f != NULL; f = f->next)
        idlc_buf_printf(&b, ", %s", cg_in_decl(g, f->type, f->name));
    r = idlc_strdup(&g->ctx->arena, b.data != NULL ? b.data : "");
    idlc_buf_free(&b);
    return r;
}

const char *
cg_result_param(cgen *g, const idlc_decl *m)
{
    if (m->result->kind == TK_VOID)
        return "";
    return idlc_printf(&g->ctx->arena, ", %s",
                       cg_out_decl(g, m->result, cg_gname(g, m, "ret_result")));
}

static void
method_protos(cgen *g, const idlc_decl *m)
{
    const char *c, *ns, *api, *err, *opts, *params, *res;

    if ((m->kind != DK_METHOD && m->kind != DK_EVENT) || !cg_mine(g, m))
        return;
    c = m->cname;
    ns = m->parent->cname;
    api = cg_gname(g, m, "api");
    err = cg_gname(g, m, "ret_err");
    opts = cg_gname(g, m, "opts");
    params = cg_in_params(g, m);
    res = cg_result_param(g, m);
    if (m->kind == DK_EVENT) {
        cg_doc_block_ex(g, idlc_printf(&g->ctx->arena, "%s_send - send event "
                                    "%s.", c, m->qname), m->doc,
                     " * Returns 0 once sent, or as epy_api_send().\n"
                     " * Thread safety: any thread.\n", "");
        P("int %s_send(%s_api *%s%s, epy_error *%s);\n\n", c, ns, api, params,
          err);
        P("/*\n * %s_post - send event %s to the other end of @%s (a\n"
          " * server's client: epy_call_peer(), on_connect) without waiting:\n"
          " * queued, as epy_peer_post_event().\n */\n", c, m->qname,
          cg_gname(g, m, "peer"));
        P("int %s_post(epy_peer *%s%s, epy_error *%s);\n\n", c,
          cg_gname(g, m, "peer"), params, err);
        P("/*\n * %s_broadcast - send event %s to every client of @%s\n"
          " * without waiting for any (epy_server_broadcast()). Returns the\n"
          " * number of clients it was queued for, or a negative EPY_E* code.\n"
          " */\n", c, m->qname, cg_gname(g, m, "server"));
        P("int %s_broadcast(epy_server *%s%s, epy_error *%s);\n\n", c,
          cg_gname(g, m, "server"), params, err);
        return;
    }
    if (m->eff.solicited == 0) {
        /* unsolicited (void only: sema refuses the others) */
        cg_doc_block_ex(g, idlc_printf(&g->ctx->arena, "%s - send %s as an "
                                       "event (the IDL makes it "
                                       "unsolicited): no reply, no result.",
                                       c, m->qname),
                        m->doc, " * Returns 0 once sent, or as "
                        "epy_api_send(). Thread safety: any thread.\n", "");
        P("int %s(%s_api *%s%s, epy_error *%s);\n\n", c, ns, api, params,
          err);
    } else if (m->eff.async == 1) {
        cg_doc_block_ex(g, idlc_printf(&g->ctx->arena, "%s - start %s "
                                       "without waiting (the IDL makes it "
                                       "async; %s).", c, m->qname,
                                       settings_text(g, &m->eff)),
                        m->doc, idlc_printf(&g->ctx->arena,
                        " * *@%s receives the call's handle: wait for it or "
                        "poll it\n * (epy_async_wait(), "
                        "epy_async_status_get()), read the outcome\n"
                        " * with %s_result(), release it with "
                        "epy_async_release().\n * %s_opts() waits for the "
                        "%s instead.\n * Returns 0 or a negative EPY_E* code "
                        "(see epy_api_call_async()).\n"
                        " * Thread safety: any thread.\n",
                        cg_gname(g, m, "ret_async"), c, c,
                        m->result->kind == TK_VOID ? "answer" : "result"), "");
        P("int %s(%s_api *%s%s, epy_async **%s, epy_error *%s);\n\n", c, ns,
          api, params, cg_gname(g, m, "ret_async"), err);
    } else {
        idlc_buf extra = { NULL, 0, 0 };
        const char *owner = NULL;

        if (m->result->kind != TK_VOID && cg_clear_stmt(g, m->result, "x"))
            owner = m->result->kind == TK_STRING ? "free()"
                : m->result->kind == TK_BYTES ? "epy_bytes_clear()"
                : idlc_printf(&g->ctx->arena, "%s_clear()",
                              m->result->kind == TK_STRUCT
                              ? m->result->decl->cname
                              : idlc_type_mangle(g->ctx, m->result));
        if (m->result->kind != TK_VOID)
            idlc_buf_printf(&extra, " * @%s receives the result, untouched "
                            "on failure.\n", cg_gname(g, m, "ret_result"));
        if (owner != NULL)
            idlc_buf_printf(&extra, " * The caller owns it: free it with "
                            "%s.\n", owner);
        else if (m->result->kind == TK_FD)
            idlc_buf_puts(&extra, " * The caller owns the descriptor (-1: "
                          "none): close() it.\n");
        idlc_buf_puts(&extra, " * Returns 0 or a negative EPY_E* code (see "
                      "epy_api_call()).\n");
        for (const idlc_raise *r = m->raises; r != NULL; r = r->next)
            if (r->decl != NULL)
                idlc_buf_printf(&extra, " * Raises %s: read it with "
                                "%s_get().\n", r->decl->qname,
                                r->decl->cname);
        idlc_buf_puts(&extra, " * Thread safety: any thread.\n");
        cg_doc_block_ex(g, idlc_printf(&g->ctx->arena, "%s - call %s and wait "
                                    "for the %s (%s).", c, m->qname,
                                    m->result->kind == TK_VOID ? "answer"
                                    : "result", settings_text(g, &m->eff)),
                     m->doc, extra.data, "");
        idlc_buf_free(&extra);
        P("int %s(%s_api *%s%s%s, epy_error *%s);\n\n", c, ns, api, params,
          res, err);
    }
    P("/* %s with per-call options @%s (NULL: the defaults). */\n", c, opts);
    P("int %s_opts(%s_api *%s%s, const epy_call_opts *%s%s, "
      "epy_error *%s);\n\n", c, ns, api, params, opts, res, err);
    P("/*\n * %s_async - start %s; complete through @%s (callback or\n"
      " * semaphore) or by waiting on *@%s; read the outcome with\n"
      " * %s_result(). Release the handle with epy_async_release().\n"
      " */\n", c, m->qname, opts, cg_gname(g, m, "ret_async"), c);
    P("int %s_async(%s_api *%s%s, const epy_call_opts *%s, "
      "epy_async **%s, epy_error *%s);\n\n", c, ns, api, params, opts,
      cg_gname(g, m, "ret_async"), err);
    P("/*\n * %s_result - the outcome of a completed %s_async(): 0 with the\n"
      " * result (owned by the caller), EPY_EPENDING, or the call's error.\n"
      " */\n", c, c);
    P("int %s_result(epy_async *async%s, epy_error *ret_err);\n\n", c,
      m->result->kind == TK_VOID ? ""
      : idlc_printf(&g->ctx->arena, ", %s",
                    cg_out_decl(g, m->result, "ret_result")));
    P("/*\n * %s_done_fn - completion of %s_async_cb(): @rc is 0 with\n"
      " * @result set, or the error with @err. Runs on a worker thread of\n"
      " * the peer with no epyrpc lock held. @result is freed when the\n"
      " * callback returns: to keep it, copy the value and zero the original.\n"
      " */\n", c, c);
    P("typedef void (*%s_done_fn)(int rc%s, const epy_error *err, "
      "void *ctx);\n\n", c, m->result->kind == TK_VOID ? ""
      : idlc_printf(&g->ctx->arena, ", %s", cg_out_decl(g, m->result,
                                                      "result")));
    P("/*\n * %s_async_cb - start %s; @%s runs once when it completes\n"
      " * (never if this returns an error).\n */\n", c, m->qname,
      cg_gname(g, m, "done"));
    P("int %s_async_cb(%s_api *%s%s, const epy_call_opts *%s, "
      "%s_done_fn %s, void *%s, epy_error *%s);\n\n", c, ns, api,
      params, opts, c, cg_gname(g, m, "done"), cg_gname(g, m, "ctx"), err);
    P("/* %s_send - send %s as an event: no reply, no result. */\n", c,
      m->qname);
    P("int %s_send(%s_api *%s%s, epy_error *%s);\n\n", c, ns, api, params,
      err);
}

static void
error_client_protos(cgen *g, const idlc_decl *d)
{
    if (d->kind != DK_ERROR || !cg_mine(g, d))
        return;
    P("/*\n * %s_get - if @err carries error %s, decode its payload into\n"
      " * @ret_error (the caller then owns it: %s_clear()) and return 0;\n"
      " * EPY_ENOTFOUND if it carries another error, EPY_EPROTO if the\n"
      " * payload does not decode.\n */\n", d->cname, d->qname, d->cname);
    P("int %s_get(const epy_error *err, %s *ret_error);\n\n", d->cname,
      d->cname);
}

/* --- header: server ------------------------------------------------------------ */

static void
handler_protos(cgen *g, const idlc_decl *m)
{
    const char *c;
    const char *ctxn, *calln;

    if ((m->kind != DK_METHOD && m->kind != DK_EVENT) || !cg_mine(g, m))
        return;
    c = m->cname;
    ctxn = cg_gname(g, m, "ctx");
    calln = cg_gname(g, m, "call");
    P("/*\n * %s_fn - handler of %s %s. Arguments are borrowed until it\n"
      " * returns.", c, m->kind == DK_EVENT ? "event" : "method", m->qname);
    if (m->kind == DK_METHOD)
        P(" Return 0 (with @%s set%s), a negative\n"
          " * EPY_E* code, the value of an error's _raise(), EPY_GEN_ANSWERED\n"
          " * after answering with %s_reply(), or EPY_DEFER to answer\n"
          " * later with it.\n */\n",
          m->result->kind == TK_VOID ? "nothing" : cg_gname(g, m, "ret_result"),
          m->result->kind == TK_VOID ? "" : ": the runtime frees it", c);
    else
        S(" Return 0 or a negative EPY_E* code (which\n"
          " * goes to the listener: nobody waits for an event).\n */\n");
    P("typedef int (*%s_fn)(epy_call *%s%s%s, void *%s);\n\n", c, calln,
      cg_in_params(g, m), cg_result_param(g, m), ctxn);
    if (m->kind != DK_METHOD)
        return;
    P("/*\n * %s_reply - answer a deferred call of %s.\n"
      " * Returns as epy_call_reply(). Thread safety: any thread, once.\n"
      " */\n", c, m->qname);
    P("int %s_reply(epy_call *call%s);\n\n", c,
      m->result->kind == TK_VOID ? ""
      : idlc_printf(&g->ctx->arena, ", %s",
                    cg_in_decl(g, m->result, "result")));
}

static void
table_protos(cgen *g, const idlc_decl *ns)
{
    const char *c;

    if (ns->kind != DK_NAMESPACE || ns->methods_src != g->src)
        return;
    c = ns->cname;
    P("/*\n * %s_handlers - the handlers of namespace %s. A NULL member\n"
      " * leaves its method unhandled: the listener answers it.\n */\n", c,
      ns->qname);
    P("typedef struct %s_handlers {\n", c);
    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *m = ns->items[i];

        if (m->kind == DK_METHOD || m->kind == DK_EVENT)
            P("    %s_fn %s;\n", m->cname, m->name);
    }
    P("} %s_handlers;\n\n", c);
    P("/*\n * %s_serve - serve namespace %s on @peer with @table (copied),\n"
      " * passing @ctx to every handler. Calls of methods whose handler is\n"
      " * NULL fail with EPY_EUNSUPPORTED (or go to the listener).\n"
      " * Returns 0, EPY_EEXIST (already served), EPY_EPARAM or EPY_ENOMEM.\n"
      " * Thread safety: any thread.\n */\n", c, ns->qname);
    P("int %s_serve(epy_peer *peer, const %s_handlers *table, void *ctx);\n\n",
      c, c);
    P("/* Undoes %s_serve() on @peer and frees its memory. */\n"
      "int %s_unserve(epy_peer *peer);\n\n", c, c);
    P("/*\n * %s_serve_server - serve namespace %s with @table (copied)\n"
      " * to every client of @server, present and future (they share the\n"
      " * server's handler table: epy_server_handle()). Handlers see the\n"
      " * client with epy_call_peer(). Register before clients can call\n"
      " * (a server made with cfg.peer.start_paused, started with\n"
      " * epy_server_start() afterwards), so that no call meets \"no\n"
      " * handler\". Returns as %s_serve().\n"
      " * Thread safety: any thread.\n */\n", c, ns->qname, c);
    P("int %s_serve_server(epy_server *server, const %s_handlers *table,\n"
      "    void *ctx);\n\n", c, c);
    P("/* Undoes %s_serve_server() on @server and frees its memory. */\n"
      "int %s_unserve_server(epy_server *server);\n\n", c, c);
}

static void
error_server_protos(cgen *g, const idlc_decl *d)
{
    if (d->kind != DK_ERROR || !cg_mine(g, d))
        return;
    P("/*\n * %s_raise - answer @call with error %s (@error may be\n"
      " * NULL for an empty payload); a handler returns what it returns.\n"
      " */\n", d->cname, d->qname);
    P("int %s_raise(epy_call *call, const %s *error, const char *message);"
      "\n\n", d->cname, d->cname);
}

static void
desc_protos(cgen *g, const idlc_decl *d)
{
    if ((d->kind == DK_STRUCT || d->kind == DK_ERROR) && cg_mine(g, d))
        P("extern const epy_gen_struct %s_desc;\n", d->cname);
    if (d->kind == DK_NAMESPACE && d->parent == &g->ctx->root && cg_mine(g, d))
        P("/*\n * Interface %s: its name and fingerprint, for\n"
          " * epy_peer_config.interfaces; and its description (the\n"
          " * fingerprint's input), as pieces to concatenate, NULL last.\n"
          " */\n"
          "extern const epy_interface %s_interface;\n"
          "extern const char *const %s_interface_text[];\n", d->qname,
          d->cname, d->cname);
}

static const char *
guard_of(cgen *g)
{
    return idlc_printf(&g->ctx->arena, "%s_EPY_H",
                       cg_upper(g->ctx, idlc_file_ident(g->ctx, g->src)));
}

static void
includes(cgen *g)
{
    idlc_map seen = { 0, 0, NULL, NULL };

    for (idlc_import *imp = g->src->imports; imp != NULL; imp = imp->next) {
        const char *ref;

        if (imp->src == NULL)
            continue;
        ref = idlc_file_ref(g->ctx, imp->src);
        if (idlc_map_put(&g->ctx->arena, &seen, ref, (void *) ref) == NULL)
            P("#include \"%s.epy.h\"\n", ref);
    }
}

void
cg_init_gen(cgen *g, idlc_ctx *ctx, idlc_buf *out)
{
    memset(g, 0, sizeof *g);
    g->ctx = ctx;
    g->src = ctx->sources[0];
    g->out = out;
    cg_collect_ns(g, &ctx->root);
}

const char *
cg_file_name(cgen *g)
{
    const char *slash = strrchr(g->src->path, '/');

    return slash != NULL ? slash + 1 : g->src->path;
}

void
idlc_emit_header(idlc_ctx *ctx, idlc_buf *out)
{
    cgen gen, *g = &gen;
    const char *guard;
    bool copies = false;

    cg_init_gen(g, ctx, out);
    cg_claim_generics(g);
    guard = guard_of(g);
    P("/* Generated by idlc from %s. Do not edit. */\n", cg_file_name(g));
    P("#ifndef %s\n#define %s\n\n#include <epyrpc/gen.h>\n", guard, guard);
    includes(g);
    S("\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    S("#if EPY_GEN_ABI != 1\n"
      "#error \"generated for another version of epyrpc: run idlc again\"\n"
      "#endif\n\n");
    cg_header_types(g);
    cg_visit(g, &ctx->root, cg_clear_protos);
    S("\n");
    for (size_t i = 0; i < g->n_gens; i++)
        cg_def_clear(g, g->gens[i]);
    S("/* --- client --- */\n\n");
    cg_visit(g, &ctx->root, api_protos);
    cg_visit(g, &ctx->root, method_protos);
    cg_visit(g, &ctx->root, error_client_protos);
    S("/* --- server --- */\n\n");
    cg_visit(g, &ctx->root, handler_protos);
    cg_visit(g, &ctx->root, table_protos);
    cg_visit(g, &ctx->root, error_server_protos);
    S("/* --- descriptors --- */\n\n");
    cg_visit(g, &ctx->root, desc_protos);
    /* After the struct layouts (above) that they refer to. */
    for (size_t i = 0; i < g->n_gens; i++) {
        if (cg_owns_memory(g->gens[i]) && !copies) {
            S("\n/* Deep copies of the generics, built on the layouts. */\n");
            copies = true;
        }
        cg_def_copy(g, g->gens[i]);
    }
    P("\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* %s */\n", guard);
    cg_wrap_lines(out);
}
