/* OpenSSL-backed PEM validation. Nothing is cached: these run on writes, not per request. */
#include "pem.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

static const char *
ssl_reason(char *tmp, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    snprintf(tmp, len, "%s", r ? r : "no PEM data found");
    ERR_clear_error();
    return tmp;
}

static X509 *
load_cert(const char *pem, size_t n)
{
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    return x;
}

static EVP_PKEY *
load_key(const char *pem, size_t n)
{
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    return k;
}

const char *
gw_pem_check_cert(const char *pem, size_t n, char *buf, size_t len)
{
    char tmp[128];
    X509 *x = load_cert(pem, n);

    if (x == NULL) {
        snprintf(buf, len, "invalid certificate: %s", ssl_reason(tmp, sizeof tmp));
        return buf;
    }
    X509_free(x);
    return NULL;
}

const char *
gw_pem_check_key(const char *pem, size_t n, char *buf, size_t len)
{
    char tmp[128];
    EVP_PKEY *k = load_key(pem, n);

    if (k == NULL) {
        snprintf(buf, len, "invalid key: %s", ssl_reason(tmp, sizeof tmp));
        return buf;
    }
    EVP_PKEY_free(k);
    return NULL;
}

const char *
gw_pem_check_public_key(const char *pem, size_t n, char *buf, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;

    (void)buf, (void)len;
    BIO_free(b);
    ERR_clear_error();
    if (k == NULL) {
        return "invalid key";
    }
    EVP_PKEY_free(k);
    return NULL;
}

const char *
gw_pem_check_keypair(const char *priv, size_t pn, const char *pub, size_t pubn)
{
    EVP_PKEY *pk = NULL, *sk = NULL;
    const char *err = NULL;

    /* Kong (typedefs.lua, validate_pem_keys) loads the public key first */
    if (pub) {
        BIO *b = BIO_new_mem_buf(pub, (int)pubn);
        pk = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (pk == NULL) {
            err = "could not load public key";
            goto done;
        }
    }
    if (priv) {
        sk = load_key(priv, pn);
        if (sk == NULL) {
            /* Kong appends lua-resty-openssl's error text, which we cannot reproduce */
            err = "could not load private key";
            goto done;
        }
    }
    if (pk && sk && EVP_PKEY_eq(sk, pk) != 1) {
        err = "public key does not match private key";
    }
done:
    EVP_PKEY_free(sk);
    EVP_PKEY_free(pk);
    ERR_clear_error();
    return err;
}

int
gw_pem_pair_matches(const char *cert, size_t cn, const char *key, size_t kn)
{
    X509 *x = load_cert(cert, cn);
    EVP_PKEY *k = load_key(key, kn);
    int ok = 0;

    if (x && k) {
        ok = X509_check_private_key(x, k) == 1;
    }
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return ok;
}

int
gw_pem_key_type(const char *key, size_t kn)
{
    EVP_PKEY *k = load_key(key, kn);
    int t = k ? EVP_PKEY_get_base_id(k) : -1;

    EVP_PKEY_free(k);
    ERR_clear_error();
    return t;
}

const char *
gw_pem_check_ca(const char *pem, size_t n, char digest[65], char *buf, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    X509 *more = x ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    const char *err = NULL;
    char tmp[128];

    BIO_free(b);
    if (x == NULL) {
        snprintf(buf, len, "invalid certificate: %s", ssl_reason(tmp, sizeof tmp));
        return buf;
    }
    ERR_clear_error();
    if (more) {
        err = "please submit only one certificate at a time";
    } else if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
        err = "certificate expired, \"Not After\" time is in the past";
    } else if (!(X509_get_extension_flags(x) & EXFLAG_CA)) {
        err = "certificate does not appear to be a CA because it is missing the \"CA\" basic "
              "constraint";
    } else {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        X509_digest(x, EVP_sha256(), md, &mdlen);
        for (unsigned int i = 0; i < mdlen && i < 32; i++) {
            snprintf(digest + 2 * i, 3, "%02x", md[i]);
        }
        digest[64] = '\0';
    }
    X509_free(more);
    X509_free(x);
    return err;
}
