/* The queue record shared by the plugins that batch their output through Kong's queue
 * (http-log, opentelemetry): kong/tools/queue_schema.lua. */
#ifndef GW_PLUGIN_QUEUE_H
#define GW_PLUGIN_QUEUE_H

#include "../schema.h"

/* Filled by gw_schema_prepare() through whichever plugin schema is prepared first; read-only
 * afterwards. */
extern struct gw_record gw_plugin_queue_record;

#endif
