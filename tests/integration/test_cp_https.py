"""The Admin API over TLS (--admin-ssl-listen, Kong's 8444), and client certificates: with
--admin-ssl-client-ca set, a request without a certificate signed by that CA is refused even
though the TLS handshake itself lets it through (libmicrohttpd only asks for one)."""
import socket
import ssl
import subprocess

import pytest
import requests
import urllib3

from cpserver import _free_port

urllib3.disable_warnings()


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
            cwd=d)


def make_cert(d, ca, name, san=None):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", str(ext), cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    make_cert(d, "ca", "server", san="IP:127.0.0.1")
    make_cert(d, "ca", "admin-client")
    make_cert(d, "other-ca", "stranger")
    return d


def tls_cp(cp_factory, pki, client_ca=False):
    port = _free_port()
    args = ["--admin-ssl-listen", f"127.0.0.1:{port}", "--admin-ssl-cert", str(pki / "server.crt"),
            "--admin-ssl-cert-key", str(pki / "server.key")]
    if client_ca:
        args += ["--admin-ssl-client-ca", str(pki / "ca.crt")]
    cp = cp_factory(args=args)
    return cp, f"https://127.0.0.1:{port}"


def test_admin_api_over_tls(cp_factory, pki):
    cp, url = tls_cp(cp_factory, pki)
    r = requests.post(url + "/services", json={"name": "tls-svc", "url": "http://a.test"},
                      verify=str(pki / "ca.crt"), timeout=10)
    assert r.status_code == 201, r.text
    # the same store behind both listeners
    assert requests.get(cp.url + "/services/tls-svc", timeout=10).status_code == 200
    r = requests.get(url + "/", verify=str(pki / "ca.crt"), timeout=10)
    assert r.status_code == 200 and r.json()["edition"] == "community"


def test_plain_http_to_the_tls_port_is_not_served(cp_factory, pki):
    _, url = tls_cp(cp_factory, pki)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url.replace("https", "http") + "/", timeout=5)


def test_client_certificate_required_when_configured(cp_factory, pki):
    _, url = tls_cp(cp_factory, pki, client_ca=True)
    ca = str(pki / "ca.crt")
    ok = requests.get(url + "/services", verify=ca, timeout=10,
                      cert=(str(pki / "admin-client.crt"), str(pki / "admin-client.key")))
    assert ok.status_code == 200, ok.text
    # no certificate at all: GnuTLS completes the handshake (libmicrohttpd only asks for
    # one), so the refusal must come from the control plane's own check
    none = requests.get(url + "/services", verify=ca, timeout=10)
    assert none.status_code == 401
    assert "client certificate" in none.json()["message"]
    # a certificate from another CA
    try:
        other = requests.post(url + "/services", json={"name": "x", "host": "x.test"}, verify=ca,
                              timeout=10,
                              cert=(str(pki / "stranger.crt"), str(pki / "stranger.key")))
        assert other.status_code == 401
    except requests.exceptions.SSLError:
        pass
    # nothing was written by the refused request
    r = requests.get(url + "/services/x", verify=ca, timeout=10,
                     cert=(str(pki / "admin-client.crt"), str(pki / "admin-client.key")))
    assert r.status_code == 404


def test_tls_without_certificate_files_refuses_to_start(cp_factory, pki):
    port = _free_port()
    cp = cp_factory(args=["--admin-ssl-listen", f"127.0.0.1:{port}"], start=False)
    with pytest.raises(RuntimeError) as e:
        cp.start(timeout=5)
    assert "--admin-ssl-cert" in str(e.value)
