/* oauth2: an OAuth 2.0 authorization server with the four RFC 6749 grants (Kong priority
 * 1400).
 *
 * Two rules, in Kong's order: the config record's entity check (mandatory_scope needs
 * scopes), then, only when that passed, its custom_validator (at least one grant enabled),
 * whose message Kong reports as the value of "config". */
#include "../plugin_schema.h"

static const char *const pkce_modes[] = {"none", "lax", "strict", NULL};

static const char *const grants[] = {"enable_authorization_code", "enable_implicit_grant",
                                     "enable_client_credentials", "enable_password_grant", NULL};

static struct gw_field fields[] = {
    {.name = "scopes", .type = GW_T_ARRAY, .elem = &gw_elem_string_ne},
    {.name = "mandatory_scope", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    /* Kong: unique, auto (a random string when not given), required, encrypted */
    {.name = "provision_key", .type = GW_T_STRING,
     .flags = GW_F_REQUIRED | GW_F_UNIQUE | GW_F_AUTO | GW_F_SENSITIVE},
    /* seconds; 0: tokens never expire */
    {.name = "token_expiration", .type = GW_T_NUMBER, .flags = GW_F_REQUIRED, .dflt = "7200"},
    {.name = "enable_authorization_code", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "enable_implicit_grant", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "enable_client_credentials", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "enable_password_grant", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "hide_credentials", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    {.name = "accept_http_if_already_terminated", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "anonymous", .type = GW_T_STRING},
    {.name = "global_credentials", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "auth_header_name", .type = GW_T_STRING, .dflt = "\"authorization\""},
    /* seconds; the 0 .. 100000000 range is Kong 3.x's schema.lua */
    {.name = "refresh_token_ttl", .type = GW_T_NUMBER, .flags = GW_F_REQUIRED | GW_F_BETWEEN,
     .dflt = "1209600", .min = 0, .max = 100000000},
    {.name = "reuse_refresh_token", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = "pkce", .type = GW_T_STRING, .dflt = "\"lax\"", .one_of = pkce_modes},
    /* since 3.8 */
    {.name = "realm", .type = GW_T_STRING},
    {.name = NULL},
};

/* Kong's validate_flows() */
static int
flows_ok(const struct gw_record *r, const struct gw_val *rec)
{
    for (size_t i = 0; grants[i] != NULL; i++) {
        const struct gw_val *v = gw_rec_get(r, rec, grants[i]);
        if (v != NULL && v->type == GW_V_BOOL && v->u.b) {
            return 1;
        }
    }
    return 0;
}

static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    const struct gw_val *mandatory = gw_rec_get(r, rec, "mandatory_scope");

    if (mandatory != NULL && mandatory->type == GW_V_BOOL && mandatory->u.b &&
        gw_val_is_null(gw_rec_get(r, rec, "scopes"))) {
        gw_echeck_conditional_fail(ctx, "mandatory_scope", "scopes", "required field missing");
        return;
    }
    if (!flows_ok(r, rec)) {
        gw_vctx_entity_err(ctx, "at least one of these fields must be true: "
                                "enable_authorization_code, enable_implicit_grant, "
                                "enable_client_credentials, enable_password_grant");
    }
}

static struct gw_record config = {.name = "oauth2", .fields = fields, .check = check};

const struct gw_plugin_schema gw_schema_oauth2 = {
    .name = "oauth2",
    .priority = 1400,
    .version = GW_VERSION,
    .flags = GW_PS_NO_CONSUMER,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
