/* bot-detection: refuse known crawlers by User-Agent (Kong priority 2500). */
#include "../plugin_schema.h"

/* Kong: elements = { type = "string", is_regex = true } */
static const struct gw_field regex_elem = {
    .type = GW_T_STRING,
    .check = gw_check_regex,
};

static struct gw_field fields[] = {
    {.name = "allow", .type = GW_T_ARRAY, .dflt = "[]", .elem = &regex_elem},
    {.name = "deny", .type = GW_T_ARRAY, .dflt = "[]", .elem = &regex_elem},
    {.name = NULL},
};

static struct gw_record config = {.name = "bot-detection", .fields = fields};

const struct gw_plugin_schema gw_schema_bot_detection = {
    .name = "bot-detection",
    .priority = 2500,
    .version = GW_VERSION,
    .flags = GW_PS_NO_CONSUMER,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
