"""Authentication plugins on the data plane, as a client sees them: basic-auth and jwt
(statuses, messages, challenges, consumer headers, hide_credentials, anonymous)."""
import base64
import hashlib
import hmac
import json
import time

import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from harness import Echo, Gateway


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
B64_SECRET = b"\x00binary secret\xff"


def pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def route(name, plugin=None, config=None):
    r = {"name": name, "paths": ["/" + name]}
    if plugin:
        r["plugins"] = [{"name": plugin, "config": config or {}}]
    return r


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    echo = Echo("auth-echo")
    config = {
        "_format_version": "3.0",
        "consumers": [
            {"username": "alice", "custom_id": "c-1",
             "basicauth_credentials": [{"username": "alice-user", "password": "s3cret"}],
             "jwt_secrets": [
                 {"key": "alice-iss", "secret": "alice-secret"},
                 {"key": "hs384-key", "secret": "s384", "algorithm": "HS384"},
                 {"key": "hs512-key", "secret": "s512", "algorithm": "HS512"},
                 {"key": "b64-key", "secret": b64(B64_SECRET)},
                 {"key": "quo\"te", "secret": "q"},
                 {"key": "bang-key", "secret": "bang!"},
             ]},
            {"username": "bob",
             "basicauth_credentials": [{"username": "bob-user", "password": "pa:ss"}],
             "jwt_secrets": [
                 {"key": "rs-key", "algorithm": "RS256", "rsa_public_key": pem(RSA_KEY)},
                 {"key": "rs512-key", "algorithm": "RS512", "rsa_public_key": pem(RSA_KEY)},
                 {"key": "ps-key", "algorithm": "PS256", "rsa_public_key": pem(RSA_KEY)},
                 {"key": "es-key", "algorithm": "ES256", "rsa_public_key": pem(EC_KEY)},
                 {"key": "es-nokey", "algorithm": "ES256"},
                 {"key": "ed-key", "algorithm": "EdDSA", "rsa_public_key": pem(ED_KEY)},
             ]},
            {"username": "guest"},
        ],
        "services": [{
            "name": "svc", "url": f"http://127.0.0.1:{echo.port}",
            "routes": [
                route("basic", "basic-auth"),
                route("basic-hidden", "basic-auth", {"hide_credentials": True, "realm": "api"}),
                route("basic-anon", "basic-auth", {"anonymous": "guest"}),
                route("basic-anon-missing", "basic-auth", {"anonymous": "nobody"}),
                route("jwt", "jwt"),
                route("jwt-claims", "jwt", {"claims_to_verify": ["exp", "nbf"]}),
                route("jwt-max", "jwt", {"claims_to_verify": ["exp"], "maximum_expiration": 60}),
                route("jwt-conf", "jwt", {"key_claim_name": "kid", "uri_param_names": ["token"],
                                          "cookie_names": ["jwt_c"], "header_names": ["x-jwt"],
                                          "realm": "api"}),
                route("jwt-b64", "jwt", {"secret_is_base64": True}),
                route("jwt-anon", "jwt", {"anonymous": "guest"}),
                route("jwt-preflight", "jwt", {"run_on_preflight": False}),
            ],
        }],
    }
    g = Gateway(tmp_path_factory.mktemp("auth"), json.dumps(config))
    yield g
    g.stop()
    echo.stop()


def basic(user, pw):
    return "Basic " + b64(f"{user}:{pw}")


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer abc"},
    {"Authorization": "Basic !!!notbase64"},
    {"Authorization": "Basic " + b64("nocolon")},
    {"Authorization": "Basic " + b64(":s3cret")},
    {"Authorization": basic("alice-user", "wrong")},
    {"Authorization": basic("alice-user", "")},
    {"Authorization": basic("nobody", "s3cret")},
    {"Proxy-Authorization": basic("alice-user", "wrong")},
    {"Authorization": "Basic    "},
])
def test_basic_auth_rejections(gw, headers):
    r = requests.get(gw.url + "/basic", headers=headers)
    assert r.status_code == 401
    assert r.json()["message"] == "Unauthorized"
    assert r.json()["request_id"] == r.headers["X-Kong-Request-Id"]
    assert r.headers["WWW-Authenticate"] == 'Basic realm="service"'


def test_basic_auth_realm(gw):
    r = requests.get(gw.url + "/basic-hidden")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="api"'


def test_basic_auth_success_sets_consumer_headers(gw):
    r = requests.get(gw.url + "/basic", headers={
        "Authorization": basic("alice-user", "s3cret"), "X-Consumer-Username": "mallory",
        "X-Anonymous-Consumer": "true", "X-Credential-Identifier": "forged"})
    assert r.status_code == 200
    h = r.json()["headers"]
    assert h["x-consumer-username"] == "alice"
    assert h["x-consumer-custom-id"] == "c-1"
    assert len(h["x-consumer-id"]) == 36
    assert h["x-credential-identifier"] == "alice-user"  # basic-auth: the username
    assert "x-anonymous-consumer" not in h
    assert h["authorization"] == basic("alice-user", "s3cret")  # not hidden by default


@pytest.mark.parametrize("value", [
    basic("bob-user", "pa:ss"),                # split at the first colon
    "basic " + b64("bob-user:pa:ss"),          # [Bb]asic
    "Basic" + b64("bob-user:pa:ss"),           # \s* after the scheme
    "Basic " + b64("bob-user:pa:ss").rstrip("="),  # padding optional
])
def test_basic_auth_parsing(gw, value):
    r = requests.get(gw.url + "/basic", headers={"Authorization": value})
    assert r.status_code == 200 and r.json()["headers"]["x-consumer-username"] == "bob"


def test_basic_auth_proxy_authorization_first(gw):
    r = requests.get(gw.url + "/basic", headers={
        "Proxy-Authorization": basic("bob-user", "pa:ss"),
        "Authorization": basic("alice-user", "s3cret")})
    assert r.status_code == 200 and r.json()["headers"]["x-consumer-username"] == "bob"
    # an unknown user in Proxy-Authorization falls back to Authorization
    r = requests.get(gw.url + "/basic", headers={
        "Proxy-Authorization": basic("nobody", "x"),
        "Authorization": basic("alice-user", "s3cret")})
    assert r.status_code == 200 and r.json()["headers"]["x-consumer-username"] == "alice"


def test_basic_auth_hide_credentials(gw):
    r = requests.get(gw.url + "/basic-hidden", headers={
        "Authorization": basic("alice-user", "s3cret"), "Proxy-Authorization": "junk"})
    assert r.status_code == 200
    h = r.json()["headers"]
    assert "authorization" not in h and "proxy-authorization" not in h
    assert h["x-consumer-username"] == "alice"


def test_basic_auth_anonymous(gw):
    r = requests.get(gw.url + "/basic-anon")
    assert r.status_code == 200
    h = r.json()["headers"]
    assert h["x-consumer-username"] == "guest" and h["x-anonymous-consumer"] == "true"
    assert "x-credential-identifier" not in h
    r = requests.get(gw.url + "/basic-anon", headers={"Authorization": basic("alice-user", "bad")})
    assert r.status_code == 200 and r.json()["headers"]["x-consumer-username"] == "guest"
    r = requests.get(gw.url + "/basic-anon", headers={"Authorization": basic("alice-user", "s3cret")})
    h = r.json()["headers"]
    assert h["x-consumer-username"] == "alice" and "x-anonymous-consumer" not in h


def test_basic_auth_anonymous_missing(gw):
    r = requests.get(gw.url + "/basic-anon-missing")
    assert r.status_code == 500
    assert r.json()["message"] == "anonymous consumer nobody is configured but doesn't exist"


# ---- jwt

def b64u(data):
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs(claims, secret="alice-secret", header=None, alg="HS256"):
    """A token signed by hand, so that headers and claims can be anything."""
    h = b64u(header if header is not None else {"typ": "JWT", "alg": alg})
    c = b64u(claims)
    md = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    key = secret.encode() if isinstance(secret, str) else secret
    return f"{h}.{c}." + b64u(hmac.new(key, f"{h}.{c}".encode(), md).digest())


def bearer(token):
    return {"Authorization": "Bearer " + token}


ERR = 'Bearer error="invalid_token"'
GOOD = hs({"iss": "alice-iss"})


@pytest.mark.parametrize("path,headers,body,challenge", [
    ("/jwt", {}, {"message": "Unauthorized"}, "Bearer"),
    ("/jwt", {"Authorization": "Basic abc"}, {"message": "Unauthorized"}, "Bearer"),
    ("/jwt", {"Authorization": "Bearer"}, {"message": "Unauthorized"}, "Bearer"),
    ("/jwt?jwt=", {}, {"message": "Unauthorized"}, "Bearer"),
    ("/jwt?jwt=" + hs({"iss": "hs512-key"}), bearer(GOOD),
     {"message": "Multiple tokens provided"}, ERR),
    ("/jwt", bearer("abc"), {"message": "Bad token; invalid JSON"}, ERR),
    ("/jwt", bearer("abc.def.ghi"), {"message": "Bad token; invalid JSON"}, ERR),
    ("/jwt", bearer(b64u("{") + "." + b64u({"iss": "x"}) + ".c2ln"),
     {"message": "Bad token; invalid JSON"}, ERR),
    ("/jwt", bearer(hs({"iss": "alice-iss"}, header={"typ": "JWS", "alg": "HS256"})),
     {"message": "Bad token; invalid typ"}, ERR),
    ("/jwt", bearer(hs({"iss": "alice-iss"}, header={"typ": "JWT", "alg": "none"})),
     {"message": "Bad token; invalid alg"}, ERR),
    ("/jwt", bearer(hs({"iss": "alice-iss"}, header={"typ": "JWT"})),
     {"message": "Bad token; invalid alg"}, ERR),
    ("/jwt", bearer(hs([1, 2])), {"message": "Bad token; invalid claims"}, ERR),
    ("/jwt", bearer(b64u({"alg": "HS256"}) + "." + b64u({"iss": "alice-iss"}) + ".!!"),
     {"message": "Bad token; invalid signature"}, ERR),
    ("/jwt", bearer(hs({"sub": "x"})), {"message": "No mandatory 'iss' in claims"}, ERR),
    ("/jwt", bearer(hs({"iss": ""})), {"message": "Invalid 'iss' in claims"}, ERR),
    ("/jwt", bearer(hs({"iss": "unknown"})),
     {"message": "No credentials found for given 'iss'"}, ERR),
    ("/jwt", bearer(hs({"iss": "hs512-key"}, secret="s512")), {"message": "Invalid algorithm"},
     ERR),
    ("/jwt", bearer(hs({"iss": "alice-iss"}, secret="wrong")), {"message": "Invalid signature"},
     ERR),
    ("/jwt", bearer(GOOD[:-2] + ("AA" if not GOOD.endswith("AA") else "BA")),
     {"message": "Invalid signature"}, ERR),
    ("/jwt", bearer(hs({"iss": "es-nokey"}, header={"alg": "ES256"})),
     {"message": "Invalid key/secret"}, ERR),
    ("/jwt-claims", bearer(hs({"iss": "alice-iss"})),
     {"exp": "must be a number", "nbf": "must be a number"}, ERR),
    ("/jwt-claims", bearer(hs({"iss": "alice-iss", "exp": "soon", "nbf": 0})),
     {"exp": "must be a number"}, ERR),
    ("/jwt-claims", bearer(hs({"iss": "alice-iss", "exp": int(time.time()) - 10, "nbf": 0})),
     {"exp": "token expired"}, ERR),
    ("/jwt-claims", bearer(hs({"iss": "alice-iss", "exp": int(time.time()) + 600,
                               "nbf": int(time.time()) + 600})),
     {"nbf": "token not valid yet"}, ERR),
    ("/jwt-max", bearer(hs({"iss": "alice-iss", "exp": int(time.time()) + 600})),
     {"exp": "exceeds maximum allowed expiration"}, ERR),
    ("/jwt-conf", {"x-jwt": "Bearer " + hs({"iss": "x"})},
     {"message": "No mandatory 'kid' in claims"}, 'Bearer realm="api", error="invalid_token"'),
    ("/jwt-conf", {}, {"message": "Unauthorized"}, 'Bearer realm="api"'),
    ("/jwt-conf", bearer(hs({"kid": "alice-iss"})), {"message": "Unauthorized"},
     'Bearer realm="api"'),  # Authorization is not among header_names
])
def test_jwt_rejections(gw, path, headers, body, challenge):
    r = requests.get(gw.url + path, headers=headers)
    assert r.status_code == 401
    assert r.json() == body  # kong.response.exit: no request_id
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["WWW-Authenticate"] == challenge


def jwt_ok(gw, path, headers=None, cookies=None):
    r = requests.get(gw.url + path, headers=headers or {}, cookies=cookies)
    assert r.status_code == 200, r.text
    return r.json()["headers"]


def test_jwt_success_sets_consumer_headers(gw):
    h = jwt_ok(gw, "/jwt", {**bearer(GOOD), "X-Anonymous-Consumer": "true"})
    assert h["x-consumer-username"] == "alice" and h["x-consumer-custom-id"] == "c-1"
    assert h["x-credential-identifier"] == "alice-iss"  # jwt: the credential key
    assert "x-anonymous-consumer" not in h
    assert h["authorization"] == "Bearer " + GOOD  # jwt never hides the token
    # the same token from two places counts once; lower-case bearer; query argument
    jwt_ok(gw, "/jwt?jwt=" + GOOD, {"Authorization": "bearer " + GOOD})
    assert jwt_ok(gw, "/jwt?x=1&jwt=" + GOOD)["x-credential-identifier"] == "alice-iss"


@pytest.mark.parametrize("token,user", [
    (hs({"iss": "hs384-key"}, secret="s384", alg="HS384"), "alice"),
    (hs({"iss": "hs512-key"}, secret="s512", alg="HS512"), "alice"),
    (pyjwt.encode({"iss": "rs-key"}, RSA_KEY, algorithm="RS256"), "bob"),
    (pyjwt.encode({"iss": "rs512-key"}, RSA_KEY, algorithm="RS512"), "bob"),
    (pyjwt.encode({"iss": "ps-key"}, RSA_KEY, algorithm="PS256"), "bob"),
    (pyjwt.encode({"iss": "es-key"}, EC_KEY, algorithm="ES256"), "bob"),
    (pyjwt.encode({"iss": "ed-key"}, ED_KEY, algorithm="EdDSA"), "bob"),
    # the key claim may come from the JWT header; escapes in JSON strings are read
    (hs({"sub": 1}, header={"alg": "HS256", "iss": "alice-iss"}), "alice"),
    (hs({"iss": "quo\"te"}, secret="q"), "alice"),
    (hs({"iss": "alice-\u0069ss", "nested": {"a": [1, 2.5e3, None, True]}}), "alice"),
])
def test_jwt_algorithms(gw, token, user):
    assert jwt_ok(gw, "/jwt", bearer(token))["x-consumer-username"] == user


def test_jwt_asymmetric_bad_signature(gw):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for key, alg, iss in [(other, "RS256", "rs-key"), (other, "PS256", "ps-key"),
                          (ec.generate_private_key(ec.SECP256R1()), "ES256", "es-key")]:
        r = requests.get(gw.url + "/jwt", headers=bearer(pyjwt.encode({"iss": iss}, key, algorithm=alg)))
        assert r.status_code == 401 and r.json() == {"message": "Invalid signature"}


def test_jwt_claims(gw):
    now = int(time.time())
    jwt_ok(gw, "/jwt-claims", bearer(hs({"iss": "alice-iss", "exp": now + 600, "nbf": now - 1})))
    jwt_ok(gw, "/jwt-max", bearer(hs({"iss": "alice-iss", "exp": now + 30})))
    r = requests.get(gw.url + "/jwt-max", headers=bearer(hs({"iss": "alice-iss", "exp": now - 1})))
    assert r.json() == {"exp": "token expired"}
    # claims are only checked when configured
    jwt_ok(gw, "/jwt", bearer(hs({"iss": "alice-iss", "exp": now - 100})))


def test_jwt_sources(gw):
    token = hs({"kid": "alice-iss"})
    jwt_ok(gw, "/jwt-conf", {"x-jwt": "Bearer " + token})
    jwt_ok(gw, "/jwt-conf?token=" + token)
    jwt_ok(gw, "/jwt-conf", cookies={"jwt_c": token})
    r = requests.get(gw.url + "/jwt-conf?token=" + token,
                     cookies={"jwt_c": hs({"kid": "hs512-key"})})
    assert r.json() == {"message": "Multiple tokens provided"}


def test_jwt_secret_is_base64(gw):
    jwt_ok(gw, "/jwt-b64", bearer(hs({"iss": "b64-key"}, secret=B64_SECRET)))
    r = requests.get(gw.url + "/jwt-b64", headers=bearer(hs({"iss": "bang-key"}, secret="bang!")))
    assert r.json() == {"message": "Invalid key/secret"}  # "bang!" is not base64
    r = requests.get(gw.url + "/jwt-b64", headers=bearer(GOOD))
    assert r.json() == {"message": "Invalid signature"}  # url-safe base64 of "alice-secret"
    r = requests.get(gw.url + "/jwt", headers=bearer(hs({"iss": "b64-key"}, secret=B64_SECRET)))
    assert r.json() == {"message": "Invalid signature"}


def test_jwt_anonymous_and_preflight(gw):
    h = jwt_ok(gw, "/jwt-anon", bearer(hs({"iss": "alice-iss"}, secret="wrong")))
    assert h["x-consumer-username"] == "guest" and h["x-anonymous-consumer"] == "true"
    assert jwt_ok(gw, "/jwt-anon", bearer(GOOD))["x-consumer-username"] == "alice"
    assert requests.options(gw.url + "/jwt-preflight").status_code == 200
    assert requests.options(gw.url + "/jwt").status_code == 401
    assert requests.get(gw.url + "/jwt-preflight").status_code == 401


def test_jwt_verified_token_cache_does_not_accept_a_tampered_token(gw):
    """The data plane remembers verified signatures: the same signed part with another
    signature, or the same signature on another payload, must still be refused."""
    good = pyjwt.encode({"iss": "rs-key", "sub": "a"}, RSA_KEY, algorithm="RS256")
    for _ in range(3):
        assert requests.get(gw.url + "/jwt", headers=bearer(good)).status_code == 200
    head, payload, sig = good.split(".")
    bad_sig = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
    other_payload = pyjwt.encode({"iss": "rs-key", "sub": "b"}, RSA_KEY,
                                 algorithm="RS256").split(".")[1]
    for token in (f"{head}.{payload}.{bad_sig}", f"{head}.{other_payload}.{sig}"):
        r = requests.get(gw.url + "/jwt", headers=bearer(token))
        assert r.status_code == 401 and r.json() == {"message": "Invalid signature"}
