/*
 * How frames leave a peer, seen from a raw socket: frames of several
 * threads meet at the writer, the replies of calls that run on the
 * reader wait to go out together, but not for the whole of a long burst,
 * and replies that the other end never reads stop the peer's reading.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "peer-int.h"
#include "testutil.h"
#include "wire-helpers.h"

/* A peer on one end of a socketpair; the test speaks raw on the other. */
static epy_peer *peer;
static int raw = -1;
static tu_resources res;

static void
setup(void)
{
    tu_resources_take(&res);
    peer = NULL;
    raw = -1;
}

static void
teardown(void)
{
    peer = epy_peer_close(peer);
    if (raw >= 0)
        close(raw);
    raw = -1;
    tu_resources_check(&res);
}

/* The peer past the hello exchange. */
static void
open_ready(void)
{
    Epyrpc__Envelope *env;
    int sv[2];
    epy_error err = EPY_ERROR_INIT;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_msg(epy_peer_new_fd(sv[0], NULL, &peer, &err) == 0, "%s",
                  err.message);
    raw = sv[1];
    env = tw_read_env(raw);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(env->kind, EPYRPC__KIND__HELLO);
    epyrpc__envelope__free_unpacked(env, NULL);
    tw_send_hello(raw, EPY_PROTOCOL_VERSION, NULL, false);
    ck_assert_int_eq(epy_peer_wait_ready(peer, 5000, NULL), 0);
}

/*
 * Frames of several threads meet at the writer: small ones wait in a
 * buffer for the thread that is writing, large ones take their turn.
 * Nothing is lost or torn, and each thread's frames stay in its order.
 */
#define MEET_THREADS 8
#define MEET_FRAMES 2000

typedef struct meet_sender {
    pthread_t th;
    epy_api *api;
    uint32_t id;
    int rc;
} meet_sender;

static void *
meet_main(void *p)
{
    meet_sender *m = p;

    for (uint32_t seq = 0; seq < MEET_FRAMES && m->rc == 0; seq++) {
        /* Every seventh frame is too large to wait in the buffer. */
        size_t len = seq % 7 == 3 ? 6000 : 8 + seq % 50;
        uint8_t small[64];
        uint8_t *buf = len > sizeof small ? malloc(len) : small;

        if (buf == NULL) {
            m->rc = EPY_ENOMEM;
            break;
        }
        memset(buf, (int) ((m->id * 31 + seq) & 0xff), len);
        memcpy(buf, &m->id, 4);
        memcpy(buf + 4, &seq, 4);
        m->rc = epy_api_send(m->api, "ev", buf, len, NULL);
        if (buf != small)
            free(buf);
    }
    return NULL;
}

START_TEST(test_frames_meet_at_the_writer)
{
    meet_sender m[MEET_THREADS];
    uint32_t next[MEET_THREADS] = { 0 };
    epy_api *api;

    open_ready();
    ck_assert_int_eq(epy_api_open(peer, "o", &api, NULL), 0);
    for (uint32_t i = 0; i < MEET_THREADS; i++) {
        m[i].api = api;
        m[i].id = i;
        m[i].rc = 0;
        ck_assert_int_eq(pthread_create(&m[i].th, NULL, meet_main, &m[i]), 0);
    }
    for (long n = 0; n < (long) MEET_THREADS * MEET_FRAMES; n++) {
        Epyrpc__Envelope *env = tw_read_env(raw);
        uint32_t id, seq;
        size_t len;

        /* One check per frame: Check records every assertion it makes. */
        if (env == NULL || env->kind != EPYRPC__KIND__EVENT
            || strcmp(env->method, "o.ev") != 0 || !env->has_payload
            || env->payload.len < 8)
            ck_abort_msg("frame %ld: not the event expected", n);
        memcpy(&id, env->payload.data, 4);
        memcpy(&seq, env->payload.data + 4, 4);
        if (id >= MEET_THREADS || seq != next[id])
            ck_abort_msg("thread %u: frame %u after %u", id, seq,
                         id < MEET_THREADS ? next[id] : 0);
        next[id]++;
        len = seq % 7 == 3 ? 6000 : 8 + seq % 50;
        if (env->payload.len != len)
            ck_abort_msg("thread %u frame %u: %zu bytes", id, seq,
                         env->payload.len);
        for (size_t k = 8; k < len; k++)
            if (env->payload.data[k] != ((id * 31 + seq) & 0xff))
                ck_abort_msg("thread %u frame %u: byte %zu torn", id, seq, k);
        epyrpc__envelope__free_unpacked(env, NULL);
    }
    for (int i = 0; i < MEET_THREADS; i++) {
        pthread_join(m[i].th, NULL);
        ck_assert_int_eq(m[i].rc, 0);
        ck_assert_uint_eq(next[i], MEET_FRAMES);
    }
    epy_api_close(api);
}
END_TEST

/*
 * Calls that arrive together run on the reader one after the other, and
 * their small replies wait to go out together (doc/runtime.md,
 * "Threads"); once 1 KiB of them waits they go, while the reader runs
 * the rest, so the other end of a pipeline starts on them at once. When
 * the last call of a burst whose replies come to about 5 KiB runs, the
 * replies of the first ones are already at the other end. (Had the
 * calls gone to the workers instead, those replies would be there too.)
 */
#define CORK_CALLS 300

typedef struct cork_probe {
    int raw;
    atomic_int waiting;         /* bytes at the raw end when the last ran */
    sem_t ran;
} cork_probe;

static int
cork_echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    cork_probe *p = ctx;
    uint32_t seq = 0;

    if (len == sizeof seq)
        memcpy(&seq, req, sizeof seq);
    if (seq == CORK_CALLS - 1) {
        int n = -1;

        if (ioctl(p->raw, FIONREAD, &n) < 0)
            n = -1;
        atomic_store(&p->waiting, n);
        sem_post(&p->ran);
    }
    return epy_call_reply(call, req, len);
}

/* The call of "w.echo" numbered *@seq (transaction *@seq + 1). */
static Epyrpc__Envelope
echo_call(uint32_t *seq)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;

    env.kind = EPYRPC__KIND__CALL;
    env.has_txn = true;
    env.txn = *seq + 1;
    env.method = (char *) "w.echo";
    env.has_payload = true;
    env.payload.data = (uint8_t *) seq;
    env.payload.len = sizeof *seq;
    return env;
}

/*
 * Writes the frame of the call numbered @seq at @buf + @off (64 bytes
 * at most); returns the offset after it.
 */
static size_t
put_echo_call(uint8_t *buf, size_t off, uint32_t seq)
{
    Epyrpc__Envelope env = echo_call(&seq);
    size_t n = epyrpc__envelope__get_packed_size(&env);

    ck_assert_uint_le(4 + n, 64);
    for (int i = 0; i < 4; i++)
        buf[off + (size_t) i] = (uint8_t) (n >> (8 * i));
    epyrpc__envelope__pack(&env, buf + off + 4);
    return off + 4 + n;
}

START_TEST(test_corked_replies_go_before_the_burst_ends)
{
    static uint8_t buf[CORK_CALLS * 64];
    bool seen[CORK_CALLS] = { false };
    size_t off = 0;
    cork_probe p;
    struct timespec ts;

    open_ready();
    p.raw = raw;
    atomic_init(&p.waiting, -1);
    sem_init(&p.ran, 0, 0);
    ck_assert_int_eq(epy_peer_handle(peer, "w.echo", cork_echo, &p, NULL), 0);
    /*
     * Calls one at a time first: the first call on the reader starts its
     * watchdog, which takes long enough to send the calls behind it to
     * the workers; one that comes alone runs short on the reader again.
     */
    for (uint32_t seq = CORK_CALLS; seq < CORK_CALLS + 3; seq++) {
        Epyrpc__Envelope env = echo_call(&seq), *rep;

        tw_send_env(raw, &env);
        rep = tw_read_env(raw);
        ck_assert_ptr_nonnull(rep);
        ck_assert_uint_eq(rep->txn, seq + 1);
        epyrpc__envelope__free_unpacked(rep, NULL);
    }
    for (uint32_t seq = 0; seq < CORK_CALLS; seq++) {
        ck_assert_uint_le(off + 64, sizeof buf);
        off = put_echo_call(buf, off, seq);
    }
    tw_write_all(raw, buf, off);        /* the whole burst in one write */
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    ck_assert_int_eq(sem_timedwait(&p.ran, &ts), 0);
    ck_assert_msg(atomic_load(&p.waiting) > 0,
                  "no reply had left when the last call of the burst ran "
                  "(%d bytes waiting)", atomic_load(&p.waiting));
    for (int i = 0; i < CORK_CALLS; i++) {
        Epyrpc__Envelope *env = tw_read_env(raw);
        uint32_t seq;

        if (env == NULL || env->kind != EPYRPC__KIND__REPLY
            || !env->has_payload || env->payload.len != sizeof seq)
            ck_abort_msg("reply %d: not the reply expected", i);
        memcpy(&seq, env->payload.data, sizeof seq);
        if (seq >= CORK_CALLS || env->txn != seq + 1 || seen[seq])
            ck_abort_msg("reply %d: call %u answered wrongly", i, seq);
        seen[seq] = true;
        epyrpc__envelope__free_unpacked(env, NULL);
    }
    sem_destroy(&p.ran);
}
END_TEST

/*
 * The other end sends calls and never reads the replies: once the
 * socket is full, the handlers' writes wait, the peer stops reading
 * (the other end's writes find no room), no threads start beyond the
 * peer's own, and closing the peer ends the waiting writes at once.
 */
START_TEST(test_replies_never_read)
{
    static uint8_t buf[1000 * 64];
    size_t off = 0, len = 0;
    uint32_t next = 0;
    int base = tu_count_threads(), peak = base, workers;
    int64_t t0 = tu_now_ms(), stuck_since = 0, limit = 20000 * tu_slow();
    cork_probe p;

    open_ready();
    workers = epy_peer_workers(peer);
    p.raw = raw;
    atomic_init(&p.waiting, -1);
    sem_init(&p.ran, 0, 0);
    ck_assert_int_eq(epy_peer_handle(peer, "w.echo", cork_echo, &p, NULL), 0);
    ck_assert_int_eq(fcntl(raw, F_SETFL, O_NONBLOCK), 0);
    /* Writes until nothing has gone for a second: the peer stopped. */
    while (stuck_since == 0 || tu_now_ms() - stuck_since < 1000) {
        ssize_t w;

        ck_assert_msg(tu_now_ms() - t0 < limit,
                      "the peer still reads after %u calls", next);
        if (off == len) {
            off = len = 0;
            for (int i = 0; i < 1000; i++, next++) {
                len = put_echo_call(buf, len, CORK_CALLS + next);
            }
        }
        w = write(raw, buf + off, len - off);
        if (w > 0) {
            off += (size_t) w;
            stuck_since = 0;
        } else {
            ck_assert(w < 0 && errno == EAGAIN);
            if (stuck_since == 0)
                stuck_since = tu_now_ms();
            poll(NULL, 0, 10);
        }
        if (tu_count_threads() > peak)
            peak = tu_count_threads();
    }
    /* The workers, the thread that reads, and the reader's watchdog. */
    ck_assert_msg(peak <= base + workers + 2,
                  "%d threads for %d workers", peak - base, workers);
    t0 = tu_now_ms();
    peer = epy_peer_close(peer);
    ck_assert_int_lt(tu_now_ms() - t0, 5000 * tu_slow());
    sem_destroy(&p.ran);
}
END_TEST

static Suite *
writer_suite(void)
{
    Suite *s = suite_create("writer");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_frames_meet_at_the_writer);
    tcase_add_test(tc, test_corked_replies_go_before_the_burst_ends);
    tcase_add_test(tc, test_replies_never_read);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(writer_suite());
}
