/*
 * The shared-memory byte ring (ring-int.h): one producer and one
 * consumer, usually in two processes, each with its own mapping of the
 * same sealed memfd.
 *
 * Publishing is a release store of the owner's index after the copy;
 * the other end's acquire load of it orders the copy before its own
 * access to those bytes. Sleeping is the caller's business (a socket for
 * the consumer, a futex on head for the producer); the flags that ask
 * for a wake-up follow the usual pattern: the sleeper sets its flag,
 * fences, then looks at the ring once more; the other end publishes,
 * fences, then looks at the flag. With both fences one of them sees the
 * other's store, so no wake-up is lost.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring-int.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "the ring needs lock-free (address-free) 32 and 64-bit atomics");
_Static_assert(sizeof (epy__ring_shared) <= EPY__RING_HEADER,
               "the ring's header fits its page");
_Static_assert(offsetof(epy__ring_shared, size) == 8
               && offsetof(epy__ring_shared, tail) == EPY__RING_LINE
               && offsetof(epy__ring_shared, head) == 2 * EPY__RING_LINE,
               "the ring's layout is what both ends expect");

/* What the creator writes at the start of the memfd, read once by the attacher. */
typedef struct ring_ident {
    uint32_t magic;
    uint32_t version;
    uint64_t size;
} ring_ident;

size_t
epy__ring_size(size_t size)
{
    size_t s = EPY__RING_MIN;

    if (size == 0)
        return EPY__RING_DEFAULT;
    if (size >= EPY__RING_MAX)
        return EPY__RING_MAX;
    while (s < size)
        s <<= 1;
    return s;
}

static bool
size_valid(uint64_t size)
{
    return size >= EPY__RING_MIN && size <= EPY__RING_MAX
           && (size & (size - 1)) == 0;
}

int
epy__ring_create(epy__ring *r, size_t size, int *ret_fd)
{
    size_t len;
    void *p;
    int fd, err;

    memset(r, 0, sizeof *r);
    size = epy__ring_size(size);
    len = EPY__RING_HEADER + size;
    fd = memfd_create("epyrpc-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t) len) < 0) {
        err = errno;
        close(fd);
        return -err;
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        err = errno;
        close(fd);
        return -err;
    }
    r->sh = p;
    r->data = (uint8_t *) p + EPY__RING_HEADER;
    r->map_len = len;
    r->size = size;
    r->pos = 0;
    r->sh->magic = EPY__RING_MAGIC;
    r->sh->version = EPY__RING_VERSION;
    r->sh->size = size;
    atomic_init(&r->sh->tail, 0);
    atomic_init(&r->sh->reader_waiting, 0);
    atomic_init(&r->sh->head, 0);
    atomic_init(&r->sh->writer_waiting, 0);
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        err = errno;
        epy__ring_unmap(r);
        close(fd);
        return -err;
    }
    *ret_fd = fd;
    return 0;
}

/* Checks @fd as epy__ring_attach() says, and maps it. */
static int
attach(epy__ring *r, int fd, size_t max)
{
    const int need = F_SEAL_SHRINK | F_SEAL_GROW;
    ring_ident id;
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    void *p;

    /*
     * Seals against resizing: the other end cannot truncate the memfd
     * under this mapping (SIGBUS). Only memfds (shmem) have seals.
     */
    if (seals < 0 || (seals & need) != need)
        return -EPROTO;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return -EPROTO;
    /* The header is read once, into private memory, and checked there. */
    if (pread(fd, &id, sizeof id, 0) != (ssize_t) sizeof id)
        return -EPROTO;
    if (id.magic != EPY__RING_MAGIC || id.version != EPY__RING_VERSION
        || !size_valid(id.size)
        || (uint64_t) st.st_size != EPY__RING_HEADER + id.size)
        return -EPROTO;
    /* Checked before the mapping: a larger ring is never touched. */
    if (id.size > max)
        return -EFBIG;
    p = mmap(NULL, EPY__RING_HEADER + (size_t) id.size,
             PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return errno == ENOMEM ? -ENOMEM : -EPROTO;    /* EACCES: read-only */
    r->sh = p;
    r->data = (uint8_t *) p + EPY__RING_HEADER;
    r->map_len = EPY__RING_HEADER + (size_t) id.size;
    r->size = id.size;
    /*
     * A fresh ring starts at 0; a ring that the other end already wrote
     * into is its problem: the consumer finds indices it did not expect.
     */
    r->pos = 0;
    return 0;
}

int
epy__ring_attach(epy__ring *r, int fd, size_t max)
{
    int rc;

    memset(r, 0, sizeof *r);
    rc = attach(r, fd, max);
    close(fd);
    return rc;
}

void
epy__ring_unmap(epy__ring *r)
{
    if (r->sh != NULL)
        munmap(r->sh, r->map_len);
    r->sh = NULL;
    r->data = NULL;
}

/* --- futex on the low half of head ---------------------------------------- */

/* The 32 bits of head that a futex compares: its low half. */
static uint32_t *
head_word(epy__ring *r)
{
    char *p = (char *) &r->sh->head;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    p += 4;
#endif
    return (uint32_t *) (void *) p;
}

/*
 * Shared futexes (no FUTEX_PRIVATE_FLAG): the other process's mapping of
 * the same memfd page is the same futex.
 */
void
epy__ring_wait_room(epy__ring *r, uint64_t head, int64_t ns)
{
    struct timespec ts;

    if (ns <= 0)
        return;
    ts.tv_sec = (time_t) (ns / 1000000000);
    ts.tv_nsec = (long) (ns % 1000000000);
    syscall(SYS_futex, head_word(r), FUTEX_WAIT, (uint32_t) head, &ts,
            NULL, 0);
}

void
epy__ring_wake_writer(epy__ring *r)
{
    syscall(SYS_futex, head_word(r), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* --- the consumer ---------------------------------------------------------- */

ssize_t
epy__ring_avail(const epy__ring *r)
{
    uint64_t tail = atomic_load_explicit(&r->sh->tail, memory_order_acquire);
    uint64_t n = tail - r->pos;

    return n > r->size ? -EPROTO : (ssize_t) n;
}

ssize_t
epy__ring_read(epy__ring *r, void *buf, size_t len)
{
    ssize_t a = epy__ring_avail(r);
    size_t n, off, first;

    if (a <= 0)
        return a;
    n = (size_t) a < len ? (size_t) a : len;
    off = (size_t) (r->pos & (r->size - 1));
    first = r->size - off < n ? (size_t) r->size - off : n;
    memcpy(buf, r->data + off, first);
    memcpy((uint8_t *) buf + first, r->data, n - first);
    r->pos += n;
    atomic_store_explicit(&r->sh->head, r->pos, memory_order_release);
    return (ssize_t) n;
}

bool
epy__ring_read_done(epy__ring *r, const atomic_bool *can_ring)
{
    atomic_thread_fence(memory_order_seq_cst);
    /* Clears only what it saw: a doorbell it may not ring stays asked for. */
    for (int i = 0; i < 4; i++) {
        uint32_t w = atomic_load_explicit(&r->sh->writer_waiting,
                                          memory_order_relaxed);

        if (w == 0
            || (w == EPY__RING_WRITER_DOORBELL && can_ring != NULL
                && !atomic_load_explicit(can_ring, memory_order_relaxed)))
            return false;
        if (atomic_compare_exchange_strong_explicit(&r->sh->writer_waiting, &w,
                                                    0, memory_order_relaxed,
                                                    memory_order_relaxed)) {
            if (w == EPY__RING_WRITER_FUTEX)
                epy__ring_wake_writer(r);
            return w == EPY__RING_WRITER_DOORBELL;
        }
    }
    return false;   /* a flag that keeps changing: the other end is broken */
}

void
epy__ring_reader_arm(epy__ring *r)
{
    atomic_store_explicit(&r->sh->reader_waiting, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
}

void
epy__ring_reader_disarm(epy__ring *r)
{
    atomic_store_explicit(&r->sh->reader_waiting, 0, memory_order_relaxed);
}

/* --- the producer ------------------------------------------------------------ */

ssize_t
epy__ring_room(const epy__ring *r, uint64_t *head)
{
    uint64_t h = atomic_load_explicit(&r->sh->head, memory_order_acquire);
    uint64_t used = r->pos - h;

    if (used > r->size)
        return -EPROTO;
    if (head != NULL)
        *head = h;
    return (ssize_t) (r->size - used);
}

ssize_t
epy__ring_write(epy__ring *r, const struct iovec *iov, int n)
{
    ssize_t room = epy__ring_room(r, NULL);
    size_t left, done = 0;
    uint64_t pos = r->pos;

    if (room <= 0)
        return room;
    left = (size_t) room;
    for (int i = 0; i < n && left > 0; i++) {
        const uint8_t *src = iov[i].iov_base;
        size_t len = iov[i].iov_len < left ? iov[i].iov_len : left;

        while (len > 0) {
            size_t off = (size_t) (pos & (r->size - 1));
            size_t k = (size_t) r->size - off < len ? (size_t) r->size - off
                                                    : len;

            memcpy(r->data + off, src, k);
            src += k;
            len -= k;
            pos += k;
            left -= k;
            done += k;
        }
    }
    if (done > 0) {
        r->pos = pos;
        atomic_store_explicit(&r->sh->tail, pos, memory_order_release);
    }
    return (ssize_t) done;
}

bool
epy__ring_write_done(epy__ring *r)
{
    atomic_thread_fence(memory_order_seq_cst);
    return atomic_load_explicit(&r->sh->reader_waiting, memory_order_relaxed) != 0
           && atomic_exchange_explicit(&r->sh->reader_waiting, 0,
                                       memory_order_relaxed) != 0;
}

void
epy__ring_writer_arm(epy__ring *r, uint32_t how)
{
    atomic_store_explicit(&r->sh->writer_waiting, how, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
}

void
epy__ring_writer_disarm(epy__ring *r)
{
    atomic_store_explicit(&r->sh->writer_waiting, 0, memory_order_relaxed);
}
