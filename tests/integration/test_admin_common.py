"""Helpers shared by the Admin API tests (test_admin_*.py): a small client bound to one control
plane, unique names, Kong's error bodies, and certificates made on the fly. No tests here.

Everything is black-box: the tests talk HTTP to build/tollgate-cp (fixtures `cp`,
`cp_factory`, `pg_private` from conftest.py) and compare with what Kong 3.x answers."""
import datetime
import functools
import hashlib
import json
import re
import uuid

import pytest
import requests

TIMEOUT = 30
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NOT_FOUND = {"message": "Not found"}
NOT_ALLOWED = {"message": "Method not allowed"}
ALL_PROTOCOLS = "grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"
HTTPS_ROUTE_MSG = ("must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when "
                   "'protocols' is 'https'")


def uniq(prefix="t"):
    """A name no other test uses (valid as a Kong utf8_name and as a hostname label)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def new_id():
    return str(uuid.uuid4())


class Api:
    """requests bound to one control plane: api.get("/services"), api.post(path, json=...).
    Extra headers (e.g. the admin token) ride on every call; no retries, no redirects."""

    def __init__(self, url, headers=None):
        self.base = url.rstrip("/")
        self.headers = dict(headers or {})
        self.session = requests.Session()

    def request(self, method, path, headers=None, **kw):
        h = dict(self.headers)
        h.update(headers or {})
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.session.request(method, self.base + path, headers=h, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def options(self, path, **kw):
        return self.request("OPTIONS", path, **kw)

    def fresh(self):
        """Another client on the same control plane (own connection pool, for threads)."""
        return Api(self.base, self.headers)

    def close(self):
        self.session.close()

    # creation shortcuts: they assert 201 and return the entity
    def create(self, path, body):
        r = self.post(path, json=body)
        assert r.status_code == 201, f"POST {path} {body}: {r.status_code} {r.text}"
        return r.json()

    def service(self, **kw):
        body = {"name": uniq("svc"), "host": "upstream.test"}
        body.update(kw)
        return self.create("/services", body)

    def route(self, **kw):
        body = {"name": uniq("rt"), "paths": ["/" + uniq("p")]}
        body.update(kw)
        return self.create("/routes", body)

    def consumer(self, **kw):
        body = {"username": uniq("user")}
        body.update(kw)
        return self.create("/consumers", body)

    def upstream(self, **kw):
        body = {"name": uniq("up") + ".test"}
        body.update(kw)
        return self.create("/upstreams", body)


def api_for(plane):
    return Api(plane.url, getattr(plane, "headers", None))


@pytest.fixture(scope="module")
def api(cp):
    """An Api on the module's control plane (import this fixture into a test module)."""
    client = api_for(cp)
    yield client
    client.close()


def body_of(r):
    try:
        return r.json()
    except ValueError:
        raise AssertionError(f"{r.request.method} {r.url}: {r.status_code}, body is not JSON: "
                             f"{r.text[:500]!r}")


def expect(r, status, body=None):
    """The response has this status and, when body is given, exactly this JSON body."""
    assert r.status_code == status, (f"{r.request.method} {r.url}: expected {status}, got "
                                     f"{r.status_code} {r.text[:1000]}")
    if body is not None:
        got = body_of(r)
        assert got == body, (f"{r.request.method} {r.url}:\n expected {json.dumps(body)}\n"
                             f"      got {json.dumps(got)}")
    return body_of(r) if r.content else None


def schema_violation(fields, *messages):
    """Kong's code-2 body: `schema violation (m)` or `N schema violations (m1; m2)`."""
    if len(messages) == 1:
        message = f"schema violation ({messages[0]})"
    else:
        message = f"{len(messages)} schema violations ({'; '.join(messages)})"
    return {"code": 2, "name": "schema violation", "message": message, "fields": fields}


def unique_violation(lua, fields):
    return {"code": 5, "name": "unique constraint violation",
            "message": f"UNIQUE violation detected on '{lua}'", "fields": fields}


def fk_unresolved(field, key, value, parent):
    msg = (f"the foreign key cannot be resolved with '{{{key}=\"{value}\"}}' for an existing "
           f"'{parent}' entity")
    return {"code": 13, "name": "foreign keys unresolved",
            "message": f"foreign key unresolved ({field}.{key}: {msg})",
            "fields": {field: {key: msg}}}


def fk_violation(field, fid, parent):
    return {"code": 4, "name": "foreign key violation",
            "message": (f"the foreign key '{{id=\"{fid}\"}}' does not reference an existing "
                        f"'{parent}' entity."),
            "fields": {field: {"id": fid}}}


def basic_auth_hash(password, consumer_id):
    """Kong's stored basic-auth password: hex SHA-1 of password .. consumer id."""
    return hashlib.sha1((password + consumer_id).encode()).hexdigest()


def list_all(api, path, size=1000):
    """Every entity of a collection, paging with `offset` (not `next`: the pagination tests
    check `next` themselves)."""
    from urllib.parse import quote
    out = []
    sep = "&" if "?" in path else "?"
    url = f"{path}{sep}size={size}"
    for _ in range(10000):
        page = expect(api.get(url), 200)
        out += page["data"]
        if page.get("offset") is None:
            return out
        url = f"{path}{sep}size={size}&offset={quote(page['offset'], safe='')}"
    raise AssertionError("pagination did not end")


# ---- certificates (cryptography, a test dependency) ----

@functools.lru_cache(maxsize=None)
def make_cert(cn="ssl-example.test", ca=False, days=365):
    """(cert PEM, key PEM) self-signed with an EC P-256 key; ca=True adds the CA basic
    constraint; days < 0 gives an expired certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.utcnow()
    day = datetime.timedelta(days=1)
    not_before = now - (30 if days < 0 else 1) * day
    not_after = now + days * day
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]),
                                        critical=False)
    cert = builder.sign(key, hashes.SHA256())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return cert_pem, key_pem


def cert_digest(cert_pem):
    """Kong's ca_certificates.cert_digest: hex SHA-256 of the DER certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    der = x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(
        serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()
