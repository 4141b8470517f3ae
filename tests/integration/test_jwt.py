"""auth-jwt: good tokens connect (STOMP and REST); every forged, stale or
misdirected one is refused with a clear ERROR and its connection closed."""
import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request
import urllib.error

from chatd_harness import CHATD_BIN, Chatd
from raw_stomp import RawStomp

SECRET = "a-test-secret-of-32-bytes-length!"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_to_raw(der, size=32):
    """An ECDSA DER signature (SEQUENCE of two INTEGERs) as JOSE's r || s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(size, b"\0")
        i += 2 + n
    return out


class Jwt(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keys = tempfile.mkdtemp(prefix="chatd-jwt-")
        k = cls.keys
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k + "/rsa.pem")
        run("openssl", "pkey", "-in", k + "/rsa.pem", "-pubout", "-out", k + "/rsa.pub")
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", k + "/ec.pem")
        run("openssl", "pkey", "-in", k + "/ec.pem", "-pubout", "-out", k + "/ec.pub")

        def edit(s):
            s["auth"] = {"plugin": "jwt", "algorithm": "HS256", "secret": SECRET,
                         "key.rsa1.algorithm": "RS256", "key.rsa1.public_key": k + "/rsa.pub",
                         "key.ec1.algorithm": "ES256", "key.ec1.public_key": k + "/ec.pub",
                         "issuer": "chatd-test", "audience": "chat", "leeway": "5"}
        cls.server = Chatd(edit).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.keys, ignore_errors=True)

    def claims(self, **over):
        now = int(time.time())
        c = {"sub": "alice", "name": "Alice", "roles": ["user"], "iss": "chatd-test", "aud": "chat",
             "iat": now, "exp": now + 600}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def token(self, alg="HS256", kid=None, key=None, header=None, **claims):
        h = header or {"alg": alg, "typ": "JWT"}
        if kid:
            h["kid"] = kid
        signing = (b64(json.dumps(h).encode()) + "." + b64(json.dumps(self.claims(**claims)).encode())).encode()
        if alg.startswith("HS"):
            digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}[alg]
            sig = hmac.new(key if key is not None else SECRET.encode(), signing, digest).digest()
        elif alg in ("RS256", "ES256"):
            pem = self.keys + ("/rsa.pem" if alg == "RS256" else "/ec.pem")
            sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pem], input=signing, check=True,
                                 capture_output=True).stdout
            if alg == "ES256":
                sig = der_to_raw(sig)
        else:
            sig = b""
        return signing.decode() + "." + b64(sig)

    def connect(self, token, bearer=True):
        c = RawStomp(self.server.stomp_port)
        self.addCleanup(c.close)
        h = {"accept-version": "1.2", "host": "x"}
        if token is not None:
            if bearer:
                h["Authorization"] = "Bearer " + token
            else:
                h["login"] = "x"
                h["passcode"] = token
        c.send("CONNECT", h)
        return c, c.read()

    def assert_refused(self, token, why, bearer=True):
        c, f = self.connect(token, bearer)
        self.assertIsNotNone(f)
        self.assertEqual((f.command, f.headers.get("message")), ("ERROR", why))
        self.assertTrue(c.wait_closed(), "session left open")

    def test_good_tokens(self):
        for alg, kid in (("HS256", None), ("RS256", "rsa1"), ("ES256", "ec1")):
            with self.subTest(alg=alg):
                c, f = self.connect(self.token(alg, kid))
                self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "alice"))
        c, f = self.connect(self.token(), bearer=False)  # the token as passcode
        self.assertEqual(f.command, "CONNECTED")

    def test_roles_and_rest(self):
        def get(token, path):
            req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.server.http_port, path),
                                         headers={"Authorization": "Bearer " + token})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code
        agent = self.token(sub="agent7", roles=["agent"])
        self.assertEqual(get(agent, "/api/rooms?scope=unassigned"), 200)
        self.assertEqual(get(self.token(), "/api/rooms?scope=unassigned"), 403)
        self.assertEqual(get(self.token(exp=int(time.time()) - 100), "/api/rooms"), 401)

    def test_forged_and_stale_tokens_are_refused(self):
        now = int(time.time())
        none = self.token("none", header={"alg": "none"})
        cases = [
            ("alg none without signature", none.rsplit(".", 1)[0] + ".", "unsigned tokens are refused"),
            ("alg none with a signature", none.rsplit(".", 1)[0] + "." + b64(b"sig"), "unsigned tokens are refused"),
            ("HS256 keyed with the RSA public key",
             self.token("HS256", "rsa1", key=open(self.keys + "/rsa.pub", "rb").read()), "algorithm not allowed"),
            ("another algorithm than the pinned one", self.token("HS384"), "algorithm not allowed"),
            ("expired", self.token(exp=now - 100), "token expired"),
            ("not yet valid", self.token(nbf=now + 300), "token not yet valid"),
            ("missing exp", self.token(exp=None), "token has no exp"),
            ("wrong issuer", self.token(iss="someone-else"), "wrong issuer"),
            ("wrong audience", self.token(aud="other"), "wrong audience"),
            ("unknown kid", self.token("RS256", "nope"), "unknown key id"),
            ("path-like kid", self.token("RS256", "../../etc/passwd"), "unknown key id"),
            ("garbage", "not.a.token", "malformed token"),
        ]
        good = self.token()
        head, payload, sig = good.split(".")
        forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
        forged["sub"] = "mallory"
        cases.append(("tampered payload", head + "." + b64(json.dumps(forged).encode()) + "." + sig,
                      "invalid signature"))
        for name, token, why in cases:
            with self.subTest(name):
                self.assert_refused(token, why)
        with self.subTest("empty passcode"):
            self.assert_refused("", "missing token", bearer=False)
        with self.subTest("no credentials"):
            self.assert_refused(None, "missing token")

    def test_expiry_closes_the_session(self):
        c, f = self.connect(self.token(exp=int(time.time()) + 2))
        self.assertEqual(f.command, "CONNECTED")
        err = c.expect("ERROR", timeout=10)
        self.assertEqual(err.headers["message"], "token expired")
        self.assertTrue(c.wait_closed())

    def test_refresh_in_time_keeps_it_open(self):
        c, f = self.connect(self.token(exp=int(time.time()) + 2))
        self.assertEqual(f.command, "CONNECTED")
        c.send("SEND", {"destination": "/app/session/refresh", "receipt": "fresh"},
               self.token(exp=int(time.time()) + 600))
        self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "fresh")
        # Past the first token's expiry: nothing arrives, nothing closes.
        self.assertIsNone(c.read(timeout=4))
        self.assertFalse(c.closed)
        c.send("SUBSCRIBE", {"id": "1", "destination": "/topic/support/queue", "receipt": "alive"})
        self.assertEqual(c.read().command, "ERROR")  # alice is no agent: proves the session still answers

    def test_refresh_for_another_user_is_refused(self):
        c, f = self.connect(self.token())
        c.send("SEND", {"destination": "/app/session/refresh", "receipt": "r"}, self.token(sub="mallory"))
        err = c.expect("ERROR")
        self.assertEqual(err.headers["message"], "token is for another user")
        self.assertTrue(c.wait_closed())

    def test_chatd_token_mints_a_working_token(self):
        tool = os.path.join(os.path.dirname(CHATD_BIN), "chatd-token")
        p = subprocess.run([tool, "--user", "bob", "--role", "agent", "--iss", "chatd-test", "--aud", "chat",
                            "--ttl", "60"], env=dict(os.environ, CHAT_JWT_SECRET=SECRET), capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        c, f = self.connect(p.stdout.strip())
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "bob"))


if __name__ == "__main__":
    unittest.main()
