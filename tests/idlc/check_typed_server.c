/*
 * A typed server and many client processes (tests/idlc/typed-server.idl),
 * served with the generated *_serve_server() functions: 50 clients at
 * once call every method; clients come and go while others call;
 * broadcasts reach every client once and in order, a stopped client
 * holds nobody up and one whose queue overflows is dropped; a paused
 * server serves before it starts; on_connect only follows an accepted
 * hello; unserving answers the calls that follow; an event posted from
 * a handler reaches its caller alone.
 *
 * The clients are processes forked at the start of each test, before the
 * server exists (this process has one thread then). Each waits for
 * commands on a pipe of its own ('g' to start, end of file to leave) and
 * reports on a pipe all share, in records of less than PIPE_BUF bytes.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <check.h>

#include "typed-server-peers.h"
#include "../testutil.h"

#define MAX_KIDS 64

static char dir[64];
static epy_server *srv;

/* The clients: pids (0 once reaped), command pipes (-1 once closed), the
 * pipe they report on. */
static pid_t kid_pid[MAX_KIDS];
static int kid_cmd[MAX_KIDS];
static int nkids;
static int res_fd[2] = { -1, -1 };

/* A paused server announcing store_interface; 0: the default queue. */
static void
server_new(size_t max_send_queue)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;

    cfg.peer.start_paused = true;
    cfg.peer.workers = 2;
    cfg.peer.interfaces = &store_interface;
    cfg.peer.n_interfaces = 1;
    cfg.peer.max_send_queue = max_send_queue;
    cfg.on_connect = ts_on_connect;
    cfg.on_disconnect = ts_on_disconnect;
    ck_assert_msg(epy_server_new(ts_url, &cfg, &srv, &err) == 0, "%s",
                  err.message);
}

static void
serve_all(void)
{
    ck_assert_int_eq(store_serve_server(srv, &ts_store_table, NULL), 0);
    ck_assert_int_eq(store_admin_serve_server(srv, &ts_admin_table, NULL),
                     0);
}

/* --- the parent: clients, their records ---------------------------------- */

static ts_record finals[MAX_KIDS];
static bool final_seen[MAX_KIDS];
/* The R_EVENT reports of each client, in the order its handler ran. */
#define EV_MAX 8192
static struct {
    int64_t count, first, last, max;
    bool gap, dup;              /* not last + 1; seen before */
    uint8_t seen[EV_MAX / 8];
} evlog[MAX_KIDS];

static void
spawn(ts_kid_fn fn)
{
    int cmd[2];
    pid_t pid;

    ck_assert_int_lt(nkids, MAX_KIDS);
    if (res_fd[0] < 0) {
        ck_assert_int_eq(pipe(res_fd), 0);
        ts_report_fd = res_fd[1];
    }
    ck_assert_int_eq(pipe(cmd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int line;

#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* a failed test leaves none */
#endif
        for (int i = 0; i < nkids; i++)
            close(kid_cmd[i]);
        close(cmd[1]);
        close(res_fd[0]);
        ts_kid_id = nkids;
        line = fn(nkids, cmd[0]);
        if (line != 0)
            ts_report(R_FAIL, line, ts_kid_rc, 0);
        else
            ts_report(R_FINAL, (int64_t) ts_ev.count, ts_ev.bad,
                      ts_kid_value);
        _exit(line != 0);
    }
    close(cmd[0]);
    kid_pid[nkids] = pid;
    kid_cmd[nkids] = cmd[1];
    final_seen[nkids] = false;
    memset(&evlog[nkids], 0, sizeof evlog[nkids]);
    nkids++;
}

static void
spawn_n(ts_kid_fn fn, int n)
{
    for (int i = 0; i < n; i++)
        spawn(fn);
}

static void
tell(int id, char c)
{
    ck_assert_int_eq(write(kid_cmd[id], &c, 1), 1);
}

static void
go_all(void)
{
    for (int i = 0; i < nkids; i++)
        tell(i, 'g');
}

/* The next record (R_EVENT and R_FINAL ones are kept, in evlog and
 * finals); a client's failure fails the test. */
static ts_record
next_record(void)
{
    struct pollfd p = { res_fd[0], POLLIN, 0 };
    ts_record r;

    ck_assert_msg(poll(&p, 1, 30000 * tu_slow()) == 1,
                  "no word from the clients in 30 s");
    ck_assert_int_eq(read(res_fd[0], &r, sizeof r), sizeof r);
    ck_assert(r.id >= 0 && r.id < nkids);
    ck_assert_msg(r.kind != R_FAIL, "client %d failed at line %lld: %s",
                  r.id, (long long) r.a, epy_status_name((int) r.b));
    if (r.kind == R_EVENT) {
        ck_assert(r.a >= 0 && r.a < EV_MAX);
        if (evlog[r.id].count == 0)
            evlog[r.id].first = r.a;
        else if (r.a != evlog[r.id].last + 1)
            evlog[r.id].gap = true;
        evlog[r.id].dup |= (evlog[r.id].seen[r.a / 8] >> (r.a % 8)) & 1;
        evlog[r.id].seen[r.a / 8] |= (uint8_t) (1 << (r.a % 8));
        evlog[r.id].last = r.a;
        if (r.a > evlog[r.id].max)
            evlog[r.id].max = r.a;
        evlog[r.id].count++;
    } else if (r.kind == R_FINAL) {
        ck_assert(!final_seen[r.id]);
        finals[r.id] = r;
        final_seen[r.id] = true;
    }
    return r;
}

/* Waits for @n records of @kind (others are kept or fail the test). */
static ts_record
expect(int kind, int n)
{
    ts_record r = { 0, 0, 0, 0, 0 };

    while (n > 0) {
        r = next_record();
        if (r.kind == kind)
            n--;
        else
            ck_assert_msg(r.kind == R_EVENT || r.kind == R_FINAL,
                          "client %d: record %d, not %d", r.id, r.kind, kind);
    }
    return r;
}

/* Tells client @id (-1: all) to leave, waits for its R_FINAL and its exit. */
static void
finish(int id)
{
    for (int i = 0; i < nkids; i++)
        if ((id < 0 || i == id) && kid_cmd[i] >= 0) {
            close(kid_cmd[i]);
            kid_cmd[i] = -1;
        }
    for (int i = 0; i < nkids; i++) {
        int status;

        if ((id >= 0 && i != id) || kid_pid[i] <= 0)
            continue;
        while (!final_seen[i])
            next_record();
        ck_assert_int_eq(waitpid(kid_pid[i], &status, 0), kid_pid[i]);
        kid_pid[i] = 0;
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "client %d ended with status %d", i, status);
    }
}

/* After a failure: no client is left, stopped or not. */
static void
kill_kids(void)
{
    for (int i = 0; i < nkids; i++) {
        if (kid_pid[i] > 0) {
            kill(kid_pid[i], SIGKILL);
            waitpid(kid_pid[i], NULL, 0);
        }
        if (kid_cmd[i] >= 0)
            close(kid_cmd[i]);
    }
    nkids = 0;
    for (int i = 0; i < 2; i++)
        if (res_fd[i] >= 0)
            close(res_fd[i]);
    res_fd[0] = res_fd[1] = -1;
}

static void
stop_kid(int id, bool stop)
{
    int status;

    ck_assert_int_eq(kill(kid_pid[id], stop ? SIGSTOP : SIGCONT), 0);
    ck_assert_int_eq(waitpid(kid_pid[id], &status,
                             stop ? WUNTRACED : WCONTINUED), kid_pid[id]);
    ck_assert(stop ? WIFSTOPPED(status) : WIFCONTINUED(status));
}

/* How the clients' store.changed handlers check and report. */
static void
ev_mode(uint64_t target, bool in_order, bool ack)
{
    ts_ev.target = target;
    ts_ev.in_order = in_order;
    ts_ev.ack = ack;
}

static void
setup(void)
{
    tu_setup_resources();
    snprintf(dir, sizeof dir, "/tmp/epy-ts-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(ts_url, sizeof ts_url, "unix:%s/s.sock", dir);
    pthread_mutex_lock(&ts_st.lock);
    ts_st.connects = ts_st.disconnects = 0;
    ts_st.busy_drops = ts_st.misordered = 0;
    ts_st.conn_peer = ts_st.disc_peer = ts_st.call_peer = NULL;
    ts_st.conn_pid = 0;
    pthread_mutex_unlock(&ts_st.lock);
    ev_mode(0, false, false);
    ts_kid_value = 0;
}

static void
teardown(void)
{
    kill_kids();
    if (srv != NULL) {
        store_unserve_server(srv);
        store_admin_unserve_server(srv);
    }
    srv = epy_server_close(srv);
    rmdir(dir);
    tu_teardown_resources();
}

static int64_t
ms_since(int64_t t0)
{
    return tu_now_ms() - t0;
}

/* --- the tests ----------------------------------------------------------- */

/* Waits until the server has no client left, for up to 20 s. */
static void
wait_no_clients(void)
{
    int64_t deadline = tu_now_ms() + 20000 * tu_slow();

    while (epy_server_clients(srv) > 0 && tu_now_ms() < deadline) {
        struct timespec ts = { 0, 1000000 };

        nanosleep(&ts, NULL);
    }
    ck_assert_uint_eq(epy_server_clients(srv), 0);
}

/* A copy of what the server's notifications saw. */
static ts_server_state
seen(void)
{
    ts_server_state s;

    pthread_mutex_lock(&ts_st.lock);
    s = ts_st;
    pthread_mutex_unlock(&ts_st.lock);
    return s;
}

START_TEST(test_many_clients)
{
    int n = tu_slow() > 1 ? 10 : 50;
    int64_t t0, ms;

    ts_kid_value = 1;
    spawn_n(ts_kid_caller, n);
    server_new(0);
    serve_all();
    ck_assert_int_eq(epy_server_start(srv), 0);
    t0 = tu_now_ms();
    go_all();
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(expect(R_DONE, 1).a, 1);
    ms = ms_since(t0);
    fprintf(stderr, "typed-server: %d clients x %d calls in %lld ms\n", n,
            TS_CALLS_PER_ROUND, (long long) ms);
    /* Still connected, every client is told of, then told of leaving. */
    ck_assert(ts_wait(&ts_st.connects, n));
    finish(-1);
    ck_assert(ts_wait(&ts_st.disconnects, n));
    ck_assert_int_eq(seen().connects, n);
    ck_assert_int_eq(seen().misordered, 0);
}
END_TEST

START_TEST(test_churn)
{
    int loops = tu_slow() > 1 ? 50 : 1000;
    int64_t t0, ms;
    ts_server_state s;

    ts_kid_value = loops;
    spawn(ts_kid_churner);
    ts_kid_value = 0;
    spawn_n(ts_kid_caller, 4);
    server_new(0);
    serve_all();
    ck_assert_int_eq(epy_server_start(srv), 0);
    t0 = tu_now_ms();
    go_all();
    finish(0);
    ms = ms_since(t0);
    finish(-1);
    fprintf(stderr, "typed-server: %d connect-call-leave in %lld ms\n",
            loops, (long long) ms);
    ck_assert_int_eq(finals[0].c, loops);
    for (int i = 1; i <= 4; i++)
        ck_assert_int_gt(finals[i].c, 0);
    /*
     * Every client whose hello was accepted is told of, in pairs: one
     * that leaves before its on_connect ran gets it from its closer.
     */
    wait_no_clients();
    s = seen();
    ck_assert_int_eq(s.connects, loops + 4);
    ck_assert_int_eq(s.disconnects, loops + 4);
    ck_assert_int_eq(s.misordered, 0);
}
END_TEST

/* Clients 0..@n-1 connected, subscribed, and told of by on_connect. */
static void
subscribers_ready(int n)
{
    go_all();
    expect(R_READY, n);
    ck_assert(ts_wait(&ts_st.connects, n));
}

static int
broadcast(uint64_t seq)
{
    uint8_t pad[TS_PAD_LEN];
    epy_bytes b = { pad, sizeof pad };
    epy_error err = EPY_ERROR_INIT;
    int rc;

    memset(pad, (int) (uint8_t) seq, sizeof pad);
    rc = store_changed_broadcast(srv, seq, "bc", &b, &err);
    ck_assert_msg(rc >= 0, "broadcast: %s", err.message);
    return rc;
}

START_TEST(test_broadcast_stopped_client)
{
    int n = 8, events = 200;
    int64_t t0, ms;

    ev_mode((uint64_t) events, true, false);
    spawn_n(ts_kid_scripted, n);
    server_new(0);
    serve_all();
    ck_assert_int_eq(epy_server_start(srv), 0);
    subscribers_ready(n);
    stop_kid(0, true);
    t0 = tu_now_ms();
    for (int seq = 0; seq < events; seq++)
        ck_assert_int_eq(broadcast((uint64_t) seq), n);
    /* Every client but the stopped one has them all, in order. */
    for (int i = 1; i < n; i++) {
        ts_record r = expect(R_DONE, 1);

        ck_assert_int_ne(r.id, 0);
        ck_assert_int_eq(r.a, events);
        ck_assert_int_eq(r.b, 0);
    }
    ms = ms_since(t0);
    ck_assert_int_lt(ms, 10000 * tu_slow());
    fprintf(stderr, "typed-server: %d events x %d clients broadcast in "
            "%lld ms (one client stopped)\n", events, n, (long long) ms);
    stop_kid(0, false);
    ck_assert_int_eq(expect(R_DONE, 1).id, 0);
    finish(-1);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(finals[i].a, events);  /* not one more */
        ck_assert_int_eq(finals[i].b, 0);
    }
    ck_assert_int_eq(seen().busy_drops, 0);
}
END_TEST

START_TEST(test_broadcast_overflow_drops)
{
    /* Queues of 4096 bytes: two events. The live clients acknowledge each
     * event before the next; the stopped one fills its socket, then its
     * queue, and is dropped. */
    int n = 4, seq, dropped = -1;

    ev_mode(0, true, true);
    spawn_n(ts_kid_scripted, n);
    server_new(4096);
    serve_all();
    ck_assert_int_eq(epy_server_start(srv), 0);
    subscribers_ready(n);
    stop_kid(0, true);
    for (seq = 0; seq < EV_MAX && (dropped < 0 || seq < dropped + 20); seq++) {
        int rc = broadcast((uint64_t) seq);

        ck_assert_int_ge(rc, n - 1);
        if (rc == n - 1 && dropped < 0)
            dropped = seq;
        for (int i = 1; i < n; i++)
            while (evlog[i].count < seq + 1)
                next_record();
    }
    ck_assert_msg(dropped > 0, "the stopped client was never dropped");
    ck_assert(ts_wait(&ts_st.busy_drops, 1));
    stop_kid(0, false);
    finish(-1);
    /* The live clients had every event, once, in order. */
    for (int i = 1; i < n; i++) {
        ck_assert_int_eq(finals[i].a, seq);
        ck_assert_int_eq(finals[i].b, 0);
        ck_assert(!evlog[i].gap && !evlog[i].dup);
    }
    /*
     * The dropped one, continued and told to leave at once, had some of
     * the first events, each once. Only the set is checked: a peer with
     * one worker may run the events it read just before its connection
     * ended on two threads, out of order.
     */
    ck_assert(!evlog[0].dup);
    ck_assert_int_eq(finals[0].a, evlog[0].count);
    ck_assert(evlog[0].count == 0 || evlog[0].max == evlog[0].count - 1);
    ck_assert_int_lt(evlog[0].count, dropped);
    ck_assert(ts_wait(&ts_st.disconnects, n));
    ck_assert_int_eq(seen().busy_drops, 1);
}
END_TEST

/* Connections to this test's server not accepted yet: /proc/net/unix
 * lists each with the server's bound path (within dir), state 02. */
static int
connecting(void)
{
    FILE *f = fopen("/proc/net/unix", "r");
    char line[512], path[256];
    unsigned state;
    int n = 0;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "%*s %*s %*s %*s %*s %x %*s %255s", &state, path) == 2
            && state == 2 && strncmp(path, dir, strlen(dir)) == 0)
            n++;
    fclose(f);
    return n;
}

START_TEST(test_paused_start)
{
    int n = 8, waiting;
    int64_t deadline = tu_now_ms() + 20000 * tu_slow();

    ts_kid_value = 1;
    spawn_n(ts_kid_caller, n);
    server_new(0);
    go_all();
    /* Every client is connecting: nobody accepts them yet. */
    while ((waiting = connecting()) >= 0 && waiting < n
           && tu_now_ms() < deadline) {
        struct timespec ts = { 0, 1000000 };

        nanosleep(&ts, NULL);
    }
    ck_assert(waiting < 0 || waiting == n);
    ck_assert_uint_eq(epy_server_clients(srv), 0);
    serve_all();
    ck_assert_int_eq(epy_server_start(srv), 0);
    finish(-1);
    ck_assert_int_eq(seen().misordered, 0);
}
END_TEST

START_TEST(test_connect_after_hello)
{
    ts_server_state s;
    pid_t good;

    spawn_n(ts_kid_hello, 2);
    good = kid_pid[1];
    server_new(0);
    serve_all();
    ck_assert_int_eq(epy_server_start(srv), 0);
    /* Refused in the hello: never told of, neither way. */
    tell(0, 'g');
    finish(0);
    ck_assert_str_eq(epy_status_name((int) finals[0].c), "EPY_EVERSION");
    wait_no_clients();
    /* A good one: on_connect, its calls, on_disconnect, one peer. */
    tell(1, 'g');
    ck_assert_int_eq(expect(R_DONE, 1).a, good);
    ck_assert(ts_wait(&ts_st.connects, 1));
    finish(1);
    ck_assert(ts_wait(&ts_st.disconnects, 1));
    s = seen();
    ck_assert_int_eq(s.connects, 1);
    ck_assert_int_eq(s.disconnects, 1);
    ck_assert_int_eq(s.misordered, 0);
    ck_assert_ptr_eq(s.call_peer, s.conn_peer);
    ck_assert_ptr_eq(s.disc_peer, s.conn_peer);
    ck_assert_int_eq(s.conn_pid, good);
}
END_TEST

/* Client 0 calls store.put and store.admin.echo: their codes. */
static void
expect_codes(int put, int echo)
{
    ts_record r;

    tell(0, 'c');
    r = expect(R_STEP, 1);
    ck_assert_str_eq(epy_status_name((int) r.a), epy_status_name(put));
    ck_assert_str_eq(epy_status_name((int) r.b), epy_status_name(echo));
}

START_TEST(test_unserve_and_post)
{
    ev_mode(0, false, true);
    spawn_n(ts_kid_scripted, 2);
    server_new(0);
    serve_all();
    ck_assert_int_eq(epy_server_start(srv), 0);
    subscribers_ready(2);
    expect_codes(0, 0);
    /* Withdrawn while clients are connected: store.admin still makes
     * store a known namespace, then nothing does. */
    ck_assert_int_eq(store_unserve_server(srv), 0);
    ck_assert_int_eq(store_unserve_server(srv), EPY_ENOTFOUND);
    expect_codes(EPY_EUNSUPPORTED, 0);
    ck_assert_int_eq(store_admin_unserve_server(srv), 0);
    expect_codes(EPY_EUNKNOWN, EPY_EUNKNOWN);
    serve_all();
    expect_codes(0, 0);
    /* Posted from store.touch's handler: to the caller alone. A
     * broadcast after both touches shows whatever came before it. */
    for (int i = 0; i < 2; i++) {
        ts_record r;

        tell(i, 't');
        r = expect(R_STEP, 1);
        ck_assert_int_eq(r.id, i);
        ck_assert_int_eq(r.a, 0);
        ck_assert_int_eq(r.b, 1);
    }
    ck_assert_int_eq(broadcast(7777), 2);
    while (evlog[0].last != 7777 || evlog[1].last != 7777)
        next_record();
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(evlog[i].count, 2);
        ck_assert_int_eq(evlog[i].first, 1000 + i);
    }
    finish(-1);
}
END_TEST

static Suite *
typed_server_suite(void)
{
    Suite *s = suite_create("typed_server");
    TCase *tc;

    tc = tcase_create("clients");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_many_clients);
    tcase_add_test(tc, test_churn);
    tcase_add_test(tc, test_paused_start);
    tcase_add_test(tc, test_connect_after_hello);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("events");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_broadcast_stopped_client);
    tcase_add_test(tc, test_broadcast_overflow_drops);
    tcase_add_test(tc, test_unserve_and_post);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(typed_server_suite());
}
