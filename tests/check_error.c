/*
 * Status codes, messages and epy_error; the library version.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <epyrpc/epyrpc.h>

#include "testutil.h"

/* Every code of the table, from the table itself. */
static const struct {
    int code;
    const char *name;
    const char *msg;
} codes[] = {
#define ROW_(name, num, msg) { (num), "EPY_" #name, (msg) },
    EPY_STATUS_TABLE(ROW_)
#undef ROW_
};
#define NCODES (sizeof codes / sizeof codes[0])

START_TEST(test_strerror_every_code)
{
    for (size_t i = 0; i < NCODES; i++) {
        ck_assert_str_eq(epy_strerror(codes[i].code), codes[i].msg);
        ck_assert_str_eq(epy_status_name(codes[i].code), codes[i].name);
        ck_assert_ptr_nonnull(epy_strerror(codes[i].code));
    }
    ck_assert_str_eq(epy_strerror(EPY_ETIMEDOUT), "call timed out");
    ck_assert_str_eq(epy_status_name(EPY_EUNSUPPORTED), "EPY_EUNSUPPORTED");
}
END_TEST

START_TEST(test_codes_distinct_and_stable)
{
    /* The numbers travel in error frames: they must never change. */
    ck_assert_int_eq(EPY_OK, 0);
    ck_assert_int_eq(EPY_EPARAM, -1);
    ck_assert_int_eq(EPY_EUNKNOWN, -2);
    ck_assert_int_eq(EPY_EUNSUPPORTED, -3);
    ck_assert_int_eq(EPY_EFAILED, -4);
    ck_assert_int_eq(EPY_ETIMEDOUT, -5);
    ck_assert_int_eq(EPY_EDISCONNECTED, -6);
    ck_assert_int_eq(EPY_ECLOSED, -11);
    ck_assert_int_eq(EPY_EINVAL, EPY_EPARAM);
    for (size_t i = 0; i < NCODES; i++) {
        ck_assert_int_le(codes[i].code, 0);
        for (size_t j = i + 1; j < NCODES; j++) {
            ck_assert_int_ne(codes[i].code, codes[j].code);
            ck_assert_str_ne(codes[i].msg, codes[j].msg);
        }
    }
}
END_TEST

START_TEST(test_unknown_codes)
{
    ck_assert_str_eq(epy_strerror(-9999), "unknown error");
    ck_assert_str_eq(epy_strerror(-1000000), "unknown error");
    ck_assert_str_eq(epy_status_name(-9999), "EPY_E?");
    ck_assert_str_eq(epy_strerror(5), "success");
    ck_assert_str_eq(epy_status_name(7), "EPY_OK");
    ck_assert_str_eq(epy_strerror(EPY_STATUS_MIN_ - 1), "unknown error");
}
END_TEST

START_TEST(test_error_set_and_clear)
{
    epy_error err = EPY_ERROR_INIT;

    ck_assert_int_eq(epy_error_set(&err, EPY_EBUSY, NULL), EPY_EBUSY);
    ck_assert_int_eq(err.code, EPY_EBUSY);
    ck_assert_str_eq(err.message, "resource busy");
    ck_assert_int_eq(epy_error_setf(&err, EPY_EPROTO, "frame %d of %s", 3,
                                    "x"), EPY_EPROTO);
    ck_assert_str_eq(err.message, "frame 3 of x");
    ck_assert_int_eq(err.code, EPY_EPROTO);
    epy_error_clear(&err);
    ck_assert_ptr_null(err.message);
    ck_assert_int_eq(err.code, 0);
    epy_error_clear(&err);      /* twice is fine */
    epy_error_clear(NULL);
    ck_assert_int_eq(epy_error_set(NULL, EPY_ENOMEM, "x"), EPY_ENOMEM);
}
END_TEST

START_TEST(test_error_copy)
{
    epy_error a = EPY_ERROR_INIT, b = EPY_ERROR_INIT;
    static const uint8_t bytes[] = { 0, 1, 2, 0, 3 };

    epy_error_set(&a, EPY_EFAILED, "divide by zero");
    a.type = strdup("calc.divide_by_zero");
    a.payload = malloc(sizeof bytes);
    memcpy(a.payload, bytes, sizeof bytes);
    a.payload_len = sizeof bytes;
    a.sys_errno = 5;
    ck_assert_int_eq(epy_error_copy(&b, &a), 0);
    ck_assert_int_eq(b.code, EPY_EFAILED);
    ck_assert_str_eq(b.message, "divide by zero");
    ck_assert_str_eq(b.type, "calc.divide_by_zero");
    ck_assert_uint_eq(b.payload_len, sizeof bytes);
    ck_assert_mem_eq(b.payload, bytes, sizeof bytes);
    ck_assert_ptr_ne(b.payload, a.payload);
    ck_assert_int_eq(b.sys_errno, 5);
    ck_assert_int_eq(epy_error_copy(&b, &b), 0);
    ck_assert_int_eq(epy_error_copy(NULL, &a), EPY_EPARAM);
    epy_error_clear(&a);
    epy_error_clear(&b);
}
END_TEST

START_TEST(test_version)
{
    ck_assert_str_eq(epy_version(), EPY_VERSION_STRING);
    ck_assert_str_eq(epy_version(), PACKAGE_VERSION);
    ck_assert_int_eq(epy_version_number(), EPY_VERSION_NUMBER);
}
END_TEST

static Suite *
error_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, tu_setup_resources, tu_teardown_resources);
    tcase_add_test(tc, test_strerror_every_code);
    tcase_add_test(tc, test_error_set_and_clear);
    tcase_add_test(tc, test_error_copy);
    tcase_add_test(tc, test_version);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_codes_distinct_and_stable);
    tcase_add_test(tc, test_unknown_codes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run_suite(error_suite());
}
