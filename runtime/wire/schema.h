/*
 * Interface descriptions as data, and what changed between two versions.
 *
 * idlc describes each root namespace of an .idl file by a canonical text
 * (idlc_describe_ns()), one declaration a line:
 *
 *     namespace calc
 *     enum calc.rounding NEAREST=0 DOWN=1 UP=2
 *     struct calc.point x:double=1 y:double=2
 *     error calc.oops detail:string=1 numerator:int64=2
 *     method calc.div( a:double=1 b:double=2 ) -> double raises calc.oops
 *     event calc.tick( n:uint64=1 )
 *
 * The generated code embeds it, and peers exchange it in the hello. This
 * module parses such texts (from a remote peer: hostile input) and
 * compares two versions along the compatibility model of doc/idl.md,
 * "Wire compatibility". It uses the C library only, so that both the
 * runtime and idlc (idlc --check-compat) can build it.
 *
 * Thread safety: a parsed schema is read-only; any number of threads may
 * compare it at once.
 */
#ifndef EPYRPC_RUNTIME_SCHEMA_H
#define EPYRPC_RUNTIME_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

/* Bounds on what epy__schema_parse() accepts. */
#define EPY__SCHEMA_MAX_TEXT ((size_t) 1 << 20)  /* bytes */
#define EPY__SCHEMA_MAX_DECLS 65536              /* lines */
#define EPY__SCHEMA_MAX_DEPTH 64                 /* nested list<>, ... */
#define EPY__SCHEMA_MAX_NAME 512                 /* bytes of a name */

typedef struct epy__schema epy__schema;

/*
 * epy__schema_parse - parse one or more interface description texts
 * (concatenated: @text may hold several root namespaces) of @len bytes;
 * @text need not be NUL-terminated and may hold any bytes.
 * The last line may lack its newline; empty lines are skipped.
 * Returns 0 and the schema in *@ret (free with epy__schema_free()), -1
 * if the text is malformed or over the bounds above (with a short
 * message naming the line in @why, @whylen bytes, when @why is not
 * NULL), or -2 when out of memory. Takes time linear in @len (times a
 * logarithm for sorting the members of each line).
 */
int epy__schema_parse(const char *text, size_t len, epy__schema **ret,
                      char *why, size_t whylen);
void epy__schema_free(epy__schema *s);

typedef enum {
    EPY__COMPAT_SAFE,
    EPY__COMPAT_BREAKING
} epy__compat_severity;

/*
 * struct epy__compat_finding - one difference. Its strings live until the
 * callback returns.
 * @in_old:  @decl and @member name the old version's declaration (a
 *           removal), else the new one's.
 * @decl:    full dotted name of the declaration: "calc.div", "calc.point".
 * @member:  the parameter, field or enum value, or NULL.
 * @message: what changed, a sentence without a final period.
 * @note:    why it breaks older peers, or for a safe change what to watch
 *           for; NULL when there is nothing to say.
 */
typedef struct epy__compat_finding {
    epy__compat_severity severity;
    bool in_old;
    const char *decl;
    const char *member;
    const char *message;
    const char *note;
} epy__compat_finding;

typedef void (*epy__compat_fn)(const epy__compat_finding *f, void *ctx);

/*
 * epy__schema_compare - compare @old_s to @new_s and call @fn (unless
 * NULL) with @ctx for each finding, safe ones too: those of the new
 * version's declarations in their order, then the removals in the old
 * version's order.
 *
 * Directional (@symmetric false; idlc --check-compat): removals are
 * breaking, and messages speak of "old" and "new". Symmetric (the hello,
 * where neither end knows which is older): what only one side has is
 * neither breaking nor reported; only what both have is checked, and
 * messages speak of "one version" and "the other".
 *
 * Types used by fields and parameters compare by structure (fields by
 * number, enum values by number): two differently named types of equal
 * structure are equal, recursive ones included.
 *
 * Returns the number of breaking findings, or -2 when out of memory.
 */
int epy__schema_compare(const epy__schema *old_s, const epy__schema *new_s,
                        bool symmetric, epy__compat_fn fn, void *ctx);

#endif /* EPYRPC_RUNTIME_SCHEMA_H */
