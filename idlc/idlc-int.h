/*
 * idlc internals: the compilation context, the syntax tree, the checked
 * model, and the interfaces between the compiler's parts.
 */
#ifndef EPYRPC_IDLC_INT_H
#define EPYRPC_IDLC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "idlc.h"

/* Limits of the language (doc/idl.md, "Limits"). */
#define IDLC_MAX_IDENT 128
#define IDLC_MAX_DEPTH 64
#define IDLC_MAX_FIELD 536870911
#define IDLC_MAX_TIMEOUT_MS INT64_C(86400000)

/* --- memory ------------------------------------------------------------ */

/* An arena: everything of one compilation is freed at once. */
typedef struct idlc_arena idlc_arena;

void *idlc_alloc(idlc_arena **a, size_t size);   /* zeroed; aborts on OOM */
char *idlc_strdup(idlc_arena **a, const char *s);
char *idlc_strndup(idlc_arena **a, const char *s, size_t n);
char *idlc_printf(idlc_arena **a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void idlc_arena_free(idlc_arena *a);

/* A growable string, malloc'd. */
typedef struct idlc_buf {
    char *data;
    size_t len;
    size_t cap;
} idlc_buf;

void idlc_buf_add(idlc_buf *b, const char *s, size_t n);
void idlc_buf_puts(idlc_buf *b, const char *s);
void idlc_buf_printf(idlc_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void idlc_buf_free(idlc_buf *b);

/* A simple string-keyed table (open addressing), arena-allocated. */
typedef struct idlc_map {
    size_t cap;
    size_t n;
    const char **keys;
    void **vals;
} idlc_map;

void *idlc_map_get(const idlc_map *m, const char *key);
/* Inserts @key unless present; returns the existing value or NULL. */
void *idlc_map_put(idlc_arena **a, idlc_map *m, const char *key, void *val);

size_t idlc_edit_distance(const char *a, const char *b);

/* --- sources and locations ------------------------------------------- */

typedef struct idlc_source {
    char *path;           /* as opened */
    char *import_name;    /* the string of the import that named it */
    char *text;           /* contents, NUL-terminated (BOM removed) */
    size_t len;
    int index;            /* 0: the main file */
    bool parsed;
    bool in_progress;     /* on the import stack (cycle detection) */
    struct idlc_block *blocks;   /* top-level namespace blocks */
    struct idlc_import *imports;
    const struct idlc_source *importer;   /* the first file importing it */
    int import_line;      /* and the line of its import there */
    bool import_noted;    /* "imported from" said (once per file) */
} idlc_source;

typedef struct idlc_loc {
    const idlc_source *src;
    int line;             /* 1-based */
    int col;              /* 1-based, in characters */
} idlc_loc;

/* --- the syntax tree --------------------------------------------------- */

typedef enum idlc_tkind {
    TK_BOOL, TK_INT8, TK_INT16, TK_INT32, TK_INT64,
    TK_UINT8, TK_UINT16, TK_UINT32, TK_UINT64,
    TK_FLOAT, TK_DOUBLE, TK_STRING, TK_BYTES,
    TK_VOID, TK_NAMED, TK_LIST, TK_OPTIONAL, TK_MAP,
    TK_ENUM, TK_STRUCT,      /* resolved forms of TK_NAMED */
    TK_FD                    /* a file descriptor: a scalar, C int */
} idlc_tkind;

typedef struct idlc_type {
    idlc_tkind kind;
    idlc_loc loc;
    char *name;                  /* TK_NAMED: as written (dotted) */
    struct idlc_type *elem;      /* list, optional: element; map: value */
    struct idlc_type *key;       /* map: key */
    struct idlc_decl *decl;      /* after resolution: enum or struct */
} idlc_type;

typedef struct idlc_field {
    char *name;
    idlc_loc loc;
    idlc_type *type;
    char *doc;
    uint32_t number;             /* wire number (assigned by sema) */
    bool pinned;
    uint64_t pin;                /* as written */
    bool pin_overflow;
    idlc_loc pin_loc;
    struct idlc_field *next;
} idlc_field;

typedef struct idlc_enumval {
    char *name;
    idlc_loc loc;
    char *doc;
    int64_t value;
    bool overflow;
    struct idlc_enumval *next;
} idlc_enumval;

/* A number as lexed: digits and an optional unit suffix. */
typedef struct idlc_num {
    uint64_t value;
    bool overflow;
    char *suffix;                /* "" when none */
} idlc_num;

/* One entry of `defaults { }` or of a method's `[ ]`. */
typedef struct idlc_opt {
    char *name;                  /* timeout, sync, async, ... */
    idlc_loc loc;
    bool has_value;
    bool value_is_word;
    char *word;                  /* forever */
    idlc_num num;
    idlc_loc value_loc;
    struct idlc_opt *next;
} idlc_opt;

/* The effective call settings: -1 means "not set here". */
typedef struct idlc_settings {
    int64_t timeout_ms;          /* -1 unset, 0 forever */
    int async;                   /* -1, 0 sync, 1 async */
    int solicited;               /* -1, 0, 1 */
} idlc_settings;

typedef struct idlc_raise {
    char *name;
    idlc_loc loc;
    struct idlc_decl *decl;
    struct idlc_raise *next;
} idlc_raise;

typedef enum idlc_dkind {
    DK_NAMESPACE, DK_ENUM, DK_STRUCT, DK_ERROR, DK_METHOD, DK_EVENT
} idlc_dkind;

/* A `namespace a.b { ... }` block as written. */
typedef struct idlc_block {
    char *name;                  /* dotted */
    idlc_loc loc;
    idlc_loc name_loc;
    char *doc;
    struct idlc_member *members;
    struct idlc_block *next;
} idlc_block;

typedef enum idlc_mkind {
    MK_BLOCK, MK_DEFAULTS, MK_DECL, MK_IMPORT
} idlc_mkind;

typedef struct idlc_member {
    idlc_mkind kind;
    idlc_loc loc;
    idlc_block *block;           /* MK_BLOCK */
    idlc_opt *opts;              /* MK_DEFAULTS */
    struct idlc_decl *decl;      /* MK_DECL */
    struct idlc_member *next;
} idlc_member;

typedef struct idlc_import {
    char *name;
    idlc_loc loc;
    idlc_source *src;
    struct idlc_import *next;
} idlc_import;

/*
 * A declaration: a namespace of the merged tree, or a type or method in
 * one. Names are unique in their namespace.
 */
typedef struct idlc_decl {
    idlc_dkind kind;
    char *name;
    idlc_loc loc;
    char *doc;
    struct idlc_decl *parent;    /* enclosing namespace; NULL for roots */
    char *qname;                 /* dotted full name */
    char *cname;                 /* C prefix or name: calc_stats */
    const idlc_source *src;      /* the file declaring it */

    /* namespaces */
    idlc_map members;            /* name -> decl */
    struct idlc_decl **items;    /* members in declaration order */
    size_t n_items, cap_items;
    idlc_opt *defaults;
    idlc_loc defaults_loc;
    bool has_defaults;
    idlc_settings settings;      /* own settings */
    idlc_settings eff;           /* effective (inherited) */
    const idlc_source *methods_src;   /* the file that holds its methods */
    bool used_here;              /* declared or extended by the main file */

    /* enums */
    idlc_enumval *values;

    /* structs, errors; method parameters */
    idlc_field *fields;

    /* methods, events */
    idlc_type *result;           /* TK_VOID for none */
    idlc_raise *raises;
    idlc_opt *opts;
    idlc_loc raises_loc;
    bool has_raises;

    /* checks and generation */
    const char *clash;           /* the C name clash reported for it */
    int mark;                    /* recursion check state */
    bool emitted;
} idlc_decl;

/* --- the compilation -------------------------------------------------- */

/* A token as read, for syntax errors: its text (cut) and where it ends. */
typedef struct idlc_tok_info {
    char text[48];
    int line;
    int col;                     /* the column just after it */
} idlc_tok_info;

typedef struct idlc_ctx {
    const idlc_options *opts;
    idlc_arena *arena;
    FILE *diag;
    int errors;
    int warnings;
    int max_errors;
    bool fatal;                  /* stop everything (limits, too many errors) */

    idlc_source **sources;       /* sources[0] is the main file */
    size_t n_sources, cap_sources;

    /* files being imported, outermost first (cycle detection) */
    idlc_source *stack[IDLC_MAX_DEPTH + 1];
    int stack_len;

    /* parsing state of the file being read */
    idlc_source *cur;
    int ns_depth;
    int angle_depth;
    int brace_depth;
    idlc_buf doc;                /* `///` lines waiting for a declaration */
    /*
     * `///` after code on its line (a trailing doc) documents the
     * declaration ending, or opened by a `{`, at the token before it.
     * Tokens are numbered from 1 in each file. The parser registers each
     * declaration by its last and `{` tokens (idlc_doc_target()) as it
     * reduces it, which may be before or after the lexer has read the
     * trailing doc: the lexer gives it to the last declaration made if
     * that ends at the token before, else keeps it in @trailing.
     */
    int tok_seq;                 /* number of the last token returned */
    int tok_line;                /* line of the last token returned */
    idlc_map trailing;           /* token number -> idlc_trailing */
    struct idlc_trailing *trailing_list;   /* in order, for warnings */
    int target_tok;              /* last token of the last declaration */
    char **target_doc;           /* and where its doc goes */
    idlc_tok_info last_tok[2];   /* the token before the last, the last */
    bool looks_idl;              /* the file starts with a keyword */
    bool stop_file;              /* stop reading it (clearly not IDL) */
    bool parsing;
    idlc_block *parsed_blocks;   /* result of one parse */
    idlc_import *parsed_imports;

    /* the merged model */
    idlc_decl root;              /* pseudo-namespace holding the roots */
    idlc_map cnames;             /* C name -> owning decl (collisions) */
    bool proto_checked;          /* the .proto's names checked */
} idlc_ctx;

/* diag.c */
void idlc_error(idlc_ctx *ctx, idlc_loc loc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void idlc_warning(idlc_ctx *ctx, idlc_loc loc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void idlc_note(idlc_ctx *ctx, idlc_loc loc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* An error with no location (files, protoc-c). */
void idlc_error_plain(idlc_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Copies a failing tool's output to the diagnostics stream. */
void idlc_diag_text(idlc_ctx *ctx, const char *text);

/* lexer.l / parser.y: parse ctx->cur into ctx->parsed_*. */
void idlc_parse_source(idlc_ctx *ctx);

/* A trailing `///` waiting for its declaration (see idlc_ctx). */
typedef struct idlc_trailing {
    int tok;                     /* the token it follows */
    char *text;
    idlc_loc loc;
    bool used;
    struct idlc_trailing *next;
} idlc_trailing;

/*
 * The declaration whose doc is *@doc ends at token @last and, if @open is
 * not 0, has its body opened by token @open: trailing docs after either
 * are added to *@doc.
 */
void idlc_doc_target(idlc_ctx *ctx, int last, int open, char **doc);

/* sema.c */
void idlc_sema(idlc_ctx *ctx);
/*
 * Reads @path with its imports into @ctx (made here) and checks it, as a
 * compilation does, reporting errors. True if it has none. Release with
 * idlc_unload() in every case.
 */
bool idlc_load(idlc_ctx *ctx, const idlc_options *opts, const char *path);
void idlc_unload(idlc_ctx *ctx);
const char *idlc_tkind_name(idlc_tkind k);
bool idlc_is_scalar(idlc_tkind k);
bool idlc_is_generic(idlc_tkind k);
bool idlc_is_c_keyword(const char *s);

/* Outputs: each generator returns the file's text in @out. */
void idlc_emit_proto(idlc_ctx *ctx, const idlc_source *src, idlc_buf *out);
void idlc_emit_header(idlc_ctx *ctx, idlc_buf *out);
void idlc_emit_source(idlc_ctx *ctx, idlc_buf *out);

/* Names shared by the generators. */
const char *idlc_file_stem(idlc_ctx *ctx, const idlc_source *src);
/* Lists in @out (@n so far, at most @max) every source reachable from
 * @src, imports first, @src last. */
void idlc_collect_imports(idlc_source *src, idlc_source **out, size_t *n,
                          size_t max);
const char *idlc_file_ref(idlc_ctx *ctx, const idlc_source *src);
const char *idlc_file_ident(idlc_ctx *ctx, const idlc_source *src);
const char *idlc_proto_package(idlc_ctx *ctx, const idlc_source *src);
const char *idlc_proto_lower(idlc_ctx *ctx, const char *name);
const char *idlc_type_mangle(idlc_ctx *ctx, const idlc_type *t);
bool idlc_type_has_user(const idlc_type *t);
uint64_t idlc_fnv1a(const char *s, size_t n, uint64_t h);
void idlc_describe_ns(idlc_ctx *ctx, const idlc_decl *ns, idlc_buf *out);
void idlc_describe_type(const idlc_type *t, idlc_buf *out);

#endif /* EPYRPC_IDLC_INT_H */
