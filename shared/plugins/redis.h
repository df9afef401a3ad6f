/* The redis record shared by rate-limiting and response-ratelimiting
 * (kong/tools/redis/schema.lua), and the shorthand that maps the deprecated flat redis_*
 * config fields into it. */
#ifndef GW_PLUGIN_REDIS_H
#define GW_PLUGIN_REDIS_H

#include "../schema.h"

/* Filled by gw_schema_prepare(); read-only afterwards. */
extern struct gw_record gw_plugin_redis_record;

/* For the config record's .shorthand: redis_host, redis_port, redis_password,
 * redis_username, redis_ssl, redis_ssl_verify, redis_server_name, redis_timeout and
 * redis_database become redis.host ... redis.database (accepted until Kong 4.0). */
gw_shorthand_fn gw_plugin_redis_shorthand;

#endif
