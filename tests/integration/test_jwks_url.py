"""auth-jwt `jwks_url`: keys fetched over HTTPS from an issuer (here a
private HTTPS server on loopback with a throwaway CA), refreshed when the
document's max-age runs out, fetched again at once for a token naming a kid
not known yet (a rotated key), kept while the issuer is down or answers
nonsense, and refused from a server whose certificate is not trusted."""
import http.server
import json
import os
import shutil
import ssl
import tempfile
import threading
import unittest

from chatd_harness import Chatd, wait_for
from test_jwt import Tokens, assert_config_error, check_config, ec_jwk, gen_keys, rsa_jwk
from tls_certs import Certs


class Issuer:
    """An HTTPS server on 127.0.0.1 answering GET /jwks.json with `doc`,
    `status` and `cache_control` as they are at the time of the request."""

    def __init__(self, certs):
        self.doc = {"keys": []}
        self.status = 200
        self.cache_control = "max-age=3600"
        self.requests = 0
        self.lock = threading.Lock()
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with issuer.lock:
                    issuer.requests += 1
                    body = issuer.doc if isinstance(issuer.doc, bytes) else json.dumps(issuer.doc).encode()
                    status, cc = issuer.status, issuer.cache_control
                if self.path != "/jwks.json":
                    status, body = 404, b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if cc:
                    self.send_header("Cache-Control", cc)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that gives up the TLS handshake (the untrusted case)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs.path("server.pem"), certs.path("server.key"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = "https://127.0.0.1:%d/jwks.json" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def set(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, v)

    def count(self):
        with self.lock:
            return self.requests

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class IssuerFixture(Tokens):
    """A chatd whose [auth] takes its keys from a private issuer, trusting
    the CA named `trusted` (the one that signed the issuer's certificate,
    or not); `auth` adds to the section, `ready` is awaited in the log."""
    trusted = "ca.pem"
    auth = {}
    ready = "jwks_url: "

    @classmethod
    def setUpClass(cls):
        cls.keys = tempfile.mkdtemp(prefix="chatd-jwks-url-")
        gen_keys(cls.keys)
        cls.certs = Certs(tempfile.mkdtemp(prefix="chatd-jwks-url-certs-"))
        cls.rsa = rsa_jwk(cls.keys + "/rsa.pub", "u-rsa")
        cls.ec2 = ec_jwk(cls.keys + "/ec2.pub", "u-ec2")
        cls.issuer = Issuer(cls.certs)
        cls.issuer.set(doc={"keys": [cls.rsa, {"kty": "oct", "kid": "passed-over", "k": "c2VjcmV0"}]})

        def edit(s):
            s["auth"] = dict({"plugin": "jwt", "jwks_url": cls.issuer.url, "jwks_ca": cls.certs.path(cls.trusted),
                              "jwks_min_refresh": "1s", "jwks_timeout": "2s"}, **cls.auth)
            s["server"]["log_level"] = "debug"
        cls.server = Chatd(edit).start()
        wait_for(lambda: cls.ready in cls.server.read_log(), what=cls.ready)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.issuer.stop()
        shutil.rmtree(cls.keys, ignore_errors=True)
        shutil.rmtree(cls.certs.dir, ignore_errors=True)


class JwksUrl(IssuerFixture, unittest.TestCase):
    auth = {"issuer": "chatd-test", "audience": "chat"}
    ready = "jwks_url: 1 key(s)"

    def setUp(self):
        self.issuer.set(status=200, cache_control="max-age=3600")

    def test_keys_from_the_url_are_used_and_pinned(self):
        self.assert_connected(self.token("RS256", "u-rsa", pem="rsa", name="김민수 🙂"))
        self.assertEqual(self.rest(self.token("RS256", "u-rsa", pem="rsa"))[0], 200)
        self.assert_refused(self.token("RS256", "u-rsa", pem="rsa2"), "invalid signature")
        self.assert_refused(self.token("ES256", "u-rsa", pem="ec"), "algorithm not allowed")

    def test_a_rotated_key_is_fetched_for_the_first_token_that_names_it(self):
        self.issuer.set(doc={"keys": [self.rsa, self.ec2]})
        token = self.token("ES256", "u-ec2", pem="ec2", sub="bob", roles=["user"])
        # The first token naming the new kid waits for a fetch and passes; a
        # fetch is made at most once per jwks_min_refresh (1s), so one made
        # by another test just before is awaited out.
        wait_for(lambda: self.connect(token)[1].command == "CONNECTED", what="the rotated key")
        self.assertIn("a token names a key not known yet: fetching", self.server.read_log())
        # A kid the fresh document does not have either: refused.
        self.assert_refused(self.token("ES256", "u-nope", pem="ec2"), "unknown key id")

    def test_max_age_refreshes_in_the_background(self):
        self.issuer.set(cache_control="public, max-age=1")
        # a fetch (for a kid nobody has) reads max-age=1 ...
        n = self.issuer.count()
        wait_for(lambda: self.connect(self.token("ES256", "u-late", pem="ec2"))[1] is not None
                 and self.issuer.count() > n, what="a fetch")
        # ... and the next comes by itself, a second later
        m = self.issuer.count()
        wait_for(lambda: self.issuer.count() > m, what="the refresh")
        self.assertIn("fetched again in 1s", self.server.read_log())

    def test_the_last_keys_stay_while_the_issuer_fails(self):
        self.issuer.set(status=500, cache_control="max-age=1")
        failed = self.server.read_log().count("jwks_url: HTTP status 500")
        # a kid-miss fetch meets the failure
        wait_for(lambda: self.connect(self.token("ES256", "u-gone", pem="ec2"))[1] is not None
                 and self.server.read_log().count("jwks_url: HTTP status 500") > failed, what="a failed fetch")
        self.assertIn("the keys of the last fetch stay", self.server.read_log())
        self.assert_connected(self.token("RS256", "u-rsa", pem="rsa"))
        # nonsense and an oversized document are failures too
        for doc, why in ((b"not json", "not JSON"), ({"keys": [{"kty": "oct", "kid": "x", "k": "c2VjcmV0"}]},
                                                       "no usable key"),
                         (b"{" + b" " * (1024 * 1024 + 10) + b"}", "")):
            with self.subTest(why=why or "too large"):
                self.issuer.set(status=200, doc=doc)
                seen = self.server.read_log().count("jwks_url: ")
                wait_for(lambda: self.connect(self.token("ES256", "u-none", pem="ec2"))[1] is not None
                         and self.server.read_log().count("jwks_url: ") > seen, what="the next fetch")
                if why:
                    wait_for(lambda: why in self.server.read_log(), what=why)
                self.assert_connected(self.token("RS256", "u-rsa", pem="rsa"))
        self.issuer.set(doc={"keys": [self.rsa, self.ec2]})


class JwksUrlUnreachable(IssuerFixture, unittest.TestCase):
    """No key was ever fetched: a token is answered `authentication
    unavailable` (retry later), not refused; an issuer whose certificate
    no trusted CA signed is never believed."""
    trusted = "rogue-ca.pem"  # which did not sign the issuer's certificate
    ready = "jwks_url: TLS"

    def test_untrusted_issuer_gives_no_key(self):
        self.assertIn("certificate verify failed", self.server.read_log())
        self.assert_refused(self.token("RS256", "u-rsa", pem="rsa"), "authentication unavailable")


class JwksUrlConfig(unittest.TestCase):
    def assert_error(self, auth, *parts):
        assert_config_error(self, auth, *parts)

    def test_bad_settings_are_one_line_each(self):
        url = "https://127.0.0.1:1/jwks.json"
        self.assert_error({"plugin": "jwt", "jwks_url": "http://127.0.0.1/jwks.json"}, "jwks_url",
                          "expected an https:// URL")
        self.assert_error({"plugin": "jwt", "jwks_url": "not a url"}, "jwks_url")
        self.assert_error({"plugin": "jwt", "algorithm": "HS256", "secret": "x" * 32, "jwks_timeout": "2s"},
                          "jwks_timeout", "only used with jwks_url")
        self.assert_error({"plugin": "jwt", "jwks_url": url, "jwks_ca": "/nonexistent/ca.pem"}, "jwks_ca",
                          "cannot read the CA certificates")
        self.assert_error({"plugin": "jwt", "jwks_url": url, "jwks_min_refresh": "7200s", "jwks_max_age": "3600s"},
                          "jwks_min_refresh", "above jwks_max_age")
        self.assert_error({"plugin": "jwt", "jwks_url": url, "jwks_timeout": "forever"}, "jwks_timeout")

    def test_url_alone_is_enough(self):
        rc, err, out = check_config({"plugin": "jwt", "jwks_url": "https://issuer.example/.well-known/jwks.json"})
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main()
