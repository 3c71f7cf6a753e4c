/*
 * Runs a fuzz target over files, without libFuzzer: every file named on
 * the command line, or every file of the folders named. `make check`
 * runs the targets over their seed corpora this way, so that each input
 * that once crashed stays a regression test.
 */
#include <config.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Each target frees what it keeps between inputs. */
void fuzz_cleanup(void);

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0) {
        fprintf(stderr, "%s: cannot read\n", path);
        return 1;
    }
    rewind(f);
    buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        fprintf(stderr, "%s: cannot read\n", path);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t) n);
    free(buf);
    return 0;
}

int
main(int argc, char **argv)
{
    int failed = 0, ran = 0;
#ifdef EPY_FUZZ_CORPUS
    static char *corpus[] = { NULL, (char *) EPY_FUZZ_CORPUS, NULL };

    if (argc < 2) {
        argc = 2;
        argv = corpus;
    }
#endif

    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            struct dirent **names;
            int n = scandir(argv[i], &names, NULL, alphasort);

            for (int j = 0; j < n; j++) {
                char path[4096];

                if (names[j]->d_name[0] != '.') {
                    snprintf(path, sizeof path, "%s/%s", argv[i],
                             names[j]->d_name);
                    failed += run_file(path);
                    ran++;
                }
                free(names[j]);
            }
            free(names);
        } else {
            failed += run_file(argv[i]);
            ran++;
        }
    }
    fuzz_cleanup();
    printf("%d inputs, %d unreadable\n", ran, failed);
    return failed != 0 || ran == 0;
}
