"""trusted_ips, real_ip_header, real_ip_recursive: from a trusted peer (the tests connect from
127.0.0.1) the client address comes from X-Real-IP or X-Forwarded-For as nginx's realip
module reads them, and ip-restriction, X-Real-IP, X-Forwarded-For and the access log use it;
incoming X-Forwarded-Proto/Host/Port/Path/Prefix are kept only from trusted peers."""
import subprocess
import time

import pytest

from harness import BUILD, Echo, Gateway, free_port, http_request

FORWARDED = [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "Public.Example"),
             ("X-Forwarded-Port", "8443"), ("X-Forwarded-Path", "/original/path"),
             ("X-Forwarded-Prefix", "/edge")]


def config(echo_port):
    return f"""
_format_version: "3.0"
services:
  - url: http://127.0.0.1:{echo_port}
    routes:
      - name: echo
        paths: [/echo]
        strip_path: true
      - name: deny
        paths: [/deny]
        plugins:
          - name: ip-restriction
            config: {{deny: [1.2.3.4, "2001:db8::/32"]}}
      - name: allow
        paths: [/allow]
        plugins:
          - name: ip-restriction
            config: {{allow: [5.6.7.0/24]}}
      - name: secure
        paths: [/secure]
        protocols: [https]
"""


@pytest.fixture(scope="module")
def echo():
    e = Echo("realip-echo")
    yield e
    e.stop()


@pytest.fixture(scope="module")
def gateways(tmp_path_factory, echo):
    """Gateways by name, each with its own real-IP options."""
    made = {}

    def get(name, *extra, env=None):
        if name not in made:
            tmp = tmp_path_factory.mktemp(name)
            log = tmp / "access.log"
            g = Gateway(tmp, config(echo.port), extra=("--access-log", str(log), *extra))
            g.access_log = log
            made[name] = g
        return made[name]

    yield get
    for g in made.values():
        g.stop()


def upstream(gw, path="/echo", headers=()):
    r = http_request(gw.port, "GET", path, [("Host", "api.test")] + list(headers))
    assert r.status == 200, r.body
    return r.json()["headers"]


@pytest.fixture
def trusted(gateways):
    return gateways("trusted", "--trusted-ips", "127.0.0.1")


@pytest.fixture
def untrusted(gateways):
    return gateways("untrusted", "--trusted-ips", "10.0.0.0/8", "--trusted-ips", "::1")


def test_untrusted_peer_headers_are_ignored(untrusted):
    h = upstream(untrusted, headers=[("X-Real-IP", "1.2.3.4")] + FORWARDED)
    assert h["x-real-ip"] == "127.0.0.1"
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-host"] == "api.test"
    assert h["x-forwarded-port"] == str(untrusted.port)
    assert h["x-forwarded-path"] == "/echo"
    assert h["x-forwarded-prefix"] == "/echo"


def test_trusted_peer_gives_the_client_address(trusted):
    h = upstream(trusted, headers=[("X-Real-IP", "1.2.3.4")])
    assert h["x-real-ip"] == "1.2.3.4"
    # no incoming X-Forwarded-For: the client address alone (Kong's $remote_addr)
    assert h["x-forwarded-for"] == "1.2.3.4"
    # an incoming one gets the connecting peer appended
    h = upstream(trusted, headers=[("X-Real-IP", "1.2.3.4"), ("X-Forwarded-For", "9.9.9.9")])
    assert h["x-forwarded-for"] == "9.9.9.9, 127.0.0.1"


def test_trusted_peer_forwarded_headers_are_kept(trusted):
    h = upstream(trusted, headers=FORWARDED)
    assert h["x-forwarded-proto"] == "https"
    assert h["x-forwarded-host"] == "Public.Example"
    assert h["x-forwarded-port"] == "8443"
    assert h["x-forwarded-path"] == "/original/path"
    assert h["x-forwarded-prefix"] == "/edge"
    # and made here when the trusted peer sent none
    h = upstream(trusted)
    assert (h["x-forwarded-proto"], h["x-forwarded-path"]) == ("http", "/echo")
    assert h["x-real-ip"] == "127.0.0.1"


def test_https_only_route_behind_a_trusted_tls_terminator(trusted, untrusted):
    proto = [("Host", "x"), ("X-Forwarded-Proto", "https")]
    r = http_request(trusted.port, "GET", "/secure", proto)
    assert r.status == 200
    assert r.json()["headers"]["x-forwarded-proto"] == "https"
    r = http_request(untrusted.port, "GET", "/secure", proto)
    assert (r.status, r.json()["message"]) == (426, "Please use HTTPS protocol")
    r = http_request(trusted.port, "GET", "/secure", [("Host", "x")])
    assert r.status == 426


def test_bad_or_ported_addresses(trusted):
    assert upstream(trusted, headers=[("X-Real-IP", "not-an-ip")])["x-real-ip"] == "127.0.0.1"
    assert upstream(trusted, headers=[("X-Real-IP", "1.2.3.4:5678")])["x-real-ip"] == "1.2.3.4"
    assert upstream(trusted, headers=[("X-Real-IP", "[2001:db8::1]:443")])["x-real-ip"] == \
        "2001:db8::1"


def test_ip_restriction_uses_the_real_ip(trusted, untrusted):
    r = http_request(trusted.port, "GET", "/deny", [("Host", "x"), ("X-Real-IP", "1.2.3.4")])
    assert r.status == 403
    assert r.json()["message"] == "IP address not allowed: 1.2.3.4"
    r = http_request(trusted.port, "GET", "/deny", [("Host", "x"), ("X-Real-IP", "2001:db8::7")])
    assert r.status == 403
    # the same header from an untrusted peer changes nothing
    r = http_request(untrusted.port, "GET", "/deny", [("Host", "x"), ("X-Real-IP", "1.2.3.4")])
    assert r.status == 200


def test_ip_restriction_allow_by_real_ip(trusted, untrusted):
    r = http_request(trusted.port, "GET", "/allow", [("Host", "x"), ("X-Real-IP", "5.6.7.8")])
    assert r.status == 200
    r = http_request(trusted.port, "GET", "/allow", [("Host", "x")])
    assert (r.status, r.json()["message"]) == (403, "IP address not allowed: 127.0.0.1")
    r = http_request(untrusted.port, "GET", "/allow", [("Host", "x"), ("X-Real-IP", "5.6.7.8")])
    assert r.status == 403


def test_x_forwarded_for_takes_the_last_address(gateways):
    g = gateways("xff", "--trusted-ips", "127.0.0.1,10.0.0.0/8",
                 "--real-ip-header", "X-Forwarded-For")
    h = upstream(g, headers=[("X-Forwarded-For", "1.1.1.1, 10.0.0.5"),
                             ("X-Real-IP", "7.7.7.7")])
    assert h["x-real-ip"] == "10.0.0.5"  # not recursive: the last one, trusted or not
    assert h["x-forwarded-for"] == "1.1.1.1, 10.0.0.5, 127.0.0.1"


def test_recursive_skips_trusted_addresses(gateways):
    g = gateways("recursive", "--trusted-ips", "127.0.0.1,10.0.0.0/8",
                 "--real-ip-header", "x-forwarded-for", "--real-ip-recursive", "on")
    h = upstream(g, headers=[("X-Forwarded-For", "1.1.1.1, 2.2.2.2, 10.0.0.5")])
    assert h["x-real-ip"] == "2.2.2.2"
    # several header lines form one list
    h = upstream(g, headers=[("X-Forwarded-For", "1.1.1.1"),
                             ("X-Forwarded-For", "10.1.1.1, 10.0.0.5")])
    assert h["x-real-ip"] == "1.1.1.1"
    r = http_request(g.port, "GET", "/allow",
                     [("Host", "x"), ("X-Forwarded-For", "5.6.7.9, 10.9.9.9")])
    assert r.status == 200


def test_everyone_trusted_recursive_takes_the_leftmost(gateways):
    g = gateways("all", "--trusted-ips", "0.0.0.0/0,::/0",
                 "--real-ip-header", "X-Forwarded-For", "--real-ip-recursive", "on")
    h = upstream(g, headers=[("X-Forwarded-For", "1.1.1.1, 2.2.2.2")])
    assert h["x-real-ip"] == "1.1.1.1"


def test_access_log_has_the_real_ip(trusted):
    http_request(trusted.port, "GET", "/echo?logged=1", [("Host", "x"), ("X-Real-IP", "3.3.3.3")])
    deadline = time.time() + 5
    while time.time() < deadline:
        lines = [ln for ln in trusted.access_log.read_text().splitlines() if "logged=1" in ln]
        if lines:
            break
        time.sleep(0.05)
    assert lines and lines[-1].startswith("3.3.3.3 - - [")


def test_trusted_ips_from_the_environment(tmp_path, echo, monkeypatch):
    monkeypatch.setenv("TOLLGATE_TRUSTED_IPS", "127.0.0.0/8")
    monkeypatch.setenv("TOLLGATE_REAL_IP_HEADER", "X-Client-Address")
    g = Gateway(tmp_path, config(echo.port))
    try:
        h = upstream(g, headers=[("X-Client-Address", "4.4.4.4"), ("X-Real-IP", "5.5.5.5")])
        assert h["x-real-ip"] == "4.4.4.4"
    finally:
        g.stop()


@pytest.mark.parametrize("args", [("--trusted-ips", "1.2.3.4/33"),
                                  ("--trusted-ips", "example.com"),
                                  ("--real-ip-recursive", "maybe")])
def test_bad_options_are_refused(tmp_path, args):
    cfg = tmp_path / "kong.yml"
    cfg.write_text('_format_version: "3.0"\n')
    p = subprocess.run([str(BUILD / "tollgate-dp"), "--declarative-config", str(cfg),
                        "--proxy-listen", f"127.0.0.1:{free_port()}", *args],
                       capture_output=True, timeout=10)
    assert p.returncode != 0
    assert args[0].lstrip("-").replace("-", "_") in p.stderr.decode()


@pytest.mark.parametrize("trust", [True, False])
def test_hash_on_ip_uses_the_real_ip(tmp_path, trust):
    a, b = Echo("a"), Echo("b")
    extra = ("--trusted-ips", "127.0.0.1" if trust else "10.0.0.0/8")
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
upstreams:
  - name: up
    algorithm: consistent-hashing
    hash_on: ip
    targets: [{{target: "127.0.0.1:{a.port}"}}, {{target: "127.0.0.1:{b.port}"}}]
services:
  - name: hashed
    host: up
    routes: [{{paths: [/hash]}}]
""", extra=extra)
    try:
        def server(ip):
            r = http_request(g.port, "GET", "/hash", [("Host", "x"), ("X-Real-IP", ip)])
            assert r.status == 200
            return r.json()["server"]
        seen = {server(f"198.51.100.{i}") for i in range(1, 25)}
        # one client address always lands on one target
        assert len({server("198.51.100.7") for _ in range(5)}) == 1
        # a trusted peer's clients spread over both; an untrusted peer is one client
        assert seen == ({"a", "b"} if trust else {server("198.51.100.1")})
    finally:
        g.stop()
        a.stop()
        b.stop()
