"""auth-jwt: good tokens connect (STOMP and REST); every forged, stale or
misdirected one is refused with a clear ERROR and its connection closed.
Keys from the ini and from a JWKS file; the Redis revocation list of jti
values (logout), which fails closed when Redis is down or hung."""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request
import urllib.error
import uuid

from chatd_harness import CHATD_BIN, Chatd, default_sections, render_ini, wait_for
from raw_stomp import RawStomp
from servers import Redis

SECRET = "a-test-secret-of-32-bytes-length!"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64_int(n):
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def openssl(*args, input=None):
    return subprocess.run(("openssl",) + args, input=input, check=True, capture_output=True).stdout


def text_hex(text, label):
    """The colon-separated hex block after `label:` in `openssl ... -text`."""
    m = re.search(r"^%s:?\n((?:[ \t]+[0-9a-f:]+\n)+)" % re.escape(label), text, re.M)
    return bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))


def rsa_jwk(pub, kid, alg="RS256"):
    """A JWK of the RSA public key in PEM file `pub`, from openssl's numbers."""
    text = openssl("rsa", "-pubin", "-in", pub, "-noout", "-text").decode()
    n = int.from_bytes(text_hex(text, "Modulus"), "big")
    e = int(re.search(r"Exponent: (\d+)", text).group(1))
    jwk = {"kty": "RSA", "kid": kid, "use": "sig", "n": b64_int(n), "e": b64_int(e)}
    if alg:
        jwk["alg"] = alg
    return jwk


def ec_jwk(pub, kid, alg=None):
    """A JWK of the P-256 public key in PEM file `pub`."""
    point = text_hex(openssl("ec", "-pubin", "-in", pub, "-noout", "-text").decode(), "pub")
    assert point[0] == 4 and len(point) == 65, point.hex()
    jwk = {"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(point[1:33]), "y": b64(point[33:])}
    if alg:
        jwk["alg"] = alg
    return jwk


def gen_keys(k):
    """RSA and EC P-256 key pairs in dir k: NAME.pem (private), NAME.pub."""
    for name, algo, opt in (("rsa", "RSA", "rsa_keygen_bits:2048"), ("ec", "EC", "ec_paramgen_curve:P-256"),
                            ("rsa2", "RSA", "rsa_keygen_bits:2048"), ("ec2", "EC", "ec_paramgen_curve:P-256")):
        openssl("genpkey", "-algorithm", algo, "-pkeyopt", opt, "-out", "%s/%s.pem" % (k, name))
        openssl("pkey", "-in", "%s/%s.pem" % (k, name), "-pubout", "-out", "%s/%s.pub" % (k, name))


def redis_cmd(port, *args):
    """One command to redis on port; the raw first line of the reply."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(out)
        return s.recv(4096).split(b"\r\n")[0].decode()


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


class Tokens:
    """Mint tokens and present them; needs self.keys (a gen_keys dir) and
    self.server."""

    def claims(self, **over):
        now = int(time.time())
        c = {"sub": "alice", "name": "Alice", "roles": ["user"], "iss": "chatd-test", "aud": "chat",
             "iat": now, "exp": now + 600}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def token(self, alg="HS256", kid=None, key=None, header=None, pem=None, **claims):
        """pem: the private key (a name in self.keys) for RS256/ES256, by
        default rsa / ec; a header `alg` that differs from the key's type
        signs with the key's own algorithm."""
        h = header or {"alg": alg, "typ": "JWT"}
        if kid:
            h["kid"] = kid
        signing = (b64(json.dumps(h).encode()) + "." + b64(json.dumps(self.claims(**claims)).encode())).encode()
        if alg.startswith("HS"):
            digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}[alg]
            sig = hmac.new(key if key is not None else SECRET.encode(), signing, digest).digest()
        elif alg in ("RS256", "ES256"):
            pem = pem or ("rsa" if alg == "RS256" else "ec")
            sig = openssl("dgst", "-sha256", "-sign", "%s/%s.pem" % (self.keys, pem), input=signing)
            if pem.startswith("ec"):
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

    def assert_connected(self, token, user="alice"):
        c, f = self.connect(token)
        self.assertIsNotNone(f)
        self.assertEqual((f.command, f.headers.get("user-name"), f.headers.get("message")),
                         ("CONNECTED", user, None))
        return c

    def rest(self, token, path="/api/rooms"):
        """(status, JSON body) of a GET with the bearer token."""
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.server.http_port, path),
                                     headers={"Authorization": "Bearer " + token})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


class Jwt(Tokens, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keys = tempfile.mkdtemp(prefix="chatd-jwt-")
        k = cls.keys
        gen_keys(k)
        # A JWKS file next to the ini's key table: RS256 pinned by `alg`, the
        # EC key's ES256 by its type.
        cls.jwks = k + "/keys.json"
        with open(cls.jwks, "w") as f:
            json.dump({"keys": [rsa_jwk(k + "/rsa2.pub", "jwks-rsa"), ec_jwk(k + "/ec2.pub", "jwks-ec")]}, f)

        def edit(s):
            s["auth"] = {"plugin": "jwt", "algorithm": "HS256", "secret": SECRET,
                         "key.rsa1.algorithm": "RS256", "key.rsa1.public_key": k + "/rsa.pub",
                         "key.ec1.algorithm": "ES256", "key.ec1.public_key": k + "/ec.pub",
                         "jwks": cls.jwks, "admin_role": "privacy-officer",
                         "issuer": "chatd-test", "audience": "chat", "leeway": "5"}
        cls.server = Chatd(edit).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.keys, ignore_errors=True)

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
        # `supervisor` in the claim: the desk's overview, which agents do not get.
        supervisor = self.token(sub="lead1", roles=["supervisor"])
        self.assertEqual(get(supervisor, "/api/support/overview"), 200)
        self.assertEqual(get(supervisor, "/api/rooms?scope=unassigned"), 200)
        self.assertEqual(get(agent, "/api/support/overview"), 403)
        self.assertEqual(get(self.token(sub="lead2", roles=["agent", "supervisor"]), "/api/support/overview"), 200)
        self.assertEqual(get(self.token(sub="lead3", roles="supervisor"), "/api/support/overview"), 200)
        self.assertEqual(get(self.token(exp=int(time.time()) - 100), "/api/rooms"), 401)

    def test_admin_role_only_as_configured(self):
        """`admin` in the roles claim still makes an agent, not an admin; the
        configured admin_role value makes an admin (who may erase users'
        data) and nothing more."""
        def delete(token, path):
            req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.server.http_port, path),
                                         headers={"Authorization": "Bearer " + token}, method="DELETE")
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())
        seed_admin = self.token(sub="boss", roles=["admin"])
        self.assertEqual(self.rest(seed_admin, "/api/rooms?scope=unassigned")[0], 200)
        self.assertEqual(delete(seed_admin, "/api/users/nobody")[0], 403)
        officer = self.token(sub="officer", roles=["privacy-officer"])
        self.assertEqual(delete(officer, "/api/users/nobody"),
                         (200, {"user": "nobody", "rooms_deleted": 0, "messages_erased": 0,
                                "memberships_removed": 0}))
        self.assertEqual(self.rest(officer, "/api/rooms?scope=unassigned")[0], 403)
        self.assertEqual(delete(self.token(), "/api/users/nobody")[0], 403)

    def test_forged_and_stale_tokens_are_refused(self):
        now = int(time.time())
        none = self.token("none", header={"alg": "none"})
        with open(self.keys + "/rsa.pub", "rb") as f:
            rsa_pub = f.read()
        cases = [
            ("alg none without signature", none.rsplit(".", 1)[0] + ".", "unsigned tokens are refused"),
            ("alg none with a signature", none.rsplit(".", 1)[0] + "." + b64(b"sig"), "unsigned tokens are refused"),
            ("HS256 keyed with the RSA public key",
             self.token("HS256", "rsa1", key=rsa_pub), "algorithm not allowed"),
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

    def test_chatd_token_roles(self):
        """--role lists the roles claim: with admin_role = privacy-officer,
        such a token erases users' data and is an agent as listed."""
        tool = os.path.join(os.path.dirname(CHATD_BIN), "chatd-token")

        def mint(*args):
            return subprocess.run([tool, "--user", "officer", "--iss", "chatd-test", "--aud", "chat", *args],
                                  env=dict(os.environ, CHAT_JWT_SECRET=SECRET), capture_output=True, text=True,
                                  timeout=10)
        p = mint("--role", "agent,privacy-officer")
        self.assertEqual(p.returncode, 0, p.stderr)
        token = p.stdout.strip()
        req = urllib.request.Request("http://127.0.0.1:%d/api/users/nobody" % self.server.http_port,
                                     headers={"Authorization": "Bearer " + token}, method="DELETE")
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.status, 200)
        self.assertEqual(self.rest(token, "/api/rooms?scope=unassigned")[0], 200)  # an agent too
        for bad in ("", "agent,", ",agent", 'x"y', "a b"):
            p = mint("--role", bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("--role", p.stderr)

    def test_jwks_keys_are_accepted(self):
        for alg, kid, pem in (("RS256", "jwks-rsa", "rsa2"), ("ES256", "jwks-ec", "ec2")):
            with self.subTest(kid=kid):
                self.assert_connected(self.token(alg, kid, pem=pem))
                self.assertEqual(self.rest(self.token(alg, kid, pem=pem))[0], 200)

    def test_jwks_keys_are_pinned(self):
        with open(self.keys + "/rsa2.pub", "rb") as f:
            rsa_pub = f.read()
        cases = [
            # The RSA key's signature under the EC key's kid: ES256 is pinned there.
            ("RSA-signed, claiming the EC kid", self.token("RS256", "jwks-ec", pem="rsa2"), "algorithm not allowed"),
            ("EC-signed, claiming the RSA kid", self.token("ES256", "jwks-rsa", pem="ec2"), "algorithm not allowed"),
            ("ES256 header, RSA signature, EC kid",
             self.token("ES256", "jwks-ec", pem="rsa2"), "invalid signature"),
            ("HS256 keyed with the JWKS RSA key", self.token("HS256", "jwks-rsa", key=rsa_pub),
             "algorithm not allowed"),
            ("another RSA key under the JWKS kid", self.token("RS256", "jwks-rsa", pem="rsa"), "invalid signature"),
            ("the JWKS key under an ini kid", self.token("RS256", "rsa1", pem="rsa2"), "invalid signature"),
            ("another EC key under the JWKS kid", self.token("ES256", "jwks-ec", pem="ec"), "invalid signature"),
            ("unknown kid", self.token("RS256", "jwks-nope", pem="rsa2"), "unknown key id"),
            ("path-like kid", self.token("RS256", "../jwks-rsa", pem="rsa2"), "unknown key id"),
            ("absolute path kid", self.token("RS256", self.jwks, pem="rsa2"), "unknown key id"),
            ("kid too long", self.token("RS256", "k" * 65, pem="rsa2"), "unknown key id"),
        ]
        for name, token, why in cases:
            with self.subTest(name):
                self.assert_refused(token, why)


def check_config(auth):
    """chatd --check-config with this [auth] section: (returncode, stderr, stdout)."""
    sections = default_sections(1, 2)
    sections["auth"] = auth
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "chat.ini")
        with open(path, "w") as f:
            f.write(render_ini(sections))
        p = subprocess.run([CHATD_BIN, "--check-config", "-c", path], capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr.strip().replace(path, "CHAT.INI"), p.stdout.strip()


def assert_config_error(test, auth, *parts):
    """--check-config with this [auth] fails with one line holding parts."""
    rc, err, out = check_config(auth)
    test.assertNotEqual(rc, 0, out)
    test.assertEqual(len(err.splitlines()), 1, err)
    for part in parts:
        test.assertIn(part, err)


class JwtConfig(unittest.TestCase):
    """Start-up errors: one line naming the key, the JWKS file and its bad key."""

    @classmethod
    def setUpClass(cls):
        cls.keys = tempfile.mkdtemp(prefix="chatd-jwks-")
        gen_keys(cls.keys)
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", cls.keys + "/small.pem")
        openssl("pkey", "-in", cls.keys + "/small.pem", "-pubout", "-out", cls.keys + "/small.pub")
        cls.rsa = rsa_jwk(cls.keys + "/rsa.pub", "r1")
        cls.ec = ec_jwk(cls.keys + "/ec.pub", "e1")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.keys, ignore_errors=True)

    def write(self, doc, name="keys.json"):
        path = os.path.join(self.keys, name)
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def assert_error(self, auth, *parts):
        assert_config_error(self, auth, *parts)

    def test_good_jwks_alone(self):
        path = self.write({"keys": [self.rsa, self.ec, dict(self.ec, kid="e2", alg="ES256")]}, "good.json")
        rc, err, out = check_config({"plugin": "jwt", "jwks": path})
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.endswith(": ok"), out)

    def test_bad_jwks(self):
        off_curve = dict(self.ec)
        y = bytearray(base64.urlsafe_b64decode(off_curve["y"] + "=="))
        y[-1] ^= 1
        off_curve["y"] = b64(bytes(y))
        cases = [
            ("alg HS256 on an RSA key", [dict(self.rsa, alg="HS256")], "keys[0] (kid 'r1')", "'HS256' is not allowed"),
            ("alg none", [self.ec, dict(self.rsa, alg="none")], "keys[1] (kid 'r1')", "'none' is not allowed"),
            ("alg of the other type", [dict(self.rsa, alg="ES256")], "keys[0] (kid 'r1')", "does not fit an RSA key"),
            ("ES384 on P-256", [dict(self.ec, alg="ES384")], "keys[0] (kid 'e1')", "does not fit a P-256 key"),
            ("point not on the curve", [off_curve], "keys[0] (kid 'e1')", "not on the curve"),
            ("short coordinate", [dict(self.ec, x=b64(b"\1" * 31))], "keys[0] (kid 'e1')", "full coordinate size"),
            ("no kid", [{k: v for k, v in self.rsa.items() if k != "kid"}], "keys[0]:", "needs a \"kid\""),
            ("path-like kid", [dict(self.rsa, kid="../../etc/passwd")], "keys[0]:", "\"kid\" must be"),
            ("kid twice", [self.rsa, dict(self.ec, kid="r1")], "keys[1]:", "kid 'r1' is defined twice"),
            ("private key material", [dict(self.ec, d=b64(b"\1" * 32))], "keys[0] (kid 'e1')", "private"),
            ("symmetric key", [{"kty": "oct", "kid": "s1", "k": b64(b"x" * 32)}], "keys[0] (kid 's1')", "private"),
            ("unknown kty", [{"kty": "OKP", "kid": "o1", "crv": "Ed25519", "x": b64(b"\1" * 32)}],
             "keys[0] (kid 'o1')", "'OKP' is not supported"),
            ("unknown curve", [dict(self.ec, crv="P-192")], "keys[0] (kid 'e1')", "'P-192' is not P-256"),
            ("small RSA key", [rsa_jwk(self.keys + "/small.pub", "s1")], "keys[0] (kid 's1')", "2048 to 16384 bits"),
            ("bad base64", [dict(self.rsa, n="not base64!")], "keys[0] (kid 'r1')", "\"n\" is not a base64url"),
            ("encryption key", [dict(self.rsa, use="enc")], "keys[0] (kid 'r1')", "\"use\" is not \"sig\""),
        ]
        for name, keys, where, why in cases:
            with self.subTest(name):
                path = self.write({"keys": keys})
                self.assert_error({"plugin": "jwt", "jwks": path}, "[auth] jwks: " + path + ": " + where, why)
        for name, doc, why in (("not JSON", "{", "not JSON"), ("no keys", {"keys": []}, "at least one key"),
                               ("not a key set", [self.rsa], "at least one key")):
            with self.subTest(name):
                path = self.write(doc)
                self.assert_error({"plugin": "jwt", "jwks": path}, "[auth] jwks: " + path, why)
        with self.subTest("missing file"):
            self.assert_error({"plugin": "jwt", "jwks": self.keys + "/nope.json"}, "[auth] jwks: cannot read",
                              "nope.json")

    def test_kid_in_ini_and_jwks(self):
        path = self.write({"keys": [self.ec, dict(self.rsa, kid="rsa1")]})
        self.assert_error({"plugin": "jwt", "jwks": path, "key.rsa1.algorithm": "RS256",
                           "key.rsa1.public_key": self.keys + "/rsa.pub"},
                          "[auth] jwks: " + path + ": keys[1]: kid 'rsa1' is also defined by key.rsa1.*")

    def test_revocation_settings(self):
        base = {"plugin": "jwt", "algorithm": "HS256", "secret": SECRET}
        for extra, key, why in (
                ({"revocation": "memcached"}, "revocation", "expected none or redis"),
                ({"revocation": "redis", "redis_address": ":6379"}, "redis_address", "expected HOST:PORT"),
                ({"revocation": "redis", "redis_address": "h:99999"}, "redis_address", "expected HOST:PORT"),
                ({"revocation": "redis", "redis_timeout": "forever"}, "redis_timeout", "expected a duration"),
                ({"revocation": "redis", "revocation_prefix": ""}, "revocation_prefix", "1 to 128 bytes"),
                ({"require_jti": "maybe"}, "require_jti", "expected true or false"),
                ({"redis_address": "127.0.0.1:6379"}, "redis_address", "only used with revocation = redis"),
                ({"revocation_prefix": "x:"}, "revocation_prefix", "only used with revocation = redis")):
            with self.subTest(key=key, value=list(extra.values())[-1]):
                self.assert_error(dict(base, **extra), "[auth] %s: " % key, why)
        # Redis need not be up to pass the check: the look-ups fail closed at run time.
        rc, err, _ = check_config(dict(base, revocation="redis", redis_address="127.0.0.1:1",
                                       redis_timeout="500ms", revocation_prefix="app:revoked:"))
        self.assertEqual(rc, 0, err)


class JwtRevocation(Tokens, unittest.TestCase):
    """revocation = redis against a real redis-server of the test's own."""

    PREFIX = "test:revoked:"

    @classmethod
    def setUpClass(cls):
        cls.keys = tempfile.mkdtemp(prefix="chatd-jwt-rev-")
        gen_keys(cls.keys)
        cls.redis = Redis().start()
        cls.server = cls.start_chatd()

    @classmethod
    def start_chatd(cls, **extra):
        def edit(s):
            s["auth"] = {"plugin": "jwt", "algorithm": "HS256", "secret": SECRET, "issuer": "chatd-test",
                         "audience": "chat", "revocation": "redis", "redis_address": cls.redis.address,
                         "revocation_prefix": cls.PREFIX, "redis_timeout": "500ms"}
            s["auth"].update(extra)
        return Chatd(edit).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.redis.cleanup()
        shutil.rmtree(cls.keys, ignore_errors=True)

    def revoke(self, jti, seconds=600):
        self.assertEqual(redis_cmd(self.redis.port, "SET", self.PREFIX + jti, "1", "EX", seconds), "+OK")

    def jti_token(self, jti=None, **claims):
        return self.token(jti=jti or str(uuid.uuid4()), **claims)

    def test_not_revoked_is_accepted(self):
        self.assert_connected(self.jti_token())
        self.assertEqual(self.rest(self.jti_token())[0], 200)

    def test_revoked_is_refused_at_connect(self):
        jti = str(uuid.uuid4())
        token = self.jti_token(jti)
        self.assert_connected(token)
        self.revoke(jti)
        self.assert_refused(token, "token revoked")
        self.assert_refused(token, "token revoked", bearer=False)
        self.assertEqual(self.rest(token), (401, {"error": "unauthorized", "message": "token revoked"}))
        # Another prefix is another list.
        other = str(uuid.uuid4())
        self.assertEqual(redis_cmd(self.redis.port, "SET", "chatd:revoked:" + other, "1", "EX", 60), "+OK")
        self.assert_connected(self.jti_token(other))

    def test_jti_is_required_by_default(self):
        self.assert_refused(self.token(), "token has no jti")
        self.assert_refused(self.token(jti=42), "malformed jti")
        self.assert_refused(self.token(jti="x" * 257), "malformed jti")
        # A forged token never reaches redis: the signature is checked first.
        self.assert_refused(self.token(jti="a", key=b"another-secret-of-32-bytes-length"), "invalid signature")

    def test_refresh_with_revoked_token_is_refused(self):
        c = self.assert_connected(self.jti_token())
        c.send("SEND", {"destination": "/app/session/refresh", "receipt": "ok"}, self.jti_token())
        self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "ok")
        jti = str(uuid.uuid4())
        self.revoke(jti)
        c.send("SEND", {"destination": "/app/session/refresh", "receipt": "r"}, self.jti_token(jti))
        err = c.expect("ERROR")
        self.assertEqual((err.headers["message"], err.headers.get("receipt-id")), ("token revoked", "r"))
        self.assertTrue(c.wait_closed())

    def test_chatd_token_jti(self):
        tool = os.path.join(os.path.dirname(CHATD_BIN), "chatd-token")
        jti = "chatd-token-" + uuid.uuid4().hex
        p = subprocess.run([tool, "--user", "bob", "--iss", "chatd-test", "--aud", "chat", "--jti", jti],
                           env=dict(os.environ, CHAT_JWT_SECRET=SECRET), capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        token = p.stdout.strip()
        self.assert_connected(token, user="bob")
        # The documented way to revoke, with redis-cli when it is installed.
        cli = shutil.which("redis-cli")
        if cli:
            subprocess.run([cli, "-p", str(self.redis.port), "SET", self.PREFIX + jti, "1", "EX", "60"],
                           check=True, capture_output=True, timeout=10)
        else:
            self.revoke(jti, 60)
        self.assert_refused(token, "token revoked")

    def test_revocation_ends_live_sessions(self):
        """[stomp] token_recheck_interval: a session is authenticated again
        with the token it presented last; once that token is revoked the
        session ends, the others run on."""
        redis = Redis().start()
        self.addCleanup(redis.cleanup)

        def edit(s):
            s["auth"] = {"plugin": "jwt", "algorithm": "HS256", "secret": SECRET, "issuer": "chatd-test",
                         "audience": "chat", "revocation": "redis", "redis_address": redis.address,
                         "revocation_prefix": self.PREFIX, "redis_timeout": "300ms"}
            s["stomp"]["token_recheck_interval"] = "300ms"
        server = Chatd(edit).start()
        self.addCleanup(server.cleanup)
        self.addCleanup(server.stop)
        saved, self.server = self.server, server
        self.addCleanup(setattr, self, "server", saved)

        def revoke(jti):
            self.assertEqual(redis_cmd(redis.port, "SET", self.PREFIX + jti, "1", "EX", 600), "+OK")

        def alive(c, tag):
            c.send("SEND", {"destination": "/topic/alive", "receipt": tag}, "still here")
            f = c.expect("RECEIPT")
            return f is not None and f.headers.get("receipt-id") == tag

        doomed, kept, refreshed = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        a = self.assert_connected(self.jti_token(doomed))
        b = self.assert_connected(self.jti_token(kept))
        c = self.assert_connected(self.jti_token(refreshed))
        newer = str(uuid.uuid4())
        c.send("SEND", {"destination": "/app/session/refresh", "receipt": "fresh"}, self.jti_token(newer))
        self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "fresh")

        revoke(doomed)
        revoke(refreshed)  # c no longer presents it: c runs on
        err = a.expect("ERROR", timeout=10)
        self.assertEqual(err.headers["message"], "token revoked")
        self.assertTrue(a.wait_closed())
        wait_for(lambda: "ended: its token is no longer accepted (token revoked)" in server.read_log(),
                 what="the log line")
        # Two more checks each: b and c are still welcome.
        seen = server.read_log().count("token checked again: still accepted")
        wait_for(lambda: server.read_log().count("token checked again: still accepted") >= seen + 4,
                 what="b and c checked twice more")
        self.assertTrue(alive(b, "b"))
        self.assertTrue(alive(c, "c"))
        revoke(newer)
        self.assertEqual(c.expect("ERROR", timeout=10).headers["message"], "token revoked")

        # Redis gone: nothing can be checked, and nobody is thrown out for it.
        redis.kill()
        wait_for(lambda: "token not checked again" in server.read_log(), what="a check that could not be made")
        self.assertTrue(alive(b, "after-redis"))

    def test_require_jti_false(self):
        server = self.start_chatd(require_jti="false")
        self.addCleanup(server.cleanup)
        self.addCleanup(server.stop)
        saved, self.server = self.server, server
        try:
            self.assert_connected(self.token())  # no jti: accepted, nothing to look up
            jti = str(uuid.uuid4())
            self.revoke(jti)
            self.assert_refused(self.jti_token(jti), "token revoked")
        finally:
            self.server = saved

    def test_redis_down_fails_closed(self):
        jti = str(uuid.uuid4())
        self.revoke(jti)
        good = self.jti_token()
        self.redis.stop()
        try:
            for _ in range(3):  # while reconnecting and between attempts
                self.assert_refused(good, "authentication unavailable")
                self.assert_refused(self.jti_token(jti), "authentication unavailable")
                time.sleep(0.3)
            status, body = self.rest(good)
            self.assertEqual((status, body["error"]), (503, "unavailable"))
        finally:
            self.redis.start()
        # Back within the reconnect delay (at most 5s), the list unchanged.
        def accepted():
            c, f = self.connect(good)
            return f is not None and f.command == "CONNECTED"
        wait_for(accepted, timeout=15, what="chatd to reconnect to redis")
        self.assert_refused(self.jti_token(jti), "token revoked")
        self.assertIn("revocation list: redis connection lost", self.server.read_log())

    def test_redis_hung_fails_closed(self):
        good = self.jti_token()
        c = self.assert_connected(good)
        self.redis.proc.send_signal(signal.SIGSTOP)
        try:
            start = time.monotonic()
            self.assert_refused(good, "authentication unavailable")
            self.assertLess(time.monotonic() - start, 5)
            c.send("SEND", {"destination": "/app/session/refresh", "receipt": "r"}, good)
            self.assertEqual(c.expect("ERROR").headers["message"], "authentication unavailable")
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        # The late answers are dropped; new look-ups work again.
        self.assert_connected(self.jti_token())


if __name__ == "__main__":
    unittest.main()
