"""mtls-auth: client certificates over real TLS, made here with python3-cryptography: a
certificate from the configured CA names a consumer by username, custom_id or SAN; missing,
untrusted, expired or unmatched certificates get Kong's 401s (or the anonymous consumer);
skip_consumer_lookup with acl on the certificate's CN; intermediates and allow_partial_chain.
The TLS listener asks for a client certificate only on handshakes an mtls-auth plugin could
apply to (seen with openssl s_client -msg: a CertificateRequest message, or none)."""
import datetime
import http.client
import json
import socket
import ssl
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import Echo, Gateway, free_port

CA_ID = "6f2cc1a8-54c6-4bd5-8bd0-4f6a1c0e0a01"
OTHER_CA_ID = "6f2cc1a8-54c6-4bd5-8bd0-4f6a1c0e0a02"
INTER_ID = "6f2cc1a8-54c6-4bd5-8bd0-4f6a1c0e0a03"


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def name(cn, org=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def make_cert(cn, issuer=None, ca=False, sans=(), days=(-1, 30), org=None):
    """A P-256 certificate signed by issuer (cert, key), or self-signed; (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(name(cn, org))
         .issuer_name(issuer[0].subject if issuer else name(cn, org))
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now + datetime.timedelta(days=days[0]))
         .not_valid_after(now + datetime.timedelta(days=days[1]))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                          False), critical=True)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]),
                            critical=False)
    return b.sign(issuer[1] if issuer else key, hashes.SHA256()), key


class PKI:
    def __init__(self, tmp):
        self.tmp = tmp
        self.ca = make_cert("Test Root CA", ca=True)
        self.other = make_cert("Other CA", ca=True)
        self.inter = make_cert("Test Intermediate", issuer=self.ca, ca=True)

    def client(self, cn, issuer=None, chain=(), **kw):
        """Writes a client certificate (plus chain) and key; returns (certfile, keyfile)."""
        cert, key = make_cert(cn, issuer=issuer or self.ca, **kw)
        crt, kf = self.tmp / f"{cn}-{id(cert)}.crt", self.tmp / f"{cn}-{id(cert)}.key"
        crt.write_text(pem(cert) + "".join(pem(c) for c in chain))
        kf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
        return str(crt), str(kf)


def indent(text, n):
    return "\n".join(" " * n + line for line in text.strip().splitlines())


def request(port, path="/", sni="mtls.test", cert=None, headers=()):
    """One HTTPS request; (status, parsed JSON body or raw text)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {sni}\r\n{extra}Connection: close\r\n\r\n"
                      .encode())
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ssl.SSLError:
                    break
                if not chunk:
                    break
                out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()


def s_client(port, sni, cert):
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-servername", sni, "-msg", "-cert", cert[0], "-key", cert[1]],
                       input=b"", capture_output=True, timeout=10)
    out = p.stdout.decode("latin-1")
    assert "ServerHello" in out, out  # the handshake did happen
    return out


def cert_requested(port, sni, cert):
    """Whether the server's handshake carried a CertificateRequest (openssl s_client -msg)."""
    return "CertificateRequest" in s_client(port, sni, cert)


def ca_entities(pki):
    return f"""
ca_certificates:
  - id: {CA_ID}
    cert: |
{indent(pem(pki.ca[0]), 6)}
  - id: {OTHER_CA_ID}
    cert: |
{indent(pem(pki.other[0]), 6)}
  - id: {INTER_ID}
    cert: |
{indent(pem(pki.inter[0]), 6)}
"""


CONSUMERS = """
consumers:
  - username: alice
    custom_id: alice-cid
  - username: bob
  - username: carol
    custom_id: carol-cid
  - username: anon
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def gw(tmp_path_factory, pki):
    """Routes without snis: every handshake asks for a certificate."""
    tmp = tmp_path_factory.mktemp("mtls")
    echo = Echo("mtls-echo")
    sslport = free_port()
    g = Gateway(tmp, f"""
_format_version: "3.0"
{ca_entities(pki)}
{CONSUMERS}
services:
  - name: s
    url: http://127.0.0.1:{echo.port}
    routes:
      - name: plain
        paths: [/m]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{CA_ID}]}}
      - name: anon
        paths: [/anon]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{CA_ID}], anonymous: anon}}
      - name: cid
        paths: [/cid]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{CA_ID}], consumer_by: [custom_id]}}
      - name: skip
        paths: [/skip]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{CA_ID}], skip_consumer_lookup: true}}
          - name: acl
            config: {{allow: [alice]}}
      - name: dn
        paths: [/dn]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{CA_ID}], skip_consumer_lookup: true,
                      authenticated_group_by: DN}}
          - name: acl
            config: {{allow: ["CN=alice,O=Acme"]}}
      - name: ghost
        paths: [/ghost]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{CA_ID}], anonymous: ghost}}
      - name: strict
        paths: [/strict]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{CA_ID}], revocation_check_mode: STRICT}}
      - name: missing
        paths: [/missing]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{CA_ID}, 6f2cc1a8-54c6-4bd5-8bd0-4f6a1c0e0aff]}}
      - name: partial
        paths: [/partial]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{INTER_ID}], allow_partial_chain: true}}
      - name: nopartial
        paths: [/nopartial]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{INTER_ID}]}}
      - name: free
        paths: [/free]
plugins:
  - name: request-termination
    consumer: carol
    config: {{status_code: 418, message: carol is scoped}}
""", extra=("--proxy-ssl-listen", f"127.0.0.1:{sslport}"))
    g.ssl_port = sslport
    yield g
    g.stop()
    echo.stop()


def test_valid_certificate_identifies_the_consumer(gw, pki):
    st, body = request(gw.ssl_port, "/m", cert=pki.client("alice"),
                       headers=[("X-Consumer-Username", "mallory")])
    assert st == 200, body
    h = body["headers"]
    assert h["x-consumer-username"] == "alice"
    assert h["x-consumer-custom-id"] == "alice-cid"
    assert len(h["x-consumer-id"]) == 36
    assert "x-anonymous-consumer" not in h


def test_no_certificate_is_401(gw):
    st, body = request(gw.ssl_port, "/m")
    assert (st, body["message"]) == (401, "No required TLS certificate was sent")


def test_plain_http_is_401(gw):
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
        s.sendall(b"GET /m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
    assert json.loads(out.partition(b"\r\n\r\n")[2])["message"] == \
        "No required TLS certificate was sent"


def test_certificate_from_another_ca_is_401(gw, pki):
    st, body = request(gw.ssl_port, "/m", cert=pki.client("alice", issuer=pki.other))
    assert (st, body["message"]) == (401, "TLS certificate failed verification")


def test_self_signed_certificate_with_the_ca_name_is_401(gw, pki):
    # same subject as the CA, another key: only the signature tells them apart
    forged_ca = make_cert("Test Root CA", ca=True)
    st, body = request(gw.ssl_port, "/m", cert=pki.client("alice", issuer=forged_ca))
    assert (st, body["message"]) == (401, "TLS certificate failed verification")


def test_expired_certificate_is_401(gw, pki):
    st, body = request(gw.ssl_port, "/m", cert=pki.client("alice", days=(-10, -1)))
    assert (st, body["message"]) == (401, "TLS certificate failed verification")


def test_unknown_cn_is_401(gw, pki):
    st, body = request(gw.ssl_port, "/m", cert=pki.client("nobody"))
    assert (st, body["message"]) == (401, "TLS certificate failed verification")


def test_san_names_the_consumer(gw, pki):
    st, body = request(gw.ssl_port, "/m", cert=pki.client("device-42", sans=["bob"]))
    assert st == 200, body
    assert body["headers"]["x-consumer-username"] == "bob"


def test_unknown_cn_with_anonymous(gw, pki):
    st, body = request(gw.ssl_port, "/anon", cert=pki.client("nobody"))
    assert st == 200, body
    assert body["headers"]["x-consumer-username"] == "anon"
    assert body["headers"]["x-anonymous-consumer"] == "true"
    # and a known one is not anonymous there
    st, body = request(gw.ssl_port, "/anon", cert=pki.client("bob"))
    assert body["headers"]["x-consumer-username"] == "bob"
    assert "x-anonymous-consumer" not in body["headers"]


def test_no_certificate_with_anonymous(gw):
    st, body = request(gw.ssl_port, "/anon")
    assert st == 200, body
    assert body["headers"]["x-consumer-username"] == "anon"


def test_consumer_by_custom_id(gw, pki):
    st, body = request(gw.ssl_port, "/cid", cert=pki.client("alice-cid"))
    assert st == 200, body
    assert body["headers"]["x-consumer-username"] == "alice"
    # a username does not match when consumer_by is [custom_id]
    st, body = request(gw.ssl_port, "/cid", cert=pki.client("alice"))
    assert (st, body["message"]) == (401, "TLS certificate failed verification")


def test_skip_consumer_lookup_with_acl_on_cn(gw, pki):
    st, body = request(gw.ssl_port, "/skip", cert=pki.client("alice", org="Acme",
                                                             sans=["dev.example"]))
    assert st == 200, body
    h = body["headers"]
    assert h["x-authenticated-groups"] == "alice"
    assert h["x-client-cert-dn"] == "CN=alice,O=Acme"
    assert h["x-client-cert-san"] == "dev.example,alice"
    assert "x-consumer-id" not in h
    # a trusted certificate whose CN is not in the allow list
    st, body = request(gw.ssl_port, "/skip", cert=pki.client("stranger"))
    assert (st, body["message"]) == (403, "You cannot consume this service")
    # an untrusted one never reaches acl
    st, body = request(gw.ssl_port, "/skip", cert=pki.client("alice", issuer=pki.other))
    assert (st, body["message"]) == (401, "TLS certificate failed verification")


def test_intermediate_sent_by_the_client(gw, pki):
    cert = pki.client("alice", issuer=pki.inter, chain=[pki.inter[0]])
    st, body = request(gw.ssl_port, "/m", cert=cert)
    assert st == 200, body
    assert body["headers"]["x-consumer-username"] == "alice"
    # without the intermediate the chain cannot be built
    st, body = request(gw.ssl_port, "/m", cert=pki.client("alice", issuer=pki.inter))
    assert (st, body["message"]) == (401, "TLS certificate failed verification")


def test_allow_partial_chain(gw, pki):
    cert = pki.client("alice", issuer=pki.inter)
    st, body = request(gw.ssl_port, "/partial", cert=cert)
    assert st == 200, body
    st, body = request(gw.ssl_port, "/nopartial", cert=cert)
    assert (st, body["message"]) == (401, "TLS certificate failed verification")


def test_consumer_scoped_plugin_runs_after_mtls(gw, pki):
    st, body = request(gw.ssl_port, "/m", cert=pki.client("carol"))
    assert (st, body["message"]) == (418, "carol is scoped")


def test_route_without_plugin_ignores_certificates(gw, pki):
    st, body = request(gw.ssl_port, "/free", cert=pki.client("alice", issuer=pki.other))
    assert st == 200, body
    assert "x-consumer-id" not in body["headers"]
    st, body = request(gw.ssl_port, "/free")
    assert st == 200


@pytest.fixture(scope="module")
def sni_gw(tmp_path_factory, pki):
    """mtls-auth only on routes with snis: other SNIs get no CertificateRequest. dn.test has
    a certificate of its own (the connection switches contexts during the handshake)."""
    tmp = tmp_path_factory.mktemp("mtls-sni")
    echo = Echo("sni-echo")
    sslport = free_port()
    srv, srv_key = make_cert("dn.test", sans=["dn.test"])
    key_pem = srv_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    g = Gateway(tmp, f"""
_format_version: "3.0"
{ca_entities(pki)}
{CONSUMERS}
certificates:
  - cert: |
{indent(pem(srv), 6)}
    key: |
{indent(key_pem, 6)}
    snis: [{{name: dn.test}}]
services:
  - name: guarded
    url: http://127.0.0.1:{echo.port}
    plugins:
      - name: mtls-auth
        config: {{ca_certificates: [{CA_ID}]}}
    routes:
      - name: by-service
        protocols: [https]
        snis: ["*.svc.test"]
        paths: [/]
  - name: open
    url: http://127.0.0.1:{echo.port}
    routes:
      - name: guarded-route
        protocols: [https]
        snis: [mtls.test]
        paths: [/]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{CA_ID}]}}
      - name: open-route
        protocols: [https]
        snis: [open.test]
        paths: [/]
      - name: dn-route
        protocols: [https]
        snis: [dn.test]
        paths: [/]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{CA_ID}, {INTER_ID}], send_ca_dn: true}}
""", extra=("--proxy-ssl-listen", f"127.0.0.1:{sslport}"))
    g.ssl_port = sslport
    yield g
    g.stop()
    echo.stop()


def test_certificate_requested_only_where_mtls_applies(sni_gw, pki):
    cert = pki.client("alice")
    assert cert_requested(sni_gw.ssl_port, "mtls.test", cert)
    assert cert_requested(sni_gw.ssl_port, "a.svc.test", cert)  # service plugin, wildcard sni
    assert not cert_requested(sni_gw.ssl_port, "open.test", cert)
    assert not cert_requested(sni_gw.ssl_port, "elsewhere.test", cert)


def test_sni_scoped_routes_authenticate(sni_gw, pki):
    st, body = request(sni_gw.ssl_port, "/", sni="mtls.test", cert=pki.client("alice"))
    assert (st, body["headers"]["x-consumer-username"]) == (200, "alice")
    st, body = request(sni_gw.ssl_port, "/", sni="a.svc.test")
    assert (st, body["message"]) == (401, "No required TLS certificate was sent")
    # the open route: the client's certificate is never asked for, nothing is checked
    st, body = request(sni_gw.ssl_port, "/", sni="open.test", cert=pki.client("alice"))
    assert st == 200
    assert "x-consumer-id" not in body["headers"]


def test_resumed_session_keeps_the_client_chain(gw, pki):
    """A client that offers its previous session gets its certificate and intermediate
    checked again (a resumed session from a ticket would not hold the intermediate)."""
    cert = pki.client("alice", issuer=pki.inter, chain=[pki.inter[0]])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(*cert)
    session = None
    for attempt in range(2):
        with socket.create_connection(("127.0.0.1", gw.ssl_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="mtls.test", session=session) as s:
                s.sendall(b"GET /m HTTP/1.1\r\nHost: mtls.test\r\nConnection: close\r\n\r\n")
                out = b""
                while chunk := s.recv(65536):
                    out += chunk
                session = s.session
        assert out.startswith(b"HTTP/1.1 200"), out[:300]
        assert json.loads(out.partition(b"\r\n\r\n")[2])["headers"]["x-consumer-username"] == \
            "alice"


def test_send_ca_dn(sni_gw, pki):
    out = s_client(sni_gw.ssl_port, "dn.test", pki.client("alice"))
    assert "subject=CN = dn.test" in out  # the SNI's own certificate
    names = out.partition("Acceptable client certificate CA names")[2].partition("---")[0]
    assert "Test Root CA" in names and "Test Intermediate" in names, out
    assert "Other CA" not in names
    # send_ca_dn off (the default): a request without CA names
    out = s_client(sni_gw.ssl_port, "mtls.test", pki.client("alice"))
    assert "CertificateRequest" in out
    assert "No client certificate CA names sent" in out
    st, body = request(sni_gw.ssl_port, "/", sni="dn.test", cert=pki.client("alice"))
    assert (st, body["headers"]["x-consumer-username"]) == (200, "alice")


def test_reload_changes_the_trusted_ca(tmp_path, pki):
    echo = Echo("reload-echo")
    sslport = free_port()

    def conf(ca):
        return f"""
_format_version: "3.0"
{ca_entities(pki)}
{CONSUMERS}
services:
  - url: http://127.0.0.1:{echo.port}
    routes:
      - paths: [/]
        plugins:
          - name: mtls-auth
            config: {{ca_certificates: [{ca}]}}
"""
    g = Gateway(tmp_path, conf(CA_ID), extra=("--proxy-ssl-listen", f"127.0.0.1:{sslport}"))
    try:
        ours, theirs = pki.client("alice"), pki.client("bob", issuer=pki.other)
        assert request(sslport, "/", cert=ours)[0] == 200
        assert request(sslport, "/", cert=theirs)[0] == 401
        # a kept-alive connection, verified once under the old config
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(*ours)
        kept = http.client.HTTPSConnection("127.0.0.1", sslport, context=ctx, timeout=5)
        for _ in range(2):
            kept.request("GET", "/")
            resp = kept.getresponse()
            resp.read()
            assert resp.status == 200
        version = g.status()["configuration_hash"]
        g.reload(conf(OTHER_CA_ID))
        deadline = time.time() + 10
        while g.status()["configuration_hash"] == version and time.time() < deadline:
            time.sleep(0.05)
        assert request(sslport, "/", cert=ours)[0] == 401
        # the next request on it is checked against the new CA
        kept.request("GET", "/")
        resp = kept.getresponse()
        assert (resp.status, json.loads(resp.read())["message"]) == \
            (401, "TLS certificate failed verification")
        kept.close()
        st, body = request(sslport, "/", cert=theirs)
        assert (st, body["headers"]["x-consumer-username"]) == (200, "bob")
    finally:
        g.stop()
        echo.stop()


def test_skip_consumer_lookup_with_acl_on_dn(gw, pki):
    st, body = request(gw.ssl_port, "/dn", cert=pki.client("alice", org="Acme"))
    assert st == 200, body
    assert body["headers"]["x-authenticated-groups"] == "CN=alice,O=Acme"
    st, body = request(gw.ssl_port, "/dn", cert=pki.client("alice", org="Other"))
    assert (st, body["message"]) == (403, "You cannot consume this service")


def test_anonymous_consumer_that_does_not_exist(gw, pki):
    # Kong's mtls-auth lets the request through as anonymous, without a consumer
    st, body = request(gw.ssl_port, "/ghost", headers=[("X-Consumer-ID", "forged")])
    assert st == 200, body
    assert body["headers"]["x-anonymous-consumer"] == "true"
    assert "x-consumer-id" not in body["headers"]


def test_strict_revocation_mode_refuses_without_a_revocation_status(gw, pki):
    st, body = request(gw.ssl_port, "/strict", cert=pki.client("alice"))
    assert (st, body["message"]) == (401, "TLS certificate failed verification")


def test_missing_ca_certificate_is_500(gw, pki):
    st, body = request(gw.ssl_port, "/missing", cert=pki.client("alice"))
    assert (st, body["message"]) == (500, "An unexpected error occurred")
    st, body = request(gw.ssl_port, "/missing")
    assert (st, body["message"]) == (401, "No required TLS certificate was sent")
