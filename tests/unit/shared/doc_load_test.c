/* The declarative document as a whole (reference §3): _format_version and the top-level keys,
 * nesting at every level, references by name and by id, document-wide uniqueness, the 1.1/2.1
 * regex path migration, deterministic ids and hashes, the canonical form, and the YAML/JSON
 * parsers (errors with a position, anchors and merge keys, duplicate keys, alias bombs). */
#include "testutil.h"

#include <openssl/evp.h>

#define V3 "_format_version: \"3.0\"\n"
#define ID1 "11111111-1111-4111-8111-111111111111"
#define ID2 "22222222-2222-4222-8222-222222222222"
#define ID3 "33333333-3333-4333-8333-333333333333"

struct err_case {
    const char *doc;
    const char *want; /* error lines, or NULL when the document is valid */
};

static int
run_err_cases(const char *table, const struct err_case *cases, size_t n)
{
    int failed = 0;

    for (size_t i = 0; i < n; i++) {
        char *got = tu_doc_errors(cases[i].doc);
        failed += tu_check_row(table, i, cases[i].doc, got, cases[i].want);
        free(got);
    }
    return failed;
}

#define RUN(cases) assert_int_equal(run_err_cases(#cases, cases, TU_COUNT(cases)), 0)

/* ------------------------------------------------------------------ top level (§3.1) */

static const struct err_case top_cases[] = {
    {"services: []\n", "_format_version: required field missing"},
    {"_format_version: \"4.0\"\n", "_format_version: expected one of: 1.1, 2.1, 3.0"},
    {"_format_version: 3.0\n", "_format_version: expected a string"},
    {"_format_version: \"1.1\"\n", NULL},
    {"_format_version: \"2.1\"\n", NULL},
    {V3, NULL},
    {"{\"_format_version\": \"3.0\", \"services\": []}", NULL},
    {V3 "_transform: 1\n", "_transform: expected a boolean"},
    {V3 "_transform: false\n", NULL},
    {V3 "vaults2: []\n", "vaults2: unknown field"},
    {V3 "services: {}\n", "services: expected an array"},
    {V3 "services: ~\n", NULL},
    {V3 "services:\n- 5\n", "services[0]: expected a record"},
    {V3 "services:\n- host: a\n  routes: {}\n", "services[0].routes: expected an array"},
    /* _comment / _ignore: at the top and inside every entity, nested ones included */
    {V3 "_comment: the whole file\n_ignore: [1, {a: b}]\n"
        "services:\n- _comment: a service\n  _ignore: [x]\n  host: a\n"
        "  routes:\n  - {paths: [/], _comment: r, _ignore: []}\n"
        "consumers:\n- username: c\n  _comment: c\n"
        "  keyauth_credentials:\n  - {key: k, _comment: k}\n"
        "upstreams:\n- name: u\n  _ignore: [1]\n  targets:\n  - {target: t.test, _comment: t}\n",
     NULL},
    {V3 "services:\n- {host: a, comment: x}\n", "services[0].comment: unknown field"},
};

static void
test_top_level(void **state)
{
    (void)state;
    RUN(top_cases);
}

/* the error of a document that is not an object (Kong's /config "fields") */
static void
test_not_an_object(void **state)
{
    static const char *const docs[] = {"hello\n", "- a\n- b\n", "", "[1, 2]", "42"};

    (void)state;
    for (size_t i = 0; i < TU_COUNT(docs); i++) {
        char *got = tu_doc_errors(docs[i]);
        int failed = tu_check_row("not_an_object", i, docs[i], got,
                                  "error: failed parsing declarative configuration: expected an "
                                  "object");
        free(got);
        assert_int_equal(failed, 0);
    }
}

/* ------------------------------------------------------------------ nesting (§3.2) */

static const char nested_doc[] =
    V3 "services:\n"
    "- name: svc\n"
    "  host: backend.test\n"
    "  plugins:\n"
    "  - {name: key-auth, instance_name: on-service}\n"
    "  routes:\n"
    "  - name: r1\n"
    "    paths: [/one]\n"
    "    plugins:\n"
    "    - {name: key-auth, instance_name: on-route}\n"
    "consumers:\n"
    "- username: alice\n"
    "  plugins:\n"
    "  - {name: request-termination, instance_name: on-consumer}\n"
    "  keyauth_credentials:\n  - key: alice-key\n"
    "  basicauth_credentials:\n  - {username: alice-basic, password: pw}\n"
    "  jwt_secrets:\n  - {key: alice-jwt, secret: s}\n"
    "  hmacauth_credentials:\n  - {username: alice-hmac, secret: s}\n"
    "  acls:\n  - group: gold\n"
    "upstreams:\n"
    "- name: up\n"
    "  targets:\n  - target: 10.0.0.1:80\n  - target: 10.0.0.2:80\n";

/* the foreign key of a record as its id string; NULL when null */
static const char *
fk_of(enum gw_entity_type t, const struct gw_val *rec, const char *field)
{
    const struct gw_val *v = gw_rec_get(gw_entities[t].schema, rec, field);

    assert_non_null(v);
    if (gw_val_is_null(v)) {
        return NULL;
    }
    assert_int_equal(v->type, GW_V_STR);
    return v->u.s;
}

static void
check_fk(const struct gw_config *cfg, enum gw_entity_type t, const char *key, const char *value,
         const char *field, const char *want_id)
{
    const struct gw_val *rec = tu_find(cfg, t, key, value);
    const char *got;

    if (rec == NULL) {
        print_error("no %s with %s '%s'\n", gw_entities[t].name, key, value);
        fail();
    }
    got = fk_of(t, rec, field);
    if (want_id == NULL) {
        if (got != NULL) {
            print_error("%s '%s': %s is %s, want null\n", gw_entities[t].name, value, field, got);
            fail();
        }
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want_id);
}

static void
test_nesting(void **state)
{
    struct gw_config *cfg = tu_load_ok(nested_doc);
    static const struct {
        enum gw_entity_type t;
        uint32_t n;
    } counts[] = {
        {GW_ENT_SERVICES, 1},
        {GW_ENT_ROUTES, 1},
        {GW_ENT_CONSUMERS, 1},
        {GW_ENT_PLUGINS, 3},
        {GW_ENT_UPSTREAMS, 1},
        {GW_ENT_TARGETS, 2},
        {GW_ENT_KEYAUTH_CREDENTIALS, 1},
        {GW_ENT_BASICAUTH_CREDENTIALS, 1},
        {GW_ENT_JWT_SECRETS, 1},
        {GW_ENT_HMACAUTH_CREDENTIALS, 1},
        {GW_ENT_ACLS, 1},
    };

    (void)state;
    for (size_t i = 0; i < TU_COUNT(counts); i++) {
        assert_int_equal(cfg->sets[counts[i].t].n, counts[i].n);
    }
    const char *svc = tu_id_of(cfg, GW_ENT_SERVICES, "name", "svc");
    const char *r1 = tu_id_of(cfg, GW_ENT_ROUTES, "name", "r1");
    const char *alice = tu_id_of(cfg, GW_ENT_CONSUMERS, "username", "alice");
    const char *up = tu_id_of(cfg, GW_ENT_UPSTREAMS, "name", "up");

    check_fk(cfg, GW_ENT_ROUTES, "name", "r1", "service", svc);
    /* a plugin under a service: service scope */
    check_fk(cfg, GW_ENT_PLUGINS, "instance_name", "on-service", "service", svc);
    check_fk(cfg, GW_ENT_PLUGINS, "instance_name", "on-service", "route", NULL);
    /* under a route under a service: the route only (§3.2) */
    check_fk(cfg, GW_ENT_PLUGINS, "instance_name", "on-route", "route", r1);
    check_fk(cfg, GW_ENT_PLUGINS, "instance_name", "on-route", "service", NULL);
    check_fk(cfg, GW_ENT_PLUGINS, "instance_name", "on-consumer", "consumer", alice);
    check_fk(cfg, GW_ENT_PLUGINS, "instance_name", "on-consumer", "route", NULL);
    check_fk(cfg, GW_ENT_KEYAUTH_CREDENTIALS, "key", "alice-key", "consumer", alice);
    check_fk(cfg, GW_ENT_BASICAUTH_CREDENTIALS, "username", "alice-basic", "consumer", alice);
    check_fk(cfg, GW_ENT_JWT_SECRETS, "key", "alice-jwt", "consumer", alice);
    check_fk(cfg, GW_ENT_HMACAUTH_CREDENTIALS, "username", "alice-hmac", "consumer", alice);
    check_fk(cfg, GW_ENT_ACLS, "group", "gold", "consumer", alice);
    check_fk(cfg, GW_ENT_TARGETS, "target", "10.0.0.1:80", "upstream", up);
    check_fk(cfg, GW_ENT_TARGETS, "target", "10.0.0.2:80", "upstream", up);
    /* every record can be found by its id (sets are sorted by id) */
    for (int t = 0; t < GW_ENT__COUNT; t++) {
        for (uint32_t i = 0; i < cfg->sets[t].n; i++) {
            const char *id = gw_config_id((enum gw_entity_type)t, &cfg->sets[t].recs[i]);
            assert_non_null(id);
            assert_ptr_equal(gw_config_find(cfg, (enum gw_entity_type)t, id),
                             &cfg->sets[t].recs[i]);
            if (i > 0) {
                const char *prev =
                    gw_config_id((enum gw_entity_type)t, &cfg->sets[t].recs[i - 1]);
                assert_true(strcmp(prev, id) < 0);
            }
        }
    }
    assert_null(gw_config_find(cfg, GW_ENT_SERVICES, ID1));
    gw_config_free(cfg);
}

/* ------------------------------------------------------------------ references (§3.3) */

static const struct err_case reference_cases[] = {
    /* by endpoint key, by id, by {id: }, by {name: } */
    {V3 "services:\n- {name: s, id: " ID1 ", host: a}\n"
        "routes:\n- {name: r1, paths: [/a], service: s}\n"
        "- {name: r2, paths: [/b], service: " ID1 "}\n"
        "- {name: r3, paths: [/c], service: {id: " ID1 "}}\n"
        "- {name: r4, paths: [/d], service: {name: s}}\n"
        "plugins:\n- {name: key-auth, route: r1}\n- {name: key-auth, service: s}\n"
        "consumers:\n- {username: alice, id: " ID2 "}\n"
        "keyauth_credentials:\n- {key: k1, consumer: alice}\n- {key: k2, consumer: " ID2 "}\n"
        "acls:\n- {group: g, consumer: {id: " ID2 "}}\n"
        "upstreams:\n- name: up\ntargets:\n- {target: t.test, upstream: up}\n",
     NULL},
    /* a reference to an entity declared later in the file */
    {V3 "routes:\n- {paths: [/], service: later}\nservices:\n- {name: later, host: a}\n", NULL},
    {V3 "keyauth_credentials:\n- {key: k, consumer: my-consumer}\n",
     "keyauth_credentials[0].consumer: invalid reference 'consumer: my-consumer' (no such entry "
     "in 'consumers')"},
    {V3 "routes:\n- {paths: [/], service: nosvc}\n",
     "routes[0].service: invalid reference 'service: nosvc' (no such entry in 'services')"},
    {V3 "routes:\n- {paths: [/], service: " ID1 "}\n",
     "routes[0].service: invalid reference 'service: " ID1 "' (no such entry in 'services')"},
    {V3 "routes:\n- {paths: [/], service: {id: " ID1 "}}\n",
     "routes[0].service: invalid reference 'service: " ID1 "' (no such entry in 'services')"},
    {V3 "plugins:\n- {name: key-auth, route: r9}\n",
     "plugins[0].route: invalid reference 'route: r9' (no such entry in 'routes')"},
    {V3 "plugins:\n- {name: request-termination, consumer: bob}\n",
     "plugins[0].consumer: invalid reference 'consumer: bob' (no such entry in 'consumers')"},
    {V3 "targets:\n- {target: t.test, upstream: nope}\n",
     "targets[0].upstream: invalid reference 'upstream: nope' (no such entry in 'upstreams')"},
    {V3 "snis:\n- {name: a.test, certificate: " ID3 "}\n",
     "snis[0].certificate: invalid reference 'certificate: " ID3 "' (no such entry in "
     "'certificates')"},
    /* a consumer is found by username, not by custom_id */
    {V3 "consumers:\n- {username: u1, custom_id: c1}\nacls:\n- {group: g, consumer: c1}\n",
     "acls[0].consumer: invalid reference 'consumer: c1' (no such entry in 'consumers')"},
    {V3 "routes:\n- {paths: [/], service: {id: nope}}\n", "routes[0].service.id: expected a valid UUID"},
    {V3 "routes:\n- {paths: [/], service: 5}\n", "routes[0].service: expected a record"},
};

static void
test_references(void **state)
{
    (void)state;
    RUN(reference_cases);
}

/* A reference resolves to the id of the entity it names. */
static void
test_reference_targets(void **state)
{
    struct gw_config *cfg = tu_load_ok(reference_cases[0].doc);
    const char *r1 = tu_id_of(cfg, GW_ENT_ROUTES, "name", "r1");

    (void)state;
    check_fk(cfg, GW_ENT_ROUTES, "name", "r1", "service", ID1);
    check_fk(cfg, GW_ENT_ROUTES, "name", "r2", "service", ID1);
    check_fk(cfg, GW_ENT_ROUTES, "name", "r3", "service", ID1);
    check_fk(cfg, GW_ENT_ROUTES, "name", "r4", "service", ID1);
    check_fk(cfg, GW_ENT_KEYAUTH_CREDENTIALS, "key", "k1", "consumer", ID2);
    check_fk(cfg, GW_ENT_KEYAUTH_CREDENTIALS, "key", "k2", "consumer", ID2);
    check_fk(cfg, GW_ENT_ACLS, "group", "g", "consumer", ID2);
    check_fk(cfg, GW_ENT_TARGETS, "target", "t.test:8000", "upstream",
             tu_id_of(cfg, GW_ENT_UPSTREAMS, "name", "up"));
    /* the two key-auth plugins: one on r1, one on s */
    int on_route = 0, on_service = 0;
    for (uint32_t i = 0; i < cfg->sets[GW_ENT_PLUGINS].n; i++) {
        const struct gw_val *p = &cfg->sets[GW_ENT_PLUGINS].recs[i];
        const char *r = fk_of(GW_ENT_PLUGINS, p, "route"), *s = fk_of(GW_ENT_PLUGINS, p, "service");
        on_route += r && strcmp(r, r1) == 0 && s == NULL;
        on_service += s && strcmp(s, ID1) == 0 && r == NULL;
    }
    assert_int_equal(on_route, 1);
    assert_int_equal(on_service, 1);
    gw_config_free(cfg);
}

/* ------------------------------------------------------------------ uniqueness (§3.4) */

static const struct err_case unique_cases[] = {
    /* Kong's spec: "returns 400 on an endpoint key uniqueness error" (no ids given) */
    {V3 "services:\n- {name: foo, host: example.com}\n- {name: foo, host: example.test}\n",
     "services[1]: uniqueness violation: 'services' entity with name set to 'foo' already "
     "declared"},
    {V3 "services:\n- {name: foo, id: " ID1 ", host: a}\n- {name: foo, id: " ID2 ", host: b}\n",
     "services[1]: uniqueness violation: 'services' entity with name set to 'foo' already "
     "declared"},
    {V3 "services:\n- {name: foo, host: a, id: " ID1 "}\n- {name: foo, host: b}\n",
     "services[1]: uniqueness violation: 'services' entity with name set to 'foo' already "
     "declared"},
    {V3 "services:\n- {id: " ID1 ", host: a}\n- {id: " ID1 ", host: b}\n",
     "services[1]: uniqueness violation: 'services' entity with primary key set to '" ID1
     "' already declared"},
    {V3 "services:\n- {name: a, host: a, id: " ID1 "}\nroutes:\n- {id: " ID1 ", paths: [/]}\n",
     NULL}, /* ids are unique per entity type */
    /* names unique across parents */
    {V3 "services:\n- name: s1\n  host: a\n  routes:\n  - {name: r, id: " ID1 ", paths: [/a]}\n"
        "- name: s2\n  host: b\n  routes:\n  - {name: r, id: " ID2 ", paths: [/b]}\n",
     "services[1].routes[0]: uniqueness violation: 'routes' entity with name set to 'r' already "
     "declared"},
    /* a unique field that is not the endpoint key: Kong keys the error by the endpoint key
     * ("consumers":{"bar":...}); the message is the same */
    {V3 "consumers:\n- {username: foo, custom_id: conflict}\n- {username: bar, custom_id: "
        "conflict}\n",
     "…: uniqueness violation: 'consumers' entity with custom_id set to 'conflict' already "
     "declared"},
    {V3 "consumers:\n- username: a\n  keyauth_credentials:\n  - {id: " ID1 ", key: k1}\n"
        "- username: b\n  keyauth_credentials:\n  - {id: " ID2 ", key: k1}\n",
     "consumers[1].keyauth_credentials[0]: uniqueness violation: 'keyauth_credentials' entity "
     "with key set to 'k1' already declared"},
    {V3 "consumers:\n- username: a\n  keyauth_credentials:\n  - key: k1\n"
        "- username: b\n  keyauth_credentials:\n  - key: k1\n",
     "consumers[1].keyauth_credentials[0]: uniqueness violation: 'keyauth_credentials' entity "
     "with key set to 'k1' already declared"},
    {V3 "consumers:\n- username: a\n  keyauth_credentials:\n  - key: k1\n"
        "keyauth_credentials:\n- {key: k1, consumer: a}\n",
     "…: uniqueness violation: 'keyauth_credentials' entity with key set to 'k1' already "
     "declared"},
    {V3 "consumers:\n- username: a\n  basicauth_credentials:\n  - {id: " ID1 ", username: u, "
        "password: p}\n- username: b\n  basicauth_credentials:\n  - {id: " ID2 ", username: u, "
        "password: q}\n",
     "consumers[1].basicauth_credentials[0]: uniqueness violation: 'basicauth_credentials' "
     "entity with username set to 'u' already declared"},
    {V3 "upstreams:\n- {name: up, id: " ID1 "}\n- {name: up, id: " ID2 "}\n",
     "upstreams[1]: uniqueness violation: 'upstreams' entity with name set to 'up' already "
     "declared"},
    {V3 "plugins:\n- {name: key-auth, id: " ID1 ", instance_name: x}\n"
        "- {name: request-termination, id: " ID2 ", instance_name: x}\n",
     "plugins[1]: uniqueness violation: 'plugins' entity with instance_name set to 'x' already "
     "declared"},
    /* one instance of a plugin per scope (the cache key) */
    {V3 "services:\n- name: s\n  host: a\n  plugins:\n  - name: key-auth\n  - name: key-auth\n",
     "services[0].plugins[1]: uniqueness violation: 'plugins' entity with …"},
    {V3 "services:\n- name: s\n  host: a\n  plugins:\n  - name: key-auth\n"
        "  routes:\n  - name: r\n    paths: [/]\n    plugins:\n    - name: key-auth\n"
        "plugins:\n- name: key-auth\n",
     NULL},
    /* targets: one per address and upstream, after the default port is added */
    {V3 "upstreams:\n- name: u\n  targets:\n  - target: a.test\n  - target: a.test:8000\n",
     "upstreams[0].targets[1]: uniqueness violation: 'targets' entity with …"},
    /* acls: one per (consumer, group) */
    {V3 "consumers:\n- username: a\n  acls:\n  - group: g\n  - group: g\n",
     "consumers[0].acls[1]: uniqueness violation: 'acls' entity with …"},
    {V3 "consumers:\n- username: a\n  acls:\n  - group: g\n- username: b\n  acls:\n  - group: g\n",
     NULL},
};

static void
test_uniqueness(void **state)
{
    (void)state;
    RUN(unique_cases);
}

/* ------------------------------------------------------------------ 1.1 / 2.1 paths */

static void
test_legacy_paths(void **state)
{
    static const struct {
        const char *version;
        const char *path; /* YAML double-quoted text */
        const char *want; /* stored paths, compact JSON */
    } cases[] = {
        {"1.1", "/v1/(a|b)", "[\"~/v1/(a|b)\"]"},
        {"2.1", "/v1/(a|b)", "[\"~/v1/(a|b)\"]"},
        {"2.1", "/users/\\\\d+$", "[\"~/users/\\\\d+$\"]"},
        {"2.1", "/plain/path", "[\"/plain/path\"]"},
        {"1.1", "/a-b_c.d~e/%20", "[\"/a-b_c.d~e/%20\"]"},
        {"2.1", "~/already", "[\"~/already\"]"},
        {"3.0", "/plain/path", "[\"/plain/path\"]"},
        {"3.0", "~/v1/(a|b)", "[\"~/v1/(a|b)\"]"},
    };
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TU_COUNT(cases); i++) {
        char doc[512];
        /* nested under a service and at the top level */
        for (int top = 0; top < 2; top++) {
            if (top) {
                snprintf(doc, sizeof doc,
                         "_format_version: \"%s\"\nroutes:\n- name: r\n  paths: [\"%s\"]\n",
                         cases[i].version, cases[i].path);
            } else {
                snprintf(doc, sizeof doc,
                         "_format_version: \"%s\"\nservices:\n- host: a\n  routes:\n"
                         "  - name: r\n    paths: [\"%s\"]\n",
                         cases[i].version, cases[i].path);
            }
            struct gw_config *cfg = tu_load_ok(doc);
            const struct gw_val *r = tu_find(cfg, GW_ENT_ROUTES, "name", "r");
            assert_non_null(r);
            char *got = tu_field_json(GW_ENT_ROUTES, r, "paths");
            failed += tu_check_row("legacy_paths", i, doc, got, cases[i].want);
            free(got);
            gw_config_free(cfg);
        }
    }
    assert_int_equal(failed, 0);
    /* a 3.0 file is not migrated: the same path is an invalid prefix path */
    char *got = tu_doc_errors(V3 "routes:\n- paths: [\"/v1/(a|b)\"]\n");
    assert_int_equal(tu_check_row("legacy_paths", 99, "3.0", got, "routes[0].paths[0]: …"), 0);
    free(got);
}

/* ------------------------------------------------------------------ ids and hashes (§3.4) */

static void
sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    assert_int_equal(EVP_Digest(s, n, md, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, 32);
    for (unsigned i = 0; i < len; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

static char *
canon_of(const struct gw_config *cfg, size_t *len)
{
    char *c = gw_canon_json(cfg, len);

    assert_non_null(c);
    assert_int_equal(strlen(c), *len);
    return c;
}

/* Two loads of one text: the same canonical bytes, ids and hash; the hash is the SHA-256 of
 * the canonical JSON. */
static void
test_same_document_same_ids(void **state)
{
    struct gw_config *a = tu_load_ok(nested_doc), *b = tu_load_ok(nested_doc);
    size_t na, nb;
    char *ca = canon_of(a, &na), *cb = canon_of(b, &nb);
    char want[65];

    (void)state;
    assert_string_equal(ca, cb);
    assert_string_equal(a->hash, b->hash);
    sha256_hex(ca, na, want);
    assert_string_equal(a->hash, want);
    char again[65];
    assert_int_equal(gw_canon_hash(a, again), 0);
    assert_string_equal(again, a->hash);
    for (int t = 0; t < GW_ENT__COUNT; t++) {
        assert_int_equal(a->sets[t].n, b->sets[t].n);
        for (uint32_t i = 0; i < a->sets[t].n; i++) {
            assert_string_equal(gw_config_id((enum gw_entity_type)t, &a->sets[t].recs[i]),
                                gw_config_id((enum gw_entity_type)t, &b->sets[t].recs[i]));
        }
    }
    /* generated secrets (a key-auth key without a value) are stable for the same text too */
    static const char gen[] = V3 "consumers:\n- username: c\n  keyauth_credentials:\n  - {}\n"
                                 "  hmacauth_credentials:\n  - username: h\n";
    struct gw_config *g1 = tu_load_ok(gen), *g2 = tu_load_ok(gen);
    const struct gw_val *k1 = &g1->sets[GW_ENT_KEYAUTH_CREDENTIALS].recs[0];
    const struct gw_val *k2 = &g2->sets[GW_ENT_KEYAUTH_CREDENTIALS].recs[0];
    const struct gw_val *key1 = gw_rec_get(gw_entities[GW_ENT_KEYAUTH_CREDENTIALS].schema, k1, "key");
    const struct gw_val *key2 = gw_rec_get(gw_entities[GW_ENT_KEYAUTH_CREDENTIALS].schema, k2, "key");
    assert_int_equal(key1->type, GW_V_STR);
    assert_true(key1->n >= 32);
    assert_string_equal(key1->u.s, key2->u.s);
    const struct gw_val *h = &g1->sets[GW_ENT_HMACAUTH_CREDENTIALS].recs[0];
    const struct gw_val *secret =
        gw_rec_get(gw_entities[GW_ENT_HMACAUTH_CREDENTIALS].schema, h, "secret");
    assert_int_equal(secret->type, GW_V_STR);
    assert_true(secret->n >= 32);
    assert_string_equal(g1->hash, g2->hash);
    gw_config_free(g1);
    gw_config_free(g2);
    free(ca);
    free(cb);
    gw_config_free(a);
    gw_config_free(b);
}

/* Generated ids are Kong's: UUID v5 of the endpoint key in the entity's namespace, itself the
 * v5 of the entity name in fd02801f-0957-4a15-a55a-c8d9606f30b5 (values from Python's uuid5). */
static void
test_kong_ids(void **state)
{
    static const struct {
        enum gw_entity_type t;
        const char *key, *value, *id;
    } cases[] = {
        {GW_ENT_SERVICES, "name", "orders", "580c8aca-d632-5804-b307-a24326e1e2d5"},
        {GW_ENT_ROUTES, "name", "r1", "4726a05a-d550-537e-9fc3-a07c7a1188c7"},
        {GW_ENT_CONSUMERS, "username", "alice", "b32379d9-3d28-5683-a79c-72139be6e34f"},
        {GW_ENT_UPSTREAMS, "name", "up", "152df2f3-4eb2-505d-ba48-f128b77c4e89"},
        {GW_ENT_KEYAUTH_CREDENTIALS, "key", "abc", "7df94cd3-c602-54cd-ac0e-fbda48962d5b"},
        {GW_ENT_SERVICES, "name", "explicit", ID1},
    };
    struct gw_config *cfg = tu_load_ok(V3 "services:\n- name: orders\n  host: a\n"
                                          "  routes:\n  - {name: r1, paths: [/]}\n"
                                          "- {name: explicit, host: b, id: " ID1 "}\n"
                                          "consumers:\n- username: alice\n"
                                          "  keyauth_credentials:\n  - key: abc\n"
                                          "upstreams:\n- name: up\n");

    (void)state;
    for (size_t i = 0; i < TU_COUNT(cases); i++) {
        assert_string_equal(tu_id_of(cfg, cases[i].t, cases[i].key, cases[i].value), cases[i].id);
    }
    gw_config_free(cfg);
}

/* The same configuration written differently gives the same hash. */
static void
test_same_config_same_hash(void **state)
{
    static const struct {
        const char *a, *b;
    } cases[] = {
        /* YAML vs JSON, keys in another order */
        {V3 "services:\n- name: s\n  host: a.test\n  port: 8080\n  tags: [x, y]\n"
            "  routes:\n  - name: r\n    paths: [/p]\n    methods: [GET]\n"
            "upstreams:\n- name: u\n  healthchecks: {active: {healthy: {successes: 2}}}\n"
            "  targets:\n  - target: 10.0.0.1\n",
         "{\"upstreams\": [{\"targets\": [{\"target\": \"10.0.0.1\"}], \"healthchecks\": "
         "{\"active\": {\"healthy\": {\"successes\": 2}}}, \"name\": \"u\"}], \"services\": "
         "[{\"routes\": [{\"methods\": [\"GET\"], \"paths\": [\"/p\"], \"name\": \"r\"}], "
         "\"tags\": [\"x\", \"y\"], \"port\": 8080, \"host\": \"a.test\", \"name\": \"s\"}], "
         "\"_format_version\": \"3.0\"}"},
        /* the url shorthand vs its four fields; defaults written out */
        {V3 "services:\n- {name: s, url: \"https://a.test:8443/p\"}\n",
         V3 "services:\n- {name: s, protocol: https, host: a.test, port: 8443, path: /p, "
            "retries: 5, enabled: true}\n"},
        /* nested vs flat with references by name */
        {V3 "services:\n- name: s\n  host: a\n  routes:\n  - name: r\n    paths: [/]\n"
            "    plugins:\n    - name: key-auth\n",
         V3 "plugins:\n- {name: key-auth, route: r}\nroutes:\n- {name: r, paths: [/], service: s}\n"
            "services:\n- {name: s, host: a}\n"},
        /* _comment and _ignore do not count; YAML anchors expand to the same values */
        {V3 "_comment: c\nservices:\n- {name: s, host: a, tags: [t], _comment: x}\n"
            "- {name: s2, host: b, tags: [t]}\n",
         V3 "services:\n- {name: s, host: a, tags: &t [t]}\n- {name: s2, host: b, tags: *t}\n"},
    };

    (void)state;
    for (size_t i = 0; i < TU_COUNT(cases); i++) {
        struct gw_config *a = tu_load_ok(cases[i].a), *b = tu_load_ok(cases[i].b);
        if (strcmp(a->hash, b->hash) != 0) {
            size_t n;
            char *ca = canon_of(a, &n), *cb = canon_of(b, &n);
            print_error("case %zu: hashes differ\n%s\n%s\n", i, ca, cb);
            free(ca);
            free(cb);
            fail();
        }
        gw_config_free(a);
        gw_config_free(b);
    }
}

/* load -> canonical JSON -> load gives the same canonical text and hash */
static void
test_canonical_roundtrip(void **state)
{
    static const char *const docs[] = {
        nested_doc,
        V3 "consumers:\n- username: c\n  basicauth_credentials:\n  - {username: u, password: pw}\n"
           "  keyauth_credentials:\n  - {ttl: 30}\n  jwt_secrets:\n  - algorithm: HS384\n",
        V3 "services:\n- name: s\n  url: https://a.test/x\n  tags: [\"caf\xc3\xa9\", \"q\\\"uote\"]\n"
           "  routes:\n  - name: r\n    hosts: [\"*.a.test\"]\n    headers: {x-b: [\"2\"], x-a: [\"1\"]}\n"
           "    paths: [\"~/v(?<n>\\\\d+)$\"]\n    regex_priority: -3\n",
        V3 "upstreams:\n- name: u\n  hash_on: cookie\n  hash_on_cookie: sid\n"
           "  healthchecks: {threshold: 33.5, active: {timeout: 0.25, headers: {x-h: [a, b]}}}\n"
           "  targets:\n  - {target: \"[::1]\", weight: 0}\n",
        V3 "plugins:\n- name: key-auth\n  config: {key_names: [a, b], hide_credentials: true}\n",
    };

    (void)state;
    for (size_t i = 0; i < TU_COUNT(docs); i++) {
        struct gw_config *a = tu_load_ok(docs[i]);
        size_t na, nb;
        char *ca = canon_of(a, &na);
        struct gw_config *b = tu_load_ok_fmt(ca, GW_FMT_JSON);
        char *cb = canon_of(b, &nb);
        if (strcmp(ca, cb) != 0) {
            print_error("doc %zu: canonical text changed\n%s\n%s\n", i, ca, cb);
            fail();
        }
        assert_string_equal(a->hash, b->hash);
        /* the canonical form is JSON with _format_version 3.0 and _transform false */
        json_error_t je;
        json_t *j = json_loads(ca, 0, &je);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "_format_version")), "3.0");
        assert_true(json_is_false(json_object_get(j, "_transform")));
        json_decref(j);
        free(ca);
        free(cb);
        gw_config_free(a);
        gw_config_free(b);
    }
}

/* one changed field, one changed hash */
static void
test_changed_field_changes_hash(void **state)
{
    static const char base[] =
        V3 "services:\n- name: s\n  host: a.test\n  routes:\n  - {name: r, paths: [/p]}\n"
           "upstreams:\n- name: u\n  targets:\n  - target: 10.0.0.1\n"
           "plugins:\n- {name: key-auth, service: s}\n";
    static const char *const variants[] = {
        V3 "services:\n- name: s\n  host: a.test\n  port: 81\n  routes:\n  - {name: r, paths: [/p]}\n"
           "upstreams:\n- name: u\n  targets:\n  - target: 10.0.0.1\n"
           "plugins:\n- {name: key-auth, service: s}\n",
        V3 "services:\n- name: s\n  host: b.test\n  routes:\n  - {name: r, paths: [/p]}\n"
           "upstreams:\n- name: u\n  targets:\n  - target: 10.0.0.1\n"
           "plugins:\n- {name: key-auth, service: s}\n",
        V3 "services:\n- name: s\n  host: a.test\n  tags: [t]\n  routes:\n  - {name: r, paths: [/p]}\n"
           "upstreams:\n- name: u\n  targets:\n  - target: 10.0.0.1\n"
           "plugins:\n- {name: key-auth, service: s}\n",
        V3 "services:\n- name: s\n  host: a.test\n  routes:\n  - {name: r, paths: [/q]}\n"
           "upstreams:\n- name: u\n  targets:\n  - target: 10.0.0.1\n"
           "plugins:\n- {name: key-auth, service: s}\n",
        V3 "services:\n- name: s\n  host: a.test\n  routes:\n  - {name: r2, paths: [/p]}\n"
           "upstreams:\n- name: u\n  targets:\n  - target: 10.0.0.1\n"
           "plugins:\n- {name: key-auth, service: s}\n",
        V3 "services:\n- name: s\n  host: a.test\n  routes:\n  - {name: r, paths: [/p]}\n"
           "upstreams:\n- name: u\n  targets:\n  - {target: 10.0.0.1, weight: 99}\n"
           "plugins:\n- {name: key-auth, service: s}\n",
        V3 "services:\n- name: s\n  host: a.test\n  routes:\n  - {name: r, paths: [/p]}\n"
           "upstreams:\n- name: u\n  targets:\n  - target: 10.0.0.1\n"
           "plugins:\n- {name: key-auth, service: s, config: {hide_credentials: true}}\n",
        V3 "services:\n- name: s\n  host: a.test\n  routes:\n  - {name: r, paths: [/p]}\n"
           "upstreams:\n- name: u\n  targets:\n  - target: 10.0.0.1\n"
           "plugins:\n- {name: key-auth, service: s, enabled: false}\n",
        V3 "services:\n- name: s\n  host: a.test\n  routes:\n  - {name: r, paths: [/p]}\n"
           "upstreams:\n- name: u\n  targets:\n  - target: 10.0.0.1\n",
    };
    struct gw_config *b = tu_load_ok(base);

    (void)state;
    for (size_t i = 0; i < TU_COUNT(variants); i++) {
        struct gw_config *v = tu_load_ok(variants[i]);
        if (strcmp(v->hash, b->hash) == 0) {
            print_error("variant %zu has the base's hash\n%s\n", i, variants[i]);
            fail();
        }
        gw_config_free(v);
    }
    gw_config_free(b);
}

/* ------------------------------------------------------------------ parsers */

struct parse_case {
    const char *text;
    enum gw_fmt fmt;
    int line; /* expected error line; 0: any line > 0; -1: the position may be unknown */
    const char *msg; /* glob on the message */
};

static const struct parse_case parse_cases[] = {
    {V3 "services:\n  - host: [a\n", GW_FMT_YAML, 4, "…"},
    {V3 "services:\n- host: a\n   port: 80\n", GW_FMT_YAML, 4, "…"},
    {V3 "\tservices: []\n", GW_FMT_YAML, 2, "…"},
    {V3 "services: [\"unterminated]\n", GW_FMT_YAML, 0, "…"},
    {"{\"_format_version\": \"3.0\",\n \"services\": [}\n", GW_FMT_JSON, 2, "…"},
    {"{\"_format_version\": \"3.0\",\n\n \"services\": [{\"host\": \"a\",}]}", GW_FMT_JSON, 3,
     "…"},
    {"{\"_format_version\": \"3.0\"", GW_FMT_JSON, 1, "…"},
    {"{\"_format_version\": \"3.0\"} trailing", GW_FMT_JSON, 1, "…"},
    /* JSON chosen by content */
    {"  {\"_format_version\": \"3.0\", }", GW_FMT_AUTO, 1, "…"},
    /* duplicate keys are refused, in both syntaxes and at any depth */
    {V3 "_format_version: \"3.0\"\n", GW_FMT_YAML, 2, "…duplicate…"},
    {V3 "services:\n- host: a\n  port: 80\n  port: 81\n", GW_FMT_YAML, 5, "…duplicate…"},
    {"{\"_format_version\": \"3.0\",\n \"services\": [{\"host\": \"a\", \"host\": \"b\"}]}",
     GW_FMT_JSON, 2, "…duplicate…"},
    /* aliases */
    {V3 "services:\n- host: *nope\n", GW_FMT_YAML, 3, "…nope…"},
    {V3 "---\n" V3, GW_FMT_YAML, 0, "…"},
    {"_format_version: \"3.0\"\nx: \"\xff\xfe\"\n", GW_FMT_YAML, -1, "…"},
};

static void
test_parse_errors(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TU_COUNT(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        struct gw_config *cfg = NULL;
        struct gw_parse_err perr;
        json_t *errs = NULL;
        int rc = gw_doc_load(c->text, strlen(c->text), c->fmt, &cfg, &errs, &perr);
        int ok = rc == GW_DOC_EPARSE && cfg == NULL && errs == NULL && tu_match(perr.msg, c->msg);
        if (ok && c->line > 0) {
            ok = perr.line == c->line && perr.column > 0;
        } else if (ok && c->line == 0) {
            ok = perr.line > 0 && perr.column > 0;
        }
        if (!ok) {
            print_error("parse_cases[%zu]: rc %d, at %d:%d: %s (want line %d, message %s)\n%s\n",
                        i, rc, perr.line, perr.column, perr.msg, c->line, c->msg, c->text);
            failed++;
        }
        gw_config_free(cfg);
        json_decref(errs);
    }
    assert_int_equal(failed, 0);
}

/* "billion laughs": nine levels of nine aliases would expand to 9^9 nodes */
static void
test_alias_bomb(void **state)
{
    struct tu_str s = {0};
    struct gw_config *cfg = NULL;
    struct gw_parse_err perr;
    json_t *errs = NULL;

    (void)state;
    tu_str_add(&s, V3 "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\","
                      "\"lol\"]\n");
    for (char c = 'b'; c <= 'i'; c++) {
        tu_str_add(&s, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", c, c, c - 1, c - 1,
                   c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
    }
    int rc = gw_doc_load(s.p, s.len, GW_FMT_YAML, &cfg, &errs, &perr);
    assert_int_equal(rc, GW_DOC_EPARSE);
    assert_null(cfg);
    assert_true(perr.line > 1);
    free(s.p);
}

/* nesting far deeper than any document needs: an error, not a stack overflow */
static void
test_deep_nesting(void **state)
{
    struct tu_str y = {0}, j = {0};
    struct gw_config *cfg = NULL;
    struct gw_parse_err perr;

    (void)state;
    tu_str_add(&y, V3 "x: ");
    tu_str_add(&j, "{\"_format_version\": \"3.0\", \"x\": ");
    for (int i = 0; i < 100000; i++) {
        tu_str_add(&y, "[");
        tu_str_add(&j, "[");
    }
    assert_int_equal(gw_doc_load(y.p, y.len, GW_FMT_YAML, &cfg, NULL, &perr), GW_DOC_EPARSE);
    assert_null(cfg);
    assert_int_equal(gw_doc_load(j.p, j.len, GW_FMT_JSON, &cfg, NULL, &perr), GW_DOC_EPARSE);
    assert_null(cfg);
    free(y.p);
    free(j.p);
}

/* anchors, aliases and merge keys build the same entities as the written-out form */
static void
test_yaml_anchors_and_merge(void **state)
{
    static const char anchored[] =
        V3 "x-defaults: &defaults\n  _comment: never loaded\n"
           "services:\n"
           "- &base\n  name: a\n  host: backend.test\n  port: 8080\n  tags: &tags [team-a, prod]\n"
           "  connect_timeout: 1000\n"
           "- <<: *base\n  name: b\n  port: 9090\n"
           "- <<: [{retries: 1}, *base]\n  name: c\n  tags: *tags\n";
    static const char plain[] =
        V3 "services:\n"
           "- {name: a, host: backend.test, port: 8080, tags: [team-a, prod], connect_timeout: 1000}\n"
           "- {name: b, host: backend.test, port: 9090, tags: [team-a, prod], connect_timeout: 1000}\n"
           "- {name: c, host: backend.test, port: 8080, tags: [team-a, prod], connect_timeout: 1000,"
           " retries: 1}\n";
    /* the anchored document has an extra top-level key: remove it for the comparison */
    const char *body = strstr(anchored, "services:");
    char doc[1024];
    snprintf(doc, sizeof doc, V3 "%s", body);

    (void)state;
    struct gw_config *a = tu_load_ok(doc), *p = tu_load_ok(plain);
    assert_string_equal(a->hash, p->hash);
    /* explicit keys win over merged ones */
    const struct gw_val *b = tu_find(a, GW_ENT_SERVICES, "name", "b");
    assert_non_null(b);
    char *port = tu_field_json(GW_ENT_SERVICES, b, "port");
    assert_string_equal(port, "9090");
    free(port);
    /* the first merged mapping wins over the later ones */
    const struct gw_val *c = tu_find(a, GW_ENT_SERVICES, "name", "c");
    char *retries = tu_field_json(GW_ENT_SERVICES, c, "retries");
    assert_string_equal(retries, "1");
    free(retries);
    gw_config_free(a);
    gw_config_free(p);
    /* the unknown top-level key is still reported when left in */
    char *got = tu_doc_errors(anchored);
    assert_string_equal(got, "x-defaults: unknown field");
    free(got);
}

/* YAML scalars resolve by the YAML 1.2 core schema; quoting makes a string */
static const struct err_case yaml_scalar_cases[] = {
    {V3 "services:\n- {host: a, port: \"80\"}\n", "services[0].port: expected an integer"},
    {V3 "services:\n- {host: a, port: '80'}\n", "services[0].port: expected an integer"},
    {V3 "services:\n- {host: a, port: 0x50}\n", NULL},
    {V3 "services:\n- {host: a, enabled: \"true\"}\n", "services[0].enabled: expected a boolean"},
    {V3 "services:\n- {host: a, enabled: False}\n", NULL},
    {V3 "services:\n- {host: a, name: ~}\n", NULL},
    {V3 "services:\n- {host: a, name: null}\n", NULL},
    {V3 "services:\n- {host: a, name: \"null\"}\n", NULL},
    {V3 "services:\n- {host: a, name: 123}\n", "services[0].name: expected a string"},
    {V3 "services:\n- {host: a, name: \"123\"}\n", NULL},
    {V3 "services:\n- {host: a, retries: 1e1}\n", NULL},
    {V3 "services:\n- {host: a, retries: .inf}\n", "services[0].retries: expected an integer"},
    {V3 "services:\n- host: !!str 80\n  port: 80\n", NULL},
    {V3 "consumers:\n- username: |\n    multi\n    line\n", NULL},
};

static void
test_yaml_scalars(void **state)
{
    (void)state;
    RUN(yaml_scalar_cases);
}

/* ------------------------------------------------------------------ nesting rules */

static const struct err_case nesting_rule_cases[] = {
    /* §3.2: a nested entity's foreign key is filled from its parent and must be omitted */
    {V3 "services:\n- name: s\n  host: a\n  routes:\n  - {paths: [/], service: other}\n",
     "services[0].routes[0].service: value must be null"},
    /* §1.6: a target is unique per upstream, so two upstreams may share an address */
    {V3 "upstreams:\n- name: u1\n  targets:\n  - target: a.test\n"
        "- name: u2\n  targets:\n  - target: a.test\n",
     NULL},
    {V3 "upstreams:\n- name: u1\n  targets:\n  - target: a.test\n  - target: a.test:8000\n",
     "upstreams[0].targets[1]: uniqueness violation: 'targets' entity with cache key set to…"},
    /* key-auth cannot be consumer-scoped, also when nested under a consumer */
    {V3 "consumers:\n- username: c\n  plugins:\n  - name: key-auth\n",
     "consumers[0].plugins[0].consumer: value must be null"},
};

/* Not done: Kong keys a uniqueness error on a non-endpoint unique field by the endpoint key
 * ({"consumers":{"bar":"..."}}, reference §3.6); we key it by the index like the others. */

static void
test_nesting_rules(void **state)
{
    (void)state;
    RUN(nesting_rule_cases);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_reference_targets),
        cmocka_unit_test(test_uniqueness),
        cmocka_unit_test(test_legacy_paths),
        cmocka_unit_test(test_same_document_same_ids),
        cmocka_unit_test(test_kong_ids),
        cmocka_unit_test(test_same_config_same_hash),
        cmocka_unit_test(test_canonical_roundtrip),
        cmocka_unit_test(test_changed_field_changes_hash),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_yaml_anchors_and_merge),
        cmocka_unit_test(test_yaml_scalars),
        cmocka_unit_test(test_nesting_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
