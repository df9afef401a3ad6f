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
