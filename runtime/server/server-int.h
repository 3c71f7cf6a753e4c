/*
 * libepyrpc: a server's state, shared by server.c (accepting, the
 * server's life) and clients.c (its clients' lives). Never installed.
 */
#ifndef EPYRPC_SERVER_INT_H
#define EPYRPC_SERVER_INT_H

#include "net-int.h"

/* Where a client's on_connect is (under the server's lock). */
enum {
    CONN_NONE,                  /* its hello has not been accepted */
    CONN_QUEUED,                /* on_connect waits for a worker */
    CONN_RUNNING,
    CONN_DONE,                  /* announced: on_disconnect will follow */
    CONN_CANCELLED              /* the closer runs on_connect instead */
};

typedef struct client {
    struct client *next;
    epy_peer *peer;
    epy_server *srv;
    pthread_t closer;           /* while on the dead or finished list */
    int conn;                   /* CONN_* */
    long uid;                   /* unix sockets: the client's; else -1 */
    epy__job connect_job;       /* runs on_connect on a worker */
} client;

struct epy_server {
    epy_server_config cfg;
    epy__registry *reg;
    epy__limits *limits;        /* shared by the clients' peers */
    epy__poller *poller;        /* reads and writes the clients */
    epy__pool pool;             /* runs the clients' calls */
    int stall_fd;               /* an eventfd for stall_ent, never written */
    epy__pollent stall_ent;     /* looks for a pool whose workers are stuck */
    atomic_bool stall_watch;    /* stall_ent has a deadline */
    /* run by the user's loop (server-loop.c) */
    epy__pool *cb_pool;         /* async callbacks of the clients' peers */
    epy__pool *manual;          /* the jobs process() runs, or NULL */
    epy__pool loop_pool;        /* ... in the workers mode */
    epy__pollent listen_ent;    /* the listening socket */
    epy__pollent wake_ent;      /* wake[0]: a client ended */
    int fd;
    int wake[2];                /* the accept thread's wake-up pipe */
    pthread_t thread;
    bool started;
    char url[EPY_NAME_MAX];
    char *path;                 /* unix socket file to remove, or NULL */
    dev_t path_dev;             /* ... if it is still this file */
    ino_t path_ino;
    bool check_cred;            /* clients' uid and gid are checked */
    bool is_unix;               /* clients have credentials */
    uid_t euid;                 /* the server's, when it was made */
    long *allowed_uids;         /* copies of the configured lists */
    long *allowed_gids;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* a closer finished, or a client ended */
    client *clients;            /* connected */
    client *dead;               /* ended, waiting for a closer */
    client *finished;           /* closed, their closers to be joined */
    size_t nclients;            /* in any list, or being closed */
    bool stopping;
    bool closer_failed;         /* a closer could not be started (logged) */
    epy_listener listener;
    bool has_listener;
    void *listener_ctx;
    epy__intro *intro;          /* the clients' introspection, or NULL */
    struct epy__monitor *mon;   /* with cfg.monitor, or NULL */
    _Atomic uint64_t next_client_id;
};

/* --- epyrpc.monitor (monitor.c) ------------------------------------------ */

typedef struct epy__monitor epy__monitor;
/* NULL when out of memory. */
epy__monitor *epy__monitor_new(epy_server *srv);
/* Once no client's peer is left. */
void epy__monitor_free(epy__monitor *m);
/* What the clients' peers report to (NULL for NULL). */
const epy__tap *epy__monitor_tap(const epy__monitor *m);
/* @peer no longer watches (it stopped, or it left); NULL @m is a no-op. */
void epy__monitor_forget(epy__monitor *m, epy_peer *peer);

/* A log line of the server's own, through the clients' log function. */
void epy__srv_log(epy_server *srv, epy_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Wakes the accept thread. */
void epy__server_wake(epy_server *srv);
/* The peer hooks of a client: its hello was accepted; it ended. */
void epy__client_ready(epy_peer *peer, void *ctx);
void epy__client_ended(epy_peer *peer, void *ctx);
/* The job that runs on_connect (client.connect_job). */
void epy__client_connect_run(epy__job *job);
/*
 * Joins the closers that finished and starts one for each client that
 * ended (with @all, for every client). Accept thread only. False if a
 * client still waits for a closer.
 */
bool epy__server_reap(epy_server *srv, bool all);
/*
 * Accepts one client. False if the system is out of descriptors or
 * memory for it (wait a little before trying again).
 */
bool epy__server_accept_one(epy_server *srv);
/* server-loop.c: a server run by the user's loop. */
int epy__server_loop_init(epy_server *srv);
int epy__server_loop_start(epy_server *srv);
/* Closes every client from the loop's thread. */
void epy__server_loop_close(epy_server *srv);
/* Clients of @uid connected or waiting to be closed. Lock held. */
size_t epy__server_clients_of(epy_server *srv, long uid);

#endif /* EPYRPC_SERVER_INT_H */
