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

#endif /* EPYRPC_IDLC_H */
