/*
 * epyctl: connecting, calling, and what a server says it serves
 * (epyrpc.introspect.interfaces and .about): the introspect command's
 * JSON tree, IDL and .proto texts, and the codec of an interface.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "introspect.pb-c.h"

int
ctl_connect(ctl_conn *c, const epy_peer_config *cfg)
{
    epy_error err = EPY_ERROR_INIT;
    int rc = epy_connect(c->addr, cfg, c->timeout_ms, &c->peer, &err);

    if (rc < 0) {
        ctl_warn("%s: cannot connect: %s (%s)", c->addr,
                 err.message != NULL ? err.message : epy_strerror(rc),
                 epy_status_name(rc));
        epy_error_clear(&err);
    }
    return rc;
}

void
ctl_disconnect(ctl_conn *c)
{
    if (c->ifaces != NULL)
        epyrpc__introspect_interfaces_result__free_unpacked(c->ifaces, NULL);
    c->ifaces = NULL;
    c->peer = epy_peer_close(c->peer);
}

int
ctl_call_raw(ctl_conn *c, const char *ns, const char *method,
             const uint8_t *req, size_t len, epy_buf *reply, epy_error *err)
{
    epy_api *api = NULL;
    int rc = epy_api_open(c->peer, ns, &api, err);

    if (rc < 0)
        return rc;
    epy_api_set_timeout(api, c->timeout_ms);
    rc = epy_api_call(api, method, req, len, NULL, reply, err);
    epy_api_close(api);
    return rc;
}

int
ctl_report(const char *what, const epy_error *err)
{
    if (err->type != NULL)
        ctl_warn("%s: %s: %s (%s)", what, epy_status_name(err->code),
                 err->message != NULL ? err->message : "", err->type);
    else
        ctl_warn("%s: %s: %s", what, epy_status_name(err->code),
                 err->message != NULL ? err->message
                                      : epy_strerror(err->code));
    return err->code;
}

int
ctl_fetch_interfaces(ctl_conn *c, bool sources)
{
    Epyrpc__IntrospectInterfacesArgs args =
        EPYRPC__INTROSPECT_INTERFACES_ARGS__INIT;
    uint8_t req[16];
    size_t len;
    epy_buf reply = EPY_BUF_INIT;
    epy_error err = EPY_ERROR_INIT;
    int rc;

    args.has_sources = 1;
    args.sources = sources;
    len = epyrpc__introspect_interfaces_args__pack(&args, req);
    rc = ctl_call_raw(c, "epyrpc.introspect", "interfaces", req, len, &reply,
                      &err);
    if (rc < 0) {
        char what[512];

        snprintf(what, sizeof what, "%s: epyrpc.introspect.interfaces",
                 c->addr);
        rc = ctl_report(what, &err);
        epy_error_clear(&err);
        return rc;
    }
    c->ifaces = epyrpc__introspect_interfaces_result__unpack(NULL, reply.len,
                                                             reply.data);
    epy_buf_clear(&reply);
    if (c->ifaces == NULL) {
        ctl_warn("%s: the reply of epyrpc.introspect.interfaces does not "
                 "decode", c->addr);
        return EPY_EPROTO;
    }
    return 0;
}

/* The interface of the root namespace of @name, or NULL. */
static const Epyrpc__IntrospectInterface *
iface_of(const ctl_conn *c, const char *name)
{
    size_t n = strcspn(name, ".");

    for (size_t i = 0; c->ifaces != NULL && i < c->ifaces->n_value; i++) {
        const char *r = c->ifaces->value[i]->name;

        if (r != NULL && strlen(r) == n && strncmp(r, name, n) == 0)
            return c->ifaces->value[i];
    }
    return NULL;
}

static int
open_iface(const Epyrpc__IntrospectInterface *f, ctl_codec *codec)
{
    ctl_str text = { NULL, 0, 0 };
    int rc;

    ctl_str_puts(&text, f->description != NULL ? f->description : "");
    ctl_str_puts(&text, "\n");
    ctl_str_puts(&text, f->types != NULL ? f->types : "");
    rc = ctl_codec_open(codec, text.data, text.len);
    ctl_str_free(&text);
    if (rc < 0)
        ctl_warn("interface %s: %s", f->name, codec->err);
    return rc < 0 ? EPY_EPROTO : 0;
}

int
ctl_codec_for(ctl_conn *c, const char *name, ctl_codec *codec)
{
    const Epyrpc__IntrospectInterface *f = iface_of(c, name);

    if (f == NULL)
        return EPY_EUNKNOWN;
    return open_iface(f, codec);
}

/* --- the JSON tree -------------------------------------------------------------- */

static json_object *
members_json(const sc_decl *d, bool is_enum)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; i < d->n_mems; i++) {
        json_object *m = json_object_new_object();

        json_object_object_add(m, "name",
                               json_object_new_string(d->mems[i].name));
        if (is_enum) {
            json_object_object_add(m, "value",
                                   json_object_new_int64(d->mems[i].num));
        } else {
            json_object_object_add(m, "type",
                                   json_object_new_string(d->mems[i].spell));
            json_object_object_add(m, "number",
                                   json_object_new_int64(d->mems[i].num));
        }
        json_object_array_add(a, m);
    }
    return a;
}

static const char *
short_name(const char *qname)
{
    const char *dot = strrchr(qname, '.');

    return dot != NULL ? dot + 1 : qname;
}

static json_object *
decl_json(const sc_decl *d)
{
    static const char *const kinds[] = {
        "namespace", "enum", "struct", "error", "method", "event"
    };
    json_object *o = json_object_new_object();

    if (d->kind == SC_METHOD || d->kind == SC_EVENT) {
        json_object_object_add(o, "name",
                               json_object_new_string(short_name(d->qname)));
        json_object_object_add(o, "params", members_json(d, false));
        if (d->kind == SC_METHOD) {
            json_object *r = json_object_new_array();

            json_object_object_add(o, "result",
                                   json_object_new_string(d->result_spell));
            for (size_t i = 0; i < d->n_raises; i++)
                json_object_array_add(r,
                                      json_object_new_string(d->raises[i]));
            json_object_object_add(o, "raises", r);
        }
        return o;
    }
    json_object_object_add(o, "name", json_object_new_string(d->qname));
    json_object_object_add(o, "kind", json_object_new_string(kinds[d->kind]));
    json_object_object_add(o, d->kind == SC_ENUM ? "values" : "fields",
                           members_json(d, d->kind == SC_ENUM));
    return o;
}

static json_object *
new_ns(const char *name)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "methods", json_object_new_array());
    json_object_object_add(o, "events", json_object_new_array());
    json_object_object_add(o, "types", json_object_new_array());
    json_object_object_add(o, "namespaces", json_object_new_array());
    return o;
}

/* The namespace node @name below the roots in @roots (made as needed). */
static json_object *
ns_node(json_object *roots, const char *name, size_t n)
{
    const char *dot = NULL;
    json_object *list = roots, *node = NULL;

    for (size_t i = n; i > 0; i--)
        if (name[i - 1] == '.') {
            dot = name + i - 1;
            break;
        }
    if (dot != NULL)
        list = json_object_object_get(ns_node(roots, name, (size_t) (dot - name)),
                                      "namespaces");
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *o = json_object_array_get_idx(list, i);
        const char *q = json_object_get_string(json_object_object_get(o,
                                                                      "name"));

        if (strlen(q) == n && strncmp(q, name, n) == 0)
            node = o;
    }
    if (node == NULL) {
        char *q = ctl_xmalloc(n + 1);

        memcpy(q, name, n);
        q[n] = '\0';
        node = new_ns(q);
        free(q);
        json_object_array_add(list, node);
    }
    return node;
}

static const char *
parent_of(const sc_decl *d, size_t *n)
{
    const char *dot = strrchr(d->qname, '.');

    *n = dot != NULL ? (size_t) (dot - d->qname) : 0;
    return d->qname;
}

static bool
has_named(json_object *list, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(list); i++)
        if (strcmp(json_object_get_string(json_object_object_get(
                       json_object_array_get_idx(list, i), "name")),
                   name) == 0)
            return true;
    return false;
}

/* Adds the declarations of @codec to the tree @roots: those of the
 * served namespace @f, or with @imported those of the namespaces it
 * imports that no served interface describes itself. */
static void
add_tree(json_object *roots, const ctl_codec *codec,
         const Epyrpc__IntrospectInterface *f, const ctl_conn *c,
         bool imported)
{
    const epy__schema *s = codec->schema;

    for (size_t i = 0; i < s->n_decls; i++) {
        const sc_decl *d = &s->decls[i];
        bool served = strcspn(d->qname, ".") == strlen(f->name)
            && strncmp(d->qname, f->name, strlen(f->name)) == 0;
        json_object *node;
        size_t n;

        if (served == imported || (!served && iface_of(c, d->qname) != NULL))
            continue;
        if (d->kind == SC_NAMESPACE) {
            node = ns_node(roots, d->qname, strlen(d->qname));
            if (strchr(d->qname, '.') == NULL) {
                if (served && f->fingerprint != NULL)
                    json_object_object_add(node, "fingerprint",
                        json_object_new_string(f->fingerprint));
                else if (!served)
                    json_object_object_add(node, "imported",
                                           json_object_new_boolean(1));
            }
            continue;
        }
        if (!served && (d->kind == SC_METHOD || d->kind == SC_EVENT))
            continue;
        parent_of(d, &n);
        if (n == 0)
            continue;
        node = json_object_object_get(ns_node(roots, d->qname, n),
            d->kind == SC_METHOD ? "methods"
            : d->kind == SC_EVENT ? "events" : "types");
        if (!imported || !has_named(node, d->qname))
            json_object_array_add(node, decl_json(d));
    }
}

/* The node named @name in the tree (a namespace, method, event or type). */
static json_object *
find_node(json_object *list, const char *name)
{
    static const char *const lists[] = { "methods", "events", "types" };

    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *ns = json_object_array_get_idx(list, i), *r;
        const char *q = json_object_get_string(
            json_object_object_get(ns, "name"));
        size_t n = strlen(q);

        if (strcmp(q, name) == 0)
            return ns;
        for (int k = 0; k < 3; k++) {
            json_object *l = json_object_object_get(ns, lists[k]);

            for (size_t j = 0; j < json_object_array_length(l); j++) {
                json_object *o = json_object_array_get_idx(l, j);
                const char *m = json_object_get_string(
                    json_object_object_get(o, "name"));

                if (k < 2 ? strncmp(name, q, n) == 0 && name[n] == '.'
                                && strcmp(name + n + 1, m) == 0
                          : strcmp(name, m) == 0)
                    return o;
            }
        }
        r = find_node(json_object_object_get(ns, "namespaces"), name);
        if (r != NULL)
            return r;
    }
    return NULL;
}

static json_object *
about(ctl_conn *c)
{
    epy_buf reply = EPY_BUF_INIT;
    epy_error err = EPY_ERROR_INIT;
    Epyrpc__IntrospectAboutResult *r;
    json_object *o = NULL;

    if (ctl_call_raw(c, "epyrpc.introspect", "about", NULL, 0, &reply,
                     &err) < 0) {
        epy_error_clear(&err);
        return NULL;
    }
    r = epyrpc__introspect_about_result__unpack(NULL, reply.len, reply.data);
    if (r != NULL && r->value != NULL) {
        o = json_object_new_object();
        json_object_object_add(o, "version",
            json_object_new_string(r->value->version != NULL
                                   ? r->value->version : ""));
        json_object_object_add(o, "protocol",
                               json_object_new_int64(r->value->protocol));
        json_object_object_add(o, "monitor",
                               json_object_new_boolean(r->value->monitor));
    }
    if (r != NULL)
        epyrpc__introspect_about_result__free_unpacked(r, NULL);
    epy_buf_clear(&reply);
    return o;
}

/* --- the sources ------------------------------------------------------------------ */

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int
show_sources(ctl_conn *c, const char *ns, int what)
{
    const char *suffix = what == CTL_SHOW_IDL ? ".idl" : ".proto";
    ctl_str out = { NULL, 0, 0 };
    const char **seen = NULL;
    size_t n_seen = 0, n_files = 0;
    bool missing = false;

    ctl_str_add(&out, "", 0);
    for (size_t i = 0; i < c->ifaces->n_value; i++) {
        const Epyrpc__IntrospectInterface *f = c->ifaces->value[i];
        bool any = false;

        if (ns != NULL && iface_of(c, ns) != f)
            continue;
        for (size_t k = 0; k < f->n_sources; k++) {
            const Epyrpc__IntrospectSource *s = f->sources[k];
            bool dup = false;

            if (s->name == NULL || !ends_with(s->name, suffix))
                continue;
            any = true;
            for (size_t j = 0; j < n_seen; j++)
                dup = dup || strcmp(seen[j], s->name) == 0;
            if (dup)
                continue;
            seen = ctl_xrealloc(seen, (n_seen + 1) * sizeof *seen);
            seen[n_seen++] = s->name;
            ctl_str_printf(&out, "%s// ==> %s <==\n", n_files > 0 ? "\n" : "",
                           s->name);
            ctl_str_puts(&out, s->text != NULL ? s->text : "");
            n_files++;
        }
        if (!any && what == CTL_SHOW_PROTO) {
            ctl_codec codec;

            if (open_iface(f, &codec) < 0) {
                free(seen);
                ctl_str_free(&out);
                return EPY_EPROTO;
            }
            ctl_str_printf(&out, "%s// ==> %s.proto <==\n",
                           n_files > 0 ? "\n" : "", f->name);
            ctl_proto_text(&codec, f->name, &out);
            ctl_codec_close(&codec);
            n_files++;
        } else if (!any) {
            /* The others are printed all the same; the status says it. */
            ctl_warn("%s: interface %s: the server sends no IDL source "
                     "(code generated by an older idlc)", c->addr, f->name);
            missing = true;
        }
    }
    if (n_files == 1 && !missing) {
        /* One file: its text exactly, without the heading. */
        const char *p = strstr(out.data, " <==\n");

        fputs(p + 5, stdout);
    } else {
        fputs(out.data, stdout);
    }
    free(seen);
    ctl_str_free(&out);
    return missing ? EPY_EUNSUPPORTED : 0;
}

int
ctl_cmd_introspect(ctl_conn *c, const char *ns, int what, bool pretty)
{
    json_object *top, *roots, *info, *shown;
    int rc = ctl_fetch_interfaces(c, what != CTL_SHOW_JSON);

    if (rc < 0)
        return rc;
    if (ns != NULL && what != CTL_SHOW_JSON && iface_of(c, ns) == NULL) {
        ctl_warn("%s: no interface holds '%s'", c->addr, ns);
        return EPY_EUNKNOWN;
    }
    if (what != CTL_SHOW_JSON)
        return show_sources(c, ns, what);
    top = json_object_new_object();
    roots = json_object_new_array();
    info = about(c);
    if (info != NULL)
        json_object_object_add(top, "server", info);
    json_object_object_add(top, "namespaces", roots);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < c->ifaces->n_value; i++) {
            const Epyrpc__IntrospectInterface *f = c->ifaces->value[i];
            ctl_codec codec;

            if (f->name == NULL)
                continue;
            if (open_iface(f, &codec) < 0) {
                json_object_put(top);
                return EPY_EPROTO;
            }
            /* Served namespaces first, then what they import. */
            add_tree(roots, &codec, f, c, pass == 1);
            ctl_codec_close(&codec);
        }
    shown = top;
    if (ns != NULL) {
        shown = find_node(roots, ns);
        if (shown == NULL) {
            ctl_warn("%s: no namespace, method, event or type '%s'",
                     c->addr, ns);
            json_object_put(top);
            return EPY_EUNKNOWN;
        }
    }
    puts(ctl_json_text(shown, pretty));
    json_object_put(top);
    return 0;
}
