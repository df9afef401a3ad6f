/* key-auth: API keys in a header, query argument or body field (Kong priority 1250). */
#include "../plugin_schema.h"

static const struct gw_field key_names_elem = {.type = GW_T_STRING, .check = gw_check_header_name};

static struct gw_field fields[] = {
    {.name = "key_names", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[\"apikey\"]",
     .elem = &key_names_elem},
    {.name = "hide_credentials", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    {.name = "anonymous", .type = GW_T_STRING},
    {.name = "key_in_header", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    {.name = "key_in_query", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    {.name = "key_in_body", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    {.name = "run_on_preflight", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    {.name = "realm", .type = GW_T_STRING},
    {.name = NULL},
};

static struct gw_record config = {.name = "key-auth", .fields = fields};

const struct gw_plugin_schema gw_schema_key_auth = {
    .name = "key-auth",
    .priority = 1250,
    .version = GW_VERSION,
    .flags = GW_PS_NO_CONSUMER,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
