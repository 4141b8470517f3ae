"""Reactions (docs/protocol.md, "Reactions"): members react to messages
with emoji over STOMP (stomp.py) and REST; the room's subscribers get a
`reaction` event with the message's counts; history carries `reactions`
with `me` for its reader; every refusal (a non-member, a support room's
other members, a deleted message, an emoji that is none, a 21st different
emoji, a read-only room) is clear. Run per profile (CHATD_PROFILE, as
test_rooms.py's)."""
import json
import urllib.parse
import unittest

import stomp

from chatd_harness import stomp_session
from test_rooms import ProfileServer

THUMBS = "👍🏽"
FAMILY = "👨‍👩‍👧"
HEART = "❤️"
KOREAN = "안녕하세요 😀"


def path_of(rid, seq, emoji):
    return "/api/rooms/%s/messages/%d/reactions/%s" % (rid, seq, urllib.parse.quote(emoji, safe=""))


class Reactions(ProfileServer):
    PREFIX = "chatd-reactions-"

    # ------------------------------------------------------------ helpers

    def connect(self, user, *subscriptions):
        """A stomp.py session of `user` subscribed to each destination
        (RECEIPT awaited), disconnected after the test."""
        return stomp_session(self, self.server.stomp_port, user, *subscriptions)

    def group(self, owner, members):
        status, room = self.api(owner).post("/api/rooms", {"kind": "group", "title": "반응 😀", "members": members})
        self.assertEqual(status, 201, room)
        return room["id"]

    def send(self, user, rid, texts):
        conn, rec = self.connect(user)
        for i, text in enumerate(texts):
            conn.send("/app/rooms/%s/send" % rid, text, headers={"receipt": "m%d" % i})
            rec.wait_receipt("m%d" % i)

    def react(self, conn, rec, rid, seq, emoji, verb="react", receipt="x"):
        conn.send("/app/rooms/%s/%s" % (rid, verb), emoji, headers={"receipt": receipt, "message-seq": str(seq)})
        rec.wait_receipt(receipt)

    def refused(self, user, rid, seq, emoji, verb="react", **headers):
        """The message header of the ERROR a react SEND of `user` gets."""
        conn, rec = self.connect(user)
        h = {"receipt": "x"}
        if seq is not None:
            h["message-seq"] = str(seq)
        h.update(headers)
        conn.send("/app/rooms/%s/%s" % (rid, verb), emoji, headers=h)
        return rec.wait_error().headers["message"]

    def reactions(self, user, rid):
        """{seq: reactions} of the room's history as `user` reads it."""
        status, page = self.api(user).get("/api/rooms/%s/messages?after=0" % rid)
        self.assertEqual(status, 200, page)
        return {m["seq"]: m["reactions"] for m in page["messages"]}

    def events(self, rec, rid):
        return [json.loads(f.body) for f in rec.messages
                if f.headers.get("event") == "reaction" and f.headers.get("room") == rid]

    # -------------------------------------------------------------- tests

    def test_react_over_stomp(self):
        """A RECEIPT once stored (history has it by then); one `reaction`
        event per change with the message's counts; adding twice is one
        reaction and tells nothing; taking back drops the count."""
        rid = self.group("alice", ["bob", "dana"])
        self.send("bob", rid, [KOREAN, "두 번째"])
        _, watch = self.connect("dana", "/topic/rooms/" + rid)
        alice, alice_rec = self.connect("alice")

        self.react(alice, alice_rec, rid, 1, THUMBS, receipt="r1")
        self.assertEqual(self.reactions("alice", rid)[1], [{"emoji": THUMBS, "count": 1, "me": True}])
        self.assertEqual(self.reactions("dana", rid)[1], [{"emoji": THUMBS, "count": 1, "me": False}])
        watch.wait(lambda: len(self.events(watch, rid)) >= 1, what="the reaction event")
        self.assertEqual(self.events(watch, rid)[0],
                         {"room": rid, "seq": 1, "emoji": THUMBS, "user": "alice", "action": "added",
                          "reactions": [{"emoji": THUMBS, "count": 1}]})

        self.react(alice, alice_rec, rid, 1, THUMBS, receipt="r2")  # held: nothing changes
        bob, bob_rec = self.connect("bob")
        self.react(bob, bob_rec, rid, 1, FAMILY)
        watch.wait(lambda: len(self.events(watch, rid)) >= 2, what="bob's reaction event")
        self.assertEqual([e["user"] for e in self.events(watch, rid)], ["alice", "bob"])
        self.assertEqual(self.events(watch, rid)[1]["reactions"],
                         sorted([{"emoji": THUMBS, "count": 1}, {"emoji": FAMILY, "count": 1}],
                                key=lambda r: r["emoji"].encode()))

        self.react(alice, alice_rec, rid, 1, THUMBS, verb="unreact", receipt="r3")
        watch.wait(lambda: len(self.events(watch, rid)) >= 3, what="the removal")
        removed = self.events(watch, rid)[2]
        self.assertEqual((removed["action"], removed["emoji"], removed["reactions"]),
                         ("removed", THUMBS, [{"emoji": FAMILY, "count": 1}]))
        dana, dana_rec = self.connect("dana")
        self.react(dana, dana_rec, rid, 2, HEART)
        self.assertEqual(self.reactions("bob", rid),
                         {1: [{"emoji": FAMILY, "count": 1, "me": True}],
                          2: [{"emoji": HEART, "count": 1, "me": False}]})

    def test_react_over_rest(self):
        """PUT and DELETE .../reactions/{emoji} (percent-encoded) answer the
        message's counts; twice is once; a message without reactions has []."""
        rid = self.group("alice", ["bob"])
        self.send("bob", rid, [KOREAN, "plain"])
        _, watch = self.connect("bob", "/topic/rooms/" + rid)
        alice = self.api("alice")
        for _ in range(2):
            status, body = alice.call("PUT", path_of(rid, 1, THUMBS))
            self.assertEqual(status, 200, body)
            self.assertEqual(body, {"room": rid, "seq": 1, "reactions": [{"emoji": THUMBS, "count": 1, "me": True}]})
        status, body = self.api("bob").call("PUT", path_of(rid, 1, "한"))  # any short non-ASCII text
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["reactions"]), 2)
        self.assertEqual(self.reactions("bob", rid)[2], [])
        for _ in range(2):
            status, body = alice.delete(path_of(rid, 1, THUMBS))
            self.assertEqual(status, 200, body)
            self.assertEqual(body["reactions"], [{"emoji": "한", "count": 1, "me": False}])
        watch.wait(lambda: len(self.events(watch, rid)) >= 3, what="three reaction events")
        self.assertEqual([(e["user"], e["action"]) for e in self.events(watch, rid)],
                         [("alice", "added"), ("bob", "added"), ("alice", "removed")])

    def test_refusals(self):
        """Each refusal answered clearly over STOMP and REST, nothing stored."""
        rid = self.group("alice", ["bob"])
        self.send("bob", rid, ["one", "two", "three"])
        alice = self.api("alice")
        # Not a member: the room does not exist for them.
        self.assertEqual(self.refused("dana", rid, 1, THUMBS), "no such room")
        self.assertEqual(self.api("dana").call("PUT", path_of(rid, 1, THUMBS))[0], 404)
        # No such message; no message-seq.
        self.assertEqual(self.refused("alice", rid, 99, THUMBS), "no such message")
        self.assertEqual(alice.call("PUT", path_of(rid, 99, THUMBS))[0], 404)
        self.assertEqual(self.refused("alice", rid, None, THUMBS), "invalid message-seq")
        # Not an emoji.
        for bad in ["", "hi", "+1", THUMBS + " ", "😀" * 9]:
            self.assertEqual(self.refused("alice", rid, 1, bad), "invalid reaction", bad)
            status, body = alice.call("PUT", path_of(rid, 1, bad) if bad else "/api/rooms/%s/messages/1/reactions/x" % rid)
            self.assertEqual(status, 400, (bad, body))
            self.assertIn("message", body)
        for raw in ["%FF", "%F0%9F%91", "%41", "%2541"]:  # decoded once: "%2541" is "%41" 
            status, body = alice.call("PUT", "/api/rooms/%s/messages/1/reactions/%s" % (rid, raw))
            self.assertEqual(status, 400, (raw, body))
        # A deleted message takes none.
        self.assertEqual(self.api("bob").delete("/api/rooms/%s/messages/3" % rid)[0], 200)
        self.assertEqual(self.refused("alice", rid, 3, THUMBS), "reaction refused")
        self.assertEqual(alice.call("PUT", path_of(rid, 3, THUMBS))[0], 409)
        # 20 different emoji on one message, not 21; a held one still joins.
        for i in range(20):
            status, body = alice.call("PUT", path_of(rid, 2, chr(0x1F600 + i)))
            self.assertEqual(status, 200, body)
        status, body = self.api("bob").call("PUT", path_of(rid, 2, "🎉"))
        self.assertEqual((status, body["error"]), (409, "limit"), body)
        self.assertEqual(self.refused("bob", rid, 2, "🎉"), "too many reactions")
        self.assertEqual(self.api("bob").call("PUT", path_of(rid, 2, "😀"))[0], 200)
        # Nothing of the refused ones stored.
        stored = self.reactions("alice", rid)
        self.assertEqual(stored[1], [])
        self.assertEqual(stored[3], [])
        self.assertEqual(len(stored[2]), 20)
        self.assertNotIn("🎉", [r["emoji"] for r in stored[2]])

    def test_support_room(self):
        """In a support room its customer and its agent react; nobody in a
        completed one."""
        api = self.api("alice")
        status, room = api.post("/api/rooms", {"kind": "support"})
        if status == 200:  # one left open by an earlier test: close it
            api.delete("/api/rooms/" + room["id"])
            status, room = api.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        rid = room["id"]
        self.addCleanup(api.delete, "/api/rooms/" + rid)
        self.send("alice", rid, [KOREAN])
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/claim" % rid)[0], 200)
        self.assertEqual(api.call("PUT", path_of(rid, 1, THUMBS))[0], 200)
        status, body = self.api("agent1").call("PUT", path_of(rid, 1, HEART))
        self.assertEqual(status, 200, body)
        self.assertEqual(self.api("agent2").call("PUT", path_of(rid, 1, HEART))[0], 404)
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/complete" % rid)[0], 200)
        status, body = api.call("PUT", path_of(rid, 1, FAMILY))
        self.assertEqual(status, 409, body)
        self.assertEqual(self.refused("alice", rid, 1, FAMILY), "reaction refused")
        self.assertEqual([r["emoji"] for r in self.reactions("alice", rid)[1]],
                         sorted([THUMBS, HEART], key=lambda e: e.encode()))


if __name__ == "__main__":
    unittest.main()
