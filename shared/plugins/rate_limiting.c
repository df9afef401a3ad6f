/* rate-limiting: fixed-window request limits per consumer, credential, IP, service, header or
 * path (Kong priority 910).
 *
 * Kong's rules come from two places and are kept apart below: the config record's
 * custom_validator (a longer period may not have a smaller limit; sync_rate only with redis),
 * whose message Kong reports as the value of "config", and the plugin entity's checks (at
 * least one period; redis host, port and timeout with the redis policy; header_name and path
 * for those limit_by values), whose messages name 'config.<field>'. */
#include <stdio.h>

#include "../plugin_schema.h"
#include "redis.h"
#include "util.h"

#define SYNC_RATE_REALTIME (-1.0)

static const char *const periods[] = {"second", "minute", "hour", "day", "month", "year", NULL};

/* the same, as Kong's plugin entity check names them */
static const char *const config_periods[] = {"config.second", "config.minute", "config.hour",
                                             "config.day",    "config.month",  "config.year",
                                             NULL};

static const char *const limit_by_values[] = {"consumer", "credential", "ip", "service",
                                              "header",   "path",       NULL};

/* Kong drops "cluster" when database = off or role = control_plane (is_dbless() in its
 * schema.lua). Tollgate only runs in those two shapes, DB-less data planes or a control
 * plane, and its data planes have no database to count in, so it never offers it. */
static const char *const policies[] = {"local", "redis", NULL};

static const char *const redis_needs[] = {"host", "port", "timeout", NULL};

static struct gw_field fields[] = {
    {.name = "second", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "minute", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "hour", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "day", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "month", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "year", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "limit_by", .type = GW_T_STRING, .dflt = "\"consumer\"", .one_of = limit_by_values},
    {.name = "header_name", .type = GW_T_STRING, .check = gw_check_header_name},
    {.name = "path", .type = GW_T_STRING, .check = gw_check_path},
    /* Kong: len_min = 0 */
    {.name = "policy", .type = GW_T_STRING, .flags = GW_F_EMPTY_OK, .dflt = "\"local\"",
     .one_of = policies},
    {.name = "fault_tolerant", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    {.name = "redis", .type = GW_T_RECORD, .record = &gw_plugin_redis_record},
    {.name = "hide_client_headers", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "error_code", .type = GW_T_NUMBER, .flags = GW_F_GT, .dflt = "429", .min = 0},
    {.name = "error_message", .type = GW_T_STRING, .dflt = "\"API rate limit exceeded\""},
    /* seconds between flushes to Redis; -1: synchronous */
    {.name = "sync_rate", .type = GW_T_NUMBER, .flags = GW_F_REQUIRED, .dflt = "-1"},
    {.name = NULL},
};

/* Kong's validate_periods_order(): NULL, or the message in buf. */
static const char *
periods_order(const struct gw_record *r, const struct gw_val *rec, char *buf, size_t len)
{
    for (size_t i = 0; periods[i] != NULL; i++) {
        double lower;

        if (!gw_plugin_util_number(gw_rec_get(r, rec, periods[i]), &lower)) {
            continue;
        }
        for (size_t j = i + 1; periods[j] != NULL; j++) {
            double upper;

            if (gw_plugin_util_number(gw_rec_get(r, rec, periods[j]), &upper) && upper < lower) {
                snprintf(buf, len,
                         "The limit for %s(%.1f) cannot be lower than the limit for %s(%.1f)",
                         periods[j], upper, periods[i], lower);
                return buf;
            }
        }
    }
    return NULL;
}

/* The config record's custom_validator. */
static const char *
validate(const struct gw_record *r, const struct gw_val *rec, char *buf, size_t len)
{
    const struct gw_val *policy = gw_rec_get(r, rec, "policy");
    const char *err = periods_order(r, rec, buf, len);
    double sync_rate;

    if (err != NULL) {
        return err;
    }
    if (!gw_plugin_util_number(gw_rec_get(r, rec, "sync_rate"), &sync_rate)) {
        return NULL;
    }
    if (!gw_plugin_util_streq(policy, "redis") && sync_rate != SYNC_RATE_REALTIME) {
        return "sync_rate can only be used with the redis policy";
    }
    if (gw_plugin_util_streq(policy, "redis") && sync_rate != SYNC_RATE_REALTIME &&
        sync_rate < 0.02) {
        return "sync_rate must be greater than 0.02, or -1 to disable";
    }
    return NULL;
}

/* Kong's conditional { if_field = "config.<if_name>", if_match = { eq = if_value },
 * then_field = "config.<then_name>", then_match = { required = true } }. */
static void
require_if(struct gw_vctx *ctx, const struct gw_record *r, const struct gw_val *rec,
           const char *if_name, const char *if_value, const char *then_name)
{
    char if_path[64];

    if (!gw_plugin_util_streq(gw_rec_get(r, rec, if_name), if_value) ||
        !gw_val_is_null(gw_plugin_util_get(r, rec, then_name))) {
        return;
    }
    snprintf(if_path, sizeof if_path, "config.%s", if_name);
    gw_echeck_conditional_fail(ctx, if_path, then_name, "required field missing");
}

/* The plugin entity's checks, in Kong's order. */
static void
check_plugin(struct gw_vctx *ctx, const struct gw_record *r, const struct gw_val *rec)
{
    char path[32];

    gw_echeck_at_least_one_of(ctx, r, rec, config_periods);
    for (size_t i = 0; redis_needs[i] != NULL; i++) {
        snprintf(path, sizeof path, "redis.%s", redis_needs[i]);
        require_if(ctx, r, rec, "policy", "redis", path);
    }
    require_if(ctx, r, rec, "limit_by", "header", "header_name");
    require_if(ctx, r, rec, "limit_by", "path", "path");
}

static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    char buf[160];
    const char *err = validate(r, rec, buf, sizeof buf);

    if (err != NULL) {
        gw_vctx_entity_err(ctx, "%s", err);
    }
    check_plugin(ctx, r, rec);
}

static struct gw_record config = {
    .name = "rate-limiting",
    .fields = fields,
    .check = check,
    .shorthand = gw_plugin_redis_shorthand,
};

const struct gw_plugin_schema gw_schema_rate_limiting = {
    .name = "rate-limiting",
    .priority = 910,
    .version = GW_VERSION,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
