/*
 * Helpers of the suites that play the other end of a connection by hand:
 * frames written and read on a raw socket, encoded with the runtime's
 * own envelope schema.
 */
#ifndef EPYRPC_TESTS_WIRE_HELPERS_H
#define EPYRPC_TESTS_WIRE_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.pb-c.h"

/* Writes all of @p; stops quietly if the other end has gone. */
void tw_write_all(int fd, const void *p, size_t n);
/* Writes one frame: length prefix and @env. */
void tw_send_env(int fd, Epyrpc__Envelope *env);
/* Writes a hello of @version, announcing @iface ("name=fp", or NULL). */
void tw_send_hello(int fd, uint32_t version, const char *iface, bool zlib);
/* Reads one frame; NULL at the end of the stream. Free with
 * epyrpc__envelope__free_unpacked(env, NULL). */
Epyrpc__Envelope *tw_read_env(int fd);
/* Reads frames until the end of the stream. */
void tw_read_until_eof(int fd);

/* --- additions: hostile clients (check_hostile) -------------------------- */

/* Connects a raw stream socket to "unix:PATH" (close-on-exec); asserts. */
int tw_connect_unix(const char *url);

/*
 * Reads one frame, waiting up to @timeout_ms for it to start (once its
 * first byte is there, the rest is waited for up to 10 s more, so the
 * stream never loses its place). Returns 1 with *@ret_env set (free with
 * epyrpc__envelope__free_unpacked()), 0 at the end of the stream (or a
 * reset), -1 if no frame started in time.
 */
int tw_read_env_timeout(int fd, int64_t timeout_ms, Epyrpc__Envelope **ret_env);

/*
 * Reads and discards what comes until the end of the stream (or a
 * reset); true if it came within @timeout_ms. Frames that arrive are
 * counted by kind in @kinds (indexed by Epyrpc__Kind, 8 entries) if set.
 */
bool tw_wait_eof(int fd, int64_t timeout_ms, long *kinds);

/*
 * A protobuf message built field by field, for frames protobuf-c would
 * not write (a string with an embedded NUL, 400,000 empty strings).
 */
typedef struct tw_msg {
    uint8_t *data;
    size_t len;
    size_t cap;
} tw_msg;

void tw_msg_init(tw_msg *m);
void tw_msg_free(tw_msg *m);
/* Appends a varint field (wire type 0); negative int64 as 10 bytes. */
void tw_msg_varint(tw_msg *m, unsigned field, uint64_t value);
/* Appends a length-delimited field (wire type 2): bytes, string, message. */
void tw_msg_bytes(tw_msg *m, unsigned field, const void *p, size_t n);
/* Writes @m as one frame: the 4-byte little-endian length, then @m. */
void tw_send_msg(int fd, const tw_msg *m);

#endif /* EPYRPC_TESTS_WIRE_HELPERS_H */
