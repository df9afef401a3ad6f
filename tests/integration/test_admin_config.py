"""GET /config exports the whole configuration as a declarative document ({"config": text}, as
Kong's DB-less endpoint); POST /config replaces it atomically (201, or 400 code 14 with every
error and nothing changed), using the same validation as `tollgate-dp --check`."""
import json
import re
import time

import pytest

from test_admin_common import (  # noqa: F401  (api is a fixture)
    NOT_FOUND, api, basic_auth_hash, expect, list_all, uniq)


def parse(text):
    try:
        return json.loads(text)
    except ValueError:
        yaml = pytest.importorskip("yaml")
        return yaml.safe_load(text)


def export(api):
    body = expect(api.get("/config"), 200)
    assert set(body) == {"config"}, body.keys()
    assert isinstance(body["config"], str)
    return body["config"]


def find_all(doc, key, value):
    """Every dict anywhere in doc whose doc[key] == value (flat or nested exports)."""
    out = []
    if isinstance(doc, dict):
        if doc.get(key) == value:
            out.append(doc)
        for v in doc.values():
            out += find_all(v, key, value)
    elif isinstance(doc, list):
        for v in doc:
            out += find_all(v, key, value)
    return out


def leaves(tree):
    """Leaf messages of a Kong error tree (lists, dicts, @entity arrays)."""
    if isinstance(tree, str):
        return [tree]
    if isinstance(tree, dict):
        return [m for v in tree.values() for m in leaves(v)]
    if isinstance(tree, list):
        return [m for v in tree if v is not None for m in leaves(v)]
    return []


def populate(api):
    s = api.service(name=uniq("cfgsvc"), url="http://cfg.test:8080/api", tags=["cfg"])
    r = api.route(name=uniq("cfgrt"), service={"id": s["id"]}, paths=["/cfg"],
                  methods=["GET"])
    c = api.consumer(username=uniq("cfguser"), custom_id=uniq("cid"))
    ba = api.create(f"/consumers/{c['id']}/basic-auth",
                    {"username": uniq("cfgba"), "password": "cfg-password"})
    ka = api.create(f"/consumers/{c['id']}/key-auth", {"key": uniq("cfgkey")})
    acl = api.create(f"/consumers/{c['id']}/acls", {"group": "gold"})
    p = api.create(f"/routes/{r['id']}/plugins",
                   {"name": "rate-limiting", "config": {"minute": 7}})
    up = api.upstream(name=uniq("cfgup") + ".test")
    t = api.create(f"/upstreams/{up['id']}/targets", {"target": "10.9.9.9:80", "weight": 7})
    return dict(service=s, route=r, consumer=c, basic=ba, key=ka, acl=acl, plugin=p,
                upstream=up, target=t)


def test_export_is_a_declarative_document(api):
    ents = populate(api)
    doc = parse(export(api))
    assert doc["_format_version"] == "3.0"
    assert find_all(doc, "name", ents["service"]["name"])
    assert find_all(doc, "name", ents["route"]["name"])
    assert find_all(doc, "username", ents["consumer"]["username"])
    assert find_all(doc, "target", "10.9.9.9:80")
    # exported credentials are already transformed: the hash, never the password
    text = export(api)
    assert "cfg-password" not in text
    ba = find_all(doc, "username", ents["basic"]["username"])
    assert ba and ba[0]["password"] == basic_auth_hash("cfg-password", ents["consumer"]["id"])


def test_round_trip_export_import_export(api):
    ents = populate(api)
    first = export(api)
    expect(api.post("/config", json={"config": first}), 201)
    second = export(api)
    assert second == first
    # every entity kept its id and fields (the password hash not hashed again)
    for kind, path in (("service", "/services/"), ("route", "/routes/"),
                       ("consumer", "/consumers/"), ("basic", "/basic-auths/"),
                       ("key", "/key-auths/"), ("acl", "/acls/"), ("plugin", "/plugins/"),
                       ("upstream", "/upstreams/")):
        got = expect(api.get(path + ents[kind]["id"]), 200)
        for k in ("id", "name", "username", "password", "key", "group", "config", "host",
                  "port", "path", "paths", "service", "route", "consumer"):
            if k in ents[kind]:
                assert got[k] == ents[kind][k], f"{kind}.{k}"
    t = ents["target"]
    got = expect(api.get(f"/upstreams/{ents['upstream']['id']}/targets/{t['id']}"), 200)
    assert got["target"] == t["target"] and got["weight"] == 7
    # the document itself as the JSON body works the same way
    expect(api.post("/config", json=parse(first)), 201)
    assert export(api) == first


def test_post_config_replaces_everything(api):
    old = api.service()
    name = uniq("only")
    doc = {"_format_version": "3.0",
           "services": [{"name": name, "url": "http://only.test",
                         "routes": [{"name": name + "-r", "paths": ["/only"]}]}],
           "consumers": [{"username": name + "-u",
                          "keyauth_credentials": [{"key": name + "-k"}]}]}
    expect(api.post("/config", json=doc), 201)
    expect(api.get(f"/services/{old['id']}"), 404, NOT_FOUND)
    s = expect(api.get(f"/services/{name}"), 200)
    assert (s["host"], s["port"]) == ("only.test", 80)
    r = expect(api.get(f"/routes/{name}-r"), 200)
    assert r["service"] == {"id": s["id"]}
    assert expect(api.get(f"/key-auths/{name}-k"), 200)["consumer"]["id"] == \
        expect(api.get(f"/consumers/{name}-u"), 200)["id"]
    assert len(expect(api.get("/services"), 200)["data"]) == 1
    # and the Admin API keeps working on the new content
    expect(api.patch(f"/services/{name}", json={"port": 81}), 200)


def test_post_config_as_yaml(api):
    name = uniq("yaml")
    text = f'_format_version: "3.0"\nservices:\n  - name: {name}\n    host: yaml.test\n'
    for ctype in ("application/yaml", "text/yaml"):
        r = api.post("/config", data=text.encode(), headers={"Content-Type": ctype})
        expect(r, 201)
        assert expect(api.get(f"/services/{name}"), 200)["host"] == "yaml.test"


def test_failed_post_changes_nothing_and_lists_every_error(api):
    keep = uniq("keep")
    expect(api.post("/config", json={"_format_version": "3.0",
                                     "services": [{"name": keep, "host": "keep.test"}]}), 201)
    before = export(api)
    bad = {"_format_version": "3.0",
           "services": [{"name": uniq("ok"), "host": "ok.test"},
                        {"name": uniq("bad"), "port": 70000}],
           "routes": [{"name": uniq("r")}]}
    r = api.post("/config", json=bad)
    body = expect(r, 400)
    assert body["code"] == 14 and body["name"] == "invalid declarative configuration", body
    assert body["message"].startswith("declarative config is invalid: ")
    f = body["fields"]
    assert set(f) == {"services", "routes"}, f
    assert f["services"][0] is None
    assert f["services"][1] == {"host": "required field missing",
                                "port": "value should be between 0 and 65535"}
    assert leaves(f["routes"]) == [
        "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is "
        "'https'"]
    # all or nothing: the valid service of the refused document was not stored
    assert export(api) == before
    expect(api.get(f"/services/{keep}"), 200)
    assert len(expect(api.get("/services"), 200)["data"]) == 1
    # a schema-valid document: every uniqueness and reference error at once
    bad = {"_format_version": "3.0",
           "services": [{"name": uniq("ok"), "host": "ok.test"}],
           "consumers": [{"username": "dup"}, {"username": "dup"}],
           "plugins": [{"name": "key-auth", "service": "ghost"},
                       {"name": "cors", "route": "ghost"}]}
    body = expect(api.post("/config", json=bad), 400)
    assert body["code"] == 14, body
    assert sorted(leaves(body["fields"])) == [
        "invalid reference 'route: ghost' (no such entry in 'routes')",
        "invalid reference 'service: ghost' (no such entry in 'services')",
        "uniqueness violation: 'consumers' entity with username set to 'dup' already declared"]
    assert body["fields"]["consumers"][0] is None
    assert export(api) == before


def test_kong_message_for_one_error(api):
    r = api.post("/config", json={"_format_version": "3.0",
                                  "services": [{"port": 70000}]})
    expect(r, 400, {
        "code": 14, "name": "invalid declarative configuration",
        "message": "declarative config is invalid: {services={{host=\"required field missing\","
                   "port=\"value should be between 0 and 65535\"}}}",
        "fields": {"services": [{"host": "required field missing",
                                 "port": "value should be between 0 and 65535"}]}})


def test_post_config_bad_inputs(api):
    before = export(api)
    expect(api.post("/config", json={}), 400)
    r = api.post("/config", data=b"", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = api.post("/config", json={"config": "services: [\n"})
    body = expect(r, 400)
    assert body["code"] == 14 and "error" in body["fields"], body
    r = api.post("/config", data=b"_format_version: '3.0'\nservices: [\n",
                 headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400 and r.json()["code"] == 14, r.text
    r = api.post("/config", json={"services": []})
    body = expect(r, 400)
    assert body["code"] == 14
    assert body["fields"] == {"_format_version": "required field missing"}
    assert export(api) == before


def test_no_input(api):
    r = api.post("/config")
    expect(r, 400, {"message": "expected a declarative configuration"})


PARITY_DOCS = {
    "port": '_format_version: "3.0"\nservices:\n  - name: s\n    host: h.test\n    port: 70000\n',
    "route-entity": '_format_version: "3.0"\nroutes:\n  - name: r\n',
    "plugin": '_format_version: "3.0"\nplugins:\n  - name: no-such-plugin\n',
    "duplicate": '_format_version: "3.0"\nconsumers:\n  - username: a\n  - username: a\n',
    "reference": '_format_version: "3.0"\nplugins:\n  - name: key-auth\n    service: ghost\n',
    "nested": ('_format_version: "3.0"\nservices:\n  - name: a\n    host: a.test\n'
               '    routes:\n      - paths: [/ok, "bad"]\n        methods: [get]\n'),
    "several": ('_format_version: "3.0"\nservices:\n  - host: "a.test:80"\n'
                'upstreams:\n  - name: 1.2.3.4\n'
                'consumers:\n  - custom_id: x\n    basicauth_credentials:\n      - {}\n'),
}


@pytest.mark.parametrize("name", sorted(PARITY_DOCS))
def test_same_refusal_as_dp_check(api, dp_check, name):
    text = PARITY_DOCS[name]
    rc, _, err = dp_check(text)
    assert rc == 1, err
    dp_messages = sorted(
        line.split(": ", 1)[1] for line in err.splitlines()
        if re.match(r"^[a-z_]+(\[\d+\])?[.:\[]", line) and ": " in line)
    assert dp_messages, err
    before = export(api)
    r = api.post("/config", data=text.encode(), headers={"Content-Type": "application/yaml"})
    body = expect(r, 400)
    assert body["code"] == 14, body
    assert sorted(leaves(body["fields"])) == dp_messages
    assert export(api) == before
    # and the same document given as {"config": text}
    r = api.post("/config", json={"config": text})
    assert sorted(leaves(expect(r, 400)["fields"])) == dp_messages


def test_exported_document_passes_dp_check(api, dp_check):
    populate(api)
    text = export(api)
    rc, out, err = dp_check(text, "export.yml")
    assert rc == 0, err


def test_post_config_as_multipart_file_like_curl(api):
    # `curl -X POST :8001/config -F config=@kong.yml`, as Kong's DB-less docs show
    name = uniq("curl")
    text = f'_format_version: "3.0"\nservices:\n  - name: {name}\n    host: curl.test\n'
    r = api.post("/config", files={"config": ("kong.yml", text.encode(), "application/x-yaml")})
    expect(r, 201)
    assert expect(api.get(f"/services/{name}"), 200)["host"] == "curl.test"
    # and `--data-urlencode config@kong.yml`
    name2 = uniq("form")
    r = api.post("/config", data={"config": text.replace(name, name2)})
    expect(r, 201)
    expect(api.get(f"/services/{name2}"), 200)
    expect(api.get(f"/services/{name}"), 404, NOT_FOUND)


def test_format_2_1_paths_are_migrated(api):
    # Kong migrates 1.1/2.1 documents: a path that looks like a regex gets the `~` prefix
    name = uniq("old")
    text = (f'_format_version: "2.1"\nservices:\n  - name: {name}\n    host: old.test\n'
            f'    routes:\n      - name: {name}-r\n        paths: ["/v1/\\\\d+", "/plain"]\n')
    expect(api.post("/config", data=text.encode(), headers={"Content-Type": "text/yaml"}), 201)
    r = expect(api.get(f"/routes/{name}-r"), 200)
    assert r["paths"] == ["~/v1/\\d+", "/plain"]
    assert parse(export(api))["_format_version"] == "3.0"


def test_transform_flag_and_underscore_keys(api):
    c_id = "5c8e5ea4-8b29-4e3b-a8a2-3a1b3c0f0a01"
    stored = "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"
    doc = {"_format_version": "3.0", "_transform": False, "_comment": "exported",
           "_ignore": [1, {"a": 2}],
           "consumers": [{"id": c_id, "username": "tf-user", "_comment": "per entity",
                          "basicauth_credentials": [{"username": "tf-b",
                                                     "password": stored}]}]}
    expect(api.post("/config", json=doc), 201)
    assert expect(api.get("/basic-auths/tf-b"), 200)["password"] == stored
    # with _transform true (the default) the password is hashed as on the Admin API
    doc["_transform"] = True
    doc["consumers"][0]["basicauth_credentials"][0]["password"] = "plain"
    expect(api.post("/config", json=doc), 201)
    assert expect(api.get("/basic-auths/tf-b"), 200)["password"] == \
        basic_auth_hash("plain", c_id)


def test_same_document_twice_keeps_ids(api):
    name = uniq("idem")
    doc = {"_format_version": "3.0",
           "services": [{"name": name, "host": "idem.test",
                         "routes": [{"name": name + "-r", "paths": ["/idem"]}]}]}
    expect(api.post("/config", json=doc), 201)
    first = (expect(api.get(f"/services/{name}"), 200)["id"],
             expect(api.get(f"/routes/{name}-r"), 200)["id"])
    expect(api.post("/config", json=doc), 201)
    again = (expect(api.get(f"/services/{name}"), 200)["id"],
             expect(api.get(f"/routes/{name}-r"), 200)["id"])
    assert first == again


def test_export_of_empty_configuration(cp_factory):
    from test_admin_common import api_for
    a = api_for(cp_factory())
    doc = parse(export(a))
    assert doc["_format_version"] == "3.0"
    assert not any(v for k, v in doc.items() if not k.startswith("_"))


def test_import_is_seen_all_at_once(cp_factory):
    """Readers during a POST /config see the old configuration or the new one, never a mix."""
    import threading
    from test_admin_common import api_for
    plane = cp_factory()
    a = api_for(plane)
    old = {"_format_version": "3.0",
           "services": [{"name": f"old-{i:04d}", "host": "old.test"} for i in range(300)]}
    new = {"_format_version": "3.0",
           "services": [{"name": f"new-{i:04d}", "host": "new.test"} for i in range(2000)]}
    expect(a.post("/config", json=old), 201)
    stop = threading.Event()
    seen = []

    def reader():
        c = a.fresh()
        while not stop.is_set():
            r = c.get("/services?size=1000")
            if r.status_code == 200:
                kinds = {e["name"].split("-")[0] for e in r.json()["data"]}
                seen.append(tuple(sorted(kinds)))
        c.close()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        expect(a.post("/config", json=new), 201)
        time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert seen and set(seen) <= {("old",), ("new",)}, set(seen)
    assert seen[-1] == ("new",)
    assert len(list_all(a, "/services")) == 2000
