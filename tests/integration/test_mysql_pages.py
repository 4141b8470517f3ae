"""History pages on MariaDB (docs/storage.md, "MariaDB and MySQL"): a page
and the room it is in are read by one statement that counts on a room's
seqs having no gap; a page with a hole made behind the plugin's back is
read again carefully and still answers the newest `limit` messages below
the cursor, and its room still decides who may read it. Reactions show in
history from a room's first one on. Run with CHATD_PROFILE=mysql."""
import unittest
import urllib.parse

from chatd_harness import stomp_session
from test_rooms import ProfileServer

WORDS = ["안녕하세요 😀", "상담 문의 🙏", "감사합니다 👍🏽", "👨‍👩‍👧 가족"]


class MysqlPages(ProfileServer):
    PREFIX = "chatd-mysql-pages-"

    def group(self, owner, members):
        status, room = self.api(owner).post("/api/rooms", {"kind": "group", "title": "페이지 📄", "members": members})
        self.assertEqual(status, 201, room)
        return room["id"]

    def send(self, user, rid, n):
        conn, rec = stomp_session(self, self.server.stomp_port, user)
        for i in range(1, n + 1):
            conn.send("/app/rooms/%s/send" % rid, "%d %s" % (i, WORDS[i % len(WORDS)]),
                      headers={"receipt": "m%d" % i})
            rec.wait_receipt("m%d" % i)

    def page(self, user, rid, query):
        status, page = self.api(user).get("/api/rooms/%s/messages?%s" % (rid, query))
        return status, page

    def seqs(self, user, rid, query):
        status, page = self.page(user, rid, query)
        self.assertEqual(status, 200, page)
        for m in page["messages"]:
            self.assertEqual(m["body"], "%d %s" % (m["seq"], WORDS[m["seq"] % len(WORDS)]))
        return [m["seq"] for m in page["messages"]]

    def test_pages_without_a_hole(self):
        rid = self.group("alice", ["bob"])
        self.send("bob", rid, 30)
        self.assertEqual(self.seqs("alice", rid, "limit=10"), list(range(30, 20, -1)))
        self.assertEqual(self.seqs("alice", rid, "before=5&limit=10"), [4, 3, 2, 1])
        self.assertEqual(self.seqs("bob", rid, "after=25&limit=10"), [26, 27, 28, 29, 30])
        self.assertEqual(self.seqs("bob", rid, "after=30"), [])
        self.assertEqual(self.page("dana", rid, "limit=10")[0], 404)
        self.assertEqual(self.page("alice", "r" + "0" * 24, "limit=10")[0], 404)
        empty = self.group("alice", ["bob"])
        self.assertEqual(self.seqs("bob", empty, "limit=10"), [])
        self.assertEqual(self.page("dana", empty, "limit=10")[0], 404)

    def test_a_hole_is_read_carefully(self):
        """Rows removed in the database itself: the pages around them are
        the next messages there are, newest first or oldest first, and a
        stranger still gets 404."""
        rid = self.group("alice", ["bob"])
        self.send("bob", rid, 30)
        self.backends["mysql"].sql("DELETE FROM chatd.chatd_messages WHERE room = '%s' AND seq IN (25, 30)" % rid)
        self.assertEqual(self.seqs("alice", rid, "limit=10"), [29, 28, 27, 26, 24, 23, 22, 21, 20, 19])
        self.assertEqual(self.seqs("alice", rid, "before=27&limit=5"), [26, 24, 23, 22, 21])
        self.assertEqual(self.seqs("bob", rid, "after=20&limit=10"), [21, 22, 23, 24, 26, 27, 28, 29])
        self.assertEqual(self.seqs("bob", rid, "before=3"), [2, 1])
        self.assertEqual(self.page("dana", rid, "limit=10")[0], 404)

    def test_reactions_from_the_first_on(self):
        """A room without reactions answers its pages without looking them
        up; its first reaction shows at once, and the next ones too."""
        rid = self.group("alice", ["bob"])
        self.send("bob", rid, 5)
        status, page = self.page("alice", rid, "after=0")
        self.assertEqual(status, 200, page)
        self.assertFalse(any(m.get("reactions") for m in page["messages"]), page)
        for seq, emoji, count in ((3, "👍🏽", 1), (3, "👍🏽", 2), (5, "❤️", 1)):
            user = "alice" if count == 1 else "bob"
            status, body = self.api(user).call("PUT", "/api/rooms/%s/messages/%d/reactions/%s" % (
                rid, seq, urllib.parse.quote(emoji, safe="")))
            self.assertIn(status, (200, 201), body)
            status, page = self.page("alice", rid, "after=0")
            self.assertEqual(status, 200, page)
            got = {m["seq"]: m.get("reactions") for m in page["messages"] if m.get("reactions")}
            self.assertIn(seq, got, page)
            self.assertEqual([r["count"] for r in got[seq] if r["emoji"] == emoji], [count], got)


if __name__ == "__main__":
    unittest.main()
