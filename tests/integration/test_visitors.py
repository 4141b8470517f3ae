"""[visitors]: anonymous website visitors get an identity and a token chatd
issues itself (POST /api/visitors), limited per client address and to the
allowed origins, and use support rooms with it, over REST and STOMP, with
real clients (urllib, stomp.py). Off by default."""
import json
import time
import unittest
import urllib.error
import urllib.request

import stomp

from chatd_harness import Chatd, OneServer, Recorder, disconnect_quietly, wait_for
from rooms_client import Api
from test_check_config import check
from chatd_harness import default_sections

SECRET = "visitor-test-secret-0123456789-abcdef"
SITE = "http://127.0.0.1:1"  # the embedding site's origin (never served)
TEXT = "안녕하세요, 주문이 안 와요 📦🙏"
REPLY = "확인해 볼게요 👍 곧 연락드릴게요"


def http(port, method, path, body=None, headers=None):
    """(status, headers, JSON body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, r.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, e.headers, json.loads(raw) if raw else None


def bearer(token):
    return {"Authorization": "Bearer " + token}


class VisitorsOff(OneServer):
    def test_no_visitor_tokens_by_default(self):
        status, _, body = http(self.server.http_port, "POST", "/api/visitors")
        self.assertEqual(status, 404, body)
        self.assertIn("[visitors] enabled", body["message"])

    def test_a_visitor_token_is_refused_when_off(self):
        c = self.raw()
        c.send("CONNECT", {"accept-version": "1.2", "host": "x",
                           "Authorization": "Bearer cv1.AAAAAAAAAAAAAAAAAAAAAA.9999999999.%s" % ("A" * 43)})
        err = c.expect("ERROR")
        self.assertIn("visitor tokens are not accepted", err.headers["message"])


class Visitors(OneServer):
    @staticmethod
    def edit(s):
        s["server"]["allowed_origins"] += " " + SITE
        s["server"]["trusted_proxies"] = "127.0.0.1"
        s["visitors"] = {"enabled": "on", "secret": SECRET, "token_ttl": "1h", "max_per_ip_per_hour": "3"}

    def issue(self, client="198.51.100.%d", headers=None):
        """A new visitor, from its own client address (behind the trusted
        proxy 127.0.0.1) so that the tests do not share one's limit."""
        Visitors.n = getattr(Visitors, "n", 0) + 1
        h = {"X-Forwarded-For": client % Visitors.n if "%d" in client else client}
        h.update(headers or {})
        status, hdrs, body = http(self.server.http_port, "POST", "/api/visitors", headers=h)
        self.assertEqual(status, 201, body)
        return body, hdrs

    def test_a_visitor_chats_with_an_agent(self):
        port = self.server.http_port
        v, _ = self.issue()
        self.assertRegex(v["user"], r"^visitor:[A-Za-z0-9_-]{22}$")
        self.assertTrue(v["token"].startswith("cv1."))
        self.assertAlmostEqual(v["expires_ms"] / 1000, time.time() + 3600, delta=5)
        # The visitor's support room, over REST with its token.
        status, _, room = http(port, "POST", "/api/rooms", {"kind": "support"}, bearer(v["token"]))
        self.assertIn(status, (200, 201), room)
        rid = room["id"]
        # stomp.py, the token as passcode: a Korean and emoji message, stored.
        rec = Recorder()
        conn = stomp.Connection12([("127.0.0.1", self.server.stomp_port)])
        conn.set_listener("r", rec)
        conn.connect(v["user"], v["token"], wait=True)
        self.addCleanup(disconnect_quietly, conn)
        conn.subscribe("/topic/rooms/%s" % rid, id="room", receipt="sub")
        rec.wait_receipt("sub")
        conn.send("/app/rooms/%s/send" % rid, json.dumps({"text": TEXT}), receipt="m1",
                  headers={"content-type": "application/json"})
        rec.wait_receipt("m1")
        # The agent sees it in the queue, claims the room and answers.
        agent = Api(port, "agent1")
        status, listed = agent.get("/api/rooms?scope=unassigned")
        self.assertEqual(status, 200)
        self.assertIn(rid, [r["id"] for r in listed["rooms"]])
        self.assertEqual(agent.post("/api/rooms/%s/claim" % rid)[0], 200)
        status, hist = agent.get("/api/rooms/%s/messages" % rid)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(hist["messages"][0]["body"])["text"], TEXT)
        self.assertEqual(hist["messages"][0]["sender"], v["user"])
        a = self.raw("agent1")
        a.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "r1",
                        "content-type": "application/json"}, json.dumps({"text": REPLY}).encode())
        a.expect("RECEIPT")
        rec.wait(lambda: any(json.loads(m.body).get("text") == REPLY for m in rec.messages
                             if m.headers.get("event") == "message"), what="the agent's reply")
        # The history as the visitor reads it over REST.
        status, _, hist = http(port, "GET", "/api/rooms/%s/messages" % rid, headers=bearer(v["token"]))
        self.assertEqual(status, 200, hist)
        self.assertEqual([json.loads(m["body"])["text"] for m in hist["messages"]], [REPLY, TEXT])

    def test_a_visitor_has_support_rooms_only(self):
        port = self.server.http_port
        v, _ = self.issue()
        auth = bearer(v["token"])
        for body in ({"kind": "direct", "with": "alice"}, {"kind": "group", "title": "x", "members": ["alice"]}):
            status, _, answer = http(port, "POST", "/api/rooms", body, auth)
            self.assertEqual(status, 403, answer)
            self.assertEqual(answer["message"], "visitors take part in support rooms only")
        # Nobody brings a visitor into a direct or group room either.
        alice = Api(port, "alice")
        status, answer = alice.post("/api/rooms", {"kind": "direct", "with": v["user"]})
        self.assertEqual(status, 403, answer)
        status, answer = alice.post("/api/rooms", {"kind": "group", "title": "g", "members": [v["user"]]})
        self.assertEqual(status, 403, answer)
        status, group = alice.post("/api/rooms", {"kind": "group", "title": "그룹 🙂", "members": ["bob"]})
        self.assertEqual(status, 201, group)
        status, answer = alice.post("/api/rooms/%s/members" % group["id"], {"user": v["user"]})
        self.assertEqual(status, 403, answer)
        # Agents' views and the generic destinations are not a visitor's.
        self.assertEqual(http(port, "GET", "/api/rooms?scope=unassigned", headers=auth)[0], 403)
        c = self.raw()
        c.connect(v["user"], extra={"passcode": v["token"]})
        c.send("SUBSCRIBE", {"id": "t", "destination": "/topic/news", "receipt": "t"})
        err = c.expect("ERROR")
        self.assertEqual(err.headers["message"], "destination not allowed")

    def test_renewal_keeps_the_identity(self):
        port = self.server.http_port
        v, _ = self.issue()
        status, _, again = http(port, "POST", "/api/visitors", headers=dict(bearer(v["token"]),
                                                                        **{"X-Forwarded-For": "203.0.113.50"}))
        self.assertEqual(status, 200, again)
        self.assertEqual(again["user"], v["user"])
        self.assertGreaterEqual(again["expires_ms"], v["expires_ms"])
        forged = v["token"][:-2] + ("AA" if not v["token"].endswith("AA") else "BB")
        status, _, answer = http(port, "POST", "/api/visitors", headers=bearer(forged))
        self.assertEqual(status, 401, answer)
        self.assertIn("not issued by this server", answer["message"])
        # A forged token opens no session either.
        c = self.raw()
        c.send("CONNECT", {"accept-version": "1.2", "host": "x", "Authorization": "Bearer " + forged})
        self.assertIn("not issued by this server", c.expect("ERROR").headers["message"])

    def test_rate_per_client_address(self):
        port = self.server.http_port
        for _ in range(3):
            self.issue(client="192.0.2.77")
        status, _, body = http(port, "POST", "/api/visitors", headers={"X-Forwarded-For": "192.0.2.77"})
        self.assertEqual(status, 429, body)
        self.assertEqual(body["error"], "rate_limited")
        # Another client behind the same proxy has its own allowance.
        self.issue(client="192.0.2.78")
        wait_for(lambda: "max_per_ip_per_hour (3) reached" in self.server.read_log(), what="the refusal logged")
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
            metrics = r.read().decode()
        self.assertRegex(metrics, r"\nchatd_visitor_tokens_refused_total [1-9]")
        self.assertRegex(metrics, r"\nchatd_visitor_tokens_total [1-9]")

    def test_origins_and_cors(self):
        port = self.server.http_port
        # The embedding site: allowed, and told so in CORS headers.
        v, hdrs = self.issue(headers={"Origin": SITE})
        self.assertEqual(hdrs["Access-Control-Allow-Origin"], SITE)
        self.assertEqual(hdrs["Vary"], "Origin")
        status, _, body = http(port, "POST", "/api/visitors",
                               headers={"Origin": "https://elsewhere.example", "X-Forwarded-For": "192.0.2.90"})
        self.assertEqual(status, 403, body)
        self.assertEqual(body["message"], "origin not allowed")
        # A preflight for an authorized REST call from the site.
        status, hdrs, _ = http(port, "OPTIONS", "/api/rooms", headers={
            "Origin": SITE, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        self.assertEqual(status, 204)
        self.assertEqual(hdrs["Access-Control-Allow-Origin"], SITE)
        self.assertIn("POST", hdrs["Access-Control-Allow-Methods"])
        self.assertIn("Authorization", hdrs["Access-Control-Allow-Headers"])
        self.assertIsNone(hdrs.get("Access-Control-Allow-Credentials"))
        status, hdrs, body = http(port, "OPTIONS", "/api/rooms", headers={
            "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"})
        self.assertEqual(status, 403, body)
        self.assertIsNone(hdrs.get("Access-Control-Allow-Origin"))
        # The call itself, answered with the site named.
        status, hdrs, room = http(port, "POST", "/api/rooms", {"kind": "support"},
                                  dict(bearer(v["token"]), Origin=SITE))
        self.assertIn(status, (200, 201), room)
        self.assertEqual(hdrs["Access-Control-Allow-Origin"], SITE)
        # Without an Origin (not a browser): no CORS headers at all.
        status, hdrs, _ = http(port, "GET", "/healthz")
        self.assertIsNone(hdrs.get("Access-Control-Allow-Origin"))
        self.assertIsNone(hdrs.get("Vary"))


class VisitorsReload(OneServer):
    @staticmethod
    def edit(s):
        s["visitors"] = {"enabled": "on", "secret": SECRET}

    def test_turned_off_by_a_reload(self):
        port = self.server.http_port
        status, _, v = http(port, "POST", "/api/visitors")
        self.assertEqual(status, 201, v)
        self.assertEqual(http(port, "GET", "/api/rooms", headers=bearer(v["token"]))[0], 200)
        self.server.sections["visitors"]["enabled"] = "off"
        self.server.write_config()
        self.assertEqual(Api(port, "admin1").post("/api/admin/reload")[0], 200)
        self.assertEqual(http(port, "POST", "/api/visitors")[0], 404)
        status, _, body = http(port, "GET", "/api/rooms", headers=bearer(v["token"]))
        self.assertEqual(status, 401, body)
        self.assertIn("visitor tokens are not accepted", body["message"])
        # On again with another secret: the old token is not this server's.
        self.server.sections["visitors"].update({"enabled": "on", "secret": SECRET + "-rotated"})
        self.server.write_config()
        self.assertEqual(Api(port, "admin1").post("/api/admin/reload")[0], 200)
        status, _, body = http(port, "GET", "/api/rooms", headers=bearer(v["token"]))
        self.assertEqual(status, 401, body)
        self.assertIn("not issued by this server", body["message"])


class VisitorConfig(unittest.TestCase):
    def sections(self, **visitors):
        s = default_sections(1, 2)
        s["visitors"] = visitors
        return s

    def refused(self, key, *parts, **visitors):
        p, path = check(self.sections(**visitors))
        self.assertNotEqual(p.returncode, 0)
        line = p.stderr.strip()
        self.assertEqual(len(line.splitlines()), 1, p.stderr)
        for part in ("[visitors]", key) + parts:
            self.assertIn(part, line)

    def test_enabled_needs_a_secret(self):
        self.refused("secret", "required with enabled = on", enabled="on")

    def test_a_short_secret_is_refused(self):
        self.refused("secret", "at least 32 bytes", enabled="on", secret="short")

    def test_bad_values(self):
        self.refused("token_ttl", "duration", enabled="on", secret=SECRET, token_ttl="forever")
        self.refused("max_per_ip_per_hour", enabled="on", secret=SECRET, max_per_ip_per_hour="-1")
        self.refused("colour", "unknown key", colour="blue")

    def test_good(self):
        p, _ = check(self.sections(enabled="on", secret=SECRET, token_ttl="7d", max_per_ip_per_hour="0"))
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main()
