/*
 * epyrpc: servers that accept many clients on a unix-domain socket or a
 * TCP port, and clients that connect to them by address.
 *
 * Addresses are URLs:
 *   "unix:/run/app.sock"   a socket file
 *   "unix:@app"            a Linux abstract socket (no file)
 *   "tcp:127.0.0.1:7000"   TCP over IPv4; "tcp:[::1]:7000" over IPv6;
 *   "tcp:localhost:7000"   a host name; port 0 picks a free port.
 *   "tcp:0.0.0.0:7000"     every IPv4 interface; "tcp:[::]:7000" every
 *                          interface (IPv6, and IPv4 unless the system
 *                          makes IPv6 sockets v6-only).
 * A TCP address must name its host: "tcp::7000" is refused (EPY_EPARAM),
 * by servers and clients alike, rather than taken to mean every
 * interface.
 *
 * A server may also be given a socket that is already listening (unix
 * or TCP; it then owns it, makes it close-on-exec and non-blocking, and
 * never removes its file):
 *   "fd:3"                 an inherited descriptor
 *   "systemd:"             socket activation (sd_listen_fds(3): LISTEN_PID,
 *   "systemd:NAME"         LISTEN_FDS, LISTEN_FDNAMES): the first socket
 *                          the service manager passed, or the one named
 *                          NAME (FileDescriptorName=); doc/systemd/.
 *
 * Security: a unix socket is protected by its file's permissions (see
 * @socket_mode, by default only the server's user may connect) or, for
 * an abstract socket, by the clients' uid checked when they connect (see
 * @allowed_uids); each call's handler can see the client's pid, uid and
 * gid (epy_peer_credentials()). TCP has no authentication and no
 * encryption: anyone who can reach the port can call every method. Bind
 * TCP servers to loopback, or put them behind something that
 * authenticates.
 */
#ifndef EPYRPC_NET_H
#define EPYRPC_NET_H

#include <epyrpc/types.h>
#include <epyrpc/peer.h>
#include <epyrpc/server.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A listening server and its clients' peers. */
typedef struct epy_server epy_server;

/**
 * epy_server_peer_fn - a client connected (@reason 0) or went away
 * (@reason as epy_peer_status(); EPY_ECLOSED for a client still connected
 * when epy_server_close() closes it).
 *
 * on_connect runs once the client's hello was accepted (a client refused
 * in the hello, EPY_EVERSION say, or one that leaves before its hello
 * is complete, is never reported), on one of that client's workers, so
 * it may call the client, synchronously too. The client's first calls
 * may be handled at the same time. From then on the client receives
 * broadcasts. on_disconnect runs once for each client that got
 * on_connect, after on_connect has returned, on a thread the
 * server starts to close that client alone: it is called before the
 * client's peer is closed (@peer is valid for the duration of the call,
 * then closed right after, which waits for its handlers still running;
 * they see epy_call_cancelled() true). So on_disconnect calls for
 * different clients may run at the same time, and at the same time as
 * on_connect for another client; a slow one holds up only its own
 * client's closing, never new clients. No epyrpc lock is held. Neither
 * may call epy_server_close().
 */
typedef void (*epy_server_peer_fn)(epy_server *server, epy_peer *peer,
                                   int reason, void *ctx);

/**
 * struct epy_server_config - how a server is set up. Initialise with
 * EPY_SERVER_CONFIG_INIT.
 * @peer:          the configuration of each client's peer (its limits,
 *                 interfaces, log; not @peer.workers, see @workers).
 *                 With @peer.start_paused, the
 *                 server accepts nobody until epy_server_start() (the
 *                 clients' peers themselves always start at once: they
 *                 share the server's handlers).
 * @max_clients:   clients at once (default 16384: an idle client costs
 *                 the server memory only, no thread); more are refused
 *                 (their connection is closed at once, with a log line).
 *                 A client that went away counts until its peer is
 *                 closed (its running handlers have returned).
 * @backlog:       listen() backlog (default 128).
 * @socket_mode:   unix sockets: permission bits of the socket file
 *                 (default 0600: only the owner may connect; 0660 lets
 *                 the group in too), or -1 for what the umask gives;
 *                 other values are EPY_EPARAM. Set before anyone can
 *                 connect, never through a symbolic link: the socket is
 *                 bound in a private folder made with mkdtemp() next to
 *                 the path (on the same file system), given its mode
 *                 (fchmodat()) and owner (fchownat() with
 *                 AT_SYMLINK_NOFOLLOW) there, set listening, then moved
 *                 onto the path with rename() (renameat2() where the
 *                 system has it, so that only a stale socket is ever
 *                 replaced); the folder is removed on every path.
 * @socket_uid, @socket_gid: unix sockets: owner of the file; -1 keeps.
 * @handshake_timeout_ms: a client whose hello has not fully arrived
 *                 this long after it connected is dropped (default 5000;
 *                 the whole hello, however slowly it is sent).
 * @send_timeout_ms: a client that does not read what it is sent for this
 *                 long is dropped (default 10000); 0: no limit.
 * @on_connect, @on_disconnect, @ctx: optional notifications.
 * @idle_timeout_ms: a client with no call in flight either way for this
 *                 long is dropped (default 0: never).
 * @max_spare_workers: spare workers (see epy_peer_config) all clients
 *                 together may run at once (default 256); at the cap a
 *                 client's calls wait as if its own cap were reached.
 * @max_call_memory: bytes that received calls (their requests, queued or
 *                 running, and 256 KiB for each descriptor they hold)
 *                 of all clients together may hold (default 256 MiB). Past it a client's reader waits for room
 *                 (backpressure) for up to a second, then refuses the
 *                 call with EPY_EBUSY.
 * @allowed_uids, @n_allowed_uids, @allowed_gids, @n_allowed_gids: unix
 *                 sockets: the client's uid or gid (SO_PEERCRED; its
 *                 primary group only) must be in one of these lists.
 *                 With both empty (the default), an abstract socket
 *                 (which has no file permissions) admits only the
 *                 server's effective uid (as it was in epy_server_new()),
 *                 and a socket file admits whoever its mode lets connect.
 *                 Refused clients are closed at once, with a log line
 *                 (@peer.log), and never become peers (no on_connect).
 *                 The lists are copied. A count with a NULL list, or a
 *                 list on a TCP server, is EPY_EPARAM.
 * @max_clients_per_uid: unix sockets: clients of one uid at once
 *                 (SO_PEERCRED; default 1024, as sd-varlink); more are
 *                 refused as past @max_clients, so that one local user
 *                 cannot take every slot. Ignored for TCP.
 * @workers:       the worker pool that runs every client's calls,
 *                 on_connect and completions (one pool for the whole
 *                 server); 0 (the default): the number of CPUs. The pool
 *                 grows past it only while every worker waits in a call
 *                 of its own (up to @max_spare_workers more).
 * @io_threads:    threads that watch the clients' connections (epoll)
 *                 and read and write them without blocking (default 1).
 *                 A server's threads are then: one that accepts, the I/O
 *                 threads, the pool, and, while a departed client is
 *                 being closed, a short-lived closer for it.
 * @monitor:       who may watch the server's traffic with the built-in
 *                 epyrpc.monitor service (`epyctl monitor`; doc/wire.md):
 *                 EPY_MONITOR_OFF (the default: nobody; the service is
 *                 not offered), EPY_MONITOR_OWNER (clients of a unix
 *                 socket whose uid is the server's effective uid or 0),
 *                 or EPY_MONITOR_ANY (every client that may connect).
 *                 Others get EPY_EPERM; past 16 monitors at once (each
 *                 costs a copy of every frame), EPY_EBUSY. A monitoring
 *                 client receives the
 *                 event epyrpc.monitor.frame for each frame of the other
 *                 clients, queued within its @peer.max_send_queue; what
 *                 does not fit is dropped and counted, never waited for.
 */
typedef struct epy_server_config {
    epy_peer_config peer;
    int max_clients;
    int backlog;
    int socket_mode;
    long socket_uid;
    long socket_gid;
    int64_t handshake_timeout_ms;
    int64_t send_timeout_ms;
    epy_server_peer_fn on_connect;
    epy_server_peer_fn on_disconnect;
    void *ctx;
    int64_t idle_timeout_ms;
    int max_spare_workers;
    size_t max_call_memory;
    const long *allowed_uids;
    size_t n_allowed_uids;
    const long *allowed_gids;
    size_t n_allowed_gids;
    int max_clients_per_uid;
    int workers;
    int io_threads;
    int monitor;
} epy_server_config;

/* Values of epy_server_config.monitor. */
enum {
    EPY_MONITOR_OFF = 0,
    EPY_MONITOR_OWNER = 1,
    EPY_MONITOR_ANY = 2
};

#define EPY_DEFAULT_SERVER_SPARE_WORKERS 256
#define EPY_DEFAULT_MAX_CALL_MEMORY ((size_t) 256 << 20)
#define EPY_DEFAULT_MAX_CLIENTS_PER_UID 1024
#define EPY_DEFAULT_MAX_CLIENTS 16384

#define EPY_SERVER_CONFIG_INIT                                          \
    { EPY_PEER_CONFIG_INIT, EPY_DEFAULT_MAX_CLIENTS, 128, 0600, -1, -1, \
      5000, 10000,                                                      \
      NULL, NULL, NULL, 0, EPY_DEFAULT_SERVER_SPARE_WORKERS,            \
      EPY_DEFAULT_MAX_CALL_MEMORY, NULL, 0, NULL, 0,                   \
      EPY_DEFAULT_MAX_CLIENTS_PER_UID, 0, 1, EPY_MONITOR_OFF }

/**
 * epy_server_new - listen on @url and start accepting clients.
 *
 * A unix socket file that exists is replaced only if it is a socket that
 * nobody listens on any more (a stale one); a live server's socket, a
 * symbolic link (wherever it points) or any other file makes this fail
 * with EPY_EEXIST, and is left as it was.
 * Returns 0, EPY_EPARAM (bad URL or config: a negative timeout,
 * max_clients, backlog or max_spare_workers below 1, max_call_memory 0,
 * a bad socket_mode, allowed lists as above), EPY_EEXIST, EPY_ESYSTEM
 * (bind/listen failed: @ret_err has the errno), EPY_ENOMEM.
 * Thread safety: any thread.
 */
EPY_API int epy_server_new(const char *url, const epy_server_config *cfg,
                           epy_server **ret_server, epy_error *ret_err);

/**
 * epy_server_start - start accepting the clients of a server made with
 * @cfg.peer.start_paused set. Such a server listens from
 * epy_server_new() on, but its clients wait (in the listen backlog,
 * within their own connect timeout) until this call: its handlers and
 * listener can be set first, so that no client's call ever meets "no
 * handler" because of start-up order.
 * Returns 0, EPY_EPARAM (started already, or closing) or EPY_ESYSTEM.
 * Thread safety: any thread.
 */
EPY_API int epy_server_start(epy_server *server);

/**
 * epy_server_url - the address the server listens on, with the port
 * chosen by the system when 0 was asked for ("tcp:127.0.0.1:40123").
 * Borrowed. Thread safety: any thread.
 */
EPY_API const char *epy_server_url(const epy_server *server);

/**
 * epy_server_handle, epy_server_handle_ns, epy_server_serve_ns - as
 * epy_peer_handle(), epy_peer_handle_ns() and epy_peer_serve_ns(), for
 * every client of @server, present and future: they share one handler
 * table. Thread safety: any thread.
 */
EPY_API int epy_server_handle(epy_server *server, const char *name,
                              epy_handler_fn fn, void *ctx,
                              epy_error *ret_err);
EPY_API int epy_server_handle_ns(epy_server *server, const char *ns,
                                 epy_handler_fn fn, void *ctx,
                                 epy_error *ret_err);
EPY_API int epy_server_serve_ns(epy_server *server, const char *ns,
                                bool serve, epy_error *ret_err);

/**
 * epy_server_set_listener - the listener of every client's peer, present
 * and future (see epy_peer_set_listener()).
 * Thread safety: any thread.
 */
EPY_API void epy_server_set_listener(epy_server *server,
                                     const epy_listener *listener, void *ctx);

/**
 * epy_server_broadcast - send the event @method ("ns.name") with @data,
 * @len to every client whose hello was accepted, without waiting for
 * any: each client's frame is written as far as its socket takes it and
 * the rest queued (see epy_peer_post_event()) for the server's I/O
 * thread, so a client that reads slowly,
 * or not at all (stopped, or gone), delays nobody. A client whose queue
 * is full (max_send_queue of its peer config) is dropped (its
 * on_disconnect sees EPY_EBUSY); one that reads nothing for
 * send_timeout_ms while frames wait for it is dropped. An event larger than a
 * client's max_send_queue or max_frame is not sent to it (logged), and
 * that client stays. Clients that connect during
 * the call may or may not get the event; each client that gets it gets
 * it once, in the order of this server's broadcasts.
 * Returns the number of clients the event was queued for (0 when there
 * are none), or EPY_EPARAM, EPY_ENOMEM.
 * Thread safety: any thread, handlers included.
 */
EPY_API int epy_server_broadcast(epy_server *server, const char *method,
                                 const void *data, size_t len,
                                 epy_error *ret_err);

/**
 * The number of clients whose peers are open: connected, or gone but not
 * yet closed by the server. Thread safety: any thread.
 */
EPY_API size_t epy_server_clients(epy_server *server);

/**
 * epy_server_close - stop accepting, close every client (their pending
 * calls fail; on_disconnect is called for each; running handlers are
 * waited for as by epy_peer_close(), the clients' at the same time, also
 * those of clients that had gone already), join every thread, remove the
 * socket file (if it is still this server's), free the server. NULL is
 * accepted. Returns NULL. Must not be called from a handler or callback
 * of the server: it waits for them. Thread safety: any thread; once.
 */
EPY_API epy_server *epy_server_close(epy_server *server);

/**
 * epy_connect - connect to the server at @url and wait for its hello.
 * @cfg:        the peer's configuration, or NULL.
 * @timeout_ms: for the connection and the hello together (0: no limit).
 * Returns 0; EPY_EPARAM (a bad address, "tcp::PORT" included);
 * EPY_ETIMEDOUT; EPY_EDISCONNECTED (refused, or closed before the hello,
 * as by a server that does not admit this uid: @ret_err has the errno);
 * EPY_EVERSION; EPY_ENOMEM.
 * Thread safety: any thread.
 */
EPY_API int epy_connect(const char *url, const epy_peer_config *cfg,
                        int64_t timeout_ms, epy_peer **ret_peer,
                        epy_error *ret_err);

/** Who is at the other end of a peer. */
typedef struct epy_credentials {
    long pid;           /* unix sockets: the process; else -1 */
    long uid;           /* unix sockets: its user; else -1 */
    long gid;           /* unix sockets: its group; else -1 */
    char address[80];   /* "unix", or "tcp:ADDR:PORT", or "" */
} epy_credentials;

/**
 * epy_peer_credentials - the other end's identity, as seen when the
 * connection was made (SO_PEERCRED for unix sockets, the address for
 * TCP). Returns 0, or EPY_EPARAM for a peer without a socket (an
 * in-process pair). Thread safety: any thread.
 */
EPY_API int epy_peer_credentials(const epy_peer *peer,
                                 epy_credentials *ret_cred);

/** The server @peer is a client of, or NULL. Thread safety: any thread. */
EPY_API epy_server *epy_peer_server(const epy_peer *peer);

#ifdef __cplusplus
}
#endif

#endif /* EPYRPC_NET_H */
