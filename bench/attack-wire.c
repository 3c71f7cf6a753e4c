/*
 * bench/attack's wire (see attack.h): hand-encoded frames, and raw
 * connections to a server that read what comes back.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

#include "attack.h"

/* --- little helpers ------------------------------------------------------ */

double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
sleep_s(double s)
{
    struct timespec ts;

    if (s <= 0)
        return;
    ts.tv_sec = (time_t) s;
    ts.tv_nsec = (long) ((s - (double) ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void
die(const char *what)
{
    fprintf(stderr, "attack: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* --- frames ------------------------------------------------------------- */

static void
wb_put(wbuf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            die("realloc");
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void
wb_varint(wbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;

    do {
        tmp[n] = (uint8_t) (v & 0x7f);
        v >>= 7;
        if (v != 0)
            tmp[n] |= 0x80;
        n++;
    } while (v != 0);
    wb_put(b, tmp, n);
}

static void
wb_field_varint(wbuf *b, unsigned field, uint64_t v)
{
    wb_varint(b, (uint64_t) field << 3);
    wb_varint(b, v);
}

static void
wb_field_bytes(wbuf *b, unsigned field, const void *data, size_t n)
{
    wb_varint(b, (uint64_t) field << 3 | 2);
    wb_varint(b, n);
    wb_put(b, data, n);
}

/* Prefixes @env with its length, appending the frame to @out. */
static void
wb_frame(wbuf *out, const wbuf *env)
{
    uint8_t len[4] = { (uint8_t) env->len, (uint8_t) (env->len >> 8),
                       (uint8_t) (env->len >> 16), (uint8_t) (env->len >> 24) };

    wb_put(out, len, 4);
    wb_put(out, env->p, env->len);
}

void
frame_hello(wbuf *out, size_t n_empty, bool zlib)
{
    wbuf h = { 0 }, env = { 0 };

    wb_field_varint(&h, 1, 1);                  /* version */
    for (size_t i = 0; i < n_empty; i++)
        wb_field_bytes(&h, 2, NULL, 0);         /* interfaces: "" */
    wb_field_varint(&h, 3, zlib);               /* zlib */
    wb_field_varint(&h, 4, 16u << 20);          /* max_frame */
    wb_field_varint(&env, 1, K_HELLO);
    wb_field_bytes(&env, 9, h.p, h.len);
    wb_frame(out, &env);
    free(h.p);
    free(env.p);
}

void
frame_call(wbuf *out, uint64_t txn, const char *method, size_t mlen,
           int64_t timeout_ms, uint64_t raw_len, const void *payload,
           size_t plen)
{
    wbuf env = { 0 };

    wb_field_varint(&env, 1, K_CALL);
    wb_field_varint(&env, 2, txn);
    wb_field_bytes(&env, 3, method, mlen);
    if (timeout_ms >= 0)
        wb_field_varint(&env, 8, (uint64_t) timeout_ms);
    if (raw_len != 0)
        wb_field_varint(&env, 10, raw_len);
    wb_field_bytes(&env, 15, payload, plen);
    wb_frame(out, &env);
    free(env.p);
}

void
frame_call_str(wbuf *out, uint64_t txn, const char *method,
               const void *payload, size_t plen)
{
    frame_call(out, txn, method, strlen(method), -1, 0, payload, plen);
}

/* --- raw connections ----------------------------------------------------- */

/* A decoded envelope: only what the attacks look at. */
typedef struct envelope {
    unsigned kind;
    uint64_t txn;
    int code;
} envelope;

static int
unix_connect(const char *path, double timeout_s)
{
    struct sockaddr_un sun;
    double end = now_s() + timeout_s;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
            die("socket");
        if (connect(fd, (struct sockaddr *) &sun, sizeof sun) == 0)
            return fd;
        close(fd);
        if (now_s() > end)
            return -1;
        sleep_s(0.01);
    }
}

bool
conn_open(conn *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->fd = unix_connect(path, 5);
    c->closed = c->fd < 0;
    return c->fd >= 0;
}

void
conn_close(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->closed = true;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

bool
conn_send(conn *c, const wbuf *b)
{
    size_t off = 0;

    while (off < b->len) {
        ssize_t n = send(c->fd, b->p + off, b->len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->closed = true;
            return false;
        }
        off += (size_t) n;
    }
    return true;
}

static bool
get_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
    uint64_t v = 0;

    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;

        v |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *ret = v;
            return true;
        }
    }
    return false;
}

static void
parse_envelope(const uint8_t *p, size_t size, envelope *e)
{
    const uint8_t *end = p + size;

    memset(e, 0, sizeof *e);
    while (p < end) {
        uint64_t key, v;

        if (!get_varint(&p, end, &key))
            return;
        switch (key & 7) {
        case 0:
            if (!get_varint(&p, end, &v))
                return;
            if (key >> 3 == 1)
                e->kind = (unsigned) v;
            else if (key >> 3 == 2)
                e->txn = v;
            else if (key >> 3 == 4)     /* sint32: zigzag */
                e->code = (int) ((v >> 1) ^ (~(v & 1) + 1));
            break;
        case 1:
            p += 8;
            break;
        case 5:
            p += 4;
            break;
        case 2:
            if (!get_varint(&p, end, &v) || v > (uint64_t) (end - p))
                return;
            p += v;
            break;
        default:
            return;
        }
    }
}

/*
 * Reads the next frame until @deadline (now_s() time). Returns 1 with
 * @e filled, 0 at the deadline, -1 when the connection ended.
 */
static int
conn_next(conn *c, double deadline, envelope *e)
{
    for (;;) {
        struct pollfd pfd;
        ssize_t n;
        double left;

        if (c->len >= 4) {
            size_t size = (size_t) c->buf[0] | (size_t) c->buf[1] << 8
                          | (size_t) c->buf[2] << 16
                          | (size_t) c->buf[3] << 24;

            if (c->len - 4 >= size) {
                parse_envelope(c->buf + 4, size, e);
                memmove(c->buf, c->buf + 4 + size, c->len - 4 - size);
                c->len -= 4 + size;
                return 1;
            }
            if (c->cap < 4 + size) {
                c->buf = realloc(c->buf, 4 + size);
                if (c->buf == NULL)
                    die("realloc");
                c->cap = 4 + size;
            }
        }
        if (c->closed)
            return -1;
        if (c->cap - c->len < 4096) {
            c->cap = c->cap ? c->cap * 2 : 65536;
            c->buf = realloc(c->buf, c->cap);
            if (c->buf == NULL)
                die("realloc");
        }
        left = deadline - now_s();
        if (left <= 0)
            return 0;
        pfd.fd = c->fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, (int) (left * 1000) + 1) <= 0)
            continue;
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            c->closed = true;
            return -1;
        }
        c->len += (size_t) n;
    }
}

int
conn_answer(conn *c, uint64_t txn, double deadline, int *code)
{
    envelope e;
    int rc;

    while ((rc = conn_next(c, deadline, &e)) == 1) {
        if ((e.kind == K_REPLY || e.kind == K_ERROR) && e.txn == txn) {
            if (code != NULL)
                *code = e.code;
            return (int) e.kind;
        }
    }
    return rc;
}

void
conn_answers(conn *c, int want, double deadline, answers *a)
{
    envelope e;
    int rc = 0;

    memset(a, 0, sizeof *a);
    while (a->replies + a->errors < want
           && (rc = conn_next(c, deadline, &e)) == 1) {
        if (e.kind == K_REPLY)
            a->replies++;
        if (e.kind == K_ERROR && a->errors++ == 0)
            a->first_error = e.code;
    }
    a->closed = rc < 0;
    snprintf(a->text, sizeof a->text, "answers %d/%d: %d replies, %d errors%s%s%s",
             a->replies + a->errors, want, a->replies, a->errors,
             a->errors > 0 ? " (" : "",
             a->errors > 0 ? epy_status_name(a->first_error) : "",
             a->errors > 0 ? ")" : "");
    if (a->closed)
        snprintf(a->text + strlen(a->text), sizeof a->text - strlen(a->text),
                 "; connection closed by the server");
}

bool
conn_hello(conn *c, bool zlib)
{
    wbuf b = { 0 };
    bool ok;

    frame_hello(&b, 0, zlib);
    ok = conn_send(c, &b);
    free(b.p);
    return ok;
}

bool
echo_works(conn *c, uint64_t txn)
{
    wbuf b = { 0 };
    bool ok;

    frame_call_str(&b, txn, "t.echo", "ping", 4);
    ok = conn_send(c, &b) && conn_answer(c, txn, now_s() + 3, NULL) == K_REPLY;
    free(b.p);
    return ok;
}

bool
still_connected(conn *c)
{
    if (c->closed)
        return false;
    for (;;) {
        struct pollfd pfd = { c->fd, POLLIN, 0 };
        uint8_t tmp[4096];
        ssize_t n;

        if (poll(&pfd, 1, 0) <= 0)
            return true;
        if ((pfd.revents & (POLLHUP | POLLERR)) && !(pfd.revents & POLLIN))
            return false;
        n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        c->closed = true;
        return false;
    }
}
