/* A config snapshot: one validated configuration compiled for the proxy (router, services
 * with their resolved targets), immutable once published and reference-counted. Workers take
 * a reference per request; the last unref frees it. Built off the worker threads (DNS names
 * of service hosts and targets are resolved while building, never on a worker). */
#ifndef GW_SNAPSHOT_H
#define GW_SNAPSHOT_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "balancer.h"
#include "doc.h"
#include "health.h"
#include "router.h"
#include "tls.h"

#include <openssl/ssl.h>
#include "str.h"

struct gw_target {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint32_t weight;
    char name[96]; /* "host:port" as configured, for logs and the Host header */
    uint64_t key;  /* hash of the address: the upstream pool key */
    struct gw_peer *peer; /* runtime state (health.h), referenced; NULL without an upstream */
};

/* A service as the proxy uses it: everything read once from its record. */
struct gw_service {
    const struct gw_val *rec;
    const char *id;
    const char *name;     /* NULL when unnamed */
    int https;            /* protocol https */
    struct gw_str host;   /* the service host (for the Host header) */
    int port;
    struct gw_str path;   /* .p == NULL when null */
    uint32_t retries;
    uint32_t connect_timeout_ms, write_timeout_ms, read_timeout_ms;
    struct gw_str host_header; /* upstream's host_header, else empty */
    int via_upstream;          /* host names an upstream entity */
    struct gw_target *targets; /* weight > 0 only */
    uint32_t ntargets;
    uint32_t total_weight;
    uint32_t *wheel; /* target indexes, each weight/gcd times, interleaved (smooth WRR) */
    uint32_t nwheel;
    struct gw_lb lb;           /* the upstream's algorithm and hashing (balancer.h) */
    struct gw_healthcheck *hc; /* the upstream's healthchecks (health.h); NULL without one */
    char resolve_error[128];   /* non-empty: no address; requests get 503 */
    SSL_CTX *tls;              /* https: client context (verification, client certificate) */
    char sni[256];             /* https: server name sent and verified */
    uint64_t tls_key;          /* mixed into pool keys: TLS identity of the connections */
    int dns_ttl;               /* shortest TTL of its DNS answers, -1: none (addresses, hosts) */
};

/* Per-route data the proxy needs on every request. */
struct gw_route_info {
    const struct gw_val *rec;
    const char *id;
    const char *name;
    int strip_path, preserve_host;
    int https_only;  /* protocols has https but not http */
    int redirect_status;
    struct gw_service *service; /* NULL: 503 */
};

struct gw_snapshot {
    atomic_int refs;
    uint64_t version;
    struct gw_config *cfg; /* owned */
    struct gw_router *router;
    struct gw_service *services; /* parallel to cfg->sets[GW_ENT_SERVICES] */
    struct gw_route_info *routes; /* parallel to cfg->sets[GW_ENT_ROUTES] */
    uint32_t nservices, nroutes;
    struct gw_tls_certs *tls; /* certificates and SNIs */
    int dns_ttl;              /* shortest DNS TTL of all services, -1: none */
    struct gw_plugin_set *plugins; /* compiled plugin instances (plugin.h) */
};

/* Kong's dns_resolver ("ip[:port],..."), or NULL for the system's; set before the first
 * snapshot is built. */
extern const char *gw_dns_resolver;

/* Takes ownership of cfg (freed on failure too). NULL with a message in err on failure. */
struct gw_snapshot *gw_snapshot_build(struct gw_config *cfg, uint64_t version, char *err,
                                      size_t errlen);

static inline struct gw_snapshot *
gw_snapshot_ref(struct gw_snapshot *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void gw_snapshot_unref(struct gw_snapshot *s);

/* Re-resolves the host names of services and targets (c-ares, blocking: config thread
 * only). 1 when one of them now has other addresses (its name is written to which), else 0;
 * *min_ttl gets the shortest TTL seen (-1: none). Names that fail to resolve keep their
 * addresses (stale answers are better than none). */
int gw_snapshot_dns_changed(const struct gw_snapshot *s, char *which, size_t len, int *min_ttl);

/* For gw_arena_on_destroy(). */
void gw_snapshot_unref_cb(void *s);

#endif
