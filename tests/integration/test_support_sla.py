"""Service levels of the support desk (docs/support-desk.md, "Service
levels"), with stomp.py clients and REST, on the storage of CHATD_PROFILE
(as test_rooms.py's): with [support] first_response_target = 300ms a
customer left waiting past it is flagged in the agents' lists and one
`sla-breached` event reaches /topic/support/queue; a room answered in time
is not flagged; /metrics counts the desk's waits, answers and chats in its
histograms; a reload changes the target live; a bad value is one line."""
import json
import re
import unittest
import urllib.request

import stomp

from chatd_harness import default_sections, stomp_session, wait_for
from test_check_config import check
from test_reload import Server
from test_rooms import ProfileServer
from rooms_client import Api

TARGET_MS = 300


def metrics_text(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode("utf-8")


def metric(text, name):
    """The value of the sample `name` (with its labels, if any) in text."""
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    assert m, "no %s in /metrics" % name
    return float(m.group(1))


connect = stomp_session  # (test, port, user, *subscriptions)


def breaches(rec, room):
    return [json.loads(f.body) for f in rec.messages
            if f.headers.get("event") == "sla-breached" and f.headers.get("room") == room]


class SupportSla(ProfileServer):
    PREFIX = "chatd-sla-"

    @classmethod
    def edit_config(cls, s):
        s["support"] = {"assign": "manual", "first_response_target": "%dms" % TARGET_MS}

    def open_support(self, user):
        api = self.api(user)
        status, room = api.post("/api/rooms", {"kind": "support"})
        if status == 200:  # one left open by an earlier test: close it
            api.delete("/api/rooms/" + room["id"])
            status, room = api.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        self.addCleanup(api.delete, "/api/rooms/" + room["id"])
        return room

    def listed(self, agent, scope, rid):
        _, body = self.api(agent).get("/api/rooms?scope=" + scope)
        return next((r for r in body["rooms"] if r["id"] == rid), None)

    def say(self, conn, rec, rid, text, receipt):
        conn.send("/app/rooms/%s/send" % rid, text, headers={"receipt": receipt})
        rec.wait_receipt(receipt)

    def test_waiting_room_flagged_once_answered_room_not(self):
        port = self.server.http_port
        before = metrics_text(port)
        _, queue = connect(self, self.server.stomp_port, "agent2", "/topic/support/queue")
        agent, agent_rec = connect(self, self.server.stomp_port, "agent1")
        late = self.open_support("alice")
        quick = self.open_support("bob")
        bob, bob_rec = connect(self, self.server.stomp_port, "bob", "/topic/rooms/" + quick["id"])
        self.say(bob, bob_rec, quick["id"], "도와주세요 🙏", "b1")  # the customer's own: no answer
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/claim" % quick["id"])[0], 200)
        self.say(agent, agent_rec, quick["id"], "안녕하세요, 상담원입니다 😀", "a1")

        # alice waits past the target: flagged, one event on the queue.
        queue.wait(lambda: breaches(queue, late["id"]), what="sla-breached for alice's room")
        told = breaches(queue, late["id"])[0]
        self.assertEqual(told, {"room": late["id"], "customer": "alice", "waiting_since": late["created_at"],
                                "target_ms": TARGET_MS})
        listed = self.listed("agent1", "unassigned", late["id"])
        self.assertEqual((listed["sla_breached"], listed["waiting_since"]), (True, late["created_at"]))
        # The customer never reads the flag.
        _, own = self.api("alice").get("/api/rooms/" + late["id"])
        self.assertNotIn("sla_breached", own)
        self.assertNotIn("waiting_since", own)

        # A room opened later is flagged a target later: by then alice's
        # would have been told again, and bob's room, answered in time, once.
        dana = self.open_support("dana")
        queue.wait(lambda: breaches(queue, dana["id"]), what="sla-breached for dana's room")
        self.assertEqual(len(breaches(queue, late["id"])), 1)
        self.assertEqual(breaches(queue, quick["id"]), [])
        answered = self.listed("agent1", "assigned", quick["id"])
        self.assertNotIn("sla_breached", answered)

        # Answered late: the flag goes.
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/claim" % late["id"])[0], 200)
        self.say(agent, agent_rec, late["id"], "늦어서 죄송합니다 🙇", "a2")
        self.assertNotIn("sla_breached", self.listed("agent1", "assigned", late["id"]))
        self.assertEqual(self.api("agent1").post("/api/rooms/%s/complete" % quick["id"])[0], 200)

        after = metrics_text(port)

        def grew(name):
            return metric(after, name) - metric(before, name)
        self.assertEqual(grew("chatd_support_first_response_breaches_total"), 2)  # alice, dana
        self.assertEqual(grew("chatd_support_first_response_seconds_count"), 2)  # bob, alice
        self.assertEqual(grew('chatd_support_first_response_seconds_bucket{le="+Inf"}'), 2)
        self.assertEqual(grew("chatd_support_wait_seconds_count"), 2)  # two claims
        self.assertEqual(grew("chatd_support_handle_seconds_count"), 1)  # bob's completed
        self.assertGreater(grew("chatd_support_first_response_seconds_sum"), TARGET_MS / 1000.0)
        # alice's room is assigned to agent1 (bob's completed).
        self.assertEqual(metric(after, 'chatd_support_agent_open_chats{agent="agent1"}'), 1)
        self.assertGreaterEqual(metric(after, "chatd_support_first_response_breached_rooms"), 1)  # dana
        self.assertIn("# TYPE chatd_support_handle_seconds histogram", after)

    def test_config_errors_name_the_key(self):
        s = default_sections(1, 2)
        for bad in ("soon", "-1s", "31d", "1x"):
            s["support"] = {"first_response_target": bad}
            p, path = check(s)
            self.assertNotEqual(p.returncode, 0)
            line = p.stderr.strip()
            self.assertEqual(len(line.splitlines()), 1, p.stderr)
            self.assertTrue(line.startswith(path + ": "), line)
            self.assertIn("[support] first_response_target", line)
        for good in ("0", "2m", "300ms", "30s"):
            s["support"] = {"first_response_target": good}
            p, _ = check(s)
            self.assertEqual(p.returncode, 0, p.stderr)


class SupportSlaReload(unittest.TestCase):
    def test_target_changes_live(self):
        """Off at start: a waiting room is not flagged; a reload sets the
        target and the room, waiting longer than it already, is flagged."""
        s = Server(lambda sections: sections.update({"support": {"assign": "manual"}}))
        s.start()
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        _, queue = connect(self, s.stomp_port, "agent1", "/topic/support/queue")
        status, room = Api(s.http_port, "alice").post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        # The queue has heard of it; without a target nothing is flagged.
        queue.wait(lambda: any(f.headers.get("event") == "opened" for f in queue.messages), what="opened")
        _, body = Api(s.http_port, "agent1").get("/api/rooms?scope=unassigned")
        self.assertEqual([r["sla_breached"] for r in body["rooms"]], [False])
        s.sections["support"] = {"assign": "manual", "first_response_target": "200ms"}
        s.write_config()
        s.reload()
        queue.wait(lambda: breaches(queue, room["id"]), what="sla-breached after the reload")
        self.assertEqual(breaches(queue, room["id"])[0]["target_ms"], 200)
        wait_for(lambda: metric(metrics_text(s.http_port), "chatd_support_first_response_breaches_total") == 1,
                 what="the breach counted")


if __name__ == "__main__":
    unittest.main()
