/*
 * libepyrpc: declarations shared by the runtime's modules. Never
 * installed.
 */
#ifndef EPYRPC_RUNTIME_INT_H
#define EPYRPC_RUNTIME_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <epyrpc/epyrpc.h>

#endif /* EPYRPC_RUNTIME_INT_H */
