/* file-log: append one JSON log entry per request to a file (Kong priority 9). */
#include <ctype.h>
#include <string.h>

#include "../plugin_schema.h"

/* Kong: match = [[^[^*&%%\`]+$]], err = "not a valid filename" (its character class also
 * holds the backslash); plugins.md adds: no leading or trailing whitespace. Kong's err
 * replaces every message of the field, so all failures read the same. */
static const char *
check_path(const struct gw_val *v, char *buf, size_t len)
{
    const char *s = v->u.s;
    size_t n = strlen(s);

    (void)buf;
    (void)len;
    if (n == 0 || strpbrk(s, "*&%\\`") != NULL || isspace((unsigned char)s[0]) ||
        isspace((unsigned char)s[n - 1])) {
        return "not a valid filename";
    }
    return NULL;
}

static struct gw_field fields[] = {
    {.name = "path", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .check = check_path},
    /* close and reopen the file on every entry */
    {.name = "reopen", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    /* typedefs.lua_code: field -> Lua expression */
    {.name = "custom_fields_by_lua", .type = GW_T_MAP, .key = &gw_elem_string_ne,
     .elem = &gw_elem_string_ne},
    {.name = NULL},
};

static struct gw_record config = {.name = "file-log", .fields = fields};

const struct gw_plugin_schema gw_schema_file_log = {
    .name = "file-log",
    .priority = 9,
    .version = GW_VERSION,
    .protocols_allowed = NULL,
    .config = &config,
};
