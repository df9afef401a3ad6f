/* acl: allow or deny consumers by group (Kong priority 950, after the auth plugins). The
 * acls entities are indexed once per snapshot by consumer id, each consumer's groups joined
 * beforehand for X-Consumer-Groups; a request costs one hash lookup and a short list walk.
 * Groups authenticated outside Kong's consumers (kong.ctx.shared.authenticated_groups, set by
 * mtls-auth with skip_consumer_lookup) are checked instead when there is no consumer, or
 * always with always_use_authenticated_groups; they go upstream as X-Authenticated-Groups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "schema.h"
#include "snapshot.h"

struct conf {
    const struct gw_val *list; /* allow or deny: an array of group names */
    int deny, hide, always_auth_groups;
};

struct groups {
    uint64_t hash; /* 0: empty slot */
    const char *consumer;
    const char **names;
    uint32_t n;
    struct gw_str joined; /* "a, b" */
};

struct index {
    struct groups *slots;
    uint32_t cap;
};

static uint64_t
hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h | 1;
}

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *allow = gw_rec_get(r, c, "allow");
    const struct gw_val *deny = gw_rec_get(r, c, "deny");
    const struct gw_val *hide = gw_rec_get(r, c, "hide_groups_header");

    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->deny = allow == NULL || allow->type != GW_V_ARR;
    k->list = k->deny ? deny : allow;
    if (k->list && k->list->type != GW_V_ARR) {
        k->list = NULL;
    }
    k->hide = hide && hide->type == GW_V_BOOL && hide->u.b;
    const struct gw_val *aag = gw_rec_get(r, c, "always_use_authenticated_groups");
    k->always_auth_groups = aag && aag->type == GW_V_BOOL && aag->u.b;
    return k;
}

static struct groups *
slot(const struct index *ix, const char *consumer, int insert)
{
    uint64_t h = hash(consumer);

    for (uint32_t j = (uint32_t)h & (ix->cap - 1);; j = (j + 1) & (ix->cap - 1)) {
        struct groups *g = &ix->slots[j];
        if (g->hash == 0) {
            if (insert) {
                g->hash = h;
                g->consumer = consumer;
                return g;
            }
            return NULL;
        }
        if (g->hash == h && strcmp(g->consumer, consumer) == 0) {
            return g;
        }
    }
}

static const char *
field(const struct gw_val *acl, const char *f)
{
    const struct gw_val *v = gw_rec_get(gw_entities[GW_ENT_ACLS].schema, acl, f);
    return v && v->type == GW_V_STR ? v->u.s : NULL;
}

static int
cmp_name(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Two passes over the acls: count each consumer's groups, then fill and join them. */
static void *
init(const struct gw_snapshot *s, struct gw_arena *a)
{
    const struct gw_entset *acls = &s->cfg->sets[GW_ENT_ACLS];
    struct index *ix = gw_arena_calloc(a, sizeof *ix);

    if (ix == NULL) {
        return NULL;
    }
    for (ix->cap = 16; ix->cap < acls->n * 2; ix->cap *= 2) {
    }
    if ((ix->slots = gw_arena_calloc(a, sizeof *ix->slots * ix->cap)) == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < acls->n; i++) {
        const char *cid = field(&acls->recs[i], "consumer"), *g = field(&acls->recs[i], "group");
        if (cid && g) {
            slot(ix, cid, 1)->n++;
        }
    }
    for (uint32_t j = 0; j < ix->cap; j++) {
        struct groups *g = &ix->slots[j];
        if (g->hash && (g->names = gw_arena_calloc(a, sizeof *g->names * g->n)) == NULL) {
            return NULL;
        }
        g->n = 0;
    }
    for (uint32_t i = 0; i < acls->n; i++) {
        const char *cid = field(&acls->recs[i], "consumer"), *name = field(&acls->recs[i], "group");
        if (cid && name) {
            struct groups *g = slot(ix, cid, 0);
            g->names[g->n++] = name;
            g->joined.n += strlen(name) + (g->n > 1 ? 2 : 0);
        }
    }
    for (uint32_t j = 0; j < ix->cap; j++) {
        struct groups *g = &ix->slots[j];
        char *p = g->hash ? gw_arena_alloc(a, g->joined.n + 1) : NULL;
        if (g->hash && p == NULL) {
            return NULL;
        }
        if (g->n > 1) {
            /* the entity order is the snapshot's, not the file's: sorted, the header is
             * the same on every load */
            qsort(g->names, g->n, sizeof *g->names, cmp_name);
        }
        g->joined.p = p;
        for (uint32_t k = 0; p && k < g->n; k++) {
            p += sprintf(p, "%s%s", k ? ", " : "", g->names[k]);
        }
    }
    return ix;
}

static int
member(const struct groups *g, const struct gw_val *list)
{
    for (uint32_t i = 0; g && list && i < list->n; i++) {
        for (uint32_t k = 0; k < g->n; k++) {
            if (strcmp(list->u.items[i].u.s, g->names[k]) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* Kong's acl with kong.ctx.shared.authenticated_groups: the list decides, and the groups go
 * upstream as X-Authenticated-Groups. */
static int
auth_groups(struct gw_pctx *ctx, const struct conf *k)
{
    int in = 0;
    size_t len = 0;

    for (unsigned i = 0; i < ctx->nauth_groups; i++) {
        len += ctx->auth_groups[i].n + 2;
        for (uint32_t j = 0; k->list && j < k->list->n && !in; j++) {
            in = gw_str_eqz(ctx->auth_groups[i], k->list->u.items[j].u.s);
        }
    }
    if (in == k->deny) {
        return gw_pctx_error(ctx, 403, "You cannot consume this service");
    }
    char *joined = k->hide ? NULL : gw_arena_alloc(ctx->arena, len + 1);
    if (joined) {
        size_t n = 0;
        for (unsigned i = 0; i < ctx->nauth_groups; i++) {
            n += (size_t)sprintf(joined + n, "%s%.*s", i ? ", " : "", (int)ctx->auth_groups[i].n,
                                 ctx->auth_groups[i].p);
        }
        gw_pctx_set_header(ctx, "X-Authenticated-Groups", (struct gw_str){joined, n});
    }
    return 0;
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    const struct index *ix = global;
    const struct groups *g = NULL;

    if (ctx->nauth_groups && (ctx->consumer == NULL || k->always_auth_groups)) {
        return auth_groups(ctx, k);
    }
    if (ctx->consumer == NULL) {
        /* no consumer and no externally authenticated groups */
        return ctx->credential ? gw_pctx_error(ctx, 403, "You cannot consume this service")
                               : gw_pctx_error(ctx, 401, "Unauthorized");
    }
    const char *cid = gw_config_id(GW_ENT_CONSUMERS, ctx->consumer);
    if (ix && cid) {
        const struct groups *found = slot(ix, cid, 0);
        g = found && found->n ? found : NULL;
    }
    if (g == NULL && !k->deny) {
        return ctx->credential ? gw_pctx_error(ctx, 403, "You cannot consume this service")
                               : gw_pctx_error(ctx, 401, "Unauthorized");
    }
    if (member(g, k->list) == k->deny) {
        return gw_pctx_error(ctx, 403, "You cannot consume this service");
    }
    if (!k->hide) {
        /* set even when empty (a deny-list passed by a consumer without groups), so that
         * a client cannot inject the header */
        gw_pctx_set_header(ctx, "X-Consumer-Groups", g ? g->joined : GW_STR_LIT(""));
    }
    return 0;
}

const struct gw_plugin gw_handler_acl = {
    .schema = &gw_schema_acl,
    .compile = compile,
    .init = init,
    .access = access,
};
