/* Helpers for plugin schema files: value tests shared by their entity checks, Kong's checks
 * in the forms schema.h's gw_echeck_* cannot give (field paths with a "config." prefix or with
 * dots), and deprecated-alias shorthands. Used at validation time, from any thread. */
#ifndef GW_PLUGIN_UTIL_H
#define GW_PLUGIN_UTIL_H

#include <stddef.h>

#include "../schema.h"

/* Kong's is_nonempty(): not absent or null, and not "", [] or {}. */
int gw_plugin_util_nonempty(const struct gw_val *v);

/* 1 when v is a string equal to s. */
int gw_plugin_util_streq(const struct gw_val *v, const char *s);

/* 1 with *out set when v is a number (integer or not). */
int gw_plugin_util_number(const struct gw_val *v, double *out);

/* Value at a dotted path ("model.options.upstream_url") under rec, a validated record of r;
 * NULL when a step is unknown or not a record. */
const struct gw_val *gw_plugin_util_get(const struct gw_record *r, const struct gw_val *rec,
                                        const char *path);

/* "'config.a', 'config.b'": Kong's quoted_list() of fields, each prefixed by prefix. */
void gw_plugin_util_quoted(char *buf, size_t len, const char *prefix, const char *const *fields);

/* Kong's at_least_one_of, only_one_of and mutually_required entity checks over dotted paths
 * of rec; messages name the fields with prefix ("config." for the checks Kong declares on
 * the plugin entity, "" for those it declares on the config record). Field lists end with
 * NULL. Each returns 1 when the check passed, 0 when it reported an error. */
int gw_plugin_util_at_least_one_of(struct gw_vctx *ctx, const struct gw_record *r,
                                   const struct gw_val *rec, const char *prefix,
                                   const char *const *fields);
int gw_plugin_util_only_one_of(struct gw_vctx *ctx, const struct gw_record *r,
                               const struct gw_val *rec, const char *prefix,
                               const char *const *fields);
int gw_plugin_util_mutually_required(struct gw_vctx *ctx, const struct gw_record *r,
                                     const struct gw_val *rec, const char *prefix,
                                     const char *const *fields);

/* A deprecated config field that Kong still accepts and moves elsewhere before validation
 * (its shorthand_fields). Tables end with {.name = NULL}. */
struct gw_plugin_alias {
    const char *name;   /* the old field: "redis_host" */
    const char *record; /* record field that receives it ("redis"), or NULL: same record */
    const char *field;  /* the new field: "host" */
    int strict;         /* both given with different values is an error (Kong's replaced_with) */
};

/* Rewrites in (the config object) for gw_record.shorthand: removes every alias, copying its
 * value to the new field unless that one is set. Returns in when no alias is given, else a
 * new object from ctx->arena; NULL after reporting a conflict on the alias's name. */
const struct gw_val *gw_plugin_util_aliases(struct gw_vctx *ctx, const struct gw_val *in,
                                            const struct gw_plugin_alias *aliases);

#endif
