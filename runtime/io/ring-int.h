/*
 * libepyrpc: a single-producer single-consumer byte ring in a sealed
 * memfd, shared by two processes (the shared-memory transport,
 * transport-shm.c, uses two: one each way).
 *
 * The end that reads a ring creates it (epy__ring_create()) and sends
 * its descriptor to the other end, which maps it to write into it
 * (epy__ring_attach()). The memfd holds a header page, then the data
 * area (a power of two of bytes):
 *
 *   line 0:   magic, version, data size (written by the creator before
 *             it seals the memfd; read once by the attacher)
 *   line 1:   tail (the producer's index), reader_waiting
 *   line 2:   head (the consumer's index), writer_waiting
 *   page 1..: data
 *
 * Indices count bytes since the ring was made and never wrap; a byte's
 * place is its index modulo the size. Each end keeps a private copy of
 * the index it owns and never trusts what it reads of the other's: a
 * shared index that the other end could not have written (more than the
 * size apart) is -EPROTO. Whatever the other end writes into the
 * mapping, this end neither crashes nor reads or writes out of it: the
 * memfd is sealed against shrinking and growing, so the mapping stays
 * whole.
 *
 * Not thread-safe in itself: one thread reads (the consumer's end) and
 * one thread writes (the producer's end) at a time.
 */
#ifndef EPYRPC_RING_INT_H
#define EPYRPC_RING_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define EPY__RING_MAGIC 0x52797045u     /* "EpyR" in little-endian bytes */
#define EPY__RING_VERSION 1u
/* The header's size: the data area starts one page into the memfd. */
#define EPY__RING_HEADER 4096
/* Bounds of the data area (powers of two), and its size by default. */
#define EPY__RING_MIN ((size_t) 4 << 10)
#define EPY__RING_MAX ((size_t) 64 << 20)
#define EPY__RING_DEFAULT ((size_t) 256 << 10)
/* Indices sit 128 bytes apart: their own cache lines, and line pairs. */
#define EPY__RING_LINE 128

/* What the header page holds, as both ends map it. */
typedef struct epy__ring_shared {
    uint32_t magic;
    uint32_t version;
    uint64_t size;                      /* of the data area */
    _Alignas(EPY__RING_LINE) _Atomic uint64_t tail;
    _Atomic uint32_t reader_waiting;    /* 1: the consumer sleeps on its socket */
    _Alignas(EPY__RING_LINE) _Atomic uint64_t head;
    /* 1: the producer sleeps on head's futex; 2: it waits for a doorbell */
    _Atomic uint32_t writer_waiting;
} epy__ring_shared;

/* writer_waiting: how a producer waits for room. */
enum { EPY__RING_WRITER_FUTEX = 1, EPY__RING_WRITER_DOORBELL = 2 };

/* One end of a ring: private to this process. */
typedef struct epy__ring {
    epy__ring_shared *sh;       /* the mapping; NULL: none */
    uint8_t *data;              /* sh + EPY__RING_HEADER */
    size_t map_len;
    uint64_t size;              /* validated once: never read again */
    uint64_t pos;               /* tail (producer) or head (consumer) */
} epy__ring;

/*
 * The data size that a requested @size gives: 0 is the default; others
 * are rounded up to a power of two within EPY__RING_MIN..EPY__RING_MAX.
 */
size_t epy__ring_size(size_t size);

/*
 * Makes a ring of epy__ring_size(@size) bytes that this end reads: a
 * memfd (close-on-exec) holding its header, mapped and sealed against
 * shrinking, growing and further seals. *@ret_fd is a descriptor of it
 * for the other end (the caller closes it). Returns 0 or a negative
 * errno.
 */
int epy__ring_create(epy__ring *r, size_t size, int *ret_fd);

/*
 * Maps the ring @fd (made by the other end with epy__ring_create()) to
 * write into it, if its data area is @max bytes at most (at most
 * EPY__RING_MAX): the pages this end writes are charged to it, so the
 * other end must not choose how many. Takes @fd in every case. Returns
 * 0, -EPROTO if @fd is not a memfd sealed against shrinking and
 * growing, with a header and a size that agree, -EFBIG for a good ring
 * larger than @max (nothing mapped), or -ENOMEM.
 */
int epy__ring_attach(epy__ring *r, int fd, size_t max);

/* Unmaps @r, if mapped. */
void epy__ring_unmap(epy__ring *r);

/* --- the consumer ---------------------------------------------------------- */

/* Bytes there to read, or -EPROTO. */
ssize_t epy__ring_avail(const epy__ring *r);
/*
 * Copies up to @len bytes out and gives their room back to the producer.
 * Returns the count (0: empty), or -EPROTO.
 */
ssize_t epy__ring_read(epy__ring *r, void *buf, size_t len);
/*
 * After a read that returned bytes: wakes a producer asleep on the
 * futex. Returns true if the producer waits for a doorbell instead (the
 * caller sends one), unless *@can_ring (NULL: true), read after the
 * fence that orders it with the read, is false: that request stays for
 * a later call then (one made after *@can_ring became true).
 */
bool epy__ring_read_done(epy__ring *r, const atomic_bool *can_ring);
/*
 * Before the consumer sleeps (on its socket): asks the producer for a
 * doorbell. The caller reads the ring once more afterwards, then sleeps
 * only if it is still empty.
 */
void epy__ring_reader_arm(epy__ring *r);
/* The consumer did not sleep after all. */
void epy__ring_reader_disarm(epy__ring *r);

/* --- the producer ------------------------------------------------------------ */

/*
 * Free bytes, or -EPROTO. *@head (if not NULL) is the head it saw: the
 * value to wait on with epy__ring_wait_room().
 */
ssize_t epy__ring_room(const epy__ring *r, uint64_t *head);
/*
 * Copies what fits of @iov (@n entries) in and publishes it. Returns the
 * count (0: full), or -EPROTO.
 */
ssize_t epy__ring_write(epy__ring *r, const struct iovec *iov, int n);
/*
 * After a write that published bytes: returns true if the consumer asked
 * for a doorbell (the caller sends one).
 */
bool epy__ring_write_done(epy__ring *r);
/*
 * Before the producer waits for room: @how is EPY__RING_WRITER_FUTEX or
 * EPY__RING_WRITER_DOORBELL. The caller checks the room once more
 * afterwards, then waits only if there is still none.
 */
void epy__ring_writer_arm(epy__ring *r, uint32_t how);
/* The producer did not wait after all. */
void epy__ring_writer_disarm(epy__ring *r);
/*
 * Sleeps while the head is still @head (as epy__ring_room() saw it), for
 * @ns at most. May return early: check again.
 */
void epy__ring_wait_room(epy__ring *r, uint64_t head, int64_t ns);
/* Wakes this process's threads in epy__ring_wait_room() on @r. */
void epy__ring_wake_writer(epy__ring *r);

#endif /* EPYRPC_RING_INT_H */
