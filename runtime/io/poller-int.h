/*
 * libepyrpc: the poller, the I/O core of servers and of peers driven by
 * the user's event loop. Never installed.
 *
 * A poller is one or more loops, each an epoll descriptor watched level-
 * triggered. An entry (a descriptor and its callbacks, embedded in the
 * object it serves) belongs to one loop, and all its callbacks run on
 * that loop's thread, one at a time: an entry needs no lock of its own
 * against itself. A poller made with no threads has one loop, run by
 * epy__poller_process() from the user's loop, which watches the
 * descriptor epy__poller_fd().
 */
#ifndef EPYRPC_POLLER_INT_H
#define EPYRPC_POLLER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "runtime-int.h"

typedef struct epy__poller epy__poller;
typedef struct epy__pollent epy__pollent;
struct epy__loop;

/* ready()'s events: EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR, and this. */
#define EPY__POLL_KICK (1u << 30)

struct epy__pollent {
    int fd;
    /*
     * The entry's descriptor is ready (@events), or it was kicked. On
     * the entry's loop. Returns the events to watch from now on
     * (EPOLLIN, EPOLLOUT; 0 watches for hang-ups only), or -1: the entry
     * leaves the poller, which never touches it again.
     */
    int (*ready)(epy__pollent *e, uint32_t events);
    /*
     * Called on the entry's loop once the monotonic time has reached
     * @deadline (ns; 0: never), which the callbacks may change. Returns
     * as ready() does.
     */
    int (*expire)(epy__pollent *e);
    /* Optional: called on the loop once the entry has left the poller. */
    void (*left)(epy__pollent *e);
    int64_t deadline;
    /* the poller's */
    struct epy__loop *loop;
    uint32_t watched;
    bool kicked, gone;          /* under the loop's lock */
    epy__pollent *kick_next;    /* under the loop's lock */
    epy__link link;             /* the loop's entries, under its lock */
};

/*
 * A poller with @threads loops, each run by a thread of its own; 0: one
 * loop, run by epy__poller_process(). Returns 0, EPY_ENOMEM or
 * EPY_ESYSTEM.
 */
int epy__poller_new(int threads, epy__poller **ret);
/* Stops the threads and frees the poller; every entry has left. */
void epy__poller_free(epy__poller *p);
/* Watches @e for @events, from any thread. Returns 0 or EPY_ESYSTEM. */
int epy__poller_add(epy__poller *p, epy__pollent *e, uint32_t events);
/*
 * Has ready(@e, EPY__POLL_KICK) called soon on its loop. Any thread;
 * nothing once @e has left.
 */
void epy__poller_kick(epy__pollent *e);

/* --- a poller without threads ------------------------------------------ */

/* Makes the descriptor readable (work waits outside the entries). */
void epy__poller_wake(epy__poller *p);
/* The descriptor to watch for reading (an epoll descriptor). */
int epy__poller_fd(const epy__poller *p);
/* Milliseconds until epy__poller_process() has timed work; -1: none. */
int64_t epy__poller_timeout(epy__poller *p);
/*
 * True if the calling thread is the last one that ran
 * epy__poller_process(), or, before any did, the first one to ask (a
 * program's thread that connects before its loop runs).
 */
bool epy__poller_owned(epy__poller *p);
/* Runs the ready callbacks, kicks and expired deadlines; never blocks. */
void epy__poller_process(epy__poller *p);

#endif /* EPYRPC_POLLER_INT_H */
