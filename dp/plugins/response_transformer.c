/* response-transformer: remove, rename, replace, add and append headers of the downstream
 * response (Kong priority 800, header_filter), in Kong's order remove -> rename -> replace
 * -> add (only if absent) -> append.
 *
 * Not done here: the JSON body transformations (remove/rename/replace/add/append.json and
 * json_types), which need the body_filter phase. Editing the framing headers
 * (Content-Length, Transfer-Encoding, Connection, Upgrade) is ignored: the proxy writes
 * those itself. Headers the gateway adds after the upstream's (Server, Via, X-Kong-*) are
 * not seen by rename, replace and add. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "plugin.h"
#include "schema.h"
#include "transform.h"

struct entry {
    const char *name;
    struct gw_str value; /* rename: the new name */
};

struct conf {
    struct entry *e[GW_XF_NOPS];
    unsigned n[GW_XF_NOPS];
};

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *t = gw_arena_calloc(a, sizeof *t);

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int op = 0; op < GW_XF_NOPS; op++) {
        const struct gw_val *arr = gw_xf_list(r, c, gw_xf_op_names[op], "headers");
        if (arr == NULL || arr->n == 0) {
            continue;
        }
        t->e[op] = gw_arena_calloc(a, sizeof *t->e[op] * arr->n);
        if (t->e[op] == NULL) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        for (uint32_t i = 0; i < arr->n; i++) {
            const char *s = arr->u.items[i].type == GW_V_STR ? arr->u.items[i].u.s : NULL;
            if (s == NULL) {
                continue;
            }
            size_t nl;
            const char *v;
            if (gw_xf_split(s, op, &nl, &v, err, errlen) < 0) {
                return NULL;
            }
            if (gw_xf_framing_header(s, nl, 0) ||
                (op == GW_XF_RENAME && gw_xf_framing_header(v, strlen(v), 0))) {
                continue;
            }
            struct entry *e = &t->e[op][t->n[op]];
            e->name = gw_arena_strndup(a, s, nl);
            e->value.p = op == GW_XF_REMOVE ? NULL : gw_arena_strndup(a, v, strlen(v));
            if (e->name == NULL || (op != GW_XF_REMOVE && e->value.p == NULL)) {
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            e->value.n = e->value.p ? strlen(e->value.p) : 0;
            t->n[op]++;
        }
        /* json: not supported yet (see the top of the file) */
    }
    return t;
}

#define MAXV 32

static unsigned
values(struct gw_pctx *ctx, const char *name, struct gw_str *out)
{
    return gw_pctx_header_values(ctx->resp_h, ctx->resp_edits, ctx->nresp_edits, name, out, MAXV);
}

static void
header_filter(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *t = conf;
    struct gw_str v[MAXV];
    (void)global;

    for (unsigned i = 0; i < t->n[GW_XF_REMOVE]; i++) {
        gw_pctx_remove_resp_header(ctx, t->e[GW_XF_REMOVE][i].name);
    }
    for (unsigned i = 0; i < t->n[GW_XF_RENAME]; i++) {
        const struct entry *e = &t->e[GW_XF_RENAME][i];
        unsigned n = values(ctx, e->name, v);
        if (n == 0 || strcasecmp(e->name, e->value.p) == 0) {
            continue;
        }
        gw_pctx_remove_resp_header(ctx, e->name);
        gw_pctx_set_resp_header(ctx, e->value.p, v[0]);
        for (unsigned k = 1; k < n; k++) {
            gw_pctx_append_resp_header(ctx, e->value.p, v[k]);
        }
    }
    for (unsigned i = 0; i < t->n[GW_XF_REPLACE]; i++) {
        const struct entry *e = &t->e[GW_XF_REPLACE][i];
        if (values(ctx, e->name, v)) {
            gw_pctx_set_resp_header(ctx, e->name, e->value);
        }
    }
    for (unsigned i = 0; i < t->n[GW_XF_ADD]; i++) {
        const struct entry *e = &t->e[GW_XF_ADD][i];
        if (values(ctx, e->name, v) == 0) {
            gw_pctx_set_resp_header(ctx, e->name, e->value);
        }
    }
    for (unsigned i = 0; i < t->n[GW_XF_APPEND]; i++) {
        gw_pctx_append_resp_header(ctx, t->e[GW_XF_APPEND][i].name, t->e[GW_XF_APPEND][i].value);
    }
}

const struct gw_plugin gw_handler_response_transformer = {
    .schema = &gw_schema_response_transformer,
    .compile = compile,
    .header_filter = header_filter,
};
