"""Messages as stored: a message's content type on every path (the live
event, since-seq replay, REST history, a room's last message, in-band and
offline notifications), equal on each (docs/protocol.md, "Message bodies");
edits and deletes over STOMP and REST, their events, history and replay
(docs/protocol.md, "Edits and deletes"). Run per profile (CHATD_PROFILE, as
test_rooms.py's)."""
import json
import os
import time
import unittest

from chatd_harness import PLUGIN_DIR, wait_for
from rooms_client import subscribe
from test_rooms import ProfileServer

TEXT = "text/plain;charset=utf-8"
JSON = "application/json"


class MessageContentTypes(ProfileServer):
    PREFIX = "chatd-messages-"

    @classmethod
    def edit_config(cls, s):
        cls.notes = os.path.join(cls.data, "notes.jsonl")
        open(cls.notes, "w").close()
        s["notify.file"] = {"plugin": os.path.join(PLUGIN_DIR, "notify_jsonl.so"), "path": cls.notes}
        s["notify"] = {"coalesce": "0"}  # one per message

    def next_event(self, c, event):
        while True:
            f = c.expect("MESSAGE")
            if f.headers.get("event") == event:
                return f

    def notes_of(self, rid):
        with open(self.notes) as f:
            return [n for n in map(json.loads, f.read().splitlines()) if n["room"] == rid]

    def test_content_type_is_the_same_on_every_path(self):
        """The content type a SEND was accepted with (its own, or the one
        its body reads as when it named none) is stored and carried by the
        live event, the replay, REST history, the room list's last message
        and both kinds of notification."""
        alice = self.api("alice")
        status, room = alice.post("/api/rooms", {"kind": "group", "title": "types 😀",
                                                 "members": ["bob", "agent1", "agent2"]})
        self.assertEqual(status, 201, room)
        rid = room["id"]
        # agent1 watches the room; agent2 is online elsewhere; bob is offline.
        watcher = self.stomp("agent1")
        subscribe(watcher, "/topic/rooms/" + rid)
        watcher.expect("RECEIPT")
        online = self.stomp("agent2")
        subscribe(online, "/user/queue/notifications")
        online.expect("RECEIPT")
        korean = "안녕하세요 😀"
        sends = [
            ({}, korean, TEXT),
            ({}, json.dumps({"text": korean, "lang": "ko"}, ensure_ascii=False), JSON),
            ({"content-type": JSON}, json.dumps({"text": korean}), JSON),
            ({"content-type": "text/plain; charset=UTF-8"}, korean, "text/plain; charset=UTF-8"),
            ({"content-type": "text/markdown"}, "**" + korean + "**", "text/markdown"),
        ]
        a = self.stomp("alice")
        for i, (headers, body, _) in enumerate(sends):
            h = {"destination": "/app/rooms/%s/send" % rid, "receipt": "s%d" % i}
            h.update(headers)
            a.send("SEND", h, body)
            self.assertEqual(a.expect("RECEIPT").headers["receipt-id"], "s%d" % i)
        want = [t for _, _, t in sends]

        live = [self.next_event(watcher, "message") for _ in sends]
        self.assertEqual([f.headers.get("content-type") for f in live], want)
        self.assertEqual([f.body.decode() for f in live], [b for _, b, _ in sends])

        again = self.stomp("agent1")
        subscribe(again, "/topic/rooms/" + rid, **{"since-seq": "0"})
        replayed = [self.next_event(again, "message") for _ in sends]
        self.assertTrue(all(f.headers.get("replay") == "true" for f in replayed))
        self.assertEqual([f.headers.get("content-type") for f in replayed], want)

        status, page = alice.get("/api/rooms/%s/messages?after=0" % rid)
        self.assertEqual(status, 200)
        self.assertEqual([m["content_type"] for m in page["messages"]], want)
        self.assertEqual([m["body"] for m in page["messages"]], [b for _, b, _ in sends])
        status, page = alice.get("/api/rooms/%s/messages?limit=2" % rid)
        self.assertEqual([m["content_type"] for m in page["messages"]], want[::-1][:2])

        rooms = {r["id"]: r for r in alice.get("/api/rooms")[1]["rooms"]}
        self.assertEqual(rooms[rid]["last_message"]["content_type"], want[-1])

        notices = [json.loads(self.next_event(online, "message").body) for _ in sends]
        self.assertEqual([n["content_type"] for n in notices], want)
        wait_for(lambda: len([n for n in self.notes_of(rid) if n["recipient"] == "bob"]) >= len(sends),
                 what="bob's offline notifications")
        self.assertEqual([n["content_type"] for n in self.notes_of(rid) if n["recipient"] == "bob"], want)

    def test_kind_and_reply_to(self):
        """A SEND may reply to a message of its room (`reply-to: SEQ`); the
        reply carries `kind` and `reply-to` live and replayed, and `kind` and
        `reply_to` in REST. A reply-to naming no message of the room, one
        that is no seq, and a kind other than text get a clear ERROR, and
        nothing is stored."""
        alice = self.api("alice")
        rid = alice.post("/api/rooms", {"kind": "group", "title": "답장", "members": ["bob", "agent1", "agent2"]})[1]["id"]
        other = alice.post("/api/rooms", {"kind": "group", "title": "other", "members": ["bob"]})[1]["id"]
        watcher = self.stomp("bob")
        subscribe(watcher, "/topic/rooms/" + rid)
        watcher.expect("RECEIPT")
        # agent1 is online elsewhere (in-band notifications); agent2 is offline.
        online = self.stomp("agent1")
        subscribe(online, "/user/queue/notifications")
        online.expect("RECEIPT")
        a = self.stomp("alice")
        send = "/app/rooms/%s/send" % rid
        a.send("SEND", {"destination": send, "receipt": "q"}, "질문 😀")
        a.expect("RECEIPT")
        a.send("SEND", {"destination": send, "receipt": "r", "reply-to": "1", "kind": "text"}, "답변 😀")
        a.expect("RECEIPT")
        live = [self.next_event(watcher, "message") for _ in range(2)]
        self.assertEqual([f.headers.get("kind") for f in live], ["text", "text"])
        self.assertEqual([f.headers.get("reply-to") for f in live], [None, "1"])
        page = alice.get("/api/rooms/%s/messages?after=0" % rid)[1]["messages"]
        self.assertEqual([(m["kind"], m["reply_to"], m["body"]) for m in page],
                         [("text", None, "질문 😀"), ("text", 1, "답변 😀")])
        again = self.stomp("bob")
        subscribe(again, "/topic/rooms/" + rid, **{"since-seq": "0"})
        replayed = [self.next_event(again, "message") for _ in range(2)]
        self.assertEqual([f.headers.get("reply-to") for f in replayed], [None, "1"])
        self.assertEqual([f.headers.get("kind") for f in replayed], ["text", "text"])
        # Both kinds of notification carry them.
        notices = [json.loads(self.next_event(online, "message").body) for _ in range(2)]
        self.assertEqual([(n["kind"], n["reply_to"]) for n in notices], [("text", None), ("text", 1)])
        wait_for(lambda: len([n for n in self.notes_of(rid) if n["recipient"] == "agent2"]) >= 2,
                 what="agent2's offline notifications")
        self.assertEqual([(n["kind"], n["reply_to"], n["preview"]) for n in self.notes_of(rid)
                          if n["recipient"] == "agent2"], [("text", None, "질문 😀"), ("text", 1, "답변 😀")])

        refused = [({"reply-to": "3"}, "invalid reply-to", "no message of this room"),
                   ({"reply-to": "0"}, "invalid reply-to", "seq"),
                   ({"reply-to": "m1"}, "invalid reply-to", "seq"),
                   ({"kind": "system"}, "invalid kind", "not a client's"),
                   ({"kind": "file"}, "invalid kind", "not a client's")]
        for headers, message, why in refused:
            c = self.stomp("alice")
            h = {"destination": send, "receipt": "x"}
            h.update(headers)
            c.send("SEND", h, "안녕하세요 😀")
            e = c.expect("ERROR")
            self.assertEqual(e.headers["message"], message, headers)
            self.assertIn(why, e.body.decode(), headers)
        # A seq of another room's message is no message of this one.
        self.assertEqual(self.api("bob").get("/api/rooms/%s" % other)[1]["last_seq"], 0)
        c = self.stomp("alice")
        c.send("SEND", {"destination": "/app/rooms/%s/send" % other, "receipt": "o", "reply-to": "1"}, "x")
        self.assertEqual(c.expect("ERROR").headers["message"], "invalid reply-to")
        self.assertEqual(len(alice.get("/api/rooms/%s/messages?after=0" % rid)[1]["messages"]), 2)
        self.assertEqual(alice.get("/api/rooms/%s/messages?after=0" % other)[1]["messages"], [])


def change(c, rid, verb, seq, body="", receipt="e", **headers):
    h = {"destination": "/app/rooms/%s/%s" % (rid, verb), "receipt": receipt, "message-seq": str(seq)}
    h.update(headers)
    c.send("SEND", h, body)


class MessageEdits(ProfileServer):
    PREFIX = "chatd-edits-"

    def next_event(self, c, event):
        while True:
            f = c.expect("MESSAGE")
            if f.headers.get("event") == event:
                return f

    def group(self, owner, members, title="고치기 ✏️"):
        status, room = self.api(owner).post("/api/rooms", {"kind": "group", "title": title, "members": members})
        self.assertEqual(status, 201, room)
        return room["id"]

    def send(self, c, rid, text, receipt="s"):
        c.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": receipt}, text)
        self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], receipt)

    def test_edit_and_delete_over_stomp(self):
        """The sender edits and deletes over STOMP; the RECEIPT comes once
        the change is stored (history shows it by then); the room's
        subscribers get message-edited / message-deleted with the message's
        seq and its new rev; history keeps every seq with the latest text
        and a tombstone; last_seq and the unread count stay the messages'."""
        rid = self.group("alice", ["bob", "dana"])
        watcher = self.stomp("dana")
        subscribe(watcher, "/topic/rooms/" + rid)
        watcher.expect("RECEIPT")
        bob = self.stomp("bob")
        for i, text in enumerate(["첫 메시지", "두 번째 😀", "세 번째"]):
            self.send(bob, rid, text, "s%d" % i)
        edited = "고친 메시지 😀✨"
        change(bob, rid, "edit", 1, edited, receipt="e1", **{"content-type": "text/plain;charset=utf-8"})
        self.assertEqual(bob.expect("RECEIPT").headers["receipt-id"], "e1")
        # Stored before the RECEIPT: history has it already.
        page = self.api("dana").get("/api/rooms/%s/messages?after=0" % rid)[1]["messages"]
        self.assertEqual(page[0]["body"], edited)
        self.assertEqual(page[0]["rev"], 1)
        self.assertIsInstance(page[0]["edited_at"], int)
        self.assertGreaterEqual(page[0]["edited_at"], page[0]["timestamp"])
        change(bob, rid, "delete", 2, receipt="d2")
        self.assertEqual(bob.expect("RECEIPT").headers["receipt-id"], "d2")

        f = self.next_event(watcher, "message-edited")
        self.assertEqual((f.headers["seq"], f.headers["rev"], f.headers["sender"], f.headers["by"]),
                         ("1", "1", "bob", "bob"))
        self.assertEqual(f.body.decode(), edited)
        self.assertEqual(f.headers["content-type"], "text/plain;charset=utf-8")
        f = self.next_event(watcher, "message-deleted")
        self.assertEqual((f.headers["seq"], f.headers["rev"], f.headers["deleted"]), ("2", "2", "true"))
        self.assertEqual(f.body, b"")

        page = self.api("dana").get("/api/rooms/%s/messages?after=0" % rid)[1]["messages"]
        self.assertEqual([m["seq"] for m in page], [1, 2, 3])
        self.assertEqual([m["body"] for m in page], [edited, "", "세 번째"])
        self.assertEqual([m.get("deleted", False) for m in page], [False, True, False])
        self.assertEqual([m.get("rev") for m in page], [1, 2, None])
        room = self.api("dana").get("/api/rooms/" + rid)[1]
        self.assertEqual(room["last_seq"], 3)
        mine = {r["id"]: r for r in self.api("dana").get("/api/rooms")[1]["rooms"]}[rid]
        self.assertEqual(mine["unread"], 3)
        # A new message after the changes takes the next seq: seqs stay dense.
        self.send(bob, rid, "네 번째", "s4")
        self.assertEqual(self.next_event(watcher, "message").headers["seq"], "4")

    def test_edit_and_delete_over_rest(self):
        """PATCH and DELETE /api/rooms/{room}/messages/{seq} answer the
        message as it now is; an owner deletes anyone's message, an admin
        too; a plain member only their own."""
        rid = self.group("alice", ["bob", "dana"])
        bob = self.stomp("bob")
        self.send(bob, rid, "bob 1")
        self.send(bob, rid, "bob 2")
        self.send(self.stomp("dana"), rid, "dana 3")
        watcher = self.stomp("alice")
        subscribe(watcher, "/topic/rooms/" + rid)
        watcher.expect("RECEIPT")
        status, m = self.api("bob").patch("/api/rooms/%s/messages/1" % rid, {"body": "수정됨 😀"})
        self.assertEqual(status, 200, m)
        self.assertEqual((m["seq"], m["body"], m["rev"], m["sender"]), (1, "수정됨 😀", 1, "bob"))
        status, m = self.api("bob").patch("/api/rooms/%s/messages/1" % rid,
                                          {"body": json.dumps({"text": "JSON 😀"}), "content_type": "application/json"})
        self.assertEqual((status, m["rev"], m["content_type"]), (200, 2, "application/json"))
        self.assertEqual(self.next_event(watcher, "message-edited").headers["rev"], "1")
        self.assertEqual(self.next_event(watcher, "message-edited").headers["content-type"], "application/json")
        # dana (a plain member) may not delete bob's; alice (the owner) may.
        status, e = self.api("dana").delete("/api/rooms/%s/messages/2" % rid)
        self.assertEqual((status, e["error"]), (403, "forbidden"))
        status, m = self.api("alice").delete("/api/rooms/%s/messages/2" % rid)
        self.assertEqual((status, m["deleted"], m["body"], m["rev"]), (200, True, "", 3))
        f = self.next_event(watcher, "message-deleted")
        self.assertEqual((f.headers["seq"], f.headers["by"], f.headers["sender"]), ("2", "alice", "bob"))
        # An admin deletes anyone's too.
        self.assertEqual(self.api("alice").call("PUT", "/api/rooms/%s/members/bob/role" % rid,
                                                {"role": "admin"})[0], 200)
        status, m = self.api("bob").delete("/api/rooms/%s/messages/3" % rid)
        self.assertEqual((status, m["sender"], m["deleted"]), (200, "dana", True))

    def test_bad_changes_are_refused_and_change_nothing(self):
        """Editing another's message, a seq the room has not, a non-member,
        a deleted message, a bad body or message-seq: a clear ERROR or 4xx,
        and history is as it was."""
        rid = self.group("alice", ["bob"])
        bob = self.stomp("bob")
        self.send(bob, rid, "bob's 😀")
        api = self.api
        cases = [
            (api("alice").patch, "/api/rooms/%s/messages/1" % rid, {"body": "not mine"}, 403, "forbidden"),
            (api("bob").patch, "/api/rooms/%s/messages/9" % rid, {"body": "x"}, 404, "not_found"),
            (api("bob").patch, "/api/rooms/%s/messages/0" % rid, {"body": "x"}, 404, "not_found"),
            (api("bob").patch, "/api/rooms/%s/messages/x1" % rid, {"body": "x"}, 404, "not_found"),
            (api("dana").patch, "/api/rooms/%s/messages/1" % rid, {"body": "x"}, 404, "not_found"),
            (api("bob").patch, "/api/rooms/%s/messages/1" % rid, {"text": "x"}, 400, "bad_request"),
            (api("bob").patch, "/api/rooms/%s/messages/1" % rid, {"body": "{\"no\": 1}"}, 400, "bad_request"),
            (api("bob").patch, "/api/rooms/%s/messages/1" % rid, {"body": "a\u0000b"}, 400, "bad_json"),
        ]
        for call, path, body, want, code in cases:
            status, e = call(path, body)
            self.assertEqual((status, e["error"]), (want, code), (path, body))
        status, e = api("dana").delete("/api/rooms/%s/messages/1" % rid)
        self.assertEqual(status, 404)
        refused = [("alice", "edit", "1", "not mine", "not allowed"),
                   ("bob", "edit", "9", "x", "no such message"),
                   ("bob", "edit", "0", "x", "invalid message-seq"),
                   ("bob", "edit", "one", "x", "invalid message-seq"),
                   ("dana", "delete", "1", "", "no such room")]
        for user, verb, seq, body, message in refused:
            c = self.stomp(user)
            change(c, rid, verb, seq, body, receipt="x")
            e = c.expect("ERROR")
            self.assertEqual(e.headers["message"], message, (user, verb, seq))
            self.assertEqual(e.headers.get("receipt-id"), "x")
        c = self.stomp("bob")
        c.send("SEND", {"destination": "/app/rooms/%s/edit" % rid, "receipt": "x"}, "no seq")
        self.assertEqual(c.expect("ERROR").headers["message"], "invalid message-seq")
        page = api("bob").get("/api/rooms/%s/messages?after=0" % rid)[1]["messages"]
        self.assertEqual([(m["body"], m.get("rev")) for m in page], [("bob's 😀", None)])
        # Deleted, then neither edited nor deleted again.
        self.assertEqual(api("bob").delete("/api/rooms/%s/messages/1" % rid)[0], 200)
        status, e = api("bob").patch("/api/rooms/%s/messages/1" % rid, {"body": "back"})
        self.assertEqual((status, e["error"]), (409, "conflict"))
        c = self.stomp("bob")
        change(c, rid, "delete", 1, receipt="x")
        self.assertEqual(c.expect("ERROR").headers["message"], "message not changed")

    def test_since_rev_replays_the_changes_missed(self):
        """A client that had every message up to seq N and every change up
        to rev R resubscribes with since-seq N and since-rev R: it gets the
        newer messages (as they are now), then message-edited /
        message-deleted for the older ones changed after R, then live."""
        rid = self.group("alice", ["bob"])
        bob = self.stomp("bob")
        for i in range(4):
            self.send(bob, rid, "메시지 %d" % (i + 1), "s%d" % i)
        change(bob, rid, "edit", 1, "first edit", receipt="e0")
        bob.expect("RECEIPT")
        # The client's cursor: seq 3, rev 1. Then it is away.
        change(bob, rid, "edit", 2, "편집 😀", receipt="e1")
        bob.expect("RECEIPT")
        change(bob, rid, "delete", 3, receipt="e2")
        bob.expect("RECEIPT")
        change(bob, rid, "edit", 4, "new and edited", receipt="e3")
        bob.expect("RECEIPT")
        self.send(bob, rid, "다섯", "s5")
        back = self.stomp("alice")
        subscribe(back, "/topic/rooms/" + rid, **{"since-seq": "3", "since-rev": "1"})
        back.expect("RECEIPT")  # after the replay; its frames wait in order
        got = [back.expect("MESSAGE") for _ in range(4)]
        self.assertEqual([(f.headers["event"], f.headers["seq"], f.headers.get("rev")) for f in got],
                         [("message", "4", "4"), ("message", "5", None),
                          ("message-edited", "2", "2"), ("message-deleted", "3", "3")])
        self.assertEqual(got[0].body.decode(), "new and edited")
        self.assertEqual(got[2].body.decode(), "편집 😀")
        self.assertTrue(all(f.headers.get("replay") == "true" for f in got))
        # since-rev alone, or not a number: refused.
        c = self.stomp("alice")
        subscribe(c, "/topic/rooms/" + rid, **{"since-rev": "1"})
        self.assertEqual(c.expect("ERROR").headers["message"], "invalid since-rev header")
        c = self.stomp("alice")
        subscribe(c, "/topic/rooms/" + rid, **{"since-seq": "1", "since-rev": "x"})
        self.assertEqual(c.expect("ERROR").headers["message"], "invalid since-rev header")
        # Live after the replay.
        change(bob, rid, "edit", 5, "live", receipt="e4")
        bob.expect("RECEIPT")
        f = self.next_event(back, "message-edited")
        self.assertEqual((f.headers["seq"], f.headers["rev"]), ("5", "5"))


class EditWindow(ProfileServer):
    """[rooms] edit_window: past it the sender neither edits nor deletes;
    a support room's agent still deletes."""
    PREFIX = "chatd-window-"

    @classmethod
    def edit_config(cls, s):
        s["rooms"] = {"edit_window": "50ms"}

    def test_past_the_window(self):
        alice = self.api("alice")
        rid = alice.post("/api/rooms", {"kind": "group", "title": "창", "members": ["bob"]})[1]["id"]
        bob = self.stomp("bob")
        subscribe(bob, "/topic/rooms/" + rid)
        bob.expect("RECEIPT")
        bob.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "s"}, "곧 늦음")
        bob.expect("RECEIPT")
        sent = int(bob.expect("MESSAGE").headers["timestamp"])
        # The window is measured on the server's clock, the same machine's.
        while time.time() * 1000 <= sent + 60:
            time.sleep(0.01)
        status, e = self.api("bob").patch("/api/rooms/%s/messages/1" % rid, {"body": "too late"})
        self.assertEqual((status, e["error"]), (403, "forbidden"))
        self.assertIn("edit window", e["message"])
        change(bob, rid, "delete", 1, receipt="d")
        e = bob.expect("ERROR")
        self.assertEqual(e.headers["message"], "not allowed")
        # The owner of the group still deletes it.
        self.assertEqual(alice.delete("/api/rooms/%s/messages/1" % rid)[0], 200)


if __name__ == "__main__":
    unittest.main()
