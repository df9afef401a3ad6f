"""A throwaway PostgreSQL cluster for integration tests: initdb in a temp dir, loopback TCP on
a free port, trust authentication, fsync off. initdb and pg_ctl refuse to run as root, so as
root they run as the `postgres` user (runuser) on a temp dir it owns. The cluster is stopped
and its directory removed at exit.

    pg = PgServer()
    pg.start()
    dsn = pg.create_db()        # a fresh empty database each call
    print(pg.psql(dsn, "SELECT 1"))
    pg.restart(); pg.stop()
"""
import atexit
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PGBIN = os.environ.get("TOLLGATE_PGBIN") or "/usr/lib/postgresql/15/bin"
USER = "gateway"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pgbin():
    if os.path.exists(os.path.join(PGBIN, "initdb")):
        return PGBIN
    try:
        return subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return PGBIN


def psql(dsn, sql, check=True, timeout=30):
    """Runs SQL through psql on dsn (stops at the first error). Returns stdout, unaligned and
    without headers (`a|b` per row); raises RuntimeError with psql's stderr on failure when
    check is true, otherwise returns the CompletedProcess."""
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn,
                        "-c", sql], capture_output=True, text=True, timeout=timeout)
    if not check:
        return p
    if p.returncode != 0:
        raise RuntimeError(f"psql failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


class PgServer:
    """One PostgreSQL cluster. `port` is chosen once and kept across restarts; the superuser
    is `gateway` with trust authentication."""

    def __init__(self):
        self.bindir = _pgbin()
        self.tmp = tempfile.mkdtemp(prefix="tollgate-pg-")
        self.datadir = os.path.join(self.tmp, "pg")
        self.logfile = os.path.join(self.tmp, "pg.log")
        self.port = _free_port()
        self.as_pg = []
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres", "postgres")
            self.as_pg = ["runuser", "-u", "postgres", "--"]
        self._initdb_done = False
        self._dbs = itertools.count(1)
        atexit.register(self.cleanup)

    def _run(self, *args, timeout=60):
        p = subprocess.run([*self.as_pg, *args], capture_output=True, text=True,
                           timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"{os.path.basename(args[0])} failed ({p.returncode}): "
                               f"{p.stderr.strip() or p.stdout.strip()}\n{self.log()}")
        return p

    def _initdb(self):
        self._run(os.path.join(self.bindir, "initdb"), "-D", self.datadir, "-U", USER,
                  "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
        self._initdb_done = True

    def start(self):
        """initdb on first use, then starts the server and waits until it accepts
        connections."""
        if not self._initdb_done:
            self._initdb()
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.tmp} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-l", self.logfile,
                  "-w", "-t", "30", "-o", opts, "start")
        return self

    def pid(self):
        """The postmaster's PID, or None when it is not running."""
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def running(self):
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self, timeout=30):
        """Fast shutdown (SIGINT to the postmaster): open sessions are disconnected."""
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def dsn(self, dbname="postgres"):
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={USER}"

    def create_db(self):
        """Creates a fresh empty database and returns its DSN."""
        name = f"t{os.getpid()}_{next(self._dbs)}"
        psql(self.dsn(), f"CREATE DATABASE {name}")
        return self.dsn(name)

    def psql(self, dsn, sql, check=True):
        return psql(dsn, sql, check=check)

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        """Stops the server and removes its directory; safe to call twice."""
        if self.tmp is None:
            return
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None
