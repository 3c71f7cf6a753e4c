/*
 * idlc: the descriptors in file.epy.c. For each root namespace of the
 * file, an epy_interface (<epyrpc/peer.h>) with its canonical
 * description (idlc_describe_ns(), one declaration a line, see
 * runtime/wire/schema.h) and the fingerprint that hashes it, and its
 * epy_gen_details (<epyrpc/gen.h>), described to the runtime while the
 * program is loaded (a constructor, with GCC and Clang), with
 *   - the descriptions of the namespaces of the files it imports, so that
 *     a tool that introspects a peer can encode arguments of their types;
 *   - the sources: the .idl file and its imports, then the .proto files
 *     idlc makes of them, imports first.
 * Introspection (the built-in epyrpc.introspect service) reports them.
 */
#include <config.h>

#include <inttypes.h>
#include <string.h>

#include "emit-c-int.h"

/* --- descriptions -------------------------------------------------------- */

static void
describe_fields(const idlc_field *f, idlc_buf *out)
{
    for (; f != NULL; f = f->next) {
        idlc_buf_printf(out, " %s:", f->name);
        idlc_describe_type(f->type, out);
        idlc_buf_printf(out, "=%u", (unsigned) f->number);
    }
}

void
idlc_describe_ns(idlc_ctx *ctx, const idlc_decl *ns, idlc_buf *out)
{
    idlc_buf_printf(out, "namespace %s\n", ns->qname);
    for (size_t i = 0; i < ns->n_items; i++) {
        const idlc_decl *d = ns->items[i];

        switch (d->kind) {
        case DK_NAMESPACE:
            idlc_describe_ns(ctx, d, out);
            break;
        case DK_ENUM:
            idlc_buf_printf(out, "enum %s", d->qname);
            for (const idlc_enumval *v = d->values; v != NULL; v = v->next)
                idlc_buf_printf(out, " %s=%" PRId64, v->name, v->value);
            idlc_buf_puts(out, "\n");
            break;
        case DK_STRUCT:
        case DK_ERROR:
            idlc_buf_printf(out, "%s %s", d->kind == DK_STRUCT ? "struct"
                            : "error", d->qname);
            describe_fields(d->fields, out);
            idlc_buf_puts(out, "\n");
            break;
        case DK_METHOD:
        case DK_EVENT:
            idlc_buf_printf(out, "%s %s(", d->kind == DK_METHOD ? "method"
                            : "event", d->qname);
            describe_fields(d->fields, out);
            idlc_buf_puts(out, " )");
            if (d->kind == DK_METHOD) {
                idlc_buf_puts(out, " -> ");
                idlc_describe_type(d->result, out);
            }
            for (const idlc_raise *r = d->raises; r != NULL; r = r->next)
                idlc_buf_printf(out, " raises %s", r->decl != NULL
                                ? r->decl->qname : r->name);
            idlc_buf_puts(out, "\n");
            break;
        }
    }
}

/* --- text as C strings ----------------------------------------------------- */

/*
 * Writes @len bytes of @text as the pieces of a NULL-terminated array of
 * strings: a piece a line, lines longer than 2000 bytes cut (C compilers
 * need not accept longer strings). Quotes, backslashes, question marks
 * (trigraphs), control characters and bytes above 126 are escaped.
 */
static void
string_pieces(cgen *g, const char *text, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t n = 0;

        S("    \"");
        while (i < len && n < 2000) {
            unsigned char c = (unsigned char) text[i++];

            n++;
            if (c == '\n') {
                S("\\n");
                break;
            }
            if (c == '"' || c == '\\' || c == '?')
                P("\\%c", c);
            else if (c < 32 || c > 126)
                P("\\%03o", c);
            else
                P("%c", c);
        }
        S("\",\n");
    }
    S("    NULL\n};\n\n");
}

/* --- the descriptors ---------------------------------------------------------- */

/* The name a source goes by: the main file's base name, an import's path. */
static const char *
source_name(idlc_ctx *ctx, const idlc_source *src, const char *ext)
{
    const char *ref = src->index == 0 ? idlc_file_stem(ctx, src)
                                      : idlc_file_ref(ctx, src);

    return idlc_printf(&ctx->arena, "%s%s", ref, ext);
}

/*
 * The arrays all the file's interfaces share: epy__types (descriptions
 * of the imported files' namespaces), epy__src_N (each source's text) and
 * epy__sources. Returns the number of sources.
 */
static size_t
shared_arrays(cgen *g)
{
    idlc_ctx *ctx = g->ctx;
    idlc_source **all = idlc_alloc(&ctx->arena,
                                   (ctx->n_sources + 1) * sizeof *all);
    idlc_buf text = { NULL, 0, 0 };
    size_t n_all = 0, k = 0;

    idlc_collect_imports(ctx->sources[0], all, &n_all, ctx->n_sources);
    for (size_t i = 0; i < ctx->root.n_items; i++) {
        const idlc_decl *d = ctx->root.items[i];

        if (d->kind == DK_NAMESPACE && !cg_mine(g, d))
            idlc_describe_ns(ctx, d, &text);
    }
    S("static const char *const epy__types[] = {\n");
    string_pieces(g, text.data != NULL ? text.data : "", text.len);
    idlc_buf_free(&text);

    /* The .idl files, this one first; then the .proto files, imports
     * first. */
    for (size_t i = n_all; i-- > 0;) {
        const idlc_source *src = all[i];

        P("static const char *const epy__src_%zu[] = {\n", k++);
        string_pieces(g, src->text, src->len);
    }
    for (size_t i = 0; i < n_all; i++) {
        idlc_buf p = { NULL, 0, 0 };

        idlc_emit_proto(ctx, all[i], &p);
        P("static const char *const epy__src_%zu[] = {\n", k++);
        string_pieces(g, p.data != NULL ? p.data : "", p.len);
        idlc_buf_free(&p);
    }
    S("static const epy_gen_source epy__sources[] = {\n");
    k = 0;
    for (size_t i = n_all; i-- > 0;)
        P("    { \"%s\", epy__src_%zu },\n", source_name(ctx, all[i], ".idl"),
          k++);
    for (size_t i = 0; i < n_all; i++)
        P("    { \"%s\", epy__src_%zu },\n",
          source_name(ctx, all[i], ".proto"), k++);
    S("};\n\n");
    return k;
}

static void
src_interface(cgen *g, const idlc_decl *d, size_t n_sources)
{
    idlc_buf text = { NULL, 0, 0 };
    uint64_t h1, h2;

    idlc_describe_ns(g->ctx, d, &text);
    h1 = idlc_fnv1a(text.data, text.len, UINT64_C(0xcbf29ce484222325));
    h2 = idlc_fnv1a(text.data, text.len, UINT64_C(0x84222325cbf29ce4));
    P("const char *const %s_interface_text[] = {\n", d->cname);
    string_pieces(g, text.data, text.len);
    P("const epy_interface %s_interface = {\n"
      "    \"%s\", \"%016" PRIx64 "%016" PRIx64 "\", %s_interface_text\n"
      "};\n\n", d->cname, d->qname, h1, h2, d->cname);
    P("static const epy_gen_details epy__details_%s = {\n"
      "    \"%s\", \"%016" PRIx64 "%016" PRIx64 "\",\n"
      "    epy__types, epy__sources, %zu\n"
      "};\n\n", d->cname, d->qname, h1, h2, n_sources);
    idlc_buf_free(&text);
}

void
cg_emit_descriptors(cgen *g)
{
    const idlc_decl *root = &g->ctx->root;
    size_t n_sources = 0;
    bool any = false;

    for (size_t i = 0; i < root->n_items; i++)
        any = any || (root->items[i]->kind == DK_NAMESPACE
                      && cg_mine(g, root->items[i]));
    if (!any)
        return;
    n_sources = shared_arrays(g);
    for (size_t i = 0; i < root->n_items; i++)
        if (root->items[i]->kind == DK_NAMESPACE && cg_mine(g, root->items[i]))
            src_interface(g, root->items[i], n_sources);
    /* Known to the runtime while the program or library is loaded. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            S("#if defined(__GNUC__)\n"
              "__attribute__((constructor)) static void\n"
              "epy__describe_(void)\n{\n");
        else
            S("__attribute__((destructor)) static void\n"
              "epy__undescribe_(void)\n{\n");
        for (size_t i = 0; i < root->n_items; i++)
            if (root->items[i]->kind == DK_NAMESPACE
                && cg_mine(g, root->items[i]))
                P("    epy_gen_%sdescribe(&epy__details_%s);\n",
                  pass == 0 ? "" : "un", root->items[i]->cname);
        S("}\n\n");
    }
    S("#endif\n");
}
