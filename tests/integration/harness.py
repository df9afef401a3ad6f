"""Real processes on loopback for black-box tests: an echo upstream (Python's threading HTTP
server) and tollgate-dp started from a declarative file."""
import http.server
import json
import os
import pathlib
import signal
import socket
import socketserver
import subprocess
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("TOLLGATE_BUILD", "build")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON. Paths:
    /status/NNN answers NNN; /sleep/MS waits first; /big/N sends N bytes; /chunked sends a
    chunked body; anything else echoes."""
    protocol_version = "HTTP/1.1"
    server_version = "echo"

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_one(self):
        body = self._body()
        path = self.path
        if path.startswith("/sleep/"):
            time.sleep(int(path.split("/")[2].split("?")[0]) / 1000.0)
        if path.startswith("/big/"):
            n = int(path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"x" * 65536
            while n > 0:
                self.wfile.write(chunk[:min(n, len(chunk))])
                n -= min(n, len(chunk))
            return
        if path.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        status = 200
        if path.startswith("/status/"):
            status = int(path.split("/")[2].split("?")[0])
        out = json.dumps({
            "method": self.command,
            "path": path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_len": len(body),
            "body": body[:1000].decode("latin-1"),
            "server": self.server.name,
        }).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_one

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "42")
        self.end_headers()


class Echo:
    def __init__(self, name="echo", port=None):
        self.port = port or free_port()

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), EchoHandler)
        self.server.name = name
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Gateway:
    """tollgate-dp on free loopback ports with the given declarative config (YAML text)."""

    def __init__(self, tmp_path, config, workers=1, extra=()):
        self.tmp = tmp_path
        self.port = free_port()
        self.status_port = free_port()
        self.config_path = tmp_path / "kong.yml"
        self.config_path.write_text(config)
        self.log = open(tmp_path / "dp.log", "w+")
        self.proc = subprocess.Popen(
            [str(BUILD / "tollgate-dp"), "--declarative-config", str(self.config_path),
             "--proxy-listen", f"127.0.0.1:{self.port}",
             "--status-listen", f"127.0.0.1:{self.status_port}",
             "--workers", str(workers), *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tollgate-dp exited: " + self.output())
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{self.status_port}/status", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("tollgate-dp did not start: " + self.output())

    def status(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/status") as r:
            return json.loads(r.read())

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def reload(self, config):
        self.config_path.write_text(config)
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def raw(port, data, timeout=5, read_all=True):
    """Sends raw bytes and returns everything the gateway answers until it closes (or the
    timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if not read_all:
                    break
        except socket.timeout:
            pass
        return out
