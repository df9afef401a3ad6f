"""Big bodies stream through the proxy in bounded memory, both ways, and upstream connections
are reused across requests of one client connection. The upstream (harness.StreamUpstream)
counts request bytes without storing them and generates response bodies on the fly; the
gateway's VmRSS is sampled while the bytes flow."""
import json
import socket
import time

import pytest

from harness import Gateway, HttpConn, RssSampler, StreamUpstream, start_retrying

GIB = 1 << 30
MIB = 1 << 20
RSS_LIMIT_KB = 64 * 1024
TRANSFER_TIMEOUT = 120  # seconds, per 1 GiB transfer


@pytest.fixture(scope="module")
def upstream():
    u = StreamUpstream("stream")
    yield u
    u.stop()


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    g = start_retrying(lambda: Gateway(d, f"""
_format_version: "3.0"
services:
  - name: big
    url: http://127.0.0.1:{upstream.port}
    read_timeout: 120000
    write_timeout: 120000
    routes:
      - name: all
        paths: [/]
""", workers=2))
    yield g
    g.stop()


def read_head(rfile):
    status = int(rfile.readline(65536).split(b" ")[1])
    headers = {}
    while True:
        line = rfile.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            return status, headers
        k, v = line.decode("latin-1").split(":", 1)
        headers[k.strip().lower()] = v.strip()


def count_body(rfile, headers, deadline):
    """Counts a response body (Content-Length or chunked) without keeping it."""
    buf = memoryview(bytearray(MIB))
    total = 0

    def drain(n):
        nonlocal total
        while n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"body not done after {TRANSFER_TIMEOUT}s ({total} bytes)")
            got = rfile.readinto(buf[:min(n, MIB)])
            if not got:
                raise ConnectionError(f"eof after {total} bytes")
            n -= got
            total += got

    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(rfile.readline(1024).split(b";")[0], 16)
            if size == 0:
                while rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass
                return total
            drain(size)
            assert rfile.readline(1024) == b"\r\n"
    drain(int(headers["content-length"]))
    return total


def upload(port, nbytes, chunked, path="/upload"):
    """POSTs nbytes (1 MiB writes) and returns (status, parsed JSON answer)."""
    deadline = time.monotonic() + TRANSFER_TIMEOUT
    payload = memoryview(b"y" * MIB)
    with socket.create_connection(("127.0.0.1", port), timeout=TRANSFER_TIMEOUT) as s:
        framing = (b"Transfer-Encoding: chunked\r\n" if chunked
                   else b"Content-Length: %d\r\n" % nbytes)
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: stream.test\r\n"
                  b"Content-Type: application/octet-stream\r\n" + framing + b"\r\n")
        left = nbytes
        while left:
            assert time.monotonic() < deadline, f"upload not done after {TRANSFER_TIMEOUT}s"
            k = min(left, MIB)
            if chunked:
                s.sendall(b"%x\r\n" % k)
                s.sendall(payload[:k])
                s.sendall(b"\r\n")
            else:
                s.sendall(payload[:k])
            left -= k
        if chunked:
            s.sendall(b"0\r\n\r\n")
        rfile = s.makefile("rb")
        status, headers = read_head(rfile)
        body = rfile.read(int(headers["content-length"]))
        return status, json.loads(body)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_1gib_request_body_streams_in_bounded_memory(gw, chunked):
    with RssSampler(gw.proc.pid) as rss:
        status, got = upload(gw.port, GIB, chunked)
    assert status == 200
    assert got["method"] == "POST"
    assert got["received"] == GIB
    assert rss.samples > 0
    assert rss.max_kb < RSS_LIMIT_KB, f"gateway VmRSS peaked at {rss.max_kb} kB"


@pytest.mark.parametrize("path", ["/gen", "/genchunked"], ids=["content-length", "chunked"])
def test_1gib_response_body_streams_in_bounded_memory(gw, path):
    deadline = time.monotonic() + TRANSFER_TIMEOUT
    with socket.create_connection(("127.0.0.1", gw.port), timeout=TRANSFER_TIMEOUT) as s:
        s.sendall(b"GET %s/%d HTTP/1.1\r\nHost: stream.test\r\n\r\n" % (path.encode(), GIB))
        rfile = s.makefile("rb")
        with RssSampler(gw.proc.pid) as rss:
            status, headers = read_head(rfile)
            assert status == 200
            if path == "/gen":
                assert headers["content-length"] == str(GIB)
            n = count_body(rfile, headers, deadline)
        assert n == GIB
        # the connection is still usable afterwards
        s.sendall(b"GET /after HTTP/1.1\r\nHost: stream.test\r\n\r\n")
        status, headers = read_head(rfile)
        assert status == 200
        assert json.loads(rfile.read(int(headers["content-length"])))["path"] == "/after"
    assert rss.samples > 0
    assert rss.max_kb < RSS_LIMIT_KB, f"gateway VmRSS peaked at {rss.max_kb} kB"


def test_slow_upstream_reader_pushes_back_on_the_client(gw, upstream):
    """The upstream reads nothing for 3 s: the gateway must stop reading the client's body
    rather than buffer it."""
    with RssSampler(gw.proc.pid) as rss:
        status, got = upload(gw.port, GIB, False, path="/pause/3000/upload")
    assert status == 200
    assert got["received"] == GIB
    assert rss.max_kb < RSS_LIMIT_KB, f"gateway VmRSS peaked at {rss.max_kb} kB"


def test_slow_client_reader_pushes_back_on_the_upstream(gw):
    """The client reads nothing for 3 s after the response head: the gateway must stop
    reading the upstream rather than buffer the body."""
    deadline = time.monotonic() + TRANSFER_TIMEOUT
    with socket.create_connection(("127.0.0.1", gw.port), timeout=TRANSFER_TIMEOUT) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(b"GET /gen/%d HTTP/1.1\r\nHost: stream.test\r\n\r\n" % GIB)
        rfile = s.makefile("rb")
        with RssSampler(gw.proc.pid) as rss:
            status, headers = read_head(rfile)
            assert status == 200
            time.sleep(3)
            n = count_body(rfile, headers, deadline)
    assert n == GIB
    assert rss.max_kb < RSS_LIMIT_KB, f"gateway VmRSS peaked at {rss.max_kb} kB"


def test_keep_alive_reuses_upstream_connections(gw, upstream):
    before = set(upstream.peers)
    seen_ports = set()
    with HttpConn(gw.port, timeout=30) as c:
        for i in range(200):
            r = c.request("GET", f"/ka/{i}", [("Host", "stream.test")])
            assert r.status == 200
            got = r.json()
            assert got["path"] == f"/ka/{i}"
            seen_ports.add(got["port"])
    new_conns = upstream.peers - before
    # one client connection lives on one worker; its requests should ride one pooled
    # upstream connection (allow a little slack)
    assert len(seen_ports) <= 2, f"upstream saw {len(seen_ports)} client ports"
    assert len(new_conns) <= 2, f"upstream accepted {len(new_conns)} new connections"


def test_upstream_closing_idle_connections_is_not_an_error(tmp_path):
    """The upstream closes kept-alive connections idle for 0.2 s: a later request must not
    fail on a pooled connection that the upstream has closed."""
    up = StreamUpstream("idle-closer", idle_timeout=0.2)
    g = start_retrying(lambda: Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - name: closer
    url: http://127.0.0.1:{up.port}
    routes:
      - paths: [/]
""", workers=1))
    try:
        with HttpConn(g.port, timeout=30) as c:
            for i in range(5):
                r = c.request("GET", f"/idle/{i}", [("Host", "stream.test")])
                assert r.status == 200, r.body
                assert r.json()["path"] == f"/idle/{i}"
                time.sleep(0.6)
        assert up.connections >= 2  # the upstream did close them
    finally:
        g.stop()
        up.stop()


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize("direction", ["upload", "download"])
def test_client_abort_mid_transfer_releases_both_sides(gw, upstream, direction):
    """The client goes away after ~64 MiB of a 1 GiB body: the gateway must let go of the
    upstream exchange (the upstream is not left reading or writing forever), drop the client
    connection from its active count and keep serving."""
    wait_until(lambda: gw.status()["server"]["connections_active"] == 0, 30,
               "connections still active before the test")
    with RssSampler(gw.proc.pid) as rss:
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=TRANSFER_TIMEOUT)
        if direction == "upload":
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: stream.test\r\n"
                      b"Content-Length: %d\r\n\r\n" % GIB)
            payload = memoryview(b"y" * MIB)
            for _ in range(64):
                s.sendall(payload)
        else:
            s.sendall(b"GET /gen/%d HTTP/1.1\r\nHost: stream.test\r\n\r\n" % GIB)
            got = 0
            while got < 64 * MIB:
                chunk = s.recv(MIB)
                assert chunk
                got += len(chunk)
        wait_until(lambda: upstream.busy == 1, 30, "the upstream never saw the request")
        s.close()
        wait_until(lambda: upstream.busy == 0, 60,
                   "the upstream is still busy with the abandoned exchange")
        wait_until(lambda: gw.status()["server"]["connections_active"] == 0, 30,
                   "the gateway still counts the aborted connection as active")
    assert rss.max_kb < RSS_LIMIT_KB, f"gateway VmRSS peaked at {rss.max_kb} kB"
    with HttpConn(gw.port) as c:
        assert c.request("GET", "/after-abort", [("Host", "stream.test")]).status == 200
