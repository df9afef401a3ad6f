"""Plugins on the data plane, as a client sees them: key-auth (statuses, messages,
challenge, consumer headers, hide_credentials, anonymous) and request-termination, plus
scope precedence and priority order between them."""
import pytest
import requests

from harness import Echo, Gateway


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    echo = Echo("plugins-echo")
    g = Gateway(tmp_path_factory.mktemp("plugins"), f"""
_format_version: "3.0"
consumers:
  - username: alice
    custom_id: c-1
    keyauth_credentials:
      - key: alice-key
  - username: guest
  - username: blocked
    keyauth_credentials:
      - key: blocked-key
    plugins:
      - name: request-termination
        config: {{status_code: 403, message: consumer blocked}}
services:
  - name: svc
    url: http://127.0.0.1:{echo.port}
    plugins:
      - name: key-auth
    routes:
      - name: keyed
        paths: [/keyed]
      - name: hidden
        paths: [/hidden]
        plugins:
          - name: key-auth
            config: {{hide_credentials: true, key_names: [apikey, x-key], realm: api}}
      - name: anon
        paths: [/anon]
        plugins:
          - name: key-auth
            config: {{anonymous: guest}}
      - name: closed
        paths: [/closed]
        plugins:
          - name: request-termination
            config: {{status_code: 418, body: "short and stout", content_type: text/plain}}
      - name: maint
        paths: [/maint]
        plugins:
          - name: request-termination
            config: {{trigger: x-maint}}
""")
    yield g
    g.stop()
    echo.stop()


@pytest.mark.parametrize("path,headers,status,message,challenge", [
    ("/keyed", {}, 401, "No API key found in request", "Key"),
    ("/keyed", {"apikey": ""}, 401, "No API key found in request", "Key"),
    ("/keyed", {"apikey": "wrong"}, 401, "Unauthorized", "Key"),
    ("/keyed?apikey=wrong", {}, 401, "Unauthorized", "Key"),
    ("/keyed?apikey=a&apikey=b", {}, 401, "Duplicate API key found", "Key"),
    ("/hidden", {"x-key": "nope"}, 401, "Unauthorized", 'Key realm="api"'),
])
def test_key_auth_rejections(gw, path, headers, status, message, challenge):
    r = requests.get(gw.url + path, headers=headers)
    assert r.status_code == status
    assert r.json()["message"] == message
    assert r.json()["request_id"] == r.headers["X-Kong-Request-Id"]
    assert r.headers["WWW-Authenticate"] == challenge


def test_key_auth_success_sets_consumer_headers(gw):
    r = requests.get(gw.url + "/keyed", headers={
        "apikey": "alice-key", "X-Consumer-Username": "mallory", "X-Anonymous-Consumer": "true"})
    assert r.status_code == 200
    h = r.json()["headers"]
    assert h["x-consumer-username"] == "alice"
    assert h["x-consumer-custom-id"] == "c-1"
    assert len(h["x-consumer-id"]) == 36
    assert len(h["x-credential-identifier"]) == 36  # key-auth: the credential id
    assert "x-anonymous-consumer" not in h  # cleared: a client cannot inject it
    assert h["apikey"] == "alice-key"  # not hidden by default
    r = requests.get(gw.url + "/keyed?apikey=alice-key&x=1")
    assert r.status_code == 200 and r.json()["path"] == "/?apikey=alice-key&x=1"


def test_hide_credentials(gw):
    r = requests.get(gw.url + "/hidden?x-key=alice-key&keep=1")
    assert r.status_code == 200
    assert r.json()["path"] == "/?keep=1"
    r = requests.get(gw.url + "/hidden", headers={"apikey": "alice-key"})
    assert r.status_code == 200 and "apikey" not in r.json()["headers"]


def test_anonymous_consumer(gw):
    r = requests.get(gw.url + "/anon")
    assert r.status_code == 200
    h = r.json()["headers"]
    assert h["x-consumer-username"] == "guest" and h["x-anonymous-consumer"] == "true"
    assert "x-credential-identifier" not in h
    r = requests.get(gw.url + "/anon", headers={"apikey": "alice-key"})
    assert r.json()["headers"]["x-consumer-username"] == "alice"


def test_request_termination(gw):
    r = requests.get(gw.url + "/closed", headers={"apikey": "alice-key"})
    # the route's request-termination (priority 2) runs after key-auth (1250)
    assert r.status_code == 418 and r.text == "short and stout"
    assert r.headers["Content-Type"] == "text/plain"
    r = requests.get(gw.url + "/closed")
    assert r.status_code == 401  # key-auth answered first
    r = requests.get(gw.url + "/maint", headers={"apikey": "alice-key"})
    assert r.status_code == 200  # no trigger
    r = requests.get(gw.url + "/maint", headers={"apikey": "alice-key", "x-maint": "1"})
    assert r.status_code == 503 and r.json() == {"message": "Service unavailable"}


def test_consumer_scoped_plugin_applies_after_authentication(gw):
    r = requests.get(gw.url + "/keyed", headers={"apikey": "blocked-key"})
    assert r.status_code == 403 and r.json() == {"message": "consumer blocked"}
    r = requests.get(gw.url + "/keyed", headers={"apikey": "alice-key"})
    assert r.status_code == 200
