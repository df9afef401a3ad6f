/* request-size-limiting: refuses request bodies above a size (Kong priority 951). A
 * Content-Length is compared at once; a chunked body is counted by the proxy as it streams
 * (Kong buffers it first, then answers: here the upstream may have seen part of it, and the
 * connection closes). */
#include <stdio.h>
#include <string.h>

#include "plugin.h"
#include "schema.h"

struct conf {
    uint64_t limit; /* bytes */
    int require_length;
};

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *size = gw_rec_get(r, c, "allowed_payload_size");
    const struct gw_val *unit = gw_rec_get(r, c, "size_unit");
    const struct gw_val *req = gw_rec_get(r, c, "require_content_length");
    uint64_t mult = 1024 * 1024; /* 1 MB = 1048576 bytes (Kong) */

    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (unit && unit->type == GW_V_STR) {
        mult = strcmp(unit->u.s, "kilobytes") == 0 ? 1024 : strcmp(unit->u.s, "bytes") == 0 ? 1 : mult;
    }
    k->limit = (uint64_t)(size && size->type == GW_V_INT && size->u.i > 0 ? size->u.i : 0) * mult;
    k->require_length = req && req->type == GW_V_BOOL && req->u.b;
    return k;
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    /* over the limit with Expect: 100-continue the answer is 417 (Kong) */
    int status = ctx->h->expect_continue ? 417 : 413;
    (void)global;

    if (ctx->h->content_length >= 0) {
        if ((uint64_t)ctx->h->content_length > k->limit) {
            return gw_pctx_error(ctx, status, "Request size limit exceeded");
        }
        return 0;
    }
    if (!ctx->h->chunked) {
        if (k->require_length) {
            return gw_pctx_error(ctx, 411, "A valid Content-Length header is required");
        }
        return 0; /* no body */
    }
    if (ctx->body_read) {
        /* an earlier plugin had the whole body read (key_in_body, ...): it is known now */
        if (ctx->req_body.n > k->limit) {
            return gw_pctx_error(ctx, status, "Request size limit exceeded");
        }
        return 0;
    }
    ctx->body_limit = k->limit;
    ctx->body_limit_status = status; /* non-zero: the limit applies */
    return 0;
}

const struct gw_plugin gw_handler_request_size_limiting = {
    .schema = &gw_schema_request_size_limiting,
    .compile = compile,
    .access = access,
};
