/*
 * End to end through generated code (tests/idlc/e2e.idl), across fork():
 * every type round-trips, every call mode works, typed errors, deferred
 * replies, and unhandled methods through the default and a custom
 * listener.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "e2e.epy.h"
#include "../testutil.h"

/* --- the server (a child process) ---------------------------------------- */

static atomic_int notes_seen;

static char *
dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);

    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* Copies what it needs: the result is the handler's to fill. */
static int
h_echo_scalars(epy_call *call, const e2e_scalars *v, e2e_scalars *ret,
               void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = *v;
    ret->s = dup_str(v->s);
    ret->raw.data = malloc(v->raw.len + 1);
    if (ret->s == NULL || ret->raw.data == NULL)
        return EPY_ENOMEM;
    /* Absent bytes are { NULL, 0 }: no copy from NULL. */
    if (v->raw.len > 0)
        memcpy(ret->raw.data, v->raw.data, v->raw.len);
    return 0;
}

/* Elements of e2e.bag.many in the hostile reply of h_echo_bag. */
#define HOSTILE_REPLY_ELEMENTS 1000000

/*
 * The other echoes answer with their argument and say they answered.
 * Asked with oi = -1, echo_bag answers as a hostile server would: with
 * 2 MB of empty elements of many (field 4) in its result (field 1).
 */
static int
h_echo_bag(epy_call *call, const e2e_bag *v, e2e_bag *ret, void *ctx)
{
    (void) ret;
    (void) ctx;
    if (v->oi.has && v->oi.value == -1) {
        size_t n = HOSTILE_REPLY_ELEMENTS, len = 2 * n;
        uint8_t *p = malloc(len + 8), *q = p;

        if (p == NULL)
            return EPY_ENOMEM;
        *q++ = 0x0a;
        while (len >= 0x80) {
            *q++ = (uint8_t) (len | 0x80);
            len >>= 7;
        }
        *q++ = (uint8_t) len;
        for (size_t i = 0; i < n; i++) {
            *q++ = 0x22;
            *q++ = 0;
        }
        epy_call_reply(call, p, (size_t) (q - p));
        free(p);
        return EPY_GEN_ANSWERED;
    }
    e2e_echo_bag_reply(call, v);
    return EPY_GEN_ANSWERED;
}

static int
h_echo_node(epy_call *call, const e2e_node *v, e2e_node *ret, void *ctx)
{
    (void) ret;
    (void) ctx;
    e2e_echo_node_reply(call, v);
    return EPY_GEN_ANSWERED;
}

static int
h_echo_bytes(epy_call *call, const epy_bytes *v, epy_bytes *ret, void *ctx)
{
    (void) ret;
    (void) ctx;
    e2e_echo_bytes_reply(call, v);
    return EPY_GEN_ANSWERED;
}

static int
h_echo_string(epy_call *call, const char *v, char **ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = dup_str(v);
    return *ret != NULL ? 0 : EPY_ENOMEM;
}

static int
h_echo_ints(epy_call *call, const epy_int64_list *v, epy_int64_list *ret,
            void *ctx)
{
    (void) ret;
    (void) ctx;
    e2e_echo_ints_reply(call, v);
    return EPY_GEN_ANSWERED;
}

static int
h_add(epy_call *call, int64_t a, int64_t b, int64_t *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = a + b;
    return 0;
}

static int
h_maybe(epy_call *call, bool give, epy_string_opt *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    if (give) {
        ret->has = true;
        ret->value = dup_str("here");
    }
    return 0;
}

static int
h_nothing(epy_call *call, void *ctx)
{
    (void) call;
    (void) ctx;
    return 0;
}

static int
h_fail(epy_call *call, int32_t how, int32_t *ret, void *ctx)
{
    (void) ctx;
    switch (how) {
    case 0:
        *ret = 7;
        return 0;
    case 1: {
        e2e_failure f = { 42, (char *) "asked to fail" };

        return e2e_failure_raise(call, &f, "failure one");
    }
    case 2:
        return e2e_other_raise(call, NULL, NULL);
    default:
        return EPY_EBUSY;
    }
}

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int
h_slow(epy_call *call, int64_t ms, int64_t *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    sleep_ms(ms);
    *ret = ms;
    return 0;
}

typedef struct later {
    epy_call *call;
    int64_t v;
} later;

static void *
answer_later(void *arg)
{
    later l = *(later *) arg;

    free(arg);
    sleep_ms(20);
    e2e_deferred_reply(l.call, l.v * 2);
    return NULL;
}

static int
h_deferred(epy_call *call, int64_t v, int64_t *ret, void *ctx)
{
    later *l = malloc(sizeof *l);
    pthread_t t;

    (void) ret;
    (void) ctx;
    if (l == NULL)
        return EPY_ENOMEM;
    l->call = call;
    l->v = v;
    if (pthread_create(&t, NULL, answer_later, l) != 0) {
        free(l);
        return EPY_ENOMEM;
    }
    pthread_detach(t);
    return EPY_DEFER;
}

static int
h_note(epy_call *call, const char *what, void *ctx)
{
    (void) call;
    (void) what;
    (void) ctx;
    atomic_fetch_add(&notes_seen, 1);
    return 0;
}

static int
h_notes(epy_call *call, int32_t *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = atomic_load(&notes_seen);
    return 0;
}

static int
h_later(epy_call *call, int64_t v, int64_t *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = v * 2;
    return 0;
}

static int
h_quiet(epy_call *call, uint64_t v, void *ctx)
{
    (void) call;
    (void) ctx;
    if (v == 77)
        atomic_fetch_add(&notes_seen, 1);
    return 0;
}

/*
 * A custom listener: answers e2e.unserved itself (v = 7, the encoded
 * arguments 08 07, with bytes that are no result message), the rest by
 * default.
 */
static int
custom_unhandled(epy_call *call, int reason, const uint8_t *req, size_t len,
                 void *ctx)
{
    if (strcmp(epy_call_method(call), "e2e.unserved") == 0) {
        if (len == 2 && req[0] == 0x08 && req[1] == 0x07)
            epy_call_reply(call, "\xff\xff\xff", 3);
        else
            e2e_unserved_reply(call, 99);
        return 0;
    }
    return epy_listener_default_unhandled(call, reason, req, len, ctx);
}

static sem_t server_gone;

static void
on_gone(epy_peer *peer, int reason, void *ctx)
{
    (void) peer;
    (void) reason;
    (void) ctx;
    sem_post(&server_gone);
}

/*
 * The server's table is removed with e2e_unserve() before closing, or,
 * with @keep, left to epy_peer_close() (which drops every registration).
 */
static int
serve(epy_link *link, bool custom, bool keep)
{
    static const e2e_handlers table = {
        h_echo_scalars, h_echo_bag, h_echo_node, h_echo_bytes,
        h_echo_string, h_echo_ints, h_add, h_maybe, h_nothing, h_fail,
        h_slow, h_deferred, NULL, h_note, h_notes, h_quiet, h_later
    };
    epy_listener listener = { custom ? custom_unhandled : NULL, NULL,
                              on_gone };
    epy_peer *peer = NULL;

    sem_init(&server_gone, 0, 0);
    if (epy_link_peer(link, EPY_LINK_NECK, NULL, &peer, NULL) < 0)
        return 1;
    epy_peer_set_listener(peer, &listener, NULL);
    if (e2e_serve(peer, &table, NULL) < 0)
        return 2;
    /* Serving twice is refused, and leaves the first registration. */
    if (e2e_serve(peer, &table, NULL) != EPY_EEXIST)
        return 3;
    while (sem_wait(&server_gone) < 0)
        ;
    if (!keep && e2e_unserve(peer) != 0)
        return 4;
    epy_peer_close(peer);
    return 0;
}

/* --- the client ------------------------------------------------------------ */

static pid_t server_pid;
static epy_peer *client_peer;
static e2e_api *api;

static void
start(bool custom, bool keep)
{
    epy_link link = EPY_LINK_INIT;
    epy_error err = EPY_ERROR_INIT;

    ck_assert_int_eq(epy_link_open(&link, NULL), 0);
    server_pid = fork();
    ck_assert_int_ge(server_pid, 0);
    if (server_pid == 0)
        _exit(serve(&link, custom, keep));
    ck_assert_int_eq(epy_link_peer(&link, EPY_LINK_HEAD, NULL, &client_peer,
                                   &err), 0);
    ck_assert_int_eq(epy_peer_wait_ready(client_peer, 10000, &err), 0);
    ck_assert_int_eq(e2e_api_open(client_peer, &api, &err), 0);
    /* The server registers its table method by method just after its
     * peer starts: until the last one (quiet) is in, calls may find the
     * namespace unknown or the method unsupported. */
    for (int i = 0; i < 5000; i++) {
        epy_call_opts opts = EPY_CALL_OPTS_INIT;
        int rc;

        opts.solicited = 1;
        rc = e2e_quiet_opts(api, 1, &opts, NULL);
        if (rc != EPY_EUNKNOWN && rc != EPY_EUNSUPPORTED) {
            ck_assert_int_eq(rc, 0);
            break;
        }
        usleep(1000);
    }
}

static void
stop(void)
{
    int status;

    api = e2e_api_close(api);
    client_peer = epy_peer_close(client_peer);
    ck_assert_int_eq(waitpid(server_pid, &status, 0), server_pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "server exit status %d", WEXITSTATUS(status));
}

static void
setup(void)
{
    tu_setup_resources();
    start(false, false);
}

static void
setup_keep(void)
{
    tu_setup_resources();
    start(false, true);
}

static void
setup_custom(void)
{
    tu_setup_resources();
    start(true, false);
}

static void
teardown(void)
{
    stop();
    tu_teardown_resources();
}

/* --- types ---------------------------------------------------------------- */

START_TEST(test_scalars)
{
    uint8_t raw[] = { 0, 'a', 0, 0xff, 0 };
    e2e_scalars v = {
        true, INT8_MIN, INT16_MIN, INT32_MIN, INT64_MIN, UINT8_MAX,
        UINT16_MAX, UINT32_MAX, UINT64_MAX, -0.5f, 1e308,
        (char *) "\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9t\xc3\xa9",
        { raw, sizeof raw }, E2E_LEVEL_HIGH
    };
    e2e_scalars got;
    epy_error err = EPY_ERROR_INIT;

    ck_assert_int_eq(e2e_echo_scalars(api, &v, &got, &err), 0);
    ck_assert(got.b == v.b);
    ck_assert_int_eq(got.i8, INT8_MIN);
    ck_assert_int_eq(got.i16, INT16_MIN);
    ck_assert_int_eq(got.i32, INT32_MIN);
    ck_assert(got.i64 == INT64_MIN);
    ck_assert_uint_eq(got.u8, UINT8_MAX);
    ck_assert_uint_eq(got.u16, UINT16_MAX);
    ck_assert_uint_eq(got.u32, UINT32_MAX);
    ck_assert(got.u64 == UINT64_MAX);
    ck_assert(got.f == -0.5f && got.d == 1e308);
    ck_assert_str_eq(got.s, v.s);
    ck_assert_uint_eq(got.raw.len, sizeof raw);
    ck_assert_mem_eq(got.raw.data, raw, sizeof raw);
    ck_assert_int_eq(got.lv, E2E_LEVEL_HIGH);
    e2e_scalars_clear(&got);
    ck_assert_ptr_null(got.s);

    /* Zero values, empty string and bytes, a NULL string read as "". */
    memset(&v, 0, sizeof v);
    ck_assert_int_eq(e2e_echo_scalars(api, &v, &got, &err), 0);
    ck_assert_str_eq(got.s, "");
    ck_assert_uint_eq(got.raw.len, 0);
    ck_assert_int_eq(got.lv, E2E_LEVEL_LOW);
    e2e_scalars_clear(&got);
}
END_TEST

START_TEST(test_bag_empty)
{
    e2e_bag v, got;

    memset(&v, 0, sizeof v);
    ck_assert_int_eq(e2e_echo_bag(api, &v, &got, NULL), 0);
    ck_assert_uint_eq(got.ints.n, 0);
    ck_assert_uint_eq(got.many.n, 0);
    ck_assert(!got.oi.has && !got.os.has && !got.osc.has && !got.ob.has);
    ck_assert_uint_eq(got.counts.n, 0);
    ck_assert(!got.maybe_words.has && !got.tristate.has);
    ck_assert_uint_eq(got.deep.n, 0);
    e2e_bag_clear(&got);
}
END_TEST

START_TEST(test_bag_full)
{
    int64_t ints[] = { 0, -1, INT64_MAX };
    char *words[] = { (char *) "", (char *) "two", (char *) "\xc3\xa9" };
    uint8_t b0[] = { 0, 0 }, b1[] = { 1 };
    epy_bytes blobs[] = { { b0, 2 }, { NULL, 0 }, { b1, 1 } };
    e2e_scalars sc = { true, 1, 2, 3, 4, 5, 6, 7, 8, 9.5f, 10.25,
                       (char *) "s", { b1, 1 }, E2E_LEVEL_MID };
    e2e_scalars many[] = { sc, sc };
    epy_int64_string_map_entry counts[] = { { (char *) "a", 1 },
                                            { (char *) "b", -2 } };
    e2e_scalars_int32_map_entry by_id[] = { { -5, sc } };
    epy_string_bool_map_entry flags[] = { { true, (char *) "yes" },
                                          { false, (char *) "no" } };
    epy_string_list_uint64_map_entry groups[] = {
        { 1, { 3, words } }, { UINT64_MAX, { 0, NULL } } };
    double r0[] = { 1, 2 };
    epy_double_list rows[] = { { 2, r0 }, { 0, NULL } };
    epy_int32_opt sparse[] = { { true, 1 }, { false, 0 }, { true, -1 } };
    epy_bytes_string_map_entry inner[] = { { (char *) "k", { b0, 2 } } };
    epy_bytes_string_map_string_map_entry nested[] = {
        { (char *) "outer", { 1, inner } }, { (char *) "empty", { 0, NULL } } };
    e2e_level_opt_string_map_entry d0[] = {
        { (char *) "set", { true, E2E_LEVEL_HIGH } },
        { (char *) "unset", { false, E2E_LEVEL_LOW } } };
    e2e_level_opt_string_map deep[] = { { 2, d0 }, { 0, NULL } };
    e2e_bag v = {
        { 3, ints }, { 3, words }, { 3, blobs }, { 2, many },
        { true, 0 }, { true, (char *) "" }, { true, sc }, { true, { b0, 2 } },
        { 2, counts }, { 1, by_id }, { 2, flags }, { 2, groups },
        { 2, rows }, { 3, sparse }, { true, { 3, words } },
        { true, { true, false } }, { 2, nested }, { 2, deep }
    };
    e2e_bag got;
    epy_error err = EPY_ERROR_INIT;

    ck_assert_int_eq(e2e_echo_bag(api, &v, &got, &err), 0);
    ck_assert_uint_eq(got.ints.n, 3);
    ck_assert(got.ints.items[2] == INT64_MAX && got.ints.items[1] == -1);
    ck_assert_uint_eq(got.words.n, 3);
    ck_assert_str_eq(got.words.items[0], "");
    ck_assert_str_eq(got.words.items[2], "\xc3\xa9");
    ck_assert_uint_eq(got.blobs.n, 3);
    ck_assert_uint_eq(got.blobs.items[0].len, 2);
    ck_assert_uint_eq(got.blobs.items[1].len, 0);
    ck_assert_uint_eq(got.many.n, 2);
    ck_assert_str_eq(got.many.items[1].s, "s");
    ck_assert_int_eq(got.many.items[1].lv, E2E_LEVEL_MID);
    ck_assert(got.oi.has && got.oi.value == 0);
    ck_assert(got.os.has);
    ck_assert_str_eq(got.os.value, "");
    ck_assert(got.osc.has && got.osc.value.u64 == 8);
    ck_assert(got.ob.has && got.ob.value.len == 2);
    ck_assert_uint_eq(got.counts.n, 2);
    ck_assert_str_eq(got.counts.items[1].key, "b");
    ck_assert(got.counts.items[1].value == -2);
    ck_assert_uint_eq(got.by_id.n, 1);
    ck_assert_int_eq(got.by_id.items[0].key, -5);
    ck_assert(got.by_id.items[0].value.d == 10.25);
    ck_assert_uint_eq(got.flags.n, 2);
    ck_assert(got.flags.items[0].key && !got.flags.items[1].key);
    ck_assert_str_eq(got.flags.items[1].value, "no");
    ck_assert_uint_eq(got.groups.n, 2);
    ck_assert_uint_eq(got.groups.items[0].value.n, 3);
    ck_assert(got.groups.items[1].key == UINT64_MAX);
    ck_assert_uint_eq(got.groups.items[1].value.n, 0);
    ck_assert_uint_eq(got.matrix.n, 2);
    ck_assert(got.matrix.items[0].items[1] == 2);
    ck_assert_uint_eq(got.matrix.items[1].n, 0);
    ck_assert_uint_eq(got.sparse.n, 3);
    ck_assert(!got.sparse.items[1].has && got.sparse.items[2].value == -1);
    ck_assert(got.maybe_words.has && got.maybe_words.value.n == 3);
    ck_assert(got.tristate.has && got.tristate.value.has
              && !got.tristate.value.value);
    ck_assert_uint_eq(got.nested.n, 2);
    ck_assert_str_eq(got.nested.items[0].value.items[0].key, "k");
    ck_assert_uint_eq(got.nested.items[0].value.items[0].value.len, 2);
    ck_assert_uint_eq(got.nested.items[1].value.n, 0);
    ck_assert_uint_eq(got.deep.n, 2);
    ck_assert(got.deep.items[0].items[0].value.has
              && got.deep.items[0].items[0].value.value == E2E_LEVEL_HIGH);
    ck_assert(!got.deep.items[0].items[1].value.has);
    e2e_bag_clear(&got);
}
END_TEST

START_TEST(test_tree)
{
    e2e_node leaves[] = { { (char *) "a", { 0, NULL }, { 0, NULL } },
                          { (char *) "b", { 0, NULL }, { 0, NULL } } };
    e2e_node_string_map_entry named[] = { { (char *) "x", leaves[0] } };
    e2e_node root = { (char *) "root", { 2, leaves }, { 1, named } };
    e2e_node got;

    ck_assert_int_eq(e2e_echo_node(api, &root, &got, NULL), 0);
    ck_assert_str_eq(got.name, "root");
    ck_assert_uint_eq(got.kids.n, 2);
    ck_assert_str_eq(got.kids.items[1].name, "b");
    ck_assert_uint_eq(got.named.n, 1);
    ck_assert_str_eq(got.named.items[0].value.name, "a");
    e2e_node_clear(&got);
}
END_TEST

/* A chain of @depth nodes, each the only kid of the one before. */
static e2e_node *
make_chain(int depth)
{
    e2e_node *nodes = calloc((size_t) depth, sizeof *nodes);

    ck_assert_ptr_nonnull(nodes);
    for (int i = 0; i < depth; i++) {
        nodes[i].name = (char *) "n";
        if (i + 1 < depth) {
            nodes[i].kids.n = 1;
            nodes[i].kids.items = &nodes[i + 1];
        }
    }
    return nodes;
}

START_TEST(test_deep)
{
    e2e_node *chain = make_chain(200);
    e2e_node got;
    epy_error err = EPY_ERROR_INIT;
    int depth = 0;

    ck_assert_int_eq(e2e_echo_node(api, chain, &got, &err), 0);
    for (const e2e_node *n = &got; n != NULL;
         n = n->kids.n > 0 ? &n->kids.items[0] : NULL)
        depth++;
    ck_assert_int_eq(depth, 200);
    e2e_node_clear(&got);
    free(chain);
    /* Deeper than EPY_GEN_MAX_DEPTH: the receiver refuses to decode it. */
    chain = make_chain(EPY_GEN_MAX_DEPTH + 10);
    ck_assert_int_eq(e2e_echo_node(api, chain, &got, &err), EPY_EPROTO);
    epy_error_clear(&err);
    free(chain);
}
END_TEST

START_TEST(test_large)
{
    size_t n = (size_t) 1 << 20;
    uint8_t *data = malloc(n);
    char *text = malloc(n + 1);
    epy_bytes b = { data, n }, got;
    char *s = NULL;
    epy_int64_list ints = { 100000, NULL }, gi;

    ck_assert_ptr_nonnull(data);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < n; i++) {
        data[i] = (uint8_t) (i * 7);
        text[i] = (char) ('a' + i % 26);
    }
    text[n] = '\0';
    ck_assert_int_eq(e2e_echo_bytes(api, &b, &got, NULL), 0);
    ck_assert_uint_eq(got.len, n);
    ck_assert(memcmp(got.data, data, n) == 0);
    epy_bytes_clear(&got);
    ck_assert_int_eq(e2e_echo_string(api, text, &s, NULL), 0);
    ck_assert_uint_eq(strlen(s), n);
    ck_assert(strcmp(s, text) == 0);
    free(s);
    ints.items = malloc(ints.n * sizeof *ints.items);
    ck_assert_ptr_nonnull(ints.items);
    for (size_t i = 0; i < ints.n; i++)
        ints.items[i] = (int64_t) i * 1000003 - 7;
    ck_assert_int_eq(e2e_echo_ints(api, &ints, &gi, NULL), 0);
    ck_assert_uint_eq(gi.n, ints.n);
    ck_assert(memcmp(gi.items, ints.items, ints.n * sizeof *ints.items)
              == 0);
    epy_int64_list_clear(&gi);
    free(ints.items);
    free(data);
    free(text);
}
END_TEST

START_TEST(test_optional_result)
{
    epy_string_opt o;

    ck_assert_int_eq(e2e_maybe(api, true, &o, NULL), 0);
    ck_assert(o.has);
    ck_assert_str_eq(o.value, "here");
    epy_string_opt_clear(&o);
    ck_assert_int_eq(e2e_maybe(api, false, &o, NULL), 0);
    ck_assert(!o.has);
    ck_assert_int_eq(e2e_nothing(api, NULL), 0);
}
END_TEST

/* --- call modes ---------------------------------------------------------------- */

START_TEST(test_sync_and_options)
{
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_error err = EPY_ERROR_INIT;
    int64_t out = 0;

    ck_assert_int_eq(e2e_add(api, 2, 3, &out, &err), 0);
    ck_assert(out == 5);
    /* The IDL gives slow() 300 ms. */
    ck_assert_int_eq(e2e_slow(api, 10, &out, &err), 0);
    ck_assert_int_eq(e2e_slow(api, 2000, &out, &err), EPY_ETIMEDOUT);
    ck_assert_int_eq(err.code, EPY_ETIMEDOUT);
    epy_error_clear(&err);
    /* Per-call options override it, both ways. */
    opts.timeout_ms = 5000;
    out = 0;
    ck_assert_int_eq(e2e_slow_opts(api, 400, &opts, &out, &err), 0);
    ck_assert(out == 400);
    opts.timeout_ms = 50;
    ck_assert_int_eq(e2e_add_opts(api, 1, 1, &opts, &out, &err), 0);
    ck_assert_int_eq(e2e_slow_opts(api, 1000, &opts, &out, &err),
                     EPY_ETIMEDOUT);
    epy_error_clear(&err);
}
END_TEST

static sem_t cb_sem;
static int cb_rc;
static int64_t cb_value;

static void
on_add(int rc, int64_t *result, const epy_error *err, void *ctx)
{
    ck_assert_ptr_eq(ctx, &cb_sem);
    cb_rc = rc;
    cb_value = rc == 0 ? *result : -1;
    ck_assert(rc == 0 ? err == NULL : err != NULL);
    sem_post(&cb_sem);
}

static void
on_fail(int rc, int32_t *result, const epy_error *err, void *ctx)
{
    e2e_failure f;

    ck_assert_ptr_null(result);
    cb_rc = rc;
    cb_value = e2e_failure_get(err, &f) == 0 ? f.code : -1;
    e2e_failure_clear(&f);
    sem_post(ctx);
}

static void
wait_sem(sem_t *sem)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10 * tu_slow();
    while (sem_timedwait(sem, &ts) < 0)
        ck_assert_int_eq(errno, EINTR);
}

START_TEST(test_async)
{
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *a = NULL;
    epy_error err = EPY_ERROR_INIT;
    int64_t out = 0;
    sem_t sem;

    /* Poll: wait on the handle, read the typed result. */
    ck_assert_int_eq(e2e_add_async(api, 20, 22, NULL, &a, &err), 0);
    ck_assert_int_eq(epy_async_wait(a, 10000), 0);
    ck_assert_int_eq(e2e_add_result(a, &out, &err), 0);
    ck_assert(out == 42);
    a = epy_async_release(a);

    /* Pending, then done. */
    ck_assert_int_eq(e2e_slow_async(api, 200, NULL, &a, &err), 0);
    ck_assert_int_eq(e2e_slow_result(a, &out, &err), EPY_EPENDING);
    epy_error_clear(&err);
    ck_assert_int_eq(epy_async_wait(a, 10000), 0);
    ck_assert_int_eq(e2e_slow_result(a, &out, &err), 0);
    ck_assert(out == 200);
    a = epy_async_release(a);

    /* Semaphore. */
    sem_init(&sem, 0, 0);
    opts.sem = &sem;
    ck_assert_int_eq(e2e_add_async(api, 1, 2, &opts, &a, &err), 0);
    wait_sem(&sem);
    ck_assert_int_eq(e2e_add_result(a, &out, &err), 0);
    ck_assert(out == 3);
    a = epy_async_release(a);
    sem_destroy(&sem);

    /* Typed callbacks, for a result and for a typed error. */
    sem_init(&cb_sem, 0, 0);
    ck_assert_int_eq(e2e_add_async_cb(api, 5, 6, NULL, on_add, &cb_sem,
                                      &err), 0);
    wait_sem(&cb_sem);
    ck_assert_int_eq(cb_rc, 0);
    ck_assert(cb_value == 11);
    ck_assert_int_eq(e2e_fail_async_cb(api, 1, NULL, on_fail, &cb_sem,
                                       &err), 0);
    wait_sem(&cb_sem);
    ck_assert_int_eq(cb_rc, EPY_EFAILED);
    ck_assert(cb_value == 42);
    sem_destroy(&cb_sem);

    /* A typed error through a polled handle. */
    ck_assert_int_eq(e2e_fail_async(api, 2, NULL, &a, &err), 0);
    ck_assert_int_eq(epy_async_wait(a, 10000), EPY_EFAILED);
    ck_assert_int_eq(e2e_fail_result(a, NULL, &err), EPY_EFAILED);
    ck_assert_str_eq(err.type, "e2e.other");
    epy_error_clear(&err);
    a = epy_async_release(a);
}
END_TEST

START_TEST(test_events)
{
    int32_t n = 0;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;

    ck_assert_int_eq(e2e_note_send(api, "one", NULL), 0);
    ck_assert_int_eq(e2e_note_send(api, "two", NULL), 0);
    /* A method sent as an event: no reply. */
    ck_assert_int_eq(e2e_add_send(api, 1, 1, NULL), 0);
    /* Frames arrive in order: the events were handled (or queued) first;
     * poll until both ran. */
    for (int i = 0; i < 500 && n < 2; i++) {
        ck_assert_int_eq(e2e_notes(api, &n, NULL), 0);
        if (n < 2)
            usleep(10000);
    }
    ck_assert_int_eq(n, 2);
    /* quiet() is unsolicited in the IDL: e2e_quiet() sends it as an
     * event, and it is handled (counted as a third note). */
    ck_assert_int_eq(e2e_quiet(api, 77, NULL), 0);
    for (int i = 0; i < 500 && n < 3; i++) {
        ck_assert_int_eq(e2e_notes(api, &n, NULL), 0);
        if (n < 3)
            usleep(10000);
    }
    ck_assert_int_eq(n, 3);
    /* Solicited through the options, it is answered. */
    opts.solicited = 1;
    ck_assert_int_eq(e2e_quiet_opts(api, 1, &opts, NULL), 0);
}
END_TEST

/* later() is async in the IDL: the plain stub starts it and returns. */
START_TEST(test_async_default)
{
    epy_async *a = NULL;
    int64_t r = 0;

    ck_assert_int_eq(e2e_later(api, 21, &a, NULL), 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(epy_async_wait(a, 10000), 0);
    ck_assert_int_eq(e2e_later_result(a, &r, NULL), 0);
    ck_assert(r == 42);
    a = epy_async_release(a);
    /* _opts() waits, whatever the IDL says. */
    ck_assert_int_eq(e2e_later_opts(api, 5, NULL, &r, NULL), 0);
    ck_assert(r == 10);
}
END_TEST

/* --- errors and unhandled methods ----------------------------------------------- */

START_TEST(test_typed_errors)
{
    epy_error err = EPY_ERROR_INIT;
    int32_t out = -1;
    e2e_failure f;
    e2e_other o;

    ck_assert_int_eq(e2e_fail(api, 0, &out, &err), 0);
    ck_assert_int_eq(out, 7);
    out = -1;
    ck_assert_int_eq(e2e_fail(api, 1, &out, &err), EPY_EFAILED);
    ck_assert_int_eq(out, -1);      /* untouched on failure */
    ck_assert_str_eq(err.type, "e2e.failure");
    ck_assert_str_eq(err.message, "failure one");
    ck_assert_int_eq(e2e_other_get(&err, &o), EPY_ENOTFOUND);
    ck_assert_int_eq(e2e_failure_get(&err, &f), 0);
    ck_assert_int_eq(f.code, 42);
    ck_assert_str_eq(f.why, "asked to fail");
    e2e_failure_clear(&f);
    epy_error_clear(&err);
    ck_assert_int_eq(e2e_fail(api, 2, &out, &err), EPY_EFAILED);
    ck_assert_int_eq(e2e_other_get(&err, &o), 0);
    ck_assert_int_eq(e2e_failure_get(&err, &f), EPY_ENOTFOUND);
    epy_error_clear(&err);
    /* A handler's own code. */
    ck_assert_int_eq(e2e_fail(api, 3, &out, &err), EPY_EBUSY);
    ck_assert_ptr_null(err.type);
    ck_assert_int_eq(e2e_failure_get(&err, &f), EPY_ENOTFOUND);
    epy_error_clear(&err);
}
END_TEST

START_TEST(test_deferred)
{
    int64_t out = 0;

    ck_assert_int_eq(e2e_deferred(api, 21, &out, NULL), 0);
    ck_assert(out == 42);
}
END_TEST

START_TEST(test_unhandled_default)
{
    epy_error err = EPY_ERROR_INIT;
    int64_t out = 5;
    int32_t depth;
    epy_api *raw = NULL;
    e2e_sub_api *sub = NULL;

    ck_assert_int_eq(e2e_unserved(api, 1, &out, &err), EPY_EUNSUPPORTED);
    ck_assert(out == 5);
    epy_error_clear(&err);
    /* e2e.sub has no table: its methods are unsupported, not unknown. */
    ck_assert_int_eq(e2e_sub_api_child(api, &sub, &err), 0);
    ck_assert_int_eq(e2e_sub_depth(sub, &depth, &err), EPY_EUNSUPPORTED);
    epy_error_clear(&err);
    e2e_sub_api_close(sub);
    /* A payload that does not decode is refused by the typed handler. */
    ck_assert_int_eq(epy_api_open(client_peer, "e2e", &raw, &err), 0);
    ck_assert_int_eq(epy_api_call(raw, "add", "\xff\xff\xff", 3, NULL, NULL,
                                  &err), EPY_EPROTO);
    epy_error_clear(&err);
    epy_api_close(raw);
}
END_TEST

START_TEST(test_unhandled_custom)
{
    epy_error err = EPY_ERROR_INIT;
    int64_t out = 0;
    int32_t depth;
    e2e_sub_api *sub = NULL;

    ck_assert_int_eq(e2e_unserved(api, 1, &out, &err), 0);
    ck_assert(out == 99);
    /* A reply that does not decode: EPY_EPROTO, the result untouched. */
    out = 5;
    ck_assert_int_eq(e2e_unserved(api, 7, &out, &err), EPY_EPROTO);
    ck_assert(out == 5);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_msg(strstr(err.message, "unserved: the reply does not decode")
                      != NULL, "message: %s", err.message);
    epy_error_clear(&err);
    ck_assert_int_eq(e2e_unserved(api, 1, &out, &err), 0);
    ck_assert(out == 99);
    ck_assert_int_eq(e2e_sub_api_open(client_peer, &sub, &err), 0);
    ck_assert_int_eq(e2e_sub_depth(sub, &depth, &err), EPY_EUNSUPPORTED);
    epy_error_clear(&err);
    e2e_sub_api_close(sub);
}
END_TEST

/* --- hostile payloads: the decoding budget and range checks --------------- */

/* Appends the varint @v at @p; returns the end. */
static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t) v;
    return p;
}

/* @n copies of the 2-byte element (@tag, length 0): empty messages. */
static uint8_t *
empty_elements(uint8_t tag, size_t n)
{
    uint8_t *p = malloc(2 * n);

    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = tag;
        p[2 * i + 1] = 0;
    }
    return p;
}

/* @body as field 1 of a method's arguments; *@ret_len its length. */
static uint8_t *
as_args(const uint8_t *body, size_t len, size_t *ret_len)
{
    uint8_t *p = malloc(len + 11), *q;

    ck_assert_ptr_nonnull(p);
    p[0] = 0x0a;
    q = put_varint(p + 1, len);
    if (len > 0)
        memcpy(q, body, len);
    *ret_len = (size_t) (q - p) + len;
    return p;
}

/*
 * Resident memory is measured where the allocator is the C library's:
 * the sanitizers' and valgrind's keep shadow memory and quarantines.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_MEANINGFUL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) \
    || __has_feature(memory_sanitizer)
#define RSS_MEANINGFUL 0
#endif
#endif
#ifndef RSS_MEANINGFUL
#define RSS_MEANINGFUL 1
#endif

/* A field of /proc/self/status in kB, or -1. */
static long
status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(key);
    long v = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, n) == 0)
            v = strtol(line + n, NULL, 10);
    fclose(f);
    return v;
}

typedef struct decode_peak {
    int rc;                     /* what epy_gen_decode() returned */
    size_t n_many;              /* the elements of e2e.bag.many decoded */
    long grown_kb;              /* peak resident memory it added, or -1 */
} decode_peak;

/* The input of decode_in_child(): the child exits without freeing it. */
static const uint8_t *child_input;

/*
 * Decodes @len bytes at @data as an e2e.bag in a child process, whose
 * peak resident memory (VmHWM) starts at its size when it is forked: the
 * peak growth is all the decoding's.
 */
static decode_peak
decode_in_child(const uint8_t *data, size_t len)
{
    decode_peak r;
    int fds[2], status;
    pid_t pid;

    memset(&r, 0, sizeof r);            /* padding too: it is written */
    r.grown_kb = -1;
    child_input = data;
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        long before = status_kb("VmRSS:"), peak;
        e2e_bag bag;

        close(fds[0]);
        r.rc = epy_gen_decode(&e2e_bag_desc, child_input, len, &bag);
        peak = status_kb("VmHWM:");
        r.n_many = bag.many.n;
        r.grown_kb = before >= 0 && peak >= 0 ? peak - before : -1;
        e2e_bag_clear(&bag);
        _exit(write(fds[1], &r, sizeof r) == (ssize_t) sizeof r ? 0 : 1);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &r, sizeof r), (ssize_t) sizeof r);
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return r;
}

/* The documented bound for @len bytes, with 1 MiB for the process. */
static long
budget_kb(size_t len)
{
    return (long) ((EPY_GEN_DECODE_FACTOR * len + EPY_GEN_DECODE_SLACK)
                   / 1024) + 1024;
}

/*
 * 2 MB of empty elements of list<scalars> (2 bytes each on the wire, some
 * 340 bytes each decoded) is refused with EPY_ETOOBIG before the memory
 * grows past the budget; before the budget, it took some 300 MiB.
 */
START_TEST(test_budget_hostile)
{
    size_t n = 1000000, alen;
    uint8_t *body = empty_elements(0x22, n);       /* field 4, many */
    uint8_t *args;
    decode_peak r = decode_in_child(body, 2 * n);
    epy_api *raw = NULL;
    epy_error err = EPY_ERROR_INIT;
    e2e_bag bag;

    ck_assert_int_eq(r.rc, EPY_ETOOBIG);
    if (RSS_MEANINGFUL && tu_slow() == 1) {
        ck_assert_int_ge(r.grown_kb, 0);
        ck_assert_msg(r.grown_kb <= budget_kb(2 * n),
                      "decoding 2 MB grew the process by %ld kB (bound %ld)",
                      r.grown_kb, budget_kb(2 * n));
    }
    /* Refused, and nothing is left: the value is zeroed. */
    ck_assert_int_eq(epy_gen_decode(&e2e_bag_desc, body, 2 * n, &bag),
                     EPY_ETOOBIG);
    ck_assert_uint_eq(bag.many.n, 0);
    ck_assert_ptr_null(bag.many.items);

    /* Through a generated handler: the caller gets EPY_ETOOBIG. */
    args = as_args(body, 2 * n, &alen);
    ck_assert_int_eq(epy_api_open(client_peer, "e2e", &raw, &err), 0);
    ck_assert_int_eq(epy_api_call(raw, "echo_bag", args, alen, NULL, NULL,
                                  &err), EPY_ETOOBIG);
    epy_error_clear(&err);
    /* The server is fine. */
    ck_assert_int_eq(epy_api_call(raw, "echo_bag", "", 0, NULL, NULL, &err),
                     0);
    epy_api_close(raw);
    free(args);
    free(body);
}
END_TEST

/* A reply over the budget is refused by the caller, sync and async. */
START_TEST(test_budget_reply)
{
    e2e_bag v, got, untouched;
    epy_error err = EPY_ERROR_INIT;
    epy_async *a = NULL;

    memset(&v, 0, sizeof v);
    v.oi.has = true;
    v.oi.value = -1;                    /* h_echo_bag: a hostile reply */
    memset(&got, 0x5a, sizeof got);
    memset(&untouched, 0x5a, sizeof untouched);
    ck_assert_int_eq(e2e_echo_bag(api, &v, &got, &err), EPY_ETOOBIG);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_msg(strstr(err.message, "echo_bag: the reply exceeds the "
                         "decoding budget") != NULL, "message: %s",
                  err.message);
    ck_assert_mem_eq(&got, &untouched, sizeof got);
    epy_error_clear(&err);

    ck_assert_int_eq(e2e_echo_bag_async(api, &v, NULL, &a, &err), 0);
    ck_assert_int_eq(epy_async_wait(a, 10000), 0);
    ck_assert_int_eq(e2e_echo_bag_result(a, &got, &err), EPY_ETOOBIG);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_msg(strstr(err.message, "exceeds the decoding budget")
                  != NULL, "message: %s", err.message);
    epy_error_clear(&err);
    a = epy_async_release(a);

    /* Without the marker, the same call is fine. */
    v.oi.value = 1;
    ck_assert_int_eq(e2e_echo_bag(api, &v, &got, &err), 0);
    ck_assert(got.oi.has && got.oi.value == 1);
    e2e_bag_clear(&got);
}
END_TEST

/* The same kind of message, of a moderate size, decodes. */
START_TEST(test_budget_moderate)
{
    size_t n = 2000;
    uint8_t *body = empty_elements(0x22, n);
    decode_peak r = decode_in_child(body, 2 * n);
    e2e_bag v, got;

    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.n_many, n);
    if (RSS_MEANINGFUL && tu_slow() == 1)
        ck_assert_int_le(r.grown_kb, budget_kb(2 * n));
    free(body);

    /* 100,000 zero-valued scalars (40 bytes each) go there and back. */
    memset(&v, 0, sizeof v);
    v.many.n = 100000;
    v.many.items = calloc(v.many.n, sizeof *v.many.items);
    ck_assert_ptr_nonnull(v.many.items);
    ck_assert_int_eq(e2e_echo_bag(api, &v, &got, NULL), 0);
    ck_assert_uint_eq(got.many.n, v.many.n);
    ck_assert_str_eq(got.many.items[v.many.n - 1].s, "");
    e2e_bag_clear(&got);
    free(v.many.items);
}
END_TEST

/*
 * A singular message field repeated: protobuf merges the occurrences,
 * concatenating their lists, so each costs as much as all before it.
 * The budget stops it early instead of copying gigabytes.
 */
START_TEST(test_budget_merge)
{
    size_t n = 200000;
    uint8_t *body = malloc(5 * n);
    int64_t t0 = tu_now_ms();
    e2e_bag bag;

    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < n; i++)     /* maybe_words = 15: { "a" } */
        memcpy(body + 5 * i, "\x7a\x03\x0a\x01" "a", 5);
    ck_assert_int_eq(epy_gen_decode(&e2e_bag_desc, body, 5 * n, &bag),
                     EPY_ETOOBIG);
    ck_assert_int_lt(tu_now_ms() - t0, 5000 * tu_slow());
    /* A few occurrences are fine: their lists are concatenated. */
    ck_assert_int_eq(epy_gen_decode(&e2e_bag_desc, body, 5 * 3, &bag), 0);
    ck_assert(bag.maybe_words.has);
    ck_assert_uint_eq(bag.maybe_words.value.n, 3);
    e2e_bag_clear(&bag);
    free(body);
}
END_TEST

/*
 * Calls e2e.echo_scalars with the e2e.scalars message @v (@len bytes) as
 * its argument (NULL: an empty request, without the argument), through
 * the dynamic API; on success decodes the echo into @ret_got.
 */
static int
call_scalars_raw(const uint8_t *v, size_t len, e2e_scalars *ret_got)
{
    epy_api *raw = NULL;
    epy_error err = EPY_ERROR_INIT;
    epy_buf reply = EPY_BUF_INIT;
    size_t alen = 0;
    uint8_t *args = v != NULL ? as_args(v, len, &alen) : NULL;
    int rc;

    ck_assert_int_eq(epy_api_open(client_peer, "e2e", &raw, &err), 0);
    rc = epy_api_call(raw, "echo_scalars", args, alen, NULL, &reply, &err);
    if (rc < 0) {
        ck_assert_ptr_nonnull(err.message);
    } else {
        /* The result message: field 1, short here, holds the value. */
        ck_assert_uint_ge(reply.len, 2);
        ck_assert_uint_eq(reply.data[0], 0x0a);
        ck_assert_uint_eq(reply.data[1], reply.len - 2);
        ck_assert_int_eq(epy_gen_decode(&e2e_scalars_desc, reply.data + 2,
                                        reply.len - 2, ret_got), 0);
    }
    epy_error_clear(&err);
    epy_buf_clear(&reply);
    epy_api_close(raw);
    free(args);
    return rc;
}

/*
 * Integers out of the range of their C type and enum values the IDL
 * does not declare are refused (EPY_EPROTO) before the handler runs:
 * h_echo_scalars would echo them, and the call would succeed.
 */
START_TEST(test_ranges)
{
    static const struct {
        const char *what;
        uint8_t tag;            /* field number << 3, varint */
        int64_t value;
        bool ok;
    } cases[] = {
        { "int8 1000", 2 << 3, 1000, false },
        { "int8 128", 2 << 3, 128, false },
        { "int8 -129", 2 << 3, -129, false },
        { "int8 127", 2 << 3, 127, true },
        { "int8 -128", 2 << 3, -128, true },
        { "int16 40000", 3 << 3, 40000, false },
        { "int16 -32769", 3 << 3, -32769, false },
        { "int16 -32768", 3 << 3, -32768, true },
        { "uint8 256", 6 << 3, 256, false },
        { "uint8 255", 6 << 3, 255, true },
        { "uint16 70000", 7 << 3, 70000, false },
        { "uint16 65535", 7 << 3, 65535, true },
        { "uint16 -1", 7 << 3, -1, false },
        { "enum 99", 14 << 3, 99, false },
        { "enum 1", 14 << 3, 1, false },
        { "enum -7 (HIGH)", 14 << 3, -7, true },
        { "enum 5 (MID)", 14 << 3, 5, true },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t msg[16], *p = msg;
        e2e_scalars got;
        int rc;

        *p++ = cases[i].tag;
        p = put_varint(p, (uint64_t) cases[i].value);
        rc = call_scalars_raw(msg, (size_t) (p - msg), &got);
        ck_assert_msg(rc == (cases[i].ok ? 0 : EPY_EPROTO),
                      "%s: %s", cases[i].what, epy_status_name(rc));
        if (rc < 0)
            continue;
        switch (cases[i].tag >> 3) {
        case 2:
            ck_assert_int_eq(got.i8, cases[i].value);
            break;
        case 3:
            ck_assert_int_eq(got.i16, cases[i].value);
            break;
        case 6:
            ck_assert_int_eq(got.u8, cases[i].value);
            break;
        case 7:
            ck_assert_int_eq(got.u16, cases[i].value);
            break;
        default:
            ck_assert_int_eq(got.lv, cases[i].value);
            break;
        }
        e2e_scalars_clear(&got);
    }
}
END_TEST

/* Nested values are checked too: in a map's value, deep in generics. */
START_TEST(test_ranges_nested)
{
    /* by_id = 10: { 1: { i8: 1000 } } */
    static const uint8_t by_id[] = { 0x52, 0x07, 0x08, 0x01, 0x12, 0x03,
                                     0x10, 0xe8, 0x07 };
    /* deep = 18: [ { "k": level 99 } ] */
    static const uint8_t deep[] = { 0x92, 0x01, 0x09, 0x0a, 0x07, 0x0a,
                                    0x01, 'k', 0x12, 0x02, 0x08, 0x63 };
    uint8_t ok[sizeof deep];
    e2e_bag bag;

    ck_assert_int_eq(epy_gen_decode(&e2e_bag_desc, by_id, sizeof by_id,
                                    &bag), EPY_EPROTO);
    ck_assert_uint_eq(bag.by_id.n, 0);
    ck_assert_int_eq(epy_gen_decode(&e2e_bag_desc, deep, sizeof deep, &bag),
                     EPY_EPROTO);
    ck_assert_uint_eq(bag.deep.n, 0);
    memcpy(ok, deep, sizeof deep);
    ok[sizeof ok - 1] = 0x05;                               /* MID */
    ck_assert_int_eq(epy_gen_decode(&e2e_bag_desc, ok, sizeof ok, &bag), 0);
    ck_assert_uint_eq(bag.deep.n, 1);
    ck_assert_uint_eq(bag.deep.items[0].n, 1);
    ck_assert(bag.deep.items[0].items[0].value.has);
    ck_assert_int_eq(bag.deep.items[0].items[0].value.value, E2E_LEVEL_MID);
    e2e_bag_clear(&bag);
}
END_TEST

/*
 * An empty request: the argument is absent. The handler still gets ""
 * for its strings (h_echo_scalars would crash on NULL) and { NULL, 0 }
 * for its bytes.
 */
START_TEST(test_absent_argument)
{
    e2e_scalars got;

    ck_assert_int_eq(call_scalars_raw(NULL, 0, &got), 0);
    ck_assert_str_eq(got.s, "");
    ck_assert_uint_eq(got.raw.len, 0);
    ck_assert_int_eq(got.i32, 0);
    e2e_scalars_clear(&got);
}
END_TEST

/* --- the interface constant ---------------------------------------------------- */

START_TEST(test_interface)
{
    bool found = false;

    ck_assert_str_eq(e2e_interface.name, "e2e");
    ck_assert_uint_eq(strlen(e2e_interface.fingerprint), 32);
    ck_assert_str_eq(e2e_interface_text[0], "namespace e2e\n");
    for (size_t i = 0; e2e_interface_text[i] != NULL; i++)
        if (strstr(e2e_interface_text[i],
                   "method e2e.add( a:int64=1 b:int64=2 )") != NULL)
            found = true;
    ck_assert(found);
}
END_TEST

static Suite *
e2e_suite(void)
{
    Suite *s = suite_create("e2e");
    TCase *tc;

    tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_scalars);
    tcase_add_test(tc, test_bag_empty);
    tcase_add_test(tc, test_bag_full);
    tcase_add_test(tc, test_tree);
    tcase_add_test(tc, test_large);
    tcase_add_test(tc, test_deep);
    tcase_add_test(tc, test_optional_result);
    tcase_add_test(tc, test_async);
    tcase_add_test(tc, test_events);
    tcase_add_test(tc, test_async_default);
    tcase_add_test(tc, test_interface);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("timeouts");
    tcase_add_checked_fixture(tc, setup_keep, teardown);
    tcase_add_test(tc, test_sync_and_options);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_typed_errors);
    tcase_add_test(tc, test_deferred);
    tcase_add_test(tc, test_unhandled_default);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_budget_hostile);
    tcase_add_test(tc, test_budget_reply);
    tcase_add_test(tc, test_budget_moderate);
    tcase_add_test(tc, test_budget_merge);
    tcase_add_test(tc, test_ranges);
    tcase_add_test(tc, test_ranges_nested);
    tcase_add_test(tc, test_absent_argument);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("listener");
    tcase_add_checked_fixture(tc, setup_custom, teardown);
    tcase_add_test(tc, test_unhandled_custom);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(e2e_suite());
}
