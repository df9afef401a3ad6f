/* cors: answers CORS preflights and adds CORS headers to responses (Kong priority 2000, so
 * before the auth plugins: preflights are answered without authentication). Everything a
 * request needs is prepared at compile time: the origin entries (literals normalised,
 * regexes compiled) and the joined header values. header_filter also runs on answers made by
 * the gateway and other plugins, so a 401 carries the CORS headers too (Kong does the same). */
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "plugin.h"
#include "schema.h"

struct origin {
    pcre2_code *re;    /* a regex entry, else NULL */
    int whole;         /* regex with ':': matched against the whole origin, else the host */
    struct gw_str lit; /* a literal entry, normalised */
};

struct conf {
    int any;                /* origins null or ["*"] */
    struct gw_str fixed;    /* the single literal-looking entry, sent as is */
    struct origin *origins; /* the rest */
    uint32_t norigins;
    struct gw_str headers, exposed, methods, max_age; /* .p NULL when unset */
    int credentials, private_network, preflight_continue, allow_origin_absent;
};

/* A normalised origin: scheme://host[:port] with the default port of http/https dropped. */
struct norm {
    struct gw_str domain, host;
};

static int
flag(const struct gw_record *r, const struct gw_val *c, const char *f)
{
    const struct gw_val *v = gw_rec_get(r, c, f);
    return v && v->type == GW_V_BOOL && v->u.b;
}

/* Kong's normalize_origin (socket.url parsing): an origin without "://" is all host. */
static struct norm
normalize(struct gw_str o, struct gw_arena *a)
{
    struct norm n = {o, o};
    const char *sep = NULL;
    char *out;

    for (size_t i = 0; i + 3 <= o.n && sep == NULL; i++) {
        sep = memcmp(o.p + i, "://", 3) == 0 ? o.p + i : NULL;
    }
    if (sep == NULL) {
        return n;
    }
    struct gw_str scheme = {o.p, (size_t)(sep - o.p)};
    const char *hp = sep + 3, *end = o.p + o.n;
    const char *slash = memchr(hp, '/', (size_t)(end - hp));
    end = slash ? slash : end;
    const char *colon = NULL;
    for (const char *p = hp; p < end; p++) {
        colon = *p == ':' ? p : *p == ']' ? NULL : colon; /* the last ':' outside [v6] */
    }
    n.host = (struct gw_str){hp, (size_t)((colon ? colon : end) - hp)};
    struct gw_str port =
        colon ? (struct gw_str){colon + 1, (size_t)(end - colon - 1)} : GW_STR_NULL;
    if ((gw_str_eqz(scheme, "http") && gw_str_eqz(port, "80")) ||
        (gw_str_eqz(scheme, "https") && gw_str_eqz(port, "443"))) {
        port = GW_STR_NULL;
    }
    if ((out = gw_arena_alloc(a, o.n + 1)) == NULL) {
        return n;
    }
    int len = snprintf(out, o.n + 1, "%.*s://%.*s%s%.*s", (int)scheme.n, scheme.p, (int)n.host.n,
                       n.host.p, port.p ? ":" : "", (int)port.n, port.p ? port.p : "");
    n.domain = (struct gw_str){out, (size_t)len};
    return n;
}

static int
literal(const char *s)
{
    return s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.:/-")] ==
           '\0';
}

static void
free_re(void *re)
{
    pcre2_code_free(re);
}

/* A regex entry: a leading '^' dropped and a trailing '$' added, matched anchored. An entry
 * that does not compile (a '*' among other origins) matches nothing, as in Kong. */
static void
add_regex(struct origin *o, const char *s, struct gw_arena *a)
{
    char *pat = gw_arena_alloc(a, strlen(s) + 2);
    int errcode;
    PCRE2_SIZE erroff;

    if (pat == NULL) {
        return;
    }
    if (*s == '^') {
        s++;
    }
    sprintf(pat, "%s$", s);
    o->whole = strchr(s, ':') != NULL;
    o->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED | PCRE2_UTF,
                          &errcode, &erroff, NULL);
    if (o->re && gw_arena_on_destroy(a, free_re, o->re) != 0) {
        pcre2_code_free(o->re);
        o->re = NULL;
    }
}

/* The array's strings joined by ","; .p NULL when the array is absent or empty. */
static struct gw_str
join(const struct gw_val *arr, struct gw_arena *a)
{
    size_t n = 0;
    char *p;

    if (arr == NULL || arr->type != GW_V_ARR || arr->n == 0) {
        return GW_STR_NULL;
    }
    for (uint32_t i = 0; i < arr->n; i++) {
        n += arr->u.items[i].n + 1;
    }
    if ((p = gw_arena_alloc(a, n)) == NULL) {
        return GW_STR_NULL;
    }
    n = 0;
    for (uint32_t i = 0; i < arr->n; i++) {
        n += (size_t)sprintf(p + n, "%s%s", i ? "," : "", arr->u.items[i].u.s);
    }
    return (struct gw_str){p, n};
}

static int
compile_origins(struct conf *k, const struct gw_val *o, struct gw_arena *a)
{
    if (o == NULL || o->type != GW_V_ARR || o->n == 0 ||
        (o->n == 1 && strcmp(o->u.items[0].u.s, "*") == 0)) {
        k->any = 1;
        return 0;
    }
    if (o->n == 1 && literal(o->u.items[0].u.s)) {
        k->fixed = (struct gw_str){o->u.items[0].u.s, o->u.items[0].n};
        return 0;
    }
    if ((k->origins = gw_arena_calloc(a, sizeof *k->origins * o->n)) == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < o->n; i++) {
        const struct gw_val *v = &o->u.items[i];
        if (literal(v->u.s)) {
            k->origins[i].lit = normalize((struct gw_str){v->u.s, v->n}, a).domain;
        } else {
            add_regex(&k->origins[i], v->u.s, a);
        }
    }
    k->norigins = o->n;
    return 0;
}

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *age = gw_rec_get(r, c, "max_age");

    if (k == NULL || compile_origins(k, gw_rec_get(r, c, "origins"), a) != 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->headers = join(gw_rec_get(r, c, "headers"), a);
    k->exposed = join(gw_rec_get(r, c, "exposed_headers"), a);
    k->methods = join(gw_rec_get(r, c, "methods"), a);
    if (k->methods.p == NULL) {
        k->methods = GW_STR_LIT("GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT");
    }
    if (age && (age->type == GW_V_INT || age->type == GW_V_NUM)) {
        char buf[32];
        /* Lua's tostring: integers without a fraction */
        int n = age->type == GW_V_INT ? snprintf(buf, sizeof buf, "%lld", (long long)age->u.i)
                                      : snprintf(buf, sizeof buf, "%.14g", age->u.d);
        k->max_age = (struct gw_str){gw_arena_strndup(a, buf, (size_t)n), (size_t)n};
    }
    k->credentials = flag(r, c, "credentials");
    k->private_network = flag(r, c, "private_network");
    k->preflight_continue = flag(r, c, "preflight_continue");
    k->allow_origin_absent = flag(r, c, "allow_origin_absent");
    return k;
}

/* kong.response.clear_header: the handler API only sets, so the edit is added here (a
 * removal also hides the upstream's header of that name). */
static void
clear_resp_header(struct gw_pctx *ctx, const char *name)
{
    if (ctx->nresp_edits == ctx->resp_cap) {
        unsigned nc = ctx->resp_cap ? ctx->resp_cap * 2 : 8;
        struct gw_header_edit *e = gw_arena_alloc(ctx->arena, sizeof *e * nc);
        if (e == NULL) {
            return;
        }
        if (ctx->nresp_edits) {
            memcpy(e, ctx->resp_edits, sizeof *e * ctx->nresp_edits);
        }
        ctx->resp_edits = e;
        ctx->resp_cap = nc;
    }
    ctx->resp_edits[ctx->nresp_edits++] =
        (struct gw_header_edit){{name, strlen(name)}, GW_STR_NULL, 1, 0};
}

static int
match(const struct origin *o, const struct norm *req)
{
    struct gw_str subject = o->whole ? req->domain : req->host;
    pcre2_match_data *md;
    int rc;

    if (o->re == NULL) {
        return o->lit.p && gw_str_eq(o->lit, req->domain);
    }
    if ((md = pcre2_match_data_create(1, NULL)) == NULL) {
        return 0;
    }
    rc = pcre2_match(o->re, (PCRE2_SPTR)subject.p, subject.n, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* Kong's configure_origin: 1 when every origin is allowed ("*"). */
static int
set_origin(struct gw_pctx *ctx, const struct conf *k)
{
    struct gw_str origin;

    if (k->any) {
        gw_pctx_set_resp_header(ctx, "Access-Control-Allow-Origin", GW_STR_LIT("*"));
        return 1;
    }
    gw_pctx_set_resp_header(ctx, "Vary", GW_STR_LIT("Origin"));
    if (k->fixed.p) {
        gw_pctx_set_resp_header(ctx, "Access-Control-Allow-Origin", k->fixed);
        return 0;
    }
    origin = gw_pctx_header(ctx, "Origin", NULL);
    if (origin.p && origin.n) {
        struct norm req = normalize(origin, ctx->arena);
        for (uint32_t i = 0; i < k->norigins; i++) {
            if (match(&k->origins[i], &req)) {
                gw_pctx_set_resp_header(ctx, "Access-Control-Allow-Origin", req.domain);
                return 0;
            }
        }
    }
    clear_resp_header(ctx, "Access-Control-Allow-Origin");
    return 0;
}

/* Kong's configure_credentials: ACAC cannot go with "*", so the origin is echoed then. */
static void
set_credentials(struct gw_pctx *ctx, const struct conf *k, int any)
{
    struct gw_str origin;

    if (!k->credentials) {
        return;
    }
    if (!any) {
        gw_pctx_set_resp_header(ctx, "Access-Control-Allow-Credentials", GW_STR_LIT("true"));
        return;
    }
    origin = gw_pctx_header(ctx, "Origin", NULL);
    if (origin.p && origin.n) {
        gw_pctx_set_resp_header(ctx, "Access-Control-Allow-Origin", origin);
        gw_pctx_set_resp_header(ctx, "Access-Control-Allow-Credentials", GW_STR_LIT("true"));
        gw_pctx_set_resp_header(ctx, "Vary", GW_STR_LIT("Origin"));
    }
}

static int
preflight(const struct gw_pctx *ctx)
{
    struct gw_str origin = gw_pctx_header(ctx, "Origin", NULL);
    return gw_str_eqz(ctx->h->method, "OPTIONS") && origin.p && origin.n &&
           gw_pctx_header(ctx, "Access-Control-Request-Method", NULL).p;
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    struct gw_str v;
    (void)global;

    if (!preflight(ctx) || k->preflight_continue) {
        return 0; /* with preflight_continue the upstream answers it */
    }
    set_credentials(ctx, k, set_origin(ctx, k));
    if (k->headers.p) {
        gw_pctx_set_resp_header(ctx, "Access-Control-Allow-Headers", k->headers);
    } else if ((v = gw_pctx_header(ctx, "Access-Control-Request-Headers", NULL)).p) {
        gw_pctx_set_resp_header(ctx, "Access-Control-Allow-Headers", v);
    }
    gw_pctx_set_resp_header(ctx, "Access-Control-Allow-Methods", k->methods);
    if (k->max_age.p) {
        gw_pctx_set_resp_header(ctx, "Access-Control-Max-Age", k->max_age);
    }
    v = gw_pctx_header(ctx, "Access-Control-Request-Private-Network", NULL);
    if (k->private_network && gw_str_eqz(v, "true")) {
        gw_pctx_set_resp_header(ctx, "Access-Control-Allow-Private-Network", GW_STR_LIT("true"));
    }
    /* an empty body, not a NULL one: the answer is built with memcpy */
    return gw_pctx_exit(ctx, 200, GW_STR_LIT(""), NULL);
}

static void
header_filter(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    (void)global;

    if (k->preflight_continue && preflight(ctx)) {
        return; /* the upstream's own preflight answer, untouched */
    }
    if (!k->allow_origin_absent && gw_pctx_header(ctx, "Origin", NULL).p == NULL) {
        return;
    }
    set_credentials(ctx, k, set_origin(ctx, k));
    if (k->exposed.p) {
        gw_pctx_set_resp_header(ctx, "Access-Control-Expose-Headers", k->exposed);
    }
}

const struct gw_plugin gw_handler_cors = {
    .schema = &gw_schema_cors,
    .compile = compile,
    .access = access,
    .header_filter = header_filter,
};
