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
import struct
import subprocess
import tempfile
import time

PGBIN = os.environ.get("TOLLGATE_PGBIN") or "/usr/lib/postgresql/15/bin"
USER = "gateway"


# The server is a daemon: if the test process dies without running atexit (SIGKILL, a CI
# timeout), this stops it and removes its directory. $1: the test process, $2: the temp dir.
_WATCHDOG = """
while kill -0 "$1" 2>/dev/null; do sleep 1; done
pid=$(head -n 1 "$2/pg/postmaster.pid" 2>/dev/null) || pid=
if [ -n "$pid" ]; then
    kill -INT "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
fi
rm -rf "$2"
"""


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
        self._watchdog = None
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
        if self._watchdog is None:
            self._watchdog = subprocess.Popen(
                ["sh", "-c", _WATCHDOG, "watchdog", str(os.getpid()), self.tmp],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
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
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None


class PgError(Exception):
    """An ErrorResponse: .fields maps PostgreSQL's field codes ("C" SQLSTATE, "M" message,
    "n" constraint name) to their values."""

    def __init__(self, fields):
        self.fields = fields
        super().__init__(f"{fields.get('C', '')}: {fields.get('M', '')}")

    @property
    def sqlstate(self):
        return self.fields.get("C")

    @property
    def constraint(self):
        return self.fields.get("n")


class PgConn:
    """A minimal client of PostgreSQL's wire protocol (simple queries, trust authentication
    only), so tests can hold a transaction open and LISTEN without libpq bindings:

        c = PgConn(dsn); c.query("LISTEN tollgate_config")
        c.notifications(timeout=2)   # [(channel, payload), ...] received so far or within
    """

    def __init__(self, dsn, timeout=30):
        kv = dict(part.split("=", 1) for part in dsn.split())
        self.sock = socket.create_connection((kv.get("host", "127.0.0.1"), int(kv["port"])),
                                             timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.pending = []
        body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in (
            ("user", kv.get("user", USER)), ("database", kv.get("dbname", "postgres")))) + b"\0"
        self.sock.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
        while True:
            kind, data = self._message()
            if kind == b"R" and struct.unpack("!i", data[:4])[0] != 0:
                raise RuntimeError("PgConn supports trust authentication only")
            if kind == b"E":
                raise PgError(self._fields(data))
            if kind == b"Z":
                return

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("PostgreSQL closed the connection")
            self.buf += chunk

    def _message(self):
        # nothing is consumed until the whole message is in: a timeout loses no bytes
        self._fill(5)
        kind, size = struct.unpack("!ci", self.buf[:5])
        self._fill(1 + size)
        data, self.buf = self.buf[5:1 + size], self.buf[1 + size:]
        if kind == b"A":
            channel, payload = data[4:].split(b"\0")[:2]
            self.pending.append((channel.decode(), payload.decode()))
        return kind, data

    @staticmethod
    def _fields(data):
        out = {}
        for item in data.split(b"\0"):
            if item:
                out[chr(item[0])] = item[1:].decode()
        return out

    def query(self, sql):
        """Runs sql (one or more statements); returns the rows of the last result as tuples of
        strings (None for NULL). Raises PgError on an error, after the server is ready again."""
        data = sql.encode() + b"\0"
        self.sock.settimeout(self.timeout)
        self.sock.sendall(b"Q" + struct.pack("!i", 4 + len(data)) + data)
        rows, err = [], None
        while True:
            kind, data = self._message()
            if kind == b"T":
                rows = []
            elif kind == b"D":
                n = struct.unpack("!h", data[:2])[0]
                pos, row = 2, []
                for _ in range(n):
                    size = struct.unpack("!i", data[pos:pos + 4])[0]
                    pos += 4
                    row.append(None if size < 0 else data[pos:pos + size].decode())
                    pos += max(size, 0)
                rows.append(tuple(row))
            elif kind == b"E":
                err = PgError(self._fields(data))
            elif kind == b"Z":
                if err is not None:
                    raise err
                return rows

    def notifications(self, timeout=0.0):
        """Returns (and forgets) the notifications received so far; with none yet, waits up to
        timeout seconds for the first."""
        deadline = time.time() + timeout
        while not self.pending:
            left = deadline - time.time()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                self._message()
            except socket.timeout:
                break
        out, self.pending = self.pending, []
        return out

    def close(self):
        try:
            self.sock.sendall(b"X" + struct.pack("!i", 4))
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
