/* TLS termination. The SNI callback swaps the connection's SSL_CTX for the certificate's;
 * the default context holds the session-ticket keys and the ALPN choice, so both survive
 * the swap.
 *
 * Client certificates (mtls-auth): the client hello callback, which runs before session
 * resumption and the SNI callback, asks for one only when an mtls-auth plugin of the
 * snapshot could apply to the SNI sent. The handshake never fails for a missing or
 * untrusted certificate: every context accepts any chain, and the plugin verifies it
 * against its own CA store in the access phase, where the route is known. */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "plugin_schema.h"
#include "schema.h"

struct sni_entry {
    char *name; /* lower-case; "*.x" and "x.*" for wildcards */
    SSL_CTX *ctx;
};

struct mtls_sni {
    char *name;
    STACK_OF(X509_NAME) *cas;
};

struct gw_tls_certs {
    SSL_CTX **ctxs;
    size_t nctx;
    struct sni_entry *snis;
    size_t nsnis;
    /* client certificates: asked on every handshake, or for SNIs matching these patterns
     * (the snis of the routes an mtls-auth plugin applies to; "*.x" and "x.*" wildcards);
     * with the CA names sent in the request (plugins with send_ca_dn), NULL for none */
    int mtls_any;
    STACK_OF(X509_NAME) *any_cas;
    struct mtls_sni *mtls;
    size_t nmtls;
};

/* the session id context of handshakes that asked for a client certificate: sessions made
 * without one are never resumed into them (OpenSSL compares it on resumption) */
static const unsigned char mtls_sid_ctx[] = "tollgate-mtls";

static SSL_CTX *default_ctx;
static int certs_index = -1; /* SSL ex_data slot: the connection's struct gw_tls_certs */

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
            unsigned int inlen, void *arg)
{
    (void)ssl, (void)arg;
    /* only HTTP/1.1 is spoken here: pick it when offered, else no ALPN */
    for (unsigned int i = 0; i < inlen;) {
        unsigned int l = in[i];
        if (i + 1 + l > inlen) {
            break;
        }
        if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* "*.x" matches names ending in ".x", "x.*" names starting with "x." */
static int
wildcard_match(const char *w, const char *name, size_t n)
{
    size_t wl = strlen(w);

    if (w[0] == '*' && n > wl - 1 && strcasecmp(name + n - (wl - 1), w + 1) == 0) {
        return 1;
    }
    return w[wl - 1] == '*' && n > wl - 1 && strncasecmp(name, w, wl - 1) == 0;
}

static SSL_CTX *
find_ctx(const struct gw_tls_certs *t, const char *name)
{
    size_t n = strlen(name);

    if (t == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < t->nsnis; i++) {
        if (strcasecmp(t->snis[i].name, name) == 0) {
            return t->snis[i].ctx;
        }
    }
    for (size_t i = 0; i < t->nsnis; i++) {
        if (wildcard_match(t->snis[i].name, name, n)) {
            return t->snis[i].ctx;
        }
    }
    return NULL;
}

/* Adds to *dst the names of src it does not hold yet. 0 or -1 (memory). */
static int
merge_names(STACK_OF(X509_NAME) **dst, const STACK_OF(X509_NAME) *src)
{
    for (int i = 0; src && i < sk_X509_NAME_num(src); i++) {
        const X509_NAME *nm = sk_X509_NAME_value(src, i);
        int dup = 0;
        for (int j = 0; *dst && j < sk_X509_NAME_num(*dst) && !dup; j++) {
            dup = X509_NAME_cmp(sk_X509_NAME_value(*dst, j), nm) == 0;
        }
        if (dup) {
            continue;
        }
        X509_NAME *copy = X509_NAME_dup(nm);
        if ((*dst == NULL && (*dst = sk_X509_NAME_new_null()) == NULL) || copy == NULL ||
            !sk_X509_NAME_push(*dst, copy)) {
            X509_NAME_free(copy);
            return -1;
        }
    }
    return 0;
}

/* Whether a plugin applies to this SNI; the CA names to send are added to *cas. */
static int
mtls_sni(const struct gw_tls_certs *t, const char *name, STACK_OF(X509_NAME) **cas)
{
    size_t n = strlen(name);
    int ask = 0;

    for (size_t i = 0; i < t->nmtls; i++) {
        const char *p = t->mtls[i].name;
        if (strcasecmp(p, name) == 0 || wildcard_match(p, name, n)) {
            ask = 1;
            merge_names(cas, t->mtls[i].cas);
        }
    }
    return ask;
}

int
gw_tls_parse_sni(const unsigned char *p, size_t len, char *out, size_t outlen)
{
    size_t list, i = 2;

    if (len < 2 || (list = (size_t)p[0] << 8 | p[1]) + 2 > len) {
        return -1;
    }
    while (i + 3 <= list + 2) {
        size_t nl = (size_t)p[i + 1] << 8 | p[i + 2];
        if (i + 3 + nl > list + 2) {
            return -1;
        }
        if (p[i] == TLSEXT_NAMETYPE_host_name) {
            if (nl == 0 || nl >= outlen || memchr(p + i + 3, 0, nl)) {
                return -1;
            }
            memcpy(out, p + i + 3, nl);
            out[nl] = '\0';
            return 0;
        }
        i += 3 + nl;
    }
    return -1;
}

/* Asks for a client certificate when an mtls-auth plugin could apply to this handshake's
 * SNI (Kong's certificate phase). The chain is accepted whatever it is (see accept_any). */
static int
on_client_hello(SSL *ssl, int *al, void *arg)
{
    const struct gw_tls_certs *t = SSL_get_ex_data(ssl, certs_index);
    const unsigned char *ext;
    size_t len;
    char name[256];
    STACK_OF(X509_NAME) *cas = NULL;
    (void)al, (void)arg;

    if (t == NULL || (!t->mtls_any && t->nmtls == 0)) {
        return SSL_CLIENT_HELLO_SUCCESS;
    }
    merge_names(&cas, t->any_cas);
    int sni_ask = SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) == 1 &&
                  gw_tls_parse_sni(ext, len, name, sizeof name) == 0 && mtls_sni(t, name, &cas);
    if (cas && sk_X509_NAME_num(cas) > 0 && (t->mtls_any || sni_ask)) {
        SSL_set_client_CA_list(ssl, cas); /* the connection owns them now */
    } else {
        sk_X509_NAME_pop_free(cas, X509_NAME_free);
    }
    if (t->mtls_any || sni_ask) {
        SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        SSL_set_session_id_context(ssl, mtls_sid_ctx, sizeof mtls_sid_ctx - 1);
        /* no resumption (Kong's disable_session_reuse): a session ticket would keep the
         * client's certificate but not the chain it sent, and every request is checked
         * against the CAs of the config it runs with. Session ids are not resumed either:
         * connections end without close_notify, which drops them from the cache. */
        SSL_set_options(ssl, SSL_OP_NO_TICKET);
        SSL_set_num_tickets(ssl, 0);
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* Every chain passes the handshake: a certificate is checked by the plugin that needs it,
 * against that plugin's CA store, so a route without mtls-auth is never refused. */
static int
accept_any(X509_STORE_CTX *x, void *arg)
{
    (void)x, (void)arg;
    return 1;
}

static int
on_servername(SSL *ssl, int *al, void *arg)
{
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const struct gw_tls_certs *t = SSL_get_ex_data(ssl, certs_index);
    SSL_CTX *ctx;
    (void)al, (void)arg;

    if (name && (ctx = find_ctx(t, name)) != NULL) {
        SSL_set_SSL_CTX(ssl, ctx);
    }
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
new_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, accept_any, NULL);
    return ctx;
}

static int
use_pem(SSL_CTX *ctx, const char *cert, const char *key)
{
    BIO *cb = BIO_new_mem_buf(cert, -1), *kb = BIO_new_mem_buf(key, -1);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    int ok = x && k && SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, k) == 1;

    /* the rest of the PEM is the chain */
    X509 *extra;
    while (ok && cb && (extra = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            ok = 0;
        }
    }
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
    return ok ? 0 : -1;
}

static const char *
rec_str(enum gw_entity_type t, const struct gw_val *rec, const char *f)
{
    const struct gw_val *v = gw_rec_get(gw_entities[t].schema, rec, f);
    return v && v->type == GW_V_STR ? v->u.s : NULL;
}

static int
mtls_add(struct gw_tls_certs *t, const char *name, const STACK_OF(X509_NAME) *cas, size_t *cap)
{
    for (size_t i = 0; i < t->nmtls; i++) {
        if (strcasecmp(t->mtls[i].name, name) == 0) {
            return merge_names(&t->mtls[i].cas, cas);
        }
    }
    if (t->nmtls == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct mtls_sni *a = realloc(t->mtls, sizeof *a * nc);
        if (a == NULL) {
            return -1;
        }
        t->mtls = a;
        *cap = nc;
    }
    struct mtls_sni *e = &t->mtls[t->nmtls];
    *e = (struct mtls_sni){strdup(name), NULL};
    if (e->name == NULL) {
        return -1;
    }
    t->nmtls++;
    return merge_names(&e->cas, cas);
}

/* The subject names of a plugin's CA certificates when it has send_ca_dn, else NULL. */
static STACK_OF(X509_NAME) *
ca_names(const struct gw_config *cfg, const struct gw_val *plugin)
{
    const struct gw_record *C = gw_schema_mtls_auth.config;
    const struct gw_val *conf = gw_rec_get(gw_entities[GW_ENT_PLUGINS].schema, plugin, "config");
    const struct gw_val *send = gw_rec_get(C, conf, "send_ca_dn");
    const struct gw_val *ids = gw_rec_get(C, conf, "ca_certificates");
    STACK_OF(X509_NAME) *names = NULL;

    if (send == NULL || send->type != GW_V_BOOL || !send->u.b || ids == NULL ||
        ids->type != GW_V_ARR || (names = sk_X509_NAME_new_null()) == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < ids->n; i++) {
        const struct gw_val *ca = gw_config_find(cfg, GW_ENT_CA_CERTIFICATES, ids->u.items[i].u.s);
        const char *pem = ca ? rec_str(GW_ENT_CA_CERTIFICATES, ca, "cert") : NULL;
        BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        X509_NAME *nm = x ? X509_NAME_dup(X509_get_subject_name(x)) : NULL;
        if (nm && !sk_X509_NAME_push(names, nm)) {
            X509_NAME_free(nm);
        }
        X509_free(x);
        BIO_free(b);
    }
    ERR_clear_error();
    return names;
}

/* Does mtls-auth plugin p apply to route r (on the route, or on its service)? */
static int
applies(const struct gw_val *p, const struct gw_val *r)
{
    const char *route = rec_str(GW_ENT_PLUGINS, p, "route");
    const char *service = rec_str(GW_ENT_PLUGINS, p, "service");
    const char *rsvc = rec_str(GW_ENT_ROUTES, r, "service");

    if (route) {
        return strcmp(gw_config_id(GW_ENT_ROUTES, r), route) == 0;
    }
    return rsvc && strcmp(rsvc, service) == 0;
}

/* One enabled mtls-auth plugin: where it asks for certificates, with which CA names. */
static int
mtls_plugin(const struct gw_config *cfg, struct gw_tls_certs *t, const struct gw_val *p,
            size_t *cap)
{
    const struct gw_entset *rs = &cfg->sets[GW_ENT_ROUTES];
    STACK_OF(X509_NAME) *cas = ca_names(cfg, p);
    int rc = 0;

    if (rec_str(GW_ENT_PLUGINS, p, "route") == NULL &&
        rec_str(GW_ENT_PLUGINS, p, "service") == NULL) {
        t->mtls_any = 1;
        rc = merge_names(&t->any_cas, cas);
    }
    for (uint32_t j = 0; j < rs->n && rc == 0 && !(t->mtls_any && cas == NULL); j++) {
        const struct gw_val *r = &rs->recs[j];
        if (!applies(p, r)) {
            continue;
        }
        const struct gw_val *snis = gw_rec_get(gw_entities[GW_ENT_ROUTES].schema, r, "snis");
        if (snis == NULL || snis->type != GW_V_ARR || snis->n == 0) {
            t->mtls_any = 1; /* any SNI, or none, can reach this route */
            rc = merge_names(&t->any_cas, cas);
            continue;
        }
        for (uint32_t k = 0; k < snis->n && rc == 0; k++) {
            if (snis->u.items[k].type == GW_V_STR) {
                rc = mtls_add(t, snis->u.items[k].u.s, cas, cap);
            }
        }
    }
    sk_X509_NAME_pop_free(cas, X509_NAME_free);
    return rc;
}

/* Where client certificates are asked for: everywhere for a global mtls-auth plugin or one
 * that applies to a route without snis; else for the snis of the routes the plugins apply
 * to (on the route, or on its service). 0 or -1 (memory). */
static int
mtls_build(const struct gw_config *cfg, struct gw_tls_certs *t)
{
    const struct gw_entset *ps = &cfg->sets[GW_ENT_PLUGINS];
    size_t cap = 0;

    for (uint32_t i = 0; i < ps->n; i++) {
        const struct gw_val *p = &ps->recs[i];
        const char *name = rec_str(GW_ENT_PLUGINS, p, "name");
        const struct gw_val *en = gw_rec_get(gw_entities[GW_ENT_PLUGINS].schema, p, "enabled");
        if (name == NULL || strcmp(name, "mtls-auth") != 0 ||
            (en && en->type == GW_V_BOOL && !en->u.b)) {
            continue;
        }
        if (mtls_plugin(cfg, t, p, &cap) < 0) {
            return -1;
        }
    }
    return 0;
}

struct gw_tls_certs *
gw_tls_certs_build(const struct gw_config *cfg, char *err, size_t errlen)
{
    const struct gw_entset *cs = &cfg->sets[GW_ENT_CERTIFICATES];
    const struct gw_entset *ss = &cfg->sets[GW_ENT_SNIS];
    struct gw_tls_certs *t = calloc(1, sizeof *t);

    if (t == NULL) {
        goto oom;
    }
    t->ctxs = calloc(cs->n ? cs->n : 1, sizeof *t->ctxs);
    t->snis = calloc(ss->n ? ss->n : 1, sizeof *t->snis);
    if (t->ctxs == NULL || t->snis == NULL) {
        goto oom;
    }
    for (uint32_t i = 0; i < cs->n; i++) {
        const struct gw_val *rec = &cs->recs[i];
        SSL_CTX *ctx = new_ctx();
        if (ctx == NULL) {
            goto oom;
        }
        t->ctxs[t->nctx++] = ctx;
        const char *alt = rec_str(GW_ENT_CERTIFICATES, rec, "cert_alt");
        if (use_pem(ctx, rec_str(GW_ENT_CERTIFICATES, rec, "cert"),
                    rec_str(GW_ENT_CERTIFICATES, rec, "key")) < 0 ||
            (alt && use_pem(ctx, alt, rec_str(GW_ENT_CERTIFICATES, rec, "key_alt")) < 0)) {
            snprintf(err, errlen, "certificate %s cannot be used",
                     gw_config_id(GW_ENT_CERTIFICATES, rec));
            gw_tls_certs_free(t);
            return NULL;
        }
    }
    for (uint32_t i = 0; i < ss->n; i++) {
        const char *name = rec_str(GW_ENT_SNIS, &ss->recs[i], "name");
        const char *cert = rec_str(GW_ENT_SNIS, &ss->recs[i], "certificate");
        const struct gw_val *crec = cert ? gw_config_find(cfg, GW_ENT_CERTIFICATES, cert) : NULL;
        if (name == NULL || crec == NULL) {
            continue;
        }
        t->snis[t->nsnis].name = strdup(name);
        t->snis[t->nsnis].ctx = t->ctxs[crec - cs->recs];
        if (t->snis[t->nsnis].name == NULL) {
            goto oom;
        }
        t->nsnis++;
    }
    if (mtls_build(cfg, t) < 0) {
        goto oom;
    }
    return t;
oom:
    snprintf(err, errlen, "out of memory");
    gw_tls_certs_free(t);
    return NULL;
}

void
gw_tls_certs_free(struct gw_tls_certs *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->nctx; i++) {
        SSL_CTX_free(t->ctxs[i]);
    }
    for (size_t i = 0; i < t->nsnis; i++) {
        free(t->snis[i].name);
    }
    for (size_t i = 0; i < t->nmtls; i++) {
        free(t->mtls[i].name);
        sk_X509_NAME_pop_free(t->mtls[i].cas, X509_NAME_free);
    }
    free(t->mtls);
    sk_X509_NAME_pop_free(t->any_cas, X509_NAME_free);
    free(t->ctxs);
    free(t->snis);
    free(t);
}

/* A self-signed P-256 certificate for "localhost", valid ten years. */
static int
self_signed(SSL_CTX *ctx)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    int ok = 0;

    if (k && x) {
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
        X509_set_pubkey(x, k);
        X509_NAME *n = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                                   -1, 0);
        X509_set_issuer_name(x, n);
        ok = X509_sign(x, k, EVP_sha256()) > 0 && SSL_CTX_use_certificate(ctx, x) == 1 &&
             SSL_CTX_use_PrivateKey(ctx, k) == 1;
    }
    X509_free(x);
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

int
gw_tls_init(const char *cert_file, const char *key_file)
{
    certs_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    default_ctx = new_ctx();
    if (default_ctx == NULL) {
        return -1;
    }
    SSL_CTX_set_tlsext_servername_callback(default_ctx, on_servername);
    SSL_CTX_set_client_hello_cb(default_ctx, on_client_hello, NULL);
    if (cert_file && key_file) {
        if (SSL_CTX_use_certificate_chain_file(default_ctx, cert_file) != 1 ||
            SSL_CTX_use_PrivateKey_file(default_ctx, key_file, SSL_FILETYPE_PEM) != 1) {
            fprintf(stderr, "tollgate-dp: cannot use %s / %s\n", cert_file, key_file);
            return -1;
        }
        return 0;
    }
    return self_signed(default_ctx);
}

SSL *
gw_tls_new(int fd, const struct gw_tls_certs *certs)
{
    SSL *ssl = SSL_new(default_ctx);

    if (ssl == NULL) {
        return NULL;
    }
    SSL_set_fd(ssl, fd);
    SSL_set_accept_state(ssl);
    SSL_set_ex_data(ssl, certs_index, (void *)certs);
    return ssl;
}
