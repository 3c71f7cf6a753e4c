/*
 * Small helpers shared by the runtime: clocks, name checks, byte buffers,
 * sets of received descriptors.
 */
#include <config.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime-int.h"

int64_t
epy__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
epy__deadline(int64_t timeout_ms)
{
    return timeout_ms > 0 ? epy__now_ns() + timeout_ms * 1000000 : 0;
}

struct timespec
epy__abstime(int64_t deadline_ns)
{
    struct timespec ts;

    ts.tv_sec = (time_t) (deadline_ns / 1000000000);
    ts.tv_nsec = (long) (deadline_ns % 1000000000);
    return ts;
}

int
epy__cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

static bool
ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

int
epy__name_check(const char *name, size_t len)
{
    size_t part = 0;
    int parts = 1;

    if (name == NULL || len == 0 || len > EPY_NAME_MAX)
        return EPY_EPARAM;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (c == '.') {
            if (part == 0 || ++parts > 64)
                return EPY_EPARAM;
            part = 0;
        } else if (part == 0 ? ident_start(c) : ident_char(c)) {
            if (++part > 128)
                return EPY_EPARAM;
        } else {
            return EPY_EPARAM;
        }
    }
    return part > 0 ? 0 : EPY_EPARAM;
}

int
epy__error_fill(epy_error *err, int code, const char *type,
                const char *message, const uint8_t *payload, size_t len)
{
    if (err == NULL)
        return code;
    epy_error_set(err, code, message != NULL && *message ? message : NULL);
    if (type != NULL && *type)
        err->type = strdup(type);
    if (payload != NULL) {
        err->payload = malloc(len ? len : 1);
        if (err->payload != NULL) {
            memcpy(err->payload, payload, len);
            err->payload_len = len;
        }
    }
    return code;
}

/* --- epy_buf ---------------------------------------------------------- */

void
epy_buf_clear(epy_buf *buf)
{
    if (buf == NULL)
        return;
    free(buf->data);
    *buf = (epy_buf) EPY_BUF_INIT;
}

int
epy_buf_reserve(epy_buf *buf, size_t cap)
{
    uint8_t *p;
    size_t n;

    if (buf == NULL)
        return EPY_EPARAM;
    if (cap <= buf->cap)
        return 0;
    /* Exactly what is asked the first time; at least double after. */
    n = buf->cap <= SIZE_MAX / 2 ? buf->cap * 2 : cap;
    if (n < cap)
        n = cap;
    if (n < 64)
        n = 64;
    p = realloc(buf->data, n);
    if (p == NULL)
        return EPY_ENOMEM;
    buf->data = p;
    buf->cap = n;
    return 0;
}

int
epy_buf_set(epy_buf *buf, const void *data, size_t len)
{
    int rc;

    if (buf == NULL || (data == NULL && len > 0))
        return EPY_EPARAM;
    rc = epy_buf_reserve(buf, len);
    if (rc < 0)
        return rc;
    if (len > 0)
        memcpy(buf->data, data, len);
    buf->len = len;
    return 0;
}

epy__fdset *
epy__fdset_new(const int *fds, int n)
{
    epy__fdset *s = malloc(sizeof *s + sizeof (int) * (size_t) n);

    if (s == NULL) {
        for (int i = 0; i < n; i++)
            close(fds[i]);
        return NULL;
    }
    s->n_blobs = 0;
    s->blobs = NULL;
    s->n = n;
    memcpy(s->fd, fds, sizeof (int) * (size_t) n);
    /*
     * Never 0, 1 or 2 (a process that closed its standard streams): a
     * zeroed value holds those, and epy_gen_clear() leaves them alone.
     */
    for (int i = 0; i < n; i++) {
        if (s->fd[i] >= 0 && s->fd[i] < 3) {
            int up = fcntl(s->fd[i], F_DUPFD_CLOEXEC, 3);

            close(s->fd[i]);
            s->fd[i] = up;      /* -1 if none was left: a value naming it fails */
        }
    }
    return s;
}

void
epy__fdset_free(epy__fdset *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->n; i++)
        if (s->fd[i] >= 0)
            close(s->fd[i]);
    free(s->blobs);
    free(s);
}
