/*
 * libepyrpc: the parts of a peer's connection and what they share:
 * peer.c (making, ending and closing the peer), writer.c (frames out),
 * reader.c (frames in, the hello, what each frame does) and lead.c (who
 * reads: the pool's reader or a synchronous caller). Never installed.
 */
#ifndef EPYRPC_CONN_INT_H
#define EPYRPC_CONN_INT_H

#include "peer-int.h"

/* The read buffer's size while frames are small. */
#define EPY__READ_CHUNK ((size_t) 64 * 1024)
/* ... for a driven peer, which may be one of many idle ones. */
#define EPY__READ_CHUNK_DRIVEN ((size_t) 4 * 1024)
/* The decoding arena's first block. */
#define EPY__ARENA_SIZE ((size_t) 16 * 1024)
/* How long a closing peer tries to write its DISCONNECT frame. */
#define EPY__GOODBYE_MS 250
/* The numbers of Envelope.payload and Envelope.method in envelope.proto. */
#define EPY__PAYLOAD_FIELD 15
#define EPY__METHOD_FIELD 3

/* --- peer.c ------------------------------------------------------------- */

/* Records why the connection ended; the first reason wins. */
bool epy__peer_set_status(epy_peer *peer, int code);
/* The hello's outcome: 1 ok, or a negative code with @message. */
void epy__peer_set_ready(epy_peer *peer, int state, const char *message);
/* Wakes a reader waiting for room in the work queue. */
void epy__peer_wake_queue(epy_peer *peer);
/*
 * The connection has ended with @code: stop the transport, fail every
 * pending call, tell calls in progress their callers are gone, and (for
 * an end the other side caused) tell the listener. The reader, once.
 */
void epy__peer_end(epy_peer *peer, int code, const char *why);

/* --- drive.c ------------------------------------------------------------ */

/* Makes the connection non-blocking and hands it to peer->poller. */
int epy__peer_drive_start(epy_peer *peer);

/* --- hello.c ------------------------------------------------------------ */

/* The interfaces of @cfg as the hello announces them. EPY_ENOMEM. */
int epy__hello_init(epy_peer *peer, const epy_peer_config *cfg);
void epy__hello_free(epy_peer *peer);
/*
 * Checks the other end's hello @h (the version, the interfaces both
 * announce) and takes its compression and frame limit. Returns 0, or
 * EPY_EPROTO, EPY_EVERSION, EPY_ENOMEM with @why.
 */
int epy__hello_check(epy_peer *peer, const Epyrpc__Hello *h, char *why,
                     size_t whylen);

/* --- shm.c -------------------------------------------------------------- */

/* True if $EPYRPC_SHM is "1": every peer offers shared memory. */
bool epy__shm_env(void);

/* Sends this end's hello, with the ring it reads if it offers one. */
int epy__peer_send_hello(epy_peer *peer);
/*
 * The other end's hello @h has been accepted, with the descriptors @fds
 * of its frame: if both ends offer shared memory, takes the other's ring
 * and switches the writing to it.
 */
void epy__shm_hello_read(epy_peer *peer, const Epyrpc__Hello *h,
                         epy__fdset *fds);
/*
 * A SWITCH frame was read: the reading moves to the shared ring after
 * it. Returns 0, or EPY_EPROTO with @why (not offered, or a second).
 */
int epy__shm_switch_read(epy_peer *peer, char *why, size_t whylen);

/* --- outq.c ------------------------------------------------------------- */

/*
 * Appends a frame (@iov, @n entries, @total bytes) and duplicates of its
 * descriptors to the queue. qlock held. False if out of memory or
 * descriptors.
 */
bool epy__out_append(epy_peer *peer, const struct iovec *iov, int n,
                     size_t total, const int *fds, int n_fds);
/* Closes the first @n descriptors of @c, which are sent. qlock held. */
void epy__out_fds_sent(epy__outchunk *c, int n);
/*
 * Attaches @c's descriptors to the next write (a copy in @fds). Returns
 * their count. qlock held.
 */
int epy__out_attach(epy_peer *peer, epy__outchunk *c, int *fds);
/* Drops what waits (the connection has ended). qlock held. */
void epy__out_drop(epy_peer *peer);

/* --- writer.c ----------------------------------------------------------- */

/* Sends the SWITCH frame and moves the writing to the shared ring. */
int epy__peer_send_switch(epy_peer *peer);
/* The job that sends what a writer whose deadline passed left behind. */
void epy__peer_flush_run(epy__job *job);
/*
 * Sends the frames the leader corked (epy__peer_corking()), if any: now
 * (@now, the leader's own thread), or by a worker.
 */
void epy__peer_uncork(epy_peer *peer, bool now);
/*
 * A driven peer's loop: writes what waits in the outgoing queue, without
 * blocking (writer-nb.c). Returns 0, or the code that ends the connection.
 */
int epy__peer_flush_nb(epy_peer *peer);
/* The same, by the writer (wlock held). */
int epy__peer_flush_nb_locked(epy_peer *peer);
/* Writes what waits, waiting until @deadline (ns) at most (closing). */
void epy__peer_flush_until(epy_peer *peer, int64_t deadline);
/* True if frames wait in the outgoing queue. */
bool epy__peer_out_waiting(epy_peer *peer);
/*
 * The write failed (@rc, a negative errno): the connection is gone.
 * Returns the peer's status (writer.c).
 */
int epy__peer_write_failed(epy_peer *peer, int rc);
/*
 * Writes a frame of @total bytes on a driven peer, without blocking
 * (writer-nb.c). @post: an event that may be refused (EPY_EBUSY) when
 * the queue is full, without ending the connection.
 */
int epy__peer_write_nb(epy_peer *peer, struct iovec *iov, int n, size_t total,
                       bool post, const int *fds, int n_fds);
/* Frees the frames still waiting to be written (the peer is freed). */
void epy__peer_out_free(epy_peer *peer);

/* --- reader.c ----------------------------------------------------------- */

/* The decoding arena's allocator (see epy__arena). */
void *epy__arena_alloc(void *data, size_t size);
void epy__arena_free(void *data, void *p);
/* Frees what the last frame took, keeping a block for the next. */
void epy__arena_reset(epy__arena *a);
/* Bytes before a read buffer that hold its count (conn.c). */
#define EPY__RBUF_HDR ((size_t) 16)
/* A counted read buffer of @cap bytes (see epy__rbuf_ref()). */
uint8_t *epy__rbuf_alloc(size_t cap);

/* epy__peer_read_frame(): the deadline came first; what came is kept. */
#define EPY__FRAME_LATER 1

/*
 * Reads and handles one frame; the holder of the reading. With
 * @deadline (ns, 0: none), gives up at that time with EPY__FRAME_LATER,
 * the bytes read so far kept for the next reader. A call or event read
 * is returned in *@ret_call. Returns 0, EPY__FRAME_LATER, or the code
 * that ends the connection (with @why).
 */
int epy__peer_read_frame(epy_peer *peer, int64_t deadline,
                         epy_call **ret_call, char *why, size_t whylen);
/* True if a whole frame is buffered. */
bool epy__peer_frame_buffered(const epy_peer *peer);
/*
 * Why a read failed with @err (an errno): in words, into @why. Any
 * thread.
 */
void epy__peer_recv_why(int err, char *why, size_t whylen);
/*
 * Synchronous calls have stopped (see lead.c): the reader no longer
 * lends the reading, and reads with no timeout but the idle one.
 */
void epy__peer_read_for_good(epy_peer *peer);

/* --- lead.c ------------------------------------------------------------- */

/* The reading token, epy_peer.rtok: generation << 3 | KICK | state. */
enum {
    EPY__RT_POOL = 0,       /* the pool's reader reads */
    EPY__RT_FREE = 1,       /* lent out: nobody reads */
    EPY__RT_CALLER = 2,     /* a synchronous caller reads */
    EPY__RT_STATE = 3,
    EPY__RT_KICK = 4,
    EPY__RT_GEN = 8
};

/* The reader: the job that reads the connection until it ends. */
void epy__peer_lead_run(epy__job *job);
/* Wakes the reader from a lending of the reading (close, a caller). */
void epy__peer_kick_reader(epy_peer *peer);
/* Stops the watchdog thread, if it was started. */
void epy__peer_watch_stop(epy_peer *peer);
/*
 * True on the leader's thread while it runs a call, event or callback
 * inline: its small frames wait (corked) and go out together, in one
 * write, once 1 KiB of them waits or no more frames wait to be read.
 */
bool epy__peer_corking(epy_peer *peer);

#endif /* EPYRPC_CONN_INT_H */
