"""Access-control and header plugins on the data plane, as a client sees them: acl (allow,
deny, 401/403 messages, X-Consumer-Groups), cors (origins, credentials, preflights, headers
on normal and gateway-made answers), ip-restriction (allow, deny, status, message) and
correlation-id (uuid, uuid#counter and tracker ids, header_name, echo_downstream) and
bot-detection (allow, deny, built-in crawler patterns)."""
import re

import pytest
import requests

from harness import Echo, Gateway

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    echo = Echo("access-echo")
    g = Gateway(tmp_path_factory.mktemp("plugins-access"), f"""
_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{{key: alice-key}}]
    acls: [{{group: gold}}, {{group: silver}}]
  - username: bob
    keyauth_credentials: [{{key: bob-key}}]
    acls: [{{group: bronze}}]
  - username: carol
    keyauth_credentials: [{{key: carol-key}}]
  - username: guest
services:
  - name: svc
    url: http://127.0.0.1:{echo.port}
    routes:
      - name: acl-allow
        paths: [/acl-allow]
        plugins:
          - name: key-auth
          - name: acl
            config: {{allow: [gold, platinum]}}
      - name: acl-deny
        paths: [/acl-deny]
        plugins:
          - name: key-auth
          - name: acl
            config: {{deny: [bronze]}}
      - name: acl-hide
        paths: [/acl-hide]
        plugins:
          - name: key-auth
          - name: acl
            config: {{allow: [silver], hide_groups_header: true}}
      - name: acl-noauth
        paths: [/acl-noauth]
        plugins:
          - name: acl
            config: {{allow: [gold]}}
      - name: acl-anon
        paths: [/acl-anon]
        plugins:
          - name: key-auth
            config: {{anonymous: guest}}
          - name: acl
            config: {{allow: [gold]}}
      - name: cors-any
        paths: [/cors-any]
        plugins:
          - name: cors
      - name: cors-list
        paths: [/cors-list]
        plugins:
          - name: cors
            config:
              origins: ["http://a.example", "https://b.example:8443", "(.*\\\\.)?c\\\\.example",
                        "^https?://d\\\\.example:\\\\d+"]
              credentials: true
              max_age: 3600
              headers: [X-H1, X-H2]
              exposed_headers: [X-One, X-Two]
              methods: [GET, POST]
      - name: cors-fixed
        paths: [/cors-fixed]
        plugins:
          - name: cors
            config: {{origins: ["http://only.example"]}}
      - name: cors-cred-any
        paths: [/cors-cred-any]
        plugins:
          - name: cors
            config: {{credentials: true}}
      - name: cors-continue
        paths: [/cors-continue]
        plugins:
          - name: cors
            config: {{preflight_continue: true}}
      - name: cors-absent
        paths: [/cors-absent]
        plugins:
          - name: cors
            config: {{allow_origin_absent: false, exposed_headers: [X-E]}}
      - name: cors-pn
        paths: [/cors-pn]
        plugins:
          - name: cors
            config: {{private_network: true, max_age: 1.5}}
      - name: cors-auth
        paths: [/cors-auth]
        plugins:
          - name: cors
          - name: key-auth
      - name: ip-deny
        paths: [/ip-deny]
        plugins:
          - name: ip-restriction
            config: {{deny: [127.0.0.0/8]}}
      - name: ip-allow-other
        paths: [/ip-allow-other]
        plugins:
          - name: ip-restriction
            config: {{allow: [10.0.0.0/8, "::1", "2001:db8::/32"]}}
      - name: ip-allow
        paths: [/ip-allow]
        plugins:
          - name: ip-restriction
            config: {{allow: [192.168.1.1, 127.0.0.1, "fe80::/10"]}}
      - name: ip-custom
        paths: [/ip-custom]
        plugins:
          - name: ip-restriction
            config: {{deny: [127.0.0.1/32], status: 418, message: go away}}
      - name: ip-deny-first
        paths: [/ip-deny-first]
        plugins:
          - name: ip-restriction
            config: {{allow: [127.0.0.1], deny: [127.0.0.0/24]}}
      - name: ip-v6-only
        paths: [/ip-v6-only]
        plugins:
          - name: ip-restriction
            config: {{deny: ["::/0", 10.1.2.0/23]}}
      - name: bot
        paths: [/bot]
        plugins:
          - name: bot-detection
      - name: bot-lists
        paths: [/bot-lists]
        plugins:
          - name: bot-detection
            config: {{allow: ["Googlebot"], deny: ["^curl/", "HeadlessChrome"]}}
      - name: cid-default
        paths: [/cid-default]
        plugins:
          - name: correlation-id
      - name: cid-uuid
        paths: [/cid-uuid]
        plugins:
          - name: correlation-id
            config: {{generator: uuid, header_name: X-Trace, echo_downstream: true}}
      - name: cid-term
        paths: [/cid-term]
        plugins:
          - name: correlation-id
            config: {{echo_downstream: true}}
          - name: request-termination
            config: {{status_code: 503}}
      - name: cid-tracker
        paths: [/cid-tracker]
        plugins:
          - name: correlation-id
            config: {{generator: tracker}}
""")
    yield g
    g.stop()
    echo.stop()


def error_of(r, status, message):
    assert r.status_code == status
    assert r.json()["message"] == message
    assert r.json()["request_id"] == r.headers["X-Kong-Request-Id"]


# ------------------------------------------------------------------ acl

@pytest.mark.parametrize("path,key,status,message", [
    ("/acl-allow", "bob-key", 403, "You cannot consume this service"),
    ("/acl-allow", "carol-key", 403, "You cannot consume this service"),  # no groups, credential
    ("/acl-deny", "bob-key", 403, "You cannot consume this service"),
    ("/acl-hide", "bob-key", 403, "You cannot consume this service"),
    ("/acl-noauth", None, 401, "Unauthorized"),  # no consumer
    ("/acl-anon", None, 401, "Unauthorized"),  # anonymous: no groups, no credential
])
def test_acl_rejections(gw, path, key, status, message):
    r = requests.get(gw.url + path, headers={"apikey": key} if key else {})
    error_of(r, status, message)


@pytest.mark.parametrize("path,key,groups", [
    ("/acl-allow", "alice-key", "gold, silver"),
    ("/acl-deny", "alice-key", "gold, silver"),
    ("/acl-deny", "carol-key", ""),  # no groups passes a deny-list
    ("/acl-hide", "alice-key", None),
])
def test_acl_passes_with_groups_header(gw, path, key, groups):
    r = requests.get(gw.url + path, headers={"apikey": key, "X-Consumer-Groups": "admin"})
    assert r.status_code == 200
    h = r.json()["headers"]
    if groups is None:
        assert h["x-consumer-groups"] == "admin"  # hidden: left as the client sent it
    else:
        assert h.get("x-consumer-groups", "") == groups  # set, so not injectable


def test_acl_anonymous_with_credential(gw):
    r = requests.get(gw.url + "/acl-anon", headers={"apikey": "alice-key"})
    assert r.status_code == 200 and r.json()["headers"]["x-consumer-groups"] == "gold, silver"
    r = requests.get(gw.url + "/acl-anon", headers={"apikey": "bob-key"})
    error_of(r, 403, "You cannot consume this service")


# ------------------------------------------------------------------ cors

def preflight(gw, path, origin="http://a.example", **extra):
    h = {"Origin": origin, "Access-Control-Request-Method": "POST", **extra}
    return requests.options(gw.url + path, headers=h)


def test_cors_any_origin(gw):
    r = requests.get(gw.url + "/cors-any", headers={"Origin": "http://x.example"})
    assert r.status_code == 200 and r.json()["method"] == "GET"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert "Vary" not in r.headers
    r = requests.get(gw.url + "/cors-any")
    assert r.headers["Access-Control-Allow-Origin"] == "*"  # allow_origin_absent


def test_cors_any_preflight(gw):
    r = preflight(gw, "/cors-any", **{"Access-Control-Request-Headers": "X-A, X-B"})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == "0"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == \
        "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"
    assert r.headers["Access-Control-Allow-Headers"] == "X-A, X-B"  # echoed
    assert "Access-Control-Max-Age" not in r.headers
    assert "Access-Control-Allow-Private-Network" not in r.headers
    # not a preflight: no Access-Control-Request-Method, so proxied
    r = requests.options(gw.url + "/cors-any", headers={"Origin": "http://a.example"})
    assert r.json()["method"] == "OPTIONS"
    assert r.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("origin,acao", [
    ("http://a.example", "http://a.example"),
    ("http://a.example:80", "http://a.example"),  # default port dropped
    ("https://b.example:8443", "https://b.example:8443"),
    ("https://b.example", None),
    ("https://sub.c.example", "https://sub.c.example"),  # regex without ':' -> host
    ("http://c.example:8080", "http://c.example:8080"),
    ("http://c.example.evil", None),  # anchored at the end
    ("http://d.example:81", "http://d.example:81"),  # regex with ':' -> whole origin
    ("http://d.example", None),
    ("http://evil.example", None),
    (None, None),
])
def test_cors_origin_list(gw, origin, acao):
    r = requests.get(gw.url + "/cors-list", headers={"Origin": origin} if origin else {})
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") == acao
    assert r.headers["Vary"] == "Origin"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Access-Control-Expose-Headers"] == "X-One,X-Two"
    assert "Access-Control-Allow-Methods" not in r.headers


def test_cors_list_preflight(gw):
    r = preflight(gw, "/cors-list", **{"Access-Control-Request-Headers": "X-A"})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Access-Control-Allow-Origin"] == "http://a.example"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Access-Control-Allow-Headers"] == "X-H1,X-H2"
    assert r.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert r.headers["Access-Control-Max-Age"] == "3600"
    assert r.headers["Vary"] == "Origin"
    r = preflight(gw, "/cors-list", origin="http://evil.example")
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_cors_single_origin_is_sent_as_is(gw):
    for h in ({"Origin": "http://other.example"}, {}):
        r = requests.get(gw.url + "/cors-fixed", headers=h)
        assert r.headers["Access-Control-Allow-Origin"] == "http://only.example"
        assert r.headers["Vary"] == "Origin"


def test_cors_credentials_with_any_origin(gw):
    r = requests.get(gw.url + "/cors-cred-any", headers={"Origin": "http://x.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "http://x.example"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Vary"] == "Origin"
    r = requests.get(gw.url + "/cors-cred-any")
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    r = preflight(gw, "/cors-cred-any", origin="http://y.example")
    assert r.headers["Access-Control-Allow-Origin"] == "http://y.example"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"


def test_cors_preflight_continue(gw):
    r = preflight(gw, "/cors-continue")
    assert r.status_code == 200 and r.json()["method"] == "OPTIONS"  # the upstream answered
    assert not [k for k in r.headers if k.lower().startswith("access-control-")]
    r = requests.get(gw.url + "/cors-continue", headers={"Origin": "http://a.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_allow_origin_absent_false(gw):
    r = requests.get(gw.url + "/cors-absent")
    assert not [k for k in r.headers if k.lower().startswith("access-control-")]
    r = requests.get(gw.url + "/cors-absent", headers={"Origin": "http://a.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Expose-Headers"] == "X-E"


def test_cors_private_network_and_max_age(gw):
    r = preflight(gw, "/cors-pn", **{"Access-Control-Request-Private-Network": "true"})
    assert r.headers["Access-Control-Allow-Private-Network"] == "true"
    assert r.headers["Access-Control-Max-Age"] == "1.5"
    r = preflight(gw, "/cors-pn")
    assert "Access-Control-Allow-Private-Network" not in r.headers


def test_cors_on_gateway_answers_and_before_auth(gw):
    r = requests.get(gw.url + "/cors-auth", headers={"Origin": "http://a.example"})
    error_of(r, 401, "No API key found in request")
    assert r.headers["Access-Control-Allow-Origin"] == "*"  # header_filter on the 401
    r = preflight(gw, "/cors-auth")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    assert "WWW-Authenticate" not in r.headers  # answered before key-auth ran


# ------------------------------------------------------------------ ip-restriction

@pytest.mark.parametrize("path,status,message", [
    ("/ip-deny", 403, "IP address not allowed: 127.0.0.1"),
    ("/ip-allow-other", 403, "IP address not allowed: 127.0.0.1"),
    ("/ip-custom", 418, "go away"),
    ("/ip-deny-first", 403, "IP address not allowed: 127.0.0.1"),  # deny checked first
])
def test_ip_restriction_rejections(gw, path, status, message):
    error_of(requests.get(gw.url + path), status, message)


@pytest.mark.parametrize("path", ["/ip-allow", "/ip-v6-only"])
def test_ip_restriction_passes(gw, path):
    r = requests.get(gw.url + path)
    assert r.status_code == 200 and r.json()["server"] == "access-echo"


# ------------------------------------------------------------------ bot-detection

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.mark.parametrize("path,ua,status", [
    ("/bot", FIREFOX, 200),
    ("/bot", "curl/8.5.0", 200),
    ("/bot", None, 200),  # no User-Agent: passes
    ("/bot", GOOGLEBOT, 403),  # built-in pattern
    ("/bot", "facebookexternalhit/1.1", 403),
    ("/bot", "  Pingdom.com_bot_version_1.4  ", 403),
    ("/bot", "Mozilla/5.0 (compatible; bingbot/2.0)", 403),
    ("/bot-lists", GOOGLEBOT, 200),  # allow wins over the built-in list
    ("/bot-lists", "curl/8.5.0", 403),  # deny
    ("/bot-lists", "Mozilla/5.0 HeadlessChrome/131.0", 403),
    ("/bot-lists", "xcurl/8.5.0", 200),
    ("/bot-lists", "facebookexternalhit/1.1", 403),
])
def test_bot_detection(gw, path, ua, status):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    c.putrequest("GET", path, skip_accept_encoding=True)
    if ua is not None:
        c.putheader("User-Agent", ua)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    assert r.status == status
    if status == 403:
        assert b'"message":"Forbidden"' in body
    c.close()


def test_bot_detection_several_user_agents(gw):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    c.putrequest("GET", "/bot")
    c.putheader("User-Agent", FIREFOX)
    c.putheader("User-Agent", FIREFOX)
    c.endheaders()
    r = c.getresponse()
    assert r.status == 400
    assert b'"message":"Only one User-Agent header allowed"' in r.read()
    c.close()


# ------------------------------------------------------------------ correlation-id

def test_correlation_id_uuid_counter(gw):
    ids = [requests.get(gw.url + "/cid-default").json()["headers"]["kong-request-id"]
           for _ in range(2)]
    m = [re.fullmatch("(" + UUID + ")#([0-9]+)", i) for i in ids]
    assert m[0] and m[1]
    assert m[0].group(1) == m[1].group(1)  # one uuid per worker
    assert int(m[1].group(2)) == int(m[0].group(2)) + 1
    r = requests.get(gw.url + "/cid-default")
    assert "Kong-Request-ID" not in r.headers  # echo_downstream false


def test_correlation_id_uuid_echoed(gw):
    r = requests.get(gw.url + "/cid-uuid")
    sent = r.json()["headers"]["x-trace"]
    assert re.fullmatch(UUID, sent)
    assert r.headers["X-Trace"] == sent
    assert requests.get(gw.url + "/cid-uuid").headers["X-Trace"] != sent


@pytest.mark.parametrize("value,kept", [("mine-123", True), ("", False)])
def test_correlation_id_client_value(gw, value, kept):
    r = requests.get(gw.url + "/cid-uuid", headers={"X-Trace": value})
    sent = r.json()["headers"]["x-trace"]
    assert (sent == value) if kept else re.fullmatch(UUID, sent)
    assert r.headers["X-Trace"] == sent


def test_correlation_id_on_plugin_answer(gw):
    r = requests.get(gw.url + "/cid-term")
    assert r.status_code == 503
    assert re.fullmatch(UUID + "#[0-9]+", r.headers["Kong-Request-ID"])
    r = requests.get(gw.url + "/cid-term", headers={"Kong-Request-ID": "abc"})
    assert r.headers["Kong-Request-ID"] == "abc"


def test_correlation_id_tracker(gw):
    """Kong's server_addr-server_port-pid-connection-connection_requests-now"""
    import http.client
    import json
    import time
    form = r"127\.0\.0\.1-([0-9]+)-([0-9]+)-([0-9]+)-([0-9]+)-([0-9]+\.[0-9]{3})"
    seen = []
    for _ in range(2):  # two connections, two requests on each
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
        for _ in range(2):
            c.request("GET", "/cid-tracker")
            r = c.getresponse()
            sent = json.loads(r.read())["headers"]["kong-request-id"]
            m = re.fullmatch(form, sent)
            assert m, sent
            seen.append(m.groups())
        c.close()
    for port, pid, conn, nreq, now in seen:
        assert int(port) == gw.port
        assert int(pid) == gw.proc.pid
        assert abs(float(now) - time.time()) < 60
    assert [s[3] for s in seen] == ["1", "2", "1", "2"]
    assert seen[0][2] == seen[1][2] and seen[2][2] == seen[3][2]
    assert int(seen[2][2]) > int(seen[0][2])  # serials grow across connections


def test_configured_messages_are_escaped_in_error_bodies(tmp_path):
    import json as _json
    echo = Echo("esc")
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - url: http://127.0.0.1:{echo.port}
    routes:
      - paths: [/]
        plugins:
          - name: ip-restriction
            config: {{deny: [127.0.0.1], message: 'no "quotes" <here>'}}
""")
    try:
        r = requests.get(g.url + "/")
        assert r.status_code == 403
        assert _json.loads(r.text)["message"] == 'no "quotes" <here>'
        r = requests.get(g.url + "/", headers={"Accept": "text/html"})
        assert "no &quot;quotes&quot; &lt;here&gt;" in r.text
    finally:
        g.stop()
        echo.stop()


@pytest.fixture(scope="module")
def size_gw(tmp_path_factory):
    echo = Echo("size")
    g = Gateway(tmp_path_factory.mktemp("size"), f"""
_format_version: "3.0"
services:
  - url: http://127.0.0.1:{echo.port}
    routes:
      - paths: [/limited]
        plugins:
          - name: request-size-limiting
            config: {{allowed_payload_size: 2, size_unit: kilobytes}}
      - paths: [/strict]
        plugins:
          - name: request-size-limiting
            config: {{allowed_payload_size: 1, require_content_length: true}}
""")
    yield g
    g.stop()
    echo.stop()


def test_request_size_limiting(size_gw):
    from harness import raw
    g = size_gw
    assert requests.post(g.url + "/limited", data=b"a" * 2048).status_code == 200
    r = requests.post(g.url + "/limited", data=b"a" * 2049)
    assert r.status_code == 413 and r.json()["message"] == "Request size limit exceeded"
    out = raw(g.port, b"POST /limited HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n"
              b"Expect: 100-continue\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 417 ")
    # chunked bodies are counted as they stream
    def gen(n):
        for _ in range(n):
            yield b"b" * 1000
    assert requests.post(g.url + "/limited", data=gen(2)).status_code == 200
    out = raw(g.port, b"POST /limited HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              + b"800\r\n" + b"c" * 0x800 + b"\r\n800\r\n" + b"c" * 0x800 + b"\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413 ") and b"Request size limit exceeded" in out
    out = raw(g.port, b"POST /strict HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 411 ")
    assert b"A valid Content-Length header is required" in out
    assert requests.post(g.url + "/strict", data=b"x" * 10).status_code == 200
