"""hmac-auth on the data plane, as a client sees it: the header format, the signing string
(listed headers, request-line, @request-target), the four algorithms, clock skew with Date
and X-Date, enforce_headers, validate_request_body, the statuses and messages, the
challenge, consumer headers, hide_credentials and anonymous. Signatures are computed here
with Python's hmac module."""
import base64
import hashlib
import hmac
import json
import time
from email.utils import formatdate

import pytest
import requests

from harness import Echo, Gateway, HttpConn, http_request

MSG_DATE = ("HMAC signature cannot be verified, a valid date or x-date header is required for "
            "HMAC Authentication")
MSG_INVALID = "HMAC signature cannot be verified"
MSG_MISMATCH = "HMAC signature does not match"
EMPTY_DIGEST = "SHA-256=" + base64.b64encode(hashlib.sha256(b"").digest()).decode()

DIGESTS = {"hmac-sha1": hashlib.sha1, "hmac-sha256": hashlib.sha256,
           "hmac-sha384": hashlib.sha384, "hmac-sha512": hashlib.sha512}


def route(name, config=None):
    return {"name": name, "paths": ["/" + name],
            "plugins": [{"name": "hmac-auth", "config": config or {}}]}


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    echo = Echo("hmac-echo")
    config = {
        "_format_version": "3.0",
        "consumers": [
            {"username": "alice", "custom_id": "c-1",
             "hmacauth_credentials": [{"username": "alice-hmac", "secret": "alice-secret"}]},
            {"username": "bob",
             "hmacauth_credentials": [{"username": "bob \"q\"", "secret": "bob-secret"}]},
            {"username": "guest"},
        ],
        "services": [{
            "name": "svc", "url": f"http://127.0.0.1:{echo.port}",
            "routes": [
                route("hmac"),
                route("hmac-realm", {"realm": "api"}),
                route("hmac-hidden", {"hide_credentials": True}),
                route("hmac-anon", {"anonymous": "guest"}),
                route("hmac-anon-missing", {"anonymous": "nobody"}),
                route("hmac-enforce", {"enforce_headers": ["date", "request-line"]}),
                route("hmac-algs", {"algorithms": ["hmac-sha256"]}),
                route("hmac-skew", {"clock_skew": 10}),
                route("hmac-body", {"validate_request_body": True}),
            ],
        }],
    }
    g = Gateway(tmp_path_factory.mktemp("hmac"), json.dumps(config))
    yield g
    g.stop()
    echo.stop()


def now(offset=0):
    return formatdate(time.time() + offset, usegmt=True)


def sign(signing, secret="alice-secret", alg="hmac-sha256"):
    return base64.b64encode(hmac.new(secret.encode(), signing.encode(), DIGESTS[alg]).digest()).decode()


def authz(user, alg, headers, signature):
    return f'hmac username="{user}", algorithm="{alg}", headers="{headers}", signature="{signature}"'


def date_auth(date=None, user="alice-hmac", secret="alice-secret", alg="hmac-sha256"):
    """Headers signing only the date."""
    date = date or now()
    return {"Date": date, "Authorization": authz(user, alg, "date", sign("date: " + date, secret, alg))}


def check_401(r, msg, challenge="hmac"):
    assert r.status_code == 401
    assert r.json()["message"] == msg
    assert r.json()["request_id"] == r.headers["X-Kong-Request-Id"]
    assert r.headers["WWW-Authenticate"] == challenge


def test_no_header_unauthorized(gw):
    check_401(requests.get(gw.url + "/hmac", headers={"Date": now()}), "Unauthorized")


def test_realm_challenge(gw):
    check_401(requests.get(gw.url + "/hmac-realm"), "Unauthorized", 'hmac realm="api"')
    r = requests.get(gw.url + "/hmac-realm", headers=date_auth(user="nobody"))
    check_401(r, MSG_INVALID, 'hmac realm="api"')


@pytest.mark.parametrize("dates", [
    {},
    {"Date": "not a date"},
    {"Date": now(-400)},
    {"Date": now(400)},
    {"X-Date": now(-400)},
    {"Date": "Sun, 06 Nov 1994 08:49:37 GMT"},
])
def test_date_required(gw, dates):
    h = {"Authorization": authz("alice-hmac", "hmac-sha256", "date", "x"), **dates}
    check_401(requests.get(gw.url + "/hmac", headers=h), MSG_DATE)


def test_date_checked_before_format(gw):
    # even an unparsable Authorization gets the date message first
    check_401(requests.get(gw.url + "/hmac", headers={"Authorization": "junk"}), MSG_DATE)


@pytest.mark.parametrize("value", [
    "junk",
    "Basic abc",
    'hmac username="alice-hmac"',
    'hmac username="alice-hmac", algorithm="hmac-sha256", headers="date"',
    'hmac username="", algorithm="hmac-sha256", headers="date", signature="x"',
    'hmac username="alice-hmac", algorithm="hmac-sha256", headers="date", signature=""',
    'hmac username="alice-hmac", algorithm="hmac-md5", headers="date", signature="x"',
    'hmac username="alice-hmac", algorithm="HMAC-SHA256", headers="date", signature="x"',
    'hmac username="nobody", algorithm="hmac-sha256", headers="date", signature="x"',
    'hmac algorithm="hmac-sha256", username="alice-hmac", headers="date", signature="x"',
])
def test_cannot_be_verified(gw, value):
    r = requests.get(gw.url + "/hmac", headers={"Date": now(), "Authorization": value})
    check_401(r, MSG_INVALID)


@pytest.mark.parametrize("alg", sorted(DIGESTS))
def test_algorithms(gw, alg):
    r = requests.get(gw.url + "/hmac", headers=date_auth(alg=alg))
    assert r.status_code == 200
    h = r.json()["headers"]
    assert h["x-consumer-username"] == "alice" and h["x-consumer-custom-id"] == "c-1"
    assert len(h["x-consumer-id"]) == 36
    assert h["x-credential-identifier"] == "alice-hmac"  # hmac-auth: the username
    assert "x-anonymous-consumer" not in h
    assert h["authorization"].startswith("hmac ")  # not hidden by default


def relabelled():
    h = date_auth()
    h["Authorization"] = h["Authorization"].replace("hmac-sha256", "hmac-sha1")
    return h


def other_date():
    h = date_auth()
    h["Date"] = now(-30)
    return h


@pytest.mark.parametrize("make", [
    lambda: date_auth(secret="wrong"),
    relabelled,                      # a sha256 signature labelled hmac-sha1
    other_date,                      # signed over another date
    lambda: {"Date": now(), "Authorization": authz("alice-hmac", "hmac-sha256", "date", "!!!")},
    lambda: {"Date": now(), "Authorization": authz("alice-hmac", "hmac-sha256", "date", "YWJj")},
    lambda: {"Date": now(), "Authorization": authz("alice-hmac", "hmac-sha256", "date x-date",
                                                   sign("date: " + now()))},
])
def test_signature_mismatch(gw, make):
    check_401(requests.get(gw.url + "/hmac", headers=make()), MSG_MISMATCH)


def test_signing_string_headers_and_absent(gw):
    d = now()
    signing = "\n".join([f"date: {d}", "x-custom: Hello", "x-absent:",
                         "@request-target: get /hmac/a?b=1&c=2",
                         "GET /hmac/a?b=1&c=2 HTTP/1.1"])
    value = authz("alice-hmac", "hmac-sha512", "date x-custom x-absent @request-target request-line",
                  sign(signing, alg="hmac-sha512"))
    r = requests.get(gw.url + "/hmac/a?b=1&c=2",
                     headers={"Date": d, "X-Custom": "Hello", "Authorization": value})
    assert r.status_code == 200 and r.json()["headers"]["x-consumer-username"] == "alice"


def test_header_names_case_insensitive_lookup(gw):
    d = now()
    value = authz("alice-hmac", "hmac-sha256", "Date", sign("Date: " + d))
    r = requests.get(gw.url + "/hmac", headers={"date": d, "Authorization": value})
    assert r.status_code == 200


def test_request_line_http10(gw):
    d = now()
    value = authz("alice-hmac", "hmac-sha1", "date request-line",
                  sign(f"date: {d}\nPOST /hmac?x=%20y HTTP/1.0", alg="hmac-sha1"))
    headers = [("Host", "h"), ("Date", d), ("Authorization", value)]
    with HttpConn(gw.port) as c:
        c.send("POST", "/hmac?x=%20y", headers, b"", version="HTTP/1.0")
        r = c.response()
    assert r.status == 200 and r.json()["headers"]["x-consumer-username"] == "alice"
    # the same signature over HTTP/1.1 does not match
    r = http_request(gw.port, "POST", "/hmac?x=%20y", headers, b"")
    assert r.status == 401 and r.json()["message"] == MSG_MISMATCH


def test_absolute_form_target(gw):
    d = now()
    value = authz("alice-hmac", "hmac-sha256", "@request-target",
                  sign("@request-target: get /hmac?q=1"))
    r = http_request(gw.port, "GET", f"http://127.0.0.1:{gw.port}/hmac?q=1",
                     [("Host", "h"), ("Date", d), ("Authorization", value)])
    assert r.status == 200


def test_x_date_and_date(gw):
    # X-Date is enough when Date is stale, and the other way round
    d = now()
    h = {"X-Date": d, "Date": now(-1000),
         "Authorization": authz("alice-hmac", "hmac-sha256", "x-date", sign("x-date: " + d))}
    assert requests.get(gw.url + "/hmac", headers=h).status_code == 200
    h = {"X-Date": "garbage", **date_auth()}
    assert requests.get(gw.url + "/hmac", headers=h).status_code == 200


@pytest.mark.parametrize("fmt", [
    "%a, %d %b %Y %H:%M:%S GMT",   # RFC 1123
    "%A, %d-%b-%y %H:%M:%S GMT",   # RFC 850
    "%a %b %e %H:%M:%S %Y",        # asctime
])
def test_date_formats(gw, fmt):
    d = time.strftime(fmt, time.gmtime())
    assert requests.get(gw.url + "/hmac", headers=date_auth(d)).status_code == 200


def test_clock_skew_config(gw):
    check_401(requests.get(gw.url + "/hmac-skew", headers=date_auth(now(-60))), MSG_DATE)
    assert requests.get(gw.url + "/hmac", headers=date_auth(now(-60))).status_code == 200
    assert requests.get(gw.url + "/hmac-skew", headers=date_auth(now(-3))).status_code == 200


def test_proxy_authorization_first(gw):
    d = now()
    bob = authz('bob "q"', "hmac-sha256", "date", sign("date: " + d, "bob-secret"))
    alice = date_auth(d)["Authorization"]
    r = requests.get(gw.url + "/hmac", headers={"Date": d, "Proxy-Authorization": bob,
                                                "Authorization": alice})
    assert r.status_code == 200 and r.json()["headers"]["x-consumer-username"] == "bob"
    # a Proxy-Authorization that does not parse falls back to Authorization
    r = requests.get(gw.url + "/hmac", headers={"Date": d, "Proxy-Authorization": "junk",
                                                "Authorization": alice})
    assert r.status_code == 200 and r.json()["headers"]["x-consumer-username"] == "alice"
    # one that parses is used, and its failure is final
    bad = authz("alice-hmac", "hmac-sha256", "date", sign("date: " + d, "wrong"))
    r = requests.get(gw.url + "/hmac", headers={"Date": d, "Proxy-Authorization": bad,
                                                "Authorization": alice})
    check_401(r, MSG_MISMATCH)


def test_greedy_captures(gw):
    # the username holds a quote and a comma: Kong's (.+) captures are greedy
    d = now()
    value = ('HMAC  username="bob "q"", algorithm="hmac-sha256",headers="date",   '
             f'signature="{sign("date: " + d, "bob-secret")}"')
    r = requests.get(gw.url + "/hmac", headers={"Date": d, "Authorization": value})
    # [Hh]mac: "HMAC" does not match; the "hmac" in "hmac-sha256" is not followed by username=
    check_401(r, MSG_INVALID)
    r = requests.get(gw.url + "/hmac", headers={"Date": d, "Authorization": "x" + value[4:]})
    check_401(r, MSG_INVALID)
    r = requests.get(gw.url + "/hmac", headers={"Date": d, "Authorization": "xHmac" + value[4:]})
    assert r.status_code == 200 and r.json()["headers"]["x-consumer-username"] == "bob"
    assert r.json()["headers"]["x-credential-identifier"] == 'bob "q"'


def test_enforce_headers(gw):
    d = now()
    only_date = authz("alice-hmac", "hmac-sha256", "date", sign("date: " + d))
    check_401(requests.get(gw.url + "/hmac-enforce",
                           headers={"Date": d, "Authorization": only_date}), MSG_INVALID)
    value = authz("alice-hmac", "hmac-sha256", "request-line date",
                  sign(f"GET /hmac-enforce HTTP/1.1\ndate: {d}"))
    r = requests.get(gw.url + "/hmac-enforce", headers={"Date": d, "Authorization": value})
    assert r.status_code == 200


def test_algorithms_config(gw):
    check_401(requests.get(gw.url + "/hmac-algs", headers=date_auth(alg="hmac-sha1")), MSG_INVALID)
    assert requests.get(gw.url + "/hmac-algs", headers=date_auth()).status_code == 200


def test_validate_request_body(gw):
    assert requests.get(gw.url + "/hmac-body", headers=date_auth()).status_code == 200
    h = date_auth() | {"Digest": EMPTY_DIGEST}
    assert requests.get(gw.url + "/hmac-body", headers=h).status_code == 200
    h = date_auth() | {"Digest": "SHA-256=nope"}
    check_401(requests.get(gw.url + "/hmac-body", headers=h), MSG_MISMATCH)
    # the body is read before the check: its digest must match, and a body needs a Digest
    body = b"hello"
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    h = date_auth() | {"Digest": digest}
    assert requests.post(gw.url + "/hmac-body", headers=h, data=body).status_code == 200
    check_401(requests.post(gw.url + "/hmac-body", headers=date_auth(), data=body), MSG_MISMATCH)
    h = date_auth() | {"Digest": EMPTY_DIGEST}
    check_401(requests.post(gw.url + "/hmac-body", headers=h, data=body), MSG_MISMATCH)
    # without validate_request_body a body is not looked at
    assert requests.post(gw.url + "/hmac", headers=date_auth(), data=body).status_code == 200


def test_hide_credentials(gw):
    r = requests.get(gw.url + "/hmac-hidden", headers=date_auth())
    assert r.status_code == 200
    h = r.json()["headers"]
    assert "authorization" not in h and h["x-consumer-username"] == "alice"
    d = now()
    r = requests.get(gw.url + "/hmac-hidden", headers={
        "Date": d, "Proxy-Authorization": date_auth(d)["Authorization"], "Authorization": "other"})
    h = r.json()["headers"]
    assert r.status_code == 200
    assert "proxy-authorization" not in h and h["authorization"] == "other"


def test_consumer_headers_not_injectable(gw):
    r = requests.get(gw.url + "/hmac", headers=date_auth() | {
        "X-Consumer-Username": "mallory", "X-Anonymous-Consumer": "true",
        "X-Credential-Identifier": "forged"})
    h = r.json()["headers"]
    assert h["x-consumer-username"] == "alice" and h["x-credential-identifier"] == "alice-hmac"
    assert "x-anonymous-consumer" not in h


def test_anonymous(gw):
    for headers in ({}, {"Authorization": "junk"}, date_auth(secret="bad")):
        r = requests.get(gw.url + "/hmac-anon", headers=headers)
        assert r.status_code == 200
        h = r.json()["headers"]
        assert h["x-consumer-username"] == "guest" and h["x-anonymous-consumer"] == "true"
        assert "x-credential-identifier" not in h
    r = requests.get(gw.url + "/hmac-anon", headers=date_auth())
    h = r.json()["headers"]
    assert h["x-consumer-username"] == "alice" and "x-anonymous-consumer" not in h


def test_anonymous_missing(gw):
    r = requests.get(gw.url + "/hmac-anon-missing")
    assert r.status_code == 500
    assert r.json()["message"] == "anonymous consumer nobody is configured but doesn't exist"


def test_trailing_text(gw):
    # the regex is unanchored: text after the signature's closing quote is ignored, but the
    # greedy signature capture runs to the last quote
    h = date_auth()
    h["Authorization"] += " trailing"
    assert requests.get(gw.url + "/hmac", headers=h).status_code == 200
    h = date_auth(alg="hmac-sha384")  # 48 bytes: base64 without padding
    h["Authorization"] += ', extra="x"'
    check_401(requests.get(gw.url + "/hmac", headers=h), MSG_MISMATCH)
    # ngx.decode_base64 ignores everything from the first '=', so a padded signature still
    # decodes to the same bytes
    h = date_auth()
    h["Authorization"] += ', extra="x"'
    assert requests.get(gw.url + "/hmac", headers=h).status_code == 200
    h = date_auth()
    h["Authorization"] = "Signature keyId=1, " + h["Authorization"]
    assert requests.get(gw.url + "/hmac", headers=h).status_code == 200
