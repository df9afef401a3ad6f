/* Worker threads: one libev loop each, with its own SO_REUSEPORT listeners, connections,
 * upstream connection pool and counters. The only shared state is the published snapshot,
 * handed to each worker through an atomic slot and an ev_async wake-up. */
#ifndef GW_WORKER_H
#define GW_WORKER_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "snapshot.h"

#define GW_MAX_LISTENERS 16

struct gw_listen {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int port;
    int ssl;
    char text[64]; /* as given on the command line */
};

struct gw_worker_stats {
    atomic_uint_fast64_t accepted;
    atomic_uint_fast64_t active;
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t reading, writing, waiting;
};

struct gw_pool; /* upstream.c */

struct gw_worker {
    int id;
    struct ev_loop *loop;
    pthread_t thread;
    ev_async wake;
    struct gw_snapshot *snap;                /* written by this worker only */
    _Atomic(struct gw_snapshot *) pending;   /* the next snapshot, set by the main thread */
    atomic_int stopping;                     /* 1: stop accepting, exit when idle */
    ev_timer drain;                          /* grace period once stopping */
    double drain_s;
    int listen_fd[GW_MAX_LISTENERS];
    ev_io listen_io[GW_MAX_LISTENERS];
    const struct gw_listen *listens;
    int nlisten;
    uint32_t *rr;      /* round-robin cursor per service of snap */
    struct gw_pool *pool;
    struct gw_worker_stats stats;
    ev_tstamp now_cached;
};

/* Options shared by all workers (read-only once started). */
struct gw_proxy_opts {
    struct gw_listen listens[GW_MAX_LISTENERS];
    int nlisten;
    int workers;
    double client_header_timeout; /* s */
    double client_body_timeout;
    double keepalive_timeout;
    int64_t client_max_body_size; /* bytes, 0: unlimited */
    /* bytes: the most of a request or response body held in memory for plugins that read
     * it (key_in_body, validate_request_body, body transformations); default 8 MiB */
    int64_t max_buffered_body_size;
    FILE *access_log;             /* NULL: off */
    int access_log_json; /* JSON lines instead of the combined format */
};

extern struct gw_proxy_opts gw_opts;

/* Binds every listener once per worker (SO_REUSEPORT) and starts the threads with the first
 * snapshot (a reference is taken for each worker). 0 or -1 with a message on stderr. */
int gw_workers_start(struct gw_snapshot *first);

/* Publishes a new snapshot to every worker; each drops its old reference when it picks the
 * new one up. Any thread (the config thread). */
void gw_workers_publish(struct gw_snapshot *snap);

/* Takes a published snapshot now rather than at the next ev_async wake-up: a request that
 * starts after gw_workers_publish() returned must see the new config. Worker thread. */
void gw_worker_sync(struct gw_worker *w);

/* Stops accepting, lets in-flight requests finish (at most timeout_s), joins the threads. */
void gw_workers_stop(double timeout_s);

/* Sums of the workers' counters (racy reads are fine for /status). */
void gw_workers_stats(uint64_t *accepted, uint64_t *active, uint64_t *requests);

extern struct gw_worker *gw_workers;
extern int gw_nworkers;

/* proxy.c: serve a newly accepted client connection on worker w. */
void gw_proxy_accept(struct gw_worker *w, int fd, const struct gw_listen *l,
                     const struct sockaddr_storage *peer, socklen_t peerlen);

/* proxy.c: closes this worker's idle keep-alive connections (shutdown); busy ones finish
 * their request first and close after it. */
void gw_proxy_close_idle(struct gw_worker *w);

/* upstream.c */
struct gw_pool *gw_pool_new(struct gw_worker *w);
void gw_pool_free(struct gw_pool *p);

#endif
