/*
 * The peer: made on a transport, its status and the end of its
 * connection, closing and disconnecting, and its accessors. Its frames
 * are written by writer.c and read by reader.c, by whichever thread
 * holds the reading (lead.c).
 */
#include <config.h>

#include <errno.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <epyrpc/loop.h>

#include "conn-int.h"
#include "transport-shm.h"

/* --- construction ---------------------------------------------------------- */

static void
peer_free(epy_peer *peer)
{
    if (peer->tr != NULL)
        peer->tr->ops->destroy(peer->tr);
    epy__txnmgr_destroy(&peer->txn);
    if (peer->pool == &peer->own_pool)
        epy__pool_destroy(&peer->own_pool);
    if (peer->manual == &peer->loop_pool)
        epy__pool_destroy(&peer->loop_pool);
    if (peer->own_poller)
        epy__poller_free(peer->poller);
    epy__registry_unref(peer->reg);
    epy__limits_unref(peer->limits);
    epy__intro_unref(peer->intro);
    epy__hello_free(peer);
    epy_error_clear(&peer->ready_err);
    pthread_mutex_destroy(&peer->wlock);
    pthread_mutex_destroy(&peer->qlock);
    epy__peer_out_free(peer);
    pthread_mutex_destroy(&peer->state_lock);
    pthread_cond_destroy(&peer->state_cond);
    pthread_mutex_destroy(&peer->calls_lock);
    pthread_cond_destroy(&peer->queue_cond);
    pthread_mutex_destroy(&peer->listener_lock);
    pthread_mutex_destroy(&peer->watch_lock);
    pthread_cond_destroy(&peer->watch_cond);
    epy__rbuf_unref(peer->rbuf);
    free(peer->arena.base);
    free(peer->arena.spare);
    free(peer);
}

void
epy_peer_config_init(epy_peer_config *cfg)
{
    if (cfg != NULL)
        *cfg = (epy_peer_config) EPY_PEER_CONFIG_INIT;
}

static int
check_config(const epy_peer_config *cfg, epy_error *err)
{
    if (cfg->max_frame < 64 || cfg->max_frame > UINT32_MAX)
        return epy_error_setf(err, EPY_EPARAM,
                              "max_frame %zu out of range (64..4294967295)",
                              cfg->max_frame);
    if (cfg->origin > 0xffff)
        return epy_error_set(err, EPY_EPARAM, "origin out of range (0..65535)");
    if (cfg->compress_level < 1 || cfg->compress_level > 9)
        return epy_error_set(err, EPY_EPARAM, "compress_level must be 1..9");
    if (cfg->n_interfaces > 0 && cfg->interfaces == NULL)
        return epy_error_set(err, EPY_EPARAM, "n_interfaces without interfaces");
    for (size_t i = 0; i < cfg->n_interfaces; i++)
        if (cfg->interfaces[i].name == NULL
            || cfg->interfaces[i].fingerprint == NULL
            || strchr(cfg->interfaces[i].name, '=') != NULL)
            return epy_error_set(err, EPY_EPARAM, "invalid interface entry");
    if (cfg->close_timeout_ms < 0)
        return epy_error_set(err, EPY_EPARAM, "negative close_timeout_ms");
    if (cfg->loop_mode < 0 || cfg->loop_mode > EPY_LOOP_WORKERS)
        return epy_error_set(err, EPY_EPARAM, "unknown loop_mode");
    if (cfg->shm_ring_size != 0
        && (cfg->shm_ring_size < EPY__SHM_RING_MIN
            || cfg->shm_ring_size > EPY__SHM_RING_MAX
            || (cfg->shm_ring_size & (cfg->shm_ring_size - 1)) != 0))
        return epy_error_set(err, EPY_EPARAM, "shm_ring_size must be a power "
                             "of two from 4 KiB to 64 MiB");
    return 0;
}

/* Makes a peer on @tr (taken on success). */
static int
peer_new(epy__transport *tr, int fd, const epy_peer_config *cfg,
         const epy__peer_opts *o, const epy_credentials *cred,
         epy_peer **ret, epy_error *err)
{
    epy__registry *reg = o != NULL ? o->reg : NULL;
    epy_peer *peer;
    int rc;

    peer = calloc(1, sizeof *peer);
    if (peer == NULL)
        return epy_error_set(err, EPY_ENOMEM, NULL);
    atomic_init(&peer->refs, 1);
    peer->destroy = peer_free;
    peer->fd = fd;
    peer->driven = fd >= 0 && ((o != NULL && o->poller != NULL)
                               || cfg->loop_mode != 0);
    peer->rchunk = peer->driven ? EPY__READ_CHUNK_DRIVEN : EPY__READ_CHUNK;
    atomic_init(&peer->rtok, EPY__RT_POOL);     /* the reader holds it */
    atomic_init(&peer->lend, false);
    atomic_init(&peer->sync_calls, 0);
    peer->cfg = *cfg;
    if (peer->cfg.max_blob == 0)
        peer->cfg.max_blob = EPY_DEFAULT_MAX_BLOB;
    peer->cfg.interfaces = NULL;
    peer->cfg.n_interfaces = 0;
    if (peer->cfg.max_pending == 0)
        peer->cfg.max_pending = EPY_DEFAULT_MAX_PENDING;
    if (peer->cfg.max_send_queue == 0)
        peer->cfg.max_send_queue = EPY_DEFAULT_MAX_SEND_QUEUE;
    pthread_mutex_init(&peer->wlock, NULL);
    pthread_mutex_init(&peer->qlock, NULL);
    pthread_mutex_init(&peer->state_lock, NULL);
    epy__cond_init(&peer->state_cond);
    pthread_mutex_init(&peer->calls_lock, NULL);
    pthread_cond_init(&peer->queue_cond, NULL);
    pthread_mutex_init(&peer->listener_lock, NULL);
    pthread_mutex_init(&peer->watch_lock, NULL);
    epy__cond_init(&peer->watch_cond);
    if (peer->cfg.max_queued == 0)
        peer->cfg.max_queued = EPY_DEFAULT_MAX_QUEUED;
    if (cred != NULL) {
        peer->cred = *cred;
        peer->has_cred = true;
    }
    if (cfg->listener != NULL) {
        peer->listener = *cfg->listener;
        peer->listener_ctx = cfg->listener_ctx;
    }
    peer->cfg.listener = NULL;
    peer->paused = cfg->start_paused;
    if (o != NULL) {
        if (o->listener != NULL) {
            peer->listener = *o->listener;
            peer->listener_ctx = o->listener_ctx;
        }
        peer->server = o->server;
        peer->end_hook = o->end_hook;
        peer->end_hook_ctx = o->end_hook_ctx;
        peer->ready_hook = o->ready_hook;
        peer->ready_hook_ctx = o->ready_hook_ctx;
    }
    epy__list_init(&peer->calls);
    peer->arena.alloc.alloc = epy__arena_alloc;
    peer->arena.alloc.free = epy__arena_free;
    peer->arena.alloc.allocator_data = &peer->arena;
    peer->arena.base = malloc(EPY__ARENA_SIZE);
    peer->arena.cap = EPY__ARENA_SIZE;
    peer->rbuf = epy__rbuf_alloc(peer->rchunk);
    peer->rcap = peer->rchunk;
    if (peer->arena.base == NULL || peer->rbuf == NULL
        || epy__hello_init(peer, cfg) < 0)
        goto nomem;
    if (o != NULL) {
        peer->tap = o->tap;
        peer->client_id = o->client_id;
    }
    atomic_init(&peer->monitoring, false);
    if (o != NULL && o->intro != NULL)
        peer->intro = epy__intro_ref(o->intro);
    else if (!cfg->no_introspection
             && (peer->intro = epy__intro_new(cfg->interfaces,
                                              cfg->n_interfaces)) == NULL)
        goto nomem;
    peer->reg = reg != NULL ? epy__registry_ref(reg) : epy__registry_new();
    if (peer->reg == NULL
        || epy__txnmgr_init(&peer->txn, cfg->origin, peer->cfg.max_pending,
                            epy__async_notify, epy__peer_send_cancel, peer) < 0)
        goto nomem;
    if (o != NULL) {
        peer->limits = epy__limits_ref(o->limits);
        peer->idle_ms = o->idle_timeout_ms;
        if (o->handshake_timeout_ms > 0)
            peer->hello_deadline = epy__deadline(o->handshake_timeout_ms);
    }
    if (o != NULL && o->pool != NULL) {
        peer->pool = o->pool;
        peer->cb_pool = o->cb_pool != NULL ? o->cb_pool : o->pool;
        peer->manual = o->manual;
        peer->loop_mode = cfg->loop_mode;
        peer->poller = o->poller;
        rc = 0;
    } else if (peer->driven) {
        rc = epy__peer_loop_init(peer, cfg);    /* the user's loop */
    } else {
        peer->pool = &peer->own_pool;
        rc = epy__pool_init(&peer->own_pool, cfg->workers, 1,
                            cfg->max_spare_workers > 0
                                ? cfg->max_spare_workers
                                : EPY_DEFAULT_MAX_SPARE_WORKERS,
                            peer->limits);
        epy__peer_pool_hooks(peer, &peer->own_pool);
        peer->cb_pool = peer->pool;
    }
    if (peer->driven) {
        peer->run_cap = (cfg->workers > 0 ? cfg->workers : 1)
                        + (cfg->max_spare_workers > 0
                               ? cfg->max_spare_workers
                               : EPY_DEFAULT_MAX_SPARE_WORKERS);
        if (o != NULL)
            peer->send_timeout_ns = o->send_timeout_ms * 1000000;
    }
    if (rc < 0) {
        epy_error_set(err, rc, "cannot start the worker threads");
        goto fail;
    }
    peer->tr = tr;
    if (peer->driven)
        ;       /* the loop keeps the deadlines (drive.c) */
    else if (tr->ops->set_recv_timeout == NULL)
        peer->hello_deadline = peer->idle_ms = 0;   /* cannot be enforced */
    else if (peer->hello_deadline != 0)
        tr->ops->set_recv_timeout(tr, o->handshake_timeout_ms);
    /*
     * The hello goes first, before the reader can end the connection:
     * the other end always gets it, even when this end refuses its own.
     * A failure shows as the end of the connection.
     */
    peer->local_fds = !cfg->no_fd_passing && tr->ops->attach_fds != NULL
                      && tr->ops->attach_fds(tr, NULL, 0) == 0;
    epy__peer_send_hello(peer);
    peer->lead_job.run = epy__peer_lead_run;
    peer->flush_job.run = epy__peer_flush_run;
    if (peer->driven) {
        rc = epy__peer_drive_start(peer);
        if (rc < 0) {
            epy_error_set(err, rc, "cannot watch the connection");
            peer->tr = NULL;
            goto fail;
        }
    } else {
        peer->reader_started = true;
        epy__pool_push(peer->pool, &peer->lead_job);
    }
    *ret = peer;
    return 0;

nomem:
    rc = epy_error_set(err, EPY_ENOMEM, NULL);
fail:
    peer_free(peer);
    return rc;
}

int
epy_peer_new_fd(int fd, const epy_peer_config *cfg, epy_peer **ret_peer,
                epy_error *ret_err)
{
    return epy__peer_new_fd(fd, cfg, NULL, ret_peer, ret_err);
}

int
epy__peer_new_fd(int fd, const epy_peer_config *cfg,
                 const epy__peer_opts *opts, epy_peer **ret_peer,
                 epy_error *ret_err)
{
    epy_peer_config defaults = EPY_PEER_CONFIG_INIT;
    epy_credentials cred;
    epy__transport *tr;
    int rc;

    if (fd < 0 || ret_peer == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "invalid descriptor or NULL result");
    if (cfg == NULL)
        cfg = &defaults;
    rc = check_config(cfg, ret_err);
    if (rc < 0)
        return rc;
    if ((cfg->shm || epy__shm_env()) && epy__socket_is_unix(fd)) {
        /* A socket transport until both hellos agree (shm.c). */
        epy__shm_opts so = {
            cfg->shm_ring_size != 0 ? cfg->shm_ring_size : EPY__SHM_RING_DEFAULT,
            cfg->shm_spin_us < 0 ? 0 : cfg->shm_spin_us == 0
                ? EPY__SHM_SPIN_DEFAULT_NS : (int64_t) cfg->shm_spin_us * 1000
        };

        tr = epy__transport_shm_new(fd, &so);
    } else {
        tr = epy__transport_fd_new(fd);
    }
    if (tr == NULL)
        return epy_error_set(ret_err, EPY_ENOMEM, NULL);
    epy__socket_credentials(fd, &cred);
    rc = peer_new(tr, fd, cfg, opts, &cred, ret_peer, ret_err);
    if (rc < 0)
        epy__transport_forget(tr);  /* the caller keeps @fd */
    return rc;
}

int
epy_pair_new(const epy_peer_config *cfg_a, const epy_peer_config *cfg_b,
             epy_peer **ret_a, epy_peer **ret_b, epy_error *ret_err)
{
    epy_peer_config defaults = EPY_PEER_CONFIG_INIT;
    epy__transport *ta, *tb;
    int rc;

    if (ret_a == NULL || ret_b == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL result");
    if (cfg_a == NULL)
        cfg_a = &defaults;
    if (cfg_b == NULL)
        cfg_b = &defaults;
    if (cfg_a->loop_mode != 0 || cfg_b->loop_mode != 0)
        return epy_error_set(ret_err, EPY_EPARAM,
                             "a loop mode needs a socket (not a pair)");
    if ((rc = check_config(cfg_a, ret_err)) < 0
        || (rc = check_config(cfg_b, ret_err)) < 0)
        return rc;
    rc = epy__transport_queue_pair(&ta, &tb);
    if (rc < 0)
        return epy_error_set(ret_err, rc, NULL);
    rc = peer_new(ta, -1, cfg_a, NULL, NULL, ret_a, ret_err);
    if (rc < 0) {
        ta->ops->destroy(ta);
        tb->ops->destroy(tb);
        return rc;
    }
    rc = peer_new(tb, -1, cfg_b, NULL, NULL, ret_b, ret_err);
    if (rc < 0) {
        tb->ops->destroy(tb);
        *ret_a = epy_peer_close(*ret_a);
        return rc;
    }
    return 0;
}

int
epy_link_open(epy_link *link, epy_error *ret_err)
{
    if (link == NULL)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL link");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link->fd) < 0) {
        int e = errno;

        link->fd[0] = link->fd[1] = -1;
        epy_error_setf(ret_err, EPY_ESYSTEM, "socketpair: %s", strerror(e));
        if (ret_err != NULL)
            ret_err->sys_errno = e;
        return EPY_ESYSTEM;
    }
    return 0;
}

int
epy_link_peer(epy_link *link, int side, const epy_peer_config *cfg,
              epy_peer **ret_peer, epy_error *ret_err)
{
    epy_peer_config c;
    int rc;

    if (link == NULL || (side != EPY_LINK_HEAD && side != EPY_LINK_NECK)
        || link->fd[side] < 0)
        return epy_error_set(ret_err, EPY_EPARAM, "invalid or taken link side");
    if (cfg != NULL) {
        c = *cfg;
    } else {
        epy_peer_config_init(&c);
        c.origin = side == EPY_LINK_HEAD ? EPY_ORIGIN_HEAD : EPY_ORIGIN_NECK;
    }
    rc = epy_peer_new_fd(link->fd[side], &c, ret_peer, ret_err);
    if (rc < 0)
        return rc;
    link->fd[side] = -1;
    if (link->fd[1 - side] >= 0) {
        close(link->fd[1 - side]);
        link->fd[1 - side] = -1;
    }
    return 0;
}

void
epy_link_close(epy_link *link)
{
    if (link == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        if (link->fd[i] >= 0)
            close(link->fd[i]);
        link->fd[i] = -1;
    }
}

/* --- the running peer ------------------------------------------------------ */

static bool
hello_done(void *ctx)
{
    epy_peer *peer = ctx;
    bool done;

    pthread_mutex_lock(&peer->state_lock);
    done = peer->ready != 0;
    pthread_mutex_unlock(&peer->state_lock);
    return done;
}

int
epy_peer_wait_ready(epy_peer *peer, int64_t timeout_ms, epy_error *ret_err)
{
    int64_t deadline;
    int rc;

    if (peer == NULL || timeout_ms < 0)
        return epy_error_set(ret_err, EPY_EPARAM, NULL);
    deadline = epy__deadline(timeout_ms);
    if (peer->driven && epy__peer_loop_owns(peer))
        epy__peer_loop_wait(peer, hello_done, peer, deadline);
    pthread_mutex_lock(&peer->state_lock);
    while (peer->ready == 0) {
        if (deadline != 0) {
            struct timespec ts = epy__abstime(deadline);

            if (pthread_cond_timedwait(&peer->state_cond, &peer->state_lock,
                                       &ts) == ETIMEDOUT)
                break;
        } else {
            pthread_cond_wait(&peer->state_cond, &peer->state_lock);
        }
    }
    if (peer->ready > 0)
        rc = 0;
    else if (peer->ready == 0)
        rc = epy_error_set(ret_err, EPY_ETIMEDOUT, "no hello from the other end");
    else if (ret_err != NULL)
        rc = epy_error_copy(ret_err, &peer->ready_err) < 0 ? EPY_ENOMEM
                                                           : peer->ready;
    else
        rc = peer->ready;
    pthread_mutex_unlock(&peer->state_lock);
    return rc;
}

int
epy_peer_start(epy_peer *peer)
{
    int rc = 0;

    if (peer == NULL)
        return EPY_EPARAM;
    pthread_mutex_lock(&peer->state_lock);
    if (peer->paused) {
        peer->paused = false;
        pthread_cond_broadcast(&peer->state_cond);
    } else {
        rc = EPY_EPARAM;
    }
    pthread_mutex_unlock(&peer->state_lock);
    return rc;
}

/* Stops the connection here: tells the other end, ends the reader. */
static void
stop_connection(epy_peer *peer)
{
    if (epy__peer_check(peer) == 0) {
        /*
         * Told if the other end reads: one that stops reading cannot
         * hold the close up (it sees the connection end all the same).
         */
        Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
        epy__payload none = { .deadline = epy__deadline(EPY__GOODBYE_MS) };

        env.kind = EPYRPC__KIND__DISCONNECT;
        epy__peer_send_payload(peer, &env, &none);
        if (peer->driven)
            epy__peer_flush_until(peer, none.deadline);
    }
    epy__peer_set_status(peer, EPY_ECLOSED);
    peer->tr->ops->shutdown(peer->tr);
    epy__peer_kick_reader(peer);
    epy__peer_wake_queue(peer);
    pthread_mutex_lock(&peer->state_lock);
    pthread_cond_broadcast(&peer->state_cond);     /* a paused reader */
    pthread_mutex_unlock(&peer->state_lock);
}

static bool
reader_ended(void *ctx)
{
    return epy__peer_reader_done(ctx);
}

/* Jobs of a loop peer, including those its loop runs, have all run. */
static bool
jobs_done(void *ctx)
{
    epy_peer *peer = ctx;

    return atomic_load(&peer->jobs) == 0;
}

static void
close_late(epy_peer *peer)
{
    epy__log(peer, EPY_LOG_WARNING,
             "handlers still running after %lld ms; waiting for them",
             (long long) peer->cfg.close_timeout_ms);
    epy__call_cancel_all(peer);
}

epy_peer *
epy_peer_close(epy_peer *peer)
{
    if (peer == NULL)
        return NULL;
    atomic_store(&peer->closing, true);
    atomic_store(&peer->leaving, true);
    stop_connection(peer);
    if (peer->reader_started && peer->loop_mode != 0)
        epy__peer_loop_wait(peer, reader_ended, peer, 0);
    if (peer->reader_started) {
        pthread_mutex_lock(&peer->state_lock);
        while (!peer->reader_done)
            pthread_cond_wait(&peer->state_cond, &peer->state_lock);
        pthread_mutex_unlock(&peer->state_lock);
        peer->reader_started = false;
    }
    epy__peer_watch_stop(peer);
    epy__txnmgr_stop(&peer->txn, epy__peer_check(peer));
    if (peer->manual != NULL)
        epy__peer_loop_wait(peer, jobs_done, peer, 0);
    if (peer->pool == &peer->own_pool && !peer->own_pool.manual)
        epy__pool_stop(&peer->own_pool, peer->cfg.close_timeout_ms,
                       close_late, peer);
    else
        epy__peer_jobs_wait(peer, peer->cfg.close_timeout_ms, close_late);
    /*
     * Deferred calls may still be answered later: they keep the peer's
     * memory, and find it closed. Its descriptor goes now.
     */
    pthread_mutex_lock(&peer->wlock);
    peer->tr->ops->destroy(peer->tr);
    peer->tr = NULL;
    pthread_mutex_unlock(&peer->wlock);
    epy__peer_unref(peer);
    return NULL;
}

int
epy_peer_disconnect(epy_peer *peer, bool solicited, int64_t timeout_ms,
                    epy_error *ret_err)
{
    int rc = 0;

    if (peer == NULL || timeout_ms < 0)
        return epy_error_set(ret_err, EPY_EPARAM, NULL);
    if (epy__peer_check(peer) != 0)
        return epy_error_set(ret_err, EPY_ECLOSED, "already disconnected");
    atomic_store(&peer->leaving, true);
    if (solicited) {
        Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
        epy__txn t;

        memset(&t, 0, sizeof t);
        t.kind = EPY__TXN_SYNC;
        rc = epy__txn_begin(&peer->txn, &t);
        if (rc == 0) {
            epy__payload none = { .deadline = epy__deadline(timeout_ms) };

            env.kind = EPYRPC__KIND__DISCONNECT;
            env.has_txn = true;
            env.txn = t.id;
            rc = epy__peer_send_payload(peer, &env, &none);
            if (rc < 0)
                epy__txn_abort(&peer->txn, &t);
            else
                rc = epy__txn_wait_sync(&peer->txn, &t,
                                        epy__deadline(timeout_ms));
        }
        /* The acknowledgement is an EPY_EDISCONNECTED answer. */
        if (rc == EPY_EDISCONNECTED)
            rc = 0;
        if (rc < 0)
            epy_error_set(ret_err, rc, rc == EPY_ETIMEDOUT
                          ? "no acknowledgement of the disconnect" : NULL);
    }
    stop_connection(peer);
    epy__txn_fail_all(&peer->txn, EPY_ECLOSED, true);
    return rc;
}

bool
epy_peer_is_connected(const epy_peer *peer)
{
    return peer != NULL && epy__peer_check((epy_peer *) peer) == 0;
}

int
epy_peer_status(const epy_peer *peer)
{
    return peer != NULL ? epy__peer_check((epy_peer *) peer) : EPY_EPARAM;
}

bool
epy_peer_txn_pending(epy_peer *peer, epy_txn_id id)
{
    return peer != NULL && epy__txn_known(&peer->txn, id);
}

size_t
epy_peer_pending_count(epy_peer *peer)
{
    return peer != NULL ? epy__txn_count(&peer->txn) : 0;
}

int
epy_peer_workers(const epy_peer *peer)
{
    return peer != NULL ? peer->pool->workers : 0;
}

void
epy_peer_set_user(epy_peer *peer, void *user)
{
    if (peer != NULL)
        peer->user = user;
}

void *
epy_peer_user(const epy_peer *peer)
{
    return peer != NULL ? peer->user : NULL;
}

void
epy_peer_set_listener(epy_peer *peer, const epy_listener *listener, void *ctx)
{
    if (peer == NULL)
        return;
    pthread_mutex_lock(&peer->listener_lock);
    if (listener != NULL)
        peer->listener = *listener;
    else
        memset(&peer->listener, 0, sizeof peer->listener);
    peer->listener_ctx = listener != NULL ? ctx : NULL;
    pthread_mutex_unlock(&peer->listener_lock);
}

void
epy_peer_set_ignore_unhandled(epy_peer *peer, bool ignore)
{
    if (peer != NULL)
        atomic_store(&peer->ignore_unhandled, ignore);
}

int
epy_peer_credentials(const epy_peer *peer, epy_credentials *ret_cred)
{
    if (peer == NULL || ret_cred == NULL || !peer->has_cred)
        return EPY_EPARAM;
    *ret_cred = peer->cred;
    return 0;
}

epy_server *
epy_peer_server(const epy_peer *peer)
{
    return peer != NULL ? peer->server : NULL;
}

int
epy__peer_new_transport(epy__transport *tr, const epy_peer_config *cfg,
                        epy_peer **ret_peer, epy_error *ret_err)
{
    epy_peer_config defaults = EPY_PEER_CONFIG_INIT;
    int rc;

    if (cfg == NULL)
        cfg = &defaults;
    rc = check_config(cfg, ret_err);
    if (rc < 0)
        return rc;
    return peer_new(tr, -1, cfg, NULL, NULL, ret_peer, ret_err);
}
