/* ai-proxy: turn a route into an LLM endpoint for one provider (Kong priority 770).
 *
 * The config is Kong's shared LLM record (kong/llm/schemas/init.lua) plus ai-proxy's own
 * fields. The provider-specific option records model.options.gemini, .bedrock and
 * .huggingface are kept as given (GW_T_ANY). Checks come from two places: the LLM record's
 * entity checks (names relative to config, "model.options.azure_instance") and ai-proxy's
 * plugin entity checks on llm_format, which Kong reports with their own messages. */
#include "../plugin_schema.h"
#include "util.h"

static const char *const route_types[] = {"llm/v1/chat", "llm/v1/completions", "preserve", NULL};

static const char *const providers[] = {"openai", "azure",  "anthropic", "cohere",      "mistral",
                                        "llama2", "gemini", "bedrock",   "huggingface", NULL};

static const char *const param_locations[] = {"query", "body", NULL};
static const char *const llama2_formats[] = {"raw", "openai", "ollama", NULL};
static const char *const mistral_formats[] = {"openai", "ollama", NULL};
static const char *const streaming_modes[] = {"allow", "deny", "always", NULL};
static const char *const llm_formats[] = {"openai", "bedrock", "gemini", NULL};

static struct gw_field auth_fields[] = {
    {.name = "header_name", .type = GW_T_STRING},
    {.name = "header_value", .type = GW_T_STRING, .flags = GW_F_SENSITIVE},
    {.name = "param_name", .type = GW_T_STRING},
    {.name = "param_value", .type = GW_T_STRING, .flags = GW_F_SENSITIVE},
    {.name = "param_location", .type = GW_T_STRING, .one_of = param_locations},
    {.name = "gcp_use_service_account", .type = GW_T_BOOLEAN, .dflt = "false"},
    /* null with gcp_use_service_account: the GCP_SERVICE_ACCOUNT environment variable */
    {.name = "gcp_service_account_json", .type = GW_T_STRING},
    {.name = "aws_access_key_id", .type = GW_T_STRING, .flags = GW_F_SENSITIVE},
    {.name = "aws_secret_access_key", .type = GW_T_STRING, .flags = GW_F_SENSITIVE},
    /* a credential in the request may replace the configured one */
    {.name = "allow_override", .type = GW_T_BOOLEAN, .dflt = "false"},
    {.name = NULL},
};

static struct gw_field options_fields[] = {
    /* the 256 default is Kong 3.8's kong/llm/schemas/init.lua */
    {.name = "max_tokens", .type = GW_T_INTEGER, .dflt = "256"},
    /* cost per 1M tokens */
    {.name = "input_cost", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "output_cost", .type = GW_T_NUMBER, .flags = GW_F_GT, .min = 0},
    {.name = "temperature", .type = GW_T_NUMBER, .flags = GW_F_BETWEEN, .min = 0, .max = 5},
    {.name = "top_p", .type = GW_T_NUMBER, .flags = GW_F_BETWEEN, .min = 0, .max = 1},
    {.name = "top_k", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .min = 0, .max = 500},
    {.name = "anthropic_version", .type = GW_T_STRING},
    {.name = "azure_instance", .type = GW_T_STRING},
    {.name = "azure_api_version", .type = GW_T_STRING, .dflt = "\"2023-05-15\""},
    {.name = "azure_deployment_id", .type = GW_T_STRING},
    {.name = "llama2_format", .type = GW_T_STRING, .one_of = llama2_formats},
    {.name = "mistral_format", .type = GW_T_STRING, .one_of = mistral_formats},
    {.name = "upstream_url", .type = GW_T_STRING, .check = gw_check_url},
    /* Kong 3.8+: the path used e.g. with the preserve route_type */
    {.name = "upstream_path", .type = GW_T_STRING},
    {.name = "gemini", .type = GW_T_ANY},
    {.name = "bedrock", .type = GW_T_ANY},
    {.name = "huggingface", .type = GW_T_ANY},
    {.name = NULL},
};

static struct gw_record auth_record = {.name = "auth", .fields = auth_fields};
static struct gw_record options_record = {.name = "options", .fields = options_fields};

static struct gw_field model_fields[] = {
    {.name = "provider", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .one_of = providers},
    {.name = "name", .type = GW_T_STRING},
    {.name = "options", .type = GW_T_RECORD, .record = &options_record},
    {.name = NULL},
};

static struct gw_field logging_fields[] = {
    {.name = "log_statistics", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    {.name = "log_payloads", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    {.name = NULL},
};

static struct gw_record model_record = {.name = "model", .fields = model_fields};
static struct gw_record logging_record = {.name = "logging", .fields = logging_fields};

static struct gw_field fields[] = {
    {.name = "route_type", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .one_of = route_types},
    {.name = "auth", .type = GW_T_RECORD, .record = &auth_record},
    {.name = "model", .type = GW_T_RECORD, .flags = GW_F_REQUIRED, .record = &model_record},
    {.name = "logging", .type = GW_T_RECORD, .flags = GW_F_REQUIRED, .record = &logging_record},
    {.name = "response_streaming", .type = GW_T_STRING, .dflt = "\"allow\"",
     .one_of = streaming_modes},
    /* bytes of request body introspected */
    {.name = "max_request_body_size", .type = GW_T_INTEGER, .flags = GW_F_GT, .dflt = "8192",
     .min = 0},
    /* X-Kong-LLM-Model: <provider>/<model> on responses */
    {.name = "model_name_header", .type = GW_T_BOOLEAN, .dflt = "true"},
    {.name = "llm_format", .type = GW_T_STRING, .dflt = "\"openai\"", .one_of = llm_formats},
    {.name = NULL},
};

/* Kong's conditional_at_least_one_of { if_field = "model.provider", if_match = { one_of =
 * { provider } }, then_at_least_one_of = { field }, then_err = "must set %s for <what>" }. */
static void
need_for(struct gw_vctx *ctx, const struct gw_record *r, const struct gw_val *rec,
         const char *provider, const char *field, const char *what)
{
    const char *const one[] = {field, NULL};
    char list[128];

    if (!gw_plugin_util_streq(gw_plugin_util_get(r, rec, "model.provider"), provider) ||
        gw_plugin_util_nonempty(gw_plugin_util_get(r, rec, field))) {
        return;
    }
    gw_plugin_util_quoted(list, sizeof list, one);
    gw_vctx_entity_err(ctx, "must set %s for %s", list, what);
}

static int
is_true(const struct gw_val *v)
{
    return v != NULL && v->type == GW_V_BOOL && v->u.b;
}

/* The LLM record's entity checks, in Kong's order. */
static void
check_record(struct gw_vctx *ctx, const struct gw_record *r, const struct gw_val *rec)
{
    static const char *const header_auth[] = {"auth.header_name", "auth.header_value", NULL};
    static const char *const param_auth[] = {"auth.param_name", "auth.param_value",
                                             "auth.param_location", NULL};
    const struct gw_val *provider = gw_plugin_util_get(r, rec, "model.provider");
    const struct gw_val *route_type = gw_rec_get(r, rec, "route_type");
    const struct gw_val *override = gw_plugin_util_get(r, rec, "auth.allow_override");

    if ((gw_plugin_util_streq(provider, "bedrock") || gw_plugin_util_streq(provider, "gemini")) &&
        (override == NULL || override->type != GW_V_BOOL || override->u.b)) {
        gw_vctx_entity_err(ctx, "bedrock and gemini only support auth.allow_override = false");
        gw_vctx_field_err(ctx, "auth.allow_override", "value must be false");
    }
    gw_plugin_util_mutually_required(ctx, r, rec, header_auth);
    gw_plugin_util_mutually_required(ctx, r, rec, param_auth);
    need_for(ctx, r, rec, "llama2", "model.options.llama2_format", "llama2 provider");
    need_for(ctx, r, rec, "mistral", "model.options.mistral_format", "mistral provider");
    need_for(ctx, r, rec, "anthropic", "model.options.anthropic_version", "anthropic provider");
    need_for(ctx, r, rec, "azure", "model.options.azure_instance", "azure provider");
    need_for(ctx, r, rec, "azure", "model.options.azure_api_version", "azure provider");
    need_for(ctx, r, rec, "azure", "model.options.azure_deployment_id", "azure provider");
    need_for(ctx, r, rec, "llama2", "model.options.upstream_url", "self-hosted providers/models");
    if (is_true(gw_plugin_util_get(r, rec, "logging.log_statistics")) &&
        gw_plugin_util_streq(route_type, "llm/v1/completions") &&
        gw_plugin_util_streq(provider, "anthropic")) {
        gw_vctx_entity_err(ctx, "anthropic does not support statistics when route_type is "
                                "llm/v1/completions");
    }
}

/* ai-proxy's plugin entity checks: Kong's conditionals with then_err, which report then_err
 * on the entity and the failed match on the field. */
static void
check_plugin(struct gw_vctx *ctx, const struct gw_record *r, const struct gw_val *rec)
{
    const struct gw_val *format = gw_rec_get(r, rec, "llm_format");
    const struct gw_val *provider = gw_plugin_util_get(r, rec, "model.provider");

    if ((gw_plugin_util_streq(format, "bedrock") || gw_plugin_util_streq(format, "gemini")) &&
        !gw_plugin_util_streq(gw_rec_get(r, rec, "route_type"), "llm/v1/chat")) {
        gw_vctx_entity_err(ctx, "native provider options in llm_format can only be used with "
                                "the 'llm/v1/chat' route_type");
        gw_vctx_field_err(ctx, "route_type", "value must be llm/v1/chat");
    }
    if (gw_plugin_util_streq(format, "bedrock") && !gw_plugin_util_streq(provider, "bedrock")) {
        gw_vctx_entity_err(ctx, "native llm_format 'bedrock' can only be used with the "
                                "'bedrock' model.provider");
        gw_vctx_field_err(ctx, "model.provider", "value must be bedrock");
    }
    if (gw_plugin_util_streq(format, "gemini") && !gw_plugin_util_streq(provider, "gemini")) {
        gw_vctx_entity_err(ctx, "native llm_format 'gemini' can only be used with the "
                                "'gemini' model.provider");
        gw_vctx_field_err(ctx, "model.provider", "value must be gemini");
    }
}

static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    check_record(ctx, r, rec);
    check_plugin(ctx, r, rec);
}

static struct gw_record config = {.name = "ai-proxy", .fields = fields, .check = check};

const struct gw_plugin_schema gw_schema_ai_proxy = {
    .name = "ai-proxy",
    .priority = 770,
    .version = GW_VERSION,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
