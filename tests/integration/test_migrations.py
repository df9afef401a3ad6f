"""`tollgate-cp migrations` against a real PostgreSQL, the control plane's schema check at
start-up, and what migrations/001_core promises the Admin API: the config-version trigger with
its NOTIFY on commit, and the foreign keys' cascades and restrictions."""
import os
import pty
import socket
import subprocess
import threading
import uuid

import pytest

from cpserver import CP_BIN, ControlPlane, admin_supported, bootstrap, migrations
from pgserver import PgConn, PgError, psql

TABLES = ("certificates", "ca_certificates", "services", "routes", "consumers", "upstreams",
          "targets", "snis", "plugins", "keyauth_credentials", "basicauth_credentials",
          "jwt_secrets", "hmacauth_credentials", "acls", "key_sets", "keys")
# every migration of this release, each with its up and finish steps done
ALL_DONE = {"001_core": (True, True), "002_keys": (True, True)}

needs_admin = pytest.mark.skipif(not admin_supported(),
                                 reason="build/tollgate-cp has no Admin API yet (--admin-listen)")


def tables(dsn):
    out = psql(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return set(out.split())


def meta(dsn):
    """{migration: (up_at is set, finish_at is set)}"""
    out = psql(dsn, "SELECT migration, up_at IS NOT NULL, finish_at IS NOT NULL"
                    " FROM tollgate_schema_meta")
    rows = [line.split("|") for line in out.split()]
    return {name: (up == "t", fin == "t") for name, up, fin in rows}


@pytest.fixture
def db(pg):
    return pg.create_db()


@pytest.fixture
def booted(pg):
    dsn = pg.create_db()
    bootstrap(dsn)
    return dsn


# ---- the command ----

def test_bootstrap_creates_everything(db):
    p = migrations(db, "bootstrap")
    assert p.returncode == 0, p.stderr
    assert "Bootstrapping database..." in p.stdout
    assert "tollgate migrated up to: 001_core (executed)" in p.stdout
    assert p.stdout.rstrip().endswith("Database is up-to-date")
    assert set(TABLES) | {"tollgate_schema_meta"} <= tables(db)
    assert meta(db) == ALL_DONE
    assert psql(db, "SELECT cp_version FROM tollgate_schema_meta").strip() != ""


def test_bootstrap_twice_changes_nothing(booted):
    before = psql(booted, "SELECT up_at, finish_at FROM tollgate_schema_meta")
    p = migrations(booted, "bootstrap")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "Database already bootstrapped"
    assert psql(booted, "SELECT up_at, finish_at FROM tollgate_schema_meta") == before


def test_concurrent_bootstraps_apply_once(db):
    """Four nodes bootstrapping at once: the advisory lock lets one do it; the others wait and
    find it done."""
    procs = [subprocess.Popen([str(CP_BIN), "migrations", "bootstrap", "--pg-dsn", db],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outs
    assert sum("Bootstrapping database..." in out for out, _ in outs) == 1, outs
    assert sum("Database already bootstrapped" in out for out, _ in outs) == 3, outs
    assert meta(db) == ALL_DONE


def test_list_needs_bootstrap(db):
    p = migrations(db, "list")
    assert p.returncode == 3
    assert "tollgate-cp migrations bootstrap" in p.stdout


def test_list_current(booted):
    p = migrations(booted, "list")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Executed migrations:\n  tollgate: 001_core" in p.stdout
    assert "Database is up-to-date" in p.stdout


def test_up_and_finish_need_bootstrap(db):
    for cmd in ("up", "finish"):
        p = migrations(db, cmd)
        assert p.returncode == 1
        assert "tollgate-cp migrations bootstrap" in p.stderr
    assert "tollgate_schema_meta" not in tables(db)


def test_up_and_finish_when_current(booted):
    p = migrations(booted, "up")
    assert (p.returncode, p.stdout.strip()) == (0, "Database is already up-to-date")
    p = migrations(booted, "finish")
    assert (p.returncode, p.stdout.strip()) == (0, "No pending migrations to finish")


def test_pending_finish(booted):
    """001_core as if its up step had run but not its finish step."""
    psql(booted, "UPDATE tollgate_schema_meta SET finish_at = NULL")
    p = migrations(booted, "list")
    assert p.returncode == 4
    assert "Pending migrations" in p.stdout and "001_core" in p.stdout
    assert "tollgate-cp migrations finish" in p.stdout
    p = migrations(booted, "up")  # nothing new: not an error, but the finish is mentioned
    assert p.returncode == 0
    assert "run 'tollgate-cp migrations finish' when ready" in p.stdout
    p = migrations(booted, "finish")
    assert p.returncode == 0, p.stderr
    assert "tollgate migrated up to: 001_core (executed)" in p.stdout
    assert meta(booted) == ALL_DONE
    assert migrations(booted, "list").returncode == 0


def test_up_runs_new_migrations(db):
    """A database whose meta table knows only some other, unfinished migration: 001_core is
    new to it, and `up` applies it."""
    bootstrap(db)
    migrations(db, "reset", "--yes")
    psql(db, "CREATE TABLE tollgate_schema_meta (migration text PRIMARY KEY,"
             " up_at timestamptz NOT NULL, finish_at timestamptz, cp_version text NOT NULL,"
             " objects text[] NOT NULL DEFAULT '{}');"
             "INSERT INTO tollgate_schema_meta VALUES ('000_other', now(), NULL, 'x')")
    p = migrations(db, "list")
    assert p.returncode == 5
    assert "New migrations available" in p.stdout and "001_core" in p.stdout
    p = migrations(db, "up")
    assert p.returncode == 0, p.stderr
    assert "tollgate migrated up to: 001_core (executed)" in p.stdout
    assert set(TABLES) <= tables(db)
    assert meta(db)["001_core"] == (True, True)
    assert meta(db)["002_keys"] == (True, True)


def test_list_unknown_migration(booted):
    psql(booted, "INSERT INTO tollgate_schema_meta VALUES ('999_future', now(), now(), '9.9.9')")
    p = migrations(booted, "list")
    assert p.returncode == 6
    assert "Unknown migrations" in p.stdout and "999_future" in p.stdout
    assert "upgrade tollgate-cp" in p.stdout


def test_reset(pg):
    dsn = pg.create_db()
    psql(dsn, "CREATE TABLE not_ours (x int); INSERT INTO not_ours VALUES (1)")
    bootstrap(dsn)
    # without --yes and without a terminal, reset refuses
    p = migrations(dsn, "reset", input="y\n")
    assert p.returncode == 1
    assert "--yes" in p.stderr
    assert "services" in tables(dsn)

    p = migrations(dsn, "reset", "--yes")
    assert p.returncode == 0, p.stderr
    assert "Database successfully reset" in p.stdout
    assert tables(dsn) == {"not_ours"}
    assert psql(dsn, "SELECT count(*) FROM pg_class WHERE relname = 'tollgate_config_version'"
                     " UNION ALL SELECT count(*) FROM pg_proc"
                     " WHERE proname = 'tollgate_config_changed'").split() == ["0", "0"]
    assert psql(dsn, "SELECT x FROM not_ours").strip() == "1"

    p = migrations(dsn, "reset", "-y")
    assert p.returncode == 1
    assert "Database not bootstrapped, nothing to reset" in p.stdout
    assert migrations(dsn, "list").returncode == 3

    p = migrations(dsn, "bootstrap")
    assert p.returncode == 0, p.stderr
    assert "001_core (executed)" in p.stdout
    assert migrations(dsn, "list").returncode == 0


def reset_on_tty(dsn, answers):
    """`migrations reset` with stdin on a terminal, typing answers."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([str(CP_BIN), "migrations", "reset", "--pg-dsn", dsn], stdin=slave,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(master, answers.encode())
        out, err = p.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    return p.returncode, out, err


def test_reset_asks_on_a_terminal(booted):
    rc, out, _ = reset_on_tty(booted, "maybe\nn\n")
    assert rc == 0
    assert out.count("Are you sure? This operation is irreversible. [Y/n]") == 2
    assert "cancelled" in out
    assert "services" in tables(booted)
    rc, out, err = reset_on_tty(booted, "y\n")
    assert rc == 0, err
    assert "Database successfully reset" in out
    assert tables(booted) == set()


def test_failed_step_records_nothing(db):
    """A step and its meta row commit together: a failing bootstrap leaves no trace of the
    step, and once the cause is gone, bootstrap works."""
    psql(db, "CREATE TABLE services (x int)")
    p = migrations(db, "bootstrap")
    assert p.returncode == 1
    assert "migration 001_core (up) failed" in p.stderr
    assert 'relation "services" already exists' in p.stderr
    assert tables(db) == {"services", "tollgate_schema_meta"}
    assert migrations(db, "list").returncode == 3
    psql(db, "DROP TABLE services")
    p = migrations(db, "bootstrap")
    assert p.returncode == 0, p.stderr
    assert migrations(db, "list").returncode == 0


def test_reset_drops_unknown_migrations_objects(booted):
    """What a newer binary's migration created is recorded in the meta table, so an older
    binary's reset still drops it."""
    psql(booted, "CREATE TABLE future_t (x int);"
                 "INSERT INTO tollgate_schema_meta (migration, up_at, finish_at, cp_version,"
                 " objects) VALUES ('999_future', now(), now(), '9.9.9',"
                 " '{TABLE:public.future_t}')")
    assert migrations(booted, "reset", "--yes").returncode == 0
    assert tables(booted) == set()


def test_usage_and_connection_errors(pg, db):
    p = migrations(db, "sideways")
    assert p.returncode == 2
    assert "usage" in p.stderr
    p = migrations(db, "list", "--bogus")
    assert p.returncode == 2
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    stopped = f"host=127.0.0.1 port={closed} dbname=x user=x"
    p = migrations(stopped, "list")
    assert p.returncode == 1
    assert "cannot connect to PostgreSQL" in p.stderr


# ---- the control plane's check at start-up ----

@needs_admin
def test_cp_refuses_database_not_bootstrapped(db):
    plane = ControlPlane(db)
    with pytest.raises(RuntimeError) as e:
        plane.start()
    assert "tollgate-cp migrations bootstrap" in str(e.value)
    assert plane.proc.returncode != 0


@needs_admin
def test_cp_refuses_pending_up(db):
    bootstrap(db)
    psql(db, "DELETE FROM tollgate_schema_meta WHERE migration = '001_core';"
             "INSERT INTO tollgate_schema_meta VALUES ('000_other', now(), NULL, 'x')")
    plane = ControlPlane(db)
    with pytest.raises(RuntimeError) as e:
        plane.start()
    assert "tollgate-cp migrations up" in str(e.value)
    assert "001_core" in str(e.value)


@needs_admin
def test_cp_refuses_database_ahead(booted):
    psql(booted, "INSERT INTO tollgate_schema_meta VALUES ('999_future', now(), now(), '9.9.9')")
    plane = ControlPlane(booted)
    with pytest.raises(RuntimeError) as e:
        plane.start()
    assert "999_future" in str(e.value)
    assert "upgrade tollgate-cp" in str(e.value)


@needs_admin
def test_cp_starts_with_pending_finish_and_warns(booted, cp_factory):
    """A rolling upgrade: after `up`, a new node starts before `finish` (Kong's rule); an old
    node starts while a newer migration is up but not finished."""
    psql(booted, "UPDATE tollgate_schema_meta SET finish_at = NULL;"
                 "INSERT INTO tollgate_schema_meta VALUES ('999_future', now(), NULL, '9.9.9')")
    plane = cp_factory(booted)
    assert plane.running()
    assert "tollgate-cp migrations finish" in plane.log()


@needs_admin
def test_cp_starts_on_bootstrapped_database(cp_factory):
    plane = cp_factory()
    assert plane.running()


# ---- what 001_core promises the Admin API ----

def version(conn):
    rows = conn.query("SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
                      " FROM tollgate_config_version")
    return int(rows[0][0])


def my_version(conn):
    """The version this session's last change got."""
    return int(conn.query("SELECT currval('tollgate_config_version')")[0][0])


def insert_service(conn, name=None):
    sid = str(uuid.uuid4())
    conn.query("INSERT INTO services (id, created_at, name, doc) VALUES"
               f" ('{sid}', 1, {repr(name) if name else 'NULL'}, '{{}}')")
    return sid


def test_insert_bumps_version_and_notifies_after_commit(booted):
    with PgConn(booted) as listener, PgConn(booted) as writer:
        listener.query("LISTEN tollgate_config")
        v0 = version(writer)
        writer.query("BEGIN")
        insert_service(writer, "a")
        v1 = my_version(writer)
        assert v1 > v0
        assert listener.notifications(timeout=0.5) == []  # not before COMMIT
        writer.query("COMMIT")
        got = listener.notifications(timeout=5)
        assert got == [("tollgate_config", str(v1))]


def test_one_notification_per_statement(booted):
    """A statement trigger: a multi-row statement bumps the version once."""
    with PgConn(booted) as listener, PgConn(booted) as writer:
        listener.query("LISTEN tollgate_config")
        v0 = version(writer)
        writer.query("INSERT INTO consumers (id, created_at, username, doc)"
                     " SELECT gen_random_uuid(), 1, 'u' || i, '{}' FROM generate_series(1, 5) i")
        assert version(writer) == v0 + 1
        assert listener.notifications(timeout=5) == [("tollgate_config", str(v0 + 1))]


def test_rollback_notifies_nothing(booted):
    with PgConn(booted) as listener, PgConn(booted) as writer:
        listener.query("LISTEN tollgate_config")
        writer.query("BEGIN")
        insert_service(writer)
        writer.query("ROLLBACK")
        assert listener.notifications(timeout=0.5) == []
        assert writer.query("SELECT count(*) FROM services") == [("0",)]
        # and the next committed change still arrives
        insert_service(writer)
        assert len(listener.notifications(timeout=5)) == 1


@pytest.mark.parametrize("sql", [
    "UPDATE services SET tags = '{t}'",
    "DELETE FROM services",
    "TRUNCATE services CASCADE",
])
def test_update_delete_truncate_notify(booted, sql):
    with PgConn(booted) as listener, PgConn(booted) as writer:
        insert_service(writer)
        listener.query("LISTEN tollgate_config")
        writer.query(sql)
        assert len(listener.notifications(timeout=5)) >= 1


def test_delete_consumer_cascades_to_credentials(booted):
    with PgConn(booted) as c:
        cid, kid = str(uuid.uuid4()), str(uuid.uuid4())
        c.query(f"INSERT INTO consumers (id, created_at, username, doc)"
                f" VALUES ('{cid}', 1, 'alice', '{{}}')")
        c.query(f"INSERT INTO keyauth_credentials (id, created_at, consumer_id, key, doc)"
                f" VALUES ('{kid}', 1, '{cid}', 'k-{kid}', '{{}}')")
        c.query(f"INSERT INTO acls (id, created_at, consumer_id, \"group\", doc)"
                f" VALUES (gen_random_uuid(), 1, '{cid}', 'admins', '{{}}')")
        c.query(f"DELETE FROM consumers WHERE id = '{cid}'")
        assert c.query("SELECT count(*) FROM keyauth_credentials") == [("0",)]
        assert c.query("SELECT count(*) FROM acls") == [("0",)]


def test_delete_service_with_route_is_refused(booted):
    with PgConn(booted) as c:
        sid = insert_service(c, "svc")
        c.query(f"INSERT INTO routes (id, created_at, service_id, doc)"
                f" VALUES (gen_random_uuid(), 1, '{sid}', '{{}}')")
        with pytest.raises(PgError) as e:
            c.query(f"DELETE FROM services WHERE id = '{sid}'")
        assert e.value.sqlstate == "23503"
        assert e.value.constraint == "routes_service_id_fkey"
        assert c.query("SELECT count(*) FROM services") == [("1",)]


def test_delete_route_cascades_to_its_plugins(booted):
    with PgConn(booted) as c:
        sid = insert_service(c)
        rid = str(uuid.uuid4())
        c.query(f"INSERT INTO routes (id, created_at, service_id, doc)"
                f" VALUES ('{rid}', 1, '{sid}', '{{}}')")
        c.query(f"INSERT INTO plugins (id, created_at, name, route_id, doc)"
                f" VALUES (gen_random_uuid(), 1, 'key-auth', '{rid}', '{{}}')")
        c.query(f"DELETE FROM routes WHERE id = '{rid}'")
        assert c.query("SELECT count(*) FROM plugins") == [("0",)]


def test_unique_keys_are_named(booted):
    with PgConn(booted) as c:
        insert_service(c, "dup")
        with pytest.raises(PgError) as e:
            insert_service(c, "dup")
        assert e.value.sqlstate == "23505"
        assert e.value.constraint == "services_name_key"


def test_concurrent_writers_get_distinct_versions(booted):
    """Writers never queue on one row: each committed change gets its own version number."""
    got = []

    def write(n):
        with PgConn(booted) as c:
            for _ in range(n):
                insert_service(c)
                got.append(my_version(c))

    threads = [threading.Thread(target=write, args=(10,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 40 and len(set(got)) == 40
