/* cors: answer CORS preflights and add CORS headers to responses (Kong priority 2000). */
#include <stdio.h>
#include <string.h>

#include "../plugin_schema.h"

static const char *const methods[] = {"GET",    "HEAD",    "PUT",   "PATCH",   "POST",
                                      "DELETE", "OPTIONS", "TRACE", "CONNECT", NULL};

/* Kong's validate_asterisk_or_regex(): "*", or a literal origin or regex that compiles. */
static const char *
check_origin(const struct gw_val *v, char *buf, size_t len)
{
    if (strcmp(v->u.s, "*") == 0 || gw_check_regex(v, buf, len) == NULL) {
        return NULL;
    }
    snprintf(buf, len, "'%s' is not a valid regex", v->u.s);
    return buf;
}

static const struct gw_field origin_elem = {
    .type = GW_T_STRING,
    .check = check_origin,
};

static const struct gw_field method_elem = {.type = GW_T_STRING, .one_of = methods};

static struct gw_field fields[] = {
    /* null or ["*"]: any origin */
    {.name = "origins", .type = GW_T_ARRAY, .elem = &origin_elem},
    {.name = "headers", .type = GW_T_ARRAY, .elem = &gw_elem_string_ne},
    {.name = "exposed_headers", .type = GW_T_ARRAY, .elem = &gw_elem_string_ne},
    {.name = "methods", .type = GW_T_ARRAY,
     .dflt = "[\"GET\",\"HEAD\",\"PUT\",\"PATCH\",\"POST\",\"DELETE\",\"OPTIONS\",\"TRACE\","
             "\"CONNECT\"]",
     .elem = &method_elem},
    /* seconds */
    {.name = "max_age", .type = GW_T_NUMBER},
    {.name = "credentials", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    /* since 3.5 */
    {.name = "private_network", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    {.name = "preflight_continue", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    /* added after 3.9 */
    {.name = "allow_origin_absent", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "true"},
    {.name = NULL},
};

static struct gw_record config = {.name = "cors", .fields = fields};

const struct gw_plugin_schema gw_schema_cors = {
    .name = "cors",
    .priority = 2000,
    .version = GW_VERSION,
    .flags = GW_PS_NO_CONSUMER,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
