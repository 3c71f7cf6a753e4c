/*
 * libepyrpc: the peer and its parts (handler registry, received calls,
 * built-in services; the worker pool is in pool-int.h, the transaction
 * manager and async results in txn-int.h). Never installed.
 * The lock order is in runtime-int.h.
 */
#ifndef EPYRPC_PEER_INT_H
#define EPYRPC_PEER_INT_H

#include <semaphore.h>

#include <epyrpc/net.h>

#include "runtime-int.h"
#include "transport-int.h"
#include "poller-int.h"
#include "pool-int.h"
#include "txn-int.h"

/* --- handler registry (registry.c) --------------------------------------- */

typedef struct epy__entry {
    struct epy__entry *next;
    uint32_t hash;
    epy_handler_fn method_fn;
    void *method_ctx;
    epy_handler_fn ns_fn;
    void *ns_ctx;
    int active;                 /* invocations running */
    int served;                 /* epy_peer_serve_ns() count */
    int known;                  /* registrations below this name */
    size_t len;
    char name[];
} epy__entry;

/* An object the registry keeps, freed with it (epy__registry_keep()). */
typedef struct epy__kept {
    struct epy__kept *next;
    void *ptr;
    void (*free_fn)(void *ptr);
} epy__kept;

typedef struct epy__registry {
    atomic_int refs;            /* peers (and a server) sharing it */
    pthread_mutex_t lock;
    pthread_cond_t idle;        /* an entry's active count dropped */
    epy__entry **buckets;
    size_t nbuckets;
    size_t count;
    epy__kept *kept;            /* under lock */
} epy__registry;

/* What an incoming method resolves to. */
typedef struct epy__target {
    epy__entry *entry;          /* NULL: unhandled */
    epy_handler_fn fn;
    void *ctx;
    int reason;                 /* unhandled: EPY_EUNKNOWN or EPY_EUNSUPPORTED */
} epy__target;

/* A new registry with one reference; NULL on ENOMEM. */
epy__registry *epy__registry_new(void);
epy__registry *epy__registry_ref(epy__registry *r);
void epy__registry_unref(epy__registry *r);
/*
 * Keeps @ptr with @r: freed with @free_fn when @r is (the typed layer's
 * handler tables, which live as long as their registrations). Returns 0
 * or EPY_ENOMEM.
 */
int epy__registry_keep(epy__registry *r, void *ptr, void (*free_fn)(void *));
/* Takes back the first kept object @match accepts, or NULL. */
void *epy__registry_take(epy__registry *r, bool (*match)(void *ptr, void *ctx),
                         void *ctx);
/* Looks @name up; a found entry is held (active) until epy__registry_done(). */
void epy__registry_resolve(epy__registry *r, const char *name, size_t len,
                           epy__target *out);
void epy__registry_done(epy__registry *r, epy__target *t);
/* Runs the handler of @t for @call (removal of it waits for this). */
int epy__registry_invoke(epy__target *t, epy_call *call, const uint8_t *req,
                         size_t len);

/* --- received calls (call.c) ----------------------------------------------- */

enum {
    EPY__CALL_ANSWERING = 1,    /* an answer was claimed */
    EPY__CALL_ANSWERED = 2,     /* ... and is sent */
    EPY__CALL_DEFERRED = 4      /* the handler returned EPY_DEFER */
};

struct epy_call {
    epy__job job;
    epy__link link;             /* in epy_peer.calls while solicited */
    epy_peer *peer;
    epy__target target;
    epy_txn_id txn;
    bool solicited;
    bool listed;
    atomic_bool cancelled;
    atomic_int state;
    int64_t deadline;           /* monotonic ns; 0: none */
    int event_code;             /* an event's failure, for the listener */
    epy_error *event_err;
    size_t req_len;
    const uint8_t *req;
    const uint8_t *lender;      /* the read buffer @req lies in, held; or NULL */
    epy__fdset *fds;            /* that came with the request, or NULL */
    size_t charged;             /* bytes counted in peer->limits */
    char method[];              /* then the request bytes, unless lent */
};

/*
 * Builds a call from a CALL or EVENT frame and queues it on the worker
 * pool, or, with @ret_call, returns it to be run with epy__call_run() or
 * queued (with epy__peer_push()) by the caller.
 * Nothing is returned for a frame answered or dropped here.
 */
int epy__call_dispatch(epy_peer *peer, const Epyrpc__Envelope *env,
                       const uint8_t *payload, size_t len,
                       const uint8_t *lender, epy__fdset **fds,
                       epy_call **ret_call);
/*
 * The read buffer's count (reader.c): a call built with a @lender (the
 * read buffer @payload lies in) holds it instead of copying the request,
 * and lets go when it ends.
 */
void epy__rbuf_ref(const uint8_t *b);
void epy__rbuf_unref(const uint8_t *b);
/* Queues @call on its peer's pool (through a driven peer's gate). */
void epy__call_queue(epy_call *call);
/* True if a driven peer's calls all run and all wait in calls of their own. */
bool epy__call_gate_saturated(epy_peer *peer);
/* epy__peer_read_frame(): a call must wait for memory; read it again later. */
#define EPY__FRAME_HOLD 2
/* Runs @call here, as a worker would. */
void epy__call_run(epy_call *call);
/* Marks the call with transaction @id as cancelled. */
void epy__call_cancel(epy_peer *peer, epy_txn_id id);
/* Marks every call in progress as cancelled. */
void epy__call_cancel_all(epy_peer *peer);

/* --- the peer (peer.c, writer.c, reader.c, lead.c) ------------------- */

/*
 * What a descriptor that came with a received call counts for in a
 * server's max_call_memory while the call holds it (256 KiB: 1024
 * descriptors in the default 256 MiB), so that one client's queued
 * calls cannot take the server's descriptor table.
 */
#define EPY__FD_CHARGE ((size_t) 256 * 1024)

/*
 * Decoding a frame's envelope may allocate at most this multiple of
 * the frame's size, plus the slack.
 */
#define EPY__DECODE_FACTOR 8
#define EPY__DECODE_SLACK ((size_t) 64 * 1024)

/*
 * A compressed payload may inflate to at most this multiple of its
 * frame's size plus the slack (and never past max_frame); senders
 * compress nothing that would inflate past it.
 */
#define EPY__INFLATE_FACTOR 8
#define EPY__INFLATE_SLACK ((size_t) 1024 * 1024)

typedef struct epy__arena {
    ProtobufCAllocator alloc;
    uint8_t *base;
    size_t cap, used;
    size_t budget;              /* what this frame may take */
    size_t taken;               /* what it took */
    bool over;                  /* it asked for more than the budget */
    void *big;                  /* chain of oversize blocks */
    void *spare;                /* one kept for the next frame */
    size_t spare_size;
} epy__arena;

struct epy_peer {
    atomic_int refs;
    epy_peer_config cfg;
    char **hello_ifaces;        /* "name=fingerprint" (hello.c) */
    char **hello_descs;         /* their descriptions, "" for none */
    size_t n_hello_ifaces;
    epy__transport *tr;
    pthread_mutex_t wlock;      /* the writer */
    pthread_mutex_t qlock;      /* the frames waiting for the writer */
    bool writing;               /* under qlock: the writer takes out_* */
    bool flush_queued;          /* under qlock: flush_job is on the pool */
    epy__outchunk *out_head;    /* under qlock: frames waiting (writer.c) */
    epy__outchunk *out_tail;
    size_t out_bytes;           /* their bytes not yet written */
    epy__job flush_job;         /* sends what a timed-out writer left */
    atomic_int status;          /* 0: connected; else why it ended */
    atomic_bool closing;        /* epy_peer_close() has begun */
    atomic_bool leaving;        /* this end disconnects: the end is ECLOSED */
    atomic_bool remote_zlib;
    bool local_fds;             /* the transport passes descriptors */
    bool shm_offered;           /* the hello sent a ring (shm.c) */
    bool shm_rx;                /* the reader: a SWITCH frame was read */
    bool shm_rx_on;             /* the reader: it reads the ring */
    atomic_bool remote_fds;     /* the other end takes them (its hello) */
    atomic_size_t remote_max_frame;
    atomic_size_t remote_blob_limit;    /* its hello's (0: takes none) */

    pthread_mutex_t state_lock;
    pthread_cond_t state_cond;
    int ready;                  /* 0 waiting for hello, 1 ok, < 0 failed */
    epy_error ready_err;

    epy__txnmgr txn;
    epy__pool *pool;            /* &own_pool, or its server's */
    epy__pool own_pool;
    atomic_uint jobs;           /* its jobs queued or running (epy__peer_push) */
    epy__registry *reg;         /* shared with a server's other clients */
    void (*destroy)(epy_peer *peer);    /* frees it: the last unref */

    pthread_mutex_t calls_lock;
    epy__link calls;            /* solicited calls being handled */

    pthread_mutex_t listener_lock;
    epy_listener listener;
    void *listener_ctx;
    atomic_bool ignore_unhandled;

    epy__job lead_job;          /* the reader, run by one pool thread at a time */
    bool reader_started;
    bool reader_done;           /* under state_lock: the reader has ended */
    bool paused;                /* under state_lock: wait for epy_peer_start() */
    void *user;

    /* backpressure: received calls waiting for a worker */
    size_t queued;
    pthread_cond_t queue_cond;  /* with calls_lock */
    atomic_bool queue_waiting;  /* the reader waits on queue_cond */
    epy__limits *limits;        /* a server's, shared by its clients */

    /* deadlines of a server's client (the reader's) */
    int64_t hello_deadline;     /* ns; 0: none */
    int64_t idle_ms;            /* 0: none */
    int64_t idle_since;         /* ns: last sign of activity */

    /* the built-in services (builtin.c) */
    struct epy__intro *intro;   /* NULL: introspection off */
    const struct epy__tap *tap; /* a server's monitoring, or NULL */
    uint64_t client_id;         /* a server's number for its client */
    atomic_bool monitoring;     /* this client watches (its frames are not
                                 * reported) */

    /* set by a server for its clients */
    epy_credentials cred;
    bool has_cred;
    epy_server *server;
    void (*end_hook)(epy_peer *peer, void *ctx);
    void *end_hook_ctx;
    void (*ready_hook)(epy_peer *peer, void *ctx);
    void *ready_hook_ctx;

    /* the reader's watchdog (see lead.c) */
    _Atomic uint64_t lead_word; /* generation << 2 | what the leader does */
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_cond;
    atomic_bool watch_armed;
    bool watch_started, watch_stop;
    pthread_t watch;

    /*
     * The reading token (see lead.c, "Callers that read"): who reads
     * the connection, the pool's reader or a synchronous caller waiting
     * for its reply. The reader state below belongs to its holder.
     */
    atomic_uint rtok;
    atomic_bool lend;           /* synchronous callers want to read */
    atomic_int sync_calls;      /* synchronous calls waiting for replies */
    int rerr;                   /* what ended a caller's reading, for the reader */
    char rwhy[128];

    /* reader state (the holder of the reading token only) */
    bool reading;               /* past the paused start */
    bool lend_unable;           /* the transport takes no read timeout */
    uint64_t lead_gen;
    epy__worker_slot *standby;  /* takes the reading over from a call */
    atomic_bool inline_slow;    /* the last call run on the reader took long */
    uint64_t recvs;             /* reads of the transport so far */
    int recv_errno;             /* why the last read failed (EPY_ESYSTEM) */
    int64_t inline_end;         /* when the last call run here ended; 0: */
    uint64_t inline_recvs;      /* ... unknown; recvs then */
    epy__job *lead_ready;       /* the leader's: a callback to run (lead.c) */
    atomic_bool corked;         /* frames of the leader wait (writer.c) */
    uint8_t *rbuf;
    size_t rcap, rstart, rend;
    bool got_hello;
    epy__arena arena;
    size_t rchunk;              /* the read buffer's size while frames are small */

    /*
     * Driven: no thread reads the connection; a poller's loop does, when
     * it is readable (drive.c). The fields below are the loop's.
     */
    bool driven;
    int loop_mode;              /* the user's loop drives it (loop.c) */
    epy__pool *cb_pool;         /* async callbacks: pool, or the loop's */
    epy__pool *manual;          /* the loop's jobs (run in process()), or NULL */
    epy__pool loop_pool;        /* a loop peer's own manual pool */
    bool own_poller;
    int fd;                     /* the connection's descriptor, or -1 */
    struct epy__poller *poller;
    epy__pollent pent;
    bool io_paused;             /* the work queue is full: not reading */
    bool idle_was_busy;         /* a call was in flight at the last look */
    atomic_bool io_wait;        /* io_paused, for the pool's saturation */
    atomic_bool io_gone;        /* it has left the loop */
    int64_t send_timeout_ns;    /* frames may wait this long to be written */
    int64_t out_since;          /* under qlock: the queue is not empty since */
    int64_t hold_since;         /* a call waits for memory since (call.c) */
    int run_cap;                /* its calls running at once at most */
    int running;                /* under calls_lock: ... now */
    epy__job *gate_head, *gate_tail;    /* under calls_lock: waiting to run */
    atomic_int blocked_calls;   /* its running calls that wait in calls */
    int end_code;               /* what ended it, for end_job */
    char end_why[128];
    epy__job end_job;           /* ends the peer off the loop */
};

/* What a server sets on the peers of its clients. */
typedef struct epy__peer_opts {
    epy__registry *reg;         /* shared handler table, or NULL */
    const epy_listener *listener;
    void *listener_ctx;
    epy_server *server;
    /* Called once when the other end ends the connection (reader thread). */
    void (*end_hook)(epy_peer *peer, void *ctx);
    void *end_hook_ctx;
    /* Called once when the other end's hello was accepted (reader). */
    void (*ready_hook)(epy_peer *peer, void *ctx);
    void *ready_hook_ctx;
    int64_t handshake_timeout_ms;   /* 0: none; for the whole hello */
    int64_t idle_timeout_ms;        /* 0: none */
    epy__limits *limits;            /* shared limits, or NULL */
    /* Driven (drive.c): read by @poller, calls run on @pool. */
    struct epy__poller *poller;
    epy__pool *pool;
    int64_t send_timeout_ms;        /* driven: how long frames may wait */
    epy__pool *cb_pool;             /* async callbacks; NULL: @pool */
    epy__pool *manual;              /* a loop server's jobs, or NULL */
    struct epy__intro *intro;       /* shared introspection; NULL: own */
    const struct epy__tap *tap;     /* monitoring hooks, or NULL */
    uint64_t client_id;
} epy__peer_opts;

/* epy_peer_new_fd() with the server's additions; @opts may be NULL. */
int epy__peer_new_fd(int fd, const epy_peer_config *cfg,
                     const epy__peer_opts *opts, epy_peer **ret_peer,
                     epy_error *ret_err);
/* A peer on any transport (taken on success). */
int epy__peer_new_transport(epy__transport *tr, const epy_peer_config *cfg,
                            epy_peer **ret_peer, epy_error *ret_err);
/*
 * Handles the complete frames in @data as the reader would, without
 * reading: for the fuzzer. Returns 0, or the code that would end the
 * connection. Call only while the peer's reader waits on a transport
 * that delivers nothing (epy__transport_null_new()).
 */
int epy__peer_feed(epy_peer *peer, const uint8_t *data, size_t len);
/* Marks the hello as received (or not), for epy__peer_feed(). */
static inline void
epy__peer_set_hello(epy_peer *peer, bool got)
{
    peer->got_hello = got;
}
/* Fills @cred from a connected socket. */
void epy__socket_credentials(int fd, epy_credentials *cred);
/* True if @fd is a unix socket (shm.c). */
bool epy__socket_is_unix(int fd);
/* The registry functions behind epy_peer_handle() and friends. */
int epy__registry_set(epy__registry *r, const char *name, bool ns,
                      epy_handler_fn fn, void *ctx, epy_error *err);
int epy__registry_serve(epy__registry *r, const char *ns, bool serve,
                        epy_error *err);

epy_peer *epy__peer_ref(epy_peer *peer);
void epy__peer_unref(epy_peer *peer);
/* Queues @job on the peer's pool, counted in peer->jobs. */
void epy__peer_push(epy_peer *peer, epy__job *job);
/* The same on @pool (the peer's callback pool). */
void epy__peer_push_to(epy_peer *peer, epy__pool *pool, epy__job *job);
/*
 * On the thread that leads @peer's reading, in its reader loop, takes
 * @job (an async call's callback, completed by the frame being read) to
 * run it there once the frame is done, as a call that came alone runs
 * (lead.c); false elsewhere: push it.
 */
bool epy__peer_lead_take(epy_peer *peer, epy__job *job);
/*
 * Waits until none of the peer's jobs is queued or running; after
 * @timeout_ms (0: no limit) calls @late once and waits on.
 */
void epy__peer_jobs_wait(epy_peer *peer, int64_t timeout_ms,
                         void (*late)(epy_peer *peer));

/* True once the reading has ended and the end was handled. */
bool epy__peer_reader_done(epy_peer *peer);
/* A driven peer's loop looks at it again (room in the queue, frames to write). */
void epy__peer_drive_kick(epy_peer *peer);
/*
 * Loop peers (loop.c). True if the calling thread must run the loop's
 * work itself while it waits (the loop's thread, or any in the
 * thread-less mode).
 */
bool epy__peer_loop_owns(epy_peer *peer);
/* Makes @peer's poller and pools for cfg->loop_mode. */
int epy__peer_loop_init(epy_peer *peer, const epy_peer_config *cfg);
/*
 * Runs the loop's work until @done(@ctx) or @deadline (ns, 0: none).
 * Returns 0 or EPY_ETIMEDOUT.
 */
int epy__peer_loop_wait(epy_peer *peer, bool (*done)(void *ctx), void *ctx,
                        int64_t deadline);
/*
 * Sends one frame: @env with @payload as its payload field (may be NULL).
 * Returns 0, EPY_ETOOBIG (nothing sent), EPY_ENOMEM, or the peer's
 * status code when the connection has ended (EPY_EDISCONNECTED, ...).
 */
int epy__peer_send(epy_peer *peer, Epyrpc__Envelope *env,
                   const void *payload, size_t len);
/*
 * What a frame carries in its payload field: @len bytes at @data, or,
 * with @msg set, that message, packed straight into the frame (its large
 * fields are written from where they lie, never copied).
 */
typedef struct epy__payload {
    const void *data;
    size_t len;
    const ProtobufCMessage *msg;
    int64_t deadline;           /* the write gives up then (ns; 0: never) */
    bool post;                  /* queued, never waited for (epy__peer_post) */
    const int *fds;             /* descriptors sent with it (SCM_RIGHTS) */
    int n_fds;
    const epy__blobref *blobs;  /* values out of line, in fds (blobs.c) */
    int n_blobs;
} epy__payload;
/* The payload's size on the wire (before compression). */
static inline size_t
epy__payload_len(const epy__payload *p)
{
    return p->msg != NULL ? protobuf_c_message_get_packed_size(p->msg)
                          : p->len;
}
/* True if descriptors can be sent to the other end (both ends offer). */
bool epy__peer_passes_fds(epy_peer *peer);
/*
 * Which values go out of line to the other end (blobs.c): none (a
 * threshold of 0) unless both ends set blob_threshold and descriptors
 * pass.
 */
void epy__peer_blob_policy(epy_peer *peer, epy__blob_policy *ret);
/*
 * The blobs of @pl into @env, @storage and @ptrs holding them (n_blobs
 * each) until it is sent.
 */
void epy__blobs_put(Epyrpc__Envelope *env, const epy__payload *pl,
                    Epyrpc__Blob *storage, Epyrpc__Blob **ptrs);
/*
 * The blobs of the received @env into @fds (its descriptors). Returns 0
 * or EPY_EPROTO (with @why): this end takes none, or they are malformed.
 */
int epy__blobs_take(epy_peer *peer, const Epyrpc__Envelope *env,
                    epy__fdset *fds, char *why, size_t whylen);
/* epy__peer_send() with @p as the payload (@env has none of its own). */
int epy__peer_send_payload(epy_peer *peer, Epyrpc__Envelope *env,
                           const epy__payload *p);
/*
 * Called by a synchronous caller between sending its call and waiting
 * for the reply (@w, set when the transaction completes): if nobody
 * reads the connection, reads it here until the reply has come, for at
 * most a couple of milliseconds and never past @deadline (ns, 0: none),
 * so that the reply reaches its caller without a thread hand-off.
 * Whatever else comes meanwhile is handled as the reader would.
 */
void epy__peer_read_own(epy_peer *peer, epy__wake *w, int64_t deadline);
/*
 * The calls of api.c with a payload that may be a message packed in place
 * (generated code). epy__api_call() gives the reply to @decode if set,
 * on the thread that read it, instead of copying it into @ret_reply.
 */
int epy__api_call(epy_api *api, const char *method, const epy__payload *p,
                  const epy_call_opts *opts, epy_buf *ret_reply,
                  epy__decode_fn decode, void *decode_ctx, epy_error *ret_err);
int epy__api_call_async(epy_api *api, const char *method,
                        const epy__payload *p, const epy_call_opts *opts,
                        epy_async **ret_async, epy_error *ret_err);
int epy__api_send(epy_api *api, const char *method, const epy__payload *p,
                  epy_error *ret_err);
/* epy_peer_post_event() and epy_server_broadcast() with @p (events.c). */
int epy__peer_post_payload(epy_peer *peer, const char *method,
                           const epy__payload *p, epy_error *err);
int epy__server_broadcast_payload(epy_server *srv, const char *method,
                                  const epy__payload *p, epy_error *err);
/* epy_call_reply() with @p. */
int epy__call_reply_payload(epy_call *call, const epy__payload *p);
/* Sends an ERROR frame for the transaction @txn, with @code and @message. */
int epy__peer_send_error(epy_peer *peer, epy_txn_id txn, int code,
                         const char *message);
/* Sends a CANCEL for @id (the notify hook of the transaction manager). */
void epy__peer_send_cancel(void *peer, epy_txn_id id);
/*
 * Ends @peer's connection with @code from any thread: the reader sees
 * the end and ends the peer as for a failed write. Returns false if it
 * had ended already.
 */
bool epy__peer_abort(epy_peer *peer, int code);
/* The code a call on @peer fails with right now, or 0 if it may proceed. */
int epy__peer_check(epy_peer *peer);
/* A copy of the listener. */
void epy__peer_listener(epy_peer *peer, epy_listener *l, void **ctx);

/* --- the built-in services (builtin.c) ------------------------------------ */

/*
 * The answers of epyrpc.introspect for a set of interfaces, built once
 * (a server shares one among its clients). Reference-counted.
 */
typedef struct epy__intro epy__intro;
/* For @n interfaces at @ifaces (copied). NULL when out of memory. */
epy__intro *epy__intro_new(const epy_interface *ifaces, size_t n);
epy__intro *epy__intro_ref(epy__intro *in);
void epy__intro_unref(epy__intro *in);

/*
 * What a server gives its clients' peers for epyrpc.monitor: @frame is
 * called for each frame that crosses a connection while @active is
 * non-zero (@in: received; @iov, @n: the frame with its length prefix,
 * @total bytes; @env: its envelope, payload aside), on the thread that
 * reads or writes it, with no lock held. @start and @stop answer the
 * calls of the monitoring client @peer: 0, EPY_EPERM, EPY_EBUSY (too
 * many monitors) or EPY_ENOMEM.
 */
typedef struct epy__tap {
    void (*frame)(void *ctx, epy_peer *peer, bool in,
                  const Epyrpc__Envelope *env, const struct iovec *iov,
                  int n, size_t total);
    int (*start)(void *ctx, epy_peer *peer, uint32_t snap);
    int (*stop)(void *ctx, epy_peer *peer);
    void *ctx;
    atomic_int active;
} epy__tap;

/* Reports a frame to @peer's tap, if it has one and it is active. */
static inline void
epy__tap_frame(epy_peer *peer, bool in, const Epyrpc__Envelope *env,
               const struct iovec *iov, int n, size_t total)
{
    const epy__tap *t = peer->tap;

    if (t != NULL && atomic_load_explicit(&t->active, memory_order_relaxed))
        t->frame(t->ctx, peer, in, env, iov, n, total);
}

/* The reserved root namespace of the built-in services. */
#define EPY__BUILTIN_NS "epyrpc"
/* True if @name is EPY__BUILTIN_NS or below it. */
bool epy__builtin_name(const char *name);

/*
 * Runs @call if it is one of the built-in services this peer offers:
 * answers it and returns true; false if it is not (then the listener
 * has it).
 */
bool epy__builtin_call(epy_call *call);

#endif /* EPYRPC_PEER_INT_H */
