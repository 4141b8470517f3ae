"""Transfer and reopen of support rooms (docs/support-desk.md, "Transfer"
and "Reopen"), with stomp.py clients and REST, on the storage of
CHATD_PROFILE (as test_rooms.py's): the assigned agent hands a room to
another agent or back to the queue, with a note only agents read; the
customer reads a system message and history stays whole; every refusal;
a customer's message into a completed room reopens it with its agent when
available, else into the queue."""
import json
import unittest

import stomp

from chatd_harness import default_sections, hash_password, password_of, stomp_session, wait_for
from rooms_client import history
from test_check_config import check
from test_rooms import ProfileServer

NOTE = "환불 문의입니다 😀 — VIP"
TEXT = "안녕하세요 😀"


class SupportTransfer(ProfileServer):
    PREFIX = "chatd-transfer-"

    @classmethod
    def edit_config(cls, s):
        for user in ("agent3", "agent4"):
            s["auth"]["user.%s.password" % user] = hash_password(password_of(user))
            s["auth"]["user.%s.roles" % user] = "agent"
        s["support"] = {"assign": "manual", "reopen_window": "1h"}

    # ------------------------------------------------------------ helpers

    def connect(self, user, *subscriptions):
        """A stomp.py session of `user` subscribed to each destination
        (RECEIPT awaited), disconnected after the test."""
        return stomp_session(self, self.server.stomp_port, user, *subscriptions)

    def event(self, rec, event, room, pred=None):
        """The first `event` frame about room (that pred accepts)."""
        def find():
            for f in rec.messages:
                if f.headers.get("event") == event and f.headers.get("room") == room and (not pred or pred(f)):
                    return f
            return None
        rec.wait(lambda: find() is not None, what="%s on %s" % (event, room))
        return find()

    def open_support(self, user):
        api = self.api(user)
        status, room = api.post("/api/rooms", {"kind": "support"})
        if status == 200:  # one left open by an earlier test: close it
            api.delete("/api/rooms/" + room["id"])
            status, room = api.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        self.addCleanup(api.delete, "/api/rooms/" + room["id"])
        return room["id"]

    def claimed(self, rid, agent):
        status, room = self.api(agent).post("/api/rooms/%s/claim" % rid)
        self.assertEqual((status, room.get("agent")), (200, agent), room)

    def status_of(self, agent):
        _, body = self.api("agent1").get("/api/agents")
        return {a["user"]: a["status"] for a in body["agents"]}.get(agent)

    def transfer(self, user, rid, body):
        return self.api(user).post("/api/rooms/%s/transfer" % rid, body)

    # -------------------------------------------------------------- tests

    def test_transfer_to_another_agent(self):
        """agent1 hands alice's room to agent2 with a note: alice reads a
        system message and no note; agent2 hears of the room with the
        note; the queue's watchers too; agent1 is out of the room."""
        rid = self.open_support("alice")
        self.claimed(rid, "agent1")
        alice, alice_rec = self.connect("alice", "/topic/rooms/" + rid, "/user/queue/notifications")
        alice.send("/app/rooms/%s/send" % rid, TEXT, headers={"receipt": "m1"})
        alice_rec.wait_receipt("m1")
        _, agent2 = self.connect("agent2", "/user/queue/notifications")
        _, queue = self.connect("agent4", "/topic/support/queue")
        wait_for(lambda: self.status_of("agent2") == "online", what="agent2 online")

        status, room = self.transfer("agent1", rid, {"to": "agent2", "note": NOTE})
        self.assertEqual(status, 200, room)
        self.assertEqual((room["state"], room["agent"]), ("assigned", "agent2"))

        moved = json.loads(self.event(alice_rec, "transferred", rid).body)
        self.assertEqual(moved, {"room": rid, "from": "agent1", "to": "agent2", "by": "agent1"})
        said = self.event(alice_rec, "message", rid, lambda f: f.headers.get("kind") == "system")
        self.assertEqual(said.headers["sender"], "agent1")
        self.assertEqual(said.body, "agent1 passed this chat on to agent2.")
        # The note is for agents: never on a frame the customer gets.
        for f in alice_rec.messages:
            self.assertNotIn("환불", f.body, f.headers)

        added = json.loads(self.event(agent2, "room-added", rid).body)
        self.assertEqual((added["id"], added["agent"], added["state"]), (rid, "agent2", "assigned"))
        handed = json.loads(self.event(agent2, "transferred", rid).body)
        self.assertEqual(handed, {"room": rid, "from": "agent1", "to": "agent2", "by": "agent1", "note": NOTE})
        watched = json.loads(self.event(queue, "transferred", rid).body)
        self.assertEqual(watched, handed)

        # History is whole: alice's message, then the system message.
        stored = history(self.api("agent2"), rid)
        self.assertEqual([(m["sender"], m["kind"]) for m in stored], [("alice", "text"), ("agent1", "system")])
        self.assertEqual(stored[0]["body"], TEXT)
        self.assertEqual(stored[1]["body"], "agent1 passed this chat on to agent2.")
        # agent1 left the room with it; agent2 answers alice.
        self.assertEqual(self.api("agent1").get("/api/rooms/" + rid)[0], 404)
        self.assertEqual(self.api("agent1").get("/api/rooms/%s/messages" % rid)[0], 404)
        agent2_conn, agent2_room = self.connect("agent2", "/topic/rooms/" + rid)
        agent2_conn.send("/app/rooms/%s/send" % rid, TEXT, headers={"receipt": "m2"})
        agent2_room.wait_receipt("m2")
        self.event(alice_rec, "message", rid, lambda f: f.headers.get("sender") == "agent2")

    def test_transfer_back_to_the_queue_over_stomp(self):
        rid = self.open_support("bob")
        self.claimed(rid, "agent1")
        _, bob_rec = self.connect("bob", "/topic/rooms/" + rid)
        agent1, rec = self.connect("agent1", "/topic/rooms/" + rid)
        agent1.send("/app/rooms/%s/transfer" % rid, json.dumps({"to": None, "note": NOTE}, ensure_ascii=False),
                    headers={"receipt": "t1", "content-type": "application/json"})
        rec.wait_receipt("t1")
        self.assertEqual(rec.errors, [])
        _, room = self.api("agent2").get("/api/rooms/" + rid)
        self.assertEqual((room["state"], room.get("agent")), ("unassigned", None))
        moved = json.loads(self.event(bob_rec, "transferred", rid).body)
        self.assertEqual(moved, {"room": rid, "from": "agent1", "to": None, "by": "agent1"})
        said = self.event(bob_rec, "message", rid, lambda f: f.headers.get("kind") == "system")
        self.assertIn("next available agent", said.body)
        # In the queue again: another agent claims it.
        _, queue = self.api("agent2").get("/api/rooms?scope=unassigned")
        self.assertIn(rid, [r["id"] for r in queue["rooms"]])
        self.claimed(rid, "agent2")

    def test_refusals(self):
        rid = self.open_support("dana")
        # Known agents: agent1 and agent2 online, agent3 heard of but offline now.
        self.connect("agent1")
        self.connect("agent2")
        gone, _ = self.connect("agent3")
        wait_for(lambda: self.status_of("agent3") == "online", what="agent3 online")
        gone.disconnect()
        wait_for(lambda: self.status_of("agent3") == "offline", what="agent3 offline")

        status, body = self.transfer("agent1", rid, {"to": "agent2"})
        self.assertEqual((status, body["error"]), (409, "conflict"), body)  # waiting in the queue
        self.claimed(rid, "agent1")
        cases = [
            ("dana", {"to": "agent2"}, 403),                  # the customer
            ("agent2", {"to": "agent2"}, 404),                # not the assignee (no member: no such room)
            ("agent1", {"to": "dana"}, 404),                  # no agent
            ("agent1", {"to": "nobody😀"}, 404),              # nobody at all
            ("agent1", {"to": "agent3"}, 409),                # offline
            ("agent1", {"to": "agent1"}, 400),                # has it already
            ("agent1", {"note": NOTE}, 400),                  # no "to"
            ("agent1", {"to": 7}, 400),
            ("agent1", {"to": "agent2", "note": 5}, 400),
            ("agent1", {"to": "agent2", "note": "가" * 400}, 400),  # 1200 bytes
        ]
        for user, body, want in cases:
            status, answer = self.transfer(user, rid, body)
            self.assertEqual(status, want, (user, body, answer))
            self.assertIn("message", answer)
        self.assertEqual(self.transfer("agent1", "r" + "0" * 24, {"to": "agent2"})[0], 404)
        _, room = self.api("dana").get("/api/rooms/" + rid)
        self.assertEqual(room["agent"], "agent1")

        # Over STOMP: each refusal an ERROR naming it.
        conn, rec = self.connect("agent2")
        conn.send("/app/rooms/%s/transfer" % rid, json.dumps({"to": "agent2"}), headers={"receipt": "x"})
        self.assertEqual(rec.wait_error().headers["message"], "no such room")
        conn, rec = self.connect("agent1")
        conn.send("/app/rooms/%s/transfer" % rid, "{\"to\":", headers={"receipt": "x"})
        self.assertEqual(rec.wait_error().headers["message"], "invalid transfer")
        conn, rec = self.connect("agent1")
        conn.send("/app/rooms/%s/transfer" % rid, json.dumps({"to": "dana"}), headers={"receipt": "x"})
        self.assertEqual(rec.wait_error().headers["message"], "no such agent")
        conn, rec = self.connect("dana")
        conn.send("/app/rooms/%s/transfer" % rid, json.dumps({"to": "agent2"}), headers={"receipt": "x"})
        self.assertEqual(rec.wait_error().headers["message"], "not allowed")

        # Completed, then closed: no transfer.
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/complete" % rid)[0], 200)
        status, body = self.transfer("agent1", rid, {"to": "agent2"})
        self.assertEqual((status, body["message"]), (409, "the room is completed"))
        self.assertEqual(self.api("dana").delete("/api/rooms/" + rid)[0], 200)
        status, body = self.transfer("agent1", rid, {"to": "agent2"})
        self.assertEqual((status, body["message"]), (409, "the room is closed"))

    def test_admin_transfers_any_room(self):
        rid = self.open_support("alice")
        self.claimed(rid, "agent1")
        self.connect("agent2")
        wait_for(lambda: self.status_of("agent2") == "online", what="agent2 online")
        status, room = self.transfer("admin1", rid, {"to": "agent2", "note": NOTE})
        self.assertEqual((status, room.get("agent")), (200, "agent2"), room)
        stored = history(self.api("agent2"), rid)
        self.assertEqual((stored[-1]["kind"], stored[-1]["sender"]), ("system", "admin1"))

    def test_reopen_with_the_same_agent_then_the_queue(self):
        rid = self.open_support("bob")
        self.claimed(rid, "agent2")
        agent2_conn, agent2 = self.connect("agent2", "/user/queue/notifications")
        wait_for(lambda: self.status_of("agent2") == "online", what="agent2 online")
        self.assertEqual(self.api("agent2").post("/api/rooms/%s/complete" % rid)[0], 200)
        bob, bob_rec = self.connect("bob", "/topic/rooms/" + rid)
        bob.send("/app/rooms/%s/send" % rid, TEXT, headers={"receipt": "r1"})
        bob_rec.wait_receipt("r1")
        self.assertEqual(bob_rec.errors, [])
        reopened = json.loads(self.event(bob_rec, "reopened", rid).body)
        self.assertEqual(reopened, {"room": rid, "agent": "agent2", "state": "assigned"})
        self.event(agent2, "room-added", rid)
        _, room = self.api("bob").get("/api/rooms/" + rid)
        self.assertEqual((room["state"], room["agent"]), ("assigned", "agent2"))
        # The key is the room's again: "open my support room" finds it.
        status, again = self.api("bob").post("/api/rooms", {"kind": "support"})
        self.assertEqual((status, again["id"]), (200, rid))

        # Completed again, the agent gone: the message puts it in the queue.
        self.assertEqual(self.api("agent2").post("/api/rooms/%s/complete" % rid)[0], 200)
        agent2_conn.disconnect()
        wait_for(lambda: self.status_of("agent2") == "offline", what="agent2 offline")
        bob.send("/app/rooms/%s/send" % rid, "다시 😀", headers={"receipt": "r2"})
        bob_rec.wait_receipt("r2")
        self.event(bob_rec, "reopened", rid, lambda f: json.loads(f.body)["agent"] is None)
        _, room = self.api("bob").get("/api/rooms/" + rid)
        self.assertEqual(room["state"], "unassigned")
        stored = history(self.api("bob"), rid)
        self.assertEqual([m["sender"] for m in stored], ["bob", "bob"])

    def test_reopen_window_config_errors(self):
        s = default_sections(1, 2)
        for bad in ("soon", "-1s", "3651d"):
            s["support"] = {"reopen_window": bad}
            p, path = check(s)
            self.assertNotEqual(p.returncode, 0)
            line = p.stderr.strip()
            self.assertEqual(len(line.splitlines()), 1, p.stderr)
            self.assertTrue(line.startswith(path + ": "), line)
            self.assertIn("[support] reopen_window", line)
        for good in ("0", "24h", "90m"):
            s["support"] = {"reopen_window": good}
            p, _ = check(s)
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_no_reopen_with_another_room_open(self):
        rid = self.open_support("dana")
        self.claimed(rid, "agent1")
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/complete" % rid)[0], 200)
        other = self.open_support("dana")
        self.assertNotEqual(other, rid)
        conn, rec = self.connect("dana")
        conn.send("/app/rooms/%s/send" % rid, TEXT, headers={"receipt": "x"})
        err = rec.wait_error()
        self.assertEqual(err.headers["message"], "room is closed to new messages")
        _, room = self.api("dana").get("/api/rooms/" + rid)
        self.assertEqual(room["state"], "completed")
