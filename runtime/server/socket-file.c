/*
 * Socket files: a server's unix socket is bound in a private folder,
 * given its mode and owner there, and renamed into place, so nobody can
 * connect before the mode is set and no symbolic link is ever followed;
 * a file already at the path is replaced only if it is a stale socket.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net-int.h"

/*
 * Whether the socket file at @a is stale: 1 if nobody listens on it
 * (ECONNREFUSED), 0 if someone does (a full backlog counts), -1 if it is
 * gone (ENOENT), -2 if it cannot be told (errno says why). Never blocks.
 */
static int
socket_stale(const epy__address *a)
{
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = 0, e = 0;

    if (probe < 0)
        return -2;
    if (connect(probe, (const struct sockaddr *) &a->ss, a->len) < 0) {
        e = errno;
        if (e == ECONNREFUSED)
            rc = 1;
        else if (e == ENOENT)
            rc = -1;
        else if (e != EAGAIN && e != EINPROGRESS)
            rc = -2;
    }
    close(probe);
    errno = e;
    return rc;
}

/*
 * Moves the socket file "s" of the folder @dfd to @a->path where nothing
 * is, or in place of a stale socket (only: never a live server's socket,
 * a symbolic link or any other file). Sets *@moved once "s" is no longer
 * ours to remove. Returns 0, EPY_EEXIST or EPY_ESYSTEM.
 */
static int
move_into_place(int dfd, const epy__address *a, bool *moved, epy_error *err)
{
    for (int tries = 0; tries < 8; tries++) {
        struct stat st;
        int stale;

        /* Where nothing is: never replacing what appears meanwhile. */
#ifdef RENAME_NOREPLACE
        if (renameat2(dfd, "s", AT_FDCWD, a->path, RENAME_NOREPLACE) == 0) {
            *moved = true;
            return 0;
        }
        if (errno != EEXIST && errno != EINVAL && errno != ENOSYS)
            return epy__sys_error(err, EPY_ESYSTEM, "rename of the socket file");
        if (errno != EEXIST)
#endif
        {
            if (linkat(dfd, "s", AT_FDCWD, a->path, 0) == 0) {
                unlinkat(dfd, "s", 0);
                *moved = true;
                return 0;
            }
            if (errno != EEXIST)
                return epy__sys_error(err, EPY_ESYSTEM, "link of the socket file");
        }

        /* Something is there: a stale socket only may go. */
        if (lstat(a->path, &st) < 0) {
            if (errno == ENOENT)
                continue;
            return epy__sys_error(err, EPY_ESYSTEM, "lstat of the socket file");
        }
        if (!S_ISSOCK(st.st_mode))
            return epy_error_setf(err, EPY_EEXIST,
                                  "'%s' exists and is not a socket", a->path);
        stale = socket_stale(a);
        if (stale == -1)
            continue;
        if (stale == -2)
            return epy_error_setf(err, EPY_EEXIST,
                                  "'%s' is a socket that cannot be "
                                  "checked for a server: %s", a->path,
                                  strerror(errno));
        if (stale == 0)
            return epy_error_setf(err, EPY_EEXIST,
                                  "a server already listens on '%s'", a->path);
#ifdef RENAME_EXCHANGE
        /*
         * Swap, then check that what came out is the stale socket looked
         * at: another server starting at the same time keeps its own.
         */
        if (renameat2(dfd, "s", AT_FDCWD, a->path, RENAME_EXCHANGE) == 0) {
            struct stat old;

            if (fstatat(dfd, "s", &old, AT_SYMLINK_NOFOLLOW) == 0
                && old.st_dev == st.st_dev && old.st_ino == st.st_ino) {
                unlinkat(dfd, "s", 0);
                *moved = true;
                return 0;
            }
            if (renameat2(dfd, "s", AT_FDCWD, a->path, RENAME_EXCHANGE) < 0)
                *moved = true;  /* "s" is someone else's now: leave it */
            return epy_error_setf(err, EPY_EEXIST,
                                  "'%s' changed while it was being replaced",
                                  a->path);
        }
        if (errno != EINVAL && errno != ENOSYS)
            return epy__sys_error(err, EPY_ESYSTEM, "rename of the socket file");
#endif
        if (renameat(dfd, "s", AT_FDCWD, a->path) < 0)
            return epy__sys_error(err, EPY_ESYSTEM, "rename of the socket file");
        *moved = true;
        return 0;
    }
    return epy_error_setf(err, EPY_EEXIST, "'%s' keeps changing", a->path);
}

/*
 * Makes the listening socket file @a->path for @fd, with its mode and
 * owner set before anyone can connect, never following a symbolic link:
 * binds in a private folder made next to the path (on the same file
 * system), sets mode and owner there, listens, then renames the socket
 * into place (see move_into_place()). The folder is removed on every
 * path. Returns 0, EPY_EEXIST or EPY_ESYSTEM.
 */
int
epy__socket_file_bind(int fd, const epy__address *a,
                      const epy__socket_file_opts *cfg, dev_t *ret_dev,
                      ino_t *ret_ino, epy_error *err)
{
    const char *slash = strrchr(a->path, '/');
    char tmp[sizeof a->path + 16];
    struct sockaddr_un sun;
    struct stat st;
    bool bound = false, moved = false;
    int dfd = -1, rc = 0;

    if (slash == NULL)
        snprintf(tmp, sizeof tmp, ".epy-XXXXXX");
    else
        snprintf(tmp, sizeof tmp, "%.*s/.epy-XXXXXX",
                 (int) (slash - a->path), a->path);
    if (mkdtemp(tmp) == NULL) {
        int e = errno;

        return epy_error_setf(err, EPY_ESYSTEM, "cannot make a folder in "
                              "'%.*s' for the socket file '%s': %s",
                              slash != NULL ? (int) (slash - a->path) : 1,
                              slash != NULL ? a->path : ".", a->path,
                              strerror(e));
    }
    dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        rc = epy__sys_error(err, EPY_ESYSTEM, "open of the socket's folder");
        goto out;
    }
    if (fstat(dfd, &st) < 0 || st.st_uid != geteuid()
        || (st.st_mode & 077) != 0) {
        rc = epy_error_setf(err, EPY_ESYSTEM,
                            "the socket's folder '%s' is not private", tmp);
        goto out;
    }
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(tmp) + 2 < sizeof sun.sun_path)
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s/s", tmp);
    else    /* too long: through the folder's descriptor */
        snprintf(sun.sun_path, sizeof sun.sun_path, "/proc/self/fd/%d/s", dfd);
    if (bind(fd, (const struct sockaddr *) &sun, sizeof sun) < 0) {
        rc = epy__sys_error(err, EPY_ESYSTEM, "bind");
        goto out;
    }
    bound = true;
    if (cfg->mode >= 0
        && fchmodat(dfd, "s", (mode_t) cfg->mode,
                    AT_SYMLINK_NOFOLLOW) < 0) {
        /*
         * Older C libraries refuse the flag; the folder is ours alone, so
         * "s" is the socket just bound.
         */
        if ((errno != ENOTSUP && errno != EOPNOTSUPP)
            || fchmodat(dfd, "s", (mode_t) cfg->mode, 0) < 0) {
            rc = epy__sys_error(err, EPY_ESYSTEM, "socket file permissions");
            goto out;
        }
    }
    if ((cfg->uid >= 0 || cfg->gid >= 0)
        && fchownat(dfd, "s", (uid_t) cfg->uid,
                    (gid_t) cfg->gid, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = epy__sys_error(err, EPY_ESYSTEM, "socket file owner");
        goto out;
    }
    if (fstatat(dfd, "s", &st, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = epy__sys_error(err, EPY_ESYSTEM, "stat of the socket file");
        goto out;
    }
    *ret_dev = st.st_dev;
    *ret_ino = st.st_ino;
    if (listen(fd, cfg->backlog) < 0) {
        rc = epy__sys_error(err, EPY_ESYSTEM, "listen");
        goto out;
    }
    rc = move_into_place(dfd, a, &moved, err);

out:
    if (bound && !moved)
        unlinkat(dfd, "s", 0);
    if (dfd >= 0)
        close(dfd);
    rmdir(tmp);
    return rc;
}
