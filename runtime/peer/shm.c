/*
 * Shared memory between the two ends of a unix socket: the peer's side
 * of the rings of transport-shm.c.
 *
 * Each end that offers shared memory (epy_peer_config.shm) makes the
 * ring it will read and sends it with its hello (one descriptor, and
 * Hello.shm). An end that has offered and reads a hello that offers too
 * maps the other's ring as the ring it writes, and sends a SWITCH frame:
 * the last frame it writes on the socket; what it writes next goes into
 * the ring. The other end reads the socket up to that SWITCH and the
 * ring from then on. The socket stays: it carries wake-ups (a byte when
 * the reader sleeps), descriptors, and the end of the connection, so a
 * dead peer is still seen at once. An end that did not offer, or a peer
 * in another language, never sees a SWITCH and keeps the socket.
 *
 * An end takes no ring larger than the one it reads (its shm_ring_size):
 * the pages it writes into are charged to it, so the other end does not
 * get to choose how many. A larger offer gets no SWITCH: this end's
 * frames stay on the socket, the other direction may still switch.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn-int.h"
#include "transport-shm.h"

bool
epy__socket_is_unix(int fd)
{
    int domain;
    socklen_t len = sizeof domain;

    return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0
           && domain == AF_UNIX;
}

bool
epy__shm_env(void)
{
    const char *e = getenv("EPYRPC_SHM");

    return e != NULL && strcmp(e, "1") == 0;
}

int
epy__peer_send_hello(epy_peer *peer)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    Epyrpc__Hello hello = EPYRPC__HELLO__INIT;
    epy__payload p = { 0 };
    int ring = -1, rc;

    hello.version = EPY_PROTOCOL_VERSION;
    hello.n_interfaces = peer->n_hello_ifaces;
    hello.interfaces = peer->hello_ifaces;
    hello.n_descriptions = peer->n_hello_ifaces;
    hello.descriptions = peer->hello_descs;
    hello.has_zlib = true;
    hello.zlib = peer->cfg.compress_threshold > 0;
    hello.has_max_frame = true;
    hello.max_frame = peer->cfg.max_frame;
    hello.has_fds = true;
    hello.fds = peer->local_fds;
    if (peer->local_fds && peer->cfg.blob_threshold > 0) {
        hello.has_blob_limit = true;
        hello.blob_limit = peer->cfg.max_blob;
    }
    /* A shm transport is made only for an end that offers (peer.c). */
    if (epy__transport_is_shm(peer->tr)) {
        rc = epy__shm_make_rx(peer->tr, &ring);
        if (rc < 0)
            epy__log(peer, EPY_LOG_WARNING, "no shared memory: %s",
                     strerror(-rc));
    }
    if (ring >= 0) {
        hello.has_shm = hello.shm = true;
        peer->shm_offered = true;
        p.fds = &ring;
        p.n_fds = 1;
    }
    env.kind = EPYRPC__KIND__HELLO;
    env.hello = &hello;
    rc = epy__peer_send_payload(peer, &env, &p);
    if (ring >= 0)
        close(ring);    /* the other end has its own now */
    return rc;
}

void
epy__shm_hello_read(epy_peer *peer, const Epyrpc__Hello *h, epy__fdset *fds)
{
    int ring, rc;

    if (!peer->shm_offered || !h->has_shm || !h->shm || fds == NULL
        || fds->n != 1 || fds->fd[0] < 0)
        return;
    ring = fds->fd[0];
    fds->fd[0] = -1;
    rc = epy__shm_set_tx(peer->tr, ring);
    if (rc == -EFBIG) {
        /*
         * This end would pay for the pages it writes into: no more than
         * its own ring's. No SWITCH: its frames stay on the socket.
         */
        epy__log(peer, EPY_LOG_INFO, "the other end's ring is larger than "
                 "this end's shm_ring_size: keeping the socket");
        return;
    }
    if (rc < 0) {
        epy__log(peer, EPY_LOG_WARNING, "the other end's ring is unusable "
                 "(%s): keeping the socket", strerror(-rc));
        return;
    }
    rc = epy__peer_send_switch(peer);
    if (rc < 0)
        epy__log(peer, EPY_LOG_INFO, "staying on the socket: %s",
                 epy_strerror(rc));
}

int
epy__shm_switch_read(epy_peer *peer, char *why, size_t whylen)
{
    if (!peer->shm_offered) {
        snprintf(why, whylen, "switch to a shared ring this end did not offer");
        return EPY_EPROTO;
    }
    if (peer->shm_rx) {
        snprintf(why, whylen, "second switch to the shared ring");
        return EPY_EPROTO;
    }
    peer->shm_rx = true;        /* after this frame (reader.c) */
    return 0;
}

bool
epy_peer_shm(const epy_peer *peer)
{
    return peer != NULL && peer->tr != NULL
           && epy__shm_tx_switched(peer->tr) && epy__shm_rx_switched(peer->tr);
}
