"""Kong's key_sets and keys (reference §1.11, kong/db/schema/entities/keys.lua): what
`tollgate-dp --check` accepts and refuses, a data plane serving a file that holds them, and the
Admin API (CRUD, /key-sets/{s}/keys, cascade, uniqueness, schema errors, /config round trip).
Keys are generated at test time with python3-cryptography."""
import base64
import functools
import json

import pytest

from harness import Echo, Gateway, http_request
from test_admin_common import (  # noqa: F401  (api is a fixture)
    NOT_FOUND, UUID_RE, api, expect, new_id, schema_violation, uniq, unique_violation)

NEITHER = "at least one of these fields must be non-empty: 'jwk', 'pem'"
BOTH = "only one or none of these fields must be set: 'jwk', 'pem'"
KID_MISMATCH = "kid in jwk.kid must be equal to keys.kid"
PEM_EMPTY = "at least one of these fields must be non-empty: 'private_key', 'public_key'"


def _b64url(n):
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@functools.lru_cache(maxsize=None)
def rsa_pair(which=0):
    """(private PEM, public PEM, public numbers) of an RSA key; which picks one of several."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return priv, pub, key.public_key().public_numbers()


def jwk(kid, which=0):
    """A JWK of an RSA public key, as the JSON string Kong stores."""
    nums = rsa_pair(which)[2]
    return json.dumps({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                       "n": _b64url(nums.n), "e": _b64url(nums.e)})


def yq(s):
    """A YAML double-quoted scalar (JSON strings are)."""
    return json.dumps(s)


# ---- tollgate-dp --check ----

def doc_with_keys(keys_yaml, sets_yaml=""):
    return '_format_version: "3.0"\n' + sets_yaml + ("keys:\n" + keys_yaml if keys_yaml else "")


def test_check_valid_jwk(dp_check):
    rc, out, err = dp_check(doc_with_keys(f"- kid: k1\n  name: signing\n  jwk: {yq(jwk('k1'))}\n"))
    assert rc == 0, err
    assert "keys: 1" in out


def test_check_valid_pem_pair(dp_check):
    priv, pub, _ = rsa_pair()
    rc, out, err = dp_check(doc_with_keys(
        f"- kid: k1\n  pem:\n    private_key: {yq(priv)}\n    public_key: {yq(pub)}\n"
        f"- kid: k2\n  pem:\n    public_key: {yq(pub)}\n"
        f"- kid: k3\n  pem:\n    private_key: {yq(priv)}\n"))
    assert rc == 0, err
    assert "keys: 3" in out


@pytest.mark.parametrize("keys_yaml,line", [
    (f"- kid: k1\n  jwk: {yq(jwk('other'))}\n", "keys[0]: " + KID_MISMATCH),
    ("- kid: k1\n  jwk: '{not json'\n", "keys[0]: could not json decode jwk string"),
    (f"- kid: k1\n  jwk: {yq(jwk('k1'))}\n  pem:\n    public_key: {yq(rsa_pair()[1])}\n",
     "keys[0]: " + BOTH),
    ("- kid: k1\n  name: nothing\n", "keys[0]: " + NEITHER),
    (f"- jwk: {yq(jwk('k1'))}\n", "keys[0].kid: required field missing"),
    ("- kid: k1\n  pem:\n    public_key: not a pem\n", "keys[0].pem: could not load public key"),
    ("- kid: k1\n  pem:\n    private_key: not a pem\n",
     "keys[0].pem: could not load private key"),
    (f"- kid: k1\n  pem:\n    private_key: {yq(rsa_pair(0)[0])}\n"
     f"    public_key: {yq(rsa_pair(1)[1])}\n",
     "keys[0].pem: public key does not match private key"),
    ("- kid: k1\n  pem: {}\n", "keys[0].pem: " + PEM_EMPTY),
], ids=["kid-mismatch", "jwk-not-json", "both", "neither", "no-kid", "bad-public-pem",
        "bad-private-pem", "not-a-pair", "empty-pem"])
def test_check_refuses(dp_check, keys_yaml, line):
    rc, out, err = dp_check(doc_with_keys(keys_yaml))
    assert rc == 1, out
    assert line in err.splitlines(), err


def test_check_nested_key_sets(dp_check):
    priv, pub, _ = rsa_pair()
    doc = ('_format_version: "3.0"\n'
           "key_sets:\n"
           "- name: set-a\n"
           "  keys:\n"
           f"  - kid: k1\n    jwk: {yq(jwk('k1'))}\n"
           f"  - kid: k2\n    pem:\n      private_key: {yq(priv)}\n      public_key: {yq(pub)}\n"
           "- name: set-b\n"
           "  keys:\n"
           f"  - kid: k1\n    jwk: {yq(jwk('k1'))}\n"
           "keys:\n"
           f"- kid: k3\n  set: set-a\n  jwk: {yq(jwk('k3'))}\n")
    rc, out, err = dp_check(doc)
    assert rc == 0, err
    assert "key_sets: 2" in out and "keys: 4" in out
    # the same document gives the same ids and hash every time
    rc2, out2, _ = dp_check(doc)
    assert out2 == out

    # one kid per set; the parent fills the set
    dup = ('_format_version: "3.0"\nkey_sets:\n- name: s\n  keys:\n'
           f"  - kid: k1\n    jwk: {yq(jwk('k1'))}\n"
           f"  - kid: k1\n    pem:\n      public_key: {yq(pub)}\n")
    rc, out, err = dp_check(dup)
    assert rc == 1
    assert ("key_sets[0].keys[1]: uniqueness violation: 'keys' entity with cache key set to "
            "'k1:") in err
    rc, out, err = dp_check('_format_version: "3.0"\nkey_sets:\n- name: s\n  keys:\n'
                            f"  - kid: k1\n    set: s\n    jwk: {yq(jwk('k1'))}\n")
    assert rc == 1
    assert "key_sets[0].keys[0].set: value must be null" in err.splitlines()


# ---- a data plane with keys in its file ----

def test_dp_serves_a_file_with_keys(tmp_path):
    echo = Echo("keys-echo")
    priv, pub, _ = rsa_pair()
    conf = ('_format_version: "3.0"\n'
            "services:\n"
            f"- name: s\n  url: http://127.0.0.1:{echo.port}\n  routes:\n  - paths: [/]\n"
            "key_sets:\n"
            "- name: set-a\n"
            "  keys:\n"
            f"  - kid: k1\n    jwk: {yq(jwk('k1'))}\n"
            f"  - kid: k2\n    pem:\n      private_key: {yq(priv)}\n      public_key: {yq(pub)}\n")
    gw = Gateway(tmp_path, conf)
    try:
        r = http_request(gw.port, "GET", "/hello", [("Host", "keys.test")])
        assert r.status == 200, r.body
        assert gw.status()["configuration_hash"]
    finally:
        gw.stop()
        echo.stop()


# ---- Admin API ----

def key_body(**kw):
    kid = kw.pop("kid", uniq("kid"))
    body = {"kid": kid, "jwk": jwk(kid)}
    body.update(kw)
    return body


def test_key_sets_crud(api):
    n = uniq("set")
    tag = uniq("tag")
    ks = expect(api.post("/key-sets", json={"name": n, "tags": [tag]}), 201)
    assert UUID_RE.match(ks["id"])
    assert set(ks) == {"id", "name", "tags", "created_at", "updated_at"}
    assert ks["name"] == n and ks["tags"] == [tag]
    assert expect(api.get(f"/key-sets/{ks['id']}"), 200) == ks
    assert expect(api.get(f"/key-sets/{n}"), 200) == ks
    listed = expect(api.get(f"/key-sets?tags={tag}"), 200)["data"]
    assert [x["id"] for x in listed] == [ks["id"]]
    got = expect(api.patch(f"/key-sets/{n}", json={"tags": ["patched"]}), 200)
    assert got["tags"] == ["patched"] and got["name"] == n and got["id"] == ks["id"]
    # PUT replaces: omitted fields go back to null
    got = expect(api.put(f"/key-sets/{ks['id']}", json={"name": n}), 200)
    assert got["tags"] is None and got["created_at"] == ks["created_at"]
    # PUT by name creates
    m = uniq("set")
    made = expect(api.put(f"/key-sets/{m}", json={}), 200)
    assert made["name"] == m and UUID_RE.match(made["id"])
    # a set without a name
    anon = expect(api.post("/key-sets", json={}), 201)
    assert anon["name"] is None
    for x in (ks["id"], m, anon["id"]):
        expect(api.delete(f"/key-sets/{x}"), 204)
        expect(api.get(f"/key-sets/{x}"), 404, NOT_FOUND)
    expect(api.delete(f"/key-sets/{n}"), 204)  # idempotent


def test_keys_crud(api):
    n = uniq("key")
    body = key_body(name=n, tags=["t1"])
    k = expect(api.post("/keys", json=body), 201)
    assert set(k) == {"id", "set", "name", "kid", "jwk", "pem", "tags", "created_at",
                      "updated_at"}
    assert k["set"] is None and k["pem"] is None
    assert (k["kid"], k["jwk"], k["name"], k["tags"]) == (body["kid"], body["jwk"], n, ["t1"])
    assert expect(api.get(f"/keys/{n}"), 200) == k
    # PATCH to a PEM: the jwk must go (exactly one of them)
    priv, pub, _ = rsa_pair()
    got = expect(api.patch(f"/keys/{n}", json={"jwk": None,
                                               "pem": {"private_key": priv, "public_key": pub}}),
                 200)
    assert got["jwk"] is None and got["pem"] == {"private_key": priv, "public_key": pub}
    # PATCH merges inside pem
    got = expect(api.patch(f"/keys/{n}", json={"pem": {"private_key": None}}), 200)
    assert got["pem"] == {"private_key": None, "public_key": pub}
    # PUT by name creates, then replaces
    m = uniq("key")
    made = expect(api.put(f"/keys/{m}", json=key_body(kid="put-kid")), 200)
    assert made["name"] == m and made["kid"] == "put-kid"
    again = expect(api.put(f"/keys/{m}", json=key_body(kid="put-kid2")), 200)
    assert again["id"] == made["id"] and again["kid"] == "put-kid2"
    for x in (k["id"], made["id"]):
        expect(api.delete(f"/keys/{x}"), 204)
        expect(api.get(f"/keys/{x}"), 404, NOT_FOUND)


def test_nested_keys_and_cascade(api):
    s = api.create("/key-sets", {"name": uniq("set")})
    other = api.create("/key-sets", {"name": uniq("set")})
    k1 = expect(api.post(f"/key-sets/{s['name']}/keys", json=key_body(kid="k1")), 201)
    assert k1["set"] == {"id": s["id"]}
    _, pub, _ = rsa_pair()
    k2 = expect(api.post(f"/key-sets/{s['id']}/keys",
                         json={"kid": "k2", "pem": {"public_key": pub}}), 201)
    assert k2["pem"] == {"private_key": None, "public_key": pub}
    k3 = expect(api.post("/keys", json=key_body(kid="k1", set={"id": other["id"]})), 201)
    # the set by its name
    k4 = expect(api.post("/keys", json=key_body(kid="k4", set={"name": other["name"]})), 201)
    assert k4["set"] == {"id": other["id"]}

    listed = expect(api.get(f"/key-sets/{s['name']}/keys"), 200)
    assert sorted(x["id"] for x in listed["data"]) == sorted([k1["id"], k2["id"]])
    assert expect(api.get(f"/key-sets/{s['id']}/keys/{k1['id']}"), 200) == k1
    # a key of another set is not found through this one
    expect(api.get(f"/key-sets/{s['id']}/keys/{k3['id']}"), 404, NOT_FOUND)
    assert expect(api.get(f"/keys/{k1['id']}/set"), 200)["id"] == s["id"]

    # deleting a set deletes its keys, and only its keys
    expect(api.delete(f"/key-sets/{s['id']}"), 204)
    for k in (k1, k2):
        expect(api.get(f"/keys/{k['id']}"), 404, NOT_FOUND)
    expect(api.get(f"/keys/{k3['id']}"), 200)
    expect(api.delete(f"/key-sets/{other['id']}"), 204)
    expect(api.get(f"/keys/{k3['id']}"), 404, NOT_FOUND)
    expect(api.get(f"/keys/{k4['id']}"), 404, NOT_FOUND)


def test_unique_kid_per_set(api):
    s = api.create("/key-sets", {"name": uniq("set")})
    kid = uniq("kid")
    api.create(f"/key-sets/{s['id']}/keys", key_body(kid=kid))
    r = api.post(f"/key-sets/{s['id']}/keys", json=key_body(kid=kid))
    expect(r, 409, unique_violation(f'{{kid="{kid}",set={{id="{s["id"]}"}}}}',
                                     {"kid": kid, "set": {"id": s["id"]}}))
    # keys without a set share one namespace of kids too (Kong's cache key)
    kid2 = uniq("kid")
    api.create("/keys", key_body(kid=kid2))
    expect(api.post("/keys", json=key_body(kid=kid2)), 409,
           unique_violation(f'{{kid="{kid2}",set=null}}', {"kid": kid2, "set": None}))
    # the same kid in another set is fine
    t = api.create("/key-sets", {"name": uniq("set")})
    api.create(f"/key-sets/{t['id']}/keys", key_body(kid=kid))


def test_unique_names(api):
    n = uniq("set")
    api.create("/key-sets", {"name": n})
    expect(api.post("/key-sets", json={"name": n}), 409,
           unique_violation(f'{{name="{n}"}}', {"name": n}))
    m = uniq("key")
    api.create("/keys", key_body(name=m))
    expect(api.post("/keys", json=key_body(name=m)), 409,
           unique_violation(f'{{name="{m}"}}', {"name": m}))


def test_unknown_set(api):
    sid = new_id()
    r = api.post("/keys", json=key_body(set={"id": sid}))
    expect(r, 400, {"code": 4, "name": "foreign key violation",
                    "message": (f"the foreign key '{{id=\"{sid}\"}}' does not reference an "
                                "existing 'key_sets' entity."),
                    "fields": {"set": {"id": sid}}})


@pytest.mark.parametrize("body,fields,messages", [
    ({"kid": "k1"}, {"@entity": [NEITHER]}, [NEITHER]),
    ({"kid": "k1", "jwk": jwk("other")}, {"@entity": [KID_MISMATCH]}, [KID_MISMATCH]),
    ({"kid": "k1", "jwk": "{not json"}, {"@entity": ["could not json decode jwk string"]},
     ["could not json decode jwk string"]),
    ({"kid": "k1", "jwk": jwk("k1"), "pem": {"public_key": rsa_pair()[1]}},
     {"@entity": [BOTH]}, [BOTH]),
    ({"jwk": jwk("k1")}, {"kid": "required field missing"}, ["kid: required field missing"]),
    ({"kid": "k1", "pem": {"public_key": "nope"}}, {"pem": "could not load public key"},
     ["pem: could not load public key"]),
    ({"kid": "k1", "pem": {"private_key": rsa_pair(0)[0], "public_key": rsa_pair(1)[1]}},
     {"pem": "public key does not match private key"},
     ["pem: public key does not match private key"]),
    ({"kid": "k1", "pem": {}}, {"pem": {"@entity": [PEM_EMPTY]}}, ["pem: " + PEM_EMPTY]),
], ids=["neither", "kid-mismatch", "jwk-not-json", "both", "no-kid", "bad-pem", "not-a-pair",
        "empty-pem"])
def test_schema_errors(api, body, fields, messages):
    expect(api.post("/keys", json=body), 400, schema_violation(fields, *messages))


def test_config_round_trip_with_keys(api):
    s = api.create("/key-sets", {"name": uniq("set"), "tags": ["rt"]})
    priv, pub, _ = rsa_pair()
    k1 = api.create(f"/key-sets/{s['id']}/keys", key_body(kid="rt1", name=uniq("key")))
    k2 = api.create("/keys", {"kid": "rt2", "pem": {"private_key": priv, "public_key": pub}})
    first = expect(api.get("/config"), 200)["config"]
    doc = json.loads(first)
    assert any(x["id"] == s["id"] for x in doc["key_sets"])
    exported = {x["id"]: x for x in doc["keys"]}
    assert exported[k1["id"]]["set"] == {"id": s["id"]}
    assert exported[k2["id"]]["pem"] == {"private_key": priv, "public_key": pub}
    created = expect(api.post("/config", json={"config": first}), 201)
    assert s["id"] in created["key_sets"] and k1["id"] in created["keys"]
    assert expect(api.get("/config"), 200)["config"] == first
    for path, ent in (("/key-sets/", s), ("/keys/", k1), ("/keys/", k2)):
        got = expect(api.get(path + ent["id"]), 200)
        for f in ("name", "kid", "jwk", "pem", "set", "tags"):
            if f in ent:
                assert got[f] == ent[f], f"{path}{f}"
    # a declarative document with nested keys, posted to /config, lands in the tables
    name = uniq("set")
    r = api.post("/config", json={"_format_version": "3.0", "key_sets": [
        {"name": name, "keys": [{"kid": "n1", "jwk": jwk("n1")}]}]})
    expect(r, 201)
    nested = expect(api.get(f"/key-sets/{name}/keys"), 200)["data"]
    assert [x["kid"] for x in nested] == ["n1"]
    # and a refused one reports Kong's message under its path
    r = api.post("/config", json={"_format_version": "3.0", "keys": [{"kid": "x"}]})
    body = expect(r, 400)
    assert body["code"] == 14
    assert body["fields"] == {"keys": [{"@entity": [NEITHER]}]}
