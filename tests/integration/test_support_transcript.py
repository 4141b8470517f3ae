"""Transcripts of support rooms (docs/support-desk.md, "Transcripts"), with
stomp.py and urllib clients, on the storage of CHATD_PROFILE (as
test_rooms.py's): the JSON and the plain-text download with Korean and
emoji, edits and deletions, who may read one, and what is refused."""
import json
import re
import unittest
import urllib.error
import urllib.request

import stomp

from chatd_harness import Recorder, disconnect_quietly, password_of
from rooms_client import Api
from test_rooms import ProfileServer

KOREAN = "안녕하세요, 환불 문의입니다 😀"
REPLY = "네, 도와드리겠습니다 🙏\n두 번째 줄"
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


class Raw(Api):
    """The API's answer as bytes with its headers (a transcript in text)."""

    def raw(self, path, accept=None):
        headers = {"Authorization": self.auth}
        if accept:
            headers["Accept"] = accept
        req = urllib.request.Request(self.base + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()


class SupportTranscript(ProfileServer):
    PREFIX = "chatd-transcript-"

    def api(self, user):
        return Raw(self.server.http_port, user)

    def send(self, user, rid, body, receipt):
        conn = stomp.Connection12([("127.0.0.1", self.server.stomp_port)])
        rec = Recorder()
        conn.set_listener("rec", rec)
        conn.connect(user, password_of(user), wait=True)
        self.addCleanup(disconnect_quietly, conn)
        conn.send("/app/rooms/%s/send" % rid, body, headers={"receipt": receipt})
        rec.wait_receipt(receipt)

    def open_support(self, user):
        api = self.api(user)
        status, room = api.post("/api/rooms", {"kind": "support"})
        if status == 200:  # one left open by an earlier test: close it
            api.delete("/api/rooms/" + room["id"])
            status, room = api.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        self.addCleanup(api.delete, "/api/rooms/" + room["id"])
        return room["id"]

    def chat(self):
        """alice's room, claimed by agent1: alice writes in Korean, agent1
        answers on two lines and edits it, alice deletes a mistake; agent1
        completes it. The room id."""
        rid = self.open_support("alice")
        status, _ = self.api("agent1").post("/api/rooms/%s/claim" % rid)
        self.assertEqual(status, 200)
        self.send("alice", rid, KOREAN, "m1")
        self.send("agent1", rid, "draft", "m2")
        self.send("alice", rid, "oops 🙈", "m3")
        status, m = self.api("agent1").patch("/api/rooms/%s/messages/2" % rid, {"body": REPLY})
        self.assertEqual(status, 200, m)
        status, m = self.api("alice").delete("/api/rooms/%s/messages/3" % rid)
        self.assertEqual(status, 200, m)
        status, room = self.api("agent1").post("/api/rooms/%s/complete" % rid)
        self.assertEqual((status, room["state"]), (200, "completed"))
        return rid

    def test_json(self):
        """The room's metadata and every message in order, the edit as its
        latest text with edited_at, the deletion as a tombstone."""
        rid = self.chat()
        for user in ("alice", "agent1", "admin1"):
            status, headers, raw = self.api(user).raw("/api/rooms/%s/transcript" % rid)
            self.assertEqual(status, 200, raw)
            self.assertTrue(headers["Content-Type"].startswith("application/json"))
            doc = json.loads(raw)
            room = doc["room"]
            self.assertEqual((room["id"], room["kind"], room["state"], room["customer"], room["agents"]),
                             (rid, "support", "completed", "alice", ["agent1"]))
            for key in ("created_at", "assigned_at", "completed_at"):
                self.assertIsInstance(room[key], int, key)
            self.assertLessEqual(room["created_at"], room["assigned_at"])
            self.assertLessEqual(room["assigned_at"], room["completed_at"])
            self.assertNotIn("closed_at", room)
            msgs = doc["messages"]
            self.assertEqual([m["seq"] for m in msgs], [1, 2, 3])
            self.assertEqual((msgs[0]["sender"], msgs[0]["body"], msgs[0]["kind"]), ("alice", KOREAN, "text"))
            self.assertEqual((msgs[1]["body"], msgs[1]["rev"] > 0), (REPLY, True))
            self.assertGreaterEqual(msgs[1]["edited_at"], msgs[1]["timestamp"])
            self.assertEqual((msgs[2].get("deleted"), msgs[2]["body"]), (True, ""))
            self.assertFalse(doc["truncated"])

    def test_text(self):
        """?format=text and Accept: text/plain: UTF-8 text, one line per
        message, UTC ISO 8601 times, an attachment named after the room."""
        rid = self.chat()
        by_query = self.api("alice").raw("/api/rooms/%s/transcript?format=text" % rid)
        by_accept = self.api("alice").raw("/api/rooms/%s/transcript" % rid, accept="text/plain")
        for status, headers, raw in (by_query, by_accept):
            self.assertEqual(status, 200, raw)
            self.assertEqual(headers["Content-Type"], "text/plain; charset=utf-8")
            self.assertEqual(headers["Content-Disposition"], 'attachment; filename="chat-%s.txt"' % rid)
            text = raw.decode("utf-8")
            head, body = text.split("\n\n", 1)
            self.assertIn("Chat %s (completed)" % rid, head)
            self.assertIn("Customer: alice", head)
            self.assertIn("Agents: agent1", head)
            self.assertRegex(head, "Created: " + ISO)
            self.assertRegex(head, "Completed: " + ISO)
            lines = body.rstrip("\n").split("\n")
            self.assertEqual(len(lines), 3, lines)
            self.assertRegex(lines[0], "^%s alice: %s$" % (ISO, re.escape(KOREAN)))
            self.assertRegex(lines[1], r"^%s agent1 \(edited %s\): %s$" % (ISO, ISO, re.escape(REPLY.replace("\n", "\\n"))))
            self.assertRegex(lines[2], r"^%s alice: \(message deleted\)$" % ISO)
        self.assertEqual(by_query[2], by_accept[2])
        status, _, raw = self.api("alice").raw("/api/rooms/%s/transcript?format=pdf" % rid)
        self.assertEqual(status, 400, raw)

    def test_closed_room_kept(self):
        """A closed room's transcript stays readable by its customer and agent."""
        rid = self.open_support("bob")
        self.assertEqual(self.api("agent2").post("/api/rooms/%s/claim" % rid)[0], 200)
        self.send("bob", rid, "감사합니다 👍", "b1")
        self.assertEqual(self.api("bob").delete("/api/rooms/" + rid)[0], 200)
        for user in ("bob", "agent2"):
            status, _, raw = self.api(user).raw("/api/rooms/%s/transcript" % rid)
            self.assertEqual(status, 200, raw)
            doc = json.loads(raw)
            self.assertEqual(doc["room"]["state"], "closed")
            self.assertIsInstance(doc["room"]["closed_at"], int)
            self.assertEqual([m["body"] for m in doc["messages"]], ["감사합니다 👍"])

    def test_rights(self):
        """Another customer and an agent who is no member get 404, as for
        the room itself; a room that is no support room 400; no room 404."""
        rid = self.chat()
        for user in ("bob", "agent2"):
            status, _, raw = self.api(user).raw("/api/rooms/%s/transcript" % rid)
            self.assertEqual(status, 404, (user, raw))
            self.assertEqual(json.loads(raw)["error"], "not_found")
        status, group = self.api("alice").post("/api/rooms", {"kind": "group", "title": "팀", "members": ["bob"]})
        self.assertEqual(status, 201, group)
        self.addCleanup(self.api("alice").delete, "/api/rooms/%s?for=everyone" % group["id"])
        status, _, raw = self.api("bob").raw("/api/rooms/%s/transcript" % group["id"])
        self.assertEqual(status, 400, raw)
        status, _, raw = self.api("agent1").raw("/api/rooms/%s/transcript" % group["id"])
        self.assertEqual(status, 404, raw)
        self.assertEqual(self.api("alice").raw("/api/rooms/rnosuchroom/transcript")[0], 404)


if __name__ == "__main__":
    unittest.main()
