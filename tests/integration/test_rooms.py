"""The rooms scenarios (docs/rest-api.md, docs/protocol.md): written once,
run per profile (a chat.ini with a storage and a broker). CHATD_PROFILE
picks one; the default is memory+simple."""
import http.client
import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import unittest
import urllib.parse
import urllib.request

from chatd_harness import SLOWDOWN, Chatd, wait_for
from raw_stomp import encode
from rooms_client import Api, history, send_message, stomp, subscribe
from servers import KafkaMock, MariaDB, PostgreSQL, RabbitMQ, Redis

PROFILES = {
    "memory": lambda s, d: s.update({"storage": {"plugin": "memory"}, "broker": {"plugin": "simple"}}),
    "sqlite": lambda s, d: s.update({"storage": {"plugin": "sqlite", "path": os.path.join(d["path"], "chat.db")},
                                     "broker": {"plugin": "simple"}}),
    "redis": lambda s, d: s.update({"storage": {"plugin": "redis", "address": d["redis"].address},
                                    "broker": {"plugin": "redis", "address": d["redis"].address}}),
}

PROFILES["postgres"] = lambda s, d: s.update({"storage": {"plugin": "postgres", "conninfo": d["pg"].conninfo},
                                               "broker": {"plugin": "redis", "address": d["redis"].address}})

PROFILES["postgres-rabbitmq"] = lambda s, d: s.update({
    "storage": {"plugin": "postgres", "conninfo": d["pg"].conninfo},
    "broker": {"plugin": "rabbitmq", "port": str(d["rabbit"].port)}})
PROFILES["postgres-kafka"] = lambda s, d: s.update({
    "storage": {"plugin": "postgres", "conninfo": d["pg"].conninfo},
    "broker": {"plugin": "kafka", "brokers": d["kafka"].bootstrap, "kafka.fetch.wait.max.ms": "10"}})

PROFILES["mysql"] = lambda s, d: s.update({"storage": d["mysql"].storage(),
                                            "broker": {"plugin": "redis", "address": d["redis"].address}})

# The servers a profile needs, started before chatd.
SERVERS = {"redis": {"redis": Redis}, "postgres": {"pg": PostgreSQL, "redis": Redis},
           "mysql": {"mysql": MariaDB, "redis": Redis},
           "postgres-rabbitmq": {"pg": PostgreSQL, "rabbit": RabbitMQ},
           "postgres-kafka": {"pg": PostgreSQL, "kafka": KafkaMock}}


def healthy(port):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False


class ProfileServer(unittest.TestCase):
    """One chatd per test class on the storage and broker of CHATD_PROFILE,
    with the backends the profile needs, stopped afterwards. A subclass
    adds its own keys in edit_config (cls.data is its temp dir by then)."""
    PREFIX = "chatd-rooms-"

    @classmethod
    def edit_config(cls, sections):
        pass

    @classmethod
    def setUpClass(cls):
        cls.data = tempfile.mkdtemp(prefix=cls.PREFIX)
        name = os.environ.get("CHATD_PROFILE", "memory")
        cls.backends = {k: make().start() for k, make in SERVERS.get(name, {}).items()}
        profile = PROFILES[name]

        def edit(sections):
            profile(sections, dict(cls.backends, path=cls.data))
            cls.edit_config(sections)

        cls.server = Chatd(edit).start()
        wait_for(lambda: healthy(cls.server.http_port), what="storage and broker ready")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()
            for b in cls.backends.values():
                b.cleanup()
            shutil.rmtree(cls.data, ignore_errors=True)

    def api(self, user):
        return Api(self.server.http_port, user)

    def stomp(self, user):
        c = stomp(self.server.stomp_port, user)
        self.addCleanup(c.close)
        return c


class Rooms(ProfileServer):
    def open_support(self, user):
        """A fresh support room of `user`, closed again after the test."""
        api = self.api(user)
        status, room = api.post("/api/rooms", {"kind": "support"})
        if status == 200:  # one left open: close it and open anew
            api.delete("/api/rooms/" + room["id"])
            status, room = api.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        self.addCleanup(api.delete, "/api/rooms/" + room["id"])
        return room

    def next_event(self, c, event, room=None):
        """Skip other events until `event` arrives (of `room`, when given:
        a shared topic such as the queue may still carry an earlier test's
        rooms, late through a broker)."""
        while True:
            f = c.expect("MESSAGE")
            if f.headers.get("event") == event and (room is None or f.headers.get("room") == room):
                return f

    def test_support_flow_end_to_end(self):
        alice, a1, a2 = self.api("alice"), self.api("agent1"), self.api("agent2")
        watcher = self.stomp("agent2")
        subscribe(watcher, "/topic/support/queue")
        watcher.expect("RECEIPT")
        notes = self.stomp("alice")
        subscribe(notes, "/user/queue/notifications")
        notes.expect("RECEIPT")

        room = self.open_support("alice")
        self.assertEqual(room["state"], "unassigned")
        status, again = alice.post("/api/rooms", {"kind": "support"})
        self.assertEqual((status, again["id"]), (200, room["id"]))
        rid = room["id"]
        self.assertEqual(self.next_event(watcher, "opened").headers["room"], rid)

        status, queue = a1.get("/api/rooms?scope=unassigned")
        self.assertEqual(status, 200)
        entry = [r for r in queue["rooms"] if r["id"] == rid][0]
        self.assertIn("waiting_ms", entry)
        self.assertEqual(alice.get("/api/rooms?scope=unassigned")[0], 403)

        # Two agents race; exactly one wins.
        results = {}
        def claim(name, api):
            results[name] = api.post("/api/rooms/%s/claim" % rid)[0]
        threads = [threading.Thread(target=claim, args=(n, a)) for n, a in (("a1", a1), ("a2", a2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results.values()), [200, 409])
        winner = "agent1" if results["a1"] == 200 else "agent2"
        loser = "agent2" if winner == "agent1" else "agent1"
        self.assertEqual(self.next_event(watcher, "claimed").headers["room"], rid)
        self.assertEqual(self.next_event(notes, "assigned").headers["room"], rid)
        self.assertNotIn(rid, [r["id"] for r in a1.get("/api/rooms?scope=unassigned")[1]["rooms"]])
        self.assertIn(rid, [r["id"] for r in self.api(winner).get("/api/rooms?scope=assigned")[1]["rooms"]])

        # They talk, both ways, with receipts only after storage.
        cust, agent = self.stomp("alice"), self.stomp(winner)
        for c in (cust, agent):
            subscribe(c, "/topic/rooms/" + rid)
            c.expect("RECEIPT")
        send_message(cust, rid, "my order is late", receipt="c1")
        cust.expect("RECEIPT")
        send_message(agent, rid, "let me check", receipt="g1")
        agent.expect("RECEIPT")
        seen = [self.next_event(cust, "message"), self.next_event(cust, "message")]
        self.assertEqual([f.body for f in seen], [b"my order is late", b"let me check"])
        self.assertEqual([int(f.headers["seq"]) for f in seen], [1, 2])
        self.assertEqual([f.headers["sender"] for f in seen], ["alice", winner])
        self.assertTrue(all(f.headers["message-id"] and f.headers["timestamp"] for f in seen))

        # Only the assigned agent completes.
        self.assertEqual(self.api(loser).post("/api/rooms/%s/complete" % rid)[0], 404)
        status, done = self.api(winner).post("/api/rooms/%s/complete" % rid)
        self.assertEqual((status, done["state"]), (200, "completed"))
        self.assertEqual(self.next_event(cust, "completed").headers["room"], rid)
        self.assertNotIn(rid, [r["id"] for r in self.api(winner).get("/api/rooms?scope=assigned")[1]["rooms"]])
        send_message(cust, rid, "one more thing", receipt="late")
        err = cust.expect("ERROR")
        self.assertEqual((err.headers["message"], err.headers["receipt-id"]), ("room is closed to new messages", "late"))
        self.assertEqual(len(alice.get("/api/rooms/%s/messages" % rid)[1]["messages"]), 2)  # history stays

        # The customer closes: the transcript stays; a new support room is new.
        status, _ = alice.delete("/api/rooms/" + rid)
        self.assertEqual(status, 200)
        self.assertEqual(len(alice.get("/api/rooms/%s/messages" % rid)[1]["messages"]), 2)
        self.assertNotEqual(self.open_support("alice")["id"], rid)

    def test_paging_back_through_45_messages(self):
        rid = self.api("bob").post("/api/rooms", {"kind": "group", "title": "paging"})[1]["id"]
        c = self.stomp("bob")
        for i in range(1, 46):
            send_message(c, rid, "m%d" % i, receipt="r%d" % i)
            c.expect("RECEIPT")
        api = self.api("bob")
        status, page = api.get("/api/rooms/%s/messages" % rid)
        self.assertEqual([m["seq"] for m in page["messages"]], list(range(45, 25, -1)))
        seqs = [m["seq"] for m in page["messages"]]
        while "next_before" in page:
            status, page = api.get("/api/rooms/%s/messages?before=%d" % (rid, page["next_before"]))
            self.assertEqual(status, 200)
            seqs += [m["seq"] for m in page["messages"]]
        self.assertEqual(seqs, list(range(45, 0, -1)))
        self.assertEqual([m["seq"] for m in api.get("/api/rooms/%s/messages?after=40" % rid)[1]["messages"]],
                         [41, 42, 43, 44, 45])
        self.assertEqual(api.get("/api/rooms/%s/messages?before=1" % rid)[1]["messages"], [])
        self.assertEqual(api.get("/api/rooms/%s/messages?limit=101" % rid)[0], 400)
        self.assertEqual(len(api.get("/api/rooms/%s/messages?limit=100" % rid)[1]["messages"]), 45)

    def test_reconnect_with_since_seq_while_messages_flow(self):
        rid = self.open_support("alice")["id"]
        self.api("agent1").post("/api/rooms/%s/claim" % rid)
        total = 300
        sender = self.stomp("agent1")

        def flood():
            for i in range(1, total + 1):
                send_message(sender, rid, "n%d" % i, receipt="f%d" % i)
            # receipts are read below, after the subscriber is done
        first = self.stomp("alice")
        subscribe(first, "/topic/rooms/" + rid)
        first.expect("RECEIPT")
        t = threading.Thread(target=flood)
        t.start()
        got = []
        while len(got) < 40:
            f = self.next_event(first, "message")
            got.append(int(f.headers["seq"]))
        first.close()  # dropped mid-stream
        again = self.stomp("alice")
        subscribe(again, "/topic/rooms/" + rid, **{"since-seq": str(got[-1])})
        receipted = False
        while len(got) < total or not receipted:
            f = again.read(10 * SLOWDOWN)  # valgrind: a replay of hundreds is slow
            self.assertIsNotNone(f, "stream ended after seq %s" % (got[-1] if got else None))
            if f.command == "RECEIPT":  # after the replay, before or amid live events
                receipted = True
            elif f.headers.get("event") == "message":
                got.append(int(f.headers["seq"]))
        t.join()
        self.assertEqual(got, list(range(1, total + 1)))  # no gap, no duplicate

    def test_outsiders_cannot_reach_a_room(self):
        rid = self.open_support("alice")["id"]
        bob = self.api("bob")
        self.assertEqual(bob.get("/api/rooms/" + rid)[0], 404)
        self.assertEqual(bob.get("/api/rooms/%s/messages" % rid)[0], 404)
        self.assertEqual(bob.post("/api/rooms/%s/claim" % rid)[0], 404)
        self.assertEqual(bob.delete("/api/rooms/" + rid)[0], 404)
        self.assertEqual(bob.get("/api/rooms/rnosuchroom")[0], 404)
        c = self.stomp("bob")
        subscribe(c, "/topic/rooms/" + rid)
        self.assertEqual(c.expect("ERROR").headers["message"], "no such room")
        c = self.stomp("bob")
        send_message(c, rid, "let me in", receipt="x")
        self.assertEqual(c.expect("ERROR").headers["message"], "no such room")
        c = self.stomp("bob")
        subscribe(c, "/topic/support/queue")
        self.assertEqual(c.expect("ERROR").headers["message"], "destination not allowed")
        self.assertEqual(self.api("alice").get("/api/rooms")[0], 200)
        s = self.api("alice").call("GET", "/api/rooms")
        self.assertEqual(s[0], 200)
        noauth = Api(self.server.http_port, "alice")
        noauth.auth = "Basic " + "YWxpY2U6d3Jvbmc="  # alice:wrong
        self.assertEqual(noauth.get("/api/rooms")[0], 401)

    def test_direct_and_group_rooms(self):
        alice, bob = self.api("alice"), self.api("bob")
        s1, d1 = alice.post("/api/rooms", {"kind": "direct", "with": "bob"})
        s2, d2 = bob.post("/api/rooms", {"kind": "direct", "with": "alice"})
        self.assertEqual((s1, s2, d1["id"]), (201, 200, d2["id"]))
        self.assertEqual(alice.post("/api/rooms", {"kind": "direct", "with": "alice"})[0], 400)
        status, g = alice.post("/api/rooms", {"kind": "group", "title": "Team", "members": ["bob"]})
        self.assertEqual((status, sorted(g["members"])), (201, ["alice", "bob"]))
        gid = g["id"]
        watch = self.stomp("bob")
        subscribe(watch, "/topic/rooms/" + gid)
        watch.expect("RECEIPT")
        self.assertEqual(alice.post("/api/rooms/%s/members" % gid, {"user": "agent2"})[0], 200)
        self.assertEqual(self.next_event(watch, "member-joined").body.count(b"agent2"), 1)
        self.assertIn("agent2", self.api("agent2").get("/api/rooms/" + gid)[1]["members"])
        self.assertEqual(self.api("agent2").delete("/api/rooms/" + gid)[0], 200)  # leaves
        self.assertEqual(self.next_event(watch, "member-left").body.count(b"agent2"), 1)
        self.assertEqual(self.api("agent2").get("/api/rooms/" + gid)[0], 404)
        self.assertEqual(alice.delete("/api/rooms/%s/members/bob" % gid)[0], 200)
        self.assertEqual(bob.get("/api/rooms/" + gid)[0], 404)
        self.assertEqual(alice.post("/api/rooms", {"kind": "group"})[0], 400)
        self.assertEqual(alice.post("/api/rooms", {"kind": "nope"})[0], 400)
        self.assertEqual(alice.call("POST", "/api/rooms", None)[0], 400)

    def test_removal_and_leaving_end_the_subscriptions(self):
        alice = self.api("alice")
        gid = alice.post("/api/rooms", {"kind": "group", "title": "모임 😀",
                                        "members": ["bob", "agent2"]})[1]["id"]
        bob, bob2, stays = self.stomp("bob"), self.stomp("bob"), self.stomp("agent2")
        for c in (bob, bob2, stays):
            subscribe(c, "/topic/rooms/" + gid, sid="g")
            c.expect("RECEIPT")
        self.assertEqual(alice.delete("/api/rooms/%s/members/bob" % gid)[0], 200)
        for c in (bob, bob2):  # every session of bob: a clear last frame
            last = self.next_event(c, "member-left")
            self.assertEqual((last.headers["user"], last.headers["subscription-ended"]), ("bob", "true"))
            self.assertNotIn("revoke-user", last.headers)
        seen = self.next_event(stays, "member-left")
        self.assertEqual(seen.headers["user"], "bob")
        self.assertNotIn("subscription-ended", seen.headers)
        a = self.stomp("alice")
        send_message(a, gid, "안녕하세요 😀 after", receipt="after")
        a.expect("RECEIPT")
        self.assertEqual(self.next_event(stays, "message").body, "안녕하세요 😀 after".encode())
        # Delivered to agent2 means handed to bob's connection too, were it
        # still subscribed: a RECEIPT answered after it shows nothing came.
        bob.send("SUBSCRIBE", {"id": "n", "destination": "/user/queue/notifications", "receipt": "fence"})
        self.assertEqual(bob.expect("RECEIPT").headers["receipt-id"], "fence")
        self.assertEqual(bob.backlog, [])
        bob.send("UNSUBSCRIBE", {"id": "g", "receipt": "unsub"})  # still answered
        self.assertEqual(bob.expect("RECEIPT").headers["receipt-id"], "unsub")
        self.assertEqual(self.api("bob").get("/api/rooms/%s/messages" % gid)[0], 404)
        subscribe(bob2, "/topic/rooms/" + gid, sid="again")
        self.assertEqual(bob2.expect("ERROR").headers["message"], "no such room")
        # Leaving ends the leaver's subscription the same way.
        self.assertEqual(self.api("agent2").delete("/api/rooms/" + gid)[0], 200)
        last = self.next_event(stays, "member-left")
        self.assertEqual((last.headers["user"], last.headers["subscription-ended"]), ("agent2", "true"))

    def test_a_client_cannot_end_anyone_s_subscription(self):
        bob, alice = self.stomp("bob"), self.stomp("alice")
        subscribe(bob, "/topic/lobby.revoke", sid="t")
        bob.expect("RECEIPT")
        for i in range(2):
            alice.send("SEND", {"destination": "/topic/lobby.revoke", "revoke-user": "bob", "revoke-all": "true",
                                "subscription-ended": "true", "receipt": "r%d" % i}, "둘 %d ✨" % i)
            alice.expect("RECEIPT")
        for i in range(2):
            f = bob.expect("MESSAGE")
            self.assertEqual(f.body, ("둘 %d ✨" % i).encode())
            self.assertNotIn("revoke-user", f.headers)
            self.assertNotIn("revoke-all", f.headers)
            self.assertNotIn("subscription-ended", f.headers)

    # ------------------------------------------------------ group roles

    def group(self, title, members):
        status, g = self.api("alice").post("/api/rooms", {"kind": "group", "title": title, "members": members})
        self.assertEqual(status, 201, g)
        return g["id"]

    def watch(self, user, gid):
        c = self.stomp(user)
        subscribe(c, "/topic/rooms/" + gid, sid="g")
        c.expect("RECEIPT")
        return c

    def assert_refused(self, answer, status, code, rule):
        self.assertEqual((answer[0], (answer[1] or {}).get("error")), (status, code), answer)
        self.assertIn(rule, answer[1]["message"])

    def set_role(self, api, gid, user, role):
        return api.call("PUT", "/api/rooms/%s/members/%s/role" % (gid, user), {"role": role})

    def test_members_cannot_manage_a_group_but_can_leave(self):
        gid = self.group("우리 팀 🎉", ["bob", "agent1", "agent2"])
        bob = self.api("bob")
        self.assert_refused(bob.delete("/api/rooms/%s/members/agent1" % gid), 403, "forbidden",
                            "only the group's owner and admins remove members")
        g = bob.get("/api/rooms/" + gid)[1]
        self.assertEqual((g["owner"], g["admins"], g["title"]), ("alice", [], "우리 팀 🎉"))
        self.assert_refused(bob.delete("/api/rooms/%s/members/alice" % gid), 403, "forbidden", "owner")
        self.assert_refused(bob.post("/api/rooms/%s/members" % gid, {"user": "carol"}), 403, "forbidden",
                            "only the group's owner and admins add members")
        self.assert_refused(self.set_role(bob, gid, "bob", "admin"), 403, "forbidden",
                            "only the group's owner and admins change roles")
        self.assert_refused(bob.call("PATCH", "/api/rooms/" + gid, {"title": "내 방 😈"}), 403, "forbidden",
                            "only the group's owner and admins rename the group")
        self.assert_refused(bob.delete("/api/rooms/%s?for=everyone" % gid), 403, "forbidden",
                            "only the group's owner and admins delete the group")
        g = bob.get("/api/rooms/" + gid)[1]
        self.assertEqual((sorted(g["members"]), g["title"]), (["agent1", "agent2", "alice", "bob"], "우리 팀 🎉"))
        # Leaving is every member's right, by either route.
        self.assertEqual(bob.delete("/api/rooms/" + gid)[0], 200)
        self.assertEqual(self.api("agent1").delete("/api/rooms/%s/members/agent1" % gid)[0], 200)
        self.assertEqual(sorted(self.api("alice").get("/api/rooms/" + gid)[1]["members"]), ["agent2", "alice"])

    def test_owner_and_admins_manage_members_roles_and_title(self):
        gid = self.group("우리 팀 🎉", ["bob", "agent1", "agent2"])
        alice, bob, agent2 = self.api("alice"), self.api("bob"), self.api("agent2")
        w = self.watch("agent2", gid)
        status, g = self.set_role(alice, gid, "bob", "admin")
        self.assertEqual((status, g["admins"], g["owner"]), (200, ["bob"], "alice"))
        e = self.next_event(w, "role-changed")
        self.assertEqual(json.loads(e.body), {"room": gid, "user": "bob", "role": "admin", "by": "alice"})
        # An admin adds and removes members, and promotes a member.
        self.assertEqual(bob.post("/api/rooms/%s/members" % gid, {"user": "carol"})[0], 200)
        self.assertEqual(json.loads(self.next_event(w, "member-joined").body),
                         {"room": gid, "user": "carol", "by": "bob"})
        self.assertEqual(bob.delete("/api/rooms/%s/members/carol" % gid)[0], 200)
        self.assertEqual(json.loads(self.next_event(w, "member-left").body),
                         {"room": gid, "user": "carol", "by": "bob"})
        self.assertEqual(self.set_role(bob, gid, "agent1", "admin")[0], 200)
        self.assertEqual(json.loads(self.next_event(w, "role-changed").body),
                         {"room": gid, "user": "agent1", "role": "admin", "by": "bob"})
        # An admin touches neither the owner nor another admin.
        self.assert_refused(bob.delete("/api/rooms/%s/members/alice" % gid), 403, "forbidden",
                            "nobody removes the group's owner")
        self.assert_refused(bob.delete("/api/rooms/%s/members/agent1" % gid), 403, "forbidden",
                            "only the group's owner removes an admin")
        self.assert_refused(self.set_role(bob, gid, "agent1", "member"), 403, "forbidden",
                            "only the group's owner demotes an admin")
        self.assert_refused(self.set_role(bob, gid, "alice", "member"), 409, "conflict", "owner")
        self.assert_refused(self.set_role(bob, gid, "bob", "owner"), 403, "forbidden",
                            "only the group's owner hands ownership over")
        # The owner does.
        status, g = self.set_role(alice, gid, "agent1", "member")
        self.assertEqual((status, g["admins"]), (200, ["bob"]))
        self.assertEqual(json.loads(self.next_event(w, "role-changed").body),
                         {"room": gid, "user": "agent1", "role": "member", "by": "alice"})
        self.assertEqual(self.set_role(alice, gid, "bob", "admin")[0], 200)  # already: no change, no event
        self.assertEqual(alice.delete("/api/rooms/%s/members/bob" % gid)[0], 200)
        self.assertEqual(json.loads(self.next_event(w, "member-left").body),
                         {"room": gid, "user": "bob", "by": "alice"})
        g = agent2.get("/api/rooms/" + gid)[1]
        self.assertEqual((sorted(g["members"]), g["admins"]), (["agent1", "agent2", "alice"], []))
        # Renaming: the event carries the title as sent.
        self.assertEqual(self.set_role(alice, gid, "agent1", "admin")[0], 200)
        status, g = self.api("agent1").call("PATCH", "/api/rooms/" + gid, {"title": "새 이름 🚀✨"})
        self.assertEqual((status, g["title"]), (200, "새 이름 🚀✨"))
        e = self.next_event(w, "renamed")
        self.assertEqual(e.headers["room"], gid)
        self.assertEqual(json.loads(e.body), {"room": gid, "title": "새 이름 🚀✨", "by": "agent1"})
        self.assertEqual(agent2.get("/api/rooms/" + gid)[1]["title"], "새 이름 🚀✨")
        self.assertIn("새 이름 🚀✨", [r["title"] for r in agent2.get("/api/rooms")[1]["rooms"] if r["id"] == gid])

    def test_group_changes_refuse_bad_input(self):
        gid = self.group("입력 ✅", ["bob"])
        alice = self.api("alice")
        self.assertEqual(self.set_role(alice, gid, "bob", "king")[0], 400)
        self.assertEqual(alice.call("PUT", "/api/rooms/%s/members/bob/role" % gid, {})[0], 400)
        self.assertEqual(alice.call("PATCH", "/api/rooms/" + gid, {"title": ""})[0], 400)
        self.assertEqual(alice.call("PATCH", "/api/rooms/" + gid, {"title": "가" * 67})[0], 400)  # 201 bytes
        self.assertEqual(alice.call("PATCH", "/api/rooms/" + gid, {"title": "가" * 66})[0], 200)  # 198 bytes
        self.assertEqual(alice.delete("/api/rooms/%s?for=nobody" % gid)[0], 400)
        self.assert_refused(self.set_role(alice, gid, "carol", "admin"), 404, "not_found", "carol is not a member")
        self.assert_refused(alice.delete("/api/rooms/%s/members/carol" % gid), 404, "not_found", "not a member")
        # Outsiders learn nothing: the room is not theirs to see.
        agent1 = self.api("agent1")
        self.assertEqual(agent1.call("PATCH", "/api/rooms/" + gid, {"title": "x"})[0], 404)
        self.assertEqual(self.set_role(agent1, gid, "agent1", "owner")[0], 404)
        self.assertEqual(agent1.delete("/api/rooms/%s?for=everyone" % gid)[0], 404)
        self.assertEqual(alice.get("/api/rooms/" + gid)[1]["title"], "가" * 66)

    def test_ownership_is_handed_over_or_passes_on_when_the_owner_leaves(self):
        gid = self.group("승계 👑", ["bob", "agent1", "agent2"])
        alice, bob = self.api("alice"), self.api("bob")
        w = self.watch("bob", gid)
        self.assertEqual(self.set_role(alice, gid, "agent2", "admin")[0], 200)
        self.assertEqual(self.set_role(alice, gid, "agent1", "admin")[0], 200)
        # The owner leaves: the admin who joined first becomes the owner.
        self.assertEqual(alice.delete("/api/rooms/" + gid)[0], 200)
        self.assertEqual(self.next_event(w, "member-left").headers["user"], "alice")
        self.assertEqual(json.loads(self.next_event(w, "role-changed").body),
                         {"room": gid, "user": "agent1", "role": "owner", "by": "alice"})
        g = bob.get("/api/rooms/" + gid)[1]
        self.assertEqual((g["owner"], g["admins"]), ("agent1", ["agent2"]))
        # Handing over: the new owner, and the old one an admin.
        status, g = self.set_role(self.api("agent1"), gid, "bob", "owner")
        self.assertEqual((status, g["owner"], sorted(g["admins"])), (200, "bob", ["agent1", "agent2"]))
        changes = [json.loads(self.next_event(w, "role-changed").body) for _ in range(2)]
        self.assertEqual(changes, [{"room": gid, "user": "bob", "role": "owner", "by": "agent1"},
                                   {"room": gid, "user": "agent1", "role": "admin", "by": "agent1"}])
        self.assert_refused(self.set_role(bob, gid, "bob", "member"), 409, "conflict",
                            "the owner hands ownership over")
        # Without admins, the member who joined first.
        gid2 = self.group("둘째 🌱", ["bob", "agent2"])
        w2 = self.watch("agent2", gid2)
        self.assertEqual(alice.delete("/api/rooms/%s/members/alice" % gid2)[0], 200)
        self.assertEqual(json.loads(self.next_event(w2, "role-changed").body),
                         {"room": gid2, "user": "bob", "role": "owner", "by": "alice"})
        self.assertEqual(bob.get("/api/rooms/" + gid2)[1]["owner"], "bob")
        self.assertEqual(self.api("agent2").delete("/api/rooms/%s/members/bob" % gid2)[0], 403)

    def test_deleting_a_group_ends_every_subscription_and_its_history(self):
        gid = self.group("사라질 방 💥", ["bob", "agent1"])
        alice, bob, agent1 = self.api("alice"), self.api("bob"), self.api("agent1")
        a = self.stomp("alice")
        send_message(a, gid, "안녕하세요 😀", receipt="m")
        a.expect("RECEIPT")
        watchers = [self.watch("bob", gid), self.watch("bob", gid), self.watch("alice", gid)]
        self.assertEqual(bob.delete("/api/rooms/%s?for=everyone" % gid)[0], 403)
        self.assertEqual(self.set_role(alice, gid, "agent1", "admin")[0], 200)
        self.assertEqual(agent1.delete("/api/rooms/%s?for=everyone" % gid),
                         (200, {"room": gid, "result": "deleted"}))
        for c in watchers:
            last = self.next_event(c, "deleted")
            self.assertEqual(last.headers["subscription-ended"], "true")
            self.assertNotIn("revoke-all", last.headers)
            self.assertEqual(json.loads(last.body), {"room": gid, "by": "agent1"})
        for api in (alice, bob, agent1):
            self.assertEqual(api.get("/api/rooms/%s/messages" % gid)[0], 404)
            self.assertEqual(api.get("/api/rooms/" + gid)[0], 404)
            self.assertNotIn(gid, [r["id"] for r in api.get("/api/rooms")[1]["rooms"]])
        subscribe(watchers[0], "/topic/rooms/" + gid, sid="again")
        self.assertEqual(watchers[0].expect("ERROR").headers["message"], "no such room")
        send_message(a, gid, "still there?", receipt="gone")
        self.assertEqual(a.expect("ERROR").headers["message"], "no such room")

    def test_direct_rooms_have_no_membership_changes(self):
        alice, bob = self.api("alice"), self.api("bob")
        did = alice.post("/api/rooms", {"kind": "direct", "with": "bob"})[1]["id"]
        refusals = [alice.post("/api/rooms/%s/members" % did, {"user": "agent1"}),
                    alice.delete("/api/rooms/%s/members/bob" % did),
                    bob.delete("/api/rooms/%s/members/bob" % did),
                    self.set_role(alice, did, "bob", "admin"),
                    self.set_role(alice, did, "bob", "owner"),
                    alice.call("PATCH", "/api/rooms/" + did, {"title": "둘만 💬"}),
                    alice.delete("/api/rooms/%s?for=everyone" % did),
                    bob.delete("/api/rooms/" + did)]
        for r in refusals:
            self.assertEqual((r[0], r[1]["error"]), (403, "forbidden"), r)
        self.assertIn("direct room", refusals[0][1]["message"])
        d = alice.get("/api/rooms/" + did)[1]
        self.assertEqual((sorted(d["members"]), d.get("title"), "admins" in d), (["alice", "bob"], None, False))
        # A support room is as it was: no member changes, no group deletion.
        rid = self.open_support("alice")["id"]
        self.assertEqual(alice.post("/api/rooms/%s/members" % rid, {"user": "bob"})[0], 403)
        self.assertEqual(alice.delete("/api/rooms/%s?for=everyone" % rid)[0], 400)

    def test_read_marks_unread_counts_typing_and_notifications(self):
        alice, bob = self.api("alice"), self.api("bob")
        rid = alice.post("/api/rooms", {"kind": "group", "title": "reads", "members": ["bob"]})[1]["id"]
        notes = self.stomp("bob")  # connected, not in the room
        subscribe(notes, "/user/queue/notifications")
        notes.expect("RECEIPT")
        a = self.stomp("alice")
        subscribe(a, "/topic/rooms/" + rid)
        a.expect("RECEIPT")
        for i in range(3):
            send_message(a, rid, "hello %d" % i, receipt="h%d" % i)
            a.expect("RECEIPT")
        n = self.next_event(notes, "message")
        self.assertEqual(n.headers["room"], rid)
        self.assertIn(b'"preview":"hello 0"', n.body)
        mine = {r["id"]: r for r in bob.get("/api/rooms")[1]["rooms"]}
        self.assertEqual(mine[rid]["unread"], 3)
        self.assertEqual(mine[rid]["last_message"]["body"], "hello 2")
        self.assertEqual({r["id"]: r for r in alice.get("/api/rooms")[1]["rooms"]}[rid]["unread"], 0)
        status, _ = bob.post("/api/rooms/%s/read" % rid, {"seq": 2})
        self.assertEqual(status, 200)
        read = self.next_event(a, "read")
        self.assertIn(b'"user":"bob"', read.body)
        # bob's other session (not in the room) hears what is left unread
        unread = self.next_event(notes, "unread")
        self.assertEqual((unread.headers["room"], json.loads(unread.body)),
                         (rid, {"room": rid, "read_seq": 2, "unread": 1}))
        self.assertEqual({r["id"]: r for r in bob.get("/api/rooms")[1]["rooms"]}[rid]["unread"], 1)
        b = self.stomp("bob")
        b.send("SEND", {"destination": "/app/rooms/%s/read" % rid, "receipt": "rd"}, '{"seq": 3}')
        b.expect("RECEIPT")
        self.assertEqual(json.loads(self.next_event(notes, "unread").body), {"room": rid, "read_seq": 3, "unread": 0})
        self.assertEqual({r["id"]: r for r in bob.get("/api/rooms")[1]["rooms"]}[rid]["unread"], 0)
        # a mark below the stored one leaves it, and says so
        self.assertEqual(bob.post("/api/rooms/%s/read" % rid, {"seq": 1}), (200, {"room": rid, "read_seq": 3}))
        self.assertEqual(json.loads(self.next_event(notes, "unread").body), {"room": rid, "read_seq": 3, "unread": 0})
        b.send("SEND", {"destination": "/app/rooms/%s/typing" % rid, "receipt": "ty"}, "")
        b.expect("RECEIPT")
        self.assertIn(b'"user":"bob"', self.next_event(a, "typing").body)
        self.assertEqual(bob.post("/api/rooms/%s/read" % rid, {"seq": "x"})[0], 400)

    def test_a_long_korean_message_notifies_a_connected_agent(self):
        """The assigned agent, connected but not in the room, hears of every
        message in-band, with `preview` = the first 140 characters of the
        text, never cut inside a character (docs/protocol.md)."""
        rid = self.open_support("alice")["id"]
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/claim" % rid)[0], 200)
        notes = self.stomp("agent1")
        subscribe(notes, "/user/queue/notifications")
        notes.expect("RECEIPT")
        cust = self.stomp("alice")
        korean = "안녕하세요" * 10 + " 😀 " + "반갑습니다" * 30  # 203 characters, 608 bytes
        family = "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"  # one character, 25 bytes
        jamo = "\u1112\u1161"  # "하" as two conjoining jamo: one character
        sends = [
            ({"content-type": "text/plain"}, korean, korean[:140]),
            ({"content-type": "application/json"}, json.dumps({"text": korean}, ensure_ascii=False), korean[:140]),
            ({}, json.dumps({"text": "안녕하세요 😀", "lang": "ko"}), "안녕하세요 😀"),
            ({}, "x" * 139 + family + "tail", "x" * 139 + family),
            ({"content-type": "text/plain; charset=utf-8"}, "e\u0301" * 150, "e\u0301" * 140),
            ({}, jamo * 150, jamo * 140),
            ({}, "short", "short"),
        ]
        for i, (headers, body, _) in enumerate(sends):
            h = {"destination": "/app/rooms/%s/send" % rid, "receipt": "k%d" % i}
            h.update(headers)
            cust.send("SEND", h, body)
            self.assertEqual(cust.expect("RECEIPT").headers["receipt-id"], "k%d" % i)
        for i, (_, _, preview) in enumerate(sends):
            n = self.next_event(notes, "message")
            body = json.loads(n.body)
            self.assertEqual((body["room"], body["seq"], body["sender"]), (rid, i + 1, "alice"))
            self.assertEqual(body["preview"], preview, "message %d" % (i + 1))
        # The messages themselves are stored and served as sent.
        stored = self.api("agent1").get("/api/rooms/%s/messages?after=0" % rid)[1]["messages"]
        self.assertEqual([m["body"] for m in stored], [body for _, body, _ in sends])

    def test_a_send_body_that_is_not_utf8_text_is_refused(self):
        """A room SEND must carry UTF-8 text, or a JSON object with a string
        `text`: otherwise ERROR `invalid message body` naming the problem,
        and nothing is stored."""
        rid = self.api("bob").post("/api/rooms", {"kind": "group", "title": "bodies"})[1]["id"]
        cases = [
            ({"content-type": "text/plain"}, b"caf\xe9", "not valid UTF-8"),
            ({}, "안녕".encode()[:5], "not valid UTF-8"),
            ({}, b"\xed\xa0\x80 surrogate", "not valid UTF-8"),
            ({"content-type": "text/plain", "content-length": "3"}, b"a\0b", "U+0000"),
            ({"content-type": "text/plain; charset=iso-8859-1"}, b"caf\xe9", "charset"),
            ({"content-type": "application/json"}, b"hello", "not a JSON object"),
            ({"content-type": "application/json"}, b'["text"]', "not a JSON object"),
            ({"content-type": "application/json"}, b'{"text": 5}', "string \"text\""),
            ({"content-type": "application/json"}, b'{"body": "hi"}', "string \"text\""),
            ({"content-type": "application/json"}, b'{"text": "caf\xe9"}', "not valid UTF-8"),
            ({}, b'{"text": "unterminated', "not a JSON object"),
            ({}, b'  {"txt": "x"}', "string \"text\""),
        ]
        for i, (headers, body, detail) in enumerate(cases):
            with self.subTest(body=body):
                c = self.stomp("bob")
                h = {"destination": "/app/rooms/%s/send" % rid, "receipt": "bad%d" % i}
                h.update(headers)
                c.send("SEND", h, body)
                err = c.expect("ERROR")
                self.assertEqual((err.headers["message"], err.headers["receipt-id"]),
                                 ("invalid message body", "bad%d" % i))
                self.assertIn(detail, err.body.decode())
                self.assertTrue(c.wait_closed())
        self.assertEqual(self.api("bob").get("/api/rooms/%s/messages" % rid)[1]["messages"], [])
        # Text that merely looks like JSON is fine when it says it is text.
        c = self.stomp("bob")
        send = {"destination": "/app/rooms/%s/send" % rid, "receipt": "ok", "content-type": "text/plain"}
        c.send("SEND", send, "{not json} 😀")
        c.expect("RECEIPT")
        self.assertEqual([m["body"] for m in self.api("bob").get("/api/rooms/%s/messages" % rid)[1]["messages"]],
                         ["{not json} 😀"])

    def test_trace_id_follows_a_message(self):
        """One trace id from SEND to storage to delivery: in the MESSAGE and
        in each log line on the way (logs at debug level)."""
        rid = self.api("alice").post("/api/rooms", {"kind": "group", "title": "trace", "members": ["bob"]})[1]["id"]
        bob = self.stomp("bob")
        subscribe(bob, "/topic/rooms/" + rid)
        bob.expect("RECEIPT")
        a = self.stomp("alice")
        a.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "t", "trace-id": "req-42.a"}, "traced")
        a.expect("RECEIPT")
        m = self.next_event(bob, "message")
        self.assertEqual(m.headers["trace-id"], "req-42.a")
        log = self.server.read_log()
        lines = [l for l in log.splitlines() if "trace req-42.a" in l]
        self.assertTrue(any("SEND to room " + rid in l for l in lines), lines)
        self.assertTrue(any("stored room %s seq 1" % rid in l for l in lines), lines)
        self.assertTrue(any("delivered to 1 local subscriber" in l for l in lines), lines)
        # Without one (or with an unusable one) the server makes one up.
        a.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "u", "trace-id": "bad id!"}, "x")
        a.expect("RECEIPT")
        made = self.next_event(bob, "message").headers["trace-id"]
        self.assertRegex(made, r"^[0-9a-f]+-t\d+$")

    def test_each_session_pipelined_sends_keep_their_order(self):
        """Several sessions of one user each pipeline SENDs (receipts and
        client-ids) to one room: per session, seq follows send order, in
        history and in what a subscriber receives (docs/protocol.md,
        message order)."""
        sessions, per_session, rounds = 3, 24, 3
        rid = self.api("alice").post("/api/rooms", {"kind": "group", "title": "순서 😀", "members": ["bob"]})[1]["id"]
        watch = self.stomp("bob")
        subscribe(watch, "/topic/rooms/" + rid)
        watch.expect("RECEIPT")
        senders = [self.stomp("alice") for _ in range(sessions)]
        sent = []  # client-ids per session, in send order
        for r in range(rounds):
            batches = []
            for k in range(sessions):
                frames = b""
                for i in range(per_session):
                    cid = "s%d-%d-%d" % (k, r, i)
                    frames += encode("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": cid,
                                              "client-id": cid, "content-type": "application/json"},
                                     json.dumps({"text": "안녕 😀 %d" % i}, ensure_ascii=False))
                    sent.append(cid)
                batches.append(frames)
            for c, frames in zip(senders, batches):  # all in flight together
                c.send_bytes(frames)
            for k, c in enumerate(senders):
                got = [c.expect("RECEIPT").headers["receipt-id"] for _ in range(per_session)]
                self.assertEqual(sorted(got), sorted("s%d-%d-%d" % (k, r, i) for i in range(per_session)))

        def order(pairs):
            """(client-id, seq) pairs grouped by session, as they came."""
            out = {}
            for cid, seq in pairs:
                out.setdefault(cid.split("-")[0], []).append((cid, seq))
            return out

        expected = order((cid, 0) for cid in sent)
        stored = history(self.api("alice"), rid)
        self.assertEqual(len(stored), len(sent))
        self.assertEqual({json.loads(m["body"])["text"] for m in stored},
                         {"안녕 😀 %d" % i for i in range(per_session)})
        for k, got in order((m["client_id"], m["seq"]) for m in stored).items():
            self.assertEqual([c for c, _ in got], [c for c, _ in expected[k]], "stored order of session " + k)
        delivered = []
        while len(delivered) < len(sent):
            f = self.next_event(watch, "message")
            self.assertEqual(json.loads(f.body)["text"].split(" ")[:2], ["안녕", "😀"])
            delivered.append((f.headers["client-id"], int(f.headers["seq"])))
        for k, got in order(delivered).items():
            self.assertEqual([c for c, _ in got], [c for c, _ in expected[k]], "delivery order of session " + k)
            seqs = [s for _, s in got]
            self.assertEqual(seqs, sorted(seqs), "delivered seqs of session " + k)

    def test_client_id_makes_retries_idempotent(self):
        rid = self.open_support("bob")["id"]
        c = self.stomp("bob")
        subscribe(c, "/topic/rooms/" + rid)
        c.expect("RECEIPT")
        seqs = []  # each RECEIPT names where the message is stored; a retry, the first one's
        for _ in range(3):
            send_message(c, rid, "once", receipt="r", client_id="same-id")
            seqs.append(int(c.expect("RECEIPT").headers["seq"]))
        send_message(c, rid, "twice", receipt="r2", client_id="other")
        seqs.append(int(c.expect("RECEIPT").headers["seq"]))
        msgs = self.api("bob").get("/api/rooms/%s/messages" % rid)[1]["messages"]
        self.assertEqual([m["body"] for m in msgs], ["twice", "once"])
        self.assertEqual(seqs, [msgs[1]["seq"]] * 3 + [msgs[0]["seq"]])
        once, twice = self.next_event(c, "message"), self.next_event(c, "message")
        self.assertEqual((once.body, int(once.headers["seq"])), (b"once", seqs[0]))
        self.assertEqual((twice.body, int(twice.headers["seq"])), (b"twice", seqs[3]))

    def metric(self, port, name):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
            text = r.read().decode()
        m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
        self.assertIsNotNone(m, name)
        return int(m.group(1))

    def refused_send(self, user, rid, text):
        """A SEND of `user` to room rid, answered ERROR: its message header."""
        c = self.stomp(user)
        send_message(c, rid, text, receipt="no")
        err = c.expect("ERROR")
        self.assertEqual(err.headers.get("receipt-id"), "no")
        return err.headers["message"]

    def test_closing_keeps_the_transcript_for_customer_and_agent(self):
        alice, a1 = self.api("alice"), self.api("agent1")
        room = self.open_support("alice")
        rid = room["id"]
        self.assertEqual(a1.post("/api/rooms/%s/claim" % rid)[0], 200)
        notes = self.stomp("agent1")
        subscribe(notes, "/user/queue/notifications")
        notes.expect("RECEIPT")
        cust, agent = self.stomp("alice"), self.stomp("agent1")
        for c in (cust, agent):
            subscribe(c, "/topic/rooms/" + rid)
            c.expect("RECEIPT")
        send_message(cust, rid, "안녕하세요 😀 택배가 안 왔어요", receipt="c1")
        cust.expect("RECEIPT")
        send_message(agent, rid, "상담 종료 감사합니다 🙏", receipt="g1")
        agent.expect("RECEIPT")

        status, closed = alice.delete("/api/rooms/" + rid)
        self.assertEqual((status, closed), (200, {"room": rid, "result": "closed", "history": "kept"}))
        self.assertEqual(self.next_event(agent, "closed").headers["room"], rid)
        self.assertEqual(self.next_event(notes, "closed").headers["room"], rid)

        # Readable by its customer and by the agent who handled it.
        for api in (alice, a1):
            status, got = api.get("/api/rooms/" + rid)
            self.assertEqual((status, got["state"]), (200, "closed"), api.user)
            self.assertGreater(got["closed_at"], 0)
            self.assertEqual([m["body"] for m in history(api, rid)],
                             ["안녕하세요 😀 택배가 안 왔어요", "상담 종료 감사합니다 🙏"])
        # ... and by nobody else, not even another agent.
        for other in ("agent2", "bob"):
            self.assertEqual(self.api(other).get("/api/rooms/" + rid)[0], 404, other)
            self.assertEqual(self.api(other).get("/api/rooms/%s/messages" % rid)[0], 404, other)
        c = self.stomp("agent2")
        subscribe(c, "/topic/rooms/" + rid)
        self.assertEqual(c.expect("ERROR").headers["message"], "no such room")

        # Read-only: no message goes in, from either side.
        self.assertEqual(self.refused_send("alice", rid, "one more 😀"), "room is closed to new messages")
        self.assertEqual(self.refused_send("agent1", rid, "and me"), "room is closed to new messages")
        self.assertEqual(len(history(alice, rid)), 2)
        # The catch-up over STOMP replays it too.
        again = self.stomp("alice")
        subscribe(again, "/topic/rooms/" + rid, **{"since-seq": "0"})
        self.assertEqual(self.next_event(again, "message").body.decode(), "안녕하세요 😀 택배가 안 왔어요")

        # Closing twice, claiming or completing it: refused.
        self.assertEqual(alice.delete("/api/rooms/" + rid)[0], 409)
        self.assertEqual(a1.post("/api/rooms/%s/claim" % rid)[0], 409)
        self.assertEqual(a1.post("/api/rooms/%s/complete" % rid)[0], 409)

        # The lists: the customer's past chats keep it; the agent's assigned list does not.
        self.assertIn(rid, [r["id"] for r in alice.get("/api/rooms?scope=mine")[1]["rooms"]])
        self.assertNotIn(rid, [r["id"] for r in a1.get("/api/rooms?scope=assigned")[1]["rooms"]])
        self.assertIn(rid, [r["id"] for r in a1.get("/api/rooms?scope=mine")[1]["rooms"]])

        # The customer may open a new support room at once.
        new = self.open_support("alice")
        self.assertNotEqual(new["id"], rid)
        self.assertEqual(new["state"], "unassigned")

    def test_closing_an_unclaimed_room_takes_it_out_of_the_queue(self):
        watcher = self.stomp("agent2")
        subscribe(watcher, "/topic/support/queue")
        watcher.expect("RECEIPT")
        rid = self.open_support("bob")["id"]
        self.assertEqual(self.next_event(watcher, "opened", rid).headers["room"], rid)
        self.assertIn(rid, [r["id"] for r in self.api("agent2").get("/api/rooms?scope=unassigned")[1]["rooms"]])
        self.assertEqual(self.api("bob").delete("/api/rooms/" + rid)[0], 200)
        self.assertEqual(self.next_event(watcher, "closed", rid).headers["room"], rid)
        self.assertNotIn(rid, [r["id"] for r in self.api("agent2").get("/api/rooms?scope=unassigned")[1]["rooms"]])
        self.assertEqual(self.api("agent2").get("/api/rooms/" + rid)[0], 404)  # not in the queue: not theirs
        self.assertEqual(self.api("bob").get("/api/rooms/" + rid)[1]["state"], "closed")

    def test_an_admin_erases_a_users_data(self):
        alice, dana, admin = self.api("alice"), self.api("dana"), self.api("admin1")
        support = self.open_support("dana")["id"]
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/claim" % support)[0], 200)
        gid = alice.post("/api/rooms", {"kind": "group", "title": "이웃 😀", "members": ["dana"]})[1]["id"]
        did = dana.post("/api/rooms", {"kind": "direct", "with": "alice"})[1]["id"]
        owned = dana.post("/api/rooms", {"kind": "group", "title": "다나의 방", "members": ["bob"]})[1]["id"]
        a, c = self.stomp("alice"), self.stomp("dana")
        for conn, room, text, cid in ((c, support, "상담 종료 감사합니다 🙏", None), (a, gid, "hi", None),
                                      (c, gid, "안녕하세요 😀", "c-1"), (a, gid, "bye", None),
                                      (c, did, "psst 🙏", None)):
            send_message(conn, room, text, receipt="r", client_id=cid)
            conn.expect("RECEIPT")
        self.assertEqual(dana.post("/api/rooms/%s/read" % gid, {"seq": 3})[0], 200)
        subscribe(c, "/topic/rooms/" + gid)
        c.expect("RECEIPT")
        subscribe(a, "/topic/rooms/" + gid, sid="g")
        a.expect("RECEIPT")
        agent = self.stomp("agent1")
        subscribe(agent, "/topic/rooms/" + support, sid="s")
        agent.expect("RECEIPT")

        for who in ("bob", "agent1", "dana"):
            status, err = self.api(who).delete("/api/users/dana")
            self.assertEqual((status, err["error"]), (403, "forbidden"), who)
        status, done = admin.delete("/api/users/dana")
        self.assertEqual((status, done), (200, {"user": "dana", "rooms_deleted": 1, "messages_erased": 2,
                                                "memberships_removed": 3}))
        status, again = admin.delete("/api/users/dana")  # idempotent
        self.assertEqual((status, again["rooms_deleted"], again["messages_erased"], again["memberships_removed"]),
                         (200, 0, 0, 0))

        # The rooms she lost end her subscriptions, as leaving does; her
        # support room's end every subscription (it is gone).
        left = self.next_event(c, "member-left")
        self.assertEqual(left.headers.get("subscription-ended"), "true")
        self.assertEqual(json.loads(left.body), {"room": gid, "user": "dana", "erased": True})
        seen = self.next_event(a, "member-left")
        self.assertIsNone(seen.headers.get("subscription-ended"))
        self.assertEqual(json.loads(seen.body)["user"], "dana")
        gone = self.next_event(agent, "deleted")
        self.assertEqual(gone.headers.get("subscription-ended"), "true")
        self.assertEqual(json.loads(gone.body), {"room": support, "erased": True})
        # Her support room is gone with its history, for the agent too.
        self.assertEqual(self.api("agent1").get("/api/rooms/%s/messages" % support)[0], 404)
        # A group she owned passes on, as if she had left it.
        self.assertEqual(self.api("bob").get("/api/rooms/" + owned)[1]["owner"], "bob")
        # Elsewhere the others' history stays gap-free around tombstones.
        msgs = history(alice, gid)
        self.assertEqual([m["seq"] for m in msgs], [1, 2, 3])
        self.assertEqual([m["body"] for m in msgs], ["hi", "", "bye"])
        self.assertEqual(msgs[1]["sender"], "")
        self.assertIsNone(msgs[1]["client_id"])
        self.assertTrue(msgs[1]["erased"])
        self.assertNotIn("erased", msgs[0])
        self.assertEqual(alice.get("/api/rooms/" + gid)[1]["members"], ["alice"])
        self.assertEqual([m["body"] for m in history(alice, did)], [""])
        self.assertEqual(dana.get("/api/rooms")[1]["rooms"], [])
        self.assertEqual(dana.get("/api/rooms/" + gid)[0], 404)
        # Her live session stays open but no room of hers is left.
        send_message(c, gid, "still here?", receipt="late")
        self.assertEqual(c.expect("ERROR").headers["message"], "no such room")
        # A direct room of the pair is a new one.
        status, fresh = alice.post("/api/rooms", {"kind": "direct", "with": "dana"})
        self.assertEqual(status, 201)
        self.assertNotEqual(fresh["id"], did)
        self.assertGreaterEqual(self.metric(self.server.http_port, "chatd_users_erased_total"), 2)

        self.assertEqual(admin.get("/api/users/dana")[0], 405)
        self.assertEqual(admin.delete("/api/users/")[0], 404)

    def test_retention_purges_closed_support_rooms(self):
        """A chatd of its own (its own file, key prefix or database), with a
        retention of one second."""
        storage = dict(self.server.sections["storage"])
        if storage["plugin"] == "sqlite":
            storage["path"] = os.path.join(self.data, "retention.db")
        elif storage["plugin"] == "redis":
            storage["prefix"] = "chatd-retention:"
        elif storage["plugin"] == "postgres":
            storage["conninfo"] = self.backends["pg"].database("chatd_retention")
        elif storage["plugin"] == "mysql":
            storage = self.backends["mysql"].database("chatd_retention")

        files_dir = os.path.join(self.data, "retention-files")

        def edit(s):
            s.update({"storage": storage, "broker": {"plugin": "simple"}, "rooms": {"retention": "1s"},
                      "files": {"plugin": "local", "dir": files_dir}})
        with Chatd(edit) as srv:
            wait_for(lambda: healthy(srv.http_port), what="storage ready")
            alice = Api(srv.http_port, "alice")
            status, room = alice.post("/api/rooms", {"kind": "support"})
            self.assertEqual(status, 201, room)
            rid = room["id"]
            c = stomp(srv.stomp_port, "alice")
            self.addCleanup(c.close)
            send_message(c, rid, "상담 종료 감사합니다 🙏", receipt="r")
            c.expect("RECEIPT")
            # What chatd keeps beside the room: an attachment, an agent's note.
            conn = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=10)
            conn.request("POST", "/api/rooms/%s/files?name=%s" % (rid, urllib.parse.quote("영수증 🧾.txt")),
                         "영수증 🧾".encode(), {"Authorization": alice.auth, "Content-Type": "text/plain"})
            r = conn.getresponse()
            body = r.read()
            conn.close()
            self.assertEqual(r.status, 201, body)
            stored = lambda: {n for n in os.listdir(files_dir) if n.endswith(".meta")}

            def notes_left():
                db = sqlite3.connect(storage["path"])
                try:
                    return db.execute("SELECT count(*) FROM rooms WHERE id = ?", (rid + "-notes",)).fetchone()[0]
                finally:
                    db.close()
            self.assertEqual(len(stored()), 1)
            status, note = Api(srv.http_port, "agent1").post("/api/rooms/%s/notes" % rid,
                                                             {"body": "환불 처리 완료 ✅"})
            self.assertEqual(status, 201, note)
            if storage["plugin"] == "sqlite":
                self.assertEqual(notes_left(), 1)
            self.assertEqual(alice.delete("/api/rooms/" + rid)[1]["history"], "kept")
            status, kept = alice.post("/api/rooms", {"kind": "support"})
            self.assertEqual(status, 201)
            wait_for(lambda: alice.get("/api/rooms/%s/messages" % rid)[0] == 404, timeout=20 * SLOWDOWN,
                     what="the closed room to be purged")
            self.assertEqual(alice.get("/api/rooms/" + rid)[0], 404)
            self.assertNotIn(rid, [r["id"] for r in alice.get("/api/rooms")[1]["rooms"]])
            self.assertEqual(alice.get("/api/rooms/" + kept["id"])[0], 200)  # open rooms stay
            self.assertGreaterEqual(self.metric(srv.http_port, "chatd_rooms_purged_total"), 1)
            self.assertIn("retention: purged 1 support room", srv.read_log())
            # The storage named the room: its file and its notes went too.
            wait_for(lambda: not stored(), what="the purged room's file removed")
            if storage["plugin"] == "sqlite":
                wait_for(lambda: notes_left() == 0, what="the purged room's notes removed")


if __name__ == "__main__":
    unittest.main()
