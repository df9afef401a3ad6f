/* correlation-id: tag each request with an id header (Kong priority 100001). */
#include "../plugin_schema.h"

static const char *const generators[] = {"uuid", "uuid#counter", "tracker", NULL};

static struct gw_field fields[] = {
    {.name = "header_name", .type = GW_T_STRING, .dflt = "\"Kong-Request-ID\""},
    {.name = "generator", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .dflt = "\"uuid#counter\"",
     .one_of = generators},
    {.name = "echo_downstream", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    {.name = NULL},
};

static struct gw_record config = {.name = "correlation-id", .fields = fields};

const struct gw_plugin_schema gw_schema_correlation_id = {
    .name = "correlation-id",
    .priority = 100001,
    .version = GW_VERSION,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
