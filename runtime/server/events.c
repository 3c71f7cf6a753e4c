/*
 * Events sent without waiting for the other end: to one peer
 * (epy_peer_post_event()) and to every client of a server
 * (epy_server_broadcast()). The frame goes into the peer's outgoing
 * queue (writer.c) and one of the peer's own workers writes it, so the
 * sender never waits for a reader: a client that reads slowly or not at
 * all holds back nobody else. Its queue is bounded (max_send_queue);
 * a broadcast to a client whose queue is full drops that client, and a
 * client that reads nothing for the server's send_timeout_ms is
 * dropped by the write itself.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <epyrpc/gen.h>

#include "net-int.h"

/* Ends @peer's connection with @code: it cannot keep up. */
static void
drop_slow(epy_peer *peer, int code)
{
    if (epy__peer_abort(peer, code))
        epy__log(peer, EPY_LOG_WARNING, "dropped the other end: it leaves "
                 "more than max_send_queue (%zu bytes) of events unread",
                 peer->cfg.max_send_queue);
}

/* Queues the EVENT frame of @method with @p on @peer. */
static int
post(epy_peer *peer, const char *method, const epy__payload *p)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    epy__payload q = *p;

    env.kind = EPYRPC__KIND__EVENT;
    env.method = (char *) method;
    q.post = true;
    q.deadline = 0;
    return epy__peer_send_payload(peer, &env, &q);
}

static int
check_method(const char *method, epy_error *err)
{
    if (method == NULL || epy__name_check(method, strlen(method)) < 0
        || strchr(method, '.') == NULL)
        return epy_error_setf(err, EPY_EPARAM,
                              "'%s' is not a method name (ns.method)",
                              method != NULL ? method : "(null)");
    return 0;
}

int
epy__peer_post_payload(epy_peer *peer, const char *method,
                       const epy__payload *p, epy_error *err)
{
    int rc;

    if (peer == NULL)
        return epy_error_set(err, EPY_EPARAM, "NULL peer");
    rc = check_method(method, err);
    if (rc < 0)
        return rc;
    rc = post(peer, method, p);
    if (rc == EPY_EBUSY)
        return epy_error_setf(err, rc, "event '%s': the other end leaves "
                              "%zu bytes unread (max_send_queue)", method,
                              peer->cfg.max_send_queue);
    if (rc == EPY_ETOOBIG)
        return epy_error_setf(err, rc, "event '%s' of %zu bytes is larger "
                              "than max_frame or max_send_queue (%zu)",
                              method, epy__payload_len(p),
                              peer->cfg.max_send_queue);
    return rc < 0 ? epy_error_set(err, rc, NULL) : 0;
}

int
epy__server_broadcast_payload(epy_server *srv, const char *method,
                              const epy__payload *p, epy_error *err)
{
    epy_peer **peers;
    size_t n, sent = 0;
    int rc;

    if (srv == NULL)
        return epy_error_set(err, EPY_EPARAM, "NULL server");
    rc = check_method(method, err);
    if (rc < 0)
        return rc;
    rc = epy__server_peers(srv, &peers, &n);
    if (rc < 0)
        return epy_error_set(err, rc, NULL);
    for (size_t i = 0; i < n; i++) {
        rc = post(peers[i], method, p);
        if (rc == 0)
            sent++;
        else if (rc == EPY_EBUSY)
            drop_slow(peers[i], EPY_EBUSY);
        else if (rc == EPY_ETOOBIG)
            epy__log(peers[i], EPY_LOG_WARNING, "event '%s' of %zu bytes "
                     "not sent: larger than the client's max_frame or "
                     "max_send_queue", method, epy__payload_len(p));
        epy__peer_unref(peers[i]);
    }
    free(peers);
    return sent > (size_t) INT32_MAX ? INT32_MAX : (int) sent;
}

int
epy_peer_post_event(epy_peer *peer, const char *method, const void *data,
                    size_t len, epy_error *ret_err)
{
    epy__payload p = { .data = data, .len = len, .post = true };

    if (data == NULL && len > 0)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL data");
    return epy__peer_post_payload(peer, method, &p, ret_err);
}

int
epy_server_broadcast(epy_server *srv, const char *method, const void *data,
                     size_t len, epy_error *ret_err)
{
    epy__payload p = { .data = data, .len = len, .post = true };

    if (data == NULL && len > 0)
        return epy_error_set(ret_err, EPY_EPARAM, "NULL data");
    return epy__server_broadcast_payload(srv, method, &p, ret_err);
}
