/* acl: allow or deny consumers by group (Kong priority 950).
 *
 * Kong declares its two checks on the plugin entity, so they name the fields
 * 'config.allow' and 'config.deny'; with neither list set both messages are reported. */
#include "../plugin_schema.h"

static const char *const lists[] = {"config.allow", "config.deny", NULL};

static struct gw_field fields[] = {
    {.name = "allow", .type = GW_T_ARRAY, .elem = &gw_elem_string_ne},
    {.name = "deny", .type = GW_T_ARRAY, .elem = &gw_elem_string_ne},
    {.name = "hide_groups_header", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    /* since 3.8 */
    {.name = "always_use_authenticated_groups", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED,
     .dflt = "false"},
    {.name = NULL},
};

static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    gw_echeck_only_one_of(ctx, r, rec, lists);
    gw_echeck_at_least_one_of(ctx, r, rec, lists);
}

static struct gw_record config = {.name = "acl", .fields = fields, .check = check};

const struct gw_plugin_schema gw_schema_acl = {
    .name = "acl",
    .priority = 950,
    .version = GW_VERSION,
    .flags = GW_PS_NO_CONSUMER,
    .protocols_allowed = gw_protocols_http,
    .config = &config,
};
