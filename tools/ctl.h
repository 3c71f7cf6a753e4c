/*
 * epyctl: what its parts share. epyctl.c parses the command line and
 * runs the commands; ctl-schema.c turns an interface description into
 * protobuf-c message descriptors; ctl-json.c fills messages from JSON
 * and turns them back; ctl-introspect.c asks a server what it serves;
 * ctl-proto.c writes a .proto text from a description; ctl-monitor.c
 * follows a server's frames; ctl-util.c holds the small helpers.
 */
#ifndef EPYCTL_CTL_H
#define EPYCTL_CTL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>

#include <epyrpc/epyrpc.h>

#include "schema-int.h"

/* Exit status of usage errors (sysexits.h's EX_USAGE). */
#define CTL_EXIT_USAGE 64

/* Set by SIGINT and SIGTERM. */
extern volatile sig_atomic_t ctl_stop;

/* --- helpers (ctl-util.c) ----------------------------------------------- */

/* Prints "epyctl: " and the message on stderr. */
void ctl_warn(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Memory freed all at once: zeroed blocks, exits on exhaustion. */
typedef struct ctl_arena {
    struct ctl_block *blocks;
} ctl_arena;

void *ctl_alloc(ctl_arena *a, size_t size);
char *ctl_strndup(ctl_arena *a, const char *s, size_t n);
void ctl_arena_free(ctl_arena *a);
/* malloc() and realloc() that exit with a message when memory runs out. */
void *ctl_xmalloc(size_t size);
void *ctl_xrealloc(void *p, size_t size);
char *ctl_xstrdup(const char *s);

/* A growable string. */
typedef struct ctl_str {
    char *data;
    size_t len, cap;
} ctl_str;

void ctl_str_add(ctl_str *s, const char *p, size_t n);
void ctl_str_puts(ctl_str *s, const char *p);
void ctl_str_printf(ctl_str *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void ctl_str_free(ctl_str *s);

/* Base64 (RFC 4648, with padding). Decoding accepts missing padding. */
char *ctl_base64_encode(const uint8_t *p, size_t n);
/* 0, or -1 for text that is not base64. *@ret is malloc()ed. */
int ctl_base64_decode(const char *s, size_t n, uint8_t **ret, size_t *ret_n);

/* JSON numbers for doubles and floats: the shortest text that reads
 * back to the same value; NaN and the infinities as strings. */
json_object *ctl_json_double(double d);
json_object *ctl_json_float(float f);
/* 64-bit integers: numbers within 2^53, else decimal strings. */
json_object *ctl_json_int64(int64_t v);
json_object *ctl_json_uint64(uint64_t v);

/* The text of @j: compact, or indented with @pretty. */
const char *ctl_json_text(json_object *j, bool pretty);
/* Parses @text (@what names it in messages); NULL with a message. */
json_object *ctl_json_parse(const char *text, size_t len, const char *what);

/* The whole of @path ("-": stdin), NUL-terminated; NULL with a message. */
char *ctl_read_file(const char *path, size_t *ret_len);

/* The process's exit status for an epyrpc status code. */
int ctl_exit_code(int code);

/* --- message types from a description (ctl-schema.c) ------------------ */

/* What a message of the description carries. */
enum { CTL_MSG_STRUCT, CTL_MSG_ARGS, CTL_MSG_RESULT, CTL_MSG_WRAPPER,
       CTL_MSG_ENTRY };

/*
 * A field of a message as the description sees it: its IDL @type and
 * name. @plain: the field carries @type as one value (optional, of the
 * element type or wrapper message) even when @type is a generic: the
 * value of a map entry. Else a list is a repeated field, an optional an
 * optional one, a map a repeated entry message.
 */
typedef struct ctl_field {
    const char *name;
    const sc_type *type;
    bool plain;
    const ProtobufCFieldDescriptor *pb;
} ctl_field;

/* A message type. @desc comes first: a descriptor is its ctl_msg. */
typedef struct ctl_msg {
    ProtobufCMessageDescriptor desc;
    int kind;
    const sc_decl *decl;         /* struct, error, method or event */
    const sc_type *type;         /* wrappers and entries: the generic */
    ctl_field *fields;           /* in the order of the description */
    size_t n_fields;
    char *key;
    struct ctl_msg *next;
} ctl_msg;

typedef struct ctl_codec {
    epy__schema *schema;
    ctl_arena arena;
    ctl_msg *msgs;
    bool broken;                 /* a message lacked a type: no more */
    int depth;                   /* of the value being walked */
    ctl_str path;                /* of the value being converted */
    char err[512];               /* the last failure */
} ctl_codec;

/* Parses @text; 0, or -1 with a message in c->err. */
int ctl_codec_open(ctl_codec *c, const char *text, size_t len);
void ctl_codec_close(ctl_codec *c);
/* The declaration @name of @kind (-1: any), or NULL. */
const sc_decl *ctl_codec_find(const ctl_codec *c, const char *name, int kind);
/* Message types; NULL with a message in c->err (a type not described). */
const ctl_msg *ctl_msg_of_decl(ctl_codec *c, const sc_decl *d);
const ctl_msg *ctl_msg_args(ctl_codec *c, const sc_decl *method);
const ctl_msg *ctl_msg_result(ctl_codec *c, const sc_decl *method);
/* The spelling of a type, as in descriptions ("map<string,calc.point>"). */
void ctl_type_spell(const sc_type *t, ctl_str *out);
/* The name of a scalar kind ("int64"). */
const char *ctl_scalar_name(int kind);
/*
 * Whether the method or event @method passes a file descriptor (IDL
 * `fd`) in its parameters or result, in a struct they hold included:
 * then true, with where in @out ("args.s.out", "the result"). epyctl
 * cannot pass descriptors.
 */
bool ctl_fd_path(ctl_codec *c, const sc_decl *method, ctl_str *out);

/* --- JSON and messages (ctl-json.c) ----------------------------------- */

/*
 * A message of @m from the JSON object @j, packed into *@ret (malloc()ed,
 * *@ret_len bytes). @what names the value in messages ("arguments").
 * 0, or -1 with a message naming the field in c->err.
 */
int ctl_json_pack(ctl_codec *c, const ctl_msg *m, json_object *j,
                  const char *what, uint8_t **ret, size_t *ret_len);
/* The JSON object of the encoded message @data of @m; NULL with c->err. */
json_object *ctl_json_unpack(ctl_codec *c, const ctl_msg *m,
                             const uint8_t *data, size_t len);

/* --- introspection (ctl-introspect.c) -------------------------------- */

typedef struct ctl_conn {
    const char *addr;
    epy_peer *peer;
    int64_t timeout_ms;
    struct Epyrpc__IntrospectInterfacesResult *ifaces;
} ctl_conn;

/* Connects to c->addr; 0 or a negative code (reported). */
int ctl_connect(ctl_conn *c, const epy_peer_config *cfg);
void ctl_disconnect(ctl_conn *c);
/*
 * Calls @ns.@method with the encoded @req; 0 with the reply in @reply, or
 * the code with @err filled (not reported).
 */
int ctl_call_raw(ctl_conn *c, const char *ns, const char *method,
                 const uint8_t *req, size_t len, epy_buf *reply,
                 epy_error *err);
/* Reports a failed call of @what on stderr. Returns @err->code. */
int ctl_report(const char *what, const epy_error *err);
/* Asks for the interfaces (with their sources); 0 or a code (reported). */
int ctl_fetch_interfaces(ctl_conn *c, bool sources);
/*
 * The codec of the interface that holds @name (a dotted method, event or
 * namespace name): its description and the types it uses. 0; EPY_EUNKNOWN
 * when no interface holds it; EPY_EPROTO for a description that does not
 * parse (reported).
 */
int ctl_codec_for(ctl_conn *c, const char *name, ctl_codec *codec);

/* epyctl introspect ADDR [NAMESPACE] [--idl | --proto] */
int ctl_cmd_introspect(ctl_conn *c, const char *ns, int what, bool pretty);
enum { CTL_SHOW_JSON, CTL_SHOW_IDL, CTL_SHOW_PROTO };

/* --- .proto text from a description (ctl-proto.c) ------------------- */

/* The .proto text of the root namespace @root of @c's description. */
void ctl_proto_text(ctl_codec *c, const char *root, ctl_str *out);

/* --- the monitor (ctl-monitor.c) ------------------------------------ */

typedef struct ctl_monitor_opts {
    bool json;
    const char *pcap;
    long count;                  /* 0: until interrupted */
    unsigned snap;
} ctl_monitor_opts;

int ctl_cmd_monitor(const char *addr, int64_t timeout_ms,
                    const ctl_monitor_opts *o);

#endif /* EPYCTL_CTL_H */
