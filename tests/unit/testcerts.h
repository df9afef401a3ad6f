/* Keys and self-signed certificates made at test time with OpenSSL, as PEM text. Header-only;
 * every function is static and may go unused. */
#ifndef GW_TESTCERTS_H
#define GW_TESTCERTS_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static TU_UNUSED EVP_PKEY *
tc_rsa_key(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);

    assert_non_null(k);
    return k;
}

static TU_UNUSED EVP_PKEY *
tc_ec_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    assert_non_null(k);
    return k;
}

static TU_UNUSED char *
tc_bio_text(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = malloc((size_t)n + 1);

    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

/* "-----BEGIN PRIVATE KEY-----..." (PKCS#8), malloc'd */
static TU_UNUSED char *
tc_key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());

    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    return tc_bio_text(b);
}

/* "-----BEGIN PUBLIC KEY-----...", malloc'd */
static TU_UNUSED char *
tc_pubkey_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());

    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    return tc_bio_text(b);
}

static TU_UNUSED void
tc_add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* A self-signed certificate for key k, valid from now + from_days to now + to_days; ca adds
 * the critical basicConstraints CA:TRUE. PEM, malloc'd. */
static TU_UNUSED char *
tc_cert_pem(EVP_PKEY *k, const char *cn, int ca, long from_days, long to_days)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_NAME *name;
    BIO *b;

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
    X509_set_pubkey(x, k);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    tc_add_ext(x, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    X509_free(x);
    return tc_bio_text(b);
}

/* hex SHA-256 of the DER form of the (first) certificate in pem */
static TU_UNUSED void
tc_cert_digest(const char *pem, char out[65])
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int len;

    assert_non_null(x);
    len = i2d_X509(x, &der);
    assert_true(len > 0);
    assert_int_equal(EVP_Digest(der, (size_t)len, md, &n, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(b);
}

#endif
