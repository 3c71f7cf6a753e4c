/*
 * The interface description module (runtime/wire/schema.h) on its own:
 * parsing of valid and hostile texts within the bounds, the symmetric
 * comparison of the hello, the directional one of idlc --check-compat,
 * and recursive types, which must neither loop nor blow up.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "schema.h"
#include "../testutil.h"

static const char calc_text[] =
    "namespace calc\n"
    "enum calc.rounding NEAREST=0 DOWN=1 UP=2\n"
    "struct calc.point x:double=1 y:double=2\n"
    "error calc.divide_by_zero detail:string=1 numerator:int64=2\n"
    "method calc.add( a:int64=1 b:int64=2 ) -> int64\n"
    "method calc.div( a:double=1 b:double=2 r:calc.rounding=3 ) -> double"
    " raises calc.divide_by_zero\n"
    "method calc.reset( ) -> void\n"
    "event calc.tick( n:uint64=1 )\n"
    "namespace calc.stats\n"
    "method calc.stats.centroid( pts:list<calc.point>=1 ) -> calc.point\n"
    "method calc.stats.mean( xs:list<double>=1 ) -> optional<double>\n"
    "method calc.stats.histogram( words:list<string>=1 )"
    " -> map<string,int64>\n";

/* --- helpers ------------------------------------------------------------- */

/* A growing string, for texts and findings. */
typedef struct text {
    char *data;
    size_t len, cap;
} text;

static void
add(text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void
add(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    if (t->len + (size_t) n + 1 > t->cap) {
        t->cap = (t->len + (size_t) n + 1) * 2;
        t->data = realloc(t->data, t->cap);
        ck_assert_ptr_nonnull(t->data);
    }
    va_start(ap, fmt);
    vsnprintf(t->data + t->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t) n;
}

static epy__schema *
parse_ok(const char *s)
{
    epy__schema *r = NULL;
    char why[200];
    int rc = epy__schema_parse(s, strlen(s), &r, why, sizeof why);

    ck_assert_msg(rc == 0, "parse failed (%d): %s", rc, why);
    ck_assert_ptr_nonnull(r);
    return r;
}

/* Parses @len bytes at @s, expecting a refusal whose message holds @want. */
static void
parse_bad(const char *s, size_t len, const char *want)
{
    epy__schema *r = (epy__schema *) 1;
    char why[200];
    int rc = epy__schema_parse(s, len, &r, why, sizeof why);

    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(why, want) != NULL, "'%s' lacks '%s'", why, want);
}

/* Each finding as a line: "B+" or "S-" (breaking, in the new/old one). */
static void
collect(const epy__compat_finding *f, void *ctx)
{
    text *t = ctx;

    ck_assert_ptr_nonnull(f->decl);
    ck_assert_ptr_nonnull(f->message);
    add(t, "%c%c %s/%s: %s\n", f->severity == EPY__COMPAT_BREAKING ? 'B'
        : 'S', f->in_old ? '-' : '+', f->decl, f->member != NULL
        ? f->member : "", f->message);
}

/* Compares two texts; returns the findings (free them) and the count. */
static char *
compare(const char *old_text, const char *new_text, bool sym, int *ret_n)
{
    epy__schema *a = parse_ok(old_text), *b = parse_ok(new_text);
    text t = { NULL, 0, 0 };

    add(&t, "%s", "");
    *ret_n = epy__schema_compare(a, b, sym, collect, &t);
    /* Without a callback, the same count. */
    ck_assert_int_eq(epy__schema_compare(a, b, sym, NULL, NULL), *ret_n);
    epy__schema_free(a);
    epy__schema_free(b);
    return t.data;
}

static void
expect(const char *old_text, const char *new_text, bool sym, int want_n,
       const char *want)
{
    int n;
    char *got = compare(old_text, new_text, sym, &n);

    ck_assert_msg(n == want_n, "%d breaking, expected %d:\n%s", n, want_n,
                  got);
    ck_assert_str_eq(got, want);
    free(got);
}

/* --- parsing ------------------------------------------------------------- */

START_TEST(test_parse_valid)
{
    epy__schema *s = parse_ok(calc_text);
    int n = 0;
    char *got;

    epy__schema_free(s);
    /* No newline at the end, empty lines, nothing at all. */
    s = parse_ok("namespace a\n\nmethod a.f( ) -> void");
    epy__schema_free(s);
    s = parse_ok("");
    epy__schema_free(s);
    epy__schema_free(NULL);
    /* Several interfaces, one naming another's types. */
    s = parse_ok("namespace a\nstruct a.s x:b.t=1\nnamespace b\n"
                 "struct b.t y:int32=1\nmethod a.m( s:other.thing=1 ) "
                 "-> list<other.e>\n");
    epy__schema_free(s);
    /* A text is the same as itself, both ways. */
    got = compare(calc_text, calc_text, false, &n);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(got, "");
    free(got);
    got = compare(calc_text, calc_text, true, &n);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(got, "");
    free(got);
}
END_TEST

START_TEST(test_parse_garbage)
{
    static const char nul[] = "namespace a\nstruct a.s x:int32=1\0\n";
    char why[8];
    epy__schema *s = NULL;

    parse_bad("Hello world\n", 12, "line 1: unknown declaration 'Hello'");
    parse_bad("h3llo world\n", 12, "line 1: unknown declaration 'h3llo'");
    /* A kind of declaration of a later version is skipped. */
    epy__schema_free(parse_ok("namespace a\nservice a.s whatever ( )\n"
                              "method a.m( ) -> void\n"));
    parse_bad(nul, sizeof nul - 1, "line 2: unexpected byte 0x00");
    parse_bad("namespace a\r\n", 13, "line 1: unexpected byte 0x0d");
    parse_bad("namespace a\n\tenum a.e X=1\n", 26, "line 2");
    parse_bad("namespace a b\n", 14, "junk");
    parse_bad("namespace 1a\n", 13, "bad name");
    parse_bad("namespace a..b\n", 15, "bad name");
    parse_bad("namespace\n", 10, "a name expected");
    parse_bad("struct a.s x:int32\n", 19, "name:type=number");
    parse_bad("struct a.s x:int32=0\n", 21, "name:type=number");
    parse_bad("struct a.s x:int32=536870912\n", 29, "name:type=number");
    parse_bad("struct a.s x:int32=1 x:int64=2\n", 31, "'x' twice");
    parse_bad("struct a.s x:int32=1 y:int64=1\n", 31, "number 1 twice");
    parse_bad("struct a.s x:list<int32=1\n", 26, "'>' expected");
    parse_bad("struct a.s x:list<int32>>=1\n", 28, "junk");
    parse_bad("struct a.s x:void=1\n", 20, "only a method's result");
    parse_bad("struct a.s x:map<a.s,int32>=1\n", 30, "map keys");
    parse_bad("struct a.s x:vector<int32>=1\n", 29, "not a generic");
    parse_bad("enum a.e X=1 Y\n", 15, "NAME=VALUE");
    parse_bad("enum a.e X=2147483648\n", 22, "NAME=VALUE");
    parse_bad("method a.f( ) void\n", 19, "'-> TYPE'");
    parse_bad("method a.f x:int32=1 ) -> void\n", 31, "'(' expected");
    parse_bad("method a.f( x:int32=1 -> void\n", 30, "name:type=number");
    parse_bad("method a.f( ) -> void raises\n", 28, "'raises NAME'");
    parse_bad("event a.f( ) -> void\n", 21, "junk");
    parse_bad("namespace a\nnamespace a\n", 24, "line 2: 'a' declared twice");
    parse_bad("struct a.s x:a.f=1\nmethod a.f( ) -> void\n", 41,
              "line 1: 'a.f' is a method, not a type");
    /* A short @why is cut, not overrun; none at all is fine. */
    ck_assert_int_eq(epy__schema_parse("X", 1, &s, why, sizeof why), -1);
    ck_assert_uint_eq(strlen(why), sizeof why - 1);
    ck_assert_int_eq(epy__schema_parse("X", 1, &s, NULL, 0), -1);
    ck_assert_ptr_null(s);
}
END_TEST

/* Three letters, different for each @i below 52 * 52 * 52. */
static const char *
short_name(int i)
{
    static const char letters[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static char name[4];

    name[0] = letters[i % 52];
    name[1] = letters[i / 52 % 52];
    name[2] = letters[i / (52 * 52) % 52];
    return name;
}

START_TEST(test_parse_bounds)
{
    text t = { NULL, 0, 0 };
    char name[EPY__SCHEMA_MAX_NAME + 2];
    epy__schema *s = NULL;
    int64_t start;
    char why[200];

    /* 64 generics deep are fine, 70 are not. */
    add(&t, "struct a.s x:");
    for (int i = 0; i < 64; i++)
        add(&t, "list<");
    add(&t, "int32");
    for (int i = 0; i < 64; i++)
        add(&t, ">");
    add(&t, "=1\n");
    epy__schema_free(parse_ok(t.data));
    t.len = 0;
    add(&t, "struct a.s x:");
    for (int i = 0; i < 70; i++)
        add(&t, "list<");
    add(&t, "int32");
    for (int i = 0; i < 70; i++)
        add(&t, ">");
    add(&t, "=1\n");
    parse_bad(t.data, t.len, "nested more than 64 levels");

    /* Names of 512 bytes are fine, 513 are not. */
    memset(name, 'n', sizeof name);
    name[EPY__SCHEMA_MAX_NAME] = '\0';
    t.len = 0;
    add(&t, "namespace %s\n", name);
    epy__schema_free(parse_ok(t.data));
    name[EPY__SCHEMA_MAX_NAME] = 'n';
    name[EPY__SCHEMA_MAX_NAME + 1] = '\0';
    t.len = 0;
    add(&t, "namespace a\nstruct a.s %s:int32=1\n", name);
    parse_bad(t.data, t.len, "line 2: bad member name");

    /* Too many declarations: refused at the first one too many. The
     * names are short, for the text to stay within its bound. */
    t.len = 0;
    for (int i = 0; i <= EPY__SCHEMA_MAX_DECLS; i++)
        add(&t, "namespace %s\n", short_name(i));
    start = tu_now_ms();
    parse_bad(t.data, t.len, "more than 65536 declarations");
    ck_assert_int_lt(tu_now_ms() - start, 2000 * tu_slow());
    /* Exactly the limit is fine. */
    t.len = 0;
    for (int i = 0; i < EPY__SCHEMA_MAX_DECLS; i++)
        add(&t, "namespace %s\n", short_name(i));
    epy__schema_free(parse_ok(t.data));

    /* Too long a text: refused before reading it. */
    ck_assert_int_eq(epy__schema_parse(t.data, EPY__SCHEMA_MAX_TEXT + 1, &s,
                                       why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "exceeds"));
    /* A long line of members, sorted in n log n. */
    t.len = 0;
    add(&t, "struct a.s");
    for (int i = 1; i <= 50000; i++)
        add(&t, " f%d:int32=%d", i, i);
    add(&t, "\n");
    start = tu_now_ms();
    epy__schema_free(parse_ok(t.data));
    ck_assert_int_lt(tu_now_ms() - start, 2000 * tu_slow());
    free(t.data);
}
END_TEST

/* --- the symmetric comparison -------------------------------------------- */

static const char kv_text[] =
    "namespace kv\n"
    "enum kv.mode SET=0 ADD=1\n"
    "struct kv.entry key:string=1 value:bytes=2\n"
    "method kv.put( key:string=1 value:string=2 ) -> void\n"
    "method kv.get( key:string=1 ) -> bytes\n"
    "event kv.changed( key:string=1 )\n";

START_TEST(test_symmetric_one_sided)
{
    /* Added methods, events, namespaces, types, parameters, fields and
     * enum values, all at once: nothing to report either way. */
    static const char more[] =
        "namespace kv\n"
        "enum kv.mode SET=0 ADD=1 APPEND=2\n"
        "struct kv.entry key:string=1 value:bytes=2 ttl:int64=3\n"
        "struct kv.range from:string=1 to:string=2\n"
        "method kv.put( key:string=1 value:string=2 m:kv.mode=3 ) -> void\n"
        "method kv.get( key:string=1 ) -> bytes\n"
        "method kv.count( ) -> int64\n"
        "event kv.changed( key:string=1 )\n"
        "event kv.cleared( )\n"
        "namespace kv.admin\n"
        "method kv.admin.compact( ) -> void\n";

    expect(kv_text, more, true, 0, "");
    expect(more, kv_text, true, 0, "");
}
END_TEST

START_TEST(test_symmetric_retyped)
{
    static const char other[] =
        "namespace kv\n"
        "enum kv.mode SET=0 ADD=2\n"
        "struct kv.entry key:string=1 value:bytes=3\n"
        "method kv.put( key:string=1 value:int64=2 ) -> void\n"
        "method kv.get( key:string=1 ) -> string\n"
        "method kv.changed( key:string=1 ) -> void\n";

    expect(kv_text, other, true, 5,
           "B+ kv.mode/ADD: value 'ADD' of enum 'kv.mode' is 1 in one "
           "version and 2 in the other\n"
           "B+ kv.entry/value: field 'value' of struct 'kv.entry' is "
           "number 2 in one version and 3 in the other\n"
           "B+ kv.put/value: parameter 'value' of method 'kv.put' is "
           "string in one version and int64 in the other\n"
           "B+ kv.get/: method 'kv.get' returns bytes in one version and "
           "string in the other\n"
           "B+ kv.changed/: 'kv.changed' is an event in one version and "
           "a method in the other\n");
    /* A renamed member is safe; a number reused with another type not. */
    expect("namespace a\nstruct a.s x:int32=1 y:string=2\n",
           "namespace a\nstruct a.s xx:int32=1 z:bytes=2\n", true, 1,
           "S+ a.s/xx: field 1 of struct 'a.s' is named 'x' in one version "
           "and 'xx' in the other\n"
           "B+ a.s/z: field 2 of struct 'a.s' is 'y' of type string in one "
           "version and 'z' of type bytes in the other\n");
}
END_TEST

/* The IDL type fd: a scalar of its own, a retype either way breaks. */
START_TEST(test_fd)
{
    static const char fds[] =
        "namespace io\n"
        "struct io.sink out:fd=1 spare:optional<fd>=2 name:string=3\n"
        "method io.open( path:string=1 ) -> fd\n"
        "method io.attach( s:io.sink=1 extra:list<fd>=2 "
        "named:map<string,fd>=3 ) -> map<int32,list<fd>>\n"
        "event io.handed( f:fd=1 )\n";
    static const char ints[] =
        "namespace io\n"
        "struct io.sink out:int32=1 spare:optional<fd>=2 name:string=3\n"
        "method io.open( path:string=1 ) -> uint32\n"
        "method io.attach( s:io.sink=1 extra:list<fd>=2 "
        "named:map<string,fd>=3 ) -> map<int32,list<fd>>\n"
        "event io.handed( f:fd=1 )\n";
    int n;
    char *got;

    epy__schema_free(parse_ok(fds));
    parse_bad("struct a.s x:map<fd,int32>=1\n", 30, "map key");
    parse_bad("struct a.s x:fd<int32>=1\n", 25, "not a generic");
    got = compare(fds, fds, true, &n);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(got, "");
    free(got);
    expect(fds, ints, false, 2,
           "B+ io.sink/out: field 'out' of struct 'io.sink' changed type "
           "from fd to int32\n"
           "B+ io.open/: result of method 'io.open' changed from fd to "
           "uint32\n");
    expect(ints, fds, true, 2,
           "B+ io.sink/out: field 'out' of struct 'io.sink' is int32 in "
           "one version and fd in the other\n"
           "B+ io.open/: method 'io.open' returns uint32 in one version and "
           "fd in the other\n");
    /* Inside generics too: list<fd> against list<uint32>. */
    expect("namespace a\nmethod a.f( x:list<fd>=1 ) -> void\n",
           "namespace a\nmethod a.f( x:list<uint32>=1 ) -> void\n", false,
           1, "B+ a.f/x: parameter 'x' of method 'a.f' changed type from "
           "list<fd> to list<uint32>\n");
}
END_TEST

/* --- recursive types ----------------------------------------------------- */

START_TEST(test_recursive)
{
    /* A self-recursive and two mutually recursive types, renamed. */
    static const char old_text[] =
        "namespace t\n"
        "struct t.t name:string=1 kids:list<t.t>=2\n"
        "struct t.a b:list<t.b>=1 n:int32=2\n"
        "struct t.b a:map<string,t.a>=1\n"
        "method t.m( x:t.t=1 y:t.a=2 ) -> list<t.b>\n";
    static const char new_text[] =
        "namespace t\n"
        "struct t.u label:string=1 children:list<t.u>=2\n"
        "struct t.c d:list<t.d>=1 n:int32=2\n"
        "struct t.d c:map<string,t.c>=1\n"
        "method t.m( x:t.u=1 y:t.c=2 ) -> list<t.d>\n";
    /* The same, with one difference deep in the cycle. */
    static const char changed[] =
        "namespace t\n"
        "struct t.u label:string=1 children:list<t.u>=2\n"
        "struct t.c d:list<t.d>=1 n:int32=2\n"
        "struct t.d c:map<int32,t.c>=1\n"
        "method t.m( x:t.u=1 y:t.c=2 ) -> list<t.d>\n";

    expect(old_text, new_text, true, 0, "");
    expect(old_text, new_text, false, 0,
           "S+ t.u/: struct 't.t' was renamed to 't.u'\n"
           "S+ t.c/: struct 't.a' was renamed to 't.c'\n"
           "S+ t.d/: struct 't.b' was renamed to 't.d'\n");
    expect(old_text, changed, true, 2,
           "B+ t.m/y: parameter 'y' of method 't.m' is t.a in one version "
           "and t.c in the other\n"
           "B+ t.m/: method 't.m' returns list<t.b> in one version and "
           "list<t.d> in the other\n");
}
END_TEST

/* A chain of @n types, each holding the next: no recursion on the stack. */
static void
chain(text *t, const char *prefix, int n, bool twist)
{
    add(t, "namespace c\nmethod c.m( x:c.%s0=1 ) -> void\n", prefix);
    for (int i = 0; i < n; i++)
        add(t, "struct c.%s%d next:list<c.%s%d>=1 v:%s=2\n", prefix, i,
            prefix, i + 1 < n ? i + 1 : 0,
            twist && i == n - 1 ? "int64" : "int32");
}

START_TEST(test_long_chain)
{
    text a = { NULL, 0, 0 }, b = { NULL, 0, 0 }, c = { NULL, 0, 0 };
    int64_t start = tu_now_ms();

    chain(&a, "s", 20000, false);
    chain(&b, "r", 20000, false);
    chain(&c, "r", 20000, true);
    expect(a.data, b.data, true, 0, "");
    expect(a.data, c.data, true, 1,
           "B+ c.m/x: parameter 'x' of method 'c.m' is c.s0 in one version "
           "and c.r0 in the other\n");
    {
        /* Renames found, each pair compared about once. */
        int n;
        char *got = compare(a.data, b.data, false, &n);

        ck_assert_int_eq(n, 0);
        ck_assert_ptr_nonnull(strstr(got, "struct 'c.s19999' was renamed "
                                     "to 'c.r19999'"));
        free(got);
    }
    ck_assert_int_lt(tu_now_ms() - start, 10000 * tu_slow());
    free(a.data);
    free(b.data);
    free(c.data);
}
END_TEST

/* --- the directional comparison ------------------------------------------ */

START_TEST(test_directional)
{
    static const char other[] =
        "namespace kv\n"
        "enum kv.mode SET=0 ADD=1 APPEND=2\n"
        "struct kv.item key:string=1 value:bytes=2\n"
        "method kv.get( key:string=1 ) -> bytes\n"
        "method kv.put( key:string=1 ) -> void\n"
        "event kv.changed( key:string=1 )\n"
        "method kv.count( ) -> int64\n";
    int n;
    char *got = compare(kv_text, other, false, &n);

    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(got,
        "S+ kv.mode/APPEND: value 'APPEND' was added to enum 'kv.mode'\n"
        "S+ kv.item/: struct 'kv.entry' was renamed to 'kv.item'\n"
        "B- kv.put/value: parameter 'value' of method 'kv.put' was "
        "removed\n"
        "S+ kv.count/: method 'kv.count' was added\n");
    free(got);
    /* Removals come last, in the old order, but not what a removed
     * namespace held. */
    expect("namespace a\nmethod a.f( ) -> void\nnamespace a.b\n"
           "method a.b.g( ) -> void\nnamespace z\nevent z.e( )\n",
           "namespace z\nnamespace y\nevent y.e( )\n", false, 2,
           "S+ y/: namespace 'y' was added\n"
           "B- a/: namespace 'a' was removed\n"
           "B- z.e/: event 'z.e' was removed\n");
    /* Method and event swapped; kinds of types changed. */
    expect("namespace a\nmethod a.f( ) -> void\nstruct a.s x:int32=1\n"
           "enum a.e X=1\n",
           "namespace a\nevent a.f( )\nerror a.s x:int32=1\n"
           "struct a.e x:int32=1\n", false, 2,
           "B+ a.f/: method 'a.f' became an event\n"
           "S+ a.s/: struct 'a.s' became an error\n"
           "B+ a.e/: enum 'a.e' became a struct\n");
}
END_TEST

/* --- hostile texts ------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t) (rng >> 32);
}

START_TEST(test_mutations)
{
    static const char alphabet[] = " \n()<>,:=.-_azAZ09";
    epy__schema *base = parse_ok(calc_text);
    size_t n = sizeof calc_text - 1;
    char *buf = malloc(2 * n);
    int parsed = 0;

    ck_assert_ptr_nonnull(buf);
    for (int iter = 0; iter < 10000; iter++) {
        size_t len = n;
        epy__schema *s = NULL;
        char why[128];

        memcpy(buf, calc_text, n);
        for (uint32_t k = 0, m = 1 + rnd() % 4; k < m; k++) {
            size_t at = rnd() % len;
            uint32_t op = rnd() % 4;
            char c = op == 0 ? (char) rnd()
                             : alphabet[rnd() % (sizeof alphabet - 1)];

            if (op <= 1) {
                buf[at] = c;                       /* replace */
            } else if (op == 2 && len + 1 < 2 * n) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = c;                       /* insert */
                len++;
            } else if (len > 1) {
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;                             /* delete */
            }
        }
        if (rnd() % 16 == 0)
            len = rnd() % len;                     /* truncate */
        if (epy__schema_parse(buf, len, &s, why, sizeof why) == 0) {
            parsed++;
            ck_assert_int_ge(epy__schema_compare(base, s, true, NULL, NULL),
                             0);
            ck_assert_int_ge(epy__schema_compare(s, base, false, NULL,
                                                 NULL), 0);
            epy__schema_free(s);
        } else {
            ck_assert_ptr_null(s);
            ck_assert_uint_gt(strlen(why), 0);
        }
    }
    /* Both outcomes were exercised. */
    ck_assert_int_gt(parsed, 100);
    ck_assert_int_lt(parsed, 9900);
    free(buf);
    epy__schema_free(base);
}
END_TEST

static Suite *
schema_suite(void)
{
    Suite *s = suite_create("schema");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_valid);
    tcase_add_test(tc, test_parse_garbage);
    tcase_add_test(tc, test_parse_bounds);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("compare");
    tcase_add_test(tc, test_symmetric_one_sided);
    tcase_add_test(tc, test_symmetric_retyped);
    tcase_add_test(tc, test_fd);
    tcase_add_test(tc, test_recursive);
    tcase_add_test(tc, test_long_chain);
    tcase_add_test(tc, test_directional);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_test(tc, test_mutations);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(schema_suite());
}
