/*
 * Values out of line on the wire (doc/wire.md, "Blobs"): whether they
 * may go to the other end, their references in a frame's envelope, and
 * the checks of those that come. The values themselves are made and
 * mapped by the generated code's support (runtime/gen/blob.c).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer-int.h"

void
epy__peer_blob_policy(epy_peer *peer, epy__blob_policy *ret)
{
    size_t limit = peer != NULL ? atomic_load(&peer->remote_blob_limit) : 0;

    ret->threshold = 0;
    ret->limit = limit;
    if (limit > 0 && peer->cfg.blob_threshold > 0
        && epy__peer_passes_fds(peer))
        ret->threshold = peer->cfg.blob_threshold;
}

void
epy__blobs_put(Epyrpc__Envelope *env, const epy__payload *pl,
               Epyrpc__Blob *storage, Epyrpc__Blob **ptrs)
{
    for (int i = 0; i < pl->n_blobs; i++) {
        const epy__blobref *r = &pl->blobs[i];
        Epyrpc__Blob *b = &storage[i];

        epyrpc__blob__init(b);
        b->n_path = r->depth;
        b->path = (uint32_t *) r->path;
        b->fd = r->fd;
        b->len = r->len;
        ptrs[i] = b;
    }
    env->n_blobs = (size_t) pl->n_blobs;
    env->blobs = ptrs;
}

int
epy__blobs_take(epy_peer *peer, const Epyrpc__Envelope *env,
                epy__fdset *fds, char *why, size_t whylen)
{
    size_t words = 0;
    uint64_t total = 0;
    uint32_t *path;

    if (peer->cfg.blob_threshold == 0 || !peer->local_fds || fds == NULL
        || env->n_blobs > (size_t) fds->n) {
        snprintf(why, whylen, "frame with %zu values out of line, where "
                 "this end takes %s", env->n_blobs,
                 peer->cfg.blob_threshold == 0 || !peer->local_fds
                     ? "none" : "one per descriptor that came");
        return EPY_EPROTO;
    }
    for (size_t i = 0; i < env->n_blobs; i++) {
        const Epyrpc__Blob *b = env->blobs[i];

        total += b->len;
        if (b->fd == 0 || b->fd > (uint32_t) fds->n || b->len == 0
            || b->len > peer->cfg.max_blob || total > peer->cfg.max_blob
            || b->n_path == 0 || b->n_path > EPY__BLOB_PATH_MAX) {
            snprintf(why, whylen, "value out of line %zu malformed or past "
                     "max_blob (%zu bytes)", i, peer->cfg.max_blob);
            return EPY_EPROTO;
        }
        words += b->n_path;
    }
    /* The references and their paths in one block, freed with the set. */
    fds->blobs = malloc(env->n_blobs * sizeof *fds->blobs
                        + words * sizeof *path);
    if (fds->blobs == NULL)
        return EPY_ENOMEM;
    path = (uint32_t *) (void *) (fds->blobs + env->n_blobs);
    for (size_t i = 0; i < env->n_blobs; i++) {
        const Epyrpc__Blob *b = env->blobs[i];
        epy__blobref *r = &fds->blobs[i];

        memcpy(path, b->path, b->n_path * sizeof *path);
        r->path = path;
        r->depth = b->n_path;
        r->fd = b->fd;
        r->len = b->len;
        path += b->n_path;
    }
    fds->n_blobs = (int) env->n_blobs;
    return 0;
}
