/* Upstream connections: per-worker keep-alive pools keyed by target address, non-blocking
 * connect. Target selection is balancer.h. Worker thread only. */
#ifndef GW_UPSTREAM_H
#define GW_UPSTREAM_H

#include <ev.h>
#include <openssl/ssl.h>
#include <stdint.h>

#include "snapshot.h"
#include "worker.h"

struct gw_upconn {
    int fd;
    SSL *ssl;           /* HTTPS upstreams: the session, kept while pooled */
    int tls_want;       /* event the last TLS call needs */
    uint64_t key;       /* pool key: target address, and TLS identity for HTTPS */
    uint32_t requests;  /* served on this connection */
    ev_io io;           /* used by the pool while idle, by the proxy while busy */
    ev_tstamp idle_since;
    struct gw_upconn *next, *prev; /* pool lists */
    struct gw_worker *w;
};

#define GW_POOL_MAX_IDLE_PER_TARGET 512
#define GW_POOL_MAX_REQUESTS        10000
#define GW_POOL_IDLE_TIMEOUT        60.0

/* A pooled connection to t, or NULL (then connect). Its io watcher may still be armed for
 * reading: the caller sets its callback and data (ev_set_cb). */
struct gw_upconn *gw_pool_get(struct gw_pool *p, const struct gw_target *t);
struct gw_upconn *gw_pool_get_key(struct gw_pool *p, uint64_t key);

/* Returns a connection whose response was read completely; it is closed instead when the
 * pool is full or it served its maximum. */
void gw_pool_put(struct gw_pool *p, struct gw_upconn *c);

/* Starts a non-blocking connect (the io watcher is initialised, not started). NULL with
 * errno on immediate failure. */
struct gw_upconn *gw_upconn_connect(struct gw_worker *w, const struct gw_target *t);
void gw_upconn_close(struct gw_upconn *c);

/* Closes every idle connection (shutdown). */
void gw_pool_drain(struct gw_pool *p);

#endif
