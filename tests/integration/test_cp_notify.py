"""Every committed Admin API change is announced on the tollgate_config channel with the
config version, after the commit: a listener that reads on notification sees the change.
Concurrent writes may share one notification, but the last one always carries a version at
least as new as the last change."""
import concurrent.futures

import requests

from pgserver import PgConn, psql


def version(dsn):
    return int(psql(dsn, "SELECT last_value FROM tollgate_config_version").strip())


def drain(listener):
    """Every notification that arrives until none has come for a second (notifications()
    hands over what it has read so far, one message at least)."""
    seen = []
    while True:
        got = listener.notifications(timeout=1.0)
        if not got:
            return seen
        seen += got


def test_write_notifies_after_commit(cp, pg):
    listener = PgConn(cp.dsn)
    listener.query("LISTEN tollgate_config")
    r = requests.post(cp.url + "/consumers", json={"username": "notified-1"}, timeout=10)
    assert r.status_code == 201, r.text
    got = listener.notifications(timeout=5) + drain(listener)
    assert got, "no NOTIFY after a committed create"
    assert got[-1][0] == "tollgate_config"
    assert int(got[-1][1]) >= version(cp.dsn)  # carries the current version
    # what a listener reads on that notification includes the change
    out = psql(cp.dsn, "SELECT count(*) FROM consumers WHERE username = 'notified-1'")
    assert out.strip() == "1"


def test_refused_write_does_not_notify(cp, pg):
    requests.post(cp.url + "/consumers", json={"username": "notified-dup"}, timeout=10)
    listener = PgConn(cp.dsn)
    listener.query("LISTEN tollgate_config")
    listener.notifications(timeout=1)  # drain
    r = requests.post(cp.url + "/consumers", json={"username": "notified-dup"}, timeout=10)
    assert r.status_code == 409
    r = requests.post(cp.url + "/services", json={"host": 5}, timeout=10)
    assert r.status_code == 400
    assert listener.notifications(timeout=1.5) == []


def test_concurrent_writes_end_with_the_latest_version(cp, pg):
    listener = PgConn(cp.dsn)
    listener.query("LISTEN tollgate_config")
    listener.notifications(timeout=0.5)

    def create(i):
        return requests.post(cp.url + "/consumers", json={"username": f"burst-{i}"},
                             timeout=10).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(create, range(64)))
    assert codes == [201] * 64
    last = version(cp.dsn)
    seen = drain(listener)
    assert seen and int(seen[-1][1]) >= last, (seen[-3:], last)
    # coalesced: fewer announcements than changes is fine, never more than one per change
    assert len(seen) <= 64
