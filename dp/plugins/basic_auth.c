/* basic-auth: username and password from Proxy-Authorization, then Authorization (Kong
 * priority 1100). Credentials are indexed by username once per snapshot; the stored password
 * is the hex SHA-1 of password..consumer_id (hashed by the loader), so a request costs one
 * lookup and one SHA-1. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cred_index.h"
#include "plugin.h"
#include "schema.h"
#include "snapshot.h"

struct conf {
    int hide;
    const char *anonymous;
    struct gw_str challenge; /* WWW-Authenticate value */
};

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *anon = gw_rec_get(r, c, "anonymous");
    const struct gw_val *realm = gw_rec_get(r, c, "realm");
    const struct gw_val *hide = gw_rec_get(r, c, "hide_credentials");
    const char *rs = realm && realm->type == GW_V_STR ? realm->u.s : "service";
    size_t n = strlen(rs) + 16;
    char *v = gw_arena_alloc(a, n);

    if (k == NULL || v == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->hide = hide && hide->type == GW_V_BOOL && hide->u.b;
    k->anonymous = anon && anon->type == GW_V_STR ? anon->u.s : NULL;
    k->challenge = (struct gw_str){v, (size_t)snprintf(v, n, "Basic realm=\"%s\"", rs)};
    return k;
}

static void *
init(const struct gw_snapshot *s, struct gw_arena *a)
{
    return gw_cred_index_build(s->cfg, GW_ENT_BASICAUTH_CREDENTIALS, "username", NULL, a);
}

/* Kong's retrieve_credentials: `\s*[Bb]asic\s*(.+)` (unanchored), base64, then
 * `([^:]+):(.*)` (unanchored). Clears the header when hiding, whatever it held. */
static int
parse(struct gw_pctx *ctx, const struct conf *k, const char *name, struct gw_str v,
      struct gw_str *user, struct gw_str *pw)
{
    size_t i;

    if (k->hide) {
        gw_pctx_remove_header(ctx, name);
    }
    if (v.p == NULL) {
        return 0;
    }
    for (i = 0; i + 5 <= v.n; i++) {
        if ((v.p[i] == 'B' || v.p[i] == 'b') && memcmp(v.p + i + 1, "asic", 4) == 0) {
            break;
        }
    }
    if (i + 5 > v.n) {
        return 0;
    }
    i += 5;
    while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t')) {
        i++;
    }
    if (i == v.n) {
        return 0; /* only blanks: (.+) would capture one, which does not decode */
    }
    struct gw_str b64 = {v.p + i, v.n - i};
    unsigned char *d = gw_arena_alloc(ctx->arena, b64.n * 3 / 4 + 4);
    long dn = d ? gw_plugin_base64_decode(b64, 0, d) : -1;
    if (dn <= 0) {
        return 0;
    }
    const char *s = (const char *)d;
    size_t n = (size_t)dn, u = 0;
    while (u < n && s[u] == ':') {
        u++;
    }
    const char *colon = u < n ? memchr(s + u, ':', n - u) : NULL;
    if (colon == NULL) {
        return 0;
    }
    const char *p = colon + 1, *nl = memchr(p, '\n', (size_t)(s + n - p));
    *user = (struct gw_str){s + u, (size_t)(colon - (s + u))};
    *pw = (struct gw_str){p, (size_t)((nl ? nl : s + n) - p)};
    return 1;
}

static int
check_password(const struct gw_cred *cr, struct gw_str pw)
{
    struct gw_str stored = gw_cred_field(GW_ENT_BASICAUTH_CREDENTIALS, cr->cred, "password");
    struct gw_str cid = gw_cred_field(GW_ENT_BASICAUTH_CREDENTIALS, cr->cred, "consumer");
    char out[41];

    if (stored.n != 40) {
        return 0;
    }
    gw_basicauth_hash(pw.p, pw.n, cid.p ? cid.p : "", cid.n, out);
    return CRYPTO_memcmp(out, stored.p, 40) == 0;
}

static int
authenticate(struct gw_pctx *ctx, const struct conf *k, const struct gw_cred_index *ix)
{
    struct gw_str authz = gw_pctx_header(ctx, "Authorization", NULL);
    struct gw_str proxy = gw_pctx_header(ctx, "Proxy-Authorization", NULL);
    struct gw_str user, pw;
    const struct gw_cred *sl = NULL;

    if (authz.p == NULL && proxy.p == NULL) {
        return 0;
    }
    if (parse(ctx, k, "Proxy-Authorization", proxy, &user, &pw)) {
        sl = gw_cred_index_find(ix, user);
    }
    if (sl == NULL) {
        if (!parse(ctx, k, "Authorization", authz, &user, &pw)) {
            return 0;
        }
        sl = gw_cred_index_find(ix, user);
    }
    if (sl == NULL || sl->consumer == NULL || !check_password(sl, pw)) {
        return 0;
    }
    gw_pctx_authenticate(ctx, sl->consumer, sl->cred, sl->key.p);
    return 1;
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;

    if (k->anonymous && ctx->credential) {
        return 0; /* "logical OR": another auth plugin already identified the client */
    }
    if (global && authenticate(ctx, k, global)) {
        return 0;
    }
    if (k->anonymous) {
        return gw_pctx_anonymous(ctx, k->anonymous);
    }
    gw_pctx_set_resp_header(ctx, "WWW-Authenticate", k->challenge);
    return gw_pctx_error(ctx, 401, "Unauthorized");
}

const struct gw_plugin gw_handler_basic_auth = {
    .schema = &gw_schema_basic_auth,
    .compile = compile,
    .init = init,
    .access = access,
};
