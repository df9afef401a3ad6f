"""The standalone data plane as a reverse proxy, seen from a client: routing, upstream
paths, headers, keep-alive, bodies both ways, errors and reloads."""
import json
import socket
import time

import pytest
import requests

from harness import Echo, Gateway, free_port, raw


@pytest.fixture
def echo():
    e = Echo("echo1")
    yield e
    e.stop()


@pytest.fixture
def gw_factory(tmp_path):
    gws = []

    def make(config, **kw):
        g = Gateway(tmp_path, config, **kw)
        gws.append(g)
        return g

    yield make
    for g in gws:
        g.stop()


def conf(echo_port, routes_yaml, service_extra=""):
    return f"""
_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:{echo_port}{service_extra}
    routes:
{routes_yaml}
"""


def test_proxies_to_the_upstream_with_kong_headers(echo, gw_factory):
    g = gw_factory(conf(echo.port, "      - name: r\n        paths: [/api]\n"))
    r = requests.get(g.url + "/api/items?x=1", headers={"Host": "example.test:8000"})
    assert r.status_code == 200
    got = r.json()
    assert got["path"] == "/items?x=1"  # strip_path (default true) removes /api
    h = got["headers"]
    assert h["host"] == f"127.0.0.1:{echo.port}"
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-real-ip"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-host"] == "example.test"
    assert h["x-forwarded-port"] == str(g.port)
    assert h["x-forwarded-path"] == "/api/items"
    assert h["x-forwarded-prefix"] == "/api"
    assert h["via"] == "1.1 tollgate/0.1.0"
    assert len(h["x-kong-request-id"]) == 32
    assert r.headers["Via"] == "1.1 tollgate/0.1.0"
    assert r.headers["Server"].startswith("echo")  # the upstream's own Server passes through
    assert "X-Kong-Upstream-Latency" in r.headers
    assert "X-Kong-Proxy-Latency" in r.headers
    assert r.headers["X-Kong-Request-Id"] == h["x-kong-request-id"]


def test_no_route_is_404_with_kongs_body(echo, gw_factory):
    g = gw_factory(conf(echo.port, "      - paths: [/api]\n"))
    r = requests.get(g.url + "/nothing")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["message"] == "no Route matched with those values"
    assert r.json()["request_id"] == r.headers["X-Kong-Request-Id"]
    assert r.text.startswith('{\n  "message":"no Route matched with those values",\n')
    r = requests.get(g.url + "/nothing", headers={"Accept": "text/plain"})
    assert r.text == ("no Route matched with those values\nrequest_id: "
                      + r.headers["X-Kong-Request-Id"] + "\n")


@pytest.mark.parametrize("svc_path,route_path,strip,req,want", [
    ("/", "/route", True, "/route", "/"),
    ("/", "/route", True, "/routereq", "/req"),
    ("/srv", "/rou", False, "/roureq", "/srv/roureq"),
    ("/srv", "/rou", True, "/roureq", "/srv/req"),
    ("/srv/", "/rou", True, "/rou", "/srv"),
    ("/service", "/", True, "/", "/service"),
    ("/service", "/", True, "/route/", "/service/route/"),
    ("/service", "/route", True, "/route/", "/service/"),
    ("/service/", "/route", True, "/route", "/service"),
    ("/service/", "/route", True, "/routereq", "/service/req"),
    ("/service", "/route", False, "/route%2E/req", "/service/route./req"),
])
def test_upstream_path_kong_fixture(echo, gw_factory, svc_path, route_path, strip, req, want):
    g = gw_factory(conf(echo.port, f"      - paths: [\"{route_path}\"]\n"
                                   f"        strip_path: {str(strip).lower()}\n", svc_path))
    r = requests.get(g.url + req)
    assert r.status_code == 200
    assert r.json()["path"] == want


def test_preserve_host(echo, gw_factory):
    g = gw_factory(conf(echo.port, "      - paths: [/]\n        preserve_host: true\n"))
    r = requests.get(g.url + "/", headers={"Host": "preserved.com:123"})
    assert r.json()["headers"]["host"] == "preserved.com:123"


def test_route_without_service_is_503(echo, gw_factory):
    g = gw_factory(f"""
_format_version: "3.0"
routes:
  - name: orphan
    paths: [/orphan]
""")
    r = requests.get(g.url + "/orphan")
    assert r.status_code == 503
    assert r.json()["message"] == "no Service found with those values"


def test_keep_alive_and_pipelining(echo, gw_factory):
    g = gw_factory(conf(echo.port, "      - paths: [/]\n"))
    with requests.Session() as s:
        for i in range(20):
            assert s.get(g.url + f"/k{i}").json()["path"] == f"/k{i}"
    req = b"GET /p1 HTTP/1.1\r\nHost: a\r\n\r\nGET /p2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    out = raw(g.port, req)
    assert out.count(b"HTTP/1.1 200") == 2
    assert out.index(b'"/p1"') < out.index(b'"/p2"')


def test_request_bodies_fixed_and_chunked(echo, gw_factory):
    g = gw_factory(conf(echo.port, "      - paths: [/]\n"))
    data = b"a" * 300000
    r = requests.post(g.url + "/up", data=data)
    assert r.json()["body_len"] == len(data)

    def gen():
        for _ in range(10):
            yield b"b" * 10000
    r = requests.post(g.url + "/up", data=gen())  # chunked
    assert r.json()["body_len"] == 100000
    assert r.json()["headers"]["transfer-encoding"] == "chunked"


def test_response_bodies_length_and_chunked(echo, gw_factory):
    g = gw_factory(conf(echo.port, "      - paths: [/]\n"))
    r = requests.get(g.url + "/big/5000000")
    assert len(r.content) == 5000000
    r = requests.get(g.url + "/chunked")
    assert r.content == b"hello chunked world"
    r = requests.head(g.url + "/anything")
    assert r.status_code == 200 and r.content == b""


def test_expect_100_continue(echo, gw_factory):
    g = gw_factory(conf(echo.port, "      - paths: [/]\n"))
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as s:
        s.sendall(b"POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"hello")
        out = b""
        while b'"body": "hello"' not in out:
            chunk = s.recv(65536)
            assert chunk
            out += chunk


@pytest.mark.parametrize("req,status", [
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"b" * 40000 + b"\r\n\r\n", 431),
])
def test_malformed_requests_are_refused_and_closed(echo, gw_factory, req, status):
    g = gw_factory(conf(echo.port, "      - paths: [/]\n"))
    out = raw(g.port, req)
    assert out.startswith(b"HTTP/1.1 %d " % status)
    assert b"Connection: close" in out


def test_connection_refused_is_502_and_retries_go_elsewhere(echo, gw_factory):
    dead = free_port()
    g = gw_factory(f"""
_format_version: "3.0"
services:
  - name: svc
    host: pool
    retries: 3
    routes:
      - paths: [/]
upstreams:
  - name: pool
    targets:
      - target: 127.0.0.1:{dead}
      - target: 127.0.0.1:{echo.port}
""")
    for _ in range(6):
        r = requests.get(g.url + "/x")
        assert r.status_code == 200
    g.stop()
    g2 = gw_factory(conf(dead, "      - paths: [/]\n"))
    r = requests.get(g2.url + "/x")
    assert r.status_code == 502
    assert r.text.startswith("An invalid response was received from the upstream server\n")


def test_read_timeout_is_504(echo, gw_factory):
    g = gw_factory(f"""
_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:{echo.port}
    read_timeout: 200
    retries: 0
    routes:
      - paths: [/]
""")
    r = requests.get(g.url + "/sleep/1500")
    assert r.status_code == 504
    assert r.text.startswith("The upstream server is timing out\n")


def test_round_robin_over_targets(gw_factory):
    a, b = Echo("a"), Echo("b")
    try:
        g = gw_factory(f"""
_format_version: "3.0"
services:
  - name: svc
    host: pool
    routes:
      - paths: [/]
upstreams:
  - name: pool
    targets:
      - target: 127.0.0.1:{a.port}
        weight: 200
      - target: 127.0.0.1:{b.port}
        weight: 100
""")
        seen = [requests.get(g.url + "/").json()["server"] for _ in range(30)]
        assert seen.count("a") == 20 and seen.count("b") == 10
    finally:
        a.stop()
        b.stop()


def test_sighup_reload_and_bad_reload_keeps_serving(echo, gw_factory):
    g = gw_factory(conf(echo.port, "      - paths: [/old]\n"))
    assert requests.get(g.url + "/old").status_code == 200
    h1 = g.status()["configuration_hash"]
    g.reload(conf(echo.port, "      - paths: [/new]\n"))
    deadline = time.time() + 5
    while g.status()["configuration_hash"] == h1 and time.time() < deadline:
        time.sleep(0.05)
    assert requests.get(g.url + "/new").status_code == 200
    assert requests.get(g.url + "/old").status_code == 404
    h2 = g.status()["configuration_hash"]
    g.reload("_format_version: \"3.0\"\nservices:\n  - port: 99999\n")
    time.sleep(0.5)
    assert g.status()["configuration_hash"] == h2
    assert requests.get(g.url + "/new").status_code == 200
    assert "reload refused" in g.output()


def test_status_endpoint(echo, gw_factory):
    g = gw_factory(conf(echo.port, "      - paths: [/]\n"))
    requests.get(g.url + "/")
    st = g.status()
    assert st["server"]["total_requests"] >= 1
    assert len(st["configuration_hash"]) == 64
    assert st["workers"] == 1


class WsEcho:
    """A minimal WebSocket echo server (RFC 6455 handshake, text/binary frames echoed)."""

    def __init__(self):
        import base64
        import hashlib
        import socketserver
        import struct
        import threading

        class H(socketserver.BaseRequestHandler):
            def handle(self):
                f = self.request.makefile("rb")
                key = None
                while True:
                    line = f.readline()
                    if line in (b"\r\n", b""):
                        break
                    if line.lower().startswith(b"sec-websocket-key:"):
                        key = line.split(b":", 1)[1].strip()
                acc = base64.b64encode(hashlib.sha1(
                    key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
                self.request.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc
                                     + b"\r\n\r\n")
                while True:
                    hdr = f.read(2)
                    if len(hdr) < 2:
                        return
                    op, ln = hdr[0] & 0x0F, hdr[1] & 0x7F
                    if ln == 126:
                        ln = struct.unpack(">H", f.read(2))[0]
                    mask = f.read(4) if hdr[1] & 0x80 else b"\0\0\0\0"
                    data = bytes(b ^ mask[i % 4] for i, b in enumerate(f.read(ln)))
                    if op == 8:
                        return
                    out = bytes([0x80 | op]) + (bytes([len(data)]) if len(data) < 126
                                                 else b"\x7e" + struct.pack(">H", len(data)))
                    self.request.sendall(out + data)

        class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.port = free_port()
        self.server = S(("127.0.0.1", self.port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_websocket_upgrade_is_tunnelled(gw_factory):
    import os
    ws = WsEcho()
    try:
        g = gw_factory(conf(ws.port, "      - paths: [/ws]\n"))
        with socket.create_connection(("127.0.0.1", g.port), timeout=5) as s:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(4096)
            assert head.startswith(b"HTTP/1.1 101 ")
            assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
            for msg in (b"hello", b"x" * 300):
                mask = os.urandom(4)
                frame = bytes([0x81]) + (bytes([0x80 | len(msg)]) if len(msg) < 126
                                         else b"\xfe" + len(msg).to_bytes(2, "big"))
                s.sendall(frame + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
                want = 2 + (2 if len(msg) >= 126 else 0) + len(msg)
                got = b""
                while len(got) < want:
                    got += s.recv(4096)
                assert got.endswith(msg)
    finally:
        ws.stop()


@pytest.mark.parametrize("fmt", ["combined", "json"])
def test_access_log(echo, tmp_path, fmt):
    log = tmp_path / "access.log"
    g = Gateway(tmp_path, conf(echo.port, "      - paths: [/]\n"),
                extra=("--access-log", str(log), "--access-log-format", fmt))
    try:
        requests.get(g.url + '/logged?q="x"', headers={"User-Agent": "ua\"1"})
        requests.get(g.url + "/nope", headers={"Host": "x"})
    finally:
        g.stop()
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    if fmt == "json":
        first = json.loads(lines[0])
        assert first["uri"] == '/logged?q=%22x%22' or first["uri"] == '/logged?q="x"'
        assert first["status"] == 200 and first["user_agent"] == 'ua"1'
        assert len(first["request_id"]) == 32
    else:
        assert lines[0].startswith("127.0.0.1 - - [")
        assert '" 200 ' in lines[0] and lines[0].endswith('"ua\\x221"')


def test_http10_client_is_proxied_in_http10(echo, gw_factory):
    """An HTTP/1.0 client cannot read a chunked response, so the upstream is asked in 1.0
    too and delimits its response by length or close."""
    g = gw_factory(conf(echo.port, "      - paths: [/]\n"))
    out = raw(g.port, b"GET /v10 HTTP/1.0\r\nHost: a\r\n\r\n")
    head, body = out.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["version"] == "HTTP/1.0"
    got = requests.get(g.url + "/v11").json()
    assert got["version"] == "HTTP/1.1"


def test_service_host_by_name(echo, gw_factory):
    g = gw_factory(conf(echo.port, "      - paths: [/]\n").replace("127.0.0.1", "localhost"))
    r = requests.get(g.url + "/named")
    assert r.status_code == 200 and r.json()["path"] == "/named"
    assert r.json()["headers"]["host"] == f"localhost:{echo.port}"


def test_client_max_body_size(echo, tmp_path):
    g = Gateway(tmp_path, conf(echo.port, "      - paths: [/]\n"),
                extra=("--client-max-body-size", "1k"))
    try:
        assert requests.post(g.url + "/small", data=b"a" * 1000).status_code == 200
        r = requests.post(g.url + "/big", data=b"a" * 2000)
        assert r.status_code == 413
    finally:
        g.stop()


def test_client_max_body_size_counts_chunked_bodies(echo, tmp_path):
    g = Gateway(tmp_path, conf(echo.port, "      - paths: [/]\n"),
                extra=("--client-max-body-size", "10k"))
    try:
        out = raw(g.port, b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"4000\r\n" + b"x" * 0x4000 + b"\r\n0\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 413 ")
    finally:
        g.stop()


def test_client_timeouts_answer_408(echo, tmp_path):
    g = Gateway(tmp_path, conf(echo.port, "      - paths: [/]\n"),
                extra=("--client-header-timeout", "1", "--client-body-timeout", "1",
                       "--keepalive-timeout", "1"))
    try:
        t0 = time.time()
        out = raw(g.port, b"GET / HTTP/1.1\r\nHost: a\r\n", timeout=5)  # head never ends
        assert out.startswith(b"HTTP/1.1 408 ") and time.time() - t0 < 4
        out = raw(g.port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
                  timeout=5)
        assert out.startswith(b"HTTP/1.1 408 ")
        with socket.create_connection(("127.0.0.1", g.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            time.sleep(0.2)
            s.recv(65536)
            t0 = time.time()
            assert s.recv(100) == b""  # idle keep-alive connection closed
            assert time.time() - t0 < 4
    finally:
        g.stop()
