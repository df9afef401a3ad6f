/* kong.conf's trusted_ips, real_ip_header and real_ip_recursive: the client address as
 * nginx's realip module computes it. Set once by main before the workers start, read-only
 * afterwards (any thread). */
#ifndef GW_REALIP_H
#define GW_REALIP_H

#include <stddef.h>

#include "http1.h"

/* Adds "ip" or "ip/bits" entries, comma separated ("0.0.0.0/0,::/0" trusts everyone;
 * "unix:" is accepted and means nothing here). 0, or -1 when an entry is invalid. */
int gw_realip_add_trusted(const char *list);
void gw_realip_clear_trusted(void);

/* The header carrying the client address (default X-Real-IP); the name is copied. 0 or -1. */
int gw_realip_set_header(const char *name);
void gw_realip_set_recursive(int on);

/* Whether this address (text form) is in trusted_ips. */
int gw_realip_trusted(const char *addr);

/* The client address of a request: the peer's, unless the peer is trusted and the real-IP
 * header names one (nginx's $remote_addr after realip). Written to out (at least
 * INET6_ADDRSTRLEN bytes). Returns whether the peer is trusted. */
int gw_realip_client(const char *peer, const struct gw_http_head *h, char *out, size_t outlen);

#endif
