/* Fuzz target: the router. Every input is checked twice over.
 *
 * Normalization of the whole input as a path: refused (-1) or an output no longer than the
 * input, with no "/./" or "//" left, that normalizing again leaves unchanged.
 *
 * Matching: the input is read as a request, "<flags><method>\n<host>\n<path>\n<name: value>\n
 * ..." (flags: bit 0 TLS with the host as SNI, bits 1-2 the listener port), against a fixed
 * configuration built once. The match must be deterministic, point inside the request path,
 * give an upstream path that fits the room the proxy gives it, and agree with a router per
 * route: the full router matches exactly when some route matches on its own, and its winner
 * is one of those. That checks the index (host buckets, prefix lookups, regex literals)
 * against plain evaluation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD                                                                                       \
    "_format_version: \"3.0\"\nservices:\n- name: s\n  host: up.test\n  path: /svc\n"              \
    "  routes:\n"

static const char *const routes[] = {
    "{name: exact, hosts: [example.com], paths: [/a]}",
    "{name: exact-root, hosts: [example.com]}",
    "{name: suffix, hosts: ['*.example.com'], paths: [/a/b]}",
    "{name: prefix-host, hosts: ['api.*'], methods: [POST]}",
    "{name: port, hosts: ['p.test:8443'], paths: [/]}",
    "{name: methods, methods: [GET, PUT], paths: [/m, /mm/long]}",
    "{name: headers, headers: {x-a: ['1', '~*^v[0-9]+$'], x-b: [two]}, paths: [/h]}",
    "{name: regex, paths: ['~/r/(?<id>[0-9]+)/(\\w+)?'], regex_priority: 3}",
    "{name: regex-alt, paths: ['~/alt|/x'], strip_path: false}",
    "{name: regex-lit, paths: ['~/lit/a*b', /lit]}",
    "{name: sni, snis: [example.com, '*.sni.test'], paths: [/s]}",
    "{name: long, paths: [/a/b/c/d/e/f]}",
    "{name: wild-prefix, hosts: ['www.*', 'example.com:9000'], paths: [/w]}",
    "{name: escapes, paths: ['/a%2Fb', /sp%20ace/]}",
};
#define NROUTES (sizeof routes / sizeof routes[0])

static struct gw_config *full_cfg, *one_cfg[NROUTES];
static struct gw_router *full, *one[NROUTES];

static struct gw_router *
load(const char *doc, struct gw_config **cfg)
{
    struct gw_parse_err perr;
    json_t *errs = NULL;
    char err[128];

    if (gw_doc_load(doc, strlen(doc), GW_FMT_YAML, cfg, &errs, &perr) != 0) {
        fprintf(stderr, "fuzz_router: config refused:\n%s\n", doc);
        abort();
    }
    struct gw_router *r = gw_router_build(*cfg, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "fuzz_router: %s\n", err);
        abort();
    }
    return r;
}

static void
init(void)
{
    char doc[4096];
    size_t o = 0;

    if (gw_model_init() < 0) {
        abort();
    }
    o += (size_t)snprintf(doc, sizeof doc, HEAD);
    for (size_t i = 0; i < NROUTES; i++) {
        o += (size_t)snprintf(doc + o, sizeof doc - o, "  - %s\n", routes[i]);
    }
    full = load(doc, &full_cfg);
    for (size_t i = 0; i < NROUTES; i++) {
        snprintf(doc, sizeof doc, HEAD "  - %s\n", routes[i]);
        one[i] = load(doc, &one_cfg[i]);
    }
}

static int
has(const char *s, size_t n, const char *z)
{
    size_t zn = strlen(z);

    for (size_t i = 0; i + zn <= n; i++) {
        if (memcmp(s + i, z, zn) == 0) {
            return 1;
        }
    }
    return 0;
}

static void
check_normalize(const char *in, size_t n)
{
    char *out = malloc(n + 1), *again = malloc(n + 1);
    ssize_t k = gw_router_normalize_path(in, n, out);

    if (k >= 0) {
        if ((size_t)k > n || has(out, (size_t)k, "/./") || has(out, (size_t)k, "//")) {
            fprintf(stderr, "normalize: bad output '%.*s'\n", (int)k, out);
            abort();
        }
        ssize_t k2 = gw_router_normalize_path(out, (size_t)k, again);
        if (k2 != k || memcmp(out, again, (size_t)k) != 0) {
            fprintf(stderr, "normalize: not idempotent '%.*s' -> '%.*s'\n", (int)k, out,
                    k2 > 0 ? (int)k2 : 0, again);
            abort();
        }
    }
    free(out);
    free(again);
}

static struct gw_str
next_line(const char **p, const char *end)
{
    const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;

    *p = nl ? nl + 1 : end;
    return (struct gw_str){s, (size_t)(e - s)};
}

static const char *
name_of(const struct gw_val *route)
{
    const struct gw_val *v = gw_rec_get(gw_entities[GW_ENT_ROUTES].schema, route, "name");
    return v->u.s;
}

static void
check_match(const struct gw_route_in *in)
{
    struct gw_route_match m, m2, mo;
    int hit = gw_router_match(full, in, &m);

    if (hit != gw_router_match(full, in, &m2) || (hit && m.route != m2.route)) {
        abort();
    }
    if (hit) {
        if (m.route_idx >= full_cfg->sets[GW_ENT_ROUTES].n || m.prefix_len > in->path.n ||
            m.ncaptures > GW_ROUTER_MAX_CAPTURES || m.service == NULL) {
            abort();
        }
        for (unsigned i = 0; i < m.ncaptures; i++) {
            struct gw_str v = m.captures[i].value;
            if (v.p && (v.p < in->path.p || v.p + v.n > in->path.p + in->path.n)) {
                abort();
            }
        }
        /* the proxy's room for it: path, service path and two bytes */
        char *up = malloc(in->path.n + 4 + 2);
        if (gw_router_upstream_path(&m, in->path, GW_STR_LIT("/svc"), up, in->path.n + 6) < 0) {
            abort();
        }
        free(up);
    }
    int any = 0, winner_alone = 0;
    for (size_t i = 0; i < NROUTES; i++) {
        if (gw_router_match(one[i], in, &mo)) {
            any = 1;
            /* alone, the winner matches through the same path, with the same captures */
            if (hit && strcmp(name_of(mo.route), name_of(m.route)) == 0) {
                winner_alone = mo.prefix_len == m.prefix_len && mo.ncaptures == m.ncaptures;
                for (unsigned k = 0; k < m.ncaptures; k++) {
                    winner_alone &= mo.captures[k].value.p == m.captures[k].value.p &&
                                    mo.captures[k].value.n == m.captures[k].value.n;
                }
            }
        }
    }
    if (any != hit || (hit && !winner_alone)) {
        fprintf(stderr, "router disagrees with per-route evaluation: hit=%d any=%d winner=%s\n",
                hit, any, hit ? name_of(m.route) : "-");
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int ports[] = {8000, 8443, 9000, 443};
    static int inited;
    struct gw_http_header hdrs[8];
    struct gw_route_in in = {0};

    if (!inited) {
        init();
        inited = 1;
    }
    check_normalize((const char *)data, size);
    if (size < 1) {
        return 0;
    }
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    in.https = data[0] & 1;
    in.port = ports[(data[0] >> 1) & 3];
    in.method = next_line(&p, end);
    in.host = next_line(&p, end);
    in.sni = in.https ? in.host : GW_STR_NULL;
    struct gw_str raw = next_line(&p, end);
    while (p < end && in.nheaders < 8) {
        struct gw_str line = next_line(&p, end);
        const char *colon = memchr(line.p, ':', line.n);
        if (colon == NULL) {
            continue;
        }
        struct gw_http_header *h = &hdrs[in.nheaders++];
        h->name = (struct gw_str){line.p, (size_t)(colon - line.p)};
        h->value = (struct gw_str){colon + 1, line.n - (size_t)(colon + 1 - line.p)};
        while (h->value.n && h->value.p[0] == ' ') {
            h->value.p++, h->value.n--;
        }
    }
    in.headers = hdrs;
    char *norm = malloc(raw.n + 1);
    ssize_t nn = gw_router_normalize_path(raw.p, raw.n, norm);
    if (nn >= 0) {
        in.path = (struct gw_str){norm, (size_t)nn};
        check_match(&in);
    }
    free(norm);
    return 0;
}
