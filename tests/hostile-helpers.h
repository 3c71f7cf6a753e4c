/*
 * Helpers of the hostile-peer suites (check_hostile: what a hostile peer
 * sends; check_stalls: peers that stall): the fixture, whose server under
 * test runs in the test process on a unix socket in the test's own
 * mkdtemp() folder, and a raw client that writes its frames by hand.
 */
#ifndef EPYRPC_TESTS_HOSTILE_HELPERS_H
#define EPYRPC_TESTS_HOSTILE_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <epyrpc/epyrpc.h>

#include "testutil.h"

#define KIB ((size_t) 1024)
#define MIB ((size_t) 1024 * 1024)

/* --- fixture -------------------------------------------------------------- */

extern char hh_dir[64];         /* the test's own folder */
extern char hh_url[160];        /* the server under test: unix:DIR/s */
extern epy_server *hh_srv;      /* NULL until hh_start_server() */

/*
 * The checked fixture: hh_setup() makes the folder; hh_teardown() closes
 * the server, asserts that its socket file is gone, removes a fake
 * server's socket (DIR/w) and the folder, then asserts that no failure
 * was noted off the main thread and that the test's threads and
 * descriptors are back.
 */
void hh_setup(void);
void hh_teardown(void);

/*
 * A TCase named @name in @s with hh_setup() and @teardown (hh_teardown(),
 * or a function that ends with it) as checked fixture, @timeout_s.
 */
TCase *hh_tcase(Suite *s, const char *name, int timeout_s,
                void (*teardown)(void));

/* --- the server under test ------------------------------------------------ */

/* Starts the server on hh_url with @cfg (NULL: defaults), "t.echo" served. */
void hh_start_server(const epy_server_config *cfg);

/* True once the server has at most @n clients, within @timeout_ms. */
bool hh_clients_at_most(size_t n, int64_t timeout_ms);

/* A well-behaved client still gets its echo: the server is serving. */
void hh_assert_server_serves(void);

/* --- a raw client --------------------------------------------------------- */

/* Sends a CALL of @method with @payload (protobuf-c encoded). */
void hh_raw_call(int fd, uint64_t txn, const char *method,
                 const void *payload, size_t len);

/* Connects a raw client and sends its hello. */
int hh_raw_hello(bool zlib);

#endif /* EPYRPC_TESTS_HOSTILE_HELPERS_H */
