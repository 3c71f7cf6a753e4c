/*
 * idlc: what the C generators share: emit-c.c (the layout of the output,
 * C spellings of types, generics, walking the declarations),
 * emit-c-header.c (file.epy.h) and emit-c-source.c (file.epy.c).
 */
#ifndef IDLC_EMIT_C_INT_H
#define IDLC_EMIT_C_INT_H

#include "idlc-int.h"

typedef struct cgen {
    idlc_ctx *ctx;
    const idlc_source *src;
    idlc_buf *out;
    /* generics used by this file, elements first */
    const idlc_type **gens;
    size_t n_gens, cap_gens;
    idlc_map gen_seen;
    idlc_map def_done;           /* definitions written (header) */
} cgen;

#define WIDTH 79
#define P(...) idlc_buf_printf(g->out, __VA_ARGS__)
#define S(s) idlc_buf_puts(g->out, (s))

typedef enum dkind { DN_STRUCT, DN_GENERIC, DN_ENTRY } dkind;

typedef struct dnode {
    dkind kind;
    const idlc_decl *decl;       /* DN_STRUCT */
    const idlc_type *type;       /* DN_GENERIC, DN_ENTRY */
    const idlc_field *next;      /* DN_STRUCT: next field to look at */
    bool looked;                 /* DN_GENERIC, DN_ENTRY: dependency seen */
} dnode;

typedef void (*visit_fn)(cgen *g, const idlc_decl *d);

bool cg_by_value(const idlc_type *t);
void cg_claim_generics(cgen *g);
void cg_collect_ns(cgen *g, const idlc_decl *ns);
const char *cg_ctype(cgen *g, const idlc_type *t);
void cg_define(cgen *g, const dnode *root);
/* emit-c-types.c: the header's types; _clear prototypes; generic helpers. */
void cg_header_types(cgen *g);
void cg_clear_protos(cgen *g, const idlc_decl *d);
void cg_def_clear(cgen *g, const idlc_type *t);
void cg_def_copy(cgen *g, const idlc_type *t);
/* The statement that frees one value @x of type @t, or NULL. */
const char *cg_clear_stmt(cgen *g, const idlc_type *t, const char *x);
void cg_doc_block(cgen *g, const char *first, const char *doc,
                      const char *indent);
void cg_doc_block_ex(cgen *g, const char *first, const char *doc,
                         const char *extra, const char *indent);
void cg_doc_lines(cgen *g, const char *doc, const char *indent);
const char *cg_file_name(cgen *g);
const char *cg_gname(cgen *g, const idlc_decl *m, const char *base);
const char *cg_in_decl(cgen *g, const idlc_type *t, const char *name);
const char *cg_in_params(cgen *g, const idlc_decl *m);
void cg_init_gen(cgen *g, idlc_ctx *ctx, idlc_buf *out);
void cg_layout(cgen *g, const char *var, bool is_static,
                   const char *idlname, const char *pb, const char *cty,
                   const idlc_field *fields);
const char *cg_member_decl(cgen *g, const idlc_type *t, const char *name);
bool cg_mine(const cgen *g, const idlc_decl *d);
const char *cg_out_decl(cgen *g, const idlc_type *t, const char *name);
bool cg_owns_memory(const idlc_type *t);
const char *cg_pbdesc(cgen *g, const idlc_source *src, const char *msg);
const char *cg_result_param(cgen *g, const idlc_decl *m);
const char *cg_tref(cgen *g, const idlc_type *t);
const char *cg_upper(idlc_ctx *ctx, const char *s);
void cg_visit(cgen *g, const idlc_decl *ns, visit_fn fn);
/* The descriptors of the file's root namespaces (emit-c-describe.c). */
void cg_emit_descriptors(cgen *g);
void cg_wrap_lines(idlc_buf *text);

#endif /* IDLC_EMIT_C_INT_H */
