/*
 * Helpers of the hostile-peer suites (check_hostile, check_stalls): see
 * hostile-helpers.h.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <epyrpc/epyrpc.h>

#include "hostile-helpers.h"
#include "rt-helpers.h"
#include "testutil.h"
#include "wire-helpers.h"

/* --- fixture -------------------------------------------------------------- */

static tu_resources res;
static int fail_base;
char hh_dir[64];
char hh_url[160];
epy_server *hh_srv;

void
hh_setup(void)
{
    tu_resources_take(&res);
    fail_base = rt_failure_count();
    snprintf(hh_dir, sizeof hh_dir, "/tmp/epy-hostile-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(hh_dir));
    snprintf(hh_url, sizeof hh_url, "unix:%s/s", hh_dir);
    hh_srv = NULL;
}

void
hh_teardown(void)
{
    char path[128];

    hh_srv = epy_server_close(hh_srv);
    snprintf(path, sizeof path, "%s/s", hh_dir);
    ck_assert_msg(access(path, F_OK) != 0, "server socket file left behind");
    snprintf(path, sizeof path, "%s/w", hh_dir);      /* a fake server's */
    unlink(path);
    ck_assert_msg(rmdir(hh_dir) == 0, "rmdir %s: %s", hh_dir,
                  strerror(errno));
    if (rt_failure_count() != fail_base)
        rt_assert_no_failures();
    tu_resources_check(&res);
}

TCase *
hh_tcase(Suite *s, const char *name, int timeout_s, void (*teardown)(void))
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, hh_setup, teardown);
    tcase_set_timeout(tc, timeout_s);
    suite_add_tcase(s, tc);
    return tc;
}

/* --- the server under test ------------------------------------------------ */

static int
echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

void
hh_start_server(const epy_server_config *cfg)
{
    epy_error err = EPY_ERROR_INIT;
    int rc = epy_server_new(hh_url, cfg, &hh_srv, &err);

    ck_assert_msg(rc == 0, "epy_server_new: %s: %s", epy_status_name(rc),
                  err.message != NULL ? err.message : "");
    ck_assert_int_eq(epy_server_handle(hh_srv, "t.echo", echo, NULL, NULL),
                     0);
}

bool
hh_clients_at_most(size_t n, int64_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;

    while (epy_server_clients(hh_srv) > n) {
        if (tu_now_ms() >= deadline)
            return false;
        rt_sleep_ms(5);         /* polling a condition with no waiter */
    }
    return true;
}

void
hh_assert_server_serves(void)
{
    epy_peer *peer;
    epy_api *api;
    epy_error err = EPY_ERROR_INIT;
    int rc = epy_connect(hh_url, NULL, RT_WAIT_MS, &peer, &err);

    ck_assert_msg(rc == 0, "a good client cannot connect: %s: %s",
                  epy_status_name(rc), err.message != NULL ? err.message : "");
    api = rt_api(peer, "t");
    epy_api_set_timeout(api, RT_WAIT_MS);
    rt_call_expect(api, "echo", "ok", 2, "ok", 2);
    epy_api_close(api);
    epy_peer_close(peer);
}

/* --- a raw client --------------------------------------------------------- */

void
hh_raw_call(int fd, uint64_t txn, const char *method, const void *payload,
            size_t len)
{
    Epyrpc__Envelope env = EPYRPC__ENVELOPE__INIT;

    env.kind = EPYRPC__KIND__CALL;
    env.has_txn = true;
    env.txn = txn;
    env.method = (char *) method;
    env.has_payload = payload != NULL;
    env.payload.data = (uint8_t *) payload;
    env.payload.len = len;
    tw_send_env(fd, &env);
}

int
hh_raw_hello(bool zlib)
{
    int fd = tw_connect_unix(hh_url);
    struct timeval tv = { 5, 0 };

    /* Writes that the server does not take give up instead of hanging. */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    tw_send_hello(fd, EPY_PROTOCOL_VERSION, NULL, zlib);
    return fd;
}
