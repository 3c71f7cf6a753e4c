/*
 * epyrpc: the receiver's side. Handlers registered by dotted name, the
 * calls they receive, deferred replies, and the listener that takes what
 * no handler does.
 *
 * Lookup of an incoming method "a.b.m": the handler registered for
 * exactly "a.b.m"; else the catch-all of the innermost namespace that has
 * one ("a.b", then "a"); else the listener, with EPY_EUNSUPPORTED if some
 * enclosing namespace is known, or EPY_EUNKNOWN if none is. A namespace
 * is known when it was declared with epy_peer_serve_ns(), or holds a
 * handler or catch-all at any depth below it: with only "a.b.m"
 * registered, "a.x" and "a.b.y" are unsupported, "c.d" is unknown. (The original library looked at a parent's
 * catch-all before a child's handlers; here the most specific wins.)
 */
#ifndef EPYRPC_SERVER_H
#define EPYRPC_SERVER_H

#include <epyrpc/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Returned by a handler that keeps the call to answer later (from any
 * thread) with epy_call_reply() or epy_call_fail().
 */
#define EPY_DEFER 1

/**
 * epy_handler_fn - receiver code for a method (or, as a catch-all, for
 * every unhandled method of a namespace).
 * @call: the call; borrowed until the handler returns, or until the
 *        deferred answer if it returns EPY_DEFER.
 * @req, @req_len: the encoded argument message, borrowed like @call.
 * @ctx:  the pointer given at registration.
 *
 * The handler answers with epy_call_reply() or epy_call_fail() and
 * returns 0; or returns a negative EPY_E* code without answering, which
 * answers with that code; or returns 0 without answering, which answers
 * with an empty result; or returns EPY_DEFER and answers later. Events
 * (unsolicited calls) are handled the same way but every answer is
 * discarded; a failing event handler is reported to the listener.
 * Runs on a worker thread, with no epyrpc lock held; it may make calls,
 * also back to the caller.
 */
typedef int (*epy_handler_fn)(epy_call *call, const uint8_t *req,
                              size_t req_len, void *ctx);

/**
 * epy_peer_handle - register @fn for the method @name ("calc.add") on
 * @peer, or with @fn NULL remove the registration (then @name is
 * unhandled again). Registering a name that already has a handler fails
 * with EPY_EEXIST (the original answered such calls with
 * MultipleResponse; refusing at registration is the port's choice).
 * Removal waits until running invocations of the handler have returned
 * (unless called from one of them).
 * Returns 0, EPY_EPARAM, EPY_EEXIST, EPY_ENOTFOUND (removing what is not
 * there), EPY_ENOMEM.
 * Thread safety: any thread.
 */
EPY_API int epy_peer_handle(epy_peer *peer, const char *name,
                            epy_handler_fn fn, void *ctx, epy_error *ret_err);

/**
 * epy_peer_handle_ns - register @fn as the catch-all of namespace @ns:
 * it receives every call under @ns ("calc.x", "calc.stats.y") that no
 * exact handler or more specific catch-all takes. @fn NULL removes it.
 * Returns as epy_peer_handle().
 * Thread safety: any thread.
 */
EPY_API int epy_peer_handle_ns(epy_peer *peer, const char *ns,
                               epy_handler_fn fn, void *ctx,
                               epy_error *ret_err);

/**
 * epy_peer_serve_ns - declare that @peer serves namespace @ns, even with
 * no handler in it: calls of unhandled methods under it then fail with
 * EPY_EUNSUPPORTED rather than EPY_EUNKNOWN. @serve false withdraws it.
 * Declarations are counted: each true needs its own false.
 * Returns 0, EPY_EPARAM, EPY_ENOTFOUND or EPY_ENOMEM.
 * Thread safety: any thread.
 */
EPY_API int epy_peer_serve_ns(epy_peer *peer, const char *ns, bool serve,
                              epy_error *ret_err);

/* --- the received call ------------------------------------------------ */

/** The full dotted method name (borrowed). Thread safety: any thread. */
EPY_API const char *epy_call_method(const epy_call *call);
/** The caller's transaction id; EPY_TXN_NONE for events. */
EPY_API epy_txn_id epy_call_txn_id(const epy_call *call);
/** True for a call that expects a reply, false for an event. */
EPY_API bool epy_call_solicited(const epy_call *call);
/** The peer the call arrived on. */
EPY_API epy_peer *epy_call_peer(const epy_call *call);
/** The handler's registration context. */
EPY_API void *epy_call_ctx(const epy_call *call);
/**
 * The caller's remaining budget in ms: what it was when the call was
 * read, minus the time since; 0 once it is spent; -1 if the caller waits
 * without limit. Thread safety: any thread.
 */
EPY_API int64_t epy_call_remaining_ms(const epy_call *call);
/**
 * True once the caller has given up on the call (it cancelled, or its
 * timeout passed, or the connection ended): the handler may skip the
 * rest of the work. Thread safety: any thread.
 */
EPY_API bool epy_call_cancelled(const epy_call *call);

/**
 * epy_call_reply - answer @call with the encoded result @data, @len
 * (copied). For an event the answer is discarded. A deferred call is
 * freed by its answer: do not touch it afterwards.
 * Returns 0; EPY_EPARAM (answered already); EPY_ETOOBIG (too large:
 * the caller gets EPY_ETOOBIG instead); EPY_EDISCONNECTED or EPY_ECLOSED
 * (nobody to answer; the call is still retired).
 * Thread safety: any thread, once per call.
 */
EPY_API int epy_call_reply(epy_call *call, const void *data, size_t len);

/**
 * epy_call_fail - answer @call with an error: @code (negative; EPY_EFAILED
 * for a handler's own errors), optionally the error's type name @type
 * (an IDL error such as "calc.divide_by_zero"), a @message and the error's
 * encoded @payload of @len bytes. All copied; each may be NULL. The
 * caller receives them unchanged in its epy_error.
 * Returns as epy_call_reply().
 * Thread safety: any thread, once per call.
 */
EPY_API int epy_call_fail(epy_call *call, int code, const char *type,
                          const char *message, const void *payload,
                          size_t len);

/* --- the listener ------------------------------------------------------ */

/**
 * struct epy_listener - what a peer does with what no handler takes.
 * Every member may be NULL (then the default below applies). Each runs
 * on a runtime thread with no epyrpc lock held.
 *
 * @unhandled: a call or event no handler takes. @reason is EPY_EUNKNOWN
 *    or EPY_EUNSUPPORTED. Behaves as a handler: answer, fail, defer, or
 *    return a negative code. Default: fail solicited calls with @reason
 *    and a message naming the method; drop events with a log line.
 * @event_failed: an event's handler failed with @code (and @err, if it
 *    called epy_call_fail()). Default: a log line.
 * @disconnected: the other end ended the connection (it disconnected or
 *    died: EPY_EDISCONNECTED), or it sent something this end could not
 *    accept (EPY_EPROTO, EPY_EVERSION). Runs once, on the reader thread.
 *    Not called for epy_peer_close() or epy_peer_disconnect() made here.
 *    Default: nothing.
 */
typedef struct epy_listener {
    int (*unhandled)(epy_call *call, int reason, const uint8_t *req,
                     size_t req_len, void *ctx);
    void (*event_failed)(epy_call *call, int code, const epy_error *err,
                         void *ctx);
    void (*disconnected)(epy_peer *peer, int reason, void *ctx);
} epy_listener;

/**
 * epy_peer_set_listener - replace @peer's listener with @listener (copied)
 * and @ctx; NULL restores the default listener.
 * Thread safety: any thread.
 */
EPY_API void epy_peer_set_listener(epy_peer *peer,
                                   const epy_listener *listener, void *ctx);

/**
 * epy_peer_set_ignore_unhandled - with @ignore, calls no handler takes
 * are dropped without an answer (the caller times out), as the original
 * library's ignore option; the listener's @unhandled is not called.
 * Thread safety: any thread.
 */
EPY_API void epy_peer_set_ignore_unhandled(epy_peer *peer, bool ignore);

/**
 * epy_listener_default_unhandled - the default @unhandled behaviour, for
 * listeners that add to it (log, then answer as the default would).
 */
EPY_API int epy_listener_default_unhandled(epy_call *call, int reason,
                                           const uint8_t *req,
                                           size_t req_len, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* EPYRPC_SERVER_H */
