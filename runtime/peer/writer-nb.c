/*
 * The writing side of a driven peer (one run by an event loop): the
 * writer never blocks.
 *
 * A driven peer's frames are written at once as far as the socket takes
 * them; the rest waits in the outgoing queue, which the loop writes when
 * the socket is writable (drive.c). The writer lock is held only around
 * writes that do not block. A queue that grows past max_send_queue, or
 * that nothing has been taken from for send_timeout, means the other end
 * reads nothing: the connection ends (EPY_EBUSY, EPY_ETIMEDOUT), so such
 * a client costs max_send_queue bytes at most and never a thread.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "conn-int.h"

/* Ends a driven peer's connection from the writer. */
static int
nb_fail(epy_peer *peer, int code, const char *what)
{
    if (epy__peer_check(peer) == 0) {
        epy__log(peer, EPY_LOG_WARNING, "%s: ending the connection", what);
        epy__peer_set_status(peer, code);
        peer->tr->ops->shutdown(peer->tr);
    }
    return epy__peer_check(peer);
}

int
epy__peer_flush_nb_locked(epy_peer *peer)
{
    for (;;) {
        epy__outchunk *c;
        ssize_t w;
        int nf;

        pthread_mutex_lock(&peer->qlock);
        c = peer->out_head;
        if (c != NULL && c->off == c->len && c->next == NULL) {
            /* All written: an idle peer keeps no buffer. */
            free(c);
            peer->out_head = peer->out_tail = NULL;
            c = NULL;
        }
        pthread_mutex_unlock(&peer->qlock);
        if (c == NULL)
            return 0;
        if (c->off == c->len) {
            pthread_mutex_lock(&peer->qlock);
            peer->out_head = c->next;
            pthread_mutex_unlock(&peer->qlock);
            free(c);
            continue;
        }
        if (epy__peer_check(peer) != 0)
            return epy__peer_check(peer);
        {
            struct iovec v = { c->data + c->off, c->len - c->off };
            int fds[EPY__FDS_PER_WRITE];

            pthread_mutex_lock(&peer->qlock);
            nf = epy__out_attach(peer, c, fds);
            pthread_mutex_unlock(&peer->qlock);
            w = peer->tr->ops->trysendv(peer->tr, &v, 1);
        }
        if (w == -EAGAIN || w == 0)
            return 0;
        if (w < 0)
            return epy__peer_write_failed(peer, (int) w);
        pthread_mutex_lock(&peer->qlock);
        epy__out_fds_sent(c, nf);
        c->off += (size_t) w;
        peer->out_bytes -= (size_t) w;
        peer->out_since = epy__now_ns();    /* the other end reads */
        pthread_mutex_unlock(&peer->qlock);
    }
}

int
epy__peer_flush_nb(epy_peer *peer)
{
    int rc;

    pthread_mutex_lock(&peer->wlock);
    rc = epy__peer_flush_nb_locked(peer);
    pthread_mutex_unlock(&peer->wlock);
    return rc;
}

bool
epy__peer_out_waiting(epy_peer *peer)
{
    bool w;

    pthread_mutex_lock(&peer->qlock);
    w = peer->out_bytes > 0;
    pthread_mutex_unlock(&peer->qlock);
    return w;
}

void
epy__peer_flush_until(epy_peer *peer, int64_t deadline)
{
    while (epy__peer_flush_nb(peer) == 0 && epy__peer_out_waiting(peer)) {
        struct pollfd pfd = { peer->fd, POLLOUT, 0 };
        int64_t left = deadline - epy__now_ns();

        if (left <= 0 || poll(&pfd, 1, (int) ((left + 999999) / 1000000)) <= 0)
            break;
    }
}

/*
 * Writes a frame of @total bytes on a driven peer. @post: an event that
 * may be refused (EPY_EBUSY) when the queue is full, without ending the
 * connection.
 */
int
epy__peer_write_nb(epy_peer *peer, struct iovec *iov, int n, size_t total,
                   bool post, const int *fds, int n_fds)
{
    size_t sent = 0;
    bool waiting = false;
    int rc;

    if (post && total > peer->cfg.max_send_queue)
        return EPY_ETOOBIG;     /* would never fit: not the peer's fault */
    pthread_mutex_lock(&peer->wlock);
    rc = epy__peer_check(peer);
    if (rc == 0)
        rc = epy__peer_flush_nb_locked(peer);
    if (rc == 0 && !epy__peer_out_waiting(peer)) {
        ssize_t w;

        if (n_fds > 0)
            peer->tr->ops->attach_fds(peer->tr, fds, n_fds);
        w = peer->tr->ops->trysendv(peer->tr, iov, n);
        if (w < 0 && w != -EAGAIN)
            rc = epy__peer_write_failed(peer, (int) w);
        else if (w > 0)
            sent = (size_t) w;
    }
    if (sent > 0)
        n_fds = 0;      /* they went with the first bytes */
    if (rc == 0 && sent < total) {
        size_t left = sent;

        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *) iov->iov_base + left;
            iov->iov_len -= left;
        }
        pthread_mutex_lock(&peer->qlock);
        if (peer->out_bytes + (total - sent) > peer->cfg.max_send_queue) {
            pthread_mutex_unlock(&peer->qlock);
            if (post && sent == 0) {
                rc = EPY_EBUSY;
            } else {
                char what[160];

                snprintf(what, sizeof what, "the other end reads nothing: "
                         "%zu bytes wait to be written (max_send_queue %zu)",
                         peer->out_bytes + (total - sent),
                         peer->cfg.max_send_queue);
                rc = nb_fail(peer, EPY_EBUSY, what);
            }
        } else {
            if (peer->out_bytes == 0)
                peer->out_since = epy__now_ns();
            if (!epy__out_append(peer, iov, n, total - sent, fds, n_fds))
                rc = EPY_ENOMEM;
            else
                waiting = true;
            pthread_mutex_unlock(&peer->qlock);
            if (rc == EPY_ENOMEM && sent > 0)
                rc = nb_fail(peer, EPY_ENOMEM, "no memory for the rest of a frame");
        }
    }
    pthread_mutex_unlock(&peer->wlock);
    if (waiting)
        epy__peer_drive_kick(peer);     /* the loop watches for room */
    return rc;
}
