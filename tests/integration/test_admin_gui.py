"""What Kong Manager needs from the Admin API (shared/reference/admin-gui.md): CORS on every
answer (the request's Origin echoed, credentials allowed) and OPTIONS preflights with the
route's methods; GET / with the fields the UI reads; lists with `sort_desc`/`size`; PATCH
accepting the whole stored row (id, created_at, updated_at) as the UI sends it."""
import pytest

from test_admin_common import (  # noqa: F401  (api is a fixture)
    NOT_FOUND, api, expect, uniq)

ORIGIN = "http://127.0.0.1:8002"


def cors_ok(r, origin=ORIGIN):
    assert r.headers.get("Access-Control-Allow-Origin") == origin, dict(r.headers)
    assert r.headers.get("Access-Control-Allow-Credentials") == "true", dict(r.headers)


def test_cors_on_success_and_errors(api):
    h = {"Origin": ORIGIN}
    cors_ok(api.get("/services", headers=h))
    cors_ok(api.get("/", headers=h))
    s = api.service()
    cors_ok(api.get(f"/services/{s['id']}", headers=h))
    # error answers carry the headers too, or the UI cannot show Kong's message
    r = api.get(f"/services/{uniq('none')}", headers=h)
    assert r.status_code == 404
    cors_ok(r)
    r = api.post("/services", json={"port": 1}, headers=h)
    assert r.status_code == 400
    cors_ok(r)
    r = api.post("/services", json={"name": s["name"], "host": "x.test"}, headers=h)
    assert r.status_code == 409
    cors_ok(r)
    r = api.post("/services", data="{bad", headers=dict(h, **{"Content-Type":
                                                               "application/json"}))
    assert r.status_code == 400
    cors_ok(r)
    cors_ok(api.patch(f"/services/{s['id']}", json={"port": 81}, headers=h))
    r = api.delete(f"/services/{s['id']}", headers=h)
    assert r.status_code == 204
    cors_ok(r)


def test_cors_other_origin_is_echoed(api):
    cors_ok(api.get("/services", headers={"Origin": "https://gui.example.test"}),
            "https://gui.example.test")


def test_cors_without_origin_is_star(api):
    r = api.get("/services")
    assert r.headers.get("Access-Control-Allow-Origin") == "*"
    assert r.headers.get("Access-Control-Allow-Credentials") == "true"


@pytest.mark.parametrize("path,methods", [
    ("/services", "GET, HEAD, OPTIONS, POST"),
    ("/services/{sid}", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
    ("/routes", "GET, HEAD, OPTIONS, POST"),
    ("/services/{sid}/routes", "GET, HEAD, OPTIONS, POST"),
    ("/consumers/{cid}/key-auth", "GET, HEAD, OPTIONS, POST"),
    ("/plugins/enabled", "GET, HEAD, OPTIONS"),
    ("/schemas/plugins/key-auth", "GET, HEAD, OPTIONS"),
    ("/", "GET, HEAD, OPTIONS"),
])
def test_preflight(api, path, methods):
    s = api.service()
    c = api.consumer()
    path = path.format(sid=s["id"], cid=c["id"])
    r = api.options(path, headers={"Origin": ORIGIN,
                                   "Access-Control-Request-Method": "POST",
                                   "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert r.headers.get("Allow") == methods
    assert r.headers.get("Access-Control-Allow-Methods") == methods
    assert r.headers.get("Access-Control-Allow-Headers") == "content-type"
    cors_ok(r)
    assert "Access-Control-Max-Age" not in r.headers


def test_preflight_default_allow_headers(api):
    r = api.options("/services", headers={"Origin": ORIGIN})
    assert r.status_code == 204
    assert r.headers.get("Access-Control-Allow-Headers") == "Content-Type"
    cors_ok(r)


def test_preflight_does_not_change_anything(api):
    before = expect(api.get("/services?size=1000"), 200)["data"]
    api.options("/services", headers={"Origin": ORIGIN}, json={"host": "opt.test"})
    assert expect(api.get("/services?size=1000"), 200)["data"] == before


def test_head_is_get_without_body(api):
    r = api.request("HEAD", "/services")
    assert r.status_code == 200 and r.content == b""


def test_root_fields_kong_manager_reads(api):
    api.create("/plugins", {"name": "key-auth", "service": {"id": api.service()["id"]}})
    body = expect(api.get("/"), 200)
    assert body["edition"] == "community"
    v = body["version"].split(".")
    assert len(v) >= 3 and all(p.isdigit() for p in v[:2]), body["version"]
    assert int(v[0]) == 3, "Kong Manager gates features on a 3.x version"
    assert isinstance(body["hostname"], str) and body["hostname"]
    assert body["tagline"] == "Welcome to kong"
    avail = body["plugins"]["available_on_server"]
    assert isinstance(avail, dict)
    for name in ("key-auth", "basic-auth", "rate-limiting", "cors", "acl", "jwt"):
        assert name in avail, name
        assert isinstance(avail[name]["priority"], int)
        assert "version" in avail[name]
    assert avail["key-auth"]["priority"] == 1250
    assert avail["rate-limiting"]["priority"] == 910
    enabled = body["plugins"]["enabled_in_cluster"]
    assert isinstance(enabled, list) and "key-auth" in enabled
    conf = body["configuration"]
    assert isinstance(conf["admin_listen"], list) and isinstance(conf["admin_listen"][0], str)
    assert conf["database"] == "postgres"
    for k in ("pg_host", "pg_port", "pg_user"):
        assert k in conf, k
    assert "pg_ssl" in conf and isinstance(conf["pg_ssl"], bool)
    assert isinstance(conf["role"], str)
    assert conf.get("router_flavor") != "expressions"
    for k in ("proxy_listeners", "admin_gui_listeners"):
        assert isinstance(conf.get(k), list), k
    assert "pg_password" not in conf or conf["pg_password"] in ("******", None)


def test_enabled_in_cluster_lists_configured_plugins(api):
    c = api.consumer()
    api.create(f"/consumers/{c['id']}/plugins", {"name": "request-termination"})
    enabled = expect(api.get("/"), 200)["plugins"]["enabled_in_cluster"]
    assert "request-termination" in enabled
    # only plugins that are configured somewhere (none of this module's is hmac-auth)
    assert "hmac-auth" not in enabled


def test_list_as_kong_manager_asks(api):
    for _ in range(3):
        api.service()
    page = expect(api.get("/services?sort_desc=1&size=2"), 200)
    assert len(page["data"]) == 2 and isinstance(page["offset"], str)
    nxt = expect(api.get(page["next"]), 200)
    assert not {e["id"] for e in nxt["data"]} & {e["id"] for e in page["data"]}
    for col in ("name", "protocol", "host", "port", "path", "enabled", "tags", "updated_at",
                "created_at", "id"):
        assert col in page["data"][0]
    assert isinstance(page["data"][0]["created_at"], int)


def test_service_form_create(api):
    n = uniq("gui")
    body = {"name": n, "tags": None, "read_timeout": 60000, "retries": 5,
            "connect_timeout": 60000, "ca_certificates": None, "client_certificate": None,
            "write_timeout": 60000, "port": 9, "url": "http://127.0.0.1:9/example",
            "enabled": True}
    s = expect(api.post("/services", json=body), 201)
    assert (s["protocol"], s["host"], s["port"], s["path"]) == ("http", "127.0.0.1", 9,
                                                                "/example")


def test_service_toggle_patches_whole_row(api):
    s = api.service(port=8080, path="/test")
    row = expect(api.get(f"/services/{s['id']}"), 200)
    row["enabled"] = False
    p = expect(api.patch(f"/services/{s['id']}", json=row), 200)
    assert p["enabled"] is False and p["id"] == s["id"]
    assert p["created_at"] == s["created_at"]
    assert p["updated_at"] >= s["updated_at"]
    for k in ("name", "host", "port", "path", "retries", "protocol"):
        assert p[k] == s[k]
    expect(api.get(f"/services/{s['id']}"), 200, p)
    # and back, again with the whole (new) row
    p["enabled"] = True
    q = expect(api.patch(f"/services/{s['id']}", json=p), 200)
    assert q["enabled"] is True


def test_service_edit_form_patch(api):
    s = api.service()
    body = {k: s[k] for k in ("name", "protocol", "host", "port", "path", "retries",
                              "connect_timeout", "read_timeout", "write_timeout", "tags",
                              "enabled", "client_certificate", "tls_verify",
                              "tls_verify_depth", "ca_certificates")}
    body["host"] = "edited.test"
    p = expect(api.patch(f"/services/{s['id']}", json=body), 200)
    assert p["host"] == "edited.test"


def test_route_and_plugin_toggle_whole_row(api):
    svc = api.service()
    r = expect(api.post(f"/services/{svc['id']}/routes", json={
        "name": uniq("gr"), "protocols": ["http", "https"], "tags": [],
        "service": {"id": svc["id"]}, "https_redirect_status_code": 426, "strip_path": True,
        "preserve_host": False, "request_buffering": True, "response_buffering": True,
        "methods": None, "hosts": None, "paths": ["/example-gui"], "headers": None,
        "regex_priority": 0, "path_handling": "v0", "sources": None, "destinations": None,
        "snis": None}), 201)
    row = dict(r, strip_path=False)
    p = expect(api.patch(f"/routes/{r['id']}", json=row), 200)
    assert p["strip_path"] is False and p["id"] == r["id"]
    plug = api.create(f"/routes/{r['id']}/plugins", {"name": "cors"})
    row = dict(plug, enabled=False)
    q = expect(api.patch(f"/plugins/{plug['id']}", json=row), 200)
    assert q["enabled"] is False and q["config"] == plug["config"]
    # the scoped path, as the plugin tab of a route sends it
    row = dict(q, enabled=True)
    q2 = expect(api.patch(f"/routes/{r['id']}/plugins/{plug['id']}", json=row), 200)
    assert q2["enabled"] is True
    # consumer rows too
    c = api.consumer()
    cr = expect(api.patch(f"/consumers/{c['id']}", json=dict(c, custom_id="gui-cid-" + uniq())),
                200)
    assert cr["custom_id"].startswith("gui-cid-")


def test_patch_row_with_another_id_never_touches_the_other(api):
    a = api.service()
    b = api.service()
    row = dict(a, id=b["id"], port=1234)
    r = api.patch(f"/services/{a['id']}", json=row)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert isinstance(r.json().get("message"), str)
        expect(api.get(f"/services/{a['id']}"), 200, a)
    else:
        assert r.json()["id"] == a["id"]
    expect(api.get(f"/services/{b['id']}"), 200, b)


def test_credential_schemas_for_forms(api):
    for e in ("keyauth_credentials", "basicauth_credentials", "acls", "hmacauth_credentials",
              "jwt_secrets"):
        body = expect(api.get(f"/schemas/{e}"), 200)
        assert isinstance(body["fields"], list) and body["fields"]


def test_filter_is_get_by_name_or_404(api):
    s = api.service()
    expect(api.get(f"/services/{s['name']}"), 200, s)
    expect(api.get(f"/services/{s['name']}-nope"), 404, NOT_FOUND)


def test_cors_with_configured_gui_origins(cp_factory):
    from test_admin_common import api_for
    plane = cp_factory(args=["--admin-gui-url", "http://gui-a.test:8002,http://gui-b.test:8002"])
    a = api_for(plane)
    cors_ok(a.get("/services", headers={"Origin": "http://gui-b.test:8002"}),
            "http://gui-b.test:8002")
    # an origin not configured gets the first configured one (the browser then refuses)
    cors_ok(a.get("/services", headers={"Origin": "http://evil.test"}),
            "http://gui-a.test:8002")
    r = a.options("/services", headers={"Origin": "http://gui-a.test:8002"})
    assert r.status_code == 204
    cors_ok(r, "http://gui-a.test:8002")


def _defaults(fields):
    """A config record as Kong Manager's form builds it from the schema: every field, its
    default or null, nested records filled the same way."""
    out = {}
    for f in fields:
        (name, spec), = f.items()
        if spec.get("type") == "record" and "fields" in spec:
            out[name] = _defaults(spec["fields"])
        else:
            out[name] = spec.get("default")
    return out


@pytest.mark.parametrize("plugin,extra", [
    ("key-auth", {}), ("basic-auth", {}), ("cors", {}), ("request-termination", {}),
    ("rate-limiting", {"minute": 10}), ("acl", {"allow": ["gold"]}),
    ("ip-restriction", {"allow": ["10.0.0.0/8"]}), ("jwt", {}), ("hmac-auth", {}),
    ("request-transformer", {}), ("response-transformer", {}), ("correlation-id", {}),
])
def test_plugin_form_posts_every_field(api, plugin, extra):
    schema = expect(api.get(f"/schemas/plugins/{plugin}"), 200)
    top = {next(iter(f)): f[next(iter(f))] for f in schema["fields"]}
    config = _defaults(top["config"]["fields"])
    config.update(extra)
    svc = api.service()
    body = {"name": plugin, "instance_name": None, "config": config,
            "protocols": top["protocols"].get("default", ["grpc", "grpcs", "http", "https"]),
            "enabled": True, "tags": None, "service": {"id": svc["id"]}, "route": None,
            "consumer": None}
    p = expect(api.post(f"/services/{svc['id']}/plugins", json=body), 201)
    assert p["service"] == {"id": svc["id"]} and p["route"] is None
    for k, v in extra.items():
        assert p["config"][k] == v
    # the edit form sends the same shape back with PATCH
    body["config"] = p["config"]
    expect(api.patch(f"/plugins/{p['id']}", json=body), 200)
