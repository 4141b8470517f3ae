"""Topics and skills at the support desk (docs/support-desk.md, "Topics and
skills"), with stomp.py and urllib clients: [support] skills gives billy
billing and tessa tech; a customer opens a room about a topic over STOMP
(SEND /app/support/open) or REST, and the routing gives it to the agent
with that skill, not to the next in turn; a room without a topic goes to
anyone; Korean and emoji pass through the routed room; a topic that is
none is refused on both paths. With [support] topic_wait (a server of its
own), a billing room with no billing agent online goes to the tech agent
once it has waited that long, not before, and a reload of the value
applies to a room already waiting. CHATD_PROFILE: sqlite or postgres."""
import json
import os
import shutil
import signal
import tempfile
import unittest
import urllib.request

import stomp

from chatd_harness import Chatd, hash_password, password_of, stomp_session, wait_for
from rooms_client import Api
from servers import PostgreSQL

TEXT = "결제가 두 번 됐어요 😀💳"
REPLY = "확인해 드릴게요 🙏"
AGENTS = {"billy": "billing", "tessa": "tech"}
CUSTOMERS = ["topic%d" % i for i in range(1, 8)]


def start_desk(cls, support, agents=AGENTS, customers=CUSTOMERS):
    """cls.server: a chatd on the CHATD_PROFILE storage with these agents,
    customers and a supervisor, and [support] `support`."""
    cls.data = tempfile.mkdtemp(prefix="chatd-topics-")
    profile = os.environ.get("CHATD_PROFILE", "sqlite")
    cls.pg = PostgreSQL().start() if profile == "postgres" else None

    def edit(s):
        for user in list(agents) + customers + ["boss"]:
            s["auth"]["user.%s.password" % user] = hash_password(password_of(user))
        for user in agents:
            s["auth"]["user.%s.roles" % user] = "agent"
        for user in customers:
            s["auth"]["user.%s.roles" % user] = "user"
        s["auth"]["user.boss.roles"] = "supervisor"
        s["support"] = dict(support, skills="; ".join("%s:%s" % kv for kv in agents.items()))
        if cls.pg:
            s["storage"] = {"plugin": "postgres", "conninfo": cls.pg.conninfo}
        else:
            s["storage"] = {"plugin": "sqlite", "path": os.path.join(cls.data, "chat.db")}

    try:
        cls.server = Chatd(edit).start()
    except Exception:
        if cls.pg:
            cls.pg.cleanup()
        raise


def stop_desk(cls):
    try:
        cls.server.stop()
    finally:
        cls.server.cleanup()
        if cls.pg:
            cls.pg.cleanup()
        shutil.rmtree(cls.data, ignore_errors=True)


class Desk:
    """What the tests below do as customers, agents and the supervisor."""

    def api(self, user):
        return Api(self.server.http_port, user)

    def connect(self, user, *subscriptions):
        return stomp_session(self, self.server.stomp_port, user, *subscriptions)

    def agents_online(self):
        """Both agents connected (their notifications subscribed), as the
        desk sees them, with their skills."""
        got = {}
        for user in AGENTS:
            got[user] = self.connect(user, "/user/queue/notifications")

        def online():
            body = self.api("boss").get("/api/agents")[1]
            return {a["user"]: a for a in body["agents"] if a["status"] == "online"}
        wait_for(lambda: set(AGENTS) <= set(online()), what="both agents online")
        for user, skill in AGENTS.items():
            self.assertEqual(online()[user]["skills"], [skill])
        return got

    def closed_after(self, customer, rid):
        self.addCleanup(self.api(customer).delete, "/api/rooms/" + rid)

    def open_rest(self, customer, topic):
        body = {"kind": "support"}
        if topic is not None:
            body["topic"] = topic
        status, room = self.api(customer).post("/api/rooms", body)
        self.assertEqual(status, 201, room)
        self.assertEqual(room["topic"], topic)
        self.closed_after(customer, room["id"])
        return room["id"]

    def open_stomp(self, customer, topic):
        conn, rec = self.connect(customer)
        headers = {"topic": topic} if topic is not None else {}
        conn.send("/app/support/open", "", headers=headers, receipt="open")
        rec.wait_receipt("open")
        rid = [r for r in rec.receipts if r.headers.get("receipt-id") == "open"][0].headers["room"]
        self.closed_after(customer, rid)
        return rid

    def agent_of(self, customer, rid):
        return self.api(customer).get("/api/rooms/" + rid)[1]["agent"]

    def await_agent(self, customer, rid, agent):
        wait_for(lambda: self.agent_of(customer, rid) == agent, what="%s assigned to %s" % (rid, agent))


class SupportTopics(Desk, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # two chats each at a time: a third billing room waits for billy,
        # far shorter than the hour it would wait before tessa may take it
        start_desk(cls, {"assign": "round_robin", "max_chats_per_agent": "2", "topic_wait": "1h"})

    @classmethod
    def tearDownClass(cls):
        stop_desk(cls)

    def test_rooms_go_to_the_agents_with_their_topic(self):
        """Two billing rooms both go to billy, though tessa is next in turn
        after the first; a tech room to tessa; the queue topic and the
        supervisor's overview show the topic; a customer's Korean and emoji
        reach the billing agent and back."""
        agents = self.agents_online()
        _, queue = self.connect("boss", "/topic/support/queue")
        b1 = self.open_stomp("topic1", "billing")
        self.await_agent("topic1", b1, "billy")
        b2 = self.open_rest("topic2", "billing")
        self.await_agent("topic2", b2, "billy")
        t1 = self.open_stomp("topic3", "tech")
        self.await_agent("topic3", t1, "tessa")
        # billy is at the limit: a third billing room waits for him, and
        # neither tessa (free) takes it nor does it hold up a room without
        # a topic behind it.
        b3 = self.open_rest("topic4", "billing")
        n1 = self.open_rest("topic5", None)
        self.await_agent("topic5", n1, "tessa")
        self.assertIsNone(self.agent_of("topic4", b3))
        overview = self.api("boss").get("/api/support/overview")[1]
        self.assertEqual([(r["id"], r["topic"]) for r in overview["queue"]], [(b3, "billing")])
        self.assertEqual({r["id"]: r["topic"] for r in overview["assigned"]},
                         {b1: "billing", b2: "billing", t1: "tech", n1: None})

        def opened(rid):
            return [json.loads(f.body) for f in queue.messages
                    if f.headers.get("event") == "opened" and f.headers.get("room") == rid]
        queue.wait(lambda: opened(b1) and opened(t1), what="opened events")
        self.assertEqual((opened(b1)[0]["topic"], opened(t1)[0]["topic"]), ("billing", "tech"))

        # Korean and emoji both ways through the routed room.
        billy, billy_rec = agents["billy"]
        billy.subscribe("/topic/rooms/" + b1, id="room", receipt="room")
        billy_rec.wait_receipt("room")
        customer, customer_rec = self.connect("topic1", "/topic/rooms/" + b1)
        customer.send("/app/rooms/%s/send" % b1, TEXT, receipt="m1")
        customer_rec.wait_receipt("m1")

        def bodies(rec):
            return [f.body for f in rec.messages if f.headers.get("event") == "message"]
        billy_rec.wait(lambda: any(TEXT in b for b in bodies(billy_rec)), what="the customer's message")
        billy.send("/app/rooms/%s/send" % b1, REPLY, receipt="m2")
        billy_rec.wait_receipt("m2")
        customer_rec.wait(lambda: any(REPLY in b for b in bodies(customer_rec)), what="the agent's reply")
        page = self.api("topic1").get("/api/rooms/%s/messages?limit=10" % b1)[1]["messages"]
        self.assertEqual([m["body"] for m in page if m["kind"] == "text"][:2], [REPLY, TEXT])

        # billy completes one: the billing room that waited is his now.
        self.assertEqual(self.api("billy").post("/api/rooms/%s/complete" % b1)[0], 200)
        self.await_agent("topic4", b3, "billy")
        # The transcript keeps the topic.
        status, doc = self.api("topic1").get("/api/rooms/%s/transcript" % b1)
        self.assertEqual((status, doc["room"]["topic"]), (200, "billing"))
        self.assertEqual(self.api("topic5").get("/api/rooms/%s/transcript" % n1)[1]["room"]["topic"], None)
        req = urllib.request.Request("http://127.0.0.1:%d/api/rooms/%s/transcript?format=text"
                                     % (self.server.http_port, b1), headers={"Authorization": self.api("topic1").auth})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
        self.assertIn("\nTopic: billing\n", text)
        self.assertIn(TEXT, text)

    def test_a_claim_by_hand_ignores_skills(self):
        rid = self.open_rest("topic6", "billing")
        status, room = self.api("tessa").post("/api/rooms/%s/claim" % rid)
        self.assertEqual((status, room["agent"], room["topic"]), (200, "tessa", "billing"))

    def test_bad_topics_are_refused(self):
        """Not lowercase ASCII letters, digits, '-' and '_', or longer than
        32: an ERROR over STOMP, a 400 over REST, and no room."""
        for i, topic in enumerate(["Billing", "결제", "billing 2", "x" * 33, ""]):
            conn, rec = self.connect("topic7")
            conn.send("/app/support/open", "", headers={"topic": topic}, receipt="bad%d" % i)
            err = rec.wait_error()
            self.assertEqual((err.headers["message"], err.headers.get("receipt-id")), ("invalid topic", "bad%d" % i),
                             topic)
            status, body = self.api("topic7").post("/api/rooms", {"kind": "support", "topic": topic})
            self.assertEqual((status, body["error"]), (400, "bad_request"), topic)
        status, body = self.api("topic7").post("/api/rooms", {"kind": "support", "topic": ["billing"]})
        self.assertEqual(status, 400, body)
        self.assertEqual(self.api("topic7").get("/api/rooms?scope=mine")[1]["rooms"], [])


WAITERS = ["wait%d" % i for i in range(1, 5)]


class TopicWait(Desk, unittest.TestCase):
    """[support] topic_wait: billy (billing) never comes online, tessa
    (tech) is there. The server starts with an hour's wait, and the test
    reloads it with a second one."""

    @classmethod
    def setUpClass(cls):
        start_desk(cls, {"assign": "round_robin", "topic_wait": "1h"}, customers=WAITERS)

    @classmethod
    def tearDownClass(cls):
        stop_desk(cls)

    def reload(self, topic_wait):
        """chat.ini with [support] topic_wait changed, and SIGHUP: awaits
        the line that says it was taken."""
        server = self.server
        server.sections["support"]["topic_wait"] = topic_wait
        server.write_config()
        offset = len(server.read_log())
        server.proc.send_signal(signal.SIGHUP)

        def outcome():
            return [line for line in server.read_log()[offset:].splitlines()
                    if "configuration reloaded" in line or "reload refused" in line]
        lines = wait_for(outcome, what="the reload's outcome in the log")
        self.assertIn("configuration reloaded", lines[0])

    def room(self, customer, rid):
        return self.api(customer).get("/api/rooms/" + rid)[1]

    def added(self, rec, rid):
        """Awaits tessa's room-added for rid."""
        rec.wait(lambda: any(f.headers.get("event") == "room-added" and f.headers.get("room") == rid
                             for f in rec.messages), what="room-added " + rid)

    def test_a_billing_room_goes_to_the_tech_agent_after_the_wait(self):
        tessa, tessa_rec = self.connect("tessa", "/user/queue/notifications")
        wait_for(lambda: any(a["user"] == "tessa" and a["status"] == "online"
                             for a in self.api("boss").get("/api/agents")[1]["agents"]), what="tessa online")
        # An hour's wait: a tech room opened after the billing room goes to
        # tessa, so a pass has listed both; the billing room still waits.
        b1 = self.open_stomp("wait1", "billing")
        t1 = self.open_rest("wait2", "tech")
        self.added(tessa_rec, t1)
        self.assertEqual(self.room("wait2", t1)["agent"], "tessa")
        first = self.room("wait1", b1)
        self.assertEqual((first["state"], first["agent"], first["topic"]), ("unassigned", None, "billing"))

        # A second's wait, taken by a reload: it applies to the room
        # waiting already, which goes to tessa, keeping its topic.
        self.reload("1s")
        self.added(tessa_rec, b1)
        room = self.room("wait1", b1)
        self.assertEqual((room["agent"], room["topic"]), ("tessa", "billing"))
        self.assertGreaterEqual(room["assigned_at"] - room["created_at"], 1000)

        # A room opened now waits its second for billy, not less, then is
        # tessa's too; Korean and emoji reach her through it.
        b2 = self.open_rest("wait3", "billing")
        self.added(tessa_rec, b2)
        room = self.room("wait3", b2)
        self.assertEqual((room["agent"], room["topic"]), ("tessa", "billing"))
        self.assertGreaterEqual(room["assigned_at"] - room["created_at"], 1000)
        tessa.subscribe("/topic/rooms/" + b2, id="b2", receipt="b2")
        tessa_rec.wait_receipt("b2")
        customer, customer_rec = self.connect("wait3")
        customer.send("/app/rooms/%s/send" % b2, TEXT, receipt="m1")
        customer_rec.wait_receipt("m1")
        tessa_rec.wait(lambda: any(f.headers.get("event") == "message" and TEXT in f.body
                                   for f in tessa_rec.messages), what="the customer's message")

if __name__ == "__main__":
    unittest.main()
