/* hmac-auth: HTTP signatures (draft-cavage) over listed headers (Kong priority 1030). */
#include "../plugin_schema.h"

static const char *const algorithms[] = {"hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512",
                                         NULL};

static const struct gw_field algorithm_elem = {.type = GW_T_STRING, .one_of = algorithms};

static struct gw_field fields[] = {
    {.name = "hide_credentials", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    /* seconds */
    {.name = "clock_skew", .type = GW_T_NUMBER, .flags = GW_F_GT, .dflt = "300", .min = 0},
    {.name = "anonymous", .type = GW_T_STRING},
    {.name = "validate_request_body", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "enforce_headers", .type = GW_T_ARRAY, .dflt = "[]", .elem = &gw_elem_string_ne},
    {.name = "algorithms", .type = GW_T_ARRAY,
     .dflt = "[\"hmac-sha1\",\"hmac-sha256\",\"hmac-sha384\",\"hmac-sha512\"]",
     .elem = &algorithm_elem},
    /* since 3.8 */
    {.name = "realm", .type = GW_T_STRING},
    {.name = NULL},
};

static struct gw_record config = {.name = "hmac-auth", .fields = fields};

const struct gw_plugin_schema gw_schema_hmac_auth = {
    .name = "hmac-auth",
    .priority = 1030,
    .version = GW_VERSION,
    .flags = GW_PS_NO_CONSUMER,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
