"""PostgreSQL going away under a running control plane: while it is down the Admin API answers
503 with a JSON message (no hang, no crash); once it is back the control plane works again
without a restart, and every write it reported as 201 is really stored."""
import concurrent.futures
import threading
import time

import requests

from cpserver import ControlPlane, bootstrap
from test_admin_common import Api, expect, list_all, uniq


def _start(pg_private):
    dsn = pg_private.create_db()
    bootstrap(dsn)
    plane = ControlPlane(dsn).start()
    return plane, Api(plane.url)


def _until(fn, timeout):
    deadline = time.time() + timeout
    while True:
        r = fn()
        if r is not None or time.time() > deadline:
            return r
        time.sleep(0.1)


def test_pg_down_gives_503_then_recovers(pg_private, cp_factory):  # cp_factory: skip w/o Admin API
    plane, api = _start(pg_private)
    try:
        before = api.service()
        pg_private.stop()
        t0 = time.time()
        for method, path, body in (("GET", "/services", None),
                                   ("GET", f"/services/{before['id']}", None),
                                   ("POST", "/services", {"host": "down.test"}),
                                   ("PATCH", f"/services/{before['id']}", {"port": 1}),
                                   ("DELETE", f"/services/{before['id']}", None),
                                   ("GET", "/config", None)):
            r = api.request(method, path, json=body, timeout=20)
            assert r.status_code == 503, f"{method} {path}: {r.status_code} {r.text[:300]}"
            msg = r.json().get("message")
            assert isinstance(msg, str) and msg, r.text
        assert time.time() - t0 < 30, "answers while the database is down must not hang"
        assert plane.running(), plane.log()[-2000:]
        status = api.get("/status", timeout=20)
        if status.status_code == 200:
            assert status.json()["database"]["reachable"] is False

        pg_private.start()
        statuses = []

        def ok():
            try:
                r = api.post("/services", json={"name": uniq("back"), "host": "back.test"},
                             timeout=10)
            except requests.RequestException as e:
                statuses.append(repr(e))
                return None
            statuses.append(r.status_code)
            return r if r.status_code == 201 else None

        r = _until(ok, 5)
        assert r is not None, f"no recovery within 5 s of PostgreSQL accepting again: {statuses}"
        assert all(s in (201, 503) for s in statuses), statuses
        back = r.json()
        expect(api.get(f"/services/{back['id']}"), 200, back)
        expect(api.get(f"/services/{before['id']}"), 200, before)
        assert expect(api.get("/status"), 200)["database"] == {"reachable": True}
    finally:
        plane.stop()


def test_writes_reported_201_survive_a_restart(pg_private, cp_factory):
    plane, api = _start(pg_private)
    try:
        stop = threading.Event()
        ok, other = [], []
        lock = threading.Lock()

        def writer(n):
            c = api.fresh()
            i = 0
            while not stop.is_set():
                i += 1
                name = f"w{n}-{i}-{uniq('x')}"
                try:
                    r = c.post("/consumers", json={"username": name}, timeout=20)
                except requests.RequestException:
                    continue
                with lock:
                    (ok if r.status_code == 201 else other).append(
                        (r.status_code, name, r.text[:200]))
            c.close()

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(writer, n) for n in range(4)]
            time.sleep(0.5)
            pg_private.restart()
            time.sleep(0.7)
            stop.set()
            for f in futures:
                f.result()
        assert plane.running(), plane.log()[-2000:]
        assert all(o[0] == 503 for o in other), other[:5]
        assert ok, "no write succeeded"
        # after the restart every acknowledged write is there
        def ready():
            r = api.get("/consumers?size=1")
            return r if r.status_code == 200 else None
        assert _until(ready, 20) is not None
        stored = {e["username"] for e in list_all(api, "/consumers")}
        missing = [name for _, name, _ in ok if name not in stored]
        assert not missing, f"{len(missing)} of {len(ok)} writes answered 201 are gone"
        # and the ones that got 503 are not half-written (absent or complete)
        for status, name, _ in other:
            r = api.get(f"/consumers/{name}")
            assert r.status_code in (200, 404)
    finally:
        plane.stop()


def test_start_with_database_down_then_up(pg_private, cp_factory):
    dsn = pg_private.create_db()
    bootstrap(dsn)
    pg_private.stop()
    plane = ControlPlane(dsn)
    try:
        try:
            plane.start(timeout=15)
        except RuntimeError:
            # refusing to start without a database is acceptable; nothing more to check
            return
        api = Api(plane.url)
        r = api.get("/services", timeout=20)
        assert r.status_code == 503 and r.json().get("message"), r.text
        pg_private.start()

        def ok():
            r = api.get("/services", timeout=10)
            return r if r.status_code == 200 else None
        assert _until(ok, 20) is not None
    finally:
        plane.stop()


def test_pg_stop_during_config_import_is_all_or_nothing(pg_private, cp_factory):
    """PostgreSQL stops at some point of a large POST /config: afterwards the old or the new
    configuration is there, whole; a 201 means the new one."""
    plane, api = _start(pg_private)
    old = {"_format_version": "3.0",
           "services": [{"name": f"old-{i}", "host": "old.test"} for i in range(50)]}
    new = {"_format_version": "3.0",
           "services": [{"name": f"new-{i}", "host": "new.test",
                         "routes": [{"name": f"new-r-{i}", "paths": [f"/n{i}"]}]}
                        for i in range(3000)]}
    seen = []
    try:
        for delay in (0.1, 0.4):
            def ready():
                r = api.post("/config", json=old)
                return r if r.status_code == 201 else None
            assert _until(ready, 10) is not None
            result = {}

            def post():
                c = api.fresh()
                try:
                    result["r"] = c.post("/config", json=new, timeout=60)
                except requests.RequestException as e:
                    result["e"] = e
                c.close()

            t = threading.Thread(target=post)
            t.start()
            time.sleep(delay)
            pg_private.stop()
            t.join(60)
            pg_private.start()
            assert "r" in result, result
            status = result["r"].status_code
            assert status in (201, 503), result["r"].text[:300]
            seen.append(status)

            def listed():
                r = api.get("/services?size=1")
                return r if r.status_code == 200 else None
            assert _until(listed, 10) is not None
            services = list_all(api, "/services")
            names = {e["name"].split("-")[0] for e in services}
            state = (names, len(services), len(list_all(api, "/routes")))
            if status == 201:
                assert state == ({"new"}, 3000, 3000), state
            else:
                assert state in (({"old"}, 50, 0), ({"new"}, 3000, 3000)), state
        print("statuses by delay:", seen)
    finally:
        plane.stop()
