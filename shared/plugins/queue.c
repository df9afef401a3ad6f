/* The queue record (kong/tools/queue_schema.lua), defined once for every plugin that embeds
 * it. A plugin may give the field holding it its own default, as opentelemetry does with
 * {"max_batch_size": 200}; the fields below fill in the rest. */
#include "queue.h"

/* Kong: integer one_of { -1, 1 }; -1 means unlimited delivery timers. */
static const char *const concurrency_limits[] = {"-1", "1", NULL};

static struct gw_field fields[] = {
    {.name = "max_batch_size", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .dflt = "1",
     .min = 1, .max = 1000000},
    {.name = "max_coalescing_delay", .type = GW_T_NUMBER, .flags = GW_F_BETWEEN, .dflt = "1",
     .min = 0, .max = 3600},
    {.name = "max_entries", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .dflt = "10000",
     .min = 1, .max = 1000000},
    {.name = "max_bytes", .type = GW_T_INTEGER},
    /* -1: no retries */
    {.name = "max_retry_time", .type = GW_T_NUMBER, .dflt = "60"},
    {.name = "initial_retry_delay", .type = GW_T_NUMBER, .flags = GW_F_BETWEEN, .dflt = "0.01",
     .min = 0.001, .max = 1000000},
    {.name = "max_retry_delay", .type = GW_T_NUMBER, .flags = GW_F_BETWEEN, .dflt = "60",
     .min = 0.001, .max = 1000000},
    {.name = "concurrency_limit", .type = GW_T_INTEGER, .dflt = "1", .one_of = concurrency_limits},
    {.name = NULL},
};

struct gw_record gw_plugin_queue_record = {.name = "queue", .fields = fields};
