/*
 * epyrpc: support for the code idlc generates. Not for direct use: the
 * generated .epy.h and .epy.c files include it, and their typed functions
 * are thin wrappers over the functions below.
 *
 * Values cross the wire as protobuf messages built and parsed by
 * protobuf-c. The generated code describes the layout of each C type it
 * defines (epy_gen_type, epy_gen_struct) next to the protobuf-c
 * descriptor of its message; the functions here convert between the two
 * layouts, so no encoder is written by hand or generated.
 *
 * Memory: every value these functions produce is allocated with malloc()
 * and released with epy_gen_clear() (or the generated *_clear()
 * functions); strings are NUL-terminated.
 */
#ifndef EPYRPC_GEN_H
#define EPYRPC_GEN_H

#include <epyrpc/epyrpc.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Bumped when generated code must be regenerated for this header. Adding
 * a function (epy_gen_copy()) does not bump it: code generated before
 * still compiles and links; code generated after needs a header and
 * library that have the function.
 */
#define EPY_GEN_ABI 1

/*
 * Misuse of generated code is an error, not a warning. Passing the wrong
 * api type (a calc_stats_api * to calc_add()), a wrong argument or
 * result pointer (a double * as an int64_t * result), or putting a
 * handler of the wrong signature into a handler table, is a constraint
 * violation that GCC before 14 and Clang before 16 only warn about by
 * default, and the program would link and misbehave. So the rest of
 * every file that includes generated code treats these diagnostics as
 * errors, as newer compilers do by default: incompatible pointer types
 * (function pointers included), int/pointer conversions, and calls of
 * undeclared functions (calc_tick() for the event's calc_tick_send()).
 * Only code that is already invalid C is affected. (A pragma scoped to
 * the generated declarations would not do: the diagnostic is made where
 * the mistake is, in the including file.) Define EPY_GEN_LENIENT before
 * including to keep the compiler's own settings.
 */
#if defined(__GNUC__) && !defined(__cplusplus) && !defined(EPY_GEN_LENIENT)
#pragma GCC diagnostic error "-Wincompatible-pointer-types"
#pragma GCC diagnostic error "-Wint-conversion"
#pragma GCC diagnostic error "-Wimplicit-function-declaration"
#if defined(__clang__)
/* In Clang this group holds const-discarding conversions too: as before. */
#pragma clang diagnostic warning "-Wincompatible-pointer-types-discards-qualifiers"
#endif
#endif

/*
 * Returned by a typed handler that has answered its call itself: with a
 * typed error (the generated *_raise() functions return it) or with its
 * *_reply() function.
 */
#define EPY_GEN_ANSWERED 2
#define EPY_GEN_RAISED EPY_GEN_ANSWERED

/*
 * Received messages nested deeper than this are refused (EPY_EPROTO):
 * decoding recurses once per level.
 */
#define EPY_GEN_MAX_DEPTH 256

/*
 * The decoding budget: decoding a received message of N bytes may
 * allocate at most EPY_GEN_DECODE_FACTOR * N + EPY_GEN_DECODE_SLACK bytes
 * (protobuf-c's parsed message and the C value together, each
 * allocation counted before it is made, with malloc()'s own overhead);
 * a message that would need more is refused with EPY_ETOOBIG, and
 * nothing of it is kept. Decoded, an element of a list of structs,
 * strings or optionals takes 75 to 150 bytes however short it is on the
 * wire: ordinary messages need 2 to 27 times their size; those made of
 * elements that are empty on the wire (2 bytes: an empty struct or
 * string, an absent optional) up to 55 times, and the slack lets some
 * 100,000 such elements through. doc/idl.md ("What receivers check")
 * has the figures.
 */
#define EPY_GEN_DECODE_FACTOR 32
#define EPY_GEN_DECODE_SLACK ((size_t) 4 << 20)

/* protobuf-c's message descriptor (from <protobuf-c/protobuf-c.h>). */
struct ProtobufCMessageDescriptor;

/** A byte string: the C type of IDL `bytes`. */
typedef struct epy_bytes {
    uint8_t *data;
    size_t len;
} epy_bytes;

/* The kinds of value the generated layouts hold. */
typedef enum epy_gen_kind {
    EPY_GEN_BOOL, EPY_GEN_INT8, EPY_GEN_INT16, EPY_GEN_INT32, EPY_GEN_INT64,
    EPY_GEN_UINT8, EPY_GEN_UINT16, EPY_GEN_UINT32, EPY_GEN_UINT64,
    EPY_GEN_FLOAT, EPY_GEN_DOUBLE, EPY_GEN_STRING, EPY_GEN_BYTES,
    EPY_GEN_ENUM, EPY_GEN_STRUCT, EPY_GEN_LIST, EPY_GEN_OPTIONAL,
    EPY_GEN_MAP, EPY_GEN_FD
} epy_gen_kind;

typedef struct epy_gen_type epy_gen_type;
typedef struct epy_gen_struct epy_gen_struct;

/*
 * struct epy_gen_type - the C layout of one IDL type.
 * @kind:   what it is.
 * @size:   sizeof the C value (for lists: of the list header).
 * @elem:   list and optional: the element; map: the value.
 * @key:    map: the key.
 * @st:     struct: its fields.
 * @value_offset: optional: offset of `value` in { bool has; T value; };
 *          map: offset of `value` in the entry { K key; V value; }.
 * @entry_size: map: sizeof the entry.
 *
 * Lists are { size_t n; T *items; }, maps { size_t n; entry *items; },
 * enums are int-sized. A received enum value is checked against the
 * values of the field's protobuf-c enum descriptor, and a received
 * int8, int16, uint8 or uint16 against the range of its C type.
 */
struct epy_gen_type {
    epy_gen_kind kind;
    size_t size;
    const epy_gen_type *elem;
    const epy_gen_type *key;
    const epy_gen_struct *st;
    size_t value_offset;
    size_t entry_size;
};

/* One field of a struct: its wire number, C offset and type. */
typedef struct epy_gen_field {
    uint32_t number;
    size_t offset;
    const epy_gen_type *type;
} epy_gen_field;

/*
 * struct epy_gen_struct - a C struct and its protobuf message: a user
 * struct or error, a method's arguments, or a method's result (one field
 * numbered 1 at offset 0).
 */
struct epy_gen_struct {
    const char *name;
    const struct ProtobufCMessageDescriptor *pb;
    size_t size;
    size_t n_fields;
    const epy_gen_field *fields;
};

/* Scalar and string layouts, shared by all generated code. */
EPY_API extern const epy_gen_type epy_gen_type_bool;
EPY_API extern const epy_gen_type epy_gen_type_int8;
EPY_API extern const epy_gen_type epy_gen_type_int16;
EPY_API extern const epy_gen_type epy_gen_type_int32;
EPY_API extern const epy_gen_type epy_gen_type_int64;
EPY_API extern const epy_gen_type epy_gen_type_uint8;
EPY_API extern const epy_gen_type epy_gen_type_uint16;
EPY_API extern const epy_gen_type epy_gen_type_uint32;
EPY_API extern const epy_gen_type epy_gen_type_uint64;
EPY_API extern const epy_gen_type epy_gen_type_float;
EPY_API extern const epy_gen_type epy_gen_type_double;
EPY_API extern const epy_gen_type epy_gen_type_string;
EPY_API extern const epy_gen_type epy_gen_type_bytes;
EPY_API extern const epy_gen_type epy_gen_type_enum;
/*
 * IDL `fd`: an int, -1 for none. On the wire a uint32, 0 for none and k
 * for the k-th descriptor that came with the frame (SCM_RIGHTS). A
 * decoded descriptor is the receiver's, and never below 3:
 * epy_gen_clear() closes descriptors of 3 and more and sets them to -1
 * (0, 1 and 2 are what a zeroed value holds, and the standard streams).
 */
EPY_API extern const epy_gen_type epy_gen_type_fd;

/* The most descriptors one message may carry. */
#define EPY_GEN_MAX_FDS 64

/*
 * malloc() and free() for generated code (headers include no libc).
 * epy_gen_free() frees what a received value holds, heap or a view of a
 * value that came out of line (epy_peer_config.blob_threshold), which
 * free() must not be given: programs use it for received strings when
 * they set blob_threshold.
 */
EPY_API void *epy_gen_alloc(size_t size);
EPY_API void epy_gen_free(void *p);

/* Frees @b's data and empties it; NULL is accepted. */
EPY_API void epy_gen_bytes_clear(epy_bytes *b);

/**
 * epy_bytes_clear - free @b's data and empty it. NULL is accepted.
 * Thread safety: serialize calls per object.
 */
static inline void
epy_bytes_clear(epy_bytes *b)
{
    epy_gen_bytes_clear(b);
}

/**
 * epy_gen_encode - encode the C value @value laid out as @st into @out.
 * Returns 0, EPY_EPARAM (a NULL string or list items with n > 0) or
 * EPY_ENOMEM.
 */
EPY_API int epy_gen_encode(const epy_gen_struct *st, const void *value,
                           epy_buf *out);

/**
 * epy_gen_decode - decode @len bytes at @data into @value (laid out as
 * @st, overwritten: it need not be initialised). On success the caller
 * owns what @value points to (release with epy_gen_clear()); on failure
 * @value is zeroed and nothing is left allocated. @data may come from an
 * untrusted peer. Returns 0, EPY_EPROTO (malformed, nested deeper than
 * EPY_GEN_MAX_DEPTH, an integer out of the range of its C type or an
 * enum value the IDL does not declare), EPY_ETOOBIG (decoding would
 * allocate more than the budget: EPY_GEN_DECODE_FACTOR * @len +
 * EPY_GEN_DECODE_SLACK bytes) or EPY_ENOMEM.
 * Thread safety: any thread.
 */
EPY_API int epy_gen_decode(const epy_gen_struct *st, const void *data,
                           size_t len, void *value);

/**
 * epy_gen_decode_call - epy_gen_decode() of @call's request (@data,
 * @len), taking the descriptors that came with it for its `fd` values.
 * The generated handlers call it. EPY_EPROTO if a value names a
 * descriptor that did not come.
 */
EPY_API int epy_gen_decode_call(epy_call *call, const epy_gen_struct *st,
                                const void *data, size_t len, void *value);

/**
 * epy_gen_clear - free what @value (laid out as @st) owns, closing its
 * descriptors (see epy_gen_type_fd); zero it (descriptors: -1).
 */
EPY_API void epy_gen_clear(const epy_gen_struct *st, void *value);

/**
 * epy_gen_copy - make @dst a deep copy of @src (both laid out as @st):
 * strings and bytes duplicated, lists, maps and optionals copied with
 * their elements, nested structs alike, descriptors duplicated (to 3
 * or more); NULL strings and bytes { NULL, 0 } stay so, empty bytes with a block get a block of their
 * own, an empty list or map has NULL items. The copy is
 * built aside and moved into @dst only on success: on failure @dst is
 * untouched and nothing is left allocated. @dst is overwritten, not
 * cleared: what it owned before is the caller's to free. The caller owns
 * the copy (release with epy_gen_clear()). Returns 0, EPY_ENOMEM (also
 * when a list's size in bytes would overflow), or EPY_EPARAM (a NULL
 * argument, list or map items NULL with n > 0, bytes data NULL with
 * len > 0).
 * Thread safety: any thread; @src must not change meanwhile.
 */
EPY_API int epy_gen_copy(const epy_gen_struct *st, void *dst,
                         const void *src);

/**
 * epy_gen_call - a typed synchronous call: encode @args, call
 * @api.@method, decode the reply into @ret_result (NULL for void
 * methods; untouched on failure). Returns as epy_api_call(), or as
 * epy_gen_decode() for a reply that does not decode (EPY_EPROTO,
 * EPY_ETOOBIG past the decoding budget), with a message saying so.
 */
EPY_API int epy_gen_call(epy_api *api, const char *method,
                         const epy_gen_struct *args_st, const void *args,
                         const epy_call_opts *opts,
                         const epy_gen_struct *result_st, void *ret_result,
                         epy_error *ret_err);

/** epy_gen_call_async - as epy_api_call_async() with encoded @args. */
EPY_API int epy_gen_call_async(epy_api *api, const char *method,
                               const epy_gen_struct *args_st,
                               const void *args, const epy_call_opts *opts,
                               epy_async **ret_async, epy_error *ret_err);

/** epy_gen_send - as epy_api_send() with encoded @args. */
EPY_API int epy_gen_send(epy_api *api, const char *method,
                         const epy_gen_struct *args_st, const void *args,
                         epy_error *ret_err);

/**
 * epy_gen_result - the typed outcome of a completed asynchronous call:
 * 0 with the decoded result in @ret_result (which the caller then owns),
 * EPY_EPENDING, the call's error with @ret_err filled, or as
 * epy_gen_decode() for a reply that does not decode.
 */
EPY_API int epy_gen_result(epy_async *async, const epy_gen_struct *result_st,
                           void *ret_result, epy_error *ret_err);

/**
 * epy_gen_reply - answer @call with @result encoded as @result_st (NULL
 * for void methods). Returns as epy_call_reply(), or EPY_ENOMEM (then the
 * call is answered with EPY_ENOMEM).
 */
EPY_API int epy_gen_reply(epy_call *call, const epy_gen_struct *result_st,
                          const void *result);

/**
 * epy_gen_finish - what a generated handler wrapper does with the typed
 * handler's return value @rc: 0 answers with @result; EPY_GEN_RAISED
 * means answered already; EPY_DEFER and negative codes pass through.
 * Frees @result in every case. Returns the wrapper's return value.
 */
EPY_API int epy_gen_finish(epy_call *call, int rc,
                           const epy_gen_struct *result_st, void *result);

/**
 * epy_gen_raise - answer @call with the typed error @type_name whose
 * payload is @value laid out as @st. Returns EPY_GEN_RAISED.
 */
EPY_API int epy_gen_raise(epy_call *call, const char *type_name,
                          const epy_gen_struct *st, const void *value,
                          const char *message);

/**
 * epy_gen_error_get - if @err carries the error type @type_name, decode
 * its payload into @ret_value (then owned by the caller) and return 0;
 * EPY_ENOTFOUND if it carries another type (or none), EPY_EPROTO or
 * EPY_ETOOBIG if the payload does not decode (see epy_gen_decode()),
 * EPY_EPARAM for NULL arguments.
 */
EPY_API int epy_gen_error_get(const epy_error *err, const char *type_name,
                              const epy_gen_struct *st, void *ret_value);

/**
 * A source file of an interface, as introspection reports it: @name is
 * the file's name ("calc.idl", "calc.proto"), @text its contents as
 * pieces to concatenate, NULL last.
 */
typedef struct epy_gen_source {
    const char *name;
    const char *const *text;
} epy_gen_source;

/**
 * struct epy_gen_details - what introspection (the built-in
 * epyrpc.introspect service, doc/wire.md) reports of an interface beyond
 * its epy_interface.
 * @name, @fingerprint: the interface's (epy_interface.name and
 *          .fingerprint): details apply to every epy_interface that has
 *          both.
 * @types:  the descriptions of the namespaces of the files it imports,
 *          so that a tool can encode arguments of their types; pieces,
 *          NULL last.
 * @sources, @n_sources: its .idl file and the files it imports, then
 *          their .proto files, imports first.
 */
typedef struct epy_gen_details {
    const char *name;
    const char *fingerprint;
    const char *const *types;
    const epy_gen_source *sources;
    size_t n_sources;
} epy_gen_details;

/**
 * epy_gen_describe - make @d known to the peers and servers made from
 * now on; generated code calls it when the program (or the library it is
 * in) is loaded, and epy_gen_undescribe() when it is unloaded. @d must
 * stay valid until then; it is not copied. Describing the same @d twice
 * counts once. Out of memory, @d stays unknown (introspection then
 * reports the interface without its types and sources).
 * Thread safety: any thread.
 */
EPY_API void epy_gen_describe(const epy_gen_details *d);
EPY_API void epy_gen_undescribe(const epy_gen_details *d);

/* One typed handler of a table, as registered by epy_gen_serve(). */
typedef struct epy_gen_handler {
    const char *method;         /* relative to the namespace */
    epy_handler_fn fn;          /* NULL: leave the method unhandled */
} epy_gen_handler;

/**
 * epy_gen_serve - declare namespace @ns served on @peer and register
 * each non-NULL handler of @h with @closure as its context. Takes
 * ownership of @closure (freed with epy_gen_free()) on success and on
 * failure. All or nothing: returns 0 or the first error (EPY_EEXIST if a
 * method already has a handler, EPY_ENOMEM, EPY_EPARAM).
 */
EPY_API int epy_gen_serve(epy_peer *peer, const char *ns,
                          const epy_gen_handler *h, size_t n, void *closure);

/**
 * epy_gen_unserve - undo epy_gen_serve() of @ns on @peer and free its
 * closure. Returns 0 or EPY_ENOTFOUND.
 */
EPY_API int epy_gen_unserve(epy_peer *peer, const char *ns);

/**
 * epy_gen_serve_server, epy_gen_unserve_server - as epy_gen_serve() and
 * epy_gen_unserve(), on @server's shared handler table: for every
 * client, present and future (epy_server_handle()).
 */
EPY_API int epy_gen_serve_server(epy_server *server, const char *ns,
                                 const epy_gen_handler *h, size_t n,
                                 void *closure);
EPY_API int epy_gen_unserve_server(epy_server *server, const char *ns);

/**
 * epy_gen_post - the event @method with @args (of @args_st) to the
 * other end of @peer, queued without waiting (epy_peer_post_event()).
 * epy_gen_broadcast - the same to every client of @server
 * (epy_server_broadcast()): returns the number of clients it was queued
 * for.
 */
EPY_API int epy_gen_post(epy_peer *peer, const char *method,
                         const epy_gen_struct *args_st, const void *args,
                         epy_error *ret_err);
EPY_API int epy_gen_broadcast(epy_server *server, const char *method,
                              const epy_gen_struct *args_st, const void *args,
                              epy_error *ret_err);

/**
 * epy_gen_apply - set @api's defaults from the IDL: @timeout_ms (or
 * EPY_INHERIT), @solicited and @mode (or -1 to inherit).
 */
EPY_API int epy_gen_apply(epy_api *api, int64_t timeout_ms, int solicited,
                          int mode);

/**
 * epy_gen_opts - merge a method's IDL settings under the caller's
 * options: copies @opts (or EPY_CALL_OPTS_INIT) to @out and fills what
 * the caller left inherited with @timeout_ms and @solicited.
 * Returns @out.
 */
EPY_API const epy_call_opts *epy_gen_opts(const epy_call_opts *opts,
                                          int64_t timeout_ms, int solicited,
                                          epy_call_opts *out);

#ifdef __cplusplus
}
#endif

#endif /* EPYRPC_GEN_H */
