/*
 * epyrpc: the caller's side. Apis (namespace nodes with call defaults),
 * sync and async calls, events, async results.
 *
 * This is the dynamic API: methods are named by string and payloads are
 * encoded bytes (a protobuf message of the method's argument type). The
 * code idlc generates is a typed layer over exactly these functions.
 */
#ifndef EPYRPC_CLIENT_H
#define EPYRPC_CLIENT_H

#include <epyrpc/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How a call completes by default (see epy_api_invoke()). */
typedef enum epy_mode {
    EPY_SYNC = 0,       /* block until the reply, the error or the timeout */
    EPY_ASYNC = 1       /* return an epy_async at once */
} epy_mode;

/**
 * Names. A namespace or method name is a dot-separated path of
 * identifiers ([A-Za-z_][A-Za-z0-9_]*, at most 128 characters each, at
 * most 64 parts, 1024 characters in all): "calc", "calc.stats",
 * "calc.stats.mean". Names are case-sensitive, as in the IDL; anything
 * else (an empty part, a leading or trailing dot, other characters) is
 * refused with EPY_EPARAM.
 */
#define EPY_NAME_MAX 1024

/**
 * epy_api_open - make the api node @ns on @peer.
 * @ns: a dotted namespace name. Copied.
 * Defaults of a root api: timeout EPY_FOREVER, solicited, EPY_SYNC.
 * Returns 0, EPY_EPARAM (bad name, NULL argument), EPY_ECLOSED or
 * EPY_ENOMEM.
 * The api keeps @peer's memory (not its connection) alive until it is
 * closed, so it may be closed before or after the peer; calls on it after
 * the peer's close fail with EPY_ECLOSED.
 * Thread safety: any thread.
 */
EPY_API int epy_api_open(epy_peer *peer, const char *ns, epy_api **ret_api,
                         epy_error *ret_err);

/**
 * epy_api_child - make the child node @name (one or more dotted parts) of
 * @parent: "stats" under "calc" is "calc.stats". The child inherits
 * every default it does not set itself, also later changes of its
 * parent's. It keeps its parent alive until it is closed.
 * Returns as epy_api_open().
 * Thread safety: any thread.
 */
EPY_API int epy_api_child(epy_api *parent, const char *name,
                          epy_api **ret_api, epy_error *ret_err);

/**
 * epy_api_close - release the caller's reference on @api; the node is
 * freed when its children are closed too. Calls in flight on it are not
 * affected. NULL is accepted. Returns NULL.
 * Thread safety: any thread; not concurrently with calls on @api.
 */
EPY_API epy_api *epy_api_close(epy_api *api);

/** The api's full dotted name (borrowed). Thread safety: any thread. */
EPY_API const char *epy_api_name(const epy_api *api);
/** The api's peer. Thread safety: any thread. */
EPY_API epy_peer *epy_api_peer(const epy_api *api);

/**
 * epy_api_set_timeout - set the default timeout of calls on @api (and of
 * children that do not set their own), in ms; 0 or EPY_FOREVER wait
 * without limit; EPY_INHERIT returns to the parent's.
 * Returns 0 or EPY_EPARAM (negative other than EPY_INHERIT, or above
 * EPY_TIMEOUT_MAX).
 * Thread safety: any thread.
 */
EPY_API int epy_api_set_timeout(epy_api *api, int64_t timeout_ms);

/**
 * epy_api_set_solicited - set whether calls on @api expect a reply
 * (default true). @solicited is 1, 0, or -1 to inherit the parent's.
 * Returns 0 or EPY_EPARAM.
 * Thread safety: any thread.
 */
EPY_API int epy_api_set_solicited(epy_api *api, int solicited);

/**
 * epy_api_set_mode - set the default completion mode of
 * epy_api_invoke() on @api: EPY_SYNC or EPY_ASYNC, or -1 to inherit.
 * Returns 0 or EPY_EPARAM (any other value).
 * Thread safety: any thread.
 */
EPY_API int epy_api_set_mode(epy_api *api, int mode);

/** The effective defaults of @api, inheritance applied. */
EPY_API int64_t epy_api_timeout(const epy_api *api);
EPY_API bool epy_api_solicited(const epy_api *api);
EPY_API epy_mode epy_api_mode(const epy_api *api);

/**
 * epy_api_set_method_defaults - sticky defaults for one method of @api
 * (the original library's per-action overrides, which persisted from one
 * invocation to the next): @timeout_ms (or EPY_INHERIT), @solicited and
 * @mode (or -1 to inherit). They apply to every later call of
 * @api.@method until changed.
 * Returns 0, EPY_EPARAM or EPY_ENOMEM.
 * Thread safety: any thread.
 */
EPY_API int epy_api_set_method_defaults(epy_api *api, const char *method,
                                        int64_t timeout_ms, int solicited,
                                        int mode);

/** Completion of an asynchronous call. */
typedef void (*epy_async_fn)(epy_async *async, void *ctx);

/**
 * struct epy_call_opts - per-call overrides. Initialise with
 * EPY_CALL_OPTS_INIT (everything inherited) and set what you need:
 * @timeout_ms: EPY_INHERIT, EPY_FOREVER (0) or a positive number of ms.
 * @solicited:  -1 inherit, 1 expect a reply, 0 send as an event.
 * @mode:       -1 inherit, EPY_SYNC or EPY_ASYNC (for epy_api_invoke()).
 * @callback, @callback_ctx: for asynchronous calls, run once when the
 *              call completes (see epy_async_fn).
 * @sem:        for asynchronous calls, a sem_t * posted once when the
 *              call completes (void * to keep <semaphore.h> out).
 */
typedef struct epy_call_opts {
    int64_t timeout_ms;
    int solicited;
    int mode;
    epy_async_fn callback;
    void *callback_ctx;
    void *sem;
} epy_call_opts;

#define EPY_CALL_OPTS_INIT { EPY_INHERIT, -1, -1, NULL, NULL, NULL }

/**
 * epy_api_call - call @api.@method synchronously.
 * @method:  the method's name relative to @api (may itself be dotted).
 * @req, @req_len: the encoded argument message; NULL with 0 for empty.
 *           Borrowed for the duration of the call.
 * @opts:    per-call overrides, or NULL. A callback or semaphore is
 *           refused here (EPY_EPARAM): use epy_api_call_async().
 * @ret_reply: receives the encoded result; may be NULL to discard it.
 *           Reused and grown as needed; untouched on failure.
 * @ret_err: on failure, the details: for a handler's error, its code,
 *           error type name, message and payload exactly as raised.
 *
 * Blocks until the reply or the timeout. While it waits, the calling
 * thread may read the connection itself (when no other synchronous call
 * waits on the peer), so that its reply wakes no other thread; frames
 * for others read meanwhile are handed on as the peer's reader would
 * (handlers and completion callbacks still run on the peer's workers,
 * never on the calling thread; the peer's log function may be called on
 * it). If the call is unsolicited (by default or by @opts),
 * sends it as an event and returns 0 at once with @ret_reply emptied.
 * Returns 0 or a negative code: EPY_EPARAM (bad argument or name; nothing
 * sent), EPY_EUNKNOWN, EPY_EUNSUPPORTED, EPY_EFAILED or another code the
 * handler raised, EPY_ETIMEDOUT, EPY_EDISCONNECTED, EPY_ECLOSED,
 * EPY_ETOOBIG (nothing sent), EPY_EBUSY, EPY_ENOMEM.
 * Thread safety: any thread, also from handlers and callbacks.
 */
EPY_API int epy_api_call(epy_api *api, const char *method, const void *req,
                         size_t req_len, const epy_call_opts *opts,
                         epy_buf *ret_reply, epy_error *ret_err);

/**
 * epy_api_call_async - call @api.@method without waiting.
 *
 * Returns at once; the outcome is delivered, exactly once, by
 * @opts->callback (run on a worker thread of the peer, with no epyrpc
 * lock held; it may make calls) if set, else by posting @opts->sem if
 * set, else only through the handle (poll it or wait on it).
 * @ret_async: receives the handle, which the caller owns and releases
 *           with epy_async_release(); may be NULL when a callback or a
 *           semaphore reports completion and the handle is not wanted
 *           (a callback then receives a handle the runtime releases
 *           after the callback returns).
 * If the call is unsolicited, it is sent as an event and *@ret_async is
 * set to NULL (there is nothing to wait for); callback and semaphore are
 * not used.
 * Returns 0, or a negative code as epy_api_call() for failures that
 * happen before anything is sent; then neither callback nor semaphore is
 * ever used.
 * Thread safety: any thread, also from handlers and callbacks.
 */
EPY_API int epy_api_call_async(epy_api *api, const char *method,
                               const void *req, size_t req_len,
                               const epy_call_opts *opts,
                               epy_async **ret_async, epy_error *ret_err);

/**
 * epy_api_invoke - call @api.@method in the api's (or @opts') mode, as
 * the original library's actions did: a sync call blocks and returns a
 * completed handle, an async call returns a pending one, a call with a
 * callback never blocks, an unsolicited call sends an event and sets
 * *@ret_async to NULL. Returns as epy_api_call_async().
 * Thread safety: any thread.
 */
EPY_API int epy_api_invoke(epy_api *api, const char *method, const void *req,
                           size_t req_len, const epy_call_opts *opts,
                           epy_async **ret_async, epy_error *ret_err);

/**
 * epy_api_send - send @api.@method as an event (unsolicited: no
 * transaction, no reply; errors at the receiver go to its listener).
 * Returns 0 once the frame is written, or EPY_EPARAM, EPY_ETOOBIG,
 * EPY_EDISCONNECTED, EPY_ECLOSED, EPY_ENOMEM.
 * Thread safety: any thread.
 */
EPY_API int epy_api_send(epy_api *api, const char *method, const void *req,
                         size_t req_len, epy_error *ret_err);

/**
 * epy_peer_post_event - send the event @method ("ns.name") with @data,
 * @len to the other end of @peer without waiting for it: the frame is
 * queued and written by one of the peer's workers (a server's client, or
 * a loop peer: written at once as far as the socket takes it, the rest
 * by the I/O thread or the loop). Frames posted from
 * one thread arrive in order. The queue holds max_send_queue bytes
 * (epy_peer_config); past that the post fails with EPY_EBUSY and
 * nothing is queued; an event larger than that alone (or than
 * max_frame) fails with EPY_ETOOBIG. This is how a server sends an event to one client
 * (the peer from epy_call_peer() or on_connect) without a slow client
 * holding it up; epy_api_send() instead waits for room (up to the api's
 * timeout).
 * Returns 0 once queued, or EPY_EPARAM, EPY_EBUSY, EPY_ETOOBIG,
 * EPY_ENOMEM, EPY_EDISCONNECTED, EPY_ECLOSED.
 * Thread safety: any thread.
 */
EPY_API int epy_peer_post_event(epy_peer *peer, const char *method,
                                const void *data, size_t len,
                                epy_error *ret_err);

/** States of an asynchronous call. */
typedef enum epy_async_status {
    EPY_ASYNC_PENDING = 0,
    EPY_ASYNC_DONE = 1,         /* the reply arrived */
    EPY_ASYNC_FAILED = 2,       /* an error arrived, or the link failed */
    EPY_ASYNC_TIMEDOUT = 3,
    EPY_ASYNC_CANCELLED = 4
} epy_async_status;

/** The call's transaction id. Thread safety: any thread. */
EPY_API epy_txn_id epy_async_id(const epy_async *async);

/** The call's current state. Thread safety: any thread. */
EPY_API epy_async_status epy_async_status_get(epy_async *async);

/**
 * epy_async_wait - wait until the call completes or @timeout_ms passes
 * (0 or EPY_FOREVER: no limit; this bounds the wait, not the call).
 * Returns the call's outcome (0 or the error it failed with), or
 * EPY_EPENDING if the wait ended first, or EPY_EMODE for a call that
 * reports completion through a callback (wait on those is refused).
 * Thread safety: any thread; several may wait.
 */
EPY_API int epy_async_wait(epy_async *async, int64_t timeout_ms);

/**
 * epy_async_result - the outcome of a completed call: 0 with the encoded
 * result copied into @ret_reply (may be NULL), or the error code with
 * @ret_err filled. EPY_EPENDING while it is still pending.
 * Thread safety: any thread.
 */
EPY_API int epy_async_result(epy_async *async, epy_buf *ret_reply,
                             epy_error *ret_err);

/**
 * epy_async_reply - borrow the encoded result of a completed, successful
 * call: valid until the handle is released. Sets *@ret_len. NULL (and 0)
 * if the call is pending or failed.
 * Thread safety: any thread.
 */
EPY_API const uint8_t *epy_async_reply(epy_async *async, size_t *ret_len);

/**
 * epy_async_cancel - give up on the call: it completes with EPY_ECANCELED
 * (callback or semaphore as for any completion) unless it completed
 * already, and a cancel frame tells the receiver it may skip the work.
 * Returns 0, or EPY_ENOTFOUND if the call had completed already.
 * Thread safety: any thread.
 */
EPY_API int epy_async_cancel(epy_async *async);

/**
 * epy_async_release - release the caller's handle (the original's
 * "purge"): the transaction leaves the peer's table; a call still
 * pending is cancelled first. NULL is accepted. Returns NULL.
 * Thread safety: any thread; once per handle.
 */
EPY_API epy_async *epy_async_release(epy_async *async);

/** The user pointer passed as @callback_ctx. Thread safety: any thread. */
EPY_API void *epy_async_ctx(const epy_async *async);

#ifdef __cplusplus
}
#endif

#endif /* EPYRPC_CLIENT_H */
