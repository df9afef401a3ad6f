"""Kong's scope precedence (plugins_iterator.lua): when one plugin is configured at several
levels, the most specific instance for the request's route, service and authenticated
consumer wins: route+service+consumer, route+consumer, service+consumer, route+service,
consumer, route, service, global. Each level is a request-termination with its own message;
the matrix removes the most specific level one at a time."""
import pytest
import requests

from harness import Echo, Gateway

LEVELS = ["route+service+consumer", "route+consumer", "service+consumer", "route+service",
          "consumer", "route", "service", "global"]


def instance(level):
    scope = []
    if "route" in level:
        scope.append("route: r1")
    if "service" in level:
        scope.append("service: s1")
    if "consumer" in level:
        scope.append("consumer: alice")
    lines = "\n".join("    " + s for s in scope)
    return (f"  - name: request-termination\n{lines}\n"
            f"    config: {{status_code: 418, message: \"{level}\"}}\n")


@pytest.mark.parametrize("first", range(len(LEVELS)))
def test_scope_precedence_matrix(tmp_path, first):
    echo = Echo("prec")
    plugins = "".join(instance(level) for level in LEVELS[first:])
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{{key: alice-key}}]
  - username: bob
    keyauth_credentials: [{{key: bob-key}}]
services:
  - name: s1
    url: http://127.0.0.1:{echo.port}
    plugins:
      - name: key-auth
    routes:
      - name: r1
        paths: [/r1]
      - name: r2
        paths: [/r2]
plugins:
{plugins}""")
    try:
        r = requests.get(g.url + "/r1", headers={"apikey": "alice-key"})
        assert r.status_code == 418 and r.json() == {"message": LEVELS[first]}
        # bob is not alice: consumer-scoped instances never apply to him
        want_bob = next(lv for lv in LEVELS[first:] if "consumer" not in lv)
        r = requests.get(g.url + "/r1", headers={"apikey": "bob-key"})
        assert r.json() == {"message": want_bob}
        # on the other route only service- and consumer-level instances can apply
        want_r2 = next(lv for lv in LEVELS[first:] if "route" not in lv)
        r = requests.get(g.url + "/r2", headers={"apikey": "alice-key"})
        assert r.json() == {"message": want_r2}
    finally:
        g.stop()
        echo.stop()


def test_disabled_instance_does_not_shadow_a_less_specific_one(tmp_path):
    echo = Echo("prec2")
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - name: s1
    url: http://127.0.0.1:{echo.port}
    routes:
      - name: r1
        paths: [/r1]
        plugins:
          - name: request-termination
            enabled: false
            config: {{status_code: 418, message: route}}
plugins:
  - name: request-termination
    config: {{status_code: 418, message: global}}
""")
    try:
        assert requests.get(g.url + "/r1").json() == {"message": "global"}
    finally:
        g.stop()
        echo.stop()
