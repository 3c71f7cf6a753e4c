/*
 * Values out of line ("blobs", doc/wire.md): a large bytes or string
 * value travels in a sealed memfd of its own, one of the frame's
 * descriptors, and the receiver reads it in place.
 *
 * The sender writes the value into a new memfd and seals it against
 * writing, shrinking and growing, so that what the receiver checked
 * cannot change under it. The receiver checks the seals, the size and
 * that every page is there (a sparse memfd would have the receiver pay
 * for pages the sender never wrote), and maps it privately: the value's
 * data points into the mapping (a view), which the program may even
 * write to (copy on write). Views are kept here, by address, so that
 * epy_gen_free() and epy_bytes_clear() unmap them instead of calling
 * free(); a view keeps its descriptor, so that sending it on again
 * (a handler replying with its argument) passes the same memfd instead
 * of copying it, unless the program wrote to it.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen-int.h"

#define SEALS_NEEDED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define BUCKETS 64

typedef struct view {
    struct view *next;
    void *addr;
    size_t maplen;              /* the value's length, a string's NUL too */
    int fd;                     /* the sealed memfd, kept to send it on */
} view;

static pthread_mutex_t views_lock = PTHREAD_MUTEX_INITIALIZER;
static view *views[BUCKETS];

static size_t
page_size(void)
{
    static _Atomic size_t ps;
    size_t v = atomic_load_explicit(&ps, memory_order_relaxed);

    if (v == 0) {
        long sv = sysconf(_SC_PAGESIZE);

        v = sv > 0 ? (size_t) sv : 4096;
        atomic_store_explicit(&ps, v, memory_order_relaxed);
    }
    return v;
}

static view **
bucket(const void *addr)
{
    return &views[((uintptr_t) addr / page_size()) % BUCKETS];
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
    off_t off = 0;

    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 && errno == ENOSPC ? EPY_ENOMEM : EPY_ESYSTEM;
        p += w;
        off += w;
        n -= (size_t) w;
    }
    return 0;
}

/*
 * If @p is a view of @maplen bytes that the program never wrote to, a
 * duplicate of its memfd: the value goes on without a copy. A page
 * written to was copied into the process (copy on write), which
 * /proc/self/pagemap shows: present, and no longer the file's.
 */
static int
forward(const void *p, size_t maplen)
{
    uint64_t ent[512];
    size_t pages, done = 0;
    int fd = -1, pm;

    if ((uintptr_t) p % page_size() != 0)
        return -1;
    pthread_mutex_lock(&views_lock);
    for (view *v = *bucket(p); v != NULL; v = v->next)
        if (v->addr == p && v->maplen == maplen)
            fd = fcntl(v->fd, F_DUPFD_CLOEXEC, 3);
    pthread_mutex_unlock(&views_lock);
    if (fd < 0)
        return -1;
    pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    pages = (maplen + page_size() - 1) / page_size();
    while (pm >= 0 && done < pages) {
        size_t n = pages - done < 512 ? pages - done : 512;
        off_t off = (off_t) (((uintptr_t) p / page_size() + done) * 8);
        ssize_t r = pread(pm, ent, n * 8, off);

        if (r != (ssize_t) (n * 8))
            break;
        for (size_t i = 0; i < n; i++)
            if ((ent[i] >> 62 & 1)
                || ((ent[i] >> 63 & 1) && !(ent[i] >> 61 & 1)))
                goto written;   /* swapped or anonymous: a copy */
        done += n;
    }
    if (pm >= 0 && done == pages) {
        close(pm);
        return fd;
    }
written:
    if (pm >= 0)
        close(pm);
    close(fd);
    return -1;
}

int
epy__blob_make(const void *data, size_t maplen, int *ret_fd)
{
    int fd, rc;

    fd = forward(data, maplen);
    if (fd >= 0) {
        *ret_fd = fd;
        return 0;
    }
    fd = memfd_create("epyrpc-blob", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return errno == EMFILE || errno == ENFILE || errno == ENOMEM
               ? EPY_ENOMEM : EPY_ESYSTEM;
    if (fd < 3) {
        int up = fcntl(fd, F_DUPFD_CLOEXEC, 3);

        close(fd);
        if (up < 0)
            return EPY_ENOMEM;
        fd = up;
    }
    rc = write_all(fd, data, maplen);
    if (rc == 0 && fcntl(fd, F_ADD_SEALS, SEALS_NEEDED | F_SEAL_SEAL) < 0)
        rc = EPY_ESYSTEM;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *ret_fd = fd;
    return 0;
}

int
epy__blob_map(int fd, uint64_t len, bool string, void **ret)
{
    size_t maplen;
    struct stat st;
    off_t hole;
    uint8_t *p;
    view *v;
    int seals;

    if (len == 0 || len >= SIZE_MAX - 1 || len > (uint64_t) INT64_MAX / 2)
        return EPY_EPROTO;
    maplen = (size_t) len + (string ? 1 : 0);
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & SEALS_NEEDED) != SEALS_NEEDED
        || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
        || (uint64_t) st.st_size < maplen
        /* Every page written by the sender, none left for us to fill. */
        || (uint64_t) st.st_blocks * 512 < maplen)
        return EPY_EPROTO;
    hole = lseek(fd, 0, SEEK_HOLE);
    if (hole < 0 || (uint64_t) hole < maplen)
        return EPY_EPROTO;
    v = malloc(sizeof *v);
    if (v == NULL)
        return EPY_ENOMEM;
    /*
     * Private: a page is read from the memfd's own (no copy) when first
     * touched, and becomes the program's own copy when written to.
     */
    p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        free(v);
        return errno == ENOMEM ? EPY_ENOMEM : EPY_EPROTO;
    }
    if (string && p[len] != 0) {
        munmap(p, maplen);
        free(v);
        return EPY_EPROTO;
    }
    v->addr = p;
    v->maplen = maplen;
    v->fd = fd;
    pthread_mutex_lock(&views_lock);
    v->next = *bucket(p);
    *bucket(p) = v;
    pthread_mutex_unlock(&views_lock);
    *ret = p;
    return 0;
}

bool
epy__blob_release(void *p)
{
    view *found = NULL;

    /* A view starts on a page: most of what malloc() returns does not. */
    if (p == NULL || (uintptr_t) p % page_size() != 0)
        return false;
    pthread_mutex_lock(&views_lock);
    for (view **vp = bucket(p); *vp != NULL; vp = &(*vp)->next) {
        if ((*vp)->addr == p) {
            found = *vp;
            *vp = found->next;
            break;
        }
    }
    pthread_mutex_unlock(&views_lock);
    if (found == NULL)
        return false;
    munmap(found->addr, found->maplen);
    close(found->fd);
    free(found);
    return true;
}
