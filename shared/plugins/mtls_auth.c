/* mtls-auth: map a verified client certificate to a consumer (Kong Enterprise; plugins.md
 * section 9 gives no fields). Fields, defaults and checks follow Kong Enterprise 3.x's
 * kong/plugins/mtls-auth/schema.lua; its PRIORITY there is 1600. Its two checks are declared
 * on the config record, so they name fields without a prefix. */
#include "../plugin_schema.h"

static const char *const consumer_by_values[] = {"username", "custom_id", NULL};
static const char *const group_by_values[] = {"CN", "DN", NULL};
static const char *const revocation_modes[] = {"SKIP", "IGNORE_CA_ERROR", "STRICT", NULL};

static const char *const http_proxy[] = {"http_proxy_host", "http_proxy_port", NULL};
static const char *const https_proxy[] = {"https_proxy_host", "https_proxy_port", NULL};

static const struct gw_field consumer_by_elem = {.type = GW_T_STRING, .one_of = consumer_by_values};

/* ca_certificates entries are ids of ca_certificates entities */
static const struct gw_field uuid_elem = {.type = GW_T_STRING, .check = gw_check_uuid};

static struct gw_field fields[] = {
    {.name = "anonymous", .type = GW_T_STRING},
    /* []: no automatic matching of the certificate's subject to a consumer */
    {.name = "consumer_by", .type = GW_T_ARRAY, .dflt = "[\"username\",\"custom_id\"]",
     .elem = &consumer_by_elem},
    {.name = "ca_certificates", .type = GW_T_ARRAY, .flags = GW_F_REQUIRED, .elem = &uuid_elem},
    /* seconds */
    {.name = "cache_ttl", .type = GW_T_NUMBER, .flags = GW_F_REQUIRED, .dflt = "60"},
    {.name = "skip_consumer_lookup", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "allow_partial_chain", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "authenticated_group_by", .type = GW_T_STRING, .dflt = "\"CN\"",
     .one_of = group_by_values},
    {.name = "revocation_check_mode", .type = GW_T_STRING, .dflt = "\"IGNORE_CA_ERROR\"",
     .one_of = revocation_modes},
    /* ms, OCSP and CRL downloads */
    {.name = "http_timeout", .type = GW_T_NUMBER, .dflt = "30000"},
    /* ms between refreshes of the revocation status cache */
    {.name = "cert_cache_ttl", .type = GW_T_NUMBER, .dflt = "60000"},
    {.name = "send_ca_dn", .type = GW_T_BOOLEAN, .dflt = "false"},
    {.name = "http_proxy_host", .type = GW_T_STRING, .check = gw_check_host},
    {.name = "http_proxy_port", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .min = 0,
     .max = 65535},
    {.name = "https_proxy_host", .type = GW_T_STRING, .check = gw_check_host},
    {.name = "https_proxy_port", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .min = 0,
     .max = 65535},
    {.name = NULL},
};

static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    gw_echeck_mutually_required(ctx, r, rec, http_proxy);
    gw_echeck_mutually_required(ctx, r, rec, https_proxy);
}

static struct gw_record config = {.name = "mtls-auth", .fields = fields, .check = check};

const struct gw_plugin_schema gw_schema_mtls_auth = {
    .name = "mtls-auth",
    .priority = 1600,
    .version = GW_VERSION,
    .flags = GW_PS_NO_CONSUMER,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
