/* jwt: signed JSON Web Tokens from query arguments, cookies or headers (Kong priority 1450).
 *
 * Kong declares one check on the plugin entity: when maximum_expiration > 0, claims_to_verify
 * must contain "exp". Kong's conditional lets a null claims_to_verify through (only a given
 * set without "exp" fails), and so does this. */
#include "../plugin_schema.h"
#include "util.h"

static const char *const claims[] = {"exp", "nbf", NULL};

static const struct gw_field claim_elem = {.type = GW_T_STRING, .one_of = claims};

static struct gw_field fields[] = {
    {.name = "uri_param_names", .type = GW_T_SET, .dflt = "[\"jwt\"]", .elem = &gw_elem_string_ne},
    {.name = "cookie_names", .type = GW_T_SET, .dflt = "[]", .elem = &gw_elem_string_ne},
    {.name = "key_claim_name", .type = GW_T_STRING, .dflt = "\"iss\""},
    {.name = "secret_is_base64", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    {.name = "claims_to_verify", .type = GW_T_SET, .elem = &claim_elem},
    {.name = "anonymous", .type = GW_T_STRING},
    {.name = "run_on_preflight", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    {.name = "maximum_expiration", .type = GW_T_NUMBER, .flags = GW_F_BETWEEN, .dflt = "0",
     .min = 0, .max = 31536000},
    {.name = "header_names", .type = GW_T_SET, .dflt = "[\"authorization\"]",
     .elem = &gw_elem_string_ne},
    /* since 3.8 */
    {.name = "realm", .type = GW_T_STRING},
    {.name = NULL},
};

static int
contains(const struct gw_val *set, const char *s)
{
    for (uint32_t i = 0; i < set->n; i++) {
        if (gw_plugin_util_streq(&set->u.items[i], s)) {
            return 1;
        }
    }
    return 0;
}

static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    const struct gw_val *claims_v = gw_rec_get(r, rec, "claims_to_verify");
    double max_exp;

    if (!gw_plugin_util_number(gw_rec_get(r, rec, "maximum_expiration"), &max_exp) ||
        max_exp <= 0 || gw_val_is_null(claims_v) || claims_v->type != GW_V_ARR) {
        return;
    }
    if (!contains(claims_v, "exp")) {
        gw_echeck_conditional_fail(ctx, "config.maximum_expiration", "claims_to_verify",
                                   "expected to contain: exp");
    }
}

static struct gw_record config = {.name = "jwt", .fields = fields, .check = check};

const struct gw_plugin_schema gw_schema_jwt = {
    .name = "jwt",
    .priority = 1450,
    .version = GW_VERSION,
    .flags = GW_PS_NO_CONSUMER,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
