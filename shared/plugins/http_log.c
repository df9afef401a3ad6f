/* http-log: send log entries as JSON to an HTTP endpoint through a queue (Kong priority 12).
 *
 * Its one cross-field rule is the config record's custom_validator, whose message Kong
 * reports as the value of "config": user info in http_endpoint and an Authorization header
 * cannot both be given. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../plugin_schema.h"
#include "queue.h"
#include "util.h"

static const char *const methods[] = {"POST", "PUT", "PATCH", NULL};

static const char *const content_types[] = {"application/json", "application/json; charset=utf-8",
                                            NULL};

/* typedefs.header_name plus Kong's match_none: the plugin sets these itself. (Kong's
 * Content-Length pattern spells one letter [nn], so it misses some casings; every casing is
 * refused here.) */
static const char *
check_header_key(const struct gw_val *v, char *buf, size_t len)
{
    static const char *const reserved[] = {"Host", "Content-Length", "Content-Type", NULL};
    const char *err = gw_check_header_name(v, buf, len);

    if (err != NULL) {
        return err;
    }
    for (size_t i = 0; reserved[i] != NULL; i++) {
        if (strcasecmp(v->u.s, reserved[i]) == 0) {
            snprintf(buf, len, "cannot contain '%s' header", reserved[i]);
            return buf;
        }
    }
    return NULL;
}

static const struct gw_field header_key = {.type = GW_T_STRING, .check = check_header_key};

static struct gw_field fields[] = {
    /* Kong: typedefs.url, required, encrypted, vault-referenceable */
    {.name = "http_endpoint", .type = GW_T_STRING, .flags = GW_F_REQUIRED | GW_F_SENSITIVE,
     .check = gw_check_url},
    {.name = "method", .type = GW_T_STRING, .dflt = "\"POST\"", .one_of = methods},
    {.name = "content_type", .type = GW_T_STRING, .dflt = "\"application/json\"",
     .one_of = content_types},
    /* ms */
    {.name = "timeout", .type = GW_T_NUMBER, .dflt = "10000"},
    /* ms */
    {.name = "keepalive", .type = GW_T_NUMBER, .dflt = "60000"},
    /* deprecated: ignored, or read as queue.max_batch_size and queue.max_coalescing_delay
     * when the queue fields keep their defaults (the data plane maps them) */
    {.name = "retry_count", .type = GW_T_INTEGER},
    {.name = "queue_size", .type = GW_T_INTEGER},
    {.name = "flush_timeout", .type = GW_T_NUMBER},
    {.name = "headers", .type = GW_T_MAP, .key = &header_key, .elem = &gw_elem_string_ne},
    {.name = "queue", .type = GW_T_RECORD, .record = &gw_plugin_queue_record},
    {.name = "custom_fields_by_lua", .type = GW_T_MAP, .key = &gw_elem_string_ne,
     .elem = &gw_elem_string_ne},
    {.name = NULL},
};

/* socket.url's parse(): the authority is what follows "//" up to the next '/' (the fragment
 * is cut first); user info is whatever precedes an '@' in it. */
static int
has_userinfo(const char *url)
{
    const char *p = strstr(url, "//");
    size_t n;

    if (p == NULL) {
        return 0;
    }
    p += 2;
    n = strcspn(p, "/#");
    return memchr(p, '@', n) != NULL;
}

static void
check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    const struct gw_val *url = gw_rec_get(r, rec, "http_endpoint");
    const struct gw_val *headers = gw_rec_get(r, rec, "headers");

    if (url == NULL || url->type != GW_V_STR || !has_userinfo(url->u.s) || headers == NULL ||
        headers->type != GW_V_OBJ) {
        return;
    }
    for (uint32_t i = 0; i < headers->n; i++) {
        if (strcasecmp(headers->u.kv[i].key, "authorization") == 0) {
            gw_vctx_entity_err(ctx, "specifying both an 'Authorization' header and user info "
                                    "in 'http_endpoint' is not allowed");
            return;
        }
    }
}

static struct gw_record config = {.name = "http-log", .fields = fields, .check = check};

const struct gw_plugin_schema gw_schema_http_log = {
    .name = "http-log",
    .priority = 12,
    .version = GW_VERSION,
    .protocols_allowed = NULL,
    .config = &config,
};
