/* opentelemetry: export traces and logs as OTLP/HTTP protobuf and propagate trace context
 * (Kong priority 14).
 *
 * Kong declares its check on the config record (unprefixed names): at least one of
 * traces_endpoint and logs_endpoint. The deprecated config.endpoint is a shorthand for
 * traces_endpoint; when both are given traces_endpoint wins, without a conflict check (its
 * deprecation has no replaced_with). */
#include "../plugin_schema.h"
#include "queue.h"
#include "util.h"

/* Propagation formats (kong.observability.tracing.propagation.utils FORMATS). Kong builds
 * these lists by iterating a hash table, so its own order varies; Tollgate lists them sorted.
 * b3-single is injected only (its extractor is b3); instana came after 3.9. */
static const char *const extractors[] = {"aws",    "b3", "datadog", "gcp", "instana",
                                         "jaeger", "ot", "w3c",     NULL};
static const char *const injectors[] = {"aws",     "b3",     "b3-single", "datadog", "gcp",
                                        "instana", "jaeger", "ot",        "w3c",     NULL};
static const char *const inject_values[] = {
    "preserve", "aws", "b3", "b3-single", "datadog", "gcp", "instana", "jaeger", "ot", "w3c", NULL};

/* the deprecated header_type, in Kong's order */
static const char *const header_types[] = {"preserve", "ignore",  "b3",      "b3-single",
                                           "w3c",      "jaeger",  "ot",      "aws",
                                           "gcp",      "datadog", "instana", NULL};

static const char *const endpoints[] = {"traces_endpoint", "logs_endpoint", NULL};

static const struct gw_field extract_elem = {.type = GW_T_STRING, .one_of = extractors};
static const struct gw_field inject_elem = {.type = GW_T_STRING, .one_of = inject_values};

/* typedefs.propagation */
static struct gw_field propagation_fields[] = {
    /* ordered: the first format found wins */
    {.name = "extract", .type = GW_T_ARRAY, .elem = &extract_elem},
    /* headers removed after extraction */
    {.name = "clear", .type = GW_T_ARRAY, .elem = &gw_elem_header_name},
    {.name = "inject", .type = GW_T_ARRAY, .elem = &inject_elem},
    {.name = "default_format", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .one_of = injectors},
    {.name = NULL},
};

static struct gw_record propagation_record = {
    .name = "propagation",
    .fields = propagation_fields,
};

static struct gw_field fields[] = {
    /* OTLP/HTTP; typedefs.url, vault-referenceable */
    {.name = "traces_endpoint", .type = GW_T_STRING, .check = gw_check_url},
    {.name = "logs_endpoint", .type = GW_T_STRING, .check = gw_check_url},
    /* e.g. the APM backend's auth token */
    {.name = "headers", .type = GW_T_MAP, .key = &gw_elem_header_name,
     .elem = &gw_elem_string_ne},
    /* service.name defaults to "kong"; service.version and service.instance.id are added */
    {.name = "resource_attributes", .type = GW_T_MAP, .key = &gw_elem_string_ne,
     .elem = &gw_elem_string_ne},
    /* Kong: typedefs.queue { default = { max_batch_size = 200 } } */
    {.name = "queue", .type = GW_T_RECORD, .dflt = "{\"max_batch_size\":200}",
     .record = &gw_plugin_queue_record},
    /* deprecated: read as queue.max_batch_size / queue.max_coalescing_delay */
    {.name = "batch_span_count", .type = GW_T_INTEGER},
    {.name = "batch_flush_delay", .type = GW_T_INTEGER},
    /* typedefs.timeout, ms */
    {.name = "connect_timeout", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .dflt = "1000",
     .min = 0, .max = 2147483646},
    {.name = "send_timeout", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .dflt = "5000",
     .min = 0, .max = 2147483646},
    {.name = "read_timeout", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .dflt = "5000",
     .min = 0, .max = 2147483646},
    /* response header that carries the trace id */
    {.name = "http_response_header_for_traceid", .type = GW_T_STRING},
    /* deprecated; decides only when propagation has no extract, clear or inject */
    {.name = "header_type", .type = GW_T_STRING, .dflt = "\"preserve\"", .one_of = header_types},
    /* null: kong.conf tracing_sampling_rate (0.01) */
    {.name = "sampling_rate", .type = GW_T_NUMBER, .flags = GW_F_BETWEEN, .min = 0, .max = 1},
    {.name = "propagation", .type = GW_T_RECORD, .dflt = "{\"default_format\":\"w3c\"}",
     .record = &propagation_record},
    {.name = NULL},
};

static const struct gw_plugin_alias aliases[] = {
    {"endpoint", NULL, "traces_endpoint", 0},
    {.name = NULL},
};

static const struct gw_val *
shorthand(struct gw_vctx *ctx, const struct gw_val *in)
{
    return gw_plugin_util_aliases(ctx, in, aliases);
}

static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    gw_echeck_at_least_one_of(ctx, r, rec, endpoints);
}

static struct gw_record config = {
    .name = "opentelemetry",
    .fields = fields,
    .check = check,
    .shorthand = shorthand,
};

const struct gw_plugin_schema gw_schema_opentelemetry = {
    .name = "opentelemetry",
    .priority = 14,
    .version = GW_VERSION,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
