/*
 * The transaction manager on its own (runtime/peer/txn.c, linked directly):
 * the original library's TransactionManager behaviours, SEED items 29-36,
 * and the timer, the table and exactly-once retirement.
 */
#include <config.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer-int.h"
#include "testutil.h"

/* A synchronous transaction on the test's stack. */
typedef struct stxn {
    epy__txn t;
    epy_buf reply;
    epy_error err;
} stxn;

static void
stxn_init(stxn *s)
{
    memset(s, 0, sizeof *s);
    s->t.kind = EPY__TXN_SYNC;
    s->t.reply = &s->reply;
    s->t.err = &s->err;
}

static void
stxn_clear(stxn *s)
{
    epy_buf_clear(&s->reply);
    epy_error_clear(&s->err);
}

static epy__txnmgr mgr;

static void
mgr_up(unsigned origin)
{
    ck_assert_int_eq(epy__txnmgr_init(&mgr, origin, 0, NULL, NULL, NULL), 0);
}

static void
mgr_down(void)
{
    epy__txnmgr_stop(&mgr, EPY_ECLOSED);
    epy__txnmgr_destroy(&mgr);
}

/* item 29: ids carry the origin and count from 1. */
START_TEST(test_item29_id_sequence)
{
    static const unsigned origins[] = { EPY_ORIGIN_HEAD, EPY_ORIGIN_NECK,
                                        EPY_ORIGIN_STANDARD };

    for (size_t o = 0; o < 3; o++) {
        stxn s[3];

        mgr_up(origins[o]);
        for (int i = 0; i < 3; i++) {
            stxn_init(&s[i]);
            ck_assert_int_eq(epy__txn_begin(&mgr, &s[i].t), 0);
            ck_assert_uint_eq(EPY_TXN_ORIGIN(s[i].t.id), origins[o]);
            ck_assert_uint_eq(EPY_TXN_SEQ(s[i].t.id), (uint64_t) i + 1);
        }
        for (int i = 0; i < 3; i++) {
            epy__txn_abort(&mgr, &s[i].t);
            stxn_clear(&s[i]);
        }
        mgr_down();
    }
}
END_TEST

/* item 30: a foreign id is refused; a null id is simply unknown. */
START_TEST(test_item30_foreign_origin)
{
    stxn s;

    mgr_up(EPY_ORIGIN_HEAD);
    stxn_init(&s);
    ck_assert_int_eq(epy__txn_begin(&mgr, &s.t), 0);
    ck_assert_int_eq(epy__txn_complete(&mgr, EPY_TXN_MAKE(EPY_ORIGIN_NECK, 1),
                                       0, NULL, 0, NULL, NULL, NULL, NULL, 0),
                     EPY_EFOREIGN);
    ck_assert(!epy__txn_known(&mgr, EPY_TXN_NONE));
    /* The foreign completion did not touch ours. */
    ck_assert(epy__txn_known(&mgr, s.t.id));
    epy__txn_abort(&mgr, &s.t);
    stxn_clear(&s);
    mgr_down();
}
END_TEST

/* item 31: a release before the wait is not lost. */
START_TEST(test_item31_release_before_wait)
{
    stxn s;
    int64_t t0;

    mgr_up(EPY_ORIGIN_STANDARD);
    stxn_init(&s);
    ck_assert_int_eq(epy__txn_begin(&mgr, &s.t), 0);
    ck_assert_int_eq(epy__txn_complete(&mgr, s.t.id, 0,
                                       (const uint8_t *) "r", 1, NULL,
                                       NULL, NULL, NULL, 0), 0);
    t0 = tu_now_ms();
    ck_assert_int_eq(epy__txn_wait_sync(&mgr, &s.t, epy__deadline(5000)), 0);
    ck_assert_int_lt(tu_now_ms() - t0, 1000);
    ck_assert_uint_eq(s.reply.len, 1);
    ck_assert_int_eq(s.reply.data[0], 'r');
    ck_assert(!epy__txn_known(&mgr, s.t.id));
    stxn_clear(&s);
    mgr_down();
}
END_TEST

/* item 32: no release: the wait times out, and the id is retired. */
START_TEST(test_item32_wait_times_out)
{
    stxn s;
    int64_t t0, took;

    mgr_up(EPY_ORIGIN_STANDARD);
    stxn_init(&s);
    ck_assert_int_eq(epy__txn_begin(&mgr, &s.t), 0);
    t0 = tu_now_ms();
    ck_assert_int_eq(epy__txn_wait_sync(&mgr, &s.t, epy__deadline(300)),
                     EPY_ETIMEDOUT);
    took = tu_now_ms() - t0;
    ck_assert_int_ge(took, 290);
    ck_assert_int_lt(took, 300 + 2000 * tu_slow());
    ck_assert_int_eq(s.err.code, EPY_ETIMEDOUT);
    ck_assert(!epy__txn_known(&mgr, s.t.id));
    /* A late completion finds nothing (item 72's manager side). */
    ck_assert_int_eq(epy__txn_complete(&mgr, s.t.id, 0, NULL, 0, NULL, NULL, NULL,
                                       NULL, 0), EPY_ENOTFOUND);
    stxn_clear(&s);
    mgr_down();
}
END_TEST

typedef struct releaser {
    epy_txn_id id;
    sem_t waiting;
    int rc;
} releaser;

static void *
release_later(void *p)
{
    releaser *r = p;
    struct timespec ts = { 0, 200 * 1000000 };

    sem_wait(&r->waiting);
    nanosleep(&ts, NULL);   /* the waiter must really block first */
    r->rc = epy__txn_complete(&mgr, r->id, 0, (const uint8_t *) "late", 4, NULL,
                              NULL, NULL, NULL, 0);
    return NULL;
}

/* item 33: another thread releases while the waiter waits forever. */
START_TEST(test_item33_release_from_thread)
{
    stxn s;
    releaser r;
    pthread_t th;

    mgr_up(EPY_ORIGIN_STANDARD);
    stxn_init(&s);
    ck_assert_int_eq(epy__txn_begin(&mgr, &s.t), 0);
    r.id = s.t.id;
    r.rc = 1;
    sem_init(&r.waiting, 0, 0);
    pthread_create(&th, NULL, release_later, &r);
    sem_post(&r.waiting);
    ck_assert_int_eq(epy__txn_wait_sync(&mgr, &s.t, 0), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(s.reply.len, 4);
    ck_assert_mem_eq(s.reply.data, "late", 4);
    sem_destroy(&r.waiting);
    stxn_clear(&s);
    mgr_down();
}
END_TEST

/* item 34: unknown ids are reported as not found. */
START_TEST(test_item34_unknown_id)
{
    mgr_up(EPY_ORIGIN_HEAD);
    ck_assert_int_eq(epy__txn_complete(&mgr, EPY_TXN_MAKE(1, 77), 0, NULL, 0, NULL,
                                       NULL, NULL, NULL, 0), EPY_ENOTFOUND);
    ck_assert(!epy__txn_known(&mgr, EPY_TXN_MAKE(1, 77)));
    mgr_down();
}
END_TEST

/* item 35: validity of null, unknown and pending ids. */
START_TEST(test_item35_is_valid)
{
    stxn s;

    mgr_up(EPY_ORIGIN_STANDARD);
    ck_assert(!epy__txn_known(&mgr, EPY_TXN_NONE));
    ck_assert(!epy__txn_known(&mgr, EPY_TXN_MAKE(0, 5)));
    stxn_init(&s);
    ck_assert_int_eq(epy__txn_begin(&mgr, &s.t), 0);
    ck_assert(epy__txn_known(&mgr, s.t.id));
    ck_assert_uint_eq(epy__txn_count(&mgr), 1);
    epy__txn_abort(&mgr, &s.t);
    ck_assert(!epy__txn_known(&mgr, s.t.id));
    ck_assert_uint_eq(epy__txn_count(&mgr), 0);
    stxn_clear(&s);
    mgr_down();
}
END_TEST

typedef struct waiter {
    stxn s;
    int rc;
    sem_t started;
} waiter;

static void *
wait_forever(void *p)
{
    waiter *w = p;

    sem_post(&w->started);
    w->rc = epy__txn_wait_sync(&mgr, &w->s.t, 0);
    return NULL;
}

/* item 36 (sync part; async parts are in check_peer): release all. */
START_TEST(test_item36_release_all)
{
    enum { N = 8 };
    waiter w[N];
    pthread_t th[N];
    stxn later;

    mgr_up(EPY_ORIGIN_STANDARD);
    for (int i = 0; i < N; i++) {
        stxn_init(&w[i].s);
        sem_init(&w[i].started, 0, 0);
        w[i].rc = 1;
        ck_assert_int_eq(epy__txn_begin(&mgr, &w[i].s.t), 0);
        pthread_create(&th[i], NULL, wait_forever, &w[i]);
        sem_wait(&w[i].started);
    }
    epy__txn_fail_all(&mgr, EPY_ECLOSED, true);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(w[i].rc, EPY_ECLOSED);
        ck_assert_int_eq(w[i].s.err.code, EPY_ECLOSED);
        stxn_clear(&w[i].s);
        sem_destroy(&w[i].started);
    }
    ck_assert_uint_eq(epy__txn_count(&mgr), 0);
    /* Once closed, new transactions are refused with the closing code. */
    stxn_init(&later);
    ck_assert_int_eq(epy__txn_begin(&mgr, &later.t), EPY_ECLOSED);
    stxn_clear(&later);
    mgr_down();
}
END_TEST

/* Exactly once: the first completion wins, later ones are refused. */
START_TEST(test_first_completion_wins)
{
    stxn s;

    mgr_up(EPY_ORIGIN_STANDARD);
    stxn_init(&s);
    ck_assert_int_eq(epy__txn_begin(&mgr, &s.t), 0);
    ck_assert_int_eq(epy__txn_complete(&mgr, s.t.id, EPY_EFAILED, NULL, 0, NULL,
                                       "x.err", "first", NULL, 0), 0);
    ck_assert_int_eq(epy__txn_complete(&mgr, s.t.id, 0, NULL, 0, NULL, NULL, NULL,
                                       NULL, 0), EPY_ENOTFOUND);
    ck_assert_int_eq(epy__txn_wait_sync(&mgr, &s.t, 0), EPY_EFAILED);
    ck_assert_str_eq(s.err.message, "first");
    ck_assert_str_eq(s.err.type, "x.err");
    stxn_clear(&s);
    mgr_down();
}
END_TEST

/* The table grows and shrinks; ids stay unique. */
START_TEST(test_many_pending)
{
    enum { N = 5000 };
    stxn *s = calloc(N, sizeof *s);

    mgr_up(EPY_ORIGIN_NECK);
    for (int i = 0; i < N; i++) {
        stxn_init(&s[i]);
        ck_assert_int_eq(epy__txn_begin(&mgr, &s[i].t), 0);
    }
    ck_assert_uint_eq(epy__txn_count(&mgr), N);
    for (int i = N - 1; i >= 0; i -= 2)
        ck_assert_int_eq(epy__txn_complete(&mgr, s[i].t.id, 0, NULL, 0, NULL, NULL,
                                           NULL, NULL, 0), 0);
    ck_assert_uint_eq(epy__txn_count(&mgr), N / 2);
    for (int i = 0; i < N; i++) {
        ck_assert(epy__txn_known(&mgr, s[i].t.id) == (i % 2 == 0));
        if (i % 2 == 0)
            epy__txn_abort(&mgr, &s[i].t);
        stxn_clear(&s[i]);
    }
    ck_assert_uint_eq(epy__txn_count(&mgr), 0);
    free(s);
    mgr_down();
}
END_TEST

/* max_pending: beyond it, EPY_EBUSY. */
START_TEST(test_max_pending)
{
    stxn a, b;

    ck_assert_int_eq(epy__txnmgr_init(&mgr, 0, 1, NULL, NULL, NULL), 0);
    stxn_init(&a);
    stxn_init(&b);
    ck_assert_int_eq(epy__txn_begin(&mgr, &a.t), 0);
    ck_assert_int_eq(epy__txn_begin(&mgr, &b.t), EPY_EBUSY);
    epy__txn_abort(&mgr, &a.t);
    ck_assert_int_eq(epy__txn_begin(&mgr, &b.t), 0);
    epy__txn_abort(&mgr, &b.t);
    stxn_clear(&a);
    stxn_clear(&b);
    mgr_down();
}
END_TEST

static Suite *
txn_suite(void)
{
    Suite *s = suite_create("txn");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, tu_setup_resources, tu_teardown_resources);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_item29_id_sequence);
    tcase_add_test(tc, test_item31_release_before_wait);
    tcase_add_test(tc, test_item33_release_from_thread);
    tcase_add_test(tc, test_item35_is_valid);
    tcase_add_test(tc, test_first_completion_wins);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, tu_setup_resources, tu_teardown_resources);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_item30_foreign_origin);
    tcase_add_test(tc, test_item32_wait_times_out);
    tcase_add_test(tc, test_item34_unknown_id);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, tu_setup_resources, tu_teardown_resources);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_many_pending);
    tcase_add_test(tc, test_max_pending);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, tu_setup_resources, tu_teardown_resources);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_item36_release_all);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(txn_suite());
}
