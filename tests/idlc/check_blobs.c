/*
 * Large values out of line through generated code (tests/idlc/
 * blobs.idl): bytes and string values of at least blob_threshold bytes
 * travel in sealed memfds and arrive as views of them (read in place,
 * written to privately), in arguments, results, struct fields, lists,
 * maps and events; a view sent on passes its memfd again instead of a
 * copy; past max_frame up to max_blob; in the frame as before where an
 * end does not offer them (its config, TCP). No descriptor or mapping
 * is left after a test (the fixture counts descriptors; the mappings
 * are counted here).
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include "blobs.epy.h"
#include "../testutil.h"

#define KIB ((size_t) 1024)
#define MIB ((size_t) 1024 * 1024)

/* --- the mappings of views ------------------------------------------------ */

/*
 * The memfd mapping holding @p, from /proc/self/maps: its inode (the
 * memfd's) in *@ino; false if @p is not in a view's mapping.
 */
static bool
view_of(const void *p, unsigned long *ino)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    bool found = false;

    ck_assert_ptr_nonnull(f);
    while (!found && fgets(line, sizeof line, f) != NULL) {
        uintptr_t lo, hi;
        unsigned long inode;
        char path[256] = "";

        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*s %*s %*s %lu %255[^\n]",
                   &lo, &hi, &inode, path) < 3)
            continue;
        if ((uintptr_t) p >= lo && (uintptr_t) p < hi
            && strstr(path, "epyrpc-blob") != NULL) {
            *ino = inode;
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* The mappings of views in this process. */
static int
count_views(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, "epyrpc-blob") != NULL)
            n++;
    fclose(f);
    return n;
}

/* --- values -------------------------------------------------------------- */

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t) ((seed + i) % 251);
}

static uint64_t
sum_of(const uint8_t *p, size_t n)
{
    uint64_t s = 0;

    for (size_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

static epy_bytes
make_bytes(size_t n, uint8_t seed)
{
    epy_bytes b = { malloc(n ? n : 1), n };

    ck_assert_ptr_nonnull(b.data);
    fill(b.data, n, seed);
    return b;
}

static char *
make_text(size_t n, char c)
{
    char *s = malloc(n + 1);

    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char) (c + i % 26);
    s[n] = 0;
    return s;
}

/* --- the handlers --------------------------------------------------------- */

static int
copy_bytes(epy_bytes *dst, const epy_bytes *src)
{
    dst->data = malloc(src->len ? src->len : 1);
    if (dst->data == NULL)
        return EPY_ENOMEM;
    if (src->len > 0)
        memcpy(dst->data, src->data, src->len);
    dst->len = src->len;
    return 0;
}

static _Atomic unsigned long seen_ino;  /* the last sum's argument's memfd */
static _Atomic bool seen_view;          /* ... whether it was a view */
static _Atomic uint64_t event_sum;

static int
h_echo(epy_call *call, const epy_bytes *b, epy_bytes *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    return copy_bytes(ret, b);
}

static int
h_echo_text(epy_call *call, const char *s, char **ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = strdup(s);
    return *ret != NULL ? 0 : EPY_ENOMEM;
}

static int
h_echo_items(epy_call *call, const blobs_item_list *items,
             blobs_item_list *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    return blobs_item_list_copy(ret, items);
}

static int
h_echo_map(epy_call *call, const epy_bytes_string_map *m,
           epy_bytes_string_map *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    return epy_bytes_string_map_copy(ret, m);
}

static int
h_scribble(epy_call *call, const epy_bytes *b, epy_bytes *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    if (b->len > 0)
        b->data[0] = 0xff;      /* the view is the handler's to write to */
    return copy_bytes(ret, b);
}

static int
h_sum(epy_call *call, const epy_bytes *b, uint64_t *ret, void *ctx)
{
    unsigned long ino = 0;

    (void) call;
    (void) ctx;
    seen_view = view_of(b->data, &ino);
    seen_ino = ino;
    *ret = sum_of(b->data, b->len);
    return 0;
}

static int
h_make(epy_call *call, uint64_t n, uint8_t seed, epy_bytes *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    if (n > 256 * MIB)
        return EPY_EPARAM;
    *ret = make_bytes((size_t) n, seed);
    return 0;
}

static int
h_got(epy_call *call, const epy_bytes *b, void *ctx)
{
    (void) call;
    (void) ctx;
    event_sum = sum_of(b->data, b->len);
    return 0;
}

static int
h_sum_seen(epy_call *call, uint64_t *ret, void *ctx)
{
    (void) call;
    (void) ctx;
    *ret = event_sum;
    return 0;
}

static const blobs_handlers handlers = {
    .echo = h_echo, .echo_text = h_echo_text, .echo_items = h_echo_items,
    .echo_map = h_echo_map, .scribble = h_scribble, .sum = h_sum,
    .make = h_make, .got = h_got, .sum_seen = h_sum_seen,
};

/* --- the connections ------------------------------------------------------ */

static epy_peer *srv_peer, *cli;
static epy_server *srv;
static blobs_api *api;

/* Settings of one end: values of 4 KiB or more out of line if @blobs. */
static void
config(epy_peer_config *cfg, bool blobs)
{
    epy_peer_config_init(cfg);
    cfg->interfaces = &blobs_interface;
    cfg->n_interfaces = 1;
    cfg->blob_threshold = blobs ? 4 * KIB : 0;
    cfg->shm = getenv("SHM") != NULL;
}

/* Two peers on a socketpair; @srv_cfg and @cli_cfg as given. */
static void
start_pair_with(const epy_peer_config *srv_cfg, const epy_peer_config *cli_cfg)
{
    epy_error err = EPY_ERROR_INIT;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(epy_peer_new_fd(sv[0], srv_cfg, &srv_peer, &err), 0);
    ck_assert_int_eq(blobs_serve(srv_peer, &handlers, NULL), 0);
    ck_assert_int_eq(epy_peer_new_fd(sv[1], cli_cfg, &cli, &err), 0);
    ck_assert_int_eq(epy_peer_wait_ready(cli, 5000, &err), 0);
    ck_assert_int_eq(epy_peer_wait_ready(srv_peer, 5000, &err), 0);
    ck_assert_int_eq(blobs_api_open(cli, &api, &err), 0);
}

static void
start_pair(bool srv_blobs, bool cli_blobs)
{
    epy_peer_config scfg, ccfg;

    config(&scfg, srv_blobs);
    config(&ccfg, cli_blobs);
    start_pair_with(&scfg, &ccfg);
}

/* A server at @url (driven by its I/O thread) and a client. */
static void
start_server(const char *url)
{
    epy_server_config scfg = EPY_SERVER_CONFIG_INIT;
    epy_peer_config cfg;
    epy_error err = EPY_ERROR_INIT;

    config(&scfg.peer, true);
    ck_assert_int_eq(epy_server_new(url, &scfg, &srv, &err), 0);
    ck_assert_int_eq(blobs_serve_server(srv, &handlers, NULL), 0);
    config(&cfg, true);
    ck_assert_int_eq(epy_connect(epy_server_url(srv), &cfg, 5000, &cli, &err),
                     0);
    ck_assert_int_eq(blobs_api_open(cli, &api, &err), 0);
}

static void
stop(void)
{
    blobs_api_close(api);
    api = NULL;
    epy_peer_close(cli);
    cli = NULL;
    if (srv_peer != NULL)
        epy_peer_close(srv_peer);
    srv_peer = NULL;
    if (srv != NULL)
        epy_server_close(srv);
    srv = NULL;
    ck_assert_int_eq(count_views(), 0);
}

/* --- what each connection does -------------------------------------------- */

/*
 * @n bytes echoed: equal, a view of a memfd when @views (else copied
 * into the heap), gone with epy_bytes_clear().
 */
static void
echo_bytes(size_t n, bool views)
{
    epy_error err = EPY_ERROR_INIT;
    epy_bytes b = make_bytes(n, 7), back = { NULL, 0 };
    unsigned long ino;
    uint64_t s = 0;

    ck_assert_int_eq(blobs_echo(api, &b, &back, &err), 0);
    ck_assert_uint_eq(back.len, n);
    ck_assert(memcmp(back.data, b.data, n) == 0);
    ck_assert(view_of(back.data, &ino) == views);
    ck_assert_int_eq(blobs_sum(api, &b, &s, &err), 0);
    ck_assert_uint_eq(s, sum_of(b.data, n));
    ck_assert(seen_view == views);
    epy_bytes_clear(&back);
    ck_assert_int_eq(count_views(), 0);
    free(b.data);
}

/* A large string each way, its NUL where it should be; a view if @views. */
static void
echo_text(size_t n, bool views)
{
    epy_error err = EPY_ERROR_INIT;
    char *s = make_text(n, 'a'), *back = NULL;
    unsigned long ino;

    ck_assert_int_eq(blobs_echo_text(api, s, &back, &err), 0);
    ck_assert_uint_eq(strlen(back), n);
    ck_assert_str_eq(back, s);
    ck_assert(view_of(back, &ino) == views);
    epy_gen_free(back);
    free(s);
}

/* Out of line inside structs, lists and maps; small ones stay inline. */
static void
composites(void)
{
    epy_error err = EPY_ERROR_INIT;
    blobs_item it[3];
    blobs_item_list l = { 3, it }, lb = { 0, NULL };
    epy_bytes_string_map_entry e[2];
    epy_bytes_string_map m = { 2, e }, mb = { 0, NULL };
    size_t sizes[3] = { 10, 8 * KIB, 300 * KIB };
    unsigned long ino;

    for (int i = 0; i < 3; i++) {
        it[i].name = make_text(i == 2 ? 6000 : 5, 'k');
        it[i].data = make_bytes(sizes[i], (uint8_t) i);
    }
    ck_assert_int_eq(blobs_echo_items(api, &l, &lb, &err), 0);
    ck_assert_uint_eq(lb.n, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(lb.items[i].name, it[i].name);
        ck_assert_uint_eq(lb.items[i].data.len, sizes[i]);
        ck_assert(memcmp(lb.items[i].data.data, it[i].data.data,
                         sizes[i]) == 0);
        ck_assert(view_of(lb.items[i].data.data, &ino) == (i > 0));
    }
    ck_assert(view_of(lb.items[2].name, &ino));
    ck_assert(!view_of(lb.items[0].name, &ino));
    e[0].key = make_text(5000, 'm');
    e[0].value = make_bytes(3, 1);
    e[1].key = make_text(3, 'n');
    e[1].value = make_bytes(64 * KIB, 2);
    ck_assert_int_eq(blobs_echo_map(api, &m, &mb, &err), 0);
    ck_assert_uint_eq(mb.n, 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_str_eq(mb.items[i].key, e[i].key);
        ck_assert_uint_eq(mb.items[i].value.len, e[i].value.len);
        ck_assert(memcmp(mb.items[i].value.data, e[i].value.data,
                         e[i].value.len) == 0);
    }
    ck_assert(view_of(mb.items[0].key, &ino));
    ck_assert(view_of(mb.items[1].value.data, &ino));
    blobs_item_list_clear(&lb);
    epy_bytes_string_map_clear(&mb);
    ck_assert_int_eq(count_views(), 0);
    for (int i = 0; i < 3; i++) {
        free(it[i].name);
        free(it[i].data.data);
    }
    for (int i = 0; i < 2; i++) {
        free(e[i].key);
        free(e[i].value.data);
    }
}

/*
 * A view received and sent on goes as its own memfd (the receiver maps
 * the same file); once written to, it is copied into a new one.
 */
static void
forward_and_write(void)
{
    epy_error err = EPY_ERROR_INIT;
    epy_bytes r = { NULL, 0 }, w = { NULL, 0 };
    unsigned long ino = 0, first = 0;
    uint64_t s = 0;

    ck_assert_int_eq(blobs_make(api, MIB, 3, &r, &err), 0);
    ck_assert(view_of(r.data, &ino));
    ck_assert_int_eq(blobs_sum(api, &r, &s, &err), 0);
    ck_assert_uint_eq(s, sum_of(r.data, r.len));
    ck_assert(seen_view);
    ck_assert_uint_eq(seen_ino, ino);       /* the same memfd: no copy */
    first = seen_ino;
    r.data[r.len - 1] ^= 0x55;              /* the view written to */
    ck_assert_int_eq(blobs_sum(api, &r, &s, &err), 0);
    ck_assert_uint_eq(s, sum_of(r.data, r.len));
    ck_assert(seen_view);
    ck_assert_uint_ne(seen_ino, first);     /* a copy, with the change */
    /* The handler writes to its argument's view: the sender's is intact. */
    ck_assert_int_eq(blobs_scribble(api, &r, &w, &err), 0);
    ck_assert_uint_eq(w.len, r.len);
    ck_assert_uint_eq(w.data[0], 0xff);
    ck_assert_uint_ne(r.data[0], 0xff);
    ck_assert(memcmp(w.data + 1, r.data + 1, r.len - 1) == 0);
    epy_bytes_clear(&r);
    epy_bytes_clear(&w);
}

/* An event out of line: its handler reads it like an argument. */
static void
event_out_of_line(void)
{
    epy_error err = EPY_ERROR_INIT;
    epy_bytes b = make_bytes(2 * MIB, 9);
    uint64_t s = 0;
    int64_t end = tu_now_ms() + 10000;

    event_sum = 0;
    ck_assert_int_eq(blobs_got_send(api, &b, &err), 0);
    while (s != sum_of(b.data, b.len) && tu_now_ms() < end)
        ck_assert_int_eq(blobs_sum_seen(api, &s, &err), 0);
    ck_assert_uint_eq(s, sum_of(b.data, b.len));
    free(b.data);
}

/* --- the tests ------------------------------------------------------------ */

START_TEST(test_pair)
{
    start_pair(true, true);
    echo_bytes(MIB, true);
    echo_bytes(4 * KIB, true);          /* the threshold itself */
    echo_bytes(4 * KIB - 1, false);     /* below it: in the frame */
    echo_bytes(0, false);
    echo_text(100 * KIB, true);
    composites();
    forward_and_write();
    event_out_of_line();
    stop();
}
END_TEST

START_TEST(test_server)
{
    char dir[64], url[128];

    snprintf(dir, sizeof dir, "/tmp/epy-blobs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(url, sizeof url, "unix:%s/s.sock", dir);
    start_server(url);
    echo_bytes(MIB, true);
    echo_text(64 * KIB, true);
    composites();
    forward_and_write();
    event_out_of_line();
    stop();
    rmdir(dir);
}
END_TEST

/* Values far past max_frame travel out of line; not in the frame. */
START_TEST(test_past_max_frame)
{
    epy_peer_config scfg, ccfg;
    epy_error err = EPY_ERROR_INIT;
    epy_bytes b = make_bytes(32 * MIB, 5), back = { NULL, 0 };

    config(&scfg, true);
    config(&ccfg, true);
    scfg.max_frame = ccfg.max_frame = 64 * KIB;
    start_pair_with(&scfg, &ccfg);
    ck_assert_int_eq(blobs_echo(api, &b, &back, &err), 0);
    ck_assert_uint_eq(back.len, b.len);
    ck_assert(memcmp(back.data, b.data, b.len) == 0);
    epy_bytes_clear(&back);
    stop();
    /* Without blobs the same call is refused before it is sent. */
    config(&scfg, false);
    config(&ccfg, false);
    scfg.max_frame = ccfg.max_frame = 64 * KIB;
    start_pair_with(&scfg, &ccfg);
    ck_assert_int_eq(blobs_echo(api, &b, &back, &err), EPY_ETOOBIG);
    epy_error_clear(&err);
    stop();
    free(b.data);
}
END_TEST

/* Past the receiver's max_blob: refused before sending; the link stays. */
START_TEST(test_max_blob)
{
    epy_peer_config scfg, ccfg;
    epy_error err = EPY_ERROR_INIT;
    epy_bytes b = make_bytes(2 * MIB, 5), back = { NULL, 0 };
    blobs_item it[2] = { { (char *) "a", { b.data, MIB } },
                         { (char *) "b", { b.data, MIB } } };
    blobs_item_list l = { 2, it }, lb = { 0, NULL };

    config(&scfg, true);
    config(&ccfg, true);
    scfg.max_blob = MIB + MIB / 2;
    start_pair_with(&scfg, &ccfg);
    ck_assert_int_eq(blobs_echo(api, &b, &back, &err), EPY_ETOOBIG);
    epy_error_clear(&err);
    /* Each within it, together past it. */
    ck_assert_int_eq(blobs_echo_items(api, &l, &lb, &err), EPY_ETOOBIG);
    epy_error_clear(&err);
    b.len = MIB;
    ck_assert_int_eq(blobs_echo(api, &b, &back, &err), 0);
    ck_assert_uint_eq(back.len, MIB);
    epy_bytes_clear(&back);
    stop();
    free(b.data);
}
END_TEST

/* Where one end does not offer them, values go in the frame. */
START_TEST(test_not_offered)
{
    start_pair(false, true);
    echo_bytes(MIB, false);
    echo_text(64 * KIB, false);
    stop();
    start_pair(true, false);
    echo_bytes(MIB, false);
    stop();
    start_server("tcp:127.0.0.1:0");
    echo_bytes(MIB, false);
    stop();
}
END_TEST

static Suite *
blobs_suite(void)
{
    Suite *s = suite_create("blobs");
    TCase *tc = tcase_create("blobs");

    tcase_add_checked_fixture(tc, tu_setup_resources, tu_teardown_resources);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pair);
    tcase_add_test(tc, test_server);
    tcase_add_test(tc, test_past_max_frame);
    tcase_add_test(tc, test_max_blob);
    tcase_add_test(tc, test_not_offered);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(blobs_suite());
}
