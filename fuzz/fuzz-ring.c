/*
 * Fuzz target: the shared-memory ring (runtime/io/ring.c) as a hostile
 * other end sees it. The first input byte chooses what is fuzzed:
 *
 * - even: the consumer. The rest of the input is a program of what the
 *   producer's side of the mapping holds (its tail, raw or near the
 *   consumer's head; bytes of the data area; the writer's flag) and of
 *   reads. Every read must return what the indices allow and nothing
 *   else: -EPROTO for a tail out of reach (the head unmoved), else the
 *   bytes that lie at the head, and the head published after them.
 * - odd: the producer's attach. The input describes a memfd (sealed or
 *   not, its header, its size); epy__ring_attach() must take it exactly
 *   when it is a ring, and close it in every case.
 *
 * Built with libFuzzer by `./configure --enable-fuzzing` (make fuzz), and
 * with a plain driver over the seed corpus in `make check`.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* The input, read from the front; zeros once it is used up. */
typedef struct input {
    const uint8_t *p;
    size_t left;
} input;

static uint64_t
take(input *in, int bytes)
{
    uint64_t v = 0;

    for (int i = 0; i < bytes; i++) {
        v |= (uint64_t) (in->left > 0 ? *in->p : 0) << (8 * i);
        if (in->left > 0) {
            in->p++;
            in->left--;
        }
    }
    return v;
}

static void
fuzz_reader(input *in)
{
    static uint8_t buf[1 << 16];
    epy__ring r;
    int fd;

    CHECK(epy__ring_create(&r, EPY__RING_MIN, &fd) == 0);
    close(fd);
    while (in->left > 0) {
        switch (take(in, 1) & 3) {
        case 0:     /* a tail near the head */
            atomic_store(&r.sh->tail, r.pos + (uint64_t) (int64_t) (int16_t) take(in, 2));
            break;
        case 1:     /* any tail */
            atomic_store(&r.sh->tail, take(in, 8));
            break;
        case 2: {   /* a read */
            size_t len = (size_t) take(in, 2);
            uint64_t pos = r.pos, avail = atomic_load(&r.sh->tail) - pos;
            ssize_t n = epy__ring_read(&r, buf, len);

            if (avail > r.size) {
                CHECK(n == -EPROTO && r.pos == pos);
                CHECK(epy__ring_avail(&r) == -EPROTO);
                break;
            }
            CHECK(n == (ssize_t) (avail < len ? avail : len));
            for (ssize_t i = 0; i < n; i++)
                CHECK(buf[i] == r.data[(pos + (uint64_t) i) & (r.size - 1)]);
            CHECK(r.pos == pos + (uint64_t) n);
            CHECK(atomic_load(&r.sh->head) == r.pos);
            if (n > 0)
                epy__ring_read_done(&r, NULL);
            break;
        }
        default: {  /* bytes of the data area, the writer's flag */
            size_t off = (size_t) take(in, 2), k = (size_t) take(in, 1);

            for (size_t i = 0; i < k; i++)
                r.data[(off + i) & (r.size - 1)] = (uint8_t) take(in, 1);
            atomic_store(&r.sh->writer_waiting, (uint32_t) take(in, 1) % 4);
            break;
        }
        }
    }
    epy__ring_unmap(&r);
}

static void
fuzz_attach(input *in)
{
    unsigned flags = (unsigned) take(in, 1);
    uint64_t dsize = (uint64_t) 1 << (take(in, 1) % 18);
    int64_t len = EPY__RING_HEADER + (int64_t) dsize;
    uint32_t magic = flags & 0x20 ? EPY__RING_MAGIC : (uint32_t) take(in, 4);
    uint32_t version = flags & 0x20 ? EPY__RING_VERSION : (uint32_t) take(in, 4);
    uint64_t hsize = flags & 0x40 ? dsize : take(in, 8);
    int seals = (flags & 2 ? F_SEAL_SHRINK : 0) | (flags & 4 ? F_SEAL_GROW : 0);
    uint32_t id[4] = { magic, version, (uint32_t) hsize, (uint32_t) (hsize >> 32) };
    bool ring;
    epy__ring r;
    int fd, rc;

    if (flags & 0x80)
        len += (int8_t) take(in, 1);
    fd = memfd_create("fuzz-ring", MFD_CLOEXEC | (flags & 1 ? MFD_ALLOW_SEALING : 0));
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, len) == 0);
    CHECK(pwrite(fd, id, sizeof id, 0) == (ssize_t) sizeof id);
    if ((flags & 1) && seals != 0)
        CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
    ring = (flags & 7) == 7 && magic == EPY__RING_MAGIC
           && version == EPY__RING_VERSION && hsize >= EPY__RING_MIN
           && hsize <= EPY__RING_MAX && (hsize & (hsize - 1)) == 0
           && (uint64_t) len == EPY__RING_HEADER + hsize;
    rc = epy__ring_attach(&r, fd, EPY__RING_MAX);
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
    CHECK(ring ? rc == 0 : rc == -EPROTO);
    if (rc == 0) {
        uint8_t bytes[100] = { 0 };
        struct iovec v = { bytes, sizeof bytes };

        CHECK(r.size == hsize);
        CHECK(epy__ring_room(&r, NULL) == (ssize_t) r.size);
        CHECK(epy__ring_write(&r, &v, 1) == (ssize_t) sizeof bytes);
        CHECK(atomic_load(&r.sh->tail) == sizeof bytes);
        epy__ring_unmap(&r);
    }
}

void
fuzz_cleanup(void)
{
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = { data + 1, size > 0 ? size - 1 : 0 };

    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_attach(&in);
    else
        fuzz_reader(&in);
    return 0;
}
