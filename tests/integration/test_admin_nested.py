"""Nested Admin API endpoints as Kong 3.x generates them (kong/api/endpoints.lua): children
under a parent (by id or endpoint key), the parent through a child's foreign key, scoped
plugins, credentials under consumers, targets under upstreams, snis under certificates; the
cascades on delete; /plugins/enabled, /schemas, /tags, /status."""
import pytest

from test_admin_common import (  # noqa: F401  (api is a fixture)
    NOT_ALLOWED, NOT_FOUND, UUID_RE, api, expect, make_cert, new_id, uniq)


def ids(page):
    return sorted(e["id"] for e in page["data"])


@pytest.mark.parametrize("by", ["id", "name"])
def test_service_routes(api, by):
    s = api.service()
    other = api.service()
    key = s[by]
    p = "/" + uniq("nested")
    r1 = expect(api.post(f"/services/{key}/routes", json={"paths": [p]}), 201)
    assert r1["service"] == {"id": s["id"]}
    # the body may repeat the parent (Kong Manager does); the URL's parent is used
    r2 = expect(api.post(f"/services/{key}/routes",
                         json={"paths": [p + "2"], "service": {"id": s["id"]}}), 201)
    api.route(service={"id": other["id"]})
    page = expect(api.get(f"/services/{key}/routes"), 200)
    assert ids(page) == sorted([r1["id"], r2["id"]])
    assert page["next"] is None
    # a child through its parent; 404 through another parent
    expect(api.get(f"/services/{key}/routes/{r1['id']}"), 200, r1)
    expect(api.get(f"/services/{other['id']}/routes/{r1['id']}"), 404, NOT_FOUND)
    pr = expect(api.patch(f"/services/{key}/routes/{r1['id']}", json={"methods": ["GET"]}), 200)
    assert pr["methods"] == ["GET"] and pr["service"] == {"id": s["id"]}
    expect(api.delete(f"/services/{key}/routes/{r1['id']}"), 204)
    expect(api.get(f"/routes/{r1['id']}"), 404, NOT_FOUND)
    # under a missing parent
    expect(api.get(f"/services/{uniq('nosvc')}/routes"), 404, NOT_FOUND)
    expect(api.post(f"/services/{new_id()}/routes", json={"paths": ["/x"]}), 404, NOT_FOUND)


def test_route_service_foreign_endpoint(api):
    s = api.service()
    rt = api.route(service={"id": s["id"]})
    expect(api.get(f"/routes/{rt['id']}/service"), 200, s)
    expect(api.get(f"/routes/{rt['name']}/service"), 200, s)
    p = expect(api.patch(f"/routes/{rt['id']}/service", json={"port": 8081}), 200)
    assert p["id"] == s["id"] and p["port"] == 8081
    expect(api.get(f"/services/{s['id']}"), 200, p)
    # a route without a service: 404
    lone = api.route()
    expect(api.get(f"/routes/{lone['id']}/service"), 404, NOT_FOUND)
    expect(api.delete(f"/routes/{rt['id']}/service"), 405, NOT_ALLOWED)


@pytest.mark.parametrize("scope", ["services", "routes", "consumers"])
def test_scoped_plugins(api, scope):
    if scope == "services":
        parent = api.service()
        key = parent["name"]
    elif scope == "routes":
        parent = api.route()
        key = parent["name"]
    else:
        parent = api.consumer()
        key = parent["username"]
    field = scope[:-1]
    p = expect(api.post(f"/{scope}/{key}/plugins",
                        json={"name": "rate-limiting", "config": {"minute": 5}}), 201)
    assert p[field] == {"id": parent["id"]}
    for other in {"service", "route", "consumer"} - {field}:
        assert p[other] is None
    assert p["config"]["minute"] == 5
    page = expect(api.get(f"/{scope}/{parent['id']}/plugins"), 200)
    assert ids(page) == [p["id"]]
    expect(api.get(f"/{scope}/{key}/plugins/{p['id']}"), 200, p)
    q = expect(api.patch(f"/{scope}/{key}/plugins/{p['id']}",
                         json={"config": {"hour": 50}}), 200)
    assert q["config"]["minute"] == 5 and q["config"]["hour"] == 50
    # the same plugin twice on one scope: 409
    r = api.post(f"/{scope}/{key}/plugins", json={"name": "rate-limiting",
                                                  "config": {"minute": 1}})
    assert r.status_code == 409, r.text
    expect(api.delete(f"/{scope}/{key}/plugins/{p['id']}"), 204)
    expect(api.get(f"/plugins/{p['id']}"), 404, NOT_FOUND)


def test_plugins_addressed_by_instance_name(api):
    n = uniq("inst")
    p = api.create("/plugins", {"name": "request-termination", "instance_name": n,
                                "service": {"id": api.service()["id"]}})
    expect(api.get(f"/plugins/{n}"), 200, p)
    q = expect(api.patch(f"/plugins/{n}", json={"enabled": False}), 200)
    assert q["enabled"] is False and q["id"] == p["id"]
    expect(api.delete(f"/plugins/{n}"), 204)
    expect(api.get(f"/plugins/{p['id']}"), 404, NOT_FOUND)


@pytest.mark.parametrize("kind,plural,body,keyfield", [
    ("key-auth", "key-auths", {"key": "K"}, "key"),
    ("basic-auth", "basic-auths", {"username": "U", "password": "p"}, "username"),
    ("jwt", "jwts", {"key": "K"}, "key"),
    ("hmac-auth", "hmac-auths", {"username": "U"}, "username"),
    ("acls", "acls", {"group": "G"}, None),
])
def test_consumer_credentials(api, kind, plural, body, keyfield):
    c = api.consumer()
    other = api.consumer()

    def fresh():
        return {k: (uniq(v) if k in ("key", "username", "group") else v)
                for k, v in body.items()}

    for key in (c["id"], c["username"]):
        cred = expect(api.post(f"/consumers/{key}/{kind}", json=fresh()), 201)
        assert cred["consumer"] == {"id": c["id"]}
        page = expect(api.get(f"/consumers/{key}/{kind}"), 200)
        assert ids(page) == [cred["id"]]
        expect(api.get(f"/consumers/{key}/{kind}/{cred['id']}"), 200, cred)
        if keyfield:
            expect(api.get(f"/consumers/{key}/{kind}/{cred[keyfield]}"), 200, cred)
        # not found through another consumer
        expect(api.get(f"/consumers/{other['id']}/{kind}/{cred['id']}"), 404, NOT_FOUND)
        # top level, and the consumer behind the credential
        expect(api.get(f"/{plural}/{cred['id']}"), 200, cred)
        expect(api.get(f"/{plural}/{cred['id']}/consumer"), 200, c)
        expect(api.delete(f"/{plural}/{cred['id']}/consumer"), 405, NOT_ALLOWED)
        expect(api.delete(f"/consumers/{key}/{kind}/{cred['id']}"), 204)
        expect(api.get(f"/{plural}/{cred['id']}"), 404, NOT_FOUND)
    # the top-level list shows credentials of every consumer, the nested one only its own
    a = expect(api.post(f"/consumers/{c['id']}/{kind}", json=fresh()), 201)
    b = expect(api.post(f"/consumers/{other['id']}/{kind}", json=fresh()), 201)
    all_ids = [e["id"] for e in expect(api.get(f"/{plural}?size=1000"), 200)["data"]]
    assert a["id"] in all_ids and b["id"] in all_ids
    assert ids(expect(api.get(f"/consumers/{c['id']}/{kind}"), 200)) == [a["id"]]
    # under a missing consumer
    expect(api.get(f"/consumers/{uniq('nobody')}/{kind}"), 404, NOT_FOUND)


def test_acl_addressed_by_group_under_consumer(api):
    c = api.consumer()
    g = uniq("gold")
    acl = expect(api.post(f"/consumers/{c['username']}/acls", json={"group": g}), 201)
    expect(api.get(f"/consumers/{c['username']}/acls/{g}"), 200, acl)
    # the same group twice for one consumer: 409
    r = api.post(f"/consumers/{c['username']}/acls", json={"group": g})
    assert r.status_code == 409, r.text
    # PUT by group name creates a missing group
    g2 = uniq("silver")
    made = expect(api.put(f"/consumers/{c['username']}/acls/{g2}", json={}), 200)
    assert made["group"] == g2 and made["consumer"] == {"id": c["id"]}
    expect(api.delete(f"/consumers/{c['username']}/acls/{g}"), 204)
    left = expect(api.get(f"/consumers/{c['id']}/acls"), 200)
    assert [e["group"] for e in left["data"]] == [g2]


def test_upstream_targets_nested(api):
    up = api.upstream()
    t = expect(api.post(f"/upstreams/{up['name']}/targets", json={"target": "10.1.1.1"}), 201)
    assert t["target"] == "10.1.1.1:8000" and t["upstream"] == {"id": up["id"]}
    page = expect(api.get(f"/upstreams/{up['name']}/targets"), 200)
    assert ids(page) == [t["id"]]
    expect(api.get(f"/upstreams/{up['id']}/targets/10.1.1.1:8000"), 200, t)
    expect(api.get(f"/upstreams/{uniq('noup')}.test/targets"), 404, NOT_FOUND)
    for method in ("PUT", "PATCH", "DELETE"):
        expect(api.request(method, f"/upstreams/{up['id']}/targets", json={}), 405,
               NOT_ALLOWED)


def test_certificate_snis_nested(api):
    cert, key = make_cert("nested-sni.test")
    c = api.create("/certificates", {"cert": cert, "key": key})
    n = uniq("n") + ".test"
    s = expect(api.post(f"/certificates/{c['id']}/snis", json={"name": n}), 201)
    assert s["certificate"] == {"id": c["id"]}
    page = expect(api.get(f"/certificates/{c['id']}/snis"), 200)
    assert [e["name"] for e in page["data"]] == [n]
    assert expect(api.get(f"/certificates/{c['id']}"), 200)["snis"] == [n]
    # the same name on another certificate: 409
    c2 = api.create("/certificates", {"cert": cert, "key": key})
    r = api.post(f"/certificates/{c2['id']}/snis", json={"name": n})
    assert r.status_code == 409, r.text
    r = api.post("/certificates", json={"cert": cert, "key": key, "snis": [n]})
    assert r.status_code == 400 and r.json()["fields"] == {
        "snis": f"{n} already associated with existing certificate '{c['id']}'"}, r.text


def test_consumer_delete_removes_credentials_and_plugins(api):
    c = api.consumer()
    creds = [
        ("key-auths", api.create(f"/consumers/{c['id']}/key-auth", {})),
        ("basic-auths", api.create(f"/consumers/{c['id']}/basic-auth",
                                   {"username": uniq("b"), "password": "x"})),
        ("jwts", api.create(f"/consumers/{c['id']}/jwt", {})),
        ("hmac-auths", api.create(f"/consumers/{c['id']}/hmac-auth", {"username": uniq("h")})),
        ("acls", api.create(f"/consumers/{c['id']}/acls", {"group": "g"})),
        ("plugins", api.create(f"/consumers/{c['id']}/plugins",
                               {"name": "rate-limiting", "config": {"minute": 1}})),
    ]
    expect(api.delete(f"/consumers/{c['username']}"), 204)
    for plural, e in creds:
        expect(api.get(f"/{plural}/{e['id']}"), 404, NOT_FOUND)


def test_route_delete_removes_its_plugins(api):
    rt = api.route()
    p = api.create(f"/routes/{rt['id']}/plugins", {"name": "key-auth"})
    keep = api.create("/plugins", {"name": "key-auth", "service": {"id": api.service()["id"]}})
    expect(api.delete(f"/routes/{rt['id']}"), 204)
    expect(api.get(f"/plugins/{p['id']}"), 404, NOT_FOUND)
    expect(api.get(f"/plugins/{keep['id']}"), 200, keep)


def test_service_delete_removes_its_plugins(api):
    s = api.service()
    p = api.create(f"/services/{s['id']}/plugins", {"name": "key-auth"})
    expect(api.delete(f"/services/{s['id']}"), 204)
    expect(api.get(f"/plugins/{p['id']}"), 404, NOT_FOUND)


def test_upstream_delete_removes_targets(api):
    up = api.upstream()
    t = api.create(f"/upstreams/{up['id']}/targets", {"target": "10.2.2.2:80"})
    expect(api.delete(f"/upstreams/{up['name']}"), 204)
    expect(api.get(f"/upstreams/{up['id']}/targets/{t['id']}"), 404, NOT_FOUND)
    # the same upstream name can be created again, with no target left behind
    again = api.upstream(name=up["name"])
    assert expect(api.get(f"/upstreams/{again['id']}/targets"), 200)["data"] == []


def test_plugins_enabled(api):
    body = expect(api.get("/plugins/enabled"), 200)
    assert set(body) == {"enabled_plugins"}
    names = body["enabled_plugins"]
    for n in ("key-auth", "basic-auth", "jwt", "hmac-auth", "acl", "cors", "rate-limiting",
              "request-termination", "request-transformer", "ip-restriction"):
        assert n in names
    assert len(names) == len(set(names))


@pytest.mark.parametrize("entity", ["services", "routes", "consumers", "plugins", "upstreams",
                                    "targets", "certificates", "snis", "ca_certificates",
                                    "keyauth_credentials", "basicauth_credentials",
                                    "jwt_secrets", "hmacauth_credentials", "acls"])
def test_schemas_entity(api, entity):
    body = expect(api.get(f"/schemas/{entity}"), 200)
    assert isinstance(body["fields"], list)
    names = [next(iter(f)) for f in body["fields"]]
    assert "id" in names
    if entity == "services":
        host = [f["host"] for f in body["fields"] if "host" in f][0]
        assert host["required"] is True and host["type"] == "string"
        port = [f["port"] for f in body["fields"] if "port" in f][0]
        assert port["default"] == 80 and port["between"] == [0, 65535]
    if entity == "routes":
        assert "entity_checks" in body or any("protocols" in f for f in body["fields"])


def test_schemas_errors(api):
    expect(api.get("/schemas/nope"), 404, {"message": "No entity named 'nope'"})
    expect(api.get("/schemas/plugins/nope"), 404, {"message": "No plugin named 'nope'"})


def test_schemas_plugin(api):
    body = expect(api.get("/schemas/plugins/rate-limiting"), 200)
    fields = {next(iter(f)): f[next(iter(f))] for f in body["fields"]}
    assert "config" in fields
    config = {next(iter(f)): f[next(iter(f))] for f in fields["config"]["fields"]}
    assert config["minute"]["type"] == "number"
    assert config["policy"]["default"] == "local"
    ka = expect(api.get("/schemas/plugins/key-auth"), 200)
    kfields = {next(iter(f)): f[next(iter(f))] for f in ka["fields"]}
    kconfig = {next(iter(f)): f[next(iter(f))] for f in kfields["config"]["fields"]}
    assert kconfig["key_names"]["default"] == ["apikey"]


def test_tags_endpoint(api):
    tag = uniq("tagged")
    s = api.service(tags=[tag, "x-other"])
    c = api.consumer(tags=[tag])
    api.consumer(tags=["not-" + tag])
    page = expect(api.get(f"/tags/{tag}"), 200)
    got = sorted((e["entity_name"], e["entity_id"], e["tag"]) for e in page["data"])
    assert got == sorted([("services", s["id"], tag), ("consumers", c["id"], tag)])
    assert expect(api.get(f"/tags/{uniq('none')}"), 200)["data"] == []
    whole = expect(api.get("/tags?size=1000"), 200)
    assert {"tag": tag, "entity_name": "services", "entity_id": s["id"]} in whole["data"]


def test_status(api):
    body = expect(api.get("/status"), 200)
    assert body["database"] == {"reachable": True}
    for k in ("connections_active", "connections_reading", "connections_writing",
              "connections_waiting", "connections_accepted", "connections_handled",
              "total_requests"):
        assert isinstance(body["server"][k], int), k
    assert body["server"]["total_requests"] >= 1


def test_root(api):
    body = expect(api.get("/"), 200)
    assert body["tagline"] == "Welcome to kong"
    assert UUID_RE.match(body["node_id"])
    assert isinstance(body["version"], str) and body["version"][:1].isdigit()


def test_put_route_service_creates_and_links(api):
    rt = api.route()
    s = expect(api.put(f"/routes/{rt['id']}/service", json={"host": "linked.test"}), 200)
    assert s["host"] == "linked.test"
    assert expect(api.get(f"/routes/{rt['id']}"), 200)["service"] == {"id": s["id"]}
    expect(api.get(f"/routes/{rt['id']}/service"), 200, s)


def test_tags_endpoint_errors_and_ignored_filter(api):
    r = api.get("/tags/%FF")
    assert r.status_code == 400, r.text
    assert "invalid utf-8" in r.json()["message"]
    t = uniq("tg")
    api.consumer(tags=[t])
    page = expect(api.get(f"/tags/{t}?tags=not_a_tag"), 200)
    assert len(page["data"]) == 1


def test_plugin_config_defaults_are_returned(api):
    p = api.create("/plugins", {"name": "key-auth", "route": {"id": api.route()["id"]}})
    cfg = p["config"]
    assert cfg["key_names"] == ["apikey"]
    assert (cfg["hide_credentials"], cfg["key_in_header"], cfg["key_in_query"],
            cfg["key_in_body"], cfg["run_on_preflight"]) == (False, True, True, False, True)
    assert cfg["anonymous"] is None
    assert p["protocols"] == ["grpc", "grpcs", "http", "https"]
    assert p["enabled"] is True and p["instance_name"] is None


def test_route_unlinked_and_relinked_by_patch(api):
    s = api.service()
    rt = api.route(service={"id": s["id"]}, headers={"x-version": ["v1", "v2"]})
    assert rt["headers"] == {"x-version": ["v1", "v2"]}
    p = expect(api.patch(f"/routes/{rt['id']}", json={"service": None}), 200)
    assert p["service"] is None
    assert expect(api.get(f"/services/{s['id']}/routes"), 200)["data"] == []
    p = expect(api.patch(f"/routes/{rt['id']}", json={"service": {"name": s["name"]}}), 200)
    assert p["service"] == {"id": s["id"]}
    # the service can be deleted only once nothing points at it
    expect(api.delete(f"/services/{s['id']}"), 400)
    expect(api.patch(f"/routes/{rt['id']}", json={"service": None}), 200)
    expect(api.delete(f"/services/{s['id']}"), 204)


def test_rename_by_patch(api):
    s = api.service()
    new = uniq("renamed")
    expect(api.patch(f"/services/{s['name']}", json={"name": new}), 200)
    assert expect(api.get(f"/services/{new}"), 200)["id"] == s["id"]
    expect(api.get(f"/services/{s['name']}"), 404, NOT_FOUND)


def test_plugin_of_another_scope_not_found_through_this_one(api):
    a, b = api.service(), api.service()
    p = api.create(f"/services/{a['id']}/plugins", {"name": "cors"})
    expect(api.get(f"/services/{b['id']}/plugins/{p['id']}"), 404, NOT_FOUND)
    expect(api.patch(f"/services/{b['id']}/plugins/{p['id']}", json={"enabled": False}), 404)
    r = api.delete(f"/services/{b['id']}/plugins/{p['id']}")
    # the plugin of service a must survive a DELETE through service b
    assert expect(api.get(f"/plugins/{p['id']}"), 200)["enabled"] is True
    expect(r, 404, NOT_FOUND)
    # Kong's nested DELETE answers 404 for a child that does not exist (not 204)
    expect(api.delete(f"/services/{a['id']}/plugins/{new_id()}"), 404, NOT_FOUND)
    # and DELETE of a route's service is 404 when the route has none (405 otherwise)
    expect(api.delete(f"/routes/{api.route()['id']}/service"), 404, NOT_FOUND)


def test_endpoints_listing(api):
    data = expect(api.get("/endpoints"), 200)["data"]
    assert data == sorted(data)
    for p in ("/", "/services", "/services/{services}", "/services/{services}/routes",
              "/routes/{routes}/service", "/consumers/{consumers}/key-auth", "/plugins/enabled",
              "/schemas/{name}" if "/schemas/{name}" in data else "/schemas/{db_entity_name}",
              "/config", "/tags/{tags}", "/status"):
        assert p in data, p


def test_schema_validate_endpoints(api):
    n = uniq("val")
    expect(api.post("/schemas/services/validate", json={"name": n, "host": "v.test"}), 200,
           {"message": "schema validation successful"})
    expect(api.get(f"/services/{n}"), 404, NOT_FOUND)
    r = api.post("/schemas/services/validate", json={"host": "v.test", "port": 70000})
    expect(r, 400)
    assert r.json()["fields"] == {"port": "value should be between 0 and 65535"}
    expect(api.post("/schemas/plugins/validate",
                    json={"name": "rate-limiting", "config": {"minute": 5}}), 200,
           {"message": "schema validation successful"})
    r = api.post("/schemas/plugins/validate", json={"name": "rate-limiting", "config": {}})
    expect(r, 400)
    assert r.json()["code"] == 2


def test_nested_put_upserts_under_the_parent(api):
    s = api.service()
    n = uniq("nput")
    r = expect(api.put(f"/services/{s['name']}/routes/{n}", json={"paths": ["/" + n]}), 200)
    assert r["name"] == n and r["service"] == {"id": s["id"]}
    again = expect(api.put(f"/services/{s['id']}/routes/{n}",
                           json={"paths": ["/" + n, "/more"]}), 200)
    assert again["id"] == r["id"] and again["paths"] == ["/" + n, "/more"]
    c = api.consumer()
    k = uniq("nkey")
    cred = expect(api.put(f"/consumers/{c['username']}/key-auth/{k}", json={}), 200)
    assert cred["key"] == k and cred["consumer"] == {"id": c["id"]}
    expect(api.get(f"/key-auths/{k}"), 200, cred)
