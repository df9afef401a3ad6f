"""Configuration reloads (SIGHUP) and graceful shutdown (SIGTERM) under traffic: no request
fails while the declarative file is swapped back and forth, an invalid file is refused without
disturbing traffic, and requests in flight at SIGTERM complete before a clean exit."""
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

from harness import (BUILD, Echo, Gateway, HttpConn, StreamUpstream, start_retrying,
                     wait_config_change)


@pytest.fixture(scope="module")
def echo():
    e = Echo("reload-echo")
    yield e
    e.stop()


def conf_a(echo_port):
    return f"""
_format_version: "3.0"
services:
  - name: svc-a
    url: http://127.0.0.1:{echo_port}/a
    routes:
      - name: route-a
        paths: [/]
"""


def conf_b(echo_port):
    # a different shape: the service goes through an upstream entity, and there are more routes
    return f"""
_format_version: "3.0"
services:
  - name: svc-b
    host: pool-b
    path: /b
    routes:
      - name: route-b
        paths: [/]
      - name: route-b-extra
        paths: ["~/extra/\\\\d+$"]
upstreams:
  - name: pool-b
    targets:
      - target: 127.0.0.1:{echo_port}
"""


class Load:
    """Threads issuing GET /x in a loop on keep-alive sessions; records every outcome."""

    def __init__(self, url, threads=4, path="/x"):
        self.url = url + path
        self.stop_evt = threading.Event()
        self.lock = threading.Lock()
        self.ok = []        # (start time, echoed path)
        self.failures = []  # (start time, end time, description)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        with requests.Session() as s:
            while not self.stop_evt.is_set():
                t = time.monotonic()
                try:
                    r = s.get(self.url, timeout=30)
                    if r.status_code == 200:
                        with self.lock:
                            self.ok.append((t, r.json()["path"]))
                        continue
                    what = f"HTTP {r.status_code}: {r.text[:200]!r}"
                except Exception as e:  # noqa: BLE001 - every failure counts
                    what = f"{type(e).__name__}: {e}"
                with self.lock:
                    self.failures.append((t, time.monotonic(), what))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_evt.set()
        for t in self.threads:
            t.join(60)
        assert not any(t.is_alive() for t in self.threads), "load threads did not finish"


@pytest.fixture
def gw(echo, tmp_path):
    g = start_retrying(lambda: Gateway(tmp_path, conf_a(echo.port), workers=2))
    yield g
    g.stop()


def test_reloads_under_load_lose_no_request(gw, echo):
    configs = [conf_b(echo.port), conf_a(echo.port)]
    started = time.monotonic()
    h = gw.status()["configuration_hash"]
    hashes = {h}
    with Load(gw.url) as load:
        time.sleep(0.3)
        for i in range(10):
            gw.reload(configs[i % 2])
            h = wait_config_change(gw, h, timeout=20)
            hashes.add(h)
            time.sleep(0.35)
        while time.monotonic() - started < 5:
            time.sleep(0.1)
        reloaded_at = time.monotonic()
        time.sleep(0.5)
    assert time.monotonic() - started < 120
    assert load.failures == []
    assert len(load.ok) >= 50, "too little traffic to mean anything"
    paths = {p for _, p in load.ok}
    assert paths == {"/a/x", "/b/x"}
    # after the 10th reload (config A again) every request goes to svc-a
    assert {p for t, p in load.ok if t > reloaded_at} == {"/a/x"}
    assert len(hashes) == 2
    assert gw.output().count("reloaded ") == 10


@pytest.mark.parametrize("bad", [
    pytest.param('_format_version: "3.0"\nservices:\n  - port: 99999\n', id="schema-error"),
    pytest.param('_format_version: "3.0"\nservices: [\n', id="syntax-error"),
    pytest.param('_format_version: "3.0"\nservices:\n  - name: s\n    url: http://x.test\n'
                 '    routes:\n      - paths: ["bad"]\n', id="bad-route-path"),
])
def test_invalid_reload_is_refused_and_traffic_continues(gw, echo, bad):
    h = gw.status()["configuration_hash"]
    with Load(gw.url) as load:
        time.sleep(0.3)
        gw.reload(bad)
        deadline = time.monotonic() + 20
        while "reload refused" not in gw.output():
            assert time.monotonic() < deadline, "no 'reload refused' in the gateway's output"
            time.sleep(0.05)
        refused_at = time.monotonic()
        time.sleep(1.0)
    assert gw.status()["configuration_hash"] == h
    assert load.failures == []
    assert [p for t, p in load.ok if t > refused_at], "no traffic after the refused reload"
    assert {p for _, p in load.ok} == {"/a/x"}
    # and a later valid reload still works
    gw.reload(conf_b(echo.port))
    wait_config_change(gw, h, timeout=20)
    assert requests.get(gw.url + "/x", timeout=30).json()["path"] == "/b/x"


def test_sigterm_lets_in_flight_requests_finish(tmp_path):
    up = StreamUpstream("slow")
    g = start_retrying(lambda: Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - name: slow
    url: http://127.0.0.1:{up.port}
    routes:
      - paths: [/]
""", workers=2))
    try:
        # an idle keep-alive client connection must not hold up the exit
        idle = HttpConn(g.port)
        assert idle.request("GET", "/idle", [("Host", "t")]).status == 200

        results = []

        def slow():
            try:
                with requests.Session() as s:
                    r = s.get(g.url + "/sleep/1000", timeout=60)
                    results.append((r.status_code, r.json()["path"]))
            except Exception as e:  # noqa: BLE001
                results.append((type(e).__name__, str(e)))

        n = 6
        with Load(g.url, threads=2) as load:
            time.sleep(0.3)
            threads = [threading.Thread(target=slow, daemon=True) for _ in range(n)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 20
            while up.sleeping < n:
                assert time.monotonic() < deadline, "slow requests never reached the upstream"
                time.sleep(0.01)
            term_at = time.monotonic()
            g.proc.send_signal(signal.SIGTERM)
            for t in threads:
                t.join(60)
            assert not any(t.is_alive() for t in threads)
        rc = g.proc.wait(timeout=60)
        assert rc == 0, g.output()
        assert results == [(200, "/sleep/1000")] * n, results
        # requests that failed before the signal was sent (after it, refusing new connections
        # is fine)
        assert [f for f in load.failures if f[1] < term_at] == []
        assert "draining and exiting" in g.output()
        idle.close()
    finally:
        g.stop()
        up.stop()


def test_in_flight_request_keeps_the_config_it_started_with(tmp_path):
    """A slow request routed under the first config completes normally although a reload
    removes its route while it waits at the upstream; new requests see the new config."""
    up = StreamUpstream("slow")
    conf = """
_format_version: "3.0"
services:
  - name: svc-{n}
    url: http://127.0.0.1:{port}/{n}
    routes:
      - name: route-{n}
        paths: [{path}]
"""
    g = start_retrying(lambda: Gateway(tmp_path, conf.format(n="a", port=up.port, path="/"),
                                       workers=2))
    try:
        result = []

        def slow():
            try:
                r = requests.get(g.url + "/sleep/1500", timeout=60)
                result.append((r.status_code, r.json()["path"]))
            except Exception as e:  # noqa: BLE001
                result.append((type(e).__name__, str(e)))

        h = g.status()["configuration_hash"]
        t = threading.Thread(target=slow, daemon=True)
        t.start()
        deadline = time.monotonic() + 20
        while up.sleeping < 1:
            assert time.monotonic() < deadline, "the slow request never reached the upstream"
            time.sleep(0.01)
        g.reload(conf.format(n="c", port=up.port, path="/only-c"))
        wait_config_change(g, h, timeout=20)
        assert up.sleeping == 1, "the slow request should still be waiting"
        assert requests.get(g.url + "/x", timeout=30).status_code == 404
        assert requests.get(g.url + "/only-c/y", timeout=30).json()["path"] == "/c/y"
        t.join(60)
        assert not t.is_alive()
        assert result == [(200, "/a/sleep/1500")]
    finally:
        g.stop()
        up.stop()


def test_burst_of_reloads_ends_on_the_last_file(gw, echo, tmp_path):
    """Ten SIGHUPs back to back (signals may coalesce, and a reload may catch the file half
    written and refuse it): the gateway ends up serving the last file written."""
    last = tmp_path / "last.yml"
    last.write_text(conf_b(echo.port))
    p = subprocess.run([str(BUILD / "tollgate-dp"), "--check", str(last)],
                       capture_output=True, text=True, timeout=60)
    want = re.search(r"^hash: ([0-9a-f]{64})$", p.stdout, re.M).group(1)
    configs = [conf_a(echo.port), conf_b(echo.port)]
    for i in range(10):
        gw.reload(configs[i % 2])  # a, b, a, ... b
    deadline = time.monotonic() + 20
    while gw.status()["configuration_hash"] != want:
        assert time.monotonic() < deadline, "gateway never settled on the last file"
        time.sleep(0.05)
    for _ in range(20):
        assert requests.get(gw.url + "/x", timeout=30).json()["path"] == "/b/x"
    assert gw.proc.poll() is None
