/* TLS termination with OpenSSL: one SSL_CTX per certificate entity, chosen by SNI (exact
 * names, then "*.x" / "x.*" wildcards) from the snapshot the connection started with, and a
 * default certificate when no SNI matches (the --ssl-cert pair, or a self-signed one made at
 * start, as Kong does). TLS 1.2 and 1.3, session tickets, ALPN http/1.1. A client certificate
 * is asked for (and never required by the handshake) only where an mtls-auth plugin could
 * apply to the SNI; the plugin verifies it. */
#ifndef GW_TLS_H
#define GW_TLS_H

#include <openssl/ssl.h>

#include "doc.h"

struct gw_tls_certs; /* per snapshot; immutable once built */

/* Builds the certificates of cfg. NULL with a message on failure (a snapshot with a bad
 * certificate is refused whole). */
struct gw_tls_certs *gw_tls_certs_build(const struct gw_config *cfg, char *err, size_t errlen);
void gw_tls_certs_free(struct gw_tls_certs *t);

/* Process-wide setup: the default certificate (files, or generated when NULL). 0 or -1. */
int gw_tls_init(const char *cert_file, const char *key_file);

/* A server-side SSL for an accepted connection; certs is consulted for SNI during the
 * handshake and must outlive it. NULL on failure. */
SSL *gw_tls_new(int fd, const struct gw_tls_certs *certs);

/* The host_name of a raw server_name extension body (RFC 6066 3, as the client hello
 * callback sees it, unchecked) into out, NUL-terminated; 0, or -1 when it has none that
 * fits (malformed, empty, embedded NUL, longer than outlen - 1). */
int gw_tls_parse_sni(const unsigned char *p, size_t len, char *out, size_t outlen);

#endif
