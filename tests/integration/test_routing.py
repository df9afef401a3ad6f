"""Routing through the real proxy (reference §4.1-4.4, 4.6, 4.8): which route answers a request
and which path the upstream sees. Every route has its own service whose path is `/<route
name>`, so the path the echo upstream reports names the route that answered and shows the
upstream path built from it. One gateway per group of cases (module-scoped), requests sent
byte-exact over raw sockets so nothing is normalized on the client side."""
import json

import pytest

from harness import Echo, Gateway, HttpConn, free_port, http_request, start_retrying

NO_ROUTE = "no Route matched with those values"


def yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)  # JSON strings/lists/numbers are valid YAML flow scalars/sequences


def routes_conf(echo_port, routes):
    """routes: (name, route fields[, service fields]) triples. The route `name` gets service
    `s-<name>` at http://127.0.0.1:<echo_port>/<name> unless the service fields give `path`."""
    out = ['_format_version: "3.0"', "services:"]
    for entry in routes:
        name, fields = entry[0], entry[1]
        svc = dict(entry[2]) if len(entry) > 2 else {}
        path = svc.pop("path", "/" + name)
        out.append(f"  - name: {yaml_value('s-' + name)}")
        out.append(f"    url: {yaml_value(f'http://127.0.0.1:{echo_port}{path}')}")
        for k, v in svc.items():
            out.append(f"    {k}: {yaml_value(v)}")
        out.append("    routes:")
        out.append(f"      - name: {yaml_value(name)}")
        for k, v in fields.items():
            if k == "headers":
                out.append("        headers:")
                for hk, hv in v.items():
                    out.append(f"          {hk}: {yaml_value(hv)}")
            else:
                out.append(f"        {k}: {yaml_value(v)}")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def echo():
    e = Echo("routing-echo")
    yield e
    e.stop()


def start(tmp_path_factory, name, config):
    d = tmp_path_factory.mktemp(name)
    return start_retrying(lambda: Gateway(d, config))


def hit(port, method, target, headers=(), body=None):
    headers = list(headers)
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ("Host", "routing.test"))
    return http_request(port, method, target, headers, body)


def assert_routed(r, want):
    """want: the upstream path (str) or 404 for no match."""
    if want == 404:
        assert r.status == 404, r.body
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["message"] == NO_ROUTE
        assert r.json()["request_id"] == r.headers["x-kong-request-id"]
    else:
        assert r.status == 200, r.body
        assert r.json()["path"] == want


# --- hosts ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hosts_gw(echo, tmp_path_factory):
    """Also listens on a second port (`.alt_port`), for hosts entries with a port."""
    d = tmp_path_factory.mktemp("hosts")

    def make():
        alt = free_port()
        conf = routes_conf(echo.port, [
            ("h_exact", {"hosts": ["exact.test"]}),
            ("h_lead", {"hosts": ["*.wild.test"], "paths": ["/"]}),
            ("h_plain", {"hosts": ["plain.wild.test"], "paths": ["/"]}),
            ("h_trail", {"hosts": ["trail.*"], "paths": ["/"]}),
            ("h_port", {"hosts": [f"port.test:{alt}"]}),
            ("h_multi", {"hosts": ["a.multi.test", "b.multi.test"]}),
            ("h_leadport", {"hosts": [f"*.lp.test:{alt}"], "paths": ["/"]}),
            ("h_catch", {"paths": ["/"]}),
        ])
        g = Gateway(d, conf, extra=("--proxy-listen", f"127.0.0.1:{alt}"))
        g.alt_port = alt
        return g

    g = start_retrying(make)
    yield g
    g.stop()


@pytest.mark.parametrize("host,listener,want", [
    pytest.param("exact.test", "main", "/h_exact/x", id="exact"),
    pytest.param("exact.test:8080", "main", "/h_exact/x", id="exact-host-header-port-ignored"),
    pytest.param("exact.test", "alt", "/h_exact/x", id="exact-any-listener"),
    pytest.param("EXACT.TEST", "main", "/h_catch/x", id="exact-compared-as-sent"),
    pytest.param("exact.testx", "main", "/h_catch/x", id="exact-no-suffix"),
    pytest.param("xexact.test", "main", "/h_catch/x", id="exact-no-prefix"),
    pytest.param("foo.wild.test", "main", "/h_lead/x", id="leading-wildcard"),
    pytest.param("a.b.c.wild.test", "main", "/h_lead/x", id="leading-wildcard-many-labels"),
    pytest.param("foo.wild.test:9999", "main", "/h_lead/x", id="leading-wildcard-with-port"),
    pytest.param("wild.test", "main", "/h_catch/x", id="leading-wildcard-needs-a-label"),
    pytest.param("foowild.test", "main", "/h_catch/x", id="leading-wildcard-needs-a-dot"),
    pytest.param("plain.wild.test", "main", "/h_plain/x", id="plain-host-beats-wildcard"),
    pytest.param("trail.com", "main", "/h_trail/x", id="trailing-wildcard"),
    pytest.param("trail.co.uk", "main", "/h_trail/x", id="trailing-wildcard-many-labels"),
    pytest.param("trailx.com", "main", "/h_catch/x", id="trailing-wildcard-needs-a-dot"),
    pytest.param("xtrail.com", "main", "/h_catch/x", id="trailing-wildcard-is-a-prefix"),
    pytest.param("port.test", "alt", "/h_port/x", id="host-with-listener-port"),
    pytest.param("port.test", "main", "/h_catch/x", id="host-with-port-other-listener"),
    pytest.param("port.test:{alt}", "main", "/h_catch/x", id="host-header-port-not-used"),
    pytest.param("a.multi.test", "main", "/h_multi/x", id="several-hosts-first"),
    pytest.param("b.multi.test", "main", "/h_multi/x", id="several-hosts-second"),
    pytest.param("c.multi.test", "main", "/h_catch/x", id="several-hosts-none"),
    pytest.param("x.lp.test", "alt", "/h_leadport/x", id="wildcard-host-with-listener-port"),
    pytest.param("x.lp.test", "main", "/h_catch/x", id="wildcard-host-with-port-other-listener"),
])
def test_hosts(hosts_gw, host, listener, want):
    port = hosts_gw.port if listener == "main" else hosts_gw.alt_port
    r = hit(port, "GET", "/x", [("Host", host.format(alt=hosts_gw.alt_port))])
    assert_routed(r, want)


def test_http10_without_host_matches_hostless_route(hosts_gw):
    with HttpConn(hosts_gw.port) as c:
        c.send("GET", "/x", version="HTTP/1.0")
        r = c.response()
    assert_routed(r, "/h_catch/x")


# --- methods, headers, disabled services, no match (no catch-all here) -------------------------

@pytest.fixture(scope="module")
def match_gw(echo, tmp_path_factory):
    conf = routes_conf(echo.port, [
        ("m_get", {"methods": ["GET"], "paths": ["/m"]}),
        ("m_write", {"methods": ["POST", "PUT"], "paths": ["/m"]}),
        ("m_any", {"paths": ["/m"]}),
        ("m_only", {"methods": ["PATCH"]}),
        ("hd_list", {"headers": {"x-ver": ["v1", "v2"]}, "paths": ["/hd"]}),
        ("hd_re", {"headers": {"x-ver": ["~*^beta-\\d+$"]}, "paths": ["/hd"]}),
        ("hd_two", {"headers": {"x-ver": ["v1"], "x-env": ["prod"]}, "paths": ["/hd"]}),
        ("hd_path", {"paths": ["/hd"]}),
        ("hd_only", {"headers": {"x-only": ["yes"]}}),
        ("hd_mixed", {"headers": {"x-up": ["MiXeD"]}, "paths": ["/hu"]}),
        ("hd_unanch", {"headers": {"x-tag": ["~*gold"]}, "paths": ["/hu"]}),
        ("hp_long", {"headers": {"x-a": ["1"]}, "paths": ["/hp/longer/path"]}),
        ("hp_short", {"headers": {"x-a": ["1"]}, "paths": ["/hp"]}),
        ("hp_more", {"headers": {"x-a": ["1"], "x-b": ["1"]}, "paths": ["/hp"]}),
        ("pr_host", {"hosts": ["hh.test"], "methods": ["GET"]}),
        ("pr_header", {"headers": {"x-h": ["1"]}, "paths": ["/hh"]}),
        ("pr_regex", {"paths": ["~/rx"]}),
        ("pr_hdr_only", {"headers": {"x-r": ["1"]}}),
        ("pr_plain_host", {"hosts": ["w.test"]}),
        ("pr_weight2", {"methods": ["GET"], "paths": ["/w"]}),
        ("pm_x", {"paths": ["/a", "/a/b/c/d"]}),
        ("pm_y", {"paths": ["/a/b"]}),
        ("off", {"paths": ["/off/deep"]}, {"enabled": False}),
        ("on", {"paths": ["/off"]}),
        ("gone", {"paths": ["/gone"]}, {"enabled": False}),
    ])
    g = start(tmp_path_factory, "match", conf)
    yield g
    g.stop()


@pytest.mark.parametrize("method,target,headers,want", [
    pytest.param("GET", "/m/1", [], "/m_get/1", id="method-get"),
    pytest.param("POST", "/m/1", [], "/m_write/1", id="method-post-of-two"),
    pytest.param("PUT", "/m/1", [], "/m_write/1", id="method-put-of-two"),
    pytest.param("DELETE", "/m/1", [], "/m_any/1", id="method-unlisted-falls-back"),
    pytest.param("PATCH", "/elsewhere", [], "/m_only/elsewhere", id="method-only-route"),
    pytest.param("GET", "/elsewhere", [], 404, id="method-only-route-other-method"),
    pytest.param("GET", "/hd/a", [("x-ver", "v1")], "/hd_list/a", id="header-first-value"),
    pytest.param("GET", "/hd/a", [("x-ver", "v2")], "/hd_list/a", id="header-second-value"),
    pytest.param("GET", "/hd/a", [("X-VER", "V1")], "/hd_list/a",
                 id="header-name-and-value-case-insensitive"),
    pytest.param("GET", "/hd/a", [("x-ver", "v9"), ("x-ver", "v2")], "/hd_list/a",
                 id="header-any-of-several-request-values"),
    pytest.param("GET", "/hd/a", [("x-ver", "beta-12")], "/hd_re/a", id="header-regex"),
    pytest.param("GET", "/hd/a", [("x-ver", "BETA-7")], "/hd_re/a",
                 id="header-regex-on-lowercased-value"),
    pytest.param("GET", "/hd/a", [("x-ver", "beta-x")], "/hd_path/a", id="header-regex-no-match"),
    pytest.param("GET", "/hd/a", [("x-ver", "v3")], "/hd_path/a", id="header-value-no-match"),
    pytest.param("GET", "/hd/a", [("x-ver", "v1"), ("x-env", "prod")], "/hd_two/a",
                 id="more-headers-win"),
    pytest.param("GET", "/hd/a", [("x-ver", "v1"), ("x-env", "dev")], "/hd_list/a",
                 id="all-headers-must-match"),
    pytest.param("GET", "/hd/a", [("x-env", "prod")], "/hd_path/a", id="header-missing"),
    pytest.param("GET", "/hd/a", [], "/hd_path/a", id="no-headers"),
    pytest.param("GET", "/any/where", [("X-Only", "YES")], "/hd_only/any/where",
                 id="header-only-route"),
    pytest.param("GET", "/hu/1", [("x-up", "mixed")], "/hd_mixed/1",
                 id="header-configured-value-case-insensitive"),
    pytest.param("GET", "/hu/1", [("x-tag", "24-GOLD-carat")], "/hd_unanch/1",
                 id="header-regex-unanchored"),
    pytest.param("GET", "/hu/1", [("x-tag", "silver")], 404, id="header-regex-unanchored-no"),
    pytest.param("GET", "/hp/longer/path/z", [("x-a", "1"), ("x-b", "1")],
                 "/hp_more/longer/path/z", id="more-headers-beat-longer-path"),
    pytest.param("GET", "/hp/longer/path/z", [("x-a", "1")], "/hp_long/z",
                 id="same-headers-longer-path-wins"),
    pytest.param("GET", "/hp/other", [("x-a", "1")], "/hp_short/other",
                 id="same-headers-shorter-path"),
    pytest.param("GET", "/hp/other", [], 404, id="header-route-without-header"),
    pytest.param("GET", "/hh/1", [("Host", "hh.test"), ("x-h", "1")], "/pr_host/hh/1",
                 id="plain-host-beats-more-headers"),
    pytest.param("GET", "/hh/1", [("x-h", "1")], "/pr_header/1", id="headers-without-host"),
    pytest.param("GET", "/rx/1", [("x-r", "1")], "/pr_hdr_only/rx/1",
                 id="more-headers-beat-regex"),
    pytest.param("GET", "/rx/1", [], "/pr_regex/1", id="regex-without-header"),
    pytest.param("GET", "/w/1", [("Host", "w.test")], "/pr_weight2/1",
                 id="more-fields-beat-plain-host"),
    pytest.param("GET", "/v", [("Host", "w.test")], "/pr_plain_host/v", id="plain-host-alone"),
    pytest.param("GET", "/a/b/c/d/e", [], "/pm_x/e", id="several-paths-longest-one-counts"),
    pytest.param("GET", "/a/b/z", [], "/pm_y/z", id="several-paths-each-own-priority"),
    pytest.param("GET", "/a/q", [], "/pm_x/q", id="several-paths-short-one-strips"),
    pytest.param("GET", "/off/deep/x", [], "/on/deep/x", id="disabled-service-route-skipped"),
    pytest.param("GET", "/gone", [], 404, id="disabled-service-404"),
    pytest.param("GET", "/nothing", [], 404, id="no-match-404"),
])
def test_methods_headers_priority(match_gw, method, target, headers, want):
    r = hit(match_gw.port, method, target, headers)
    assert_routed(r, want)
    if want != 404:
        assert r.json()["method"] == method


def test_no_match_body_layout(match_gw):
    r = hit(match_gw.port, "GET", "/nothing")
    assert r.status == 404
    rid = r.headers["x-kong-request-id"]
    assert r.body.decode().startswith('{\n  "message":"no Route matched with those values",\n'
                                      f'  "request_id":"{rid}"\n}}')


# --- paths: prefix vs regex, priorities, several paths, host vs longer path -------------------

@pytest.fixture(scope="module")
def paths_gw(echo, tmp_path_factory):
    conf = routes_conf(echo.port, [
        ("p_root", {"paths": ["/"]}),
        ("p_pre", {"paths": ["/p"]}),
        ("p_longer", {"paths": ["/p/longer"]}),
        ("p_re", {"paths": ["~/p/re/\\d+$"]}),
        ("p_anch", {"paths": ["~/anch/\\d+"]}),
        ("rp_top", {"paths": ["~/rp/"], "regex_priority": 0}),
        ("rp_word", {"paths": ["~/rp/(?<id>\\w+)"], "regex_priority": 1}),
        ("rp_num", {"paths": ["~/rp/num/\\d+"], "regex_priority": 5}),
        ("rq_gen", {"paths": ["~/rq/.*"], "regex_priority": 10}),
        ("rq_spec", {"paths": ["~/rq/special$"], "regex_priority": 0}),
        ("p_multi", {"paths": ["/m1", "/m2/deeper", "~/m3/\\d+"]}),
        ("p_case", {"paths": ["~/CaSe/"]}),
        ("hb_host", {"hosts": ["hb.test"], "paths": ["/hb"]}),
        ("hb_meth", {"methods": ["GET"], "paths": ["/hb/long/path"]}),
    ])
    g = start(tmp_path_factory, "paths", conf)
    yield g
    g.stop()


@pytest.mark.parametrize("target,host,want", [
    pytest.param("/", None, "/p_root", id="root-catch-all"),
    pytest.param("/zzz/y", None, "/p_root/zzz/y", id="root-catch-all-deep"),
    pytest.param("/p", None, "/p_pre", id="prefix-exact"),
    pytest.param("/p/x", None, "/p_pre/x", id="prefix"),
    pytest.param("/px", None, "/p_pre/x", id="prefix-is-a-string-prefix"),
    pytest.param("/p/x?a=1&b", None, "/p_pre/x?a=1&b", id="prefix-query-kept"),
    pytest.param("/p/longer/x", None, "/p_longer/x", id="longer-prefix-wins"),
    pytest.param("/p/longerx", None, "/p_longer/x", id="longer-prefix-wins-string-prefix"),
    pytest.param("/p/long", None, "/p_pre/long", id="shorter-prefix-when-longer-fails"),
    pytest.param("/p../x", None, "/p_pre/x", id="rest-leading-dot-dot-slash-dropped"),
    pytest.param("/p./y", None, "/p_pre/y", id="rest-leading-dot-slash-dropped"),
    pytest.param("/p.", None, "/p_pre", id="rest-dot-is-empty"),
    pytest.param("/p?", None, "/p_pre?", id="bare-question-mark-kept"),
    pytest.param("/p/cat%20and%20dog", None, "/p_pre/cat%20and%20dog", id="space-re-escaped"),
    pytest.param("/p/%7Euser", None, "/p_pre/~user", id="unreserved-escape-decoded"),
    pytest.param("/p/a%2fb", None, "/p_pre/a%2Fb", id="reserved-escape-kept-hex-upper"),
    pytest.param("/p/re/123", None, "/p_re", id="regex-beats-prefix"),
    pytest.param("/p/re/123/x", None, "/p_pre/re/123/x", id="regex-end-anchor"),
    pytest.param("/p/re/12a", None, "/p_pre/re/12a", id="regex-no-match-prefix"),
    pytest.param("/p/re/%31%32", None, "/p_re", id="regex-sees-normalized-path"),
    pytest.param("/x/p/re/1", None, "/p_root/x/p/re/1", id="regex-anchored-at-start"),
    pytest.param("/anch/12/more", None, "/p_anch/more", id="regex-no-implicit-end-anchor"),
    pytest.param("/rp/num/7", None, "/rp_num", id="regex-priority-highest"),
    pytest.param("/rp/abc/d", None, "/rp_word/d", id="regex-priority-middle"),
    pytest.param("/rp/", None, "/rp_top/", id="regex-priority-lowest"),
    pytest.param("/rq/special", None, "/rq_gen", id="regex-priority-beats-specificity"),
    pytest.param("/m1/a", None, "/p_multi/a", id="several-paths-first"),
    pytest.param("/m2/deeper/b", None, "/p_multi/b", id="several-paths-second"),
    pytest.param("/m3/9/c", None, "/p_multi/c", id="several-paths-regex"),
    pytest.param("/m2/other", None, "/p_root/m2/other", id="several-paths-none"),
    pytest.param("/CaSe/x", None, "/p_case/x", id="regex-case-sensitive-match"),
    pytest.param("/case/x", None, "/p_root/case/x", id="regex-case-sensitive-no-match"),
    pytest.param("/P/x", None, "/p_root/P/x", id="prefix-case-sensitive"),
    pytest.param("/hb/long/path", "hb.test", "/hb_host/long/path",
                 id="host-beats-longer-path"),
    pytest.param("/hb/long/path", "other.test", "/hb_meth", id="longer-path-without-host"),
])
def test_paths(paths_gw, target, host, want):
    r = hit(paths_gw.port, "GET", target, [("Host", host)] if host else [])
    assert_routed(r, want)


# --- strip_path, preserve_host, path normalization --------------------------------------------

@pytest.fixture(scope="module")
def strip_gw(echo, tmp_path_factory):
    conf = routes_conf(echo.port, [
        ("s_re_strip", {"paths": ["~/sre/(?<ver>v\\d+)/"], "strip_path": True}),
        ("s_re_keep", {"paths": ["~/srk/\\d+"], "strip_path": False}),
        ("s_pre_keep", {"paths": ["/spk"], "strip_path": False}),
        ("s_slash", {"paths": ["/ssl"]}, {"path": "/s_slash/"}),
        ("ph_yes", {"paths": ["/phy"], "preserve_host": True}),
        ("ph_no", {"paths": ["/phn"]}),
        ("norm_foo", {"paths": ["/foo/bar"]}),
        ("norm_hello", {"paths": ["/hello"]}),
    ])
    g = start(tmp_path_factory, "strip", conf)
    yield g
    g.stop()


@pytest.mark.parametrize("target,want", [
    pytest.param("/sre/v1/items", "/s_re_strip/items", id="regex-strip-true"),
    pytest.param("/sre/v22/", "/s_re_strip/", id="regex-strip-true-rest-empty"),
    pytest.param("/srk/42/x", "/s_re_keep/srk/42/x", id="regex-strip-false"),
    pytest.param("/spk/a", "/s_pre_keep/spk/a", id="prefix-strip-false"),
    pytest.param("/spk", "/s_pre_keep/spk", id="prefix-strip-false-exact"),
    pytest.param("/spk/./a", "/s_pre_keep/spk/a", id="strip-false-sends-normalized-path"),
    pytest.param("/ssl/a", "/s_slash/a", id="service-path-trailing-slash"),
    pytest.param("/ssl", "/s_slash", id="service-path-trailing-slash-rest-empty"),
    pytest.param("/ssl/", "/s_slash/", id="service-path-trailing-slash-request-slash"),
    pytest.param("/ssla", "/s_slash/a", id="service-path-trailing-slash-rest-no-slash"),
    pytest.param("/foo/a/../bar", "/norm_foo", id="normalize-dot-dot"),
    pytest.param("/foo//bar", "/norm_foo", id="normalize-double-slash"),
    pytest.param("/foo/./bar/baz", "/norm_foo/baz", id="normalize-dot"),
    pytest.param("/h%65llo", "/norm_hello", id="normalize-percent-unreserved"),
    pytest.param("/%68ello/w", "/norm_hello/w", id="normalize-percent-first-char"),
    pytest.param("/foo/bar/../../hello/x", "/norm_hello/x", id="normalize-up-two"),
    pytest.param("/foo/./bar?x=/../", "/norm_foo?x=/../", id="normalize-leaves-query"),
    pytest.param("/foo/bar/baz/..", "/norm_foo/", id="normalize-trailing-dot-dot"),
    pytest.param("/../hello", "/norm_hello", id="normalize-dot-dot-above-root"),
    pytest.param("/foo/a/%2E%2E/bar", "/norm_foo", id="normalize-decoded-dot-segment"),
    pytest.param("/foo%2Fbar", 404, id="reserved-escape-kept"),
    pytest.param("/foo%2fbar", 404, id="reserved-escape-kept-lowercase-hex"),
])
def test_strip_path_and_normalization(strip_gw, target, want):
    assert_routed(hit(strip_gw.port, "GET", target), want)


@pytest.mark.parametrize("target,sent_host,want_path,want_host", [
    pytest.param("/phy/a", "keep.test:99", "/ph_yes/a", "keep.test:99", id="preserve-host-true"),
    pytest.param("/phy/a", "Keep.Test", "/ph_yes/a", "Keep.Test", id="preserve-host-verbatim"),
    pytest.param("/phn/a", "keep.test:99", "/ph_no/a", None, id="preserve-host-false"),
])
def test_preserve_host(strip_gw, echo, target, sent_host, want_path, want_host):
    r = hit(strip_gw.port, "GET", target, [("Host", sent_host)])
    assert_routed(r, want_path)
    assert r.json()["headers"]["host"] == (want_host or f"127.0.0.1:{echo.port}")


@pytest.mark.parametrize("target,want_path,want_prefix", [
    pytest.param("/sre/v1/items", "/s_re_strip/items", "/sre/v1/", id="regex-strip"),
    pytest.param("/srk/42/x", "/s_re_keep/srk/42/x", None, id="regex-no-strip"),
    pytest.param("/spk/a", "/s_pre_keep/spk/a", None, id="prefix-no-strip"),
    pytest.param("/h%65llo/x", "/norm_hello/x", "/hello", id="prefix-of-normalized-path"),
])
def test_forwarded_path_and_prefix(strip_gw, target, want_path, want_prefix):
    r = hit(strip_gw.port, "GET", target)
    assert_routed(r, want_path)
    h = r.json()["headers"]
    assert h["x-forwarded-path"] == target  # raw, as sent
    assert h.get("x-forwarded-prefix") == want_prefix


def test_forwarded_host_is_lower_cased_without_port(strip_gw):
    r = hit(strip_gw.port, "GET", "/phy/a", [("Host", "Keep.Test:99")])
    assert_routed(r, "/ph_yes/a")
    assert r.json()["headers"]["x-forwarded-host"] == "keep.test"
    assert r.json()["headers"]["host"] == "Keep.Test:99"
