/*
 * epyrpc: status codes and the error details a failed call reports.
 *
 * Every epyrpc function that can fail returns an int: zero (or a positive
 * value where documented) on success, a negative EPY_E* code on failure.
 * Functions that can report more detail take an optional last argument
 * `epy_error *ret_err` (NULL allowed), filled only on failure.
 */
#ifndef EPYRPC_ERROR_H
#define EPYRPC_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include <epyrpc/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The status codes: one table feeds the enum, epy_strerror() and
 * epy_status_name(). The numbers are part of the wire format (error
 * frames carry them) and never change; new codes are added at the end.
 *
 * X(NAME, number, message)
 */
#define EPY_STATUS_TABLE(X)                                                  \
    X(OK,           0,   "success")                                          \
    X(EPARAM,      -1,   "invalid parameter")                                \
    X(EUNKNOWN,    -2,   "unknown api")                                      \
    X(EUNSUPPORTED, -3,  "unsupported method")                               \
    X(EFAILED,     -4,   "handler failed")                                   \
    X(ETIMEDOUT,   -5,   "call timed out")                                   \
    X(EDISCONNECTED, -6, "peer disconnected")                                \
    X(ECANCELED,   -7,   "call cancelled")                                   \
    X(EPROTO,      -8,   "protocol error")                                   \
    X(ETOOBIG,     -9,   "message too large")                                \
    X(EBUSY,       -10,  "resource busy")                                    \
    X(ECLOSED,     -11,  "peer closed")                                      \
    X(ENOMEM,      -12,  "out of memory")                                    \
    X(ENOTFOUND,   -13,  "no such transaction")                              \
    X(EMODE,       -14,  "operation not allowed in this completion mode")    \
    X(EFOREIGN,    -15,  "transaction id of another origin")                 \
    X(EEXIST,      -16,  "already registered")                               \
    X(EVERSION,    -17,  "protocol version mismatch")                        \
    X(ESYSTEM,     -18,  "system error")                                     \
    X(EPENDING,    -19,  "call still pending")                               \
    X(EPERM,       -20,  "permission denied")

/** Status codes returned by every epyrpc function. */
typedef enum epy_status {
#define EPY_STATUS_ENUM_(name, num, msg) EPY_##name = (num),
    EPY_STATUS_TABLE(EPY_STATUS_ENUM_)
#undef EPY_STATUS_ENUM_
    EPY_STATUS_MIN_ = -20
} epy_status;

/** Bad arguments to a public function: an alias of EPY_EPARAM. */
#define EPY_EINVAL EPY_EPARAM

/**
 * epy_strerror - a one-line description of a status code.
 * @code: any int, typically a negative EPY_E* code.
 *
 * Returns a static string; codes >= 0 give "success", unknown negative
 * codes give "unknown error". Never NULL.
 * Thread safety: any thread.
 */
EPY_API const char *epy_strerror(int code);

/**
 * epy_status_name - the symbolic name of a status code ("EPY_ETIMEDOUT").
 * @code: any int.
 *
 * Returns a static string; codes > 0 give "EPY_OK", unknown negative codes
 * give "EPY_E?". Never NULL.
 * Thread safety: any thread.
 */
EPY_API const char *epy_status_name(int code);

/**
 * struct epy_error - details of a failure, owned by the caller.
 *
 * Initialise with EPY_ERROR_INIT, pass its address as the `ret_err`
 * argument of a call, and release the contents with epy_error_clear()
 * once read. On success the struct is left untouched; on failure it is
 * first cleared, then filled:
 * @code:    the EPY_E* code the call returned.
 * @message: human-readable text; never NULL after a failure.
 * @type:    for errors raised by a remote handler, the error type's name
 *           (an IDL `error` such as "calc.divide_by_zero"); else NULL.
 * @payload: the error's encoded payload (a protobuf message of @type), or
 *           NULL; @payload_len its length in bytes.
 * @sys_errno: the saved errno for EPY_ESYSTEM and transport failures, or 0.
 */
typedef struct epy_error {
    int code;
    char *message;
    char *type;
    uint8_t *payload;
    size_t payload_len;
    int sys_errno;
} epy_error;

#define EPY_ERROR_INIT { 0, NULL, NULL, NULL, 0, 0 }

/**
 * epy_error_clear - free the contents of @err and reset it to
 * EPY_ERROR_INIT, ready for reuse. NULL is accepted.
 * Thread safety: serialize calls per object.
 */
EPY_API void epy_error_clear(epy_error *err);

/**
 * epy_error_set - fill @err (if not NULL) with @code and a message.
 * @err:     the error to fill; its previous contents are freed first.
 * @code:    a negative EPY_E* code.
 * @message: the message; NULL uses epy_strerror(@code). Copied.
 *
 * Returns @code, so a function can `return epy_error_set(err, rc, "...");`.
 * If memory runs out the message falls back to a static description.
 * Thread safety: serialize calls per object.
 */
EPY_API int epy_error_set(epy_error *err, int code, const char *message);

/**
 * epy_error_setf - like epy_error_set() with a printf-style message.
 * Thread safety: serialize calls per object.
 */
EPY_API int epy_error_setf(epy_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/**
 * epy_error_copy - deep-copy @src into @dst (whose contents are freed).
 * Returns 0, or EPY_ENOMEM (then @dst holds the code and a static
 * message only).
 * Thread safety: serialize calls per object.
 */
EPY_API int epy_error_copy(epy_error *dst, const epy_error *src);

#ifdef __cplusplus
}
#endif

#endif /* EPYRPC_ERROR_H */
