/*
 * epyrpc - using your own event loop (GLib, libuv, sd-event, epoll,
 * poll()): peers and servers whose connections the program's loop
 * watches, instead of threads of the library. See doc/runtime.md,
 * "Using your own event loop", and examples/loop-*.c.
 */
#ifndef EPYRPC_LOOP_H
#define EPYRPC_LOOP_H

#include <stdint.h>

#include <epyrpc/peer.h>
#include <epyrpc/net.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * enum epy_loop_mode - who runs a peer's or a server's work
 * (epy_peer_config.loop_mode; a server takes it from its
 * cfg.peer.loop_mode).
 * @EPY_LOOP_NONE:       the library's own threads (the default).
 * @EPY_LOOP_THREADLESS: no thread of the library at all. Everything -
 *                       reading, writing, deadlines, handlers, callbacks,
 *                       listeners, on_connect and on_disconnect - runs
 *                       inside epy_peer_process() / epy_server_process(),
 *                       on the loop's thread. Use the object from that
 *                       thread only.
 * @EPY_LOOP_WORKERS:    handlers run on a worker pool (threads of the
 *                       library, cfg.workers of them, or for a server its
 *                       cfg.workers), so that a slow handler never holds
 *                       the loop up; the connection is read and written,
 *                       and async callbacks and completions run, inside
 *                       process(), on the loop's thread.
 *
 * Synchronous calls (epy_api_call(), generated stubs), epy_async_wait(),
 * epy_peer_wait_ready() and epy_connect() made on the loop's thread (the
 * thread that last called process(); in the thread-less mode, any
 * thread) never deadlock: while they wait they run the object's loop
 * work themselves - its reading and writing, and in the thread-less mode
 * the calls that arrive meanwhile, so that the other end's calls back
 * (nested calls) are answered - and return at their timeout at the
 * latest. In the workers mode, a handler's synchronous call waits for
 * the loop's thread to read its reply: keep the loop running.
 * Loop mode needs a socket (unix, TCP, socketpair): epy_pair_new() refuses
 * it with EPY_EPARAM.
 */
typedef enum epy_loop_mode {
    EPY_LOOP_NONE = 0,
    EPY_LOOP_THREADLESS = 1,
    EPY_LOOP_WORKERS = 2
} epy_loop_mode;

/**
 * epy_peer_get_fd - the descriptor the loop watches for @peer: one per
 * peer, the same for its whole life (an epoll descriptor; watch it for
 * reading: level-triggered, G_IO_IN, UV_READABLE, POLLIN). Owned by the
 * peer: never close it. Returns it, or EPY_EPARAM (NULL, or a peer not
 * made with a loop mode). Thread safety: any thread.
 */
EPY_API int epy_peer_get_fd(const epy_peer *peer);

/**
 * epy_peer_get_events - the poll() events to watch epy_peer_get_fd()
 * for: always POLLIN (given for loops that ask). Thread safety: any.
 */
EPY_API short epy_peer_get_events(const epy_peer *peer);

/**
 * epy_peer_get_timeout - milliseconds until epy_peer_process() has timed
 * work (a deadline: a call's timeout, an idle or handshake limit, a
 * frame waiting to be written); 0: call it now; -1: none (wait for the
 * descriptor only). Ask again after each process(): deadlines change.
 * Thread safety: the loop's thread.
 */
EPY_API int64_t epy_peer_get_timeout(epy_peer *peer);

/**
 * epy_peer_process - do @peer's ready work and return, never blocking:
 * read what has arrived, write what waits, retire calls past their
 * deadline, run the callbacks (and in the thread-less mode the handlers)
 * of what came. Call it when the descriptor is readable, when the
 * timeout has passed, and whenever convenient (a call with nothing to do
 * costs a system call). Returns 0 while the connection is up, else the
 * code it ended with (EPY_EDISCONNECTED, EPY_ECLOSED, ...): the loop
 * then stops watching and closes the peer (epy_peer_close(), from the
 * loop's thread). EPY_EPARAM: NULL or not a loop peer.
 * Thread safety: the loop's thread; not from inside a handler or
 * callback of the same peer.
 */
EPY_API int epy_peer_process(epy_peer *peer);

/**
 * epy_server_get_fd, epy_server_get_events, epy_server_get_timeout,
 * epy_server_process - the same for a server made with
 * cfg.peer.loop_mode: one descriptor for the listening socket and every
 * client, so one watch serves them all. In process() the server accepts
 * clients, reads and writes their connections, runs on_connect,
 * on_disconnect and (thread-less) the handlers, and closes departed
 * clients. epy_server_process() returns 0, or EPY_EPARAM.
 * Thread safety: as for peers.
 */
EPY_API int epy_server_get_fd(const epy_server *server);
EPY_API short epy_server_get_events(const epy_server *server);
EPY_API int64_t epy_server_get_timeout(epy_server *server);
EPY_API int epy_server_process(epy_server *server);

#ifdef __cplusplus
}
#endif

#endif /* EPYRPC_LOOP_H */
