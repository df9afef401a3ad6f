import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("TOLLGATE_BUILD", "build")


@pytest.fixture
def dp_check(tmp_path):
    """Runs `tollgate-dp --check` on a document given as text; returns (rc, stdout, stderr)."""

    def run(text, name="kong.yml"):
        path = tmp_path / name
        path.write_text(text)
        p = subprocess.run([str(BUILD / "tollgate-dp"), "--check", str(path)],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    return run


# ---- PostgreSQL and the control plane (pgserver.py, cpserver.py) ----

from cpserver import ControlPlane, admin_supported, bootstrap  # noqa: E402
from pgserver import PgServer  # noqa: E402


def _require_admin():
    if not admin_supported():
        pytest.skip("build/tollgate-cp has no Admin API yet (--admin-listen)")


@pytest.fixture(scope="session")
def pg():
    """One PostgreSQL cluster for the whole session; pg.create_db() gives a fresh database."""
    server = PgServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def pg_private():
    """A PostgreSQL cluster of the test's own, for tests that stop or restart it."""
    server = PgServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def cp(pg):
    """A started control plane on a fresh bootstrapped database, shared by a module's tests."""
    _require_admin()
    dsn = pg.create_db()
    bootstrap(dsn)
    plane = ControlPlane(dsn).start()
    yield plane
    plane.stop()


@pytest.fixture
def cp_factory(pg):
    """make(dsn=None, token=None, args=(), env=None, start=True) -> ControlPlane. Without dsn
    the control plane gets a fresh bootstrapped database; with one it is used as it is. All are
    stopped when the test ends."""
    _require_admin()
    planes = []

    def make(dsn=None, token=None, args=(), env=None, start=True):
        if dsn is None:
            dsn = pg.create_db()
            bootstrap(dsn)
        plane = ControlPlane(dsn, token=token, args=args, env=env)
        planes.append(plane)
        return plane.start() if start else plane

    yield make
    for plane in planes:
        plane.stop()
