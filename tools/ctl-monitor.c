/*
 * epyctl monitor: asks the server for its frames (epyrpc.monitor.start)
 * and prints each epyrpc.monitor.frame event it sends, as a line or a
 * JSON object, and writes them to a pcap file. The connection runs in
 * the thread-less loop mode, so that frames are handled one at a time,
 * in the order they arrive, on this thread.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <epyrpc/loop.h>

#include "ctl.h"
#include "introspect.pb-c.h"

/* The 12 bytes before each frame in a pcap packet. */
#define PCAP_HEADER 12
#define LINKTYPE_USER0 147
/* What the server keeps of each frame when asked for 0 bytes. */
#define SNAP_DEFAULT 65536

typedef struct monitor {
    const ctl_monitor_opts *o;
    FILE *pcap;
    long seen;
    int failed;                  /* a write failed (errno) */
} monitor;

static const char *
kind_name(uint32_t kind)
{
    static const char *const names[] = {
        "?", "HELLO", "CALL", "EVENT", "REPLY", "ERROR", "CANCEL",
        "DISCONNECT", "SWITCH"
    };

    return kind < sizeof names / sizeof *names ? names[kind] : "?";
}

static void
put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static int
pcap_open(monitor *m, const char *path)
{
    uint8_t h[24];

    m->pcap = fopen(path, "wb");
    if (m->pcap == NULL) {
        ctl_warn("%s: %s", path, strerror(errno));
        return EPY_ESYSTEM;
    }
    put_le(h, UINT32_C(0xa1b2c3d4), 4);
    put_le(h + 4, 2, 2);
    put_le(h + 6, 4, 2);
    put_le(h + 8, 0, 4);                        /* thiszone */
    put_le(h + 12, 0, 4);                       /* sigfigs */
    put_le(h + 16, (uint64_t) (m->o->snap != 0 ? m->o->snap : SNAP_DEFAULT)
           + PCAP_HEADER, 4);
    put_le(h + 20, LINKTYPE_USER0, 4);
    if (fwrite(h, sizeof h, 1, m->pcap) != 1)
        m->failed = errno;
    return 0;
}

static void
pcap_write(monitor *m, const Epyrpc__MonitorFrame *f)
{
    uint8_t h[16 + PCAP_HEADER];
    size_t len = f->has_data ? f->data.len : 0;
    uint64_t orig = f->has_size ? f->size : len;

    if (orig < len)
        orig = len;
    put_le(h, f->time_ns / 1000000000u, 4);
    put_le(h + 4, f->time_ns % 1000000000u / 1000u, 4);
    put_le(h + 8, len + PCAP_HEADER, 4);
    put_le(h + 12, orig + PCAP_HEADER > UINT32_MAX ? UINT32_MAX
                                                   : orig + PCAP_HEADER, 4);
    memset(h + 16, 0, PCAP_HEADER);
    h[16] = f->incoming ? 0 : 1;
    put_le(h + 20, f->client, 8);
    if (fwrite(h, sizeof h, 1, m->pcap) != 1
        || (len > 0 && fwrite(f->data.data, len, 1, m->pcap) != 1)
        || fflush(m->pcap) != 0)
        m->failed = errno;
}

static void
print_json(const Epyrpc__MonitorFrame *f)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "time_ns", ctl_json_uint64(f->time_ns));
    json_object_object_add(o, "direction",
                           json_object_new_string(f->incoming ? "in" : "out"));
    json_object_object_add(o, "client", ctl_json_uint64(f->client));
    json_object_object_add(o, "pid", json_object_new_int(f->pid));
    json_object_object_add(o, "uid", json_object_new_int64(f->uid));
    json_object_object_add(o, "kind",
                           json_object_new_string(kind_name(f->kind)));
    json_object_object_add(o, "method", f->method != NULL
                           ? json_object_new_string(f->method) : NULL);
    json_object_object_add(o, "txn", ctl_json_uint64(f->txn));
    json_object_object_add(o, "size", ctl_json_uint64(f->size));
    json_object_object_add(o, "status", f->has_status
                           ? json_object_new_int(f->status) : NULL);
    json_object_object_add(o, "duration_us", f->has_duration_us
                           && f->duration_us >= 0
                           ? ctl_json_int64(f->duration_us) : NULL);
    json_object_object_add(o, "dropped", ctl_json_uint64(f->dropped));
    puts(ctl_json_text(o, false));
    json_object_put(o);
}

static void
print_line(const Epyrpc__MonitorFrame *f)
{
    time_t sec = (time_t) (f->time_ns / 1000000000u);
    struct tm tm;
    char when[32], status[40] = "-", dur[32] = "-";

    if (f->dropped > 0)
        printf("# %llu frames not reported: the monitor fell behind\n",
               (unsigned long long) f->dropped);
    localtime_r(&sec, &tm);
    strftime(when, sizeof when, "%H:%M:%S", &tm);
    if (f->has_status && (f->kind == 4 || f->kind == 5))
        snprintf(status, sizeof status, "%s", epy_status_name(f->status));
    if (f->has_duration_us && f->duration_us >= 0)
        snprintf(dur, sizeof dur, "%lldus", (long long) f->duration_us);
    printf("%s.%06u %s client=%llu %-10s %s txn=%llu size=%llu status=%s "
           "duration=%s\n", when,
           (unsigned) (f->time_ns % 1000000000u / 1000u),
           f->incoming ? "->" : "<-", (unsigned long long) f->client,
           kind_name(f->kind), f->method != NULL && *f->method != '\0'
           ? f->method : "-", (unsigned long long) f->txn,
           (unsigned long long) f->size, status, dur);
}

static int
on_frame(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    monitor *m = ctx;
    Epyrpc__MonitorFrameArgs *a;

    (void) call;
    if (m->o->count > 0 && m->seen >= m->o->count)
        return 0;
    a = epyrpc__monitor_frame_args__unpack(NULL, len, req);
    if (a == NULL || a->f == NULL) {
        ctl_warn("a frame report that does not decode (%zu bytes)", len);
    } else {
        if (m->o->json)
            print_json(a->f);
        else
            print_line(a->f);
        fflush(stdout);
        if (m->pcap != NULL)
            pcap_write(m, a->f);
        m->seen++;
    }
    if (a != NULL)
        epyrpc__monitor_frame_args__free_unpacked(a, NULL);
    return 0;
}

static int
call(epy_peer *peer, const char *method, const uint8_t *req, size_t n,
     int64_t timeout_ms, bool report)
{
    epy_api *api = NULL;
    epy_error err = EPY_ERROR_INIT;
    int rc = epy_api_open(peer, "epyrpc.monitor", &api, &err);

    if (rc == 0) {
        epy_api_set_timeout(api, timeout_ms);
        rc = epy_api_call(api, method, req, n, NULL, NULL, &err);
    }
    epy_api_close(api);
    if (rc < 0 && report) {
        char what[64];

        snprintf(what, sizeof what, "epyrpc.monitor.%s", method);
        ctl_report(what, &err);
        if (rc == EPY_EUNKNOWN || rc == EPY_EUNSUPPORTED)
            ctl_warn("the server has no monitor (a runtime without it)");
        else if (rc == EPY_EPERM)
            ctl_warn("the server does not let this client monitor it "
                     "(epy_server_config.monitor)");
    }
    epy_error_clear(&err);
    return rc;
}

int
ctl_cmd_monitor(const char *addr, int64_t timeout_ms,
                const ctl_monitor_opts *o)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    Epyrpc__MonitorStartArgs start = EPYRPC__MONITOR_START_ARGS__INIT;
    monitor m = { o, NULL, 0, 0 };
    epy_error err = EPY_ERROR_INIT;
    epy_peer *peer = NULL;
    uint8_t req[16];
    int rc;

    cfg.loop_mode = EPY_LOOP_THREADLESS;
    rc = epy_connect(addr, &cfg, timeout_ms, &peer, &err);
    if (rc < 0) {
        ctl_warn("%s: cannot connect: %s (%s)", addr,
                 err.message != NULL ? err.message : epy_strerror(rc),
                 epy_status_name(rc));
        epy_error_clear(&err);
        return rc;
    }
    rc = epy_peer_handle(peer, "epyrpc.monitor.frame", on_frame, &m, &err);
    if (rc == 0 && o->pcap != NULL)
        rc = pcap_open(&m, o->pcap);
    if (rc == 0) {
        start.has_snap = 1;
        start.snap = o->snap;
        rc = call(peer, "start", req,
                  epyrpc__monitor_start_args__pack(&start, req), timeout_ms,
                  true);
    } else if (err.code != 0) {
        ctl_report("epyrpc.monitor.frame", &err);
    }
    while (rc == 0 && !ctl_stop && (o->count == 0 || m.seen < o->count)
           && m.failed == 0) {
        struct pollfd pfd = { epy_peer_get_fd(peer), epy_peer_get_events(peer),
                              0 };
        int64_t t = epy_peer_get_timeout(peer);

        if (poll(&pfd, 1, t < 0 || t > 1000 ? 1000 : (int) t) < 0
            && errno != EINTR) {
            ctl_warn("poll: %s", strerror(errno));
            rc = EPY_ESYSTEM;
            break;
        }
        rc = epy_peer_process(peer);
        if (rc != 0)
            ctl_warn("%s: the connection ended: %s", addr,
                     epy_strerror(rc));
    }
    if (m.failed != 0) {
        ctl_warn("%s: %s", o->pcap, strerror(m.failed));
        rc = EPY_ESYSTEM;
    }
    if (epy_peer_is_connected(peer))
        call(peer, "stop", NULL, 0, 1000, false);
    if (m.pcap != NULL && fclose(m.pcap) != 0 && rc == 0) {
        ctl_warn("%s: %s", o->pcap, strerror(errno));
        rc = EPY_ESYSTEM;
    }
    epy_error_clear(&err);
    epy_peer_close(peer);
    return rc;
}
