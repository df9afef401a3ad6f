"""TLS termination: certificates and SNIs from the declarative file, the default
certificate when no SNI matches, TLS 1.2 and 1.3, ALPN http/1.1, X-Forwarded-Proto."""
import json
import socket
import ssl
import subprocess

import pytest

from harness import Echo, Gateway, free_port


def make_cert(tmp_path, name, cn):
    key, crt = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}"],
                   check=True, capture_output=True)
    return crt.read_text(), key.read_text()


def indent(pem, n):
    return "\n".join(" " * n + line for line in pem.strip().splitlines())


@pytest.fixture
def tls_gw(tmp_path):
    echo = Echo("tls-echo")
    a_crt, a_key = make_cert(tmp_path, "a", "a.test")
    w_crt, w_key = make_cert(tmp_path, "w", "wild.test")
    sslport = free_port()
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
certificates:
  - cert: |
{indent(a_crt, 6)}
    key: |
{indent(a_key, 6)}
    snis: [{{name: a.test}}]
  - cert: |
{indent(w_crt, 6)}
    key: |
{indent(w_key, 6)}
    snis: [{{name: "*.wild.test"}}]
services:
  - url: http://127.0.0.1:{echo.port}
    routes:
      - paths: [/]
      - paths: [/secure]
        protocols: [https]
        snis: [a.test]
""", extra=("--proxy-ssl-listen", f"127.0.0.1:{sslport}"))
    g.ssl_port = sslport
    g.certs = {"a.test": a_crt, "x.wild.test": w_crt}
    yield g
    g.stop()
    echo.stop()


def fetch(port, sni, path="/", version=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            der = s.getpeercert(binary_form=True)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {sni or 'x'}\r\nConnection: close\r\n\r\n"
                      .encode())
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            return ssl.DER_cert_to_PEM_cert(der), s.version(), s.selected_alpn_protocol(), out


def same_cert(pem_a, pem_b):
    return ssl.PEM_cert_to_DER_cert(pem_a) == ssl.PEM_cert_to_DER_cert(pem_b)


def test_sni_selects_the_certificate(tls_gw):
    pem, _, alpn, out = fetch(tls_gw.ssl_port, "a.test")
    assert same_cert(pem, tls_gw.certs["a.test"])
    assert alpn == "http/1.1"
    assert out.startswith(b"HTTP/1.1 200")
    body = json.loads(out.split(b"\r\n\r\n", 1)[1])
    assert body["headers"]["x-forwarded-proto"] == "https"


def test_wildcard_sni_and_default_certificate(tls_gw):
    pem, _, _, _ = fetch(tls_gw.ssl_port, "x.wild.test")
    assert same_cert(pem, tls_gw.certs["x.wild.test"])
    pem, _, _, out = fetch(tls_gw.ssl_port, "unknown.test")
    assert not same_cert(pem, tls_gw.certs["a.test"])
    assert not same_cert(pem, tls_gw.certs["x.wild.test"])
    assert out.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_versions(tls_gw, version):
    _, got, _, out = fetch(tls_gw.ssl_port, "a.test", version=version)
    assert got == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
    assert out.startswith(b"HTTP/1.1 200")


def test_https_only_route_answers_426_over_http_and_matches_sni(tls_gw):
    with socket.create_connection(("127.0.0.1", tls_gw.port), timeout=5) as s:
        s.sendall(b"GET /secure HTTP/1.1\r\nHost: a.test\r\n\r\n")
        out = s.recv(65536)
    assert out.startswith(b"HTTP/1.1 426 ")
    assert b"Please use HTTPS protocol" in out
    assert b"Upgrade: TLS/1.2, HTTP/1.1" in out
    _, _, _, out = fetch(tls_gw.ssl_port, "a.test", "/secure")
    assert out.startswith(b"HTTP/1.1 200")


def tls_echo(tmp_path, require_client_ca=None):
    """An Echo upstream behind TLS with a certificate for 127.0.0.1 (its own CA)."""
    key, crt = tmp_path / "up.key", tmp_path / "up.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=upstream", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    e = Echo("tls-upstream")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))
    if require_client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=require_client_ca)
    e.server.socket = ctx.wrap_socket(e.server.socket, server_side=True)
    return e, crt.read_text()


@pytest.mark.parametrize("verify,with_ca,status", [
    (None, False, 200),   # tls_verify null: not verified, as Kong's proxy_ssl_verify default
    (True, True, 200),    # verified against the service's ca_certificates
    (True, False, 502),   # verified against the system store: unknown CA
])
def test_https_upstream(tmp_path, verify, with_ca, status):
    e, ca = tls_echo(tmp_path)
    try:
        ca_block = f"""ca_certificates:
  - id: 2b7ad6f1-3c8a-4e5f-9d0a-1b2c3d4e5f60
    cert: |
{indent(ca, 6)}
""" if with_ca else ""
        svc_tls = ""
        if verify is not None:
            svc_tls += f"    tls_verify: {str(verify).lower()}\n"
        if with_ca:
            svc_tls += "    ca_certificates: [2b7ad6f1-3c8a-4e5f-9d0a-1b2c3d4e5f60]\n"
        g = Gateway(tmp_path, f"""
_format_version: "3.0"
{ca_block}services:
  - url: https://127.0.0.1:{e.port}
    retries: 0
{svc_tls}    routes:
      - paths: [/]
""")
        try:
            import requests
            r = requests.get(g.url + "/tls")
            assert r.status_code == status
            if status == 200:
                assert r.json()["server"] == "tls-upstream"
                assert r.json()["headers"]["host"] == f"127.0.0.1:{e.port}"
        finally:
            g.stop()
    finally:
        e.stop()


def test_https_upstream_with_client_certificate(tmp_path):
    c_crt, c_key = make_cert(tmp_path, "client", "gateway-client")
    e, _ = tls_echo(tmp_path, require_client_ca=c_crt)
    try:
        def gw(with_cert):
            cert_block = f"""certificates:
  - id: 5c1f0e7a-9b3d-4c2e-8f1a-0d9e8c7b6a50
    cert: |
{indent(c_crt, 6)}
    key: |
{indent(c_key, 6)}
""" if with_cert else ""
            client = ("    client_certificate: {id: 5c1f0e7a-9b3d-4c2e-8f1a-0d9e8c7b6a50}\n"
                      if with_cert else "")
            return Gateway(tmp_path, f"""
_format_version: "3.0"
{cert_block}services:
  - url: https://127.0.0.1:{e.port}
    retries: 0
{client}    routes:
      - paths: [/]
""")
        import requests
        g = gw(True)
        try:
            assert requests.get(g.url + "/m").status_code == 200
        finally:
            g.stop()
        g = gw(False)
        try:
            assert requests.get(g.url + "/m").status_code == 502
        finally:
            g.stop()
    finally:
        e.stop()


@pytest.mark.parametrize("probe_path,status", [("/status/500", 503), ("/fine", 200)])
def test_https_active_health_probes(tmp_path, probe_path, status):
    """An https active check speaks TLS and HTTP to the target: a probe answered 500 evicts
    the only target (503 from the balancer), one answered 200 keeps it."""
    import time
    import requests
    e, _ = tls_echo(tmp_path)
    try:
        g = Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - host: secure-pool
    protocol: https
    port: 443
    retries: 0
    routes:
      - paths: [/]
upstreams:
  - name: secure-pool
    healthchecks:
      active:
        type: https
        https_verify_certificate: false
        http_path: {probe_path}
        healthy:
          interval: 0.2
          successes: 1
        unhealthy:
          interval: 0.2
          http_failures: 1
    targets:
      - target: 127.0.0.1:{e.port}
""")
        try:
            # long enough for several probes either way
            deadline = time.time() + (8 if status == 503 else 2)
            got = None
            while time.time() < deadline:
                got = requests.get(g.url + "/x").status_code
                if got == status and status == 503:
                    break
                time.sleep(0.3)
            assert got == status
            if status == 503:
                assert (requests.get(g.url + "/x").json()["message"]
                        == "failure to get a peer from the ring-balancer")
        finally:
            g.stop()
    finally:
        e.stop()


def test_tls_session_resumption(tls_gw):
    """Session tickets: a second connection resumes the first one's session."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # the session is known right after the handshake
    session = None
    reused = []
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", tls_gw.ssl_port), timeout=5) as raw_sock:
            with ctx.wrap_socket(raw_sock, server_hostname="a.test", session=session) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
                while s.recv(65536):
                    pass
                reused.append(s.session_reused)
                session = s.session
    assert reused == [False, True]
