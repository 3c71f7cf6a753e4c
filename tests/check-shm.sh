#!/bin/sh
# The runtime suites again, over shared memory: EPYRPC_SHM=1 makes every
# peer on a unix socket or socketpair offer it (doc/runtime.md), so the
# suites' links, pairs of sockets and servers move their frames through
# the rings; in-process pairs and TCP keep their transports. SHM=1 makes
# check_fds assert that the rings are in use.
set -u
EPYRPC_SHM=1
SHM=1
export EPYRPC_SHM SHM
rc=0
for t in tests/check_peer tests/check_call tests/check_call_errors \
         tests/check_api tests/check_handler \
         tests/check_concurrency tests/check_readown tests/check_server \
         tests/check_loop tests/check_stalls tests/check_hostile \
         tests/check_builtin tests/idlc/check_e2e \
         tests/idlc/check_typed_server tests/idlc/check_fds; do
    echo "== $t over shared memory"
    ./$t || rc=1
done
exit $rc
