/* The router: Kong 3.x traditional_compatible matching (reference §4) compiled once per
 * config snapshot.
 *
 * Every route becomes one or more matchers ("entries"): one per prefix path, one for all
 * its regex paths, or one when it has no paths, each with Kong's priority (§4.3). Entries
 * are sorted by priority once, so an entry's index is its rank: lower rank wins.
 *
 * Entries are filed into buckets by host, all in one hash table: one bucket per exact host,
 * one per wildcard key (".example.com" of "*.example.com", "api." of "api.*"), and one for
 * routes without hosts. Inside a bucket, entries sit in rank-sorted lists: one per distinct
 * prefix (a second hash table keyed by bucket and prefix bytes), which also holds the regex
 * entries whose patterns start with that literal text ("~/api/v\d+" under "/api/v"); one
 * for the other regex entries; one for entries without paths.
 *
 * A request visits its exact host's bucket, the wildcard buckets whose key its host has
 * (probed only at the key lengths the config uses), and the host-less one. In each, the
 * prefixes of its path are probed with one incremental hash over the path, at the prefix
 * lengths that bucket has. Every candidate list is walked in rank order only while its ranks
 * beat the best match so far, so a list stops at its first full match, cheap fields are
 * checked before regexes, and a regex runs only when its route could still win.
 *
 * Invariants: the router is immutable after gw_router_build(); all of its memory is in one
 * arena (PCRE2 codes are freed by the arena's destroy callbacks); records and strings of
 * the config are referenced, not copied, so the config must outlive the router. */
#include "router.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "arena.h"
#include "model.h"
#include "schema.h"

/* ------------------------------------------------------------------ compiled routes */

enum {
    PAT_EXACT = 0, /* "example.com" */
    PAT_SUFFIX,    /* "*.example.com": s is ".example.com" */
    PAT_PREFIX,    /* "example.*": s is "example." */
};

struct hostpat {
    const char *s;
    uint32_t n;
    uint8_t kind;
    int port; /* the "host:port" entry's port, -1 for any */
};

struct hval {
    const char *s; /* plain value, compared case-insensitively */
    uint32_t n;
    pcre2_code *re; /* "~*re" value; NULL for a plain one */
};

struct hdr {
    char *name; /* lower-cased, '-' as '_' (Kong's http.headers.<name> field) */
    uint32_t n;
    struct hval *vals;
    uint32_t nvals;
};

struct rx {
    pcre2_code *re;
    uint32_t ngroups;
    const char **names; /* names[i]: name of group i + 1, NULL when unnamed */
};

struct rinfo {
    const struct gw_val *route, *service;
    const char *id;
    uint32_t idx;
    struct gw_str *methods;
    uint32_t nmethods;
    struct hostpat *hosts;
    uint32_t nhosts;
    struct hostpat *snis;
    uint32_t nsnis;
    struct hdr *hdrs;
    uint32_t nhdrs;
    struct rx *rxs;
    uint32_t nrx;
};

enum {
    ENT_NOPATH = 0,
    ENT_PREFIX,
    ENT_REGEX,
};

struct ent {
    const struct rinfo *ri;
    const char *prefix; /* what every matching path starts with: the normalized prefix, or
                           the literal start common to the route's regexes (may be empty) */
    uint32_t plen;
    uint8_t kind;
    uint32_t order;  /* position of the path in the route (tie-break within a route) */
    uint64_t hi, lo; /* priority, see prio() */
};

/* ------------------------------------------------------------------ index */

struct list {
    uint32_t off, n; /* ranks in post[off .. off + n), ascending */
};

struct bucket {
    const char *host; /* the key: a host, a ".suffix" or a "prefix."; NULL for host-less */
    uint32_t hostn;
    uint8_t kind; /* PAT_* of the key */
    uint64_t hash;
    uint32_t nopath, regex;   /* list ids */
    uint32_t lens_off, nlens; /* distinct prefix lengths in lens[], ascending */
    uint32_t last;            /* build only: rank + 1 of the last entry filed here */
};

struct plist {
    const char *prefix;
    uint32_t plen;
    uint32_t bucket;
    uint32_t list;
    uint64_t hash;
};

struct htab {
    uint32_t *slots; /* index + 1; 0 is empty */
    uint32_t mask;
};

#define BUCKET_NOHOST 0

struct gw_router {
    struct gw_arena *arena;
    struct rinfo *rinfos;
    struct ent *ents;
    uint32_t nents;
    struct bucket *buckets;
    uint32_t nbuckets;
    struct plist *plists;
    uint32_t nplists;
    struct list *lists;
    uint32_t nlists;
    uint32_t *post;
    uint32_t *lens;
    uint32_t *sfx_lens, nsfx; /* distinct key lengths of "*.x" buckets, ascending */
    uint32_t *pfx_lens, npfx; /* the same for "x.*" buckets */
    struct htab hosts, prefixes;
    pcre2_match_context *mctx;
};

/* Backtracking bounds: Kong's regex engine is linear-time, PCRE2's is not, so a pathological
 * route regex must fail a match rather than stall a worker. */
#define RX_MATCH_LIMIT 200000
#define RX_DEPTH_LIMIT 10000

/* ------------------------------------------------------------------ field indexes */

static struct {
    int r_protocols, r_methods, r_hosts, r_paths, r_headers, r_snis, r_regex_priority, r_strip_path,
        r_service, s_enabled;
} fx;
static pthread_once_t fx_once = PTHREAD_ONCE_INIT;

static void
fx_init(void)
{
    const struct gw_record *r = gw_entities[GW_ENT_ROUTES].schema;
    const struct gw_record *s = gw_entities[GW_ENT_SERVICES].schema;

    fx.r_protocols = gw_record_index(r, "protocols");
    fx.r_methods = gw_record_index(r, "methods");
    fx.r_hosts = gw_record_index(r, "hosts");
    fx.r_paths = gw_record_index(r, "paths");
    fx.r_headers = gw_record_index(r, "headers");
    fx.r_snis = gw_record_index(r, "snis");
    fx.r_regex_priority = gw_record_index(r, "regex_priority");
    fx.r_strip_path = gw_record_index(r, "strip_path");
    fx.r_service = gw_record_index(r, "service");
    fx.s_enabled = gw_record_index(s, "enabled");
}

static const struct gw_val *
field(const struct gw_val *rec, int i)
{
    if (rec == NULL || rec->type != GW_V_REC || i < 0 || (uint32_t)i >= rec->n) {
        return NULL;
    }
    return &rec->u.items[i];
}

/* Items of a list field; 0 when null or absent. */
static uint32_t
list_items(const struct gw_val *rec, int i, const struct gw_val **items)
{
    const struct gw_val *v = field(rec, i);

    if (v == NULL || v->type != GW_V_ARR) {
        *items = NULL;
        return 0;
    }
    *items = v->u.items;
    return v->n;
}

/* ------------------------------------------------------------------ thread-local match data */

static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static int md_key_ok;

static void
md_free(void *p)
{
    pcre2_match_data_free(p);
}

static void
md_init(void)
{
    md_key_ok = pthread_key_create(&md_key, md_free) == 0;
}

/* One match data per thread, made on its first regex match and freed when it exits. Room
 * for group 0 and the reported groups: PCRE2 fills what fits and still reports the match. */
static pcre2_match_data *
thread_md(void)
{
    pcre2_match_data *md;

    pthread_once(&md_once, md_init);
    if (!md_key_ok) {
        return NULL;
    }
    md = pthread_getspecific(md_key);
    if (md == NULL) {
        md = pcre2_match_data_create(GW_ROUTER_MAX_CAPTURES + 1, NULL);
        if (md != NULL && pthread_setspecific(md_key, md) != 0) {
            pcre2_match_data_free(md);
            md = NULL;
        }
    }
    return md;
}

/* ------------------------------------------------------------------ path normalization */

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* kong/tools/uri.lua: reserved characters stay escaped, everything else is decoded. */
static int
reserved(int c)
{
    return c != 0 && strchr("!*'();:@&=+$,/?%#[]", c) != NULL;
}

/* Pass 1: percent-decoding. -1 for '%' without two hex digits and for %00, which nginx
 * refuses with 400 before Kong sees the request. */
static ssize_t
pct_decode(const char *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        int h = i + 2 < n ? hexval((unsigned char)in[i + 1]) : -1;
        int l = h >= 0 ? hexval((unsigned char)in[i + 2]) : -1;
        if (l < 0 || (h == 0 && l == 0)) {
            return -1;
        }
        int c = h * 16 + l;
        if (reserved(c)) {
            out[o++] = '%';
            out[o++] = "0123456789ABCDEF"[h];
            out[o++] = "0123456789ABCDEF"[l];
        } else {
            out[o++] = (char)c;
        }
        i += 2;
    }
    return (ssize_t)o;
}

/* Drops the last segment of out[0..w): segments start with '/', except perhaps the first. */
static size_t
pop_segment(const char *out, size_t w)
{
    while (w > 0 && out[w - 1] != '/') {
        w--;
    }
    return w > 0 ? w - 1 : 0;
}

static int
rem_is(const char *p, size_t left, const char *z)
{
    size_t n = strlen(z);
    return left == n && memcmp(p, z, n) == 0;
}

static int
rem_starts(const char *p, size_t left, const char *z)
{
    size_t n = strlen(z);
    return left >= n && memcmp(p, z, n) == 0;
}

ssize_t
gw_router_normalize_path(const char *in, size_t n, char *out)
{
    ssize_t o = pct_decode(in, n, out);
    size_t r = 0, w = 0;

    if (o < 0) {
        return -1;
    }
    /* Pass 2, in place (w <= r throughout): Kong's segment loop from kong/tools/uri.lua
     * normalize(uri, merge_slashes = true), rule for rule and in its order. */
    while (r < (size_t)o) {
        const char *p = out + r;
        size_t left = (size_t)o - r;
        if (rem_is(p, left, "/.")) {
            r++;
            out[r] = '/';
        } else if (rem_is(p, left, "/..")) {
            r += 2;
            out[r] = '/';
            w = pop_segment(out, w);
        } else if (rem_is(p, left, ".") || rem_is(p, left, "..")) {
            r = (size_t)o;
        } else if (rem_starts(p, left, "../")) {
            r += 3;
        } else if (rem_starts(p, left, "./")) {
            r += 2;
        } else if (rem_starts(p, left, "/./")) {
            r += 2;
        } else if (rem_starts(p, left, "/../")) {
            r += 3;
            w = pop_segment(out, w);
        } else if (rem_starts(p, left, "//")) {
            r++;
        } else {
            /* one segment: up to the next '/' after its first byte */
            do {
                out[w++] = out[r++];
            } while (r < (size_t)o && out[r] != '/');
        }
    }
    return (ssize_t)w;
}

/* ------------------------------------------------------------------ upstream path */

static int
put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
    if (n > cap - *o) {
        return -1;
    }
    if (n) {
        memcpy(out + *o, s, n);
    }
    *o += n;
    return 0;
}

/* kong/router/utils.lua sanitize_uri_postfix */
static struct gw_str
sanitize_rest(struct gw_str rest)
{
    if (gw_str_eqz(rest, ".") || gw_str_eqz(rest, "..")) {
        return (struct gw_str){rest.p, 0};
    }
    if (rest.n >= 2 && memcmp(rest.p, "./", 2) == 0) {
        return (struct gw_str){rest.p + 2, rest.n - 2};
    }
    if (rest.n >= 3 && memcmp(rest.p, "../", 3) == 0) {
        return (struct gw_str){rest.p + 3, rest.n - 3};
    }
    return rest;
}

static int
route_strips(const struct gw_val *route)
{
    const struct gw_val *v;

    pthread_once(&fx_once, fx_init);
    v = field(route, fx.r_strip_path);
    return v == NULL || v->type != GW_V_BOOL || v->u.b;
}

ssize_t
gw_router_upstream_path(const struct gw_route_match *m, struct gw_str path,
                        struct gw_str service_path, char *out, size_t cap)
{
    struct gw_str base = service_path.p && service_path.n ? service_path : GW_STR_LIT("/");
    int base_slash = base.p[base.n - 1] == '/';
    int ends_slash = path.n > 0 && path.p[path.n - 1] == '/';
    size_t o = 0;
    int rc;

    if (path.p == NULL) {
        path = GW_STR_LIT("");
    }
    if (!route_strips(m->route)) {
        /* strip_path = false: base and the whole request path, sharing one '/' */
        if (base_slash) {
            rc = put(out, cap, &o, base.p, base.n);
            rc = rc ? rc : put(out, cap, &o, path.p + (path.n > 0), path.n - (path.n > 0));
        } else if (gw_str_eqz(path, "/")) {
            rc = put(out, cap, &o, base.p, base.n);
        } else {
            rc = put(out, cap, &o, base.p, base.n);
            rc = rc ? rc : put(out, cap, &o, path.p, path.n);
        }
        return rc ? -1 : (ssize_t)o;
    }
    size_t skip = m->prefix_len < path.n ? m->prefix_len : path.n;
    struct gw_str rest = sanitize_rest((struct gw_str){path.p + skip, path.n - skip});
    if (base_slash) {
        if (rest.n == 0) {
            size_t keep = gw_str_eqz(base, "/") || ends_slash ? base.n : base.n - 1;
            rc = put(out, cap, &o, base.p, keep);
        } else {
            size_t keep = rest.p[0] == '/' ? base.n - 1 : base.n;
            rc = put(out, cap, &o, base.p, keep);
            rc = rc ? rc : put(out, cap, &o, rest.p, rest.n);
        }
    } else {
        rc = put(out, cap, &o, base.p, base.n);
        if (rest.n == 0) {
            rc = rc ? rc : (path.n > 1 && ends_slash ? put(out, cap, &o, "/", 1) : 0);
        } else {
            rc = rc ? rc : (rest.p[0] == '/' ? 0 : put(out, cap, &o, "/", 1));
            rc = rc ? rc : put(out, cap, &o, rest.p, rest.n);
        }
    }
    return rc ? -1 : (ssize_t)o;
}

/* ------------------------------------------------------------------ hashing */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static uint64_t
hash_seed(uint32_t bucket)
{
    return FNV_OFFSET ^ ((uint64_t)bucket * 0x9e3779b97f4a7c15ULL);
}

static inline uint64_t
hash_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * FNV_PRIME;
}

static uint64_t
hash_bytes(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = hash_step(h, (unsigned char)s[i]);
    }
    return h;
}

/* The first slot to probe (linear probing from there): folds high bits into the low ones,
 * which FNV leaves weak. */
static inline uint32_t
slot_of(uint64_t h, uint32_t mask)
{
    return (uint32_t)(h ^ (h >> 29)) & mask;
}

static int
htab_init(struct gw_arena *a, struct htab *t, uint32_t nkeys)
{
    uint32_t cap = 16;

    if (nkeys > (1u << 29)) {
        return -1;
    }
    while (cap < nkeys * 2 + 1) {
        cap *= 2;
    }
    t->slots = gw_arena_calloc(a, sizeof(uint32_t) * cap);
    t->mask = cap - 1;
    return t->slots ? 0 : -1;
}

static uint64_t
host_hash(int kind, const char *s, size_t n)
{
    return hash_bytes(hash_seed(UINT32_MAX - (uint32_t)kind), s, n);
}

/* The bucket of a host key; slot is where it would go when absent (for the build). */
static uint32_t
find_host(const struct gw_router *r, int kind, const char *s, size_t n, uint32_t *slot)
{
    uint64_t h = host_hash(kind, s, n);

    for (uint32_t i = slot_of(h, r->hosts.mask);; i = (i + 1) & r->hosts.mask) {
        uint32_t v = r->hosts.slots[i];
        if (v == 0) {
            if (slot != NULL) {
                *slot = i;
            }
            return UINT32_MAX;
        }
        const struct bucket *b = &r->buckets[v - 1];
        if (b->hash == h && b->kind == kind && b->hostn == n && memcmp(b->host, s, n) == 0) {
            return v - 1;
        }
    }
}

/* The list of the entries under a prefix in a bucket; slot as for find_host(). */
static const struct plist *
find_prefix(const struct gw_router *r, uint32_t bucket, uint64_t h, const char *s, uint32_t n,
            uint32_t *slot)
{
    for (uint32_t i = slot_of(h, r->prefixes.mask);; i = (i + 1) & r->prefixes.mask) {
        uint32_t v = r->prefixes.slots[i];
        if (v == 0) {
            if (slot != NULL) {
                *slot = i;
            }
            return NULL;
        }
        const struct plist *p = &r->plists[v - 1];
        if (p->hash == h && p->bucket == bucket && p->plen == n && memcmp(p->prefix, s, n) == 0) {
            return p;
        }
    }
}

/* ------------------------------------------------------------------ matching */

static int
host_matches(const struct hostpat *hp, struct gw_str s)
{
    switch (hp->kind) {
    case PAT_EXACT:
        return s.n == hp->n && memcmp(s.p, hp->s, hp->n) == 0;
    case PAT_SUFFIX:
        return s.n >= hp->n && memcmp(s.p + s.n - hp->n, hp->s, hp->n) == 0;
    default:
        return s.n >= hp->n && memcmp(s.p, hp->s, hp->n) == 0;
    }
}

static int
methods_ok(const struct rinfo *ri, const struct gw_route_in *in)
{
    if (ri->nmethods == 0) {
        return 1;
    }
    for (uint32_t i = 0; i < ri->nmethods; i++) {
        if (gw_str_eq(ri->methods[i], in->method)) {
            return 1;
        }
    }
    return 0;
}

static int
hosts_ok(const struct rinfo *ri, const struct gw_route_in *in)
{
    if (ri->nhosts == 0) {
        return 1;
    }
    for (uint32_t i = 0; i < ri->nhosts; i++) {
        const struct hostpat *hp = &ri->hosts[i];
        if ((hp->port < 0 || hp->port == in->port) && host_matches(hp, in->host)) {
            return 1;
        }
    }
    return 0;
}

/* #6425: SNIs are only considered for requests that came over TLS. */
static int
snis_ok(const struct rinfo *ri, const struct gw_route_in *in)
{
    if (ri->nsnis == 0 || !in->https) {
        return 1;
    }
    for (uint32_t i = 0; i < ri->nsnis; i++) {
        if (host_matches(&ri->snis[i], in->sni)) {
            return 1;
        }
    }
    return 0;
}

/* Kong reads http.headers.<name> through ngx.req.get_headers(), which folds case and takes
 * '_' in the configured name for '-'; nginx drops request headers whose name has '_'
 * (underscores_in_headers off), so such a header never matches. */
static int
hname_eq(const struct hdr *h, struct gw_str name)
{
    if (name.n != h->n) {
        return 0;
    }
    for (size_t i = 0; i < name.n; i++) {
        int c = (unsigned char)name.p[i];
        if (c == '_') {
            return 0;
        }
        c = c == '-' ? '_' : (c >= 'A' && c <= 'Z' ? c + 32 : c);
        if (c != h->name[i]) {
            return 0;
        }
    }
    return 1;
}

static int
rx_search(pcre2_code *re, struct gw_str s, const struct gw_router *r, pcre2_match_data *md)
{
    int rc = pcre2_match(re, (PCRE2_SPTR)(s.p ? s.p : ""), s.n, 0, 0, md, r->mctx);
    return rc >= 0;
}

static int
hval_ok(const struct gw_router *r, const struct hdr *h, struct gw_str value)
{
    for (uint32_t k = 0; k < h->nvals; k++) {
        const struct hval *v = &h->vals[k];
        if (v->re == NULL) {
            if (gw_str_caseeq(value, (struct gw_str){v->s, v->n})) {
                return 1;
            }
            continue;
        }
        pcre2_match_data *md = thread_md();
        if (md != NULL && rx_search(v->re, value, r, md)) {
            return 1;
        }
    }
    return 0;
}

/* Every configured header has a request value that one of its values accepts. */
static int
headers_ok(const struct gw_router *r, const struct rinfo *ri, const struct gw_route_in *in)
{
    for (uint32_t i = 0; i < ri->nhdrs; i++) {
        const struct hdr *h = &ri->hdrs[i];
        int found = 0;
        for (unsigned j = 0; j < in->nheaders && !found; j++) {
            found = hname_eq(h, in->headers[j].name) && hval_ok(r, h, in->headers[j].value);
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

/* Tries the regexes of a route in their configured order; fills the match on success. */
static int
regex_ok(const struct gw_router *r, const struct rinfo *ri, const struct gw_route_in *in,
         struct gw_route_match *m)
{
    pcre2_match_data *md = thread_md();
    const char *subject = in->path.p ? in->path.p : "";

    if (md == NULL) {
        return 0;
    }
    for (uint32_t i = 0; i < ri->nrx; i++) {
        const struct rx *x = &ri->rxs[i];
        int rc = pcre2_match(x->re, (PCRE2_SPTR)subject, in->path.n, 0, 0, md, r->mctx);
        if (rc < 0) {
            continue; /* no match, a match limit reached, or a path not UTF-8 */
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        uint32_t ng = x->ngroups < GW_ROUTER_MAX_CAPTURES ? x->ngroups : GW_ROUTER_MAX_CAPTURES;
        /* Kong strips as many bytes as the whole match has (utils.lua uses its length) */
        m->prefix_len = ov[1] - ov[0];
        m->ncaptures = ng;
        for (uint32_t g = 1; g <= ng; g++) {
            struct gw_route_capture *c = &m->captures[g - 1];
            const char *name = x->names ? x->names[g - 1] : NULL;
            c->name = name ? (struct gw_str){name, strlen(name)} : GW_STR_NULL;
            if ((rc > 0 && g >= (uint32_t)rc) || ov[2 * g] == PCRE2_UNSET) {
                c->value = GW_STR_NULL;
            } else {
                c->value = (struct gw_str){subject + ov[2 * g], ov[2 * g + 1] - ov[2 * g]};
            }
        }
        return 1;
    }
    return 0;
}

/* The whole route condition for one entry, cheap fields first; fills m when it holds. */
static int
try_ent(const struct gw_router *r, const struct ent *e, const struct gw_route_in *in,
        struct gw_route_match *m)
{
    const struct rinfo *ri = e->ri;

    if (!methods_ok(ri, in) || !hosts_ok(ri, in) || !snis_ok(ri, in) || !headers_ok(r, ri, in)) {
        return 0;
    }
    if (e->kind == ENT_REGEX) {
        if (!regex_ok(r, ri, in, m)) {
            return 0;
        }
    } else {
        m->ncaptures = 0;
        /* a route without paths strips only the leading '/', as Kong's v0 does when no
         * path matched: the same as a "/" prefix */
        m->prefix_len = e->kind == ENT_PREFIX ? e->plen : (in->path.n > 0);
    }
    m->route = ri->route;
    m->service = ri->service;
    m->route_idx = ri->idx;
    return 1;
}

static void
scan_list(const struct gw_router *r, uint32_t list, const struct gw_route_in *in, uint32_t *best,
          struct gw_route_match *m)
{
    const struct list *l = &r->lists[list];

    for (uint32_t i = 0; i < l->n; i++) {
        uint32_t rank = r->post[l->off + i];
        if (rank >= *best) {
            return; /* the rest of the list ranks lower still */
        }
        if (try_ent(r, &r->ents[rank], in, m)) {
            *best = rank;
            return;
        }
    }
}

static void
scan_bucket(const struct gw_router *r, uint32_t b, const struct gw_route_in *in, uint32_t *best,
            struct gw_route_match *m)
{
    const struct bucket *bk = &r->buckets[b];
    const char *path = in->path.p;
    uint64_t h = hash_seed(b);
    size_t pos = 0;

    for (uint32_t k = 0; k < bk->nlens; k++) {
        uint32_t len = r->lens[bk->lens_off + k];
        if (len > in->path.n) {
            break;
        }
        for (; pos < len; pos++) {
            h = hash_step(h, (unsigned char)path[pos]);
        }
        const struct plist *p = find_prefix(r, b, h, path, len, NULL);
        if (p != NULL) {
            scan_list(r, p->list, in, best, m);
        }
    }
    scan_list(r, bk->nopath, in, best, m);
    scan_list(r, bk->regex, in, best, m); /* last: by now *best prunes the most */
}

/* Wildcard buckets whose key the host has: "*.x" keys are suffixes of the host starting at
 * a '.', "x.*" keys prefixes ending with one. Only the key lengths some route uses are
 * looked up, so a host with many labels costs no more than the config's wildcards. */
static void
scan_wildcards(const struct gw_router *r, const struct gw_route_in *in, uint32_t *best,
               struct gw_route_match *m)
{
    const char *h = in->host.p;
    size_t n = in->host.n;

    for (uint32_t k = 0; k < r->nsfx && r->sfx_lens[k] <= n; k++) {
        size_t l = r->sfx_lens[k];
        uint32_t b = h[n - l] == '.' ? find_host(r, PAT_SUFFIX, h + n - l, l, NULL) : UINT32_MAX;
        if (b != UINT32_MAX) {
            scan_bucket(r, b, in, best, m);
        }
    }
    for (uint32_t k = 0; k < r->npfx && r->pfx_lens[k] <= n; k++) {
        size_t l = r->pfx_lens[k];
        uint32_t b = h[l - 1] == '.' ? find_host(r, PAT_PREFIX, h, l, NULL) : UINT32_MAX;
        if (b != UINT32_MAX) {
            scan_bucket(r, b, in, best, m);
        }
    }
}

int
gw_router_match(const struct gw_router *r, const struct gw_route_in *in, struct gw_route_match *m)
{
    uint32_t best = UINT32_MAX;

    if (r == NULL || r->nents == 0) {
        return 0;
    }
    /* plain hosts outrank the rest, so the exact bucket first prunes the others most */
    if (in->host.n > 0) {
        uint32_t b = find_host(r, PAT_EXACT, in->host.p, in->host.n, NULL);
        if (b != UINT32_MAX) {
            scan_bucket(r, b, in, &best, m);
        }
        scan_wildcards(r, in, &best, m);
    }
    scan_bucket(r, BUCKET_NOHOST, in, &best, m);
    return best != UINT32_MAX;
}

/* ------------------------------------------------------------------ building: one route */

struct build {
    const struct gw_config *cfg;
    struct gw_router *r;
    struct gw_arena *a;
    char *err;
    size_t errlen;
    uint32_t maxents, maxhosts;
    /* temporaries (malloc'd) */
    uint32_t (*postings)[2]; /* {list id, rank} */
    uint32_t npostings;
};

static void
code_free(void *p)
{
    pcre2_code_free(p);
}

/* UTF mode as Rust regex, without PCRE2_UCP or PCRE2_MATCH_INVALID_UTF: either would make
 * JIT compilation (most of the build time of a regex-heavy config) about a third slower. So
 * \d, \w, \s and \b are ASCII here, and a path that is not UTF-8 matches no regex (PCRE2
 * checks the subject and refuses it). */
static pcre2_code *
rx_compile(struct build *b, const char *pat, size_t n, uint32_t extra)
{
    uint32_t opts = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | extra;
    PCRE2_SIZE erroff;
    int errcode;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, n, opts, &errcode, &erroff, NULL);

    if (re == NULL) {
        return NULL;
    }
    if (gw_arena_on_destroy(b->a, code_free, re) < 0) {
        pcre2_code_free(re);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter does without */
    return re;
}

/* Kong's split_host_port: the part after the first ':' is a port when it is a number;
 * otherwise (IPv6 literals) the entry is a host as a whole. */
static void
parse_hostpat(const char *s, size_t n, int allow_port, struct hostpat *hp)
{
    const char *colon = allow_port ? memchr(s, ':', n) : NULL;

    hp->port = -1;
    if (colon != NULL) {
        size_t dn = n - (size_t)(colon + 1 - s);
        long port = 0;
        size_t i = 0;
        for (; i < dn && i < 6 && colon[1 + i] >= '0' && colon[1 + i] <= '9'; i++) {
            port = port * 10 + (colon[1 + i] - '0');
        }
        if (dn > 0 && i == dn && port <= 65535) {
            hp->port = (int)port;
            n = (size_t)(colon - s);
        }
    }
    hp->kind = PAT_EXACT;
    if (n > 1 && s[0] == '*') {
        hp->kind = PAT_SUFFIX;
        s++, n--;
    } else if (n > 1 && s[n - 1] == '*') {
        hp->kind = PAT_PREFIX;
        n--;
    }
    hp->s = s;
    hp->n = (uint32_t)n;
}

static int
oom(struct build *b)
{
    snprintf(b->err, b->errlen, "out of memory");
    return -1;
}

static int
load_hosts(struct build *b, struct rinfo *ri, const struct gw_val *route)
{
    const struct gw_val *it;
    uint32_t n = list_items(route, fx.r_hosts, &it);

    ri->hosts = n ? gw_arena_alloc(b->a, sizeof(struct hostpat) * n) : NULL;
    if (n && ri->hosts == NULL) {
        return oom(b);
    }
    for (uint32_t i = 0; i < n; i++) {
        parse_hostpat(it[i].u.s, it[i].n, 1, &ri->hosts[i]);
    }
    ri->nhosts = n;
    n = list_items(route, fx.r_snis, &it);
    ri->snis = n ? gw_arena_alloc(b->a, sizeof(struct hostpat) * n) : NULL;
    if (n && ri->snis == NULL) {
        return oom(b);
    }
    for (uint32_t i = 0; i < n; i++) {
        /* transform.lua: the trailing dot of an FQDN is not used for routing */
        size_t len = it[i].n > 1 && it[i].u.s[it[i].n - 1] == '.' ? it[i].n - 1 : it[i].n;
        parse_hostpat(it[i].u.s, len, 0, &ri->snis[i]);
    }
    ri->nsnis = n;
    n = list_items(route, fx.r_methods, &it);
    ri->methods = n ? gw_arena_alloc(b->a, sizeof(struct gw_str) * n) : NULL;
    if (n && ri->methods == NULL) {
        return oom(b);
    }
    for (uint32_t i = 0; i < n; i++) {
        ri->methods[i] = (struct gw_str){it[i].u.s, it[i].n};
    }
    ri->nmethods = n;
    return 0;
}

/* One "~*re" header value: Kong lower-cases the whole pattern (escapes included) and matches
 * it against the lower-cased value; a caseless match of the lower-cased pattern is the same
 * for ASCII. 1 compiled, 0 the pattern does not compile, -1 out of memory. */
static int
load_hval(struct build *b, const struct gw_val *v, struct hval *hv)
{
    hv->s = v->u.s;
    hv->n = v->n;
    hv->re = NULL;
    if (v->n < 2 || v->u.s[0] != '~' || v->u.s[1] != '*') {
        return 1;
    }
    char *low = gw_arena_strndup(b->a, v->u.s + 2, v->n - 2);
    if (low == NULL) {
        return -1;
    }
    for (char *c = low; *c; c++) {
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    }
    hv->re = rx_compile(b, low, v->n - 2, PCRE2_CASELESS);
    return hv->re ? 1 : 0;
}

/* 1 loaded, 0 the route must be left out (a regex that does not compile), -1 error. */
static int
load_headers(struct build *b, struct rinfo *ri, const struct gw_val *route)
{
    const struct gw_val *v = field(route, fx.r_headers);

    ri->nhdrs = 0;
    if (v == NULL || v->type != GW_V_OBJ || v->n == 0) {
        return 1;
    }
    ri->hdrs = gw_arena_calloc(b->a, sizeof(struct hdr) * v->n);
    if (ri->hdrs == NULL) {
        return oom(b);
    }
    for (uint32_t i = 0; i < v->n; i++) {
        const struct gw_kv *kv = &v->u.kv[i];
        struct hdr *h = &ri->hdrs[i];
        h->name = gw_arena_strndup(b->a, kv->key, kv->klen);
        h->n = kv->klen;
        uint32_t nv = kv->val.type == GW_V_ARR ? kv->val.n : 0;
        h->vals = gw_arena_alloc(b->a, sizeof(struct hval) * (nv ? nv : 1));
        if (h->name == NULL || h->vals == NULL) {
            return oom(b);
        }
        for (char *c = h->name; *c; c++) {
            *c = (char)(*c == '-' ? '_' : (*c >= 'A' && *c <= 'Z' ? *c + 32 : *c));
        }
        for (uint32_t k = 0; k < nv; k++) {
            int rc = load_hval(b, &kv->val.u.items[k], &h->vals[k]);
            if (rc <= 0) {
                return rc < 0 ? oom(b) : 0;
            }
        }
        h->nvals = nv;
    }
    ri->nhdrs = v->n;
    return 1;
}

/* Group names from PCRE2's name table: entries of a 2-byte group number then the name. */
static int
rx_names(struct build *b, struct rx *x)
{
    uint32_t count = 0, size = 0;
    PCRE2_SPTR table = NULL;

    pcre2_pattern_info(x->re, PCRE2_INFO_CAPTURECOUNT, &x->ngroups);
    pcre2_pattern_info(x->re, PCRE2_INFO_NAMECOUNT, &count);
    x->names = NULL;
    if (count == 0 || x->ngroups == 0) {
        return 0;
    }
    pcre2_pattern_info(x->re, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(x->re, PCRE2_INFO_NAMETABLE, &table);
    x->names = gw_arena_calloc(b->a, sizeof(char *) * x->ngroups);
    if (x->names == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * size;
        uint32_t g = (uint32_t)e[0] << 8 | e[1];
        if (g >= 1 && g <= x->ngroups) {
            x->names[g - 1] = (const char *)e + 2; /* lives as long as the code */
        }
    }
    return 0;
}

/* Kong's compiled expression is "^" followed by the regex: only the first alternative of a
 * top-level alternation is anchored, as there. 1 loaded, 0 leave the route out, -1 error. */
static int
load_regex(struct build *b, struct rx *x, const char *path, size_t n)
{
    char *pat = malloc(n + 1);

    if (pat == NULL) {
        return oom(b);
    }
    pat[0] = '^';
    memcpy(pat + 1, path + 1, n - 1);
    x->re = rx_compile(b, pat, n, 0);
    free(pat);
    if (x->re == NULL) {
        return 0;
    }
    return rx_names(b, x) < 0 ? oom(b) : 1;
}

/* ------------------------------------------------------------------ building: entries */

/* The literal text every match of a path regex (given without its '~') starts with, so the
 * regex can be filed under that prefix and run only for paths that have it. Conservative:
 * it stops at the first metacharacter, drops a quantified last character, and is empty
 * when the pattern has a '|' anywhere (only the first alternative is anchored). */
static size_t
rx_literal(const char *re, size_t n)
{
    size_t i = 0;

    if (memchr(re, '|', n) != NULL) {
        return 0;
    }
    while (i < n && re[i] != '\0' && strchr("\\.^$|?*+()[]{}#", re[i]) == NULL) {
        i++;
    }
    if (i > 0 && i < n && (re[i] == '?' || re[i] == '*' || re[i] == '{')) {
        i--;
    }
    return i;
}

static size_t
common_len(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0;

    while (i < an && i < bn && a[i] == b[i]) {
        i++;
    }
    return i;
}

/* Kong's get_priority (transform.lua), as a 128-bit key compared high word first:
 * hi = match weight (3 bits) << 61 | plain hosts only << 60 | header count (8) << 52
 *      | regex path << 51;
 * lo = regex_priority (offset binary, so the order of signed values holds) for a regex
 *      entry, the prefix length for a prefix entry, 0 without paths. */
static void
prio(struct ent *e, const struct gw_val *route, const struct rinfo *ri, int has_paths)
{
    const struct gw_val *hosts = field(route, fx.r_hosts);
    const struct gw_val *rp = field(route, fx.r_regex_priority);
    uint64_t weight = (ri->nmethods > 0) + (ri->nhosts > 0) + (ri->nhdrs > 0) + (ri->nsnis > 0) +
                      (has_paths != 0);
    uint64_t nh = ri->nhdrs > 255 ? 255 : ri->nhdrs;
    /* transform.lua: any hosts table without '*' counts, even an empty one */
    int plain = hosts != NULL && hosts->type == GW_V_ARR;

    for (uint32_t i = 0; plain && i < ri->nhosts; i++) {
        plain = ri->hosts[i].kind == PAT_EXACT;
    }
    e->hi =
        weight << 61 | (uint64_t)plain << 60 | nh << 52 | (uint64_t)(e->kind == ENT_REGEX) << 51;
    if (e->kind == ENT_REGEX) {
        int64_t v = rp && rp->type == GW_V_INT ? rp->u.i : 0;
        e->lo = (uint64_t)v ^ (1ULL << 63);
    } else {
        e->lo = e->kind == ENT_PREFIX ? e->plen : 0;
    }
}

static struct ent *
new_ent(struct build *b, struct rinfo *ri, int kind, uint32_t order)
{
    struct ent *e = &b->r->ents[b->r->nents++];

    e->ri = ri;
    e->kind = (uint8_t)kind;
    e->order = order;
    e->prefix = NULL;
    e->plen = 0;
    return e;
}

/* Entries of a route: one per prefix path, one for all its regex paths, or one. */
static int
load_paths(struct build *b, struct rinfo *ri, const struct gw_val *route)
{
    const struct gw_val *it;
    uint32_t n = list_items(route, fx.r_paths, &it), nrx = 0;
    uint32_t first = b->r->nents;

    ri->rxs = NULL;
    ri->nrx = 0;
    for (uint32_t i = 0; i < n; i++) {
        nrx += it[i].n > 0 && it[i].u.s[0] == '~';
    }
    struct ent *rxe = NULL;
    if (nrx) {
        ri->rxs = gw_arena_calloc(b->a, sizeof(struct rx) * nrx);
        if (ri->rxs == NULL) {
            return oom(b);
        }
        rxe = new_ent(b, ri, ENT_REGEX, 0);
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *s = it[i].u.s;
        if (s[0] == '~') {
            int rc = load_regex(b, &ri->rxs[ri->nrx++], s, it[i].n);
            if (rc <= 0) {
                b->r->nents = first;
                return rc;
            }
            size_t lit = rx_literal(s + 1, it[i].n - 1);
            if (rxe->prefix == NULL) {
                rxe->prefix = s + 1;
                rxe->plen = (uint32_t)lit;
            } else {
                rxe->plen = (uint32_t)common_len(rxe->prefix, rxe->plen, s + 1, lit);
            }
            continue;
        }
        /* config prefixes are normalized already, but only for unreserved escapes: decode
         * the rest as requests are, so "/a%20b" matches what a client sends as "/a%20b" */
        char *p = gw_arena_alloc(b->a, it[i].n + 1);
        if (p == NULL) {
            return oom(b);
        }
        ssize_t pn = gw_router_normalize_path(s, it[i].n, p);
        struct ent *e = new_ent(b, ri, ENT_PREFIX, i + 1);
        e->prefix = pn < 0 ? s : p;
        e->plen = pn < 0 ? it[i].n : (uint32_t)pn;
    }
    if (n == 0) {
        new_ent(b, ri, ENT_NOPATH, 0);
    }
    for (uint32_t i = first; i < b->r->nents; i++) {
        prio(&b->r->ents[i], route, ri, n > 0);
    }
    return 1;
}

static int
http_route(const struct gw_val *route)
{
    const struct gw_val *it;
    uint32_t n = list_items(route, fx.r_protocols, &it);

    for (uint32_t i = 0; i < n; i++) {
        const char *p = it[i].u.s;
        if (!strcmp(p, "http") || !strcmp(p, "https") || !strcmp(p, "grpc") ||
            !strcmp(p, "grpcs")) {
            return 1;
        }
    }
    return 0;
}

/* The service of a route: 1 with *svc set (NULL when none), 0 when it is disabled. */
static int
route_service(struct build *b, const struct gw_val *route, const struct gw_val **svc)
{
    const struct gw_val *fk = field(route, fx.r_service);

    *svc = NULL;
    if (fk == NULL || fk->type != GW_V_STR) {
        return 1;
    }
    *svc = gw_config_find(b->cfg, GW_ENT_SERVICES, fk->u.s);
    const struct gw_val *en = field(*svc, fx.s_enabled);
    return en == NULL || en->type != GW_V_BOOL || en->u.b;
}

static int
load_route(struct build *b, uint32_t idx)
{
    const struct gw_val *route = &b->cfg->sets[GW_ENT_ROUTES].recs[idx];
    struct rinfo *ri = &b->r->rinfos[idx];
    int rc;

    /* stream routes belong to the stream router; disabled services' routes are left out */
    if (!http_route(route) || !route_service(b, route, &ri->service)) {
        return 0;
    }
    ri->route = route;
    ri->idx = idx;
    ri->id = gw_config_id(GW_ENT_ROUTES, route);
    if (ri->id == NULL) {
        ri->id = "";
    }
    if (load_hosts(b, ri, route) < 0) {
        return -1;
    }
    /* a route whose regex does not compile is left out, as Kong logs and skips it */
    rc = load_headers(b, ri, route);
    return rc <= 0 ? rc : load_paths(b, ri, route);
}

/* ------------------------------------------------------------------ building: the index */

/* Highest priority first; ties: larger route id first (the ATC router iterates its
 * (priority, uuid) keys in reverse), then the route's own path order. */
static int
ent_cmp(const void *x, const void *y)
{
    const struct ent *a = x, *c = y;

    if (a->hi != c->hi) {
        return a->hi > c->hi ? -1 : 1;
    }
    if (a->lo != c->lo) {
        return a->lo > c->lo ? -1 : 1;
    }
    int s = strcmp(a->ri->id, c->ri->id);
    if (s != 0) {
        return -s;
    }
    return a->order < c->order ? -1 : a->order > c->order;
}

static uint32_t
new_bucket(struct gw_router *r, int kind, const char *host, uint32_t n)
{
    struct bucket *bk = &r->buckets[r->nbuckets];

    memset(bk, 0, sizeof *bk);
    bk->host = host;
    bk->hostn = n;
    bk->kind = (uint8_t)kind;
    bk->hash = host ? host_hash(kind, host, n) : 0;
    bk->nopath = r->nlists++;
    bk->regex = r->nlists++;
    return r->nbuckets++;
}

static uint32_t
host_bucket(struct gw_router *r, const struct hostpat *hp)
{
    uint32_t slot;
    uint32_t b = find_host(r, hp->kind, hp->s, hp->n, &slot);

    if (b == UINT32_MAX) {
        b = new_bucket(r, hp->kind, hp->s, hp->n);
        r->hosts.slots[slot] = b + 1;
    }
    return b;
}

static uint32_t
prefix_list(struct gw_router *r, uint32_t bucket, const struct ent *e)
{
    uint64_t h = hash_bytes(hash_seed(bucket), e->prefix, e->plen);
    uint32_t slot;
    const struct plist *found = find_prefix(r, bucket, h, e->prefix, e->plen, &slot);

    if (found != NULL) {
        return found->list;
    }
    struct plist *p = &r->plists[r->nplists];
    p->prefix = e->prefix;
    p->plen = e->plen;
    p->bucket = bucket;
    p->hash = h;
    p->list = r->nlists++;
    r->prefixes.slots[slot] = ++r->nplists;
    return p->list;
}

/* Files entry `rank` in bucket b (once, even when several of its hosts lead there). */
static void
file_ent(struct build *b, uint32_t bucket, uint32_t rank)
{
    struct gw_router *r = b->r;
    struct bucket *bk = &r->buckets[bucket];
    const struct ent *e = &r->ents[rank];
    uint32_t list;

    if (bk->last == rank + 1) {
        return;
    }
    bk->last = rank + 1;
    if (e->kind == ENT_NOPATH) {
        list = bk->nopath;
    } else if (e->kind == ENT_REGEX && e->plen == 0) {
        list = bk->regex;
    } else {
        list = prefix_list(r, bucket, e); /* prefixes, and regexes with a literal start */
    }
    b->postings[b->npostings][0] = list;
    b->postings[b->npostings][1] = rank;
    b->npostings++;
}

static void
file_all(struct build *b)
{
    struct gw_router *r = b->r;

    new_bucket(r, PAT_EXACT, NULL, 0); /* BUCKET_NOHOST */
    for (uint32_t rank = 0; rank < r->nents; rank++) {
        const struct rinfo *ri = r->ents[rank].ri;
        for (uint32_t i = 0; i < ri->nhosts; i++) {
            file_ent(b, host_bucket(r, &ri->hosts[i]), rank);
        }
        if (ri->nhosts == 0) {
            file_ent(b, BUCKET_NOHOST, rank);
        }
    }
}

/* Postings grouped by list (a counting sort keeps each list in rank order). */
static int
make_lists(struct build *b)
{
    struct gw_router *r = b->r;

    r->lists = gw_arena_calloc(b->a, sizeof(struct list) * (r->nlists ? r->nlists : 1));
    r->post = gw_arena_alloc(b->a, sizeof(uint32_t) * (b->npostings ? b->npostings : 1));
    if (r->lists == NULL || r->post == NULL) {
        return oom(b);
    }
    for (uint32_t i = 0; i < b->npostings; i++) {
        r->lists[b->postings[i][0]].n++;
    }
    uint32_t off = 0;
    for (uint32_t i = 0; i < r->nlists; i++) {
        r->lists[i].off = off;
        off += r->lists[i].n;
        r->lists[i].n = 0;
    }
    for (uint32_t i = 0; i < b->npostings; i++) {
        struct list *l = &r->lists[b->postings[i][0]];
        r->post[l->off + l->n++] = b->postings[i][1];
    }
    return 0;
}

static int
pair_cmp(const void *x, const void *y)
{
    const uint32_t *a = x, *c = y;

    if (a[0] != c[0]) {
        return a[0] < c[0] ? -1 : 1;
    }
    return a[1] < c[1] ? -1 : a[1] > c[1];
}

/* Each bucket's distinct prefix lengths, ascending. */
static int
make_lens(struct build *b)
{
    struct gw_router *r = b->r;
    uint32_t(*pairs)[2] = malloc(sizeof *pairs * (r->nplists ? r->nplists : 1));
    uint32_t n = 0;

    r->lens = gw_arena_alloc(b->a, sizeof(uint32_t) * (r->nplists ? r->nplists : 1));
    if (pairs == NULL || r->lens == NULL) {
        free(pairs);
        return oom(b);
    }
    for (uint32_t i = 0; i < r->nplists; i++) {
        pairs[i][0] = r->plists[i].bucket;
        pairs[i][1] = r->plists[i].plen;
    }
    qsort(pairs, r->nplists, sizeof *pairs, pair_cmp);
    for (uint32_t i = 0; i < r->nplists; i++) {
        if (i > 0 && pairs[i][0] == pairs[i - 1][0] && pairs[i][1] == pairs[i - 1][1]) {
            continue;
        }
        struct bucket *bk = &r->buckets[pairs[i][0]];
        if (bk->nlens == 0) {
            bk->lens_off = n;
        }
        bk->nlens++;
        r->lens[n++] = pairs[i][1];
    }
    free(pairs);
    return 0;
}

static int
u32_cmp(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;

    return a < c ? -1 : a > c;
}

/* The distinct key lengths of the wildcard buckets of one kind, ascending. */
static int
key_lens(struct build *b, int kind, uint32_t **out, uint32_t *nout)
{
    struct gw_router *r = b->r;
    uint32_t *l = gw_arena_alloc(b->a, sizeof(uint32_t) * r->nbuckets);
    uint32_t n = 0, u = 0;

    if (l == NULL) {
        return oom(b);
    }
    for (uint32_t i = 1; i < r->nbuckets; i++) {
        if (r->buckets[i].kind == kind) {
            l[n++] = r->buckets[i].hostn;
        }
    }
    qsort(l, n, sizeof *l, u32_cmp);
    for (uint32_t i = 0; i < n; i++) {
        if (u == 0 || l[u - 1] != l[i]) {
            l[u++] = l[i];
        }
    }
    *out = l;
    *nout = u;
    return 0;
}

/* Upper bounds for the arrays, from one pass over the routes. */
static void
count_routes(struct build *b)
{
    const struct gw_entset *set = &b->cfg->sets[GW_ENT_ROUTES];

    b->maxents = 0;
    b->maxhosts = 0;
    for (uint32_t i = 0; i < set->n; i++) {
        const struct gw_val *it;
        uint32_t np = list_items(&set->recs[i], fx.r_paths, &it);
        uint32_t nh = list_items(&set->recs[i], fx.r_hosts, &it);
        b->maxents += np + 1;
        b->maxhosts += nh;
    }
}

static int
alloc_index(struct build *b)
{
    struct gw_router *r = b->r;
    /* an entry is filed once per host, or once when it has none */
    uint64_t maxpost = 0;

    for (uint32_t i = 0; i < r->nents; i++) {
        uint32_t nh = r->ents[i].ri->nhosts;
        maxpost += nh ? nh : 1;
    }
    if (maxpost >= UINT32_MAX / 4) {
        snprintf(b->err, b->errlen, "too many routes");
        return -1;
    }
    r->buckets = gw_arena_alloc(b->a, sizeof(struct bucket) * (1 + b->maxhosts));
    r->plists = gw_arena_alloc(b->a, sizeof(struct plist) * (maxpost + 1));
    b->postings = malloc(sizeof *b->postings * (maxpost + 1));
    if (r->buckets == NULL || r->plists == NULL || b->postings == NULL ||
        htab_init(b->a, &r->hosts, b->maxhosts) < 0 ||
        htab_init(b->a, &r->prefixes, (uint32_t)maxpost) < 0) {
        return oom(b);
    }
    return 0;
}

static void
mctx_free(void *p)
{
    pcre2_match_context_free(p);
}

static int
build_router(struct build *b)
{
    struct gw_router *r = b->r;
    uint32_t nroutes = b->cfg->sets[GW_ENT_ROUTES].n;

    r->mctx = pcre2_match_context_create(NULL);
    if (r->mctx == NULL || gw_arena_on_destroy(b->a, mctx_free, r->mctx) < 0) {
        if (r->mctx) {
            pcre2_match_context_free(r->mctx);
        }
        return oom(b);
    }
    pcre2_set_match_limit(r->mctx, RX_MATCH_LIMIT);
    pcre2_set_depth_limit(r->mctx, RX_DEPTH_LIMIT);
    count_routes(b);
    r->rinfos = gw_arena_calloc(b->a, sizeof(struct rinfo) * (nroutes ? nroutes : 1));
    r->ents = gw_arena_alloc(b->a, sizeof(struct ent) * (b->maxents ? b->maxents : 1));
    if (r->rinfos == NULL || r->ents == NULL) {
        return oom(b);
    }
    for (uint32_t i = 0; i < nroutes; i++) {
        if (load_route(b, i) < 0) {
            return -1;
        }
    }
    qsort(r->ents, r->nents, sizeof *r->ents, ent_cmp);
    if (alloc_index(b) < 0) {
        return -1;
    }
    file_all(b);
    if (make_lists(b) < 0 || make_lens(b) < 0 ||
        key_lens(b, PAT_SUFFIX, &r->sfx_lens, &r->nsfx) < 0 ||
        key_lens(b, PAT_PREFIX, &r->pfx_lens, &r->npfx) < 0) {
        return -1;
    }
    return 0;
}

struct gw_router *
gw_router_build(const struct gw_config *cfg, char *err, size_t errlen)
{
    struct build b = {.cfg = cfg, .err = err, .errlen = errlen};
    struct gw_arena *a;

    if (err && errlen) {
        err[0] = '\0';
    }
    if (err == NULL) {
        b.errlen = 0;
    }
    pthread_once(&fx_once, fx_init);
    a = gw_arena_create(0);
    if (a == NULL) {
        oom(&b);
        return NULL;
    }
    b.a = a;
    b.r = gw_arena_calloc(a, sizeof(struct gw_router));
    if (b.r == NULL) {
        gw_arena_destroy(a);
        oom(&b);
        return NULL;
    }
    b.r->arena = a;
    if (build_router(&b) < 0) {
        free(b.postings);
        gw_arena_destroy(a);
        return NULL;
    }
    free(b.postings);
    return b.r;
}

void
gw_router_free(struct gw_router *r)
{
    if (r != NULL) {
        gw_arena_destroy(r->arena);
    }
}
