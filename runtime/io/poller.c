/*
 * The poller: loops of epoll, each with an eventfd for kicks, and the
 * deadlines of their entries (see poller-int.h).
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "poller-int.h"

#define MAX_EVENTS 64
/* How often a loop looks at its entries' deadlines, at most. */
#define SCAN_NS ((int64_t) 50000000)

typedef struct epy__loop {
    epy__poller *poller;
    int epfd;
    int evfd;
    pthread_t tid;
    bool started;
    pthread_mutex_t lock;
    epy__link entries;          /* under lock */
    epy__pollent *kicks;        /* under lock: entries kicked, FIFO */
    epy__pollent *kicks_tail;
    bool stopping;              /* under lock */
    atomic_bool evfd_armed;     /* a kick's write is pending */
    int64_t next_deadline;      /* under lock: the nearest (0: none) */
} epy__loop;

struct epy__poller {
    atomic_ulong owner;         /* without threads: who last processed (0: none) */
    int nloops;
    atomic_uint next;           /* round robin of additions */
    epy__loop *loops;
};

/* An entry leaves its loop. On the loop. */
static void
leave(epy__loop *l, epy__pollent *e)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, e->fd, NULL);
    pthread_mutex_lock(&l->lock);
    e->gone = true;
    epy__list_del(&e->link);
    if (e->kicked) {
        epy__pollent **pp = &l->kicks;

        l->kicks_tail = NULL;
        while (*pp != NULL) {
            if (*pp == e)
                *pp = e->kick_next;
            else
                l->kicks_tail = *pp, pp = &(*pp)->kick_next;
        }
        e->kicked = false;
    }
    pthread_mutex_unlock(&l->lock);
    if (e->left != NULL)
        e->left(e);     /* may free @e */
}

/* Applies what a callback returned. On the loop. */
static void
settle(epy__loop *l, epy__pollent *e, int want)
{
    if (want < 0) {
        leave(l, e);
        return;
    }
    if ((uint32_t) want != e->watched) {
        struct epoll_event ev = { .events = (uint32_t) want, .data.ptr = e };

        e->watched = (uint32_t) want;
        epoll_ctl(l->epfd, EPOLL_CTL_MOD, e->fd, &ev);
    }
    if (e->deadline != 0) {
        pthread_mutex_lock(&l->lock);
        if (l->next_deadline == 0 || e->deadline < l->next_deadline)
            l->next_deadline = e->deadline;
        pthread_mutex_unlock(&l->lock);
    }
}

/* Runs the expired deadlines; sets the next one. On the loop. */
static void
scan(epy__loop *l, int64_t now)
{
    int64_t next = 0;
    epy__link *it;

    pthread_mutex_lock(&l->lock);
    if (l->next_deadline == 0 || l->next_deadline > now) {
        pthread_mutex_unlock(&l->lock);
        return;
    }
    for (it = l->entries.next; it != &l->entries;) {
        epy__pollent *e = EPY__CONTAINER(it, epy__pollent, link);

        it = it->next;
        if (e->deadline != 0 && e->deadline <= now && e->expire != NULL) {
            int want;

            /* The entry can leave (and only it) while unlocked. */
            pthread_mutex_unlock(&l->lock);
            want = e->expire(e);
            pthread_mutex_lock(&l->lock);
            it = e->link.next;
            if (want < 0) {
                pthread_mutex_unlock(&l->lock);
                leave(l, e);
                pthread_mutex_lock(&l->lock);
                continue;
            }
            pthread_mutex_unlock(&l->lock);
            settle(l, e, want);
            pthread_mutex_lock(&l->lock);
        }
        if (e->deadline != 0 && (next == 0 || e->deadline < next))
            next = e->deadline;
    }
    l->next_deadline = next;
    pthread_mutex_unlock(&l->lock);
}

/* Runs the kicks queued so far. On the loop. */
static void
run_kicks(epy__loop *l)
{
    epy__pollent *last;

    pthread_mutex_lock(&l->lock);
    last = l->kicks_tail;
    while (last != NULL && l->kicks != NULL) {
        epy__pollent *e = l->kicks;
        bool end = e == last;

        l->kicks = e->kick_next;
        if (l->kicks == NULL)
            l->kicks_tail = NULL;
        e->kicked = false;
        pthread_mutex_unlock(&l->lock);
        settle(l, e, e->ready(e, EPY__POLL_KICK));
        pthread_mutex_lock(&l->lock);
        if (end)
            break;
    }
    pthread_mutex_unlock(&l->lock);
}

/* One round: waits up to @timeout_ms (-1: no limit), runs what is ready. */
static void
loop_once(epy__loop *l, int timeout_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout_ms);

    for (int i = 0; i < n; i++) {
        epy__pollent *e = evs[i].data.ptr;

        if (e == NULL) {
            uint64_t v;

            atomic_store(&l->evfd_armed, false);
            if (read(l->evfd, &v, sizeof v) < 0 && errno != EAGAIN)
                continue;
            continue;
        }
        settle(l, e, e->ready(e, evs[i].events));
    }
    run_kicks(l);
    scan(l, epy__now_ns());
}

/* Milliseconds to wait for the next deadline; -1: none. */
static int
wait_ms(epy__loop *l)
{
    int64_t next, left;

    pthread_mutex_lock(&l->lock);
    next = l->next_deadline;
    pthread_mutex_unlock(&l->lock);
    if (next == 0)
        return -1;
    left = next - epy__now_ns();
    if (left < SCAN_NS)
        left = SCAN_NS;     /* deadlines are looked at in batches */
    return (int) ((left + 999999) / 1000000);
}

static void *
loop_main(void *arg)
{
    epy__loop *l = arg;

    for (;;) {
        bool stop;

        pthread_mutex_lock(&l->lock);
        stop = l->stopping;
        pthread_mutex_unlock(&l->lock);
        if (stop)
            break;
        loop_once(l, wait_ms(l));
    }
    return NULL;
}

static void
wake_loop(epy__loop *l)
{
    uint64_t one = 1;

    if (atomic_exchange(&l->evfd_armed, true))
        return;
    if (write(l->evfd, &one, sizeof one) < 0) {
        /* Full counter: a wake-up is pending anyway. */
    }
}

static int
loop_init(epy__poller *p, epy__loop *l)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

    l->poller = p;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&l->lock, NULL);
    epy__list_init(&l->entries);
    atomic_init(&l->evfd_armed, false);
    if (l->epfd < 0 || l->evfd < 0
        || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) < 0)
        return EPY_ESYSTEM;
    return 0;
}

int
epy__poller_new(int threads, epy__poller **ret)
{
    epy__poller *p = calloc(1, sizeof *p);
    int rc = 0;

    if (p == NULL)
        return EPY_ENOMEM;
    p->nloops = threads > 0 ? threads : 1;
    p->loops = calloc((size_t) p->nloops, sizeof *p->loops);
    if (p->loops == NULL) {
        free(p);
        return EPY_ENOMEM;
    }
    for (int i = 0; i < p->nloops; i++) {
        p->loops[i].epfd = p->loops[i].evfd = -1;
        if (rc == 0)
            rc = loop_init(p, &p->loops[i]);
    }
    for (int i = 0; rc == 0 && threads > 0 && i < p->nloops; i++) {
        if (pthread_create(&p->loops[i].tid, NULL, loop_main, &p->loops[i]) != 0)
            rc = EPY_ESYSTEM;
        else
            p->loops[i].started = true;
    }
    if (rc < 0) {
        epy__poller_free(p);
        return rc;
    }
    *ret = p;
    return 0;
}

void
epy__poller_free(epy__poller *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->nloops; i++) {
        epy__loop *l = &p->loops[i];

        pthread_mutex_lock(&l->lock);
        l->stopping = true;
        pthread_mutex_unlock(&l->lock);
        if (l->started) {
            atomic_store(&l->evfd_armed, false);
            wake_loop(l);
            pthread_join(l->tid, NULL);
        }
        if (l->epfd >= 0)
            close(l->epfd);
        if (l->evfd >= 0)
            close(l->evfd);
        pthread_mutex_destroy(&l->lock);
    }
    free(p->loops);
    free(p);
}

int
epy__poller_add(epy__poller *p, epy__pollent *e, uint32_t events)
{
    epy__loop *l = &p->loops[atomic_fetch_add(&p->next, 1) % (unsigned) p->nloops];
    struct epoll_event ev = { .events = events, .data.ptr = e };

    e->loop = l;
    e->watched = events;
    e->kicked = e->gone = false;
    e->kick_next = NULL;
    pthread_mutex_lock(&l->lock);
    epy__list_add(&l->entries, &e->link);
    if (e->deadline != 0
        && (l->next_deadline == 0 || e->deadline < l->next_deadline))
        l->next_deadline = e->deadline;
    pthread_mutex_unlock(&l->lock);
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, e->fd, &ev) < 0) {
        pthread_mutex_lock(&l->lock);
        epy__list_del(&e->link);
        e->gone = true;
        pthread_mutex_unlock(&l->lock);
        return EPY_ESYSTEM;
    }
    wake_loop(l);       /* it may wait without a deadline */
    return 0;
}

void
epy__poller_kick(epy__pollent *e)
{
    epy__loop *l = e->loop;
    bool wake = false;

    pthread_mutex_lock(&l->lock);
    if (!e->gone && !e->kicked) {
        e->kicked = true;
        e->kick_next = NULL;
        if (l->kicks_tail != NULL)
            l->kicks_tail->kick_next = e;
        else
            l->kicks = e;
        l->kicks_tail = e;
        wake = true;
    }
    pthread_mutex_unlock(&l->lock);
    if (wake)
        wake_loop(l);
}

void
epy__poller_wake(epy__poller *p)
{
    wake_loop(&p->loops[0]);
}

bool
epy__poller_owned(epy__poller *p)
{
    unsigned long self = (unsigned long) pthread_self(), none = 0;

    /* Before any process(), the first thread to ask is the loop's. */
    return atomic_compare_exchange_strong(&p->owner, &none, self)
           || none == self;
}

int
epy__poller_fd(const epy__poller *p)
{
    return p->loops[0].epfd;
}

int64_t
epy__poller_timeout(epy__poller *p)
{
    epy__loop *l = &p->loops[0];
    int64_t next, left;

    pthread_mutex_lock(&l->lock);
    next = l->kicks != NULL ? -1 : l->next_deadline;
    pthread_mutex_unlock(&l->lock);
    if (next < 0)
        return 0;
    if (next == 0)
        return -1;
    left = next - epy__now_ns();
    return left <= 0 ? 0 : (left + 999999) / 1000000;
}

void
epy__poller_process(epy__poller *p)
{
    epy__loop *l = &p->loops[0];

    atomic_store_explicit(&p->owner, (unsigned long) pthread_self(),
                          memory_order_relaxed);
    loop_once(l, 0);
}
