/*
 * The run-time library version.
 */
#include <config.h>

#include "runtime-int.h"

const char *
epy_version(void)
{
    return EPY_VERSION_STRING;
}

int
epy_version_number(void)
{
    return EPY_VERSION_NUMBER;
}
