/*
 * epyrpc: the types shared by the caller and the receiver sides.
 */
#ifndef EPYRPC_TYPES_H
#define EPYRPC_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <epyrpc/version.h>
#include <epyrpc/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A connection end: transport, transaction manager, listener, threads. */
typedef struct epy_peer epy_peer;
/** A node of the namespace tree ("calc", "calc.stats") bound to a peer. */
typedef struct epy_api epy_api;
/** The caller's handle on an asynchronous call. */
typedef struct epy_async epy_async;
/** A call (or event) received by a handler. */
typedef struct epy_call epy_call;

/**
 * Transaction ids. The upper 16 bits say which transaction manager made
 * the id (its origin: 0 standard, 1 head, 2 neck, or any number the
 * application picks), the lower 48 bits count from 1. Zero is "no
 * transaction": the id of every unsolicited call.
 */
typedef uint64_t epy_txn_id;
#define EPY_TXN_NONE ((epy_txn_id) 0)
#define EPY_TXN_ORIGIN(id) ((unsigned) ((id) >> 48))
#define EPY_TXN_SEQ(id) ((uint64_t) ((id) & UINT64_C(0xffffffffffff)))
#define EPY_TXN_MAKE(origin, seq) \
    (((epy_txn_id) (origin) << 48) | ((uint64_t) (seq) & UINT64_C(0xffffffffffff)))

/** Well-known origins, as the original library's head and neck. */
#define EPY_ORIGIN_STANDARD 0
#define EPY_ORIGIN_HEAD 1
#define EPY_ORIGIN_NECK 2

/**
 * Timeouts are in milliseconds. 0 and EPY_FOREVER both wait without
 * limit; a negative timeout is refused with EPY_EPARAM. In call options,
 * EPY_INHERIT means "use the api's default".
 */
#define EPY_FOREVER INT64_C(0)
#define EPY_INHERIT INT64_C(-1)
/** The longest finite timeout: 24 hours. */
#define EPY_TIMEOUT_MAX INT64_C(86400000)

/**
 * struct epy_buf - a growable byte buffer owned by its user.
 *
 * Calls that return bytes write them into a caller-supplied epy_buf,
 * reusing its memory when it is large enough, so a loop of calls
 * allocates nothing after the first. Initialise with EPY_BUF_INIT;
 * release with epy_buf_clear().
 */
typedef struct epy_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} epy_buf;

#define EPY_BUF_INIT { NULL, 0, 0 }

/**
 * epy_buf_clear - free @buf's memory and reset it to EPY_BUF_INIT.
 * NULL is accepted.
 * Thread safety: serialize calls per object.
 */
EPY_API void epy_buf_clear(epy_buf *buf);

/**
 * epy_buf_set - replace @buf's contents with a copy of @len bytes at
 * @data, growing it when needed.
 * Returns 0, EPY_EPARAM (NULL @buf, or NULL @data with @len > 0) or
 * EPY_ENOMEM (then @buf is unchanged).
 * Thread safety: serialize calls per object.
 */
EPY_API int epy_buf_set(epy_buf *buf, const void *data, size_t len);

/**
 * epy_buf_reserve - make room for at least @cap bytes, keeping the
 * contents. Returns 0, EPY_EPARAM or EPY_ENOMEM.
 * Thread safety: serialize calls per object.
 */
EPY_API int epy_buf_reserve(epy_buf *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* EPYRPC_TYPES_H */
