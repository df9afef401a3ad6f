/* The plugin schema table, expanded from plugins/plugins.def. */
#include "plugin_schema.h"

#include <stdlib.h>
#include <string.h>

const char *const gw_protocols_http[] = {"grpc", "grpcs", "http", "https", NULL};
const char *const gw_protocols_all[] = {"grpc", "grpcs", "http", "https", "tcp",
                                        "tls",  "tls_passthrough", "udp", NULL};

/* plugins.def is kept sorted by plugin name (a unit test checks it): lookups bisect. */
const struct gw_plugin_schema *const gw_plugin_schemas[] = {
#define GW_PLUGIN(id) &gw_schema_##id,
#include "plugins/plugins.def"
#undef GW_PLUGIN
};
#define COUNT (sizeof gw_plugin_schemas / sizeof gw_plugin_schemas[0])
const size_t gw_plugin_schemas_count = COUNT;

const struct gw_plugin_schema *
gw_plugin_schema_find(const char *name)
{
    size_t lo = 0, hi = COUNT;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, gw_plugin_schemas[mid]->name);
        if (c == 0) {
            return gw_plugin_schemas[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}
