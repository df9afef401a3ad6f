/* Load balancing: compiles an upstream's algorithm, hash sources and continuum into the
 * snapshot, and picks a target per try on the workers.
 *
 * Invariants: a pick never blocks and never locks. It reads the snapshot (immutable), the
 * worker's round-robin cursor, and the peers' atomics (health, tries in flight, latency). Only
 * least-connections writes a shared counter per try (one atomic add at the pick, one subtract
 * when the try ends); the other algorithms write nothing shared on the hot path except what
 * passive health checks and latency samples need when an outcome is reported.
 *
 * A try in flight is released exactly once: by the next pick of the same request or by a
 * callback on the request's arena, which runs when the request ends or its connection closes.
 * The callback runs before the request drops its snapshot reference (arena callbacks run
 * newest first), so the peer it touches is still alive. */
#include "balancer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "health.h"
#include "schema.h"
#include "snapshot.h"

#define LATENCY_DECAY_S   10.0 /* Kong's latency balancer: DECAY_TIME */
#define LATENCY_FAILURE_S 1.0  /* a failed try counts as at least this slow */
#define RING_MIN_POINTS   1000

/* ------------------------------------------------------------------ xxHash32 */

#define XXH_P1 0x9E3779B1u
#define XXH_P2 0x85EBCA77u
#define XXH_P3 0xC2B2AE3Du
#define XXH_P4 0x27D4EB2Fu
#define XXH_P5 0x165667B1u

static inline uint32_t
rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static inline uint32_t
read32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint32_t
xxh_round(uint32_t acc, uint32_t in)
{
    return rotl32(acc + in * XXH_P2, 13) * XXH_P1;
}

/* xxHash32 (Yann Collet's specification), seed 0, little-endian reads on any host. */
uint32_t
gw_balancer_hash(const void *buf, size_t n)
{
    const unsigned char *p = n ? buf : (const unsigned char *)"";
    const unsigned char *end = p + n;
    uint32_t h;

    if (n >= 16) {
        uint32_t v1 = XXH_P1 + XXH_P2, v2 = XXH_P2, v3 = 0, v4 = 0u - XXH_P1;
        do {
            v1 = xxh_round(v1, read32(p));
            v2 = xxh_round(v2, read32(p + 4));
            v3 = xxh_round(v3, read32(p + 8));
            v4 = xxh_round(v4, read32(p + 12));
            p += 16;
        } while ((size_t)(end - p) >= 16);
        h = rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18);
    } else {
        h = XXH_P5;
    }
    h += (uint32_t)n;
    while ((size_t)(end - p) >= 4) {
        h = rotl32(h + read32(p) * XXH_P3, 17) * XXH_P4;
        p += 4;
    }
    while (p < end) {
        h = rotl32(h + *p++ * XXH_P5, 11) * XXH_P1;
    }
    h ^= h >> 15;
    h *= XXH_P2;
    h ^= h >> 13;
    h *= XXH_P3;
    h ^= h >> 16;
    return h;
}

/* ------------------------------------------------------------------ compiling */

static const struct gw_val *
ufield(const struct gw_val *up, const char *name)
{
    return gw_rec_get(gw_entities[GW_ENT_UPSTREAMS].schema, up, name);
}

static struct gw_str
ustr(const struct gw_val *up, const char *name)
{
    const struct gw_val *v = ufield(up, name);

    return v && v->type == GW_V_STR ? (struct gw_str){v->u.s, v->n} : GW_STR_NULL;
}

static int
ustr_is(const struct gw_val *up, const char *name, const char *want)
{
    return gw_str_eqz(ustr(up, name), want);
}

static struct gw_hash_src
hash_src(const struct gw_val *up, const char *which)
{
    static const char *const names[] = {"none",   "consumer", "ip",        "header",
                                        "cookie", "path",     "query_arg", "uri_capture"};
    struct gw_str v = ustr(up, which);
    struct gw_hash_src s = {GW_HASH_NONE, GW_STR_NULL};
    int fb = strcmp(which, "hash_fallback") == 0;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (gw_str_eqz(v, names[i])) {
            s.on = (enum gw_hash_on)i;
        }
    }
    switch (s.on) {
    case GW_HASH_HEADER:
        s.name = ustr(up, fb ? "hash_fallback_header" : "hash_on_header");
        break;
    case GW_HASH_COOKIE:
        s.name = ustr(up, "hash_on_cookie");
        break;
    case GW_HASH_QUERY_ARG:
        s.name = ustr(up, fb ? "hash_fallback_query_arg" : "hash_on_query_arg");
        break;
    case GW_HASH_URI_CAPTURE:
        s.name = ustr(up, fb ? "hash_fallback_uri_capture" : "hash_on_uri_capture");
        break;
    default:
        break;
    }
    return s;
}

static int
point_cmp(const void *a, const void *b)
{
    const struct gw_ring_point *x = a, *y = b;

    if (x->hash != y->hash) {
        return x->hash < y->hash ? -1 : 1;
    }
    return x->target < y->target ? -1 : x->target > y->target;
}

/* The continuum: each target gets slots * weight / total points (at least one), at
 * xxHash32(address key, point number), so a point's place does not depend on the other
 * targets. */
static int
build_ring(struct gw_service *svc, int64_t slots)
{
    struct gw_lb *lb = &svc->lb;
    uint64_t n = 0;

    if (slots < RING_MIN_POINTS) {
        slots = RING_MIN_POINTS;
    }
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        uint64_t k = (uint64_t)slots * svc->targets[i].weight / svc->total_weight;
        n += k ? k : 1;
    }
    lb->ring = malloc((n ? n : 1) * sizeof *lb->ring);
    if (lb->ring == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        const struct gw_target *t = &svc->targets[i];
        uint64_t k = (uint64_t)slots * t->weight / svc->total_weight;
        unsigned char buf[12];
        for (int b = 0; b < 8; b++) {
            buf[b] = (unsigned char)(t->key >> (8 * b));
        }
        for (uint32_t j = 0; j < (k ? k : 1); j++) {
            for (int b = 0; b < 4; b++) {
                buf[8 + b] = (unsigned char)(j >> (8 * b));
            }
            lb->ring[lb->nring].hash = gw_balancer_hash(buf, sizeof buf);
            lb->ring[lb->nring].target = i;
            lb->nring++;
        }
    }
    qsort(lb->ring, lb->nring, sizeof *lb->ring, point_cmp);
    return 0;
}

int
gw_balancer_compile(struct gw_service *svc, const struct gw_val *up, char *err, size_t errlen)
{
    struct gw_lb *lb = &svc->lb;

    memset(lb, 0, sizeof *lb);
    if (up == NULL) {
        return 0; /* DNS addresses of a plain host: round-robin, no health checks */
    }
    if (ustr_is(up, "algorithm", "least-connections")) {
        lb->algorithm = GW_LB_LEAST_CONNECTIONS;
    } else if (ustr_is(up, "algorithm", "consistent-hashing")) {
        lb->algorithm = GW_LB_CONSISTENT_HASHING;
    } else if (ustr_is(up, "algorithm", "latency")) {
        lb->algorithm = GW_LB_LATENCY;
    }
    lb->hash_on = hash_src(up, "hash_on");
    lb->hash_fallback = hash_src(up, "hash_fallback");
    lb->cookie_name = ustr(up, "hash_on_cookie");
    lb->cookie_path = ustr(up, "hash_on_cookie_path");
    if (lb->cookie_path.p == NULL) {
        lb->cookie_path = GW_STR_LIT("/");
    }
    svc->hc = malloc(sizeof *svc->hc);
    if (svc->hc == NULL || gw_health_compile(ufield(up, "healthchecks"), svc->hc) < 0) {
        goto oom;
    }
    const char *uid = gw_config_id(GW_ENT_UPSTREAMS, up);
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        svc->targets[i].peer = gw_health_acquire(gw_health_key(uid, svc->targets[i].key));
        if (svc->targets[i].peer == NULL) {
            goto oom;
        }
    }
    if (lb->algorithm == GW_LB_CONSISTENT_HASHING && svc->ntargets) {
        const struct gw_val *slots = ufield(up, "slots");
        if (build_ring(svc, slots && slots->type == GW_V_INT ? slots->u.i : 10000) < 0) {
            goto oom;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

void
gw_balancer_free(struct gw_service *svc)
{
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        gw_health_release(svc->targets[i].peer);
        svc->targets[i].peer = NULL;
    }
    free(svc->lb.ring);
    svc->lb.ring = NULL;
    svc->lb.nring = 0;
    if (svc->hc) {
        gw_health_free(svc->hc);
        free(svc->hc);
        svc->hc = NULL;
    }
}

/* ------------------------------------------------------------------ hash keys */

/* Every value of header name, joined with ", " when it repeats. */
static struct gw_str
header_value(const struct gw_http_head *h, struct gw_str name, struct gw_arena *a)
{
    const struct gw_http_header *first = NULL;
    size_t count = 0, total = 0;

    for (unsigned i = 0; h && i < h->nheaders; i++) {
        if (gw_str_caseeq(h->headers[i].name, name)) {
            first = first ? first : &h->headers[i];
            count++;
            total += h->headers[i].value.n;
        }
    }
    if (count <= 1) {
        return first ? first->value : GW_STR_NULL;
    }
    char *out = gw_arena_alloc(a, total + 2 * (count - 1));
    size_t off = 0;
    if (out == NULL) {
        return first->value;
    }
    for (unsigned i = 0; i < h->nheaders; i++) {
        if (gw_str_caseeq(h->headers[i].name, name)) {
            if (off) {
                memcpy(out + off, ", ", 2);
                off += 2;
            }
            memcpy(out + off, h->headers[i].value.p, h->headers[i].value.n);
            off += h->headers[i].value.n;
        }
    }
    return (struct gw_str){out, off};
}

/* The value of cookie name in the Cookie headers ("a=1; b=2"). */
static struct gw_str
cookie_value(const struct gw_http_head *h, struct gw_str name)
{
    for (unsigned i = 0; h && i < h->nheaders; i++) {
        if (!gw_str_caseeqz(h->headers[i].name, "cookie")) {
            continue;
        }
        const char *p = h->headers[i].value.p, *end = p + h->headers[i].value.n;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ';')) {
                p++;
            }
            const char *item = p;
            while (p < end && *p != ';') {
                p++;
            }
            const char *eq = memchr(item, '=', (size_t)(p - item));
            if (eq && gw_str_eq((struct gw_str){item, (size_t)(eq - item)}, name)) {
                return (struct gw_str){eq + 1, (size_t)(p - eq - 1)};
            }
        }
    }
    return GW_STR_NULL;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* URL-decodes s into out ('+' is a space, as nginx's $arg_ and get_uri_args() read it). */
static size_t
url_decode(struct gw_str s, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < s.n; i++) {
        int hi, lo;
        if (s.p[i] == '%' && i + 2 < s.n && (hi = hexval(s.p[i + 1])) >= 0 &&
            (lo = hexval(s.p[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s.p[i] == '+' ? ' ' : s.p[i];
        }
    }
    return o;
}

static int
str_cmp(const void *a, const void *b)
{
    const struct gw_str *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = n ? memcmp(x->p, y->p, n) : 0;

    return c ? c : (x->n > y->n) - (x->n < y->n);
}

#define MAX_ARG_VALUES 16

/* The decoded value of query argument name; a repeated argument's values sorted and joined
 * with "," (Kong hashes the table of values the same way). An argument without "=" has no
 * value. */
static struct gw_str
query_value(const struct gw_http_head *h, struct gw_str name, struct gw_arena *a)
{
    struct gw_str vals[MAX_ARG_VALUES];
    size_t nvals = 0, total = 0;
    struct gw_str q = h ? h->query : GW_STR_NULL;
    char *buf = q.n ? gw_arena_alloc(a, 2 * q.n) : NULL;
    size_t used = 0;

    for (size_t i = 0; buf && i < q.n && nvals < MAX_ARG_VALUES;) {
        size_t st = i;
        while (i < q.n && q.p[i] != '&') {
            i++;
        }
        struct gw_str item = {q.p + st, i - st};
        i++;
        const char *eq = memchr(item.p, '=', item.n);
        if (eq == NULL) {
            continue;
        }
        size_t kn = url_decode((struct gw_str){item.p, (size_t)(eq - item.p)}, buf + used);
        if (!gw_str_eq((struct gw_str){buf + used, kn}, name)) {
            continue;
        }
        size_t vn =
            url_decode((struct gw_str){eq + 1, (size_t)(item.p + item.n - eq - 1)}, buf + used);
        vals[nvals++] = (struct gw_str){buf + used, vn};
        used += vn;
        total += vn + 1;
    }
    if (nvals <= 1) {
        return nvals ? vals[0] : GW_STR_NULL;
    }
    qsort(vals, nvals, sizeof vals[0], str_cmp);
    char *out = gw_arena_alloc(a, total);
    size_t off = 0;
    for (size_t i = 0; out && i < nvals; i++) {
        if (off) {
            out[off++] = ',';
        }
        memcpy(out + off, vals[i].p, vals[i].n);
        off += vals[i].n;
    }
    return out ? (struct gw_str){out, off} : vals[0];
}

/* A capture of the matched regex route: by number ("1") or by name. */
static struct gw_str
capture_value(const struct gw_route_match *m, struct gw_str name)
{
    unsigned idx = 0;
    size_t i = 0;

    if (m == NULL) {
        return GW_STR_NULL;
    }
    while (i < name.n && name.p[i] >= '0' && name.p[i] <= '9' && idx < 1000) {
        idx = idx * 10 + (unsigned)(name.p[i++] - '0');
    }
    if (name.n && i == name.n) {
        return idx >= 1 && idx <= m->ncaptures ? m->captures[idx - 1].value : GW_STR_NULL;
    }
    for (unsigned k = 0; k < m->ncaptures; k++) {
        if (m->captures[k].name.p && gw_str_eq(m->captures[k].name, name)) {
            return m->captures[k].value;
        }
    }
    return GW_STR_NULL;
}

/* The key a hash source yields for this request; .n == 0 when it yields none. A missing hash
 * cookie yields a new UUID, which the response sets (gw_balancer_set_cookie). */
static struct gw_str
hash_key(struct gw_pick *p, const struct gw_hash_src *src, const struct gw_lb_request *in,
         struct gw_arena *a)
{
    struct gw_str v = GW_STR_NULL;

    switch (src->on) {
    case GW_HASH_NONE:
    case GW_HASH_CONSUMER: /* TODO(#auth): the authenticated consumer's id, else credential */
        break;
    case GW_HASH_IP:
        v = in->client_ip;
        break;
    case GW_HASH_HEADER:
        v = header_value(in->head, src->name, a);
        break;
    case GW_HASH_COOKIE:
        v = cookie_value(in->head, src->name);
        if (v.n == 0 && gw_uuid_v4(p->cookie) == 0) {
            v = (struct gw_str){p->cookie, GW_UUID_LEN};
        }
        break;
    case GW_HASH_PATH:
        v = in->path;
        break;
    case GW_HASH_QUERY_ARG:
        v = query_value(in->head, src->name, a);
        break;
    case GW_HASH_URI_CAPTURE:
        v = capture_value(in->match, src->name);
        break;
    }
    return v.p ? v : GW_STR_NULL;
}

/* ------------------------------------------------------------------ algorithms */

static int
usable(const struct gw_target *t)
{
    return gw_peer_healthy(t->peer);
}

/* The wheel from start: the first healthy target that is not avoid; avoid itself when it is
 * the only healthy one. */
static const struct gw_target *
walk_wheel(struct gw_pick *p, uint32_t start, const struct gw_target *avoid)
{
    const struct gw_service *svc = p->svc;
    const struct gw_target *fallback = NULL;
    uint32_t fpos = 0;

    for (uint32_t i = 0; i < svc->nwheel; i++) {
        uint32_t pos = (start + i) % svc->nwheel;
        const struct gw_target *t = &svc->targets[svc->wheel[pos]];
        if (!usable(t)) {
            continue;
        }
        if (t == avoid) {
            if (fallback == NULL) {
                fallback = t, fpos = pos;
            }
            continue;
        }
        p->pos = pos;
        return t;
    }
    p->pos = fpos;
    return fallback;
}

static int
any_usable(const struct gw_service *svc)
{
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        if (usable(&svc->targets[i])) {
            return 1;
        }
    }
    return 0;
}

/* The ring from pos: as walk_wheel. Checks first that some target is healthy, so that a dead
 * upstream costs a scan of its targets, not of its points. */
static const struct gw_target *
walk_ring(struct gw_pick *p, uint32_t start, const struct gw_target *avoid)
{
    const struct gw_service *svc = p->svc;
    const struct gw_lb *lb = &svc->lb;
    const struct gw_target *fallback = NULL;
    uint32_t fpos = 0;

    if (lb->nring == 0 || !any_usable(svc)) {
        return NULL;
    }
    for (uint32_t i = 0; i < lb->nring; i++) {
        uint32_t pos = (start + i) % lb->nring;
        const struct gw_target *t = &svc->targets[lb->ring[pos].target];
        if (!usable(t)) {
            continue;
        }
        if (t == avoid) {
            if (fallback == NULL) {
                fallback = t, fpos = pos;
            }
            continue;
        }
        p->pos = pos;
        return t;
    }
    p->pos = fpos;
    return fallback;
}

/* The first point at or after h, wrapping. */
static uint32_t
ring_find(const struct gw_lb *lb, uint32_t h)
{
    uint32_t lo = 0, hi = lb->nring;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (lb->ring[mid].hash < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == lb->nring ? 0 : lo;
}

static unsigned
in_flight(const struct gw_target *t)
{
    /* relaxed: a count a moment old is as good for choosing */
    return t->peer ? atomic_load_explicit(&t->peer->active, memory_order_relaxed) : 0;
}

/* Fewest tries in flight per weight: (active + 1) / weight, compared by cross-multiplying.
 * The scan starts at a rotating index so that ties take turns. */
static const struct gw_target *
least_connections(struct gw_pick *p, uint32_t start, const struct gw_target *avoid)
{
    const struct gw_service *svc = p->svc;
    const struct gw_target *best = NULL;
    uint64_t best_load = 0;

    for (uint32_t i = 0; i < svc->ntargets; i++) {
        const struct gw_target *t = &svc->targets[(start + i) % svc->ntargets];
        if (!usable(t) || t == avoid) {
            continue;
        }
        uint64_t load = (uint64_t)(in_flight(t) + 1);
        if (best == NULL || load * best->weight < best_load * t->weight) {
            best = t;
            best_load = load;
        }
    }
    if (best == NULL && avoid && usable(avoid)) {
        best = avoid;
    }
    return best;
}

static uint32_t
stamp_ms(double now)
{
    return (uint32_t)(uint64_t)(now * 1000.0); /* wraps every 49 days: differences still hold */
}

/* Seconds from stamp to now; never negative (workers' clocks are cached per loop iteration,
 * so another worker's stamp may be a little ahead of ours). */
static double
elapsed_s(uint32_t stamp, double now)
{
    int32_t d = (int32_t)(stamp_ms(now) - stamp);

    return d > 0 ? d / 1000.0 : 0;
}

/* The target's EWMA decayed to now (towards 0: a target not heard from for a while gets
 * tried again), per unit of weight. */
static double
latency_score(const struct gw_target *t, double now)
{
    uint64_t v = t->peer ? atomic_load_explicit(&t->peer->latency, memory_order_relaxed) : 0;
    double ewma = (double)(v >> 32);
    return ewma * exp(-elapsed_s((uint32_t)v, now) / LATENCY_DECAY_S) / t->weight;
}

static uint64_t
rnd(void)
{
    static _Thread_local uint64_t s;

    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_nsec << 20 ^ (uint64_t)(uintptr_t)&s ^ (uint64_t)ts.tv_sec) | 1;
    }
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
}

/* Power of two choices: two distinct random usable targets, the lower score wins. */
static const struct gw_target *
latency_pick(struct gw_pick *p, const struct gw_target *avoid, double now)
{
    const struct gw_service *svc = p->svc;
    uint32_t n = 0, a, b;
    const struct gw_target *ta = NULL, *tb = NULL;

    for (uint32_t i = 0; i < svc->ntargets; i++) {
        n += usable(&svc->targets[i]) && &svc->targets[i] != avoid;
    }
    if (n == 0) {
        return avoid && usable(avoid) ? avoid : NULL;
    }
    a = (uint32_t)(rnd() % n);
    b = n > 1 ? (uint32_t)(rnd() % (n - 1)) : a;
    b += n > 1 && b >= a;
    for (uint32_t i = 0, k = 0; i < svc->ntargets; i++) {
        const struct gw_target *t = &svc->targets[i];
        if (!usable(t) || t == avoid) {
            continue;
        }
        ta = k == a ? t : ta;
        tb = k == b ? t : tb;
        k++;
    }
    return latency_score(tb, now) < latency_score(ta, now) ? tb : ta;
}

/* healthchecks.threshold: the upstream is down while its healthy weight is below that
 * percentage of the total. */
static int
below_threshold(const struct gw_service *svc)
{
    uint64_t healthy = 0;

    if (svc->hc == NULL || svc->hc->threshold <= 0) {
        return 0;
    }
    for (uint32_t i = 0; i < svc->ntargets; i++) {
        healthy += usable(&svc->targets[i]) ? svc->targets[i].weight : 0;
    }
    return (double)healthy * 100.0 < svc->hc->threshold * (double)svc->total_weight;
}

/* ------------------------------------------------------------------ tries */

static void
release(struct gw_pick *p)
{
    if (p->counted) {
        atomic_fetch_sub_explicit(&p->target->peer->active, 1, memory_order_relaxed);
        p->counted = 0;
    }
}

static void
release_cb(void *data)
{
    release(data);
}

static void
begin_try(struct gw_pick *p, const struct gw_target *t, double now)
{
    release(p);
    p->target = t;
    p->reported = 0;
    p->t_start = now;
    if (t && t->peer && p->cleanup && p->svc->lb.algorithm == GW_LB_LEAST_CONNECTIONS) {
        /* relaxed: a counter, ordered with nothing else */
        atomic_fetch_add_explicit(&t->peer->active, 1, memory_order_relaxed);
        p->counted = 1;
    }
}

const struct gw_target *
gw_balancer_pick(struct gw_pick *p, const struct gw_service *svc, uint32_t *cursor,
                 const struct gw_lb_request *in, struct gw_arena *arena)
{
    const struct gw_target *t = NULL;
    struct gw_str key;

    p->svc = svc;
    if (svc->ntargets == 0 || below_threshold(svc)) {
        return NULL;
    }
    switch (svc->lb.algorithm) {
    case GW_LB_ROUND_ROBIN:
        t = walk_wheel(p, *cursor, NULL);
        *cursor = p->pos + 1;
        break;
    case GW_LB_LEAST_CONNECTIONS:
        t = least_connections(p, (*cursor)++, NULL);
        break;
    case GW_LB_CONSISTENT_HASHING:
        key = hash_key(p, &svc->lb.hash_on, in, arena);
        if (key.n == 0) {
            key = hash_key(p, &svc->lb.hash_fallback, in, arena);
        }
        p->hash = gw_balancer_hash(key.p, key.n); /* nothing: the empty string, as Kong */
        t = walk_ring(p, ring_find(&svc->lb, p->hash), NULL);
        break;
    case GW_LB_LATENCY:
        t = latency_pick(p, NULL, in->now);
        break;
    }
    if (t && svc->lb.algorithm == GW_LB_LEAST_CONNECTIONS && !p->cleanup &&
        gw_arena_on_destroy(arena, release_cb, p) == 0) {
        p->cleanup = 1; /* without it the try is not counted: it could never be released */
    }
    begin_try(p, t, in->now);
    return t;
}

const struct gw_target *
gw_balancer_retry(struct gw_pick *p, double now)
{
    const struct gw_service *svc = p->svc;
    const struct gw_target *failed = p->target, *t = NULL;

    if (svc == NULL || failed == NULL) {
        return NULL;
    }
    switch (svc->lb.algorithm) {
    case GW_LB_ROUND_ROBIN:
        t = walk_wheel(p, p->pos + 1, failed);
        break;
    case GW_LB_LEAST_CONNECTIONS:
        release(p); /* the failed try no longer counts against its target */
        t = least_connections(p, (uint32_t)(failed - svc->targets) + 1, failed);
        break;
    case GW_LB_CONSISTENT_HASHING:
        t = walk_ring(p, p->pos + 1, failed);
        break;
    case GW_LB_LATENCY:
        t = latency_pick(p, failed, now);
        break;
    }
    begin_try(p, t, now);
    return t;
}

/* Peak EWMA: a slower sample replaces the average at once, a faster one pulls it down with
 * the weight exp(-elapsed / 10 s). Packed with its time stamp in one word (CAS: workers race). */
static void
latency_sample(struct gw_peer *peer, double rtt_s, double now)
{
    uint64_t old = atomic_load(&peer->latency), word;
    uint32_t ms = stamp_ms(now);
    double rtt = rtt_s > 0 ? rtt_s * 1e6 : 0;

    do {
        double ewma = (double)(old >> 32);
        double e = rtt;
        if (old != 0 && rtt < ewma) {
            double w = exp(-elapsed_s((uint32_t)old, now) / LATENCY_DECAY_S);
            e = ewma * w + rtt * (1 - w);
        }
        e = e < 4e9 ? e : 4e9;
        word = (uint64_t)e << 32 | ms;
    } while (!atomic_compare_exchange_weak(&peer->latency, &old, word));
}

void
gw_balancer_report(struct gw_pick *p, int outcome, double now)
{
    const struct gw_target *t = p->target;

    if (t == NULL || t->peer == NULL || p->reported) {
        return;
    }
    p->reported = 1;
    if (p->svc->hc && p->svc->hc->passive_on) {
        gw_health_report(t->peer, &p->svc->hc->passive, outcome, t->name);
    }
    if (p->svc->lb.algorithm == GW_LB_LATENCY) {
        double rtt = now - p->t_start;
        if (outcome < 0 && rtt < LATENCY_FAILURE_S) {
            rtt = LATENCY_FAILURE_S;
        }
        latency_sample(t->peer, rtt, now);
    }
}

const char *
gw_balancer_set_cookie(const struct gw_pick *p, struct gw_arena *arena)
{
    const struct gw_lb *lb;
    size_t cap;
    char *out;

    if (p->cookie[0] == '\0' || p->svc == NULL) {
        return NULL;
    }
    lb = &p->svc->lb;
    cap = lb->cookie_name.n + lb->cookie_path.n + GW_UUID_LEN + 64;
    out = gw_arena_alloc(arena, cap);
    if (out) {
        snprintf(out, cap, "Set-Cookie: %.*s=%s; Path=%.*s; Same-Site=Lax; HttpOnly\r\n",
                 (int)lb->cookie_name.n, lb->cookie_name.p, p->cookie, (int)lb->cookie_path.n,
                 lb->cookie_path.p);
    }
    return out;
}
