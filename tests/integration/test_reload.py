"""Reload (SIGHUP, POST /api/admin/reload): chat.ini is read again while
serving. Users, passwords, keys, allow rules, limits, [support] and
[notify] settings and the log level take effect; sessions stay connected
with their subscriptions; an invalid file, or a change that needs a
restart, is refused with one line and the old configuration keeps serving.
docs/configuration.md, "Reload"."""
import base64
import json
import os
import re
import shutil
import signal
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import test_jwt as jwt_helpers
from chatd_harness import Chatd, Recorder, hash_password, password_of, wait_for
from raw_stomp import RawStomp
from rooms_client import Api, subscribe
from stomp_ws import WSConnection12

KOREAN = "안녕하세요 🎉 reload"


class Server(Chatd):
    """A chatd whose chat.ini the test rewrites and reloads."""

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_since(self, offset):
        return self.read_log()[offset:]

    def reload(self, expect="configuration reloaded"):
        """SIGHUP; the one line that says how it went (which must contain
        `expect`)."""
        offset = len(self.read_log())
        self.proc.send_signal(signal.SIGHUP)

        def outcome():
            for line in self.log_since(offset).splitlines():
                if "configuration reloaded" in line or "reload refused" in line:
                    return line
            return None
        line = wait_for(outcome, what="the reload's outcome in the log")
        assert expect in line, "expected %r in %r" % (expect, line)
        return line

    def rest_reload(self, user, password=None):
        """(status, JSON) of POST /api/admin/reload as user."""
        basic = base64.b64encode(("%s:%s" % (user, password or password_of(user))).encode()).decode()
        req = urllib.request.Request("http://127.0.0.1:%d/api/admin/reload" % self.http_port, method="POST",
                                     headers={"Authorization": "Basic " + basic})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


def plugin_events(server, section):
    """chatd_plugin_events_total of a plugin section in /metrics: {event: n}."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % server.http_port, timeout=10) as r:
        text = r.read().decode()
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'^chatd_plugin_events_total\{section="%s",event="(\w+)"\} (\d+)$' % re.escape(section),
                        text, re.M)}


def stomp_connect(server, user, password=None):
    """(client, first frame) of a CONNECT as user over raw TCP."""
    c = RawStomp(server.stomp_port)
    c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": user,
                       "passcode": password if password is not None else password_of(user)})
    return c, c.read()


class Sessions:
    """Start a Server; connect, subscribe and send over raw STOMP."""

    def start(self, edit=None):
        s = Server(edit)
        s.start()
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        return s

    def connect(self, server, user, password=None):
        c, f = stomp_connect(server, user, password)
        self.addCleanup(c.close)
        self.assertIsNotNone(f, "no answer to CONNECT")
        self.assertEqual(f.command, "CONNECTED", f.headers.get("message"))
        return c

    def assert_refused(self, server, user, password=None, why="bad credentials"):
        c, f = stomp_connect(server, user, password)
        self.addCleanup(c.close)
        self.assertIsNotNone(f, "no answer to CONNECT")
        self.assertEqual((f.command, f.headers.get("message")), ("ERROR", why))

    def subscribe(self, c, dest, sid):
        c.send("SUBSCRIBE", {"destination": dest, "id": sid, "receipt": "r-" + sid})
        c.expect("RECEIPT")

    def send(self, c, dest, body, rid):
        c.send("SEND", {"destination": dest, "receipt": rid, "content-type": "text/plain;charset=utf-8"},
               body.encode())
        return c.expect("RECEIPT")


class ReloadStatic(Sessions, unittest.TestCase):
    def ws_subscriber(self, server, user, dest):
        """stomp.py over WebSocket, subscribed to dest (after its RECEIPT)."""
        c = WSConnection12("ws://127.0.0.1:%d/ws" % server.http_port, origin="http://localhost:%d" % server.http_port)
        rec = Recorder()
        c.set_listener("r", rec)
        c.connect(user, password_of(user), wait=True)
        self.addCleanup(lambda: c.is_connected() and c.disconnect())
        c.subscribe(dest, id="w1", receipt="ws-sub")
        rec.wait_receipt("ws-sub")
        return c, rec

    def test_users_added_removed_and_passwords_changed(self):
        s = self.start()
        # bob's session, subscribed, lives through the reload that removes him;
        # so does dana's over WebSocket.
        bob = self.connect(s, "bob")
        self.subscribe(bob, "/topic/lobby", "s1")
        _, dana = self.ws_subscriber(s, "dana", "/topic/lobby")
        auth = s.sections["auth"]
        auth["user.carol.password"] = hash_password("carol-pw")
        auth["user.carol.roles"] = "user"
        auth["user.carol.name"] = "캐롤 🎈"
        del auth["user.bob.password"], auth["user.bob.roles"]
        auth["user.alice.password"] = hash_password("alice-new-pw")
        s.write_config()
        s.reload()

        self.connect(s, "carol", "carol-pw")
        self.assert_refused(s, "bob")
        self.assert_refused(s, "alice")  # the old password
        alice = self.connect(s, "alice", "alice-new-pw")
        self.send(alice, "/topic/lobby", KOREAN, "m1")
        m = bob.expect("MESSAGE")
        self.assertEqual(m.body.decode(), KOREAN)
        dana.wait(lambda: any(f.body == KOREAN for f in dana.messages), what="the message over WebSocket")
        # The removed user's session still sends too: it ends when it ends.
        self.subscribe(alice, "/topic/lobby", "s2")
        self.send(bob, "/topic/lobby", "still here", "m2")
        self.assertEqual(alice.expect("MESSAGE").body, b"still here")

    def test_verifications_under_way_finish_on_the_old_instance(self):
        """PBKDF2 runs on the plugin's worker threads (one here): four slow
        logins of four users (the same credentials would share one
        verification) queue there, the reload comes in the middle, and each
        still gets its answer from the instance it started on, which goes
        only then."""
        slow = {"slow%d" % i: hash_password("slow-pw%d" % i, iterations=400000) for i in range(4)}

        def edit(sec):
            sec["auth"]["workers"] = "1"
            sec["auth"].update({"user.%s.password" % u: h for u, h in slow.items()})
        s = self.start(edit)
        clients = [RawStomp(s.stomp_port) for _ in range(4)]
        for i, c in enumerate(clients):
            self.addCleanup(c.close)
            c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": "slow%d" % i, "passcode": "slow-pw%d" % i})
        # all four in the old instance's hands before the reload
        wait_for(lambda: plugin_events(s, "auth").get("verifications", 0) >= 4, what="four verifications under way")
        s.sections["auth"]["user.carol.password"] = hash_password("carol-pw")
        s.write_config()
        s.reload()
        for i, c in enumerate(clients):
            self.assertEqual(c.expect("CONNECTED").headers["user-name"], "slow%d" % i)
        self.connect(s, "carol", "carol-pw")
        log = wait_for(lambda: (lambda t: t if "answered its last authentication" in t else None)(s.read_log()),
                       what="the old instance unloaded")
        reloaded = log.index("configuration reloaded")
        last_login = max(log.rindex("connected as slow%d" % i) for i in range(4))
        self.assertLess(reloaded, last_login, "the reload came after the logins")
        self.assertLess(last_login, log.index("answered its last authentication"))

    def test_allow_rule_change_applies_to_new_sends(self):
        s = self.start()
        a = self.connect(s, "alice")
        b = self.connect(s, "bob")
        self.subscribe(b, "/topic/news.today", "n1")
        self.send(a, "/topic/chat", "before", "m0")
        st = s.sections["stomp"]
        del st["allow.topics"]
        st["allow.news"] = "send,subscribe /topic/news.* user,agent"
        s.write_config()
        s.reload()
        # Allowed by the new rule, on a session opened before the reload.
        self.send(a, "/topic/news.today", KOREAN, "m1")
        self.assertEqual(b.expect("MESSAGE").body.decode(), KOREAN)
        # No rule admits /topic/chat any more.
        a.send("SEND", {"destination": "/topic/chat", "receipt": "m2"}, b"after")
        f = a.expect("ERROR")
        self.assertEqual(f.headers.get("message"), "destination not allowed")

    def test_log_level(self):
        s = self.start(lambda sec: sec["server"].update(log_level="info"))
        self.connect(s, "alice")
        wait_for(lambda: "connected as alice" in s.read_log(), what="the info line")
        self.assertNotIn("opened from", s.read_log())  # a debug line

        s.sections["server"]["log_level"] = "debug"
        s.write_config()
        s.reload()
        self.connect(s, "bob")
        wait_for(lambda: "opened from" in s.read_log(), what="a debug line after the reload")

        s.sections["server"]["log_level"] = "warn"
        s.write_config()
        s.reload()
        offset = len(s.read_log())
        self.connect(s, "dana")
        # An error line after dana's CONNECTED: every line before it is out.
        s.sections["stomp"]["max_frame_size"] = "huge"
        s.write_config()
        s.reload(expect="reload refused")
        self.assertNotIn("connected as dana", s.log_since(offset))

    def test_invalid_file_is_refused_and_old_config_serves(self):
        s = self.start()
        keep = self.connect(s, "alice")
        self.subscribe(keep, "/topic/lobby", "s1")
        cases = [
            ("stomp", "max_frame_size", "huge", "[stomp] max_frame_size: "),
            ("server", "log_level", "loud", "[server] log_level: expected error, warn, info or debug, got 'loud'"),
            ("auth", "user.eve.password", "plain-text", "[auth] user.eve.password: expected pbkdf2-sha256$"),
            ("auth", "colour", "blue", "[auth] colour: unknown key"),
            ("stomp", "allow.bad", "shout /topic/x user", "[stomp] allow.bad: "),
            ("support", "topic_wait", "soon", "[support] topic_wait: expected a duration"),
            ("nonsense", None, None, "[nonsense] unknown section"),
        ]
        for section, key, value, why in cases:
            with self.subTest(section=section, key=key):
                saved = json.loads(json.dumps(s.sections))
                if key is None:
                    s.sections[section] = {"a": "b"}
                else:
                    s.sections.setdefault(section, {})[key] = value
                # A valid change besides: it must not be applied either.
                s.sections["auth"]["user.zoe.password"] = hash_password("zoe-pw")
                s.write_config()
                line = s.reload(expect="reload refused")
                self.assertIn("reload refused: %s: %s" % (s.config, why), line)
                self.assertTrue(line.endswith("; still serving the previous configuration"), line)
                self.assertEqual(sum("reload refused" in x for x in s.read_log().splitlines()),
                                 cases.index((section, key, value, why)) + 1, "one line per refusal")
                self.assert_refused(s, "zoe", "zoe-pw")
                s.sections = saved
        # The old configuration still serves: users, rules, the session.
        bob = self.connect(s, "bob")
        self.send(bob, "/topic/lobby", KOREAN, "m1")
        self.assertEqual(keep.expect("MESSAGE").body.decode(), KOREAN)
        # And a good file after bad ones is taken.
        s.sections["auth"]["user.zoe.password"] = hash_password("zoe-pw")
        s.write_config()
        s.reload()
        self.connect(s, "zoe", "zoe-pw")

    def test_restart_only_changes_are_refused_naming_the_keys(self):
        s = self.start()
        keep = self.connect(s, "alice")
        self.subscribe(keep, "/topic/lobby", "s1")
        old_http = s.http_port
        s.sections["server"]["listen"] = "127.0.0.1:1"
        s.sections["storage"] = {"plugin": "sqlite", "path": os.path.join(s.dir, "chat.db")}
        s.sections["stomp"]["topic_prefix"] = "/topic, /sub"
        s.sections["notify.hook"] = {"plugin": "webhook", "url": "http://127.0.0.1:9/hook"}
        s.sections["auth"]["user.zoe.password"] = hash_password("zoe-pw")
        s.write_config()
        line = s.reload(expect="reload refused")
        self.assertIn("reload refused: %s: changing [server] listen, [stomp] topic_prefix, [storage] plugin, "
                      "[storage] path, [notify.hook] needs a restart; still serving the previous configuration"
                      % s.config, line)
        self.assert_refused(s, "zoe", "zoe-pw")
        # The auth plugin is chosen at start too.
        s.sections = json.loads(json.dumps(s.sections))
        s.sections["server"]["listen"] = "127.0.0.1:%d" % old_http
        del s.sections["stomp"]["topic_prefix"], s.sections["notify.hook"]
        s.sections["storage"] = {"plugin": "memory"}
        s.sections["auth"] = {"plugin": "jwt", "secret": jwt_helpers.SECRET}
        s.write_config()
        line = s.reload(expect="reload refused")
        self.assertIn(": changing [auth] plugin needs a restart;", line)
        bob = self.connect(s, "bob")
        self.send(bob, "/topic/lobby", "same as before", "m1")
        self.assertEqual(keep.expect("MESSAGE").body, b"same as before")

    def test_admin_reload_over_rest(self):
        s = self.start()
        self.assertEqual(s.rest_reload("alice")[0], 403)
        self.assertEqual(s.rest_reload("admin1", "wrong")[0], 401)
        s.sections["auth"]["user.zoe.password"] = hash_password("zoe-pw")
        s.write_config()
        status, body = s.rest_reload("admin1")
        self.assertEqual((status, body["reloaded"]), (200, True), body)
        self.assertEqual(body["message"], "configuration reloaded from " + s.config)
        self.connect(s, "zoe", "zoe-pw")
        s.sections["server"]["stomp_listen"] = "127.0.0.1:2"
        s.write_config()
        status, body = s.rest_reload("admin1")
        self.assertEqual((status, body["error"]), (409, "reload_refused"), body)
        self.assertIn("changing [server] stomp_listen needs a restart", body["message"])
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % s.http_port, timeout=10) as r:
            metrics = r.read().decode()
        self.assertIn("\nchatd_config_reloads_total 1\n", metrics)
        self.assertIn("\nchatd_config_reloads_refused_total 1\n", metrics)

    def test_connection_limit_counts_connections_open_before(self):
        s = self.start(lambda sec: sec["server"].update(max_connections_per_ip="0"))
        self.connect(s, "alice")
        s.sections["server"]["max_connections_per_ip"] = "2"
        s.write_config()
        s.reload()
        self.connect(s, "bob")
        self.assert_refused(s, "dana", why="too many connections from this address")

    def test_frame_limit_applies_to_new_connections(self):
        s = self.start()
        old = self.connect(s, "alice")
        self.subscribe(old, "/topic/big", "s1")
        s.sections["stomp"]["max_frame_size"] = "1K"
        s.write_config()
        s.reload()
        # Its CONNECTED comes after the gateway took the new limits: a
        # connection accepted later is parsed with them.
        self.connect(s, "dana")
        new = self.connect(s, "bob")
        new.send("SEND", {"destination": "/topic/big"}, b"x" * 2000)
        f = new.expect("ERROR")
        self.assertIn("frame", f.headers.get("message", ""))
        # The connection from before keeps the limits it was opened with.
        self.send(old, "/topic/big", "y" * 2000, "m1")
        self.assertEqual(len(old.expect("MESSAGE").body), 2000)


class ReloadRooms(Sessions, unittest.TestCase):
    """[support] and [notify] settings of the rooms domain."""

    def next_event(self, c, event):
        while True:
            f = c.expect("MESSAGE")
            if f.headers.get("event") == event:
                return f

    def test_support_assign_and_notify_preview(self):
        s = self.start()
        agent = self.connect(s, "agent1")
        subscribe(agent, "/user/queue/notifications", sid="n")
        agent.expect("RECEIPT")
        # Manual assignment at start: the room waits for a claim.
        status, room = Api(s.http_port, "alice").post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        rid = room["id"]
        self.assertEqual(Api(s.http_port, "alice").get("/api/rooms/" + rid)[1]["state"], "unassigned")
        # The customer's subscription to the room, made before the reload.
        cust = self.connect(s, "alice")
        self.subscribe(cust, "/topic/rooms/" + rid, "room")

        s.sections["support"] = {"assign": "round_robin"}
        s.sections["notify"] = {"preview_length": "5"}
        s.write_config()
        s.reload()
        # Routing starts: the waiting room goes to the one agent online.
        f = self.next_event(agent, "room-added")
        self.assertEqual(json.loads(f.body)["id"], rid)
        wait_for(lambda: Api(s.http_port, "alice").get("/api/rooms/" + rid)[1].get("agent") == "agent1",
                 what="the room assigned to agent1")
        # And the agent hears of messages with the new preview length.
        cust.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "k1"}, KOREAN.encode())
        cust.expect("RECEIPT")
        self.assertEqual(json.loads(self.next_event(agent, "message").body)["preview"], KOREAN[:5])
        agent.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "k2"}, "네 🙂".encode())
        agent.expect("RECEIPT")
        while True:
            f = self.next_event(cust, "message")
            if f.headers.get("sender") == "agent1":
                break
        self.assertEqual(f.body.decode(), "네 🙂")

        # Back to manual: the next room waits again, and a claim takes it.
        s.sections["support"] = {"assign": "manual"}
        s.write_config()
        s.reload()
        status, room = Api(s.http_port, "bob").post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        for _ in range(3):  # routing answers in a few loop turns when it runs
            self.assertEqual(Api(s.http_port, "bob").get("/api/rooms/" + room["id"])[1]["state"], "unassigned")
        self.assertEqual(Api(s.http_port, "agent1").post("/api/rooms/%s/claim" % room["id"])[0], 200)


class ReloadJwt(jwt_helpers.Tokens, unittest.TestCase):
    """A new secret and a rotated JWKS file: new tokens connect, the old
    ones no longer, and sessions that connected with them stay."""

    def setUp(self):
        self.keys = tempfile.mkdtemp(prefix="chatd-reload-jwt-")
        self.addCleanup(shutil.rmtree, self.keys, True)
        jwt_helpers.gen_keys(self.keys)
        self.jwks = self.keys + "/keys.json"
        self.write_jwks(jwt_helpers.rsa_jwk(self.keys + "/rsa.pub", "k1"))

        def edit(s):
            s["auth"] = {"plugin": "jwt", "algorithm": "HS256", "secret": jwt_helpers.SECRET,
                         "jwks": self.jwks, "issuer": "chatd-test", "audience": "chat"}
        self.server = Server(edit).start()
        self.addCleanup(self.server.cleanup)
        self.addCleanup(self.server.stop)

    def write_jwks(self, *keys):
        tmp = self.jwks + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"keys": list(keys)}, f)
        os.replace(tmp, self.jwks)

    def test_secret_and_jwks_rotation(self):
        hs_old = self.token()
        rs_old = self.token("RS256", "k1", pem="rsa")
        kept = self.assert_connected(rs_old)
        kept.send("SUBSCRIBE", {"destination": "/topic/keys", "id": "1", "receipt": "r1"})
        kept.expect("RECEIPT")

        # The JWKS file alone changes: the ini is the same, the keys are read again.
        self.write_jwks(jwt_helpers.rsa_jwk(self.keys + "/rsa2.pub", "k2"))
        new_secret = "another-secret-of-32-bytes-long!!"
        self.server.sections["auth"]["secret"] = new_secret
        self.server.write_config()
        self.server.reload()

        self.assert_refused(rs_old, "unknown key id")
        self.assert_refused(hs_old, "invalid signature")
        self.assert_connected(self.token("RS256", "k2", pem="rsa2"))
        fresh = self.assert_connected(self.token(key=new_secret.encode(), sub="bob"), user="bob")
        fresh.send("SEND", {"destination": "/topic/keys", "receipt": "m1"}, KOREAN.encode())
        fresh.expect("RECEIPT")
        self.assertEqual(kept.expect("MESSAGE").body.decode(), KOREAN)

    def test_bad_jwks_is_refused(self):
        with open(self.jwks, "w") as f:
            f.write("{not json")
        line = self.server.reload(expect="reload refused")
        self.assertIn("[auth] jwks: %s: not JSON" % self.jwks, line)
        self.assert_connected(self.token("RS256", "k1", pem="rsa"))


if __name__ == "__main__":
    unittest.main()
