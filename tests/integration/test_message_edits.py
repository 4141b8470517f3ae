"""Messages as stored: a message's content type on every path (the live
event, since-seq replay, REST history, a room's last message, in-band and
offline notifications), equal on each (docs/protocol.md, "Message bodies").
Run per profile (CHATD_PROFILE, as test_rooms.py's)."""
import json
import os
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
        rid = alice.post("/api/rooms", {"kind": "group", "title": "답장", "members": ["bob"]})[1]["id"]
        other = alice.post("/api/rooms", {"kind": "group", "title": "other", "members": ["bob"]})[1]["id"]
        watcher = self.stomp("bob")
        subscribe(watcher, "/topic/rooms/" + rid)
        watcher.expect("RECEIPT")
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


if __name__ == "__main__":
    unittest.main()
