/*
 * idlc: the C source generator, file.epy.c: the layout tables, the
 * stubs, handlers and tables; the interface descriptions are
 * emit-c-describe.c's. See emit-c.c.
 */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "emit-c-int.h"

/* --- source ------------------------------------------------------------------- */

/* Struct layouts referenced by this file's tables. */
static void
struct_type_of(cgen *g, const idlc_type *t, idlc_map *done)
{
    if (t->kind == TK_STRUCT) {
        if (idlc_map_put(&g->ctx->arena, done, t->decl->cname,
                         (void *) t) == NULL)
            P("static const epy_gen_type %s_type_ = {\n"
              "    EPY_GEN_STRUCT, sizeof(%s), NULL, NULL, &%s_desc, 0, 0\n"
              "};\n", t->decl->cname, t->decl->cname, t->decl->cname);
    } else if (idlc_is_generic(t->kind)) {
        struct_type_of(g, t->elem, done);
    }
}

static void
struct_types(cgen *g, const idlc_decl *ns, idlc_map *done)
{
    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *d = ns->items[i];

        if (d->kind == DK_NAMESPACE) {
            struct_types(g, d, done);
            continue;
        }
        if (!cg_mine(g, d))
            continue;
        for (const idlc_field *f = d->fields; f != NULL; f = f->next)
            struct_type_of(g, f->type, done);
        if (d->result != NULL)
            struct_type_of(g, d->result, done);
    }
}

static void
generic_types(cgen *g)
{
    for (size_t i = 0; i < g->n_gens; i++) {
        const idlc_type *t = g->gens[i];
        const char *m = idlc_type_mangle(g->ctx, t);

        switch (t->kind) {
        case TK_LIST:
            P("static const epy_gen_type %s_type_ = {\n"
              "    EPY_GEN_LIST, sizeof(%s), %s, NULL, NULL, 0, 0\n};\n", m, m,
              cg_tref(g, t->elem));
            break;
        case TK_OPTIONAL:
            P("static const epy_gen_type %s_type_ = {\n"
              "    EPY_GEN_OPTIONAL, sizeof(%s), %s, NULL, NULL,\n"
              "    offsetof(%s, value), 0\n};\n", m, m, cg_tref(g, t->elem), m);
            break;
        case TK_MAP:
            P("static const epy_gen_type %s_type_ = {\n"
              "    EPY_GEN_MAP, sizeof(%s), %s, %s, NULL,\n"
              "    offsetof(%s_entry, value), sizeof(%s_entry)\n};\n", m, m,
              cg_tref(g, t->elem), cg_tref(g, t->key), m, m);
            break;
        default:
            break;
        }
    }
}

/* A struct layout table: @ctype is the C struct, @fields its members. */
void
cg_layout(cgen *g, const char *var, bool is_static, const char *idlname,
       const char *pb, const char *cty, const idlc_field *fields)
{
    size_t n = 0;

    for (const idlc_field *f = fields; f != NULL; f = f->next)
        n++;
    if (n > 0) {
        P("static const epy_gen_field %s_fields_[] = {\n", var);
        for (const idlc_field *f = fields; f != NULL; f = f->next)
            P("    { %u, offsetof(%s, %s), %s },\n", (unsigned) f->number,
              cty, f->name, cg_tref(g, f->type));
        S("};\n");
    }
    P("%sconst epy_gen_struct %s = {\n    \"%s\", &%s,\n    %s, %u, %s\n};\n\n",
      is_static ? "static " : "", var, idlname, pb,
      cty != NULL ? idlc_printf(&g->ctx->arena, "sizeof(%s)", cty) : "0",
      (unsigned) n, n > 0 ? idlc_printf(&g->ctx->arena, "%s_fields_", var)
      : "NULL");
}

static void
src_layouts(cgen *g, const idlc_decl *d)
{
    idlc_ctx *ctx = g->ctx;

    if (!cg_mine(g, d))
        return;
    switch (d->kind) {
    case DK_STRUCT:
    case DK_ERROR:
        cg_layout(g, idlc_printf(&ctx->arena, "%s_desc", d->cname), false,
               d->qname, cg_pbdesc(g, d->src, d->cname), d->cname, d->fields);
        break;
    case DK_METHOD:
    case DK_EVENT: {
        const char *args = idlc_printf(&ctx->arena, "struct %s_args_",
                                       d->cname);

        if (d->fields != NULL) {
            P("/* The arguments of %s. */\n%s {\n", d->qname, args);
            for (const idlc_field *f = d->fields; f != NULL; f = f->next)
                P("    %s;\n", cg_member_decl(g, f->type, f->name));
            S("};\n");
        }
        cg_layout(g, idlc_printf(&ctx->arena, "%s_args_desc_", d->cname), true,
               d->qname, cg_pbdesc(g, d->src, idlc_printf(&ctx->arena,
                                                       "%s_args", d->cname)),
               d->fields != NULL ? args : NULL, d->fields);
        if (d->result->kind != TK_VOID) {
            P("static const epy_gen_field %s_result_desc_fields_[] = {\n"
              "    { 1, 0, %s },\n};\n", d->cname, cg_tref(g, d->result));
            P("static const epy_gen_struct %s_result_desc_ = {\n"
              "    \"%s\", &%s,\n    sizeof(%s), 1, %s_result_desc_fields_"
              "\n};\n\n", d->cname, d->qname,
              cg_pbdesc(g, d->src, idlc_printf(&ctx->arena, "%s_result",
                                            d->cname)),
              cg_ctype(g, d->result), d->cname);
        }
        break;
    }
    default:
        break;
    }
}

static void
src_clears(cgen *g, const idlc_decl *d)
{
    if ((d->kind != DK_STRUCT && d->kind != DK_ERROR) || !cg_mine(g, d))
        return;
    P("void\n%s_clear(%s *value)\n{\n    epy_gen_clear(&%s_desc, value);\n"
      "}\n\n", d->cname, d->cname, d->cname);
    P("int\n%s_copy(%s *dst, const %s *src)\n{\n"
      "    return epy_gen_copy(&%s_desc, dst, src);\n}\n\n", d->cname,
      d->cname, d->cname, d->cname);
}

static void
src_apis(cgen *g, const idlc_decl *d)
{
    const char *c;
    const idlc_settings *eff, *own;

    if (d->kind != DK_NAMESPACE || !cg_mine(g, d))
        return;
    c = d->cname;
    eff = &d->eff;
    own = &d->settings;
    P("int\n%s_api_open(epy_peer *peer, %s_api **ret_api, "
      "epy_error *ret_err)\n{\n"
      "    epy_api *raw;\n    int rc = epy_api_open(peer, \"%s\", &raw, "
      "ret_err);\n\n"
      "    if (rc < 0)\n        return rc;\n"
      "    rc = epy_gen_apply(raw, %" PRId64 ", %d, %d);\n"
      "    if (rc < 0) {\n        epy_api_close(raw);\n"
      "        return epy_error_set(ret_err, rc, \"%s: cannot apply the "
      "IDL defaults\");\n    }\n"
      "    *ret_api = (%s_api *) raw;\n    return 0;\n}\n\n", c, c, d->qname,
      eff->timeout_ms, eff->solicited, eff->async, d->qname, c);
    if (d->parent != &g->ctx->root)
        P("int\n%s_api_child(%s_api *parent, %s_api **ret_api, "
          "epy_error *ret_err)\n{\n"
          "    epy_api *raw;\n    int rc = epy_api_child(%s_api_raw(parent), "
          "\"%s\", &raw, ret_err);\n\n"
          "    if (rc < 0)\n        return rc;\n"
          "    rc = epy_gen_apply(raw, %" PRId64 ", %d, %d);\n"
          "    if (rc < 0) {\n        epy_api_close(raw);\n"
          "        return epy_error_set(ret_err, rc, \"%s: cannot apply the "
          "IDL defaults\");\n    }\n"
          "    *ret_api = (%s_api *) raw;\n    return 0;\n}\n\n", c,
          d->parent->cname, c, d->parent->cname, d->name,
          own->timeout_ms >= 0 ? own->timeout_ms : -1, own->solicited,
          own->async, d->qname, c);
    P("%s_api *\n%s_api_close(%s_api *api)\n{\n"
      "    epy_api_close((epy_api *) api);\n    return NULL;\n}\n\n", c, c, c);
    P("epy_api *\n%s_api_raw(%s_api *api)\n{\n    return (epy_api *) api;\n"
      "}\n\n", c, c);
}

/* The statements filling `args` from the parameters. */
static void
fill_args(cgen *g, const idlc_decl *m, const char *args, const char *err)
{
    for (const idlc_field *f = m->fields; f != NULL; f = f->next) {
        if (cg_by_value(f->type))
            P("    %s.%s = %s;\n", args, f->name, f->name);
        else if (f->type->kind == TK_STRING)
            P("    %s.%s = (char *) %s;    /* read, never written */\n", args,
              f->name, f->name);
        else
            P("    if (%s == NULL)\n        return epy_error_set(%s, "
              "EPY_EPARAM, \"%s: NULL %s\");\n    %s.%s = *%s;\n", f->name,
              err, m->qname, f->name, args, f->name, f->name);
    }
}

static const char *
arg_names(cgen *g, const idlc_decl *m)
{
    idlc_buf b = { NULL, 0, 0 };
    const char *r;

    for (const idlc_field *f = m->fields; f != NULL; f = f->next)
        idlc_buf_printf(&b, ", %s", f->name);
    r = idlc_strdup(&g->ctx->arena, b.data != NULL ? b.data : "");
    idlc_buf_free(&b);
    return r;
}

static void
src_stubs(cgen *g, const idlc_decl *m)
{
    idlc_ctx *ctx = g->ctx;
    const char *c, *ns, *api, *err, *opts, *params, *res, *args, *argp;
    const char *merged, *ret, *asyncn, *done, *ctxn;
    bool own = m->settings.timeout_ms >= 0 || m->settings.solicited >= 0;

    if ((m->kind != DK_METHOD && m->kind != DK_EVENT) || !cg_mine(g, m))
        return;
    c = m->cname;
    ns = m->parent->cname;
    api = cg_gname(g, m, "api");
    err = cg_gname(g, m, "ret_err");
    opts = cg_gname(g, m, "opts");
    args = cg_gname(g, m, "args");
    merged = cg_gname(g, m, "merged");
    ret = cg_gname(g, m, "ret_result");
    asyncn = cg_gname(g, m, "ret_async");
    done = cg_gname(g, m, "done");
    ctxn = cg_gname(g, m, "ctx");
    params = cg_in_params(g, m);
    res = cg_result_param(g, m);
    argp = m->fields != NULL ? idlc_printf(&ctx->arena, "&%s", args) : "NULL";

    /* _send */
    P("int\n%s_send(%s_api *%s%s, epy_error *%s)\n{\n", c, ns, api, params,
      err);
    if (m->fields != NULL)
        P("    struct %s_args_ %s;\n\n", c, args);
    fill_args(g, m, args, err);
    P("    return epy_gen_send(%s_api_raw(%s), \"%s\", &%s_args_desc_, %s, "
      "%s);\n}\n\n", ns, api, m->name, c, argp, err);
    if (m->kind == DK_EVENT) {
        /* _post, _broadcast */
        P("int\n%s_post(epy_peer *%s%s, epy_error *%s)\n{\n", c,
          cg_gname(g, m, "peer"), params, err);
        if (m->fields != NULL)
            P("    struct %s_args_ %s;\n\n", c, args);
        fill_args(g, m, args, err);
        P("    return epy_gen_post(%s, \"%s\", &%s_args_desc_, %s, %s);\n}\n\n",
          cg_gname(g, m, "peer"), m->qname, c, argp, err);
        P("int\n%s_broadcast(epy_server *%s%s, epy_error *%s)\n{\n", c,
          cg_gname(g, m, "server"), params, err);
        if (m->fields != NULL)
            P("    struct %s_args_ %s;\n\n", c, args);
        fill_args(g, m, args, err);
        P("    return epy_gen_broadcast(%s, \"%s\", &%s_args_desc_, %s, "
          "%s);\n}\n\n", cg_gname(g, m, "server"), m->qname, c, argp, err);
        return;
    }

    /* the plain stub: sync, async or sent, as the IDL says */
    if (m->eff.solicited == 0)
        P("int\n%s(%s_api *%s%s, epy_error *%s)\n{\n"
          "    return %s_send(%s%s, %s);\n}\n\n", c, ns, api, params, err, c,
          api, arg_names(g, m), err);
    else if (m->eff.async == 1)
        P("int\n%s(%s_api *%s%s, epy_async **%s, epy_error *%s)\n{\n"
          "    return %s_async(%s%s, NULL, %s, %s);\n}\n\n", c, ns, api,
          params, asyncn, err, c, api, arg_names(g, m), asyncn, err);
    else
        P("int\n%s(%s_api *%s%s%s, epy_error *%s)\n{\n"
          "    return %s_opts(%s%s, NULL%s, %s);\n}\n\n", c, ns, api, params,
          res, err, c, api, arg_names(g, m), m->result->kind == TK_VOID ? ""
          : idlc_printf(&ctx->arena, ", %s", ret), err);
    /* options */
    P("int\n%s_opts(%s_api *%s%s, const epy_call_opts *%s%s, "
      "epy_error *%s)\n{\n", c, ns, api, params, opts, res, err);
    if (m->fields != NULL)
        P("    struct %s_args_ %s;\n", c, args);
    if (own)
        P("    epy_call_opts %s;\n", merged);
    S("\n");
    fill_args(g, m, args, err);
    if (own)
        P("    %s = epy_gen_opts(%s, %" PRId64 ", %d, &%s);\n", opts, opts,
          m->settings.timeout_ms, m->settings.solicited, merged);
    P("    return epy_gen_call(%s_api_raw(%s), \"%s\", &%s_args_desc_, %s, "
      "%s, %s, %s, %s);\n}\n\n", ns, api, m->name, c,
      argp, opts, m->result->kind == TK_VOID ? "NULL"
      : idlc_printf(&ctx->arena, "&%s_result_desc_", c),
      m->result->kind == TK_VOID ? "NULL" : ret, err);
    /* async */
    P("int\n%s_async(%s_api *%s%s, const epy_call_opts *%s, "
      "epy_async **%s, epy_error *%s)\n{\n", c, ns, api, params, opts,
      asyncn, err);
    if (m->fields != NULL)
        P("    struct %s_args_ %s;\n", c, args);
    if (own)
        P("    epy_call_opts %s;\n", merged);
    S("\n");
    fill_args(g, m, args, err);
    if (own)
        P("    %s = epy_gen_opts(%s, %" PRId64 ", %d, &%s);\n", opts, opts,
          m->settings.timeout_ms, m->settings.solicited, merged);
    P("    return epy_gen_call_async(%s_api_raw(%s), \"%s\", &%s_args_desc_,"
      "\n                              %s, %s, %s, %s);\n}\n\n", ns, api,
      m->name, c, argp, opts, asyncn, err);
    /* typed result */
    if (m->result->kind == TK_VOID)
        P("int\n%s_result(epy_async *async, epy_error *ret_err)\n{\n"
          "    return epy_gen_result(async, NULL, NULL, ret_err);\n}\n\n", c);
    else
        P("int\n%s_result(epy_async *async, %s, epy_error *ret_err)\n{\n"
          "    return epy_gen_result(async, &%s_result_desc_, ret_result, "
          "ret_err);\n}\n\n", c, cg_out_decl(g, m->result, "ret_result"), c);
    /* typed callback */
    P("/* The typed callback of %s_async_cb() and its context. */\n"
      "struct %s_closure_ {\n    %s_done_fn done;\n    void *ctx;\n};\n\n",
      c, c, c);
    P("static void\n%s_complete_(epy_async *async, void *arg)\n{\n"
      "    struct %s_closure_ closure;\n"
      "    epy_error err = EPY_ERROR_INIT;\n", c, c);
    if (m->result->kind != TK_VOID)
        P("    %s;\n", cg_member_decl(g, m->result, "result"));
    S("    int rc;\n\n    memcpy(&closure, arg, sizeof closure);\n"
      "    epy_gen_free(arg);\n");
    if (m->result->kind != TK_VOID) {
        S("    memset(&result, 0, sizeof result);\n");
        P("    rc = %s_result(async, &result, &err);\n"
          "    closure.done(rc, rc == 0 ? &result : NULL, rc < 0 ? &err : NULL,"
          "\n                 closure.ctx);\n"
          "    if (rc == 0)\n"
          "        epy_gen_clear(&%s_result_desc_, &result);\n", c, c);
    } else {
        P("    rc = %s_result(async, &err);\n"
          "    closure.done(rc, rc < 0 ? &err : NULL, closure.ctx);\n", c);
    }
    S("    epy_error_clear(&err);\n}\n\n");
    P("int\n%s_async_cb(%s_api *%s%s, const epy_call_opts *%s, "
      "%s_done_fn %s, void *%s, epy_error *%s)\n{\n", c, ns, api,
      params, opts, c, done, ctxn, err);
    if (m->fields != NULL)
        P("    struct %s_args_ %s;\n", c, args);
    {
        const char *cl = cg_gname(g, m, "closure");
        const char *rc = cg_gname(g, m, "rc");

        P("    struct %s_closure_ *%s;\n    epy_call_opts %s;\n    int %s;\n\n",
          c, cl, merged, rc);
        fill_args(g, m, args, err);
        P("    if (%s == NULL)\n        return epy_error_set(%s, EPY_EPARAM, "
          "\"%s: NULL callback\");\n", done, err, m->qname);
        P("    epy_gen_opts(%s, %" PRId64 ", %d, &%s);\n", opts,
          m->settings.timeout_ms >= 0 ? m->settings.timeout_ms : -1,
          m->settings.solicited, merged);
        P("    if (%s.solicited == 0)    /* an event: nothing to complete */\n"
          "        return epy_gen_send(%s_api_raw(%s), \"%s\", &%s_args_desc_, "
          "%s, %s);\n", merged, ns, api, m->name, c, argp, err);
        P("    %s.solicited = 1;\n", merged);
        P("    %s = epy_gen_alloc(sizeof *%s);\n"
          "    if (%s == NULL)\n"
          "        return epy_error_set(%s, EPY_ENOMEM, NULL);\n"
          "    %s->done = %s;\n    %s->ctx = %s;\n"
          "    %s.callback = %s_complete_;\n    %s.callback_ctx = %s;\n"
          "    %s.sem = NULL;\n", cl, cl, cl, err, cl, done, cl, ctxn, merged,
          c, merged, cl, merged);
        P("    %s = epy_gen_call_async(%s_api_raw(%s), \"%s\", &%s_args_desc_, "
          "%s, &%s, NULL, %s);\n", rc, ns, api, m->name, c, argp, merged, err);
        P("    if (%s < 0)\n        epy_gen_free(%s);\n    return %s;\n}\n\n",
          rc, cl, rc);
    }

}

static void
src_handlers(cgen *g, const idlc_decl *m)
{
    const char *c;

    if ((m->kind != DK_METHOD && m->kind != DK_EVENT) || !cg_mine(g, m))
        return;
    c = m->cname;
    P("static int\n%s_handle_(epy_call *call, const uint8_t *req, "
      "size_t req_len,\n        void *arg)\n{\n"
      "    const struct %s_server_ *srv = arg;\n", c, m->parent->cname);
    if (m->fields != NULL)
        P("    struct %s_args_ args;\n", c);
    if (m->result->kind != TK_VOID)
        P("    %s;\n", cg_member_decl(g, m->result, "result"));
    S("    int rc;\n\n");
    P("    rc = epy_gen_decode_call(call, &%s_args_desc_, req, req_len, %s);\n"
      "    if (rc < 0)\n        return rc;\n", c,
      m->fields != NULL ? "&args" : "NULL");
    if (m->result->kind != TK_VOID)
        S("    memset(&result, 0, sizeof result);\n");
    P("    rc = srv->table.%s(call", m->name);
    for (const idlc_field *f = m->fields; f != NULL; f = f->next)
        P(", %sargs.%s", cg_by_value(f->type) || f->type->kind == TK_STRING
          ? "" : "&", f->name);
    P("%s, srv->ctx);\n", m->result->kind == TK_VOID ? "" : ", &result");
    if (m->fields != NULL)
        P("    epy_gen_clear(&%s_args_desc_, &args);\n", c);
    if (m->result->kind == TK_VOID)
        S("    return epy_gen_finish(call, rc, NULL, NULL);\n}\n\n");
    else
        P("    return epy_gen_finish(call, rc, &%s_result_desc_, &result);\n"
          "}\n\n", c);
    if (m->kind != DK_METHOD)
        return;
    if (m->result->kind == TK_VOID) {
        P("int\n%s_reply(epy_call *call)\n{\n"
          "    return epy_gen_reply(call, NULL, NULL);\n}\n\n", c);
    } else if (m->result->kind == TK_STRING) {
        P("int\n%s_reply(epy_call *call, const char *result)\n{\n"
          "    char *value = (char *) result;    /* read, never written */\n\n"
          "    return epy_gen_reply(call, &%s_result_desc_, &value);\n}\n\n",
          c, c);
    } else {
        P("int\n%s_reply(epy_call *call, %s)\n{\n"
          "    return epy_gen_reply(call, &%s_result_desc_, %sresult);\n"
          "}\n\n", c, cg_in_decl(g, m->result, "result"), c,
          cg_by_value(m->result) ? "&" : "");
    }
}

static void
src_tables(cgen *g, const idlc_decl *ns)
{
    const char *c;
    size_t n = 0, i = 0;

    if (ns->kind != DK_NAMESPACE || ns->methods_src != g->src)
        return;
    c = ns->cname;
    for (size_t k = 0; k < ns->n_items; k++)
        if (ns->items[k]->kind == DK_METHOD || ns->items[k]->kind == DK_EVENT)
            n++;
    P("/* The context and handler entries of @table, for epy_gen_serve(). */\n"
      "static struct %s_server_ *\n"
      "%s_table_(const %s_handlers *table, void *ctx, epy_gen_handler *h)\n"
      "{\n    struct %s_server_ *srv = epy_gen_alloc(sizeof *srv);\n\n"
      "    if (srv == NULL)\n        return NULL;\n"
      "    srv->table = *table;\n    srv->ctx = ctx;\n", c, c, c, c);
    for (size_t k = 0; k < ns->n_items; k++) {
        const idlc_decl *m = ns->items[k];

        if (m->kind != DK_METHOD && m->kind != DK_EVENT)
            continue;
        P("    h[%zu].method = \"%s\";\n"
          "    h[%zu].fn = table->%s != NULL ? %s_handle_ : NULL;\n", i,
          m->name, i, m->name, m->cname);
        i++;
    }
    P("    return srv;\n}\n\n");
    for (int server = 0; server < 2; server++) {
        const char *type = server ? "epy_server *server" : "epy_peer *peer";
        const char *var = server ? "server" : "peer";
        const char *suffix = server ? "_server" : "";

        P("int\n%s_serve%s(%s, const %s_handlers *table, void *ctx)\n"
          "{\n    struct %s_server_ *srv;\n    epy_gen_handler h[%zu];\n\n"
          "    if (%s == NULL || table == NULL)\n        return EPY_EPARAM;\n"
          "    srv = %s_table_(table, ctx, h);\n"
          "    if (srv == NULL)\n        return EPY_ENOMEM;\n"
          "    return epy_gen_serve%s(%s, \"%s\", h, %zu, srv);\n}\n\n",
          c, suffix, type, c, c, n, var, c, suffix, var, ns->qname, n);
        P("int\n%s_unserve%s(%s)\n{\n"
          "    return epy_gen_unserve%s(%s, \"%s\");\n}\n\n", c, suffix, type,
          suffix, var, ns->qname);
    }
}

static void
src_servers(cgen *g, const idlc_decl *ns)
{
    if (ns->kind != DK_NAMESPACE || ns->methods_src != g->src)
        return;
    P("/* What %s_serve() registers as the handlers' context. */\n"
      "struct %s_server_ {\n    %s_handlers table;\n    void *ctx;\n};\n\n",
      ns->cname, ns->cname, ns->cname);
}

static void
src_errors(cgen *g, const idlc_decl *d)
{
    if (d->kind != DK_ERROR || !cg_mine(g, d))
        return;
    P("int\n%s_get(const epy_error *err, %s *ret_error)\n{\n"
      "    return epy_gen_error_get(err, \"%s\", &%s_desc, ret_error);\n}\n\n",
      d->cname, d->cname, d->qname, d->cname);
    P("int\n%s_raise(epy_call *call, const %s *error, const char *message)\n"
      "{\n    return epy_gen_raise(call, \"%s\", &%s_desc, error, message);\n"
      "}\n\n", d->cname, d->cname, d->qname, d->cname);
}

static void
enum_asserts(cgen *g, const idlc_decl *d)
{
    if (d->kind == DK_ENUM && cg_mine(g, d))
        P("_Static_assert(sizeof(%s) == sizeof(int), \"enums are int-sized\");"
          "\n", d->cname);
}

void
idlc_emit_source(idlc_ctx *ctx, idlc_buf *out)
{
    cgen gen, *g = &gen;
    idlc_map done = { 0, 0, NULL, NULL };
    const char *stem;

    cg_init_gen(g, ctx, out);
    stem = idlc_file_stem(ctx, g->src);
    P("/* Generated by idlc from %s. Do not edit. */\n", cg_file_name(g));
    P("#include <stddef.h>\n#include <string.h>\n\n"
      "#include \"%s.epy.h\"\n#include \"%s.pb-c.h\"\n\n", stem, stem);
    cg_visit(g, &ctx->root, enum_asserts);
    S("\n/* --- layouts --- */\n\n");
    struct_types(g, &ctx->root, &done);
    generic_types(g);
    S("\n");
    cg_visit(g, &ctx->root, src_layouts);
    cg_visit(g, &ctx->root, src_clears);
    S("/* --- client --- */\n\n");
    cg_visit(g, &ctx->root, src_apis);
    cg_visit(g, &ctx->root, src_stubs);
    cg_visit(g, &ctx->root, src_errors);
    S("/* --- server --- */\n\n");
    cg_visit(g, &ctx->root, src_servers);
    cg_visit(g, &ctx->root, src_handlers);
    cg_visit(g, &ctx->root, src_tables);
    S("/* --- descriptors --- */\n\n");
    cg_emit_descriptors(g);
    while (out->len > 1 && out->data[out->len - 1] == '\n'
           && out->data[out->len - 2] == '\n')
        out->data[--out->len] = '\0';
    cg_wrap_lines(out);
}
