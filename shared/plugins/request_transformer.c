/* request-transformer: remove, rename, replace, add and append headers, query arguments and
 * body fields of the upstream request (Kong priority 801).
 *
 * Entries are "name:value", split as Kong's pattern ^([^:]+):*(.-)$ does: the name runs to
 * the first ':' and every ':' after it is skipped (see util.h for the header entry checks).
 * Kong also compiles each
 * body/querystring value as a pl.template and refuses one that does not compile; that check
 * belongs to the template engine and is not made here. */
#include <stdio.h>
#include <string.h>

#include "../plugin_schema.h"
#include "util.h"

/* Kong's check_for_value() for body and querystring entries: a name and a non-empty value.
 * An entry starting with ':' makes Kong's own check fail with a Lua error; it is refused
 * here with the generic message. */
static const char *
check_for_value(const struct gw_val *v, char *buf, size_t len)
{
    size_t n = strcspn(v->u.s, ":");
    const char *value = v->u.s + n;

    while (*value == ':') {
        value++;
    }
    if (n == 0) {
        snprintf(buf, len, "invalid value: %s", v->u.s);
        return buf;
    }
    if (*value == '\0') {
        snprintf(buf, len, "key '%.*s' has no value", (int)n, v->u.s);
        return buf;
    }
    return NULL;
}

/* typedefs.http_method: match = "^%u+$" */
static const char *
check_method(const struct gw_val *v, char *buf, size_t len)
{
    const char *s = v->u.s;

    while (*s >= 'A' && *s <= 'Z') {
        s++;
    }
    if (v->u.s[0] != '\0' && *s == '\0') {
        return NULL;
    }
    snprintf(buf, len, "invalid value: %s", v->u.s);
    return buf;
}

static const struct gw_field header_elem = {
    .type = GW_T_STRING, .check = gw_plugin_util_check_header_name};
static const struct gw_field colon_elem = {
    .type = GW_T_STRING, .check = check_for_value};
static const struct gw_field header_value_elem = {
    .type = GW_T_STRING, .check = gw_plugin_util_check_header_value};
static const struct gw_field header_pair_elem = {
    .type = GW_T_STRING, .check = gw_plugin_util_check_header_pair};

/* Kong's strings_array_record */
static struct gw_field remove_fields[] = {
    {.name = "body", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &gw_elem_string_ne},
    {.name = "headers", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &header_elem},
    {.name = "querystring", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &gw_elem_string_ne},
    {.name = NULL},
};

/* Kong's colon_rename_strings_array_record */
static struct gw_field rename_fields[] = {
    {.name = "body", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &colon_elem},
    {.name = "headers", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &header_pair_elem},
    {.name = "querystring", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &colon_elem},
    {.name = NULL},
};

/* Kong's colon_strings_array_record_plus_uri */
static struct gw_field replace_fields[] = {
    {.name = "body", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &colon_elem},
    {.name = "headers", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &header_value_elem},
    {.name = "querystring", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &colon_elem},
    {.name = "uri", .type = GW_T_STRING},
    {.name = NULL},
};

/* Kong's colon_strings_array_record, used by add and append */
static struct gw_field add_fields[] = {
    {.name = "body", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &colon_elem},
    {.name = "headers", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &header_value_elem},
    {.name = "querystring", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .dflt = "[]",
     .elem = &colon_elem},
    {.name = NULL},
};

static struct gw_record remove_record = {.name = "remove", .fields = remove_fields};
static struct gw_record rename_record = {.name = "rename", .fields = rename_fields};
static struct gw_record replace_record = {.name = "replace", .fields = replace_fields};
static struct gw_record add_record = {.name = "colon_strings_array_record", .fields = add_fields};

static struct gw_field fields[] = {
    {.name = "http_method", .type = GW_T_STRING, .check = check_method},
    {.name = "remove", .type = GW_T_RECORD, .record = &remove_record},
    {.name = "rename", .type = GW_T_RECORD, .record = &rename_record},
    {.name = "replace", .type = GW_T_RECORD, .record = &replace_record},
    {.name = "add", .type = GW_T_RECORD, .record = &add_record},
    {.name = "append", .type = GW_T_RECORD, .record = &add_record},
    {.name = NULL},
};

static struct gw_record config = {.name = "request-transformer", .fields = fields};

const struct gw_plugin_schema gw_schema_request_transformer = {
    .name = "request-transformer",
    .priority = 801,
    .version = GW_VERSION,
    .protocols_allowed = NULL,
    .config = &config,
};
