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
            "version": self.request_version,
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


# --- Added for test_routing.py, test_streaming.py and test_reload.py -------------------------

import re  # noqa: E402 (kept with the helpers that use it)

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.header_list = headers  # [(name, value)] as received
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)


class HttpConn:
    """One client connection speaking HTTP/1.1 by hand: the request-target goes out exactly as
    written (no client-side dot-segment removal or re-escaping), headers may repeat, and several
    requests can share the connection. Meant for small bodies."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the gateway")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, method, target, headers=(), body=None, version="HTTP/1.1"):
        """headers: (name, value) pairs, sent in order (a Host pair is the caller's job)."""
        head = [f"{method} {target} {version}"]
        head += [f"{k}: {v}" for k, v in headers]
        if body is not None:
            head.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self.sock.sendall(data + (body or b""))

    def response(self, method="GET"):
        status_line = self._line()
        status = int(status_line.split(b" ")[1])
        headers = []
        while True:
            line = self._line()
            if not line:
                break
            k, v = line.decode("latin-1").split(":", 1)
            headers.append((k.strip(), v.strip()))
        h = {k.lower(): v for k, v in headers}
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif h.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._read(size)
                self._line()
        elif "content-length" in h:
            body = self._read(int(h["content-length"]))
        else:
            try:
                while True:
                    self._fill()
            except ConnectionError:
                pass
            body, self.buf = self.buf, b""
        return Response(status, headers, body)

    def request(self, method, target, headers=(), body=None):
        self.send(method, target, headers, body)
        return self.response(method)


def http_request(port, method, target, headers=(), body=None, timeout=30):
    """One request on a fresh connection (closed afterwards), sent byte-exact via HttpConn."""
    with HttpConn(port, timeout) as c:
        return c.request(method, target, list(headers) + [("Connection", "close")], body)


def wait_config_change(gw, old_hash, timeout=10):
    """Waits until the status endpoint reports a configuration hash other than old_hash;
    returns the new hash (raises on timeout)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = gw.status()["configuration_hash"]
        if h != old_hash:
            return h
        time.sleep(0.02)
    raise TimeoutError(f"configuration hash still {old_hash} after {timeout}s")


def rss_kb(pid):
    """VmRSS of a process in kB (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds on a thread; .max_kb and .samples."""

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.interval = interval
        self.max_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            kb = rss_kb(self.pid)
            if kb is not None:
                self.max_kb = max(self.max_kb, kb)
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class StreamUpstream:
    """A raw-socket HTTP/1.1 upstream for big transfers and connection accounting (keep-alive
    honoured, one thread per connection):
      /pause/MS/...      -> waits MS ms before reading the request body, then as below
      POST/PUT any path  -> reads the body (Content-Length or chunked) counting bytes without
                            keeping them; answers JSON {"received": n, "chunked": bool, ...}
      GET /gen/N         -> N bytes ('x') with Content-Length
      GET /genchunked/N  -> N bytes ('x') chunked, 1 MiB chunks
      .../sleep/MS...    -> (anywhere in the path) waits MS ms, then the JSON answer
      anything else      -> JSON {"method", "path", "port" (client port), "conn" (number of the
                            connection on this upstream), "server"}
    .peers: set of client ports of every accepted connection; .connections: count accepted;
    .arrivals: requests whose head was read (before any sleep); .sleeping: /sleep/ requests
    currently waiting; .busy: requests being read or answered right now."""

    CHUNK = 1 << 20
    _SLEEP = re.compile(r"/sleep/(\d+)")

    def __init__(self, name="stream", idle_timeout=None):
        """idle_timeout: seconds a kept-alive connection may wait for its next request before
        this upstream closes it (None: never)."""
        self.name = name
        self.idle_timeout = idle_timeout
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.peers = set()
        self.connections = 0
        self.arrivals = 0
        self.sleeping = 0
        self.busy = 0  # requests between head read and response fully written
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._payload = b"x" * self.CHUNK
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def stop(self):
        self._stop.set()
        self.thread.join()
        self.lsock.close()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, addr = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.peers.add(addr[1])
                n = self.connections
            conn.settimeout(None)
            threading.Thread(target=self._serve, args=(conn, addr, n), daemon=True).start()

    def _count_body(self, rfile, headers):
        buf = bytearray(self.CHUNK)
        view = memoryview(buf)
        total = 0
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                line = rfile.readline(1024)
                if not line:
                    raise ConnectionError("eof in chunked body")
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                        pass
                    return total, True
                left = size
                while left:
                    got = rfile.readinto(view[:min(left, self.CHUNK)])
                    if not got:
                        raise ConnectionError("eof in chunk")
                    left -= got
                total += size
                rfile.readline(1024)
        left = int(headers.get("content-length") or 0)
        while left:
            got = rfile.readinto(view[:min(left, self.CHUNK)])
            if not got:
                raise ConnectionError("eof in body")
            left -= got
            total += got
        return total, False

    def _serve(self, conn, addr, conn_no):
        rfile = conn.makefile("rb", buffering=1 << 16)
        first = True
        try:
            while True:
                if self.idle_timeout is not None and not first:
                    # wait for the next request's first byte, at most idle_timeout
                    conn.settimeout(self.idle_timeout)
                    try:
                        if not rfile.peek(1):
                            return
                    except socket.timeout:
                        return
                    conn.settimeout(None)
                first = False
                line = rfile.readline(65536)
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    continue
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while True:
                    h = rfile.readline(65536)
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, v = h.decode("latin-1").split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                with self.lock:
                    self.arrivals += 1
                    self.busy += 1
                try:
                    close = self._answer(conn, rfile, method, target, headers, addr, conn_no)
                finally:
                    with self.lock:
                        self.busy -= 1
                if close:
                    return
        except (OSError, ValueError, ConnectionError):
            return
        finally:
            try:
                rfile.close()
                conn.close()
            except OSError:
                pass

    def _answer(self, conn, rfile, method, target, headers, addr, conn_no):
        """Reads the request body and writes the response; True when the connection is to be
        closed."""
        if target.startswith("/pause/"):  # stall before reading the request body
            time.sleep(int(target.split("/")[2]) / 1000.0)
        received, chunked = self._count_body(rfile, headers)
        close = headers.get("connection", "").lower() == "close"
        if method == "GET" and target.startswith("/gen/"):
            n = int(target.split("/")[2])
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                         b"Content-Type: application/octet-stream\r\n\r\n" % n)
            view = memoryview(self._payload)
            while n > 0:
                k = min(n, self.CHUNK)
                conn.sendall(view[:k])
                n -= k
        elif method == "GET" and target.startswith("/genchunked/"):
            n = int(target.split("/")[2])
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                         b"Content-Type: application/octet-stream\r\n\r\n")
            view = memoryview(self._payload)
            while n > 0:
                k = min(n, self.CHUNK)
                conn.sendall(b"%x\r\n" % k)
                conn.sendall(view[:k])
                conn.sendall(b"\r\n")
                n -= k
            conn.sendall(b"0\r\n\r\n")
        else:
            ms = self._SLEEP.search(target)
            if ms:
                with self.lock:
                    self.sleeping += 1
                time.sleep(int(ms.group(1)) / 1000.0)
                with self.lock:
                    self.sleeping -= 1
            out = json.dumps({"method": method, "path": target, "port": addr[1],
                              "conn": conn_no, "received": received,
                              "chunked": chunked, "server": self.name}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n%s\r\n%s"
                         % (len(out), b"Connection: close\r\n" if close else b"", out))
        return close


def start_retrying(make, attempts=3):
    """Calls make() (which starts a Gateway) again when the process exited during start-up: a
    port picked by free_port() can be taken by another process's connection before the gateway
    binds it when test runs share the machine. A gateway that stays up but never answers is
    not retried."""
    for i in range(attempts):
        try:
            return make()
        except RuntimeError as e:
            if "tollgate-dp exited" not in str(e) or i == attempts - 1:
                raise
    raise AssertionError("unreachable")
