"""tollgate-cp for integration tests: the migrations command and a control plane with its Admin
API on a free loopback port.

    bootstrap(dsn)                       # tollgate-cp migrations bootstrap --pg-dsn DSN
    cp = ControlPlane(dsn, token=None, args=(), env=None)
    cp.start()                           # waits until GET / on the Admin API answers
    requests.get(cp.url + "/services", headers=cp.headers)
    cp.stop()
"""
import atexit
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("TOLLGATE_BUILD", "build")
CP_BIN = BUILD / "tollgate-cp"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _env(extra):
    env = dict(os.environ)
    # a DSN from the caller's environment must not leak into a test's control plane
    for k in [k for k in env if k.startswith("TOLLGATE_PG")]:
        del env[k]
    env.update(extra or {})
    return env


def migrations(dsn, *cmd, env=None, timeout=60, input=None):
    """Runs `tollgate-cp migrations CMD... --pg-dsn DSN` (dsn None: no --pg-dsn) and returns
    the CompletedProcess (text, stdout and stderr captured); never raises on exit status."""
    args = [str(CP_BIN), "migrations", *cmd]
    if dsn is not None:
        args += ["--pg-dsn", dsn]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          env=_env(env), input=input)


def bootstrap(dsn):
    """`tollgate-cp migrations bootstrap --pg-dsn DSN`; raises RuntimeError on failure."""
    p = migrations(dsn, "bootstrap")
    if p.returncode != 0:
        raise RuntimeError(f"migrations bootstrap failed ({p.returncode}): "
                           f"{p.stdout}{p.stderr}")
    return p


def admin_supported():
    """Whether build/tollgate-cp has an Admin API yet (it mentions --admin-listen)."""
    try:
        data = CP_BIN.read_bytes()
    except OSError:
        return False
    return b"admin-listen" in data or b"admin_listen" in data


class ControlPlane:
    """One tollgate-cp process on dsn with the Admin API on 127.0.0.1:<free port>. token, when
    set, is passed as --admin-token and sent by start() as Kong-Admin-Token; args are extra
    command-line arguments; env adds to (or overrides) the inherited environment."""

    def __init__(self, dsn, token=None, args=(), env=None):
        self.dsn = dsn
        self.token = token
        self.args = list(args)
        self.env = env
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Kong-Admin-Token": token} if token else {}
        self.proc = None
        self._log = None

    def command(self):
        cmd = [str(CP_BIN), "--pg-dsn", self.dsn, "--admin-listen", f"127.0.0.1:{self.port}"]
        if self.token:
            cmd += ["--admin-token", self.token]
        return cmd + self.args

    def start(self, timeout=15):
        """Starts the process and waits until GET / answers with any HTTP status. Raises
        RuntimeError with the log if the process exits or does not answer in time."""
        if self._log is None:
            fd, self._log = tempfile.mkstemp(prefix="tollgate-cp-", suffix=".log")
            os.close(fd)
            atexit.register(_unlink, self._log)
        # O_APPEND: a restarted process adds to the same log, and log() reads through its own
        # file description, so reading never moves the writer's offset
        with open(self._log, "ab") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                         env=_env(self.env))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tollgate-cp exited ({self.proc.returncode}): {self.log()}")
            req = urllib.request.Request(self.url + "/", headers=self.headers)
            try:
                with urllib.request.urlopen(req, timeout=1):
                    return self
            except urllib.error.HTTPError:
                return self  # any HTTP answer means it is serving
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tollgate-cp did not answer on {self.url}: {self.log()}")

    def wait(self, timeout=15):
        """Waits for the process to exit by itself; returns its exit code (None on timeout)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after timeout seconds; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def log(self):
        """Everything the process wrote (stderr and stdout) so far."""
        if self._log is None:
            return ""
        with open(self._log, errors="replace") as f:
            return f.read()

    # the helper, reachable from an instance or the class as well
    bootstrap = staticmethod(bootstrap)
