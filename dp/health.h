/* Target health (reference §5.4): a runtime table of peers that outlives snapshots, the passive
 * circuit breaker fed by the proxy's tries, and the active checker thread that probes targets.
 *
 * A peer is one target address of one upstream (Kong keeps health per balancer and address).
 * Snapshots acquire their peers when they are built and release them when they are freed, so a
 * new snapshot that keeps a target keeps its health, its in-flight count and its latency. All
 * of a peer's mutable state is atomic: workers read it per pick with one load, report outcomes
 * with a compare-and-swap, and never take a lock on the request path. */
#ifndef GW_HEALTH_H
#define GW_HEALTH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct gw_snapshot;
struct gw_val;

/* lua-resty-healthcheck's four internal states: the "mostly" ones are on their way to the other
 * side and still count as their own side. Only HEALTHY and MOSTLY_HEALTHY take traffic. */
enum gw_health_state {
    GW_HEALTH_HEALTHY = 0,
    GW_HEALTH_MOSTLY_HEALTHY,
    GW_HEALTH_MOSTLY_UNHEALTHY,
    GW_HEALTH_UNHEALTHY,
};

/* A try's or a probe's outcome, as gw_health_report() takes it: an HTTP status (100-999; 0 is a
 * response that could not be parsed, which counts as an HTTP failure, as in Kong), or one of: */
#define GW_HEALTH_TCP_ERROR (-1) /* connect, send or receive failed */
#define GW_HEALTH_TIMEOUT   (-2)
#define GW_HEALTH_SUCCESS   (-3) /* a TCP probe connected */

/* The settings of one side (healthchecks.active or .passive). A counter of 0 is disabled. */
struct gw_hc_side {
    uint8_t successes;     /* healthy.successes */
    uint8_t http_failures; /* unhealthy.* */
    uint8_t tcp_failures;
    uint8_t timeouts;
    uint64_t healthy_statuses[16]; /* bitsets over 0..1023 */
    uint64_t unhealthy_statuses[16];
};

enum gw_hc_type {
    GW_HC_HTTP = 0,
    GW_HC_TCP,
    GW_HC_HTTPS, /* probed as TCP for now: TODO(#health-https) TLS probes */
};

/* upstreams.healthchecks compiled; owned by its struct gw_service (snapshot lifetime). */
struct gw_healthcheck {
    struct gw_hc_side active, passive;
    enum gw_hc_type active_type;
    double timeout_s;
    uint32_t concurrency;
    double healthy_interval_s, unhealthy_interval_s; /* 0: that side is not probed */
    const char *http_path;                           /* the config's string */
    const char *https_sni;                           /* the config's string, or NULL */
    unsigned https_verify : 1;                       /* https_verify_certificate */
    unsigned grpc : 1;                               /* grpc/grpcs: connect only so far */
    char *probe_headers;                             /* "Name: value\r\n"..., malloc'd, or NULL */
    double threshold;                                /* percent of the total weight */
    unsigned passive_on : 1;                         /* some passive counter is set */
    unsigned active_on : 1;                          /* an interval is set */
};

/* Compiles healthchecks (the GW_V_REC of an upstream's "healthchecks" field; NULL: Kong's
 * defaults, everything off) into hc. 0, or -1 on out of memory. Config thread. */
int gw_health_compile(const struct gw_val *healthchecks, struct gw_healthcheck *hc);

/* Frees what gw_health_compile() allocated. */
void gw_health_free(struct gw_healthcheck *hc);

/* One target address of one upstream. The table owns it; each snapshot that uses it holds a
 * reference. Every field a worker touches is atomic. */
struct gw_peer {
    uint64_t key;
    /* state (bits 32-39) and the counters of lua-resty-healthcheck: successes (0-7), HTTP
     * failures (8-15), TCP failures (16-23), timeouts (24-31). Zero is healthy. */
    _Atomic uint64_t health;
    atomic_uint active;       /* tries in flight from all workers (least-connections) */
    _Atomic uint64_t latency; /* peak EWMA (latency): microseconds << 32 | stamp in ms (wraps) */
    /* table bookkeeping, under the table's lock */
    uint32_t refs;
    struct gw_peer *next;
};

/* The key of a peer: an upstream (its id) and a target address (struct gw_target.key). */
uint64_t gw_health_key(const char *upstream_id, uint64_t addr_key);

/* Finds or creates the peer of key and takes a reference; a new peer is healthy. NULL on out
 * of memory. Any thread; takes the table's mutex (snapshot build and free only). */
struct gw_peer *gw_health_acquire(uint64_t key);
void gw_health_release(struct gw_peer *p);

static inline enum gw_health_state
gw_peer_state(struct gw_peer *p)
{
    /* relaxed: a pick only needs some recent value, no ordering with other memory */
    return (enum gw_health_state)((atomic_load_explicit(&p->health, memory_order_relaxed) >> 32) &
                                  0xff);
}

/* Whether p takes traffic; NULL (a service without an upstream) always does. */
static inline int
gw_peer_healthy(struct gw_peer *p)
{
    return p == NULL || gw_peer_state(p) <= GW_HEALTH_MOSTLY_HEALTHY;
}

/* Feeds one outcome (a status or a GW_HEALTH_* code) to p's counters with side's thresholds,
 * as lua-resty-healthcheck does: a failure resets the success counter, a success resets the
 * failure counters, a counter reaching its threshold flips the state; a disabled counter (0)
 * and a report in the direction the peer already fully is change nothing. Returns the state
 * after the report. Any thread, lock-free. name is for the log line of a state change (NULL:
 * no log). */
enum gw_health_state gw_health_report(struct gw_peer *p, const struct gw_hc_side *side, int outcome,
                                      const char *name);

/* Forces p's state (Kong's PUT .../healthy|unhealthy) and clears its counters. */
void gw_health_set(struct gw_peer *p, int healthy);

/* The active checker: one thread with its own libev loop probing the targets of every
 * upstream with an active interval, on non-blocking sockets. gw_health_start() starts it with
 * the first snapshot (a reference is taken); gw_health_publish() hands it a new one (any
 * thread, like gw_workers_publish); gw_health_stop() cancels the probes and joins it. Start
 * returns 0, or -1 with a message on stderr. */
int gw_health_start(struct gw_snapshot *snap);
void gw_health_publish(struct gw_snapshot *snap);
void gw_health_stop(void);

#endif
