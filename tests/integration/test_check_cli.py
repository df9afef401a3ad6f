"""`tollgate-dp --check FILE`, as an operator runs it: exit codes, error lines with document
paths and Kong's messages, entity counts and a stable hash."""
import json
import re

import pytest

from conftest import ROOT


def test_example_config_is_valid(dp_check):
    rc, out, err = dp_check((ROOT / "examples" / "kong.yml").read_text())
    assert rc == 0, err
    assert "services: 3" in out
    assert "routes: 3" in out
    assert re.search(r"^hash: [0-9a-f]{64}$", out, re.M)


def test_errors_carry_document_paths(dp_check):
    doc = """
_format_version: "3.0"
services:
  - name: a
    host: a.test
  - name: b
    host: b.test
  - name: c
    host: c.test
    routes:
      - paths: [/ok, "bad"]
"""
    rc, out, err = dp_check(doc)
    assert rc == 1
    assert ("services[2].routes[0].paths[1]: should start with: / (fixed path) or ~/ "
            "(regex path)") in err


@pytest.mark.parametrize("doc,line", [
    ('_format_version: "3.0"\nservices:\n  - name: s\n', "services[0].host: required field missing"),
    ('_format_version: "3.0"\nservices:\n  - host: h\n    port: 70000\n',
     "services[0].port: value should be between 0 and 65535"),
    ('_format_version: "3.0"\nroutes:\n  - name: r\n',
     "routes[0]: must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when "
     "'protocols' is 'https'"),
    ('_format_version: "3.0"\nplugins:\n  - name: no-such-plugin\n',
     "plugins[0].name: plugin 'no-such-plugin' not enabled; add it to the 'plugins' "
     "configuration property"),
    ('services: []\n', "_format_version: required field missing"),
    ('_format_version: "3.0"\nconsumers:\n  - username: a\n  - username: a\n',
     "consumers[1]: uniqueness violation: 'consumers' entity with username set to 'a' "
     "already declared"),
    ('_format_version: "3.0"\nplugins:\n  - name: key-auth\n    service: ghost\n',
     "plugins[0].service: invalid reference 'service: ghost' (no such entry in 'services')"),
])
def test_kong_messages(dp_check, doc, line):
    rc, out, err = dp_check(doc)
    assert rc == 1
    assert line in err.splitlines()


@pytest.mark.parametrize("text,name,where", [
    ("_format_version: '3.0'\nservices: [\n", "bad.yml", r"bad\.yml:\d+:\d+: "),
    ('{"_format_version": "3.0", "services": [}', "bad.json", r"bad\.json:1:\d+: "),
    ("\x00\x01\x02", "bin.yml", r"bin\.yml"),
])
def test_malformed_input_gives_position_not_crash(dp_check, text, name, where):
    rc, out, err = dp_check(text, name)
    assert rc == 1
    assert re.search(where, err), err


def test_same_config_as_yaml_and_json_has_same_hash(dp_check):
    yml = """
_format_version: "3.0"
services:
  - name: s
    url: https://api.test/v1
    routes:
      - name: r
        paths: [/v1]
consumers:
  - username: u
    keyauth_credentials:
      - key: secret
"""
    js = {"consumers": [{"keyauth_credentials": [{"key": "secret"}], "username": "u"}],
          "services": [{"routes": [{"paths": ["/v1"], "name": "r"}],
                        "url": "https://api.test/v1", "name": "s"}],
          "_format_version": "3.0"}
    rc1, out1, _ = dp_check(yml, "a.yml")
    rc2, out2, _ = dp_check(json.dumps(js), "b.json")
    assert rc1 == 0 and rc2 == 0
    h1 = re.search(r"^hash: (\w+)$", out1, re.M).group(1)
    h2 = re.search(r"^hash: (\w+)$", out2, re.M).group(1)
    assert h1 == h2
    rc3, out3, _ = dp_check(yml.replace("/v1]", "/v2]"), "c.yml")
    assert re.search(r"^hash: (\w+)$", out3, re.M).group(1) != h1


def test_missing_file(dp_check, tmp_path):
    import subprocess
    from conftest import BUILD
    p = subprocess.run([str(BUILD / "tollgate-dp"), "--check", str(tmp_path / "nope.yml")],
                       capture_output=True, text=True)
    assert p.returncode == 1
    assert "cannot read" in p.stderr
