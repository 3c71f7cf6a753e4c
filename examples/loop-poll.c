/*
 * epyrpc in a plain poll() loop, with no thread of the library at all
 * (EPY_LOOP_THREADLESS): a server process and a client process, each
 * single-threaded, calling each other.
 *
 * The pattern, for any loop: watch epy_*_get_fd() for reading, wake up
 * after epy_*_get_timeout() at the latest, and call epy_*_process().
 * Handlers, callbacks and events run inside process(); a synchronous
 * call made on the loop's thread runs the loop's work while it waits.
 *
 * Also a test (`make check`), with loop-demo.c's script: calls both
 * ways, a nested call (the server calls the client back while the
 * client waits in a call of its own), events both ways, a timeout, and
 * a server killed mid-call; at the end both processes check that they
 * never started a thread.
 */
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop-demo.h"

/* The threads of this process (/proc/self/task). */
static int
threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

/* A server on @url, run by a poll() loop until t.quit. Exit status 0: ok. */
static int
server_main(const char *url)
{
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_server *srv;

    cfg.peer.loop_mode = EPY_LOOP_THREADLESS;
    if (epy_server_new(url, &cfg, &srv, &err) < 0) {
        fprintf(stderr, "loop-poll: server: %s\n", err.message);
        return 1;
    }
    demo_serve(srv);

    /* The loop: one descriptor for the listening socket and all clients. */
    while (!demo_server_quit) {
        struct pollfd pfd = { epy_server_get_fd(srv),
                              epy_server_get_events(srv), 0 };
        int64_t timeout = epy_server_get_timeout(srv);

        poll(&pfd, 1, timeout < 0 || timeout > 1000 ? 1000 : (int) timeout);
        epy_server_process(srv);
    }
    demo_server_cleanup();
    epy_server_close(srv);
    if (threads() != 1) {
        fprintf(stderr, "loop-poll: the server ran %d threads\n", threads());
        return 1;
    }
    return 0;
}

/* The client's peers, for its loop. */
static epy_peer *peers[2];

/* Runs the client's loop until *@flag >= @want or @timeout_ms pass. */
static void
run_poll(const int *flag, int want, int timeout_ms)
{
    int64_t left = timeout_ms;

    while (*flag < want && left > 0) {
        struct pollfd pfd[2];
        int64_t timeout = 10;

        for (int i = 0; i < 2; i++) {
            int64_t t = epy_peer_get_timeout(peers[i]);

            pfd[i].fd = epy_peer_get_fd(peers[i]);
            pfd[i].events = epy_peer_get_events(peers[i]);
            if (t >= 0 && t < timeout)
                timeout = t;
        }
        poll(pfd, 2, (int) timeout);
        for (int i = 0; i < 2; i++)
            epy_peer_process(peers[i]);
        left -= timeout > 0 ? timeout : 1;
    }
}

int
main(void)
{
    demo_run r;
    int failures;

    if (demo_begin(&r, "loop-poll", server_main) < 0)
        return 1;
    peers[0] = r.c.peer;
    peers[1] = r.v.peer;
    failures = demo_client_script(&r.c, &r.v, r.victim, run_poll, "loop-poll");
    failures += demo_end(&r, "loop-poll");
    if (threads() != 1) {
        fprintf(stderr, "loop-poll: the client ran %d threads\n", threads());
        failures++;
    }
    if (failures == 0)
        printf("loop-poll: ok\n");
    return failures != 0;
}
