/*
 * The outgoing queue of a peer (see writer.c): frames that wait for the
 * writer, in chunks, with the descriptors that go with them.
 */
#include <config.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn-int.h"

/* The outgoing queue grows in chunks of this size (or a frame's). */
#define CHUNK_SIZE ((size_t) 16 * 1024)

/*
 * Frames that wait for the writer: small ones of threads that found it
 * busy, and posted ones (epy__peer_post()). They are kept in order in a
 * list of chunks, appended under qlock; the writer sends the head chunk
 * from where it lies while other threads append behind it, so a chunk
 * never moves while it is written.
 */
bool
epy__out_append(epy_peer *peer, const struct iovec *iov, int n, size_t total,
           const int *fds, int n_fds)
{
    epy__outchunk *t = peer->out_tail;

    if (t == NULL || t->cap - t->len < total
        || t->n_fds + n_fds > EPY__FDS_PER_WRITE) {
        size_t cap = total > CHUNK_SIZE ? total : CHUNK_SIZE;

        t = malloc(sizeof *t + cap);
        if (t == NULL)
            return false;
        t->next = NULL;
        t->off = t->len = 0;
        t->cap = cap;
        t->n_fds = 0;
        if (peer->out_tail != NULL)
            peer->out_tail->next = t;
        else
            peer->out_head = t;
        peer->out_tail = t;
    }
    /*
     * A frame's descriptors go with the chunk's next write, which comes
     * before the frame's end: the other end has them when it has the
     * frame. They are duplicated: the sender's own may close meanwhile.
     */
    for (int i = 0; i < n_fds; i++) {
        int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);

        if (d < 0) {
            while (i-- > 0)
                close(t->fds[--t->n_fds]);
            return false;
        }
        t->fds[t->n_fds++] = d;
    }
    for (int i = 0; i < n; i++) {
        memcpy(t->data + t->len, iov[i].iov_base, iov[i].iov_len);
        t->len += iov[i].iov_len;
    }
    peer->out_bytes += total;
    return true;
}

/* Closes the first @n descriptors of @c, which are sent. qlock held. */
void
epy__out_fds_sent(epy__outchunk *c, int n)
{
    for (int i = 0; i < n; i++)
        close(c->fds[i]);
    memmove(c->fds, c->fds + n, sizeof (int) * (size_t) (c->n_fds - n));
    c->n_fds -= n;
}

/*
 * Attaches @c's descriptors to the next write (a copy in @fds: other
 * threads may append more meanwhile). Returns their count. qlock held.
 */
int
epy__out_attach(epy_peer *peer, epy__outchunk *c, int *fds)
{
    int n = c->n_fds;

    if (n > 0) {
        memcpy(fds, c->fds, sizeof (int) * (size_t) n);
        peer->tr->ops->attach_fds(peer->tr, fds, n);
    }
    return n;
}

/* Drops what waits (the connection has ended). qlock held. */
void
epy__out_drop(epy_peer *peer)
{
    while (peer->out_head != NULL) {
        epy__outchunk *c = peer->out_head;

        peer->out_head = c->next;
        epy__out_fds_sent(c, c->n_fds);
        free(c);
    }
    peer->out_tail = NULL;
    peer->out_bytes = 0;
}

void
epy__peer_out_free(epy_peer *peer)
{
    epy__out_drop(peer);
}

