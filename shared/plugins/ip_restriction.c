/* ip-restriction: allow or deny clients by IP address or CIDR range (Kong priority 990).
 * Runs in the stream subsystem too, so its default protocols add tcp and tls; it can be
 * consumer-scoped. Kong's one check is declared on the plugin entity ('config.allow'). */
#include "../plugin_schema.h"

static const char *const lists[] = {"config.allow", "config.deny", NULL};

static struct gw_field fields[] = {
    {.name = "allow", .type = GW_T_ARRAY, .elem = &gw_elem_ip_or_cidr},
    {.name = "deny", .type = GW_T_ARRAY, .elem = &gw_elem_ip_or_cidr},
    /* null: 403 */
    {.name = "status", .type = GW_T_NUMBER},
    /* null: "IP address not allowed: <client ip>" */
    {.name = "message", .type = GW_T_STRING},
    {.name = NULL},
};

static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    gw_echeck_at_least_one_of(ctx, r, rec, lists);
}

static struct gw_record config = {.name = "ip-restriction", .fields = fields, .check = check};

const struct gw_plugin_schema gw_schema_ip_restriction = {
    .name = "ip-restriction",
    .priority = 990,
    .version = GW_VERSION,
    /* Kong's order: typedefs.protocols { default = { "http", "https", "tcp", "tls", "grpc",
     * "grpcs" } } */
    .protocols_dflt = "[\"http\",\"https\",\"tcp\",\"tls\",\"grpc\",\"grpcs\"]",
    .protocols_allowed = NULL,
    .config = &config,
};
