/*
 * epyrpc: typed remote calls between processes. The umbrella header:
 * includes every public header.
 */
#ifndef EPYRPC_EPYRPC_H
#define EPYRPC_EPYRPC_H

#include <epyrpc/version.h>
#include <epyrpc/error.h>

#endif /* EPYRPC_EPYRPC_H */
