"""Plugin phases as Kong runs them: `protocols` (Kong's plugins iterator only keeps instances
whose protocols include one of the HTTP subsystem, and never compares them with the request's
scheme), the priority order across several plugins of one request, the access walk that goes
on collecting plugins after an answer, and the log phase through file-log (one JSON line per
request, Kong's serialize() shape, 401s, 404s and clients that went away included)."""
import concurrent.futures
import json
import socket
import time

import pytest
import requests
import urllib3

from harness import Echo, Gateway, free_port, http_request

# the HTTPS listener's certificate is the gateway's self-signed default
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def lines(path, want, timeout=5):
    """The file's JSON lines once there are `want` of them (the writer is a thread)."""
    deadline = time.time() + timeout
    got = []
    while time.time() < deadline:
        try:
            got = [json.loads(x) for x in path.read_text().splitlines()]
        except FileNotFoundError:
            got = []
        if len(got) >= want:
            break
        time.sleep(0.02)
    return got


@pytest.fixture
def echo():
    e = Echo("phases")
    yield e
    e.stop()


# ---------------------------------------------------------------- protocols


def test_stream_only_instance_neither_runs_nor_shadows_the_global_one(tmp_path, echo):
    # ip-restriction accepts stream protocols; an instance with only tcp/tls is not part of
    # the HTTP subsystem: Kong drops it when it builds the iterator, like a disabled one
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - name: s1
    url: http://127.0.0.1:{echo.port}
    routes:
      - name: stream-only
        paths: [/stream-only]
        plugins:
          - name: ip-restriction
            protocols: [tcp, tls]
            config: {{allow: [127.0.0.1]}}
      - name: mixed
        paths: [/mixed]
        plugins:
          - name: ip-restriction
            protocols: [http, tcp]
            config: {{allow: [127.0.0.1]}}
      - name: grpc-only
        paths: [/grpc-only]
        plugins:
          - name: ip-restriction
            protocols: [grpc]
            config: {{allow: [127.0.0.1]}}
plugins:
  - name: ip-restriction
    config: {{deny: [127.0.0.1], message: global says no}}
""")
    try:
        r = requests.get(g.url + "/stream-only")
        assert r.status_code == 403 and r.json()["message"] == "global says no"
        # one HTTP-subsystem protocol is enough for the route's instance to win
        assert requests.get(g.url + "/mixed").status_code == 200
        # grpc belongs to the HTTP subsystem too (Kong's PROTOCOLS_WITH_SUBSYSTEM)
        assert requests.get(g.url + "/grpc-only").status_code == 200
    finally:
        g.stop()


@pytest.fixture
def tls_gw(tmp_path, echo):
    ssl_port = free_port()
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - name: s1
    url: http://127.0.0.1:{echo.port}
    plugins:
      - name: request-termination
        protocols: [http]
        config: {{status_code: 418, message: service http-only}}
    routes:
      - name: r1
        paths: [/r1]
        plugins:
          - name: request-termination
            protocols: [https]
            config: {{status_code: 418, message: route https-only}}
      - name: r2
        paths: [/r2]
""", extra=("--proxy-ssl-listen", f"127.0.0.1:{ssl_port}"))
    g.https_url = f"https://127.0.0.1:{ssl_port}"
    yield g
    g.stop()


def test_protocols_are_not_compared_with_the_scheme(tls_gw):
    # Kong 3.x (Kong/kong#14339): an https-only instance still runs over plain HTTP, an
    # http-only one over HTTPS, and the most specific instance wins whatever its protocols
    for base in (tls_gw.url, tls_gw.https_url):
        r = requests.get(base + "/r1", verify=False)
        assert (r.status_code, r.json()) == (418, {"message": "route https-only"}), base
        r = requests.get(base + "/r2", verify=False)
        assert (r.status_code, r.json()) == (418, {"message": "service http-only"}), base


def test_disabled_instance_with_matching_protocols_still_does_not_shadow(tmp_path, echo):
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - name: s1
    url: http://127.0.0.1:{echo.port}
    routes:
      - name: r1
        paths: [/r1]
        plugins:
          - name: request-termination
            enabled: false
            protocols: [http, https]
            config: {{status_code: 418, message: route}}
plugins:
  - name: request-termination
    protocols: [http]
    config: {{status_code: 418, message: global}}
""")
    try:
        assert requests.get(g.url + "/r1").json() == {"message": "global"}
    finally:
        g.stop()


# ---------------------------------------------------------------- priority order

ORDER_CONFIG = """
_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{{key: alice-key}}]
    acls: [{{group: gold}}]
  - username: bob
    keyauth_credentials: [{{key: bob-key}}]
services:
  - name: s1
    url: http://127.0.0.1:{port}
    routes:
      - name: chain
        paths: [/chain]
        plugins:
          - name: key-auth
          - name: request-transformer
            config:
              rename: {{headers: ["X-Consumer-Username:X-Who"]}}
              replace: {{headers: ["X-Trace:replaced-by-request-transformer"]}}
      - name: gate
        paths: [/gate]
        plugins:
          - name: key-auth
          - name: acl
            config: {{allow: [gold]}}
          - name: request-termination
            config: {{status_code: 418, message: terminated last}}
          - name: response-transformer
            config: {{add: {{headers: ["X-After-Answer:response-transformer"]}}}}
plugins:
  - name: correlation-id
    config: {{header_name: X-Trace, generator: uuid}}
"""


def test_priority_order_within_one_request(tmp_path, echo):
    # correlation-id (100001) sets X-Trace, key-auth (1250) sets X-Consumer-Username, then
    # request-transformer (801) replaces X-Trace and renames X-Consumer-Username: both edits
    # only happen when the earlier plugins already ran
    g = Gateway(tmp_path, ORDER_CONFIG.format(port=echo.port))
    try:
        r = requests.get(g.url + "/chain", headers={"apikey": "alice-key"})
        assert r.status_code == 200
        up = r.json()["headers"]
        assert up["x-trace"] == "replaced-by-request-transformer"
        assert up["x-who"] == "alice"
        assert "x-consumer-username" not in up
        assert "apikey" in up
    finally:
        g.stop()


def test_auth_then_acl_then_termination(tmp_path, echo):
    # key-auth (1250) > acl (950) > request-termination (2): each answers only when every
    # plugin before it let the request through
    g = Gateway(tmp_path, ORDER_CONFIG.format(port=echo.port))
    try:
        r = requests.get(g.url + "/gate")
        assert r.status_code == 401 and r.json()["message"] == "No API key found in request"
        r = requests.get(g.url + "/gate", headers={"apikey": "bob-key"})
        assert r.status_code == 403 and r.json()["message"] == "You cannot consume this service"
        r = requests.get(g.url + "/gate", headers={"apikey": "alice-key"})
        assert r.status_code == 418 and r.json() == {"message": "terminated last"}
        # plugins after the one that answered still run their header_filter on the answer
        # (Kong's iterator goes on collecting): response-transformer (800) on the 401 too
        for key in (None, "bob-key", "alice-key"):
            r = requests.get(g.url + "/gate", headers={"apikey": key} if key else {})
            assert r.headers.get("X-After-Answer") == "response-transformer", key
    finally:
        g.stop()


# ---------------------------------------------------------------- log phase (file-log)


def log_gw(tmp_path, echo, extra_route_plugins="", reopen=False):
    path = tmp_path / "file.log"
    route_log = tmp_path / "route.log"
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{{key: alice-key}}]
services:
  - name: s1
    url: http://127.0.0.1:{echo.port}
    routes:
      - name: open
        paths: [/open]
      - name: routed
        paths: [/routed]
        plugins:
          - name: file-log
            config: {{path: {route_log}}}
      - name: locked
        paths: [/locked]
        plugins:
          - name: key-auth
{extra_route_plugins}
plugins:
  - name: file-log
    config: {{path: {path}, reopen: {str(reopen).lower()}}}
""")
    return g, path, route_log


def test_file_log_one_line_per_request_with_kongs_fields(tmp_path, echo):
    g, path, route_log = log_gw(tmp_path, echo)
    try:
        t0 = time.time()
        r = requests.get(g.url + "/locked/x?a=1&b=two%20words&flag",
                         headers={"apikey": "alice-key", "Authorization": "Basic c2VjcmV0"})
        assert r.status_code == 200
        got = lines(path, 1)
        assert len(got) == 1
        e = got[0]
        assert e["request"]["id"] == r.headers["X-Kong-Request-Id"]
        assert e["request"]["method"] == "GET"
        assert e["request"]["uri"] == "/locked/x?a=1&b=two%20words&flag"
        assert e["request"]["url"] == f"http://127.0.0.1:{g.port}/locked/x?a=1&b=two%20words&flag"
        assert e["request"]["querystring"] == {"a": "1", "b": "two words", "flag": True}
        # credentials never reach the log; edits by plugins (key-auth's headers) do
        assert e["request"]["headers"]["authorization"] == "REDACTED"
        assert e["request"]["headers"]["x-consumer-username"] == "alice"
        assert e["request"]["size"] > 0
        assert e["response"]["status"] == 200
        assert e["response"]["headers"]["x-kong-request-id"] == r.headers["X-Kong-Request-Id"]
        assert e["response"]["size"] > len(r.content)
        assert e["upstream_status"] == "200"
        assert e["upstream_uri"] == "/x?a=1&b=two%20words&flag"
        assert e["source"] == "upstream"
        assert e["route"]["name"] == "locked" and e["service"]["name"] == "s1"
        assert e["consumer"]["username"] == "alice"
        assert e["authenticated_entity"]["consumer_id"] == e["consumer"]["id"]
        assert e["client_ip"] == "127.0.0.1"
        assert e["tries"][0]["port"] == echo.port
        assert abs(e["started_at"] / 1000.0 - t0) < 5
        lat = e["latencies"]
        assert set(lat) >= {"kong", "proxy", "request", "receive"} and lat["proxy"] >= 0
        assert lat["request"] >= lat["proxy"]
        # the route-scoped file-log of another route logged nothing
        assert not route_log.exists() or route_log.read_text() == ""
    finally:
        g.stop()


def test_file_log_logs_answers_made_by_plugins_and_the_gateway(tmp_path, echo):
    g, path, route_log = log_gw(tmp_path, echo)
    try:
        r401 = requests.get(g.url + "/locked")
        assert r401.status_code == 401
        r404 = requests.get(g.url + "/nowhere")
        assert r404.status_code == 404
        got = lines(path, 2)
        assert [e["response"]["status"] for e in got] == [401, 404]
        e401, e404 = got
        # key-auth (1250) answered before file-log (9): the walk still chose file-log
        assert e401["source"] == "kong" and e401["route"]["name"] == "locked"
        assert "consumer" not in e401 and e401["upstream_status"] == ""
        assert e401["request"]["id"] == r401.headers["X-Kong-Request-Id"]
        assert e401["latencies"]["proxy"] == -1
        # no route matched: only global instances log it (Kong's global iterator)
        assert e404["request"]["uri"] == "/nowhere" and "route" not in e404
        assert not route_log.exists() or route_log.read_text() == ""
        # a route-scoped instance logs its own route, instead of the global one (one
        # instance of a plugin per request)
        assert requests.get(g.url + "/routed").status_code == 200
        assert [e["route"]["name"] for e in lines(route_log, 1)] == ["routed"]
        assert requests.get(g.url + "/open").status_code == 200
        assert [e["request"]["uri"] for e in lines(path, 3)] == ["/locked", "/nowhere", "/open"]
    finally:
        g.stop()


def test_file_log_logs_requests_whose_client_went_away(tmp_path, echo):
    g, path, _ = log_gw(tmp_path, echo)
    try:
        # gone in the middle of its request body: nothing was answered (nginx's 499)
        with socket.create_connection(("127.0.0.1", g.port)) as s:
            s.sendall(b"POST /open/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                      b"\r\n" + b"x" * 1000)
            time.sleep(0.2)
        got = lines(path, 1)
        assert len(got) == 1
        assert got[0]["request"]["uri"] == "/open/upload"
        assert got[0]["response"]["status"] == 499 and got[0]["response"]["size"] == 0
        # gone while a big response streams: its status, and the bytes that went out
        with socket.create_connection(("127.0.0.1", g.port)) as s:
            s.sendall(b"GET /open/big/200000000 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
        got = lines(path, 2, timeout=10)
        assert len(got) == 2
        e = got[1]
        assert e["request"]["uri"] == "/open/big/200000000"
        assert e["response"]["status"] == 200 and e["upstream_status"] == "200"
        assert 0 < e["response"]["size"] < 200000000
        time.sleep(0.3)
        assert len(lines(path, 2)) == 2  # each once
        # the next requests are logged as usual
        assert requests.get(g.url + "/open").status_code == 200
        assert [x["response"]["status"] for x in lines(path, 3)] == [499, 200, 200]
    finally:
        g.stop()


def test_file_log_keep_alive_requests_each_logged_once(tmp_path, echo):
    g, path, _ = log_gw(tmp_path, echo)
    try:
        with requests.Session() as s:
            for i in range(5):
                assert s.get(g.url + f"/open/{i}").status_code == 200
        got = lines(path, 5)
        time.sleep(0.2)
        got = lines(path, 5)
        assert [e["request"]["uri"] for e in got] == [f"/open/{i}" for i in range(5)]
        assert len({e["request"]["id"] for e in got}) == 5
    finally:
        g.stop()


@pytest.mark.parametrize("reopen", [False, True])
def test_file_log_reopen_follows_a_rotated_file(tmp_path, echo, reopen):
    g, path, _ = log_gw(tmp_path, echo, reopen=reopen)
    try:
        assert requests.get(g.url + "/open/1").status_code == 200
        assert len(lines(path, 1)) == 1
        rotated = tmp_path / "file.log.1"
        path.rename(rotated)
        assert requests.get(g.url + "/open/2").status_code == 200
        if reopen:
            # reopened per line: the new line goes to a new file at the configured path
            assert [e["request"]["uri"] for e in lines(path, 1)] == ["/open/2"]
            assert len(lines(rotated, 1)) == 1
        else:
            # the descriptor is kept, as Kong keeps it: the line follows the renamed file
            assert [e["request"]["uri"] for e in lines(rotated, 2)] == ["/open/1", "/open/2"]
            assert not path.exists()
    finally:
        g.stop()


def test_file_log_unwritable_path_does_not_break_requests(tmp_path, echo):
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - url: http://127.0.0.1:{echo.port}
    routes: [{{paths: [/]}}]
plugins:
  - name: file-log
    config: {{path: {tmp_path}/missing-dir/file.log}}
""")
    try:
        for _ in range(3):
            assert requests.get(g.url + "/").status_code == 200
        time.sleep(0.2)
        assert "cannot open the log file" in g.output()
    finally:
        g.stop()


def test_file_log_lines_are_whole_across_workers(tmp_path, echo):
    path = tmp_path / "many.log"
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - url: http://127.0.0.1:{echo.port}
    routes: [{{paths: [/]}}]
plugins:
  - name: file-log
    config: {{path: {path}}}
""", workers=2)
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(lambda i: http_request(g.port, "GET", f"/n/{i}",
                                                       [("Host", "x")]).status, range(200)))
        assert codes == [200] * 200
        got = lines(path, 200)
        assert sorted(e["request"]["uri"] for e in got) == sorted(f"/n/{i}" for i in range(200))
    finally:
        g.stop()
