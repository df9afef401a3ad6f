/* request-termination: answer with a fixed status and body instead of proxying (Kong
 * priority 2). Its rules are the config record's custom_validator, whose message Kong
 * reports as the value of "config"; a value counts when it is a non-empty string. */
#include "../plugin_schema.h"
#include "util.h"

static struct gw_field fields[] = {
    {.name = "status_code", .type = GW_T_INTEGER, .flags = GW_F_REQUIRED | GW_F_BETWEEN,
     .dflt = "503", .min = 100, .max = 599},
    {.name = "message", .type = GW_T_STRING},
    {.name = "content_type", .type = GW_T_STRING},
    {.name = "body", .type = GW_T_STRING},
    {.name = "echo", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    /* act only when a header or query argument of this name is present */
    {.name = "trigger", .type = GW_T_STRING, .check = gw_check_header_name},
    {.name = NULL},
};

static const char *
validate(const struct gw_record *r, const struct gw_val *rec)
{
    int message = gw_plugin_util_nonempty(gw_rec_get(r, rec, "message"));
    int content_type = gw_plugin_util_nonempty(gw_rec_get(r, rec, "content_type"));
    int body = gw_plugin_util_nonempty(gw_rec_get(r, rec, "body"));
    const struct gw_val *echo = gw_rec_get(r, rec, "echo");

    if (message && (content_type || body)) {
        return "message cannot be used with content_type or body";
    }
    if (content_type && !body) {
        return "content_type requires a body";
    }
    if (echo != NULL && echo->type == GW_V_BOOL && echo->u.b && (content_type || body)) {
        return "echo cannot be used with content_type and body";
    }
    return NULL;
}

static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    const char *err = validate(r, rec);

    if (err != NULL) {
        gw_vctx_entity_err(ctx, "%s", err);
    }
}

static struct gw_record config = {.name = "request-termination", .fields = fields, .check = check};

const struct gw_plugin_schema gw_schema_request_termination = {
    .name = "request-termination",
    .priority = 2,
    .version = GW_VERSION,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
