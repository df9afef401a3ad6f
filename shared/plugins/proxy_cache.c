/* proxy-cache: cache upstream responses in memory (Kong priority 100).
 *
 * Kong also checks, on the plugin entity, that the nginx shared dict named by
 * memory.dictionary_name exists ("missing shared dict '<name>'"); Tollgate has no shared
 * dicts, so the name is accepted as given. */
#include "../plugin_schema.h"

static const char *const methods[] = {"HEAD", "GET", "POST", "PATCH", "PUT", NULL};

/* "memory" is the only strategy of Kong OSS */
static const char *const strategies[] = {"memory", NULL};

static const struct gw_field code_elem = {
    .type = GW_T_INTEGER,
    .flags = GW_F_BETWEEN,
    .min = 100,
    .max = 900,
};

static const struct gw_field method_elem = {.type = GW_T_STRING, .one_of = methods};

static struct gw_field memory_fields[] = {
    {.name = "dictionary_name", .type = GW_T_STRING, .flags = GW_F_REQUIRED,
     .dflt = "\"kong_db_cache\""},
    {.name = NULL},
};

static struct gw_record memory_record = {.name = "memory", .fields = memory_fields};

/* since 3.4: which diagnostic headers a response carries */
static struct gw_field response_headers_fields[] = {
    {.name = "age", .type = GW_T_BOOLEAN, .dflt = "true"},
    {.name = "X-Cache-Status", .type = GW_T_BOOLEAN, .dflt = "true"},
    {.name = "X-Cache-Key", .type = GW_T_BOOLEAN, .dflt = "true"},
    {.name = NULL},
};

static struct gw_record response_headers_record = {
    .name = "response_headers",
    .fields = response_headers_fields,
};

static struct gw_field fields[] = {
    {.name = "response_code", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[200,301,404]",
     .len_min = 1, .elem = &code_elem},
    {.name = "request_method", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED,
     .dflt = "[\"GET\",\"HEAD\"]", .elem = &method_elem},
    {.name = "content_type", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED,
     .dflt = "[\"text/plain\",\"application/json\"]", .elem = &gw_elem_string_ne},
    /* seconds */
    {.name = "cache_ttl", .type = GW_T_INTEGER, .flags = GW_F_GT, .dflt = "300", .min = 0},
    {.name = "strategy", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .one_of = strategies},
    {.name = "cache_control", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    /* since 3.3 */
    {.name = "ignore_uri_case", .type = GW_T_BOOLEAN, .dflt = "false"},
    /* seconds */
    {.name = "storage_ttl", .type = GW_T_INTEGER},
    {.name = "memory", .type = GW_T_RECORD, .record = &memory_record},
    /* null: every query argument */
    {.name = "vary_query_params", .type = GW_T_ARRAY, .elem = &gw_elem_string_ne},
    /* null: no header */
    {.name = "vary_headers", .type = GW_T_ARRAY, .elem = &gw_elem_string_ne},
    {.name = "response_headers", .type = GW_T_RECORD, .record = &response_headers_record},
    {.name = NULL},
};

static struct gw_record config = {.name = "proxy-cache", .fields = fields};

const struct gw_plugin_schema gw_schema_proxy_cache = {
    .name = "proxy-cache",
    .priority = 100,
    .version = GW_VERSION,
    .protocols_allowed = NULL,
    .config = &config,
};
