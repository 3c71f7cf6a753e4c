/*
 * epyrpc: peers, the two ends of a connection, and the ways to make them.
 *
 * A peer owns a transport (a connected descriptor, or one end of an
 * in-process queue pair), a transaction manager, a listener, one reader
 * thread and a pool of worker threads that run handlers. Both ends are
 * peers and symmetric: either may call the other and send it events.
 */
#ifndef EPYRPC_PEER_H
#define EPYRPC_PEER_H

#include <epyrpc/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct epy_listener;

/** Log levels of the messages passed to an epy_log_fn. */
typedef enum epy_log_level {
    EPY_LOG_ERROR = 0,
    EPY_LOG_WARNING = 1,
    EPY_LOG_INFO = 2,
    EPY_LOG_DEBUG = 3
} epy_log_level;

/**
 * epy_log_fn - receives the runtime's log lines (the library never
 * prints). Runs on whichever thread noticed the event (a runtime
 * thread, or an application thread inside epy_api_call() reading its
 * reply), with no epyrpc lock held; @message is borrowed for the
 * duration of the call.
 */
typedef void (*epy_log_fn)(epy_peer *peer, epy_log_level level,
                           const char *message, void *ctx);

/** An interface a peer serves or calls, announced in the hello. */
typedef struct epy_interface {
    const char *name;           /* root namespace, e.g. "calc" */
    const char *fingerprint;    /* hash of its description */
    /*
     * Its description (what the fingerprint hashes), as pieces to
     * concatenate, NULL last; or NULL. Generated code sets it
     * (ns_interface_text). Sent in the hello, so that ends with different
     * fingerprints can tell whether they still understand each other.
     */
    const char *const *text;
} epy_interface;

/**
 * struct epy_peer_config - how a peer is set up. Initialise with
 * EPY_PEER_CONFIG_INIT (or epy_peer_config_init()) and change what you
 * need; pass NULL to the constructors for all the defaults.
 *
 * @workers:      worker threads running handlers and callbacks (default
 *                4; values below 1 give 1). A worker blocked in a call of
 *                its own is covered by a spare worker, so nested calls
 *                never deadlock.
 * @max_frame:    largest frame sent or accepted, in bytes (default
 *                16 MiB). Sends larger than this end's limit, or than
 *                the other end's (learnt from its hello), fail with
 *                EPY_ETOOBIG and nothing is sent; a larger frame from the
 *                other end closes the connection with EPY_EPROTO.
 * @max_pending:  most calls awaiting a reply at once (default 65536);
 *                beyond it calls fail with EPY_EBUSY.
 * @max_queued:   most received calls waiting for a worker (default 1024);
 *                beyond it the peer stops reading from the other end
 *                until workers catch up (backpressure: the other end's
 *                writes block) instead of growing memory.
 * @origin:       the origin tag of this peer's transaction ids (0..65535).
 * @compress_threshold: payloads of at least this many bytes are sent
 *                zlib-compressed when both ends enable it; 0 (default)
 *                disables compression.
 * @compress_level: zlib level 1..9 (default 6).
 * @interfaces, @n_interfaces: announced in the hello. When both ends
 *                name the same interface with different fingerprints,
 *                their descriptions are compared: a breaking difference
 *                in what both have (a parameter or field retyped or
 *                renumbered, a result changed, a method turned into an
 *                event) fails the connection with EPY_EVERSION and a
 *                message naming it; additions on either side are
 *                accepted (doc/idl.md, "Wire compatibility"). Without a
 *                description on either end, different fingerprints fail.
 * @close_timeout_ms: how long epy_peer_close() waits for running handlers
 *                (default 5000).
 * @log, @log_ctx: where log lines go (default: nowhere).
 * @listener, @listener_ctx: the peer's listener from the start (NULL: the
 *                default; see epy_peer_set_listener()). Copied.
 * @start_paused: make the peer without reading anything yet, so that
 *                handlers and listener are in place before the first
 *                frame is handled; epy_peer_start() starts reading. (Not
 *                for epy_connect(), which must read the server's hello.)
 * @max_spare_workers: spare workers this peer may start, beyond @workers,
 *                while every worker is blocked in a call of its own
 *                (default 16; 0 gives the default). At the cap, received
 *                calls wait in the queue; once @max_queued of them wait
 *                and every worker is blocked, further calls are refused
 *                with EPY_EBUSY instead of stopping the reading, so the
 *                replies that unblock the workers still arrive.
 * @max_send_queue: bytes of posted events (epy_peer_post_event(),
 *                epy_server_broadcast(), generated _post and _broadcast
 *                functions) that may wait to be written to the other end
 *                (default 4 MiB; 0 gives the default). Posting never
 *                waits for the other end: past this, the post fails with
 *                EPY_EBUSY (a server's broadcast then drops that client).
 * @loop_mode:    an epy_loop_mode (<epyrpc/loop.h>): 0 (EPY_LOOP_NONE,
 *                the default) for the library's own threads, or the
 *                program's event loop runs the peer (epy_peer_process()).
 * @no_introspection: do not answer the built-in epyrpc.introspect
 *                service (doc/wire.md, "Built-in services"): calls of it
 *                then go to the listener like any unhandled method. By
 *                default every peer answers it with @interfaces: their
 *                names, fingerprints, descriptions and sources.
 * @no_fd_passing: do not take file descriptors (IDL `fd` values) from
 *                the other end. By default a peer on a unix socket takes
 *                them, at most 256 received and not yet taken by a call
 *                or a reply at a time; over TCP and in-process pairs
 *                they cannot travel (EPY_EUNSUPPORTED).
 * @shm:          offer shared memory to the other end of a unix socket
 *                or socketpair: when both ends offer it, frames travel
 *                through two rings in a sealed memfd after the hellos,
 *                and the socket carries only wake-ups, descriptors and
 *                the other end's death. Each such connection costs two
 *                rings of @shm_ring_size bytes of shared memory. Off by
 *                default; a peer that does not offer it (or speaks
 *                another language) keeps the socket.
 * @shm_ring_size: bytes of each ring, a power of two from 4 KiB to
 *                64 MiB (0 gives the default, 256 KiB). The ring this
 *                end reads; it writes into the other end's ring only if
 *                that is no larger (else its frames stay on the socket),
 *                so that the other end does not choose its memory.
 * @shm_spin_us:  how long a reader (or a writer facing a full ring)
 *                spins on the ring before it sleeps, at most; the spin
 *                adapts below it when it keeps failing. 0 gives the
 *                default (20 us); negative: no spin.
 * @blob_threshold: move bytes and string values of generated calls,
 *                replies and events of at least this many bytes out of
 *                line: each in a sealed memfd of its own, passed with the
 *                frame, which the receiver maps and reads in place (doc/
 *                wire.md, "Blobs"). Such values may be larger than
 *                @max_frame, up to the receiver's @max_blob. 0 (the
 *                default) sends none and takes none. Both ends must set
 *                it, over a unix socket or socketpair that passes
 *                descriptors; otherwise values travel in the frame as
 *                always. A value received this way is a view of the
 *                memfd: free it with epy_gen_free() (epy_bytes_clear(),
 *                the generated _clear functions), never with free().
 * @max_blob:     the most bytes of values out of line one frame may bring
 *                (default and 0: EPY_DEFAULT_MAX_BLOB, 1 GiB); a sender
 *                is told it in the hello, and a larger value fails its
 *                call with EPY_ETOOBIG.
 */
typedef struct epy_peer_config {
    int workers;
    size_t max_frame;
    size_t max_pending;
    size_t max_queued;
    unsigned origin;
    size_t compress_threshold;
    int compress_level;
    const epy_interface *interfaces;
    size_t n_interfaces;
    int64_t close_timeout_ms;
    epy_log_fn log;
    void *log_ctx;
    const struct epy_listener *listener;
    void *listener_ctx;
    bool start_paused;
    int max_spare_workers;
    size_t max_send_queue;
    int loop_mode;
    bool no_introspection;
    bool no_fd_passing;
    bool shm;
    size_t shm_ring_size;
    int shm_spin_us;
    size_t blob_threshold;
    size_t max_blob;
} epy_peer_config;

#define EPY_DEFAULT_WORKERS 4
#define EPY_DEFAULT_MAX_FRAME ((size_t) 16 << 20)
#define EPY_DEFAULT_MAX_PENDING ((size_t) 65536)
#define EPY_DEFAULT_MAX_QUEUED ((size_t) 1024)
#define EPY_DEFAULT_MAX_SPARE_WORKERS 16
#define EPY_DEFAULT_MAX_SEND_QUEUE ((size_t) 4 << 20)
#define EPY_DEFAULT_MAX_BLOB ((size_t) 1 << 30)

#define EPY_PEER_CONFIG_INIT                                             \
    { EPY_DEFAULT_WORKERS, EPY_DEFAULT_MAX_FRAME,                        \
      EPY_DEFAULT_MAX_PENDING, EPY_DEFAULT_MAX_QUEUED,                   \
      EPY_ORIGIN_STANDARD, 0, 6, NULL, 0, 5000, NULL, NULL, NULL, NULL,  \
      false, EPY_DEFAULT_MAX_SPARE_WORKERS, EPY_DEFAULT_MAX_SEND_QUEUE, 0, \
      false, false, false, 0, 0, 0, 0 }

/**
 * epy_peer_config_init - set @cfg to the defaults (EPY_PEER_CONFIG_INIT).
 * Thread safety: serialize calls per object.
 */
EPY_API void epy_peer_config_init(epy_peer_config *cfg);

/**
 * epy_peer_new_fd - make a peer on a connected stream socket (a unix or
 * TCP socket, one end of a socketpair).
 * @fd:       the connected descriptor. Takes ownership of @fd on success;
 *            on failure the caller still owns it.
 * @cfg:      settings, or NULL for the defaults. Copied.
 * @ret_peer: receives the new peer.
 * @ret_err:  details on failure, or NULL.
 *
 * Starts the reader and the workers and sends the hello; does not wait
 * for the other end's hello (see epy_peer_wait_ready()).
 * Returns 0, EPY_EPARAM, EPY_ENOMEM or EPY_ESYSTEM.
 * Thread safety: any thread.
 */
EPY_API int epy_peer_new_fd(int fd, const epy_peer_config *cfg,
                            epy_peer **ret_peer, epy_error *ret_err);

/**
 * epy_pair_new - two connected peers in one process, joined by an
 * in-process queue pair (the threads of one program talking to each
 * other). @cfg_a and @cfg_b may be NULL.
 * Returns 0, EPY_EPARAM, EPY_ENOMEM or EPY_ESYSTEM; on failure neither
 * peer exists.
 * Thread safety: any thread.
 */
EPY_API int epy_pair_new(const epy_peer_config *cfg_a,
                         const epy_peer_config *cfg_b,
                         epy_peer **ret_a, epy_peer **ret_b,
                         epy_error *ret_err);

/**
 * struct epy_link - a socketpair to share with a child process across
 * fork(): the original library's queue pair. Each process makes its peer
 * from its own side; EPY_LINK_HEAD is the other end of EPY_LINK_NECK
 * (the original's "invert").
 *
 *     epy_link link;
 *     epy_link_open(&link, NULL);
 *     if (fork() == 0) {
 *         epy_link_peer(&link, EPY_LINK_NECK, NULL, &peer, NULL);
 *         ...
 *     }
 *     epy_link_peer(&link, EPY_LINK_HEAD, NULL, &peer, NULL);
 */
typedef struct epy_link {
    int fd[2];
} epy_link;

#define EPY_LINK_HEAD 0
#define EPY_LINK_NECK 1
#define EPY_LINK_INIT { { -1, -1 } }

/**
 * epy_link_open - make the socketpair (close-on-exec).
 * Returns 0 or EPY_ESYSTEM.
 * Thread safety: serialize calls per object.
 */
EPY_API int epy_link_open(epy_link *link, epy_error *ret_err);

/**
 * epy_link_peer - make this process's peer on @side of @link, and close
 * the other side's descriptor in this process. Unless @cfg says
 * otherwise, the head's transaction ids have origin EPY_ORIGIN_HEAD and
 * the neck's EPY_ORIGIN_NECK. Returns as epy_peer_new_fd(), or EPY_EPARAM
 * if @side was already taken.
 * Thread safety: serialize calls per object.
 */
EPY_API int epy_link_peer(epy_link *link, int side, const epy_peer_config *cfg,
                          epy_peer **ret_peer, epy_error *ret_err);

/**
 * epy_link_close - close whatever descriptors of @link no peer took.
 * Thread safety: serialize calls per object.
 */
EPY_API void epy_link_close(epy_link *link);

/**
 * epy_peer_start - start reading on a peer made with @start_paused.
 * Returns 0, or EPY_EPARAM if it was started already.
 * Thread safety: any thread; once.
 */
EPY_API int epy_peer_start(epy_peer *peer);

/**
 * epy_peer_wait_ready - wait until the other end's hello has arrived and
 * matched ours, or @timeout_ms passes (0: no limit).
 * Returns 0; EPY_ETIMEDOUT; EPY_EVERSION if the protocol versions or an
 * interface's fingerprints differ; EPY_EDISCONNECTED or EPY_ECLOSED if
 * the connection ended first.
 * Thread safety: any thread.
 */
EPY_API int epy_peer_wait_ready(epy_peer *peer, int64_t timeout_ms,
                                epy_error *ret_err);

/**
 * epy_peer_close - close @peer and free it.
 *
 * Sends a disconnect to the other end, fails every pending call of this
 * peer at once with EPY_ECLOSED (the other end's calls fail with
 * EPY_EDISCONNECTED), waits for running handlers (up to the configured
 * close timeout), joins every thread, closes every descriptor and frees
 * what is only its own. Apis, async handles and deferred calls still held
 * keep the peer's memory (not its connection) until they are closed,
 * released or answered: calls on them then fail with EPY_ECLOSED, and an
 * answer to a deferred call returns EPY_ECLOSED. The listener's
 * @disconnected is not called for a close made here. NULL is accepted.
 * Must not be called from a handler or callback of @peer itself.
 * Returns NULL, so `peer = epy_peer_close(peer);`.
 * Thread safety: any thread other than @peer's own; once.
 */
EPY_API epy_peer *epy_peer_close(epy_peer *peer);

/**
 * epy_peer_is_connected - true while frames can be exchanged: from
 * creation until the other end goes away or the peer is closed.
 * Thread safety: any thread.
 */
EPY_API bool epy_peer_is_connected(const epy_peer *peer);

/**
 * epy_peer_shm - true once this end writes and reads its frames through
 * shared memory (epy_peer_config.shm offered by both ends, both rings
 * taken): from the other end's SWITCH frame on.
 * Thread safety: any thread.
 */
EPY_API bool epy_peer_shm(const epy_peer *peer);

/**
 * epy_peer_status - 0 while connected; else why the connection ended:
 * EPY_EDISCONNECTED (the other end closed or died), EPY_EPROTO (it sent
 * something malformed), EPY_EVERSION (hello mismatch), EPY_ECLOSED
 * (closed here), EPY_ESYSTEM.
 * Thread safety: any thread.
 */
EPY_API int epy_peer_status(const epy_peer *peer);

/**
 * epy_peer_disconnect - tell the other end we are leaving, and stop the
 * connection (every pending call fails with EPY_ECLOSED) without freeing
 * the peer. With @solicited, wait up to @timeout_ms for the other end to
 * acknowledge (0: no limit). The connection ends either way.
 * Returns 0, EPY_ETIMEDOUT (no acknowledgement in time), EPY_ECLOSED (was
 * already closed).
 * Thread safety: any thread.
 */
EPY_API int epy_peer_disconnect(epy_peer *peer, bool solicited,
                                int64_t timeout_ms, epy_error *ret_err);

/**
 * epy_peer_txn_pending - true if @id is a transaction of this peer still
 * in its table: pending, or completed but not yet released (an async
 * handle not yet released). False for EPY_TXN_NONE and unknown ids.
 * Thread safety: any thread.
 */
EPY_API bool epy_peer_txn_pending(epy_peer *peer, epy_txn_id id);

/**
 * epy_peer_pending_count - the number of transactions in the table.
 * Thread safety: any thread.
 */
EPY_API size_t epy_peer_pending_count(epy_peer *peer);

/**
 * epy_peer_workers - the number of worker threads configured.
 * Thread safety: any thread.
 */
EPY_API int epy_peer_workers(const epy_peer *peer);

/**
 * epy_peer_set_user - attach an application pointer to @peer, returned
 * by epy_peer_user(). Thread safety: any thread.
 */
EPY_API void epy_peer_set_user(epy_peer *peer, void *user);
EPY_API void *epy_peer_user(const epy_peer *peer);

#ifdef __cplusplus
}
#endif

#endif /* EPYRPC_PEER_H */
