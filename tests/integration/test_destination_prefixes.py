"""Destination prefixes ([stomp] application_prefix, topic_prefix,
queue_prefix, user_prefix; docs/protocol.md, "Destination prefixes").

A front end written for Spring's STOMP support sends to /pub/... and
subscribes under /sub/...: with the prefixes configured it talks to chatd
unchanged, beside clients that still use /app and /topic. Every MESSAGE
names its destination the way its subscriber wrote it; the server's own
destinations stay the server's under every prefix; allow rules are written
in canonical form and hold under every prefix; instances with different
prefixes share rooms and topics over the broker."""
import os
import subprocess
import tempfile
import unittest

import stomp

from chatd_harness import CHATD_BIN, Chatd, OneServer, Recorder, default_sections, password_of, render_ini
from rooms_client import Api, subscribe
from servers import Redis
from stomp_ws import WSConnection12

KOREAN = "안녕하세요 😀"
SERVER_ONLY = "destination is server-only"


def spring_prefixes(s):
    s["stomp"] = {
        "application_prefix": "/app, /pub",
        "topic_prefix": "/topic, /sub",
        "queue_prefix": "/queue, /q",
        "user_prefix": "/user /me",
        # Canonical form, for every prefix. Agents may send anywhere under
        # /topic: the server's own destinations stay refused all the same.
        "allow.chat": "send,subscribe /topic/chat.** user,agent",
        "allow.agents": "send /topic/** agent",
        "allow.jobs": "send,subscribe /queue/jobs.* user,agent",
        "allow.own": "subscribe /user/queue/** user,agent",
        "allow.direct": "send /user/*/queue/** user,agent",
    }


def next_event(c, event):
    while True:
        f = c.expect("MESSAGE")
        if f.headers.get("event") == event:
            return f


class SpringPrefixes(OneServer):
    edit = staticmethod(spring_prefixes)

    def api(self, user):
        return Api(self.server.http_port, user)

    def direct_room(self, user, other):
        """A new room of the two (a group: each test gets its own)."""
        status, room = self.api(user).post("/api/rooms", {"kind": "group", "title": "우리 팀 🎉", "members": [other]})
        self.assertIn(status, (200, 201), room)
        return room["id"]

    def stomp_py(self, user, websocket=False):
        """A stomp.py 1.2 client (over the WebSocket with `websocket`), connected."""
        if websocket:
            c = WSConnection12("ws://127.0.0.1:%d/ws" % self.server.http_port,
                               origin="http://localhost:%d" % self.server.http_port)
        else:
            c = stomp.Connection12([("127.0.0.1", self.server.stomp_port)])
        rec = Recorder()
        c.set_listener("r", rec)
        c.connect(user, password_of(user), wait=True)
        self.addCleanup(lambda: c.is_connected() and c.disconnect())
        return c, rec

    # -- rooms -----------------------------------------------------------
    def test_room_both_ways_with_pub_and_sub(self):
        rid = self.direct_room("alice", "bob")
        bob, bob_rec = self.stomp_py("bob", websocket=True)
        bob.subscribe("/sub/rooms/" + rid, id="room", headers={"receipt": "s"})
        bob_rec.wait_receipt("s")
        alice, alice_rec = self.stomp_py("alice", websocket=True)
        alice.subscribe("/sub/rooms/" + rid, id="room", headers={"receipt": "s"})
        alice_rec.wait_receipt("s")
        alice.send("/pub/rooms/%s/send" % rid, KOREAN, content_type="text/plain",
                   headers={"receipt": "m1", "client-id": "c1"})
        alice_rec.wait_receipt("m1")
        bob.send("/pub/rooms/%s/typing" % rid, "", headers={"receipt": "t1"})
        bob_rec.wait_receipt("t1")
        bob.send("/pub/rooms/%s/read" % rid, '{"seq":1}', headers={"receipt": "r1"})
        bob_rec.wait_receipt("r1")
        alice_rec.wait(lambda: [m.headers.get("event") for m in alice_rec.messages] == ["message", "typing", "read"],
                       what="message, typing, read")
        for m in alice_rec.messages:
            self.assertEqual(m.headers["destination"], "/sub/rooms/" + rid)
        m = alice_rec.messages[0]
        self.assertEqual((m.headers["sender"], m.headers["seq"], m.headers["client-id"], m.body),
                         ("alice", "1", "c1", KOREAN))
        bob_rec.wait_messages(1)
        self.assertEqual((bob_rec.messages[0].headers["destination"], bob_rec.messages[0].body),
                         ("/sub/rooms/" + rid, KOREAN))
        self.assertEqual(alice_rec.errors + bob_rec.errors, [])
        # Stored as any message is.
        status, page = self.api("bob").get("/api/rooms/%s/messages" % rid)
        self.assertEqual(status, 200)
        self.assertEqual([(x["seq"], x["body"]) for x in page["messages"]], [(1, KOREAN)])

    def test_old_and_new_clients_share_a_room(self):
        """/app + /topic and /pub + /sub clients in one room, at once: each
        sees the other's messages, named with its own destination; so does a
        session subscribed both ways, and subscribers of every STOMP
        version (the shared part of a MESSAGE is made per version and
        prefix)."""
        rid = self.direct_room("alice", "bob")
        old, old_rec = self.stomp_py("alice")                  # Spring-less: /app + /topic
        new, new_rec = self.stomp_py("bob", websocket=True)   # Spring-style: /pub + /sub
        old.subscribe("/topic/rooms/" + rid, id="old", headers={"receipt": "s"})
        old_rec.wait_receipt("s")
        new.subscribe("/sub/rooms/" + rid, id="new", headers={"receipt": "s"})
        new_rec.wait_receipt("s")
        both = self.raw("alice")
        subscribe(both, "/topic/rooms/" + rid, sid="t")
        both.expect("RECEIPT")
        subscribe(both, "/sub/rooms/" + rid, sid="s")
        both.expect("RECEIPT")
        v10 = self.raw("bob", version="1.0")
        v10.send("SUBSCRIBE", {"destination": "/sub/rooms/" + rid, "receipt": "s"})
        v10.expect("RECEIPT")
        v11 = self.raw("bob", version="1.1")
        subscribe(v11, "/topic/rooms/" + rid, sid="t")
        v11.expect("RECEIPT")

        old.send("/app/rooms/%s/send" % rid, KOREAN + " old", content_type="text/plain", headers={"receipt": "o"})
        old_rec.wait_receipt("o")
        new.send("/pub/rooms/%s/send" % rid, KOREAN + " new", content_type="text/plain", headers={"receipt": "n"})
        new_rec.wait_receipt("n")
        texts = [KOREAN + " old", KOREAN + " new"]
        for rec, dest in ((old_rec, "/topic/rooms/"), (new_rec, "/sub/rooms/")):
            rec.wait_messages(2)
            self.assertEqual([(m.headers["destination"], m.body) for m in rec.messages],
                             [(dest + rid, t) for t in texts])
            self.assertEqual([m.headers["seq"] for m in rec.messages], ["1", "2"])
        got = {"t": [], "s": []}
        for _ in range(4):
            f = both.expect("MESSAGE")
            got[f.headers["subscription"]].append((f.headers["destination"], f.body.decode()))
        self.assertEqual(got, {"t": [("/topic/rooms/" + rid, t) for t in texts],
                               "s": [("/sub/rooms/" + rid, t) for t in texts]})
        for c, dest in ((v10, "/sub/rooms/"), (v11, "/topic/rooms/")):
            seen = [c.expect("MESSAGE") for _ in texts]
            self.assertEqual([(f.headers["destination"], f.body.decode()) for f in seen],
                             [(dest + rid, t) for t in texts])

    def test_since_seq_replay_under_an_alias(self):
        rid = self.direct_room("alice", "bob")
        alice = self.raw("alice")
        for i in range(3):
            alice.send("SEND", {"destination": "/pub/rooms/%s/send" % rid, "receipt": "m%d" % i,
                                "content-type": "text/plain"}, "%s %d" % (KOREAN, i))
            alice.expect("RECEIPT")
        bob = self.raw("bob")
        subscribe(bob, "/sub/rooms/" + rid, **{"since-seq": "1"})
        replayed = [bob.expect("MESSAGE") for _ in range(2)]
        self.assertEqual([(f.headers["destination"], f.headers["seq"], f.headers.get("replay"), f.body.decode())
                          for f in replayed],
                         [("/sub/rooms/" + rid, str(s), "true", "%s %d" % (KOREAN, s - 1)) for s in (2, 3)])
        bob.expect("RECEIPT")
        alice.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "live"}, KOREAN + " live")
        alice.expect("RECEIPT")
        live = next_event(bob, "message")
        self.assertEqual((live.headers["destination"], live.headers["seq"], live.body.decode()),
                         ("/sub/rooms/" + rid, "4", KOREAN + " live"))
        self.assertNotIn("replay", live.headers)

    def test_unknown_room_under_an_alias_names_the_clients_destination(self):
        bob = self.raw("bob")
        subscribe(bob, "/sub/rooms/NOPE")  # not a room id
        err = bob.expect("ERROR")
        self.assertEqual((err.headers["message"], err.body.decode()), ("no such room", "/sub/rooms/NOPE"))
        alice = self.raw("alice")
        alice.send("SEND", {"destination": "/pub/rooms/r1/shout", "receipt": "x"}, KOREAN)
        err = alice.expect("ERROR")
        self.assertEqual((err.headers["message"], err.body.decode()), ("unknown destination", "/pub/rooms/r1/shout"))

    # -- the support queue and notifications -----------------------------
    def test_support_queue_and_notifications_under_aliases(self):
        agent_new = self.raw("agent1")
        subscribe(agent_new, "/sub/support/queue", sid="q")
        agent_new.expect("RECEIPT")
        subscribe(agent_new, "/me/queue/notifications", sid="n")
        agent_new.expect("RECEIPT")
        agent_old = self.raw("agent1")
        subscribe(agent_old, "/topic/support/queue", sid="q")
        agent_old.expect("RECEIPT")
        subscribe(agent_old, "/user/queue/notifications", sid="n")
        agent_old.expect("RECEIPT")
        # A support room opens: the queue event, each with its own name.
        dana = self.api("dana")
        status, room = dana.post("/api/rooms", {"kind": "support"})
        self.assertIn(status, (200, 201), room)
        self.addCleanup(dana.delete, "/api/rooms/" + room["id"])
        for c, dest in ((agent_new, "/sub/support/queue"), (agent_old, "/topic/support/queue")):
            f = next_event(c, "opened")
            self.assertEqual((f.headers["destination"], f.headers["room"]), (dest, room["id"]))
        # A direct room with the agent: room-added on both notifications.
        rid = self.direct_room("bob", "agent1")
        for c, dest in ((agent_new, "/me/agent1/queue/notifications"),
                        (agent_old, "/user/agent1/queue/notifications")):
            f = next_event(c, "room-added")
            self.assertEqual((f.headers["destination"], f.headers["room"]), (dest, rid))
        # A message in it while the agent watches no room: a notice with
        # the Korean preview, under each prefix.
        bob = self.raw("bob")
        bob.send("SEND", {"destination": "/pub/rooms/%s/send" % rid, "receipt": "m"}, KOREAN)
        bob.expect("RECEIPT")
        for c, dest in ((agent_new, "/me/agent1/queue/notifications"),
                        (agent_old, "/user/agent1/queue/notifications")):
            f = next_event(c, "message")
            self.assertEqual(f.headers["destination"], dest)
            self.assertIn('"preview":"%s"' % KOREAN, f.body.decode())

    def test_support_queue_is_for_agents_under_every_prefix(self):
        for dest in ("/sub/support/queue", "/topic/support/queue"):
            c = self.raw("alice")
            subscribe(c, dest)
            self.assertEqual(c.expect("ERROR").headers["message"], "destination not allowed")

    # -- the server's own destinations -----------------------------------
    def test_server_destinations_are_refused_under_every_prefix(self):
        rid = self.direct_room("alice", "agent1")
        watcher = self.raw("agent1")
        subscribe(watcher, "/sub/rooms/" + rid)
        watcher.expect("RECEIPT")
        for user in ("alice", "agent1"):  # agent1's allow.agents reaches them: refused all the same
            for dest in ("/topic/rooms/" + rid, "/sub/rooms/" + rid, "/topic/support/queue", "/sub/support/queue",
                         "/user/agent1/queue/notifications", "/me/agent1/queue/notifications"):
                with self.subTest(user=user, destination=dest):
                    c = self.raw(user)
                    c.send("SEND", {"destination": dest, "receipt": "forged", "event": "message"}, KOREAN)
                    err = c.expect("ERROR")
                    self.assertEqual((err.headers["message"], err.headers["receipt-id"]), (SERVER_ONLY, "forged"))
                    self.assertTrue(c.wait_closed())
        # The next event the watcher sees is the real one: nothing forged went out.
        alice = self.raw("alice")
        alice.send("SEND", {"destination": "/pub/rooms/%s/send" % rid, "receipt": "real"}, KOREAN + " real")
        alice.expect("RECEIPT")
        m = watcher.expect("MESSAGE")
        self.assertEqual((m.headers["event"], m.headers["seq"], m.body.decode()), ("message", "1", KOREAN + " real"))

    # -- generic destinations and the allow rules ------------------------
    def test_generic_topics_under_either_prefix(self):
        bob, bob_rec = self.stomp_py("bob", websocket=True)
        bob.subscribe("/sub/chat.lobby", id="s", headers={"receipt": "s"})
        bob_rec.wait_receipt("s")
        bob.subscribe("/topic/chat.lobby", id="t", headers={"receipt": "t"})
        bob_rec.wait_receipt("t")
        alice, alice_rec = self.stomp_py("alice")
        alice.send("/topic/chat.lobby", KOREAN + " 1", headers={"receipt": "p1", "x-note": KOREAN})
        alice_rec.wait_receipt("p1")
        alice.send("/sub/chat.lobby", KOREAN + " 2", headers={"receipt": "p2"})
        alice_rec.wait_receipt("p2")
        bob_rec.wait_messages(4)
        got = sorted((m.headers["subscription"], m.headers["destination"], m.body) for m in bob_rec.messages)
        self.assertEqual(got, [("s", "/sub/chat.lobby", KOREAN + " 1"), ("s", "/sub/chat.lobby", KOREAN + " 2"),
                               ("t", "/topic/chat.lobby", KOREAN + " 1"), ("t", "/topic/chat.lobby", KOREAN + " 2")])
        self.assertTrue(all(m.headers["sender"] == "alice" for m in bob_rec.messages))
        self.assertEqual(alice_rec.errors + bob_rec.errors, [])

    def test_allow_rules_hold_under_every_prefix(self):
        for dest in ("/sub/news.x", "/topic/news.x"):
            with self.subTest(destination=dest):
                c = self.raw("alice")
                subscribe(c, dest)
                err = c.expect("ERROR")
                self.assertEqual((err.headers["message"], err.body.decode()), ("destination not allowed", dest))
                c = self.raw("alice")
                c.send("SEND", {"destination": dest, "receipt": "p"}, KOREAN)
                self.assertEqual(c.expect("ERROR").headers["message"], "destination not allowed")
        # allow.agents: send /topic/** agent, also as /sub.
        agent = self.raw("agent1")
        agent.send("SEND", {"destination": "/sub/news.x", "receipt": "p"}, KOREAN)
        agent.expect("RECEIPT")

    def test_queues_and_user_queues_under_aliases(self):
        worker = self.raw("bob")
        subscribe(worker, "/q/jobs.mail", sid="w")
        worker.expect("RECEIPT")
        inbox = self.raw("bob")
        subscribe(inbox, "/me/queue/inbox", sid="i")
        inbox.expect("RECEIPT")
        alice = self.raw("alice")
        alice.send("SEND", {"destination": "/queue/jobs.mail", "receipt": "j"}, KOREAN)
        alice.expect("RECEIPT")
        f = worker.expect("MESSAGE")
        self.assertEqual((f.headers["destination"], f.body.decode()), ("/q/jobs.mail", KOREAN))
        for dest in ("/user/bob/queue/inbox", "/me/bob/queue/inbox"):
            alice.send("SEND", {"destination": dest, "receipt": dest}, KOREAN)
            alice.expect("RECEIPT")
            f = inbox.expect("MESSAGE")
            self.assertEqual((f.headers["destination"], f.body.decode()), ("/me/bob/queue/inbox", KOREAN))

    def test_destinations_under_no_prefix_are_unknown(self):
        for dest in ("/pubs/rooms/r1/send", "/subway/x", "/sub", "/exchange/x"):
            with self.subTest(destination=dest):
                c = self.raw("alice")
                c.send("SEND", {"destination": dest, "receipt": "p"}, KOREAN)
                err = c.expect("ERROR")
                self.assertEqual((err.headers["message"], err.body.decode()), ("unknown destination", dest))

    def test_token_refresh_under_the_application_alias(self):
        c = self.raw("alice")
        c.send("SEND", {"destination": "/pub/session/refresh", "receipt": "r"}, "")
        err = c.expect("ERROR")
        self.assertEqual(err.headers["message"], "missing token")


class OnlyTheNewPrefixes(OneServer):
    """topic_prefix = /sub alone: /topic is no longer a client's name."""

    @staticmethod
    def edit(s):
        s["stomp"] = {"application_prefix": "/pub", "topic_prefix": "/sub",
                      "allow.chat": "send,subscribe /topic/chat.** user,agent"}

    def test_old_names_are_unknown_and_new_ones_work(self):
        rid = Api(self.server.http_port, "alice").post("/api/rooms", {"kind": "direct", "with": "bob"})[1]["id"]
        for dest in ("/topic/rooms/" + rid, "/topic/chat.x"):
            c = self.raw("bob")
            subscribe(c, dest)
            self.assertEqual(c.expect("ERROR").headers["message"], "unknown destination")
        c = self.raw("alice")
        c.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "m"}, KOREAN)
        self.assertEqual(c.expect("ERROR").headers["message"], "unknown destination")
        bob = self.raw("bob")
        subscribe(bob, "/sub/rooms/" + rid)
        bob.expect("RECEIPT")
        alice = self.raw("alice")
        alice.send("SEND", {"destination": "/pub/rooms/%s/send" % rid, "receipt": "m"}, KOREAN)
        alice.expect("RECEIPT")
        f = bob.expect("MESSAGE")
        self.assertEqual((f.headers["destination"], f.body.decode()), ("/sub/rooms/" + rid, KOREAN))


def check_config(stomp_keys):
    sections = default_sections(1, 2)
    sections["stomp"] = stomp_keys
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write(render_ini(sections))
        path = f.name
    try:
        return subprocess.run([CHATD_BIN, "--check-config", "-c", path], capture_output=True, text=True,
                              timeout=30), path
    finally:
        os.unlink(path)


class PrefixConfig(unittest.TestCase):
    def test_bad_prefixes_are_refused_with_one_line(self):
        cases = [
            ({"topic_prefix": "/topic, /sub/"}, "[stomp] topic_prefix: '/sub/' must not end with '/'"),
            ({"topic_prefix": "/sub/*"}, "[stomp] topic_prefix: '/sub/*' must not hold wildcards"),
            ({"application_prefix": "pub"}, "[stomp] application_prefix: 'pub' must start with '/'"),
            ({"queue_prefix": ""}, "[stomp] queue_prefix: expected a list of prefixes"),
            ({"application_prefix": "/app, /sub", "topic_prefix": "/topic, /sub"},
             "[stomp] topic_prefix: '/sub' is also in application_prefix"),
            ({"topic_prefix": "/topic, /sub", "queue_prefix": "/sub/q"},
             "[stomp] queue_prefix: '/sub/q' and '/sub' (topic_prefix) overlap"),
            ({"user_prefix": "/user, /\uc0ac\uc6a9\uc790"}, "[stomp] user_prefix: '/\uc0ac\uc6a9\uc790' may hold only"),
            ({"topic_prefix": "/topic, /sub", "allow.chat": "send /sub/chat.* user"},
             "[stomp] allow.chat: pattern '/sub/chat.*' is written under the prefix /sub; allow rules are written "
             "in canonical form and apply under every prefix: use '/topic/chat.*'"),
        ]
        for keys, expected in cases:
            with self.subTest(keys=keys):
                p, path = check_config(keys)
                self.assertNotEqual(p.returncode, 0)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertTrue(lines[0].startswith(path + ": " + expected), lines[0])

    def test_good_prefixes_pass(self):
        p, path = check_config({"application_prefix": "/app, /pub", "topic_prefix": "/topic, /sub",
                                "queue_prefix": "/queue", "user_prefix": "/user",
                                "allow.chat": "send,subscribe /topic/chat.* user"})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), path + ": ok")

    def test_send_rule_over_server_destinations_warns_with_every_prefix(self):
        p, path = check_config({"topic_prefix": "/topic, /sub", "allow.all": "send /topic/** agent"})
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [l for l in p.stderr.splitlines() if "[stomp] allow.all" in l]
        self.assertEqual(len(lines), 1, p.stderr)
        for name in ("/topic/rooms/{room}", "/sub/rooms/{room}", "/topic/support/queue", "/sub/support/queue"):
            self.assertIn(name, lines[0])


class MixedPrefixesAcrossInstances(unittest.TestCase):
    """Two instances on one Redis broker and one Redis storage: one knows
    only /topic, the other /topic and /sub. The broker carries canonical
    names, so both share rooms and topics, and each subscriber reads the
    destination it wrote."""

    @classmethod
    def setUpClass(cls):
        cls.store = Redis().start()
        cls.bus = Redis().start()
        cls.nodes = []

        def edit_for(extra):
            def edit(s):
                s["storage"] = {"plugin": "redis", "address": cls.store.address}
                s["broker"] = {"plugin": "redis", "address": cls.bus.address}
                s["stomp"] = dict({"allow.chat": "send,subscribe /topic/chat.** user,agent"}, **extra)
            return edit
        try:
            cls.nodes.append(Chatd(edit_for({})).start())
            cls.nodes.append(Chatd(edit_for({"application_prefix": "/app, /pub",
                                             "topic_prefix": "/topic, /sub"})).start())
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for n in cls.nodes:
                n.stop()
        finally:
            for n in cls.nodes:
                n.cleanup()
            cls.store.cleanup()
            cls.bus.cleanup()

    def raw(self, node, user):
        from raw_stomp import RawStomp
        c = RawStomp(self.nodes[node].stomp_port)
        self.addCleanup(c.close)
        c.connect(user)
        return c

    def test_a_room_across_instances_with_different_prefixes(self):
        status, room = Api(self.nodes[0].http_port, "alice").post("/api/rooms", {"kind": "direct", "with": "bob"})
        self.assertIn(status, (200, 201), room)
        rid = room["id"]
        old = self.raw(0, "alice")
        subscribe(old, "/topic/rooms/" + rid)
        old.expect("RECEIPT")
        new = self.raw(1, "bob")
        subscribe(new, "/sub/rooms/" + rid, sid="s")
        new.expect("RECEIPT")
        subscribe(new, "/topic/rooms/" + rid, sid="t")
        new.expect("RECEIPT")
        # The /topic-only instance does not know /sub.
        probe = self.raw(0, "alice")
        subscribe(probe, "/sub/rooms/" + rid)
        self.assertEqual(probe.expect("ERROR").headers["message"], "unknown destination")

        old.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "o"}, KOREAN + " old")
        old.expect("RECEIPT")
        new.send("SEND", {"destination": "/pub/rooms/%s/send" % rid, "receipt": "n"}, KOREAN + " new")
        new.expect("RECEIPT")
        texts = [KOREAN + " old", KOREAN + " new"]
        seen = [next_event(old, "message") for _ in texts]
        self.assertEqual([(f.headers["destination"], f.body.decode()) for f in seen],
                         [("/topic/rooms/" + rid, t) for t in texts])
        got = {"s": [], "t": []}
        while len(got["s"]) + len(got["t"]) < 4:
            f = next_event(new, "message")
            got[f.headers["subscription"]].append((f.headers["destination"], f.body.decode()))
        self.assertEqual(got, {"s": [("/sub/rooms/" + rid, t) for t in texts],
                               "t": [("/topic/rooms/" + rid, t) for t in texts]})

    def test_a_topic_across_instances_with_different_prefixes(self):
        new = self.raw(1, "bob")
        subscribe(new, "/sub/chat.peer")
        new.expect("RECEIPT")
        old = self.raw(0, "alice")
        subscribe(old, "/topic/chat.peer")
        old.expect("RECEIPT")
        old.send("SEND", {"destination": "/topic/chat.peer", "receipt": "p", "x-note": KOREAN}, KOREAN)
        old.expect("RECEIPT")
        f = new.expect("MESSAGE")
        self.assertEqual((f.headers["destination"], f.headers["sender"], f.headers["x-note"], f.body.decode()),
                         ("/sub/chat.peer", "alice", KOREAN, KOREAN))
        new.send("SEND", {"destination": "/sub/chat.peer", "receipt": "q"}, KOREAN + " back")
        new.expect("RECEIPT")
        self.assertEqual(new.expect("MESSAGE").body.decode(), KOREAN + " back")
        got = [old.expect("MESSAGE") for _ in range(2)]
        self.assertEqual([(f.headers["destination"], f.body.decode()) for f in got],
                         [("/topic/chat.peer", KOREAN), ("/topic/chat.peer", KOREAN + " back")])


if __name__ == "__main__":
    unittest.main()
