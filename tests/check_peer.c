/*
 * Peers: making them (in-process pairs, adopted descriptors, links across
 * fork()), the hello, disconnect (solicited or not, responsive or not),
 * close with calls and handlers running, the other end going away (closed,
 * killed, writing garbage), compression.
 *
 * Items are those of SEED-BEHAVIOURS.md ("item N"); a test of a
 * deliberately changed behaviour says so and tests the port's behaviour.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

#include "rt-helpers.h"
#include "testutil.h"

/* A connected socketpair. */
static void
raw_pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
}

static bool
fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* --- core: lifecycle ------------------------------------------------------ */

START_TEST(test_item38_pair_lifecycle)
{
    /* items 38, 48, 49: a new peer is connected, not finished, runs its
     * threads, and reports no state event; a close made here reports
     * nothing to its own listener (item 49's local DISCONNECTED/CLOSED
     * events are deliberately dropped: one listener call, for ends the
     * other side causes), the other end hears of it once; close accepts
     * NULL. */
    int threads0 = tu_count_threads();
    epy_peer *a = NULL, *b = NULL;
    rt_listen la, lb;
    int marker;

    rt_listen_init(&la);
    rt_listen_init(&lb);
    ck_assert_int_eq(epy_pair_new(NULL, NULL, &a, &b, NULL), 0);
    rt_listen_install(&la, a);
    rt_listen_install(&lb, b);
    ck_assert(epy_peer_is_connected(a));
    ck_assert(epy_peer_is_connected(b));
    ck_assert_int_eq(epy_peer_status(a), 0);
    ck_assert_int_eq(epy_peer_wait_ready(a, RT_WAIT_MS, NULL), 0);
    ck_assert_int_eq(epy_peer_wait_ready(b, RT_WAIT_MS, NULL), 0);
    ck_assert_int_gt(tu_count_threads(), threads0);
    ck_assert_int_eq(epy_peer_workers(a), EPY_DEFAULT_WORKERS);
    ck_assert_ptr_null(epy_peer_user(a));
    epy_peer_set_user(a, &marker);
    ck_assert_ptr_eq(epy_peer_user(a), &marker);
    ck_assert_ptr_null(epy_peer_user(b));
    rt_serve_ping(a);
    rt_serve_ping(b);
    rt_ping(a);
    rt_ping(b);
    ck_assert_uint_eq(epy_peer_pending_count(a), 0);
    ck_assert_int_eq(rt_counter_get(&la.disconnected), 0);
    ck_assert_int_eq(rt_counter_get(&lb.disconnected), 0);

    ck_assert_ptr_null(epy_peer_close(a));
    ck_assert_int_eq(rt_counter_get(&la.disconnected), 0);
    ck_assert(rt_counter_wait(&lb.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(lb.disconnect_reason, EPY_EDISCONNECTED);
    ck_assert_ptr_eq(lb.disconnect_peer, b);
    ck_assert(!epy_peer_is_connected(b));
    ck_assert_int_eq(epy_peer_status(b), EPY_EDISCONNECTED);
    ck_assert_ptr_null(epy_peer_close(b));
    ck_assert_int_eq(rt_counter_get(&lb.disconnected), 1);
    ck_assert_ptr_null(epy_peer_close(NULL));
    rt_listen_destroy(&la);
    rt_listen_destroy(&lb);
}
END_TEST

/* Threads a ready pair with @workers workers per peer adds to @base. */
static int
pair_threads(int base, int workers)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    int64_t end = tu_now_ms() + RT_WAIT_MS;
    epy_peer *a, *b;
    int n, before;

    /*
     * Threads of the previous pair may linger in /proc for a moment (and
     * one joined just before @base was taken may have been counted).
     */
    while ((before = tu_count_threads()) > base && tu_now_ms() < end)
        rt_sleep_ms(1);
    ck_assert_int_le(before, base);
    cfg.workers = workers;
    rt_pair(&cfg, &cfg, &a, &b);
    n = tu_count_threads() - before;
    ck_assert_int_eq(epy_peer_workers(a), workers < 1 ? 1 : workers);
    ck_assert_int_eq(epy_peer_workers(b), workers < 1 ? 1 : workers);
    epy_peer_close(a);
    epy_peer_close(b);
    return n;
}

START_TEST(test_item55_workers)
{
    /* item 55: workers below 1 give exactly 1; N gives N (the thread
     * counts of two pairs differ by the workers' difference). */
    int base = tu_count_threads();
    epy_peer *a, *b;
    int t1, t0, tneg, t7;

    rt_pair(NULL, NULL, &a, &b);
    ck_assert_int_eq(epy_peer_workers(a), 4);
    epy_peer_close(a);
    epy_peer_close(b);
    t1 = pair_threads(base, 1);
    t0 = pair_threads(base, 0);
    tneg = pair_threads(base, -3);
    t7 = pair_threads(base, 7);
    ck_assert_int_eq(t0, t1);
    ck_assert_int_eq(tneg, t1);
    ck_assert_int_eq(t7 - t1, 2 * 6);
}
END_TEST

static const epy_interface ifc_calc_1[] = { { "calc", "fp-1", NULL },
                                            { "misc", "m-1", NULL } };
static const epy_interface ifc_calc_1b[] = { { "calc", "fp-1", NULL } };
static const epy_interface ifc_calc_2[] = { { "calc", "fp-2", NULL } };
static const epy_interface ifc_other[] = { { "other", "o-1", NULL } };

START_TEST(test_hello_ready)
{
    /* The hello: same fingerprints for shared interfaces, or none shared,
     * make the connection ready. */
    epy_peer_config ca = EPY_PEER_CONFIG_INIT, cb = EPY_PEER_CONFIG_INIT;
    epy_peer *a, *b;

    ca.interfaces = ifc_calc_1;
    ca.n_interfaces = 2;
    cb.interfaces = ifc_calc_1b;
    cb.n_interfaces = 1;
    rt_pair(&ca, &cb, &a, &b);
    ck_assert_int_eq(epy_peer_status(a), 0);
    epy_peer_close(a);
    epy_peer_close(b);
    cb.interfaces = ifc_other;
    rt_pair(&ca, &cb, &a, &b);
    rt_serve_ping(b);
    rt_ping(a);
    epy_peer_close(a);
    epy_peer_close(b);
}
END_TEST

START_TEST(test_item46_unsolicited_disconnect)
{
    /* item 46: the other end leaves (an unsolicited disconnect): this end
     * is no longer connected, reports EPY_EDISCONNECTED once, and its
     * pending calls fail with it; the leaving end's own pending calls fail
     * with EPY_ECLOSED. */
    rt_duo d;
    rt_listen la;
    rt_srv sa;
    epy_async *ha = NULL, *hb = NULL;
    epy_api *back;

    rt_duo_open(&d, NULL, NULL);
    rt_listen_init(&la);
    rt_listen_install(&la, d.a);
    rt_srv_init(&sa);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    rt_handle(d.a, "back.block", rt_srv_gated, &sa);
    back = rt_api(d.b, "back");
    ck_assert_int_eq(epy_api_call_async(d.api, "block", NULL, 0, NULL, &ha,
                                        NULL), 0);
    ck_assert_int_eq(epy_api_call_async(back, "block", NULL, 0, NULL, &hb,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&d.srv.started, 1, RT_WAIT_MS));
    ck_assert(rt_counter_wait(&sa.started, 1, RT_WAIT_MS));

    ck_assert_int_eq(epy_peer_disconnect(d.b, false, 0, NULL), 0);
    ck_assert(!epy_peer_is_connected(d.b));
    ck_assert_int_eq(epy_peer_status(d.b), EPY_ECLOSED);
    /* No local state event for a disconnect made here. */
    ck_assert_int_eq(rt_counter_get(&d.listen.disconnected), 0);
    ck_assert_int_eq(epy_async_wait(hb, RT_WAIT_MS), EPY_ECLOSED);
    ck_assert_int_eq(epy_async_wait(ha, RT_WAIT_MS), EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_async_status_get(ha), EPY_ASYNC_FAILED);
    ck_assert(rt_counter_wait(&la.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(la.disconnect_reason, EPY_EDISCONNECTED);
    ck_assert(!epy_peer_is_connected(d.a));
    ck_assert_int_eq(epy_peer_status(d.a), EPY_EDISCONNECTED);
    epy_async_release(ha);
    epy_async_release(hb);
    rt_gate_open(&sa.gate);
    epy_api_close(back);
    ck_assert_int_eq(rt_counter_get(&d.listen.disconnected), 0);
    rt_duo_close(&d);
    ck_assert_int_eq(rt_counter_get(&la.disconnected), 1);
    rt_listen_destroy(&la);
    rt_srv_destroy(&sa);
}
END_TEST

START_TEST(test_item47_53_solicited_disconnect)
{
    /* items 47, 53: a solicited disconnect to a responsive peer is
     * acknowledged (the original failed here); both ends end. */
    rt_duo d;
    rt_listen la;
    int64_t t0;

    rt_duo_open(&d, NULL, NULL);
    rt_listen_init(&la);
    rt_listen_install(&la, d.a);
    t0 = tu_now_ms();
    ck_assert_int_eq(epy_peer_disconnect(d.b, true, RT_WAIT_MS, NULL), 0);
    ck_assert_int_lt(tu_now_ms() - t0, 1000 * tu_slow());
    ck_assert(!epy_peer_is_connected(d.b));
    ck_assert(rt_counter_wait(&la.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(la.disconnect_reason, EPY_EDISCONNECTED);
    ck_assert(!epy_peer_is_connected(d.a));
    ck_assert_int_eq(rt_counter_get(&d.listen.disconnected), 0);
    rt_duo_close(&d);
    rt_listen_destroy(&la);
}
END_TEST

/* The other end of test_disconnect_ack_then_deaf: acknowledges the
 * disconnect after it has stopped reading. */
static void *
ack_then_deaf(void *arg)
{
    int fd = *(int *) arg;
    rt_frame f;

    if (!rt_wire_read(fd, RT_KIND_DISCONNECT, &f, RT_WAIT_MS) || !f.has_txn) {
        rt_note_failure(__FILE__, __LINE__, "no solicited disconnect came");
        return NULL;
    }
    shutdown(fd, SHUT_RD);
    rt_wire_write(fd, RT_KIND_ERROR, f.txn, EPY_EDISCONNECTED, NULL, 0);
    return NULL;
}

START_TEST(test_disconnect_ack_then_deaf)
{
    /* The other end acknowledges a solicited disconnect and reads no
     * more, so the farewell frame that follows the acknowledgement cannot
     * be written. The end is still this end's own: EPY_ECLOSED, and the
     * listener is not told the other end went away. */
    rt_listen l;
    int sv[2];
    epy_peer *p = rt_raw_peer(sv, NULL);
    pthread_t th;

    rt_listen_init(&l);
    rt_listen_install(&l, p);
    rt_wire_hello(sv[1]);
    ck_assert_int_eq(epy_peer_wait_ready(p, RT_WAIT_MS, NULL), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, ack_then_deaf, &sv[1]), 0);
    ck_assert_int_eq(epy_peer_disconnect(p, true, RT_WAIT_MS, NULL), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(epy_peer_status(p), EPY_ECLOSED);
    p = epy_peer_close(p);
    ck_assert_int_eq(rt_counter_get(&l.disconnected), 0);
    close(sv[1]);
    rt_listen_destroy(&l);
}
END_TEST

START_TEST(test_item46_47_disconnect_frames)
{
    /* items 46, 47 on the wire (the test plays the other end): a
     * DISCONNECT with a transaction id is acknowledged (an ERROR of
     * EPY_EDISCONNECTED with that id) before the connection ends; one
     * without an id gets no answer; either way this end reports
     * EPY_EDISCONNECTED once and is no longer connected. */
    for (int with_txn = 1; with_txn >= 0; with_txn--) {
        int sv[2];
        epy_peer *p = rt_raw_peer(sv, NULL);
        epy_txn_id id = with_txn ? EPY_TXN_MAKE(EPY_ORIGIN_NECK, 5)
                                 : EPY_TXN_NONE;
        rt_listen l;
        rt_frame f;

        rt_listen_init(&l);
        rt_listen_install(&l, p);
        rt_wire_hello(sv[1]);
        ck_assert_int_eq(epy_peer_wait_ready(p, RT_WAIT_MS, NULL), 0);
        rt_wire_write(sv[1], RT_KIND_DISCONNECT, id, 0, NULL, 0);
        ck_assert(rt_counter_wait(&l.disconnected, 1, RT_WAIT_MS));
        ck_assert_int_eq(l.disconnect_reason, EPY_EDISCONNECTED);
        ck_assert(!epy_peer_is_connected(p));
        ck_assert_int_eq(epy_peer_status(p), EPY_EDISCONNECTED);
        if (with_txn) {
            ck_assert(rt_wire_read(sv[1], RT_KIND_ERROR, &f, RT_WAIT_MS));
            ck_assert(f.has_txn);
            ck_assert_uint_eq(f.txn, id);
            ck_assert_int_eq(f.code, EPY_EDISCONNECTED);
        } else {
            ck_assert(!rt_wire_read(sv[1], RT_KIND_ERROR, &f, 200));
        }
        epy_peer_close(p);
        ck_assert_int_eq(rt_counter_get(&l.disconnected), 1);
        close(sv[1]);
        rt_listen_destroy(&l);
    }
}
END_TEST

START_TEST(test_item70_compression)
{
    /* item 70: with zlib enabled on both ends (level 9), round trips of
     * small, compressible and incompressible payloads are exact; enabled
     * on one end only, too. */
    static const size_t sizes[10] = { 0, 1, 63, 64, 65, 1000, 4096, 100000,
                                      1 << 20, 300000 };
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_peer *a, *b;
    epy_api *api;
    uint8_t *buf = malloc(1 << 20);

    ck_assert_ptr_nonnull(buf);
    cfg.compress_threshold = 64;
    cfg.compress_level = 9;
    for (int round = 0; round < 2; round++) {
        rt_pair(&cfg, round == 0 ? &cfg : NULL, &a, &b);
        rt_handle(b, "z.echo", rt_echo, NULL);
        api = rt_api(a, "z");
        for (int i = 0; i < 10; i++) {
            if (i % 2 == 0)
                memset(buf, 'z', sizes[i]);
            else
                rt_fill(buf, sizes[i], (unsigned) i);
            rt_call_expect(api, "echo", buf, sizes[i], buf, sizes[i]);
        }
        epy_api_close(api);
        epy_peer_close(a);
        epy_peer_close(b);
    }
    free(buf);
}
END_TEST

/* --- errors: refused constructions, the hello, the other end's faults ----- */

START_TEST(test_item54_bad_constructor_args)
{
    /* item 54: constructions without what they need fail, leaving the
     * caller's descriptor with the caller. */
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_peer *a = NULL, *b = NULL, *p = NULL;
    epy_link link = EPY_LINK_INIT;
    epy_error err = EPY_ERROR_INIT;
    int sv[2];

    ck_assert_int_eq(epy_pair_new(NULL, NULL, NULL, &b, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_pair_new(NULL, NULL, &a, NULL, NULL), EPY_EPARAM);
    ck_assert_ptr_null(a);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(epy_peer_new_fd(-1, NULL, &p, &err), EPY_EPARAM);
    ck_assert_int_eq(err.code, EPY_EPARAM);
    ck_assert_ptr_nonnull(err.message);
    epy_error_clear(&err);
    ck_assert_ptr_null(p);
    raw_pair(sv);
    ck_assert_int_eq(epy_peer_new_fd(sv[0], NULL, NULL, NULL), EPY_EPARAM);
    ck_assert(fd_is_open(sv[0]));
    close(sv[0]);
    close(sv[1]);
    cfg.origin = 65536;
    ck_assert_int_eq(epy_pair_new(&cfg, NULL, &a, &b, NULL), EPY_EPARAM);
    ck_assert_ptr_null(a);

    ck_assert_int_eq(epy_link_open(&link, NULL), 0);
    ck_assert_int_eq(epy_link_peer(&link, 2, NULL, &p, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_link_peer(&link, -1, NULL, &p, NULL), EPY_EPARAM);
    ck_assert_int_eq(epy_link_peer(NULL, EPY_LINK_HEAD, NULL, &p, NULL),
                     EPY_EPARAM);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(epy_link_peer(&link, EPY_LINK_HEAD, NULL, &p, NULL), 0);
    ck_assert_int_eq(epy_link_peer(&link, EPY_LINK_HEAD, NULL, &b, NULL),
                     EPY_EPARAM);
    ck_assert_ptr_null(b);
    epy_peer_close(p);
    epy_link_close(&link);
    epy_link_close(&link);
}
END_TEST

START_TEST(test_hello_mismatch)
{
    /* Different fingerprints of a shared interface fail the hello with
     * EPY_EVERSION at both ends; the connection is over. */
    epy_peer_config ca = EPY_PEER_CONFIG_INIT, cb = EPY_PEER_CONFIG_INIT;
    epy_peer *a = NULL, *b = NULL;
    epy_error err = EPY_ERROR_INIT;

    ca.interfaces = ifc_calc_1;
    ca.n_interfaces = 2;
    cb.interfaces = ifc_calc_2;
    cb.n_interfaces = 1;
    ck_assert_int_eq(epy_pair_new(&ca, &cb, &a, &b, NULL), 0);
    ck_assert_int_eq(epy_peer_wait_ready(a, RT_WAIT_MS, &err), EPY_EVERSION);
    ck_assert_int_eq(err.code, EPY_EVERSION);
    ck_assert_ptr_nonnull(err.message);
    epy_error_clear(&err);
    ck_assert_int_eq(epy_peer_wait_ready(b, RT_WAIT_MS, NULL), EPY_EVERSION);
    ck_assert_int_eq(epy_peer_status(a), EPY_EVERSION);
    ck_assert_int_eq(epy_peer_status(b), EPY_EVERSION);
    ck_assert(!epy_peer_is_connected(a));
    ck_assert(!epy_peer_is_connected(b));
    epy_peer_close(a);
    epy_peer_close(b);
}
END_TEST

START_TEST(test_hello_mismatch_listener)
{
    /* The other end's hello (written by the test, after the listener is
     * in place) has another protocol version, or another fingerprint for
     * a shared interface: EPY_EVERSION, reported to the listener once;
     * pending calls fail. */
    static const struct {
        unsigned version;
        const char *iface;
    } hellos[3] = { { EPY_PROTOCOL_VERSION + 1, NULL },
                    { EPY_PROTOCOL_VERSION, "calc=fp-2" },
                    { EPY_PROTOCOL_VERSION, "misc=m-2" } };
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;

    cfg.interfaces = ifc_calc_1;
    cfg.n_interfaces = 2;
    for (int i = 0; i < 3; i++) {
        int sv[2];
        epy_peer *p = rt_raw_peer(sv, &cfg);
        epy_error err = EPY_ERROR_INIT;
        rt_listen l;
        epy_api *api;
        epy_async *h = NULL;

        rt_listen_init(&l);
        rt_listen_install(&l, p);
        api = rt_api(p, "calc");
        ck_assert_int_eq(epy_api_call_async(api, "add", NULL, 0, NULL, &h,
                                            NULL), 0);
        rt_wire_hello_ex(sv[1], hellos[i].version, hellos[i].iface);
        ck_assert_msg(epy_peer_wait_ready(p, RT_WAIT_MS, &err)
                      == EPY_EVERSION, "hello %d", i);
        ck_assert_ptr_nonnull(err.message);
        epy_error_clear(&err);
        ck_assert(rt_counter_wait(&l.disconnected, 1, RT_WAIT_MS));
        ck_assert_int_eq(l.disconnect_reason, EPY_EVERSION);
        ck_assert_int_eq(epy_peer_status(p), EPY_EVERSION);
        ck_assert_int_lt(epy_async_wait(h, RT_WAIT_MS), 0);
        ck_assert_int_lt(epy_api_call(api, "add", NULL, 0, NULL, NULL, NULL),
                         0);
        epy_async_release(h);
        epy_api_close(api);
        epy_peer_close(p);
        ck_assert_int_eq(rt_counter_get(&l.disconnected), 1);
        close(sv[1]);
        rt_listen_destroy(&l);
    }
}
END_TEST

START_TEST(test_wait_ready_timeout)
{
    /* An other end that never says hello: epy_peer_wait_ready() times
     * out, the connection stays up. */
    int sv[2];
    epy_peer *p = rt_raw_peer(sv, NULL);
    int64_t t0 = tu_now_ms();

    ck_assert_int_eq(epy_peer_wait_ready(p, 200, NULL), EPY_ETIMEDOUT);
    ck_assert_int_ge(tu_now_ms() - t0, 190);
    ck_assert(epy_peer_is_connected(p));
    epy_peer_close(p);
    close(sv[1]);
}
END_TEST

START_TEST(test_item52_unresponsive_disconnect)
{
    /* item 52: a solicited disconnect to an unresponsive peer returns
     * after its timeout (EPY_ETIMEDOUT), and the connection has ended. */
    int sv[2];
    epy_peer *p = rt_raw_peer(sv, NULL);
    epy_error err = EPY_ERROR_INIT;
    int64_t t0 = tu_now_ms(), el;

    ck_assert_int_eq(epy_peer_disconnect(p, true, 300, &err), EPY_ETIMEDOUT);
    el = tu_now_ms() - t0;
    ck_assert_int_ge(el, 290);
    ck_assert_int_lt(el, 300 + 2000 * tu_slow());
    ck_assert_int_eq(err.code, EPY_ETIMEDOUT);
    ck_assert(!epy_peer_is_connected(p));
    ck_assert_int_eq(epy_peer_status(p), EPY_ECLOSED);
    epy_error_clear(&err);
    epy_peer_close(p);
    close(sv[1]);
}
END_TEST

START_TEST(test_item69_send_fails)
{
    /* item 69: when writing fails (the other end stopped reading), the
     * connection ends with EPY_EDISCONNECTED: the send says so, pending
     * calls fail with it, the listener is told; no SIGPIPE kills us. */
    int sv[2];
    epy_peer *p = rt_raw_peer(sv, NULL);
    rt_listen l;
    epy_api *api;
    epy_async *h = NULL;
    int rc = 0;

    rt_listen_init(&l);
    rt_listen_install(&l, p);
    api = rt_api(p, "x");
    ck_assert_int_eq(epy_api_call_async(api, "m", NULL, 0, NULL, &h, NULL),
                     0);
    ck_assert_int_eq(shutdown(sv[1], SHUT_RD), 0);
    /* The first write after the shutdown fails. */
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = epy_api_send(api, "e", "0123456789", 10, NULL);
    ck_assert_int_eq(rc, EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), EPY_EDISCONNECTED);
    ck_assert(rt_counter_wait(&l.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(l.disconnect_reason, EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_peer_status(p), EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_api_send(api, "e", NULL, 0, NULL),
                     EPY_EDISCONNECTED);
    epy_async_release(h);
    epy_api_close(api);
    epy_peer_close(p);
    close(sv[1]);
    rt_listen_destroy(&l);
}
END_TEST

START_TEST(test_other_end_closes_fd)
{
    /* The other end's descriptor closes: EPY_EDISCONNECTED everywhere. */
    int sv[2];
    epy_peer *p = rt_raw_peer(sv, NULL);
    rt_listen l;
    epy_api *api;
    epy_async *h = NULL;

    rt_listen_init(&l);
    rt_listen_install(&l, p);
    api = rt_api(p, "x");
    ck_assert_int_eq(epy_api_call_async(api, "m", NULL, 0, NULL, &h, NULL),
                     0);
    close(sv[1]);
    ck_assert_int_eq(epy_async_wait(h, RT_WAIT_MS), EPY_EDISCONNECTED);
    ck_assert(rt_counter_wait(&l.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(l.disconnect_reason, EPY_EDISCONNECTED);
    ck_assert(!epy_peer_is_connected(p));
    ck_assert_int_eq(epy_api_call(api, "m", NULL, 0, NULL, NULL, NULL),
                     EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_peer_wait_ready(p, RT_WAIT_MS, NULL),
                     EPY_EDISCONNECTED);
    epy_async_release(h);
    epy_api_close(api);
    epy_peer_close(p);
    rt_listen_destroy(&l);
}
END_TEST

START_TEST(test_garbage_from_other_end)
{
    /* Malformed input closes the connection with EPY_EPROTO: an invalid
     * envelope, an absurd length, a length just above max_frame (refused
     * before its bytes arrive), a frame of random bytes. Pending calls
     * fail; nothing crashes or hangs. */
    enum { MAX = 64 * 1024 };
    static const uint8_t bad_env[] = { 5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                                       0xff };
    static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0x7f };
    static const uint8_t above[] = { (MAX + 1) & 0xff, ((MAX + 1) >> 8) & 0xff,
                                     ((MAX + 1) >> 16) & 0xff, 0 };
    uint8_t random_frame[4 + 4092];
    const uint8_t *inputs[4] = { bad_env, huge, above, random_frame };
    size_t lens[4] = { sizeof bad_env, sizeof huge, sizeof above,
                       sizeof random_frame };
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;

    cfg.max_frame = MAX;
    random_frame[0] = 4092 & 0xff;
    random_frame[1] = 4092 >> 8;
    random_frame[2] = random_frame[3] = 0;
    rt_fill(random_frame + 4, 4092, 99);
    for (int i = 0; i < 4; i++) {
        int sv[2];
        epy_peer *p = rt_raw_peer(sv, &cfg);
        rt_listen l;
        epy_api *api;
        epy_async *h = NULL;
        int rc;

        rt_listen_init(&l);
        rt_listen_install(&l, p);
        api = rt_api(p, "x");
        ck_assert_int_eq(epy_api_call_async(api, "m", NULL, 0, NULL, &h,
                                            NULL), 0);
        ck_assert_int_eq(write(sv[1], inputs[i], lens[i]), (ssize_t) lens[i]);
        ck_assert_msg(rt_counter_wait(&l.disconnected, 1, RT_WAIT_MS),
                      "input %d: connection not closed", i);
        ck_assert_msg(l.disconnect_reason == EPY_EPROTO,
                      "input %d: reason %s", i,
                      epy_status_name(l.disconnect_reason));
        ck_assert_int_eq(epy_peer_status(p), EPY_EPROTO);
        ck_assert(!epy_peer_is_connected(p));
        rc = epy_async_wait(h, RT_WAIT_MS);
        ck_assert_msg(rc == EPY_EPROTO || rc == EPY_EDISCONNECTED,
                      "input %d: pending call gave %s", i,
                      epy_status_name(rc));
        epy_async_release(h);
        epy_api_close(api);
        epy_peer_close(p);
        close(sv[1]);
        rt_listen_destroy(&l);
    }
}
END_TEST

START_TEST(test_oversized_frame_from_peer)
{
    /* The other end's smaller max_frame, learnt from its hello, applies
     * to what this end sends: the call fails here with EPY_ETOOBIG,
     * nothing is sent, and the connection stays up. (A frame above the
     * receiver's limit that does arrive, from a peer that ignores it,
     * closes the connection with EPY_EPROTO: check_wire tests that with
     * a raw socket.) */
    enum { BIG = 128 * 1024 };
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    uint8_t *big = calloc(1, BIG);
    epy_buf out = EPY_BUF_INIT;
    int rc, small_rc, status_a, status_b;
    long calls_big;

    ck_assert_ptr_nonnull(big);
    cb.max_frame = 64 * 1024;
    rt_duo_open(&d, NULL, &cb);
    rt_handle(d.b, "api.echo", rt_srv_echo, &d.srv);
    ck_assert_int_eq(epy_peer_wait_ready(d.a, RT_WAIT_MS, NULL), 0);
    rc = epy_api_call(d.api, "echo", big, BIG, NULL, NULL, NULL);
    calls_big = rt_counter_get(&d.srv.calls);
    small_rc = epy_api_call(d.api, "echo", big, 1024, NULL, &out, NULL);
    status_a = epy_peer_status(d.a);
    status_b = epy_peer_status(d.b);
    epy_buf_clear(&out);
    rt_duo_close(&d);
    free(big);

    ck_assert_msg(rc == EPY_ETOOBIG, "the call gave %s", epy_status_name(rc));
    ck_assert_int_eq(calls_big, 0);
    ck_assert_int_eq(small_rc, 0);
    ck_assert_int_eq(status_a, 0);
    ck_assert_int_eq(status_b, 0);
}
END_TEST

START_TEST(test_item71_bad_compression_config)
{
    /* item 71, adapted: the only codec is zlib with levels 1..9; a level
     * outside that range with compression enabled is refused. */
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_peer *a = NULL, *b = NULL;

    cfg.compress_threshold = 64;
    cfg.compress_level = 0;
    ck_assert_int_eq(epy_pair_new(&cfg, NULL, &a, &b, NULL), EPY_EPARAM);
    cfg.compress_level = 10;
    ck_assert_int_eq(epy_pair_new(NULL, &cfg, &a, &b, NULL), EPY_EPARAM);
    ck_assert_ptr_null(a);
    ck_assert_ptr_null(b);
}
END_TEST

/* --- threads: close and disconnect with work in flight -------------------- */

typedef struct caller {
    pthread_t th;
    epy_api *api;
    const char *method;
    int rc;
    int64_t returned_ms;
} caller;

static void *
caller_main(void *arg)
{
    caller *c = arg;

    c->rc = epy_api_call(c->api, c->method, "c", 1, NULL, NULL, NULL);
    c->returned_ms = tu_now_ms();
    return NULL;
}

static void
start_caller(caller *c, epy_api *api, const char *method)
{
    c->api = api;
    c->method = method;
    c->rc = 1;
    ck_assert_int_eq(pthread_create(&c->th, NULL, caller_main, c), 0);
}

START_TEST(test_item50_close_with_calls_running)
{
    /* item 50: closing the calling peer fails every blocked sync caller
     * and every callback and semaphore call with EPY_ECLOSED, at once;
     * the other end's handlers learn the caller is gone; the api outlives
     * the peer, and calls on it fail with EPY_ECLOSED. */
    enum { NSYNC = 3 };
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    rt_cb rcb;
    sem_t sem;
    caller c[NSYNC];
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    int64_t t0;

    cb.workers = 8;
    rt_duo_open(&d, NULL, &cb);
    rt_cb_init(&rcb);
    ck_assert_int_eq(sem_init(&sem, 0, 0), 0);
    rt_handle(d.b, "api.work", rt_srv_until_cancel, &d.srv);
    for (int i = 0; i < NSYNC; i++)
        start_caller(&c[i], d.api, "work");
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &rcb;
    ck_assert_int_eq(epy_api_call_async(d.api, "work", NULL, 0, &opts, NULL,
                                        NULL), 0);
    opts.callback = NULL;
    opts.sem = &sem;
    ck_assert_int_eq(epy_api_call_async(d.api, "work", NULL, 0, &opts, NULL,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&d.srv.started, NSYNC + 2, RT_WAIT_MS));

    t0 = tu_now_ms();
    d.a = epy_peer_close(d.a);
    ck_assert_int_lt(tu_now_ms() - t0, 1000 * tu_slow());
    for (int i = 0; i < NSYNC; i++) {
        pthread_join(c[i].th, NULL);
        ck_assert_int_eq(c[i].rc, EPY_ECLOSED);
        ck_assert_int_lt(c[i].returned_ms - t0, 1000 * tu_slow());
    }
    ck_assert(rt_counter_wait(&rcb.count, 1, RT_WAIT_MS));
    ck_assert_int_eq(rcb.rc, EPY_ECLOSED);
    ck_assert(rt_sem_wait(&sem, RT_WAIT_MS));
    ck_assert(rt_counter_wait(&d.srv.cancels_seen, NSYNC + 2, RT_WAIT_MS));
    ck_assert(rt_counter_wait(&d.listen.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(d.listen.disconnect_reason, EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_api_call(d.api, "work", NULL, 0, NULL, NULL, NULL),
                     EPY_ECLOSED);
    ck_assert_int_eq(epy_api_send(d.api, "work", NULL, 0, NULL),
                     EPY_ECLOSED);
    rt_duo_close(&d);
    ck_assert_int_eq(rt_counter_get(&rcb.count), 1);
    rt_cb_destroy(&rcb);
    sem_destroy(&sem);
}
END_TEST

typedef struct stubborn {
    rt_counter started;
    rt_counter finished;
} stubborn;

static int
stubborn_handler(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    stubborn *s = ctx;

    rt_counter_add(&s->started, 1);
    rt_sleep_ms(300);           /* work that ignores cancellation */
    epy_call_reply(call, req, len);
    rt_counter_add(&s->finished, 1);
    return 0;
}

static epy_call *kept_call;
static rt_counter kept_n;

static int
keep_handler(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req;
    (void) len;
    (void) ctx;
    kept_call = call;
    rt_counter_add(&kept_n, 1);
    return EPY_DEFER;           /* never answered by the test */
}

START_TEST(test_close_with_handlers_running)
{
    /* Closing the receiving peer while its handlers run: it waits for
     * them; the caller's pending calls all fail with EPY_EDISCONNECTED
     * within 1 s; a kept (deferred) call answered after the close gets
     * EPY_ECLOSED; the closing peer's listener hears nothing. */
    enum { NSYNC = 2 };
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    rt_listen la;
    stubborn st;
    caller c[NSYNC];
    epy_async *hs = NULL, *hk = NULL, *hw = NULL;
    int64_t t0, el;

    cb.workers = 8;
    rt_duo_open(&d, NULL, &cb);
    rt_listen_init(&la);
    rt_listen_install(&la, d.a);
    rt_counter_init(&st.started);
    rt_counter_init(&st.finished);
    rt_counter_init(&kept_n);
    rt_handle(d.b, "api.work", rt_srv_until_cancel, &d.srv);
    rt_handle(d.b, "api.stubborn", stubborn_handler, &st);
    rt_handle(d.b, "api.keep", keep_handler, NULL);
    for (int i = 0; i < NSYNC; i++)
        start_caller(&c[i], d.api, "work");
    ck_assert_int_eq(epy_api_call_async(d.api, "work", NULL, 0, NULL, &hw,
                                        NULL), 0);
    ck_assert_int_eq(epy_api_call_async(d.api, "keep", NULL, 0, NULL, &hk,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&d.srv.started, NSYNC + 1, RT_WAIT_MS));
    ck_assert(rt_counter_wait(&kept_n, 1, RT_WAIT_MS));
    ck_assert_int_eq(epy_api_call_async(d.api, "stubborn", "s", 1, NULL, &hs,
                                        NULL), 0);
    ck_assert(rt_counter_wait(&st.started, 1, RT_WAIT_MS));

    t0 = tu_now_ms();
    d.b = epy_peer_close(d.b);
    el = tu_now_ms() - t0;
    ck_assert_int_eq(rt_counter_get(&st.finished), 1);
    ck_assert_int_lt(el, 5000 + 1000 * tu_slow());
    for (int i = 0; i < NSYNC; i++) {
        pthread_join(c[i].th, NULL);
        ck_assert_int_eq(c[i].rc, EPY_EDISCONNECTED);
        ck_assert_int_lt(c[i].returned_ms - t0, 1000 * tu_slow());
    }
    ck_assert_int_eq(epy_async_wait(hw, RT_WAIT_MS), EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_async_wait(hs, RT_WAIT_MS), EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_async_wait(hk, RT_WAIT_MS), EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_call_reply(kept_call, "late", 4), EPY_ECLOSED);
    ck_assert_int_eq(rt_counter_get(&d.listen.disconnected), 0);
    ck_assert(rt_counter_wait(&la.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(la.disconnect_reason, EPY_EDISCONNECTED);
    ck_assert_int_eq(rt_counter_get(&d.srv.cancels_seen), NSYNC + 1);
    epy_async_release(hw);
    epy_async_release(hs);
    epy_async_release(hk);
    rt_duo_close(&d);
    rt_listen_destroy(&la);
    rt_counter_destroy(&st.started);
    rt_counter_destroy(&st.finished);
    rt_counter_destroy(&kept_n);
}
END_TEST

START_TEST(test_item36_disconnect_fails_all_pending)
{
    /* items 36, 50: a local disconnect fails every kind of pending call
     * (sync, handle, callback, semaphore) with EPY_ECLOSED, once; the
     * table empties as handles are released. */
    enum { NSYNC = 2 };
    epy_peer_config cb = EPY_PEER_CONFIG_INIT;
    rt_duo d;
    rt_cb rcb;
    sem_t sem;
    caller c[NSYNC];
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    epy_async *h[4];
    epy_error err = EPY_ERROR_INIT;

    cb.workers = 8;
    rt_duo_open(&d, NULL, &cb);
    rt_cb_init(&rcb);
    ck_assert_int_eq(sem_init(&sem, 0, 0), 0);
    rt_handle(d.b, "api.block", rt_srv_gated, &d.srv);
    for (int i = 0; i < NSYNC; i++)
        start_caller(&c[i], d.api, "block");
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(epy_api_call_async(d.api, "block", NULL, 0, NULL,
                                            &h[i], NULL), 0);
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &rcb;
    ck_assert_int_eq(epy_api_call_async(d.api, "block", NULL, 0, &opts, &h[2],
                                        NULL), 0);
    opts.callback = NULL;
    opts.sem = &sem;
    ck_assert_int_eq(epy_api_call_async(d.api, "block", NULL, 0, &opts, &h[3],
                                        NULL), 0);
    ck_assert(rt_counter_wait(&d.srv.started, NSYNC + 4, RT_WAIT_MS));
    ck_assert_uint_eq(epy_peer_pending_count(d.a), NSYNC + 4);

    ck_assert_int_eq(epy_peer_disconnect(d.a, false, 0, NULL), 0);
    for (int i = 0; i < NSYNC; i++) {
        pthread_join(c[i].th, NULL);
        ck_assert_int_eq(c[i].rc, EPY_ECLOSED);
    }
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(epy_async_wait(h[i], RT_WAIT_MS), EPY_ECLOSED);
        ck_assert_int_eq(epy_async_status_get(h[i]), EPY_ASYNC_FAILED);
        ck_assert_int_eq(epy_async_result(h[i], NULL, &err), EPY_ECLOSED);
        ck_assert_int_eq(err.code, EPY_ECLOSED);
        epy_error_clear(&err);
    }
    ck_assert(rt_counter_wait(&rcb.count, 1, RT_WAIT_MS));
    ck_assert_int_eq(rcb.rc, EPY_ECLOSED);
    ck_assert(rt_sem_wait(&sem, RT_WAIT_MS));
    ck_assert_int_eq(epy_async_result(h[3], NULL, NULL), EPY_ECLOSED);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 4);
    for (int i = 0; i < 4; i++)
        epy_async_release(h[i]);
    ck_assert_uint_eq(epy_peer_pending_count(d.a), 0);
    ck_assert_int_eq(rt_counter_get(&rcb.count), 1);
    ck_assert_int_eq(sem_trywait(&sem), -1);
    rt_duo_close(&d);
    rt_cb_destroy(&rcb);
    sem_destroy(&sem);
}
END_TEST

/* --- across fork(): the link ---------------------------------------------- */

/*
 * The child's side (the neck). Serves "neck.*" and calls "head.*"; leaves
 * when the head disconnects or sends "neck.bye". Returns 0 when all went
 * well, else a code saying where it failed.
 */
typedef struct neck {
    epy_link *link;
    epy_api *to_head;
    rt_counter leave;
    rt_gate never;
} neck;

static void
neck_disconnected(epy_peer *peer, int reason, void *ctx)
{
    neck *n = ctx;

    (void) peer;
    (void) reason;
    rt_counter_add(&n->leave, 1);
}

static int
neck_whoami(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    neck *n = ctx;
    epy_buf reply = EPY_BUF_INIT;
    int rc;

    (void) req;
    (void) len;
    rc = epy_api_call(n->to_head, "origin", NULL, 0, NULL, &reply, NULL);
    if (rc == 0)
        epy_call_reply(call, reply.data, reply.len);
    epy_buf_clear(&reply);
    return rc;
}

static int
neck_ev_back(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    neck *n = ctx;

    (void) call;
    RT_CHECK_INT_EQ(epy_api_send(n->to_head, "ev", req, len, NULL), 0);
    return 0;
}

static int
neck_hang(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    neck *n = ctx;

    (void) call;
    (void) req;
    (void) len;
    epy_api_send(n->to_head, "started", NULL, 0, NULL);
    /* Until killed (bounded, should the kill never come). */
    rt_gate_wait(&n->never, 4 * RT_WAIT_MS);
    return 0;
}

static int
neck_bye(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    neck *n = ctx;

    (void) call;
    (void) req;
    (void) len;
    rt_counter_add(&n->leave, 1);
    return 0;
}

static int
neck_main(void *arg)
{
    static const epy_listener listener = { NULL, NULL, neck_disconnected };
    neck *n = arg;
    epy_peer *p = NULL;
    rt_srv work;
    int code = 0;

    rt_counter_init(&n->leave);
    rt_gate_init(&n->never);
    rt_srv_init(&work);
    if (epy_link_peer(n->link, EPY_LINK_NECK, NULL, &p, NULL) != 0)
        return 10;
    epy_peer_set_listener(p, &listener, n);
    if (epy_api_open(p, "head", &n->to_head, NULL) != 0)
        code = 11;
    if (code == 0
        && (epy_peer_handle(p, "neck.echo", rt_echo, NULL, NULL) != 0
            || epy_peer_handle(p, "neck.whoami", neck_whoami, n, NULL) != 0
            || epy_peer_handle(p, "neck.ev_back", neck_ev_back, n, NULL) != 0
            || epy_peer_handle(p, "neck.hang", neck_hang, n, NULL) != 0
            || epy_peer_handle(p, "neck.bye", neck_bye, n, NULL) != 0
            || epy_peer_handle(p, "neck.work", rt_srv_until_cancel, &work,
                               NULL) != 0))
        code = 12;
    /* Registered last: once it answers, every handler is in place. */
    if (code == 0
        && epy_peer_handle(p, "neck.ready", rt_echo, NULL, NULL) != 0)
        code = 12;
    if (code == 0 && epy_peer_wait_ready(p, RT_WAIT_MS, NULL) != 0)
        code = 13;
    if (code == 0 && !rt_counter_wait(&n->leave, 1, 4 * RT_WAIT_MS))
        code = 14;
    epy_api_close(n->to_head);
    epy_peer_close(p);
    rt_srv_destroy(&work);
    if (code == 0 && rt_failure_count() > 0)
        code = 15;
    return code;
}

/* The head's side: the peer on the link, a record of what reached it. */
typedef struct head {
    epy_link link;
    neck neck;
    pid_t pid;
    epy_peer *peer;
    epy_api *api;
    rt_srv srv;
    rt_listen listen;
} head;

static int
head_origin(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    epy_txn_id id = epy_call_txn_id(call);

    (void) req;
    (void) len;
    (void) ctx;
    epy_call_reply(call, &id, sizeof id);
    return 0;
}

static void
head_start(head *h)
{
    memset(h, 0, sizeof *h);
    ck_assert_int_eq(epy_link_open(&h->link, NULL), 0);
    h->neck.link = &h->link;
    /* Fork first, while this process runs no thread of the runtime. */
    h->pid = rt_fork(neck_main, &h->neck);
    ck_assert_int_eq(epy_link_peer(&h->link, EPY_LINK_HEAD, NULL, &h->peer,
                                   NULL), 0);
    int64_t end;
    int rc;

    rt_srv_init(&h->srv);
    rt_listen_init(&h->listen);
    rt_listen_install(&h->listen, h->peer);
    rt_handle(h->peer, "head.origin", head_origin, NULL);
    rt_handle(h->peer, "head.ev", rt_srv_echo, &h->srv);
    rt_handle(h->peer, "head.started", rt_srv_echo, &h->srv);
    ck_assert_int_eq(epy_peer_wait_ready(h->peer, RT_WAIT_MS, NULL), 0);
    h->api = rt_api(h->peer, "neck");
    /*
     * The child's peer reads calls from the moment it exists, before its
     * handlers are registered: ask until "neck.ready" is served. (The
     * first calls of each test are therefore not the head's first.)
     */
    end = tu_now_ms() + RT_WAIT_MS;
    while ((rc = epy_api_call(h->api, "ready", NULL, 0, NULL, NULL, NULL))
           != 0 && (rc == EPY_EUNKNOWN || rc == EPY_EUNSUPPORTED)
           && tu_now_ms() < end)
        rt_sleep_ms(2);
    ck_assert_msg(rc == 0, "the child did not get ready: %s",
                  epy_status_name(rc));
}

static int
head_finish(head *h)
{
    int status;

    h->api = epy_api_close(h->api);
    h->peer = epy_peer_close(h->peer);
    status = rt_reap(h->pid, 4 * RT_WAIT_MS);
    epy_link_close(&h->link);
    rt_srv_destroy(&h->srv);
    rt_listen_destroy(&h->listen);
    return status;
}

START_TEST(test_item37_link_across_fork)
{
    /* items 37, 29, 1, 12 across fork(): what one side sends the other
     * receives, both ways; the head's ids have origin 1 and count up one
     * by one, the neck's have origin 2 and start at 1; events both ways;
     * the child leaves cleanly when the head closes (exit status 0,
     * reaped). */
    head h;
    epy_async *as = NULL;
    epy_buf reply = EPY_BUF_INIT;
    epy_txn_id seen, first;
    uint8_t *big = malloc(1 << 20);
    int status;

    ck_assert_ptr_nonnull(big);
    head_start(&h);
    ck_assert_int_eq(epy_api_call_async(h.api, "echo", "hi", 2, NULL, &as,
                                        NULL), 0);
    first = epy_async_id(as);
    ck_assert_uint_eq(EPY_TXN_ORIGIN(first), EPY_ORIGIN_HEAD);
    ck_assert_uint_ge(EPY_TXN_SEQ(first), 2);
    ck_assert_int_eq(epy_async_wait(as, RT_WAIT_MS), 0);
    ck_assert_int_eq(epy_async_result(as, &reply, NULL), 0);
    ck_assert_mem_eq(reply.data, "hi", 2);
    as = epy_async_release(as);
    ck_assert_int_eq(epy_api_call_async(h.api, "echo", NULL, 0, NULL, &as,
                                        NULL), 0);
    ck_assert_uint_eq(epy_async_id(as), first + 1);
    ck_assert_int_eq(epy_async_wait(as, RT_WAIT_MS), 0);
    as = epy_async_release(as);

    ck_assert_int_eq(epy_api_call(h.api, "whoami", NULL, 0, NULL, &reply,
                                  NULL), 0);
    ck_assert_uint_eq(reply.len, sizeof seen);
    memcpy(&seen, reply.data, sizeof seen);
    ck_assert_uint_eq(seen, EPY_TXN_MAKE(EPY_ORIGIN_NECK, 1));

    rt_fill(big, 1 << 20, 37);
    rt_call_expect(h.api, "echo", big, 1 << 20, big, 1 << 20);

    ck_assert_int_eq(epy_api_send(h.api, "ev_back", "boo", 3, NULL), 0);
    ck_assert(rt_counter_wait(&h.srv.calls, 1, RT_WAIT_MS));
    ck_assert_uint_eq(h.srv.last_txn, EPY_TXN_NONE);
    ck_assert_str_eq(h.srv.last_method, "head.ev");

    status = head_finish(&h);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %#x", (unsigned) status);
    epy_buf_clear(&reply);
    free(big);
}
END_TEST

START_TEST(test_link_child_leaves_mid_call)
{
    /* The child closes its peer and exits while the head waits on it: the
     * head's call fails with EPY_EDISCONNECTED, its listener is told, the
     * child exits with 0. */
    head h;
    epy_async *as = NULL;
    int status;

    head_start(&h);
    ck_assert_int_eq(epy_api_call_async(h.api, "work", NULL, 0, NULL, &as,
                                        NULL), 0);
    ck_assert_int_eq(epy_api_send(h.api, "bye", NULL, 0, NULL), 0);
    ck_assert_int_eq(epy_async_wait(as, RT_WAIT_MS), EPY_EDISCONNECTED);
    ck_assert(rt_counter_wait(&h.listen.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(h.listen.disconnect_reason, EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_peer_status(h.peer), EPY_EDISCONNECTED);
    epy_async_release(as);
    status = head_finish(&h);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %#x", (unsigned) status);
}
END_TEST

START_TEST(test_link_sigkill_mid_call)
{
    /* The child is killed (SIGKILL) while calls to it are pending: sync
     * callers, handles, callback and semaphore calls all fail with
     * EPY_EDISCONNECTED within 1 s, not at their timeouts; the child's
     * status says SIGKILL and it is reaped. */
    enum { NSYNC = 3, NH = 3 };
    head h;
    caller c[NSYNC];
    epy_async *hs[NH];
    rt_cb rcb;
    sem_t sem;
    epy_call_opts opts = EPY_CALL_OPTS_INIT;
    int64_t t0, last;
    int status;

    rt_cb_init(&rcb);
    ck_assert_int_eq(sem_init(&sem, 0, 0), 0);
    head_start(&h);
    for (int i = 0; i < NSYNC; i++)
        start_caller(&c[i], h.api, "hang");
    for (int i = 0; i < NH; i++)
        ck_assert_int_eq(epy_api_call_async(h.api, "hang", NULL, 0, NULL,
                                            &hs[i], NULL), 0);
    opts.callback = rt_cb_fn;
    opts.callback_ctx = &rcb;
    ck_assert_int_eq(epy_api_call_async(h.api, "hang", NULL, 0, &opts, NULL,
                                        NULL), 0);
    opts.callback = NULL;
    opts.sem = &sem;
    ck_assert_int_eq(epy_api_call_async(h.api, "hang", NULL, 0, &opts, NULL,
                                        NULL), 0);
    /* The child runs 4 handlers at once (its default workers). */
    ck_assert(rt_counter_wait(&h.srv.calls, EPY_DEFAULT_WORKERS,
                              RT_WAIT_MS));
    /* Wait until the sync callers have registered their calls too. */
    for (int64_t end = tu_now_ms() + RT_WAIT_MS;
         epy_peer_pending_count(h.peer) < NSYNC + NH + 2
         && tu_now_ms() < end;)
        rt_sleep_ms(1);
    ck_assert_uint_eq(epy_peer_pending_count(h.peer), NSYNC + NH + 2);

    t0 = tu_now_ms();
    ck_assert_int_eq(kill(h.pid, SIGKILL), 0);
    for (int i = 0; i < NSYNC; i++) {
        pthread_join(c[i].th, NULL);
        ck_assert_int_eq(c[i].rc, EPY_EDISCONNECTED);
        ck_assert_int_lt(c[i].returned_ms - t0, 1000 * tu_slow());
    }
    for (int i = 0; i < NH; i++)
        ck_assert_int_eq(epy_async_wait(hs[i], RT_WAIT_MS),
                         EPY_EDISCONNECTED);
    ck_assert(rt_counter_wait(&rcb.count, 1, RT_WAIT_MS));
    ck_assert(rt_sem_wait(&sem, RT_WAIT_MS));
    last = tu_now_ms();
    ck_assert_int_lt(last - t0, 1000 * tu_slow());
    ck_assert_int_eq(rcb.rc, EPY_EDISCONNECTED);
    ck_assert(rt_counter_wait(&h.listen.disconnected, 1, RT_WAIT_MS));
    ck_assert_int_eq(h.listen.disconnect_reason, EPY_EDISCONNECTED);
    ck_assert_int_eq(epy_peer_status(h.peer), EPY_EDISCONNECTED);
    for (int i = 0; i < NH; i++)
        epy_async_release(hs[i]);
    /* The callback's transaction leaves the table once its callback has
     * returned, a moment after rt_cb_fn() counted itself. */
    for (int64_t end = tu_now_ms() + RT_WAIT_MS;
         epy_peer_pending_count(h.peer) > 0 && tu_now_ms() < end;)
        rt_sleep_ms(1);
    ck_assert_uint_eq(epy_peer_pending_count(h.peer), 0);
    status = head_finish(&h);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "child status %#x", (unsigned) status);
    rt_cb_destroy(&rcb);
    sem_destroy(&sem);
}
END_TEST

static Suite *
peer_suite(void)
{
    Suite *s = suite_create("peer");
    TCase *tc;

    tc = rt_tcase(s, "core", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_item38_pair_lifecycle);
    tcase_add_test(tc, test_item55_workers);
    tcase_add_test(tc, test_hello_ready);
    tcase_add_test(tc, test_item46_unsolicited_disconnect);
    tcase_add_test(tc, test_item47_53_solicited_disconnect);
    tcase_add_test(tc, test_disconnect_ack_then_deaf);
    tcase_add_test(tc, test_item46_47_disconnect_frames);
    tcase_add_test(tc, test_item70_compression);
    tcase_add_test(tc, test_item37_link_across_fork);

    tc = rt_tcase(s, "errors", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_item54_bad_constructor_args);
    tcase_add_test(tc, test_hello_mismatch);
    tcase_add_test(tc, test_hello_mismatch_listener);
    tcase_add_test(tc, test_wait_ready_timeout);
    tcase_add_test(tc, test_item52_unresponsive_disconnect);
    tcase_add_test(tc, test_item69_send_fails);
    tcase_add_test(tc, test_other_end_closes_fd);
    tcase_add_test(tc, test_garbage_from_other_end);
    tcase_add_test(tc, test_oversized_frame_from_peer);
    tcase_add_test(tc, test_item71_bad_compression_config);
    tcase_add_test(tc, test_link_child_leaves_mid_call);
    tcase_add_test(tc, test_link_sigkill_mid_call);

    tc = rt_tcase(s, "threads", RT_TCASE_TIMEOUT);
    tcase_add_test(tc, test_item50_close_with_calls_running);
    tcase_add_test(tc, test_close_with_handlers_running);
    tcase_add_test(tc, test_item36_disconnect_fails_all_pending);
    return s;
}

int
main(void)
{
    return tu_run_suite(peer_suite());
}
