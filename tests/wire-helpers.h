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

#endif /* EPYRPC_TESTS_WIRE_HELPERS_H */
