/*
 * Values out of line ("blobs") from a hostile end: a peer serving
 * tests/idlc/blobs.idl with blobs enabled on one end of a socketpair,
 * and frames written by hand on the other, with their memfds passed by
 * SCM_RIGHTS. Valid blobs are answered; a value whose memfd is unsealed,
 * writable, not a memfd, short, sparse, a string without its NUL, a
 * value with an inline copy too, or a descriptor named twice fails its
 * call with EPY_EPROTO and the connection goes on; a frame whose blob
 * references are malformed (descriptor index, length, path, count, or a
 * peer that takes none) ends the connection with EPY_EPROTO. No
 * descriptor nor mapping is left behind.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <check.h>
#include <epyrpc/epyrpc.h>

#include "blobs.epy.h"
#include "blobs.pb-c.h"
#include "../testutil.h"
#include "../wire-helpers.h"

#define MAX_FDS 64
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define WAIT_MS (5000 * tu_slow())

/* --- the handlers -------------------------------------------------------- */

/* What the handlers saw: a refused call must never reach one. */
static atomic_int handled;
static _Atomic uint64_t seen_len;

static int
h_sum(epy_call *call, const epy_bytes *b, uint64_t *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    atomic_fetch_add(&handled, 1);
    atomic_store(&seen_len, b->len);
    *ret = 0;
    for (size_t i = 0; i < b->len; i++)
        *ret += b->data[i];
    return 0;
}

static int
h_echo_text(epy_call *call, const char *s, char **ret, void *ctx)
{
    (void) call;
    (void) ctx;
    atomic_fetch_add(&handled, 1);
    *ret = strdup(s);
    return *ret != NULL ? 0 : EPY_ENOMEM;
}

/* Answers an empty list; records the total length of the items' data. */
static int
h_echo_items(epy_call *call, const blobs_item_list *items,
             blobs_item_list *ret, void *ctx)
{
    uint64_t n = 0;

    (void) call;
    (void) ret;
    (void) ctx;
    atomic_fetch_add(&handled, 1);
    for (size_t i = 0; i < items->n; i++)
        n += items->items[i].data.len;
    atomic_store(&seen_len, n);
    return 0;
}

static const blobs_handlers handlers = {
    .sum = h_sum, .echo_text = h_echo_text, .echo_items = h_echo_items,
};

/* --- the two ends -------------------------------------------------------- */

static epy_peer *peer;
static int raw = -1;

static void
setup(void)
{
    tu_setup_resources();
    atomic_store(&handled, 0);
    atomic_store(&seen_len, 0);
}

/* Closes both ends (the teardown ends every test), then counts. */
static void
teardown(void)
{
    peer = epy_peer_close(peer);
    if (raw >= 0)
        close(raw);
    raw = -1;
    tu_teardown_resources();
}

/*
 * Writes one frame (length prefix and @env) with @n_fds descriptors
 * attached to its first byte.
 */
static void
send_frame(Epyrpc__Envelope *env, const int *fds, int n_fds)
{
    size_t n = epyrpc__envelope__get_packed_size(env);
    size_t fdlen = sizeof(int) * (size_t) n_fds;
    uint8_t *buf = malloc(n + 4);
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    } u = { .h = { .cmsg_len = CMSG_LEN(fdlen), .cmsg_level = SOL_SOCKET,
                   .cmsg_type = SCM_RIGHTS } };
    struct iovec iov = { buf, n + 4 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t w;

    ck_assert_ptr_nonnull(buf);
    ck_assert_int_le(n_fds, MAX_FDS);
    if (n_fds > 0) {
        msg.msg_control = u.b;
        msg.msg_controllen = CMSG_SPACE(fdlen);
        memcpy(CMSG_DATA(&u.h), fds, fdlen);
    }
    for (int i = 0; i < 4; i++)
        buf[i] = (uint8_t) (n >> 8 * i);
    epyrpc__envelope__pack(env, buf + 4);
    w = sendmsg(raw, &msg, MSG_NOSIGNAL);
    ck_assert_msg(w > 0, "sendmsg: %s", strerror(errno));
    tw_write_all(raw, buf + w, n + 4 - (size_t) w);
    free(buf);
}

/* A frame read with the descriptors that came with it. */
typedef struct frame_in {
    Epyrpc__Envelope *env;
    int fds[MAX_FDS];
    int n_fds;
} frame_in;

static void
frame_free(frame_in *in)
{
    if (in->env != NULL)
        epyrpc__envelope__free_unpacked(in->env, NULL);
    in->env = NULL;
    for (int i = 0; i < in->n_fds; i++)
        close(in->fds[i]);
    in->n_fds = 0;
}

/*
 * Reads @n bytes (the socket's receive timeout applies), keeping the
 * descriptors that come. Returns 1, 0 at the end of the stream, -1 if
 * nothing came in time.
 */
static int
recv_all(uint8_t *buf, size_t n, frame_in *in)
{
    for (size_t got = 0; got < n;) {
        union {
            struct cmsghdr h;
            char b[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        } u;
        struct iovec iov = { buf + got, n - got };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = u.b,
                              .msg_controllen = sizeof u.b };
        ssize_t r = recvmsg(raw, &msg, MSG_CMSG_CLOEXEC);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? -1 : 0;
        ck_assert(!(msg.msg_flags & MSG_CTRUNC));
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
             c = CMSG_NXTHDR(&msg, c)) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            for (size_t i = 0; c->cmsg_type == SCM_RIGHTS && i < k; i++) {
                ck_assert_int_lt(in->n_fds, MAX_FDS);
                memcpy(&in->fds[in->n_fds++], CMSG_DATA(c) + i * sizeof(int),
                       sizeof(int));
            }
        }
        got += (size_t) r;
    }
    return 1;
}

/* Reads one frame into @in, asserting that one comes. */
static void
read_frame(frame_in *in)
{
    uint8_t hdr[4], *buf;
    size_t n;

    in->env = NULL;
    in->n_fds = 0;
    ck_assert_int_eq(recv_all(hdr, 4, in), 1);
    n = hdr[0] | (size_t) hdr[1] << 8 | (size_t) hdr[2] << 16
        | (size_t) hdr[3] << 24;
    buf = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(recv_all(buf, n, in), 1);
    in->env = epyrpc__envelope__unpack(NULL, n, buf);
    free(buf);
    ck_assert_ptr_nonnull(in->env);
}

/*
 * Makes the peer (blobs at 4096 bytes, or none with @threshold 0) on one
 * end of a socketpair, serving blobs.idl, and plays the other end: a
 * hello that takes descriptors and blobs up to 1 GiB, then the peer's
 * hello, which must offer blobs up to its @max_blob.
 */
static void
start(size_t threshold, size_t max_blob)
{
    epy_peer_config cfg;
    epy_error err = EPY_ERROR_INIT;
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    Epyrpc__Hello h = EPYRPC__HELLO__INIT;
    struct timeval tv = { 5 * tu_slow(), 0 };
    frame_in in;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    epy_peer_config_init(&cfg);
    cfg.interfaces = &blobs_interface;
    cfg.n_interfaces = 1;
    cfg.blob_threshold = threshold;
    cfg.max_blob = max_blob;
    cfg.start_paused = true;    /* served before the first call is read */
    ck_assert_int_eq(epy_peer_new_fd(sv[0], &cfg, &peer, &err), 0);
    raw = sv[1];
    /* Reads and writes that the peer does not answer give up. */
    ck_assert_int_eq(setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv),
                     0);
    ck_assert_int_eq(setsockopt(raw, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv),
                     0);
    ck_assert_int_eq(blobs_serve(peer, &handlers, NULL), 0);
    ck_assert_int_eq(epy_peer_start(peer), 0);

    h.version = EPY_PROTOCOL_VERSION;
    h.has_fds = h.fds = 1;
    h.has_blob_limit = 1;
    h.blob_limit = (uint64_t) 1 << 30;
    env.kind = EPYRPC__KIND__HELLO;
    env.hello = &h;
    send_frame(&env, NULL, 0);

    read_frame(&in);
    ck_assert_int_eq(in.env->kind, EPYRPC__KIND__HELLO);
    ck_assert_ptr_nonnull(in.env->hello);
    ck_assert(in.env->hello->has_fds && in.env->hello->fds);
    ck_assert_int_eq(in.env->hello->has_blob_limit, threshold > 0);
    if (threshold > 0)
        ck_assert_uint_eq(in.env->hello->blob_limit,
                          max_blob ? max_blob : EPY_DEFAULT_MAX_BLOB);
    frame_free(&in);
    ck_assert_int_eq(epy_peer_wait_ready(peer, WAIT_MS, &err), 0);
}

/* --- values and calls ---------------------------------------------------- */

/* Byte @i of the values: printable ASCII, so that they make strings too. */
static uint8_t
pattern(unsigned seed, size_t i)
{
    return (uint8_t) ('0' + (seed + 7 * i) % 75);
}

static uint64_t
pattern_sum(unsigned seed, size_t len)
{
    uint64_t s = 0;

    for (size_t i = 0; i < len; i++)
        s += pattern(seed, i);
    return s;
}

/*
 * Fills @fd (a new memfd if -1) with @len pattern bytes, then @tail
 * unless it is -1 (a string's NUL, or what stands in its place), and
 * seals it with @seals.
 */
static int
make_fd(int fd, size_t len, unsigned seed, int tail, int seals)
{
    size_t n = len + (tail >= 0);
    uint8_t *p = malloc(n + 1);

    if (fd < 0)
        fd = memfd_create("hostile-blob", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ck_assert_int_ge(fd, 0);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++)
        p[i] = pattern(seed, i);
    p[len] = (uint8_t) tail;
    ck_assert_int_eq(pwrite(fd, p, n, 0), (ssize_t) n);
    free(p);
    if (seals != 0)
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
    return fd;
}

static void
set_blob(Epyrpc__Blob *b, uint32_t *path, size_t depth, uint32_t fd,
         uint64_t len)
{
    epyrpc__blob__init(b);
    b->n_path = depth;
    b->path = path;
    b->fd = fd;
    b->len = len;
}

/*
 * Sends a call of @method with the arguments @args, @n_blobs of them in
 * @blobs out of line, and @n_fds descriptors, which are closed here once
 * sent (the kernel keeps them in flight).
 */
static void
send_call(uint64_t txn, const char *method, const ProtobufCMessage *args,
          Epyrpc__Blob *blobs, size_t n_blobs, int *fds, int n_fds)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;
    Epyrpc__Blob *ptrs[4];
    size_t n = protobuf_c_message_get_packed_size(args);
    uint8_t *payload = malloc(n ? n : 1);

    ck_assert_ptr_nonnull(payload);
    ck_assert_uint_le(n_blobs, 4);
    protobuf_c_message_pack(args, payload);
    for (size_t i = 0; i < n_blobs; i++)
        ptrs[i] = &blobs[i];
    env.kind = EPYRPC__KIND__CALL;
    env.has_txn = 1;
    env.txn = txn;
    env.method = (char *) method;
    env.has_payload = 1;
    env.payload.data = payload;
    env.payload.len = n;
    env.has_fds = n_fds > 0;
    env.fds = (uint32_t) n_fds;
    env.n_blobs = n_blobs;
    env.blobs = ptrs;
    send_frame(&env, fds, n_fds);
    free(payload);
    for (int i = 0; i < n_fds; i++)
        close(fds[i]);
}

/* blobs.sum with b inline (@inline_b, may be empty) and @n_blobs blobs. */
static void
send_sum(uint64_t txn, const char *inline_b, Epyrpc__Blob *blobs,
         size_t n_blobs, int *fds, int n_fds)
{
    Blobs__BlobsSumArgs args = BLOBS__BLOBS_SUM_ARGS__INIT;

    args.has_b = 1;     /* present and empty: its value is out of line */
    args.b.data = (uint8_t *) inline_b;
    args.b.len = strlen(inline_b);
    send_call(txn, "blobs.sum", &args.base, blobs, n_blobs, fds, n_fds);
}

/* blobs.echo_items with two items whose data is out of line. */
static void
send_items(uint64_t txn, Epyrpc__Blob *blobs, size_t n_blobs, int *fds,
           int n_fds)
{
    Blobs__BlobsEchoItemsArgs args = BLOBS__BLOBS_ECHO_ITEMS_ARGS__INIT;
    Blobs__BlobsItem it[2] = { BLOBS__BLOBS_ITEM__INIT,
                               BLOBS__BLOBS_ITEM__INIT };
    Blobs__BlobsItem *ptrs[2] = { &it[0], &it[1] };

    for (int i = 0; i < 2; i++) {
        it[i].name = (char *) "item";
        it[i].has_data = 1;
    }
    args.n_items = 2;
    args.items = ptrs;
    send_call(txn, "blobs.echo_items", &args.base, blobs, n_blobs, fds,
              n_fds);
}

/* Reads the answer to @txn into @in; asserts it is one of @kind. */
static void
read_answer(uint64_t txn, Epyrpc__Kind kind, frame_in *in)
{
    read_frame(in);
    ck_assert_msg(in->env->kind == kind, "txn %llu: kind %d (%s), not %d",
                  (unsigned long long) txn, (int) in->env->kind,
                  in->env->message != NULL ? in->env->message : "", kind);
    ck_assert(in->env->has_txn);
    ck_assert_uint_eq(in->env->txn, txn);
}

/* Reads the error answering @txn; asserts its code. */
static void
expect_error(uint64_t txn, int code)
{
    frame_in in;

    read_answer(txn, EPYRPC__KIND__ERROR, &in);
    ck_assert(in.env->has_code);
    ck_assert_int_eq(in.env->code, code);
    frame_free(&in);
}

/* A valid blobs.sum of @len bytes out of line, answered with their sum. */
static void
sum_ok(uint64_t txn, size_t len, unsigned seed)
{
    uint32_t path[] = { 1 };
    Epyrpc__Blob b;
    Blobs__BlobsSumResult *res;
    frame_in in;
    int fd = make_fd(-1, len, seed, -1, SEALS);

    set_blob(&b, path, 1, 1, len);
    send_sum(txn, "", &b, 1, &fd, 1);
    read_answer(txn, EPYRPC__KIND__REPLY, &in);
    ck_assert_int_eq(in.n_fds, 0);
    res = blobs__blobs_sum_result__unpack(NULL, in.env->payload.len,
                                          in.env->payload.data);
    ck_assert_ptr_nonnull(res);
    ck_assert(res->has_value);
    ck_assert_uint_eq(res->value, pattern_sum(seed, len));
    blobs__blobs_sum_result__free_unpacked(res, NULL);
    frame_free(&in);
    ck_assert_uint_eq(atomic_load(&seen_len), len);
}

/*
 * The process's descriptor count once it is @want, or after WAIT_MS: a
 * call frees the descriptors that came with it just after its answer.
 */
static int
fds_settle(int want)
{
    int64_t deadline = tu_now_ms() + WAIT_MS;
    int n;

    while ((n = tu_count_fds()) != want && tu_now_ms() < deadline)
        usleep(10000);
    return n;
}

/* Lines of /proc/self/maps that map a memfd (a blob's view). */
static int
memfd_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[1024];
    int n = 0;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, "epyrpc-blob") != NULL
            || strstr(line, "memfd:") != NULL)
            n++;
    fclose(f);
    return n;
}

/* --- valid blobs --------------------------------------------------------- */

/*
 * Blobs made by hand are read: two sums on one connection, two items of
 * a list (paths through the list index and the struct field), and a
 * string whose answer comes back out of line or inline.
 */
START_TEST(test_valid)
{
    enum { TEXT = 10000 };
    uint32_t p0[] = { 1, 0, 2 }, p1[] = { 1, 1, 2 }, ps[] = { 1 };
    Blobs__BlobsEchoTextArgs targs = BLOBS__BLOBS_ECHO_TEXT_ARGS__INIT;
    Blobs__BlobsEchoTextResult *tres;
    Epyrpc__Blob b[2];
    frame_in in;
    int fds[2];
    char *text;

    start(4096, 0);
    sum_ok(1, 64 * 1024, 3);
    sum_ok(2, 100000, 9);

    fds[0] = make_fd(-1, 5000, 1, -1, SEALS);
    fds[1] = make_fd(-1, 7000, 2, -1, SEALS);
    set_blob(&b[0], p0, 3, 1, 5000);
    set_blob(&b[1], p1, 3, 2, 7000);
    send_items(3, b, 2, fds, 2);
    read_answer(3, EPYRPC__KIND__REPLY, &in);
    frame_free(&in);
    ck_assert_uint_eq(atomic_load(&seen_len), 12000);

    /* A string: the memfd holds the text and its NUL. */
    text = malloc(TEXT + 1);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < TEXT; i++)
        text[i] = (char) pattern(4, i);
    text[TEXT] = 0;
    fds[0] = make_fd(-1, TEXT, 4, 0, SEALS);
    targs.s = (char *) "";
    set_blob(&b[0], ps, 1, 1, TEXT);
    send_call(4, "blobs.echo_text", &targs.base, b, 1, fds, 1);
    read_answer(4, EPYRPC__KIND__REPLY, &in);
    tres = blobs__blobs_echo_text_result__unpack(NULL, in.env->payload.len,
                                                 in.env->payload.data);
    ck_assert_ptr_nonnull(tres);
    if (in.env->n_blobs == 0) {
        ck_assert_str_eq(tres->value, text);
    } else {
        /* Out of line too: a sealed memfd of the text and its NUL. */
        const Epyrpc__Blob *rb = in.env->blobs[0];
        char *got = malloc(TEXT + 1);

        ck_assert_ptr_nonnull(got);
        ck_assert(in.env->n_blobs == 1 && in.env->fds == (uint32_t) in.n_fds);
        ck_assert(rb->n_path == 1 && rb->path[0] == 1 && rb->len == TEXT);
        ck_assert(rb->fd >= 1 && rb->fd <= (uint32_t) in.n_fds);
        ck_assert(tres->value == NULL || tres->value[0] == 0);
        ck_assert_int_eq(fcntl(in.fds[rb->fd - 1], F_GET_SEALS) & SEALS,
                         SEALS);
        ck_assert_int_eq(pread(in.fds[rb->fd - 1], got, TEXT + 1, 0),
                         TEXT + 1);
        ck_assert_int_eq(memcmp(got, text, TEXT + 1), 0);
        free(got);
    }
    blobs__blobs_echo_text_result__free_unpacked(tres, NULL);
    frame_free(&in);
    free(text);
    ck_assert_int_eq(atomic_load(&handled), 4);
    ck_assert_int_eq(memfd_maps(), 0);
    ck_assert_int_eq(epy_peer_status(peer), 0);
}
END_TEST

/* --- values refused, the connection goes on ------------------------------ */

static const char *const bad_values[] = {
    "unsealed memfd", "memfd without F_SEAL_WRITE", "regular file",
    "memfd shorter than len", "sparse memfd", "string without its NUL",
    "value inline too", "memfd with a hole where the value is",
    "descriptor named twice",
};

/* Sends call @txn with the bad value number @which. */
static void
send_bad_value(int which, uint64_t txn)
{
    enum { N = 8192 };
    uint32_t p1[] = { 1 }, pi0[] = { 1, 0, 2 }, pi1[] = { 1, 1, 2 };
    Blobs__BlobsEchoTextArgs targs = BLOBS__BLOBS_ECHO_TEXT_ARGS__INIT;
    Epyrpc__Blob b[2];
    int fds[2];
    char tmpl[] = "/tmp/epy-blob-XXXXXX";

    set_blob(&b[0], p1, 1, 1, N);
    switch (which) {
    case 0:
        fds[0] = make_fd(-1, N, 1, -1, 0);
        break;
    case 1:
        fds[0] = make_fd(-1, N, 1, -1, F_SEAL_SHRINK | F_SEAL_GROW);
        break;
    case 2:
        fds[0] = make_fd(mkostemp(tmpl, O_CLOEXEC), N, 1, -1, 0);
        ck_assert_int_eq(unlink(tmpl), 0);
        break;
    case 3:
        fds[0] = make_fd(-1, N / 2, 1, -1, SEALS);
        break;
    case 4:
        fds[0] = make_fd(-1, 0, 0, -1, 0);
        ck_assert_int_eq(ftruncate(fds[0], N), 0);
        ck_assert_int_eq(fcntl(fds[0], F_ADD_SEALS, SEALS), 0);
        break;
    case 5:
        fds[0] = make_fd(-1, N, 1, 'x', SEALS);   /* 'x' for the NUL */
        targs.s = (char *) "";
        send_call(txn, "blobs.echo_text", &targs.base, b, 1, fds, 1);
        return;
    case 6:
        fds[0] = make_fd(-1, N, 1, -1, SEALS);
        send_sum(txn, "abc", b, 1, fds, 1);
        return;
    case 7: {
        /* As many pages written as the value needs, but after it. */
        static uint8_t page[N];

        fds[0] = make_fd(-1, 0, 0, -1, 0);
        memset(page, 7, sizeof page);
        ck_assert_int_eq(pwrite(fds[0], page, N, N), N);
        ck_assert_int_eq(fcntl(fds[0], F_ADD_SEALS, SEALS), 0);
        break;
    }
    default:
        /* Two valid memfds; both blobs name the first. */
        fds[0] = make_fd(-1, N, 1, -1, SEALS);
        fds[1] = make_fd(-1, N, 2, -1, SEALS);
        set_blob(&b[0], pi0, 3, 1, N);
        set_blob(&b[1], pi1, 3, 1, N);
        send_items(txn, b, 2, fds, 2);
        return;
    }
    send_sum(txn, "", b, 1, fds, 1);
}

/*
 * Each bad value fails its call with EPY_EPROTO before any handler runs;
 * the next call on the connection is answered, and once both are, no
 * view is left mapped and the peer holds no descriptor of either.
 */
START_TEST(test_bad_value)
{
    int base;

    start(4096, 0);
    base = tu_count_fds();
    send_bad_value(_i, 1);
    expect_error(1, EPY_EPROTO);
    ck_assert_msg(atomic_load(&handled) == 0, "%s reached the handler",
                  bad_values[_i]);
    ck_assert_int_eq(epy_peer_status(peer), 0);
    sum_ok(2, 20000, 5);
    ck_assert_int_eq(atomic_load(&handled), 1);
    ck_assert_msg(memfd_maps() == 0, "%s: a memfd is left mapped",
                  bad_values[_i]);
    ck_assert_msg(fds_settle(base) == base, "%s: descriptors left open",
                  bad_values[_i]);
}
END_TEST

/* --- frames refused, the connection ends --------------------------------- */

static const char *const bad_frames[] = {
    "descriptor index 0", "descriptor index past those sent",
    "blob without descriptors", "length 0", "length past max_blob",
    "total past max_blob", "path of 5000 entries", "empty path",
    "more blobs than descriptors", "peer that takes no blobs",
};

#define SMALL_MAX_BLOB ((size_t) 1 << 20)

/* Sends the bad frame number @which, a call of txn 1. */
static void
send_bad_frame(int which)
{
    enum { N = 8192, LONG_PATH = 5000 };
    uint32_t p1[] = { 1 }, pi0[] = { 1, 0, 2 }, pi1[] = { 1, 1, 2 };
    uint32_t *longp = NULL;
    Epyrpc__Blob b[2];
    int fds[2], n_fds = 1;

    fds[0] = make_fd(-1, N, 1, -1, SEALS);
    set_blob(&b[0], p1, 1, 1, N);
    switch (which) {
    case 0:
        b[0].fd = 0;
        break;
    case 1:
        b[0].fd = 2;
        break;
    case 2:
        close(fds[0]);
        n_fds = 0;
        break;
    case 3:
        b[0].len = 0;
        break;
    case 4:
        b[0].len = 2 * SMALL_MAX_BLOB;
        break;
    case 5:
        /* Each below max_blob, together past it. */
        fds[1] = make_fd(-1, N, 2, -1, SEALS);
        set_blob(&b[0], pi0, 3, 1, SMALL_MAX_BLOB / 2 + 1);
        set_blob(&b[1], pi1, 3, 2, SMALL_MAX_BLOB / 2 + 1);
        send_items(1, b, 2, fds, 2);
        return;
    case 6:
        longp = calloc(LONG_PATH, sizeof *longp);
        ck_assert_ptr_nonnull(longp);
        longp[0] = 1;
        set_blob(&b[0], longp, LONG_PATH, 1, N);
        break;
    case 7:
        b[0].n_path = 0;
        break;
    case 8:
        set_blob(&b[0], pi0, 3, 1, N);
        set_blob(&b[1], pi1, 3, 1, N);
        send_items(1, b, 2, fds, 1);
        return;
    default:
        break;  /* a valid blob, to a peer with blob_threshold 0 */
    }
    send_sum(1, "", b, 1, fds, n_fds);
    free(longp);
}

/*
 * Each bad frame ends the connection: the raw end sees the stream end
 * without an answer to the call, the peer's status says EPY_EPROTO, and
 * no handler ran.
 */
START_TEST(test_bad_frame)
{
    long kinds[8] = { 0 };

    start(_i == 9 ? 0 : 4096, _i == 4 || _i == 5 ? SMALL_MAX_BLOB : 0);
    send_bad_frame(_i);
    ck_assert_msg(tw_wait_eof(raw, WAIT_MS, kinds),
                  "%s: the connection did not end", bad_frames[_i]);
    ck_assert_int_eq(kinds[EPYRPC__KIND__REPLY], 0);
    ck_assert_msg(epy_peer_status(peer) == EPY_EPROTO, "%s: status %s",
                  bad_frames[_i], epy_status_name(epy_peer_status(peer)));
    ck_assert_int_eq(atomic_load(&handled), 0);
    ck_assert_int_eq(memfd_maps(), 0);
}
END_TEST

static Suite *
blobs_hostile_suite(void)
{
    Suite *s = suite_create("blobs_hostile");
    TCase *tc = tcase_create("blobs_hostile");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_valid);
    tcase_add_loop_test(tc, test_bad_value, 0,
                        (int) (sizeof bad_values / sizeof *bad_values));
    tcase_add_loop_test(tc, test_bad_frame, 0,
                        (int) (sizeof bad_frames / sizeof *bad_frames));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(blobs_hostile_suite());
}
