/* Kong's log entry (kong.log.serialize(), HTTP subsystem), built in the log phase for the
 * logging plugins (file-log; http-log, tcp-log and udp-log would share it). */
#ifndef GW_PLUGINS_LOGENTRY_H
#define GW_PLUGINS_LOGENTRY_H

#include <jansson.h>

#include "plugin.h"

/* The entry for ctx's request: request (id, uri, url, querystring, method, headers with
 * authorization redacted, size, tls), upstream_uri, upstream_status, response (status,
 * headers, size), latencies, tries, authenticated_entity, route, service, consumer,
 * client_ip, started_at, source. Only in the log phase (ctx->log set). A new reference, or
 * NULL when out of memory. Worker thread. */
json_t *gw_logentry_json(const struct gw_pctx *ctx);

#endif
