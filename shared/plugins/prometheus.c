/* prometheus: per-request metrics exposed at /metrics (Kong priority 13). Kong's
 * custom_validator also requires the nginx shared dict prometheus_metrics, which has no
 * counterpart here. */
#include "../plugin_schema.h"

static struct gw_field fields[] = {
    {.name = "per_consumer", .type = GW_T_BOOLEAN, .dflt = "false"},
    {.name = "status_code_metrics", .type = GW_T_BOOLEAN, .dflt = "false"},
    /* since 3.8 */
    {.name = "ai_metrics", .type = GW_T_BOOLEAN, .dflt = "false"},
    {.name = "latency_metrics", .type = GW_T_BOOLEAN, .dflt = "false"},
    {.name = "bandwidth_metrics", .type = GW_T_BOOLEAN, .dflt = "false"},
    {.name = "upstream_health_metrics", .type = GW_T_BOOLEAN, .dflt = "false"},
    /* after 3.9 */
    {.name = "wasm_metrics", .type = GW_T_BOOLEAN, .dflt = "false"},
    {.name = NULL},
};

static struct gw_record config = {.name = "prometheus", .fields = fields};

const struct gw_plugin_schema gw_schema_prometheus = {
    .name = "prometheus",
    .priority = 13,
    .version = GW_VERSION,
    .protocols_allowed = NULL,
    .config = &config,
};
