/*
 * Frames written and read by hand on a raw socket.
 */
#include <config.h>

#include <stdlib.h>
#include <sys/socket.h>
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
