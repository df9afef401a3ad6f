"""Admin API security: the optional admin token (--admin-token or TOLLGATE_ADMIN_TOKEN, sent as
Kong-Admin-Token or Authorization: Bearer) guards every endpoint; request bodies are bounded
(413); basic-auth passwords are stored hashed; each change leaves an audit line on stderr
(method, path, entity id, client address) that never carries a secret."""
import socket
import time
import urllib.parse

import pytest
import requests

from cpserver import ControlPlane, bootstrap

from test_admin_common import (  # noqa: F401  (api is a fixture)
    api, api_for, basic_auth_hash, expect, uniq)

TOKEN = "s3cret-admin-token-" + "x" * 8

GUARDED = [
    ("GET", "/"), ("GET", "/status"), ("GET", "/services"), ("POST", "/services"),
    ("GET", "/services/some-name"), ("PATCH", "/services/some-name"),
    ("DELETE", "/services/some-name"), ("PUT", "/services/some-name"),
    ("GET", "/routes"), ("GET", "/consumers"), ("GET", "/plugins"), ("GET", "/plugins/enabled"),
    ("GET", "/schemas/services"), ("GET", "/schemas/plugins/key-auth"), ("GET", "/tags/x"),
    ("GET", "/config"), ("POST", "/config"), ("GET", "/certificates"), ("GET", "/upstreams"),
    ("GET", "/key-auths"), ("GET", "/basic-auths"), ("GET", "/nope"),
]


def raw(url, method, path, headers=None, json=None):
    return requests.request(method, url + path, headers=headers or {}, json=json, timeout=30)


def assert_unauthorized(r):
    assert r.status_code == 401, f"{r.request.method} {r.url}: {r.status_code} {r.text[:300]}"
    body = r.json()
    assert isinstance(body.get("message"), str) and body["message"], body


@pytest.fixture(scope="module")
def guarded(pg, cp):
    """One token-guarded control plane for the module (cp: skips without an Admin API)."""
    dsn = pg.create_db()
    bootstrap(dsn)
    plane = ControlPlane(dsn, token=TOKEN).start()
    yield plane
    plane.stop()


@pytest.mark.parametrize("method,path", GUARDED, ids=[f"{m} {p}" for m, p in GUARDED])
def test_no_token_is_refused_everywhere(guarded, method, path):
    assert_unauthorized(raw(guarded.url, method, path, json={"host": "x.test"}))


def test_token_header_forms(guarded):
    url = guarded.url
    expect(raw(url, "GET", "/services", {"Kong-Admin-Token": TOKEN}), 200)
    expect(raw(url, "GET", "/services", {"Authorization": f"Bearer {TOKEN}"}), 200)
    r = raw(url, "POST", "/services", {"Authorization": f"Bearer {TOKEN}"},
            json={"name": "tok", "host": "tok.test"})
    expect(r, 201)


@pytest.mark.parametrize("headers", [
    {"Kong-Admin-Token": "wrong"},
    {"Kong-Admin-Token": TOKEN + "x"},
    {"Kong-Admin-Token": TOKEN[:-1]},
    {"Kong-Admin-Token": ""},
    {"Authorization": "Bearer wrong"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN},
], ids=["wrong", "longer", "prefix", "empty", "bearer-wrong", "basic-scheme", "no-scheme"])
def test_wrong_token_is_refused(guarded, headers):
    assert_unauthorized(raw(guarded.url, "GET", "/services", headers))


def test_refused_write_is_not_applied(guarded):
    n = uniq("sneaky")
    assert_unauthorized(raw(guarded.url, "POST", "/services", {"Kong-Admin-Token": "bad"},
                            json={"name": n, "host": "x.test"}))
    expect(raw(guarded.url, "GET", f"/services/{n}", {"Kong-Admin-Token": TOKEN}), 404)


def test_token_from_environment(cp_factory):
    plane = cp_factory(env={"TOLLGATE_ADMIN_TOKEN": "env-token-123"})
    assert_unauthorized(raw(plane.url, "GET", "/services"))
    expect(raw(plane.url, "GET", "/services", {"Kong-Admin-Token": "env-token-123"}), 200)
    expect(raw(plane.url, "GET", "/services", {"Authorization": "Bearer env-token-123"}), 200)
    assert "env-token-123" not in plane.log()


def test_no_token_configured_means_open(cp):
    expect(raw(cp.url, "GET", "/services"), 200)
    # a token sent to a control plane without one is simply ignored
    expect(raw(cp.url, "GET", "/services", {"Kong-Admin-Token": "anything"}), 200)


def test_token_never_logged(guarded):
    raw(guarded.url, "GET", "/services", {"Kong-Admin-Token": TOKEN})
    raw(guarded.url, "POST", "/consumers", {"Kong-Admin-Token": TOKEN}, json={"username": "a"})
    raw(guarded.url, "GET", "/services", {"Kong-Admin-Token": TOKEN + "-bad"})
    time.sleep(0.3)
    assert TOKEN not in guarded.log()


def _send_oversized(url, path, claimed, ctype="application/json"):
    """Claims a body of `claimed` bytes and streams it until the server answers; returns the
    status code of the answer (or None if the connection died without one)."""
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    try:
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                   f"Content-Type: {ctype}\r\nContent-Length: {claimed}\r\n\r\n").encode())
        chunk = b"[" + b"1," * 32767 + b"1"
        sent = 0
        s.setblocking(False)
        buf = b""
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                data = s.recv(65536)
                if not data:
                    break
                buf += data
                if b"\r\n" in buf:
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            if sent < claimed:
                try:
                    n = s.send(chunk[:claimed - sent])
                    sent += n
                except BlockingIOError:
                    time.sleep(0.001)
                except OSError:
                    # the server stopped reading: the answer may be waiting
                    s.setblocking(True)
                    try:
                        buf += s.recv(65536)
                    except OSError:
                        pass
                    break
            else:
                time.sleep(0.01)
        line = buf.split(b"\r\n", 1)[0].decode(errors="replace")
        parts = line.split()
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    finally:
        s.close()


@pytest.mark.parametrize("path", ["/services", "/config"])
def test_oversized_body_413(cp, path):
    before = requests.get(cp.url + "/services", timeout=30).json()
    assert _send_oversized(cp.url, path, 256 * 1024 * 1024) == 413
    # the control plane is fine afterwards and nothing changed
    assert requests.get(cp.url + "/services", timeout=30).json() == before


def test_normal_body_is_not_bounded_too_tightly(api):
    # a 1 MiB declarative-sized body (long tag list) is not refused for its size
    tags = [f"t{i:06d}" + "x" * 40 for i in range(20000)]
    r = api.post("/services", json={"host": "big.test", "tags": tags})
    assert r.status_code != 413, "1 MiB is a normal Admin API body"


def test_basic_auth_plaintext_never_returned(api):
    c = api.consumer()
    pw = "plain-" + uniq("pw")
    cred = api.create(f"/consumers/{c['id']}/basic-auth", {"username": uniq("ba"),
                                                           "password": pw})
    for path in (f"/basic-auths/{cred['id']}", f"/consumers/{c['id']}/basic-auth",
                 "/basic-auths?size=1000", "/config"):
        r = api.get(path)
        assert r.status_code == 200 and pw not in r.text, path
    assert cred["password"] == basic_auth_hash(pw, c["id"])


def _wait_log(plane, pred, timeout=3):
    deadline = time.time() + timeout
    while True:
        log = plane.log()
        if pred(log) or time.time() > deadline:
            return log
        time.sleep(0.05)


def _audit_line(log, *needles):
    return [ln for ln in log.splitlines() if all(n in ln for n in needles)]


def test_audit_line_for_each_change(cp):
    a = api_for(cp)
    c = a.consumer()
    log = _wait_log(cp, lambda lg: _audit_line(lg, "POST", "/consumers", c["id"]))
    assert _audit_line(log, "POST", "/consumers", c["id"], "127.0.0.1"), log[-2000:]
    # by endpoint key: the line still names the entity's id
    a.patch(f"/consumers/{c['username']}", json={"custom_id": uniq("x")})
    log = _wait_log(cp, lambda lg: _audit_line(lg, "PATCH", f"/consumers/{c['username']}"))
    assert _audit_line(log, "PATCH", f"/consumers/{c['username']}", c["id"], "127.0.0.1"), \
        log[-2000:]
    s = a.service()
    a.put(f"/services/{s['name']}", json={"host": "audit.test"})
    log = _wait_log(cp, lambda lg: _audit_line(lg, "PUT", f"/services/{s['name']}", s["id"]))
    assert _audit_line(log, "PUT", f"/services/{s['name']}", s["id"], "127.0.0.1"), log[-2000:]
    a.delete(f"/consumers/{c['username']}")
    log = _wait_log(cp, lambda lg: _audit_line(lg, "DELETE", f"/consumers/{c['username']}"))
    assert _audit_line(log, "DELETE", f"/consumers/{c['username']}", c["id"], "127.0.0.1"), \
        log[-2000:]
    a.post("/config", json={"_format_version": "3.0", "services": [
        {"name": uniq("aud"), "host": "a.test"}]})
    log = _wait_log(cp, lambda lg: _audit_line(lg, "POST", "/config"))
    assert _audit_line(log, "POST", "/config", "127.0.0.1"), log[-2000:]


def test_reads_are_not_audited_as_changes(cp):
    a = api_for(cp)
    marker = uniq("readonly")
    a.get(f"/services/{marker}")
    time.sleep(0.3)
    assert not _audit_line(cp.log(), "GET", marker)


def test_audit_never_contains_secrets(cp):
    a = api_for(cp)
    c = a.consumer()
    secrets = {
        "password": "Pw-" + uniq("secret"),
        "key": "Key-" + uniq("secret"),
        "jwt_secret": "Jwt-" + uniq("secret"),
        "hmac_secret": "Hmac-" + uniq("secret"),
    }
    ba = a.create(f"/consumers/{c['id']}/basic-auth",
                  {"username": uniq("ba"), "password": secrets["password"]})
    ka = a.create(f"/consumers/{c['id']}/key-auth", {"key": secrets["key"]})
    a.create(f"/consumers/{c['id']}/jwt", {"secret": secrets["jwt_secret"]})
    a.create(f"/consumers/{c['id']}/hmac-auth", {"username": uniq("hm"),
                                                 "secret": secrets["hmac_secret"]})
    a.patch(f"/basic-auths/{ba['id']}", json={"password": secrets["password"] + "2"})
    a.patch(f"/key-auths/{ka['id']}", json={"key": secrets["key"] + "2"})
    # refused writes carrying secrets are not logged with them either
    a.post(f"/consumers/{c['id']}/basic-auth", json={"password": secrets["password"] + "3"})
    a.post("/config", json={"_format_version": "3.0", "consumers": [
        {"username": uniq("cfg"),
         "basicauth_credentials": [{"username": uniq("b"), "password": secrets["password"] + "4"}],
         "keyauth_credentials": [{"key": secrets["key"] + "4"}]}]})
    log = _wait_log(cp, lambda lg: _audit_line(lg, "POST", "/config"))
    assert _audit_line(log, "POST", "/key-auth") or _audit_line(log, "POST", "key-auth"), \
        "the credential creations are audited"
    for what, value in secrets.items():
        assert value not in log, f"{what} appears in the control plane's log"


def test_configured_body_limit(cp_factory):
    plane = cp_factory(args=["--admin-client-max-body-size", "1k"])
    small = {"host": "small.test", "tags": ["x" * 100]}
    expect(raw(plane.url, "POST", "/services", json=small), 201)
    big = {"host": "big.test", "tags": [f"t{i}" + "x" * 100 for i in range(20)]}
    r = raw(plane.url, "POST", "/services", json=big)
    assert r.status_code == 413, r.text
    assert expect(raw(plane.url, "GET", "/services"), 200)["data"][0]["host"] == "small.test"


class _DefaultListen(ControlPlane):
    """A control plane started without --admin-listen (its default address)."""

    def __init__(self, dsn):
        super().__init__(dsn)
        self.port = 8001
        self.url = "http://127.0.0.1:8001"

    def command(self):
        cmd = super().command()
        i = cmd.index("--admin-listen")
        return cmd[:i] + cmd[i + 2:]


def _listening(port):
    """Local addresses (hex, as /proc/net/tcp{,6} write them) listening on port."""
    out = []
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            parts = ln.split()
            addr, p = parts[1].rsplit(":", 1)
            if int(p, 16) == port and parts[3] == "0A":
                out.append(addr)
    return out


def test_default_admin_listen_is_loopback_8001(pg, cp):
    if _listening(8001):
        pytest.skip("port 8001 is in use on this machine")
    dsn = pg.create_db()
    bootstrap(dsn)
    plane = _DefaultListen(dsn)
    try:
        try:
            plane.start()
        except RuntimeError as e:
            if "in use" in str(e).lower():
                pytest.skip("port 8001 was taken meanwhile")
            raise
        expect(raw(plane.url, "GET", "/services"), 200)
        addrs = _listening(8001)
        assert addrs, "nothing listens on 8001"
        # 0100007F = 127.0.0.1 (IPv4, little-endian hex); no wildcard 00000000 / ::
        assert all(a in ("0100007F", "00000000000000000000000001000000") for a in addrs), addrs
    finally:
        plane.stop()
