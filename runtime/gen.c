/*
 * Support for the code idlc generates.
 */
#include <config.h>

#include <epyrpc/gen.h>
