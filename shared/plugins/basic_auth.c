/* basic-auth: username and password from Proxy-Authorization or Authorization (Kong
 * priority 1100). */
#include "../plugin_schema.h"

static struct gw_field fields[] = {
    {.name = "anonymous", .type = GW_T_STRING},
    {.name = "hide_credentials", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    /* since 3.6: the realm of the WWW-Authenticate challenge */
    {.name = "realm", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .dflt = "\"service\""},
    {.name = NULL},
};

static struct gw_record config = {.name = "basic-auth", .fields = fields};

const struct gw_plugin_schema gw_schema_basic_auth = {
    .name = "basic-auth",
    .priority = 1100,
    .version = GW_VERSION,
    .flags = GW_PS_NO_CONSUMER,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
