/* key-auth: an API key from a header, query argument or body field (Kong priority 1250).
 * Keys are indexed once per snapshot; a request costs one hash lookup. With key_in_body the
 * proxy reads the body before this handler runs (needs_body), and a key is looked for in
 * x-www-form-urlencoded, multipart/form-data and JSON bodies, as kong.request.get_body()
 * reads them: a string value is the key, a repeated field or a JSON object or array is
 * "Duplicate API key found", other JSON values are passed over. */
#include <stdio.h>
#include <string.h>

#include "body.h"
#include "cred_index.h"
#include "plugin.h"
#include "schema.h"
#include "snapshot.h"

struct conf {
    const struct gw_val *key_names;
    int hide, in_header, in_query, in_body, run_on_preflight;
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
    k->in_body = flag(r, c, "key_in_body");
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

/* kong.request.get_body() reads only these three kinds (others are an empty table); and
 * Kong reads the body only when a name is not in a header or the query string before it, or
 * to hide it: a key under the first name in a header or the query needs no body. */
static int
needs_body(const void *conf, const struct gw_pctx *ctx)
{
    const struct conf *k = conf;

    if (!k->in_body || gw_body_kind(gw_pctx_content_type(ctx)) == GW_BODY_OTHER) {
        return 0;
    }
    if (!k->hide && k->key_names && k->key_names->n > 0) {
        const char *name = k->key_names->u.items[0].u.s;
        if ((k->in_header && gw_pctx_header(ctx, name, NULL).p) ||
            (k->in_query && gw_pctx_query_arg(ctx, name, NULL).p)) {
            return 0;
        }
    }
    return 1;
}

/* kong.request.get_body(): the parsed body, or NULL for what it refuses (no or another
 * content type, JSON that is not an object), which Kong reads as an empty table. */
static struct gw_body_doc *
body_doc(struct gw_pctx *ctx)
{
    struct gw_body_doc *d = gw_arena_alloc(ctx->arena, sizeof *d);
    struct gw_str ct = gw_pctx_content_type(ctx);
    enum gw_body_kind kind = gw_body_kind(ct);

    if (d == NULL || kind == GW_BODY_OTHER ||
        gw_body_parse(ctx->arena, kind, ct, gw_pctx_body(ctx), d) < 0) {
        return NULL;
    }
    return d;
}

/* body[name]: 1 with *key for a string, -1 for a table (duplicate), 0 otherwise */
static int
body_key(const struct gw_body_doc *d, const char *name, struct gw_str *key)
{
    unsigned count;
    int i = d ? gw_body_find(d, (struct gw_str){name, strlen(name)}, &count) : -1;

    if (i < 0) {
        return 0;
    }
    if (count > 1 || d->f[i].type == 'o' || d->f[i].type == 'a') {
        return -1;
    }
    if (d->f[i].type != 's') {
        return 0;
    }
    *key = d->f[i].value;
    return 1;
}

/* hide_credentials with key_in_body: the field goes from the body, whichever place the key
 * came from (Kong clears body[name] and sets the body again) */
static void
hide_in_body(struct gw_pctx *ctx, struct gw_body_doc *d, const char *name)
{
    if (d && gw_body_remove(d, (struct gw_str){name, strlen(name)})) {
        struct gw_str b = gw_body_serialize(d);
        if (b.p) {
            gw_pctx_set_body(ctx, b);
        }
    }
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    const struct gw_cred_index *ix = global;
    struct gw_str key = GW_STR_NULL;
    struct gw_body_doc *body = NULL;
    int body_parsed = 0;
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
        if (k->in_body && !body_parsed && (key.p == NULL || k->hide)) {
            body = body_doc(ctx);
            body_parsed = 1;
        }
        if (key.p == NULL && k->in_body) {
            int rc = body_key(body, name, &key);
            if (rc < 0) {
                return fail(ctx, k, "Duplicate API key found");
            }
        }
        if (key.p && k->hide && k->in_body) {
            hide_in_body(ctx, body, name);
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
    .needs_body = needs_body,
};
