/*
 * Received calls: built by the reader from CALL and EVENT frames, run on
 * the worker pool by their handler (or the listener), answered once.
 *
 * An answer and the end of the handler race when the handler defers
 * (returns EPY_DEFER) and another thread answers: the call's state bits
 * decide which of the two frees it. The answer claims ANSWERING, sends,
 * then sets ANSWERED; the worker sets DEFERRED. Whoever sets its bit
 * second (ANSWERED after DEFERRED, or DEFERRED after ANSWERED) frees.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer-int.h"

/* How long the reader waits for room in the server's memory budget. */
#define ADMIT_WAIT_NS ((int64_t) 1000000000)

static void unqueue(epy_peer *peer);

static void
finish(epy_call *call)
{
    epy_peer *peer = call->peer;

    if (call->listed) {
        pthread_mutex_lock(&peer->calls_lock);
        epy__list_del(&call->link);
        pthread_mutex_unlock(&peer->calls_lock);
    }
    if (!call->solicited && call->event_code < 0) {
        epy_listener l;
        void *ctx;

        epy__peer_listener(peer, &l, &ctx);
        if (l.event_failed != NULL)
            l.event_failed(call, call->event_code, call->event_err, ctx);
        else
            epy__log(peer, EPY_LOG_WARNING, "event '%s' failed: %s%s%s",
                     call->method, epy_strerror(call->event_code),
                     call->event_err != NULL ? ": " : "",
                     call->event_err != NULL ? call->event_err->message : "");
    }
    if (call->event_err != NULL) {
        epy_error_clear(call->event_err);
        free(call->event_err);
    }
    epy__registry_done(peer->reg, &call->target);
    epy__rbuf_unref(call->lender);
    epy__fdset_free(call->fds);
    epy__limits_give_mem(peer->limits, call->charged);
    free(call);
    epy__peer_unref(peer);
}

/* Sends the answer; @code 0 replies with @data (may be NULL), else fails. */
static int
send_answer(epy_call *call, int code, const epy__payload *data,
            const char *type, const char *message, const void *payload,
            size_t plen)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    bool too_big = false;
    int rc;

    if (!call->solicited) {
        if (code < 0) {
            call->event_code = code;
            if (type != NULL || message != NULL || payload != NULL) {
                call->event_err = calloc(1, sizeof *call->event_err);
                epy__error_fill(call->event_err, code, type, message,
                                payload, plen);
            }
        }
        return 0;
    }
    rc = epy__peer_check(call->peer);
    if (rc < 0)
        return rc;      /* nobody left to answer */
    if (atomic_load(&call->cancelled))
        return 0;       /* the caller gave up; it would drop the answer */
    env.has_txn = true;
    env.txn = call->txn;
    if (code == 0) {
        epy__payload none = { 0 };

        env.kind = EPYRPC__KIND__REPLY;
        rc = epy__peer_send_payload(call->peer, &env,
                                    data != NULL ? data : &none);
        if (rc != EPY_ETOOBIG)
            return rc;
        epy__log(call->peer, EPY_LOG_WARNING,
                 "reply to '%s' of %zu bytes is too large", call->method,
                 data != NULL ? epy__payload_len(data) : (size_t) 0);
        too_big = true;
        code = EPY_ETOOBIG;
        message = "the reply exceeds the largest frame";
        type = NULL;
        payload = NULL;
        plen = 0;
    }
    env.kind = EPYRPC__KIND__ERROR;
    env.has_code = true;
    env.code = code;
    env.error_type = (char *) type;
    env.message = (char *) (message != NULL ? message : epy_strerror(code));
    if (payload != NULL) {
        env.has_error_payload = true;
        env.error_payload.data = (uint8_t *) payload;
        env.error_payload.len = plen;
    }
    rc = epy__peer_send(call->peer, &env, NULL, 0);
    /* A reply replaced by EPY_ETOOBIG still tells the handler so. */
    return rc == 0 && too_big ? EPY_ETOOBIG : rc;
}

static int
answer(epy_call *call, int code, const epy__payload *data,
       const char *type, const char *message, const void *payload,
       size_t plen)
{
    int prev, rc;

    if (call == NULL)
        return EPY_EPARAM;
    prev = atomic_fetch_or(&call->state, EPY__CALL_ANSWERING);
    if (prev & EPY__CALL_ANSWERING)
        return EPY_EPARAM;
    rc = send_answer(call, code, data, type, message, payload, plen);
    prev = atomic_fetch_or(&call->state, EPY__CALL_ANSWERED);
    if (prev & EPY__CALL_DEFERRED)
        finish(call);
    return rc;
}

int
epy_call_reply(epy_call *call, const void *data, size_t len)
{
    epy__payload p = { .data = data, .len = len };

    if (data == NULL && len > 0)
        return EPY_EPARAM;
    return answer(call, 0, &p, NULL, NULL, NULL, 0);
}

int
epy__call_reply_payload(epy_call *call, const epy__payload *p)
{
    return answer(call, 0, p, NULL, NULL, NULL, 0);
}

int
epy_call_fail(epy_call *call, int code, const char *type,
              const char *message, const void *payload, size_t len)
{
    if (code >= 0 || (payload == NULL && len > 0))
        return EPY_EPARAM;
    return answer(call, code, NULL, type, message, payload, len);
}

int
epy_listener_default_unhandled(epy_call *call, int reason, const uint8_t *req,
                               size_t req_len, void *ctx)
{
    char msg[EPY_NAME_MAX + 96];
    const char *dot;

    (void) req;
    (void) req_len;
    (void) ctx;
    if (!call->solicited) {
        epy__log(call->peer, EPY_LOG_INFO, "dropped unhandled event '%s'",
                 call->method);
        return 0;
    }
    dot = strchr(call->method, '.');
    if (reason == EPY_EUNSUPPORTED)
        snprintf(msg, sizeof msg, "unsupported method '%s' (namespace '%.*s')",
                 call->method, (int) (dot ? dot - call->method : 0),
                 call->method);
    else
        snprintf(msg, sizeof msg, "unknown api: no namespace here serves '%s'",
                 call->method);
    epy_call_fail(call, reason, NULL, msg, NULL, 0);
    return 0;
}

/*
 * The gate of a driven peer: at most run_cap of its calls run at once
 * on the shared pool (its workers + max_spare_workers), so that one
 * client cannot take every worker; the rest wait in the peer's gate.
 */
void
epy__call_queue(epy_call *call)
{
    epy_peer *peer = call->peer;
    bool go = true;

    if (peer->driven) {
        pthread_mutex_lock(&peer->calls_lock);
        if (peer->running < peer->run_cap) {
            peer->running++;
        } else {
            go = false;
            call->job.next = NULL;
            if (peer->gate_tail != NULL)
                peer->gate_tail->next = &call->job;
            else
                peer->gate_head = &call->job;
            peer->gate_tail = &call->job;
        }
        pthread_mutex_unlock(&peer->calls_lock);
    }
    if (go)
        epy__peer_push(peer, &call->job);
}

/* A call of a driven peer has stopped running: the next one may. */
static void
gate_next(epy_peer *peer)
{
    epy__job *next = NULL;

    if (!peer->driven)
        return;
    pthread_mutex_lock(&peer->calls_lock);
    if (peer->gate_head != NULL) {
        next = peer->gate_head;
        peer->gate_head = next->next;
        if (peer->gate_head == NULL)
            peer->gate_tail = NULL;
    } else {
        peer->running--;
    }
    pthread_mutex_unlock(&peer->calls_lock);
    if (next != NULL)
        epy__peer_push(peer, next);
}

bool
epy__call_gate_saturated(epy_peer *peer)
{
    bool sat;

    pthread_mutex_lock(&peer->calls_lock);
    sat = peer->running >= peer->run_cap
          && atomic_load(&peer->blocked_calls) >= peer->running;
    pthread_mutex_unlock(&peer->calls_lock);
    return sat;
}

static void
run_call(epy__job *job)
{
    epy_call *call = EPY__CONTAINER(job, epy_call, job);
    epy_peer *peer = call->peer;
    int rc, prev;

    unqueue(peer);

    /*
     * Nobody waits for the answer any more: the call was cancelled, or
     * the connection is gone (a server's client that left: its queued
     * calls must not hold up those of the clients still there).
     */
    if (atomic_load(&peer->closing)
        || (call->solicited && (atomic_load(&call->cancelled)
                                || atomic_load(&peer->io_gone)))) {
        gate_next(peer);
        finish(call);
        return;
    }
    epy__pool_count_blocked(&peer->blocked_calls);
    if (call->target.entry != NULL) {
        rc = epy__registry_invoke(&call->target, call, call->req,
                                  call->req_len);
    } else if (epy__builtin_name(call->method) && epy__builtin_call(call)) {
        rc = 0;
    } else {
        epy_listener l;
        void *ctx;

        epy__peer_listener(peer, &l, &ctx);
        if (l.unhandled != NULL)
            rc = l.unhandled(call, call->target.reason, call->req,
                             call->req_len, ctx);
        else
            rc = epy_listener_default_unhandled(call, call->target.reason,
                                                call->req, call->req_len, ctx);
    }
    /*
     * The handler has returned: it no longer runs, even if it keeps the
     * call (a removal of the handler need not wait for the answer).
     */
    epy__registry_done(peer->reg, &call->target);
    epy__pool_count_blocked(NULL);
    gate_next(peer);
    if (rc == EPY_DEFER) {
        prev = atomic_fetch_or(&call->state, EPY__CALL_DEFERRED);
        if (prev & EPY__CALL_ANSWERED)
            finish(call);
        return;
    }
    if (!(atomic_load(&call->state) & EPY__CALL_ANSWERING)) {
        if (rc < 0)
            answer(call, rc, NULL, NULL, NULL, NULL, 0);
        else
            answer(call, 0, NULL, NULL, NULL, NULL, 0);
    }
    finish(call);
}

/* Answers a call refused before it was made with @code and @message. */
static void
refuse(epy_peer *peer, const Epyrpc__Envelope *env, bool solicited, int code,
       const char *message)
{
    epy__log(peer, EPY_LOG_WARNING, "refused '%s': %s", env->method, message);
    if (solicited)
        epy__peer_send_error(peer, env->txn, code, message);
}

/* A queued call has gone to a worker, or was never made. */
static void
unqueue(epy_peer *peer)
{
    bool kick;

    pthread_mutex_lock(&peer->calls_lock);
    kick = peer->queued-- == peer->cfg.max_queued;
    if (kick)
        pthread_cond_signal(&peer->queue_cond);
    pthread_mutex_unlock(&peer->calls_lock);
    if (kick)
        epy__peer_drive_kick(peer);     /* a loop that stopped reading */
}

/*
 * Makes room for a received call of @len request bytes and @nfd
 * descriptors: a place in the queue (max_queued) and @charge (its bytes
 * and EPY__FD_CHARGE for each descriptor) in the server's memory budget.
 * Backpressure first: the reader waits, so the other end's writes
 * block. But when every worker waits in a call of its own and no spare
 * may start, waiting could wait for ever (the replies those workers
 * need come on this connection): the call is refused with EPY_EBUSY
 * instead. The memory budget is waited for a second at most. Returns 0
 * (counted), 1 (refused and answered), 2 (a driven peer's call to be
 * read again later), or the code ending the connection.
 */
static int
admit(epy_peer *peer, const Epyrpc__Envelope *env, bool solicited, size_t len,
      size_t nfd, size_t charge)
{
    char msg[160];
    int rc;

    pthread_mutex_lock(&peer->calls_lock);
    while (peer->queued >= peer->cfg.max_queued && epy__peer_check(peer) == 0) {
        /* A loop never waits: it stops reading before the queue is full. */
        if (peer->driven || epy__pool_saturated(peer->pool)) {
            pthread_mutex_unlock(&peer->calls_lock);
            snprintf(msg, sizeof msg, "busy: %zu calls wait and every "
                     "worker waits in a call of its own", peer->queued);
            refuse(peer, env, solicited, EPY_EBUSY, msg);
            return 1;
        }
        atomic_store(&peer->queue_waiting, true);
        pthread_cond_wait(&peer->queue_cond, &peer->calls_lock);
        atomic_store(&peer->queue_waiting, false);
    }
    rc = epy__peer_check(peer);
    if (rc == 0)
        peer->queued++;
    pthread_mutex_unlock(&peer->calls_lock);
    if (rc != 0)
        return rc;
    rc = epy__limits_take_mem(peer->limits, charge,
                              peer->driven ? 0 : ADMIT_WAIT_NS);
    if (rc == EPY_EBUSY && peer->driven) {
        /*
         * A loop never waits: the frame stays unread, and the loop
         * stops reading this connection until the memory is there or
         * the wait is over (drive.c).
         */
        int64_t now = epy__now_ns();

        if (peer->hold_since == 0)
            peer->hold_since = now;
        if (now - peer->hold_since < ADMIT_WAIT_NS) {
            unqueue(peer);
            return 2;
        }
    }
    peer->hold_since = 0;
    if (rc < 0) {
        unqueue(peer);
        snprintf(msg, sizeof msg, rc == EPY_ETOOBIG
                 ? "a request of %zu bytes and %zu descriptors exceeds the "
                   "server's max_call_memory"
                 : "busy: the server's max_call_memory is held by other "
                   "calls (this one has %zu bytes and %zu descriptors)",
                 len, nfd);
        refuse(peer, env, solicited, rc, msg);
        return 1;
    }
    return 0;
}

int
epy__call_dispatch(epy_peer *peer, const Epyrpc__Envelope *env,
                   const uint8_t *payload, size_t len, const uint8_t *lender,
                   epy__fdset **fds, epy_call **ret_call)
{
    bool solicited = env->kind == EPYRPC__KIND__CALL;
    size_t mlen, nfd, charge;
    epy__target target;
    epy_call *call;
    int rc;

    if (env->method == NULL || (solicited && (!env->has_txn || env->txn == 0)))
        return EPY_EPROTO;
    mlen = strlen(env->method);
    if (epy__name_check(env->method, mlen) < 0) {
        epy__log(peer, EPY_LOG_WARNING, "call of an invalid method name");
        if (solicited)
            epy__peer_send_error(peer, env->txn, EPY_EPARAM,
                                 "invalid method name");
        return 0;
    }
    epy__registry_resolve(peer->reg, env->method, mlen, &target);
    if (target.entry == NULL && atomic_load(&peer->ignore_unhandled)
        && !epy__builtin_name(env->method)) {
        epy__log(peer, EPY_LOG_DEBUG, "ignored unhandled '%s'", env->method);
        return 0;
    }
    if (len == 0)
        lender = NULL;
    nfd = *fds != NULL ? (size_t) (*fds)->n : 0;
    charge = len + nfd * EPY__FD_CHARGE;
    rc = admit(peer, env, solicited, len, nfd, charge);
    if (rc < 0) {
        epy__registry_done(peer->reg, &target);
        return rc;
    }
    if (rc > 0) {
        epy__registry_done(peer->reg, &target);
        return rc == 2 ? EPY__FRAME_HOLD : 0;   /* held, or refused */
    }
    call = malloc(sizeof *call + mlen + 1 + (lender != NULL ? 0 : len));
    if (call == NULL) {
        epy__limits_give_mem(peer->limits, charge);
        unqueue(peer);
        epy__registry_done(peer->reg, &target);
        return EPY_ENOMEM;
    }
    memset(call, 0, sizeof *call);
    call->peer = epy__peer_ref(peer);
    call->target = target;
    call->txn = solicited ? env->txn : EPY_TXN_NONE;
    call->solicited = solicited;
    atomic_init(&call->cancelled, false);
    atomic_init(&call->state, 0);
    if (env->has_timeout_ms && env->timeout_ms > 0) {
        /* The caller's budget, as any API timeout, is at most a day. */
        int64_t ms = env->timeout_ms < EPY_TIMEOUT_MAX ? env->timeout_ms
                                                       : EPY_TIMEOUT_MAX;

        call->deadline = epy__now_ns() + ms * 1000000;
    }
    memcpy(call->method, env->method, mlen + 1);
    call->req_len = len;
    call->charged = peer->limits != NULL ? charge : 0;
    if (lender != NULL) {
        /* The request stays where it was read; the call holds the buffer. */
        epy__rbuf_ref(lender);
        call->lender = lender;
        call->req = payload;
    } else {
        call->req = (const uint8_t *) call->method + mlen + 1;
        if (len > 0)
            memcpy((uint8_t *) call->req, payload, len);
    }
    call->fds = *fds;           /* the handler's to take */
    *fds = NULL;
    epy__list_init(&call->link);
    call->job.run = run_call;
    pthread_mutex_lock(&peer->calls_lock);
    if (solicited) {
        call->listed = true;
        epy__list_add(&peer->calls, &call->link);
    }
    pthread_mutex_unlock(&peer->calls_lock);
    if (ret_call != NULL)
        *ret_call = call;
    else
        epy__call_queue(call);
    return 0;
}

void
epy__call_run(epy_call *call)
{
    run_call(&call->job);
}

void
epy__call_cancel(epy_peer *peer, epy_txn_id id)
{
    pthread_mutex_lock(&peer->calls_lock);
    for (epy__link *l = peer->calls.next; l != &peer->calls; l = l->next) {
        epy_call *call = EPY__CONTAINER(l, epy_call, link);

        if (call->txn == id) {
            atomic_store(&call->cancelled, true);
            break;
        }
    }
    pthread_mutex_unlock(&peer->calls_lock);
}

void
epy__call_cancel_all(epy_peer *peer)
{
    pthread_mutex_lock(&peer->calls_lock);
    for (epy__link *l = peer->calls.next; l != &peer->calls; l = l->next)
        atomic_store(&EPY__CONTAINER(l, epy_call, link)->cancelled, true);
    pthread_mutex_unlock(&peer->calls_lock);
}

const char *
epy_call_method(const epy_call *call)
{
    return call != NULL ? call->method : NULL;
}

epy_txn_id
epy_call_txn_id(const epy_call *call)
{
    return call != NULL ? call->txn : EPY_TXN_NONE;
}

bool
epy_call_solicited(const epy_call *call)
{
    return call != NULL && call->solicited;
}

epy_peer *
epy_call_peer(const epy_call *call)
{
    return call != NULL ? call->peer : NULL;
}

void *
epy_call_ctx(const epy_call *call)
{
    return call != NULL ? call->target.ctx : NULL;
}

int64_t
epy_call_remaining_ms(const epy_call *call)
{
    int64_t left;

    if (call == NULL || call->deadline == 0)
        return -1;
    left = call->deadline - epy__now_ns();
    return left <= 0 ? 0 : (left + 999999) / 1000000;
}

bool
epy_call_cancelled(const epy_call *call)
{
    if (call == NULL)
        return true;
    return atomic_load(&((epy_call *) call)->cancelled)
           || atomic_load(&call->peer->io_gone)
           || (call->deadline != 0 && epy__now_ns() >= call->deadline)
           || epy__peer_check(call->peer) != 0;
}
