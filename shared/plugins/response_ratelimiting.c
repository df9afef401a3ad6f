/* response-ratelimiting: limits on units the upstream reports in a response header (Kong
 * priority 900).
 *
 * Each entry of limits is a record of periods with its own checks, declared by Kong on that
 * record (so names are unprefixed and the custom_validator's message is lower case): at
 * least one period, then (as the entry's check) a longer period may not have a smaller
 * limit. The redis conditionals are declared on the plugin entity ('config.policy'). */
#include <stdio.h>

#include "../plugin_schema.h"
#include "redis.h"
#include "util.h"

static const char *const periods[] = {"second", "minute", "hour", "day", "month", "year", NULL};

static const char *const limit_by_values[] = {"consumer", "credential", "ip", NULL};

/* Kong drops "cluster" when database = off or role = control_plane, the only shapes
 * Tollgate runs in (see rate_limiting.c). */
static const char *const policies[] = {"local", "redis", NULL};

static const char *const redis_needs[] = {"host", "port", "timeout", NULL};

static struct gw_field limit_fields[] = {
    {.name = "second", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "minute", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "hour", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "day", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "month", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "year", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = NULL},
};

/* Kong's validate_periods_order() for one limit; its message is lower case here. */
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
                         "the limit for %s(%.1f) cannot be lower than the limit for %s(%.1f)",
                         periods[j], upper, periods[i], lower);
                return buf;
            }
        }
    }
    return NULL;
}

static void
check_limit(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    gw_echeck_at_least_one_of(ctx, r, rec, periods);
}

static struct gw_record limit_record = {
    .name = "response-ratelimiting limit",
    .fields = limit_fields,
    .check = check_limit,
};

/* The limit record's custom_validator. As in Kong it runs on the validated record once its
 * fields and entity check passed, and its message is the error of the whole value. */
static const char *
check_periods(const struct gw_val *v, char *buf, size_t len)
{
    return periods_order(&limit_record, v, buf, len);
}

/* Kong: values = { type = "record", required = true, ... } */
static const struct gw_field limit_elem = {
    .type = GW_T_RECORD,
    .flags = GW_F_REQUIRED,
    .record = &limit_record,
    .check = check_periods,
};

static struct gw_field fields[] = {
    {.name = "header_name", .type = GW_T_STRING, .dflt = "\"x-kong-limit\""},
    {.name = "limit_by", .type = GW_T_STRING, .dflt = "\"consumer\"", .one_of = limit_by_values},
    {.name = "policy", .type = GW_T_STRING, .dflt = "\"local\"", .one_of = policies},
    {.name = "fault_tolerant", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    {.name = "redis", .type = GW_T_RECORD, .record = &gw_plugin_redis_record},
    {.name = "block_on_first_violation", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "hide_client_headers", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    /* name -> periods; at least one entry */
    {.name = "limits", .type = GW_T_MAP, .flags = GW_F_REQUIRED, .len_min = 1,
     .key = &gw_elem_string_ne, .elem = &limit_elem},
    {.name = NULL},
};

/* The plugin entity's checks: with the redis policy, redis.host, redis.port and
 * redis.timeout are required. */
static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    char path[32];

    if (!gw_plugin_util_streq(gw_rec_get(r, rec, "policy"), "redis")) {
        return;
    }
    for (size_t i = 0; redis_needs[i] != NULL; i++) {
        snprintf(path, sizeof path, "redis.%s", redis_needs[i]);
        if (gw_val_is_null(gw_plugin_util_get(r, rec, path))) {
            gw_echeck_conditional_fail(ctx, "config.policy", path, "required field missing");
        }
    }
}

static struct gw_record config = {
    .name = "response-ratelimiting",
    .fields = fields,
    .check = check,
    .shorthand = gw_plugin_redis_shorthand,
};

const struct gw_plugin_schema gw_schema_response_ratelimiting = {
    .name = "response-ratelimiting",
    .priority = 900,
    .version = GW_VERSION,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
