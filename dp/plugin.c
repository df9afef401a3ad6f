/* The plugin runner. Per snapshot, every enabled plugin entity with a handler is compiled
 * once (its config into handler state) and filed under its scope (route, service,
 * consumer) in a hash table per plugin; plugin types are ordered by Kong's priority (higher
 * first, then name descending). Per request, the access phase walks the types in that
 * order and picks each one's instance by Kong's precedence, with the consumer authenticated
 * so far: so consumer-scoped instances apply to the plugins after the auth plugin. The
 * instances access picked (or the global ones when access never ran) are the ones
 * header_filter, body_filter and log run; rewrite runs the global ones before routing. */
#include "plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "snapshot.h"

/* the handler table, from the same list as the schema table; a plugin without a handler
 * file is a weak NULL */
#define GW_PLUGIN(id) extern const struct gw_plugin gw_handler_##id __attribute__((weak));
#include "plugins/plugins.def"
#undef GW_PLUGIN

static const struct gw_plugin *const handlers[] = {
#define GW_PLUGIN(id) &gw_handler_##id,
#include "plugins/plugins.def"
#undef GW_PLUGIN
};
#define NPLUGINS (sizeof handlers / sizeof handlers[0])

/* Kong's protocols as bits, and those of the HTTP subsystem (constants.lua
 * PROTOCOLS_WITH_SUBSYSTEM): the only ones we proxy */
enum {
    P_GRPC = 1 << 0,
    P_GRPCS = 1 << 1,
    P_HTTP = 1 << 2,
    P_HTTPS = 1 << 3,
    P_TCP = 1 << 4,
    P_TLS = 1 << 5,
    P_TLS_PASSTHROUGH = 1 << 6,
    P_UDP = 1 << 7,
};
#define P_SUBSYSTEM_HTTP (P_GRPC | P_GRPCS | P_HTTP | P_HTTPS)

struct pinst {
    uint64_t hash;
    const char *route, *service, *consumer; /* "" when unset */
    unsigned protocols; /* P_*; only the subsystem test uses them (a stream proxy would too) */
    void *state;
};

struct ptype {
    const struct gw_plugin *p;
    struct pinst *slots; /* open addressing; hash 0 = empty */
    uint32_t cap, n;
    int scoped_consumer;       /* some instance names a consumer */
    const struct pinst *glob;  /* the global instance (no route, service or consumer), or NULL */
    void *global;
};

struct gw_plugin_set {
    struct gw_arena *arena;
    struct ptype types[NPLUGINS]; /* in priority order, only types with instances */
    uint32_t ntypes;
    uint32_t nrewrite, nlog; /* types with a rewrite / log handler */
};

static uint64_t
scope_hash(const char *r, const char *s, const char *c)
{
    uint64_t h = 1469598103934665603ull;
    const char *parts[3] = {r, s, c};

    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; *p; p++) {
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        }
        h = (h ^ '|') * 1099511628211ull;
    }
    return h | 1;
}

static struct pinst *
find(const struct ptype *t, const char *r, const char *s, const char *c)
{
    uint64_t h = scope_hash(r, s, c);

    if (t->cap == 0) {
        return NULL;
    }
    for (uint32_t i = (uint32_t)h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        struct pinst *pi = &t->slots[i];
        if (pi->hash == 0) {
            return NULL;
        }
        if (pi->hash == h && strcmp(pi->route, r) == 0 && strcmp(pi->service, s) == 0 &&
            strcmp(pi->consumer, c) == 0) {
            return pi;
        }
    }
}

static const char *
fk(const struct gw_val *rec, const char *name)
{
    const struct gw_val *v = gw_rec_get(gw_entities[GW_ENT_PLUGINS].schema, rec, name);
    return v && v->type == GW_V_STR ? v->u.s : "";
}

/* The instance's protocols as P_* bits (the schema's default when the field is absent). */
static unsigned
protocols(const struct gw_val *rec)
{
    static const char *const names[] = {"grpc", "grpcs", "http",  "https",
                                        "tcp",  "tls",   "tls_passthrough", "udp"};
    const struct gw_val *v = gw_rec_get(gw_entities[GW_ENT_PLUGINS].schema, rec, "protocols");
    unsigned m = 0;

    if (v == NULL || v->type != GW_V_ARR) {
        return P_SUBSYSTEM_HTTP;
    }
    for (uint32_t i = 0; i < v->n; i++) {
        for (unsigned k = 0; k < sizeof names / sizeof names[0]; k++) {
            if (v->u.items[i].type == GW_V_STR && strcmp(v->u.items[i].u.s, names[k]) == 0) {
                m |= 1u << k;
            }
        }
    }
    return m;
}

/* Whether the instance takes part in the HTTP subsystem. Kong (plugins_iterator.lua
 * should_process_plugin) drops disabled instances and those whose protocols are all stream
 * ones while it builds the iterator, so neither shadows a less specific instance; a request's
 * scheme is never compared with them afterwards. */
static int
usable(const struct gw_val *rec)
{
    const struct gw_val *en = gw_rec_get(gw_entities[GW_ENT_PLUGINS].schema, rec, "enabled");

    if (en && en->type == GW_V_BOOL && !en->u.b) {
        return 0;
    }
    return (protocols(rec) & P_SUBSYSTEM_HTTP) != 0;
}

static int
cmp_priority(const void *a, const void *b)
{
    const struct ptype *x = a, *y = b;
    if (x->p->schema->priority != y->p->schema->priority) {
        return x->p->schema->priority > y->p->schema->priority ? -1 : 1;
    }
    return -strcmp(x->p->schema->name, y->p->schema->name); /* Kong: name descending */
}

struct gw_plugin_set *
gw_plugins_build(const struct gw_snapshot *s, char *err, size_t errlen)
{
    const struct gw_entset *set = &s->cfg->sets[GW_ENT_PLUGINS];
    const struct gw_record *R = gw_entities[GW_ENT_PLUGINS].schema;
    struct gw_plugin_set *ps = calloc(1, sizeof *ps);
    struct ptype all[NPLUGINS];
    uint32_t count[NPLUGINS] = {0};

    if (ps == NULL || (ps->arena = gw_arena_create(16384)) == NULL) {
        free(ps);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memset(all, 0, sizeof all);
    /* which plugin type each entity is, and how many per type */
    for (uint32_t i = 0; i < set->n; i++) {
        const char *name = fk(&set->recs[i], "name");
        const struct gw_plugin_schema *sc = gw_plugin_schema_find(name);
        if (!usable(&set->recs[i]) || sc == NULL) {
            continue; /* disabled or stream-only instances do not shadow others (Kong) */
        }
        for (size_t k = 0; k < NPLUGINS; k++) {
            if (gw_plugin_schemas[k] == sc) {
                if (handlers[k] == NULL) {
                    static int warned[NPLUGINS];
                    if (!warned[k]++) {
                        fprintf(stderr, "tollgate-dp: plugin %s is accepted but not enforced yet\n",
                                name);
                    }
                } else {
                    count[k]++;
                }
            }
        }
    }
    for (size_t k = 0; k < NPLUGINS; k++) {
        if (count[k] == 0) {
            continue;
        }
        struct ptype *t = &all[k];
        t->p = handlers[k];
        for (t->cap = 8; t->cap < count[k] * 2; t->cap *= 2) {
        }
        t->slots = gw_arena_calloc(ps->arena, sizeof *t->slots * t->cap);
        if (t->slots == NULL) {
            goto oom;
        }
    }
    for (uint32_t i = 0; i < set->n; i++) {
        const struct gw_val *rec = &set->recs[i];
        const struct gw_plugin_schema *sc = gw_plugin_schema_find(fk(rec, "name"));
        size_t k = 0;
        while (k < NPLUGINS && gw_plugin_schemas[k] != sc) {
            k++;
        }
        if (k == NPLUGINS || all[k].p == NULL || !usable(rec)) {
            continue;
        }
        struct ptype *t = &all[k];
        const char *r = fk(rec, "route"), *sv = fk(rec, "service"), *c = fk(rec, "consumer");
        uint64_t h = scope_hash(r, sv, c);
        uint32_t j = (uint32_t)h & (t->cap - 1);
        while (t->slots[j].hash) {
            j = (j + 1) & (t->cap - 1);
        }
        struct pinst *pi = &t->slots[j];
        pi->hash = h;
        pi->route = r, pi->service = sv, pi->consumer = c;
        pi->protocols = protocols(rec);
        t->scoped_consumer |= *c != '\0';
        const struct gw_val *conf = gw_rec_get(R, rec, "config");
        pi->state = t->p->compile ? t->p->compile(sc->config, conf, ps->arena, err, errlen)
                                  : (void *)conf;
        if (pi->state == NULL) {
            gw_plugins_free(ps);
            return NULL;
        }
        t->n++;
    }
    for (size_t k = 0; k < NPLUGINS; k++) {
        if (all[k].p) {
            ps->types[ps->ntypes++] = all[k];
        }
    }
    qsort(ps->types, ps->ntypes, sizeof ps->types[0], cmp_priority);
    for (uint32_t k = 0; k < ps->ntypes; k++) {
        struct ptype *t = &ps->types[k];
        t->global = t->p->init ? t->p->init(s, ps->arena) : NULL;
        t->glob = find(t, "", "", "");
        ps->nrewrite += t->p->rewrite != NULL && t->glob != NULL;
        ps->nlog += t->p->log != NULL;
    }
    return ps;
oom:
    snprintf(err, errlen, "out of memory");
    gw_plugins_free(ps);
    return NULL;
}

void
gw_plugins_free(struct gw_plugin_set *ps)
{
    if (ps) {
        gw_arena_destroy(ps->arena);
        free(ps);
    }
}

/* Kong's precedence (plugins_iterator.lua): route+service+consumer, route+consumer,
 * service+consumer, route+service, consumer, route, service, global. */
static const struct pinst *
resolve(const struct ptype *t, const char *r, const char *s, const char *c)
{
    const struct pinst *pi;

    if (*c && t->scoped_consumer && !(t->p->schema->flags & GW_PS_NO_CONSUMER)) {
        if ((pi = find(t, r, s, c)) || (pi = find(t, r, "", c)) || (pi = find(t, "", s, c))) {
            return pi;
        }
    }
    if ((pi = find(t, r, s, "")) != NULL) {
        return pi;
    }
    if (*c && t->scoped_consumer && !(t->p->schema->flags & GW_PS_NO_CONSUMER) &&
        (pi = find(t, "", "", c)) != NULL) {
        return pi;
    }
    if ((pi = find(t, r, "", "")) || (pi = find(t, "", s, "")) || (pi = find(t, "", "", ""))) {
        return pi;
    }
    return NULL;
}

static void
chosen(struct gw_pctx *ctx, uint32_t k, const void *state)
{
    if (ctx->nran < sizeof ctx->ran / sizeof ctx->ran[0]) {
        ctx->ran[ctx->nran] = (uint16_t)k;
        ctx->ran_conf[ctx->nran++] = state;
    }
}

/* Kong (plugins_iterator.lua get_collected_iterator): the phases after access run the
 * instances access collected, or the global ones when access never ran (no route matched,
 * a rewrite handler answered). */
static void
choose_globals(struct gw_pctx *ctx)
{
    const struct gw_plugin_set *ps = ctx->snap ? ctx->snap->plugins : NULL;

    if (ps == NULL || ctx->access_ran || ctx->globals_chosen) {
        return;
    }
    ctx->globals_chosen = 1;
    for (uint32_t k = 0; k < ps->ntypes; k++) {
        if (ps->types[k].glob) {
            chosen(ctx, k, ps->types[k].glob->state);
        }
    }
}

int
gw_plugins_rewrite(struct gw_pctx *ctx)
{
    const struct gw_plugin_set *ps = ctx->snap->plugins;

    if (ps == NULL || ps->nrewrite == 0) {
        return 0;
    }
    for (uint32_t k = 0; k < ps->ntypes; k++) {
        const struct ptype *t = &ps->types[k];
        if (t->p->rewrite && t->glob && t->p->rewrite(ctx, t->glob->state, t->global)) {
            return 1;
        }
    }
    return 0;
}

int
gw_plugins_access(struct gw_pctx *ctx)
{
    const struct gw_plugin_set *ps = ctx->snap->plugins;
    const char *r = ctx->route_id ? ctx->route_id : "";
    const char *s = ctx->service_id ? ctx->service_id : "";
    int answered = 0;

    if (ps == NULL) {
        return 0;
    }
    ctx->access_ran = 1;
    for (uint32_t k = ctx->resume; k < ps->ntypes; k++) {
        const struct ptype *t = &ps->types[k];
        const char *c = ctx->consumer ? gw_config_id(GW_ENT_CONSUMERS, ctx->consumer) : "";
        const struct pinst *pi = resolve(t, r, s, c);
        if (pi == NULL) {
            continue;
        }
        if (!answered && t->p->needs_body && !ctx->body_read && t->p->needs_body(pi->state, ctx)) {
            /* the proxy reads the body and calls again: this plugin is resolved again then,
             * with the same consumer, so it is the same instance */
            ctx->resume = k;
            return GW_ACCESS_BODY;
        }
        chosen(ctx, k, pi->state);
        /* after an answer Kong's iterator goes on collecting the instances for the later
         * phases (kong/init.lua: delayed_response skips the handlers, not the walk) */
        if (!answered && t->p->access && t->p->access(ctx, pi->state, t->global)) {
            answered = 1;
        }
    }
    return answered;
}

int
gw_plugins_want_log(const struct gw_snapshot *s)
{
    return s && s->plugins && s->plugins->nlog;
}

void
gw_plugins_log(struct gw_pctx *ctx, const struct gw_log_info *li)
{
    const struct gw_plugin_set *ps = ctx->snap ? ctx->snap->plugins : NULL;

    if (ps == NULL || ps->nlog == 0) {
        return;
    }
    choose_globals(ctx);
    ctx->log = li;
    for (unsigned i = 0; i < ctx->nran; i++) {
        const struct ptype *t = &ps->types[ctx->ran[i]];
        if (t->p->log) {
            t->p->log(ctx, ctx->ran_conf[i], t->global);
        }
    }
    ctx->log = NULL;
}

void
gw_plugins_header_filter(struct gw_pctx *ctx)
{
    const struct gw_plugin_set *ps = ctx->snap->plugins;

    choose_globals(ctx);
    for (unsigned i = 0; ps && i < ctx->nran; i++) {
        const struct ptype *t = &ps->types[ctx->ran[i]];
        if (t->p->header_filter) {
            t->p->header_filter(ctx, ctx->ran_conf[i], t->global);
        }
    }
}

void
gw_plugins_body_filter(struct gw_pctx *ctx)
{
    const struct gw_plugin_set *ps = ctx->snap->plugins;

    choose_globals(ctx);
    for (unsigned i = 0; ps && i < ctx->nran; i++) {
        const struct ptype *t = &ps->types[ctx->ran[i]];
        if (t->p->body_filter) {
            t->p->body_filter(ctx, ctx->ran_conf[i], t->global);
        }
    }
}

/* ------------------------------------------------------------------ the handler API */

struct gw_str
gw_pctx_body(const struct gw_pctx *ctx)
{
    if (!ctx->body_read) {
        return GW_STR_NULL;
    }
    return ctx->body_replaced ? ctx->new_body : ctx->req_body;
}

void
gw_pctx_set_body(struct gw_pctx *ctx, struct gw_str body)
{
    ctx->body_replaced = 1;
    ctx->new_body = body;
}

struct gw_str
gw_pctx_content_type(const struct gw_pctx *ctx)
{
    struct gw_str v[1];

    if (gw_pctx_header_values(ctx->h, ctx->req_edits, ctx->nreq_edits, "Content-Type", v, 1)) {
        return v[0];
    }
    return GW_STR_NULL;
}

void
gw_pctx_buffer_resp_body(struct gw_pctx *ctx)
{
    ctx->resp_buffer = 1;
}

struct gw_str
gw_pctx_resp_body(const struct gw_pctx *ctx)
{
    return ctx->resp_body_replaced ? ctx->new_resp_body : ctx->resp_body;
}

void
gw_pctx_set_resp_body(struct gw_pctx *ctx, struct gw_str body)
{
    ctx->resp_body_replaced = 1;
    ctx->new_resp_body = body;
}

struct gw_str
gw_pctx_resp_content_type(const struct gw_pctx *ctx)
{
    struct gw_str v[1];

    if (gw_pctx_header_values(ctx->resp_h, ctx->resp_edits, ctx->nresp_edits, "Content-Type", v,
                              1)) {
        return v[0];
    }
    if (ctx->resp_h == NULL && ctx->exit_status && !ctx->exit_error && ctx->exit_body.n) {
        /* a plugin's kong.response.exit: its type, JSON by default (as the proxy sends it) */
        const char *t = ctx->exit_ctype ? ctx->exit_ctype : "application/json; charset=utf-8";
        return (struct gw_str){t, strlen(t)};
    }
    return GW_STR_NULL;
}

struct gw_str
gw_pctx_header(const struct gw_pctx *ctx, const char *name, unsigned *count)
{
    struct gw_str first = GW_STR_NULL;
    unsigned n = 0;

    for (unsigned i = 0; i < ctx->h->nheaders; i++) {
        if (gw_str_caseeqz(ctx->h->headers[i].name, name)) {
            if (n++ == 0) {
                first = ctx->h->headers[i].value;
            }
        }
    }
    if (count) {
        *count = n;
    }
    return first;
}

struct gw_str
gw_pctx_query_arg(const struct gw_pctx *ctx, const char *name, unsigned *count)
{
    struct gw_str q = ctx->h->query, first = GW_STR_NULL;
    size_t nl = strlen(name), i = 0;
    unsigned n = 0;

    while (q.p && i < q.n) {
        size_t st = i;
        while (i < q.n && q.p[i] != '&') {
            i++;
        }
        const char *eq = memchr(q.p + st, '=', i - st);
        size_t kl = eq ? (size_t)(eq - (q.p + st)) : i - st;
        if (kl == nl && memcmp(q.p + st, name, nl) == 0) {
            if (n++ == 0) {
                first = eq ? (struct gw_str){eq + 1, (size_t)(q.p + i - eq - 1)}
                           : (struct gw_str){q.p + i, 0};
            }
        }
        i++;
    }
    if (count) {
        *count = n;
    }
    return first;
}

static void
add_edit(struct gw_pctx *ctx, struct gw_header_edit **list, unsigned *n, unsigned *cap,
         const char *name, struct gw_str value, int remove)
{
    if (*n == *cap) {
        unsigned nc = *cap ? *cap * 2 : 8;
        struct gw_header_edit *e = gw_arena_alloc(ctx->arena, sizeof *e * nc);
        if (e == NULL) {
            return;
        }
        if (*n) {
            memcpy(e, *list, sizeof *e * *n);
        }
        *list = e;
        *cap = nc;
    }
    /* remove: 0 set, 1 remove, 2 append */
    (*list)[(*n)++] = (struct gw_header_edit){{name, strlen(name)}, value, remove == 1, remove == 2};
}

void
gw_pctx_set_header(struct gw_pctx *ctx, const char *name, struct gw_str value)
{
    add_edit(ctx, &ctx->req_edits, &ctx->nreq_edits, &ctx->req_cap, name, value, 0);
}

void
gw_pctx_remove_header(struct gw_pctx *ctx, const char *name)
{
    add_edit(ctx, &ctx->req_edits, &ctx->nreq_edits, &ctx->req_cap, name, GW_STR_NULL, 1);
}

void
gw_pctx_remove_query_arg(struct gw_pctx *ctx, struct gw_str name)
{
    if (ctx->nremoved_args < sizeof ctx->removed_args / sizeof ctx->removed_args[0]) {
        ctx->removed_args[ctx->nremoved_args++] = name;
    }
}

void
gw_pctx_set_resp_header(struct gw_pctx *ctx, const char *name, struct gw_str value)
{
    add_edit(ctx, &ctx->resp_edits, &ctx->nresp_edits, &ctx->resp_cap, name, value, 0);
}

void
gw_pctx_append_header(struct gw_pctx *ctx, const char *name, struct gw_str value)
{
    add_edit(ctx, &ctx->req_edits, &ctx->nreq_edits, &ctx->req_cap, name, value, 2);
}

void
gw_pctx_append_resp_header(struct gw_pctx *ctx, const char *name, struct gw_str value)
{
    add_edit(ctx, &ctx->resp_edits, &ctx->nresp_edits, &ctx->resp_cap, name, value, 2);
}

void
gw_pctx_remove_resp_header(struct gw_pctx *ctx, const char *name)
{
    add_edit(ctx, &ctx->resp_edits, &ctx->nresp_edits, &ctx->resp_cap, name, GW_STR_NULL, 1);
}

void
gw_pctx_query_edit(struct gw_pctx *ctx, enum gw_query_op op, struct gw_str name,
                   struct gw_str value)
{
    if (ctx->nquery_edits == ctx->query_cap) {
        unsigned nc = ctx->query_cap ? ctx->query_cap * 2 : 8;
        struct gw_query_edit *e = gw_arena_alloc(ctx->arena, sizeof *e * nc);
        if (e == NULL) {
            return;
        }
        if (ctx->nquery_edits) {
            memcpy(e, ctx->query_edits, sizeof *e * ctx->nquery_edits);
        }
        ctx->query_edits = e;
        ctx->query_cap = nc;
    }
    ctx->query_edits[ctx->nquery_edits++] = (struct gw_query_edit){op, name, value};
}

int
gw_pctx_query_present(const struct gw_pctx *ctx, struct gw_str name)
{
    /* the last edit that touches the name decides */
    for (unsigned i = ctx->nquery_edits; i-- > 0;) {
        const struct gw_query_edit *e = &ctx->query_edits[i];
        if (gw_str_eq(e->name, name)) {
            if (e->op == GW_QE_RENAME && gw_str_eq(e->value, name)) {
                continue; /* renamed onto itself */
            }
            return e->op != GW_QE_REMOVE && e->op != GW_QE_RENAME;
        }
        if (e->op == GW_QE_RENAME && gw_str_eq(e->value, name)) {
            return 1; /* renames are only made when the old name is present */
        }
    }
    for (unsigned k = 0; k < ctx->nremoved_args; k++) {
        if (gw_str_eq(ctx->removed_args[k], name)) {
            return 0;
        }
    }
    struct gw_str q = ctx->h->query;
    size_t i = 0;
    while (q.p && i < q.n) {
        size_t st = i;
        while (i < q.n && q.p[i] != '&') {
            i++;
        }
        const char *eq = memchr(q.p + st, '=', i - st);
        struct gw_str key = {q.p + st, eq ? (size_t)(eq - (q.p + st)) : i - st};
        if (key.n && gw_str_eq(key, name)) {
            return 1;
        }
        i++;
    }
    return 0;
}

unsigned
gw_pctx_header_values(const struct gw_http_head *h, const struct gw_header_edit *edits,
                      unsigned nedits, const char *name, struct gw_str *out, unsigned max)
{
    unsigned n = 0;

    for (unsigned i = 0; h && i < h->nheaders; i++) {
        if (gw_str_caseeqz(h->headers[i].name, name) && n < max) {
            out[n++] = h->headers[i].value;
        }
    }
    for (unsigned i = 0; i < nedits; i++) {
        if (!gw_str_caseeqz(edits[i].name, name)) {
            continue;
        }
        if (edits[i].remove) {
            n = 0;
        } else if (edits[i].append) {
            if (n < max) {
                out[n++] = edits[i].value;
            }
        } else {
            n = 0;
            if (max) {
                out[n++] = edits[i].value;
            }
        }
    }
    return n;
}

int
gw_pctx_error(struct gw_pctx *ctx, int status, const char *msg)
{
    ctx->exit_status = status;
    ctx->exit_error = 1;
    ctx->exit_msg = msg;
    return 1;
}

int
gw_pctx_exit(struct gw_pctx *ctx, int status, struct gw_str body, const char *ctype)
{
    ctx->exit_status = status;
    ctx->exit_error = 0;
    ctx->exit_body = body;
    ctx->exit_ctype = ctype;
    return 1;
}

static struct gw_str
field_str(enum gw_entity_type t, const struct gw_val *rec, const char *f)
{
    const struct gw_val *v = rec ? gw_rec_get(gw_entities[t].schema, rec, f) : NULL;
    return v && v->type == GW_V_STR ? (struct gw_str){v->u.s, v->n} : GW_STR_NULL;
}

void
gw_pctx_authenticate(struct gw_pctx *ctx, const struct gw_val *consumer,
                     const struct gw_val *credential, const char *credential_identifier)
{
    struct gw_str id = field_str(GW_ENT_CONSUMERS, consumer, "id");
    struct gw_str cid = field_str(GW_ENT_CONSUMERS, consumer, "custom_id");
    struct gw_str user = field_str(GW_ENT_CONSUMERS, consumer, "username");

    ctx->consumer = consumer;
    ctx->credential = credential;
    ctx->anonymous = consumer && credential == NULL;
    /* set, or cleared when absent, so that a client cannot inject them */
    if (id.p) {
        gw_pctx_set_header(ctx, "X-Consumer-ID", id);
    } else {
        gw_pctx_remove_header(ctx, "X-Consumer-ID");
    }
    if (cid.p) {
        gw_pctx_set_header(ctx, "X-Consumer-Custom-ID", cid);
    } else {
        gw_pctx_remove_header(ctx, "X-Consumer-Custom-ID");
    }
    if (user.p) {
        gw_pctx_set_header(ctx, "X-Consumer-Username", user);
    } else {
        gw_pctx_remove_header(ctx, "X-Consumer-Username");
    }
    if (credential_identifier) {
        gw_pctx_set_header(ctx, "X-Credential-Identifier",
                           (struct gw_str){credential_identifier, strlen(credential_identifier)});
    } else {
        gw_pctx_remove_header(ctx, "X-Credential-Identifier");
    }
    if (ctx->anonymous) {
        gw_pctx_set_header(ctx, "X-Anonymous-Consumer", GW_STR_LIT("true"));
    } else {
        gw_pctx_remove_header(ctx, "X-Anonymous-Consumer");
    }
}

const struct gw_val *
gw_pctx_find_consumer(const struct gw_pctx *ctx, const char *id_or_name)
{
    const struct gw_entset *cs = &ctx->snap->cfg->sets[GW_ENT_CONSUMERS];
    const struct gw_val *c = gw_config_find(ctx->snap->cfg, GW_ENT_CONSUMERS, id_or_name);

    for (uint32_t i = 0; c == NULL && i < cs->n; i++) {
        struct gw_str u = field_str(GW_ENT_CONSUMERS, &cs->recs[i], "username");
        if (u.p && strcmp(u.p, id_or_name) == 0) {
            c = &cs->recs[i];
        }
    }
    return c;
}

int
gw_pctx_anonymous(struct gw_pctx *ctx, const char *anonymous)
{
    const struct gw_val *anon = gw_pctx_find_consumer(ctx, anonymous);

    if (anon == NULL) {
        size_t n = strlen(anonymous) + 64;
        char *m = gw_arena_alloc(ctx->arena, n);
        if (m) {
            snprintf(m, n, "anonymous consumer %s is configured but doesn't exist", anonymous);
        }
        return gw_pctx_error(ctx, 500, m ? m : "An unexpected error occurred");
    }
    gw_pctx_authenticate(ctx, anon, NULL, NULL);
    return 0;
}

struct gw_str
gw_pctx_cookie(const struct gw_pctx *ctx, const char *name)
{
    size_t nl = strlen(name);

    for (unsigned i = 0; i < ctx->h->nheaders; i++) {
        if (!gw_str_caseeqz(ctx->h->headers[i].name, "Cookie")) {
            continue;
        }
        struct gw_str v = ctx->h->headers[i].value;
        size_t j = 0;
        while (j < v.n) {
            while (j < v.n && (v.p[j] == ' ' || v.p[j] == '\t' || v.p[j] == ';' || v.p[j] == ',')) {
                j++;
            }
            size_t st = j;
            while (j < v.n && v.p[j] != ';' && v.p[j] != ',') {
                j++;
            }
            const char *eq = memchr(v.p + st, '=', j - st);
            if (eq && (size_t)(eq - (v.p + st)) == nl && strncasecmp(v.p + st, name, nl) == 0) {
                size_t e = j;
                while (e > (size_t)(eq + 1 - v.p) && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t')) {
                    e--;
                }
                return (struct gw_str){eq + 1, (size_t)(v.p + e - eq - 1)};
            }
        }
    }
    return GW_STR_NULL;
}

long
gw_plugin_base64_decode(struct gw_str in, int url, unsigned char *out)
{
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char map[256];
    size_t len, o = 0;
    uint32_t acc = 0;

    memset(map, 0xff, sizeof map);
    for (int i = 0; i < 64; i++) {
        map[(unsigned char)std[i]] = (unsigned char)i;
    }
    if (url) {
        map['-'] = 62;
        map['_'] = 63;
    }
    for (len = 0; len < in.n && in.p[len] != '='; len++) {
        if (map[(unsigned char)in.p[len]] == 0xff) {
            return -1;
        }
    }
    if (len % 4 == 1) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        acc = acc << 6 | map[(unsigned char)in.p[i]];
        if (i % 4 == 3) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (len % 4 == 2) {
        out[o++] = (unsigned char)(acc >> 4);
    } else if (len % 4 == 3) {
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    return (long)o;
}
