/* The router: Kong 3.x traditional_compatible route matching, compiled once per config
 * snapshot. Matching does not scan every route: routes are bucketed by exact host, wildcard
 * host and host-less, prefix paths are looked up by prefix, and regexes (PCRE2 with JIT) are
 * tried only for routes that have them, in priority order. Immutable once built: any number
 * of threads may match concurrently (each thread keeps its own PCRE2 match data). */
#ifndef GW_ROUTER_H
#define GW_ROUTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "doc.h"
#include "http1.h"
#include "str.h"

struct gw_router;

/* What a request offers to matching (reference §4.1). */
struct gw_route_in {
    struct gw_str method;
    struct gw_str host; /* Host header without its port, as sent (no case folding) */
    struct gw_str path; /* normalized by gw_router_normalize_path() */
    struct gw_str sni;  /* TLS SNI, empty for plain http */
    int port;           /* the listener's port */
    int https;          /* the request came over TLS */
    const struct gw_http_header *headers;
    unsigned nheaders;
};

#define GW_ROUTER_MAX_CAPTURES 16

/* captures[i] is group i + 1 of the regex that matched (Kong's uri_captures[i + 1]); a named
 * group also has its name (Kong's uri_captures[name]). */
struct gw_route_capture {
    struct gw_str name;  /* .p == NULL for a group without a name */
    struct gw_str value; /* points into the request path; .p == NULL when the group is unset */
};

struct gw_route_match {
    const struct gw_val *route;   /* a GW_V_REC of the config's routes */
    const struct gw_val *service; /* its service; NULL when the route has none (503) */
    uint32_t route_idx;           /* index in cfg->sets[GW_ENT_ROUTES] */
    size_t prefix_len;            /* bytes of the path matched: the prefix, or the regex match's
                                     length; 1 (the leading '/') for a route without paths */
    unsigned ncaptures;           /* regex routes: groups 1..n, at most GW_ROUTER_MAX_CAPTURES */
    struct gw_route_capture captures[GW_ROUTER_MAX_CAPTURES];
};

/* Builds the router of a validated config. Left out, as Kong leaves them out: routes whose
 * service is disabled, stream routes (no http/https/grpc/grpcs protocol), and routes with a
 * regex (path or "~*" header value) PCRE2 cannot compile. NULL on failure (out of memory) with
 * a message in err. The router refers to cfg's records: free it first. Any thread. */
struct gw_router *gw_router_build(const struct gw_config *cfg, char *err, size_t errlen);
void gw_router_free(struct gw_router *r);

/* 1 and *m filled when a route matches (Kong's priority order, §4.3), 0 when none does. */
int gw_router_match(const struct gw_router *r, const struct gw_route_in *in,
                    struct gw_route_match *m);

/* Kong's request-path normalization (§4.1, kong/tools/uri.lua): %XX decoded unless it is a
 * reserved character (!*'();:@&=+$,/?%#[]), whose escape stays with upper-case hex; then
 * "." and ".." segments resolved and "//" merged. out has room for n bytes (in and out must
 * not overlap). Returns the length, or -1 for a malformed escape or %00 (nginx answers 400). */
ssize_t gw_router_normalize_path(const char *in, size_t n, char *out);

/* The upstream path for path_handling v0 (§4.6) from the matched route, the normalized
 * request path and the service's path (.p == NULL when null). Written to out (cap bytes);
 * returns the length, or -1 when it does not fit. Re-escaping for transmission is the
 * caller's. */
ssize_t gw_router_upstream_path(const struct gw_route_match *m, struct gw_str path,
                                struct gw_str service_path, char *out, size_t cap);

#endif
