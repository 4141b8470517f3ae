"""TLS: HTTPS, WebSocket over TLS and STOMP over TLS next to the plain
listeners, modern protocol versions only, client certificates, HSTS, and
the configuration check of the certificate files. Certificates are made
at set-up with the openssl command (tls_certs.py); real clients only:
http.client, stomp.py over wss:// (websocket-client), STOMP frames over ssl sockets."""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

import websocket

from chatd_harness import (CHATD_BIN, Chatd, Recorder, default_sections, disconnect_quietly, free_port,
                           password_of, port_open, render_ini, wait_for)
from raw_stomp import RawStomp
from rooms_client import Api, send_message, subscribe
from stomp_ws import WSConnection12
import tls_certs
from tls_certs import Certs


def tls_server(certs, extra=None):
    """A chatd with its plain listeners and both TLS ones."""
    tls_port, stomp_tls_port = free_port(), free_port()

    def edit(sections):
        sections["server"].update({
            "tls_listen": "127.0.0.1:%d" % tls_port,
            "stomp_tls_listen": "127.0.0.1:%d" % stomp_tls_port,
            "tls_cert": certs.path("server.pem"),
            "tls_key": certs.path("server.key"),
        })
        sections["server"]["allowed_origins"] += " https://127.0.0.1:%d" % tls_port
        sections["server"].update(extra or {})

    srv = Chatd(edit)
    srv.tls_port, srv.stomp_tls_port = tls_port, stomp_tls_port
    return srv


def start(srv):
    srv.start()
    wait_for(lambda: srv.proc.poll() is not None or (port_open(srv.tls_port) and port_open(srv.stomp_tls_port)),
             what="the TLS listeners")
    if srv.proc.poll() is not None:
        raise AssertionError("chatd exited at start:\n" + srv.read_log())
    return srv


def client_context(certs, cert=None, min_version=None, max_version=None):
    ctx = ssl.create_default_context(cafile=certs.path("ca.pem"))
    if cert:
        ctx.load_cert_chain(certs.path(cert + ".pem"), certs.path(cert + ".key"))
    if min_version:
        ctx.minimum_version = min_version
    if max_version:
        ctx.maximum_version = max_version
    return ctx


def https(srv, ctx, method, path, user=None, body=None):
    c = http.client.HTTPSConnection("127.0.0.1", srv.tls_port, context=ctx, timeout=10)
    headers = {"Content-Type": "application/json"}
    if user:
        headers["Authorization"] = "Basic " + base64.b64encode(
            ("%s:%s" % (user, password_of(user))).encode()).decode()
    try:
        c.request(method, path, json.dumps(body) if body is not None else None, headers)
        r = c.getresponse()
        raw = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), json.loads(raw) if raw else None
    finally:
        c.close()


def refused(srv, port, ctx):
    """True if no TLS session with ctx gets an answer from port: the
    handshake fails, or (TLS 1.3, where the server checks a client
    certificate after the client's handshake ended) the first read does."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                return s.recv(1024) == b""
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


class TlsListeners(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="chatd-tls-")
        cls.certs = Certs(cls.dir)
        cls.server = start(tls_server(cls.certs, {"hsts": "1d"}))
        cls.ctx = client_context(cls.certs)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_https_rest_and_hsts(self):
        status, headers, body = https(self.server, self.ctx, "GET", "/healthz")
        self.assertEqual((status, body["status"]), (200, "ready"))
        self.assertEqual(headers.get("strict-transport-security"), "max-age=86400")
        status, _, room = https(self.server, self.ctx, "POST", "/api/rooms", "alice",
                                {"kind": "group", "title": "보안 🔒", "members": ["bob"]})
        self.assertEqual((status, room["title"]), (201, "보안 🔒"))
        # The same room over the plain listener, which never sends HSTS.
        c = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=10)
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        c.close()
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.getheader("strict-transport-security"))
        self.assertEqual(Api(self.server.http_port, "bob").get("/api/rooms/" + room["id"])[1]["title"], "보안 🔒")

    def test_korean_and_emoji_over_wss_stomp_tls_and_plain_at_once(self):
        status, _, room = https(self.server, self.ctx, "POST", "/api/rooms", "alice",
                                {"kind": "group", "title": "tls", "members": ["bob", "agent1"]})
        self.assertEqual(status, 201)
        topic = "/topic/rooms/" + room["id"]
        # alice: stomp.py over wss://; bob: STOMP over TCP with TLS;
        # agent1: plain TCP on the plain listener of the same server.
        alice = Recorder()
        wss = WSConnection12("wss://127.0.0.1:%d/ws" % self.server.tls_port,
                             origin="https://127.0.0.1:%d" % self.server.tls_port,
                             sslopt={"ca_certs": self.certs.path("ca.pem"), "server_hostname": "localhost"})
        wss.set_listener("r", alice)
        wss.connect("alice", password_of("alice"), wait=True)
        self.addCleanup(disconnect_quietly, wss)
        tcp = RawStomp(self.server.stomp_tls_port, ssl_context=self.ctx)
        self.addCleanup(tcp.close)
        tcp.connect("bob")
        plain = RawStomp(self.server.stomp_port)
        self.addCleanup(plain.close)
        plain.connect("agent1")
        wss.subscribe(topic, id="t", receipt="sub")
        alice.wait_receipt("sub")
        for c in (tcp, plain):
            subscribe(c, topic)
            c.expect("RECEIPT")

        wss.send("/app/rooms/%s/send" % room["id"], "안녕하세요 😀 over wss", receipt="a1")
        alice.wait_receipt("a1")
        send_message(tcp, room["id"], "반가워요 🎉✨ over stomp+tls", receipt="b1")
        tcp.expect("RECEIPT")
        send_message(plain, room["id"], "평문 🌏 plain", receipt="p1")
        plain.expect("RECEIPT")
        want = ["안녕하세요 😀 over wss", "반가워요 🎉✨ over stomp+tls", "평문 🌏 plain"]
        alice.wait(lambda: len([m for m in alice.messages if m.headers.get("event") == "message"]) >= 3,
                   what="three messages")
        self.assertEqual([m.body for m in alice.messages if m.headers.get("event") == "message"], want)
        for c in (tcp, plain):
            seen = []
            while len(seen) < 3:
                f = c.expect("MESSAGE")
                if f.headers.get("event") == "message":
                    seen.append(f.body.decode())
            self.assertEqual(seen, want)

    def test_tls_1_0_and_1_1_refused(self):
        for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            ctx = client_context(self.certs, min_version=version, max_version=version)
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # the client would offer it
            for port in (self.server.tls_port, self.server.stomp_tls_port):
                with self.subTest(version=version, port=port):
                    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                        with self.assertRaises(ssl.SSLError):
                            ctx.wrap_socket(raw, server_hostname="localhost")
        ctx = client_context(self.certs, min_version=ssl.TLSVersion.TLSv1_2, max_version=ssl.TLSVersion.TLSv1_2)
        with socket.create_connection(("127.0.0.1", self.server.stomp_tls_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                self.assertEqual(s.version(), "TLSv1.2")
                self.assertIn(s.cipher()[0], ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                              "ECDHE-ECDSA-CHACHA20-POLY1305"))

    def test_plain_http_on_the_tls_port_gets_no_answer(self):
        with socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(1024)
            except ConnectionResetError:
                data = b""
            self.assertNotIn(b"ready", data)

    def test_origin_checked_over_wss(self):
        with self.assertRaises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection("wss://127.0.0.1:%d/ws" % self.server.tls_port, subprotocols=["v12.stomp"],
                                        origin="https://elsewhere.example", timeout=10,
                                        sslopt={"ca_certs": self.certs.path("ca.pem"), "server_hostname": "localhost"})
        self.assertEqual(e.exception.status_code, 403)


class ClientCertificates(unittest.TestCase):
    """tls_client_certs = required, TLS 1.3 only, and a connection limit
    that counts TLS connections like the others."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="chatd-tls-")
        cls.certs = Certs(cls.dir)
        cls.server = start(tls_server(cls.certs, {
            "tls_ca": cls.certs.path("ca.pem"), "tls_client_certs": "required", "tls_min_version": "1.3",
            "max_connections_per_ip": "2"}))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_a_certificate_the_ca_issued_gets_in(self):
        ctx = client_context(self.certs, cert="alice")
        status, headers, body = https(self.server, ctx, "GET", "/healthz")
        self.assertEqual((status, body["status"]), (200, "ready"))
        self.assertNotIn("strict-transport-security", headers)  # hsts is off by default
        c = RawStomp(self.server.stomp_tls_port, ssl_context=ctx)
        self.addCleanup(c.close)
        self.assertEqual(c.connect("alice").headers["user-name"], "alice")

    def test_no_certificate_or_another_ca_s_is_refused(self):
        for cert in (None, "mallory"):
            for port in (self.server.tls_port, self.server.stomp_tls_port):
                with self.subTest(cert=cert, port=port):
                    self.assertTrue(refused(self.server, port, client_context(self.certs, cert=cert)))
        self.assertIn("refused: not issued by [server] tls_ca", self.server.read_log())

    def test_tls_1_2_refused_with_min_version_1_3(self):
        ctx = client_context(self.certs, cert="alice", max_version=ssl.TLSVersion.TLSv1_2)
        for port in (self.server.tls_port, self.server.stomp_tls_port):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with self.assertRaises(ssl.SSLError):
                    ctx.wrap_socket(raw, server_hostname="localhost")

    def test_connection_limit_counts_tls_connections(self):
        ctx = client_context(self.certs, cert="alice")
        first = RawStomp(self.server.stomp_tls_port, ssl_context=ctx)
        self.addCleanup(first.close)
        first.connect("alice")
        second = RawStomp(self.server.stomp_port)
        self.addCleanup(second.close)
        second.connect("bob")
        third = RawStomp(self.server.stomp_tls_port, ssl_context=ctx)
        self.addCleanup(third.close)
        # Refused at accept; the ERROR goes out once the handshake is over
        # and the client has spoken (lws tells of the handshake's end no other way).
        third.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": "alice", "passcode": "alice-pw"})
        self.assertEqual(third.expect("ERROR").headers["message"], "too many connections from this address")


def served_certificate(port, ctx):
    """(CN, serial) of the certificate a new TLS connection to port gets."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            cert = s.getpeercert()
    cn = dict(x[0] for x in cert["subject"])["commonName"]
    return cn, cert["serialNumber"]


class CertificateReload(unittest.TestCase):
    """SIGHUP and POST /api/admin/reload read tls_cert and tls_key again: a
    renewal written at the same paths serves the handshakes after it, the
    connections already open keep working, a broken file refuses the
    reload and the certificate in use stays."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="chatd-tls-")
        cls.certs = Certs(cls.dir)
        # The renewal: another key, another CN and serial, the same CA and names.
        tls_certs._issue(cls.dir, "ca", "renewed", "/CN=renewed.localhost",
                         "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        # The files the server reads, apart from the originals, so the test can renew them.
        for name in ("server.pem", "server.key"):
            shutil.copy(cls.certs.path(name), cls.certs.path("live-" + name))
        cls.server = start(tls_server(cls.certs, {"tls_cert": cls.certs.path("live-server.pem"),
                                                  "tls_key": cls.certs.path("live-server.key")}))
        cls.ctx = client_context(cls.certs)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def install(self, pem, key):
        """Write the files as a renewal does: a new file renamed over the old."""
        for src, dst in ((pem, "live-server.pem"), (key, "live-server.key")):
            tmp = self.certs.path(dst + ".new")
            shutil.copy(self.certs.path(src), tmp)
            os.replace(tmp, self.certs.path(dst))

    def sighup(self, expect):
        offset = len(self.server.read_log())
        self.server.proc.send_signal(signal.SIGHUP)

        def outcome():
            for line in self.server.read_log()[offset:].splitlines():
                if "configuration reloaded" in line or "reload refused" in line:
                    return line
            return None
        line = wait_for(outcome, what="the reload's outcome in the log")
        self.assertIn(expect, line)
        return line

    def rest_reload(self):
        basic = base64.b64encode(b"admin1:" + password_of("admin1").encode()).decode()
        req = urllib.request.Request("http://127.0.0.1:%d/api/admin/reload" % self.server.http_port, method="POST",
                                     headers={"Authorization": "Basic " + basic})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_renewal_serves_new_handshakes_and_keeps_open_connections(self):
        ports = (self.server.tls_port, self.server.stomp_tls_port)
        before = [served_certificate(p, self.ctx) for p in ports]
        self.assertEqual([cn for cn, _ in before], ["localhost", "localhost"])
        # Open before the renewal: stomp.py over wss:// and STOMP over TLS, subscribed to one topic.
        alice = Recorder()
        wss = WSConnection12("wss://127.0.0.1:%d/ws" % self.server.tls_port,
                             origin="https://127.0.0.1:%d" % self.server.tls_port,
                             sslopt={"ca_certs": self.certs.path("ca.pem"), "server_hostname": "localhost"})
        wss.set_listener("r", alice)
        wss.connect("alice", password_of("alice"), wait=True)
        self.addCleanup(disconnect_quietly, wss)
        bob = RawStomp(self.server.stomp_tls_port, ssl_context=self.ctx)
        self.addCleanup(bob.close)
        bob.connect("bob")
        wss.subscribe("/topic/renewal", id="t", receipt="sub")
        alice.wait_receipt("sub")

        self.install("renewed.pem", "renewed.key")
        line = self.sighup("configuration reloaded")
        self.assertIn("TLS certificate read again", line)
        self.assertIn("renewed.localhost", line)
        wait_for(lambda: "TLS certificate reloaded for 2 listeners" in self.server.read_log(),
                 what="the gateway to take the certificate")
        after = [served_certificate(p, self.ctx) for p in ports]
        self.assertEqual([cn for cn, _ in after], ["renewed.localhost", "renewed.localhost"])
        self.assertNotEqual(after[0][1], before[0][1])
        # New sessions over both TLS listeners work with it.
        carol = RawStomp(self.server.stomp_tls_port, ssl_context=self.ctx)
        self.addCleanup(carol.close)
        carol.connect("dana")
        status, _, body = https(self.server, self.ctx, "GET", "/healthz")
        self.assertEqual((status, body["status"]), (200, "ready"))
        # The connections opened before still carry frames both ways.
        bob.send("SEND", {"destination": "/topic/renewal", "receipt": "b"}, "갱신 뒤에도 🔐 bob")
        self.assertEqual(bob.expect("RECEIPT").headers["receipt-id"], "b")
        alice.wait_messages(1)
        self.assertEqual(alice.messages[0].body, "갱신 뒤에도 🔐 bob")
        wss.send("/topic/renewal", "still here 😀", receipt="a")
        alice.wait_receipt("a")

        # A key that does not belong to the certificate: refused, with one line; the renewal stays.
        self.install("renewed.pem", "other.key")
        line = self.sighup("reload refused")
        self.assertIn("[server] tls_key", line)
        self.assertIn("does not belong to the certificate", line)
        self.assertEqual([served_certificate(p, self.ctx)[0] for p in ports], ["renewed.localhost"] * 2)
        # A certificate file that is no PEM, through the REST call.
        with open(self.certs.path("live-server.pem"), "w") as f:
            f.write("not a certificate\n")
        status, body = self.rest_reload()
        self.assertEqual((status, body["error"]), (409, "reload_refused"))
        self.assertIn("tls_cert", body["message"])
        self.assertEqual([served_certificate(p, self.ctx)[0] for p in ports], ["renewed.localhost"] * 2)
        # Back to the first certificate, by the REST call.
        self.install("server.pem", "server.key")
        status, body = self.rest_reload()
        self.assertEqual((status, body["reloaded"]), (200, True))
        wait_for(lambda: [served_certificate(p, self.ctx) for p in ports] == before,
                 what="the first certificate again")
        wss.send("/topic/renewal", "끝 🏁", receipt="z")
        alice.wait_receipt("z")


def check(sections):
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write(render_ini(sections))
        path = f.name
    try:
        p = subprocess.run([CHATD_BIN, "--check-config", "-c", path], capture_output=True, text=True, timeout=30)
        return p, path
    finally:
        os.unlink(path)


class CheckConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="chatd-tls-")
        cls.certs = Certs(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def sections(self, **server):
        s = default_sections(1, 2)
        s["server"].update({"tls_listen": "127.0.0.1:3", "tls_cert": self.certs.path("server.pem"),
                            "tls_key": self.certs.path("server.key")})
        for k, v in server.items():
            if v is None:
                s["server"].pop(k, None)
            else:
                s["server"][k] = v
        return s

    def refused_with(self, sections, *parts):
        p, path = check(sections)
        self.assertNotEqual(p.returncode, 0)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith(path + ": [server] "), lines[0])
        for part in parts:
            self.assertIn(part, lines[0])

    def test_good_tls_config(self):
        for extra in ({}, {"stomp_tls_listen": ":61614", "tls_ca": self.certs.path("ca.pem"),
                           "tls_client_certs": "optional", "tls_min_version": "1.3", "hsts": "365d"},
                      {"listen": ""}):
            with self.subTest(extra=extra):
                p, path = check(self.sections(**extra))
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_missing_or_wrong_files(self):
        missing = os.path.join(self.dir, "nowhere.pem")
        self.refused_with(self.sections(tls_cert=missing), "tls_cert: cannot read", missing)
        self.refused_with(self.sections(tls_key=missing), "tls_key: cannot read", missing)
        self.refused_with(self.sections(tls_key=self.certs.path("other.key")), "tls_key: ",
                          "does not belong to the certificate")
        self.refused_with(self.sections(tls_cert=self.certs.path("server.key")), "tls_cert: ", "no PEM certificate")
        self.refused_with(self.sections(tls_key=self.certs.path("server.pem")), "tls_key: ", "no PEM private key")
        self.refused_with(self.sections(tls_key=None), "tls_key: required with tls_listen")
        self.refused_with(self.sections(tls_client_certs="required", tls_ca=missing), "tls_ca: cannot read")

    def test_inconsistent_keys(self):
        self.refused_with(self.sections(tls_client_certs="required"), "tls_ca: required with tls_client_certs")
        self.refused_with(self.sections(tls_ca=self.certs.path("ca.pem")), "tls_ca: set, but tls_client_certs is off")
        self.refused_with(self.sections(tls_client_certs="sometimes"), "tls_client_certs: expected off, optional")
        self.refused_with(self.sections(tls_min_version="1.1"), "tls_min_version: expected 1.2 or 1.3")
        self.refused_with(self.sections(tls_ciphers="NOT-A-CIPHER"), "tls_ciphers: no cipher")
        self.refused_with(self.sections(tls_listen=None), "tls_cert: set, but neither tls_listen")
        self.refused_with(self.sections(tls_listen=None, tls_cert=None, tls_key=None, listen=""),
                          "listen: empty, and tls_listen is not set")


if __name__ == "__main__":
    unittest.main()
