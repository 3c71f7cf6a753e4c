/*
 * The script the GLib and libuv examples (loop-glib.c, loop-uv.c) run
 * through their own loops: a server's handlers, and a client's calls
 * and checks (loop-demo.c). Only the loop differs between them.
 */
#ifndef EPYRPC_LOOP_DEMO_H
#define EPYRPC_LOOP_DEMO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <epyrpc/epyrpc.h>

/* Set by the server's t.quit handler: its loop should end. */
extern atomic_bool demo_server_quit;

/* Runs @server_main(@url) in a child process (killed if we die). */
pid_t demo_fork(const char *url, int (*server_main)(const char *url));

/* Serves t.echo, t.greet (calls the client back), t.note, t.never, t.quit. */
void demo_serve(epy_server *srv);
/* Answers t.never's call, if one waits (before closing the server). */
void demo_server_cleanup(void);

/*
 * Runs the client's loop (all its peers) until *@flag >= @want or
 * @timeout_ms pass: provided by each example.
 */
typedef void (*demo_run_fn)(const int *flag, int want, int timeout_ms);

typedef struct demo_client {
    epy_peer *peer;
    epy_api *api;
    int ticks;                  /* events received */
    int done;                   /* async callbacks run */
    int last_rc;                /* the last callback's status */
    int64_t last_at;            /* when it ran (demo_now_ms()) */
    int ended;                  /* what process() returned once not 0 */
} demo_client;

/* Monotonic clock in ms. */
int64_t demo_now_ms(void);

/* Connects @c (thread-less loop mode), retrying while the server starts. */
int demo_connect(const char *url, demo_client *c);
void demo_close(demo_client *c);

/*
 * The client's script against @c's server, and @v's, which is @victim:
 * calls both ways, an event each way, a timeout, @victim killed mid-call,
 * then t.quit. Returns the number of failed checks (printed).
 */
int demo_client_script(demo_client *c, demo_client *v, pid_t victim,
                       demo_run_fn run, const char *who);

/* A run: a temporary folder, the server and the victim, both clients. */
typedef struct demo_run {
    char dir[64];
    char url[96], url2[96];
    pid_t server, victim;
    demo_client c, v;           /* connected to the server, to the victim */
} demo_run;

/* Starts both servers (@server_main in children) and connects. 0: ok. */
int demo_begin(demo_run *r, const char *who,
               int (*server_main)(const char *url));
/*
 * Closes the clients, waits for the server to exit 0 (after t.quit),
 * removes the folder. Returns the number of failed checks.
 */
int demo_end(demo_run *r, const char *who);

#endif /* EPYRPC_LOOP_DEMO_H */
