/* key-auth: an API key from a header or query argument (Kong priority 1250). Keys are
 * indexed once per snapshot; a request costs one hash lookup. Keys in request bodies
 * (key_in_body) are not read yet: such configs work from headers and query arguments. */
#include <stdio.h>
#include <string.h>

#include "plugin.h"
#include "schema.h"
#include "snapshot.h"

struct conf {
    const struct gw_val *key_names;
    int hide, in_header, in_query, run_on_preflight;
    const char *anonymous;
    struct gw_str challenge; /* WWW-Authenticate value */
};

struct slot {
    uint64_t hash;
    const struct gw_val *cred, *consumer;
};

struct index {
    struct slot *slots;
    uint32_t cap;
};

static uint64_t
hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    }
    return h | 1;
}

static const struct gw_val *
get(enum gw_entity_type t, const struct gw_val *rec, const char *f)
{
    return gw_rec_get(gw_entities[t].schema, rec, f);
}

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
    const struct gw_entset *creds = &s->cfg->sets[GW_ENT_KEYAUTH_CREDENTIALS];
    struct index *ix = gw_arena_calloc(a, sizeof *ix);

    if (ix == NULL) {
        return NULL;
    }
    for (ix->cap = 16; ix->cap < creds->n * 2; ix->cap *= 2) {
    }
    ix->slots = gw_arena_calloc(a, sizeof *ix->slots * ix->cap);
    if (ix->slots == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < creds->n; i++) {
        const struct gw_val *cred = &creds->recs[i];
        const struct gw_val *key = get(GW_ENT_KEYAUTH_CREDENTIALS, cred, "key");
        const struct gw_val *cid = get(GW_ENT_KEYAUTH_CREDENTIALS, cred, "consumer");
        if (key == NULL || key->type != GW_V_STR || cid == NULL || cid->type != GW_V_STR) {
            continue;
        }
        uint64_t h = hash(key->u.s, key->n);
        uint32_t j = (uint32_t)h & (ix->cap - 1);
        while (ix->slots[j].hash) {
            j = (j + 1) & (ix->cap - 1);
        }
        ix->slots[j] = (struct slot){h, cred, gw_config_find(s->cfg, GW_ENT_CONSUMERS, cid->u.s)};
    }
    return ix;
}

static const struct slot *
lookup(const struct index *ix, struct gw_str key)
{
    uint64_t h = hash(key.p, key.n);

    for (uint32_t j = (uint32_t)h & (ix->cap - 1); ix->slots[j].hash; j = (j + 1) & (ix->cap - 1)) {
        const struct gw_val *k = get(GW_ENT_KEYAUTH_CREDENTIALS, ix->slots[j].cred, "key");
        if (ix->slots[j].hash == h && k->n == key.n && memcmp(k->u.s, key.p, key.n) == 0) {
            return &ix->slots[j];
        }
    }
    return NULL;
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
    const struct index *ix = global;
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
    const struct slot *sl = ix ? lookup(ix, key) : NULL;
    if (sl == NULL || sl->consumer == NULL) {
        return fail(ctx, k, "Unauthorized");
    }
    gw_pctx_authenticate(ctx, sl->consumer, sl->cred, gw_config_id(GW_ENT_KEYAUTH_CREDENTIALS, sl->cred));
    return 0;
}

const struct gw_plugin gw_handler_key_auth = {
    .schema = &gw_schema_key_auth,
    .compile = compile,
    .init = init,
    .access = access,
};
