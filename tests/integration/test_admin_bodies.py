"""Request bodies as Kong's Admin API takes them (kong/api/arguments.lua): JSON,
application/x-www-form-urlencoded and multipart/form-data with Kong's key forms (`paths[]=`,
`paths[1]=`, repeated keys, `config.minute=`, `service.id=`), values coerced by the schema,
an empty value meaning null."""
import pytest

from test_admin_common import api, expect, schema_violation, uniq  # noqa: F401


def send(api, method, path, kind, pairs):
    """pairs: list of (key, value) sent as a form (kind 'form') or multipart ('multipart')."""
    if kind == "form":
        return api.request(method, path, data=pairs)
    r = api.request(method, path, files=[(k, (None, v)) for k, v in pairs])
    assert r.request.headers["Content-Type"].startswith("multipart/form-data")
    return r


KINDS = ["form", "multipart"]


@pytest.mark.parametrize("kind", KINDS)
def test_service_scalars_are_coerced(api, kind):
    n = uniq("form")
    s = expect(send(api, "POST", "/services", kind,
                    [("name", n), ("host", "form.test"), ("port", "8080"), ("retries", "2"),
                     ("enabled", "false"), ("tags", "a"), ("tags", "b")]), 201)
    assert s["name"] == n and s["port"] == 8080 and s["retries"] == 2
    assert s["enabled"] is False and s["tags"] == ["a", "b"]
    assert s["path"] is None


@pytest.mark.parametrize("kind", KINDS)
def test_url_shorthand_as_form(api, kind):
    s = expect(send(api, "POST", "/services", kind, [("url", "https://form.test:9443/x")]), 201)
    assert (s["protocol"], s["host"], s["port"], s["path"]) == ("https", "form.test", 9443,
                                                                "/x")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("style", ["brackets", "indexed", "repeated"])
def test_route_arrays(api, kind, style):
    a, b = "/" + uniq("a"), "/" + uniq("b")
    if style == "brackets":
        pairs = [("paths[]", a), ("paths[]", b), ("methods[]", "GET"), ("methods[]", "POST")]
    elif style == "indexed":
        pairs = [("paths[1]", a), ("paths[2]", b), ("methods[1]", "GET"), ("methods[2]", "POST")]
    else:
        pairs = [("paths", a), ("paths", b), ("methods", "GET"), ("methods", "POST")]
    r = expect(send(api, "POST", "/routes", kind, pairs + [("strip_path", "false"),
                                                          ("regex_priority", "3")]), 201)
    assert r["paths"] == [a, b]
    assert sorted(r["methods"]) == ["GET", "POST"]
    assert r["strip_path"] is False and r["regex_priority"] == 3


@pytest.mark.parametrize("kind", KINDS)
def test_single_value_for_an_array_field(api, kind):
    r = expect(send(api, "POST", "/routes", kind, [("hosts", "one.test")]), 201)
    assert r["hosts"] == ["one.test"]


@pytest.mark.parametrize("kind", KINDS)
def test_foreign_key_with_dotted_key(api, kind):
    s = api.service()
    r = expect(send(api, "POST", "/routes", kind,
                    [("paths[]", "/" + uniq("fk")), ("service.id", s["id"])]), 201)
    assert r["service"] == {"id": s["id"]}
    r2 = expect(send(api, "POST", "/routes", kind,
                     [("paths[]", "/" + uniq("fk")), ("service.name", s["name"])]), 201)
    assert r2["service"] == {"id": s["id"]}


@pytest.mark.parametrize("kind", KINDS)
def test_plugin_config_dotted(api, kind):
    s = api.service()
    p = expect(send(api, "POST", f"/services/{s['id']}/plugins", kind,
                    [("name", "rate-limiting"), ("config.minute", "5"), ("config.hour", "100"),
                     ("config.policy", "local"), ("config.hide_client_headers", "true")]), 201)
    assert p["config"]["minute"] == 5 and p["config"]["hour"] == 100
    assert p["config"]["policy"] == "local" and p["config"]["hide_client_headers"] is True
    k = expect(send(api, "POST", "/plugins", kind,
                    [("name", "key-auth"), ("route.id", api.route()["id"]),
                     ("config.key_names[1]", "apikey"), ("config.key_names[2]", "x-key")]), 201)
    assert k["config"]["key_names"] == ["apikey", "x-key"]


@pytest.mark.parametrize("kind", KINDS)
def test_empty_value_means_null(api, kind):
    s = expect(send(api, "POST", "/services", kind,
                    [("host", "null.test"), ("path", ""), ("name", "")]), 201)
    assert s["path"] is None and s["name"] is None
    s = api.service(path="/keep", tags=["x"])
    p = expect(send(api, "PATCH", f"/services/{s['id']}", kind, [("path", "")]), 200)
    assert p["path"] is None
    assert p["tags"] == ["x"] and p["host"] == s["host"]


@pytest.mark.parametrize("kind", KINDS)
def test_patch_and_put_with_form(api, kind):
    s = api.service()
    p = expect(send(api, "PATCH", f"/services/{s['name']}", kind,
                    [("protocol", "https"), ("port", "443")]), 200)
    assert p["protocol"] == "https" and p["port"] == 443 and p["id"] == s["id"]
    n = uniq("formput")
    u = expect(send(api, "PUT", f"/services/{n}", kind, [("host", "put.test")]), 200)
    assert u["name"] == n and u["host"] == "put.test"


@pytest.mark.parametrize("kind", KINDS)
def test_form_schema_errors_are_kong_errors(api, kind):
    expect(send(api, "POST", "/services", kind, [("host", "e.test"), ("port", "abc")]), 400,
           schema_violation({"port": "expected an integer"}, "port: expected an integer"))
    expect(send(api, "POST", "/routes", kind, [("paths[]", "nope")]), 400,
           schema_violation({"paths": ["should start with: / (fixed path) or ~/ (regex path)"]},
                            "paths.1: should start with: / (fixed path) or ~/ (regex path)"))


@pytest.mark.parametrize("kind", KINDS)
def test_credentials_as_form(api, kind):
    c = api.consumer()
    ba = expect(send(api, "POST", f"/consumers/{c['id']}/basic-auth", kind,
                     [("username", uniq("fu")), ("password", "pw")]), 201)
    assert ba["consumer"] == {"id": c["id"]} and ba["password"] != "pw"
    ka = expect(send(api, "POST", f"/consumers/{c['username']}/key-auth", kind,
                     [("key", "form-key-" + uniq())]), 201)
    assert ka["key"].startswith("form-key-")


def test_json_with_charset(api):
    r = api.post("/services", data=b'{"host":"charset.test"}',
                 headers={"Content-Type": "application/json; charset=utf-8"})
    assert expect(r, 201)["host"] == "charset.test"


def test_json_null_in_patch_removes(api):
    s = api.service(path="/p", tags=["t"])
    p = expect(api.patch(f"/services/{s['id']}", json={"path": None, "tags": None}), 200)
    assert p["path"] is None and p["tags"] is None


def test_arrays_replaced_wholesale_by_patch(api):
    r = api.route(paths=["/a1", "/a2"], methods=["GET", "POST"])
    p = expect(api.patch(f"/routes/{r['id']}", json={"paths": ["/b"]}), 200)
    assert p["paths"] == ["/b"] and p["methods"] == ["GET", "POST"]


def test_get_ignores_body(api):
    r = api.get("/services", data="this fails if decoded as json",
                headers={"Content-Type": "application/json"})
    expect(r, 200)


def test_unicode_names_roundtrip(api):
    n = "sérvice-ünïcode-" + uniq("u")
    s = expect(api.post("/services", json={"name": n, "host": "u.test"}), 201)
    assert s["name"] == n
    from urllib.parse import quote
    expect(api.get(f"/services/{quote(n)}"), 200, s)


def test_trailing_slash_tolerated(api):
    c = api.consumer()
    page = expect(api.get("/consumers/"), 200)
    assert isinstance(page["data"], list)
    expect(api.get(f"/consumers/{c['id']}/"), 200, c)


def test_certificate_upload_as_files_like_curl(api):
    # `curl -F cert=@cert.pem -F key=@key.pem -F snis[]=a.test :8001/certificates`
    from test_admin_common import make_cert
    cert, key = make_cert("upload.test")
    sni = uniq("up") + ".test"
    r = api.post("/certificates", files=[
        ("cert", ("cert.pem", cert.encode(), "application/x-pem-file")),
        ("key", ("key.pem", key.encode(), "application/octet-stream")),
        ("snis[]", (None, sni))])
    c = expect(r, 201)
    assert c["cert"] == cert and c["key"] == key and c["snis"] == [sni]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_bad_json_on_updates(api, method):
    s = api.service()
    r = api.request(method, f"/services/{s['id']}", data="{nope",
                    headers={"Content-Type": "application/json"})
    expect(r, 400, {"message": "Cannot parse JSON body"})
    expect(api.get(f"/services/{s['id']}"), 200, s)


@pytest.mark.parametrize("kind", KINDS)
def test_patch_plugin_config_as_form_merges(api, kind):
    s = api.service()
    p = api.create(f"/services/{s['id']}/plugins",
                   {"name": "rate-limiting", "config": {"minute": 10, "hour": 100}})
    q = expect(send(api, "PATCH", f"/plugins/{p['id']}", kind, [("config.minute", "20")]), 200)
    assert q["config"]["minute"] == 20 and q["config"]["hour"] == 100
    q = expect(send(api, "PATCH", f"/plugins/{p['id']}", kind, [("config.hour", "")]), 200)
    assert q["config"]["hour"] is None and q["config"]["minute"] == 20


def test_kong_getting_started_script(cp_factory):
    """The curl calls of Kong's "Get started" guide, as form posts, unchanged."""
    import requests
    plane = cp_factory()
    u = plane.url

    def curl(method, path, **data):
        return requests.request(method, u + path, data=data or None, timeout=30)

    s = expect(curl("POST", "/services", name="example_service",
                    url="http://httpbin.konghq.com"), 201)
    assert (s["host"], s["port"], s["protocol"], s["path"]) == ("httpbin.konghq.com", 80,
                                                                "http", None)
    r = expect(curl("POST", "/services/example_service/routes",
                    **{"paths[]": "/mock", "name": "example_route"}), 201)
    assert r["paths"] == ["/mock"] and r["service"] == {"id": s["id"]}
    p = expect(curl("POST", "/services/example_service/plugins", name="rate-limiting",
                    **{"config.minute": "5", "config.policy": "local"}), 201)
    assert p["config"]["minute"] == 5 and p["service"] == {"id": s["id"]}
    expect(curl("POST", "/plugins", name="proxy-cache",
                **{"config.request_method": "GET", "config.response_code": "200",
                   "config.content_type": "application/json; charset=utf-8",
                   "config.cache_ttl": "30", "config.strategy": "memory"}), 201)
    expect(curl("POST", "/routes/example_route/plugins", name="key-auth"), 201)
    c = expect(curl("POST", "/consumers/", username="luka"), 201)
    k = expect(curl("POST", "/consumers/luka/key-auth", key="top-secret-key"), 201)
    assert k["key"] == "top-secret-key" and k["consumer"] == {"id": c["id"]}
    up = expect(curl("POST", "/upstreams", name="example_upstream"), 201)
    t = expect(curl("POST", "/upstreams/example_upstream/targets",
                    target="httpbin.konghq.com:80"), 201)
    assert t["upstream"] == {"id": up["id"]}
    expect(curl("POST", "/upstreams/example_upstream/targets", target="httpstat.us:80"), 201)
    s2 = expect(curl("PATCH", "/services/example_service", host="example_upstream"), 200)
    assert s2["host"] == "example_upstream" and s2["port"] == 80
    assert len(expect(curl("GET", "/plugins"), 200)["data"]) == 3
