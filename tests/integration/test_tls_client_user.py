"""Client certificates as users ([server] tls_client_user): a certificate
the tls_ca CAs verified names its user, who then signs in without a
passcode if auth-static lets them (user.NAME.cert = yes); a login or token
of another user beside it is refused (auth-static and auth-jwt); expired,
foreign and revoked ([server] tls_crl) certificates end the handshake,
and a reload's new CRL closes the connections of the certificates it
revokes. Over STOMP with TLS (stomp.py, and raw frames on an ssl socket),
WebSocket over TLS (websocket-client) and HTTPS REST (http.client); the
certificates, a Korean commonName among them, are made by the test with
the openssl command (tls_certs.py)."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import unittest
import urllib.request

import stomp
import websocket

from chatd_harness import Recorder, disconnect_quietly, hash_password, password_of, wait_for
from raw_stomp import RawStomp
import tls_certs
from tls_certs import Certs
from test_tls import check, client_context, refused, start, tls_server

KOREAN = "김민수"


def make_certs():
    d = tempfile.mkdtemp(prefix="chatd-tls-user-")
    certs = Certs(d)  # ca, rogue-ca; alice (CN=alice), mallory (CN=alice, from rogue-ca)
    tls_certs._issue(d, "ca", "bob", "/CN=bob", "extendedKeyUsage=clientAuth\n")
    tls_certs._issue(d, "ca", "kim", "/CN=" + KOREAN, "extendedKeyUsage=clientAuth\n")
    tls_certs._issue(d, "ca", "nocn", "/O=Example", "extendedKeyUsage=clientAuth\n")
    tls_certs._issue(d, "ca", "mail", "/CN=Kim Minsu",
                     "extendedKeyUsage=clientAuth\nsubjectAltName=email:kim@example.com\n")
    tls_certs._issue(d, "ca", "kiosk", "/CN=Kiosk 7",
                     "extendedKeyUsage=clientAuth\nsubjectAltName=DNS:kiosk-7.example.com,DNS:spare.example.com\n")
    tls_certs.issue_expired(d, "ca", "expired", "/CN=alice")
    return certs


def cert_users(sections, extra):
    """alice and the Korean user sign in by certificate; the Korean one has
    no password at all. bob keeps his password and has not opted in."""
    auth = sections["auth"]
    auth["user.alice.cert"] = "yes"
    auth["user.%s.cert" % KOREAN] = "yes"
    auth["user.%s.roles" % KOREAN] = "user"
    auth["user.%s.name" % KOREAN] = "김민수 🌸"
    auth.update(extra)


def certificate_server(certs, client_certs, client_user="cn", auth=None):
    srv = tls_server(certs, {"tls_ca": certs.path("ca.pem"), "tls_client_certs": client_certs,
                             "tls_client_user": client_user})
    cert_users(srv.sections, auth or {})
    srv.write_config()
    return start(srv)


def stomp_tls(srv, ctx, headers=None):
    """CONNECT over STOMP with TLS with exactly these headers; the answer."""
    c = RawStomp(srv.stomp_tls_port, ssl_context=ctx)
    h = {"accept-version": "1.2", "host": "x"}
    h.update(headers or {})
    c.send("CONNECT", h)
    f = c.read()
    return c, f


def https_get(srv, ctx, path, authorization=None):
    c = http.client.HTTPSConnection("127.0.0.1", srv.tls_port, context=ctx, timeout=10)
    try:
        c.request("GET", path, headers={"Authorization": authorization} if authorization else {})
        r = c.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None
    finally:
        c.close()


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class CertificateUsersRequired(unittest.TestCase):
    """tls_client_certs = required, tls_client_user = cn."""

    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()
        cls.server = certificate_server(cls.certs, "required")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.certs.dir, ignore_errors=True)

    def connect(self, cert, headers=None):
        c, f = stomp_tls(self.server, client_context(self.certs, cert=cert), headers)
        self.addCleanup(c.close)
        return c, f

    def test_the_certificate_alone_signs_in(self):
        c, f = self.connect("alice")
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "alice"))
        # With its own login, and no passcode, too.
        c, f = self.connect("alice", {"login": "alice"})
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "alice"))
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.server.http_port, timeout=10) as r:
            metrics = r.read().decode()
        counted = re.search(r'^chatd_plugin_events_total\{section="auth",event="certificates"\} (\d+)$', metrics, re.M)
        self.assertTrue(counted and int(counted.group(1)) >= 2, metrics)

    def test_a_korean_common_name_signs_in_and_talks(self):
        kim, f = self.connect("kim")
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", KOREAN))
        alice, f = self.connect("alice")
        self.assertEqual(f.command, "CONNECTED")
        alice.send("SUBSCRIBE", {"id": "s", "destination": "/queue/인사", "receipt": "r"})
        alice.expect("RECEIPT")
        kim.send("SEND", {"destination": "/queue/인사", "receipt": "k", "content-type": "text/plain"},
                 "안녕하세요 😀".encode())
        kim.expect("RECEIPT")
        m = alice.expect("MESSAGE")
        self.assertEqual(m.body.decode(), "안녕하세요 😀")

    def test_a_login_of_another_user_is_refused(self):
        for headers in ({"login": "bob", "passcode": password_of("bob")}, {"login": "bob"}):
            with self.subTest(headers=headers):
                c, f = self.connect("alice", headers)
                self.assertEqual(f.command, "ERROR")
                self.assertEqual(f.headers["message"], "the credentials name another user than the client certificate")
                self.assertTrue(c.wait_closed())
        self.assertIn("sign-in as 'bob' refused: the client certificate names 'alice'", self.server.read_log())

    def test_a_password_beside_the_certificate_is_still_checked(self):
        c, f = self.connect("alice", {"login": "alice", "passcode": password_of("alice")})
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "alice"))
        c, f = self.connect("alice", {"login": "alice", "passcode": "wrong"})
        self.assertEqual((f.command, f.headers.get("message")), ("ERROR", "bad credentials"))

    def test_a_user_who_did_not_opt_in_needs_the_password(self):
        c, f = self.connect("bob")
        self.assertEqual((f.command, f.headers.get("message")),
                         ("ERROR", "this user does not sign in with a client certificate"))
        c, f = self.connect("bob", {"login": "bob", "passcode": password_of("bob")})
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "bob"))

    def test_a_certificate_naming_no_user_is_refused_at_connect(self):
        c, f = self.connect("nocn", {"login": "alice", "passcode": password_of("alice")})
        self.assertEqual((f.command, f.headers.get("message")),
                         ("ERROR", "the client certificate has no commonName to name its user"))

    def test_stomp_py_over_tls_with_the_certificate_alone(self):
        hosts = [("127.0.0.1", self.server.stomp_tls_port)]
        conn = stomp.Connection12(hosts)
        conn.set_ssl(for_hosts=hosts, cert_file=self.certs.path("kim.pem"), key_file=self.certs.path("kim.key"),
                     ca_certs=self.certs.path("ca.pem"))
        r = Recorder()
        connected = []
        # stomp.py marks the connection up before its listeners hear of the
        # CONNECTED: the test awaits the listener's frame instead.
        r.on_connected = lambda frame: r._add(connected, frame)
        conn.set_listener("r", r)
        # stomp.py reads on its receiver thread the SSL object that the
        # caller writes on, which OpenSSL does not support. Over TLS 1.3 the
        # server's session tickets come after the handshake, and OpenSSL
        # handles them with its handshake state machine (which puts a write
        # buffer in front of the socket while it runs): when the receiver
        # thread does that while this one writes the CONNECT, the CONNECT
        # can be lost though SSL_write said it was sent (the client's TCP
        # counters show it never left; a bare ssl socket with a reader
        # thread does the same). The receiver thread starts once the
        # CONNECT is written; it reads the tickets and the CONNECTED alone.
        connect_written = threading.Event()

        def receiver_after_connect(receiver_loop):
            def run():
                connect_written.wait()
                receiver_loop()
            return stomp.utils.default_create_thread(run)
        conn.transport.override_threading(receiver_after_connect)
        try:
            conn.connect(wait=False)
        finally:
            connect_written.set()
        self.addCleanup(disconnect_quietly, conn)
        r.wait(lambda: connected, what="CONNECTED")
        self.assertEqual(connected[0].headers["user-name"], KOREAN)
        conn.subscribe("/queue/김민수-메모", id="s", receipt="sub")
        r.wait_receipt("sub")
        conn.send("/queue/김민수-메모", "인증서로 로그인 🔐", receipt="m")
        r.wait(lambda: r.messages, what="the message")
        self.assertEqual(r.messages[0].body, "인증서로 로그인 🔐")

    def test_websocket_over_tls_with_the_certificate_alone(self):
        for cert, user in (("alice", "alice"), ("kim", KOREAN)):
            with self.subTest(cert=cert):
                ws = websocket.create_connection(
                    "wss://127.0.0.1:%d/ws" % self.server.tls_port, subprotocols=["v12.stomp"], timeout=10,
                    origin="https://127.0.0.1:%d" % self.server.tls_port,
                    sslopt={"ca_certs": self.certs.path("ca.pem"), "server_hostname": "localhost",
                            "certfile": self.certs.path(cert + ".pem"), "keyfile": self.certs.path(cert + ".key")})
                self.addCleanup(ws.close)
                ws.send("CONNECT\naccept-version:1.2\nhost:x\n\n\0")
                frame = ws.recv()
                self.assertTrue(frame.startswith("CONNECTED\n"), frame)
                self.assertIn("\nuser-name:%s\n" % user, frame)
        ws = websocket.create_connection(
            "wss://127.0.0.1:%d/ws" % self.server.tls_port, subprotocols=["v12.stomp"], timeout=10,
            origin="https://127.0.0.1:%d" % self.server.tls_port, sslopt={"ca_certs": self.certs.path("ca.pem"), "server_hostname": "localhost",
                    "certfile": self.certs.path("kim.pem"), "keyfile": self.certs.path("kim.key")})
        self.addCleanup(ws.close)
        ws.send("CONNECT\naccept-version:1.2\nhost:x\nlogin:alice\npasscode:%s\n\n\0" % password_of("alice"))
        frame = ws.recv()
        self.assertTrue(frame.startswith("ERROR\n"), frame)
        self.assertIn("message:the credentials name another user than the client certificate", frame)

    def test_https_rest_with_the_certificate_alone(self):
        status, body = https_get(self.server, client_context(self.certs, cert="kim"), "/api/rooms")
        self.assertEqual(status, 200, body)
        status, body = https_get(self.server, client_context(self.certs, cert="alice"), "/api/rooms",
                                 basic("bob", password_of("bob")))
        self.assertEqual((status, body["message"]), (401, "the credentials name another user than the client certificate"))
        status, body = https_get(self.server, client_context(self.certs, cert="bob"), "/api/rooms")
        self.assertEqual((status, body["message"]), (401, "this user does not sign in with a client certificate"))

    def test_no_certificate_another_ca_s_or_an_expired_one_is_refused_at_the_handshake(self):
        for cert in (None, "mallory", "expired"):
            for port in (self.server.tls_port, self.server.stomp_tls_port):
                with self.subTest(cert=cert, port=port):
                    self.assertTrue(refused(self.server, port, client_context(self.certs, cert=cert)))
        log = self.server.read_log()
        self.assertIn("refused: not issued by [server] tls_ca", log)
        self.assertIn("refused: certificate has expired", log)


class CertificateUsersOptional(unittest.TestCase):
    """tls_client_certs = optional: without a certificate the passcode
    signs in as before; with one, its user."""

    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()
        cls.server = certificate_server(cls.certs, "optional")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.certs.dir, ignore_errors=True)

    def test_without_a_certificate_the_passcode_signs_in(self):
        ctx = client_context(self.certs)
        c, f = stomp_tls(self.server, ctx, {"login": "bob", "passcode": password_of("bob")})
        self.addCleanup(c.close)
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "bob"))
        c, f = stomp_tls(self.server, ctx)
        self.addCleanup(c.close)
        self.assertEqual((f.command, f.headers.get("message")), ("ERROR", "bad credentials"))
        status, body = https_get(self.server, ctx, "/api/rooms")
        self.assertEqual(status, 401)

    def test_with_a_certificate_its_user(self):
        c, f = stomp_tls(self.server, client_context(self.certs, cert="kim"))
        self.addCleanup(c.close)
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", KOREAN))

    def test_another_ca_s_or_an_expired_certificate_is_refused_at_the_handshake(self):
        for cert in ("mallory", "expired"):
            with self.subTest(cert=cert):
                self.assertTrue(refused(self.server, self.server.stomp_tls_port, client_context(self.certs, cert=cert)))


class CertificateUsersByEmail(unittest.TestCase):
    """tls_client_user = san_email: the e-mail address of subjectAltName."""

    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()
        cls.server = certificate_server(cls.certs, "required", "san_email",
                                        {"user.kim@example.com.cert": "yes",
                                         "user.kim@example.com.password": hash_password("kim-pw")})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.certs.dir, ignore_errors=True)

    def test_the_address_names_the_user(self):
        c, f = stomp_tls(self.server, client_context(self.certs, cert="mail"))
        self.addCleanup(c.close)
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "kim@example.com"), f.headers)

    def test_a_certificate_without_an_address_names_nobody(self):
        c, f = stomp_tls(self.server, client_context(self.certs, cert="alice"),
                         {"login": "alice", "passcode": password_of("alice")})
        self.addCleanup(c.close)
        self.assertEqual((f.command, f.headers.get("message")),
                         ("ERROR", "the client certificate has no e-mail address in subjectAltName"))
        status, body = https_get(self.server, client_context(self.certs, cert="alice"), "/api/rooms",
                                 basic("alice", password_of("alice")))
        self.assertEqual((status, body["message"]),
                         (401, "the client certificate has no e-mail address in subjectAltName"))


class CertificateUsersByDnsName(unittest.TestCase):
    """tls_client_user = san_dns: the first DNS name of subjectAltName, for
    a device with no password at all."""

    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()
        cls.server = certificate_server(cls.certs, "required", "san_dns", {"user.kiosk-7.example.com.cert": "yes"})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.certs.dir, ignore_errors=True)

    def test_the_first_dns_name_names_the_user(self):
        c, f = stomp_tls(self.server, client_context(self.certs, cert="kiosk"))
        self.addCleanup(c.close)
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "kiosk-7.example.com"))
        c, f = stomp_tls(self.server, client_context(self.certs, cert="kiosk"), {"login": "spare.example.com"})
        self.addCleanup(c.close)
        self.assertEqual((f.command, f.headers.get("message")),
                         ("ERROR", "the credentials name another user than the client certificate"))


JWT_SECRET = "a-test-secret-of-32-bytes-length!"


def hs256(sub):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": sub, "roles": ["user"], "exp": int(time.time()) + 600}).encode())
    sig = hmac.new(JWT_SECRET.encode(), ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64(sig))


class CertificateWithJwt(unittest.TestCase):
    """auth-jwt reads no certificate: the token stays required, and the
    host refuses a token whose subject is not the certificate's user."""

    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()
        srv = tls_server(cls.certs, {"tls_ca": cls.certs.path("ca.pem"), "tls_client_certs": "required",
                                     "tls_client_user": "cn"})
        srv.sections["auth"] = {"plugin": "jwt", "algorithm": "HS256", "secret": JWT_SECRET}
        srv.write_config()
        cls.server = start(srv)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.certs.dir, ignore_errors=True)

    def connect(self, cert, token=None):
        c, f = stomp_tls(self.server, client_context(self.certs, cert=cert),
                         {"Authorization": "Bearer " + token} if token else None)
        self.addCleanup(c.close)
        return f

    def test_the_token_of_the_certificate_s_user(self):
        f = self.connect("kim", hs256(KOREAN))
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", KOREAN))

    def test_a_token_of_another_user_is_refused(self):
        f = self.connect("alice", hs256("bob"))
        self.assertEqual((f.command, f.headers.get("message")),
                         ("ERROR", "the credentials name another user than the client certificate"))
        self.assertIn("sign-in as 'bob' refused: the client certificate names 'alice'", self.server.read_log())
        status, body = https_get(self.server, client_context(self.certs, cert="alice"), "/api/rooms",
                                 "Bearer " + hs256("bob"))
        self.assertEqual((status, body["message"]), (401, "the credentials name another user than the client certificate"))
        status, body = https_get(self.server, client_context(self.certs, cert="alice"), "/api/rooms",
                                 "Bearer " + hs256("alice"))
        self.assertEqual(status, 200, body)

    def test_the_certificate_alone_is_not_enough(self):
        f = self.connect("alice")
        self.assertEqual((f.command, f.headers.get("message")), ("ERROR", "missing token"))


class Reload(unittest.TestCase):
    """user.NAME.cert changes with a reload; tls_client_user needs a restart."""

    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()
        cls.server = certificate_server(cls.certs, "required")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.certs.dir, ignore_errors=True)

    def sighup(self):
        offset = len(self.server.read_log())
        self.server.proc.send_signal(signal.SIGHUP)

        def outcome():
            for line in self.server.read_log()[offset:].splitlines():
                if "configuration reloaded" in line or "reload refused" in line:
                    return line
            return None
        return wait_for(outcome, what="the reload's outcome in the log")

    def test_opting_in_live_and_the_rule_only_at_a_restart(self):
        ctx = client_context(self.certs, cert="bob")
        open_one, f = stomp_tls(self.server, ctx, {"login": "bob", "passcode": password_of("bob")})
        self.addCleanup(open_one.close)
        self.assertEqual(f.command, "CONNECTED")
        c, f = stomp_tls(self.server, ctx)
        self.addCleanup(c.close)
        self.assertEqual(f.command, "ERROR")

        self.server.sections["server"]["tls_client_user"] = "san_dns"
        self.server.write_config()
        self.assertIn("[server] tls_client_user", self.sighup())

        self.server.sections["server"]["tls_client_user"] = "cn"
        self.server.sections["auth"]["user.bob.cert"] = "yes"
        self.server.write_config()
        self.assertIn("configuration reloaded", self.sighup())
        c, f = stomp_tls(self.server, ctx)
        self.addCleanup(c.close)
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "bob"))
        # The session opened before the reload is still there.
        open_one.send("SUBSCRIBE", {"id": "s", "destination": "/queue/bob-고양이", "receipt": "r"})
        self.assertEqual(open_one.expect("RECEIPT").headers["receipt-id"], "r")


class Revocation(unittest.TestCase):
    """[server] tls_crl: a revoked client certificate ends the handshake;
    a reload reads the CRL file again for the handshakes after it."""

    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()
        d = cls.certs.dir
        for name in ("laptop", "phone", "tablet"):
            tls_certs.issue_listed(d, "ca", name, "/CN=alice")
        tls_certs.revoke(d, "ca", "phone")
        tls_certs.crl(d, "ca", cls.certs.path("live.crl"))
        srv = tls_server(cls.certs, {"tls_ca": cls.certs.path("ca.pem"), "tls_client_certs": "required",
                                     "tls_client_user": "cn", "tls_crl": cls.certs.path("live.crl")})
        cert_users(srv.sections, {})
        srv.write_config()
        cls.server = start(srv)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.certs.dir, ignore_errors=True)

    def sighup(self):
        offset = len(self.server.read_log())
        self.server.proc.send_signal(signal.SIGHUP)

        def outcome():
            for line in self.server.read_log()[offset:].splitlines():
                if "configuration reloaded" in line or "reload refused" in line:
                    return line
            return None
        return wait_for(outcome, what="the reload's outcome in the log"), offset

    def signs_in(self, cert):
        c, f = stomp_tls(self.server, client_context(self.certs, cert=cert))
        self.addCleanup(c.close)
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "alice"))
        return c

    def test_a_revoked_certificate_is_refused_and_the_others_sign_in(self):
        for cert in ("alice", "laptop"):
            with self.subTest(cert=cert):
                self.signs_in(cert)
        for port in (self.server.tls_port, self.server.stomp_tls_port):
            self.assertTrue(refused(self.server, port, client_context(self.certs, cert="phone")))
        self.assertIn("refused: certificate revoked", self.server.read_log())

    def test_a_reload_reads_the_crl_again(self):
        ended = self.signs_in("tablet")
        kept = self.signs_in("laptop")
        ws = websocket.create_connection(
            "wss://127.0.0.1:%d/ws" % self.server.tls_port, subprotocols=["v12.stomp"], timeout=10,
            origin="https://127.0.0.1:%d" % self.server.tls_port,
            sslopt={"ca_certs": self.certs.path("ca.pem"), "server_hostname": "localhost",
                    "certfile": self.certs.path("tablet.pem"), "keyfile": self.certs.path("tablet.key")})
        self.addCleanup(ws.close)
        ws.send("CONNECT\naccept-version:1.2\nhost:x\n\n\0")
        self.assertTrue(ws.recv().startswith("CONNECTED\n"))
        tls_certs.revoke(self.certs.dir, "ca", "tablet")
        tls_certs.crl(self.certs.dir, "ca", self.certs.path("next.crl"))
        os.replace(self.certs.path("next.crl"), self.certs.path("live.crl"))
        line, offset = self.sighup()
        self.assertIn("configuration reloaded", line)
        self.assertIn("1 CRL", line)
        wait_for(lambda: "TLS certificate reloaded for 2 listeners" in self.server.read_log()[offset:],
                 what="the gateway's TLS contexts updated")
        self.assertTrue(refused(self.server, self.server.stomp_tls_port, client_context(self.certs, cert="tablet")))
        # The connections of the revoked certificate end (STOMP over TLS and
        # over WebSocket); another certificate's stays, signed in.
        f = ended.read()
        self.assertEqual((f.command, f.headers.get("message")), ("ERROR", "client certificate revoked"))
        self.assertTrue(ended.wait_closed())
        frame = ws.recv()
        self.assertTrue(frame.startswith("ERROR\n"), frame)
        self.assertIn("\nmessage:client certificate revoked\n", frame)
        self.assertIn("2 connections closed: their client certificates are revoked", self.server.read_log())
        kept.send("SUBSCRIBE", {"id": "s", "destination": "/queue/노트북", "receipt": "r"})
        self.assertEqual(kept.expect("RECEIPT").headers["receipt-id"], "r")
        # A broken CRL file refuses the reload; the lists in use stay.
        shutil.copy(self.certs.path("ca.pem"), self.certs.path("live.crl"))
        line, _ = self.sighup()
        self.assertIn("reload refused", line)
        self.assertIn("[server] tls_crl: ", line)
        self.assertIn("holds no PEM certificate revocation list", line)
        self.signs_in("laptop")
        self.assertTrue(refused(self.server, self.server.stomp_tls_port, client_context(self.certs, cert="phone")))


class CheckConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs.dir, ignore_errors=True)

    def sections(self, server=None, auth=None):
        srv = tls_server(self.certs, {"tls_ca": self.certs.path("ca.pem"), "tls_client_certs": "required",
                                      "tls_client_user": "cn"})
        s = srv.sections
        srv.cleanup()
        for k, v in (server or {}).items():
            if v is None:
                s["server"].pop(k, None)
            else:
                s["server"][k] = v
        s["auth"].update(auth or {})
        return s

    def refused_with(self, sections, start):
        p, path = check(sections)
        self.assertNotEqual(p.returncode, 0)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith(path + ": " + start), lines[0])

    def test_good(self):
        tls_certs.crl(self.certs.dir, "ca", self.certs.path("good.crl"))
        p, _ = check(self.sections({"tls_crl": self.certs.path("good.crl")}))
        self.assertEqual(p.returncode, 0, p.stderr)
        for rule in ("off", "cn", "san_email", "san_dns"):
            with self.subTest(rule=rule):
                p, _ = check(self.sections({"tls_client_user": rule}, {"user.alice.cert": "yes",
                                                                       "user.김민수.cert": "yes"}))
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_bad(self):
        self.refused_with(self.sections({"tls_client_user": "uid"}),
                          "[server] tls_client_user: expected off, cn, san_email or san_dns; got 'uid'")
        self.refused_with(self.sections({"tls_client_certs": None, "tls_ca": None}),
                          "[server] tls_client_user: set, but tls_client_certs is off")
        self.refused_with(self.sections({"tls_listen": None, "stomp_tls_listen": None, "tls_cert": None,
                                         "tls_key": None, "tls_ca": None, "tls_client_certs": None}),
                          "[server] tls_client_user: set, but neither tls_listen nor stomp_tls_listen is")
        missing = self.certs.path("nowhere.crl")
        self.refused_with(self.sections({"tls_crl": missing}), "[server] tls_crl: cannot read the CRL file")
        self.refused_with(self.sections({"tls_crl": self.certs.path("ca.pem")}),
                          "[server] tls_crl: '%s' holds no PEM certificate revocation list" % self.certs.path("ca.pem"))
        tls_certs.crl(self.certs.dir, "rogue-ca", self.certs.path("rogue.crl"))
        self.refused_with(self.sections({"tls_crl": self.certs.path("rogue.crl")}),
                          "[server] tls_crl: the CRL of '/CN=rogue-ca' in '%s' is not signed by a CA of tls_ca"
                          % self.certs.path("rogue.crl"))
        tls_certs.crl(self.certs.dir, "ca", self.certs.path("ca.crl"))
        self.refused_with(self.sections({"tls_client_certs": None, "tls_ca": None, "tls_client_user": None,
                                         "tls_crl": self.certs.path("ca.crl")}),
                          "[server] tls_crl: set, but tls_client_certs is off")
        self.refused_with(self.sections(auth={"user.alice.cert": "maybe"}),
                          "[auth] user.alice.cert: expected yes or no; got 'maybe'")
        self.refused_with(self.sections(auth={"user.carol.cert": "no", "user.carol.roles": "user"}),
                          "[auth] user.carol.password: missing: every user needs a password hash (or cert = yes)")


if __name__ == "__main__":
    unittest.main()
