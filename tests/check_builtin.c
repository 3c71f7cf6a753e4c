/*
 * The built-in services (runtime/wire/introspect.proto): introspection of
 * a peer's interfaces, its off switch and the reserved namespace; a
 * server's monitor (who may use it, what it reports of a burst of calls,
 * stopping and leaving); and listening sockets given to a server
 * ("fd:N", socket activation with "systemd:NAME").
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <epyrpc/gen.h>
#include <epyrpc/version.h>

#include "peer-int.h"
#include "introspect.pb-c.h"
#include "rt-helpers.h"
#include "testutil.h"

static tu_resources res;
static char dir[64];
static char path[100];
static char url[160];

static void
setup(void)
{
    tu_resources_take(&res);
    snprintf(dir, sizeof dir, "/tmp/epy-bi-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.sock", dir);
    snprintf(url, sizeof url, "unix:%s", path);
}

static void
teardown(void)
{
    unlink(path);
    rmdir(dir);
    tu_resources_check(&res);
}

/* --- an interface as generated code describes it ---------------------------- */

static const char *const text[] = {
    "namespace demo\n", "method demo.add( a:int64=1 b:int64=2 ) -> int64\n",
    NULL
};
static const char *const types[] = { "namespace other\n", NULL };
static const char *const idl[] = { "namespace demo {\n", "    int64 add(int64 a, int64 b);\n}\n", NULL };
static const char *const proto[] = { "syntax = \"proto2\";\n", NULL };
static const epy_gen_source sources[] = {
    { "demo.idl", idl }, { "demo.proto", proto }
};
static const epy_interface demo_iface = {
    "demo", "0123456789abcdef0123456789abcdef", text
};
/* What generated code describes when it is loaded. */
static const epy_gen_details demo_details = {
    "demo", "0123456789abcdef0123456789abcdef", types, sources, 2
};

static int
call(epy_peer *peer, const char *method, const ProtobufCMessage *args,
     epy_buf *reply, epy_error *err)
{
    uint8_t buf[256];
    size_t len = args != NULL ? protobuf_c_message_pack(args, buf) : 0;
    epy_api *api;
    int rc;

    ck_assert_int_eq(epy_api_open(peer, "epyrpc", &api, NULL), 0);
    rc = epy_api_call(api, method, buf, len, NULL, reply, err);
    epy_api_close(api);
    return rc;
}

static Epyrpc__IntrospectInterfacesResult *
interfaces(epy_peer *peer, bool with_sources)
{
    Epyrpc__IntrospectInterfacesArgs a = EPYRPC__INTROSPECT_INTERFACES_ARGS__INIT;
    Epyrpc__IntrospectInterfacesResult *r;
    epy_buf reply = EPY_BUF_INIT;

    a.has_sources = true;
    a.sources = with_sources;
    ck_assert_int_eq(call(peer, "introspect.interfaces", &a.base, &reply,
                          NULL), 0);
    r = epyrpc__introspect_interfaces_result__unpack(NULL, reply.len,
                                                     reply.data);
    ck_assert_ptr_nonnull(r);
    epy_buf_clear(&reply);
    return r;
}

START_TEST(test_introspect_pair)
{
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    Epyrpc__IntrospectInterfacesResult *r;
    Epyrpc__IntrospectAboutResult *about;
    epy_buf reply = EPY_BUF_INIT;
    epy_peer *a, *b;

    /* Without details: the description, no types, no sources. */
    cb.interfaces = &demo_iface;
    cb.n_interfaces = 1;
    rt_pair(NULL, &cb, &a, &b);
    r = interfaces(a, true);
    ck_assert_uint_eq(r->n_value, 1);
    ck_assert_str_eq(r->value[0]->name, "demo");
    ck_assert_str_eq(r->value[0]->types, "");
    ck_assert_uint_eq(r->value[0]->n_sources, 0);
    epyrpc__introspect_interfaces_result__free_unpacked(r, NULL);
    epy_peer_close(a);
    epy_peer_close(b);

    epy_gen_describe(&demo_details);
    epy_gen_describe(&demo_details);        /* counts once */
    rt_pair(NULL, &cb, &a, &b);

    r = interfaces(a, false);
    ck_assert_uint_eq(r->n_value, 1);
    ck_assert_str_eq(r->value[0]->name, "demo");
    ck_assert_str_eq(r->value[0]->fingerprint, demo_iface.fingerprint);
    ck_assert_str_eq(r->value[0]->description, "namespace demo\nmethod "
                     "demo.add( a:int64=1 b:int64=2 ) -> int64\n");
    ck_assert_str_eq(r->value[0]->types, "namespace other\n");
    ck_assert_uint_eq(r->value[0]->n_sources, 0);
    epyrpc__introspect_interfaces_result__free_unpacked(r, NULL);

    r = interfaces(a, true);
    ck_assert_uint_eq(r->value[0]->n_sources, 2);
    ck_assert_str_eq(r->value[0]->sources[0]->name, "demo.idl");
    ck_assert_str_eq(r->value[0]->sources[0]->text,
                     "namespace demo {\n    int64 add(int64 a, int64 b);\n}\n");
    ck_assert_str_eq(r->value[0]->sources[1]->name, "demo.proto");
    epyrpc__introspect_interfaces_result__free_unpacked(r, NULL);

    /* The other way: a peer without interfaces answers an empty list. */
    r = interfaces(b, true);
    ck_assert_uint_eq(r->n_value, 0);
    epyrpc__introspect_interfaces_result__free_unpacked(r, NULL);

    ck_assert_int_eq(call(a, "introspect.about", NULL, &reply, NULL), 0);
    about = epyrpc__introspect_about_result__unpack(NULL, reply.len,
                                                    reply.data);
    ck_assert_ptr_nonnull(about);
    ck_assert_ptr_nonnull(about->value);
    ck_assert_str_eq(about->value->version, EPY_VERSION_STRING);
    ck_assert_uint_eq(about->value->protocol, EPY_PROTOCOL_VERSION);
    ck_assert(about->value->has_monitor && !about->value->monitor);
    epyrpc__introspect_about_result__free_unpacked(about, NULL);
    epy_buf_clear(&reply);

    ck_assert_int_eq(call(a, "introspect.ping", NULL, &reply, NULL), 0);
    ck_assert_uint_eq(reply.len, 0);
    /* Not a built-in method: the listener's answer. */
    ck_assert_int_eq(call(a, "introspect.nothing", NULL, &reply, NULL),
                     EPY_EUNKNOWN);
    /* Monitoring is a server's. */
    ck_assert_int_eq(call(a, "monitor.start", NULL, &reply, NULL),
                     EPY_EUNKNOWN);
    epy_peer_close(a);
    epy_peer_close(b);
    epy_gen_undescribe(&demo_details);
}
END_TEST

START_TEST(test_introspection_off_and_reserved)
{
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    epy_buf reply = EPY_BUF_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_peer *a, *b;

    cb.interfaces = &demo_iface;
    cb.n_interfaces = 1;
    cb.no_introspection = true;
    rt_pair(NULL, &cb, &a, &b);
    ck_assert_int_eq(call(a, "introspect.interfaces", NULL, &reply, &err),
                     EPY_EUNKNOWN);
    epy_error_clear(&err);

    /* Nobody may put handlers into the reserved namespace. */
    ck_assert_int_eq(epy_peer_handle(b, "epyrpc.introspect.ping", rt_echo,
                                     NULL, &err), EPY_EPARAM);
    ck_assert_ptr_nonnull(strstr(err.message, "reserved"));
    epy_error_clear(&err);
    ck_assert_int_eq(epy_peer_handle_ns(b, "epyrpc", rt_echo, NULL, NULL),
                     EPY_EPARAM);
    ck_assert_int_eq(epy_peer_serve_ns(b, "epyrpc.mine", true, NULL),
                     EPY_EPARAM);
    /* A name that only starts alike is the user's. */
    ck_assert_int_eq(epy_peer_handle(b, "epyrpcx.ping", rt_echo, NULL, NULL),
                     0);
    epy_peer_close(a);
    epy_peer_close(b);
}
END_TEST

/* --- the monitor ------------------------------------------------------------- */

#define BURST 100

typedef struct seen {
    pthread_mutex_t mu;
    rt_counter n;
    Epyrpc__MonitorFrame *f[4 * BURST + 64];
    bool own;                   /* a frame of the monitor itself was seen */
} seen;

/* The monitoring client's handler of epyrpc.monitor.frame (one worker:
 * in the order sent). */
static int
on_frame(epy_call *c, const uint8_t *req, size_t len, void *ctx)
{
    seen *s = ctx;
    Epyrpc__MonitorFrameArgs *a =
        epyrpc__monitor_frame_args__unpack(NULL, len, req);
    long n;

    (void) c;
    if (a == NULL || a->f == NULL) {
        rt_note_failure(__FILE__, __LINE__, "undecodable frame event");
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    n = rt_counter_get(&s->n);
    if (a->f->method != NULL && strncmp(a->f->method, "epyrpc.", 7) == 0)
        s->own = true;
    if (n < (long) (sizeof s->f / sizeof s->f[0])) {
        s->f[n] = a->f;
        a->f = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    epyrpc__monitor_frame_args__free_unpacked(a, NULL);
    rt_counter_add(&s->n, 1);
    return 0;
}

static void
seen_free(seen *s)
{
    long n = rt_counter_get(&s->n);

    for (long i = 0; i < n && i < (long) (sizeof s->f / sizeof s->f[0]); i++)
        epyrpc__monitor_frame__free_unpacked(s->f[i], NULL);
    rt_counter_destroy(&s->n);
    pthread_mutex_destroy(&s->mu);
}

/* A client that watches: one worker, so frames are handled in order. */
static epy_peer *
watcher(const char *where, seen *s)
{
    epy_peer_config pc = EPY_PEER_CONFIG_INIT;
    epy_peer *m;

    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    rt_counter_init(&s->n);
    pc.workers = 1;
    ck_assert_int_eq(epy_connect(where, &pc, 5000, &m, NULL), 0);
    ck_assert_int_eq(epy_peer_handle(m, "epyrpc.monitor.frame", on_frame, s,
                                     NULL), 0);
    return m;
}

/* Whether a frame's data holds @text. */
static bool
frame_has(const Epyrpc__MonitorFrame *f, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= f->data.len; i++)
        if (memcmp(f->data.data + i, needle, n) == 0)
            return true;
    return false;
}

static int
fail_oops(epy_call *c, const uint8_t *req, size_t len, void *ctx)
{
    (void) req;
    (void) len;
    (void) ctx;
    return epy_call_fail(c, EPY_EFAILED, "svc.oops", "no", NULL, 0);
}

static int
monitor_start(epy_peer *m, uint32_t snap)
{
    Epyrpc__MonitorStartArgs a = EPYRPC__MONITOR_START_ARGS__INIT;
    epy_buf reply = EPY_BUF_INIT;
    int rc;

    a.has_snap = true;
    a.snap = snap;
    rc = call(m, "monitor.start", &a.base, &reply, NULL);
    epy_buf_clear(&reply);
    return rc;
}

static epy_server *
monitored_server(const char *where, int mode)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_server *srv;

    cfg.monitor = mode;
    ck_assert_int_eq(epy_server_new(where, &cfg, &srv, NULL), 0);
    ck_assert_int_eq(epy_server_handle(srv, "svc.echo", rt_echo, NULL, NULL),
                     0);
    ck_assert_int_eq(epy_server_handle(srv, "svc.fail", fail_oops, NULL, NULL), 0);
    return srv;
}

START_TEST(test_monitor_sees_a_burst)
{
    epy_server *srv = monitored_server(url, EPY_MONITOR_OWNER);
    epy_peer *m, *c;
    epy_api *api;
    epy_buf reply = EPY_BUF_INIT;
    seen s;
    long calls = 0, replies = 0, n;
    uint64_t last_txn = 0, client = 0;
    bool z = false, y = false;

    m = watcher(url, &s);
    ck_assert_int_eq(monitor_start(m, 0), 0);

    ck_assert_int_eq(epy_connect(url, NULL, 5000, &c, NULL), 0);
    ck_assert_int_eq(epy_api_open(c, "svc", &api, NULL), 0);
    for (int i = 0; i < BURST; i++) {
        char msg[16];

        snprintf(msg, sizeof msg, "m%d", i);
        ck_assert_int_eq(epy_api_call(api, "echo", msg, strlen(msg), NULL,
                                      &reply, NULL), 0);
        epy_buf_clear(&reply);
    }
    ck_assert_int_eq(epy_api_call(api, "fail", "x", 1, NULL, &reply, NULL),
                     EPY_EFAILED);
    /* Each call and its answer, the two hellos (and over shared memory
     * the SWITCH frame this end writes). */
    ck_assert(rt_counter_wait(&s.n, 2 * (BURST + 1) + 2
                              + (getenv("EPYRPC_SHM") != NULL ? 1 : 0),
                              10000));
    pthread_mutex_lock(&s.mu);
    ck_assert(!s.own);
    for (long i = 0; i < rt_counter_get(&s.n); i++) {
        Epyrpc__MonitorFrame *f = s.f[i];

        ck_assert_uint_ne(f->client, 0);
        if (client == 0)
            client = f->client;
        ck_assert_uint_eq(f->client, client);
        ck_assert_uint_eq(f->data.len, f->size);
        ck_assert_uint_eq(f->data.data[0] | f->data.data[1] << 8
                          | f->data.data[2] << 16
                          | (uint32_t) f->data.data[3] << 24, f->size - 4);
        ck_assert_int_eq(f->pid, getpid());
        ck_assert_uint_eq(f->uid, getuid());
        ck_assert_uint_gt(f->time_ns, 0);
        if (f->kind == EPYRPC__KIND__CALL) {
            char msg[32];

            ck_assert(f->incoming);
            ck_assert_uint_gt(f->txn, last_txn);    /* in order */
            last_txn = f->txn;
            ck_assert_str_eq(f->method, calls < BURST ? "svc.echo"
                                                      : "svc.fail");
            snprintf(msg, sizeof msg, "m%ld", calls);
            ck_assert(calls == BURST || frame_has(f, msg));
            calls++;
        } else if (f->kind == EPYRPC__KIND__REPLY
                   || f->kind == EPYRPC__KIND__ERROR) {
            ck_assert(!f->incoming);
            ck_assert_uint_eq(f->txn, last_txn);    /* answers its call */
            ck_assert_str_eq(f->method, replies < BURST ? "svc.echo"
                                                        : "svc.fail");
            ck_assert(f->has_status);
            ck_assert_int_eq(f->status, replies < BURST ? 0 : EPY_EFAILED);
            /* Since its call: well under the test's own time. */
            ck_assert_int_ge(f->duration_us, 0);
            ck_assert_int_lt(f->duration_us, 60 * 1000000);
            ck_assert(!f->has_dropped || f->dropped == 0);
            replies++;
        } else {
            /* A SWITCH follows the hello over shared memory. */
            ck_assert(f->kind == EPYRPC__KIND__HELLO
                      || f->kind == EPYRPC__KIND__SWITCH);
        }
    }
    ck_assert_int_eq(calls, BURST + 1);
    ck_assert_int_eq(replies, BURST + 1);
    n = rt_counter_get(&s.n);
    pthread_mutex_unlock(&s.mu);

    /* Stopped, nothing is reported ("z"); started again, "y" is. */
    ck_assert_int_eq(call(m, "monitor.stop", NULL, &reply, NULL), 0);
    ck_assert_int_eq(epy_api_call(api, "echo", "zzz", 3, NULL, &reply,
                                  NULL), 0);
    epy_buf_clear(&reply);
    ck_assert_int_eq(monitor_start(m, 8), 0);
    ck_assert_int_eq(epy_api_call(api, "echo", "yyy", 3, NULL, &reply,
                                  NULL), 0);
    epy_buf_clear(&reply);
    ck_assert(rt_counter_wait(&s.n, n + 2, 10000));
    pthread_mutex_lock(&s.mu);
    for (long i = n; i < rt_counter_get(&s.n); i++) {
        ck_assert_uint_le(s.f[i]->data.len, 8);     /* the snap length */
        z = z || frame_has(s.f[i], "zzz");
    }
    pthread_mutex_unlock(&s.mu);
    ck_assert(!z);
    (void) y;
    epy_api_close(api);
    epy_peer_close(c);
    /* A monitor that leaves is forgotten: the server goes on. */
    epy_peer_close(m);
    ck_assert_int_eq(epy_connect(url, NULL, 5000, &c, NULL), 0);
    ck_assert_int_eq(epy_api_open(c, "svc", &api, NULL), 0);
    ck_assert_int_eq(epy_api_call(api, "echo", "w", 1, NULL, &reply, NULL), 0);
    epy_buf_clear(&reply);
    epy_api_close(api);
    epy_peer_close(c);
    epy_server_close(srv);
    seen_free(&s);
}
END_TEST

START_TEST(test_monitor_permissions)
{
    epy_server *srv;
    epy_peer *m;
    epy_buf reply = EPY_BUF_INIT;
    char tcp[80];
    Epyrpc__IntrospectAboutResult *about;
    seen s;

    /* Off (the default): not offered. */
    srv = monitored_server(url, EPY_MONITOR_OFF);
    m = watcher(url, &s);
    ck_assert_int_eq(monitor_start(m, 0), EPY_EUNKNOWN);
    ck_assert_int_eq(call(m, "introspect.about", NULL, &reply, NULL), 0);
    about = epyrpc__introspect_about_result__unpack(NULL, reply.len,
                                                    reply.data);
    ck_assert(about != NULL && about->value != NULL && !about->value->monitor);
    epyrpc__introspect_about_result__free_unpacked(about, NULL);
    epy_buf_clear(&reply);
    epy_peer_close(m);
    seen_free(&s);
    epy_server_close(srv);

    /* The owner's only: a TCP client has no uid to show. */
    srv = monitored_server("tcp:127.0.0.1:0", EPY_MONITOR_OWNER);
    snprintf(tcp, sizeof tcp, "%s", epy_server_url(srv));
    m = watcher(tcp, &s);
    ck_assert_int_eq(monitor_start(m, 0), EPY_EPERM);
    epy_peer_close(m);
    seen_free(&s);
    epy_server_close(srv);

    /* Anyone, 16 at once at the most; starting twice counts once. */
    srv = monitored_server("tcp:127.0.0.1:0", EPY_MONITOR_ANY);
    snprintf(tcp, sizeof tcp, "%s", epy_server_url(srv));
    {
        epy_peer *ms[17];
        seen ss[17];

        for (int i = 0; i < 17; i++) {
            ms[i] = watcher(tcp, &ss[i]);
            ck_assert_int_eq(monitor_start(ms[i], 0), i < 16 ? 0 : EPY_EBUSY);
        }
        ck_assert_int_eq(monitor_start(ms[0], 0), 0);
        /* One leaves: there is room again once the server has seen it
         * go (its I/O thread notices the end of the connection). */
        epy_peer_close(ms[0]);
        {
            int64_t until = tu_now_ms() + 5000 * tu_slow();
            int rc;

            while ((rc = monitor_start(ms[16], 0)) == EPY_EBUSY
                   && tu_now_ms() < until)
                rt_sleep_ms(5);
            ck_assert_int_eq(rc, 0);
        }
        for (int i = 0; i < 17; i++) {
            if (i > 0)
                epy_peer_close(ms[i]);
            seen_free(&ss[i]);
        }
    }
    epy_server_close(srv);
}
END_TEST

/* --- listening sockets given to a server --------------------------------------- */

static int
listening_socket(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    return fd;
}

static void
echo_through(epy_server *srv)
{
    epy_peer *c;
    epy_api *api;
    epy_buf reply = EPY_BUF_INIT;

    ck_assert_int_eq(epy_server_handle(srv, "svc.echo", rt_echo, NULL, NULL),
                     0);
    ck_assert_int_eq(epy_connect(url, NULL, 5000, &c, NULL), 0);
    ck_assert_int_eq(epy_api_open(c, "svc", &api, NULL), 0);
    ck_assert_int_eq(epy_api_call(api, "echo", "hi", 2, NULL, &reply, NULL),
                     0);
    ck_assert_uint_eq(reply.len, 2);
    epy_buf_clear(&reply);
    epy_api_close(api);
    epy_peer_close(c);
}

START_TEST(test_given_descriptor)
{
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;
    char u[32];
    int fd = listening_socket(), other[2];

    snprintf(u, sizeof u, "fd:%d", fd);
    ck_assert_int_eq(epy_server_new(u, NULL, &srv, NULL), 0);
    echo_through(srv);
    epy_server_close(srv);
    /* The server owned the descriptor; the file is not its to remove. */
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    ck_assert_int_eq(access(path, F_OK), 0);

    /* Not a listening socket. */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
    snprintf(u, sizeof u, "fd:%d", other[0]);
    ck_assert_int_eq(epy_server_new(u, NULL, &srv, &err), EPY_EPARAM);
    ck_assert_ptr_nonnull(strstr(err.message, "not a listening"));
    epy_error_clear(&err);
    close(other[0]);
    close(other[1]);
    ck_assert_int_eq(epy_server_new("fd:x", NULL, &srv, NULL), EPY_EPARAM);
}
END_TEST

START_TEST(test_socket_activation)
{
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;
    char names[256] = "", num[32];
    int fd = listening_socket();

    /* The service manager's descriptors start at 3: ours is named "web". */
    for (int i = 3; i < fd; i++)
        strcat(names, "other:");
    strcat(names, "web");
    snprintf(num, sizeof num, "%d", fd - 3 + 1);
    setenv("LISTEN_FDS", num, 1);
    setenv("LISTEN_FDNAMES", names, 1);
    snprintf(num, sizeof num, "%ld", (long) getpid() + 1);
    setenv("LISTEN_PID", num, 1);
    /* For another process. */
    ck_assert_int_eq(epy_server_new("systemd:web", NULL, &srv, &err),
                     EPY_EPARAM);
    ck_assert_ptr_nonnull(strstr(err.message, "LISTEN_PID"));
    epy_error_clear(&err);
    snprintf(num, sizeof num, "%ld", (long) getpid());
    setenv("LISTEN_PID", num, 1);
    ck_assert_int_eq(epy_server_new("systemd:nothing", NULL, &srv, &err),
                     EPY_EPARAM);
    ck_assert_ptr_nonnull(strstr(err.message, "'nothing'"));
    epy_error_clear(&err);
    ck_assert_int_eq(epy_server_new("systemd:web", NULL, &srv, &err), 0);
    echo_through(srv);
    epy_server_close(srv);
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    unsetenv("LISTEN_PID");
    ck_assert_int_eq(epy_server_new("systemd:", NULL, &srv, NULL), EPY_EPARAM);
}
END_TEST

static Suite *
builtin_suite(void)
{
    Suite *s = suite_create("builtin");
    TCase *tc = tcase_create("builtin");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_introspect_pair);
    tcase_add_test(tc, test_introspection_off_and_reserved);
    tcase_add_test(tc, test_monitor_sees_a_burst);
    tcase_add_test(tc, test_monitor_permissions);
    tcase_add_test(tc, test_given_descriptor);
    tcase_add_test(tc, test_socket_activation);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(builtin_suite());
}
