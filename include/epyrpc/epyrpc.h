/*
 * epyrpc: typed remote calls between processes. The umbrella header:
 * includes every public header (gen.h, for generated code, excepted).
 */
#ifndef EPYRPC_EPYRPC_H
#define EPYRPC_EPYRPC_H

#include <epyrpc/version.h>
#include <epyrpc/error.h>
#include <epyrpc/types.h>
#include <epyrpc/peer.h>
#include <epyrpc/client.h>
#include <epyrpc/server.h>
#include <epyrpc/net.h>
#include <epyrpc/loop.h>

#endif /* EPYRPC_EPYRPC_H */
