/*
 * The hello: what each end announces (protocol version, interfaces with
 * their fingerprints and descriptions, compression, frame limit) and
 * how the other end's hello is checked.
 *
 * Interfaces both ends announce are compared: equal fingerprints agree
 * at once; different ones are compared by their descriptions (schema.c)
 * in the symmetric mode, since neither end can tell which version is
 * older. A breaking difference in what both have (a parameter or field
 * retyped or renumbered, a result changed, a method turned into an
 * event) refuses the connection with EPY_EVERSION and a message naming
 * it; additions on either side are accepted (a call of a method the
 * other side lacks is answered EPY_EUNSUPPORTED). Without the other
 * end's description (an older peer), different fingerprints refuse.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn-int.h"
#include "schema.h"

/* @in's description: its pieces joined, or "" without one. */
static char *
join_text(const epy_interface *in)
{
    size_t n = 0;
    char *s;

    for (size_t i = 0; in->text != NULL && in->text[i] != NULL; i++)
        n += strlen(in->text[i]);
    s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    n = 0;
    for (size_t i = 0; in->text != NULL && in->text[i] != NULL; i++) {
        size_t k = strlen(in->text[i]);

        memcpy(s + n, in->text[i], k);
        n += k;
    }
    s[n] = '\0';
    return s;
}

int
epy__hello_init(epy_peer *peer, const epy_peer_config *cfg)
{
    size_t n = cfg->n_interfaces;

    peer->hello_ifaces = calloc(n + 1, sizeof (char *));
    peer->hello_descs = calloc(n + 1, sizeof (char *));
    if (peer->hello_ifaces == NULL || peer->hello_descs == NULL)
        return EPY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const epy_interface *in = &cfg->interfaces[i];
        size_t len = strlen(in->name) + strlen(in->fingerprint) + 2;

        peer->hello_ifaces[i] = malloc(len);
        peer->hello_descs[i] = join_text(in);
        peer->n_hello_ifaces++;
        if (peer->hello_ifaces[i] == NULL || peer->hello_descs[i] == NULL)
            return EPY_ENOMEM;
        snprintf(peer->hello_ifaces[i], len, "%s=%s", in->name,
                 in->fingerprint);
    }
    return 0;
}

void
epy__hello_free(epy_peer *peer)
{
    for (size_t i = 0; i < peer->n_hello_ifaces; i++) {
        free(peer->hello_ifaces[i]);
        if (peer->hello_descs != NULL)
            free(peer->hello_descs[i]);
    }
    free(peer->hello_ifaces);
    free(peer->hello_descs);
}

/* The first breaking finding, kept for the message. */
typedef struct first_break {
    char text[384];
    bool found;
} first_break;

static void
on_finding(const epy__compat_finding *f, void *ctx)
{
    first_break *b = ctx;

    if (f->severity != EPY__COMPAT_BREAKING || b->found)
        return;
    b->found = true;
    snprintf(b->text, sizeof b->text, "%s", f->message);
}

/*
 * Interface @name is announced by both ends with different fingerprints:
 * compares @ours and @theirs (descriptions; either may be empty).
 * Returns 0 (compatible, logged) or EPY_EVERSION with @why.
 */
static int
compare(epy_peer *peer, const char *name, const char *fp_ours,
        const char *fp_theirs, const char *ours, const char *theirs,
        char *why, size_t whylen)
{
    epy__schema *a = NULL, *b = NULL;
    first_break brk = { "", false };
    char perr[160] = "";
    int n, rc;

    if (ours[0] == '\0' || theirs[0] == '\0') {
        snprintf(why, whylen, "interface '%s' differs: fingerprint %s here, "
                 "%s there, and %s end does not describe it", name, fp_ours,
                 fp_theirs, ours[0] == '\0' ? "this" : "the other");
        return EPY_EVERSION;
    }
    rc = epy__schema_parse(ours, strlen(ours), &a, perr, sizeof perr);
    if (rc == 0)
        rc = epy__schema_parse(theirs, strlen(theirs), &b, perr,
                               sizeof perr);
    if (rc == -2) {
        n = EPY_ENOMEM;
        snprintf(why, whylen, "out of memory comparing interface '%s'",
                 name);
    } else if (rc < 0) {
        n = EPY_EVERSION;
        snprintf(why, whylen, "interface '%s': %s end's description does "
                 "not parse: %s", name, b == NULL && a != NULL ? "the other"
                 : "this", perr);
    } else {
        n = epy__schema_compare(a, b, true, on_finding, &brk);
        if (n == -2) {
            n = EPY_ENOMEM;
            snprintf(why, whylen, "out of memory comparing interface '%s'",
                     name);
        } else if (n > 0) {
            n = EPY_EVERSION;
            snprintf(why, whylen, "interface '%s' is incompatible with the "
                     "other end's: %s", name, brk.text);
        } else {
            epy__log(peer, EPY_LOG_INFO, "interface '%s' differs from the "
                     "other end's (fingerprint %s here, %s there), "
                     "compatibly", name, fp_ours, fp_theirs);
        }
    }
    epy__schema_free(a);
    epy__schema_free(b);
    return n;
}

int
epy__hello_check(epy_peer *peer, const Epyrpc__Hello *h, char *why,
                 size_t whylen)
{
    bool *seen;
    int rc = 0;

    if (h == NULL) {
        snprintf(why, whylen, "hello frame without a hello");
        return EPY_EPROTO;
    }
    if (h->version != EPY_PROTOCOL_VERSION) {
        snprintf(why, whylen, "the other end speaks protocol %u, this one %d",
                 h->version, EPY_PROTOCOL_VERSION);
        return EPY_EVERSION;
    }
    /* Each of ours is matched once: a name announced twice is refused. */
    seen = calloc(peer->n_hello_ifaces + 1, sizeof *seen);
    if (seen == NULL)
        return EPY_ENOMEM;
    for (size_t i = 0; i < h->n_interfaces && rc == 0; i++) {
        const char *theirs = h->interfaces[i];
        const char *eq = strchr(theirs, '=');
        size_t nlen = eq != NULL ? (size_t) (eq - theirs) : strlen(theirs);

        for (size_t j = 0; j < peer->n_hello_ifaces && rc == 0; j++) {
            const char *ours = peer->hello_ifaces[j];
            char name[EPY_NAME_MAX + 1];

            if (strncmp(ours, theirs, nlen) != 0 || ours[nlen] != '=')
                continue;
            snprintf(name, sizeof name, "%.*s", (int) nlen, theirs);
            if (seen[j]) {
                snprintf(why, whylen, "interface '%s' announced twice", name);
                rc = EPY_EPROTO;
                break;
            }
            seen[j] = true;
            if (strcmp(ours, theirs) != 0)
                rc = compare(peer, name, ours + nlen + 1,
                             eq != NULL ? eq + 1 : "(none)",
                             peer->hello_descs[j],
                             i < h->n_descriptions ? h->descriptions[i] : "",
                             why, whylen);
        }
    }
    free(seen);
    if (rc < 0)
        return rc;
    atomic_store(&peer->remote_zlib, h->has_zlib && h->zlib);
    atomic_store(&peer->remote_fds, h->has_fds && h->fds);
    atomic_store(&peer->remote_blob_limit,
                 h->has_fds && h->fds && h->has_blob_limit
                     && h->blob_limit < SIZE_MAX ? (size_t) h->blob_limit : 0);
    if (h->has_max_frame && h->max_frame > 0 && h->max_frame < SIZE_MAX)
        atomic_store(&peer->remote_max_frame, (size_t) h->max_frame);
    return 0;
}
