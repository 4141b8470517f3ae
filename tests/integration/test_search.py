"""Search of messages by a part of their text (docs/rest-api.md, "Search"):
GET /api/search across the rooms the caller may read and GET
/api/rooms/{room}/search in one, with real clients over STOMP and REST, on
every storage plugin. Run per profile (CHATD_PROFILE, as test_rooms.py's)."""
import json
import os
import re
import secrets
import unittest
import urllib.parse

from rooms_client import Api
from test_rooms import ProfileServer


class Search(ProfileServer):
    PREFIX = "chatd-search-"

    def setUp(self):
        # Each test's messages carry a word of their own, so that a search
        # across rooms finds none of another test's.
        self.tag = "t" + secrets.token_hex(4)

    def group(self, owner, members, title="찾기 🔎"):
        status, room = self.api(owner).post("/api/rooms", {"kind": "group", "title": title, "members": members})
        self.assertEqual(status, 201, room)
        return room["id"]

    def send(self, user, rid, text, content_type=None):
        c = self.stomp(user)
        h = {"destination": "/app/rooms/%s/send" % rid, "receipt": "s"}
        if content_type:
            h["content-type"] = content_type
        c.send("SEND", h, text)
        self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "s")

    def search(self, user, q, room=None, expect=200, **params):
        query = urllib.parse.urlencode(dict(params, q=q) if q is not None else params)
        path = ("/api/rooms/%s/search?" % room if room else "/api/search?") + query
        status, body = self.api(user).get(path)
        self.assertEqual(status, expect, "%s %s: %s" % (user, path, body))
        return body

    def found(self, user, q, room=None, with_time=False, **params):
        """(room, seq, body) of every match (and its timestamp, with_time),
        following next_cursor."""
        out, cursor = [], None
        while True:
            extra = dict(params, cursor=cursor) if cursor else params
            page = self.search(user, q, room, **extra)
            out += [(m["room"], m["seq"], m["body"]) + ((m["timestamp"],) if with_time else ())
                    for m in page["messages"]]
            cursor = page["next_cursor"]
            if not cursor:
                return out

    def test_korean_emoji_and_ascii_case(self):
        """Korean is found by two syllables of a word, across a space too;
        emoji by themselves; ASCII letters whatever their case."""
        rid = self.group("alice", ["bob"])
        texts = ["안녕하세요 반갑습니다 " + self.tag, "party 🎉🎊 " + self.tag, "Hello WORLD " + self.tag]
        for t in texts:
            self.send("bob", rid, t)
        self.assertEqual(self.found("alice", "반갑", rid), [(rid, 1, texts[0])])
        self.assertEqual(self.found("alice", "세요 반갑", rid), [(rid, 1, texts[0])])
        self.assertEqual(self.found("alice", "🎉🎊", rid), [(rid, 2, texts[1])])
        self.assertEqual(self.found("alice", "🎊🎉", rid), [])
        self.assertEqual(self.found("alice", "hello world", rid), [(rid, 3, texts[2])])
        self.assertEqual(self.found("bob", "HELLO world " + self.tag), [(rid, 3, texts[2])])
        # Across the caller's rooms, newest first.
        self.assertEqual([seq for _, seq, _ in self.found("bob", " " + self.tag)], [3, 2, 1])

    def test_json_bodies_by_their_text(self):
        """A JSON body is found by its text, not by its keys, whether its
        encoder wrote Korean and emoji as they are or as \\u escapes."""
        rid = self.group("alice", ["bob"])
        body = json.dumps({"text": "제이슨 본문 " + self.tag, "mood": "fine"}, ensure_ascii=False)
        self.send("alice", rid, body, "application/json")
        escaped = json.dumps({"text": "이스케이프 본문 🎉 \"인용\" " + self.tag})
        self.assertIn("\\ubcf8", escaped)
        self.send("alice", rid, escaped, "application/json")
        self.send("alice", rid, re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), escaped))
        self.assertEqual([seq for _, seq, _ in self.found("bob", "본문", rid)], [3, 2, 1])
        self.assertEqual([seq for _, seq, _ in self.found("bob", "제이슨 본문 " + self.tag)], [1])
        self.assertEqual([seq for _, seq, _ in self.found("bob", "문 🎉 \"인용\" " + self.tag)], [3, 2])
        self.assertEqual(self.found("bob", "mood", rid), [])
        self.assertEqual(self.found("bob", "text", rid), [])

    def test_edited_by_new_text_deleted_never(self):
        rid = self.group("alice", ["bob"])
        for t in ("before edit " + self.tag, "to delete " + self.tag, "kept " + self.tag):
            self.send("bob", rid, t)
        bob = self.api("bob")
        status, m = bob.patch("/api/rooms/%s/messages/1" % rid, {"body": "고쳐진 글 " + self.tag})
        self.assertEqual(status, 200, m)
        status, m = bob.call("DELETE", "/api/rooms/%s/messages/2" % rid)
        self.assertEqual(status, 200, m)
        self.assertEqual(self.found("alice", "고쳐진 글 " + self.tag), [(rid, 1, "고쳐진 글 " + self.tag)])
        self.assertEqual(self.found("alice", "before edit " + self.tag), [])
        self.assertEqual(self.found("alice", "to delete " + self.tag), [])
        self.assertEqual([seq for _, seq, _ in self.found("alice", self.tag)], [3, 1])

    def test_pages_follow_the_cursor(self):
        """25 matches in pages of 10: newest first, each once; a page's
        next_cursor leads to the next, the last one's is null."""
        rid = self.group("alice", ["bob"])
        other = self.group("bob", ["alice"])
        for i in range(25):
            self.send("alice", rid if i % 2 else other, "page %d %s 😀" % (i, self.tag))
        page = self.search("bob", self.tag + " 😀", limit=10)
        self.assertEqual(len(page["messages"]), 10)
        self.assertIsNotNone(page["next_cursor"])
        got = self.found("bob", self.tag + " 😀", limit=10, with_time=True)
        # Newest first by time, then room, then seq (sends of one
        # millisecond in two rooms go by room).
        keys = [(ts, r.encode(), seq) for r, seq, _, ts in got]
        self.assertEqual(keys, sorted(keys, reverse=True))
        self.assertEqual(sorted(b for _, _, b, _ in got), sorted("page %d %s 😀" % (i, self.tag) for i in range(25)))
        self.assertEqual(self.found("bob", self.tag + " 😀", rid, limit=3),
                         [(rid, i // 2 + 1, "page %d %s 😀" % (i, self.tag)) for i in reversed(range(1, 25, 2))])

    def test_only_rooms_the_caller_may_read(self):
        """Members find their rooms' messages; agents the unassigned support
        queue's and their own rooms'; nobody a room they are not in: its
        search is 404 as its history is."""
        mine = self.group("alice", ["bob"])
        theirs = self.group("dana", [])
        self.send("alice", mine, "ours " + self.tag)
        self.send("dana", theirs, "secret " + self.tag)
        self.assertEqual([r for r, _, _ in self.found("alice", self.tag)], [mine])
        self.assertEqual([r for r, _, _ in self.found("dana", self.tag)], [theirs])
        self.assertEqual(self.search("alice", "secret", theirs, expect=404)["error"], "not_found")
        self.search("alice", "secret", "rnosuchroom", expect=404)
        # A support room: its customer and, while it waits, every agent.
        status, room = self.api("dana").post("/api/rooms", {"kind": "support"})
        if status == 200:  # one left open: close it and open anew
            self.api("dana").delete("/api/rooms/" + room["id"])
            status, room = self.api("dana").post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        sid = room["id"]
        self.addCleanup(self.api("dana").delete, "/api/rooms/" + sid)
        self.send("dana", sid, "도와주세요 " + self.tag)
        for agent in ("agent1", "agent2"):
            self.assertIn(sid, [r for r, _, _ in self.found(agent, "도와주세요 " + self.tag)], agent)
        self.assertEqual(self.found("alice", "도와주세요 " + self.tag), [])
        status, _ = self.api("agent1").post("/api/rooms/%s/claim" % sid)
        self.assertEqual(status, 200)
        self.assertEqual([r for r, _, _ in self.found("agent1", "도와주세요 " + self.tag)], [sid])
        self.assertEqual(self.found("agent2", "도와주세요 " + self.tag), [])
        self.search("agent2", "도와주세요", sid, expect=404)

    def test_refusals(self):
        rid = self.group("alice", ["bob"])
        for q in (None, "", "a", "가", "😀", "   x  ", "\x01\x02", "y" * 101):
            for room in (None, rid):
                with self.subTest(q=q, room=room):
                    self.assertEqual(self.search("alice", q, room, expect=400)["error"], "bad_request")
        for params in ({"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"cursor": "x"}, {"cursor": "1.0.r1"},
                       {"cursor": "1.2.R!"}):
            with self.subTest(params=params):
                self.search("alice", "ab", **params, expect=400)
                self.search("alice", "ab", rid, **params, expect=400)
        status, body = Api(self.server.http_port, "nobody-at-all").get("/api/search?q=ab")
        self.assertEqual(status, 401, body)
        status, body = self.api("alice").call("POST", "/api/search?q=ab")
        self.assertEqual(status, 405, body)


class RedisScanBound(ProfileServer):
    """storage-redis reads the rooms' messages inside one script: a search
    that would read more than search_scan_max of them is refused, 429."""
    PREFIX = "chatd-search-bound-"

    @classmethod
    def setUpClass(cls):
        if os.environ.get("CHATD_PROFILE", "memory") != "redis":
            raise unittest.SkipTest("storage-redis only")
        super().setUpClass()

    @classmethod
    def edit_config(cls, sections):
        sections["storage"]["search_scan_max"] = "5"

    def test_a_search_past_the_bound_is_refused(self):
        status, room = self.api("alice").post("/api/rooms", {"kind": "group", "title": "큰 방", "members": []})
        self.assertEqual(status, 201, room)
        c = self.stomp("alice")
        for i in range(6):
            c.send("SEND", {"destination": "/app/rooms/%s/send" % room["id"], "receipt": "s%d" % i}, "말 %d" % i)
            self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "s%d" % i)
        status, body = self.api("alice").get("/api/rooms/%s/search?q=%s" % (room["id"], urllib.parse.quote("말 1")))
        self.assertEqual((status, body["error"]), (429, "limit"), body)


if __name__ == "__main__":
    unittest.main()
