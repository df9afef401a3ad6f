/* Entity rules through the declarative loader: one document per row, and the exact error
 * lines (as --check prints them) Kong's messages give, or NULL for a valid document.
 * Messages come from the reference (entities-admin-api.md §0, §1, §5.4); "…" marks the part of
 * a line the reference does not give. */
#include "testutil.h"

#include <openssl/evp.h>

#define V3 "_format_version: \"3.0\"\n"

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

/* ------------------------------------------------------------------ services */

static const struct err_case service_cases[] = {
    /* url shorthand (§1.1): an unparsable url leaves host unset and the text as path */
    {V3 "services:\n- url: invalid url\n",
     "services[0].host: required field missing\n"
     "services[0].path: should start with: /"},
    {V3 "services:\n- url: http://service.test\n", NULL},
    {V3 "services:\n- url: https://service.test:8443/a/b\n  retries: 3\n", NULL},
    {V3 "services:\n- host: example.com:80\n", "services[0].host: must not have a port"},
    {V3 "services:\n- host: ex ample\n", "services[0].host: invalid value: ex ample"},
    {V3 "services:\n- host: 10.0.0.1\n", NULL},
    {V3 "services:\n- host: \"::1\"\n", NULL},
    {V3 "services:\n- {}\n", "services[0].host: required field missing"},
    {V3 "services:\n- {host: x, path: a}\n", "services[0].path: should start with: /"},
    {V3 "services:\n- {host: x, path: /a//b}\n", "services[0].path: must not have empty segments"},
    {V3 "services:\n- {host: x, path: /a%2w}\n",
     "services[0].path: invalid url-encoded value: '%2w'"},
    {V3 "services:\n- {host: x, protocol: tcp, path: /a}\n",
     "services[0]: failed conditional validation given value of field 'protocol'\n"
     "services[0].path: value must be null"},
    {V3 "services:\n- {host: x, protocol: grpc, path: /a}\n",
     "services[0]: failed conditional validation given value of field 'protocol'\n"
     "services[0].path: value must be null"},
    {V3 "services:\n- {host: x, protocol: http, tls_verify: true}\n",
     "services[0]: failed conditional validation given value of field 'protocol'\n"
     "services[0].tls_verify: value must be null"},
    {V3 "services:\n- {host: x, tls_verify_depth: 3}\n",
     "services[0]: failed conditional validation given value of field 'protocol'\n"
     "services[0].tls_verify_depth: value must be null"},
    {V3 "services:\n- {host: x, ca_certificates: [11111111-1111-4111-8111-111111111111]}\n",
     "services[0]: failed conditional validation given value of field 'protocol'\n"
     "services[0].ca_certificates: value must be null"},
    {V3 "services:\n- {host: x, protocol: https, tls_verify: true, tls_verify_depth: 64}\n", NULL},
    {V3 "services:\n- {host: x, protocol: https, tls_verify_depth: 65}\n",
     "services[0].tls_verify_depth: value should be between 0 and 64"},
    {V3 "services:\n- {host: x, ca_certificates: [nope], protocol: https}\n",
     "services[0].ca_certificates[0]: expected a valid UUID"},
    {V3 "services:\n- {host: x, port: 70000}\n",
     "services[0].port: value should be between 0 and 65535"},
    {V3 "services:\n- {host: x, port: \"80\"}\n", "services[0].port: expected an integer"},
    {V3 "services:\n- {host: x, retries: 32768}\n",
     "services[0].retries: value should be between 0 and 32767"},
    {V3 "services:\n- {host: x, connect_timeout: 0}\n",
     "services[0].connect_timeout: value should be between 1 and 2147483646"},
    {V3 "services:\n- {host: x, read_timeout: 1.5}\n",
     "services[0].read_timeout: expected an integer"},
    {V3 "services:\n- {host: x, protocol: ftp}\n",
     "services[0].protocol: expected one of: grpc, grpcs, http, https, tcp, tls, "
     "tls_passthrough, udp"},
    {V3 "services:\n- {host: x, enabled: 1}\n", "services[0].enabled: expected a boolean"},
    {V3 "services:\n- {host: x, foo: 1}\n", "services[0].foo: unknown field"},
    {V3 "services:\n- {host: x, id: not-a-uuid}\n", "services[0].id: expected a valid UUID"},
    {V3 "services:\n- {host: x, id: 11111111-1111-4111-8111-11111111111A}\n",
     "services[0].id: expected a valid UUID"},
    {V3 "services:\n- {host: x, name: bad name}\n",
     "services[0].name: invalid value 'bad name': the only accepted ascii characters are "
     "alphanumerics or ., -, _, and ~"},
    {V3 "services:\n- {host: x, name: \"\"}\n", "services[0].name: length must be at least 1"},
    {V3 "services:\n- {host: x, name: s\xc3\xa9rvice.v1~a_b-c}\n", NULL},
    /* tags (§0) */
    {V3 "services:\n- {host: x, tags: [ok, \"a,b\"]}\n",
     "services[0].tags[1]: invalid tag 'a,b': expected printable ascii (except `,` and `/`) or "
     "valid utf-8 sequences"},
    {V3 "services:\n- {host: x, tags: [a/b]}\n",
     "services[0].tags[0]: invalid tag 'a/b': expected printable ascii (except `,` and `/`) or "
     "valid utf-8 sequences"},
    {V3 "services:\n- {host: x, tags: [\"with space\", caf\xc3\xa9, \"k=v:1\"]}\n", NULL},
    {V3 "services:\n- {host: x, tags: team-a}\n", "services[0].tags: expected a set"},
};

static void
test_services(void **state)
{
    (void)state;
    RUN(service_cases);
}

/* ------------------------------------------------------------------ routes */

static const struct err_case route_cases[] = {
    /* the matching-field requirement for every protocol (§1.2) */
    {V3 "routes:\n- {}\n",
     "routes[0]: must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when "
     "'protocols' is 'https'"},
    {V3 "routes:\n- {protocols: [http]}\n",
     "routes[0]: must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is "
     "'http'"},
    {V3 "routes:\n- {protocols: [grpcs]}\n",
     "routes[0]: must set one of 'hosts', 'headers', 'paths', 'snis' when 'protocols' is "
     "'grpcs'"},
    {V3 "routes:\n- {protocols: [grpc]}\n",
     "routes[0]: must set one of 'hosts', 'headers', 'paths' when 'protocols' is 'grpc'"},
    {V3 "routes:\n- {protocols: [tcp]}\n",
     "routes[0]: must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', "
     "'tls' or 'udp'"},
    {V3 "routes:\n- {protocols: [tls]}\n",
     "routes[0]: must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', "
     "'tls' or 'udp'"},
    {V3 "routes:\n- {protocols: [udp]}\n",
     "routes[0]: must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', "
     "'tls' or 'udp'"},
    {V3 "routes:\n- {protocols: [tls_passthrough]}\n",
     "routes[0]: must set snis when 'protocols' is 'tls_passthrough'"},
    {V3 "routes:\n- {protocols: [http], methods: [GET]}\n", NULL},
    {V3 "routes:\n- {protocols: [https], snis: [example.test]}\n", NULL},
    {V3 "routes:\n- {protocols: [grpcs], headers: {x-a: [b]}}\n", NULL},
    {V3 "routes:\n- {protocols: [tcp], destinations: [{port: 9000}]}\n", NULL},
    {V3 "routes:\n- {protocols: [tls], snis: [example.test]}\n", NULL},
    {V3 "routes:\n- {protocols: [tls_passthrough], snis: [\"*.example.test\"]}\n", NULL},
    /* protocols */
    {V3 "routes:\n- {protocols: [http, tcp], paths: [/]}\n",
     "routes[0].protocols: these sets are mutually exclusive: ('http', 'https'), ('tcp', "
     "'tls', 'udp')"},
    {V3 "routes:\n- {protocols: [foo], paths: [/]}\n",
     "routes[0].protocols[0]: expected one of: grpc, grpcs, http, https, tcp, tls, "
     "tls_passthrough, udp"},
    {V3 "routes:\n- {protocols: [], paths: [/]}\n",
     "routes[0].protocols: length must be at least 1"},
    /* paths */
    {V3 "routes:\n- {paths: [a]}\n",
     "routes[0].paths[0]: should start with: / (fixed path) or ~/ (regex path)"},
    {V3 "routes:\n- {paths: [\"~a\"]}\n",
     "routes[0].paths[0]: should start with: / (fixed path) or ~/ (regex path)"},
    {V3 "routes:\n- {paths: [/ok, /a//b]}\n", "routes[0].paths[1]: must not have empty segments"},
    {V3 "routes:\n- {paths: [/a%2w]}\n", "routes[0].paths[0]: invalid url-encoded value: '%2w'"},
    {V3 "routes:\n- {paths: [/a/../b]}\n",
     "routes[0].paths[0]: non-normalized path, consider use '/b' instead"},
    {V3 "routes:\n- {paths: [/%7Ea]}\n",
     "routes[0].paths[0]: non-normalized path, consider use '/~a' instead"},
    {V3 "routes:\n- {paths: [\"~/(a\"]}\n",
     "routes[0].paths[0]: invalid regex: '/(a' (PCRE returned: …)"},
    {V3 "routes:\n- {paths: [\"/a%2Fb\", \"~/v1/(?<id>\\\\d+)$\", /caf%C3%A9]}\n", NULL},
    /* methods, hosts, headers */
    {V3 "routes:\n- {methods: [GET, get]}\n", "routes[0].methods[1]: invalid value: get"},
    {V3 "routes:\n- {hosts: [\"*.a.*\"]}\n",
     "routes[0].hosts[0]: invalid wildcard: must have at most one wildcard"},
    {V3 "routes:\n- {hosts: [\"a.*.b\"]}\n",
     "routes[0].hosts[0]: invalid wildcard: must be placed at leftmost or rightmost label"},
    {V3 "routes:\n- {hosts: [\"a b\"]}\n", "routes[0].hosts[0]: invalid hostname: a b"},
    {V3 "routes:\n- {hosts: [\"a.test:99999\"]}\n", "routes[0].hosts[0]: invalid port number"},
    {V3 "routes:\n- {hosts: [\"*.example.test\", \"example.*\", \"a.test:8080\", 10.0.0.1]}\n",
     NULL},
    {V3 "routes:\n- {headers: {Host: [x]}}\n",
     "routes[0].headers: cannot contain 'host' header, which must be specified in the 'hosts' "
     "attribute"},
    {V3 "routes:\n- {headers: {\"x y\": [v]}}\n",
     "routes[0].headers.x y: bad header name 'x y', allowed characters are A-Z, a-z, 0-9, '_', "
     "and '-'"},
    {V3 "routes:\n- {headers: {x-version: [\"1\", \"~*^v[0-9]+$\"]}}\n", NULL},
    /* snis */
    {V3 "routes:\n- {protocols: [http], paths: [/], snis: [example.test]}\n",
     "routes[0]: 'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or "
     "'tls_passthrough'\n"
     "routes[0].snis: length must be 0"},
    {V3 "routes:\n- {snis: [10.0.0.1]}\n", "routes[0].snis[0]: must not be an IP"},
    {V3 "routes:\n- {snis: [\"example.test:443\"]}\n", "routes[0].snis[0]: must not have a port"},
    {V3 "routes:\n- {snis: [\"*.*.test\"]}\n",
     "routes[0].snis[0]: invalid wildcard: must have at most one wildcard"},
    /* grpc: strip_path must be false, methods refused (routes_subschemas.lua's field errors) */
    {V3 "routes:\n- {protocols: [grpc], paths: [/], strip_path: true}\n",
     "routes[0].strip_path: cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"},
    {V3 "routes:\n- {protocols: [grpc], paths: [/], strip_path: false, methods: [GET]}\n",
     "routes[0].methods: cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"},
    /* stream and http fields do not mix */
    {V3 "routes:\n- {protocols: [tcp], destinations: [{port: 80}], paths: [/]}\n",
     "routes[0].paths: cannot set 'paths' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' "
     "or 'udp'"},
    {V3 "routes:\n- {paths: [/], sources: [{ip: 10.0.0.1}]}\n",
     "routes[0].sources: cannot set 'sources' when 'protocols' is 'http' or 'https'"},
    {V3 "routes:\n- {protocols: [tcp], sources: [{ip: 10.0.0.0/33}]}\n",
     "routes[0].sources[0].ip: invalid ip or cidr range: '10.0.0.0/33'"},
    {V3 "routes:\n- {protocols: [tcp], sources: [{ip: \"::1/64\", port: 70000}]}\n",
     "routes[0].sources[0].port: value should be between 0 and 65535"},
    {V3 "routes:\n- {protocols: [udp], sources: [{}]}\n",
     "routes[0].sources[0]: at least one of these fields must be non-empty: 'ip', 'port'"},
    /* the other fields */
    {V3 "routes:\n- {paths: [/], https_redirect_status_code: 303}\n",
     "routes[0].https_redirect_status_code: expected one of: 426, 301, 302, 307, 308"},
    {V3 "routes:\n- {paths: [/], https_redirect_status_code: 308}\n", NULL},
    {V3 "routes:\n- {paths: [/], path_handling: v2}\n",
     "routes[0].path_handling: expected one of: v0, v1"},
    {V3 "routes:\n- {paths: [/], strip_path: \"yes\"}\n",
     "routes[0].strip_path: expected a boolean"},
    {V3 "routes:\n- {paths: [/], regex_priority: high}\n",
     "routes[0].regex_priority: expected an integer"},
    {V3 "routes:\n- {paths: [/], name: \"my route\"}\n",
     "routes[0].name: invalid value 'my route': the only accepted ascii characters are "
     "alphanumerics or ., -, _, and ~"},
    {V3 "routes:\n- {paths: /}\n", "routes[0].paths: expected an array"},
};

static void
test_routes(void **state)
{
    (void)state;
    RUN(route_cases);
}

/* ------------------------------------------------------------------ consumers, plugins */

static const struct err_case consumer_plugin_cases[] = {
    {V3 "consumers:\n- {}\n",
     "consumers[0]: at least one of these fields must be non-empty: 'custom_id', 'username'"},
    {V3 "consumers:\n- {tags: [a]}\n",
     "consumers[0]: at least one of these fields must be non-empty: 'custom_id', 'username'"},
    {V3 "consumers:\n- {custom_id: c-1}\n", NULL},
    {V3 "consumers:\n- {username: \"\"}\n", "consumers[0].username: length must be at least 1"},
    {V3 "consumers:\n- {username: a, email: a@b}\n", "consumers[0].email: unknown field"},
    /* plugins (§1.4, plugins.md §1.4, §2.1) */
    {V3 "plugins:\n- name: nope\n",
     "plugins[0].name: plugin 'nope' not enabled; add it to the 'plugins' configuration "
     "property"},
    {V3 "plugins:\n- {config: {}}\n", "plugins[0].name: required field missing"},
    {V3 "plugins:\n- name: key-auth\n", NULL},
    {V3 "plugins:\n- name: key-auth\n  config: 5\n", "plugins[0].config: expected a record"},
    {V3 "plugins:\n- name: key-auth\n  config: {key_names: [apikey, \"x y\"]}\n",
     "plugins[0].config.key_names[1]: bad header name 'x y', allowed characters are A-Z, a-z, "
     "0-9, '_', and '-'"},
    {V3 "plugins:\n- name: key-auth\n  config: {hide_credentials: maybe}\n",
     "plugins[0].config.hide_credentials: expected a boolean"},
    {V3 "plugins:\n- name: key-auth\n  config: {identity_realms: []}\n",
     "plugins[0].config.identity_realms: unknown field"},
    {V3 "plugins:\n- name: key-auth\n  config: {key_names: null}\n",
     "plugins[0].config.key_names: required field missing"},
    /* key-auth is not consumer-scopable: typedefs.no_consumer */
    {V3 "consumers:\n- username: a\nplugins:\n- {name: key-auth, consumer: a}\n",
     "plugins[0].consumer: value must be null"},
    /* key-auth takes the http-only protocol set */
    {V3 "plugins:\n- {name: key-auth, protocols: [http, tcp]}\n",
     "plugins[0].protocols[1]: expected one of: …"},
    {V3 "plugins:\n- {name: key-auth, protocols: [https]}\n", NULL},
    {V3 "plugins:\n- {name: key-auth, enabled: \"no\"}\n", "plugins[0].enabled: expected a boolean"},
    {V3 "plugins:\n- {name: key-auth, instance_name: \"a b\"}\n",
     "plugins[0].instance_name: invalid value 'a b': the only accepted ascii characters are "
     "alphanumerics or ., -, _, and ~"},
};

static void
test_consumers_plugins(void **state)
{
    (void)state;
    RUN(consumer_plugin_cases);
}

/* ------------------------------------------------------------------ upstreams, targets */

static const struct err_case upstream_cases[] = {
    {V3 "upstreams:\n- name: 10.0.0.1\n",
     "upstreams[0].name: Invalid name ('10.0.0.1'); no ip addresses allowed"},
    {V3 "upstreams:\n- name: up.test:80\n",
     "upstreams[0].name: Invalid name ('up.test:80'); no port allowed"},
    {V3 "upstreams:\n- name: up test\n",
     "upstreams[0].name: Invalid name ('up test'); must be a valid hostname"},
    {V3 "upstreams:\n- {algorithm: round-robin}\n", "upstreams[0].name: required field missing"},
    {V3 "upstreams:\n- {name: u, algorithm: random}\n",
     "upstreams[0].algorithm: expected one of: consistent-hashing, least-connections, "
     "round-robin, latency"},
    {V3 "upstreams:\n- {name: u, hash_on: body}\n",
     "upstreams[0].hash_on: expected one of: none, consumer, ip, header, cookie, path, "
     "query_arg, uri_capture"},
    /* hash_on / hash_fallback conditionals */
    {V3 "upstreams:\n- {name: u, hash_on: header}\n",
     "upstreams[0]: failed conditional validation given value of field 'hash_on'\n"
     "upstreams[0].hash_on_header: required field missing"},
    {V3 "upstreams:\n- {name: u, hash_on: ip, hash_fallback: header}\n",
     "upstreams[0]: failed conditional validation given value of field 'hash_fallback'\n"
     "upstreams[0].hash_fallback_header: required field missing"},
    {V3 "upstreams:\n- {name: u, hash_on: cookie}\n",
     "upstreams[0]: failed conditional validation given value of field 'hash_on'\n"
     "upstreams[0].hash_on_cookie: required field missing"},
    {V3 "upstreams:\n- {name: u, hash_on: query_arg}\n",
     "upstreams[0]: failed conditional validation given value of field 'hash_on'\n"
     "upstreams[0].hash_on_query_arg: required field missing"},
    {V3 "upstreams:\n- {name: u, hash_on: uri_capture}\n",
     "upstreams[0]: failed conditional validation given value of field 'hash_on'\n"
     "upstreams[0].hash_on_uri_capture: required field missing"},
    {V3 "upstreams:\n- {name: u, hash_on: none, hash_fallback: ip}\n",
     "upstreams[0]: failed conditional validation given value of field 'hash_on'\n"
     "upstreams[0].hash_fallback: expected one of: none"},
    {V3 "upstreams:\n- {name: u, hash_on: cookie, hash_on_cookie: sid, hash_fallback: ip}\n",
     "upstreams[0]: failed conditional validation given value of field 'hash_on'\n"
     "upstreams[0].hash_fallback: expected one of: none"},
    {V3 "upstreams:\n- {name: u, hash_on: consumer, hash_fallback: consumer}\n",
     "upstreams[0]: failed conditional validation given value of field 'hash_on'\n"
     "upstreams[0].hash_fallback: expected one of: none, ip, header, cookie, path, query_arg, "
     "uri_capture"},
    {V3 "upstreams:\n- {name: u, hash_on: ip, hash_fallback: ip}\n",
     "upstreams[0]: failed conditional validation given value of field 'hash_on'\n"
     "upstreams[0].hash_fallback: expected one of: none, consumer, header, cookie, path, "
     "query_arg, uri_capture"},
    {V3 "upstreams:\n- {name: u, hash_on: path, hash_fallback: path}\n",
     "upstreams[0]: failed conditional validation given value of field 'hash_on'\n"
     "upstreams[0].hash_fallback: expected one of: none, consumer, ip, header, cookie, "
     "query_arg, uri_capture"},
    {V3 "upstreams:\n- {name: u, hash_on: header, hash_on_header: X-A, hash_fallback: header,"
        " hash_fallback_header: X-A}\n",
     "upstreams[0]: values of these fields must be distinct: 'hash_on_header', "
     "'hash_fallback_header'"},
    {V3 "upstreams:\n- {name: u, hash_on: query_arg, hash_on_query_arg: q, hash_fallback:"
        " query_arg, hash_fallback_query_arg: q}\n",
     "upstreams[0]: values of these fields must be distinct: 'hash_on_query_arg', "
     "'hash_fallback_query_arg'"},
    {V3 "upstreams:\n- {name: u, hash_on: header, hash_on_header: X-A, hash_fallback: "
        "header, hash_fallback_header: X-B}\n",
     NULL},
    {V3 "upstreams:\n- {name: u, hash_on: header, hash_on_header: \"X A\"}\n",
     "upstreams[0].hash_on_header: bad header name 'X A', allowed characters are A-Z, a-z, "
     "0-9, '_', and '-'"},
    {V3 "upstreams:\n- {name: u, slots: 5}\n",
     "upstreams[0].slots: value should be between 10 and 65536"},
    {V3 "upstreams:\n- {name: u, slots: 65536}\n", NULL},
    /* healthchecks ranges (§5.4) */
    {V3 "upstreams:\n- {name: u, healthchecks: {active: {concurrency: 0}}}\n",
     "upstreams[0].healthchecks.active.concurrency: value should be between 1 and 2147483648"},
    {V3 "upstreams:\n- {name: u, healthchecks: {active: {timeout: 65536}}}\n",
     "upstreams[0].healthchecks.active.timeout: value should be between 0 and 65535"},
    {V3 "upstreams:\n- {name: u, healthchecks: {active: {type: udp}}}\n",
     "upstreams[0].healthchecks.active.type: expected one of: tcp, http, https, grpc, grpcs"},
    {V3 "upstreams:\n- {name: u, healthchecks: {active: {http_path: status}}}\n",
     "upstreams[0].healthchecks.active.http_path: should start with: /"},
    {V3 "upstreams:\n- {name: u, healthchecks: {active: {healthy: {http_statuses: [200, 99]}}}}\n",
     "upstreams[0].healthchecks.active.healthy.http_statuses[1]: value should be between 100 "
     "and 999"},
    {V3 "upstreams:\n- {name: u, healthchecks: {active: {unhealthy: {interval: -1}}}}\n",
     "upstreams[0].healthchecks.active.unhealthy.interval: value should be between 0 and 65535"},
    {V3 "upstreams:\n- {name: u, healthchecks: {passive: {unhealthy: {timeouts: 256}}}}\n",
     "upstreams[0].healthchecks.passive.unhealthy.timeouts: value should be between 0 and 255"},
    {V3 "upstreams:\n- {name: u, healthchecks: {threshold: 101}}\n",
     "upstreams[0].healthchecks.threshold: value should be between 0 and 100"},
    {V3 "upstreams:\n- {name: u, healthchecks: {active: {interval: 5}}}\n",
     "upstreams[0].healthchecks.active.interval: unknown field"},
    {V3 "upstreams:\n- {name: u, healthchecks: {active: {healthy: {interval: 5, successes: 2},"
        " unhealthy: {interval: 5, http_failures: 255}}, passive: {type: tcp}, threshold: "
        "50.5}}\n",
     NULL},
    /* targets (§1.6) */
    {V3 "upstreams:\n- name: u\n  targets:\n  - target: a b\n",
     "upstreams[0].targets[0].target: Invalid target ('a b'); not a valid hostname or ip "
     "address"},
    {V3 "upstreams:\n- name: u\n  targets:\n  - target: a.test:99999\n",
     "upstreams[0].targets[0].target: Invalid target ('a.test:99999'); not a valid hostname or "
     "ip address"},
    {V3 "upstreams:\n- name: u\n  targets:\n  - target: \"[::1\"\n",
     "upstreams[0].targets[0].target: Invalid target ('[::1'); not a valid hostname or ip "
     "address"},
    {V3 "upstreams:\n- name: u\n  targets:\n  - {target: a.test, weight: 65536}\n",
     "upstreams[0].targets[0].weight: value should be between 0 and 65535"},
    {V3 "upstreams:\n- name: u\n  targets:\n  - {weight: 5}\n",
     "upstreams[0].targets[0].target: required field missing"},
    {V3 "targets:\n- target: a.test\n", "targets[0].upstream: required field missing"},
    {V3 "upstreams:\n- name: u\ntargets:\n- {target: a.test, upstream: u, weight: 0}\n", NULL},
};

static void
test_upstreams_targets(void **state)
{
    (void)state;
    RUN(upstream_cases);
}

/* ------------------------------------------------------------------ credentials */

static const struct err_case credential_cases[] = {
    {V3 "consumers:\n- username: a\n  keyauth_credentials:\n  - key: 5\n",
     "consumers[0].keyauth_credentials[0].key: expected a string"},
    {V3 "consumers:\n- username: a\n  keyauth_credentials:\n  - {key: k, ttl: -1}\n",
     "consumers[0].keyauth_credentials[0].ttl: …"},
    {V3 "keyauth_credentials:\n- key: k\n", "keyauth_credentials[0].consumer: required field missing"},
    {V3 "consumers:\n- username: a\n  basicauth_credentials:\n  - username: u\n",
     "consumers[0].basicauth_credentials[0].password: required field missing"},
    {V3 "consumers:\n- username: a\n  basicauth_credentials:\n  - password: p\n",
     "consumers[0].basicauth_credentials[0].username: required field missing"},
    {V3 "consumers:\n- username: a\n  hmacauth_credentials:\n  - secret: s\n",
     "consumers[0].hmacauth_credentials[0].username: required field missing"},
    {V3 "consumers:\n- username: a\n  acls:\n  - {}\n",
     "consumers[0].acls[0].group: required field missing"},
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - algorithm: HS257\n",
     "consumers[0].jwt_secrets[0].algorithm: expected one of: HS256, HS384, HS512, RS256, "
     "RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512, EdDSA"},
    /* RS*, PS* and EdDSA need a public key that parses */
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - algorithm: RS256\n",
     "consumers[0].jwt_secrets[0]: failed conditional validation given value of field "
     "'algorithm'\n"
     "consumers[0].jwt_secrets[0].rsa_public_key: required field missing"},
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - algorithm: PS384\n",
     "consumers[0].jwt_secrets[0]: failed conditional validation given value of field "
     "'algorithm'\n"
     "consumers[0].jwt_secrets[0].rsa_public_key: required field missing"},
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - algorithm: EdDSA\n",
     "consumers[0].jwt_secrets[0]: failed conditional validation given value of field "
     "'algorithm'\n"
     "consumers[0].jwt_secrets[0].rsa_public_key: required field missing"},
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - {algorithm: RS512, rsa_public_key: "
        "garbage}\n",
     "consumers[0].jwt_secrets[0]: failed conditional validation given value of field "
     "'algorithm'\n"
     "consumers[0].jwt_secrets[0].rsa_public_key: invalid key"},
    /* ES* are not in Kong's list */
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - algorithm: ES256\n", NULL},
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - {key: k, secret: s, algorithm: HS512}\n",
     NULL},
    {V3 "consumers:\n- username: a\n  keyauth_credentials:\n  - {key: k, ttl: 3600, tags: [t]}\n"
        "  basicauth_credentials:\n  - {username: u, password: p}\n"
        "  hmacauth_credentials:\n  - {username: h}\n  acls:\n  - group: gold\n  - group: silver\n",
     NULL},
};

static void
test_credentials(void **state)
{
    (void)state;
    RUN(credential_cases);
}

/* ------------------------------------------------------------------ values after loading */

struct value_case {
    const char *doc;
    enum gw_entity_type type;
    const char *key, *key_value; /* which record: the one whose key field has this value */
    const char *field;
    const char *want; /* compact JSON, keys sorted */
};

/* §5.4, written out from the reference */
#define HEALTHCHECKS_DEFAULT                                                                    \
    "{\"active\":{\"concurrency\":10,\"headers\":null,\"healthy\":{\"http_statuses\":[200,302],"  \
    "\"interval\":0,\"successes\":0},\"http_path\":\"/\",\"https_sni\":null,"                     \
    "\"https_verify_certificate\":true,\"timeout\":1,\"type\":\"http\",\"unhealthy\":{"            \
    "\"http_failures\":0,\"http_statuses\":[429,404,500,501,502,503,504,505],\"interval\":0,"     \
    "\"tcp_failures\":0,\"timeouts\":0}},\"passive\":{\"healthy\":{\"http_statuses\":[200,201,"   \
    "202,203,204,205,206,207,208,226,300,301,302,303,304,305,306,307,308],\"successes\":0},"      \
    "\"type\":\"http\",\"unhealthy\":{\"http_failures\":0,\"http_statuses\":[429,500,503],"       \
    "\"tcp_failures\":0,\"timeouts\":0}},\"threshold\":0}"

#define SVC(url) V3 "services:\n- name: s\n  url: " url "\n"
#define ROUTE_DOC V3 "routes:\n- name: r\n  paths: [/]\n"
#define UP(extra) V3 "upstreams:\n- name: u\n" extra

static const struct value_case value_cases[] = {
    /* sets drop repeated elements, keeping the first (the lenient reading of Kong, whose
     * validator lets duplicates through) */
    {V3 "services:\n- {name: s, host: x, tags: [a, b, a]}\n", GW_ENT_SERVICES, "name", "s", "tags",
     "[\"a\",\"b\"]"},
    {V3 "routes:\n- {name: r, methods: [GET, POST, GET]}\n", GW_ENT_ROUTES, "name", "r",
     "methods", "[\"GET\",\"POST\"]"},
    /* url shorthand examples of §1.1 */
    {SVC("http://service.test"), GW_ENT_SERVICES, "name", "s", "protocol", "\"http\""},
    {SVC("http://service.test"), GW_ENT_SERVICES, "name", "s", "host", "\"service.test\""},
    {SVC("http://service.test"), GW_ENT_SERVICES, "name", "s", "port", "80"},
    {SVC("http://service.test"), GW_ENT_SERVICES, "name", "s", "path", "null"},
    {SVC("http://service.test/"), GW_ENT_SERVICES, "name", "s", "path", "\"/\""},
    {SVC("https://service.test/"), GW_ENT_SERVICES, "name", "s", "protocol", "\"https\""},
    {SVC("https://service.test/"), GW_ENT_SERVICES, "name", "s", "port", "443"},
    {SVC("https://service.test/"), GW_ENT_SERVICES, "name", "s", "path", "\"/\""},
    {SVC("http://example.test:8080/a/b"), GW_ENT_SERVICES, "name", "s", "port", "8080"},
    {SVC("http://example.test:8080/a/b"), GW_ENT_SERVICES, "name", "s", "path", "\"/a/b\""},
    {SVC("http://example.test:8080/a/b"), GW_ENT_SERVICES, "name", "s", "host",
     "\"example.test\""},
    {SVC("http://service.test"), GW_ENT_SERVICES, "name", "s", "url", "(absent)"},
    /* service defaults */
    {V3 "services:\n- {name: s, host: h}\n", GW_ENT_SERVICES, "name", "s", "retries", "5"},
    {V3 "services:\n- {name: s, host: h}\n", GW_ENT_SERVICES, "name", "s", "connect_timeout",
     "60000"},
    {V3 "services:\n- {name: s, host: h}\n", GW_ENT_SERVICES, "name", "s", "enabled", "true"},
    {V3 "services:\n- {name: s, host: h}\n", GW_ENT_SERVICES, "name", "s", "tags", "null"},
    {V3 "services:\n- {name: s, host: h, tls_verify: ~, protocol: https}\n", GW_ENT_SERVICES,
     "name", "s", "tls_verify", "null"},
    /* route defaults */
    {ROUTE_DOC, GW_ENT_ROUTES, "name", "r", "protocols", "[\"http\",\"https\"]"},
    {ROUTE_DOC, GW_ENT_ROUTES, "name", "r", "https_redirect_status_code", "426"},
    {ROUTE_DOC, GW_ENT_ROUTES, "name", "r", "strip_path", "true"},
    {ROUTE_DOC, GW_ENT_ROUTES, "name", "r", "preserve_host", "false"},
    {ROUTE_DOC, GW_ENT_ROUTES, "name", "r", "path_handling", "\"v0\""},
    {ROUTE_DOC, GW_ENT_ROUTES, "name", "r", "regex_priority", "0"},
    {ROUTE_DOC, GW_ENT_ROUTES, "name", "r", "request_buffering", "true"},
    {ROUTE_DOC, GW_ENT_ROUTES, "name", "r", "hosts", "null"},
    {ROUTE_DOC, GW_ENT_ROUTES, "name", "r", "service", "null"},
    /* grpc routes: strip_path defaults to false (routes_subschemas) */
    {V3 "routes:\n- {name: r, protocols: [grpc, grpcs], paths: [/]}\n", GW_ENT_ROUTES, "name",
     "r", "strip_path", "false"},
    /* upstreams */
    {UP(""), GW_ENT_UPSTREAMS, "name", "u", "healthchecks", HEALTHCHECKS_DEFAULT},
    {UP(""), GW_ENT_UPSTREAMS, "name", "u", "algorithm", "\"round-robin\""},
    {UP(""), GW_ENT_UPSTREAMS, "name", "u", "hash_on", "\"none\""},
    {UP(""), GW_ENT_UPSTREAMS, "name", "u", "slots", "10000"},
    {UP(""), GW_ENT_UPSTREAMS, "name", "u", "hash_on_cookie_path", "\"/\""},
    {UP(""), GW_ENT_UPSTREAMS, "name", "u", "use_srv_name", "false"},
    {UP("  hash_on: header\n  hash_on_header: X-A\n"), GW_ENT_UPSTREAMS, "name", "u", "algorithm",
     "\"consistent-hashing\""},
    {UP("  healthchecks: {active: {healthy: {successes: 3}}}\n"), GW_ENT_UPSTREAMS, "name", "u",
     "healthchecks",
     "{\"active\":{\"concurrency\":10,\"headers\":null,\"healthy\":{\"http_statuses\":[200,302],"
     "\"interval\":0,\"successes\":3},\"http_path\":\"/\",\"https_sni\":null,"
     "\"https_verify_certificate\":true,\"timeout\":1,\"type\":\"http\",\"unhealthy\":{"
     "\"http_failures\":0,\"http_statuses\":[429,404,500,501,502,503,504,505],\"interval\":0,"
     "\"tcp_failures\":0,\"timeouts\":0}},\"passive\":{\"healthy\":{\"http_statuses\":[200,201,"
     "202,203,204,205,206,207,208,226,300,301,302,303,304,305,306,307,308],\"successes\":0},"
     "\"type\":\"http\",\"unhealthy\":{\"http_failures\":0,\"http_statuses\":[429,500,503],"
     "\"tcp_failures\":0,\"timeouts\":0}},\"threshold\":0}"},
    /* targets: port 8000 by default, IPv6 in brackets (§1.6) */
    {UP("  targets:\n  - target: konghq.test\n"), GW_ENT_TARGETS, "target", "konghq.test:8000",
     "weight", "100"},
    {UP("  targets:\n  - target: 10.0.0.1\n"), GW_ENT_TARGETS, "target", "10.0.0.1:8000",
     "target", "\"10.0.0.1:8000\""},
    {UP("  targets:\n  - target: 10.0.0.1:9000\n"), GW_ENT_TARGETS, "target", "10.0.0.1:9000",
     "target", "\"10.0.0.1:9000\""},
    {UP("  targets:\n  - target: \"[::1]\"\n"), GW_ENT_TARGETS, "target", "[::1]:8000", "target",
     "\"[::1]:8000\""},
    {UP("  targets:\n  - target: \"[::1]:8000\"\n"), GW_ENT_TARGETS, "target", "[::1]:8000",
     "target", "\"[::1]:8000\""},
    {UP("  targets:\n  - target: \"::1\"\n"), GW_ENT_TARGETS, "target", "[::1]:8000", "target",
     "\"[::1]:8000\""},
    /* plugins: the plugin's config defaults; the default protocols */
    {V3 "plugins:\n- {name: key-auth, instance_name: k}\n", GW_ENT_PLUGINS, "instance_name", "k",
     "config",
     "{\"anonymous\":null,\"hide_credentials\":false,\"key_in_body\":false,\"key_in_header\":"
     "true,\"key_in_query\":true,\"key_names\":[\"apikey\"],\"realm\":null,"
     "\"run_on_preflight\":true}"},
    {V3 "plugins:\n- {name: key-auth, instance_name: k}\n", GW_ENT_PLUGINS, "instance_name", "k",
     "protocols", "[\"grpc\",\"grpcs\",\"http\",\"https\"]"},
    {V3 "plugins:\n- {name: key-auth, instance_name: k}\n", GW_ENT_PLUGINS, "instance_name", "k",
     "enabled", "true"},
    /* credentials */
    {V3 "consumers:\n- username: a\n  jwt_secrets:\n  - key: j\n", GW_ENT_JWT_SECRETS, "key", "j",
     "algorithm", "\"HS256\""},
    {V3 "consumers:\n- username: a\n  keyauth_credentials:\n  - {key: k, ttl: 60}\n",
     GW_ENT_KEYAUTH_CREDENTIALS, "key", "k", "ttl", "60"},
    {V3 "consumers:\n- username: a\n  acls:\n  - group: gold\n", GW_ENT_ACLS, "group", "gold",
     "tags", "null"},
};

static void
test_values(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TU_COUNT(value_cases); i++) {
        const struct value_case *c = &value_cases[i];
        struct gw_config *cfg = tu_load_ok(c->doc);
        const struct gw_val *rec = tu_find(cfg, c->type, c->key, c->key_value);
        char *got = rec ? tu_field_json(c->type, rec, c->field) : strdup("(no such record)");
        failed += tu_check_row("value_cases", i, c->doc, got, c->want);
        free(got);
        gw_config_free(cfg);
    }
    assert_int_equal(failed, 0);
}

/* ------------------------------------------------------------------ basic-auth passwords */

static void
sha1_hex(const char *a, const char *b, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    assert_non_null(ctx);
    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    EVP_DigestUpdate(ctx, a, strlen(a));
    EVP_DigestUpdate(ctx, b, strlen(b));
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    assert_int_equal(n, 20);
    for (unsigned i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

/* _transform true (the default): hex SHA-1 of password .. consumer id; false: as given */
static void
test_basicauth_password(void **state)
{
    static const struct {
        const char *transform; /* the _transform line, or "" */
        const char *password;
        int hashed;
    } cases[] = {
        {"", "s3cr3t", 1},
        {"_transform: true\n", "s3cr3t", 1},
        {"_transform: false\n", "s3cr3t", 0},
        {"_transform: false\n", "3871dc59ef495b47270e3209dca80899e81de3b4", 0},
    };

    (void)state;
    for (size_t i = 0; i < TU_COUNT(cases); i++) {
        char doc[512], want[41];
        snprintf(doc, sizeof doc,
                 V3 "%sconsumers:\n- username: alice\n  basicauth_credentials:\n"
                    "  - {username: al, password: \"%s\"}\n",
                 cases[i].transform, cases[i].password);
        struct gw_config *cfg = tu_load_ok(doc);
        const char *cid = tu_id_of(cfg, GW_ENT_CONSUMERS, "username", "alice");
        const struct gw_val *cred = tu_find(cfg, GW_ENT_BASICAUTH_CREDENTIALS, "username", "al");
        assert_non_null(cred);
        const struct gw_val *pw =
            gw_rec_get(gw_entities[GW_ENT_BASICAUTH_CREDENTIALS].schema, cred, "password");
        assert_non_null(pw);
        assert_int_equal(pw->type, GW_V_STR);
        if (cases[i].hashed) {
            sha1_hex(cases[i].password, cid, want);
            assert_string_equal(pw->u.s, want);
        } else {
            assert_string_equal(pw->u.s, cases[i].password);
        }
        gw_config_free(cfg);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_consumers_plugins),
        cmocka_unit_test(test_upstreams_targets),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_basicauth_password),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
