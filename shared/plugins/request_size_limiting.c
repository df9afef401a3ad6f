/* request-size-limiting: refuse request bodies above a size (Kong priority 951). */
#include "../plugin_schema.h"

/* 1 MB = 1048576 bytes, 1 KB = 1024 bytes */
static const char *const size_units[] = {"megabytes", "kilobytes", "bytes", NULL};

static struct gw_field fields[] = {
    {.name = "allowed_payload_size", .type = GW_T_INTEGER, .dflt = "128"},
    {.name = "size_unit", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .dflt = "\"megabytes\"",
     .one_of = size_units},
    {.name = "require_content_length", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = NULL},
};

static struct gw_record config = {.name = "request-size-limiting", .fields = fields};

const struct gw_plugin_schema gw_schema_request_size_limiting = {
    .name = "request-size-limiting",
    .priority = 951,
    .version = GW_VERSION,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
