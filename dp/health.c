/* Target health: the peer table, Kong's health counters, and the active checker thread.
 *
 * The table maps a peer key (upstream id and target address) to a struct gw_peer. Snapshots
 * hold references, taken when they are built on the config thread and dropped when the last
 * holder frees them (a worker or the config thread), so the table takes a mutex; nothing on the
 * request path does. A peer's health is one 64-bit word, its state and four 8-bit counters,
 * updated by compare-and-swap from any worker and from the checker thread, and read by the
 * balancer with one relaxed load per candidate.
 *
 * The counters follow lua-resty-healthcheck, which Kong uses (incr_counter): a report whose
 * threshold is 0 is ignored; so is a success on a fully healthy peer and a failure on a fully
 * unhealthy one; a success clears the failure counters, a failure clears the success counter;
 * a counter reaching its threshold moves the peer to that side, and a first report against the
 * peer's side moves it to "mostly" that side (which still counts as the side it was on).
 *
 * The checker is one thread with its own libev loop. It holds a reference to the newest
 * snapshot it was given and keeps one job per peer of every upstream with an active interval;
 * a job probes its peer every healthy.interval seconds while the peer takes traffic and every
 * unhealthy.interval seconds while it does not (0: not in that state). A probe is a
 * non-blocking connect, and for type http a "GET http_path HTTP/1.1" whose status line decides.
 * At most healthchecks.active.concurrency probes of one service run at once. A new snapshot
 * cancels the probes in flight and keeps, per peer, when it was last probed. */
#define _GNU_SOURCE
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "schema.h"
#include "snapshot.h"

/* ------------------------------------------------------------------ the peer table */

#define TABLE_BUCKETS 1024

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_peer *table[TABLE_BUCKETS];

static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t
gw_health_key(const char *upstream_id, uint64_t addr_key)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *s = upstream_id ? upstream_id : ""; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return mix64(h ^ mix64(addr_key));
}

struct gw_peer *
gw_health_acquire(uint64_t key)
{
    struct gw_peer **b = &table[key % TABLE_BUCKETS];
    struct gw_peer *p;

    pthread_mutex_lock(&table_lock);
    for (p = *b; p; p = p->next) {
        if (p->key == key) {
            p->refs++;
            break;
        }
    }
    if (p == NULL && (p = calloc(1, sizeof *p)) != NULL) {
        p->key = key;
        p->refs = 1;
        atomic_init(&p->health, 0);
        atomic_init(&p->active, 0);
        atomic_init(&p->latency, 0);
        p->next = *b;
        *b = p;
    }
    pthread_mutex_unlock(&table_lock);
    return p;
}

void
gw_health_release(struct gw_peer *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&table_lock);
    if (--p->refs == 0) {
        struct gw_peer **pp = &table[p->key % TABLE_BUCKETS];
        while (*pp != p) {
            pp = &(*pp)->next;
        }
        *pp = p->next;
        free(p);
    }
    pthread_mutex_unlock(&table_lock);
}

/* ------------------------------------------------------------------ counters */

enum {
    C_SUCCESS = 0,
    C_HTTP,
    C_TCP,
    C_TIMEOUT
};

static int
status_in(const uint64_t set[16], int status)
{
    return status >= 0 && status < 1024 && (set[status >> 6] >> (status & 63)) & 1;
}

enum gw_health_state
gw_health_report(struct gw_peer *p, const struct gw_hc_side *side, int outcome, const char *name)
{
    unsigned limit;
    int c;

    if (outcome == GW_HEALTH_TCP_ERROR) {
        c = C_TCP, limit = side->tcp_failures;
    } else if (outcome == GW_HEALTH_TIMEOUT) {
        c = C_TIMEOUT, limit = side->timeouts;
    } else if (outcome == GW_HEALTH_SUCCESS || status_in(side->healthy_statuses, outcome)) {
        c = C_SUCCESS, limit = side->successes;
    } else if (outcome == 0 || status_in(side->unhealthy_statuses, outcome)) {
        c = C_HTTP, limit = side->http_failures;
    } else {
        return gw_peer_state(p); /* a status in neither list */
    }
    if (limit == 0) {
        return gw_peer_state(p);
    }
    uint64_t old = atomic_load(&p->health), word;
    enum gw_health_state st, nst;
    do {
        st = (enum gw_health_state)((old >> 32) & 0xff);
        if (c == C_SUCCESS ? st == GW_HEALTH_HEALTHY : st == GW_HEALTH_UNHEALTHY) {
            return st;
        }
        unsigned n = (unsigned)((old >> (8 * c)) & 0xff);
        n += n < 255;
        uint64_t ctrs =
            c == C_SUCCESS
                ? n
                : ((old & 0xffffff00ull & ~(0xffull << (8 * c))) | (uint64_t)n << (8 * c));
        if (n >= limit) {
            nst = c == C_SUCCESS ? GW_HEALTH_HEALTHY : GW_HEALTH_UNHEALTHY;
        } else if (st == GW_HEALTH_HEALTHY && c != C_SUCCESS) {
            nst = GW_HEALTH_MOSTLY_HEALTHY;
        } else if (st == GW_HEALTH_UNHEALTHY && c == C_SUCCESS) {
            nst = GW_HEALTH_MOSTLY_UNHEALTHY;
        } else {
            nst = st;
        }
        word = (uint64_t)nst << 32 | ctrs;
    } while (!atomic_compare_exchange_weak(&p->health, &old, word));
    if (name && (st <= GW_HEALTH_MOSTLY_HEALTHY) != (nst <= GW_HEALTH_MOSTLY_HEALTHY)) {
        /* rare: only when a threshold is crossed */
        fprintf(stderr,
                "tollgate-dp: upstream target %s: health check threshold reached target=%s\n",
                nst <= GW_HEALTH_MOSTLY_HEALTHY ? "healthy again" : "unhealthy", name);
    }
    return nst;
}

void
gw_health_set(struct gw_peer *p, int healthy)
{
    atomic_store(&p->health, healthy ? 0 : (uint64_t)GW_HEALTH_UNHEALTHY << 32);
}

/* ------------------------------------------------------------------ compiling the settings */

/* A field of a validated record and, for a record field, its schema. */
static const struct gw_val *
get(const struct gw_record *r, const struct gw_val *rec, const char *name,
    const struct gw_record **sub)
{
    const struct gw_field *f = r ? gw_record_field(r, name) : NULL;
    const struct gw_val *v = f && rec && rec->type == GW_V_REC ? gw_rec_get(r, rec, name) : NULL;

    if (sub) {
        *sub = f ? f->record : NULL;
    }
    return v;
}

static double
num(const struct gw_val *v, double dflt)
{
    if (v && v->type == GW_V_INT) {
        return (double)v->u.i;
    }
    return v && v->type == GW_V_NUM ? v->u.d : dflt;
}

static void
statuses(const struct gw_val *v, uint64_t set[16])
{
    memset(set, 0, 16 * sizeof *set);
    for (uint32_t i = 0; v && v->type == GW_V_ARR && i < v->n; i++) {
        const struct gw_val *s = &v->u.items[i];
        if (s->type == GW_V_INT && s->u.i >= 0 && s->u.i < 1024) {
            set[s->u.i >> 6] |= 1ull << (s->u.i & 63);
        }
    }
}

static uint8_t
counter(const struct gw_record *r, const struct gw_val *rec, const char *name)
{
    double n = num(get(r, rec, name, NULL), 0);

    return n <= 0 ? 0 : n >= 255 ? 255 : (uint8_t)n;
}

/* One side's healthy and unhealthy records. Returns whether a counter is set. */
static int
side(const struct gw_record *r, const struct gw_val *rec, struct gw_hc_side *s)
{
    const struct gw_record *hr, *ur;
    const struct gw_val *h = get(r, rec, "healthy", &hr);
    const struct gw_val *u = get(r, rec, "unhealthy", &ur);

    s->successes = counter(hr, h, "successes");
    statuses(get(hr, h, "http_statuses", NULL), s->healthy_statuses);
    s->http_failures = counter(ur, u, "http_failures");
    s->tcp_failures = counter(ur, u, "tcp_failures");
    s->timeouts = counter(ur, u, "timeouts");
    statuses(get(ur, u, "http_statuses", NULL), s->unhealthy_statuses);
    return s->successes || s->http_failures || s->tcp_failures || s->timeouts;
}

/* healthchecks.active.headers as header lines; values with CR or LF are left out. */
static int
probe_headers(const struct gw_val *map, char **out)
{
    size_t n = 0;

    *out = NULL;
    for (int pass = 0; pass < 2 && map && map->type == GW_V_OBJ; pass++) {
        size_t off = 0;
        for (uint32_t i = 0; i < map->n; i++) {
            const struct gw_kv *kv = &map->u.kv[i];
            for (uint32_t j = 0; kv->val.type == GW_V_ARR && j < kv->val.n; j++) {
                const struct gw_val *v = &kv->val.u.items[j];
                if (v->type != GW_V_STR || strpbrk(v->u.s, "\r\n")) {
                    continue;
                }
                if (pass == 0) {
                    n += kv->klen + 2 + v->n + 2;
                } else {
                    off += (size_t)sprintf(*out + off, "%s: %s\r\n", kv->key, v->u.s);
                }
            }
        }
        if (pass == 0) {
            if (n == 0) {
                return 0;
            }
            if ((*out = malloc(n + 1)) == NULL) {
                return -1;
            }
        }
    }
    return 0;
}

int
gw_health_compile(const struct gw_val *hcv, struct gw_healthcheck *hc)
{
    const struct gw_record *R =
        gw_record_field(gw_entities[GW_ENT_UPSTREAMS].schema, "healthchecks")->record;
    const struct gw_record *ar, *pr;
    const struct gw_val *a = get(R, hcv, "active", &ar);
    const struct gw_val *p = get(R, hcv, "passive", &pr);
    const struct gw_val *type = get(ar, a, "type", NULL);
    const struct gw_val *path = get(ar, a, "http_path", NULL);
    const struct gw_record *hr, *ur;
    const struct gw_val *h, *u;

    memset(hc, 0, sizeof *hc);
    hc->threshold = num(get(R, hcv, "threshold", NULL), 0);
    hc->passive_on = side(pr, p, &hc->passive) != 0;
    side(ar, a, &hc->active);
    hc->active_type = GW_HC_HTTP;
    if (type && type->type == GW_V_STR && strcmp(type->u.s, "tcp") == 0) {
        hc->active_type = GW_HC_TCP;
    } else if (type && type->type == GW_V_STR && strcmp(type->u.s, "http") != 0) {
        hc->active_type = GW_HC_HTTPS; /* https, grpc, grpcs */
        hc->grpc = strncmp(type->u.s, "grpc", 4) == 0;
    }
    const struct gw_val *sni = get(ar, a, "https_sni", NULL);
    const struct gw_val *verify = get(ar, a, "https_verify_certificate", NULL);
    hc->https_sni = sni && sni->type == GW_V_STR ? sni->u.s : NULL;
    hc->https_verify = !(verify && verify->type == GW_V_BOOL && !verify->u.b);
    hc->timeout_s = num(get(ar, a, "timeout", NULL), 1);
    hc->concurrency = (uint32_t)num(get(ar, a, "concurrency", NULL), 10);
    hc->concurrency = hc->concurrency ? hc->concurrency : 1;
    hc->http_path = path && path->type == GW_V_STR ? path->u.s : "/";
    h = get(ar, a, "healthy", &hr);
    u = get(ar, a, "unhealthy", &ur);
    hc->healthy_interval_s = num(get(hr, h, "interval", NULL), 0);
    hc->unhealthy_interval_s = num(get(ur, u, "interval", NULL), 0);
    hc->active_on = hc->healthy_interval_s > 0 || hc->unhealthy_interval_s > 0;
    return probe_headers(get(ar, a, "headers", NULL), &hc->probe_headers);
}

void
gw_health_free(struct gw_healthcheck *hc)
{
    free(hc->probe_headers);
    hc->probe_headers = NULL;
}

/* ------------------------------------------------------------------ the active checker */

enum phase {
    P_CONNECT = 0,
    P_TLS, /* https probes: the handshake */
    P_SEND,
    P_READ,
};

struct job {
    struct gw_peer *peer;
    const struct gw_healthcheck *hc;
    const struct gw_target *target; /* the address, and the name for logs */
    struct gw_str host;             /* the probe's Host */
    uint32_t group;                 /* its service's index: concurrency is per service */
    ev_tstamp last_at;              /* the last probe's start; 0: never */
    /* the probe in flight */
    int busy;
    enum phase phase;
    int fd;
    SSL *ssl; /* https probes */
    ev_io io;
    ev_timer timer;
    char *req;
    size_t req_len, req_off;
    char buf[512];
    size_t len;
};

static struct {
    int started;
    pthread_t thread;
    struct ev_loop *loop;
    ev_async wake;
    ev_timer tick;
    _Atomic(struct gw_snapshot *) pending;
    atomic_int stopping;
    struct gw_snapshot *snap;
    struct job *jobs;
    uint32_t njobs;
    uint32_t *inflight; /* per service of snap */
} ck;

static void schedule(void);

static void
probe_end(struct job *j)
{
    ev_io_stop(ck.loop, &j->io);
    ev_timer_stop(ck.loop, &j->timer);
    if (j->ssl) {
        SSL_free(j->ssl);
        j->ssl = NULL;
    }
    close(j->fd);
    free(j->req);
    j->req = NULL;
    j->busy = 0;
    ck.inflight[j->group]--;
}

static void
probe_done(struct job *j, int outcome)
{
    probe_end(j);
    gw_health_report(j->peer, &j->hc->active, outcome, j->target->name);
}

/* The status of "HTTP/x.y NNN ...", or 0 when the line is not one. */
static int
status_line(const char *s, size_t n)
{
    size_t i = 5;
    int st = 0;

    if (n < 12 || memcmp(s, "HTTP/", 5) != 0) {
        return 0;
    }
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
        i++;
    }
    if (i == 5 || i >= n || (s[i] != ' ' && s[i] != '\t')) {
        return 0;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    for (int k = 0; k < 3; k++, i++) {
        if (i >= n || s[i] < '0' || s[i] > '9') {
            return 0;
        }
        st = st * 10 + (s[i] - '0');
    }
    return i < n && s[i] >= '0' && s[i] <= '9' ? 0 : st;
}

static void
want(struct job *j, int ev)
{
    if ((j->io.events & (EV_READ | EV_WRITE)) != ev) {
        ev_io_stop(ck.loop, &j->io);
        ev_io_set(&j->io, j->fd, ev);
        ev_io_start(ck.loop, &j->io);
    }
}

/* Probe TLS contexts, made on first use by the checker thread: verifying against the
 * system's trust store (https_verify_certificate), or not. */
static SSL_CTX *probe_ctx[2];

static int
tls_start(struct job *j)
{
    int v = j->hc->https_verify;
    char host[256];

    if (probe_ctx[v] == NULL) {
        probe_ctx[v] = SSL_CTX_new(TLS_client_method());
        if (probe_ctx[v] == NULL) {
            return -1;
        }
        SSL_CTX_set_min_proto_version(probe_ctx[v], TLS1_2_VERSION);
        if (v) {
            SSL_CTX_set_verify(probe_ctx[v], SSL_VERIFY_PEER, NULL);
            SSL_CTX_set_default_verify_paths(probe_ctx[v]);
        }
    }
    j->ssl = SSL_new(probe_ctx[v]);
    if (j->ssl == NULL) {
        return -1;
    }
    SSL_set_fd(j->ssl, j->fd);
    SSL_set_connect_state(j->ssl);
    /* SNI: https_sni, else the probe's host without its port (not for addresses) */
    if (j->hc->https_sni) {
        snprintf(host, sizeof host, "%s", j->hc->https_sni);
    } else {
        const char *colon = memchr(j->host.p, ':', j->host.n);
        snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - j->host.p) : (int)j->host.n,
                 j->host.p);
    }
    struct in6_addr a;
    if (host[0] && inet_pton(AF_INET, host, &a) != 1 && inet_pton(AF_INET6, host, &a) != 1) {
        SSL_set_tlsext_host_name(j->ssl, host);
        if (v) {
            SSL_set1_host(j->ssl, host);
        }
    }
    return 0;
}

static ssize_t
probe_send(struct job *j, const char *buf, size_t n)
{
    if (j->ssl == NULL) {
        return send(j->fd, buf, n, MSG_NOSIGNAL);
    }
    int r = SSL_write(j->ssl, buf, (int)n);
    if (r > 0) {
        return r;
    }
    int e = SSL_get_error(j->ssl, r);
    ERR_clear_error();
    errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : ECONNRESET;
    return -1;
}

static ssize_t
probe_recv(struct job *j, char *buf, size_t n)
{
    if (j->ssl == NULL) {
        return recv(j->fd, buf, n, 0);
    }
    int r = SSL_read(j->ssl, buf, (int)n);
    if (r > 0) {
        return r;
    }
    int e = SSL_get_error(j->ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;
    }
    errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : ECONNRESET;
    return -1;
}

/* Advances a probe; returns the outcome when it is over, 1 to wait. */
static int
probe_step(struct job *j)
{
    int err = 0;
    socklen_t len = sizeof err;
    ssize_t n;

    switch (j->phase) {
    case P_CONNECT:
        if (getsockopt(j->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
            return GW_HEALTH_TCP_ERROR;
        }
        if (j->hc->active_type == GW_HC_TCP ||
            (j->hc->active_type == GW_HC_HTTPS && j->hc->grpc)) {
            return GW_HEALTH_SUCCESS; /* tcp (and gRPC, which would need HTTP/2) */
        }
        if (j->hc->active_type == GW_HC_HTTPS) {
            if (tls_start(j) < 0) {
                return GW_HEALTH_TCP_ERROR;
            }
            j->phase = P_TLS;
        } else {
            j->phase = P_SEND;
        }
        return probe_step(j);
    case P_TLS: {
        int r = SSL_do_handshake(j->ssl);
        if (r != 1) {
            int e = SSL_get_error(j->ssl, r);
            ERR_clear_error();
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                want(j, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE);
                return 1;
            }
            return GW_HEALTH_TCP_ERROR; /* handshake or verification failed */
        }
        j->phase = P_SEND;
        want(j, EV_WRITE);
        return probe_step(j);
    }
    case P_SEND:
        while (j->req_off < j->req_len) {
            n = probe_send(j, j->req + j->req_off, j->req_len - j->req_off);
            if (n < 0 && errno == EAGAIN) {
                return 1;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return GW_HEALTH_TCP_ERROR;
            }
            j->req_off += (size_t)n;
        }
        j->phase = P_READ;
        ev_io_stop(ck.loop, &j->io);
        ev_io_set(&j->io, j->fd, EV_READ);
        ev_io_start(ck.loop, &j->io);
        return 1;
    case P_READ:
        for (;;) {
            n = probe_recv(j, j->buf + j->len, sizeof j->buf - j->len);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && errno == EAGAIN) {
                return 1;
            }
            if (n <= 0) {
                return GW_HEALTH_TCP_ERROR; /* closed before a status line */
            }
            j->len += (size_t)n;
            const char *eol = memchr(j->buf, '\n', j->len);
            if (eol) {
                return status_line(j->buf, (size_t)(eol - j->buf));
            }
            if (j->len == sizeof j->buf) {
                return 0; /* no status line: an invalid response */
            }
        }
    }
    return GW_HEALTH_TCP_ERROR;
}

static void
on_probe_io(struct ev_loop *loop, ev_io *io, int revents)
{
    struct job *j = io->data;
    int rc = probe_step(j);
    (void)loop, (void)revents;

    if (rc != 1) {
        probe_done(j, rc);
        schedule();
    }
}

static void
on_probe_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    probe_done(t->data, GW_HEALTH_TIMEOUT);
    schedule();
}

static int
build_request(struct job *j)
{
    const char *hdrs = j->hc->probe_headers ? j->hc->probe_headers : "";
    size_t cap = strlen(j->hc->http_path) + j->host.n + strlen(hdrs) + 64;
    int n;

    j->req = malloc(cap);
    if (j->req == NULL) {
        return -1;
    }
    n = snprintf(j->req, cap, "GET %s HTTP/1.1\r\nConnection: close\r\n%sHost: %.*s\r\n\r\n",
                 j->hc->http_path, hdrs, (int)j->host.n, j->host.p);
    j->req_len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
    j->req_off = 0;
    return 0;
}

static void
probe_start(struct job *j, ev_tstamp now)
{
    const struct gw_target *t = j->target;
    /* a timeout of 0 would never fire in libev; Kong's cosockets read 0 as their default */
    double timeout = j->hc->timeout_s > 0 ? j->hc->timeout_s : 60;

    j->last_at = now;
    j->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (j->fd < 0) {
        return; /* our problem, not the target's: try again next interval */
    }
    if (j->hc->active_type != GW_HC_TCP && !j->hc->grpc && build_request(j) < 0) {
        close(j->fd);
        return;
    }
    if (connect(j->fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS) {
        close(j->fd);
        free(j->req);
        j->req = NULL;
        gw_health_report(j->peer, &j->hc->active, GW_HEALTH_TCP_ERROR, t->name);
        return;
    }
    j->busy = 1;
    j->phase = P_CONNECT;
    j->len = 0;
    ck.inflight[j->group]++;
    ev_io_init(&j->io, on_probe_io, j->fd, EV_WRITE);
    j->io.data = j;
    ev_io_start(ck.loop, &j->io);
    ev_timer_init(&j->timer, on_probe_timeout, timeout, 0);
    j->timer.data = j;
    ev_timer_start(ck.loop, &j->timer);
}

/* Starts the probes that are due and arms the tick for the next one. A peer's interval
 * follows its current state, so a peer that passive checks just evicted is probed at the
 * unhealthy interval; the tick also runs at least twice a second to notice such changes. */
static void
schedule(void)
{
    ev_tstamp now = ev_now(ck.loop), next = now + 0.5;

    for (uint32_t i = 0; i < ck.njobs; i++) {
        struct job *j = &ck.jobs[i];
        double iv =
            gw_peer_healthy(j->peer) ? j->hc->healthy_interval_s : j->hc->unhealthy_interval_s;
        if (j->busy || iv <= 0) {
            continue;
        }
        ev_tstamp due = j->last_at ? j->last_at + iv : now;
        if (due <= now && ck.inflight[j->group] < j->hc->concurrency) {
            probe_start(j, now);
            due = now + iv;
        }
        if (due > now && due < next) {
            next = due;
        }
    }
    ev_timer_stop(ck.loop, &ck.tick);
    if (ck.njobs) {
        ev_timer_set(&ck.tick, next - now > 0.001 ? next - now : 0.001, 0);
        ev_timer_start(ck.loop, &ck.tick);
    }
}

static void
on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)t, (void)revents;
    schedule();
}

static void
cancel_all(void)
{
    for (uint32_t i = 0; i < ck.njobs; i++) {
        if (ck.jobs[i].busy) {
            probe_end(&ck.jobs[i]);
        }
    }
}

/* One job per peer of the upstreams with active checks in s; the last probe times carry over
 * by peer (a cancelled probe is due again at once). */
static void
adopt(struct gw_snapshot *s)
{
    uint32_t cap = 0, n = 0;

    for (uint32_t i = 0; i < s->nservices; i++) {
        if (s->services[i].hc && s->services[i].hc->active_on) {
            cap += s->services[i].ntargets;
        }
    }
    struct job *jobs = calloc(cap ? cap : 1, sizeof *jobs);
    uint32_t *inflight = calloc(s->nservices ? s->nservices : 1, sizeof *inflight);
    if (jobs == NULL || inflight == NULL) {
        free(jobs);
        free(inflight);
        gw_snapshot_unref(s); /* keep checking with the old one */
        return;
    }
    for (uint32_t i = 0; i < s->nservices; i++) {
        const struct gw_service *svc = &s->services[i];
        for (uint32_t k = 0; svc->hc && svc->hc->active_on && k < svc->ntargets; k++) {
            const struct gw_target *t = &svc->targets[k];
            uint32_t d = 0;
            while (d < n && jobs[d].peer != t->peer) {
                d++;
            }
            if (t->peer == NULL || d < n) {
                continue; /* another service on the same upstream has it */
            }
            struct job *j = &jobs[n++];
            j->peer = t->peer;
            j->hc = svc->hc;
            j->target = t;
            j->group = i;
            if (svc->host_header.n) {
                j->host = svc->host_header;
            } else {
                j->host = (struct gw_str){t->name, strlen(t->name)};
            }
            for (uint32_t o = 0; o < ck.njobs; o++) {
                if (ck.jobs[o].peer == t->peer) {
                    j->last_at = ck.jobs[o].busy ? 0 : ck.jobs[o].last_at;
                    break;
                }
            }
        }
    }
    cancel_all();
    free(ck.jobs);
    free(ck.inflight);
    ck.jobs = jobs;
    ck.njobs = n;
    ck.inflight = inflight;
    gw_snapshot_unref(ck.snap);
    ck.snap = s;
    schedule();
}

static void
on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
    struct gw_snapshot *s = atomic_exchange(&ck.pending, NULL);
    (void)a, (void)revents;

    if (atomic_load(&ck.stopping)) {
        gw_snapshot_unref(s);
        cancel_all();
        ev_timer_stop(loop, &ck.tick);
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (s) {
        adopt(s);
    }
}

static void *
run(void *arg)
{
    (void)arg;
    ev_run(ck.loop, 0);
    return NULL;
}

int
gw_health_start(struct gw_snapshot *snap)
{
    sigset_t all, old;

    ck.loop = ev_loop_new(EVFLAG_AUTO);
    if (ck.loop == NULL) {
        fprintf(stderr, "tollgate-dp: health checker: cannot create its event loop\n");
        return -1;
    }
    ev_async_init(&ck.wake, on_wake);
    ev_async_start(ck.loop, &ck.wake);
    ev_init(&ck.tick, on_tick);
    adopt(gw_snapshot_ref(snap)); /* the loop does not run yet: this thread may touch it */
    /* signals belong to the main thread's loop */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&ck.thread, NULL, run, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fprintf(stderr, "tollgate-dp: health checker: cannot start its thread: %s\n", strerror(rc));
        return -1;
    }
    ck.started = 1;
    return 0;
}

void
gw_health_publish(struct gw_snapshot *snap)
{
    if (!ck.started) {
        return;
    }
    struct gw_snapshot *old = atomic_exchange(&ck.pending, gw_snapshot_ref(snap));
    gw_snapshot_unref(old); /* superseded before the checker took it */
    ev_async_send(ck.loop, &ck.wake);
}

void
gw_health_stop(void)
{
    if (!ck.started) {
        return;
    }
    atomic_store(&ck.stopping, 1);
    ev_async_send(ck.loop, &ck.wake);
    pthread_join(ck.thread, NULL);
    ck.started = 0;
    gw_snapshot_unref(atomic_exchange(&ck.pending, NULL));
    free(ck.jobs);
    free(ck.inflight);
    ck.jobs = NULL;
    ck.inflight = NULL;
    ck.njobs = 0;
    gw_snapshot_unref(ck.snap);
    ck.snap = NULL;
    ev_loop_destroy(ck.loop);
    ck.loop = NULL;
}
