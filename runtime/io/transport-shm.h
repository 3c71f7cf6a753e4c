/*
 * libepyrpc: the shared-memory transport. A transport on a connected
 * unix stream socket that, once both ends agree, carries the byte
 * stream through two rings in shared memory (ring-int.h), one each way,
 * and keeps the socket for wake-ups ("doorbells": one byte each,
 * discarded by the reader), for passing descriptors, and to see the
 * other end go away.
 *
 * The switch, one direction at a time: each end makes the ring it will
 * read (epy__shm_make_rx()) and sends its descriptor to the other end,
 * which maps it as its tx ring (epy__shm_set_tx()). A writer calls
 * epy__shm_switch_tx() right after the last frame it writes on the
 * socket; the reader at the other end calls epy__shm_switch_rx() right
 * after it read that frame. From then on every byte that arrives on the
 * socket is a doorbell: nothing else may be written there.
 */
#ifndef EPYRPC_TRANSPORT_SHM_H
#define EPYRPC_TRANSPORT_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport-int.h"

/* Sizes of the ring an end reads: its bounds and its default (bytes). */
#define EPY__SHM_RING_MIN ((size_t) 4 << 10)
#define EPY__SHM_RING_MAX ((size_t) 64 << 20)
#define EPY__SHM_RING_DEFAULT ((size_t) 256 << 10)
/* The spin before sleeping, by default (ns). */
#define EPY__SHM_SPIN_DEFAULT_NS 20000

typedef struct epy__shm_opts {
    /*
     * Bytes of the ring this end reads: 0 for the default (256 KiB);
     * others are rounded up to a power of two within 4 KiB..64 MiB.
     */
    size_t ring_size;
    /*
     * How long a reader waiting for data, or a writer waiting for room,
     * spins before it sleeps (ns): 0 never, negative the default. The
     * spin adapts: after spins that ended with nothing it gets shorter,
     * then stops, trying again once every 64 waits.
     */
    int64_t spin_ns;
} epy__shm_opts;

/*
 * A transport on the connected unix stream socket @fd (taken) that
 * behaves exactly as epy__transport_fd_new(@fd) (it wraps one and
 * forwards every operation to it) until switched. @o may be NULL (the
 * defaults). NULL on ENOMEM.
 */
epy__transport *epy__transport_shm_new(int fd, const epy__shm_opts *o);

/* True if @t is a shared-memory transport. */
bool epy__transport_is_shm(const epy__transport *t);

/*
 * Creates the ring this end will read; *@ret_memfd is a descriptor of it
 * for the caller to send to the other end (the caller closes it).
 * Returns 0, -EINVAL (@t is no shm transport), -EBUSY (made already) or
 * a negative errno (memfd_create(), mmap()).
 */
int epy__shm_make_rx(epy__transport *t, int *ret_memfd);

/*
 * Maps @memfd, the other end's rx ring, as this end's tx ring, once it
 * checked that it is a memfd sealed against shrinking and growing whose
 * size agrees with its header, and that it is no larger than the ring
 * this end reads (epy__shm_opts.ring_size, rounded as the rx ring is):
 * the pages this end writes into are charged to this process, so the
 * other end does not get to choose how many. Takes @memfd in every
 * case. Returns 0, -EPROTO (not such a memfd: the other end is broken or
 * hostile), -EFBIG (a ring larger than this end's: not mapped), -ENOMEM,
 * -EINVAL (@t is no shm transport) or -EBUSY (set already).
 */
int epy__shm_set_tx(epy__transport *t, int memfd);

/*
 * From now on sendv() and trysendv() write into the tx ring. The writer,
 * with the write lock held, right after it wrote its last frame on the
 * socket. Does nothing before epy__shm_set_tx() succeeded.
 */
void epy__shm_switch_tx(epy__transport *t);

/*
 * From now on recv() reads the rx ring. The reader, right after it read
 * the last frame that came on the socket. Does nothing before
 * epy__shm_make_rx() succeeded.
 */
void epy__shm_switch_rx(epy__transport *t);

/*
 * True once epy__shm_switch_tx() was called. Then, when trysendv() found
 * the ring full, the other end sends a doorbell as soon as it made room:
 * a poller waits for the socket to be readable (EPOLLIN), not writable.
 * Any thread.
 */
bool epy__shm_tx_switched(const epy__transport *t);
/* True once switch_rx() was called. */
bool epy__shm_rx_switched(const epy__transport *t);

/*
 * For a poller that found the socket readable: reads the doorbells
 * waiting there, keeping the descriptors that came with them for
 * take_fds(), so that the socket stops being readable. (recv() does it
 * too when it finds the ring empty; a peer that does not read now, but
 * waits for room to write, needs this.) Does nothing before
 * epy__shm_switch_rx() (frames come on the socket then) or on another
 * transport. Returns 0 or a negative errno (-EPROTO: more descriptors
 * wait than EPY__FDS_QUEUED). The reader.
 */
int epy__shm_drain(epy__transport *t);

/* Nanoseconds spent spinning so far, both directions. Any thread. */
uint64_t epy__shm_spin_ns(const epy__transport *t);

/*
 * Frees @t (a descriptor or shm transport that nothing has read or
 * written through) without closing its socket: the caller keeps it.
 */
void epy__transport_forget(epy__transport *t);

#endif /* EPYRPC_TRANSPORT_SHM_H */
