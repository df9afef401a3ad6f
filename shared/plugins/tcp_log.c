/* tcp-log: send one JSON log entry per request over TCP or TLS (Kong priority 7). */
#include "../plugin_schema.h"

static struct gw_field fields[] = {
    {.name = "host", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .check = gw_check_host},
    {.name = "port", .type = GW_T_INTEGER, .flags = GW_F_REQUIRED | GW_F_BETWEEN, .min = 0,
     .max = 65535},
    /* ms */
    {.name = "timeout", .type = GW_T_NUMBER, .dflt = "10000"},
    /* ms */
    {.name = "keepalive", .type = GW_T_NUMBER, .dflt = "60000"},
    {.name = "tls", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    {.name = "tls_sni", .type = GW_T_STRING},
    {.name = "custom_fields_by_lua", .type = GW_T_MAP, .key = &gw_elem_string_ne,
     .elem = &gw_elem_string_ne},
    {.name = NULL},
};

static struct gw_record config = {.name = "tcp-log", .fields = fields};

const struct gw_plugin_schema gw_schema_tcp_log = {
    .name = "tcp-log",
    .priority = 7,
    .version = GW_VERSION,
    .protocols_allowed = NULL,
    .config = &config,
};
