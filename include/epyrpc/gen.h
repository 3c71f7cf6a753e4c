/*
 * epyrpc: support for the code idlc generates. Not for direct use.
 */
#ifndef EPYRPC_GEN_H
#define EPYRPC_GEN_H

#include <epyrpc/epyrpc.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif /* EPYRPC_GEN_H */
