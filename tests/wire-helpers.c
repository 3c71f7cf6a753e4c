/*
 * Frames written and read by hand on a raw socket.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"
#include "wire-helpers.h"

void
tw_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;

    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

        if (w <= 0)
            return;     /* the other end has gone: the test says what it expects */
        b += w;
        n -= (size_t) w;
    }
}

void
tw_send_env(int fd, Epyrpc__Envelope *env)
{
    size_t n = epyrpc__envelope__get_packed_size(env);
    uint8_t *buf = malloc(n + 4);

    ck_assert_ptr_nonnull(buf);
    buf[0] = (uint8_t) n;
    buf[1] = (uint8_t) (n >> 8);
    buf[2] = (uint8_t) (n >> 16);
    buf[3] = (uint8_t) (n >> 24);
    epyrpc__envelope__pack(env, buf + 4);
    tw_write_all(fd, buf, n + 4);
    free(buf);
}

void
tw_send_hello(int fd, uint32_t version, const char *iface, bool zlib)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    Epyrpc__Hello h = EPYRPC__HELLO__INIT;
    char *ifaces[1] = { (char *) iface };

    h.version = version;
    h.n_interfaces = iface != NULL;
    h.interfaces = ifaces;
    h.has_zlib = true;
    h.zlib = zlib;
    env.kind = EPYRPC__KIND__HELLO;
    env.hello = &h;
    tw_send_env(fd, &env);
}

static bool
read_full(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);

        if (r <= 0)
            return false;
        got += (size_t) r;
    }
    return true;
}

Epyrpc__Envelope *
tw_read_env(int fd)
{
    uint8_t hdr[4];
    uint8_t *buf;
    size_t n;
    Epyrpc__Envelope *env;

    if (!read_full(fd, hdr, 4))
        return NULL;
    n = hdr[0] | (size_t) hdr[1] << 8 | (size_t) hdr[2] << 16
        | (size_t) hdr[3] << 24;
    buf = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert(read_full(fd, buf, n));
    env = epyrpc__envelope__unpack(NULL, n, buf);
    free(buf);
    ck_assert_ptr_nonnull(env);
    return env;
}

void
tw_read_until_eof(int fd)
{
    Epyrpc__Envelope *env;

    while ((env = tw_read_env(fd)) != NULL)
        epyrpc__envelope__free_unpacked(env, NULL);
}

/* --- additions: hostile clients (check_hostile) -------------------------- */

int
tw_connect_unix(const char *url)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;

    ck_assert_msg(strncmp(url, "unix:", 5) == 0, "not a unix url: %s", url);
    ck_assert_uint_lt(strlen(url + 5), sizeof sun.sun_path);
    memcpy(sun.sun_path, url + 5, strlen(url + 5) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(connect(fd, (struct sockaddr *) &sun, sizeof sun) == 0,
                  "connect %s: %s", url, strerror(errno));
    return fd;
}

/*
 * Reads @n bytes by @deadline (ms of tu_now_ms()). Returns 1, 0 at the
 * end of the stream (or a reset), -1 on the deadline.
 */
static int
read_by(int fd, uint8_t *buf, size_t n, int64_t deadline)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        int64_t left = deadline - tu_now_ms();
        ssize_t r;
        int pr;

        /* Always one look, even with the deadline passed. */
        pr = poll(&pfd, 1, (int) (left <= 0 ? 0 : left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR)
            return 0;
        if (pr <= 0) {
            if (left <= 0)
                return -1;
            continue;
        }
        r = read(fd, buf + got, n - got);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
            return 0;
        if (r > 0)
            got += (size_t) r;
    }
    return 1;
}

int
tw_read_env_timeout(int fd, int64_t timeout_ms, Epyrpc__Envelope **ret_env)
{
    uint8_t hdr[4];
    uint8_t *buf;
    size_t n;
    int rc;

    *ret_env = NULL;
    rc = read_by(fd, hdr, 1, tu_now_ms() + timeout_ms);
    if (rc <= 0)
        return rc;
    /* A frame has started: the rest must follow. */
    rc = read_by(fd, hdr + 1, 3, tu_now_ms() + 10000 * tu_slow());
    ck_assert_msg(rc != -1, "a frame started but its length did not follow");
    if (rc == 0)
        return 0;
    n = hdr[0] | (size_t) hdr[1] << 8 | (size_t) hdr[2] << 16
        | (size_t) hdr[3] << 24;
    buf = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(buf);
    rc = read_by(fd, buf, n, tu_now_ms() + 10000 * tu_slow());
    ck_assert_msg(rc != -1, "a frame of %zu bytes started but did not end", n);
    if (rc == 0) {
        free(buf);
        return 0;
    }
    *ret_env = epyrpc__envelope__unpack(NULL, n, buf);
    free(buf);
    ck_assert_msg(*ret_env != NULL, "undecodable frame of %zu bytes", n);
    return 1;
}

bool
tw_wait_eof(int fd, int64_t timeout_ms, long *kinds)
{
    int64_t deadline = tu_now_ms() + timeout_ms;

    for (;;) {
        Epyrpc__Envelope *env;
        int64_t left = deadline - tu_now_ms();
        int rc;

        if (left <= 0)
            return false;
        rc = tw_read_env_timeout(fd, left, &env);
        if (rc == 0)
            return true;
        if (rc < 0)
            return false;
        if (kinds != NULL && env->kind >= 0 && env->kind < 8)
            kinds[env->kind]++;
        epyrpc__envelope__free_unpacked(env, NULL);
    }
}

void
tw_msg_init(tw_msg *m)
{
    m->data = NULL;
    m->len = m->cap = 0;
}

void
tw_msg_free(tw_msg *m)
{
    free(m->data);
    tw_msg_init(m);
}

static void
msg_reserve(tw_msg *m, size_t more)
{
    if (m->cap - m->len < more) {
        size_t cap = m->cap ? m->cap : 64;

        while (cap - m->len < more)
            cap *= 2;
        m->data = realloc(m->data, cap);
        ck_assert_ptr_nonnull(m->data);
        m->cap = cap;
    }
}

static void
msg_put_varint(tw_msg *m, uint64_t v)
{
    msg_reserve(m, 10);
    do {
        uint8_t b = v & 0x7f;

        v >>= 7;
        m->data[m->len++] = b | (v ? 0x80 : 0);
    } while (v);
}

void
tw_msg_varint(tw_msg *m, unsigned field, uint64_t value)
{
    msg_put_varint(m, (uint64_t) field << 3);
    msg_put_varint(m, value);
}

void
tw_msg_bytes(tw_msg *m, unsigned field, const void *p, size_t n)
{
    msg_put_varint(m, (uint64_t) field << 3 | 2);
    msg_put_varint(m, n);
    msg_reserve(m, n);
    if (n > 0)
        memcpy(m->data + m->len, p, n);
    m->len += n;
}

void
tw_send_msg(int fd, const tw_msg *m)
{
    uint8_t hdr[4];

    ck_assert_uint_le(m->len, UINT32_MAX);
    hdr[0] = (uint8_t) m->len;
    hdr[1] = (uint8_t) (m->len >> 8);
    hdr[2] = (uint8_t) (m->len >> 16);
    hdr[3] = (uint8_t) (m->len >> 24);
    tw_write_all(fd, hdr, 4);
    tw_write_all(fd, m->data, m->len);
}
