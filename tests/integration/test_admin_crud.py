"""Admin API CRUD for every entity as Kong 3.x does it: POST 201 with every field (defaults
filled, unset optionals null), GET by id and by endpoint key, list, PATCH merges, PUT replaces
(omitted fields back to defaults/null) and creates by id or endpoint key, DELETE 204 and
idempotent, then 404 {"message":"Not found"}. Plus unique/primary-key violations, the url
shorthand, config merges, and concurrent creates (one 201, one 409) and upserts of one name."""
import threading

import pytest

from test_admin_common import (  # noqa: F401  (api is a fixture)
    NOT_FOUND, UUID_RE, api, basic_auth_hash, cert_digest, expect, make_cert, new_id, uniq,
    unique_violation)


def _svc_defaults():
    return {"protocol": "http", "port": 80, "path": None, "retries": 5,
            "connect_timeout": 60000, "write_timeout": 60000, "read_timeout": 60000,
            "enabled": True, "tls_verify": None, "tls_verify_depth": None,
            "ca_certificates": None, "client_certificate": None}


# Each spec: coll (collection path), make(api) -> dict with the create body and context,
# key (endpoint-key field or None), defaults (checked after POST), patch (body, expected
# changes), put (body for PUT by id; fields expected reset afterwards), key_put (body for a
# PUT that creates by endpoint key).
def spec_services(api):
    n = uniq("svc")
    return dict(coll="/services", key="name",
                body={"name": n, "host": "crud.test", "retries": 3, "tags": [uniq("tag")]},
                defaults=dict(_svc_defaults(), retries=3, name=n, host="crud.test"),
                patch=({"port": 8080}, {"port": 8080, "retries": 3, "host": "crud.test"}),
                put=({"host": "other.test"},
                     {"host": "other.test", "retries": 5, "name": None, "tags": None,
                      "port": 80}),
                key_put=({"host": "byname.test"}, {"host": "byname.test"}))


def spec_routes(api):
    n = uniq("rt")
    p = "/" + uniq("crud")
    return dict(coll="/routes", key="name",
                body={"name": n, "paths": [p], "hosts": ["crud.test"], "tags": [uniq("tag")]},
                defaults={"name": n, "paths": [p], "hosts": ["crud.test"],
                          "protocols": ["http", "https"], "methods": None, "headers": None,
                          "snis": None, "sources": None, "destinations": None,
                          "strip_path": True, "preserve_host": False, "regex_priority": 0,
                          "https_redirect_status_code": 426, "path_handling": "v0",
                          "request_buffering": True, "response_buffering": True,
                          "service": None},
                patch=({"methods": ["GET", "POST"]},
                       {"methods": ["GET", "POST"], "paths": [p], "hosts": ["crud.test"]}),
                put=({"paths": ["/replaced"]},
                     {"paths": ["/replaced"], "hosts": None, "methods": None, "name": None,
                      "tags": None}),
                key_put=({"paths": ["/" + uniq("byname")]}, {}))


def spec_consumers(api):
    n = uniq("user")
    return dict(coll="/consumers", key="username",
                body={"username": n, "custom_id": uniq("cid"), "tags": [uniq("tag")]},
                defaults={"username": n},
                patch=({"custom_id": "patched-" + n}, {"custom_id": "patched-" + n,
                                                       "username": n}),
                put=({"username": n + "-put"},
                     {"username": n + "-put", "custom_id": None, "tags": None}),
                key_put=({"custom_id": uniq("cid")}, {}))


def spec_plugins(api):
    n = uniq("inst")
    svc = api.service()
    return dict(coll="/plugins", key="instance_name",
                body={"name": "request-termination", "instance_name": n,
                      "service": {"id": svc["id"]},
                      "config": {"status_code": 403}, "tags": [uniq("tag")]},
                defaults={"name": "request-termination", "instance_name": n,
                          "service": {"id": svc["id"]}, "route": None, "consumer": None,
                          "enabled": True, "protocols": ["grpc", "grpcs", "http", "https"]},
                patch=({"config": {"message": "go away"}},
                       {"enabled": True}),
                put=({"name": "request-termination", "service": {"id": svc["id"]},
                      "config": {"status_code": 404}},
                     {"instance_name": None, "tags": None}),
                key_put=({"name": "cors"}, {"name": "cors", "service": None}))


def spec_upstreams(api):
    n = uniq("up") + ".test"
    return dict(coll="/upstreams", key="name",
                body={"name": n, "slots": 100, "tags": [uniq("tag")]},
                defaults={"name": n, "algorithm": "round-robin", "hash_on": "none",
                          "hash_fallback": "none", "slots": 100, "hash_on_cookie_path": "/",
                          "hash_on_header": None, "hash_fallback_header": None,
                          "hash_on_cookie": None, "host_header": None,
                          "client_certificate": None, "use_srv_name": False},
                patch=({"host_header": "h.test"}, {"host_header": "h.test", "slots": 100}),
                put=({"name": n}, {"slots": 10000, "host_header": None, "tags": None}),
                key_put=({}, {"algorithm": "round-robin"}))


def spec_certificates(api):
    cert, key = make_cert("crud-cert.test")
    sni = uniq("sni") + ".test"
    return dict(coll="/certificates", key=None,
                body={"cert": cert, "key": key, "snis": [sni], "tags": [uniq("tag")]},
                defaults={"cert": cert, "key": key, "snis": [sni], "cert_alt": None,
                          "key_alt": None},
                patch=({"tags": ["patched"]}, {"tags": ["patched"], "cert": cert}),
                put=({"cert": cert, "key": key}, {"tags": None}),
                key_put=None)


def spec_snis(api):
    cert, key = make_cert("crud-sni.test")
    c = api.create("/certificates", {"cert": cert, "key": key})
    n = uniq("sni") + ".test"
    return dict(coll="/snis", key="name",
                body={"name": n, "certificate": {"id": c["id"]}, "tags": [uniq("tag")]},
                defaults={"name": n, "certificate": {"id": c["id"]}},
                patch=({"tags": ["patched"]}, {"tags": ["patched"], "name": n}),
                put=({"name": n, "certificate": {"id": c["id"]}}, {"tags": None}),
                key_put=({"certificate": {"id": c["id"]}}, {"certificate": {"id": c["id"]}}))


def spec_ca_certificates(api):
    cert, _ = make_cert("crud-ca.test", ca=True)
    return dict(coll="/ca_certificates", key=None,
                body={"cert": cert, "tags": [uniq("tag")]},
                defaults={"cert": cert, "cert_digest": cert_digest(cert)},
                patch=({"tags": ["patched"]}, {"tags": ["patched"],
                                               "cert_digest": cert_digest(cert)}),
                put=({"cert": cert}, {"tags": None}),
                key_put=None)


def spec_key_auths(api):
    c = api.consumer()
    k = uniq("key")
    return dict(coll="/key-auths", key="key",
                body={"consumer": {"id": c["id"]}, "key": k, "tags": [uniq("tag")]},
                defaults={"consumer": {"id": c["id"]}, "key": k},
                patch=({"key": k + "-2"}, {"key": k + "-2", "consumer": {"id": c["id"]}}),
                put=({"consumer": {"id": c["id"]}, "key": k + "-3"},
                     {"key": k + "-3", "tags": None}),
                key_put=({"consumer": {"id": c["id"]}}, {"consumer": {"id": c["id"]}}))


def spec_basic_auths(api):
    c = api.consumer()
    u = uniq("bu")
    return dict(coll="/basic-auths", key="username",
                body={"consumer": {"id": c["id"]}, "username": u, "password": "pw-1",
                      "tags": [uniq("tag")]},
                defaults={"consumer": {"id": c["id"]}, "username": u,
                          "password": basic_auth_hash("pw-1", c["id"])},
                patch=({"password": "pw-2"},
                       {"password": basic_auth_hash("pw-2", c["id"]), "username": u}),
                put=({"consumer": {"id": c["id"]}, "username": u, "password": "pw-3"},
                     {"password": basic_auth_hash("pw-3", c["id"]), "tags": None}),
                key_put=({"consumer": {"id": c["id"]}, "password": "pw-4"},
                         {"password": basic_auth_hash("pw-4", c["id"])}))


def spec_jwts(api):
    c = api.consumer()
    k = uniq("iss")
    return dict(coll="/jwts", key="key",
                body={"consumer": {"id": c["id"]}, "key": k, "tags": [uniq("tag")]},
                defaults={"consumer": {"id": c["id"]}, "key": k, "algorithm": "HS256",
                          "rsa_public_key": None},
                patch=({"secret": "s3cr3t"}, {"secret": "s3cr3t", "key": k}),
                put=({"consumer": {"id": c["id"]}, "key": k, "algorithm": "HS512"},
                     {"algorithm": "HS512", "tags": None}),
                key_put=({"consumer": {"id": c["id"]}}, {"algorithm": "HS256"}))


def spec_hmac_auths(api):
    c = api.consumer()
    u = uniq("hu")
    return dict(coll="/hmac-auths", key="username",
                body={"consumer": {"id": c["id"]}, "username": u, "tags": [uniq("tag")]},
                defaults={"consumer": {"id": c["id"]}, "username": u},
                patch=({"secret": "s3cr3t"}, {"secret": "s3cr3t", "username": u}),
                put=({"consumer": {"id": c["id"]}, "username": u, "secret": "other"},
                     {"secret": "other", "tags": None}),
                key_put=({"consumer": {"id": c["id"]}}, {"consumer": {"id": c["id"]}}))


def spec_acls(api):
    c = api.consumer()
    g = uniq("grp")
    return dict(coll="/acls", key=None,
                body={"consumer": {"id": c["id"]}, "group": g, "tags": [uniq("tag")]},
                defaults={"consumer": {"id": c["id"]}, "group": g},
                patch=({"group": g + "-2"}, {"group": g + "-2", "consumer": {"id": c["id"]}}),
                put=({"consumer": {"id": c["id"]}, "group": g + "-3"},
                     {"group": g + "-3", "tags": None}),
                key_put=None)


SPECS = [spec_services, spec_routes, spec_consumers, spec_plugins, spec_upstreams,
         spec_certificates, spec_snis, spec_ca_certificates, spec_key_auths,
         spec_basic_auths, spec_jwts, spec_hmac_auths, spec_acls]
CREDENTIALS = {"/key-auths", "/basic-auths", "/jwts", "/hmac-auths", "/acls"}


def _subset(entity, expected, what):
    for k, v in expected.items():
        assert k in entity, f"{what}: field {k!r} missing from {entity}"
        assert entity[k] == v, f"{what}: {k} = {entity[k]!r}, expected {v!r}"


@pytest.mark.parametrize("spec", SPECS, ids=[s.__name__[5:] for s in SPECS])
def test_crud_lifecycle(api, spec):
    s = spec(api)
    coll = s["coll"]

    # POST: 201, generated id and timestamps, defaults filled, tags kept
    created = expect(api.post(coll, json=s["body"]), 201)
    assert UUID_RE.match(created["id"]), created
    assert isinstance(created["created_at"], int) and created["created_at"] > 1600000000
    if coll in CREDENTIALS:
        assert "updated_at" not in created, "Kong's credentials have only created_at"
    else:
        assert isinstance(created["updated_at"], int)
    _subset(created, s["defaults"], f"POST {coll}")
    assert created["tags"] == s["body"]["tags"]
    eid = created["id"]

    # GET by id, by endpoint key; listed (filtered by its unique tag)
    expect(api.get(f"{coll}/{eid}"), 200, created)
    if s["key"]:
        expect(api.get(f"{coll}/{created[s['key']]}"), 200, created)
    page = expect(api.get(f"{coll}?tags={s['body']['tags'][0]}"), 200)
    assert page["data"] == [created]
    assert page["next"] is None

    # PATCH merges into the stored row
    pbody, pexp = s["patch"]
    patched = expect(api.patch(f"{coll}/{eid}", json=pbody), 200)
    _subset(patched, pexp, f"PATCH {coll}")
    assert patched["id"] == eid and patched["created_at"] == created["created_at"]
    assert patched["tags"] == created["tags"] or "tags" in pbody
    expect(api.get(f"{coll}/{eid}"), 200, patched)

    # PUT by id replaces the whole entity: omitted fields go back to defaults/null
    ubody, uexp = s["put"]
    put = expect(api.put(f"{coll}/{eid}", json=ubody), 200)
    _subset(put, uexp, f"PUT {coll}")
    assert put["id"] == eid
    expect(api.get(f"{coll}/{eid}"), 200, put)

    # DELETE: 204 with an empty body, then 404, and a second DELETE is still 204
    r = expect(api.delete(f"{coll}/{eid}"), 204)
    assert r is None
    expect(api.get(f"{coll}/{eid}"), 404, NOT_FOUND)
    expect(api.delete(f"{coll}/{eid}"), 204)

    # PUT by an unknown id creates the entity with that id
    nid = new_id()
    body = dict(ubody)
    if s["key"] and s["key"] in body:
        body[s["key"]] = body[s["key"]] + "x" if coll != "/upstreams" else uniq("u") + ".test"
        if coll == "/snis":
            body["name"] = uniq("sni") + ".test"
    if coll == "/certificates":
        body = {"cert": s["body"]["cert"], "key": s["body"]["key"]}
    if coll == "/ca_certificates":
        body = {"cert": make_cert("crud-ca2.test", ca=True)[0]}
    made = expect(api.put(f"{coll}/{nid}", json=body), 200)
    assert made["id"] == nid
    expect(api.get(f"{coll}/{nid}"), 200, made)
    expect(api.delete(f"{coll}/{nid}"), 204)

    # PUT by an unknown endpoint key creates it with the key from the URL
    if s["key_put"] is not None:
        kbody, kexp = s["key_put"]
        keyval = uniq("k") + (".test" if coll in ("/upstreams", "/snis") else "")
        made = expect(api.put(f"{coll}/{keyval}", json=kbody), 200)
        assert made[s["key"]] == keyval
        _subset(made, kexp, f"PUT {coll}/{{key}}")
        expect(api.get(f"{coll}/{keyval}"), 200, made)
        # PUT again by the key updates the same row
        again = expect(api.put(f"{coll}/{keyval}", json=kbody), 200)
        assert again["id"] == made["id"]
        expect(api.delete(f"{coll}/{keyval}"), 204)
        expect(api.get(f"{coll}/{keyval}"), 404, NOT_FOUND)
        # DELETE by an unknown key is 204 too
        expect(api.delete(f"{coll}/{uniq('gone')}"), 204)


def test_targets_crud_nested_only(api):
    up = api.upstream()
    base = f"/upstreams/{up['id']}/targets"
    t = expect(api.post(base, json={"target": "10.0.0.1:8080", "tags": ["tt"]}), 201)
    assert t["target"] == "10.0.0.1:8080" and t["weight"] == 100
    assert t["upstream"] == {"id": up["id"]}
    assert isinstance(t["created_at"], (int, float)) and isinstance(t["updated_at"], (int, float))
    # by id, by target text, through the upstream's name
    expect(api.get(f"{base}/{t['id']}"), 200, t)
    expect(api.get(f"{base}/10.0.0.1:8080"), 200, t)
    expect(api.get(f"/upstreams/{up['name']}/targets/{t['id']}"), 200, t)
    page = expect(api.get(base), 200)
    assert [x["id"] for x in page["data"]] == [t["id"]]
    # a hostname target gets Kong's default port 8000
    h = expect(api.post(base, json={"target": "backend.test"}), 201)
    assert h["target"] == "backend.test:8000"
    # PATCH / PUT / DELETE
    p = expect(api.patch(f"{base}/{t['id']}", json={"weight": 5}), 200)
    assert p["weight"] == 5 and p["target"] == "10.0.0.1:8080"
    u = expect(api.put(f"{base}/{t['id']}", json={"target": "10.0.0.1:8080"}), 200)
    assert u["weight"] == 100 and u["tags"] is None
    expect(api.delete(f"{base}/{t['id']}"), 204)
    expect(api.get(f"{base}/{t['id']}"), 404, NOT_FOUND)
    # duplicate target in one upstream: 409
    r = api.post(base, json={"target": "backend.test:8000"})
    assert r.status_code == 409, r.text
    assert r.json()["code"] == 5
    # there is no top-level /targets
    expect(api.get("/targets"), 404, NOT_FOUND)
    # a target of another upstream is not found through this one
    other = api.upstream()
    expect(api.get(f"/upstreams/{other['id']}/targets/{h['id']}"), 404, NOT_FOUND)


def test_generated_credential_values(api):
    c = api.consumer()
    k = expect(api.post(f"/consumers/{c['id']}/key-auth", json={}), 201)
    assert isinstance(k["key"], str) and len(k["key"]) >= 32
    k2 = expect(api.post(f"/consumers/{c['id']}/key-auth", json={}), 201)
    assert k2["key"] != k["key"]
    j = expect(api.post(f"/consumers/{c['id']}/jwt", json={}), 201)
    assert j["key"] and j["secret"] and j["key"] != j["secret"]
    assert j["algorithm"] == "HS256"
    h = expect(api.post(f"/consumers/{c['id']}/hmac-auth", json={"username": uniq("h")}), 201)
    assert isinstance(h["secret"], str) and len(h["secret"]) >= 16


def test_basic_auth_password_is_stored_as_kong_hash(api):
    c = api.consumer()
    cred = expect(api.post(f"/consumers/{c['username']}/basic-auth",
                           json={"username": uniq("ba"), "password": "plain-text-pw"}), 201)
    assert cred["password"] == basic_auth_hash("plain-text-pw", c["id"])
    assert cred["password"] != "plain-text-pw"
    got = expect(api.get(f"/basic-auths/{cred['id']}"), 200)
    assert got["password"] == cred["password"]
    # PATCH without a password keeps the stored hash (not hashed twice)
    p = expect(api.patch(f"/basic-auths/{cred['id']}", json={"tags": ["x"]}), 200)
    assert p["password"] == basic_auth_hash("plain-text-pw", c["id"])


def test_ca_certificate_digest_and_duplicate(api):
    cert, _ = make_cert("dup-ca.test", ca=True)
    ca = expect(api.post("/ca_certificates", json={"cert": cert}), 201)
    assert ca["cert_digest"] == cert_digest(cert)
    r = api.post("/ca_certificates", json={"cert": cert})
    expect(r, 409, unique_violation(f'{{cert_digest="{ca["cert_digest"]}"}}',
                                    {"cert_digest": ca["cert_digest"]}))


def test_certificate_addressed_by_sni_name(api):
    cert, key = make_cert("by-sni.test")
    sni = uniq("bysni") + ".test"
    c = expect(api.post("/certificates", json={"cert": cert, "key": key, "snis": [sni]}), 201)
    assert c["snis"] == [sni]
    expect(api.get(f"/certificates/{sni}"), 200, c)
    # PUT by an unknown SNI name creates a certificate carrying that SNI
    sni2 = uniq("newsni") + ".test"
    made = expect(api.put(f"/certificates/{sni2}", json={"cert": cert, "key": key}), 200)
    assert made["snis"] == [sni2] and made["id"] != c["id"]
    expect(api.get(f"/snis/{sni2}"), 200)
    expect(api.get(f"/certificates/{uniq('nosuch')}.test"), 404, {"message": "SNI not found"})
    # snis are sorted in the output; deleting the certificate removes them
    s3 = sorted([uniq("b") + ".test", uniq("a") + ".test"])
    c3 = expect(api.post("/certificates", json={"cert": cert, "key": key,
                                                "snis": [s3[1], s3[0]]}), 201)
    assert c3["snis"] == s3
    expect(api.delete(f"/certificates/{c3['id']}"), 204)
    expect(api.get(f"/snis/{s3[0]}"), 404, NOT_FOUND)


def test_url_shorthand_on_create_and_patch(api):
    s = expect(api.post("/services", json={"name": uniq("u"),
                                          "url": "https://example.test:8443/a/b"}), 201)
    assert (s["protocol"], s["host"], s["port"], s["path"]) == ("https", "example.test", 8443,
                                                                "/a/b")
    assert "url" not in s
    s2 = expect(api.post("/services", json={"url": "https://service.test/"}), 201)
    assert (s2["protocol"], s2["port"], s2["path"]) == ("https", 443, "/")
    # PATCH url replaces protocol, host, port and path: what the URL lacks goes back
    p = expect(api.patch(f"/services/{s['id']}", json={"url": "http://example2.test"}), 200)
    assert (p["protocol"], p["host"], p["port"], p["path"]) == ("http", "example2.test", 80,
                                                                None)


def test_patch_plugin_config_merges_key_by_key(api):
    svc = api.service()
    p = expect(api.post(f"/services/{svc['id']}/plugins",
                        json={"name": "rate-limiting",
                              "config": {"minute": 10, "hour": 100, "policy": "local"}}), 201)
    assert p["config"]["minute"] == 10 and p["config"]["hour"] == 100
    q = expect(api.patch(f"/plugins/{p['id']}", json={"config": {"minute": 20}}), 200)
    assert q["config"]["minute"] == 20
    assert q["config"]["hour"] == 100, "PATCH of config must merge, not replace"
    assert q["config"]["policy"] == "local"
    # null removes one key of the record
    q2 = expect(api.patch(f"/plugins/{p['id']}", json={"config": {"hour": None}}), 200)
    assert q2["config"]["hour"] is None and q2["config"]["minute"] == 20
    # PUT replaces config as a whole
    r = expect(api.put(f"/plugins/{p['id']}", json={"name": "rate-limiting",
                                                    "service": {"id": svc["id"]},
                                                    "config": {"second": 5}}), 200)
    assert r["config"]["second"] == 5 and r["config"]["minute"] is None
    assert r["config"]["policy"] == "local"  # the default, not the old value merged


def test_patch_validates_the_merged_entity(api):
    # a route with only hosts: PATCH hosts=null leaves nothing to match on
    rt = api.route(paths=None, hosts=["merged.test"], protocols=["http"])
    r = api.patch(f"/routes/{rt['id']}", json={"hosts": None})
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 2
    assert r.json()["fields"] == {"@entity": [
        "must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"]}
    expect(api.get(f"/routes/{rt['id']}"), 200, rt)
    # a service switched to tcp while it has a path
    s = api.service(path="/p")
    r = api.patch(f"/services/{s['id']}", json={"protocol": "tcp"})
    assert r.status_code == 400 and r.json()["fields"]["path"] == "value must be null", r.text
    expect(api.get(f"/services/{s['id']}"), 200, s)


def test_patch_and_put_refuse_missing_and_keep_timestamps(api):
    # PATCH of a missing entity is 404
    # (Kong answers code 6 "could not find the entity with primary key ..." or a plain
    # "Not found": only the status and a JSON message are asserted)
    for key in (new_id(), uniq("missing")):
        r = api.patch(f"/services/{key}", json={"port": 1})
        assert r.status_code == 404, r.text
        assert isinstance(r.json().get("message"), str)
        expect(api.get(f"/services/{key}"), 404, NOT_FOUND)
    s = api.service()
    put = expect(api.put(f"/services/{s['id']}", json={"host": "x.test"}), 200)
    assert put["created_at"] == s["created_at"]
    assert put["updated_at"] >= s["updated_at"]


def test_put_url_key_wins_over_body(api):
    n = uniq("keywins")
    s = expect(api.put(f"/services/{n}", json={"name": "other-name", "host": "k.test"}), 200)
    assert s["name"] == n
    expect(api.get("/services/other-name"), 404, NOT_FOUND)


def test_consumer_lookup_by_custom_id(api):
    cid = uniq("cust")
    c = api.consumer(custom_id=cid)
    expect(api.get(f"/consumers?custom_id={cid}"), 200, {"data": [c], "next": None})


def test_unique_violation_409_message(api):
    n = uniq("dup")
    api.service(name=n)
    expect(api.post("/services", json={"name": n, "host": "h.test"}), 409,
           unique_violation(f'{{name="{n}"}}', {"name": n}))
    u = uniq("dupuser")
    api.consumer(username=u)
    expect(api.post("/consumers", json={"username": u}), 409,
           unique_violation(f'{{username="{u}"}}', {"username": u}))
    # renaming onto an existing name is refused as well, and changes nothing
    other = api.service()
    expect(api.patch(f"/services/{other['id']}", json={"name": n}), 409,
           unique_violation(f'{{name="{n}"}}', {"name": n}))
    expect(api.get(f"/services/{other['id']}"), 200, other)


def test_plugin_scope_unique_violation(api):
    svc = api.service()
    api.create("/plugins", {"name": "basic-auth", "service": {"id": svc["id"]}})
    r = api.post("/plugins", json={"name": "basic-auth", "service": {"id": svc["id"]}})
    lua = f'{{consumer=null,name="basic-auth",route=null,service={{id="{svc["id"]}"}}}}'
    expect(r, 409, {"code": 5, "name": "unique constraint violation",
                    "message": f"UNIQUE violation detected on '{lua}'",
                    "fields": {"consumer": None, "name": "basic-auth", "route": None,
                               "service": {"id": svc["id"]}}})


def test_primary_key_violation(api):
    s = api.service()
    expect(api.post("/services", json={"id": s["id"], "host": "again.test"}), 400,
           {"code": 3, "name": "primary key violation",
            "message": f"primary key violation on key '{{id=\"{s['id']}\"}}'",
            "fields": {"id": s["id"]}})


def test_two_concurrent_creates_of_one_name(api):
    for _ in range(8):
        name = uniq("race")
        barrier = threading.Barrier(2)
        results = []

        def create():
            c = api.fresh()
            barrier.wait()
            r = c.post("/services", json={"name": name, "host": "race.test"})
            c.close()
            results.append((r.status_code, r.json()))

        threads = [threading.Thread(target=create) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        codes = sorted(c for c, _ in results)
        assert codes == [201, 409], results
        loser = [b for c, b in results if c == 409][0]
        assert loser == unique_violation(f'{{name="{name}"}}', {"name": name})
        page = expect(api.get(f"/services/{name}"), 200)
        winner = [b for c, b in results if c == 201][0]
        assert page["id"] == winner["id"]


def test_two_concurrent_puts_of_one_name_make_one_entity(api):
    for _ in range(5):
        name = uniq("putrace")
        barrier = threading.Barrier(2)
        results = []

        def put(port):
            c = api.fresh()
            barrier.wait()
            r = c.put(f"/services/{name}", json={"host": "race.test", "port": port})
            c.close()
            results.append((r.status_code, r.json()))

        threads = [threading.Thread(target=put, args=(p,)) for p in (81, 82)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert [c for c, _ in results] == [200, 200], results
        assert results[0][1]["id"] == results[1][1]["id"], results
        final = expect(api.get(f"/services/{name}"), 200)
        assert final["id"] == results[0][1]["id"] and final["port"] in (81, 82)


def test_put_with_the_id_in_the_body_as_deck_sends_it(api):
    sid, rid, pid = new_id(), new_id(), new_id()
    s = expect(api.put(f"/services/{sid}", json={"id": sid, "name": uniq("deck"),
                                                "host": "deck.test", "tags": ["deck"]}), 200)
    assert s["id"] == sid
    r = expect(api.put(f"/routes/{rid}", json={"id": rid, "paths": ["/deck"],
                                              "service": {"id": sid}}), 200)
    assert r["id"] == rid and r["service"] == {"id": sid}
    p = expect(api.put(f"/plugins/{pid}", json={"id": pid, "name": "cors",
                                               "route": {"id": rid}}), 200)
    assert p["id"] == pid
    # and again: an update, same ids
    s2 = expect(api.put(f"/services/{sid}", json=dict(s, port=8080)), 200)
    assert s2["id"] == sid and s2["port"] == 8080 and s2["created_at"] == s["created_at"]


@pytest.mark.parametrize("value", ["team/alice", "alice@example.com", "john doe", "50%", "x?y",
                                   "ünï"])
def test_endpoint_keys_are_url_decoded(api, value):
    # Kong unescapes the URL segment (endpoints.lua select_entity: unescape_uri), so any
    # username or key can be addressed once percent-encoded, '/' included (%2F)
    from urllib.parse import quote
    c = api.consumer(username=value + "-" + uniq("u"))
    seg = quote(c["username"], safe="")
    expect(api.get(f"/consumers/{seg}"), 200, c)
    k = api.create(f"/consumers/{seg}/key-auth", {"key": value + "+key="})
    expect(api.get(f"/key-auths/{quote(k['key'], safe='')}"), 200, k)
    p = expect(api.patch(f"/consumers/{seg}", json={"custom_id": uniq("c")}), 200)
    assert p["id"] == c["id"]
    expect(api.delete(f"/consumers/{seg}"), 204)
    expect(api.get(f"/consumers/{c['id']}"), 404, NOT_FOUND)
