"""A customer's rating of their support room (docs/support-desk.md,
"Ratings"), with stomp.py and urllib clients, on the storage of
CHATD_PROFILE (as test_rooms.py's): rated once after completion over REST
or STOMP, Korean and emoji kept, shown in the room and the transcript,
told to the agents, and every refusal."""
import json
import unittest
import urllib.request

import stomp

from chatd_harness import stomp_session
from test_rooms import ProfileServer

COMMENT = "친절한 상담 감사합니다 😀👍"


class SupportRating(ProfileServer):
    PREFIX = "chatd-rating-"

    def connect(self, user, *subscriptions):
        return stomp_session(self, self.server.stomp_port, user, *subscriptions)

    def open_support(self, user):
        api = self.api(user)
        status, room = api.post("/api/rooms", {"kind": "support"})
        if status == 200:  # one left open by an earlier test: close it
            api.delete("/api/rooms/" + room["id"])
            status, room = api.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        self.addCleanup(api.delete, "/api/rooms/" + room["id"])
        return room["id"]

    def completed(self, user, agent="agent1"):
        rid = self.open_support(user)
        self.assertEqual(self.api(agent).post("/api/rooms/%s/claim" % rid)[0], 200)
        self.assertEqual(self.api(agent).post("/api/rooms/%s/complete" % rid)[0], 200)
        return rid

    def rate(self, user, rid, body):
        return self.api(user).post("/api/rooms/%s/rating" % rid, body)

    def test_rated_once_over_rest(self):
        """The customer rates a completed room: the room shows it to the
        customer and its agent, the transcript too, the agents hear of it
        on the queue topic; a second rating is refused."""
        _, queue = self.connect("agent2", "/topic/support/queue")
        rid = self.completed("alice")
        status, room = self.rate("alice", rid, {"rating": 5, "comment": COMMENT})
        self.assertEqual(status, 200, room)
        self.assertEqual((room["rating"]["score"], room["rating"]["comment"]), (5, COMMENT))
        self.assertIsInstance(room["rating"]["rated_at"], int)
        for user in ("alice", "agent1"):
            status, seen = self.api(user).get("/api/rooms/" + rid)
            self.assertEqual((status, seen["rating"]), (200, room["rating"]), user)
        status, doc = self.api("agent1").get("/api/rooms/%s/transcript" % rid)
        self.assertEqual((status, doc["room"]["rating"]), (200, room["rating"]))

        def rated():
            return [f for f in queue.messages if f.headers.get("event") == "rated" and f.headers.get("room") == rid]
        queue.wait(lambda: rated(), what="rated on the queue topic")
        event = json.loads(rated()[0].body)
        self.assertEqual((event["id"], event["rating"]["score"], event["rating"]["comment"]), (rid, 5, COMMENT))

        status, again = self.rate("alice", rid, {"rating": 1, "comment": "다시"})
        self.assertEqual((status, again["error"]), (409, "conflict"), again)
        self.assertEqual(self.api("alice").get("/api/rooms/" + rid)[1]["rating"]["score"], 5)

    def test_rated_over_stomp(self):
        """SEND /app/rooms/{room}/rate: a RECEIPT once stored; a second, an
        early one and a bad body get an ERROR."""
        open_rid = self.open_support("bob")
        conn, rec = self.connect("bob")
        conn.send("/app/rooms/%s/rate" % open_rid, json.dumps({"rating": 3}), receipt="early")
        err = rec.wait_error()
        self.assertEqual((err.headers["message"], err.headers.get("receipt-id")), ("room not rated", "early"))
        self.api("bob").delete("/api/rooms/" + open_rid)
        rid = self.completed("bob", agent="agent2")
        conn, rec = self.connect("bob")
        conn.send("/app/rooms/%s/rate" % rid, json.dumps({"rating": 3, "comment": COMMENT}), receipt="r1")
        rec.wait_receipt("r1")
        seen = self.api("agent2").get("/api/rooms/" + rid)[1]["rating"]
        self.assertEqual((seen["score"], seen["comment"]), (3, COMMENT))
        for receipt, body, message in (("r2", {"rating": 4}, "room not rated"),
                                       ("r3", {"rating": "4"}, "invalid rating"),
                                       ("r4", {"rating": 0}, "invalid rating")):
            conn, rec = self.connect("bob")
            conn.send("/app/rooms/%s/rate" % rid, json.dumps(body), receipt=receipt)
            err = rec.wait_error()
            self.assertEqual((err.headers["message"], err.headers.get("receipt-id")), (message, receipt), body)

    def test_closed_room_and_comment_bounds(self):
        """A closed room is rated too; a comment of exactly 1000 bytes of
        Korean is kept whole, one of 1001 refused; no comment is none."""
        rid = self.open_support("bob")
        self.assertEqual(self.api("bob").delete("/api/rooms/" + rid)[0], 200)
        long = "가" * 333 + "a"  # 1000 bytes
        self.assertEqual(self.rate("bob", rid, {"rating": 2, "comment": long + "b"})[0], 400)
        status, room = self.rate("bob", rid, {"rating": 2, "comment": long})
        self.assertEqual((status, room["state"], room["rating"]["comment"]), (200, "closed", long))
        rid = self.completed("bob")
        status, room = self.rate("bob", rid, {"rating": 1, "comment": None})
        self.assertEqual((status, room["rating"]["score"]), (200, 1))
        self.assertNotIn("comment", room["rating"])

    def test_refusals(self):
        """Bad bodies 400; the agent 403; another customer 404; before
        completion 409; a group 400; the transcript's text shows the rating."""
        rid = self.open_support("alice")
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/claim" % rid)[0], 200)
        self.assertEqual(self.rate("alice", rid, {"rating": 4})[0], 409)
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/complete" % rid)[0], 200)
        for bad in ({}, {"rating": 0}, {"rating": 6}, {"rating": 4.5}, {"rating": "5"}, {"rating": True},
                    {"rating": 5, "comment": 7}, {"rating": 5, "comment": "x" * 1001}, [5]):
            status, body = self.rate("alice", rid, bad)
            self.assertEqual((status, body["error"]), (400, "bad_request"), bad)
        self.assertEqual(self.rate("agent1", rid, {"rating": 5})[0], 403)
        self.assertEqual(self.rate("bob", rid, {"rating": 5})[0], 404)
        self.assertEqual(self.rate("alice", "rnosuchroom", {"rating": 5})[0], 404)
        status, group = self.api("alice").post("/api/rooms", {"kind": "group", "title": "팀", "members": ["bob"]})
        self.assertEqual(status, 201, group)
        self.addCleanup(self.api("alice").delete, "/api/rooms/%s?for=everyone" % group["id"])
        self.assertEqual(self.rate("bob", group["id"], {"rating": 5})[0], 400)
        self.assertEqual(self.rate("alice", rid, {"rating": 4, "comment": "좋아요\n😀"})[0], 200)
        req = urllib.request.Request("http://127.0.0.1:%d/api/rooms/%s/transcript?format=text"
                                     % (self.server.http_port, rid),
                                     headers={"Authorization": self.api("alice").auth})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode("utf-8")
        self.assertIn("Rating: 4/5 좋아요\\n😀\n", text)


if __name__ == "__main__":
    unittest.main()
