/* Compiles a configuration into what the proxy reads per request. Runs on the config thread:
 * it may block (DNS), workers never wait for it. */
#include "snapshot.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "plugin.h"
#include "schema.h"

static const struct gw_val *
field(enum gw_entity_type t, const struct gw_val *rec, const char *name)
{
    return gw_rec_get(gw_entities[t].schema, rec, name);
}

static const char *
str_or_null(const struct gw_val *v)
{
    return v && v->type == GW_V_STR ? v->u.s : NULL;
}

static int64_t
int_or(const struct gw_val *v, int64_t dflt)
{
    return v && v->type == GW_V_INT ? v->u.i : dflt;
}

static uint64_t
addr_key(const struct sockaddr_storage *ss)
{
    const unsigned char *p = (const unsigned char *)ss;
    size_t n = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

/* DNS with c-ares: answers carry their TTL, which decides when a name is looked up again.
 * Queries run to completion here, polled on the config thread (never on a loop). */
const char *gw_dns_resolver;

struct lookup {
    int done, status, ttl;
    struct ares_addrinfo *res;
};

static void
on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct lookup *l = arg;
    (void)timeouts;

    l->done = 1;
    l->status = status;
    l->res = res;
}

/* A blocking lookup over c-ares (one channel per thread). NULL when it failed. */
static struct ares_addrinfo *
lookup(const char *host, int port, int *ttl)
{
    static _Thread_local ares_channel ch;
    static _Thread_local int ready;
    struct ares_addrinfo_hints hints = {.ai_socktype = SOCK_STREAM, .ai_flags = ARES_AI_NUMERICSERV};
    struct lookup l = {0};
    char portstr[8];

    if (!ready) {
        if (ares_init(&ch) != ARES_SUCCESS) {
            return NULL;
        }
        /* Kong's dns_resolver: "ip[:port],..." instead of resolv.conf's servers */
        if (gw_dns_resolver && ares_set_servers_ports_csv(ch, gw_dns_resolver) != ARES_SUCCESS) {
            fprintf(stderr, "tollgate-dp: bad dns_resolver '%s'\n", gw_dns_resolver);
        }
        ready = 1;
    }
    snprintf(portstr, sizeof portstr, "%d", port);
    ares_getaddrinfo(ch, host, portstr, &hints, on_addrinfo, &l);
    while (!l.done) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        struct pollfd pfd[ARES_GETSOCK_MAXNUM];
        /* c-ares's ARES_GETSOCK_* macros shift a signed 1 by up to 31 (undefined): decode
         * the mask ourselves */
        unsigned bits = (unsigned)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        int n = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            unsigned rd = (bits >> i) & 1u, wr = (bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u;
            if (rd || wr) {
                pfd[n].fd = socks[i];
                pfd[n].events = (short)((rd ? POLLIN : 0) | (wr ? POLLOUT : 0));
                pfd[n].revents = 0;
                n++;
            }
        }
        struct timeval tv, *tvp = ares_timeout(ch, NULL, &tv);
        int ms = tvp ? (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000) : 1000;
        if (poll(pfd, (nfds_t)n, ms) <= 0) {
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
            continue;
        }
        for (int i = 0; i < n; i++) {
            ares_process_fd(ch, (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd
                                                                               : ARES_SOCKET_BAD,
                            (pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD);
        }
    }
    if (l.status != ARES_SUCCESS || l.res == NULL) {
        if (l.res) {
            ares_freeaddrinfo(l.res);
        }
        return NULL;
    }
    *ttl = -1;
    for (struct ares_addrinfo_node *ai = l.res->nodes; ai; ai = ai->ai_next) {
        if (ai->ai_ttl > 0 && (*ttl < 0 || ai->ai_ttl < *ttl)) {
            *ttl = ai->ai_ttl;
        }
    }
    return l.res;
}

/* Resolves host:port, appending one target per address (IPv4 first); *ttl gets the
 * shortest TTL of the answer (-1: none, such as /etc/hosts or an address). Blocking:
 * config thread only. Returns the number added, or -1 with a message. */
static int
resolve(const char *host, int port, uint32_t weight, struct gw_target **list, uint32_t *n,
        int *ttl, char *err, size_t errlen)
{
    char bare[256];
    int added = 0;

    /* "[::1]" from a target string */
    snprintf(bare, sizeof bare, "%s", host);
    if (bare[0] == '[') {
        memmove(bare, bare + 1, strlen(bare));
        char *end = strchr(bare, ']');
        if (end) {
            *end = '\0';
        }
    }
    struct ares_addrinfo *res = lookup(bare, port, ttl);
    if (res == NULL) {
        snprintf(err, errlen, "name resolution failed");
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (struct ares_addrinfo_node *ai = res->nodes; ai; ai = ai->ai_next) {
            if ((pass == 0) != (ai->ai_family == AF_INET)) {
                continue;
            }
            struct gw_target *t = realloc(*list, sizeof **list * (*n + 1));
            if (t == NULL) {
                ares_freeaddrinfo(res);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            *list = t;
            t = &t[*n];
            memset(t, 0, sizeof *t);
            memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
            t->addrlen = ai->ai_addrlen;
            t->weight = weight;
            snprintf(t->name, sizeof t->name, "%s:%d", host, port);
            t->key = addr_key(&t->addr);
            (*n)++;
            added++;
        }
    }
    ares_freeaddrinfo(res);
    return added;
}

static const struct gw_val *
find_upstream(const struct gw_config *cfg, const char *name)
{
    const struct gw_entset *s = &cfg->sets[GW_ENT_UPSTREAMS];

    for (uint32_t i = 0; i < s->n; i++) {
        const char *n = str_or_null(field(GW_ENT_UPSTREAMS, &s->recs[i], "name"));
        if (n && strcmp(n, name) == 0) {
            return &s->recs[i];
        }
    }
    return NULL;
}

static void
build_targets(const struct gw_config *cfg, const struct gw_val *up, struct gw_service *svc)
{
    if (up == NULL) {
        resolve(svc->host.p, svc->port, 100, &svc->targets, &svc->ntargets, &svc->dns_ttl,
                svc->resolve_error,
                sizeof svc->resolve_error);
        return;
    }
    svc->via_upstream = 1;
    const char *hh = str_or_null(field(GW_ENT_UPSTREAMS, up, "host_header"));
    if (hh) {
        svc->host_header = (struct gw_str){hh, strlen(hh)};
    }
    const char *uid = gw_config_id(GW_ENT_UPSTREAMS, up);
    const struct gw_entset *ts = &cfg->sets[GW_ENT_TARGETS];
    for (uint32_t i = 0; i < ts->n; i++) {
        const struct gw_val *t = &ts->recs[i];
        const char *tu = str_or_null(field(GW_ENT_TARGETS, t, "upstream"));
        int64_t w = int_or(field(GW_ENT_TARGETS, t, "weight"), 100);
        const char *addr = str_or_null(field(GW_ENT_TARGETS, t, "target"));
        if (tu == NULL || strcmp(tu, uid) != 0 || w <= 0 || addr == NULL) {
            continue;
        }
        /* targets are normalised to host:port / [v6]:port by the schema */
        const char *colon = strrchr(addr, ':');
        char host[256];
        snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
        char err[128];
        int ttl = -1;
        resolve(host, atoi(colon + 1), (uint32_t)w, &svc->targets, &svc->ntargets, &ttl, err,
                sizeof err);
        if (ttl > 0 && (svc->dns_ttl <= 0 || ttl < svc->dns_ttl)) {
            svc->dns_ttl = ttl;
        }
    }
    if (svc->ntargets == 0) {
        snprintf(svc->resolve_error, sizeof svc->resolve_error,
                 "failure to get a peer from the ring-balancer");
    }
}

static uint32_t
gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The round-robin wheel: each target weight/gcd times, spread by the smooth weighted
 * round-robin order (nginx's), so that weights 2:1 give A B A, not A A B. Bounded to 4096
 * slots; beyond that weights are scaled down. */
static int
build_wheel(struct gw_service *svc)
{
    uint32_t g = 0, n = 0;

    if (svc->ntargets == 0) {
        return 0;
    }
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        g = gcd(g, svc->targets[i].weight);
    }
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        n += svc->targets[i].weight / g;
    }
    uint32_t scale = n > 4096 ? (n + 4095) / 4096 : 1;
    int64_t *cur = calloc(svc->ntargets, sizeof *cur);
    uint32_t *eff = calloc(svc->ntargets, sizeof *eff);
    svc->nwheel = 0;
    svc->wheel = calloc(n / scale + svc->ntargets, sizeof *svc->wheel);
    if (cur == NULL || eff == NULL || svc->wheel == NULL) {
        free(cur);
        free(eff);
        return -1;
    }
    int64_t total = 0;
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        eff[i] = svc->targets[i].weight / g / scale;
        eff[i] = eff[i] ? eff[i] : 1;
        total += eff[i];
    }
    for (int64_t k = 0; k < total; k++) {
        uint32_t best = 0;
        for (uint32_t i = 0; i < svc->ntargets; i++) {
            cur[i] += eff[i];
            if (cur[i] > cur[best]) {
                best = i;
            }
        }
        cur[best] -= total;
        svc->wheel[svc->nwheel++] = best;
    }
    free(cur);
    free(eff);
    return 0;
}

static const char *
rec_str(enum gw_entity_type t, const struct gw_val *rec, const char *f)
{
    return str_or_null(field(t, rec, f));
}

static int
add_pem_certs(X509_STORE *store, const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x;
    int n = 0;

    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        n += X509_STORE_add_cert(store, x) == 1;
        X509_free(x);
    }
    ERR_clear_error();
    BIO_free(b);
    return n;
}

/* The TLS client context of an https service: verification per tls_verify (null: off, as
 * Kong's proxy_ssl_verify default), its depth and ca_certificates, and the client
 * certificate for mTLS to the upstream. */
static int
build_tls(const struct gw_config *cfg, struct gw_service *svc, char *err, size_t errlen)
{
    const enum gw_entity_type T = GW_ENT_SERVICES;
    const struct gw_val *verify = field(T, svc->rec, "tls_verify");
    const struct gw_val *cas = field(T, svc->rec, "ca_certificates");
    const char *client = str_or_null(field(T, svc->rec, "client_certificate"));
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    uint64_t h = 1469598103934665603ull;

    if (ctx == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    svc->tls = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    snprintf(svc->sni, sizeof svc->sni, "%.*s", (int)svc->host.n, svc->host.p);
    if (svc->host_header.n) {
        const char *colon = memchr(svc->host_header.p, ':', svc->host_header.n);
        int n = colon ? (int)(colon - svc->host_header.p) : (int)svc->host_header.n;
        snprintf(svc->sni, sizeof svc->sni, "%.*s", n, svc->host_header.p);
    }
    if (verify && verify->type == GW_V_BOOL && verify->u.b) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        int64_t depth = int_or(field(T, svc->rec, "tls_verify_depth"), -1);
        if (depth >= 0) {
            SSL_CTX_set_verify_depth(ctx, (int)depth);
        }
        if (cas && cas->type == GW_V_ARR && cas->n) {
            X509_STORE *store = SSL_CTX_get_cert_store(ctx);
            for (uint32_t i = 0; i < cas->n; i++) {
                const struct gw_val *ca =
                    gw_config_find(cfg, GW_ENT_CA_CERTIFICATES, cas->u.items[i].u.s);
                if (ca == NULL || add_pem_certs(store, rec_str(GW_ENT_CA_CERTIFICATES, ca, "cert")) == 0) {
                    snprintf(err, errlen, "service %s: ca_certificate %s not found", svc->id,
                             cas->u.items[i].u.s);
                    return -1;
                }
            }
        } else {
            SSL_CTX_set_default_verify_paths(ctx);
        }
        h ^= 0x9e3779b97f4a7c15ull;
    }
    if (client) {
        const struct gw_val *c = gw_config_find(cfg, GW_ENT_CERTIFICATES, client);
        BIO *cb = c ? BIO_new_mem_buf(rec_str(GW_ENT_CERTIFICATES, c, "cert"), -1) : NULL;
        BIO *kb = c ? BIO_new_mem_buf(rec_str(GW_ENT_CERTIFICATES, c, "key"), -1) : NULL;
        X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
        EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
        int ok = x && k && SSL_CTX_use_certificate(ctx, x) == 1 &&
                 SSL_CTX_use_PrivateKey(ctx, k) == 1;
        X509_free(x);
        EVP_PKEY_free(k);
        BIO_free(cb);
        BIO_free(kb);
        ERR_clear_error();
        if (!ok) {
            snprintf(err, errlen, "service %s: client_certificate %s cannot be used", svc->id,
                     client);
            return -1;
        }
    }
    /* connections made with a different identity must not be shared in the pool */
    for (const char *p = svc->id; p && *p; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    }
    svc->tls_key = h | 1;
    return 0;
}

static int
compile_service(const struct gw_config *cfg, const struct gw_val *rec, struct gw_service *svc,
                char *err, size_t errlen)
{
    const enum gw_entity_type T = GW_ENT_SERVICES;
    const char *host = str_or_null(field(T, rec, "host"));
    const char *path = str_or_null(field(T, rec, "path"));
    const char *proto = str_or_null(field(T, rec, "protocol"));

    svc->rec = rec;
    svc->dns_ttl = -1;
    svc->id = gw_config_id(T, rec);
    svc->name = str_or_null(field(T, rec, "name"));
    svc->https = proto && strcmp(proto, "https") == 0;
    svc->host = (struct gw_str){host, host ? strlen(host) : 0};
    svc->port = (int)int_or(field(T, rec, "port"), 80);
    svc->path = path ? (struct gw_str){path, strlen(path)} : GW_STR_NULL;
    svc->retries = (uint32_t)int_or(field(T, rec, "retries"), 5);
    svc->connect_timeout_ms = (uint32_t)int_or(field(T, rec, "connect_timeout"), 60000);
    svc->write_timeout_ms = (uint32_t)int_or(field(T, rec, "write_timeout"), 60000);
    svc->read_timeout_ms = (uint32_t)int_or(field(T, rec, "read_timeout"), 60000);
    const struct gw_val *up = host ? find_upstream(cfg, host) : NULL;
    if (host) {
        build_targets(cfg, up, svc);
    }
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        svc->total_weight += svc->targets[i].weight;
    }
    if (build_wheel(svc) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return gw_balancer_compile(svc, up, err, errlen);
}

static int
has(const struct gw_val *set, const char *s)
{
    for (uint32_t i = 0; set && set->type == GW_V_ARR && i < set->n; i++) {
        if (strcmp(set->u.items[i].u.s, s) == 0) {
            return 1;
        }
    }
    return 0;
}

static struct gw_service *
service_by_id(struct gw_snapshot *s, const char *id)
{
    const struct gw_val *rec = id ? gw_config_find(s->cfg, GW_ENT_SERVICES, id) : NULL;

    return rec ? &s->services[rec - s->cfg->sets[GW_ENT_SERVICES].recs] : NULL;
}

struct gw_snapshot *
gw_snapshot_build(struct gw_config *cfg, uint64_t version, char *err, size_t errlen)
{
    struct gw_snapshot *s = calloc(1, sizeof *s);
    const struct gw_entset *svcs = &cfg->sets[GW_ENT_SERVICES];
    const struct gw_entset *routes = &cfg->sets[GW_ENT_ROUTES];

    if (s == NULL) {
        gw_config_free(cfg);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->version = version;
    s->dns_ttl = -1;
    s->cfg = cfg;
    s->nservices = svcs->n;
    s->nroutes = routes->n;
    s->services = calloc(svcs->n ? svcs->n : 1, sizeof *s->services);
    s->routes = calloc(routes->n ? routes->n : 1, sizeof *s->routes);
    if (s->services == NULL || s->routes == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < svcs->n; i++) {
        if (compile_service(cfg, &svcs->recs[i], &s->services[i], err, errlen) < 0) {
            goto fail;
        }
        if (s->services[i].https && build_tls(cfg, &s->services[i], err, errlen) < 0) {
            goto fail;
        }
        int ttl = s->services[i].dns_ttl;
        if (ttl > 0 && (s->dns_ttl <= 0 || ttl < s->dns_ttl)) {
            s->dns_ttl = ttl;
        }
    }
    for (uint32_t i = 0; i < routes->n; i++) {
        const struct gw_val *rec = &routes->recs[i];
        struct gw_route_info *ri = &s->routes[i];
        const struct gw_val *protos = field(GW_ENT_ROUTES, rec, "protocols");
        const struct gw_val *v;
        ri->rec = rec;
        ri->id = gw_config_id(GW_ENT_ROUTES, rec);
        ri->name = str_or_null(field(GW_ENT_ROUTES, rec, "name"));
        v = field(GW_ENT_ROUTES, rec, "strip_path");
        ri->strip_path = v && v->type == GW_V_BOOL && v->u.b;
        v = field(GW_ENT_ROUTES, rec, "preserve_host");
        ri->preserve_host = v && v->type == GW_V_BOOL && v->u.b;
        ri->https_only = has(protos, "https") && !has(protos, "http");
        ri->redirect_status = (int)int_or(field(GW_ENT_ROUTES, rec, "https_redirect_status_code"), 426);
        ri->service = service_by_id(s, str_or_null(field(GW_ENT_ROUTES, rec, "service")));
    }
    s->router = gw_router_build(cfg, err, errlen);
    if (s->router == NULL) {
        goto fail;
    }
    s->tls = gw_tls_certs_build(cfg, err, errlen);
    if (s->tls == NULL) {
        goto fail;
    }
    s->plugins = gw_plugins_build(s, err, errlen);
    if (s->plugins == NULL) {
        goto fail;
    }
    return s;
fail:
    gw_snapshot_unref(s);
    return NULL;
}

void
gw_snapshot_unref(struct gw_snapshot *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1) {
        return;
    }
    gw_router_free(s->router);
    gw_tls_certs_free(s->tls);
    gw_plugins_free(s->plugins);
    for (uint32_t i = 0; s->services && i < s->nservices; i++) {
        gw_balancer_free(&s->services[i]);
        free(s->services[i].targets);
        free(s->services[i].wheel);
        SSL_CTX_free(s->services[i].tls);
    }
    free(s->services);
    free(s->routes);
    gw_config_free(s->cfg);
    free(s);
}

void
gw_snapshot_unref_cb(void *s)
{
    gw_snapshot_unref(s);
}

static int
is_address(const char *host)
{
    struct in6_addr a;
    char bare[256];

    snprintf(bare, sizeof bare, "%s", host[0] == '[' ? host + 1 : host);
    char *end = strchr(bare, ']');
    if (end) {
        *end = '\0';
    }
    return inet_pton(AF_INET, bare, &a) == 1 || inet_pton(AF_INET6, bare, &a) == 1;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* 1 when the addresses of name (host:port) differ from those the service holds for it. */
static int
name_changed(const struct gw_service *svc, const char *name, int *min_ttl)
{
    const char *colon = strrchr(name, ':');
    char host[256], err[128];
    struct gw_target *fresh = NULL;
    uint32_t nfresh = 0, nold = 0;
    uint64_t old[64], now[64];
    int changed;

    snprintf(host, sizeof host, "%.*s", (int)(colon - name), name);
    int ttl = -1;
    if (resolve(host, atoi(colon + 1), 1, &fresh, &nfresh, &ttl, err, sizeof err) < 0) {
        free(fresh);
        return 0; /* a failed lookup keeps the addresses we have (stale is better than none) */
    }
    if (ttl > 0 && (*min_ttl <= 0 || ttl < *min_ttl)) {
        *min_ttl = ttl;
    }
    for (uint32_t i = 0; i < svc->ntargets && nold < 64; i++) {
        if (strcmp(svc->targets[i].name, name) == 0) {
            old[nold++] = svc->targets[i].key;
        }
    }
    for (uint32_t i = 0; i < nfresh && i < 64; i++) {
        now[i] = fresh[i].key;
    }
    nfresh = nfresh > 64 ? 64 : nfresh;
    free(fresh);
    qsort(old, nold, sizeof old[0], cmp_u64);
    qsort(now, nfresh, sizeof now[0], cmp_u64);
    changed = nold != nfresh || memcmp(old, now, nold * sizeof old[0]) != 0;
    return changed;
}

int
gw_snapshot_dns_changed(const struct gw_snapshot *s, char *which, size_t len, int *min_ttl)
{
    *min_ttl = -1;
    for (uint32_t i = 0; i < s->nservices; i++) {
        const struct gw_service *svc = &s->services[i];
        for (uint32_t t = 0; t < svc->ntargets; t++) {
            const char *name = svc->targets[t].name;
            const char *colon = strrchr(name, ':');
            char host[256];
            int seen = 0;
            snprintf(host, sizeof host, "%.*s", (int)(colon - name), name);
            for (uint32_t u = 0; u < t && !seen; u++) {
                seen = strcmp(svc->targets[u].name, name) == 0;
            }
            if (!seen && !is_address(host) && name_changed(svc, name, min_ttl)) {
                snprintf(which, len, "%s", name);
                return 1;
            }
        }
    }
    return 0;
}
