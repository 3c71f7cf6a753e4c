/*
 * Status codes and epy_error: the one table in <epyrpc/error.h> feeds
 * both the messages and the symbolic names.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-int.h"

const char *
epy_strerror(int code)
{
    switch (code) {
#define EPY_STATUS_MSG_(name, num, msg) case (num): return (msg);
    EPY_STATUS_TABLE(EPY_STATUS_MSG_)
#undef EPY_STATUS_MSG_
    default:
        return code > 0 ? "success" : "unknown error";
    }
}

const char *
epy_status_name(int code)
{
    switch (code) {
#define EPY_STATUS_NAME_(name, num, msg) case (num): return "EPY_" #name;
    EPY_STATUS_TABLE(EPY_STATUS_NAME_)
#undef EPY_STATUS_NAME_
    default:
        return code > 0 ? "EPY_OK" : "EPY_E?";
    }
}

/*
 * When a message cannot be allocated, epy_error->message points at one
 * of the static strings of the table; epy_error_clear() must then not
 * free it. The static strings are recognised by address.
 */
static bool
is_static_message(const char *s)
{
    if (s == NULL)
        return false;
#define EPY_STATUS_CMP_(name, num, msg) if (s == epy_strerror(num)) return true;
    EPY_STATUS_TABLE(EPY_STATUS_CMP_)
#undef EPY_STATUS_CMP_
    return s == epy_strerror(1) || s == epy_strerror(-1000);
}

void
epy_error_clear(epy_error *err)
{
    if (err == NULL)
        return;
    if (!is_static_message(err->message))
        free(err->message);
    free(err->type);
    free(err->payload);
    *err = (epy_error) EPY_ERROR_INIT;
}

int
epy_error_set(epy_error *err, int code, const char *message)
{
    if (err == NULL)
        return code;
    epy_error_clear(err);
    err->code = code;
    err->message = message != NULL ? strdup(message) : NULL;
    if (err->message == NULL)
        err->message = (char *) epy_strerror(code);
    return code;
}

int
epy_error_setf(epy_error *err, int code, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (err == NULL)
        return code;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return epy_error_set(err, code, buf);
}

int
epy_error_copy(epy_error *dst, const epy_error *src)
{
    if (dst == NULL || src == NULL)
        return EPY_EPARAM;
    if (dst == src)
        return 0;
    epy_error_set(dst, src->code, src->message);
    dst->sys_errno = src->sys_errno;
    if (src->type != NULL && (dst->type = strdup(src->type)) == NULL)
        return EPY_ENOMEM;
    if (src->payload != NULL) {
        dst->payload = malloc(src->payload_len ? src->payload_len : 1);
        if (dst->payload == NULL)
            return EPY_ENOMEM;
        memcpy(dst->payload, src->payload, src->payload_len);
        dst->payload_len = src->payload_len;
    }
    return 0;
}
