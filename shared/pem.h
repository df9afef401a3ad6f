/* PEM checks with OpenSSL for certificates, keys and CA certificates. Thread-safe. */
#ifndef GW_PEM_H
#define GW_PEM_H

#include <stddef.h>

/* Each returns NULL when valid, else a message written to buf (Kong's wording). */
const char *gw_pem_check_cert(const char *pem, size_t n, char *buf, size_t len);
const char *gw_pem_check_key(const char *pem, size_t n, char *buf, size_t len);
const char *gw_pem_check_public_key(const char *pem, size_t n, char *buf, size_t len);

/* Kong's typedefs.pem of the keys entity: either key may be NULL (not given). NULL when each
 * given key loads and, when both are given, they are a pair; else Kong's message (static). */
const char *gw_pem_check_keypair(const char *priv, size_t pn, const char *pub, size_t pubn);

/* 1 when the certificate's public key belongs to the private key, 0 otherwise. */
int gw_pem_pair_matches(const char *cert, size_t cn, const char *key, size_t kn);

/* OpenSSL key type id (EVP_PKEY_RSA, EVP_PKEY_EC, ...) of a private key, or -1. */
int gw_pem_key_type(const char *key, size_t kn);

/* A CA certificate: exactly one, not expired, with the CA basic constraint. On success
 * writes the hex SHA-256 of its DER form to digest (65 bytes) and returns NULL. */
const char *gw_pem_check_ca(const char *pem, size_t n, char digest[65], char *buf, size_t len);

#endif
