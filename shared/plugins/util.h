/* Helpers for plugin schema files: value tests shared by their entity checks, Kong's checks
 * over nested paths that schema.h's gw_echeck_* cannot follow, the entry checks of the
 * transformer plugins, and deprecated-alias shorthands. Used at validation time, from any
 * thread. */
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

/* "'a', 'b.c'": Kong's quoted_list() of a NULL-terminated list. */
void gw_plugin_util_quoted(char *buf, size_t len, const char *const *fields);

/* Kong's mutually_required over dotted paths of rec ("auth.header_name"), which
 * gw_echeck_mutually_required() cannot follow (it looks up the last part only). The list
 * ends with NULL. Returns 1 when the check passed, 0 after reporting. */
int gw_plugin_util_mutually_required(struct gw_vctx *ctx, const struct gw_record *r,
                                     const struct gw_val *rec, const char *const *fields);

/* Element checks for the "name:value" entries of request-transformer and
 * response-transformer headers. An entry splits as Kong's pattern ^([^:]+):*(.-)$ does (the
 * name runs to the first ':', every ':' after it is skipped); header names follow
 * kong.tools.http.validate_header_name (A-Z, a-z, 0-9, '-', '_'), values its
 * validate_header_value. Messages are Kong's: "'<part>' is not a valid header", and
 * "invalid value: <entry>" for a missing ':' (its match = "^[^:]+:.*$"). */
gw_check_fn gw_plugin_util_check_header_name;  /* the name part is a header name */
gw_check_fn gw_plugin_util_check_header_value; /* "name:value": header name and value */
gw_check_fn gw_plugin_util_check_header_pair;  /* "old:new": two header names */
gw_check_fn gw_plugin_util_check_colon;        /* "name:anything" */


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
 * new object from ctx->scratch (ctx->arena when NULL) that shares in's values; NULL after
 * reporting a conflict on the alias's name. */
const struct gw_val *gw_plugin_util_aliases(struct gw_vctx *ctx, const struct gw_val *in,
                                            const struct gw_plugin_alias *aliases);

#endif
