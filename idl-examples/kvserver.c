/*
 * A typed server with many clients: kv.idl served over a unix socket to
 * four client processes at once, through the typed code idlc generates
 * (kv.epy.h).
 *
 * The server is made paused, serves namespace kv to all its clients with
 * one handler table (kv_serve_server()), forks the clients and starts.
 * Each client subscribes to the event kv.changed, then puts, gets,
 * deletes and lists keys; after each put the server broadcasts
 * kv.changed to every client. Exits 0 when every client got every event.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kv.epy.h"

#define CLIENTS 4
#define PUTS 3                  /* each client's puts */
#define MAX_KEYS 64

/* --- the server (this process) ------------------------------------------- */

typedef struct entry {
    char *key, *value;
    uint64_t version;
} entry;

typedef struct store {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    entry items[MAX_KEYS];
    size_t n;
    int connected;              /* clients told of by on_connect */
    epy_server *srv;
} store;

/* The entry of @key, or NULL. Lock held. */
static entry *
find(store *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].key, key) == 0)
            return &s->items[i];
    return NULL;
}

static int
srv_put(epy_call *call, const char *key, const char *value,
        uint64_t *ret_version, void *ctx)
{
    store *s = ctx;
    entry *e;
    char *v = strdup(value);

    (void) call;
    if (v == NULL)
        return EPY_ENOMEM;
    pthread_mutex_lock(&s->lock);
    e = find(s, key);
    if (e == NULL && s->n < MAX_KEYS) {
        e = &s->items[s->n];
        *e = (entry) { strdup(key), NULL, 0 };
        if (e->key != NULL)
            s->n++;
        else
            e = NULL;
    }
    if (e == NULL) {
        pthread_mutex_unlock(&s->lock);
        free(v);
        return EPY_ENOMEM;
    }
    free(e->value);
    e->value = v;
    *ret_version = ++e->version;
    /* To every client, the caller too. A broadcast only queues the
     * event for each client, so it may be made under our lock: the
     * events of one key then go out in the order of its versions. */
    kv_changed_broadcast(s->srv, key, e->version, NULL);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int
srv_get(epy_call *call, const char *key, char **ret_value, void *ctx)
{
    store *s = ctx;
    entry *e;

    pthread_mutex_lock(&s->lock);
    e = find(s, key);
    *ret_value = e != NULL ? strdup(e->value) : NULL;
    pthread_mutex_unlock(&s->lock);
    if (e == NULL) {
        kv_no_such_key err = { (char *) key };

        return kv_no_such_key_raise(call, &err, "no such key");
    }
    return *ret_value != NULL ? 0 : EPY_ENOMEM;
}

static int
srv_del(epy_call *call, const char *key, void *ctx)
{
    store *s = ctx;
    entry *e;

    pthread_mutex_lock(&s->lock);
    e = find(s, key);
    if (e != NULL) {
        free(e->key);
        free(e->value);
        *e = s->items[--s->n];  /* the last one takes its place */
    }
    pthread_mutex_unlock(&s->lock);
    if (e == NULL) {
        kv_no_such_key err = { (char *) key };

        return kv_no_such_key_raise(call, &err, "no such key");
    }
    return 0;
}

/* The result is the runtime's to free, with what it holds, also when
 * the handler fails half-way. */
static int
srv_keys(epy_call *call, epy_string_list *ret_keys, void *ctx)
{
    store *s = ctx;
    int rc = 0;

    (void) call;
    pthread_mutex_lock(&s->lock);
    ret_keys->items = epy_gen_alloc((s->n + 1) * sizeof *ret_keys->items);
    for (size_t i = 0; ret_keys->items != NULL && i < s->n && rc == 0; i++)
        if ((ret_keys->items[ret_keys->n++] = strdup(s->items[i].key)) == NULL)
            rc = EPY_ENOMEM;
    pthread_mutex_unlock(&s->lock);
    return ret_keys->items != NULL ? rc : EPY_ENOMEM;
}

/* A client whose hello was accepted: it receives broadcasts from now on. */
static void
on_connect(epy_server *srv, epy_peer *peer, int reason, void *ctx)
{
    store *s = ctx;
    epy_credentials cred;

    (void) srv;
    (void) reason;
    epy_peer_credentials(peer, &cred);
    printf("server: client pid %ld connected\n", cred.pid);
    pthread_mutex_lock(&s->lock);
    s->connected++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void
on_disconnect(epy_server *srv, epy_peer *peer, int reason, void *ctx)
{
    epy_credentials cred;

    (void) srv;
    (void) ctx;
    epy_peer_credentials(peer, &cred);
    printf("server: client pid %ld left (%s)\n", cred.pid,
           epy_status_name(reason));
}

/* --- the clients (child processes) --------------------------------------- */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static int events;

/* kv.changed, broadcast by the server: runs on a worker of our peer. */
static int
on_changed(epy_call *call, const char *key, uint64_t version, void *ctx)
{
    (void) call;
    (void) key;
    (void) version;
    (void) ctx;
    pthread_mutex_lock(&ev_lock);
    events++;
    pthread_cond_broadcast(&ev_cond);
    pthread_mutex_unlock(&ev_lock);
    return 0;
}

/* Waits up to 5 s for @n events; the number seen. */
static int
wait_events(int n)
{
    struct timespec ts;
    int seen;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&ev_lock);
    while (events < n
           && pthread_cond_timedwait(&ev_cond, &ev_lock, &ts) != ETIMEDOUT)
        ;
    seen = events;
    pthread_mutex_unlock(&ev_lock);
    return seen;
}

/* Puts, gets, deletes and lists keys of its own, then waits for the
 * events of every client's puts. @ready: written once subscribed;
 * @go: readable once every client is. Returns the exit status. */
static int
client(const char *url, int id, int ready, int go)
{
    static const kv_handlers subscriber = { .changed = on_changed };
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer = NULL;
    kv_api *kv = NULL;
    char a[32], b[32], *value = NULL, c;
    uint64_t version = 0;
    epy_string_list keys = { 0, NULL };
    kv_no_such_key missing;
    int rc, failed = 0;

    cfg.interfaces = &kv_interface;
    cfg.n_interfaces = 1;
    if (epy_connect(url, &cfg, 5000, &peer, &err) < 0) {
        printf("client %d: %s\n", id, err.message);
        return 1;
    }
    /* A table with only the event set: the client's subscription. */
    kv_serve(peer, &subscriber, NULL);
    kv_api_open(peer, &kv, NULL);
    if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 0)
        failed++;

    snprintf(a, sizeof a, "c%d/a", id);
    snprintf(b, sizeof b, "c%d/b", id);
    failed += kv_put(kv, a, "one", &version, NULL) != 0 || version != 1;
    failed += kv_put(kv, b, "two", &version, NULL) != 0 || version != 1;
    failed += kv_put(kv, a, "three", &version, NULL) != 0 || version != 2;
    rc = kv_get(kv, a, &value, NULL);
    printf("client %d: put %s twice, %s once; get %s = %s\n", id, a, b, a,
           rc == 0 ? value : epy_strerror(rc));
    failed += rc != 0 || strcmp(value, "three") != 0;
    free(value);
    failed += kv_del(kv, b, NULL) != 0;
    /* A typed error: its payload, decoded. */
    rc = kv_get(kv, b, &value, &err);
    if (rc == EPY_EFAILED && kv_no_such_key_get(&err, &missing) == 0) {
        printf("client %d: deleted %s; get %s: %s (key %s)\n", id, b, b,
               err.type, missing.key);
        kv_no_such_key_clear(&missing);
    } else {
        failed++;
    }
    epy_error_clear(&err);
    failed += kv_keys(kv, &keys, NULL) != 0 || keys.n < 1;
    epy_string_list_clear(&keys);

    rc = wait_events(CLIENTS * PUTS);
    printf("client %d: %d kv.changed events\n", id, rc);
    failed += rc != CLIENTS * PUTS;

    kv_api_close(kv);
    kv_unserve(peer);
    epy_peer_close(peer);
    return failed != 0;
}

/* --- main ---------------------------------------------------------------- */

int
main(void)
{
    char dir[] = "/tmp/epy-kv-XXXXXX", url[64];
    static const kv_handlers table = { srv_put, srv_get, srv_del, srv_keys,
                                       NULL };
    epy_server_config cfg = EPY_SERVER_CONFIG_INIT;
    epy_error err = EPY_ERROR_INIT;
    store s = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                { { NULL, NULL, 0 } }, 0, 0, NULL };
    int ready[2], go[2], failed = 0;
    pid_t pids[CLIENTS];
    struct timespec deadline;
    char c;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mkdtemp(dir) == NULL || pipe(ready) < 0 || pipe(go) < 0)
        return 1;
    snprintf(url, sizeof url, "unix:%s/kv.sock", dir);

    /* Paused: nobody is accepted before epy_server_start(), so no client
     * can call before the table is in. */
    cfg.peer.start_paused = true;
    cfg.peer.interfaces = &kv_interface;
    cfg.peer.n_interfaces = 1;
    cfg.on_connect = on_connect;
    cfg.on_disconnect = on_disconnect;
    cfg.ctx = &s;
    if (epy_server_new(url, &cfg, &s.srv, &err) < 0
        || kv_serve_server(s.srv, &table, &s) < 0) {
        fprintf(stderr, "kvserver: %s\n", err.message);
        return 1;
    }
    printf("kvserver: serving kv on %s to %d clients\n", url, CLIENTS);

    /* A paused server has no thread yet: fork the clients now, so that
     * each starts as a copy of a one-thread process. They connect at
     * once, and wait in the listen backlog until the start. */
    for (int i = 0; i < CLIENTS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(ready[0]);
            close(go[1]);
            _exit(client(url, i, ready[1], go[0]));
        }
        failed += pids[i] < 0;
    }
    close(ready[1]);
    close(go[0]);
    if (failed != 0 || epy_server_start(s.srv) < 0)
        return 1;

    /* Every client subscribed, and told of by on_connect (it receives
     * broadcasts from then on): let them all go at once. */
    for (int i = 0; i < CLIENTS && failed == 0; i++) {
        struct pollfd p = { ready[0], POLLIN, 0 };

        if (poll(&p, 1, 10000) != 1 || read(ready[0], &c, 1) != 1)
            failed++;
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&s.lock);
    while (s.connected < CLIENTS && failed == 0
           && pthread_cond_timedwait(&s.cond, &s.lock, &deadline) == 0)
        ;
    failed += s.connected < CLIENTS;
    pthread_mutex_unlock(&s.lock);
    close(go[1]);       /* the clients read its end: go */

    for (int i = 0; i < CLIENTS; i++) {
        int status;

        if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status)
            || WEXITSTATUS(status) != 0)
            failed++;
    }
    kv_unserve_server(s.srv);
    s.srv = epy_server_close(s.srv);    /* waits for on_disconnect */
    for (size_t i = 0; i < s.n; i++) {
        free(s.items[i].key);
        free(s.items[i].value);
    }
    close(ready[0]);
    rmdir(dir);
    printf("%s\n", failed == 0 ? "kvserver: ok" : "kvserver: FAILED");
    return failed == 0 ? 0 : 1;
}
