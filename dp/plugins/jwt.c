/* jwt: signed JSON Web Tokens from query arguments, cookies or Bearer headers (Kong priority
 * 1450). Secrets and public keys are indexed by key and parsed once per snapshot (both as
 * given and base64-decoded, for secret_is_base64). The token's JSON is checked and read in
 * place by a small scanner, so a request allocates only from its arena (OpenSSL's verify
 * contexts aside). Rejections are kong.response.exit bodies (no request_id). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cred_index.h"
#include "plugin.h"
#include "schema.h"
#include "snapshot.h"

struct conf {
    const struct gw_val *uri_params, *cookies, *headers;
    const char *key_claim;
    int secret_is_base64, run_on_preflight;
    const char *claims[2]; /* claims_to_verify, in order */
    unsigned nclaims;
    double max_exp;
    const char *anonymous;
    struct gw_str challenge, challenge_err; /* WWW-Authenticate values */
};

struct secret {
    struct gw_str raw, b64;  /* HS* secret as given / base64-decoded (.p NULL: undecodable) */
    EVP_PKEY *pkey, *pkey_b64; /* the public key as given / from its base64 decoding */
    int has_key;             /* rsa_public_key set (else "Invalid key/secret" for non-HS) */
};

/* what the credential index keeps per jwt_secret */
struct jcred {
    const char *alg;
    struct secret sec;
};

static const char *const algs[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
                                   "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
                                   "EdDSA", NULL};

/* ------------------------------------------------------------------ config */

static const struct gw_val *
set_field(const struct gw_record *r, const struct gw_val *c, const char *f)
{
    const struct gw_val *v = gw_rec_get(r, c, f);
    return v && v->type == GW_V_ARR ? v : NULL;
}

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *v;

    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->uri_params = set_field(r, c, "uri_param_names");
    k->cookies = set_field(r, c, "cookie_names");
    k->headers = set_field(r, c, "header_names");
    v = gw_rec_get(r, c, "key_claim_name");
    k->key_claim = v && v->type == GW_V_STR ? v->u.s : "iss";
    v = gw_rec_get(r, c, "secret_is_base64");
    k->secret_is_base64 = v && v->type == GW_V_BOOL && v->u.b;
    v = gw_rec_get(r, c, "run_on_preflight");
    k->run_on_preflight = !(v && v->type == GW_V_BOOL && !v->u.b);
    v = set_field(r, c, "claims_to_verify");
    for (uint32_t i = 0; v && i < v->n && k->nclaims < 2; i++) {
        if (v->u.items[i].type == GW_V_STR) {
            k->claims[k->nclaims++] = strcmp(v->u.items[i].u.s, "exp") == 0 ? "exp" : "nbf";
        }
    }
    v = gw_rec_get(r, c, "maximum_expiration");
    k->max_exp = v == NULL ? 0 : v->type == GW_V_INT ? (double)v->u.i
                 : v->type == GW_V_NUM ? v->u.d : 0;
    v = gw_rec_get(r, c, "anonymous");
    k->anonymous = v && v->type == GW_V_STR ? v->u.s : NULL;
    v = gw_rec_get(r, c, "realm");
    if (v && v->type == GW_V_STR) {
        size_t n = v->n + 48;
        char *b = gw_arena_alloc(a, n), *e = gw_arena_alloc(a, n);
        if (b == NULL || e == NULL) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        k->challenge = (struct gw_str){b, (size_t)snprintf(b, n, "Bearer realm=\"%s\"", v->u.s)};
        k->challenge_err = (struct gw_str){
            e, (size_t)snprintf(e, n, "Bearer realm=\"%s\", error=\"invalid_token\"", v->u.s)};
    } else {
        k->challenge = GW_STR_LIT("Bearer");
        k->challenge_err = GW_STR_LIT("Bearer error=\"invalid_token\"");
    }
    return k;
}

static void
free_pkey(void *p)
{
    EVP_PKEY_free(p);
}

/* ex_data slot of a key: the SHA-256 of its public encoding (32 bytes in the snapshot's
 * arena), which keys the verification cache below */
static int fp_index = -1;

static void
fingerprint(struct gw_arena *a, EVP_PKEY *k)
{
    unsigned char *der = NULL, *fp = gw_arena_alloc(a, 32);
    unsigned int n = 0;
    int dn = i2d_PUBKEY(k, &der);

    if (fp_index < 0) {
        fp_index = EVP_PKEY_get_ex_new_index(0, NULL, NULL, NULL, NULL); /* config thread */
    }
    if (fp && dn > 0 && EVP_Digest(der, (size_t)dn, fp, &n, EVP_sha256(), NULL) == 1) {
        EVP_PKEY_set_ex_data(k, fp_index, fp);
    }
    OPENSSL_free(der);
}

/* A public key from PEM or DER bytes (Kong's pkey.new), freed with the snapshot. */
static EVP_PKEY *
load_pkey(struct gw_arena *a, const unsigned char *p, size_t n)
{
    EVP_PKEY *k = NULL;
    BIO *bio = BIO_new_mem_buf(p, (int)n);

    if (bio) {
        k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    if (k == NULL) {
        const unsigned char *q = p;
        k = d2i_PUBKEY(NULL, &q, (long)n);
    }
    if (k && gw_arena_on_destroy(a, free_pkey, k) != 0) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    if (k) {
        fingerprint(a, k);
    }
    return k;
}

static struct gw_str
b64_decode(struct gw_arena *a, struct gw_str in)
{
    unsigned char *d = gw_arena_alloc(a, in.n * 3 / 4 + 4);
    long n = d ? gw_plugin_base64_decode(in, 1, d) : -1;
    return n < 0 ? GW_STR_NULL : (struct gw_str){(const char *)d, (size_t)n};
}

static void *
prepare(const struct gw_val *cred, struct gw_arena *a)
{
    struct jcred *jc = gw_arena_calloc(a, sizeof *jc);
    struct gw_str alg = gw_cred_field(GW_ENT_JWT_SECRETS, cred, "algorithm");
    struct gw_str secret = gw_cred_field(GW_ENT_JWT_SECRETS, cred, "secret");
    struct gw_str pub = gw_cred_field(GW_ENT_JWT_SECRETS, cred, "rsa_public_key");

    if (jc == NULL) {
        return NULL;
    }
    jc->alg = alg.p ? alg.p : "HS256";
    jc->sec.raw = secret;
    if (secret.p) {
        jc->sec.b64 = b64_decode(a, secret);
    }
    if (pub.p) {
        struct gw_str d = b64_decode(a, pub);
        jc->sec.has_key = 1;
        jc->sec.pkey = load_pkey(a, (const unsigned char *)pub.p, pub.n);
        jc->sec.pkey_b64 = d.p ? load_pkey(a, (const unsigned char *)d.p, d.n) : NULL;
        if (d.p == NULL) {
            jc->sec.has_key = 2; /* undecodable with secret_is_base64 */
        }
    }
    return jc;
}

static void *
init(const struct gw_snapshot *s, struct gw_arena *a)
{
    return gw_cred_index_build(s->cfg, GW_ENT_JWT_SECRETS, "key", prepare, a);
}

/* ------------------------------------------------------------------ JSON, read in place */

enum { J_ERR = -1, J_NULL = 0, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jp {
    const char *p, *e;
    int depth;
};

static void
ws(struct jp *j)
{
    while (j->p < j->e && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static int
hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A string at j->p (the opening quote); *raw gets its bytes between the quotes. */
static int
jstring(struct jp *j, struct gw_str *raw)
{
    const char *st = ++j->p;

    while (j->p < j->e && *j->p != '"') {
        if ((unsigned char)*j->p < 0x20) {
            return J_ERR;
        }
        if (*j->p == '\\') {
            if (++j->p == j->e) {
                return J_ERR;
            }
            if (*j->p == 'u') {
                if (j->e - j->p < 5) {
                    return J_ERR;
                }
                for (int i = 1; i <= 4; i++) {
                    if (hexval(j->p[i]) < 0) {
                        return J_ERR;
                    }
                }
                j->p += 4;
            } else if (!strchr("\"\\/bfnrt", *j->p)) {
                return J_ERR;
            }
        }
        j->p++;
    }
    if (j->p == j->e) {
        return J_ERR;
    }
    *raw = (struct gw_str){st, (size_t)(j->p - st)};
    j->p++;
    return J_STR;
}

static int
jnumber(struct jp *j)
{
    const char *p = j->p;

    if (p < j->e && *p == '-') {
        p++;
    }
    if (p < j->e && *p == '0') {
        p++;
    } else if (p < j->e && *p >= '1' && *p <= '9') {
        while (p < j->e && *p >= '0' && *p <= '9') {
            p++;
        }
    } else {
        return J_ERR;
    }
    if (p < j->e && *p == '.') {
        if (++p == j->e || *p < '0' || *p > '9') {
            return J_ERR;
        }
        while (p < j->e && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < j->e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < j->e && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p == j->e || *p < '0' || *p > '9') {
            return J_ERR;
        }
        while (p < j->e && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    j->p = p;
    return J_NUM;
}

static int
jlit(struct jp *j, const char *lit, int type)
{
    size_t n = strlen(lit);

    if ((size_t)(j->e - j->p) < n || memcmp(j->p, lit, n) != 0) {
        return J_ERR;
    }
    j->p += n;
    return type;
}

/* One value; the object/array members are checked, not kept. */
static int
jvalue(struct jp *j)
{
    struct gw_str s;

    ws(j);
    if (j->p == j->e) {
        return J_ERR;
    }
    switch (*j->p) {
    case '"':
        return jstring(j, &s);
    case 't':
        return jlit(j, "true", J_BOOL);
    case 'f':
        return jlit(j, "false", J_BOOL);
    case 'n':
        return jlit(j, "null", J_NULL);
    case '[':
    case '{': {
        int obj = *j->p == '{';
        char close = obj ? '}' : ']';
        if (++j->depth > 64) {
            return J_ERR;
        }
        j->p++;
        ws(j);
        if (j->p < j->e && *j->p == close) {
            j->p++;
            j->depth--;
            return obj ? J_OBJ : J_ARR;
        }
        for (;;) {
            if (obj) {
                ws(j);
                if (j->p == j->e || *j->p != '"' || jstring(j, &s) != J_STR) {
                    return J_ERR;
                }
                ws(j);
                if (j->p == j->e || *j->p++ != ':') {
                    return J_ERR;
                }
            }
            if (jvalue(j) == J_ERR) {
                return J_ERR;
            }
            ws(j);
            if (j->p == j->e) {
                return J_ERR;
            }
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p++ != close) {
                return J_ERR;
            }
            j->depth--;
            return obj ? J_OBJ : J_ARR;
        }
    }
    default:
        return jnumber(j);
    }
}

/* A whole document: its top-level type, or J_ERR. */
static int
jcheck(struct gw_str doc)
{
    struct jp j = {doc.p, doc.p + doc.n, 0};
    int t = jvalue(&j);

    ws(&j);
    return j.p == j.e ? t : J_ERR;
}

/* Unescapes a JSON string's raw bytes into the arena (NUL-terminated). */
static struct gw_str
junescape(struct gw_arena *a, struct gw_str raw)
{
    char *o = gw_arena_alloc(a, raw.n + 1);
    size_t n = 0;

    if (o == NULL) {
        return GW_STR_NULL;
    }
    for (size_t i = 0; i < raw.n; i++) {
        char c = raw.p[i];
        if (c != '\\') {
            o[n++] = c;
            continue;
        }
        c = raw.p[++i];
        switch (c) {
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            for (int k = 1; k <= 4; k++) {
                cp = cp << 4 | (unsigned)hexval(raw.p[i + k]);
            }
            i += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < raw.n && raw.p[i + 1] == '\\' &&
                raw.p[i + 2] == 'u') {
                unsigned lo = 0;
                for (int k = 3; k <= 6; k++) {
                    lo = lo << 4 | (unsigned)hexval(raw.p[i + k]);
                }
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                }
            }
            /* \uXXXX is at most 6 input bytes, 4 output bytes: fits */
            if (cp < 0x80) {
                o[n++] = (char)cp;
            } else if (cp < 0x800) {
                o[n++] = (char)(0xc0 | cp >> 6);
                o[n++] = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                o[n++] = (char)(0xe0 | cp >> 12);
                o[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
                o[n++] = (char)(0x80 | (cp & 0x3f));
            } else {
                o[n++] = (char)(0xf0 | cp >> 18);
                o[n++] = (char)(0x80 | (cp >> 12 & 0x3f));
                o[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
                o[n++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: o[n++] = c; break;
        }
    }
    o[n] = '\0';
    return (struct gw_str){o, n};
}

/* The last member named name of a checked top-level object (cjson keeps the last): its type
 * (J_ERR when absent) and its raw text (a string's bytes between the quotes). */
static int
jget(struct gw_arena *a, struct gw_str doc, const char *name, struct gw_str *val)
{
    struct jp j = {doc.p, doc.p + doc.n, 0};
    size_t nl = strlen(name);
    int found = J_ERR;

    ws(&j);
    j.p++; /* '{' */
    for (;;) {
        struct gw_str k, v;
        ws(&j);
        if (j.p >= j.e || *j.p != '"') {
            return found;
        }
        jstring(&j, &k);
        ws(&j);
        j.p++; /* ':' */
        ws(&j);
        const char *st = j.p;
        int t = jvalue(&j);
        v = t == J_STR ? (struct gw_str){st + 1, (size_t)(j.p - st - 2)}
                       : (struct gw_str){st, (size_t)(j.p - st)};
        if (memchr(k.p, '\\', k.n)) {
            k = junescape(a, k);
        }
        if (k.n == nl && memcmp(k.p, name, nl) == 0) {
            found = t;
            *val = v;
        }
        ws(&j);
        if (j.p >= j.e || *j.p != ',') {
            return found;
        }
        j.p++;
    }
}

static int
jnum(struct gw_arena *a, struct gw_str doc, const char *name, double *out)
{
    struct gw_str v;

    if (jget(a, doc, name, &v) != J_NUM) {
        return 0;
    }
    char *z = gw_arena_strndup(a, v.p, v.n);
    *out = z ? strtod(z, NULL) : NAN;
    return z != NULL;
}

/* A JSON string literal's body for a message (quotes and controls escaped). */
static const char *
jescape(struct gw_arena *a, const char *s)
{
    size_t n = strlen(s), o = 0;
    char *d = gw_arena_alloc(a, n * 6 + 1);

    if (d == NULL) {
        return "";
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            d[o++] = '\\';
            d[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)sprintf(d + o, "\\u%04x", c);
        } else {
            d[o++] = (char)c;
        }
    }
    d[o] = '\0';
    return d;
}

/* ------------------------------------------------------------------ signatures */

static const EVP_MD *
alg_md(const char *alg)
{
    const char *bits = alg + 2;
    return strcmp(bits, "256") == 0 ? EVP_sha256() : strcmp(bits, "384") == 0 ? EVP_sha384()
           : strcmp(bits, "512") == 0 ? EVP_sha512() : NULL;
}

/* ES*: JOSE's raw r||s to DER for OpenSSL. */
static int
ecdsa_der(struct gw_arena *a, const char *alg, struct gw_str sig, unsigned char **der, size_t *dn)
{
    size_t half = strcmp(alg, "ES256") == 0 ? 32 : strcmp(alg, "ES384") == 0 ? 48 : 66;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = NULL, *s = NULL;
    int rc = 0;

    if (es == NULL || sig.n != half * 2) {
        goto fail;
    }
    r = BN_bin2bn((const unsigned char *)sig.p, (int)half, NULL);
    s = BN_bin2bn((const unsigned char *)sig.p + half, (int)half, NULL);
    if (r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        goto fail;
    }
    int n = i2d_ECDSA_SIG(es, NULL);
    if (n <= 0 || (*der = gw_arena_alloc(a, (size_t)n)) == NULL) {
        goto fail;
    }
    unsigned char *p = *der;
    *dn = (size_t)i2d_ECDSA_SIG(es, &p);
    rc = 1;
fail:
    ECDSA_SIG_free(es);
    return rc;
}

static int
verify_raw(struct gw_arena *a, const char *alg, struct gw_str data, struct gw_str sig,
           struct gw_str secret, EVP_PKEY *pkey)
{
    if (alg[0] == 'H') {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mlen = 0;
        if (!HMAC(alg_md(alg), secret.p ? secret.p : "", (int)secret.n,
                  (const unsigned char *)data.p, data.n, mac, &mlen)) {
            return 0;
        }
        return sig.n == mlen && CRYPTO_memcmp(mac, sig.p, mlen) == 0;
    }
    if (pkey == NULL) {
        return 0;
    }
    const unsigned char *s = (const unsigned char *)sig.p;
    size_t sn = sig.n;
    if (alg[0] == 'E' && alg[1] == 'S') {
        unsigned char *der;
        if (!ecdsa_der(a, alg, sig, &der, &sn)) {
            return 0;
        }
        s = der;
    }
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    int ok = 0;
    const EVP_MD *md = alg[0] == 'E' && alg[1] == 'd' ? NULL : alg_md(alg);
    if (mc && EVP_DigestVerifyInit(mc, &pc, md, NULL, pkey) == 1) {
        if (alg[0] == 'P' && (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
                              EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) != 1)) {
            goto done;
        }
        if (alg[0] == 'R' && EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
            goto done;
        }
        ok = EVP_DigestVerify(mc, s, sn, (const unsigned char *)data.p, data.n) == 1;
    }
done:
    EVP_MD_CTX_free(mc);
    return ok;
}

/* Public-key verification costs tens of microseconds (and OpenSSL 3 fetches per call), and
 * the same token is usually presented many times. Each worker thread remembers tokens whose
 * signature verified, keyed by a SHA-256 over the key's public encoding, the algorithm, the
 * signed part and the signature: reusing an entry for another token would take a SHA-256
 * collision. Only the signature is remembered; claims (exp, nbf) are checked on every
 * request. HMAC tokens are cheap to verify and are not cached. */
#define VCACHE 4096

static int
vkey(const char *alg, EVP_PKEY *pkey, struct gw_str data, struct gw_str sig,
     unsigned char out[32])
{
    static _Thread_local EVP_MD_CTX *mc;
    static _Thread_local EVP_MD *sha256;
    unsigned int n = 0;

    if (mc == NULL) {
        mc = EVP_MD_CTX_new();
        sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    }
    EVP_DigestInit_ex(mc, sha256, NULL);
    const unsigned char *fp = fp_index >= 0 ? EVP_PKEY_get_ex_data(pkey, fp_index) : NULL;
    if (fp == NULL) {
        memset(out, 0, 32);
        return 0; /* no fingerprint: no caching */
    }
    EVP_DigestUpdate(mc, fp, 32);
    EVP_DigestUpdate(mc, alg, strlen(alg) + 1);
    EVP_DigestUpdate(mc, data.p, data.n);
    EVP_DigestUpdate(mc, "\n", 1);
    EVP_DigestUpdate(mc, sig.p, sig.n);
    EVP_DigestFinal_ex(mc, out, &n);
    return 1;
}

static int
verify(struct gw_arena *a, const char *alg, struct gw_str data, struct gw_str sig,
       struct gw_str secret, EVP_PKEY *pkey)
{
    static _Thread_local unsigned char (*cache)[32];
    unsigned char d[32];

    if (alg[0] == 'H' || pkey == NULL) {
        return verify_raw(a, alg, data, sig, secret, pkey);
    }
    if (cache == NULL) {
        cache = calloc(VCACHE, sizeof *cache);
    }
    int keyed = vkey(alg, pkey, data, sig, d);
    unsigned char *slot = cache && keyed ? cache[(d[0] | (unsigned)d[1] << 8) % VCACHE] : NULL;
    if (slot && memcmp(slot, d, 32) == 0) {
        return 1;
    }
    int ok = verify_raw(a, alg, data, sig, secret, pkey);
    if (ok && slot) {
        memcpy(slot, d, 32);
    }
    return ok;
}

/* ------------------------------------------------------------------ the request */

struct fail {
    const char *msg;  /* {"message": msg}, or */
    const char *body; /* a raw JSON body (claim errors) */
    int plain;        /* no-token challenge (else error="invalid_token"); -1: none */
};

static struct gw_str
unescape_arg(struct gw_arena *a, struct gw_str v)
{
    char *o = gw_arena_alloc(a, v.n + 1);
    size_t n = 0;

    if (o == NULL) {
        return GW_STR_NULL;
    }
    for (size_t i = 0; i < v.n; i++) {
        int h, l;
        if (v.p[i] == '+') {
            o[n++] = ' ';
        } else if (v.p[i] == '%' && i + 2 < v.n &&
                   (h = hexval(v.p[i + 1])) >= 0 && (l = hexval(v.p[i + 2])) >= 0) {
            o[n++] = (char)(h << 4 | l);
            i += 2;
        } else {
            o[n++] = v.p[i];
        }
    }
    o[n] = '\0';
    return (struct gw_str){o, n};
}

#define MAX_TOKENS 8

static void
add_token(struct gw_str *set, unsigned *n, struct gw_str t)
{
    if (t.p == NULL || t.n == 0) {
        return;
    }
    for (unsigned i = 0; i < *n; i++) {
        if (gw_str_eq(set[i], t)) {
            return;
        }
    }
    if (*n < MAX_TOKENS) {
        set[(*n)++] = t;
    }
}

/* Kong's retrieve_tokens: every non-empty value of the query arguments, cookies and
 * `\s*[Bb]earer\s+(.+)` headers, de-duplicated. */
static unsigned
tokens(struct gw_pctx *ctx, const struct conf *k, struct gw_str *set)
{
    unsigned n = 0;
    struct gw_str q = ctx->h->query;

    for (uint32_t a = 0; k->uri_params && a < k->uri_params->n; a++) {
        const char *name = k->uri_params->u.items[a].u.s;
        size_t nl = strlen(name), i = 0;
        while (q.p && i < q.n) {
            size_t st = i;
            while (i < q.n && q.p[i] != '&') {
                i++;
            }
            const char *eq = memchr(q.p + st, '=', i - st);
            size_t kl = eq ? (size_t)(eq - (q.p + st)) : i - st;
            if (eq && kl == nl && memcmp(q.p + st, name, nl) == 0) {
                add_token(set, &n, unescape_arg(ctx->arena,
                                                (struct gw_str){eq + 1, (size_t)(q.p + i - eq - 1)}));
            }
            i++;
        }
    }
    for (uint32_t c = 0; k->cookies && c < k->cookies->n; c++) {
        add_token(set, &n, gw_pctx_cookie(ctx, k->cookies->u.items[c].u.s));
    }
    for (uint32_t h = 0; k->headers && h < k->headers->n; h++) {
        struct gw_str v = gw_pctx_header(ctx, k->headers->u.items[h].u.s, NULL);
        for (size_t i = 0; v.p && i + 6 <= v.n; i++) {
            if ((v.p[i] == 'B' || v.p[i] == 'b') && memcmp(v.p + i + 1, "earer", 5) == 0) {
                size_t j = i + 6, st = j;
                while (j < v.n && (v.p[j] == ' ' || v.p[j] == '\t')) {
                    j++;
                }
                if (j == st) {
                    continue; /* \s+ needs one */
                }
                if (j == v.n) {
                    if (j - st < 2) {
                        continue;
                    }
                    j--; /* \s+ gives one back to (.+) */
                }
                add_token(set, &n, (struct gw_str){v.p + j, v.n - j});
                break;
            }
        }
    }
    return n;
}

static int
authenticate(struct gw_pctx *ctx, const struct conf *k, const struct gw_cred_index *ix,
             struct fail *f)
{
    struct gw_str set[MAX_TOKENS];
    unsigned n = tokens(ctx, k, set);
    struct gw_arena *a = ctx->arena;

    if (n == 0) {
        f->msg = "Unauthorized";
        f->plain = 1;
        return 0;
    }
    if (n > 1) {
        f->msg = "Multiple tokens provided";
        return 0;
    }
    /* decode: header.claims.signature (parts past the third are ignored, as Kong does) */
    struct gw_str tok = set[0], part[3];
    const char *p = tok.p, *e = tok.p + tok.n;
    for (int i = 0; i < 3; i++) {
        const char *dot = memchr(p, '.', (size_t)(e - p));
        if (i < 2 && dot == NULL) {
            f->msg = "Bad token; invalid JSON";
            return 0;
        }
        part[i] = (struct gw_str){p, (size_t)((dot ? dot : e) - p)};
        p = dot ? dot + 1 : e;
    }
    struct gw_str hdr = b64_decode(a, part[0]), claims = b64_decode(a, part[1]);
    int ht = hdr.p ? jcheck(hdr) : J_ERR, ct = claims.p ? jcheck(claims) : J_ERR;
    if (ht == J_ERR || ct == J_ERR) {
        f->msg = "Bad token; invalid JSON";
        return 0;
    }
    struct gw_str v;
    if (ht == J_OBJ) {
        int t = jget(a, hdr, "typ", &v);
        if (t != J_ERR && (t != J_STR || v.n != 3 || strncasecmp(v.p, "JWT", 3) != 0)) {
            f->msg = "Bad token; invalid typ";
            return 0;
        }
    }
    const char *alg = NULL;
    if (ht == J_OBJ && jget(a, hdr, "alg", &v) == J_STR) {
        for (int i = 0; algs[i]; i++) {
            if (gw_str_eqz(v, algs[i])) {
                alg = algs[i];
            }
        }
    }
    if (alg == NULL) {
        f->msg = "Bad token; invalid alg";
        return 0;
    }
    if (ct != J_OBJ) {
        f->msg = "Bad token; invalid claims";
        return 0;
    }
    struct gw_str sig = b64_decode(a, part[2]);
    if (sig.p == NULL) {
        f->msg = "Bad token; invalid signature";
        return 0;
    }
    /* the key claim: payload first, then the JWT header */
    const char *kc = jescape(a, k->key_claim);
    int kt = jget(a, claims, k->key_claim, &v);
    if (kt == J_ERR || kt == J_NULL) {
        kt = jget(a, hdr, k->key_claim, &v);
    }
    char *m = gw_arena_alloc(a, strlen(kc) + 64);
    if (m == NULL) {
        f->msg = "An unexpected error occurred";
        return 0;
    }
    if (kt == J_ERR || kt == J_NULL) {
        sprintf(m, "No mandatory '%s' in claims", kc);
        f->msg = m;
        return 0;
    }
    if (kt == J_STR && v.n == 0) {
        sprintf(m, "Invalid '%s' in claims", kc);
        f->msg = m;
        return 0;
    }
    struct gw_str key = kt == J_STR ? junescape(a, v) : GW_STR_NULL;
    const struct gw_cred *sl = gw_cred_index_find(ix, key);
    const struct jcred *jc = sl ? sl->data : NULL;
    if (sl == NULL) {
        sprintf(m, "No credentials found for given '%s'", kc);
        f->msg = m;
        return 0;
    }
    if (jc == NULL || strcmp(jc->alg, alg) != 0) {
        f->msg = "Invalid algorithm";
        return 0;
    }
    struct gw_str secret = GW_STR_NULL;
    EVP_PKEY *pkey = NULL;
    int have;
    if (alg[0] == 'H') {
        secret = k->secret_is_base64 ? jc->sec.b64 : jc->sec.raw;
        have = secret.p != NULL;
    } else {
        pkey = k->secret_is_base64 ? jc->sec.pkey_b64 : jc->sec.pkey;
        have = jc->sec.has_key == 1 || (jc->sec.has_key == 2 && !k->secret_is_base64);
    }
    if (!have) {
        f->msg = "Invalid key/secret";
        return 0;
    }
    struct gw_str signed_part = {tok.p, part[0].n + 1 + part[1].n};
    if (!verify(a, alg, signed_part, sig, secret, pkey)) {
        f->msg = "Invalid signature";
        return 0;
    }
    /* registered claims */
    double now = (double)time(NULL), x;
    char *body = gw_arena_alloc(a, 128);
    size_t bn = 0;
    if (body == NULL) {
        f->msg = "An unexpected error occurred";
        return 0;
    }
    for (unsigned i = 0; i < k->nclaims; i++) {
        const char *c = k->claims[i], *err = NULL;
        if (!jnum(a, claims, c, &x)) {
            err = "must be a number";
        } else if (c[0] == 'e' && x <= now) {
            err = "token expired";
        } else if (c[0] == 'n' && x > now) {
            err = "token not valid yet";
        }
        if (err) {
            bn += (size_t)sprintf(body + bn, "%s\"%s\":\"%s\"", bn ? "," : "{", c, err);
        }
    }
    if (bn == 0 && k->max_exp > 0 && (!jnum(a, claims, "exp", &x) || x - now > k->max_exp)) {
        bn = (size_t)sprintf(body, "{\"exp\":\"exceeds maximum allowed expiration\"");
    }
    if (bn) {
        body[bn++] = '}';
        body[bn] = '\0';
        f->body = body;
        return 0;
    }
    if (sl->consumer == NULL) {
        m = gw_arena_alloc(a, strlen(kc) + key.n * 6 + 64);
        if (m) {
            sprintf(m, "Could not find consumer for '%s=%s'", kc, jescape(a, key.p));
        }
        f->msg = m ? m : "Unauthorized";
        f->plain = -1;
        return 0;
    }
    gw_pctx_authenticate(ctx, sl->consumer, sl->cred, sl->key.p);
    return 1;
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    struct fail f = {0};

    if (!k->run_on_preflight && gw_str_eqz(ctx->h->method, "OPTIONS")) {
        return 0;
    }
    if (k->anonymous && ctx->credential) {
        return 0; /* "logical OR": another auth plugin already identified the client */
    }
    if (authenticate(ctx, k, global, &f)) {
        return 0;
    }
    if (k->anonymous) {
        return gw_pctx_anonymous(ctx, k->anonymous);
    }
    if (f.plain >= 0) {
        gw_pctx_set_resp_header(ctx, "WWW-Authenticate", f.plain ? k->challenge : k->challenge_err);
    }
    if (f.body == NULL) {
        size_t n = strlen(f.msg) + 16;
        char *b = gw_arena_alloc(ctx->arena, n);
        if (b == NULL) {
            return gw_pctx_error(ctx, 500, "An unexpected error occurred");
        }
        /* messages are built with their quoted parts already escaped */
        f.body = b;
        snprintf(b, n, "{\"message\":\"%s\"}", f.msg);
    }
    return gw_pctx_exit(ctx, 401, (struct gw_str){f.body, strlen(f.body)}, NULL);
}

const struct gw_plugin gw_handler_jwt = {
    .schema = &gw_schema_jwt,
    .compile = compile,
    .init = init,
    .access = access,
};
