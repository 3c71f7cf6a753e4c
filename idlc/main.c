/*
 * idlc: the command line.
 *
 *     idlc [-o DIR] [-I DIR]... [-M] [--protoc-c=PATH] file.idl
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idlc.h"

static void
usage(FILE *f)
{
    fputs("usage: idlc [OPTION]... FILE.idl\n"
          "Compile an epyrpc interface description into FILE.proto,\n"
          "FILE.pb-c.[ch] (by protoc-c) and FILE.epy.[ch] (typed C stubs).\n"
          "\n"
          "  -o DIR            write the outputs to DIR, made if missing\n"
          "                    (default: .)\n"
          "  -I DIR            search DIR for imported files (repeatable)\n"
          "  -M                print a make rule of the outputs' dependencies\n"
          "                    instead of compiling\n"
          "      --protoc-c=PATH  the protoc-c program (default: $PROTOC_C,\n"
          "                    else " EPY_PROTOC_C ")\n"
          "      --no-protoc-c do not run protoc-c (no .pb-c.[ch] outputs)\n"
          "      --max-errors=N  stop after N errors (default 20)\n"
          "  -h, --help        show this help and exit\n"
          "      --version     show the version and exit\n"
          "\n"
          "Exit status: 0 on success, 1 on errors in the input, 2 on bad usage.\n",
          f);
}

int
main(int argc, char **argv)
{
    idlc_options opts;
    const char **incs = calloc((size_t) argc + 1, sizeof *incs);
    size_t n_incs = 0;
    const char *env = getenv("PROTOC_C");
    bool no_protoc = false;

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
        } else if (strncmp(a, "--max-errors=", 13) == 0) {
            opts.max_errors = atoi(a + 13);
        } else if (strcmp(a, "--") == 0 && i + 1 < argc && opts.input == NULL) {
            opts.input = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "idlc: unknown option '%s'\n", a);
            usage(stderr);
            free(incs);
            return 2;
        } else if (opts.input == NULL) {
            opts.input = a;
        } else {
            fprintf(stderr, "idlc: only one input file, please ('%s')\n", a);
            free(incs);
            return 2;
        }
    }
    if (opts.input == NULL) {
        usage(stderr);
        free(incs);
        return 2;
    }
    if (no_protoc)
        opts.protoc_c = NULL;
    opts.include_dirs = incs;
    opts.n_include_dirs = n_incs;
    {
        int rc = idlc_compile(&opts);

        free(incs);
        return rc;
    }
}
