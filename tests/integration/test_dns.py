"""DNS: service hosts resolved through c-ares from the configured dns_resolver, followed
when the answer changes once its TTL runs out (a fake DNS server on loopback)."""
import http.server
import socket
import socketserver
import struct
import threading
import time

import requests

from harness import EchoHandler, Gateway, free_port


class FakeDNS:
    """Answers A queries for any name with self.address (TTL 1 s); AAAA with no records."""

    def __init__(self, address):
        self.address = address
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop_flag = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stop_flag:
            try:
                data, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            self.queries += 1
            qid = data[:2]
            i = 12
            while data[i] != 0:
                i += data[i] + 1
            question = data[12:i + 5]
            qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
            answers = b""
            count = 0
            if qtype == 1:
                answers = (b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 1, 4)
                           + socket.inet_aton(self.address))
                count = 1
            head = qid + struct.pack(">HHHHH", 0x8180, 1, count, 0, 0)
            self.sock.sendto(head + question + answers, peer)

    def stop(self):
        self.stop_flag = True
        self.thread.join()
        self.sock.close()


def echo_on(ip, port, name):
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
    srv = S((ip, port), EchoHandler)
    srv.name = name
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_dns_answer_change_is_followed(tmp_path):
    port = free_port()
    a = echo_on("127.0.0.1", port, "first")
    b = echo_on("127.0.0.2", port, "second")
    dns = FakeDNS("127.0.0.1")
    g = Gateway(tmp_path, f"""
_format_version: "3.0"
services:
  - url: http://backend.test:{port}
    routes:
      - paths: [/]
""", extra=("--dns-resolver", f"127.0.0.1:{dns.port}"))
    try:
        r = requests.get(g.url + "/x")
        assert r.status_code == 200 and r.json()["server"] == "first"
        assert r.json()["headers"]["host"] == f"backend.test:{port}"
        dns.address = "127.0.0.2"
        deadline = time.time() + 15
        seen = "first"
        while time.time() < deadline and seen != "second":
            time.sleep(0.3)
            seen = requests.get(g.url + "/x").json()["server"]
        assert seen == "second"
        assert "DNS answer changed for backend.test" in g.output()
    finally:
        g.stop()
        dns.stop()
        a.shutdown()
        b.shutdown()


def test_unresolvable_service_host_is_503(tmp_path):
    dns = FakeDNS("127.0.0.1")
    dns.stop()  # nobody answers: the lookup fails
    g = Gateway(tmp_path, """
_format_version: "3.0"
services:
  - url: http://nowhere.test:80
    routes:
      - paths: [/]
""", extra=("--dns-resolver", f"127.0.0.1:{free_port()}"))
    try:
        r = requests.get(g.url + "/x")
        assert r.status_code == 503
        assert r.json()["message"] == "name resolution failed"
    finally:
        g.stop()
