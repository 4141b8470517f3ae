"""POST /api/logout: a user revokes the bearer token they send. With
auth-jwt (revocation = redis, a real redis-server of the test's own) the
jti goes into the list until the token's exp; the sessions opened with that
token end at once on this instance and within [stomp]
token_recheck_interval on another one sharing the list; the user's other
sessions run on. Redis down: 503 and nothing changes. A plugin that cannot
revoke: 501."""
import base64
import json
import time
import unittest
import urllib.error
import urllib.request
import uuid

import stomp

from chatd_harness import Chatd, Recorder, disconnect_quietly, wait_for
from raw_stomp import RawStomp
from servers import Redis
from test_jwt import SECRET, Tokens, redis_cmd

PREFIX = "test:logout:"


def jwt_auth(redis, **extra):
    auth = {"plugin": "jwt", "algorithm": "HS256", "secret": SECRET, "issuer": "chatd-test", "audience": "chat",
            "revocation": "redis", "redis_address": redis.address, "revocation_prefix": PREFIX,
            "redis_timeout": "500ms"}
    auth.update(extra)
    return auth


class Logout(Tokens, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = Redis().start()

        def here(s):
            s["auth"] = jwt_auth(cls.redis)
            s["stomp"]["token_recheck_interval"] = "0"  # this instance closes its own at once, unaided

        def there(s):
            s["auth"] = jwt_auth(cls.redis)
            s["stomp"]["token_recheck_interval"] = "300ms"
        cls.server = Chatd(here).start()
        cls.other = Chatd(there).start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.server, cls.other):
            s.stop()
            s.cleanup()
        cls.redis.cleanup()

    def logout(self, token, server=None, auth="Bearer "):
        server = server or self.server
        headers = {"Authorization": auth + token} if token is not None else {}
        req = urllib.request.Request("http://127.0.0.1:%d/api/logout" % server.http_port, data=b"", method="POST",
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def stomp_py(self, token, server=None):
        """A stomp.py session over TCP opened with the bearer token."""
        server = server or self.server
        conn = stomp.Connection12([("127.0.0.1", server.stomp_port)], heartbeats=(0, 0))
        rec = Recorder()
        conn.set_listener("r", rec)
        conn.connect(headers={"Authorization": "Bearer " + token}, wait=True)
        self.addCleanup(disconnect_quietly, conn)
        return conn, rec

    def alive(self, conn, rec, tag):
        conn.send("/topic/alive", "still here", receipt=tag)
        rec.wait_receipt(tag)
        return True

    def jti_token(self, jti=None, **claims):
        return self.token(jti=jti or str(uuid.uuid4()), **claims)

    def test_logout_ends_the_tokens_sessions(self):
        jti = str(uuid.uuid4())
        exp = int(time.time()) + 600
        token, other_token = self.jti_token(jti, exp=exp), self.jti_token()
        a, ra = self.stomp_py(token)
        b, rb = self.stomp_py(token)
        raw = self.assert_connected(token)
        kept, rkept = self.stomp_py(other_token)          # the same user, another token
        far, rfar = self.stomp_py(token, self.other)       # the same token on another instance
        self.assertEqual(self.logout(token), (204, b""))
        # Here: at once, with an ERROR that says why.
        for rec in (ra, rb):
            err = rec.wait_error()
            self.assertEqual(err.headers["message"], "logged out")
            rec.wait(lambda: rec.disconnected, what="the session closed")
        self.assertEqual(raw.expect("ERROR").headers["message"], "logged out")
        self.assertTrue(raw.wait_closed())
        self.assertIn("logged out", self.server.read_log())
        # There: at its next check.
        err = rfar.wait_error(timeout=10)
        self.assertEqual(err.headers["message"], "token revoked")
        rfar.wait(lambda: rfar.disconnected, what="the other instance's session closed")
        # The other token's session runs on; the revoked token opens nothing.
        self.assertTrue(self.alive(kept, rkept, "kept"))
        self.assert_refused(token, "token revoked")
        self.assertEqual(self.rest(token), (401, {"error": "unauthorized", "message": "token revoked"}))
        status, body = self.logout(token)
        self.assertEqual((status, body["message"]), (401, "token revoked"))
        # The list keeps the jti until the token would expire anyway.
        ttl = int(redis_cmd(self.redis.port, "TTL", PREFIX + jti)[1:])
        self.assertGreater(ttl, 600 - 30)
        self.assertLessEqual(ttl, 600 + 30)  # exp + the default leeway
        self.assert_connected(other_token)

    def test_bad_requests(self):
        self.assertEqual(self.logout(None)[0], 401)
        status, body = self.logout("not-a-token")
        self.assertEqual((status, body["error"]), (401, "unauthorized"))
        self.assertEqual(self.logout(self.jti_token(), auth="Basic ")[0], 401)  # not base64 of user:password
        # The token as a Basic password signs in (auth-jwt reads the passcode) but is no bearer to revoke.
        token = self.jti_token()
        status, body = self.logout(base64.b64encode(("x:" + token).encode()).decode(), auth="Basic ")
        self.assertEqual((status, body["error"]), (400, "bad_request"))
        self.assert_connected(token)
        req = urllib.request.Request("http://127.0.0.1:%d/api/logout" % self.server.http_port, method="GET",
                                     headers={"Authorization": "Bearer " + self.jti_token()})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(e.exception.code, 405)

    def test_redis_down_is_503_and_nothing_changes(self):
        token = self.jti_token()
        conn, rec = self.stomp_py(token)
        self.redis.stop()
        try:
            status, body = self.logout(token)
            self.assertEqual((status, body["error"]), (503, "unavailable"))
            self.assertTrue(self.alive(conn, rec, "during"))
        finally:
            self.redis.start()
        def accepted():
            c, f = self.connect(token)
            c.close()
            return f is not None and f.command == "CONNECTED"
        wait_for(accepted, timeout=15, what="chatd to reconnect to redis")
        self.assertTrue(self.alive(conn, rec, "after"))
        self.assertEqual(self.logout(token), (204, b""))
        self.assertEqual(rec.wait_error().headers["message"], "logged out")


class LogoutUnsupported(Tokens, unittest.TestCase):
    """auth-jwt without a revocation list, and auth-static: 501."""

    def test_jwt_without_revocation(self):
        def edit(s):
            s["auth"] = {"plugin": "jwt", "algorithm": "HS256", "secret": SECRET, "issuer": "chatd-test",
                         "audience": "chat"}
        with Chatd(edit) as server:
            self.server = server
            token = self.token()
            c = self.assert_connected(token)
            status, body = Logout.logout(self, token, server)
            self.assertEqual((status, body["error"]), (501, "not_supported"))
            self.assertIn("revocation is off", body["message"])
            c.send("SEND", {"destination": "/topic/alive", "receipt": "r"}, "x")
            self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "r")

    def test_static(self):
        with Chatd() as server:
            self.server = server
            basic = base64.b64encode(b"alice:alice-pw").decode()
            status, body = Logout.logout(self, basic, server, auth="Basic ")
            self.assertEqual((status, body["error"]), (501, "not_supported"))
            # the session of the same user runs on
            c = RawStomp(server.stomp_port)
            self.addCleanup(c.close)
            c.connect("alice")
            c.send("SEND", {"destination": "/topic/alive", "receipt": "r"}, "x")
            self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "r")

if __name__ == "__main__":
    unittest.main()
