/*
 * epyctl: a command-line client of epyrpc servers. It asks a server what
 * it serves (epyrpc.introspect), calls its methods and sends it events
 * with arguments in JSON, follows its frames (epyrpc.monitor) and times
 * its round trips. See epyctl.1.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define DEFAULT_TIMEOUT_MS 5000

static void
usage(FILE *f)
{
    fputs(
"usage: epyctl [OPTIONS] COMMAND ADDR [ARGS]\n"
"\n"
"Commands:\n"
"  introspect ADDR [NAME]   what the server serves, as JSON: namespaces,\n"
"                           methods, events, types; NAME shows one of them\n"
"      --idl                the IDL source files instead\n"
"      --proto              the .proto files instead\n"
"  call ADDR NS.METHOD [JSON|-]\n"
"                           call a method with its arguments as a JSON\n"
"                           object (default {}; - reads it from stdin) and\n"
"                           print its result as JSON (null for void)\n"
"  send ADDR NS.EVENT [JSON|-]  send an event\n"
"  monitor ADDR             print the frames the server exchanges with its\n"
"                           other clients, one line each\n"
"      --json               one JSON object per frame instead\n"
"      --pcap FILE          also write them to FILE (pcap, LINKTYPE_USER0)\n"
"      --snap BYTES         bytes of each frame to capture (default 0: the\n"
"                           server's, 65536)\n"
"      -c, --count N        stop after N frames\n"
"  ping ADDR                time round trips of epyrpc.introspect.ping\n"
"      -c, --count N        this many (default 4; 0: until interrupted)\n"
"      -i, --interval MS    between them (default 1000)\n"
"\n"
"Options:\n"
"  -t, --timeout MS   for connecting and for each call (default 5000; 0: none)\n"
"  -p, --pretty       indent JSON output\n"
"  -h, --help         this text\n"
"  -V, --version      the version\n"
"\n"
"ADDR: unix:/path, unix:@name, tcp:host:port.\n"
"\n"
"Exit status: 0 success; 1-19 an epyrpc failure, the negated EPY_E* code\n"
"(1 EPY_EPARAM: bad arguments or JSON, 2 EPY_EUNKNOWN: no such namespace,\n"
"3 EPY_EUNSUPPORTED: no such method, 4 EPY_EFAILED: the handler failed,\n"
"5 EPY_ETIMEDOUT, 6 EPY_EDISCONNECTED, 20 EPY_EPERM, ...); 64 usage errors.\n", f);
}

static int
usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static int
usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("epyctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'epyctl --help'.\n", stderr);
    return CTL_EXIT_USAGE;
}

/* A decimal number in [@min, @max] from @s, or -1 with a message. */
static int
number_arg(const char *opt, const char *s, long min, long max, long *ret)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "epyctl: %s: '%s' is not a number from %ld to %ld\n",
                opt, s, min, max);
        return -1;
    }
    *ret = v;
    return 0;
}

/* --- call and send -------------------------------------------------------- */

/* The failure of a call as JSON on stdout, and a line on stderr. */
static int
report_failure(ctl_codec *codec, const char *name, const epy_error *err,
               bool pretty)
{
    json_object *o = json_object_new_object();
    json_object *payload = NULL;

    json_object_object_add(o, "code", json_object_new_int(err->code));
    json_object_object_add(o, "status",
                           json_object_new_string(epy_status_name(err->code)));
    json_object_object_add(o, "error_type", err->type != NULL
                           ? json_object_new_string(err->type) : NULL);
    json_object_object_add(o, "message", json_object_new_string(
                               err->message != NULL ? err->message : ""));
    if (err->type != NULL && codec != NULL) {
        const sc_decl *d = ctl_codec_find(codec, err->type, SC_ERROR);
        const ctl_msg *m = d != NULL ? ctl_msg_of_decl(codec, d) : NULL;

        if (m != NULL)
            payload = ctl_json_unpack(codec, m, err->payload,
                                      err->payload_len);
    }
    json_object_object_add(o, "payload", payload);
    if (payload == NULL && err->payload_len > 0) {
        char *b = ctl_base64_encode(err->payload, err->payload_len);

        json_object_object_add(o, "payload_base64", json_object_new_string(b));
        free(b);
    }
    puts(ctl_json_text(o, pretty));
    json_object_put(o);
    return ctl_report(name, err);
}

static int
cmd_call(ctl_conn *c, const char *name, const char *arg, bool event,
         bool pretty)
{
    char *text = NULL;
    size_t len = 2;
    json_object *args;
    ctl_codec codec;
    const sc_decl *d;
    const ctl_msg *m;
    uint8_t *req = NULL;
    size_t req_len = 0;
    const char *dot = strrchr(name, '.');
    ctl_str where = { NULL, 0, 0 };
    int rc;

    if (dot == NULL || dot == name || dot[1] == '\0')
        return usage_error("'%s': a method is named NAMESPACE.METHOD", name);
    if (arg != NULL && strcmp(arg, "-") == 0) {
        text = ctl_read_file("-", &len);
        if (text == NULL)
            return EPY_EPARAM;
    }
    args = ctl_json_parse(text != NULL ? text : arg != NULL ? arg : "{}",
                          text != NULL ? len : arg != NULL ? strlen(arg) : 2,
                          "arguments");
    free(text);
    if (args == NULL)
        return EPY_EPARAM;
    rc = ctl_connect(c, NULL);
    if (rc == 0)
        rc = ctl_fetch_interfaces(c, false);
    if (rc < 0) {
        json_object_put(args);
        return rc;
    }
    rc = ctl_codec_for(c, name, &codec);
    if (rc == EPY_EUNKNOWN) {
        ctl_warn("%s: %s: no interface of the server holds namespace '%.*s'",
                 name, epy_status_name(rc), (int) strcspn(name, "."), name);
        json_object_put(args);
        return rc;
    }
    if (rc < 0) {
        json_object_put(args);
        return rc;
    }
    d = ctl_codec_find(&codec, name, -1);
    if (d == NULL || (d->kind != SC_METHOD && d->kind != SC_EVENT)) {
        rc = EPY_EUNSUPPORTED;
        ctl_warn("%s: %s: the server's interface has no %s '%s'", name,
                 epy_status_name(rc), event ? "event or method" : "method",
                 name);
    } else if (d->kind == SC_EVENT && !event) {
        rc = -CTL_EXIT_USAGE;
        ctl_warn("%s is an event: send it with 'epyctl send'", name);
    } else if (ctl_fd_path(&codec, d, &where)) {
        rc = -CTL_EXIT_USAGE;
        ctl_warn("%s: %s passes a file descriptor; epyctl cannot", name,
                 where.data);
    } else if ((m = ctl_msg_args(&codec, d)) == NULL) {
        rc = EPY_EPROTO;
        ctl_warn("%s: %s", name, codec.err);
    } else if (ctl_json_pack(&codec, m, args, "args", &req, &req_len) < 0) {
        rc = EPY_EPARAM;
        ctl_warn("%s: %s", name, codec.err);
    } else {
        char *ns = ctl_xstrdup(name);
        epy_buf reply = EPY_BUF_INIT;
        epy_error err = EPY_ERROR_INIT;

        ns[dot - name] = '\0';
        if (event) {
            epy_api *api = NULL;

            rc = epy_api_open(c->peer, ns, &api, &err);
            if (rc == 0)
                rc = epy_api_send(api, dot + 1, req, req_len, &err);
            epy_api_close(api);
            if (rc < 0)
                ctl_report(name, &err);
        } else {
            rc = ctl_call_raw(c, ns, dot + 1, req, req_len, &reply, &err);
            if (rc < 0) {
                report_failure(&codec, name, &err, pretty);
            } else if ((m = ctl_msg_result(&codec, d)) == NULL) {
                rc = EPY_EPROTO;
                ctl_warn("%s: %s", name, codec.err);
            } else {
                json_object *r = ctl_json_unpack(&codec, m, reply.data,
                                                 reply.len);

                if (r == NULL) {
                    rc = EPY_EPROTO;
                    ctl_warn("%s: the reply: %s", name, codec.err);
                } else {
                    json_object *v = json_object_object_get(r, "value");

                    puts(v != NULL ? ctl_json_text(v, pretty) : "null");
                    json_object_put(r);
                }
            }
        }
        free(ns);
        epy_buf_clear(&reply);
        epy_error_clear(&err);
    }
    free(req);
    ctl_str_free(&where);
    ctl_codec_close(&codec);
    json_object_put(args);
    return rc;
}

/* --- ping --------------------------------------------------------------------- */

volatile sig_atomic_t ctl_stop;

static void
on_signal(int sig)
{
    (void) sig;
    ctl_stop = 1;
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

static int
cmd_ping(ctl_conn *c, long count, long interval)
{
    double *rtt = NULL, sum = 0;
    size_t n = 0;
    long sent = 0;
    int rc = ctl_connect(c, NULL);

    if (rc < 0)
        return rc;
    while (!ctl_stop && (count == 0 || sent < count)) {
        epy_error err = EPY_ERROR_INIT;
        double t0 = now_ms(), t;

        if (sent > 0) {
            struct timespec ts = { interval / 1000, interval % 1000 * 1000000 };

            while (!ctl_stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
            if (ctl_stop)
                break;
            t0 = now_ms();
        }
        sent++;
        rc = ctl_call_raw(c, "epyrpc.introspect", "ping", NULL, 0, NULL, &err);
        t = now_ms() - t0;
        if (rc < 0) {
            ctl_report("epyrpc.introspect.ping", &err);
            epy_error_clear(&err);
            break;
        }
        rtt = ctl_xrealloc(rtt, (n + 1) * sizeof *rtt);
        rtt[n++] = t;
        sum += t;
        printf("epyrpc.introspect.ping %s: seq=%ld time=%.3f ms\n", c->addr,
               sent, t);
        fflush(stdout);
    }
    printf("%ld calls, %zu answered", sent, n);
    if (n > 0) {
        qsort(rtt, n, sizeof *rtt, cmp_double);
        printf(", min/avg/max/p50 = %.3f/%.3f/%.3f/%.3f ms", rtt[0],
               sum / (double) n, rtt[n - 1], rtt[(n - 1) / 2]);
    }
    putchar('\n');
    free(rtt);
    return rc;
}

/* --- main ------------------------------------------------------------------------ */

enum { OPT_IDL = 256, OPT_PROTO, OPT_JSON, OPT_PCAP, OPT_SNAP };

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "timeout", required_argument, NULL, 't' },
        { "pretty", no_argument, NULL, 'p' },
        { "count", required_argument, NULL, 'c' },
        { "interval", required_argument, NULL, 'i' },
        { "idl", no_argument, NULL, OPT_IDL },
        { "proto", no_argument, NULL, OPT_PROTO },
        { "json", no_argument, NULL, OPT_JSON },
        { "pcap", required_argument, NULL, OPT_PCAP },
        { "snap", required_argument, NULL, OPT_SNAP },
        { NULL, 0, NULL, 0 }
    };
    ctl_conn c = { NULL, NULL, DEFAULT_TIMEOUT_MS, NULL };
    ctl_monitor_opts mon = { false, NULL, 0, 0 };
    long count = -1, interval = 1000, v;
    int show = CTL_SHOW_JSON, opt, rc, nargs;
    bool pretty = false, any_monitor = false, any_ping = false;
    const char *cmd;
    struct sigaction sa;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hVt:pc:i:", opts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("epyctl %s (libepyrpc %s)\n", EPY_VERSION_STRING,
                   epy_version());
            return 0;
        case 't':
            if (number_arg("--timeout", optarg, 0, EPY_TIMEOUT_MAX, &v) < 0)
                return CTL_EXIT_USAGE;
            c.timeout_ms = v;
            break;
        case 'p':
            pretty = true;
            break;
        case 'c':
            if (number_arg("--count", optarg, 0, 1L << 40, &count) < 0)
                return CTL_EXIT_USAGE;
            break;
        case 'i':
            if (number_arg("--interval", optarg, 0, 3600000, &interval) < 0)
                return CTL_EXIT_USAGE;
            any_ping = true;
            break;
        case OPT_IDL:
        case OPT_PROTO:
            if (show != CTL_SHOW_JSON)
                return usage_error("%s", "--idl and --proto exclude each other");
            show = opt == OPT_IDL ? CTL_SHOW_IDL : CTL_SHOW_PROTO;
            break;
        case OPT_JSON:
            mon.json = any_monitor = true;
            break;
        case OPT_PCAP:
            mon.pcap = optarg;
            any_monitor = true;
            break;
        case OPT_SNAP:
            if (number_arg("--snap", optarg, 0, UINT32_MAX, &v) < 0)
                return CTL_EXIT_USAGE;
            mon.snap = (unsigned) v;
            any_monitor = true;
            break;
        case ':':
            /* What was typed: "--count", "-c", "-i" of "-pi". */
            if (strncmp(argv[optind - 1], "--", 2) == 0)
                return usage_error("option '%s' needs a value",
                                   argv[optind - 1]);
            return usage_error("option '-%c' needs a value", optopt);
        default:
            if (optopt != 0 && optopt < 256)
                return usage_error("unknown option '-%c'", optopt);
            return usage_error("unknown option '%s'",
                               argv[optind - 1]);
        }
    }
    nargs = argc - optind;
    if (nargs < 1)
        return usage_error("%s", "a command is needed: introspect, call, "
                           "send, monitor or ping");
    cmd = argv[optind];
    if (nargs < 2)
        return usage_error("%s needs a server address (unix:/path, "
                           "unix:@name, tcp:host:port)", cmd);
    c.addr = argv[optind + 1];
    if (show != CTL_SHOW_JSON && strcmp(cmd, "introspect") != 0)
        return usage_error("--idl and --proto are options of introspect, "
                           "not of %s", cmd);
    if (any_monitor && strcmp(cmd, "monitor") != 0)
        return usage_error("--json, --pcap and --snap are options of "
                           "monitor, not of %s", cmd);
    if (any_ping && strcmp(cmd, "ping") != 0)
        return usage_error("--interval is an option of ping, not of %s", cmd);
    if (count >= 0 && strcmp(cmd, "ping") != 0 && strcmp(cmd, "monitor") != 0)
        return usage_error("--count is an option of ping and monitor, not "
                           "of %s", cmd);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (strcmp(cmd, "introspect") == 0) {
        if (nargs > 3)
            return usage_error("%s", "introspect takes ADDR [NAME]");
        rc = ctl_connect(&c, NULL);
        if (rc == 0)
            rc = ctl_cmd_introspect(&c, nargs == 3 ? argv[optind + 2] : NULL,
                                    show, pretty);
    } else if (strcmp(cmd, "call") == 0 || strcmp(cmd, "send") == 0) {
        if (nargs < 3 || nargs > 4)
            return usage_error("%s takes ADDR NAMESPACE.NAME [JSON|-]", cmd);
        rc = cmd_call(&c, argv[optind + 2], nargs == 4 ? argv[optind + 3]
                      : NULL, cmd[0] == 's', pretty);
    } else if (strcmp(cmd, "monitor") == 0) {
        if (nargs > 2)
            return usage_error("%s", "monitor takes ADDR and options");
        mon.count = count > 0 ? count : 0;
        rc = ctl_cmd_monitor(c.addr, c.timeout_ms, &mon);
    } else if (strcmp(cmd, "ping") == 0) {
        if (nargs > 2)
            return usage_error("%s", "ping takes ADDR and options");
        rc = cmd_ping(&c, count >= 0 ? count : 4, interval);
    } else {
        return usage_error("unknown command '%s': introspect, call, send, "
                           "monitor or ping", cmd);
    }
    ctl_disconnect(&c);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ctl_warn("standard output: %s", strerror(errno));
        return rc < 0 ? ctl_exit_code(rc) : -EPY_ESYSTEM;
    }
    return rc == -CTL_EXIT_USAGE ? CTL_EXIT_USAGE : ctl_exit_code(rc);
}
