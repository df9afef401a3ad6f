/* Plugin schemas: name, priority, scope restrictions and config record of every plugin the
 * gateway knows. One table, generated from plugins/plugins.def; the data plane's handler
 * table is generated from the same list. */
#ifndef GW_PLUGIN_SCHEMA_H
#define GW_PLUGIN_SCHEMA_H

#include <stddef.h>

#include "schema.h"
#include "version.h"

#define GW_PS_NO_CONSUMER 0x01 /* Kong's typedefs.no_consumer: config.consumer must be null */
#define GW_PS_NO_ROUTE    0x02
#define GW_PS_NO_SERVICE  0x04

struct gw_plugin_schema {
    const char *name;     /* "key-auth" */
    int priority;         /* Kong's PRIORITY: higher runs first */
    const char *version;  /* reported by GET / and /plugins/enabled */
    unsigned flags;       /* GW_PS_* */
    /* JSON array text; NULL: ["grpc","grpcs","http","https"] */
    const char *protocols_dflt;
    /* protocols accepted; NULL: every protocol; gw_protocols_http: http-only plugins */
    const char *const *protocols_allowed;
    struct gw_record *config; /* config record; its name is the plugin name */
};

/* "grpc", "grpcs", "http", "https" */
extern const char *const gw_protocols_http[];
/* all protocols, sorted: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp */
extern const char *const gw_protocols_all[];

#define GW_PLUGIN(id) extern const struct gw_plugin_schema gw_schema_##id;
#include "plugins/plugins.def"
#undef GW_PLUGIN

/* Every plugin schema, sorted by name. */
extern const struct gw_plugin_schema *const gw_plugin_schemas[];
extern const size_t gw_plugin_schemas_count;

/* NULL when no plugin has that name. */
const struct gw_plugin_schema *gw_plugin_schema_find(const char *name);

#endif
