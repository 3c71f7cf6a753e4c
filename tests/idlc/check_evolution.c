/*
 * Interfaces that change between releases, at run time: two peers
 * announcing the same interface with different fingerprints compare
 * its descriptions in the hello. Compatible differences connect (a call
 * of a method one side lacks is answered EPY_EUNSUPPORTED), breaking
 * ones refuse with EPY_EVERSION and a message naming what changed.
 *
 * The core cases use hand-written descriptions; the matrix runs every
 * pair of tests/idlc/compat (described by idlc's library) both ways,
 * with the fate each pair must meet at connect time listed here.
 */
#include <config.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <epyrpc/epyrpc.h>

#include "idlc.h"
#include "../testutil.h"

/* --- helpers ------------------------------------------------------------- */

typedef struct version {
    epy_interface ifc;
    const char *pieces[2];
} version;

static void
version_init(version *v, const char *name, const char *fp, const char *text)
{
    v->pieces[0] = text;
    v->pieces[1] = NULL;
    v->ifc.name = name;
    v->ifc.fingerprint = fp;
    v->ifc.text = text != NULL ? v->pieces : NULL;
}

static int
empty_reply(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) call;
    (void) req;
    (void) len;
    (void) ctx;
    return 0;
}

/*
 * Connects a server announcing @s and a client announcing @c. Returns
 * the client's epy_peer_wait_ready() code, with the message in @err;
 * the peers are left in *@ret_s and *@ret_c (close both).
 */
static int
connect_versions(const version *s, const version *c, epy_peer **ret_s,
                 epy_peer **ret_c, epy_error *err)
{
    epy_peer_config cs = EPY_PEER_CONFIG_INIT, cc = EPY_PEER_CONFIG_INIT;

    cs.interfaces = &s->ifc;
    cs.n_interfaces = 1;
    cc.interfaces = &c->ifc;
    cc.n_interfaces = 1;
    ck_assert_int_eq(epy_pair_new(&cs, &cc, ret_s, ret_c, NULL), 0);
    return epy_peer_wait_ready(*ret_c, 10000, err);
}

/* Each line of @text that starts with @kind ("method ", "namespace "). */
typedef void (*line_fn)(const char *name, size_t len, void *ctx);

static void
each_decl(const char *text, const char *kind, line_fn fn, void *ctx)
{
    size_t k = strlen(kind);

    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t) (nl - p) : strlen(p);

        if (n > k && strncmp(p, kind, k) == 0) {
            const char *name = p + k;
            size_t len = strcspn(name, "( \n");

            fn(name, len, ctx);
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
}

static void
serve_ns(const char *name, size_t len, void *ctx)
{
    char buf[512];

    snprintf(buf, sizeof buf, "%.*s", (int) len, name);
    ck_assert_int_eq(epy_peer_serve_ns(ctx, buf, true, NULL), 0);
}

static void
serve_method(const char *name, size_t len, void *ctx)
{
    char buf[512];

    snprintf(buf, sizeof buf, "%.*s", (int) len, name);
    ck_assert_int_eq(epy_peer_handle(ctx, buf, empty_reply, NULL, NULL), 0);
}

/* Serves every namespace and method of @text on @peer (empty replies). */
static void
serve_text(epy_peer *peer, const char *text)
{
    each_decl(text, "namespace ", serve_ns, peer);
    each_decl(text, "method ", serve_method, peer);
}

typedef struct caller {
    epy_peer *peer;
    const char *server_text;
    int calls, unsupported;
} caller;

/* True if @text declares method @name (@len bytes). */
static bool
declares(const char *text, const char *name, size_t len)
{
    char pat[520];

    snprintf(pat, sizeof pat, "method %.*s(", (int) len, name);
    return strstr(text, pat) != NULL;
}

static void
call_method(const char *name, size_t len, void *ctx)
{
    caller *c = ctx;
    char full[512];
    const char *dot;
    epy_api *api = NULL;
    epy_error err = EPY_ERROR_INIT;
    int rc;

    snprintf(full, sizeof full, "%.*s", (int) len, name);
    dot = strrchr(full, '.');
    ck_assert_ptr_nonnull(dot);
    full[dot - full] = '\0';
    ck_assert_int_eq(epy_api_open(c->peer, full, &api, NULL), 0);
    epy_api_set_timeout(api, 10000);
    rc = epy_api_call(api, dot + 1, NULL, 0, NULL, NULL, &err);
    if (declares(c->server_text, name, len)) {
        ck_assert_msg(rc == 0, "%.*s: %s", (int) len, name,
                      epy_strerror(rc));
        c->calls++;
    } else {
        ck_assert_msg(rc == EPY_EUNSUPPORTED, "%.*s (not served): %s",
                      (int) len, name, epy_strerror(rc));
        c->unsupported++;
    }
    epy_error_clear(&err);
    epy_api_close(api);
}

/*
 * Server @s, client @c, connected: the client calls every method of its
 * description. Returns how many the server lacked.
 */
static int
call_all(epy_peer *server, const char *s_text, epy_peer *client,
         const char *c_text)
{
    caller c = { client, s_text, 0, 0 };

    serve_text(server, s_text);
    each_decl(c_text, "method ", call_method, &c);
    return c.unsupported;
}

/* --- hand-written descriptions -------------------------------------------- */

static const char kv_v1[] =
    "namespace kv\n"
    "struct kv.entry key:string=1 value:bytes=2\n"
    "method kv.put( key:string=1 value:bytes=2 ) -> void\n"
    "method kv.get( key:string=1 ) -> kv.entry\n";

/* v2: a method, a parameter and a field added. */
static const char kv_v2[] =
    "namespace kv\n"
    "struct kv.entry key:string=1 value:bytes=2 version:uint64=3\n"
    "method kv.put( key:string=1 value:bytes=2 ttl:uint32=3 ) -> void\n"
    "method kv.get( key:string=1 ) -> kv.entry\n"
    "method kv.del( key:string=1 ) -> void\n";

/* v3: put's value retyped. */
static const char kv_v3[] =
    "namespace kv\n"
    "struct kv.entry key:string=1 value:bytes=2\n"
    "method kv.put( key:string=1 value:int64=2 ) -> void\n"
    "method kv.get( key:string=1 ) -> kv.entry\n";

START_TEST(test_compatible_both_ways)
{
    version a, b;
    epy_peer *s, *c;

    version_init(&a, "kv", "fp-1", kv_v1);
    version_init(&b, "kv", "fp-2", kv_v2);
    for (int dir = 0; dir < 2; dir++) {
        const version *sv = dir == 0 ? &a : &b, *cv = dir == 0 ? &b : &a;
        int missing;

        ck_assert_int_eq(connect_versions(sv, cv, &s, &c, NULL), 0);
        missing = call_all(s, sv->pieces[0], c, cv->pieces[0]);
        /* New client, old server: del() is unsupported; else none is. */
        ck_assert_int_eq(missing, dir == 0 ? 1 : 0);
        epy_peer_close(c);
        epy_peer_close(s);
    }
}
END_TEST

START_TEST(test_breaking_refused_both_ways)
{
    version a, b;
    epy_peer *s, *c;
    epy_error err = EPY_ERROR_INIT;

    version_init(&a, "kv", "fp-1", kv_v1);
    version_init(&b, "kv", "fp-3", kv_v3);
    for (int dir = 0; dir < 2; dir++) {
        int rc = connect_versions(dir == 0 ? &a : &b, dir == 0 ? &b : &a,
                                  &s, &c, &err);

        ck_assert_int_eq(rc, EPY_EVERSION);
        ck_assert_ptr_nonnull(err.message);
        ck_assert_msg(strstr(err.message, "kv.put") != NULL
                      && strstr(err.message, "value") != NULL,
                      "message: %s", err.message);
        epy_error_clear(&err);
        epy_peer_close(c);
        epy_peer_close(s);
    }
}
END_TEST

START_TEST(test_undescribed_differs)
{
    version a, b;
    epy_peer *s, *c;
    epy_error err = EPY_ERROR_INIT;

    /* An older peer sends no description: different fingerprints fail. */
    version_init(&a, "kv", "fp-1", kv_v1);
    version_init(&b, "kv", "fp-2", NULL);
    ck_assert_int_eq(connect_versions(&a, &b, &s, &c, &err), EPY_EVERSION);
    ck_assert_ptr_nonnull(strstr(err.message, "does not describe"));
    epy_error_clear(&err);
    epy_peer_close(c);
    epy_peer_close(s);
    /* Same fingerprint, no description: agreed as before. */
    version_init(&b, "kv", "fp-1", NULL);
    ck_assert_int_eq(connect_versions(&a, &b, &s, &c, NULL), 0);
    epy_peer_close(c);
    epy_peer_close(s);
}
END_TEST

START_TEST(test_garbage_description)
{
    static const char garbage[] = "namespace kv\nmethod kv.put( key:\x01=1";
    version a, b;
    epy_peer *s, *c;
    epy_error err = EPY_ERROR_INIT;

    version_init(&a, "kv", "fp-1", kv_v1);
    version_init(&b, "kv", "fp-2", garbage);
    ck_assert_int_eq(connect_versions(&a, &b, &s, &c, &err), EPY_EVERSION);
    ck_assert_ptr_nonnull(strstr(err.message, "does not parse"));
    epy_error_clear(&err);
    epy_peer_close(c);
    epy_peer_close(s);
}
END_TEST

/* --- the matrix: every pair of tests/idlc/compat ------------------------------ */

/*
 * What each pair meets at connect time. The hello cannot tell a removal
 * from an addition (which end is older?), so removals connect and the
 * removed method answers EPY_EUNSUPPORTED; what both ends have must
 * agree. NULL: connects; else a piece of the EPY_EVERSION message.
 */
typedef struct pair_fate {
    const char *name;
    const char *refused;
} pair_fate;

static const pair_fate fates[] = {
    { "break-enum-to-struct", "kv.mode" },
    { "break-enum-value-removed", NULL },
    { "break-enum-value-renumbered", "kv.mode" },
    { "break-error-renamed", NULL },
    { "break-event-removed", NULL },
    { "break-event-to-method", "kv.changed" },
    { "break-field-number", "kv.entry" },
    { "break-field-number-reused", "kv.entry" },
    { "break-field-removed", NULL },
    { "break-field-type", "kv.entry" },
    { "break-generic-type", "kv.changed" },
    { "break-method-removed", NULL },
    { "break-method-to-event", "kv.put" },
    { "break-namespace-removed", NULL },
    { "break-param-removed", NULL },
    { "break-param-type", "kv.changed" },
    { "break-params-reordered", "kv.put" },
    { "break-recursive-changed", "fs.root" },
    { "break-renamed-type-changed", "kv.first" },
    { "break-result-type", "kv.get" },
    { "break-result-void", "kv.put" },
    { "break-several", "kv." },
    { "break-type-removed", NULL },
    { "imports-param-type", "log.write" },
    { "safe-comments-formatting", NULL },
    { "safe-enum-value-added", NULL },
    { "safe-enum-value-renamed", NULL },
    { "safe-event-added", NULL },
    { "safe-field-added", NULL },
    { "safe-field-renamed", NULL },
    { "safe-method-added", NULL },
    { "safe-namespace-added", NULL },
    { "safe-param-added", NULL },
    { "safe-param-renamed", NULL },
    { "safe-raise-added", NULL },
    { "safe-recursive-renamed", NULL },
    { "safe-struct-to-error", NULL },
    { "safe-type-added", NULL },
    { "safe-type-renamed", NULL },
};

static char *
describe(const char *dir, const char *name, const char *which, char **ret_fp)
{
    char path[1024], inc_dir[1024];
    const char *inc[2];
    idlc_options o;
    char *text = NULL;

    snprintf(path, sizeof path, "%s/%s-%s.idl", dir, name, which);
    snprintf(inc_dir, sizeof inc_dir, "%s/inc", dir);
    inc[0] = dir;
    inc[1] = inc_dir;
    memset(&o, 0, sizeof o);
    o.input = path;
    o.include_dirs = inc;
    o.n_include_dirs = 2;
    ck_assert_msg(idlc_describe(&o, &text, ret_fp) == 0, "describe %s",
                  path);
    return text;
}

START_TEST(test_matrix)
{
    const char *dir = IDLC_TEST_SRCDIR "/compat";
    const pair_fate *f = &fates[_i];
    char *fp_old, *fp_new;
    char *t_old = describe(dir, f->name, "old", &fp_old);
    char *t_new = describe(dir, f->name, "new", &fp_new);
    char root[128];
    version vo, vn;

    snprintf(root, sizeof root, "%.*s", (int) strcspn(t_old + 10, "\n"),
             t_old + 10);
    version_init(&vo, root, fp_old, t_old);
    version_init(&vn, root, fp_new, t_new);
    for (int dir_ = 0; dir_ < 2; dir_++) {
        const version *sv = dir_ == 0 ? &vo : &vn, *cv = dir_ == 0 ? &vn : &vo;
        epy_error err = EPY_ERROR_INIT;
        epy_peer *s, *c;
        int rc = connect_versions(sv, cv, &s, &c, &err);

        if (f->refused == NULL) {
            ck_assert_msg(rc == 0, "%s: %s", f->name,
                          err.message != NULL ? err.message : "");
            call_all(s, sv->pieces[0], c, cv->pieces[0]);
        } else {
            ck_assert_msg(rc == EPY_EVERSION, "%s connected", f->name);
            ck_assert_msg(strstr(err.message, f->refused) != NULL,
                          "%s: %s", f->name, err.message);
        }
        epy_error_clear(&err);
        epy_peer_close(c);
        epy_peer_close(s);
    }
    free(t_old);
    free(t_new);
    free(fp_old);
    free(fp_new);
}
END_TEST

static Suite *
evolution_suite(void)
{
    Suite *s = suite_create("evolution");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_compatible_both_ways);
    tcase_add_test(tc, test_breaking_refused_both_ways);
    tcase_add_test(tc, test_undescribed_differs);
    tcase_add_test(tc, test_garbage_description);
    tcase_add_loop_test(tc, test_matrix, 0,
                        (int) (sizeof fates / sizeof fates[0]));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(evolution_suite());
}
