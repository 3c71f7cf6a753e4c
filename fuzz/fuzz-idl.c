/*
 * Fuzz target: idlc's front end and generators. Arbitrary text is
 * compiled as an .idl file (without running protoc-c); idlc must answer
 * with outputs or diagnostics, never crash or hang.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idlc.h"

static char dir[64];
static char path[96];
static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

/* Removes the work folder and what the last compilation left in it. */
void
fuzz_cleanup(void)
{
    static const char *const ext[] = { ".idl", ".proto", ".epy.h", ".epy.c" };
    char p[128];

    if (devnull == NULL)
        return;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        snprintf(p, sizeof p, "%s/in%s", dir, ext[i]);
        unlink(p);
    }
    rmdir(dir);
    fclose(devnull);
    devnull = NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    idlc_options opts;
    FILE *f;

    if (devnull == NULL) {
        snprintf(dir, sizeof dir, "/tmp/epy-fuzz-idl-XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
        snprintf(path, sizeof path, "%s/in.idl", dir);
        devnull = fopen("/dev/null", "w");
        if (devnull == NULL)
            abort();
    }
    f = fopen(path, "wb");
    if (f == NULL)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    memset(&opts, 0, sizeof opts);
    opts.input = path;
    opts.out_dir = dir;
    opts.diag = devnull;
    opts.protoc_c = NULL;
    if (idlc_compile(&opts) > 1)
        abort();
    return 0;
}
