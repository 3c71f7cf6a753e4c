/*
 * idlc: the settings of namespaces, methods and events (timeouts,
 * async, unsolicited, compression) and how they are inherited. Part of
 * the semantic checks (sema.c).
 */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "idlc-int.h"
#include "sema-int.h"

/* --- settings ------------------------------------------------------------ */

static const char *const setting_names[] = {
    "timeout", "sync", "async", "solicited", "unsolicited", NULL
};

/* Applies the entries @opts to @s; @event refuses `solicited`. */
void
idlc__apply_settings(idlc_ctx *ctx, idlc_opt *opts, idlc_settings *s, bool event)
{
    idlc_loc seen_timeout = { NULL, 0, 0 };
    const char *seen_mode = NULL, *seen_sol = NULL;

    for (idlc_opt *o = opts; o != NULL; o = o->next) {
        if (strcmp(o->name, "timeout") == 0) {
            int64_t ms;

            if (seen_timeout.src != NULL) {
                idlc_error(ctx, o->loc, "'timeout' is set twice");
                continue;
            }
            seen_timeout = o->loc;
            if (!o->has_value) {
                idlc_error(ctx, o->loc, "'timeout' needs a value, as in "
                           "'timeout = 2s'");
                continue;
            }
            if (o->value_is_word) {
                if (strcmp(o->word, "forever") != 0) {
                    idlc_error(ctx, o->value_loc, "invalid timeout '%s'; "
                               "use a number with a unit (ms, s, m), 0 or "
                               "'forever'", o->word);
                    continue;
                }
                ms = 0;
            } else {
                const char *u = o->num.suffix;
                uint64_t mult;

                if (o->num.overflow && u[0] == '\0' && o->num.value == 0) {
                    ms = 0;
                } else if (o->num.overflow) {
                    idlc_error(ctx, o->value_loc, "timeout out of range "
                               "(0 to 24 h)");
                    continue;
                }
                if (strcmp(u, "ms") == 0) {
                    mult = 1;
                } else if (strcmp(u, "s") == 0) {
                    mult = 1000;
                } else if (strcmp(u, "m") == 0) {
                    mult = 60000;
                } else if (u[0] == '\0') {
                    if (o->num.value != 0) {
                        idlc_error(ctx, o->value_loc, "timeout needs a unit: "
                                   "'%" PRIu64 "ms', '%" PRIu64 "s' or '%"
                                   PRIu64 "m'", o->num.value, o->num.value,
                                   o->num.value);
                        continue;
                    }
                    mult = 1;
                } else {
                    idlc_error(ctx, o->value_loc, "unknown time unit '%s' "
                               "(use ms, s or m)", u);
                    continue;
                }
                if (o->num.value > (uint64_t) IDLC_MAX_TIMEOUT_MS / mult) {
                    idlc_error(ctx, o->value_loc, "timeout is longer than "
                               "24 h");
                    continue;
                }
                ms = (int64_t) (o->num.value * mult);
            }
            if (event) {
                idlc_error(ctx, o->loc, "events take no timeout: they are "
                           "never answered");
                continue;
            }
            s->timeout_ms = ms;
        } else if (strcmp(o->name, "sync") == 0
                   || strcmp(o->name, "async") == 0
                   || strcmp(o->name, "solicited") == 0
                   || strcmp(o->name, "unsolicited") == 0) {
            bool mode = o->name[0] == 's' && o->name[1] == 'y'
                        ? true : strcmp(o->name, "async") == 0;
            const char **seen = mode ? &seen_mode : &seen_sol;

            if (o->has_value) {
                idlc_error(ctx, o->value_loc, "'%s' takes no value", o->name);
                continue;
            }
            if (*seen != NULL) {
                if (strcmp(*seen, o->name) == 0)
                    idlc_error(ctx, o->loc, "'%s' is set twice", o->name);
                else
                    idlc_error(ctx, o->loc, "'%s' conflicts with '%s'",
                               o->name, *seen);
                continue;
            }
            *seen = o->name;
            if (mode) {
                if (event) {
                    idlc_error(ctx, o->loc, "events are sent, never called: "
                               "'%s' does not apply", o->name);
                    continue;
                }
                s->async = strcmp(o->name, "async") == 0;
            } else {
                if (event && strcmp(o->name, "solicited") == 0) {
                    idlc_error(ctx, o->loc, "events are always unsolicited");
                    continue;
                }
                s->solicited = strcmp(o->name, "solicited") == 0;
            }
        } else {
            suggest sg = { o->name, (size_t) -1, NULL, NULL };

            for (size_t i = 0; setting_names[i] != NULL; i++)
                idlc__consider(&sg, setting_names[i], NULL);
            if (sg.name != NULL)
                idlc_error(ctx, o->loc, "unknown setting '%s'; did you mean "
                           "'%s'?", o->name, sg.name);
            else
                idlc_error(ctx, o->loc, "unknown setting '%s' (expected "
                           "timeout, sync, async, solicited or unsolicited)",
                           o->name);
        }
    }
}

/* The `unsolicited` of @opts, or NULL. */
static const idlc_opt *
find_unsolicited(const idlc_opt *opts)
{
    for (; opts != NULL; opts = opts->next)
        if (strcmp(opts->name, "unsolicited") == 0)
            return opts;
    return NULL;
}

/*
 * Method @d returns a value but is unsolicited: its plain stub would send
 * an event, and the result could never arrive. An error at the method,
 * with a note where the setting comes from.
 */
void
idlc__unsolicited_result(idlc_ctx *ctx, idlc_decl *d)
{
    const idlc_opt *o = find_unsolicited(d->opts);

    idlc_error(ctx, d->loc, "method '%s' returns a value but is unsolicited: "
               "its result would never arrive; make it solicited, void, or "
               "an event", d->qname);
    for (const idlc_decl *ns = d->parent; o == NULL && ns != NULL
         && ns != &ctx->root; ns = ns->parent) {
        o = find_unsolicited(ns->defaults);
        if (o != NULL)
            idlc_note(ctx, o->loc, "the defaults of namespace '%s' make it "
                      "unsolicited", ns->qname);
    }
}

void
idlc__inherit(idlc_settings *eff, const idlc_settings *own,
        const idlc_settings *up)
{
    eff->timeout_ms = own->timeout_ms >= 0 ? own->timeout_ms
                      : up->timeout_ms;
    eff->async = own->async >= 0 ? own->async : up->async;
    eff->solicited = own->solicited >= 0 ? own->solicited : up->solicited;
}
