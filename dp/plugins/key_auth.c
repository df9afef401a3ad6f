/* key-auth: an API key from a header or query argument (Kong priority 1250). Keys are
 * indexed once per snapshot; a request costs one hash lookup. Keys in request bodies
 * (key_in_body) are not read yet: such configs work from headers and query arguments. */
#include <stdio.h>
#include <string.h>

#include "cred_index.h"
#include "plugin.h"
#include "schema.h"
#include "snapshot.h"

struct conf {
    const struct gw_val *key_names;
    int hide, in_header, in_query, run_on_preflight;
    const char *anonymous;
    struct gw_str challenge; /* WWW-Authenticate value */
};

static int
flag(const struct gw_record *r, const struct gw_val *c, const char *f)
{
    const struct gw_val *v = gw_rec_get(r, c, f);
    return v && v->type == GW_V_BOOL && v->u.b;
}

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *anon = gw_rec_get(r, c, "anonymous");
    const struct gw_val *realm = gw_rec_get(r, c, "realm");

    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->key_names = gw_rec_get(r, c, "key_names");
    k->hide = flag(r, c, "hide_credentials");
    k->in_header = flag(r, c, "key_in_header");
    k->in_query = flag(r, c, "key_in_query");
    k->run_on_preflight = flag(r, c, "run_on_preflight");
    k->anonymous = anon && anon->type == GW_V_STR ? anon->u.s : NULL;
    if (realm && realm->type == GW_V_STR) {
        char *v = gw_arena_alloc(a, realm->n + 16);
        if (v) {
            int n = snprintf(v, realm->n + 16, "Key realm=\"%s\"", realm->u.s);
            k->challenge = (struct gw_str){v, (size_t)n};
        }
    } else {
        k->challenge = GW_STR_LIT("Key");
    }
    return k;
}

static void *
init(const struct gw_snapshot *s, struct gw_arena *a)
{
    return gw_cred_index_build(s->cfg, GW_ENT_KEYAUTH_CREDENTIALS, "key", NULL, a);
}

/* A failed attempt: the anonymous consumer when configured, else 401 with the challenge. */
static int
fail(struct gw_pctx *ctx, const struct conf *k, const char *msg)
{
    if (k->anonymous) {
        const struct gw_val *anon = gw_pctx_find_consumer(ctx, k->anonymous);
        if (anon == NULL) {
            char *m = gw_arena_alloc(ctx->arena, strlen(k->anonymous) + 64);
            if (m) {
                sprintf(m, "anonymous consumer %s is configured but doesn't exist", k->anonymous);
            }
            return gw_pctx_error(ctx, 500, m ? m : "An unexpected error occurred");
        }
        gw_pctx_authenticate(ctx, anon, NULL, NULL);
        return 0;
    }
    gw_pctx_set_resp_header(ctx, "WWW-Authenticate", k->challenge);
    return gw_pctx_error(ctx, 401, msg);
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    const struct gw_cred_index *ix = global;
    struct gw_str key = GW_STR_NULL;
    unsigned count;

    if (!k->run_on_preflight && gw_str_eqz(ctx->h->method, "OPTIONS")) {
        return 0;
    }
    if (k->anonymous && ctx->credential) {
        return 0; /* "logical OR": another auth plugin already identified the client */
    }
    for (uint32_t i = 0; k->key_names && i < k->key_names->n && key.p == NULL; i++) {
        const char *name = k->key_names->u.items[i].u.s;
        if (k->in_header) {
            key = gw_pctx_header(ctx, name, &count);
            if (count > 1) {
                return fail(ctx, k, "Duplicate API key found");
            }
            if (key.p && k->hide) {
                gw_pctx_remove_header(ctx, name);
            }
        }
        if (key.p == NULL && k->in_query) {
            key = gw_pctx_query_arg(ctx, name, &count);
            if (count > 1) {
                return fail(ctx, k, "Duplicate API key found");
            }
            if (key.p && k->hide) {
                gw_pctx_remove_query_arg(ctx, (struct gw_str){name, strlen(name)});
            }
        }
    }
    if (key.p == NULL || key.n == 0) {
        return fail(ctx, k, "No API key found in request");
    }
    const struct gw_cred *cr = gw_cred_index_find(ix, key);
    if (cr == NULL || cr->consumer == NULL) {
        return fail(ctx, k, "Unauthorized");
    }
    gw_pctx_authenticate(ctx, cr->consumer, cr->cred,
                         gw_config_id(GW_ENT_KEYAUTH_CREDENTIALS, cr->cred));
    return 0;
}

const struct gw_plugin gw_handler_key_auth = {
    .schema = &gw_schema_key_auth,
    .compile = compile,
    .init = init,
    .access = access,
};
