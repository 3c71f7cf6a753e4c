/*
 * bench/attack's shared parts; the attacks and main() are in attack.c.
 * attack-wire.c: hand-encoded frames (a 4-byte little-endian length and
 * an epyrpc.Envelope, runtime/envelope.proto) and raw connections to a
 * server. attack-server.c: the server process under attack, a raw server
 * that never reads, the figures of a process, and children that call
 * through the library. Only the public API is used.
 */
#ifndef EPYRPC_BENCH_ATTACK_H
#define EPYRPC_BENCH_ATTACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Envelope kinds (runtime/envelope.proto). */
enum { K_HELLO = 1, K_CALL = 2, K_EVENT = 3, K_REPLY = 4, K_ERROR = 5,
       K_CANCEL = 6, K_DISCONNECT = 7 };

/* What the server's handlers report to the attacker, across fork(). */
typedef struct shared {
    atomic_int echo_calls;
    atomic_int sleep_started;
    atomic_int hold_calls;
    atomic_int nested_started;
    atomic_int centroid_calls;
    atomic_long centroid_points;
    char last_method[128];
} shared;

/* Set up by main() (attack.c). */
extern shared *shm;             /* mapped shared, cleared by server_start() */
extern char sock_dir[64];       /* the sockets' folder */
extern int sock_seq;            /* numbers the sockets made in it */

/* --- little helpers (attack-wire.c) --------------------------------------- */

/* CLOCK_MONOTONIC in seconds. */
double now_s(void);

/* Sleeps @s seconds (nothing if @s <= 0), signals notwithstanding. */
void sleep_s(double s);

/* Prints "attack: @what: " and strerror(errno), then exits with status 1. */
void die(const char *what) __attribute__((noreturn));

/* --- frames (attack-wire.c) ----------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
} wbuf;

/* A HELLO frame: protocol 1, @n_empty empty interface strings. */
void frame_hello(wbuf *out, size_t n_empty, bool zlib);

/*
 * A CALL frame. @timeout_ms < 0: none. @raw_len 0: not compressed.
 * @method of @mlen bytes (NUL bytes allowed).
 */
void frame_call(wbuf *out, uint64_t txn, const char *method, size_t mlen,
                int64_t timeout_ms, uint64_t raw_len, const void *payload,
                size_t plen);

/* A CALL frame of the string @method, no timeout, not compressed. */
void frame_call_str(wbuf *out, uint64_t txn, const char *method,
                    const void *payload, size_t plen);

/* --- raw connections (attack-wire.c) -------------------------------------- */

typedef struct conn {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    bool closed;
} conn;

/* Connects @c to the socket @path, trying for 5 s; false if it failed. */
bool conn_open(conn *c, const char *path);
void conn_close(conn *c);

/* Writes all of @b; false if the connection ended. */
bool conn_send(conn *c, const wbuf *b);

/*
 * Waits for the answer (REPLY or ERROR) of @txn until @deadline. Returns
 * its kind (with *@code), 0 at the deadline, -1 if the connection ended.
 */
int conn_answer(conn *c, uint64_t txn, double deadline, int *code);

/* What came back for a batch of calls. */
typedef struct answers {
    int replies, errors;
    int first_error;            /* the code of the first ERROR */
    bool closed;                /* the server ended the connection */
    char text[96];              /* all of it, for the report */
} answers;

/* Collects answers (REPLY or ERROR, any txn) until @want or @deadline. */
void conn_answers(conn *c, int want, double deadline, answers *a);

/* Sends a plain hello; false if the connection failed. */
bool conn_hello(conn *c, bool zlib);

/* A call of t.echo on @c; true if it was answered with a REPLY in 3 s. */
bool echo_works(conn *c, uint64_t txn);

/* True while @c has seen neither EOF nor an error (reads what waits). */
bool still_connected(conn *c);

/* --- processes (attack-server.c) ------------------------------------------ */

/* The threads of process @pid; -1 if it is gone. */
int proc_threads(pid_t pid);

/* True while the child @pid has not ended. */
bool alive(pid_t pid);

/* Kills the child @pid (none if <= 0) and waits for it. */
void kill_wait(pid_t pid);

/* Runs @fn in a child; returns its pid and the read end of its pipe. */
pid_t child_run(void (*fn)(const char *url, int out), const char *url,
                int *ret_fd);

/* Reads a line from @fd until @deadline; false if none came. */
bool read_line(int fd, double deadline, char *line, size_t size);

/* Writes a line to @fd (a child's pipe); exits the child if it cannot. */
void emit(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- the server (attack-server.c) ----------------------------------------- */

typedef struct server_opts {
    size_t compress_threshold;
    int64_t handshake_timeout_ms;       /* 0: the default */
    bool gen;                           /* serve calc.stats (typed) */
} server_opts;

typedef struct server {
    pid_t pid;
    char path[108];
    char url[128];
    long hwm0, rss0;                    /* KiB, once ready */
    int threads0;
} server;

/*
 * Starts a server process on a new socket in sock_dir, serving t.echo,
 * t.sleep, t.hold, t.nested (and calc.stats if @o->gen); false if it did
 * not come up.
 */
bool server_start(server *s, const server_opts *o);

/* The growth of the server's peak RSS (VmHWM) and of its RSS since it was
 * ready, in MiB; -1 if it is gone. */
double hwm_growth_mib(const server *s);
double rss_growth_mib(const server *s);

/* Kills the server and removes its socket. */
void server_stop(server *s);

/* A server process on @path that sends its hello and never reads. */
pid_t deaf_server(const char *path);

#endif /* EPYRPC_BENCH_ATTACK_H */
