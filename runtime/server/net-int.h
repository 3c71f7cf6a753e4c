/*
 * libepyrpc: what servers (server.c) and connecting clients (connect.c)
 * share: addresses (address.c) and socket files (socket-file.c). Never
 * installed.
 */
#ifndef EPYRPC_NET_INT_H
#define EPYRPC_NET_INT_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "peer-int.h"

/* A parsed address. */
typedef struct epy__address {
    int family;                 /* AF_UNIX, AF_INET or AF_INET6 */
    struct sockaddr_storage ss;
    socklen_t len;
    bool abstract;
    char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
} epy__address;

/*
 * Parses @url into @out; for TCP, resolves the host (passive: for
 * binding). Returns 0 or EPY_EPARAM with @err filled.
 */
int epy__address_parse(const char *url, bool passive, epy__address *out,
                       epy_error *err);
/*
 * A listening socket given to a server (activation.c): "systemd:" or
 * "systemd:NAME" (socket activation, sd_listen_fds(3)) or "fd:N".
 * Returns 0 when @url is neither (parse it then), 1 with the descriptor
 * in *@ret_fd (made close-on-exec and non-blocking) and its address in
 * @a, or EPY_EPARAM or EPY_ESYSTEM with @err filled.
 */
int epy__address_inherited(const char *url, epy__address *a, int *ret_fd,
                           epy_error *err);
/* "tcp:ADDR:PORT", "tcp:[ADDR]:PORT", or "unix", of @ss into @out. */
void epy__address_format(const struct sockaddr_storage *ss, char *out,
                         size_t len);
/* Fills @err with @code and errno's message; returns @code. */
int epy__sys_error(epy_error *err, int code, const char *what);
/* Socket options of a connected socket of @family (TCP_NODELAY). */
void epy__socket_tune(int fd, int family);

/* How a socket file is made. */
typedef struct epy__socket_file_opts {
    int mode;                   /* permission bits; -1: the umask's */
    long uid, gid;              /* owner; -1: unchanged */
    int backlog;
} epy__socket_file_opts;

/*
 * Binds @fd to the socket file @a->path and listens, with @o's mode and
 * owner set before anyone can connect (see socket-file.c); *@ret_dev
 * and *@ret_ino identify the file made. Returns 0, EPY_EEXIST or
 * EPY_ESYSTEM.
 */
int epy__socket_file_bind(int fd, const epy__address *a,
                          const epy__socket_file_opts *o, dev_t *ret_dev,
                          ino_t *ret_ino, epy_error *err);

/*
 * The peers of @srv's clients whose hello was accepted, each with a
 * reference (epy__peer_unref() each, then free the array). Returns 0 or
 * EPY_ENOMEM.
 */
int epy__server_peers(epy_server *srv, epy_peer ***ret_peers, size_t *ret_n);
/* The handler table @srv's clients share. */
epy__registry *epy__server_registry(epy_server *srv);

#endif /* EPYRPC_NET_INT_H */
