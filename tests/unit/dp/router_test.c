/* The router through its header, as a Kong user sees it: which route wins for a request
 * (reference §4.1-§4.3), Kong's request-path normalization, and the upstream path of
 * path_handling v0 (§4.6, with every row of its fixture). Configurations are declarative
 * documents loaded as the data plane loads them; request paths are normalized first, as the
 * proxy does. */
#include "testutil.h"

#include <pthread.h>

#include "router.h"

#define V3 "_format_version: \"3.0\"\n"
#define SVC                                                                                        \
    V3 "services:\n"                                                                               \
       "- name: s\n"                                                                               \
       "  host: up.test\n"                                                                         \
       "  routes:\n"

/* ------------------------------------------------------------------ configurations */

enum {
    C_HOSTS = 0,
    C_PRIO,
    C_HEADERS,
    C_REGEX,
    C_MULTI,
    C_SERVICES,
    C_SNI,
    C_NORM,
    C_TIE,
    C__COUNT
};

static const char *const configs[C__COUNT] = {
    [C_HOSTS] = SVC "  - {name: exact, hosts: [example.com]}\n"
                    "  - {name: wild-suffix, hosts: ['*.example.com']}\n"
                    "  - {name: wild-prefix, hosts: ['api.*']}\n"
                    "  - {name: port, hosts: ['ported.test:8443']}\n"
                    "  - {name: ported-other, hosts: ['ported.test:9000']}\n"
                    "  - {name: multi, hosts: [a.test, b.test]}\n"
                    "  - {name: ip, hosts: [10.0.0.1]}\n",
    [C_PRIO] = SVC "  - {name: root, paths: [/]}\n"
                   "  - {name: foo, paths: [/foo]}\n"
                   "  - {name: foo-long, paths: [/foo/bar/baz]}\n"
                   "  - {name: hosted, hosts: [h.test]}\n"
                   "  - {name: wild-hosted, hosts: ['*.w.test']}\n"
                   "  - {name: host-and-path, hosts: [hp.test], paths: [/foo]}\n"
                   "  - {name: method-and-path, methods: [DELETE], paths: [/foo]}\n"
                   "  - {name: methods, methods: [PUT, PATCH], paths: [/m]}\n",
    [C_HEADERS] = SVC "  - {name: two-headers, paths: [/p], headers: {x-a: ['1'], x-b: ['2']}}\n"
                      "  - {name: one-header-long, paths: [/p/longer], headers: {x-a: ['1']}}\n"
                      "  - {name: one-header-short, paths: [/p], headers: {x-a: ['1']}}\n"
                      "  - {name: no-header-longest, paths: [/p/longer/still]}\n"
                      "  - {name: values, paths: [/v], headers: {x-v: [Foo, bar]}}\n"
                      "  - {name: regex, paths: [/r], headers: {x-ver: ['~*^v\\d+$']}}\n"
                      "  - {name: regex-any, paths: [/ra], headers: {x-ver: ['~*Beta']}}\n"
                      "  - {name: dashes, paths: [/d], headers: {x_dash: ['yes']}}\n"
                      "  - {name: header-only, headers: {x-only: ['1']}}\n"
                      "  - {name: broken, paths: [/broken], headers: {x-g: ['~*\\Gabc']}}\n"
                      "  - {name: after-broken, paths: [/broken]}\n",
    [C_REGEX] = SVC "  - {name: prefix-long, paths: [/api/v1/users/list]}\n"
                    "  - {name: regex-low, paths: ['~/api/v\\d+/users']}\n"
                    "  - {name: regex-high, paths: ['~/api/v1/'], regex_priority: 5}\n"
                    "  - {name: prefix-api, paths: [/api]}\n"
                    "  - {name: anchored, paths: ['~/users$']}\n"
                    "  - {name: captures, paths: ['~/items/(?<id>\\d+)/(\\w+)']}\n"
                    "  - {name: optional, paths: ['~/opt/(a)?(b)']}\n"
                    "  - {name: negative, paths: ['~/neg/.*'], regex_priority: -3}\n"
                    "  - {name: zero, paths: ['~/neg/x']}\n"
                    "  - {name: alt, paths: ['~/alt|/other']}\n"
                    "  - {name: quant, paths: ['~/qu?x']}\n"
                    "  - {name: quant0, paths: ['~/zz{0}y']}\n",
    [C_MULTI] = SVC "  - {name: multi, paths: [/short, /a/much/longer/prefix]}\n"
                    "  - {name: mid, paths: [/a/much]}\n"
                    "  - {name: mixed, paths: ['~/r/\\d+', /r]}\n"
                    "  - {name: r-long, paths: [/r/1/zzz]}\n",
    [C_SERVICES] = V3 "services:\n"
                      "- name: off\n"
                      "  enabled: false\n"
                      "  host: off.test\n"
                      "  routes: [{name: off-route, paths: [/off]}]\n"
                      "- name: on\n"
                      "  host: on.test\n"
                      "  routes: [{name: on-root, paths: [/]}]\n"
                      "routes:\n"
                      "- {name: no-service, paths: [/nosvc]}\n"
                      "- {name: stream, protocols: [tcp], destinations: [{port: 8000}]}\n",
    [C_SNI] = SVC "  - {name: tls-route, snis: [secure.test], paths: [/s]}\n"
                  "  - {name: plain, paths: [/s]}\n"
                  "  - {name: wild-sni, snis: ['*.wild.test'], paths: [/w]}\n",
    [C_NORM] = SVC "  - {name: foobar, paths: [/foo/bar]}\n"
                   "  - {name: hello, paths: [/hello]}\n"
                   "  - {name: space, paths: ['/sp%20ace']}\n"
                   "  - {name: slash, paths: ['/a%2Fb']}\n",
    [C_TIE] = V3 "routes:\n"
                 "- {id: 11111111-1111-4111-8111-111111111111, name: low-id, paths: [/tie]}\n"
                 "- {id: 22222222-2222-4222-8222-222222222222, name: high-id, paths: [/tie]}\n",
};

/* ------------------------------------------------------------------ routing cases */

struct rcase {
    int cfg;
    const char *method;  /* NULL: GET */
    const char *host;    /* NULL: no Host */
    const char *path;    /* as sent: normalized before matching */
    const char *headers; /* "name: value" lines; NULL: none */
    int port;            /* listener port; 0: 8000 */
    const char *sni;     /* non-NULL: the request came over TLS with this SNI */
    const char *want;    /* the route's name; NULL: no route matches (404) */
    const char *svc;     /* when set: the service's name, "-" for none */
    const char *prefix;  /* when set: prefix_len */
    const char *caps;    /* when set: the captures, "1(id)=42,2=edit" */
};

static const struct rcase cases[] = {
    /* hosts: exact, "*.x" suffix, "x.*" prefix, host:port against the listener port */
    {C_HOSTS, .host = "example.com", .path = "/", .want = "exact"},
    {C_HOSTS, .host = "foo.example.com", .path = "/x", .want = "wild-suffix"},
    {C_HOSTS, .host = "a.b.example.com", .path = "/", .want = "wild-suffix"},
    {C_HOSTS, .host = "example.com.evil", .path = "/", .want = NULL},
    {C_HOSTS, .host = "Example.com", .path = "/", .want = NULL}, /* compared as sent */
    {C_HOSTS, .host = "api.internal.test", .path = "/", .want = "wild-prefix"},
    {C_HOSTS, .host = "api", .path = "/", .want = NULL},
    {C_HOSTS, .host = "ported.test", .path = "/", .port = 8443, .want = "port"},
    {C_HOSTS, .host = "ported.test", .path = "/", .port = 9000, .want = "ported-other"},
    {C_HOSTS, .host = "ported.test", .path = "/", .port = 8000, .want = NULL},
    {C_HOSTS, .host = "b.test", .path = "/any", .want = "multi"},
    {C_HOSTS, .host = "10.0.0.1", .path = "/", .want = "ip"},
    {C_HOSTS, .path = "/", .want = NULL},

    /* priority: weight, plain hosts, prefix length; "/" is a catch-all */
    {C_PRIO, .path = "/anything", .want = "root"},
    {C_PRIO, .path = "/", .want = "root"},
    {C_PRIO, .path = "/fo", .want = "root"},
    {C_PRIO, .path = "/foo", .want = "foo", .prefix = "4"},
    {C_PRIO, .path = "/foobar", .want = "foo"}, /* a plain string prefix */
    {C_PRIO, .path = "/foo/bar/baz/q", .want = "foo-long", .prefix = "12"},
    {C_PRIO, .host = "h.test", .path = "/foo/bar/baz/q", .want = "hosted"},
    {C_PRIO, .host = "a.w.test", .path = "/foo/bar/baz/q", .want = "foo-long"},
    {C_PRIO, .host = "hp.test", .path = "/foo/bar/baz", .want = "host-and-path"},
    {C_PRIO, .method = "DELETE", .path = "/foo/bar/baz", .want = "method-and-path"},
    {C_PRIO, .method = "DELETE", .host = "hp.test", .path = "/foo", .want = "host-and-path"},
    {C_PRIO, .method = "PATCH", .path = "/m", .want = "methods"},
    {C_PRIO, .method = "GET", .path = "/m", .want = "root"},
    {C_PRIO, .method = "patch", .path = "/m", .want = "root"}, /* methods are exact */

    /* headers: all configured must match; more headers beat a longer path */
    {C_HEADERS, .path = "/p/longer/still/x", .headers = "x-a: 1\nx-b: 2", .want = "two-headers"},
    {C_HEADERS, .path = "/p/longer/x", .headers = "x-a: 1", .want = "one-header-long"},
    {C_HEADERS, .path = "/p/x", .headers = "x-a: 1", .want = "one-header-short"},
    {C_HEADERS, .path = "/p/x", .headers = "x-a: 1\nx-b: 3", .want = "one-header-short"},
    {C_HEADERS, .path = "/p/longer/still", .want = "no-header-longest"},
    {C_HEADERS, .path = "/p/x", .want = NULL},
    {C_HEADERS, .path = "/p/longer", .headers = "X-A: 1", .want = "one-header-long"},
    {C_HEADERS, .path = "/v", .headers = "x-v: FOO", .want = "values"},
    {C_HEADERS, .path = "/v", .headers = "x-v: baz\nX-V: BAR", .want = "values"},
    {C_HEADERS, .path = "/v", .headers = "x-v: foo bar", .want = NULL},
    {C_HEADERS, .path = "/r", .headers = "X-Ver: V12", .want = "regex"},
    {C_HEADERS, .path = "/r", .headers = "x-ver: v12x", .want = NULL},
    {C_HEADERS, .path = "/ra", .headers = "x-ver: 1.0-BETA-2", .want = "regex-any"},
    {C_HEADERS, .path = "/d", .headers = "X-Dash: YES", .want = "dashes"},
    {C_HEADERS, .path = "/d", .headers = "x_dash: yes", .want = NULL}, /* nginx drops it */
    {C_HEADERS, .path = "/", .headers = "x-only: 1", .want = "header-only"},
    {C_HEADERS, .path = "/", .want = NULL},
    /* Kong lower-cases "~*" patterns: "\\G" becomes "\\g", which does not compile, and the
     * route is left out as Kong leaves it out */
    {C_HEADERS, .path = "/broken", .headers = "x-g: abc", .want = "after-broken"},

    /* regex paths: beat prefixes, then regex_priority; anchored at the start only */
    {C_REGEX, .path = "/api/v1/users/list", .want = "regex-high", .prefix = "8"},
    {C_REGEX, .path = "/api/v2/users/list", .want = "regex-low", .prefix = "13"},
    {C_REGEX, .path = "/api/v3/misc", .want = "prefix-api"},
    {C_REGEX, .path = "/users", .want = "anchored"},
    {C_REGEX, .path = "/users/x", .want = NULL},
    {C_REGEX, .path = "/x/users", .want = NULL},
    {C_REGEX, .path = "/items/42/edit/more", .want = "captures", .prefix = "14",
     .caps = "1(id)=42,2=edit"},
    {C_REGEX, .path = "/opt/b", .want = "optional", .caps = "1=<unset>,2=b"},
    {C_REGEX, .path = "/opt/ab", .want = "optional", .caps = "1=a,2=b"},
    {C_REGEX, .path = "/neg/x", .want = "zero"},
    {C_REGEX, .path = "/neg/y", .want = "negative"},
    {C_REGEX, .path = "/api/v1/users/list", .want = "regex-high", .caps = ""},
    /* "^" is prepended as Kong does: only the first alternative is anchored */
    {C_REGEX, .path = "/alt", .want = "alt"},
    {C_REGEX, .path = "/x/other", .want = "alt"},
    {C_REGEX, .path = "/qx", .want = "quant"},
    {C_REGEX, .path = "/qux", .want = "quant"},
    {C_REGEX, .path = "/zy", .want = "quant0"},

    /* several paths: each its own priority */
    {C_MULTI, .path = "/a/much/longer/prefix/x", .want = "multi", .prefix = "21"},
    {C_MULTI, .path = "/a/much/x", .want = "mid"},
    {C_MULTI, .path = "/short/x", .want = "multi", .prefix = "6"},
    {C_MULTI, .path = "/r/1/zzz", .want = "mixed", .prefix = "4"},
    {C_MULTI, .path = "/r/x", .want = "mixed", .prefix = "2"},

    /* services: disabled ones' routes are left out; a route may have none */
    {C_SERVICES, .path = "/off", .want = "on-root", .svc = "on"},
    {C_SERVICES, .path = "/nosvc/x", .want = "no-service", .svc = "-"},
    {C_SERVICES, .path = "/", .want = "on-root", .svc = "on"},

    /* snis: only over TLS */
    {C_SNI, .path = "/s", .sni = "secure.test", .want = "tls-route"},
    {C_SNI, .path = "/s", .sni = "other.test", .want = "plain"},
    {C_SNI, .path = "/s", .want = "tls-route"},
    {C_SNI, .path = "/w", .sni = "a.wild.test", .want = "wild-sni"},
    {C_SNI, .path = "/w", .sni = "wild.test", .want = NULL},
    {C_SNI, .path = "/w", .want = "wild-sni"},

    /* normalization of the request path */
    {C_NORM, .path = "/foo/a/../bar", .want = "foobar"},
    {C_NORM, .path = "/foo//bar", .want = "foobar"},
    {C_NORM, .path = "/foo/./bar", .want = "foobar"},
    {C_NORM, .path = "/foo/bar/../../foo/bar", .want = "foobar"},
    {C_NORM, .path = "/%2e%2E/foo/bar", .want = "foobar"},
    {C_NORM, .path = "/h%65llo", .want = "hello"},
    {C_NORM, .path = "/%68ello", .want = "hello"},
    {C_NORM, .path = "/sp%20ace", .want = "space"},
    {C_NORM, .path = "/a%2fb", .want = "slash"},
    {C_NORM, .path = "/foo%2Fbar", .want = NULL},
    {C_NORM, .path = "/a/b", .want = NULL},

    /* ties: the larger route id */
    {C_TIE, .path = "/tie", .want = "high-id"},
};

/* ------------------------------------------------------------------ helpers */

static struct gw_config *cfgs[C__COUNT];
static struct gw_router *routers[C__COUNT];

static int
setup(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(gw_model_init(), 0);
    for (int i = 0; i < C__COUNT; i++) {
        cfgs[i] = tu_load_ok(configs[i]);
        routers[i] = gw_router_build(cfgs[i], err, sizeof err);
        if (routers[i] == NULL) {
            print_error("config %d: %s\n", i, err);
            return -1;
        }
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    for (int i = 0; i < C__COUNT; i++) {
        gw_router_free(routers[i]);
        gw_config_free(cfgs[i]);
    }
    return 0;
}

static const char *
rec_name(enum gw_entity_type t, const struct gw_val *rec)
{
    const struct gw_val *v = gw_rec_get(gw_entities[t].schema, rec, "name");

    return v && v->type == GW_V_STR ? v->u.s : "(unnamed)";
}

/* "name: value" lines into headers (pointing into buf, which is modified). */
static unsigned
parse_headers(char *buf, struct gw_http_header *h, unsigned max)
{
    unsigned n = 0;

    for (char *line = strtok(buf, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        char *colon = strchr(line, ':');
        assert_non_null(colon);
        char *v = colon + 1;
        while (*v == ' ') {
            v++;
        }
        h[n].name = (struct gw_str){line, (size_t)(colon - line)};
        h[n].value = (struct gw_str){v, strlen(v)};
        n++;
    }
    return n;
}

static void
format_caps(const struct gw_route_match *m, char *out, size_t cap)
{
    size_t o = 0;

    out[0] = '\0';
    for (unsigned i = 0; i < m->ncaptures && o < cap; i++) {
        const struct gw_route_capture *c = &m->captures[i];
        o += (size_t)snprintf(out + o, cap - o, "%s%u", i ? "," : "", i + 1);
        if (c->name.p && o < cap) {
            o += (size_t)snprintf(out + o, cap - o, "(%.*s)", (int)c->name.n, c->name.p);
        }
        if (o < cap) {
            o += (size_t)(c->value.p
                              ? snprintf(out + o, cap - o, "=%.*s", (int)c->value.n, c->value.p)
                              : snprintf(out + o, cap - o, "=<unset>"));
        }
    }
}

/* Normalizes the path as the proxy does and matches. 1 when a route matched. */
static int
route_request(const struct gw_router *r, const struct rcase *c, char *norm,
              struct gw_route_match *m)
{
    struct gw_http_header hdrs[16];
    char hbuf[512];
    struct gw_route_in in = {0};
    ssize_t nn = gw_router_normalize_path(c->path, strlen(c->path), norm);

    assert_true(nn >= 0);
    in.method = c->method ? (struct gw_str){c->method, strlen(c->method)} : GW_STR_LIT("GET");
    in.host = c->host ? (struct gw_str){c->host, strlen(c->host)} : GW_STR_NULL;
    in.path = (struct gw_str){norm, (size_t)nn};
    in.port = c->port ? c->port : 8000;
    in.https = c->sni != NULL;
    in.sni = c->sni ? (struct gw_str){c->sni, strlen(c->sni)} : GW_STR_NULL;
    if (c->headers) {
        snprintf(hbuf, sizeof hbuf, "%s", c->headers);
        in.nheaders = parse_headers(hbuf, hdrs, 16);
        in.headers = hdrs;
    }
    return gw_router_match(r, &in, m);
}

static int
check_case(size_t i, const struct rcase *c)
{
    const struct gw_config *cfg = cfgs[c->cfg];
    struct gw_route_match m;
    char norm[256], got[512], want[512], caps[256];

    if (!route_request(routers[c->cfg], c, norm, &m)) {
        snprintf(got, sizeof got, "(none)");
    } else {
        const struct gw_val *svc = m.service;
        assert_ptr_equal(m.route, &cfg->sets[GW_ENT_ROUTES].recs[m.route_idx]);
        format_caps(&m, caps, sizeof caps);
        snprintf(got, sizeof got, "%s svc=%s prefix=%zu caps=%s", rec_name(GW_ENT_ROUTES, m.route),
                 svc ? rec_name(GW_ENT_SERVICES, svc) : "-", m.prefix_len, caps);
    }
    if (c->want == NULL) {
        snprintf(want, sizeof want, "(none)");
    } else {
        snprintf(want, sizeof want, "%s svc=%s prefix=%s caps=%s", c->want,
                 c->svc ? c->svc : TU_ANY, c->prefix ? c->prefix : TU_ANY,
                 c->caps ? c->caps : TU_ANY);
    }
    if (tu_match(got, want)) {
        return 0;
    }
    print_error("cases[%zu]: %s %s%s (config %d)\n  want: %s\n  got:  %s\n", i,
                c->method ? c->method : "GET", c->host ? c->host : "", c->path, c->cfg, want, got);
    return 1;
}

static void
test_routing(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TU_COUNT(cases); i++) {
        failed += check_case(i, &cases[i]);
    }
    assert_int_equal(failed, 0);
}

/* ------------------------------------------------------------------ normalization */

static const struct {
    const char *in;
    const char *want; /* NULL: refused (400) */
} norm_cases[] = {
    {"/", "/"},
    {"", ""},
    {"/foo/a/../bar", "/foo/bar"},
    {"/foo//bar", "/foo/bar"},
    {"/foo/./bar", "/foo/bar"},
    {"//a//b//", "/a/b/"},
    {"/a/..", "/"},
    {"/..", "/"},
    {"/../a", "/a"},
    {"/a/b/.", "/a/b/"},
    {"/a/b/..", "/a/"},
    {"/a/.hidden/..b/c.", "/a/.hidden/..b/c."},
    {"/a/%2e%2E/b", "/b"},
    {"/h%65llo", "/hello"},
    {"/%7euser", "/~user"},
    {"/a%2fb", "/a%2Fb"},
    {"/a%3a%3F%25", "/a%3A%3F%25"},
    {"/a%20b", "/a b"},
    {"/caf%c3%a9", "/caf\xc3\xa9"},
    {"/a%zz", NULL},
    {"/a%2", NULL},
    {"/a%", NULL},
    {"/%00", NULL},
};

static void
test_normalize(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TU_COUNT(norm_cases); i++) {
        const char *in = norm_cases[i].in, *want = norm_cases[i].want;
        char out[64];
        ssize_t n = gw_router_normalize_path(in, strlen(in), out);
        int ok = want == NULL ? n == -1
                              : n == (ssize_t)strlen(want) && memcmp(out, want, (size_t)n) == 0;
        if (!ok) {
            print_error("norm_cases[%zu]: '%s' want '%s' got '%.*s' (%zd)\n", i, in,
                        want ? want : "(refused)", n > 0 ? (int)n : 0, out, n);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* ------------------------------------------------------------------ upstream path */

static const struct {
    const char *svc_path; /* NULL: the service has no path */
    const char *route;    /* the route's path; NULL: the route matches by host only */
    int strip;
    const char *req;
    const char *want;
} up_cases[] = {
    /* spec/fixtures/router_path_handling_tests.lua, the rows of reference §4.6 */
    {"/", "/route", 1, "/route", "/"},
    {"/", "/route", 1, "/routereq", "/req"},
    {"/srv", "/rou", 0, "/roureq", "/srv/roureq"},
    {"/srv", "/rou", 1, "/roureq", "/srv/req"},
    {"/srv/", "/rou", 1, "/rou", "/srv"},
    {"/service", "/", 1, "/", "/service"},
    {"/service", "/", 0, "/", "/service"},
    {"/service", "/", 1, "/route/", "/service/route/"},
    {"/service", "/", 0, "/route/", "/service/route/"},
    {"/service", "/route", 1, "/route/", "/service/"},
    {"/service/", "/route", 1, "/route", "/service"},
    {"/service/", "/route", 1, "/routereq", "/service/req"},
    {"/service", NULL, 1, "/route", "/service/route"},
    {"/service", NULL, 0, "/route", "/service/route"},
    {"/service", "/route", 0, "/route%2E/req", "/service/route./req"},
    /* each rule of the v0 table */
    {NULL, "/route", 1, "/route/x", "/x"},
    {NULL, "/route", 0, "/route/x", "/route/x"},
    {"/srv/", "/rou", 1, "/rou/", "/srv/"},
    {"/srv/", "/rou/", 1, "/rou/", "/srv/"},
    {"/srv/", "/rou/", 1, "/rou/x", "/srv/x"},
    {"/srv/", "/rou", 0, "/rou/x", "/srv/rou/x"},
    {"/srv", "/rou/", 1, "/rou/", "/srv/"},
    {"/srv", "/rou", 0, "/rou/x", "/srv/rou/x"},
    {"/srv", "/rou", 1, "/rou./x", "/srv/x"}, /* a leading "./" of the rest is dropped */
    {"/srv", "/rou", 1, "/rou..", "/srv"},
    {"/srv/", NULL, 1, "/", "/srv/"},
    {"/srv/", NULL, 1, "/x", "/srv/x"},
    {NULL, NULL, 1, "/x/y", "/x/y"},
    /* a regex strips its whole match */
    {"/svc", "~/items/\\d+", 1, "/items/42/x", "/svc/x"},
    {"/svc", "~/items/\\d+", 0, "/items/42/x", "/svc/items/42/x"},
};

static int
check_up_case(size_t i)
{
    char doc[1024], norm[256], out[256], err[128];
    const char *svc = up_cases[i].svc_path, *route = up_cases[i].route;
    struct gw_route_match m;
    int failed = 1;

    snprintf(doc, sizeof doc,
             V3 "services:\n- name: s\n  host: up.test\n%s%s%s  routes:\n"
                "  - name: r\n    strip_path: %s\n    %s: ['%s']\n",
             svc ? "  path: " : "", svc ? svc : "", svc ? "\n" : "",
             up_cases[i].strip ? "true" : "false", route ? "paths" : "hosts",
             route ? route : "h.test");
    struct gw_config *cfg = tu_load_ok(doc);
    struct gw_router *r = gw_router_build(cfg, err, sizeof err);
    struct rcase c = {.host = "h.test", .path = up_cases[i].req};
    assert_non_null(r);
    if (!route_request(r, &c, norm, &m)) {
        print_error("up_cases[%zu]: no match\n", i);
        goto done;
    }
    ssize_t nn = gw_router_normalize_path(c.path, strlen(c.path), norm);
    struct gw_str sp = svc ? (struct gw_str){svc, strlen(svc)} : GW_STR_NULL;
    ssize_t n = gw_router_upstream_path(&m, (struct gw_str){norm, (size_t)nn}, sp, out, sizeof out);
    if (n >= 0 && (size_t)n == strlen(up_cases[i].want) &&
        memcmp(out, up_cases[i].want, (size_t)n) == 0) {
        failed = 0;
    } else {
        print_error("up_cases[%zu]: service %s route %s strip %d request %s: want %s got %.*s\n", i,
                    svc ? svc : "(null)", route ? route : "(host)", up_cases[i].strip,
                    up_cases[i].req, up_cases[i].want, n > 0 ? (int)n : 0, out);
    }
done:
    gw_router_free(r);
    gw_config_free(cfg);
    return failed;
}

static void
test_upstream_path(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TU_COUNT(up_cases); i++) {
        failed += check_up_case(i);
    }
    assert_int_equal(failed, 0);
}

/* Too small a buffer is refused, never overrun. */
static void
test_upstream_path_room(void **state)
{
    struct gw_route_match m = {.route = tu_find(cfgs[C_PRIO], GW_ENT_ROUTES, "name", "foo"),
                               .prefix_len = 4};
    char out[8];

    (void)state;
    assert_non_null(m.route);
    assert_int_equal(gw_router_upstream_path(&m, GW_STR_LIT("/foo/abcdefgh"), GW_STR_LIT("/srv"),
                                             out, sizeof out),
                     -1);
    assert_int_equal(
        gw_router_upstream_path(&m, GW_STR_LIT("/foo/abc"), GW_STR_LIT("/srv"), out, sizeof out),
        8);
    assert_memory_equal(out, "/srv/abc", 8);
}

/* ------------------------------------------------------------------ 10,000 routes */

#define BIG 10000

/* Route i of the big config, by i % 5: host + prefix, prefix, wildcard host, regex + method,
 * header + prefix. */
static char *
big_config(void)
{
    struct tu_str s = {0};

    tu_str_add(&s, SVC);
    for (int i = 0; i < BIG; i++) {
        switch (i % 5) {
        case 0:
            tu_str_add(&s, "  - {name: r%d, hosts: [h%d.test], paths: [/p%d]}\n", i, i, i);
            break;
        case 1:
            tu_str_add(&s, "  - {name: r%d, paths: [/p%d/x]}\n", i, i);
            break;
        case 2:
            tu_str_add(&s, "  - {name: r%d, hosts: ['*.w%d.test'], paths: [/w]}\n", i, i);
            break;
        case 3:
            tu_str_add(&s, "  - {name: r%d, methods: [GET], paths: ['~/re%d/(\\d+)$']}\n", i, i);
            break;
        default:
            tu_str_add(&s, "  - {name: r%d, headers: {x-k: ['%d']}, paths: [/k]}\n", i, i);
            break;
        }
    }
    tu_str_add(&s, "  - {name: root, paths: [/]}\n");
    return s.p;
}

static void
big_request(int i, struct rcase *c, char *host, char *path, char *hdr)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    switch (i % 5) {
    case 0:
        sprintf(host, "h%d.test", i);
        sprintf(path, "/p%d/more", i);
        c->host = host;
        break;
    case 1:
        sprintf(path, "/p%d/x/y", i);
        break;
    case 2:
        sprintf(host, "a.b.w%d.test", i);
        sprintf(path, "/w/%d", i);
        c->host = host;
        break;
    case 3:
        sprintf(path, "/re%d/123", i);
        break;
    default:
        sprintf(path, "/k/%d", i);
        sprintf(hdr, "x-k: %d", i);
        c->headers = hdr;
        break;
    }
}

static void
test_many_routes(void **state)
{
    char *doc = big_config();
    struct gw_config *cfg = tu_load_ok(doc);
    char err[128], host[64], path[64], hdr[64], norm[64], want[16];
    struct gw_router *r = gw_router_build(cfg, err, sizeof err);
    struct gw_route_match m;
    struct rcase c;
    int failed = 0;

    (void)state;
    assert_non_null(r);
    for (int i = 0; i < BIG; i += (i < 100 ? 1 : 7)) {
        big_request(i, &c, host, path, hdr);
        snprintf(want, sizeof want, "r%d", i);
        const char *got =
            route_request(r, &c, norm, &m) ? rec_name(GW_ENT_ROUTES, m.route) : "(none)";
        if (strcmp(got, want) != 0) {
            print_error("route %d: %s %s: want %s got %s\n", i, c.host ? c.host : "", c.path, want,
                        got);
            failed++;
        }
    }
    /* near misses fall through to "/" */
    const struct rcase misses[] = {
        {.host = "h0.test", .path = "/p1"},
        {.host = "h5.test", .path = "/p0"},
        {.path = "/p1/"},
        {.path = "/re3/x"},
        {.path = "/re3/12/3"},
        {.method = "POST", .path = "/re3/1"},
        {.host = "w2.test", .path = "/w"},
        {.path = "/k", .headers = "x-k: 10001"},
        {.host = "x.w2.testx", .path = "/w"},
        {.host = "a.w2.test", .path = "/x"},
    };
    for (size_t i = 0; i < TU_COUNT(misses); i++) {
        const char *got =
            route_request(r, &misses[i], norm, &m) ? rec_name(GW_ENT_ROUTES, m.route) : "(none)";
        if (strcmp(got, "root") != 0) {
            print_error("misses[%zu]: %s: want root got %s\n", i, misses[i].path, got);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
    gw_router_free(r);
    gw_config_free(cfg);
    free(doc);
}

/* ------------------------------------------------------------------ threads */

/* Matching from several threads at once on one router (each has its own match data). */
static void *
match_many(void *arg)
{
    const struct rcase c = {.path = "/items/42/edit/more"};
    intptr_t bad = 0;
    char norm[64], caps[64];
    struct gw_route_match m;

    (void)arg;
    for (int i = 0; i < 2000; i++) {
        if (!route_request(routers[C_REGEX], &c, norm, &m)) {
            bad++;
            continue;
        }
        format_caps(&m, caps, sizeof caps);
        bad += strcmp(caps, "1(id)=42,2=edit") != 0;
    }
    return (void *)bad;
}

static void
test_threads(void **state)
{
    pthread_t t[4];

    (void)state;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, match_many, NULL), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *bad;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_int_equal((intptr_t)bad, 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),       cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_upstream_path), cmocka_unit_test(test_upstream_path_room),
        cmocka_unit_test(test_many_routes),   cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
