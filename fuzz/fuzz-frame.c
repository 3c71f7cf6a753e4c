/*
 * Fuzz target: the frame decoder and dispatcher. Arbitrary bytes are
 * handled as frames arriving from the other end of a connection (length
 * prefixes, envelopes, hellos, calls to handled and unhandled methods,
 * replies to unknown transactions, compressed payloads...). The first
 * input byte chooses whether the hello counts as received.
 *
 * Built with libFuzzer by `./configure --enable-fuzzing` (make fuzz), and
 * with a plain driver over the seed corpus in `make check`.
 */
#include <config.h>

#include <stdlib.h>

#include "peer-int.h"

static epy_peer *peer;

static int
echo(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_reply(call, req, len);
}

static int
fail(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) ctx;
    return epy_call_fail(call, EPY_EFAILED, "f.oops", "failed", req, len);
}

static int
defer(epy_call *call, const uint8_t *req, size_t len, void *ctx)
{
    (void) req;
    (void) len;
    (void) ctx;
    epy_call_reply(call, NULL, 0);
    return EPY_DEFER;
}

static void
setup(void)
{
    epy_peer_config cfg = EPY_PEER_CONFIG_INIT;
    epy__transport *tr = epy__transport_null_new();

    cfg.workers = 2;
    cfg.max_frame = 1 << 20;
    cfg.compress_threshold = 64;    /* accept compressed payloads */
    if (tr == NULL || epy__peer_new_transport(tr, &cfg, &peer, NULL) < 0)
        abort();
    epy_peer_handle(peer, "f.echo", echo, NULL, NULL);
    epy_peer_handle(peer, "f.fail", fail, NULL, NULL);
    epy_peer_handle(peer, "f.defer", defer, NULL, NULL);
    epy_peer_handle_ns(peer, "g", echo, NULL, NULL);
    epy_peer_serve_ns(peer, "h", true, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

void
fuzz_cleanup(void)
{
    peer = epy_peer_close(peer);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (peer == NULL)
        setup();
    if (size == 0)
        return 0;
    epy__peer_set_hello(peer, data[0] & 1);
    /* The remote end's zlib flag follows the hello's; let bit 1 set it. */
    atomic_store(&peer->remote_zlib, (data[0] & 2) != 0);
    epy__peer_feed(peer, data + 1, size - 1);
    return 0;
}
