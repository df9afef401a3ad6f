"""Admin API error model as Kong 3.x (kong/db/errors.lua, kong/api/endpoints.lua): schema
violations with Kong's exact code/name/message/fields, foreign keys (code 4 and 13), primary
key violation, bad JSON, 415, 404, 405, and nothing stored on a refused write."""
import pytest

from test_admin_common import (  # noqa: F401  (api is a fixture)
    ALL_PROTOCOLS, HTTPS_ROUTE_MSG, NOT_ALLOWED, NOT_FOUND, api, expect, fk_unresolved,
    fk_violation, make_cert, new_id, schema_violation, uniq)

COND_PROTOCOL = "failed conditional validation given value of field 'protocol'"
NAME_MSG = ("invalid value '{}': the only accepted ascii characters are alphanumerics or ., -, "
            "_, and ~")
TAG_MSG = ("invalid tag '{}': expected printable ascii (except `,` and `/`) or valid utf-8 "
           "sequences")
PATH_MSG = "should start with: / (fixed path) or ~/ (regex path)"
RL_MSG = ("at least one of these fields must be non-empty: 'config.second', 'config.minute', "
          "'config.hour', 'config.day', 'config.month', 'config.year'")
FIXED_ID = "00000000-0000-4000-8000-00000000abcd"
CERT_A, KEY_A = make_cert("val-a.test")
CERT_B, KEY_B = make_cert("val-b.test")
CA_EXPIRED = make_cert("val-expired-ca.test", ca=True, days=-1)[0]

# (id, collection path, body, fields, message entries...) -> 400 code 2 with exactly that body.
# {consumer} and {upstream} in the path are filled from the module's fixture entities.
CASES = [
    # services
    ("svc-empty", "/services", {}, {"host": "required field missing"},
     "host: required field missing"),
    ("svc-port-range", "/services", {"host": "a.test", "port": 70000},
     {"port": "value should be between 0 and 65535"},
     "port: value should be between 0 and 65535"),
    ("svc-protocol", "/services", {"host": "a.test", "protocol": "ftp"},
     {"protocol": f"expected one of: {ALL_PROTOCOLS}"},
     f"protocol: expected one of: {ALL_PROTOCOLS}"),
    ("svc-timeout-type", "/services", {"host": "a.test", "connect_timeout": "x"},
     {"connect_timeout": "expected an integer"}, "connect_timeout: expected an integer"),
    ("svc-timeout-range", "/services", {"host": "a.test", "read_timeout": 0},
     {"read_timeout": "value should be between 1 and 2147483646"},
     "read_timeout: value should be between 1 and 2147483646"),
    ("svc-retries", "/services", {"host": "a.test", "retries": -1},
     {"retries": "value should be between 0 and 32767"},
     "retries: value should be between 0 and 32767"),
    ("svc-path-slash", "/services", {"host": "a.test", "path": "nopath"},
     {"path": "should start with: /"}, "path: should start with: /"),
    ("svc-path-empty-seg", "/services", {"host": "a.test", "path": "/a//b"},
     {"path": "must not have empty segments"}, "path: must not have empty segments"),
    ("svc-host-port", "/services", {"host": "a.test:80"},
     {"host": "must not have a port"}, "host: must not have a port"),
    # typedefs.host's validate_host: any port, even an invalid one, is "must not have a port"
    ("svc-host-big-port", "/services", {"host": "a.test:99999"},
     {"host": "must not have a port"}, "host: must not have a port"),
    ("svc-host-invalid", "/services", {"host": "mock;bin"},
     {"host": "invalid value: mock;bin"}, "host: invalid value: mock;bin"),
    ("svc-name-chars", "/services", {"host": "a.test", "name": "bad name"},
     {"name": NAME_MSG.format("bad name")}, "name: " + NAME_MSG.format("bad name")),
    ("svc-name-empty", "/services", {"host": "a.test", "name": ""},
     {"name": "length must be at least 1"}, "name: length must be at least 1"),
    ("svc-unknown-field", "/services", {"host": "a.test", "foo": 1},
     {"foo": "unknown field"}, "foo: unknown field"),
    ("svc-tags-type", "/services", {"host": "a.test", "tags": "x"},
     {"tags": "expected a set"}, "tags: expected a set"),
    ("svc-tag-chars", "/services", {"host": "a.test", "tags": ["ok", "a,b"]},
     {"tags": [None, TAG_MSG.format("a,b")]}, "tags.2: " + TAG_MSG.format("a,b")),
    ("svc-enabled-type", "/services", {"host": "a.test", "enabled": "yes"},
     {"enabled": "expected a boolean"}, "enabled: expected a boolean"),
    ("svc-tls-verify-http", "/services", {"host": "a.test", "tls_verify": True},
     {"@entity": [COND_PROTOCOL], "tls_verify": "value must be null"},
     COND_PROTOCOL, "tls_verify: value must be null"),
    ("svc-path-on-tcp", "/services", {"host": "a.test", "protocol": "tcp", "path": "/x"},
     {"@entity": [COND_PROTOCOL], "path": "value must be null"},
     COND_PROTOCOL, "path: value must be null"),
    ("svc-two-errors", "/services", {"host": "a.test", "connect_timeout": "x", "port": "y"},
     {"connect_timeout": "expected an integer", "port": "expected an integer"},
     "connect_timeout: expected an integer", "port: expected an integer"),
    ("svc-invalid-url", "/services", {"url": "invalid url"},
     {"host": "required field missing", "path": "should start with: /"},
     "host: required field missing", "path: should start with: /"),
    ("svc-client-cert-uuid", "/services",
     {"host": "a.test", "protocol": "https", "client_certificate": {"id": "nope"}},
     {"client_certificate": {"id": "expected a valid UUID"}},
     "client_certificate.id: expected a valid UUID"),
    ("svc-port-float", "/services", {"host": "a.test", "port": 80.5},
     {"port": "expected an integer"}, "port: expected an integer"),
    ("svc-retries-string-number", "/services", {"host": "a.test", "retries": "3"},
     {"retries": "expected an integer"}, "retries: expected an integer"),
    ("svc-bad-id", "/services", {"id": "123", "host": "a.test"},
     {"id": "expected a valid UUID"}, "id: expected a valid UUID"),
    ("svc-ca-certs-uuid", "/services",
     {"host": "a.test", "protocol": "https", "ca_certificates": ["nope"]},
     {"ca_certificates": ["expected a valid UUID"]},
     "ca_certificates.1: expected a valid UUID"),
    # routes
    ("route-empty", "/routes", {}, {"@entity": [HTTPS_ROUTE_MSG]}, HTTPS_ROUTE_MSG),
    ("route-http-only", "/routes", {"protocols": ["http"]},
     {"@entity": ["must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' "
                  "is 'http'"]},
     "must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"),
    ("route-path-slash", "/routes", {"paths": ["foo"]}, {"paths": [PATH_MSG]},
     "paths.1: " + PATH_MSG),
    ("route-second-path", "/routes", {"paths": ["/ok", "bad"]}, {"paths": [None, PATH_MSG]},
     "paths.2: " + PATH_MSG),
    ("route-method-case", "/routes", {"methods": ["get"]},
     {"methods": ["invalid value: get"]}, "methods.1: invalid value: get"),
    ("route-protocol", "/routes", {"paths": ["/"], "protocols": ["ftp"]},
     {"protocols": [f"expected one of: {ALL_PROTOCOLS}"]},
     f"protocols.1: expected one of: {ALL_PROTOCOLS}"),
    ("route-wildcard-middle", "/routes", {"hosts": ["a.*.b"]},
     {"hosts": ["invalid wildcard: must be placed at leftmost or rightmost label"]},
     "hosts.1: invalid wildcard: must be placed at leftmost or rightmost label"),
    ("route-two-wildcards", "/routes", {"hosts": ["*.a.*"]},
     {"hosts": ["invalid wildcard: must have at most one wildcard"]},
     "hosts.1: invalid wildcard: must have at most one wildcard"),
    # protocol subschemas (kong/db/schema/entities/routes_subschemas.lua): field errors with
    # their own messages, no @entity
    ("route-grpc-methods", "/routes", {"protocols": ["grpc"], "paths": ["/"], "methods": ["GET"]},
     {"methods": "cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"},
     "methods: cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"),
    ("route-grpc-strip-path", "/routes",
     {"protocols": ["grpc"], "paths": ["/"], "strip_path": True},
     {"strip_path": "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"},
     "strip_path: cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"),
    ("route-grpcs-sources", "/routes",
     {"protocols": ["grpcs"], "paths": ["/"], "sources": [{"ip": "10.0.0.1"}]},
     {"sources": "cannot set 'sources' when 'protocols' is 'grpc' or 'grpcs'"},
     "sources: cannot set 'sources' when 'protocols' is 'grpc' or 'grpcs'"),
    ("route-http-sources", "/routes",
     {"protocols": ["http"], "paths": ["/"], "sources": [{"ip": "10.0.0.1"}]},
     {"sources": "cannot set 'sources' when 'protocols' is 'http' or 'https'"},
     "sources: cannot set 'sources' when 'protocols' is 'http' or 'https'"),
    ("route-default-destinations", "/routes", {"paths": ["/"], "destinations": [{"port": 80}]},
     {"destinations": "cannot set 'destinations' when 'protocols' is 'http' or 'https'"},
     "destinations: cannot set 'destinations' when 'protocols' is 'http' or 'https'"),
    ("route-tcp-paths", "/routes",
     {"protocols": ["tcp"], "destinations": [{"port": 80}], "paths": ["/"]},
     {"paths": "cannot set 'paths' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or "
               "'udp'"},
     "paths: cannot set 'paths' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"),
    ("route-tls-hosts", "/routes",
     {"protocols": ["tls"], "snis": ["a.test"], "hosts": ["a.test"]},
     {"hosts": "cannot set 'hosts' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or "
               "'udp'"},
     "hosts: cannot set 'hosts' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"),
    ("route-host-bad-port", "/routes", {"hosts": ["a.test:99999"]},
     {"hosts": ["invalid port number"]}, "hosts.1: invalid port number"),
    ("route-host-header", "/routes", {"headers": {"host": ["x.test"]}},
     {"headers": "cannot contain 'host' header, which must be specified in the 'hosts' "
                 "attribute"},
     "headers: cannot contain 'host' header, which must be specified in the 'hosts' "
     "attribute"),
    ("route-redirect-code", "/routes", {"paths": ["/"], "https_redirect_status_code": 400},
     {"https_redirect_status_code": "expected one of: 426, 301, 302, 307, 308"},
     "https_redirect_status_code: expected one of: 426, 301, 302, 307, 308"),
    ("route-regex-priority", "/routes", {"paths": ["/"], "regex_priority": "x"},
     {"regex_priority": "expected an integer"}, "regex_priority: expected an integer"),
    # a `conditional` with then_err (kong/db/schema/entities/routes.lua): the @entity entry is
    # the then_err text, the field entry the failed rule's own message (len_eq = 0)
    ("route-snis-http", "/routes", {"paths": ["/"], "protocols": ["http"], "snis": ["a.test"]},
     {"@entity": ["'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or "
                  "'tls_passthrough'"],
      "snis": "length must be 0"},
     "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'",
     "snis: length must be 0"),
    ("route-service-uuid", "/routes", {"paths": ["/"], "service": {"id": "nope"}},
     {"service": {"id": "expected a valid UUID"}}, "service.id: expected a valid UUID"),
    ("route-bad-percent", "/routes", {"paths": ["/a%2w"]},
     {"paths": ["invalid url-encoded value: '%2w'"]},
     "paths.1: invalid url-encoded value: '%2w'"),
    ("route-path-handling", "/routes", {"paths": ["/"], "path_handling": "v2"},
     {"path_handling": "expected one of: v0, v1"}, "path_handling: expected one of: v0, v1"),
    ("route-strip-path-type", "/routes", {"paths": ["/"], "strip_path": "maybe"},
     {"strip_path": "expected a boolean"}, "strip_path: expected a boolean"),
    ("route-non-normalized", "/routes", {"paths": ["/a/../b"]},
     {"paths": ["non-normalized path, consider use '/b' instead"]},
     "paths.1: non-normalized path, consider use '/b' instead"),
    ("route-paths-type", "/routes", {"paths": "/x"},
     {"paths": "expected an array"}, "paths: expected an array"),
    # consumers
    ("consumer-empty", "/consumers", {},
     {"@entity": ["at least one of these fields must be non-empty: 'custom_id', 'username'"]},
     "at least one of these fields must be non-empty: 'custom_id', 'username'"),
    ("consumer-username-type", "/consumers", {"username": 5},
     {"username": "expected a string"}, "username: expected a string"),
    # upstreams
    ("upstream-empty", "/upstreams", {}, {"name": "required field missing"},
     "name: required field missing"),
    ("upstream-ip-name", "/upstreams", {"name": "1.2.3.4"},
     {"name": "Invalid name ('1.2.3.4'); no ip addresses allowed"},
     "name: Invalid name ('1.2.3.4'); no ip addresses allowed"),
    ("upstream-port-name", "/upstreams", {"name": "a.test:80"},
     {"name": "Invalid name ('a.test:80'); no port allowed"},
     "name: Invalid name ('a.test:80'); no port allowed"),
    ("upstream-algorithm", "/upstreams", {"name": "alg.test", "algorithm": "random"},
     {"algorithm": "expected one of: consistent-hashing, least-connections, round-robin, "
                   "latency"},
     "algorithm: expected one of: consistent-hashing, least-connections, round-robin, "
     "latency"),
    ("upstream-slots", "/upstreams", {"name": "slots.test", "slots": 5},
     {"slots": "value should be between 10 and 65536"},
     "slots: value should be between 10 and 65536"),
    ("upstream-hash-header", "/upstreams", {"name": "hh.test", "hash_on": "header"},
     {"@entity": ["failed conditional validation given value of field 'hash_on'"],
      "hash_on_header": "required field missing"},
     "failed conditional validation given value of field 'hash_on'",
     "hash_on_header: required field missing"),
    # targets
    ("target-empty", "/upstreams/{upstream}/targets", {},
     {"target": "required field missing"}, "target: required field missing"),
    ("target-invalid", "/upstreams/{upstream}/targets", {"target": "not valid!"},
     {"target": "Invalid target ('not valid!'); not a valid hostname or ip address"},
     "target: Invalid target ('not valid!'); not a valid hostname or ip address"),
    ("target-weight", "/upstreams/{upstream}/targets", {"target": "a.test", "weight": 70000},
     {"weight": "value should be between 0 and 65535"},
     "weight: value should be between 0 and 65535"),
    # plugins
    ("plugin-empty", "/plugins", {}, {"name": "required field missing"},
     "name: required field missing"),
    ("plugin-unknown", "/plugins", {"name": "no-such-plugin"},
     {"name": "plugin 'no-such-plugin' not enabled; add it to the 'plugins' configuration "
              "property"},
     "name: plugin 'no-such-plugin' not enabled; add it to the 'plugins' configuration "
     "property"),
    ("plugin-rl-no-limit", "/plugins", {"name": "rate-limiting", "config": {}},
     {"@entity": [RL_MSG]}, RL_MSG),
    ("plugin-config-type", "/plugins", {"name": "rate-limiting", "config": {"minute": "x"}},
     {"config": {"minute": "expected a number"}}, "config.minute: expected a number"),
    ("plugin-config-record", "/plugins", {"name": "key-auth", "config": "x"},
     {"config": "expected a record"}, "config: expected a record"),
    ("plugin-config-unknown", "/plugins", {"name": "key-auth", "config": {"foo": 1}},
     {"config": {"foo": "unknown field"}}, "config.foo: unknown field"),
    ("plugin-no-consumer", "/plugins", {"name": "key-auth", "consumer": {"id": FIXED_ID}},
     {"consumer": "value must be null"}, "consumer: value must be null"),
    ("plugin-http-only", "/plugins", {"name": "cors", "protocols": ["tcp"]},
     {"protocols": ["expected one of: grpc, grpcs, http, https"]},
     "protocols.1: expected one of: grpc, grpcs, http, https"),
    # certificates, snis, ca_certificates
    ("cert-empty", "/certificates", {},
     {"cert": "required field missing", "key": "required field missing"},
     "cert: required field missing", "key: required field missing"),
    ("ca-empty", "/ca_certificates", {}, {"cert": "required field missing"},
     "cert: required field missing"),
    ("cert-key-mismatch", "/certificates", {"cert": CERT_A, "key": KEY_B},
     {"@entity": ["certificate does not match key"]}, "certificate does not match key"),
    ("ca-not-a-ca", "/ca_certificates", {"cert": CERT_A},
     {"cert": 'certificate does not appear to be a CA because it is missing the "CA" basic '
              'constraint'},
     'cert: certificate does not appear to be a CA because it is missing the "CA" basic '
     'constraint'),
    ("ca-expired", "/ca_certificates", {"cert": CA_EXPIRED},
     {"cert": 'certificate expired, "Not After" time is in the past'},
     'cert: certificate expired, "Not After" time is in the past'),
    ("sni-no-cert", "/snis", {"name": "nocert.test"},
     {"certificate": "required field missing"}, "certificate: required field missing"),
    ("sni-ip", "/snis", {"name": "1.2.3.4", "certificate": {"id": FIXED_ID}},
     {"name": "must not be an IP"}, "name: must not be an IP"),
    # credentials (nested under a consumer)
    ("basic-auth-empty", "/consumers/{consumer}/basic-auth", {},
     {"password": "required field missing", "username": "required field missing"},
     "password: required field missing", "username: required field missing"),
    ("acl-empty", "/consumers/{consumer}/acls", {}, {"group": "required field missing"},
     "group: required field missing"),
    ("jwt-rsa-key", "/consumers/{consumer}/jwt", {"algorithm": "RS256"},
     {"@entity": ["failed conditional validation given value of field 'algorithm'"],
      "rsa_public_key": "required field missing"},
     "failed conditional validation given value of field 'algorithm'",
     "rsa_public_key: required field missing"),
    ("hmac-empty", "/consumers/{consumer}/hmac-auth", {},
     {"username": "required field missing"}, "username: required field missing"),
    ("key-auth-type", "/consumers/{consumer}/key-auth", {"key": 5},
     {"key": "expected a string"}, "key: expected a string"),
]


@pytest.fixture(scope="module")
def ctx(api):
    return {"consumer": api.consumer()["id"], "upstream": api.upstream()["id"]}


def test_enough_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_schema_violation(api, ctx, case):
    _, path, body, fields, *messages = case
    path = path.format(**ctx)
    r = api.post(path, json=body)
    expect(r, 400, schema_violation(fields, *messages))
    assert r.headers.get("Content-Type", "").startswith("application/json")


def test_refused_write_stores_nothing(api):
    n = uniq("refused")
    expect(api.post("/services", json={"name": n, "host": "a.test", "port": 70000}), 400)
    expect(api.get(f"/services/{n}"), 404, NOT_FOUND)
    expect(api.put(f"/services/{n}", json={"host": "a.test", "port": "x"}), 400)
    expect(api.get(f"/services/{n}"), 404, NOT_FOUND)


def test_put_and_patch_report_the_same_violations(api):
    s = api.service()
    expect(api.patch(f"/services/{s['id']}", json={"port": 70000}), 400,
           schema_violation({"port": "value should be between 0 and 65535"},
                            "port: value should be between 0 and 65535"))
    expect(api.put(f"/services/{s['id']}", json={"port": 8080}), 400,
           schema_violation({"host": "required field missing"},
                            "host: required field missing"))
    expect(api.get(f"/services/{s['id']}"), 200, s)


def test_foreign_key_by_name_unresolved_code_13(api):
    expect(api.post("/routes", json={"paths": ["/"], "service": {"name": "non-existing"}}),
           400, fk_unresolved("service", "name", "non-existing", "services"))
    expect(api.post("/plugins", json={"name": "key-auth", "route": {"name": "ghost-route"}}),
           400, fk_unresolved("route", "name", "ghost-route", "routes"))


def test_foreign_key_by_id_missing_code_4(api):
    sid = new_id()
    expect(api.post("/routes", json={"paths": ["/"], "service": {"id": sid}}), 400,
           fk_violation("service", sid, "services"))
    cid = new_id()
    expect(api.post("/key-auths", json={"consumer": {"id": cid}, "key": uniq("k")}), 400,
           fk_violation("consumer", cid, "consumers"))


def test_foreign_key_by_name_resolves(api):
    s = api.service()
    r = expect(api.post("/routes", json={"paths": ["/" + uniq("fk")],
                                         "service": {"name": s["name"]}}), 201)
    assert r["service"] == {"id": s["id"]}


def test_foreign_key_missing_primary_key(api):
    r = api.post("/routes", json={"paths": ["/"], "service": {}})
    assert r.status_code == 400, r.text
    assert r.json()["fields"] == {"service": {"id": "missing primary key"}}
    assert r.json()["message"] == "schema violation (service.id: missing primary key)"


def test_service_delete_refused_while_routes_reference_it(api):
    s = api.service()
    rt = api.route(service={"id": s["id"]})
    for key in (s["id"], s["name"]):
        expect(api.delete(f"/services/{key}"), 400,
               {"code": 4, "name": "foreign key violation",
                "message": "an existing 'routes' entity references this 'services' entity",
                "fields": {"@referenced_by": "routes"}})
    expect(api.get(f"/services/{s['id']}"), 200, s)
    expect(api.delete(f"/routes/{rt['id']}"), 204)
    expect(api.delete(f"/services/{s['id']}"), 204)


def test_ca_certificate_delete_refused_while_referenced(api):
    cert, _ = make_cert("ref-ca.test", ca=True)
    ca = api.create("/ca_certificates", {"cert": cert})
    s = api.service(protocol="https", ca_certificates=[ca["id"]])
    expect(api.delete(f"/ca_certificates/{ca['id']}"), 400,
           {"code": 19, "name": "referenced by others",
            "message": f"ca certificate {ca['id']} is still referenced by services "
                       f"(id = {s['id']})"})
    expect(api.get(f"/ca_certificates/{ca['id']}"), 200)


@pytest.mark.parametrize("body", ["{not json", '{"name": "x",}', "[1, 2", ""],
                         ids=["garbage", "trailing-comma", "truncated", "empty"])
def test_bad_json_body(api, body):
    r = api.post("/services", data=body, headers={"Content-Type": "application/json"})
    expect(r, 400, {"message": "Cannot parse JSON body"})


def test_json_body_not_an_object(api):
    r = api.post("/services", data="[1,2]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert isinstance(r.json().get("message"), str)


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", None])
def test_unsupported_content_type_415(api, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    body = b'{"host": "ct.test"}'
    r = api.post("/services", data=body, headers=headers)
    if ctype is None:
        # requests adds no Content-Type for raw bytes: a body without a type is refused
        assert "Content-Type" not in r.request.headers
    assert r.status_code == 415, r.text
    r = api.patch(f"/services/{uniq('x')}", data=body, headers=headers)
    assert r.status_code == 415, r.text


def test_body_without_content_is_fine(api):
    # POST with no body at all: validated as an empty entity
    r = api.post("/consumers")
    expect(r, 400, schema_violation(
        {"@entity": ["at least one of these fields must be non-empty: 'custom_id', 'username'"]},
        "at least one of these fields must be non-empty: 'custom_id', 'username'"))


@pytest.mark.parametrize("path", ["/nope", "/services/x/nope", "/servicesx",
                                  "/services/a/routes/b/c"])
def test_unknown_path_404(api, path):
    expect(api.get(path), 404, NOT_FOUND)


@pytest.mark.parametrize("path", [f"/services/{FIXED_ID}", "/services/not-there",
                                  f"/routes/{FIXED_ID}", f"/consumers/{FIXED_ID}",
                                  f"/plugins/{FIXED_ID}", f"/upstreams/{FIXED_ID}",
                                  f"/certificates/{FIXED_ID}", f"/snis/{FIXED_ID}",
                                  f"/ca_certificates/{FIXED_ID}", f"/key-auths/{FIXED_ID}",
                                  f"/basic-auths/{FIXED_ID}", f"/jwts/{FIXED_ID}",
                                  f"/hmac-auths/{FIXED_ID}", f"/acls/{FIXED_ID}"])
def test_missing_entity_404(api, path):
    expect(api.get(path), 404, NOT_FOUND)


@pytest.mark.parametrize("method,path", [
    ("PUT", "/services"), ("PATCH", "/services"), ("DELETE", "/services"),
    ("DELETE", "/routes"), ("POST", f"/services/{FIXED_ID}"),
    ("DELETE", "/upstreams/{upstream}/targets"), ("PUT", "/upstreams/{upstream}/targets"),
    ("POST", "/plugins/enabled"), ("DELETE", "/status"), ("POST", "/"),
])
def test_method_not_allowed_405(api, ctx, method, path):
    r = api.request(method, path.format(**ctx), json={})
    expect(r, 405, NOT_ALLOWED)


def test_delete_on_foreign_entity_endpoint_405(api):
    s = api.service()
    rt = api.route(service={"id": s["id"]})
    expect(api.delete(f"/routes/{rt['id']}/service"), 405, NOT_ALLOWED)
    expect(api.get(f"/services/{s['id']}"), 200, s)



TOP_LEVEL = {"/services": "services", "/routes": "routes", "/consumers": "consumers",
             "/upstreams": "upstreams", "/plugins": "plugins", "/certificates": "certificates",
             "/ca_certificates": "ca_certificates", "/snis": "snis"}
NESTED = {"/upstreams/{upstream}/targets": ("upstreams", "targets", {"name": "up.test"}),
          "/consumers/{consumer}/basic-auth": ("consumers", "basicauth_credentials",
                                               {"username": "c"}),
          "/consumers/{consumer}/acls": ("consumers", "acls", {"username": "c"}),
          "/consumers/{consumer}/jwt": ("consumers", "jwt_secrets", {"username": "c"}),
          "/consumers/{consumer}/hmac-auth": ("consumers", "hmacauth_credentials",
                                              {"username": "c"}),
          "/consumers/{consumer}/key-auth": ("consumers", "keyauth_credentials",
                                             {"username": "c"})}


def _leaves(tree):
    if isinstance(tree, str):
        return [tree]
    if isinstance(tree, dict):
        return [m for v in tree.values() for m in _leaves(v)]
    if isinstance(tree, list):
        return [m for v in tree if v is not None for m in _leaves(v)]
    return []


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_messages_as_dp_check(api, ctx, dp_check, case):
    """The entity the Admin API refuses, put in a declarative file, is refused by
    `tollgate-dp --check` with the same messages (one validation code for both)."""
    import json
    cid, path, body, *_ = case
    if path in TOP_LEVEL:
        doc = {"_format_version": "3.0", TOP_LEVEL[path]: [body]}
        prefix = TOP_LEVEL[path] + "[0]"
    else:
        parent, child, pbody = NESTED[path]
        doc = {"_format_version": "3.0", parent: [dict(pbody, **{child: [body]})]}
        prefix = f"{parent}[0].{child}[0]"
    rc, _, err = dp_check(json.dumps(doc), "case.json")
    assert rc == 1, err
    dp = sorted(line.split(": ", 1)[1] for line in err.splitlines()
                if line.startswith(prefix) and ": " in line)
    got = expect(api.post(path.format(**ctx), json=body), 400)
    assert sorted(_leaves(got["fields"])) == dp


def test_plugin_protocols_must_match_the_route(api):
    rt = api.route(protocols=["http"])
    expect(api.post(f"/routes/{rt['id']}/plugins", json={"name": "key-auth",
                                                        "protocols": ["grpc"]}), 400,
           schema_violation({"protocols": "must match the associated route's protocols"},
                            "protocols: must match the associated route's protocols"))
    s = api.service()
    api.route(service={"id": s["id"]}, protocols=["http"])
    expect(api.post(f"/services/{s['id']}/plugins", json={"name": "key-auth",
                                                         "protocols": ["grpcs"]}), 400,
           schema_violation({"protocols": "must match the protocols of at least one route "
                                          "pointing to this Plugin's service"},
                            "protocols: must match the protocols of at least one route "
                            "pointing to this Plugin's service"))
    assert expect(api.get(f"/routes/{rt['id']}/plugins"), 200)["data"] == []


def test_sni_certificate_path_is_disabled(api):
    # Kong disables /snis/{sni}/certificate (use /certificates/{sni name})
    cert, key = make_cert("val-sni.test")
    name = uniq("dis") + ".test"
    api.create("/certificates", {"cert": cert, "key": key, "snis": [name]})
    expect(api.get(f"/snis/{name}/certificate"), 404, NOT_FOUND)


def test_grpc_route_strip_path_defaults_to_false(api):
    r = expect(api.post("/routes", json={"protocols": ["grpc"], "paths": ["/" + uniq("g")]}),
               201)
    assert r["strip_path"] is False
    h = expect(api.post("/routes", json={"paths": ["/" + uniq("h")]}), 201)
    assert h["strip_path"] is True


# from Kong's spec/01-unit/01-db/01-schema/06-routes_spec.lua ("hosts attribute")
INVALID_HOSTS = ["/example", ".example", "example.", "example:", "mock;bin", "example.com/org",
                 "example-.org", "example.org-", "hello..example.com", "hello-.example.com"]
VALID_HOSTS = ["hello.com", "hello.fr", "test.hello.com", "1991.io", "hello.COM", "HELLO.com",
               "123helloWORLD.com", "example.123", "example-api.com", "hello.abcd",
               "example_api.com", "localhost", "example.com:80", "example.com:8080",
               # punycode (RFC 3492) labels may start with a dash
               "3B-ww4c5e180e575a65lsy2b", "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n",
               "Hello-Another-Way--fc4qua05auwb3674vfr0b", "2-u9tlzr9756bt3uc0v",
               "MajiKoi5-783gue6qz075azm5e", "de-jg4avhby1noc0d", "d9juau41awczczp",
               "example.*", "*.example.org", "*.example.org:321"]


@pytest.mark.parametrize("host", INVALID_HOSTS)
def test_route_invalid_hostnames(api, host):
    expect(api.post("/routes", json={"hosts": [host]}), 400,
           schema_violation({"hosts": [f"invalid hostname: {host}"]},
                            f"hosts.1: invalid hostname: {host}"))


def test_route_valid_hostnames(api):
    refused = {}
    for host in VALID_HOSTS:
        r = api.post("/routes", json={"hosts": [host]})
        if r.status_code != 201:
            refused[host] = r.json().get("message")
    assert not refused, refused


def test_service_and_upstream_valid_hostnames(api):
    # services.host (validate_host) and upstreams.name (validate_name) go through the same
    # check_hostname as route hosts
    refused = {}
    for host in VALID_HOSTS:
        if "*" in host or ":" in host:
            continue
        r = api.post("/services", json={"host": host})
        if r.status_code != 201:
            refused["service " + host] = r.json().get("message")
        r = api.post("/upstreams", json={"name": host + "-" + uniq("u")})
        if r.status_code != 201:
            refused["upstream " + host] = r.json().get("message")
    assert not refused, refused


@pytest.mark.parametrize("protocols,sets", [
    (["http", "tcp"], "('http', 'https'), ('tcp', 'tls', 'udp')"),
    (["https", "tls"], "('http', 'https'), ('tcp', 'tls', 'udp')"),
    (["grpc", "http"], "('http', 'https'), ('grpc', 'grpcs')"),
    (["tls_passthrough", "tls"], "('tcp', 'tls', 'udp'), ('tls_passthrough')"),
])
def test_route_protocol_sets_are_exclusive(api, protocols, sets):
    msg = f"these sets are mutually exclusive: {sets}"
    expect(api.post("/routes", json={"protocols": protocols, "paths": ["/"]}), 400,
           schema_violation({"protocols": msg}, f"protocols: {msg}"))
