/*
 * The idlc suite: golden outputs (tests/idlc/ok), diagnostics
 * (tests/idlc/bad), limits, and random mutations of the example files.
 *
 * Regenerate the golden outputs after an intended change of the
 * generators with `make idlc-golden` in the build folder.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "idlc.h"
#include "../testutil.h"

#ifndef IDLC_TEST_SRCDIR
#error "IDLC_TEST_SRCDIR must name tests/idlc in the source tree"
#endif

/* --- helpers ----------------------------------------------------------- */

static char *
slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL)
        return NULL;
    do {
        if (cap - len < 4096) {
            cap = cap != 0 ? cap * 2 : 8192;
            data = realloc(data, cap + 1);
            ck_assert_ptr_nonnull(data);
        }
        n = fread(data + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    data[len] = '\0';
    if (ret_len != NULL)
        *ret_len = len;
    return data;
}

static void
spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static char *
make_tmpdir(void)
{
    char tmpl[] = "/tmp/check_idlc-XXXXXX";
    char *d = mkdtemp(tmpl);

    ck_assert_ptr_nonnull(d);
    return strdup(d);
}

/* Number of entries in @dir (hidden ones included). */
static int
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void
remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[4096];

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Compiles @input; diagnostics are returned in *@ret_diag (malloc'd). */
static int
compile(const char *input, const char *out_dir, const char *protoc,
        char **ret_diag)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *diag = open_memstream(&buf, &len);
    idlc_options o;
    int rc;

    ck_assert_ptr_nonnull(diag);
    memset(&o, 0, sizeof o);
    o.input = input;
    o.out_dir = out_dir;
    o.protoc_c = protoc;
    o.diag = diag;
    rc = idlc_compile(&o);
    fclose(diag);
    if (ret_diag != NULL)
        *ret_diag = buf;
    else
        free(buf);
    return rc;
}

/* Lists the files of @dir ending in @ext, sorted; NULL-terminated. */
static char **
list_files(const char *dir, const char *ext)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = calloc(1024, sizeof *v);
    size_t n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL && n < 1023) {
        size_t l = strlen(e->d_name), el = strlen(ext);

        if (l > el && strcmp(e->d_name + l - el, ext) == 0)
            v[n++] = strdup(e->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            char *t = v[j];

            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v;
}

static void
free_list(char **v)
{
    for (size_t i = 0; v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* Writes @text to @dir/@name and compiles it into @dir. */
static int
compile_text(const char *dir, const char *name, const char *text,
             const char *protoc, char **ret_diag)
{
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    spit(path, text, strlen(text));
    return compile(path, dir, protoc, ret_diag);
}

/* The output @dir/@stem@ext, NUL-terminated (malloc'd). */
static char *
slurp_out(const char *dir, const char *stem, const char *ext)
{
    char path[4096];
    char *text;

    snprintf(path, sizeof path, "%s/%s%s", dir, stem, ext);
    text = slurp(path, NULL);
    ck_assert_msg(text != NULL, "%s not written", path);
    return text;
}

/* Removes @dir and everything under it. */
static void
remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL) {
        unlink(dir);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char path[4096];

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        remove_tree(path);
    }
    closedir(d);
    rmdir(dir);
}

/* --- golden outputs ----------------------------------------------------- */

static const char *const outputs[] = { ".proto", ".epy.h", ".epy.c" };

START_TEST(test_golden)
{
    char **files;
    char *tmp = make_tmpdir();
    int checked = 0;

    ck_assert_int_eq(chdir(IDLC_TEST_SRCDIR "/ok"), 0);
    files = list_files(".", ".idl");
    for (size_t i = 0; files[i] != NULL; i++) {
        char *diag;
        char stem[256];
        int rc = compile(files[i], tmp, NULL, &diag);

        ck_assert_msg(rc == 0, "%s: idlc failed:\n%s", files[i], diag);
        ck_assert_msg(diag[0] == '\0', "%s: unexpected output:\n%s",
                      files[i], diag);
        free(diag);
        snprintf(stem, sizeof stem, "%.*s", (int) strlen(files[i]) - 4,
                 files[i]);
        for (size_t k = 0; k < 3; k++) {
            char got_path[4096], want_path[4096];
            char *got, *want;
            size_t gl, wl;

            snprintf(got_path, sizeof got_path, "%s/%s%s", tmp, stem,
                     outputs[k]);
            snprintf(want_path, sizeof want_path, "expected/%s%s.golden",
                     stem, outputs[k]);
            got = slurp(got_path, &gl);
            want = slurp(want_path, &wl);
            ck_assert_msg(got != NULL, "%s not written", got_path);
            ck_assert_msg(want != NULL, "%s missing: run make idlc-golden",
                          want_path);
            ck_assert_msg(gl == wl && memcmp(got, want, gl) == 0,
                          "%s differs from %s (run make idlc-golden after "
                          "an intended change)", got_path, want_path);
            free(got);
            free(want);
            checked++;
        }
    }
    ck_assert_int_ge(checked, 15);
    free_list(files);
    remove_dir(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_deterministic)
{
    char *a = make_tmpdir(), *b = make_tmpdir();

    ck_assert_int_eq(chdir(IDLC_TEST_SRCDIR "/ok"), 0);
    ck_assert_int_eq(compile("everything.idl", a, NULL, NULL), 0);
    ck_assert_int_eq(compile("everything.idl", b, NULL, NULL), 0);
    for (size_t k = 0; k < 3; k++) {
        char pa[4096], pb[4096];
        char *x, *y;
        size_t lx, ly;

        snprintf(pa, sizeof pa, "%s/everything%s", a, outputs[k]);
        snprintf(pb, sizeof pb, "%s/everything%s", b, outputs[k]);
        x = slurp(pa, &lx);
        y = slurp(pb, &ly);
        ck_assert_ptr_nonnull(x);
        ck_assert_ptr_nonnull(y);
        ck_assert(lx == ly && memcmp(x, y, lx) == 0);
        free(x);
        free(y);
    }
    remove_dir(a);
    remove_dir(b);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_protoc_c)
{
    char *tmp = make_tmpdir();
    char *diag;
    int rc;

    ck_assert_int_eq(chdir(IDLC_TEST_SRCDIR "/ok"), 0);
    rc = compile("everything.idl", tmp, EPY_PROTOC_C, &diag);
    ck_assert_msg(rc == 0, "%s", diag);
    free(diag);
    /* proto, pb-c.h, pb-c.c, epy.h, epy.c; nothing else left behind. */
    ck_assert_int_eq(count_entries(tmp), 5);
    remove_dir(tmp);
    free(tmp);

    /* A missing protoc-c is an error, and no output is left. */
    tmp = make_tmpdir();
    rc = compile("calc.idl", tmp, "/nonexistent/protoc-c", &diag);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(diag, "protoc-c") != NULL, "%s", diag);
    free(diag);
    ck_assert_int_eq(count_entries(tmp), 0);
    remove_dir(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_deps)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    idlc_options o;

    ck_assert_int_eq(chdir(IDLC_TEST_SRCDIR "/ok"), 0);
    memset(&o, 0, sizeof o);
    o.input = "everything.idl";
    o.out_dir = "gen";
    o.protoc_c = "protoc-c";
    o.deps = true;
    o.out = out;
    ck_assert_int_eq(idlc_compile(&o), 0);
    fclose(out);
    ck_assert_str_eq(buf, "gen/everything.epy.h gen/everything.epy.c "
                     "gen/everything.proto gen/everything.pb-c.h "
                     "gen/everything.pb-c.c: everything.idl common.idl\n"
                     "\ncommon.idl:\n");
    free(buf);
}
END_TEST

/* --- doc comments ---------------------------------------------------------- */

/*
 * Checks the C text @c (named @name): no comment opener inside a block
 * comment, no trigraph backslash ending a line, no control character but
 * newlines and tabs, and @marker only inside comments. Returns how often
 * @marker appears (in comments).
 */
static int
check_c_comments(const char *name, const char *c, const char *marker)
{
    enum { CODE, BLOCK, LINE, STR, CHR } st = CODE;
    size_t ml = strlen(marker);
    int found = 0;

    for (const char *p = c; *p != '\0'; p++) {
        unsigned char b = (unsigned char) *p;

        ck_assert_msg(b >= ' ' || b == '\n' || b == '\t', "%s: control "
                      "character 0x%02x at offset %ld", name, b,
                      (long) (p - c));
        ck_assert_msg(strncmp(p, "?\?/\n", 4) != 0, "%s: a trigraph "
                      "backslash ends a line at offset %ld", name,
                      (long) (p - c));
        switch (st) {
        case CODE:
            ck_assert_msg(strncmp(p, marker, ml) != 0, "%s: doc text "
                          "outside a comment: %.60s", name, p);
            if (p[0] == '/' && p[1] == '*')
                st = BLOCK, p++;
            else if (p[0] == '/' && p[1] == '/')
                st = LINE, p++;
            else if (*p == '"')
                st = STR;
            else if (*p == '\'')
                st = CHR;
            break;
        case BLOCK:
            found += strncmp(p, marker, ml) == 0;
            ck_assert_msg(!(p[0] == '/' && p[1] == '*'), "%s: comment "
                          "opener inside a comment: %.60s", name, p);
            if (p[0] == '*' && p[1] == '/')
                st = CODE, p++;
            break;
        case LINE:
            found += strncmp(p, marker, ml) == 0;
            if (*p == '\n' && p[-1] != '\\')
                st = CODE;
            break;
        case STR:
        case CHR:
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == (st == STR ? '"' : '\''))
                st = CODE;
            break;
        }
    }
    ck_assert_msg(st == CODE, "%s ends inside a comment or string", name);
    return found;
}

/*
 * Doc text holding comment delimiters, a trigraph backslash or control
 * characters cannot break the C comments of the .epy.[ch] (nor, through
 * protoc-c, of the .pb-c.h) or the // comments of the .proto.
 */
START_TEST(test_doc_comment_text)
{
    static const char text[] =
        "/// zzdoc ns /* a */ b ?\?/\n"
        "namespace dc {\n"
        "    /// zzdoc s */ int leaked;\n"
        "    /// zzdoc /*/ and **/\n"
        "    struct s {\n"
        "        /// zzdoc x /*\n"
        "        int64 x; /// zzdoc x2 */ ?\?/\n"
        "        /// zzdoc y\r int leaked2; \f\v\x01 end\n"
        "        int64 y;\n"
        "    }\n"
        "    enum e { A = 0; /// zzdoc a ?\?/\n"
        "    }\n"
        "    /// zzdoc m */\n"
        "    int32 m(int32 a);\n"
        "}\n";
    static const char *const c_outputs[] = {
        ".epy.h", ".epy.c", ".pb-c.h", ".pb-c.c"
    };
    char *tmp = make_tmpdir();
    char *diag, *proto;
    int in_header = 0, in_proto = 0;

    ck_assert_msg(compile_text(tmp, "dc.idl", text, EPY_PROTOC_C,
                               &diag) == 0, "%s", diag);
    ck_assert_str_eq(diag, "");
    free(diag);
    for (size_t i = 0; i < 4; i++) {
        char *c = slurp_out(tmp, "dc", c_outputs[i]);
        int n = check_c_comments(c_outputs[i], c, "zzdoc");

        if (i == 0)
            in_header = n;
        free(c);
    }
    /* ns, s (two lines), x (two), y, a, m: at least once each. */
    ck_assert_int_ge(in_header, 8);
    proto = slurp_out(tmp, "dc", ".proto");
    for (const char *line = proto; *line != '\0';) {
        size_t n = strcspn(line, "\n");
        const char *doc = strstr(line, "zzdoc");

        for (size_t i = 0; i < n; i++)
            ck_assert_msg((unsigned char) line[i] >= ' ' || line[i] == '\t',
                          "control character in .proto: %.*s", (int) n,
                          line);
        ck_assert_msg(strncmp(line, "?\?/", 3) != 0
                      && (n < 3 || strncmp(line + n - 3, "?\?/", 3) != 0),
                      "trigraph backslash in .proto: %.*s", (int) n, line);
        if (doc != NULL && doc < line + n) {
            ck_assert_msg(strncmp(line + strspn(line, " "), "// ", 3) == 0,
                          "doc text outside a comment: %.*s", (int) n, line);
            in_proto++;
        }
        line += n + (line[n] == '\n');
    }
    /* s (two lines), x (two), y, a. */
    ck_assert_int_eq(in_proto, 6);
    ck_assert_ptr_nonnull(strstr(proto, "    // zzdoc y  int leaked2;     "
                                 "end\n    optional int64 y = 2;\n"));
    free(proto);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/*
 * A `///` after code on its line documents the declaration ending (or
 * opened by the `{`) just before it; one on its own line, the next.
 */
START_TEST(test_doc_comment_trailing)
{
    static const char text[] =
        "namespace td {\n"
        "    /// lead s\n"
        "    struct s { /// open s\n"
        "        /// lead x\n"
        "        int64 x; /// trail x\n"
        "        /// lead y\n"
        "        int64 y;\n"
        "        int64 z = 7; /// trail z\n"
        "        string w;\n"
        "    } /// close s\n"
        "    enum e {\n"
        "        A = 0; /// trail A\n"
        "        B = -1; /// trail B\n"
        "        C = 1;\n"
        "    }\n"
        "    int32 m(int32 a, /// nothing\n"
        "            int32 b); /// trail m\n"
        "    int32 n();\n"
        "}\n";
    static const char want[] =
        "// lead s\n"
        "// open s\n"
        "// close s\n"
        "message td_s {\n"
        "    // lead x\n"
        "    // trail x\n"
        "    optional int64 x = 1;\n"
        "    // lead y\n"
        "    optional int64 y = 2;\n"
        "    // trail z\n"
        "    optional int64 z = 7;\n"
        "    optional string w = 8;\n"
        "}\n"
        "\n"
        "enum td_e {\n"
        "    // trail A\n"
        "    TD_E_A = 0;\n"
        "    // trail B\n"
        "    TD_E_B = -1;\n"
        "    TD_E_C = 1;\n"
        "}\n";
    char *tmp = make_tmpdir();
    char *diag, *proto, *header, *m, *n;
    char want_diag[4096];

    ck_assert_msg(compile_text(tmp, "td.idl", text, NULL, &diag) == 0,
                  "%s", diag);
    snprintf(want_diag, sizeof want_diag, "%s/td.idl:16:22: warning: '///' "
             "documents nothing here; after code on its line, it documents "
             "the declaration that ends, or opens with '{', just before "
             "it\n", tmp);
    ck_assert_msg(strncmp(diag, want_diag, strlen(want_diag)) == 0,
                  "got: %s\nwant: %s", diag, want_diag);
    free(diag);
    proto = slurp_out(tmp, "td", ".proto");
    ck_assert_msg(strstr(proto, want) != NULL, "got:\n%s", proto);
    free(proto);
    /* The method's doc: its own trailing one; none for n. */
    header = slurp_out(tmp, "td", ".epy.h");
    m = strstr(header, " * td_m - call td.m");
    n = strstr(header, " * td_n - call td.n");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(n);
    ck_assert_ptr_nonnull(strstr(m, " * trail m\n"));
    ck_assert_ptr_eq(strstr(header, "nothing"), NULL);
    ck_assert_ptr_eq(strstr(n, "trail"), NULL);
    free(header);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* --- the output folder --------------------------------------------------------- */

static mode_t
mode_of(const char *path)
{
    struct stat st;

    ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
    return st.st_mode & 07777;
}

/* -o names a folder that need not exist: it is made, as by mkdir -p. */
START_TEST(test_out_dir_made)
{
    char *tmp = make_tmpdir();
    char out[4096], path[4096], want[8192];
    char *diag;
    struct stat st;

    ck_assert_int_eq(chdir(IDLC_TEST_SRCDIR "/ok"), 0);
    umask(027);
    snprintf(out, sizeof out, "%s/a/b//c/", tmp);
    ck_assert_int_eq(compile("calc.idl", out, NULL, &diag), 0);
    ck_assert_str_eq(diag, "");
    free(diag);
    snprintf(path, sizeof path, "%s/a/b/c/calc.epy.h", tmp);
    ck_assert_int_eq(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/a", tmp);
    ck_assert_uint_eq(mode_of(path), 0750);
    snprintf(path, sizeof path, "%s/a/b/c", tmp);
    ck_assert_uint_eq(mode_of(path), 0750);
    /* Existing folders are fine, and are left as they are. */
    ck_assert_int_eq(chmod(path, 0700), 0);
    ck_assert_int_eq(compile("calc.idl", out, NULL, NULL), 0);
    ck_assert_uint_eq(mode_of(path), 0700);

    /* A failed compilation leaves no folder behind. */
    snprintf(out, sizeof out, "%s/x/y", tmp);
    ck_assert_int_eq(compile("../bad/sem-unknown-type.idl", out, NULL,
                             NULL), 1);
    snprintf(path, sizeof path, "%s/x", tmp);
    ck_assert_int_ne(stat(path, &st), 0);
    ck_assert_int_eq(compile("calc.idl", out, "/nonexistent/protoc-c",
                             NULL), 1);
    ck_assert_int_ne(stat(path, &st), 0);

    /* A file in the way: a clear error. */
    snprintf(path, sizeof path, "%s/file", tmp);
    spit(path, "", 0);
    snprintf(out, sizeof out, "%s/file/sub", tmp);
    ck_assert_int_eq(compile("calc.idl", out, NULL, &diag), 1);
    snprintf(want, sizeof want, "idlc: error: cannot make the output "
             "folder '%s': %s\n", out, strerror(ENOTDIR));
    ck_assert_str_eq(diag, want);
    free(diag);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* --- diagnostics ---------------------------------------------------------- */

/*
 * Each bad/NAME.idl fails with the first line of diagnostics in
 * NAME.err; where there is a NAME.diag, with exactly what it holds (the
 * source lines and carets, the notes, nothing more).
 */

START_TEST(test_bad)
{
    char **files;
    char *tmp = make_tmpdir();
    int n = 0;

    ck_assert_int_eq(chdir(IDLC_TEST_SRCDIR "/bad"), 0);
    files = list_files(".", ".idl");
    for (size_t i = 0; files[i] != NULL; i++) {
        char errpath[512];
        char *diag, *want, *full, *nl;
        int rc = compile(files[i], tmp, NULL, &diag);

        snprintf(errpath, sizeof errpath, "%.*s.err",
                 (int) strlen(files[i]) - 4, files[i]);
        want = slurp(errpath, NULL);
        ck_assert_msg(want != NULL, "%s has no %s", files[i], errpath);
        ck_assert_msg(rc == 1, "%s: exit %d, not 1", files[i], rc);
        /* NAME.diag, where there is one: all of the diagnostics. */
        snprintf(errpath + strlen(errpath) - 4, 6, ".diag");
        full = slurp(errpath, NULL);
        ck_assert_msg(full == NULL || strcmp(diag, full) == 0,
                      "%s:\n got:\n%s want:\n%s", files[i], diag, full);
        free(full);
        nl = strchr(diag, '\n');
        if (nl != NULL)
            nl[1] = '\0';
        ck_assert_msg(strcmp(diag, want) == 0, "%s:\n got: %s want: %s",
                      files[i], diag, want);
        ck_assert_msg(count_entries(tmp) == 0, "%s left outputs", files[i]);
        free(diag);
        free(want);
        n++;
    }
    ck_assert_int_ge(n, 30);
    free_list(files);
    remove_dir(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_many_errors)
{
    char *tmp = make_tmpdir();
    char path[4096];
    char *diag;
    FILE *f;
    int errors = 0;

    snprintf(path, sizeof path, "%s/many.idl", tmp);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("namespace many {\n", f);
    for (int i = 0; i < 30; i++)
        fprintf(f, "    unknown%d f%d();\n", i, i);
    fputs("}\n", f);
    fclose(f);
    ck_assert_int_eq(compile(path, tmp, NULL, &diag), 1);
    for (const char *p = diag; (p = strstr(p, ": error: ")) != NULL; p++)
        errors++;
    ck_assert_int_eq(errors, 20);
    ck_assert_ptr_nonnull(strstr(diag, "too many errors"));
    free(diag);
    remove_dir(tmp);
    free(tmp);
}
END_TEST

/* Several errors per run: recovery after a syntax error. */
START_TEST(test_recovery)
{
    char *tmp = make_tmpdir();
    char path[4096];
    char *diag;
    int errors = 0;
    static const char text[] =
        "namespace r {\n"
        "    int32 a(int32 x) $;\n"
        "    struct s { int32 x = ; int32 y; }\n"
        "    int32 b(int32 x);;\n"
        "    enum e { A = 1; B; }\n"
        "}\n";

    snprintf(path, sizeof path, "%s/r.idl", tmp);
    spit(path, text, sizeof text - 1);
    ck_assert_int_eq(compile(path, tmp, NULL, &diag), 1);
    for (const char *p = diag; (p = strstr(p, ": error: ")) != NULL; p++)
        errors++;
    ck_assert_msg(errors >= 3, "%s", diag);
    free(diag);
    unlink(path);
    remove_dir(tmp);
    free(tmp);
}
END_TEST

/* --- limits ---------------------------------------------------------------- */

START_TEST(test_big_file)
{
    char *tmp = make_tmpdir();
    char path[4096];
    FILE *f;
    int64_t t0;

    snprintf(path, sizeof path, "%s/big.idl", tmp);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int n = 0; n < 100; n++) {
        fprintf(f, "namespace big.n%d {\n    struct item { string s; "
                "list<int64> v; }\n", n);
        for (int m = 0; m < 20; m++)
            fprintf(f, "    item m%d(int32 a, string b, list<item> c);\n", m);
        fputs("}\n", f);
    }
    fclose(f);
    t0 = tu_now_ms();
    ck_assert_int_eq(compile(path, tmp, NULL, NULL), 0);
    ck_assert_int_lt(tu_now_ms() - t0, 5000 * tu_slow());
    remove_dir(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_binary_and_deep)
{
    char *tmp = make_tmpdir();
    char path[4096];
    char *buf = malloc(1 << 20);
    size_t n = 0;
    uint32_t x = 12345;

    ck_assert_ptr_nonnull(buf);
    snprintf(path, sizeof path, "%s/in.idl", tmp);
    /* Binary noise. */
    for (size_t i = 0; i < (1 << 20); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (char) x;
    }
    spit(path, buf, 1 << 20);
    ck_assert_int_eq(compile(path, tmp, NULL, NULL), 1);
    /* Deep braces, angle brackets and namespaces. */
    n = 0;
    for (int i = 0; i < 100000; i++)
        buf[n++] = '{';
    spit(path, buf, n);
    ck_assert_int_eq(compile(path, tmp, NULL, NULL), 1);
    n = (size_t) snprintf(buf, 64, "namespace a { struct s { ");
    for (int i = 0; i < 100000; i++)
        memcpy(buf + n, "list<", 5), n += 5;
    spit(path, buf, n);
    ck_assert_int_eq(compile(path, tmp, NULL, NULL), 1);
    n = 0;
    for (int i = 0; i < 50000; i++)
        memcpy(buf + n, "namespace a{", 12), n += 12;
    spit(path, buf, n);
    ck_assert_int_eq(compile(path, tmp, NULL, NULL), 1);
    /* NUL bytes and an empty file (which is a valid, empty interface). */
    memset(buf, 0, 100);
    spit(path, buf, 100);
    ck_assert_int_eq(compile(path, tmp, NULL, NULL), 1);
    spit(path, buf, 0);
    ck_assert_int_eq(compile(path, tmp, NULL, NULL), 0);
    free(buf);
    remove_dir(tmp);
    free(tmp);
}
END_TEST

/*
 * A dotted name of many parts costs time linear in its length: as a
 * namespace, it fails at the 65th part; as a type, it is unknown.
 */
START_TEST(test_long_dotted_name)
{
    enum { PARTS = 200000 };
    char *tmp = make_tmpdir();
    char path[4096], want[8192];
    char *buf = malloc(PARTS * 2 + 256);
    char *diag;
    size_t n;
    int64_t t0, ms;

    ck_assert_ptr_nonnull(buf);
    snprintf(path, sizeof path, "%s/long.idl", tmp);
    n = (size_t) sprintf(buf, "namespace a");
    for (int i = 1; i < PARTS; i++)
        memcpy(buf + n, ".a", 2), n += 2;
    n += (size_t) sprintf(buf + n, " { }\n");
    spit(path, buf, n);
    t0 = tu_now_ms();
    ck_assert_int_eq(compile(path, tmp, NULL, &diag), 1);
    ms = tu_now_ms() - t0;
    /* "namespace " and 64 parts of "a.". */
    snprintf(want, sizeof want, "%s:1:%d: error: namespaces nested too "
             "deeply (the limit is 64 levels)\n", path, 11 + 64 * 2);
    ck_assert_msg(strncmp(diag, want, strlen(want)) == 0, "got: %.300s",
                  diag);
    free(diag);
    ck_assert_msg(ms < 5000 * tu_slow(), "%d parts took %lld ms", PARTS,
                  (long long) ms);

    n = (size_t) sprintf(buf, "namespace t { struct s { a");
    for (int i = 1; i < PARTS; i++)
        memcpy(buf + n, ".a", 2), n += 2;
    n += (size_t) sprintf(buf + n, " x; } }\n");
    spit(path, buf, n);
    t0 = tu_now_ms();
    ck_assert_int_eq(compile(path, tmp, NULL, &diag), 1);
    ms = tu_now_ms() - t0;
    ck_assert_msg(strstr(diag, "error: unknown type 'a.a.a.") != NULL,
                  "got: %.300s", diag);
    free(diag);
    ck_assert_msg(ms < 5000 * tu_slow(), "a type of %d parts took %lld ms",
                  PARTS, (long long) ms);
    free(buf);
    remove_dir(tmp);
    free(tmp);
}
END_TEST

/* --- mutations --------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n != 0 ? (uint32_t) (rng_state % n) : 0;
}

static const char *const tokens[] = {
    "{", "}", "<", ">", "(", ")", ";", ",", "=", ".", "[", "]", "-",
    "namespace", "struct", "enum", "error", "event", "raises", "void",
    "list", "optional", "map", "defaults", "import \"x.idl\";", "int32",
    "string", "bytes", "timeout", "= 5s", "async", "forever", "x", "calc",
    "point", "/*", "*/", "//", "///", "\"", "\n", "\xff", "\xc3\xa9",
    "0x7fffffff", "99999999999999999999", "_x", "epy_x", "int",
    "list<list<", ">>", "map<string,", "optional<",
};

/* One random edit of @buf (length *@len, capacity @cap). */
static void
mutate(char *buf, size_t *len, size_t cap)
{
    size_t at = *len > 0 ? rnd((uint32_t) *len) : 0;

    switch (rnd(6)) {
    case 0:     /* flip a byte */
        if (*len > 0)
            buf[at] = (char) rnd(256);
        break;
    case 1: {   /* delete a run */
        size_t n = rnd(16) + 1;

        if (at + n > *len)
            n = *len - at;
        memmove(buf + at, buf + at + n, *len - at - n);
        *len -= n;
        break;
    }
    case 2:
    case 3: {   /* insert a token */
        const char *t = tokens[rnd(sizeof tokens / sizeof tokens[0])];
        size_t n = strlen(t);

        if (*len + n + 1 < cap) {
            memmove(buf + at + n, buf + at, *len - at);
            memcpy(buf + at, t, n);
            *len += n;
        }
        break;
    }
    case 4: {   /* duplicate a chunk */
        size_t from = *len > 0 ? rnd((uint32_t) *len) : 0;
        size_t n = rnd(64);

        if (from + n > *len)
            n = *len - from;
        if (*len + n + 1 < cap) {
            memmove(buf + at + n, buf + at, *len - at);
            memmove(buf + at, buf + (from < at ? from : from + n), n);
            *len += n;
        }
        break;
    }
    default:    /* truncate */
        *len = at;
        break;
    }
}

START_TEST(test_mutations)
{
    static const char *const seeds[] = {
        IDLC_TEST_SRCDIR "/ok/calc.idl",
        IDLC_TEST_SRCDIR "/ok/everything.idl",
        IDLC_TEST_SRCDIR "/ok/edge.idl",
        IDLC_TEST_SRCDIR "/ok/tree.idl",
        IDLC_TEST_SRCDIR "/ok/common.idl",
        IDLC_TEST_SRCDIR "/ok/fds.idl",
    };
    char *tmp = make_tmpdir();
    char path[4096], out[4096];
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    int ok = 0, bad = 0;

    ck_assert_ptr_nonnull(buf);
    snprintf(path, sizeof path, "%s/mutant.idl", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    ck_assert_int_eq(mkdir(out, 0700), 0);
    /* common.idl beside the mutants, for their imports. */
    {
        size_t l;
        char *c = slurp(IDLC_TEST_SRCDIR "/ok/common.idl", &l);
        char p2[4096];

        snprintf(p2, sizeof p2, "%s/common.idl", tmp);
        spit(p2, c, l);
        free(c);
    }
    rng_state = UINT64_C(0x9e3779b97f4a7c15);
    for (int i = 0; i < 2000; i++) {
        size_t len;
        char *src = slurp(seeds[i % (sizeof seeds / sizeof *seeds)], &len);
        int edits = (int) rnd(8) + 1;
        pid_t pid;
        int status;

        ck_assert_ptr_nonnull(src);
        if (len > cap / 2)
            len = cap / 2;
        memcpy(buf, src, len);
        free(src);
        for (int e = 0; e < edits; e++)
            mutate(buf, &len, cap);
        spit(path, buf, len);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            FILE *null = fopen("/dev/null", "w");
            idlc_options o;

            alarm(10);
            memset(&o, 0, sizeof o);
            o.input = path;
            o.out_dir = out;
            o.diag = null;
            _exit(idlc_compile(&o));
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status), "mutant %d: killed by signal %d "
                      "(input kept in %s)", i, WTERMSIG(status), path);
        ck_assert_msg(WEXITSTATUS(status) <= 1, "mutant %d: exit %d", i,
                      WEXITSTATUS(status));
        if (WEXITSTATUS(status) == 0) {
            ok++;
            remove_dir(out);
            ck_assert_int_eq(mkdir(out, 0700), 0);
        } else {
            bad++;
            ck_assert_msg(count_entries(out) == 0, "mutant %d left files",
                          i);
        }
    }
    ck_assert_int_eq(ok + bad, 2000);
    ck_assert_int_gt(bad, 1000);
    free(buf);
    remove_dir(out);
    remove_dir(tmp);
    free(tmp);
}
END_TEST

static Suite *
idlc_suite(void)
{
    Suite *s = suite_create("idlc");
    TCase *tc;

    tc = tcase_create("core");
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_protoc_c);
    tcase_add_test(tc, test_deps);
    tcase_add_test(tc, test_doc_comment_text);
    tcase_add_test(tc, test_doc_comment_trailing);
    tcase_add_test(tc, test_out_dir_made);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_bad);
    tcase_add_test(tc, test_many_errors);
    tcase_add_test(tc, test_recovery);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_big_file);
    tcase_add_test(tc, test_binary_and_deep);
    tcase_add_test(tc, test_long_dotted_name);
    tcase_add_test(tc, test_mutations);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(idlc_suite());
}
