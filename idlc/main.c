/*
 * idlc: the command line.
 *
 *     idlc [-o DIR] [-I DIR]... [-M] [--protoc-c=PATH] file.idl
 *     idlc --check-compat [-v] [-I DIR]... old.idl new.idl
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idlc.h"

static void
usage(FILE *f)
{
    fputs("usage: idlc [OPTION]... FILE.idl\n"
          "   or: idlc --check-compat [-v] [-I DIR]... OLD.idl NEW.idl\n"
          "Compile an epyrpc interface description into FILE.proto,\n"
          "FILE.pb-c.[ch] (by protoc-c) and FILE.epy.[ch] (typed C stubs);\n"
          "or tell whether peers built from OLD.idl and NEW.idl still work\n"
          "together.\n"
          "\n"
          "  -o DIR            write the outputs to DIR, made if missing\n"
          "                    (default: .)\n"
          "  -I DIR            search DIR for imported files (repeatable)\n"
          "  -M                print a make rule of the outputs' dependencies\n"
          "                    instead of compiling\n"
          "      --protoc-c=PATH  the protoc-c program (default: $PROTOC_C,\n"
          "                    else " EPY_PROTOC_C ")\n"
          "      --no-protoc-c do not run protoc-c (no .pb-c.[ch] outputs)\n"
          "      --max-errors=N  stop after N errors (1 to 1000000; default 20)\n"
          "      --check-compat  compare OLD.idl to NEW.idl: report each\n"
          "                    breaking change as an error; write nothing\n"
          "  -v, --verbose     with --check-compat, the safe changes too\n"
          "  -h, --help        show this help and exit\n"
          "      --version     show the version and exit\n"
          "\n"
          "Exit status: 0 on success, 1 on errors in the input, 2 on bad usage.\n"
          "With --check-compat: 0 if compatible, 1 if a change breaks, 2 on\n"
          "bad usage or errors in either file.\n",
          f);
}

/* The most --max-errors takes. */
#define MAX_ERRORS_MAX 1000000

/* A whole decimal number from 1 to MAX_ERRORS_MAX. */
static bool
parse_count(const char *s, int *ret)
{
    char *end;
    long n;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || n < 1 || n > MAX_ERRORS_MAX)
        return false;
    *ret = (int) n;
    return true;
}

/* idlc --check-compat OLD.idl NEW.idl */
static int
check_compat(const idlc_options *opts, const char *const *files,
             size_t n_files, bool verbose)
{
    idlc_compat_options co;

    if (n_files != 2 || opts->deps) {
        fputs(n_files != 2 ? "idlc: --check-compat needs two files, "
              "OLD.idl and NEW.idl\n" : "idlc: -M does not go with "
              "--check-compat\n", stderr);
        return 2;
    }
    memset(&co, 0, sizeof co);
    co.old_input = files[0];
    co.new_input = files[1];
    co.include_dirs = opts->include_dirs;
    co.n_include_dirs = opts->n_include_dirs;
    co.verbose = verbose;
    co.max_errors = opts->max_errors;
    return idlc_check_compat(&co);
}

int
main(int argc, char **argv)
{
    idlc_options opts;
    /* The -I folders, then the files. */
    const char **incs = calloc(2 * (size_t) argc + 2, sizeof *incs);
    const char **files = incs + argc + 1;
    size_t n_incs = 0, n_files = 0;
    const char *env = getenv("PROTOC_C");
    bool no_protoc = false, compat = false, verbose = false;
    int rc;

    if (incs == NULL) {
        fputs("idlc: out of memory\n", stderr);
        return 1;
    }
    memset(&opts, 0, sizeof opts);
    opts.protoc_c = env != NULL && *env != '\0' ? env : EPY_PROTOC_C;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(incs);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("idlc (epyrpc) %s\n", PACKAGE_VERSION);
            free(incs);
            return 0;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "-I") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "idlc: %s needs a folder\n", a);
                free(incs);
                return 2;
            }
            if (a[1] == 'o')
                opts.out_dir = argv[++i];
            else
                incs[n_incs++] = argv[++i];
        } else if (strncmp(a, "-o", 2) == 0) {
            opts.out_dir = a + 2;
        } else if (strncmp(a, "-I", 2) == 0) {
            incs[n_incs++] = a + 2;
        } else if (strcmp(a, "-M") == 0) {
            opts.deps = true;
        } else if (strncmp(a, "--protoc-c=", 11) == 0) {
            opts.protoc_c = a + 11;
        } else if (strcmp(a, "--no-protoc-c") == 0) {
            no_protoc = true;
        } else if (strcmp(a, "--max-errors") == 0
                   || strncmp(a, "--max-errors=", 13) == 0) {
            const char *v = a[12] == '=' ? a + 13
                          : i + 1 < argc ? argv[++i] : NULL;

            if (!parse_count(v, &opts.max_errors)) {
                if (v == NULL)
                    fputs("idlc: --max-errors needs a number\n", stderr);
                else
                    fprintf(stderr, "idlc: --max-errors needs a number "
                            "from 1 to %d, not '%s'\n", MAX_ERRORS_MAX, v);
                free(incs);
                return 2;
            }
        } else if (strcmp(a, "--check-compat") == 0) {
            compat = true;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(a, "--") == 0 && i + 1 < argc) {
            files[n_files++] = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "idlc: unknown option '%s'\n", a);
            usage(stderr);
            free(incs);
            return 2;
        } else {
            files[n_files++] = a;
        }
    }
    opts.include_dirs = incs;
    opts.n_include_dirs = n_incs;
    if (compat) {
        rc = check_compat(&opts, files, n_files, verbose);
    } else if (n_files == 0) {
        usage(stderr);
        rc = 2;
    } else if (n_files > 1) {
        fprintf(stderr, "idlc: only one input file, please ('%s')\n",
                files[1]);
        rc = 2;
    } else {
        opts.input = files[0];
        if (no_protoc)
            opts.protoc_c = NULL;
        rc = idlc_compile(&opts);
    }
    free(incs);
    return rc;
}
