"""tollgate-cp options as kong.conf keys: a --conf file, TOLLGATE_* variables over the file,
flags over both; unknown kong.conf keys in the file are skipped."""
import subprocess
import time

import requests

from cpserver import CP_BIN, _env, _free_port, bootstrap


def start(args, env=None):
    p = subprocess.Popen([str(CP_BIN), *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=_env(env), text=True)
    return p


def answers(port, headers=None, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            return requests.get(f"http://127.0.0.1:{port}/", headers=headers or {}, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.05)
    return None


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()


def test_conf_file_then_environment_then_flags(pg, tmp_path):
    dsn = pg.create_db()
    bootstrap(dsn)
    file_port, env_port = _free_port(), _free_port()
    conf = tmp_path / "kong.conf"
    conf.write_text(f"# a kong.conf with keys the control plane does not use\n"
                    f"pg_dsn = {dsn}\n"
                    f"admin_listen = 127.0.0.1:{file_port}   # loopback\n"
                    f"admin_token = from-file\n"
                    f"proxy_listen = 0.0.0.0:8000\n"
                    f"nginx_worker_processes = auto\n")
    p = start(["--conf", str(conf)])
    try:
        r = answers(file_port)
        assert r is not None and r.status_code == 401
        assert answers(file_port, {"Kong-Admin-Token": "from-file"}).status_code == 200
    finally:
        stop(p)
    # the environment wins over the file, a flag over the environment
    p = start(["--conf", str(conf), "--admin-token", "from-flag"],
              env={"TOLLGATE_ADMIN_LISTEN": f"127.0.0.1:{env_port}",
                   "TOLLGATE_ADMIN_TOKEN": "from-env"})
    try:
        assert answers(env_port, {"Kong-Admin-Token": "from-flag"}).status_code == 200
        assert answers(env_port, {"Kong-Admin-Token": "from-env"}).status_code == 401
    finally:
        stop(p)


def test_bad_option_value_refused(pg, tmp_path):
    conf = tmp_path / "kong.conf"
    conf.write_text("admin_listen = nowhere\n")
    p = subprocess.run([str(CP_BIN), "--conf", str(conf), "--pg-dsn", pg.create_db()],
                       capture_output=True, text=True, timeout=30, env=_env(None))
    assert p.returncode == 2
    assert "admin_listen" in p.stderr and "ADDR:PORT" in p.stderr
    p = subprocess.run([str(CP_BIN), "--conf", str(tmp_path / "missing.conf")],
                       capture_output=True, text=True, timeout=30, env=_env(None))
    assert p.returncode == 2 and "cannot read" in p.stderr
