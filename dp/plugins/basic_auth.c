/* basic-auth: username and password from Proxy-Authorization, then Authorization (Kong
 * priority 1100). Credentials are indexed by username once per snapshot; the stored password
 * is the hex SHA-1 of password..consumer_id (hashed by the loader), so a request costs one
 * lookup and one SHA-1. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "plugin.h"
#include "schema.h"
#include "snapshot.h"

struct conf {
    int hide;
    const char *anonymous;
    struct gw_str challenge; /* WWW-Authenticate value */
};

struct slot {
    uint64_t hash;
    const struct gw_val *cred, *consumer;
    struct gw_str username, password, consumer_id;
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

static struct gw_str
field(const struct gw_val *rec, const char *f)
{
    const struct gw_val *v = gw_rec_get(gw_entities[GW_ENT_BASICAUTH_CREDENTIALS].schema, rec, f);
    return v && v->type == GW_V_STR ? (struct gw_str){v->u.s, v->n} : GW_STR_NULL;
}

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
    const struct gw_entset *creds = &s->cfg->sets[GW_ENT_BASICAUTH_CREDENTIALS];
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
        struct gw_str user = field(cred, "username"), pw = field(cred, "password");
        struct gw_str cid = field(cred, "consumer");
        if (user.p == NULL || pw.p == NULL || cid.p == NULL) {
            continue;
        }
        uint64_t h = hash(user.p, user.n);
        uint32_t j = (uint32_t)h & (ix->cap - 1);
        while (ix->slots[j].hash) {
            j = (j + 1) & (ix->cap - 1);
        }
        ix->slots[j] = (struct slot){h, cred, gw_config_find(s->cfg, GW_ENT_CONSUMERS, cid.p),
                                     user, pw, cid};
    }
    return ix;
}

static const struct slot *
lookup(const struct index *ix, struct gw_str user)
{
    uint64_t h = hash(user.p, user.n);

    for (uint32_t j = (uint32_t)h & (ix->cap - 1); ix->slots[j].hash; j = (j + 1) & (ix->cap - 1)) {
        if (ix->slots[j].hash == h && gw_str_eq(ix->slots[j].username, user)) {
            return &ix->slots[j];
        }
    }
    return NULL;
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
check_password(const struct slot *sl, struct gw_str pw)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char out[40];
    EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();

    if (md_ctx == NULL || sl->password.n != 40) {
        EVP_MD_CTX_free(md_ctx);
        return 0;
    }
    EVP_DigestInit_ex(md_ctx, EVP_sha1(), NULL);
    EVP_DigestUpdate(md_ctx, pw.p, pw.n);
    EVP_DigestUpdate(md_ctx, sl->consumer_id.p, sl->consumer_id.n);
    EVP_DigestFinal_ex(md_ctx, md, &mdlen);
    EVP_MD_CTX_free(md_ctx);
    for (int b = 0; b < 20; b++) {
        out[2 * b] = hex[md[b] >> 4];
        out[2 * b + 1] = hex[md[b] & 15];
    }
    return CRYPTO_memcmp(out, sl->password.p, 40) == 0;
}

static int
authenticate(struct gw_pctx *ctx, const struct conf *k, const struct index *ix)
{
    struct gw_str authz = gw_pctx_header(ctx, "Authorization", NULL);
    struct gw_str proxy = gw_pctx_header(ctx, "Proxy-Authorization", NULL);
    struct gw_str user, pw;
    const struct slot *sl = NULL;

    if (authz.p == NULL && proxy.p == NULL) {
        return 0;
    }
    if (parse(ctx, k, "Proxy-Authorization", proxy, &user, &pw)) {
        sl = lookup(ix, user);
    }
    if (sl == NULL) {
        if (!parse(ctx, k, "Authorization", authz, &user, &pw)) {
            return 0;
        }
        sl = lookup(ix, user);
    }
    if (sl == NULL || sl->consumer == NULL || !check_password(sl, pw)) {
        return 0;
    }
    gw_pctx_authenticate(ctx, sl->consumer, sl->cred, sl->username.p);
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
