"""Presence for clients (docs/protocol.md, "Presence"; docs/rest-api.md,
"Presence"): three chatd instances sharing Redis storage and a Redis
broker; stomp.py clients spread over them see online, away and offline
(with last_seen) of the people they share a room with, on
/user/queue/presence and over REST, and nothing of strangers. A flapping
connection within [presence] offline_grace tells nobody."""
import json
import time
import unittest
import urllib.parse
import urllib.request

import stomp

from chatd_harness import Chatd, Recorder, disconnect_quietly, hash_password, password_of, wait_for
from rooms_client import Api
from servers import Redis

GRACE_MS = 1500
MINJI = "민지"
CAT = "고양이😺"
STRANGER = "dana"
EXTRA_USERS = {MINJI: "user", CAT: "user"}
USERS = ("alice", "bob", MINJI, CAT, STRANGER)


def metric(node, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % node.http_port, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
    return None


class Presence(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.store = Redis().start()
        cls.bus = Redis().start()
        cls.nodes = []
        try:
            for _ in range(3):
                def edit(s):
                    s["storage"] = {"plugin": "redis", "address": cls.store.address}
                    s["broker"] = {"plugin": "redis", "address": cls.bus.address}
                    s["server"]["presence_interval"] = "500ms"
                    s["presence"] = {"offline_grace": "%dms" % GRACE_MS}
                    for user, role in EXTRA_USERS.items():
                        s["auth"]["user.%s.password" % user] = hash_password(password_of(user))
                        s["auth"]["user.%s.roles" % user] = role
                cls.nodes.append(Chatd(edit).start())
            for n in cls.nodes:
                wait_for(lambda: metric(n, "chatd_presence_peers") == 2, what="instances to know each other")
            # One group room: alice, bob, 민지 and the cat share it; dana shares nothing.
            status, room = Api(cls.nodes[0].http_port, "alice").post(
                "/api/rooms", {"kind": "group", "title": "모임 🎉", "members": ["bob", MINJI, CAT]})
            assert status == 201, (status, room)
            cls.room = room["id"]
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        errors = []
        for stop in [n.stop for n in cls.nodes] + [n.cleanup for n in cls.nodes] + [cls.store.cleanup,
                                                                                    cls.bus.cleanup]:
            try:
                stop()
            except Exception as e:  # reported below, after the rest is stopped
                errors.append(e)
        if errors:
            raise errors[0]

    # ------------------------------------------------------------ helpers

    def setUp(self):
        # Each test starts with everyone told offline on every instance: a
        # session an earlier test ended may still be in its grace.
        for i in range(len(self.nodes)):
            wait_for(lambda: all(self.status_on(i, u) == "offline" for u in USERS),
                     what="everyone offline on instance %d" % i)

    def status_on(self, node, user):
        """`user`'s status as instance `node` tells it (asked by the user)."""
        return self.presence_of(node, user, user)[user]["status"]

    def connect(self, node, user, watch=True):
        """A stomp.py client of `user` on instance `node`, subscribed to its
        presence queue when watch: then every instance knows the watcher is
        online (an instance tells a change to the members it knows online)."""
        conn = stomp.Connection12([("127.0.0.1", self.nodes[node].stomp_port)])
        rec = Recorder()
        conn.set_listener("rec", rec)
        conn.connect(user, password_of(user), wait=True)
        self.addCleanup(disconnect_quietly, conn)
        if watch:
            conn.subscribe("/user/queue/presence", id="p", receipt="sub-p")
            rec.wait_receipt("sub-p")
            for i in range(len(self.nodes)):
                wait_for(lambda: self.status_on(i, user) != "offline", what="%s known on instance %d" % (user, i))
        return conn, rec

    def api(self, node, user):
        return Api(self.nodes[node].http_port, user)

    @staticmethod
    def events(rec, about):
        """The presence events rec got about user `about`, as (status, last_seen)."""
        with rec.cond:
            frames = list(rec.messages)
        out = []
        for f in frames:
            if f.headers.get("event") != "presence":
                continue
            body = json.loads(f.body)
            if body["user"] == about:
                assert f.headers.get("user") == about
                out.append((body["status"], body["last_seen"]))
        return out

    def wait_status(self, rec, about, status, count=1):
        """Wait until rec got `count` events saying `about` is `status`; the last one."""
        wait_for(lambda: sum(1 for s, _ in self.events(rec, about) if s == status) >= count,
                 what="%s %s" % (about, status))
        return [e for e in self.events(rec, about) if e[0] == status][count - 1]

    def presence_of(self, node, caller, *users):
        q = urllib.parse.quote(",".join(users), safe=",")
        status, body = self.api(node, caller).get("/api/presence?users=" + q)
        self.assertEqual(status, 200, body)
        return {e["user"]: e for e in body["presence"]}

    def set_status(self, conn, rec, status, rid):
        conn.send("/app/presence", "", headers={"status": status, "receipt": rid})
        rec.wait_receipt(rid)

    # -------------------------------------------------------------- tests

    def test_online_away_offline_across_instances(self):
        bob, bob_rec = self.connect(0, "bob")
        before = int(time.time() * 1000)
        minji, minji_rec = self.connect(1, MINJI, watch=True)
        self.assertEqual(self.wait_status(bob_rec, MINJI, "online"), ("online", None))
        # Any instance answers, with the same view.
        for node in range(3):
            self.assertEqual(self.presence_of(node, "alice", MINJI)[MINJI]["status"], "online")

        self.set_status(minji, minji_rec, "away", "away-1")
        self.wait_status(bob_rec, MINJI, "away")
        # 민지 is told her own change too (her other devices follow it).
        self.wait_status(minji_rec, MINJI, "away")
        status, body = self.api(2, "alice").get("/api/rooms/%s/presence" % self.room)
        self.assertEqual(status, 200, body)
        listed = {e["user"]: e for e in body["presence"]}
        self.assertEqual(set(listed), {"alice", "bob", MINJI, CAT})
        self.assertEqual(listed[MINJI]["status"], "away")
        self.assertEqual(listed["bob"]["status"], "online")

        # Back over REST, from another instance than her session's.
        status, body = self.api(2, MINJI).call("PUT", "/api/presence", {"status": "online"})
        self.assertEqual((status, body), (200, {"user": MINJI, "status": "online"}))
        self.wait_status(bob_rec, MINJI, "online", count=2)

        minji.disconnect()
        ended = int(time.time() * 1000)
        status, last_seen = self.wait_status(bob_rec, MINJI, "offline")
        self.assertTrue(before <= last_seen <= ended + 1000, (before, last_seen, ended))
        # The grace held it: told no sooner than offline_grace after the end.
        self.assertGreaterEqual(int(time.time() * 1000) - ended, GRACE_MS - 200)
        for node in range(3):
            seen = self.presence_of(node, "bob", MINJI)[MINJI]
            self.assertEqual((seen["status"], seen["last_seen"]), ("offline", last_seen))
        # One event per change: online, away, online, offline.
        self.assertEqual([s for s, _ in self.events(bob_rec, MINJI)], ["online", "away", "online", "offline"])

    def test_reconnect_within_grace_tells_nobody(self):
        bob, bob_rec = self.connect(0, "bob")
        cat, _ = self.connect(1, CAT, watch=False)
        self.wait_status(bob_rec, CAT, "online")
        # The cat's connection flaps: gone from instance 1, back on instance 2
        # well within the grace.
        cat.disconnect()
        cat2, _ = self.connect(2, CAT, watch=False)
        # alice, on the instance the cat left, goes after it: instance 1 ends
        # her grace after the cat's and publishes in order, so her offline
        # arriving means any offline of the cat would have arrived first.
        alice, _ = self.connect(1, "alice", watch=False)
        self.wait_status(bob_rec, "alice", "online")
        alice.disconnect()
        self.wait_status(bob_rec, "alice", "offline")
        self.assertEqual([s for s, _ in self.events(bob_rec, CAT)], ["online"])
        self.assertEqual(self.presence_of(0, "bob", CAT)[CAT]["status"], "online")
        cat2.disconnect()
        self.assertEqual(self.wait_status(bob_rec, CAT, "offline")[0], "offline")
        self.assertEqual([s for s, _ in self.events(bob_rec, CAT)], ["online", "offline"])

    def test_strangers_see_nothing(self):
        dana, dana_rec = self.connect(2, STRANGER)
        alice, alice_rec = self.connect(0, "alice")
        self.set_status(alice, alice_rec, "away", "away-a")
        self.set_status(alice, alice_rec, "online", "back-a")
        # dana's own change comes to her after alice's would have.
        self.set_status(dana, dana_rec, "away", "away-d")
        self.wait_status(dana_rec, STRANGER, "away")
        with dana_rec.cond:
            about = {json.loads(f.body)["user"] for f in dana_rec.messages}
        self.assertEqual(about, {STRANGER})
        # Over REST: those she shares no room with are left out, the
        # room's members are no business of hers.
        self.assertEqual(self.presence_of(1, STRANGER, "alice", "bob", MINJI, STRANGER),
                         {STRANGER: {"user": STRANGER, "status": "away", "last_seen": None}})
        status, body = self.api(1, STRANGER).get("/api/rooms/%s/presence" % self.room)
        self.assertEqual(status, 404, body)
        # She cannot publish on anyone's presence queue either.
        dana.send("/user/alice/queue/presence", '{"user":"x","status":"online"}', headers={"receipt": "forged"})
        err = dana_rec.wait_error()
        self.assertEqual(err.headers.get("message"), "destination is server-only")

    def test_bad_input(self):
        api = self.api(0, "bob")
        self.assertEqual(api.get("/api/presence")[0], 400)
        self.assertEqual(api.get("/api/presence?users=")[0], 400)
        self.assertEqual(api.get("/api/presence?users=a,,b")[0], 400)
        many = ",".join("u%d" % i for i in range(101))
        status, body = api.get("/api/presence?users=" + many)
        self.assertEqual(status, 400)
        self.assertIn("100", body["message"])
        # Away is kept only while connected (agent2 never connects here).
        status, body = self.api(0, "agent2").call("PUT", "/api/presence", {"status": "away"})
        self.assertEqual(status, 409, body)
        conn, rec = self.connect(0, "bob", watch=False)
        status, body = api.call("PUT", "/api/presence", {"status": "busy"})
        self.assertEqual(status, 400, body)
        conn.send("/app/presence", "", headers={"status": "부재중", "receipt": "bad"})
        err = rec.wait_error()
        self.assertEqual(err.headers.get("message"), "invalid status")


if __name__ == "__main__":
    unittest.main()


class InstanceGone(unittest.TestCase):
    """An instance killed outright says nothing: the one that routes (the
    other, here) tells its users offline once it forgets it, with that time
    as their last_seen."""

    def test_users_of_a_killed_instance_go_offline(self):
        bus = Redis().start()
        self.addCleanup(bus.cleanup)
        nodes = []

        def edit(s):
            s["broker"] = {"plugin": "redis", "address": bus.address}
            s["storage"] = {"plugin": "redis", "address": store.address}
            s["server"]["presence_interval"] = "300ms"
            s["presence"] = {"offline_grace": "200ms"}
            s["auth"]["user.%s.password" % MINJI] = hash_password(password_of(MINJI))
            s["auth"]["user.%s.roles" % MINJI] = "user"
        store = Redis().start()
        self.addCleanup(store.cleanup)
        for _ in range(2):
            node = Chatd(edit).start()
            self.addCleanup(node.cleanup)
            self.addCleanup(node.stop)
            nodes.append(node)
        for n in nodes:
            wait_for(lambda: metric(n, "chatd_presence_peers") == 1, what="instances to know each other")
        status, _ = Api(nodes[0].http_port, "bob").post("/api/rooms", {"kind": "direct", "with": MINJI})
        self.assertIn(status, (200, 201))

        bob = stomp.Connection12([("127.0.0.1", nodes[0].stomp_port)])
        rec = Recorder()
        bob.set_listener("rec", rec)
        bob.connect("bob", password_of("bob"), wait=True)
        self.addCleanup(disconnect_quietly, bob)
        bob.subscribe("/user/queue/presence", id="p", receipt="sub-p")
        rec.wait_receipt("sub-p")
        wait_for(lambda: Api(nodes[1].http_port, "bob").get("/api/presence?users=bob")[1]["presence"][0]["status"]
                 == "online", what="bob known on the other instance")
        minji = stomp.Connection12([("127.0.0.1", nodes[1].stomp_port)])
        minji.connect(MINJI, password_of(MINJI), wait=True)
        wait_for(lambda: ("online", None) in Presence.events(rec, MINJI), what="민지 online")

        before = int(time.time() * 1000)
        nodes[1].proc.kill()
        nodes[1].proc.wait()
        wait_for(lambda: any(s == "offline" for s, _ in Presence.events(rec, MINJI)), what="민지 offline")
        status, last_seen = [e for e in Presence.events(rec, MINJI) if e[0] == "offline"][0]
        self.assertGreaterEqual(last_seen, before)
        self.assertEqual([s for s, _ in Presence.events(rec, MINJI)], ["online", "offline"])
        status, body = Api(nodes[0].http_port, "bob").get("/api/presence?users=" + urllib.parse.quote(MINJI))
        self.assertEqual(body["presence"], [{"user": MINJI, "status": "offline", "last_seen": last_seen}])
