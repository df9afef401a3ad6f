"""Load balancing and health checks seen from a client (reference §5.2, §5.4): consistent
hashing sticks to a target per key and sets Kong's hash cookie, least-connections avoids a busy
target across workers, passive checks evict a target answering 500s (and answer Kong's 503 once
none is left, also after a reload), active checks evict a dead target and bring it back when it
returns. Everything runs on loopback; every wait is bounded."""
import http.server
import json
import socketserver
import threading
import time

import pytest
import requests

from harness import Gateway, free_port, start_retrying, wait_config_change


class Backend:
    """A loopback upstream answering every request with JSON {"server", "path"} and .status
    (settable); "/sleep/MS" anywhere in the path waits first. Every response closes its
    connection, so a stopped backend is really gone for the gateway. .seen records (path,
    lower-cased headers) of every request, probes included."""

    def __init__(self, name, port=None, status=200):
        self.name = name
        self.status = status
        self.seen = []
        self.lock = threading.Lock()
        self.port = port or free_port()
        self._start()

    def _start(self):
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with backend.lock:
                    backend.seen.append(
                        (self.path, {k.lower(): v for k, v in self.headers.items()}))
                if "/sleep/" in self.path:
                    ms = int(self.path.split("/sleep/")[1].split("/")[0].split("?")[0])
                    time.sleep(ms / 1000.0)
                body = json.dumps({"server": backend.name, "path": self.path}).encode()
                self.send_response(backend.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def restart(self):
        self._start()

    def paths(self):
        with self.lock:
            return [p for p, _ in self.seen]


@pytest.fixture
def backends():
    made = []

    def make(*names, status=200):
        out = [Backend(n, status=status) for n in names]
        made.extend(out)
        return out

    yield make
    for b in made:
        try:
            b.stop()
        except Exception:
            pass


@pytest.fixture
def gw_factory(tmp_path):
    gws = []

    def make(config, **kw):
        g = start_retrying(lambda: Gateway(tmp_path, config, **kw))
        gws.append(g)
        return g

    yield make
    for g in gws:
        g.stop()


def conf(backends, upstream="", service="", weights=None):
    """One upstream "pool" over the backends (upstream: extra YAML lines at its level, indented
    4), one service on it (service: extra lines, indented 4), a catch-all route."""
    targets = "".join(
        f"      - target: 127.0.0.1:{b.port}\n"
        + (f"        weight: {weights[i]}\n" if weights else "")
        for i, b in enumerate(backends))
    return f"""
_format_version: "3.0"
upstreams:
  - name: pool
{upstream}    targets:
{targets}services:
  - name: svc
    host: pool
{service}    routes:
      - name: r
        paths: [/]
"""


def server_of(r):
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()["server"]


def until(cond, timeout=8.0, step=0.05):
    """Polls cond() until it is true; fails after timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(step)
    raise AssertionError("condition not reached in %.1f s" % timeout)


# ------------------------------------------------------------------ consistent hashing


def test_consistent_hashing_by_header_sticks(backends, gw_factory):
    bs = backends("a", "b", "c")
    g = gw_factory(conf(bs, "    hash_on: header\n    hash_on_header: x-user\n"), workers=2)
    where = {}
    with requests.Session() as s:
        for rnd in range(3):
            for i in range(24):
                got = server_of(s.get(g.url + "/x", headers={"X-User": f"user-{i}"}))
                assert where.setdefault(i, got) == got, f"user-{i} moved in round {rnd}"
    # the keys spread over the targets
    assert len(set(where.values())) >= 2
    # without the header (no fallback) every request hashes "" and lands on one target
    assert len({server_of(requests.get(g.url + "/x")) for _ in range(6)}) == 1


def test_consistent_hashing_cookie_is_set_and_sticks(backends, gw_factory):
    bs = backends("a", "b", "c")
    g = gw_factory(conf(bs, "    hash_on: cookie\n    hash_on_cookie: sess\n"
                            "    hash_on_cookie_path: /app\n"))
    r = requests.get(g.url + "/x")
    first = server_of(r)
    sc = r.headers["Set-Cookie"]
    name, rest = sc.split("=", 1)
    uuid = rest.split(";")[0]
    assert name == "sess" and len(uuid) == 36
    assert sc == f"sess={uuid}; Path=/app; Same-Site=Lax; HttpOnly"
    for _ in range(5):
        r = requests.get(g.url + "/x", headers={"Cookie": f"other=1; sess={uuid}"})
        assert server_of(r) == first
        assert "Set-Cookie" not in r.headers
    # a new client gets a new cookie
    assert requests.get(g.url + "/x").headers["Set-Cookie"] != sc


# ------------------------------------------------------------------ least-connections


def test_least_connections_avoids_the_busy_target(backends, gw_factory):
    bs = backends("a", "b")
    g = gw_factory(conf(bs, "    algorithm: least-connections\n"), workers=2)
    slow = {}

    def long_request():
        slow["server"] = server_of(requests.get(g.url + "/sleep/2500", timeout=10))

    t = threading.Thread(target=long_request)
    t.start()
    until(lambda: any("/sleep/" in p for b in bs for p in b.paths()), timeout=5)
    busy = next(b.name for b in bs if any("/sleep/" in p for p in b.paths()))
    # new connections land on either worker: the count of tries in flight is shared
    got = [server_of(requests.get(g.url + "/quick")) for _ in range(8)]
    t.join(10)
    assert slow["server"] == busy
    assert busy not in got, got


# ------------------------------------------------------------------ passive checks


PASSIVE = """    healthchecks:
      passive:
        unhealthy:
          http_failures: 3
"""


def test_passive_checks_evict_a_target_answering_500(backends, gw_factory):
    good, = backends("good")
    bad, = backends("bad", status=500)
    config = conf([good, bad], PASSIVE)
    g = gw_factory(config, workers=2)
    statuses = [requests.get(g.url + "/x").status_code for _ in range(20)]
    # 500s are returned, not retried; the third one evicts the target on every worker
    assert statuses.count(500) == 3, statuses
    assert statuses[-8:] == [200] * 8
    n = len(bad.paths())
    for _ in range(10):
        assert server_of(requests.get(g.url + "/x")) == "good"
    assert len(bad.paths()) == n
    # the health state outlives a reload that keeps the target
    old = g.status()["configuration_hash"]
    g.reload(config.replace("paths: [/]", "paths: [/, /other]"))
    wait_config_change(g, old)
    for _ in range(10):
        assert server_of(requests.get(g.url + "/x")) == "good"
    assert len(bad.paths()) == n


def test_no_healthy_target_is_503_from_the_ring_balancer(backends, gw_factory):
    bad1, bad2 = backends("bad1", "bad2", status=500)
    g = gw_factory(conf([bad1, bad2], PASSIVE))
    statuses = [requests.get(g.url + "/x").status_code for _ in range(6)]
    assert statuses == [500] * 6
    r = requests.get(g.url + "/x")
    assert r.status_code == 503
    assert r.json()["message"] == "failure to get a peer from the ring-balancer"
    assert r.json()["request_id"] == r.headers["X-Kong-Request-Id"]
    assert len(bad1.paths()) + len(bad2.paths()) == 6


# ------------------------------------------------------------------ active checks


ACTIVE = """    healthchecks:
      active:
        http_path: /health
        timeout: 0.5
        headers: {x-probe: [tollgate]}
        healthy:
          interval: 0.2
          successes: 2
        unhealthy:
          interval: 0.2
          tcp_failures: 1
          http_failures: 1
"""


def test_active_checks_evict_a_dead_target_and_bring_it_back(backends, gw_factory):
    a, b = backends("a", "b")
    # no retries: a request sent to a dead target would fail, so every 200 below shows that the
    # balancer skipped it
    g = gw_factory(conf([a, b], ACTIVE, service="    retries: 0\n"), workers=2)
    until(lambda: "/health" in b.paths() and "/health" in a.paths())
    path, headers = next(s for s in b.seen if s[0] == "/health")
    assert headers["x-probe"] == "tollgate"
    assert headers["host"] == f"127.0.0.1:{b.port}"
    assert headers["connection"] == "close"
    assert {server_of(requests.get(g.url + "/x")) for _ in range(6)} == {"a", "b"}

    b.stop()
    # the next probe finds it dead (connection refused, tcp_failures 1)
    deadline = time.time() + 8
    streak = 0
    while streak < 10 and time.time() < deadline:
        r = requests.get(g.url + "/x")
        streak = streak + 1 if r.status_code == 200 and r.json()["server"] == "a" else 0
    assert streak == 10, "the dead target was not evicted"
    # a reload that keeps the targets keeps their health; the checker takes the new snapshot
    old = g.status()["configuration_hash"]
    g.reload(conf([a, b], ACTIVE, service="    retries: 0\n").replace("paths: [/]", "paths: [/, /z]"))
    wait_config_change(g, old)
    for _ in range(10):
        assert server_of(requests.get(g.url + "/x")) == "a"

    b.restart()
    # healthy again after two successful probes
    until(lambda: server_of(requests.get(g.url + "/x")) == "b", timeout=8)
