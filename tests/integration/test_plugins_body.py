"""Plugins that read bodies, as a client and the upstream see them: key-auth key_in_body
(form, multipart, JSON; hide_credentials), hmac-auth validate_request_body (Digest),
request-transformer body operations and http_method, response-transformer JSON operations,
and the proxy's bounded buffering around them (413 past max_buffered_body_size for requests,
pass-through for responses, chunked bodies, 100-continue, the body timeout, and bodies no
plugin asks for still streaming)."""
import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from email.utils import formatdate
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests

from harness import Echo, EchoHandler, Gateway, HttpConn

KEY = "secret-key-1"


class BodyEcho(EchoHandler):
    """Echoes method, path, headers (repeated names as lists) and the whole body. /resp sends
    back ?body= with ?ct= as Content-Type (?chunked=1: chunked); /bigjson/N sends a JSON
    object of about N bytes."""

    def handle_one(self):
        body = self._body()
        path = self.path
        q = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
        if path.startswith("/resp") or path.startswith("/hdr-only"):
            out = q.get("body", "").encode()
            self.send_response(200)
            self.send_header("Content-Type", q.get("ct", "application/json"))
            if q.get("chunked"):
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(out), 7):
                    part = out[i:i + 7]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        if path.startswith("/bigjson/"):
            n = int(path.split("/")[2])
            out = json.dumps({"drop": 1, "pad": "x" * n}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        headers = {}
        for k, v in self.headers.items():
            headers.setdefault(k.lower(), []).append(v)
        out = json.dumps({"method": self.command, "path": path, "headers": headers,
                          "body": body.decode("latin-1")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = handle_one


def route(name, plugins, paths=None):
    return {"name": name, "paths": paths or ["/" + name], "plugins": plugins,
            "strip_path": False}


def ka(**config):
    return {"name": "key-auth", "config": {"key_in_body": True, **config}}


def rt(**config):
    return {"name": "request-transformer", "config": config}


def rst(**config):
    return {"name": "response-transformer", "config": config}


BODY_OPS = dict(remove={"body": ["drop", "absent"]},
                rename={"body": ["old:new", "none:never"]},
                replace={"body": ["rep:replaced", "missing:nope"]},
                add={"body": ["add:added", "have:ignored"]},
                append={"body": ["app:two", "fresh:one"]})


class Slammer:
    """Reads a request and closes without answering (the request was sent, no response)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while True:
                        head, sep, body = data.partition(b"\r\n\r\n")
                        if sep:
                            m = re.search(rb"(?i)content-length: *(\d+)", head)
                            if len(body) >= (int(m.group(1)) if m else 0):
                                break
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass


SLAMMER = Slammer()


def config(echo_port):
    return {
        "_format_version": "3.0",
        "upstreams": [{"name": "half-dead", "targets": [
            {"target": f"127.0.0.1:{SLAMMER.port}"}, {"target": f"127.0.0.1:{echo_port}"}]}],
        "consumers": [
            {"username": "alice", "keyauth_credentials": [{"key": KEY}],
             "hmacauth_credentials": [{"username": "alice-hmac", "secret": "alice-secret"}]},
        ],
        "services": [{
            "name": "svc", "url": f"http://127.0.0.1:{echo_port}",
            "routes": [
                route("plain", []),
                route("ka-body", [ka()]),
                route("ka-hide", [ka(hide_credentials=True)]),
                route("ka-nobody", [{"name": "key-auth", "config": {}}]),
                route("ka-limit", [ka(), {"name": "request-size-limiting",
                                          "config": {"allowed_payload_size": 1,
                                                     "size_unit": "kilobytes"}}]),
                route("hmac-body", [{"name": "hmac-auth",
                                     "config": {"validate_request_body": True}}]),
                route("rt-body", [rt(**BODY_OPS)]),
                route("rt-add-json", [rt(add={"headers": ["Content-Type:application/json"],
                                              "body": ["p1:v1"]})]),
                route("rt-get", [rt(http_method="GET")]),
                route("rt-post", [rt(http_method="POST")]),
                route("rt-ka", [ka(hide_credentials=True), rt(add={"body": ["extra:1"]})]),
                route("resp-json", [rst(
                    remove={"json": ["drop"]},
                    rename={"json": ["old:new"]},
                    replace={"json": ["rep:42", "absent:1", "falsy:x"],
                             "json_types": ["number", "number", "string"]},
                    add={"json": ["flag:true", "have:ignored", "s:a/b \"q\"", "falsy:yes"],
                         "json_types": ["boolean", "string", "string", "string"]},
                    append={"json": ["list:x", "str:y", "num:z"]},
                )], paths=["/resp"]),
                route("resp-headers-only", [rst(add={"headers": ["X-Added:1"]})],
                      paths=["/hdr-only"]),
                route("bigjson", [rst(remove={"json": ["drop"]})], paths=["/bigjson"]),
                route("term-json", [rst(add={"json": ["extra:1"], "json_types": ["number"]}),
                                    {"name": "request-termination",
                                     "config": {"status_code": 200, "message": "hi"}}]),
                route("term-text", [rst(add={"json": ["extra:1"]}),
                                    {"name": "request-termination",
                                     "config": {"status_code": 200, "body": '{"a":1}',
                                                "content_type": "text/plain"}}]),
            ],
        }, {
            "name": "retry-svc", "host": "half-dead", "retries": 3, "read_timeout": 3000,
            "routes": [route("retry", [ka(hide_credentials=True)])],
        }],
    }


@pytest.fixture(scope="module")
def echo():
    e = Echo("body-echo")
    e.server.RequestHandlerClass = BodyEcho
    yield e
    e.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory, echo):
    g = Gateway(tmp_path_factory.mktemp("body"), json.dumps(config(echo.port)))
    yield g
    g.stop()


@pytest.fixture(scope="module")
def small(tmp_path_factory, echo):
    """A gateway holding at most 64 KiB of a body, with a 1 s body timeout."""
    g = Gateway(tmp_path_factory.mktemp("body-small"), json.dumps(config(echo.port)),
                extra=("--max-buffered-body-size", "64k", "--client-body-timeout", "1"))
    yield g
    g.stop()


def seen(r):
    """What the upstream received."""
    assert r.status_code == 200, r.text
    return r.json()


def check_401(r, msg, challenge="Key"):
    assert r.status_code == 401
    assert r.json()["message"] == msg
    assert r.json()["request_id"] == r.headers["X-Kong-Request-Id"]
    assert r.headers["WWW-Authenticate"] == challenge


def multipart(fields, boundary="XyZzy"):
    out = b""
    for k, v in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                f"{v}\r\n").encode()
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def parse_multipart(body, ctype):
    boundary = ctype.split("boundary=")[1]
    fields = []
    for part in body.split("--" + boundary)[1:]:
        if part.startswith("--"):
            break
        head, _, value = part[2:].partition("\r\n\r\n")
        name = head.split('name="')[1].split('"')[0]
        fields.append((name, value[:-2]))
    return fields


def chunked_request(port, path, headers, body, pieces=5):
    """A request with a chunked body; the response (one connection, then closed)."""
    with HttpConn(port) as c:
        head = [f"POST {path} HTTP/1.1", "Host: x", "Transfer-Encoding: chunked",
                "Connection: close"] + [f"{k}: {v}" for k, v in headers]
        data = ("\r\n".join(head) + "\r\n\r\n").encode()
        step = max(1, len(body) // pieces)
        for i in range(0, len(body), step):
            part = body[i:i + step]
            data += b"%x\r\n%s\r\n" % (len(part), part)
        c.sock.sendall(data + b"0\r\n\r\n")
        return c.response("POST")


# ---------------------------------------------------------------- key-auth key_in_body

@pytest.mark.parametrize("kind", ["form", "json", "multipart"])
def test_key_auth_key_in_body(gw, kind):
    if kind == "form":
        r = requests.post(gw.url + "/ka-body", data={"apikey": KEY, "other": "1"})
    elif kind == "json":
        r = requests.post(gw.url + "/ka-body", json={"apikey": KEY, "other": 1})
    else:
        body, ct = multipart([("apikey", KEY), ("other", "1")])
        r = requests.post(gw.url + "/ka-body", data=body, headers={"Content-Type": ct})
    got = seen(r)
    assert got["headers"]["x-consumer-username"] == ["alice"]
    assert KEY in got["body"]  # not hidden: the body goes up as it came


def test_key_auth_body_missing_or_wrong_key(gw):
    check_401(requests.post(gw.url + "/ka-body", data={"other": "1"}),
              "No API key found in request")
    check_401(requests.post(gw.url + "/ka-body", json={"apikey": "nope"}), "Unauthorized")
    # a JSON key that is not a string is no key; an object or array is "duplicate"
    check_401(requests.post(gw.url + "/ka-body", json={"apikey": 12}),
              "No API key found in request")
    check_401(requests.post(gw.url + "/ka-body", json={"apikey": [KEY]}),
              "Duplicate API key found")
    check_401(requests.post(gw.url + "/ka-body", data="apikey=a&apikey=b",
                            headers={"Content-Type": "application/x-www-form-urlencoded"}),
              "Duplicate API key found")


def test_key_auth_body_not_read_for_other_types_or_without_key_in_body(gw):
    # text/plain is not a body kong.request.get_body() reads
    check_401(requests.post(gw.url + "/ka-body", data=f"apikey={KEY}",
                            headers={"Content-Type": "text/plain"}),
              "No API key found in request")
    check_401(requests.post(gw.url + "/ka-nobody", data={"apikey": KEY}),
              "No API key found in request")
    # header still first
    assert seen(requests.post(gw.url + "/ka-body", headers={"apikey": KEY},
                              json={"x": 1}))["body"] == '{"x": 1}'


@pytest.mark.parametrize("kind", ["form", "json", "multipart"])
def test_key_auth_hide_credentials_removes_body_field(gw, kind):
    if kind == "form":
        r = requests.post(gw.url + "/ka-hide", data={"a": "1", "apikey": KEY, "b": "x y"})
        got = seen(r)
        assert parse_qs(got["body"]) == {"a": ["1"], "b": ["x y"]}
    elif kind == "json":
        r = requests.post(gw.url + "/ka-hide", json={"a": 1, "apikey": KEY, "b": {"c": [1]}})
        got = seen(r)
        assert json.loads(got["body"]) == {"a": 1, "b": {"c": [1]}}
    else:
        body, ct = multipart([("a", "1"), ("apikey", KEY), ("b", "two")])
        got = seen(requests.post(gw.url + "/ka-hide", data=body, headers={"Content-Type": ct}))
        assert parse_multipart(got["body"], ct) == [("a", "1"), ("b", "two")]
    assert int(got["headers"]["content-length"][0]) == len(got["body"])
    assert got["headers"]["x-consumer-username"] == ["alice"]


def test_key_auth_hide_credentials_key_from_header_also_clears_body(gw):
    got = seen(requests.post(gw.url + "/ka-hide", headers={"apikey": KEY},
                             data={"apikey": "other", "keep": "1"}))
    assert "apikey" not in got["headers"]
    assert parse_qs(got["body"]) == {"keep": ["1"]}


def test_key_auth_key_in_chunked_body(gw):
    r = chunked_request(gw.port, "/ka-hide", [("Content-Type", "application/json")],
                        json.dumps({"apikey": KEY, "data": "z" * 300}).encode())
    assert r.status == 200
    got = r.json()
    assert json.loads(got["body"]) == {"data": "z" * 300}
    # the upstream gets a length, not chunks
    assert "transfer-encoding" not in got["headers"]
    assert got["headers"]["content-length"] == [str(len(got["body"]))]


def test_request_size_limiting_after_the_body_was_read(gw):
    # key-auth (priority 1250) had the chunked body read; request-size-limiting (951) then
    # knows its size: Kong's 413 and message
    body = json.dumps({"apikey": KEY, "pad": "p" * 2000}).encode()
    r = chunked_request(gw.port, "/ka-limit", [("Content-Type", "application/json")], body)
    assert r.status == 413
    assert r.json()["message"] == "Request size limit exceeded"
    body = json.dumps({"apikey": KEY, "pad": "p" * 500}).encode()
    r = chunked_request(gw.port, "/ka-limit", [("Content-Type", "application/json")], body)
    assert r.status == 200


def test_buffered_body_is_sent_again_on_retry(gw):
    # one target takes the whole request and closes without an answer: the retry to the
    # other carries the whole body again
    for i in range(4):
        got = seen(requests.post(gw.url + "/retry", data={"apikey": KEY, "n": str(i)}))
        assert parse_qs(got["body"]) == {"n": [str(i)]}


def test_key_auth_401_after_reading_body_keeps_connection(gw):
    with HttpConn(gw.port) as c:
        body = b"other=1"
        r = c.request("POST", "/ka-body", [("Host", "x"), ("Content-Type",
                                                          "application/x-www-form-urlencoded")],
                      body)
        assert r.status == 401
        assert "close" not in r.headers.get("connection", "")
        r = c.request("POST", "/ka-body", [("Host", "x"), ("Content-Type",
                                                          "application/x-www-form-urlencoded")],
                      f"apikey={KEY}".encode())
        assert r.status == 200


# ---------------------------------------------------------------- hmac-auth Digest

def date_auth():
    date = formatdate(time.time(), usegmt=True)
    sig = base64.b64encode(hmac.new(b"alice-secret", ("date: " + date).encode(),
                                    hashlib.sha256).digest()).decode()
    return {"Date": date, "Authorization": f'hmac username="alice-hmac", '
            f'algorithm="hmac-sha256", headers="date", signature="{sig}"'}


def digest(body):
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def test_hmac_digest_matches(gw):
    body = b'{"amount": 10}'
    got = seen(requests.post(gw.url + "/hmac-body", data=body,
                             headers=date_auth() | {"Digest": digest(body)}))
    assert got["body"] == body.decode()
    assert got["headers"]["x-consumer-username"] == ["alice"]


@pytest.mark.parametrize("dig", [None, "SHA-256=AAAA", digest(b"other"), digest(b"")])
def test_hmac_digest_refused(gw, dig):
    h = date_auth() | ({"Digest": dig} if dig else {})
    r = requests.post(gw.url + "/hmac-body", data=b"payload", headers=h)
    check_401(r, "HMAC signature does not match", "hmac")


def test_hmac_digest_of_chunked_body(gw):
    body = b"chunked payload " * 50
    r = chunked_request(gw.port, "/hmac-body",
                        list((date_auth() | {"Digest": digest(body)}).items()), body)
    assert r.status == 200
    assert r.json()["body"] == body.decode()
    r = chunked_request(gw.port, "/hmac-body",
                        list((date_auth() | {"Digest": digest(body[:-1])}).items()), body)
    assert r.status == 401


# ---------------------------------------------------------------- request-transformer body

def test_request_transformer_json_body(gw):
    sent = {"drop": 1, "old": "o", "rep": 5, "have": "h", "app": "one", "keep": [1, {"a": 2}]}
    got = seen(requests.post(gw.url + "/rt-body", json=sent))
    body = json.loads(got["body"])
    assert body == {"new": "o", "rep": "replaced", "have": "h", "app": ["one", "two"],
                    "keep": [1, {"a": 2}], "add": "added", "fresh": ["one"]}
    assert got["headers"]["content-length"] == [str(len(got["body"]))]


def test_request_transformer_json_append_to_array_and_false_is_absent(gw):
    got = seen(requests.post(gw.url + "/rt-body",
                             json={"app": [1], "rep": False, "add": False}))
    body = json.loads(got["body"])
    assert body["app"] == [1, "two"]
    assert body["rep"] is False  # replace needs a truthy value
    assert body["add"] == "added"  # add overwrites false (Lua's `not parameters[name]`)


def test_request_transformer_form_body(gw):
    got = seen(requests.post(gw.url + "/rt-body", data=[
        ("drop", "1"), ("old", "o v"), ("rep", "5"), ("have", "h"), ("app", "one"),
        ("keep", "a&b")]))
    assert parse_qs(got["body"]) == {"new": ["o v"], "rep": ["replaced"], "have": ["h"],
                                     "app": ["one", "two"], "keep": ["a&b"],
                                     "add": ["added"], "fresh": ["one"]}


def test_request_transformer_multipart_body(gw):
    body, ct = multipart([("drop", "1"), ("old", "o"), ("rep", "5"), ("have", "h")])
    got = seen(requests.post(gw.url + "/rt-body", data=body, headers={"Content-Type": ct}))
    fields = dict(parse_multipart(got["body"], ct))
    # no append for multipart (Kong)
    assert fields == {"new": "o", "rep": "replaced", "have": "h", "add": "added"}


def test_request_transformer_bodies_left_alone(gw):
    # not JSON although it says so, and a type the plugin does not read
    got = seen(requests.post(gw.url + "/rt-body", data=b"{not json",
                             headers={"Content-Type": "application/json"}))
    assert got["body"] == "{not json"
    got = seen(requests.post(gw.url + "/rt-body", data=b"drop=1",
                             headers={"Content-Type": "text/plain"}))
    assert got["body"] == "drop=1"
    # a JSON array has no keys to edit
    got = seen(requests.post(gw.url + "/rt-body", json=[1, 2]))
    assert json.loads(got["body"]) == [1, 2]


def test_request_transformer_leaves_bodies_with_too_many_fields(gw):
    # at most 10000 top-level fields are edited (a body of tiny fields would cost far more
    # memory than its size); past that the body goes up as it came
    body = "drop=1&" + "&".join(f"f{i}=1" for i in range(10000))
    got = seen(requests.post(gw.url + "/rt-body", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"}))
    assert got["body"] == body
    body = "drop=1&" + "&".join(f"f{i}=1" for i in range(9000))
    got = seen(requests.post(gw.url + "/rt-body", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"}))
    assert "drop" not in parse_qs(got["body"]) and len(parse_qs(got["body"])) == 9000 + 4


def test_request_transformer_empty_body_gets_add_and_append_only(gw):
    got = seen(requests.post(gw.url + "/rt-body", data=b"",
                             headers={"Content-Type": "application/json"}))
    assert json.loads(got["body"]) == {"add": "added", "have": "ignored", "app": ["two"],
                                       "fresh": ["one"]}


def test_request_transformer_adds_json_body_to_get(gw):
    got = seen(requests.get(gw.url + "/rt-add-json"))
    assert got["headers"]["content-type"] == ["application/json"]
    assert json.loads(got["body"]) == {"p1": "v1"}
    assert got["headers"]["content-length"] == [str(len(got["body"]))]


def test_request_transformer_chunked_json(gw):
    r = chunked_request(gw.port, "/rt-body", [("Content-Type", "application/json")],
                        json.dumps({"drop": 1, "x": "y" * 500}).encode())
    assert r.status == 200
    got = r.json()
    assert "transfer-encoding" not in got["headers"]
    assert json.loads(got["body"])["x"] == "y" * 500
    assert "drop" not in json.loads(got["body"])


def test_request_transformer_http_method(gw):
    got = seen(requests.post(gw.url + "/rt-get?hello=world", data={"name": "marco", "hello": "2"}))
    assert got["method"] == "GET"
    assert parse_qs(urlsplit(got["path"]).query) == {"hello": ["world", "2"], "name": ["marco"]}
    got = seen(requests.get(gw.url + "/rt-post?a=1"))
    assert got["method"] == "POST"
    assert got["path"].endswith("?a=1")


def test_key_auth_and_transformer_edits_chain(gw):
    got = seen(requests.post(gw.url + "/rt-ka", json={"apikey": KEY, "v": 1}))
    assert json.loads(got["body"]) == {"v": 1, "extra": "1"}


# ---------------------------------------------------------------- response-transformer json

def resp(gw, body, ct="application/json", chunked=False):
    params = {"body": body, "ct": ct}
    if chunked:
        params["chunked"] = "1"
    return requests.get(gw.url + "/resp", params=params)


@pytest.mark.parametrize("chunked", [False, True])
def test_response_transformer_json(gw, chunked):
    up = {"drop": 1, "old": "o", "rep": 1, "have": 2, "list": [1], "str": "s", "num": 3,
          "falsy": False}
    r = resp(gw, json.dumps(up), chunked=chunked)
    assert r.status_code == 200
    assert "transfer-encoding" not in r.headers
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert r.json() == {"new": "o", "rep": 42, "have": 2, "list": [1, "x"], "str": ["s", "y"],
                        "num": ["z"], "falsy": "yes", "flag": True, "s": 'a/b "q"'}


def test_response_transformer_content_types(gw):
    r = resp(gw, '{"drop": 1}', ct="application/problem+json")
    assert "drop" not in r.json()
    # not JSON: unchanged, byte for byte
    r = resp(gw, '{"drop": 1}', ct="text/plain")
    assert r.text == '{"drop": 1}'
    r = resp(gw, '{"drop": 1', ct="application/json")
    assert r.text == '{"drop": 1'
    assert r.headers["Content-Length"] == str(len('{"drop": 1'))


def test_response_transformer_on_plugin_answers(gw):
    # kong.response.exit bodies go through body_filter too
    r = requests.get(gw.url + "/term-json")
    assert r.json() == {"message": "hi", "extra": 1}
    assert r.headers["Content-Length"] == str(len(r.content))
    r = requests.get(gw.url + "/term-text")
    assert r.text == '{"a":1}'


def test_response_transformer_header_only_config_streams(gw):
    # no json ops: the response keeps the upstream's chunked framing
    r = requests.get(gw.url + "/hdr-only", params={"body": '{"a":1}', "chunked": "1"})
    assert r.headers["X-Added"] == "1"
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert r.json() == {"a": 1}


# ---------------------------------------------------------------- bounds and streaming

def test_request_body_over_bound_is_413(small):
    body = b"apikey=" + KEY.encode() + b"&pad=" + b"x" * 70000
    r = requests.post(small.url + "/ka-body", data=body,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert "Payload too large" in r.text
    assert "request_id" in r.text
    # chunked: refused as it crosses the bound
    r = chunked_request(small.port, "/rt-body", [("Content-Type", "application/json")],
                        b'{"a":"' + b"x" * 70000 + b'"}', pieces=10)
    assert r.status == 413
    # under the bound it passes
    assert seen(requests.post(small.url + "/ka-body", data={"apikey": KEY, "pad": "x" * 1000}))


def test_bodies_no_plugin_asks_for_stream_past_the_bound(small):
    big = b"y" * 300000
    got = seen(requests.post(small.url + "/plain", data=big))
    assert len(got["body"]) == len(big)
    # key_in_body with a body kind get_body() does not read: not buffered either
    check_401(requests.post(small.url + "/ka-body", data=big,
                            headers={"Content-Type": "application/octet-stream"}),
              "No API key found in request")
    got = seen(requests.post(small.url + "/ka-body", data=big,
                             headers={"Content-Type": "application/octet-stream",
                                      "apikey": KEY}))
    assert len(got["body"]) == len(big)


def test_key_in_header_needs_no_body(small):
    # Kong reads the body only when the first key name is in neither a header nor the query
    big = json.dumps({"pad": "z" * 300000}).encode()
    got = seen(requests.post(small.url + "/ka-body", data=big,
                             headers={"Content-Type": "application/json", "apikey": KEY}))
    assert len(got["body"]) == len(big)
    got = seen(requests.post(small.url + "/ka-body?apikey=" + KEY, data=big,
                             headers={"Content-Type": "application/json"}))
    assert len(got["body"]) == len(big)
    # hiding it needs the body (to clear the field there too): past the bound, 413
    r = requests.post(small.url + "/ka-hide", data=big,
                      headers={"Content-Type": "application/json", "apikey": KEY})
    assert r.status_code == 413


def test_response_over_bound_passes_unchanged(small, gw):
    r = requests.get(small.url + "/bigjson/100000")
    assert r.status_code == 200
    assert r.json()["drop"] == 1  # too big to transform: as the upstream sent it
    assert len(r.json()["pad"]) == 100000
    r = requests.get(gw.url + "/bigjson/100000")
    assert "drop" not in r.json() and len(r.json()["pad"]) == 100000


def test_expect_continue_with_buffered_body(gw):
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
        body = f"apikey={KEY}".encode()
        s.sendall(b"POST /ka-hide HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(body)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    assert out.startswith(b"HTTP/1.1 200")
    assert out.count(b"100 Continue") == 0


def test_body_timeout_while_buffering(small):
    with socket.create_connection(("127.0.0.1", small.port), timeout=5) as s:
        s.sendall(b"POST /ka-body HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"apikey\"")
        start = time.time()
        out = s.recv(65536)
        assert out.startswith(b"HTTP/1.1 408")
        assert time.time() - start < 4
