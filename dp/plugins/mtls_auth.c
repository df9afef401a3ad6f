/* mtls-auth: a client certificate, verified against the plugin's CA certificates, names a
 * consumer (Kong Enterprise, priority 1600). The TLS layer asks for a certificate only on
 * handshakes this plugin could apply to and lets any chain through (tls.c); the check is
 * here, once the route is known. The CA stores (one X509_STORE per distinct ca_certificates
 * list) and the consumer indexes by username and custom_id are built once per snapshot, by
 * init. A chain is verified once per connection, plugin and config for cache_ttl seconds
 * (Kong caches by certificate for as long); a request then costs a few hash lookups.
 *
 * As Kong's kong/plugins/mtls-auth/access.lua: the names of a certificate are its SAN
 * entries (DNS, email, URI, IP) then its subject CN, each tried against consumer_by in
 * order. Any failure (no certificate, untrusted or expired, no consumer) is a 401, or the
 * anonymous consumer when set (a missing one passes as X-Anonymous-Consumer without a
 * consumer, as Kong's does). With skip_consumer_lookup a trusted certificate is enough: its
 * CN or DN (RFC 2253, nginx's $ssl_client_s_dn) becomes the authenticated group acl checks,
 * and X-Client-Cert-DN / X-Client-Cert-SAN go upstream. There are no mtls_auth_credentials
 * entities and no revocation checks (OCSP, CRL) here: revocation_check_mode STRICT, which
 * needs a known revocation status, refuses every certificate. */
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "schema.h"
#include "snapshot.h"

enum by {
    BY_USERNAME = 1,
    BY_CUSTOM_ID
};

struct conf {
    const char *anonymous;
    enum by by[2]; /* consumer_by in order; 0 ends */
    int skip_lookup, partial_chain, group_by_dn, strict;
    double cache_ttl; /* s */
    const char *cas;  /* the ca_certificates ids joined with ',': names the store */
};

struct store {
    const char *cas;
    X509_STORE *st;
    int missing; /* a listed CA does not exist: Kong answers 500 */
};

struct slot {
    const char *key; /* NULL: empty */
    const struct gw_val *consumer;
};

struct index {
    struct slot *slots;
    uint32_t cap;
};

struct global {
    struct store *stores;
    uint32_t nstores;
    struct index by_username, by_custom_id;
};

static const char *
str_field(const struct gw_record *r, const struct gw_val *rec, const char *f)
{
    const struct gw_val *v = gw_rec_get(r, rec, f);
    return v && v->type == GW_V_STR ? v->u.s : NULL;
}

static int
flag(const struct gw_record *r, const struct gw_val *c, const char *f)
{
    const struct gw_val *v = gw_rec_get(r, c, f);
    return v && v->type == GW_V_BOOL && v->u.b;
}

/* The ids of a ca_certificates array joined with ',', from a. */
static char *
join_ids(const struct gw_val *cas, struct gw_arena *a)
{
    size_t n = 1;
    char *s, *p;

    for (uint32_t i = 0; cas && cas->type == GW_V_ARR && i < cas->n; i++) {
        n += cas->u.items[i].n + 1;
    }
    if ((s = p = gw_arena_alloc(a, n)) == NULL) {
        return NULL;
    }
    *p = '\0';
    for (uint32_t i = 0; cas && cas->type == GW_V_ARR && i < cas->n; i++) {
        p += sprintf(p, "%s%s", i ? "," : "", cas->u.items[i].u.s);
    }
    return s;
}

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *by = gw_rec_get(r, c, "consumer_by");
    const char *group = str_field(r, c, "authenticated_group_by");

    if (k == NULL || (k->cas = join_ids(gw_rec_get(r, c, "ca_certificates"), a)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->anonymous = str_field(r, c, "anonymous");
    for (uint32_t i = 0, n = 0; by && by->type == GW_V_ARR && i < by->n && n < 2; i++) {
        enum by b = strcmp(by->u.items[i].u.s, "username") == 0 ? BY_USERNAME : BY_CUSTOM_ID;
        if (n == 0 || k->by[0] != b) {
            k->by[n++] = b;
        }
    }
    k->skip_lookup = flag(r, c, "skip_consumer_lookup");
    k->partial_chain = flag(r, c, "allow_partial_chain");
    const char *mode = str_field(r, c, "revocation_check_mode");
    k->strict = mode && strcmp(mode, "STRICT") == 0;
    const struct gw_val *ttl = gw_rec_get(r, c, "cache_ttl");
    k->cache_ttl = !ttl                    ? 60
                   : ttl->type == GW_V_INT ? (double)ttl->u.i
                   : ttl->type == GW_V_NUM ? ttl->u.d
                                           : 60;
    k->group_by_dn = group && strcmp(group, "DN") == 0;
    return k;
}

/* ------------------------------------------------------------------ per snapshot */

static uint64_t
hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    }
    return h;
}

static int
index_build(struct index *ix, const struct gw_config *cfg, const char *field, struct gw_arena *a)
{
    const struct gw_entset *cs = &cfg->sets[GW_ENT_CONSUMERS];
    const struct gw_record *R = gw_entities[GW_ENT_CONSUMERS].schema;

    for (ix->cap = 16; ix->cap < cs->n * 2; ix->cap *= 2) {
    }
    if ((ix->slots = gw_arena_calloc(a, sizeof *ix->slots * ix->cap)) == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < cs->n; i++) {
        const char *key = str_field(R, &cs->recs[i], field);
        if (key == NULL) {
            continue;
        }
        uint32_t j = (uint32_t)hash(key, strlen(key)) & (ix->cap - 1);
        while (ix->slots[j].key) {
            j = (j + 1) & (ix->cap - 1);
        }
        ix->slots[j] = (struct slot){key, &cs->recs[i]};
    }
    return 0;
}

static const struct gw_val *
index_find(const struct index *ix, const char *key, size_t n)
{
    if (ix->cap == 0) {
        return NULL;
    }
    for (uint32_t j = (uint32_t)hash(key, n) & (ix->cap - 1); ix->slots[j].key;
         j = (j + 1) & (ix->cap - 1)) {
        if (strlen(ix->slots[j].key) == n && memcmp(ix->slots[j].key, key, n) == 0) {
            return ix->slots[j].consumer;
        }
    }
    return NULL;
}

static void
store_free(void *st)
{
    X509_STORE_free(st);
}

/* Every PEM certificate of a ca_certificates entity into st; how many. */
static int
add_ca(X509_STORE *st, const char *pem)
{
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *x;
    int n = 0;

    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        n += X509_STORE_add_cert(st, x) == 1;
        X509_free(x);
    }
    ERR_clear_error();
    BIO_free(b);
    return n;
}

static X509_STORE *
store_build(const struct gw_config *cfg, const struct gw_val *cas, int *missing)
{
    const struct gw_record *R = gw_entities[GW_ENT_CA_CERTIFICATES].schema;
    X509_STORE *st = X509_STORE_new();

    for (uint32_t i = 0; st && cas && cas->type == GW_V_ARR && i < cas->n; i++) {
        const char *id = cas->u.items[i].u.s;
        const struct gw_val *ca = gw_config_find(cfg, GW_ENT_CA_CERTIFICATES, id);
        if (ca == NULL || add_ca(st, str_field(R, ca, "cert")) == 0) {
            fprintf(stderr, "tollgate-dp: mtls-auth: CA Certificate '%s' does not exist\n", id);
            *missing = 1;
        }
    }
    return st;
}

/* One store per distinct ca_certificates list of the snapshot's mtls-auth plugins. */
static int
stores_build(struct global *g, const struct gw_config *cfg, struct gw_arena *a)
{
    const struct gw_entset *ps = &cfg->sets[GW_ENT_PLUGINS];
    const struct gw_record *P = gw_entities[GW_ENT_PLUGINS].schema;
    const struct gw_record *C = gw_schema_mtls_auth.config;

    if ((g->stores = gw_arena_calloc(a, sizeof *g->stores * (ps->n + 1))) == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < ps->n; i++) {
        const char *name = str_field(P, &ps->recs[i], "name");
        if (name == NULL || strcmp(name, "mtls-auth") != 0) {
            continue;
        }
        const struct gw_val *cas =
            gw_rec_get(C, gw_rec_get(P, &ps->recs[i], "config"), "ca_certificates");
        const char *key = join_ids(cas, a);
        uint32_t j = 0;
        if (key == NULL) {
            return -1;
        }
        while (j < g->nstores && strcmp(g->stores[j].cas, key) != 0) {
            j++;
        }
        if (j < g->nstores) {
            continue;
        }
        int missing = 0;
        X509_STORE *st = store_build(cfg, cas, &missing);
        if (st == NULL || gw_arena_on_destroy(a, store_free, st) < 0) {
            X509_STORE_free(st);
            return -1;
        }
        g->stores[g->nstores++] = (struct store){key, st, missing};
    }
    return 0;
}

/* The last verification on a connection (SSL ex_data, freed with the SSL): the peer's chain
 * cannot change on it (no renegotiation, no post-handshake authentication). */
struct verdict {
    uint64_t version; /* the snapshot's */
    const void *conf; /* the plugin instance, unique within that snapshot */
    double until;     /* loop time */
    int ok;
};

static int verdict_index = -1;
static pthread_once_t verdict_once = PTHREAD_ONCE_INIT;

static void
verdict_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

static void
verdict_init(void)
{
    verdict_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, verdict_free);
}

static void *
init(const struct gw_snapshot *s, struct gw_arena *a)
{
    pthread_once(&verdict_once, verdict_init);
    struct global *g = gw_arena_calloc(a, sizeof *g);

    if (g == NULL || stores_build(g, s->cfg, a) < 0 ||
        index_build(&g->by_username, s->cfg, "username", a) < 0 ||
        index_build(&g->by_custom_id, s->cfg, "custom_id", a) < 0) {
        fprintf(stderr, "tollgate-dp: mtls-auth: out of memory\n");
        return NULL; /* every request then fails verification */
    }
    return g;
}

/* ------------------------------------------------------------------ per request */

/* A failed authentication: the anonymous consumer when set (one that does not exist passes
 * as anonymous without a consumer, as Kong's set_consumer(nil)), else 401 with msg. */
static int
fail(struct gw_pctx *ctx, const struct conf *k, const char *msg)
{
    if (k->anonymous == NULL) {
        return gw_pctx_error(ctx, 401, msg);
    }
    const struct gw_val *anon = gw_pctx_find_consumer(ctx, k->anonymous);
    gw_pctx_authenticate(ctx, anon, NULL, NULL);
    if (anon == NULL) {
        ctx->anonymous = 1;
        gw_pctx_set_header(ctx, "X-Anonymous-Consumer", GW_STR_LIT("true"));
    }
    return 0;
}

static const struct store *
find_store(const struct global *g, const char *cas)
{
    for (uint32_t i = 0; g && i < g->nstores; i++) {
        if (strcmp(g->stores[i].cas, cas) == 0) {
            return &g->stores[i];
        }
    }
    return NULL;
}

/* The chain the client sent (leaf first, then what it added) against the plugin's CAs; the
 * validity dates are checked too. */
static int
verified(struct gw_pctx *ctx, const struct conf *k, X509_STORE *st, X509 *leaf)
{
    struct verdict *v = verdict_index >= 0 ? SSL_get_ex_data(ctx->ssl, verdict_index) : NULL;

    if (v && v->version == ctx->snap->version && v->conf == k && ctx->now < v->until) {
        return v->ok;
    }
    X509_STORE_CTX *x = X509_STORE_CTX_new();
    int ok = 0;

    if (x && X509_STORE_CTX_init(x, st, leaf, SSL_get_peer_cert_chain(ctx->ssl)) == 1) {
        if (k->partial_chain) {
            X509_STORE_CTX_set_flags(x, X509_V_FLAG_PARTIAL_CHAIN);
        }
        ok = X509_verify_cert(x) == 1;
    }
    X509_STORE_CTX_free(x);
    ERR_clear_error();
    if (v == NULL && verdict_index >= 0 && (v = malloc(sizeof *v)) != NULL &&
        !SSL_set_ex_data(ctx->ssl, verdict_index, v)) {
        free(v);
        v = NULL;
    }
    if (v) {
        *v = (struct verdict){ctx->snap->version, k, ctx->now + k->cache_ttl, ok};
    }
    return ok;
}

#define MAX_NAMES 32

/* A string in the request arena. */
static struct gw_str
arena_str(struct gw_pctx *ctx, const void *p, size_t n)
{
    char *s = gw_arena_alloc(ctx->arena, n + 1);

    if (s == NULL) {
        return GW_STR_NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return (struct gw_str){s, n};
}

/* Kong's get_subject_names_from_cert: the SAN entries, then the first subject CN (*cn). */
static unsigned
subject_names(struct gw_pctx *ctx, X509 *leaf, struct gw_str *out, struct gw_str *cn)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    unsigned n = 0;

    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && n < MAX_NAMES - 1; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS || gn->type == GEN_EMAIL || gn->type == GEN_URI) {
            const ASN1_IA5STRING *s = gn->d.ia5;
            out[n] = arena_str(ctx, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
        } else if (gn->type == GEN_IPADD) {
            char text[64];
            int len = ASN1_STRING_length(gn->d.ip);
            if (len != 4 && len != 16) {
                continue;
            }
            inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(gn->d.ip), text,
                      sizeof text);
            out[n] = arena_str(ctx, text, strlen(text));
        } else {
            continue;
        }
        n += out[n].p != NULL;
    }
    GENERAL_NAMES_free(sans);
    *cn = GW_STR_NULL;
    X509_NAME *subj = X509_get_subject_name(leaf);
    int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    int len =
        i >= 0 ? ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)))
               : -1;
    if (len >= 0) {
        *cn = arena_str(ctx, utf8, (size_t)len);
        if (cn->p) {
            out[n++] = *cn;
        }
    }
    OPENSSL_free(utf8);
    return n;
}

/* The consumer the first name matches through consumer_by (in its order), or NULL. */
static const struct gw_val *
find_consumer(const struct conf *k, const struct global *g, const struct gw_str *names, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        for (int b = 0; b < 2 && k->by[b]; b++) {
            const struct index *ix = k->by[b] == BY_USERNAME ? &g->by_username : &g->by_custom_id;
            const struct gw_val *c = index_find(ix, names[i].p, names[i].n);
            if (c) {
                return c;
            }
        }
    }
    return NULL;
}

/* nginx's $ssl_client_s_dn: the subject in RFC 2253 form ("CN=alice,O=Acme"). */
static struct gw_str
subject_dn(struct gw_pctx *ctx, X509 *leaf)
{
    BIO *b = BIO_new(BIO_s_mem());
    struct gw_str out = GW_STR_NULL;
    char *p;

    if (b && X509_NAME_print_ex(b, X509_get_subject_name(leaf), 0, XN_FLAG_RFC2253) >= 0) {
        long n = BIO_get_mem_data(b, &p);
        out = arena_str(ctx, p, n > 0 ? (size_t)n : 0);
    }
    BIO_free(b);
    return out;
}

/* skip_consumer_lookup: no consumer; the CN or DN is the authenticated group acl matches
 * (kong.ctx.shared.authenticated_groups), and the certificate's DN and names go upstream. */
static int
skip_lookup(struct gw_pctx *ctx, const struct conf *k, X509 *leaf, const struct gw_str *names,
            unsigned n, struct gw_str cn)
{
    struct gw_str dn = subject_dn(ctx, leaf);
    struct gw_str *grp = gw_arena_alloc(ctx->arena, sizeof *grp);

    if (!k->group_by_dn && cn.p == NULL) {
        return fail(ctx, k, "Certificate missing Common Name");
    }
    if (grp) {
        *grp = k->group_by_dn ? dn : cn;
        ctx->auth_groups = grp;
        ctx->nauth_groups = 1;
    }
    gw_pctx_set_header(ctx, "X-Client-Cert-DN", dn);
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        len += names[i].n + 1;
    }
    char *san = n ? gw_arena_alloc(ctx->arena, len) : NULL;
    if (san) {
        size_t o = 0;
        for (unsigned i = 0; i < n; i++) {
            if (i) {
                san[o++] = ',';
            }
            memcpy(san + o, names[i].p, names[i].n);
            o += names[i].n;
        }
        gw_pctx_set_header(ctx, "X-Client-Cert-SAN", (struct gw_str){san, o});
    }
    return 0;
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    const struct global *g = global;
    struct gw_str names[MAX_NAMES], cn;
    X509 *leaf;

    if (k->anonymous && ctx->credential) {
        return 0; /* "logical OR": another auth plugin already identified the client */
    }
    leaf = ctx->ssl ? SSL_get0_peer_certificate(ctx->ssl) : NULL;
    if (leaf == NULL) {
        return fail(ctx, k, "No required TLS certificate was sent");
    }
    const struct store *st = find_store(g, k->cas);
    if (st == NULL || st->missing) {
        return gw_pctx_error(ctx, 500, "An unexpected error occurred");
    }
    /* STRICT needs a revocation status, which is never known here */
    if (!verified(ctx, k, st->st, leaf) || k->strict) {
        return fail(ctx, k, "TLS certificate failed verification");
    }
    unsigned n = subject_names(ctx, leaf, names, &cn);
    if (k->skip_lookup) {
        return skip_lookup(ctx, k, leaf, names, n, cn);
    }
    const struct gw_val *c = find_consumer(k, g, names, n);
    if (c == NULL) {
        return fail(ctx, k, "TLS certificate failed verification");
    }
    /* Kong authenticates with {id = consumer.id} as the credential: not anonymous, and no
     * X-Credential-Identifier (that credential has no username) */
    gw_pctx_authenticate(ctx, c, c, NULL);
    return 0;
}

const struct gw_plugin gw_handler_mtls_auth = {
    .schema = &gw_schema_mtls_auth,
    .compile = compile,
    .init = init,
    .access = access,
};
