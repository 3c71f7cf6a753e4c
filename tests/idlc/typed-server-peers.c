/*
 * Both ends of tests/idlc/typed-server.idl for check_typed_server.c:
 * the server's handlers, deterministic functions of their arguments, so
 * that each client can check its answers exactly; and the kinds of
 * client process.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "typed-server-peers.h"
#include "../testutil.h"

/* --- the server ---------------------------------------------------------- */

ts_server_state ts_st = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                          0, 0, 0, 0, NULL, NULL, NULL, 0 };

void
ts_on_connect(epy_server *server, epy_peer *peer, int reason, void *ctx)
{
    epy_credentials cred;

    (void) server;
    (void) reason;
    (void) ctx;
    epy_peer_credentials(peer, &cred);
    pthread_mutex_lock(&ts_st.lock);
    ts_st.connects++;
    ts_st.conn_peer = peer;
    ts_st.conn_pid = cred.pid;
    pthread_cond_broadcast(&ts_st.cond);
    pthread_mutex_unlock(&ts_st.lock);
}

void
ts_on_disconnect(epy_server *server, epy_peer *peer, int reason, void *ctx)
{
    (void) server;
    (void) ctx;
    pthread_mutex_lock(&ts_st.lock);
    ts_st.disconnects++;
    ts_st.busy_drops += reason == EPY_EBUSY;
    ts_st.misordered += ts_st.disconnects > ts_st.connects;
    ts_st.disc_peer = peer;
    pthread_cond_broadcast(&ts_st.cond);
    pthread_mutex_unlock(&ts_st.lock);
}

/* See typed-server-peers.h. */
bool
ts_wait(const int *counter, int n)
{
    struct timespec ts;
    bool ok;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20 * tu_slow();
    pthread_mutex_lock(&ts_st.lock);
    while (*counter < n
           && pthread_cond_timedwait(&ts_st.cond, &ts_st.lock, &ts) == 0)
        ;
    ok = *counter >= n;
    pthread_mutex_unlock(&ts_st.lock);
    return ok;
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = epy_gen_alloc(n);

    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* Zeroed memory for @n elements of @size, as the generated code frees it. */
static void *
alloc_zero(size_t n, size_t size)
{
    void *p = epy_gen_alloc(n * size + 1);

    if (p != NULL)
        memset(p, 0, n * size + 1);
    return p;
}

/* The item back, qty + client, colour turned, tags reversed, price
 * doubled, each attribute + client. */
static int
h_put(epy_call *call, int32_t client, const store_item *it, store_item *ret,
      void *ctx)
{
    (void) call;
    (void) ctx;
    if (store_item_copy(ret, it) < 0)
        return EPY_ENOMEM;
    ret->qty += client;
    ret->colour = (store_colour) ((ret->colour + 1) % 3);
    for (size_t i = 0; i < ret->tags.n / 2; i++) {
        char *t = ret->tags.items[i];

        ret->tags.items[i] = ret->tags.items[ret->tags.n - 1 - i];
        ret->tags.items[ret->tags.n - 1 - i] = t;
    }
    ret->price.value *= 2;
    for (size_t i = 0; i < ret->attrs.n; i++)
        ret->attrs.items[i].value += client;
    return 0;
}

/* On failure the runtime frees what was built of @ret. */
static int
h_range(epy_call *call, int32_t client, int32_t n, store_item_list *ret,
        void *ctx)
{
    (void) call;
    (void) ctx;
    ret->items = alloc_zero((size_t) n, sizeof *ret->items);
    if (ret->items == NULL)
        return EPY_ENOMEM;
    for (ret->n = 0; ret->n < (size_t) n; ret->n++) {
        store_item *it = &ret->items[ret->n];
        int i = (int) ret->n;
        char name[32];

        snprintf(name, sizeof name, "%d-%d", client, i);
        it->name = dup_str(name);
        it->qty = (int64_t) client * 1000 + i;
        it->colour = (store_colour) (i % 3);
        it->tags.items = alloc_zero(1, sizeof *it->tags.items);
        it->attrs.items = alloc_zero(1, sizeof *it->attrs.items);
        if (it->name == NULL || it->tags.items == NULL
            || it->attrs.items == NULL)
            return EPY_ENOMEM;
        it->tags.n = (size_t) i % 2;
        if (i % 2 == 1 && (it->tags.items[0] = dup_str("t")) == NULL)
            return EPY_ENOMEM;
        it->price.has = i % 2 == 1;
        it->price.value = i + 0.5;
        it->attrs.n = 1;
        if ((it->attrs.items[0].key = dup_str("i")) == NULL)
            return EPY_ENOMEM;
        it->attrs.items[0].value = i;
    }
    return 0;
}

static int
h_count(epy_call *call, const epy_string_list *words,
        epy_int64_string_map *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    ret->items = alloc_zero(words->n, sizeof *ret->items);
    if (ret->items == NULL)
        return EPY_ENOMEM;
    for (size_t i = 0; i < words->n; i++) {
        size_t k = 0;

        while (k < ret->n && strcmp(ret->items[k].key, words->items[i]) != 0)
            k++;
        if (k == ret->n
            && (ret->items[ret->n++].key = dup_str(words->items[i])) == NULL)
            return EPY_ENOMEM;
        ret->items[k].value++;
    }
    return 0;
}

static int
h_find(epy_call *call, int32_t client, const char *key, store_item_opt *ret,
       void *ctx)
{
    (void) ctx;
    if (strncmp(key, "no", 2) == 0) {
        store_not_found nf = { (char *) key, client };

        return store_not_found_raise(call, &nf, "no such item");
    }
    ret->has = key[0] != '\0';
    if (ret->has) {
        ret->value.qty = client;
        if ((ret->value.name = dup_str(key)) == NULL)
            return EPY_ENOMEM;
    }
    return 0;
}

static int
h_whoami(epy_call *call, int64_t *ret, void *ctx)
{
    epy_credentials cred;

    (void) ctx;
    if (epy_peer_credentials(epy_call_peer(call), &cred) < 0)
        return EPY_EFAILED;
    pthread_mutex_lock(&ts_st.lock);
    ts_st.call_peer = epy_call_peer(call);
    pthread_mutex_unlock(&ts_st.lock);
    *ret = cred.pid;
    return 0;
}

/* An event to the caller alone, from inside its call. */
static int
h_touch(epy_call *call, uint64_t seq, void *ctx)
{
    epy_bytes none = { NULL, 0 };

    (void) ctx;
    return store_changed_post(epy_call_peer(call), seq, "touched", &none,
                              NULL);
}

static int
h_totals(epy_call *call, const epy_int64_list_int32_map *values,
         epy_int64_int32_map *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    ret->items = alloc_zero(values->n, sizeof *ret->items);
    if (ret->items == NULL)
        return EPY_ENOMEM;
    for (ret->n = 0; ret->n < values->n; ret->n++) {
        ret->items[ret->n].key = values->items[ret->n].key;
        for (size_t k = 0; k < values->items[ret->n].value.n; k++)
            ret->items[ret->n].value += values->items[ret->n].value.items[k];
    }
    return 0;
}

static int
h_echo(epy_call *call, const char *s, char **ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = dup_str(s);
    return *ret != NULL ? 0 : EPY_ENOMEM;
}

static int
h_shout(epy_call *call, const epy_string_opt *s, epy_string_opt *ret,
        void *ctx)
{
    (void) call;
    (void) ctx;
    if (!s->has)
        return 0;
    ret->value = epy_gen_alloc(strlen(s->value) + 2);
    if (ret->value == NULL)
        return EPY_ENOMEM;
    ret->has = true;
    sprintf(ret->value, "%s!", s->value);
    return 0;
}

const store_handlers ts_store_table = {
    h_put, h_range, h_count, h_find, h_whoami, h_touch, NULL
};
const store_admin_handlers ts_admin_table = { h_totals, h_echo, h_shout };

/* --- the client processes ------------------------------------------------ */

char ts_url[160];
int ts_report_fd = -1;
int ts_kid_id;
int64_t ts_kid_rc, ts_kid_value;

ts_events ts_ev = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                    0, 0, 0, 0, false, false };

void
ts_report(int kind, int64_t a, int64_t b, int64_t c)
{
    ts_record r = { ts_kid_id, kind, a, b, c };

    if (write(ts_report_fd, &r, sizeof r) != (ssize_t) sizeof r)
        _exit(90);
}

/* The next command byte; 0 at end of file (the parent says: leave). */
static char
command(int cmd)
{
    char c;
    ssize_t n;

    while ((n = read(cmd, &c, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? c : 0;
}

/*
 * Broadcasts carry seq 0, 1, ... with key "bc" and TS_PAD_LEN bytes of
 * (uint8_t) seq. A client reports R_DONE when it has ts_ev.target
 * events, and with ts_ev.ack an R_EVENT for each.
 */
static int
on_changed(epy_call *call, uint64_t seq, const char *key,
           const epy_bytes *pad, void *ctx)
{
    (void) call;
    (void) ctx;
    pthread_mutex_lock(&ts_ev.lock);
    if (ts_ev.in_order && (seq != ts_ev.count || strcmp(key, "bc") != 0
                        || pad->len != TS_PAD_LEN
                        || pad->data[TS_PAD_LEN - 1] != (uint8_t) seq))
        ts_ev.bad++;
    if (ts_ev.ack)
        ts_report(R_EVENT, (int64_t) seq, 0, 0);
    ts_ev.last = seq;
    if (++ts_ev.count == ts_ev.target)
        ts_report(R_DONE, (int64_t) ts_ev.count, ts_ev.bad, 0);
    pthread_cond_broadcast(&ts_ev.cond);
    pthread_mutex_unlock(&ts_ev.lock);
    return 0;
}

/* Waits up to 20 s for the event @seq to be the last one seen. */
static bool
ev_wait_seq(uint64_t seq)
{
    struct timespec ts;
    bool ok;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20 * tu_slow();
    pthread_mutex_lock(&ts_ev.lock);
    while ((ts_ev.count == 0 || ts_ev.last != seq)
           && pthread_cond_timedwait(&ts_ev.cond, &ts_ev.lock, &ts) == 0)
        ;
    ok = ts_ev.count > 0 && ts_ev.last == seq;
    pthread_mutex_unlock(&ts_ev.lock);
    return ok;
}

#define CALL(x) do { if ((ts_kid_rc = (x)) != 0) return __LINE__; } while (0)
#define CHK(c) do { if (!(c)) return __LINE__; } while (0)

typedef struct client {
    epy_peer *peer;
    store_api *store;
    store_admin_api *admin;
} client;

/* Connects announcing @iface and subscribes to store.changed. */
static int
client_open(client *c, const epy_interface *iface)
{
    static const store_handlers events = { .changed = on_changed };
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;

    cfg.workers = 1;            /* one worker: events handled in order */
    cfg.interfaces = iface;
    cfg.n_interfaces = 1;
    memset(c, 0, sizeof *c);
    CALL(epy_connect(ts_url, &cfg, 20000 * tu_slow(), &c->peer, NULL));
    CALL(store_serve(c->peer, &events, NULL));
    CALL(store_api_open(c->peer, &c->store, NULL));
    CALL(store_admin_api_child(c->store, &c->admin, NULL));
    return 0;
}

static void
client_close(client *c)
{
    store_admin_api_close(c->admin);
    store_api_close(c->store);
    if (c->peer != NULL)
        store_unserve(c->peer);
    epy_peer_close(c->peer);
}

/* store.put with a struct holding a list, an optional and a map. */
static int
call_put(client *c, int id)
{
    char name[32];
    char *tags[] = { (char *) "x", (char *) "y", name };
    epy_int32_string_map_entry attrs[] = { { (char *) "a", 1 },
                                           { (char *) "b", -id } };
    store_item it = { name, id, STORE_COLOUR_BLUE, { 3, tags },
                      { true, id + 0.25 }, { 2, attrs } }, got;
    bool ok;

    snprintf(name, sizeof name, "item-%d", id);
    CALL(store_put(c->store, id, &it, &got, NULL));
    ok = strcmp(got.name, name) == 0 && got.qty == 2 * id
         && got.colour == STORE_COLOUR_RED && got.tags.n == 3
         && strcmp(got.tags.items[0], name) == 0
         && strcmp(got.tags.items[2], "x") == 0
         && got.price.has && got.price.value == 2 * (id + 0.25)
         && got.attrs.n == 2 && strcmp(got.attrs.items[1].key, "b") == 0
         && got.attrs.items[0].value == 1 + id
         && got.attrs.items[1].value == 0;
    store_item_clear(&got);
    return ok ? 0 : __LINE__;
}

/* Every method of store and store.admin once, with values of client
 * @id, every answer checked exactly: 12 calls. 0 or the failing line. */
static int
call_all(client *c, int id)
{
    char key[32], word[32], text[32];
    char *words[] = { (char *) "a", word, (char *) "a", (char *) "c", word,
                      (char *) "a" };
    epy_string_list wl = { 6, words };
    int64_t v[] = { id, 1, 2 }, pid = 0;
    epy_int64_list_int32_map_entry ve[] = { { id, { 3, v } },
                                            { -id - 1, { 0, NULL } } };
    epy_int64_list_int32_map values = { 2, ve };
    store_item_list items;
    epy_int64_string_map counts;
    epy_int64_int32_map totals;
    store_item_opt found;
    store_not_found nf;
    epy_string_opt in = { true, text }, out;
    epy_error err = EPY_ERROR_INIT;
    char *echo = NULL;
    int32_t n = 1 + id % 4;
    bool ok = true;
    int line = call_put(c, id);

    if (line != 0)
        return line;
    CALL(store_range(c->store, id, n, &items, NULL));
    ok = items.n == (size_t) n;
    for (int i = 0; ok && i < n; i++) {
        const store_item *it = &items.items[i];

        snprintf(key, sizeof key, "%d-%d", id, i);
        ok = strcmp(it->name, key) == 0 && it->qty == id * 1000 + i
             && it->colour == (store_colour) (i % 3)
             && it->tags.n == (size_t) i % 2
             && (i % 2 == 0 || strcmp(it->tags.items[0], "t") == 0)
             && it->price.has == (i % 2 == 1)
             && (i % 2 == 0 || it->price.value == i + 0.5)
             && it->attrs.n == 1 && it->attrs.items[0].value == i;
    }
    store_item_list_clear(&items);
    CHK(ok);

    snprintf(word, sizeof word, "w%d", id);
    CALL(store_count(c->store, &wl, &counts, NULL));
    ok = counts.n == 3 && strcmp(counts.items[1].key, word) == 0
         && counts.items[0].value == 3 && counts.items[1].value == 2
         && counts.items[2].value == 1;
    epy_int64_string_map_clear(&counts);
    CHK(ok);

    CALL(store_find(c->store, id, "", &found, NULL));
    CHK(!found.has);
    snprintf(key, sizeof key, "k%d", id);
    CALL(store_find(c->store, id, key, &found, NULL));
    ok = found.has && strcmp(found.value.name, key) == 0
         && found.value.qty == id;
    store_item_opt_clear(&found);
    CHK(ok);
    snprintf(key, sizeof key, "no%d", id);
    ts_kid_rc = store_find(c->store, id, key, &found, &err);
    CHK(ts_kid_rc == EPY_EFAILED && store_not_found_get(&err, &nf) == 0);
    ok = strcmp(nf.key, key) == 0 && nf.client == id;
    store_not_found_clear(&nf);
    epy_error_clear(&err);
    CHK(ok);

    CALL(store_whoami(c->store, &pid, NULL));
    CHK(pid == getpid());
    CALL(store_touch(c->store, 5000 + (uint64_t) id, NULL));
    CHK(ev_wait_seq(5000 + (uint64_t) id));

    CALL(store_admin_totals(c->admin, &values, &totals, NULL));
    ok = totals.n == 2 && totals.items[0].key == id
         && totals.items[0].value == id + 3 && totals.items[1].key == -id - 1
         && totals.items[1].value == 0;
    epy_int64_int32_map_clear(&totals);
    CHK(ok);
    snprintf(text, sizeof text, "text %d", id);
    CALL(store_admin_echo(c->admin, text, &echo, NULL));
    ok = strcmp(echo, text) == 0;
    free(echo);
    CHK(ok);
    CALL(store_admin_shout(c->admin, &in, &out, NULL));
    ok = out.has && strncmp(out.value, text, strlen(text)) == 0
         && strcmp(out.value + strlen(text), "!") == 0;
    epy_string_opt_clear(&out);
    CHK(ok);
    in.has = false;
    CALL(store_admin_shout(c->admin, &in, &out, NULL));
    CHK(!out.has);
    return 0;
}

/*
 * The kinds of client. Each returns 0 or the line of its failure; every
 * client then reports R_FINAL (events seen, events out of order, its
 * value), or R_FAIL (the line, the last code).
 */

/* See typed-server-peers.h for what each kind does. */
int
ts_kid_caller(int id, int cmd)
{
    struct pollfd p = { cmd, POLLIN, 0 };
    int64_t rounds = ts_kid_value;
    client c;
    int line;

    if (command(cmd) != 'g')
        return 0;
    line = client_open(&c, &store_interface);
    for (ts_kid_value = 0; line == 0 && (rounds == 0 || ts_kid_value < rounds)
         && (rounds > 0 || poll(&p, 1, 0) == 0); ts_kid_value++)
        line = call_all(&c, id);
    if (line == 0)
        ts_report(R_DONE, ts_kid_value, 0, 0);
    while (line == 0 && command(cmd) != 0)
        ;
    client_close(&c);
    return line;
}

/* Connects, calls store.whoami (even @i) or store.admin.echo, leaves. */
static int
churn_once(int id, int64_t i)
{
    char text[32], *echo = NULL;
    int64_t pid = 0;
    client c;
    int line = client_open(&c, &store_interface);

    snprintf(text, sizeof text, "%d/%lld", id, (long long) i);
    if (line == 0 && i % 2 == 0)
        line = (ts_kid_rc = store_whoami(c.store, &pid, NULL)) != 0
               || pid != getpid() ? __LINE__ : 0;
    else if (line == 0)
        line = (ts_kid_rc = store_admin_echo(c.admin, text, &echo, NULL))
               != 0 || strcmp(echo, text) != 0 ? __LINE__ : 0;
    free(echo);
    client_close(&c);
    return line;
}

int
ts_kid_churner(int id, int cmd)
{
    int64_t loops = ts_kid_value;
    int line = 0;

    if (command(cmd) != 'g')
        return 0;
    for (ts_kid_value = 0; line == 0 && ts_kid_value < loops; ts_kid_value++)
        line = churn_once(id, ts_kid_value);
    return line;
}

int
ts_kid_scripted(int id, int cmd)
{
    client c;
    char op;
    int line;

    if (command(cmd) != 'g')
        return 0;
    line = client_open(&c, &store_interface);
    if (line == 0)
        ts_report(R_READY, 0, 0, 0);
    while (line == 0 && (op = command(cmd)) != 0) {
        if (op == 'c') {
            store_item it = { (char *) "n", 1, STORE_COLOUR_RED, { 0, NULL },
                              { false, 0 }, { 0, NULL } }, got;
            char *echo = NULL;
            int64_t put = store_put(c.store, id, &it, &got, NULL);

            if (put == 0)
                store_item_clear(&got);
            ts_report(R_STEP, put,
                      store_admin_echo(c.admin, "e", &echo, NULL), 0);
            free(echo);
        } else if (op == 't') {
            uint64_t seq = 1000 + (uint64_t) id;

            ts_kid_rc = store_touch(c.store, seq, NULL);
            ts_report(R_STEP, ts_kid_rc,
                      ts_kid_rc == 0 && ev_wait_seq(seq), 0);
        }
    }
    client_close(&c);
    return line;
}

int
ts_kid_hello(int id, int cmd)
{
    static const epy_interface forged = { .name = "store",
                                          .fingerprint = "0000" };
    client c;
    int line;

    if (command(cmd) != 'g')
        return 0;
    line = client_open(&c, id == 0 ? &forged : &store_interface);
    ts_kid_value = ts_kid_rc;
    if (id != 0 && line == 0) {
        CALL(store_whoami(c.store, &ts_kid_value, NULL));
        ts_report(R_DONE, ts_kid_value, 0, 0);
        while (command(cmd) != 0)
            ;
    }
    client_close(&c);
    return id == 0 ? 0 : line;
}

