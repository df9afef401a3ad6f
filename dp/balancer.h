/* Load balancing (reference §5.2): which target of a service serves a try. Kong's four
 * algorithms over the targets a snapshot resolved, skipping unhealthy ones (health.h):
 *
 *   round-robin         the smooth weighted wheel built with the snapshot; a per-worker cursor
 *   least-connections   fewest tries in flight relative to weight, counted across all workers
 *   consistent-hashing  a continuum of max(slots, 1000) points, points per target in
 *                       proportion to weight; key from hash_on, else hash_fallback, else ""
 *   latency             peak-EWMA of response time (decay 10 s), best of two random choices
 *                       by ewma / weight
 *
 * Hashes are xxHash32 (seed 0), the function Kong uses, for the request key and for the points
 * of the continuum; a point's position depends only on its target's address and its number, so
 * removing a target moves only the keys that were on its points.
 *
 * The compiled form (struct gw_lb) lives in the snapshot, inside struct gw_service; struct
 * gw_pick is a request's state, owned by the proxy's request and used on its worker only. */
#ifndef GW_BALANCER_H
#define GW_BALANCER_H

#include <stddef.h>
#include <stdint.h>

#include "http1.h"
#include "router.h"
#include "str.h"
#include "uuid.h"

struct gw_arena;
struct gw_service;
struct gw_target;

enum gw_lb_algorithm {
    GW_LB_ROUND_ROBIN = 0,
    GW_LB_LEAST_CONNECTIONS,
    GW_LB_CONSISTENT_HASHING,
    GW_LB_LATENCY,
};

enum gw_hash_on {
    GW_HASH_NONE = 0,
    GW_HASH_CONSUMER,
    GW_HASH_IP,
    GW_HASH_HEADER,
    GW_HASH_COOKIE,
    GW_HASH_PATH,
    GW_HASH_QUERY_ARG,
    GW_HASH_URI_CAPTURE,
};

/* Where a hash key comes from: name is the header, cookie, query argument or capture (a number
 * for a numbered group); it points into the snapshot's config. */
struct gw_hash_src {
    enum gw_hash_on on;
    struct gw_str name;
};

struct gw_ring_point {
    uint32_t hash;
    uint32_t target; /* index in svc->targets */
};

/* The upstream's balancing settings, compiled. */
struct gw_lb {
    enum gw_lb_algorithm algorithm;
    struct gw_hash_src hash_on, hash_fallback;
    struct gw_str cookie_name;  /* hash_on_cookie */
    struct gw_str cookie_path;  /* hash_on_cookie_path */
    struct gw_ring_point *ring; /* consistent-hashing: sorted by hash; malloc'd */
    uint32_t nring;
};

/* Compiles the balancing of svc from its upstream record (NULL: a service whose host is not an
 * upstream: round-robin over its DNS addresses). svc->targets, ntargets and wheel are already
 * built. 0, or -1 with a message in err. Config thread. */
int gw_balancer_compile(struct gw_service *svc, const struct gw_val *upstream, char *err,
                        size_t errlen);

/* Frees what gw_balancer_compile() allocated. */
void gw_balancer_free(struct gw_service *svc);

/* What a request offers to hashing. */
struct gw_lb_request {
    struct gw_str client_ip;
    const struct gw_http_head *head;    /* headers and query; NULL: none */
    struct gw_str path;                 /* normalized */
    const struct gw_route_match *match; /* captures of a regex route; NULL: none */
    double now;                         /* seconds (ev_now): latency samples, try start */
};

/* A request's balancer state across its tries. Zeroed by the request before the first pick. */
struct gw_pick {
    const struct gw_service *svc;
    const struct gw_target *target; /* the current try's */
    uint32_t pos;                   /* where the walk is: wheel or ring index */
    uint32_t hash;                  /* consistent-hashing: the request's key hash */
    double t_start;                 /* the current try's start */
    unsigned counted : 1;           /* target's peer counts this try in flight */
    unsigned reported : 1;          /* the current try's outcome went to health */
    unsigned cleanup : 1;           /* the release runs when the request arena goes */
    char cookie[GW_UUID_LEN + 1];   /* a generated hash cookie to set; "" when none */
};

/* Picks the first try's target: NULL when the service has no healthy target (the proxy answers
 * 503 "failure to get a peer from the ring-balancer"). cursor is the worker's round-robin
 * position for svc (any uint32_t that lives with the worker). When the algorithm counts tries
 * in flight, the count is released by a callback on arena (the request's) or by the next pick,
 * whichever comes first. Worker thread. */
const struct gw_target *gw_balancer_pick(struct gw_pick *p, const struct gw_service *svc,
                                         uint32_t *cursor, const struct gw_lb_request *in,
                                         struct gw_arena *arena);

/* The next try's target after a failed one: the next healthy target on the wheel or the ring,
 * or the best other one, avoiding the one that failed when there is another. NULL when none is
 * healthy. */
const struct gw_target *gw_balancer_retry(struct gw_pick *p, double now);

/* The current try's outcome: the response status when its head arrived, or GW_HEALTH_TCP_ERROR
 * / GW_HEALTH_TIMEOUT (health.h). Feeds passive health checks and the latency EWMA; only the
 * first report of a try counts. */
void gw_balancer_report(struct gw_pick *p, int outcome, double now);

/* The "Set-Cookie: ...\r\n" line for a generated hash cookie (Kong: <name>=<uuid>;
 * Path=<hash_on_cookie_path>; Same-Site=Lax; HttpOnly), allocated from arena; NULL when there
 * is none (or out of memory). */
const char *gw_balancer_set_cookie(const struct gw_pick *p, struct gw_arena *arena);

/* xxHash32 of buf with seed 0. */
uint32_t gw_balancer_hash(const void *buf, size_t n);

#endif
