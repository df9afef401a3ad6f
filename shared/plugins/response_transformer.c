/* response-transformer: remove, rename, replace, add and append response headers and
 * top-level JSON body fields (Kong priority 800). Entry checks are in util.h. */
#include "../plugin_schema.h"
#include "util.h"

static const char *const json_types[] = {"boolean", "number", "string", NULL};

static const struct gw_field colon_elem = {
    .type = GW_T_STRING, .check = gw_plugin_util_check_colon};
static const struct gw_field header_value_elem = {
    .type = GW_T_STRING, .check = gw_plugin_util_check_header_value};
static const struct gw_field header_pair_elem = {
    .type = GW_T_STRING, .check = gw_plugin_util_check_header_pair};
static const struct gw_field json_type_elem = {.type = GW_T_STRING, .one_of = json_types};

/* Kong's string_record */
static struct gw_field remove_fields[] = {
    {.name = "json", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &gw_elem_string_ne},
    {.name = "headers", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &gw_elem_string_ne},
    {.name = NULL},
};

/* Kong's colon_rename_strings_array_record (rename.json since 3.8) */
static struct gw_field rename_fields[] = {
    {.name = "json", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &colon_elem},
    {.name = "headers", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &header_pair_elem},
    {.name = NULL},
};

/* Kong's colon_string_record, used by replace, add and append; json_types[i] is the type of
 * the i-th json entry's value. */
static struct gw_field colon_fields[] = {
    {.name = "json", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &colon_elem},
    {.name = "json_types", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &json_type_elem},
    {.name = "headers", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &header_value_elem},
    {.name = NULL},
};

static struct gw_record remove_record = {.name = "remove", .fields = remove_fields};
static struct gw_record rename_record = {.name = "rename", .fields = rename_fields};
static struct gw_record colon_record = {.name = "colon_string_record", .fields = colon_fields};

static struct gw_field fields[] = {
    {.name = "remove", .type = GW_T_RECORD, .record = &remove_record},
    {.name = "rename", .type = GW_T_RECORD, .record = &rename_record},
    {.name = "replace", .type = GW_T_RECORD, .record = &colon_record},
    {.name = "add", .type = GW_T_RECORD, .record = &colon_record},
    {.name = "append", .type = GW_T_RECORD, .record = &colon_record},
    {.name = NULL},
};

static struct gw_record config = {.name = "response-transformer", .fields = fields};

const struct gw_plugin_schema gw_schema_response_transformer = {
    .name = "response-transformer",
    .priority = 800,
    .version = GW_VERSION,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
