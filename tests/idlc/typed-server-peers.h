/*
 * Both ends of tests/idlc/typed-server.idl, for check_typed_server.c:
 * the server's handlers and notifications (in the test's process), and
 * the kinds of client (each in a process of its own).
 */
#ifndef EPYRPC_TESTS_TYPED_SERVER_PEERS_H
#define EPYRPC_TESTS_TYPED_SERVER_PEERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "typed-server.epy.h"

/* --- the server ---------------------------------------------------------- */

/* What the server's notifications and handlers saw; under @lock. */
typedef struct ts_server_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* broadcast at each change */
    int connects, disconnects;
    int busy_drops;             /* on_disconnect with EPY_EBUSY */
    int misordered;             /* on_disconnect before its on_connect */
    epy_peer *conn_peer, *disc_peer;    /* the last ones told of */
    epy_peer *call_peer;        /* epy_call_peer() of the last whoami */
    long conn_pid;              /* credentials of the last on_connect */
} ts_server_state;

extern ts_server_state ts_st;
extern const store_handlers ts_store_table;
extern const store_admin_handlers ts_admin_table;

void ts_on_connect(epy_server *server, epy_peer *peer, int reason,
                   void *ctx);
void ts_on_disconnect(epy_server *server, epy_peer *peer, int reason,
                      void *ctx);

/* Waits until *@counter (a member of ts_st) reaches @n; false after 20 s. */
bool ts_wait(const int *counter, int n);

/* --- the clients --------------------------------------------------------- */

/* Bytes of padding in a broadcast event. */
#define TS_PAD_LEN 1500
/* Calls in one round of the caller: every method of both namespaces. */
#define TS_CALLS_PER_ROUND 12

/* What a client reports. */
enum {
    R_READY = 1,        /* connected and subscribed */
    R_DONE,             /* a: events seen (ts_ev.target), b: out of order */
    R_EVENT,            /* a: an event's seq (with ts_ev.ack) */
    R_STEP,             /* a, b: the codes of a command's calls */
    R_FINAL,            /* leaving: a: events, b: out of order, c: value */
    R_FAIL              /* a: the line that failed, b: the last code */
};

/* One report: less than PIPE_BUF bytes, so that writes do not mix. */
typedef struct ts_record {
    int32_t id, kind;
    int64_t a, b, c;
} ts_record;

/* The server's address, and where clients report (set before forking). */
extern char ts_url[160];
extern int ts_report_fd;

/* In a client process: its number, the last call's code, its value. */
extern int ts_kid_id;
extern int64_t ts_kid_rc, ts_kid_value;

/* What a client's store.changed handler saw, and how it checks and
 * reports (set before forking). */
typedef struct ts_events {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t count, last;
    uint64_t target;            /* R_DONE at this count (0: never) */
    int64_t bad;                /* events out of order or malformed */
    bool in_order;              /* check seq 0, 1, ..., key and pad */
    bool ack;                   /* R_EVENT for each event */
} ts_events;

extern ts_events ts_ev;

void ts_report(int kind, int64_t a, int64_t b, int64_t c);

/*
 * The kinds of client, run in a forked process with the read end of
 * its command pipe: each waits for 'g', and returns 0 or the line of
 * its failure.
 * caller:   ts_kid_value rounds of every call, checked (0: rounds until
 *           told to leave); ts_kid_value is then the rounds made.
 * churner:  connects, makes one call and leaves, ts_kid_value times.
 * scripted: R_READY, then 'c': store.put and store.admin.echo, R_STEP
 *           with their codes; 't': store.touch(1000 + id), R_STEP with
 *           its code and 1 if the event came back. Leaves at end of
 *           file.
 * hello:    client 0 announces store with a made-up fingerprint: its
 *           value is the code epy_connect() fails with; client 1 is a
 *           good one: its value is its pid as store.whoami answers.
 */
typedef int (*ts_kid_fn)(int id, int cmd);
int ts_kid_caller(int id, int cmd);
int ts_kid_churner(int id, int cmd);
int ts_kid_scripted(int id, int cmd);
int ts_kid_hello(int id, int cmd);

#endif /* EPYRPC_TESTS_TYPED_SERVER_PEERS_H */
