/*
 * idlc and the IDL type `fd` (a file descriptor passed with the call):
 * where it may be used, its C, .proto and description spellings, the
 * runtime's parser taking the description, and what a retype does.
 * The golden outputs of tests/idlc/ok/fds.idl cover the generated code
 * in full; this suite checks what the golden files cannot.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "idlc.h"
#include "schema.h"
#include "../testutil.h"

static char dir[] = "/tmp/idlc-fd.XXXXXX";

static void
setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/idlc-fd.XXXXXX")));
}

static void
teardown(void)
{
    char cmd[64];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes @text to dir/@name; returns the path (static). */
static const char *
put(const char *name, const char *text)
{
    static char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* The whole of dir/@name (malloc'd). */
static char *
get(const char *name)
{
    char path[4096];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s not written", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    buf = malloc((size_t) n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Compiles @text as dir/@name (no protoc-c); the diagnostics in *@diag. */
static int
compile_text(const char *name, const char *text, char **diag)
{
    size_t len = 0;
    FILE *d = open_memstream(diag, &len);
    idlc_options o;
    int rc;

    ck_assert_ptr_nonnull(d);
    memset(&o, 0, sizeof o);
    o.input = put(name, text);
    o.out_dir = dir;
    o.diag = d;
    rc = idlc_compile(&o);
    fclose(d);
    return rc;
}

static const char fds_idl[] =
    "namespace io {\n"
    "    struct sink { fd out; optional<fd> spare; string name; }\n"
    "    error refused { fd which; }\n"
    "    fd open(string path) raises (refused);\n"
    "    void attach(sink s, list<fd> extra, map<string, fd> named);\n"
    "    map<int32, list<fd>> grouped();\n"
    "    event handed(fd f);\n"
    "}\n";

#define NOTE " // fd: 0 none, k the frame's k-th descriptor\n"

/* Wherever a scalar goes; the C type int, the wire type uint32. */
START_TEST(test_fd_spellings)
{
    char *diag = NULL, *h, *proto;

    ck_assert_msg(compile_text("io.idl", fds_idl, &diag) == 0, "%s", diag);
    free(diag);
    h = get("io.epy.h");
    ck_assert_ptr_nonnull(strstr(h, "    int out;\n"));
    ck_assert_ptr_nonnull(strstr(h, "struct epy_fd_opt {\n    bool has;\n"
                                    "    int value;\n};"));
    ck_assert_ptr_nonnull(strstr(h, "struct epy_fd_list {\n    size_t n;\n"
                                    "    int *items;\n};"));
    ck_assert_ptr_nonnull(strstr(h, "int io_open(io_api *api, const char "
                                    "*path, int *ret_result,"));
    ck_assert_ptr_nonnull(strstr(h, "epy_fd_list *v)\n{\n"));
    /* The clears of generics holding fds leave them to the runtime. */
    ck_assert_ptr_nonnull(strstr(h, "&epy_gen_type_fd"));
    ck_assert_ptr_nonnull(strstr(h, "    epy_gen_clear(&epy_st, v);\n"));
    ck_assert_ptr_nonnull(strstr(h, "int\nepy_fd_opt_copy("));
    free(h);
    proto = get("io.proto");
    ck_assert_ptr_nonnull(strstr(proto, "    optional uint32 out = 1;" NOTE));
    ck_assert_ptr_nonnull(strstr(proto, "    optional uint32 spare = 2;"
                                        NOTE));
    ck_assert_ptr_nonnull(strstr(proto, "    repeated uint32 extra = 2 "
                                        "[packed = true];" NOTE));
    ck_assert_ptr_nonnull(strstr(proto, "    optional uint32 value = 2;"
                                        NOTE));
    ck_assert_ptr_nonnull(strstr(proto, "message io_open_result {\n"
                                        "    optional uint32 value = 1;"
                                        NOTE));
    free(proto);
}
END_TEST

/* The description says `fd`, and the runtime's parser takes it. */
START_TEST(test_fd_description)
{
    idlc_options o;
    char *text = NULL, *fp = NULL, why[200];
    epy__schema *s = NULL;

    memset(&o, 0, sizeof o);
    o.input = put("io.idl", fds_idl);
    ck_assert_int_eq(idlc_describe(&o, &text, &fp), 0);
    ck_assert_ptr_nonnull(strstr(text, "struct io.sink out:fd=1 "
                                       "spare:optional<fd>=2 "
                                       "name:string=3\n"));
    ck_assert_ptr_nonnull(strstr(text, "method io.open( path:string=1 ) "
                                       "-> fd raises io.refused\n"));
    ck_assert_ptr_nonnull(strstr(text, "named:map<string,fd>=3"));
    ck_assert_ptr_nonnull(strstr(text, "-> map<int32,list<fd>>\n"));
    ck_assert_ptr_nonnull(strstr(text, "event io.handed( f:fd=1 )\n"));
    ck_assert_msg(epy__schema_parse(text, strlen(text), &s, why,
                                    sizeof why) == 0, "%s", why);
    ck_assert_int_eq(epy__schema_compare(s, s, false, NULL, NULL), 0);
    epy__schema_free(s);
    free(text);
    free(fp);
}
END_TEST

/* Not a map key; a keyword, so not a name; suggested for near misses. */
START_TEST(test_fd_errors)
{
    char *diag = NULL;

    ck_assert_int_eq(compile_text("k.idl", "namespace k {\n"
                                  "    map<fd, int32> f();\n}\n", &diag), 1);
    ck_assert_msg(strstr(diag, "k.idl:2:9: error: map keys must be an "
                         "integer type, bool or string, not 'fd'") != NULL,
                  "%s", diag);
    free(diag);
    ck_assert_int_eq(compile_text("n.idl", "namespace n {\n"
                                  "    struct s { int32 fd; }\n}\n", &diag),
                     1);
    ck_assert_msg(strstr(diag, "n.idl:2:22: error: 'fd' is a reserved "
                         "word of the IDL and cannot be a name") != NULL,
                  "%s", diag);
    free(diag);
    ck_assert_int_eq(compile_text("u.idl", "namespace u {\n"
                                  "    void f(fdd x);\n}\n", &diag), 1);
    ck_assert_msg(strstr(diag, "did you mean 'fd'?") != NULL, "%s", diag);
    free(diag);
    /* Values of maps and optionals are fine (test_fd_spellings). */
}
END_TEST

/* fd against any other type breaks, either way. */
START_TEST(test_fd_compat)
{
    static const char *const others[] = {
        "int32", "uint32", "int64", "bool", "string", "bytes",
        "optional<fd>", "list<fd>"
    };
    char *diag = NULL;

    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char text[256], old_path[4096], new_path[4096];
        size_t len = 0;
        FILE *d;
        idlc_compat_options o;

        snprintf(text, sizeof text, "namespace c {\n    void f(%s x);\n}\n",
                 others[i]);
        snprintf(old_path, sizeof old_path, "%s", put("old.idl", text));
        snprintf(new_path, sizeof new_path, "%s", put("new.idl",
                 "namespace c {\n    void f(fd x);\n}\n"));
        for (int dir_ = 0; dir_ < 2; dir_++) {
            d = open_memstream(&diag, &len);
            ck_assert_ptr_nonnull(d);
            memset(&o, 0, sizeof o);
            o.old_input = dir_ == 0 ? old_path : new_path;
            o.new_input = dir_ == 0 ? new_path : old_path;
            o.diag = d;
            ck_assert_msg(idlc_check_compat(&o) == 1, "%s: %s", others[i],
                          diag);
            fclose(d);
            ck_assert_msg(strstr(diag, "changed type from") != NULL, "%s",
                          diag);
            free(diag);
            diag = NULL;
        }
    }
    /* Unchanged: compatible. */
    {
        size_t len = 0;
        FILE *d = open_memstream(&diag, &len);
        idlc_compat_options o;
        char p[4096];

        snprintf(p, sizeof p, "%s", put("same.idl", fds_idl));
        memset(&o, 0, sizeof o);
        o.old_input = p;
        o.new_input = p;
        o.diag = d;
        ck_assert_int_eq(idlc_check_compat(&o), 0);
        fclose(d);
        free(diag);
    }
}
END_TEST

static Suite *
fd_suite(void)
{
    Suite *s = suite_create("idlc-fd");
    TCase *tc = tcase_create("fd");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fd_spellings);
    tcase_add_test(tc, test_fd_description);
    tcase_add_test(tc, test_fd_errors);
    tcase_add_test(tc, test_fd_compat);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(fd_suite());
}
