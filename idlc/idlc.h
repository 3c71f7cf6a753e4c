/*
 * idlc: the epyrpc IDL compiler as a library. The idlc program is a thin
 * command line around idlc_compile(); tests call it directly.
 */
#ifndef EPYRPC_IDLC_H
#define EPYRPC_IDLC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * struct idlc_options - one compilation.
 * @input:        the .idl file to compile.
 * @out_dir:      where the outputs go (NULL: the current folder).
 * @include_dirs, @n_include_dirs: folders searched for imports, in order,
 *                after the importing file's own folder.
 * @protoc_c:     the protoc-c program to run; NULL skips it (then no
 *                .pb-c.[ch] is written: for tests of idlc alone).
 * @deps:         write a make rule naming the outputs and every file read
 *                to @out instead of compiling (the -M option).
 * @diag:         where diagnostics go (stderr when NULL).
 * @out:          where -M output goes (stdout when NULL).
 * @max_errors:   stop after this many errors (0: 20).
 */
typedef struct idlc_options {
    const char *input;
    const char *out_dir;
    const char *const *include_dirs;
    size_t n_include_dirs;
    const char *protoc_c;
    bool deps;
    FILE *diag;
    FILE *out;
    int max_errors;
} idlc_options;

/*
 * idlc_compile - compile @opts->input. Writes every output or none: files
 * are written under temporary names and renamed at the end.
 * Returns 0 on success, 1 if any error was reported.
 * Thread safety: any thread; compilations share no state.
 */
int idlc_compile(const idlc_options *opts);

/*
 * struct idlc_compat_options - a comparison of two versions of a file.
 * @old_input, @new_input: the .idl files (each with its imports).
 * @include_dirs, @n_include_dirs: as in idlc_options, for both files.
 * @verbose:    report the safe changes too, not only the breaking ones
 *              (and the warnings, always reported).
 * @diag:       where the report goes (stderr when NULL).
 * @max_errors: stop reading a file after this many errors (0: 20).
 */
typedef struct idlc_compat_options {
    const char *old_input;
    const char *new_input;
    const char *const *include_dirs;
    size_t n_include_dirs;
    bool verbose;
    FILE *diag;
    int max_errors;
} idlc_compat_options;

/*
 * idlc_check_compat - whether peers built from @opts->old_input and
 * @opts->new_input still work together (idlc --check-compat; the rules
 * are in doc/idl.md, "Wire compatibility"). Reports each breaking change
 * as an error at its declaration (in the new file, or in the old one for
 * removals) with notes on why, then a summary line. Writes no file.
 * Returns 0 if the new version is compatible, 1 if a change breaks,
 * 2 if either file has errors (reported as a compilation would).
 * Thread safety: as idlc_compile().
 */
int idlc_check_compat(const idlc_compat_options *opts);

/*
 * idlc_describe - the description of the interfaces @opts->input
 * defines (what the generated ns_interface_text holds, concatenated for
 * all its root namespaces) into *@ret_text, and its hash, as the
 * generated fingerprint is made, into *@ret_fingerprint; both malloc()ed.
 * Returns 0, or 1 if the file has errors (reported) or memory ran out.
 */
int idlc_describe(const idlc_options *opts, char **ret_text,
                  char **ret_fingerprint);

#endif /* EPYRPC_IDLC_H */
