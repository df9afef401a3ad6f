"""request-transformer and response-transformer on the data plane: headers and query string
(body transformations are not implemented yet), each operation and Kong's order
remove -> rename -> replace -> add -> append."""
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from harness import Echo, EchoHandler, Gateway, HttpConn


class ListEcho(EchoHandler):
    """Echoes the request with every header line (repeated names kept), and on /resp sends
    response headers given as ?h=Name:value arguments."""

    def handle_one(self):
        self._body()
        extra = []
        if self.path.startswith("/resp"):
            for k, v in parse_qsl(urlsplit(self.path).query):
                if k == "h":
                    name, _, value = v.partition(":")
                    extra.append((name, value))
        out = json.dumps({"path": self.path,
                          "headers": [[k.lower(), v] for k, v in self.headers.items()]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = handle_one


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    echo = Echo("transform-echo")
    echo.server.RequestHandlerClass = ListEcho
    g = Gateway(tmp_path_factory.mktemp("transform"), f"""
_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:{echo.port}
    routes:
      - name: remove
        paths: [/remove]
        plugins:
          - name: request-transformer
            config:
              remove: {{headers: [x-drop, x-absent], querystring: [drop, absent]}}
      - name: rename
        paths: [/rename]
        plugins:
          - name: request-transformer
            config:
              rename: {{headers: ["x-old:x-new", "x-none:x-never"], querystring: ["old:new", "none:never"]}}
      - name: replace
        paths: [/replace]
        plugins:
          - name: request-transformer
            config:
              replace: {{headers: ["x-rep:new value", "x-missing:nope"], querystring: ["rep:new value", "missing:nope"]}}
      - name: add
        paths: [/add]
        plugins:
          - name: request-transformer
            config:
              add: {{headers: ["x-add:added", "x-have:ignored"], querystring: ["add:a&b=c", "have:ignored"]}}
      - name: append
        paths: [/append]
        plugins:
          - name: request-transformer
            config:
              append: {{headers: ["x-app:two", "x-fresh:one"], querystring: ["app:two", "fresh:one"]}}
      - name: order
        paths: [/order]
        plugins:
          - name: request-transformer
            config:
              remove: {{headers: [x-a], querystring: [a]}}
              rename: {{headers: ["x-a:x-b", "x-c:x-d"], querystring: ["a:b", "c:d"]}}
              replace: {{headers: ["x-d:replaced", "x-a:never"], querystring: ["d:replaced", "a:never"]}}
              add: {{headers: ["x-d:not-added", "x-a:added"], querystring: ["d:not-added", "a:added"]}}
              append: {{headers: ["x-a:appended"], querystring: ["a:appended"]}}
      - name: resp
        paths: [/resp]
        strip_path: false
        plugins:
          - name: response-transformer
            config:
              remove: {{headers: [x-drop]}}
              rename: {{headers: ["x-old:x-new"]}}
              replace: {{headers: ["x-rep:replaced", "x-missing:nope"]}}
              add: {{headers: ["x-add:added", "x-have:ignored"]}}
              append: {{headers: ["x-app:appended", "x-new:second"]}}
      - name: resp-order
        paths: [/resp-order]
        strip_path: false
        plugins:
          - name: response-transformer
            config:
              remove: {{headers: [x-a]}}
              rename: {{headers: ["x-a:x-b", "x-c:x-d"]}}
              replace: {{headers: ["x-d:replaced"]}}
              add: {{headers: ["x-d:not-added", "x-a:added"]}}
              append: {{headers: ["x-a:appended"]}}
      - name: closed
        paths: [/closed]
        plugins:
          - name: request-termination
            config: {{status_code: 418, message: closed}}
          - name: response-transformer
            config:
              add: {{headers: ["x-add:added"]}}
              append: {{headers: ["x-app:one", "x-app:two"]}}
""")
    yield g
    g.stop()
    echo.stop()


def get(gw, target, headers=()):
    with HttpConn(gw.port) as c:
        r = c.request("GET", target, headers=[("Host", "t")] + list(headers))
    assert r.status == 200, r.body
    return r.json()


def hdrs(body, name):
    return [v for k, v in body["headers"] if k == name]


def query(body):
    return parse_qsl(urlsplit(body["path"]).query, keep_blank_values=True)


def test_remove(gw):
    b = get(gw, "/remove?drop=1&keep=2&drop=3", [("X-Drop", "a"), ("X-Drop", "b"), ("X-Keep", "k")])
    assert hdrs(b, "x-drop") == [] and hdrs(b, "x-keep") == ["k"]
    assert query(b) == [("keep", "2")]


def test_rename(gw):
    b = get(gw, "/rename?old=1&x=2", [("X-Old", "v1"), ("X-Old", "v2")])
    assert hdrs(b, "x-old") == [] and hdrs(b, "x-new") == ["v1", "v2"]
    assert hdrs(b, "x-never") == []
    assert sorted(query(b)) == [("new", "1"), ("x", "2")]


def test_replace_only_when_present(gw):
    b = get(gw, "/replace?rep=1&rep=2&k=v", [("X-Rep", "old"), ("X-Rep", "older")])
    assert hdrs(b, "x-rep") == ["new value"] and hdrs(b, "x-missing") == []
    assert sorted(query(b)) == [("k", "v"), ("rep", "new value")]
    assert "rep=new%20value" in b["path"]
    b = get(gw, "/replace")
    assert hdrs(b, "x-rep") == [] and query(b) == []


def test_add_only_when_absent(gw):
    b = get(gw, "/add?have=mine", [("X-Have", "mine")])
    assert hdrs(b, "x-add") == ["added"] and hdrs(b, "x-have") == ["mine"]
    assert sorted(query(b)) == [("add", "a&b=c"), ("have", "mine")]
    b = get(gw, "/add")  # no query string at all: one is made
    assert sorted(query(b)) == [("add", "a&b=c"), ("have", "ignored")]


def test_append(gw):
    b = get(gw, "/append?app=one", [("X-App", "one")])
    assert hdrs(b, "x-app") == ["one", "two"] and hdrs(b, "x-fresh") == ["one"]
    assert query(b) == [("app", "one"), ("app", "two"), ("fresh", "one")]


def test_request_order(gw):
    # x-a removed first, so rename x-a finds nothing; x-c renamed to x-d, then replaced;
    # add sets x-a (absent after remove) and skips x-d; append adds a second x-a
    b = get(gw, "/order?a=1&c=2", [("X-A", "1"), ("X-C", "2")])
    assert hdrs(b, "x-b") == [] and hdrs(b, "x-c") == []
    assert hdrs(b, "x-d") == ["replaced"]
    assert hdrs(b, "x-a") == ["added", "appended"]
    q = query(b)
    assert ("b", "1") not in q and sorted(q) == [
        ("a", "added"), ("a", "appended"), ("d", "replaced")]


def resp(gw, target):
    with HttpConn(gw.port) as c:
        return c.request("GET", target, headers=[("Host", "t")])


def lines(r, name):
    return [v for k, v in r.header_list if k.lower() == name]


def test_response_headers(gw):
    r = resp(gw, "/resp?h=X-Drop:1&h=X-Old:o1&h=X-Old:o2&h=X-Rep:r&h=X-Have:mine&h=X-App:first")
    assert r.status == 200
    assert lines(r, "x-drop") == [] and lines(r, "x-old") == []
    assert lines(r, "x-new") == ["o1", "o2", "second"]
    assert lines(r, "x-rep") == ["replaced"] and lines(r, "x-missing") == []
    assert lines(r, "x-add") == ["added"] and lines(r, "x-have") == ["mine"]
    assert lines(r, "x-app") == ["first", "appended"]
    assert r.json()["path"].startswith("/resp")


def test_response_order(gw):
    r = resp(gw, "/resp-order?h=X-A:1&h=X-C:2")
    assert lines(r, "x-b") == [] and lines(r, "x-c") == []
    assert lines(r, "x-d") == ["replaced"]
    assert lines(r, "x-a") == ["added", "appended"]


def test_response_on_plugin_answer(gw):
    r = resp(gw, "/closed")
    assert r.status == 418
    assert lines(r, "x-add") == ["added"] and lines(r, "x-app") == ["one", "two"]


def test_header_values_with_crlf_refused(tmp_path):
    with pytest.raises(RuntimeError):
        Gateway(tmp_path, """
_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:9
    plugins:
      - name: request-transformer
        config: {add: {headers: ["x-evil:a\\r\\nx-injected: 1"]}}
""").stop()
