/* The redis record (kong/tools/redis/schema.lua, Kong 3.7+: port defaults to 6379 and host
 * and port are no longer mutually required) and its deprecated flat aliases. Whether host,
 * port and timeout are needed depends on the plugin's policy, so those rules live in the
 * plugins' entity checks, not here. */
#include "redis.h"

#include "util.h"

static struct gw_field fields[] = {
    {.name = "host", .type = GW_T_STRING, .check = gw_check_host},
    {.name = "port", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .dflt = "6379", .min = 0,
     .max = 65535},
    /* typedefs.timeout: 0 .. 2^31-2 ms */
    {.name = "timeout", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .dflt = "2000", .min = 0,
     .max = 2147483646},
    {.name = "username", .type = GW_T_STRING},
    /* Kong: len_min = 0, vault-referenceable */
    {.name = "password", .type = GW_T_STRING, .flags = GW_F_SENSITIVE | GW_F_EMPTY_OK},
    {.name = "database", .type = GW_T_INTEGER, .dflt = "0"},
    {.name = "ssl", .type = GW_T_BOOLEAN, .dflt = "false"},
    {.name = "ssl_verify", .type = GW_T_BOOLEAN, .dflt = "false"},
    /* typedefs.sni: a host name; Kong also refuses an IP address here. */
    {.name = "server_name", .type = GW_T_STRING, .check = gw_check_host},
    {.name = NULL},
};

struct gw_record gw_plugin_redis_record = {.name = "redis", .fields = fields};

/* Kong 3.8+ declares these with deprecation.replaced_with: the new field wins, and a
 * different value in both is refused. */
static const struct gw_plugin_alias aliases[] = {
    {"redis_host", "redis", "host", 1},
    {"redis_port", "redis", "port", 1},
    {"redis_password", "redis", "password", 1},
    {"redis_username", "redis", "username", 1},
    {"redis_ssl", "redis", "ssl", 1},
    {"redis_ssl_verify", "redis", "ssl_verify", 1},
    {"redis_server_name", "redis", "server_name", 1},
    {"redis_timeout", "redis", "timeout", 1},
    {"redis_database", "redis", "database", 1},
    {.name = NULL},
};

const struct gw_val *
gw_plugin_redis_shorthand(struct gw_vctx *ctx, const struct gw_val *in)
{
    return gw_plugin_util_aliases(ctx, in, aliases);
}
