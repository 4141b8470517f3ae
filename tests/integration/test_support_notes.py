"""Supervisors and internal notes (docs/support-desk.md, "Supervisors" and
"Internal notes"), with stomp.py clients and REST. CHATD_PROFILE: sqlite
(one instance) or postgres (postgres storage, redis broker, three
instances: the customer, the agent and the supervisor each on their own).

A note an agent or a supervisor writes reaches the desk's readers live and
in their pages, and never the customer: not on the room's topic, not in a
since-seq replay, history, the room's answers, the transcript, search, the
notifications or the webhook."""
import json
import os
import re
import shutil
import tempfile
import unittest
import urllib.parse
import urllib.request

import stomp

from chatd_harness import Chatd, Recorder, disconnect_quietly, hash_password, password_of, wait_for
from rooms_client import Api
from servers import PostgreSQL, Redis
from test_webhook import Receiver

TEXT = "안녕하세요, 환불 문의드려요 😀"
ANSWER = "확인해 보겠습니다 🙏"
NOTE = "내부 메모: VIP 고객, 환불 승인 필요 🔒"
SUPERVISOR_NOTE = "감독자 메모: 2단계로 넘기세요 🧭"
# A word of each note no customer-facing answer may hold.
SECRETS = ("내부 메모", "감독자 메모", "🔒", "🧭")


def healthy(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def metric(node, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % node.http_port, timeout=5) as r:
        m = re.search(r"^%s (\d+)$" % re.escape(name), r.read().decode(), re.M)
        return int(m.group(1)) if m else None


def raw_get(port, user, path):
    """GET as `user`, the body as text (for the plain-text transcript)."""
    api = Api(port, user)
    req = urllib.request.Request(api.base + path, headers={"Authorization": api.auth})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


class SupportNotes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = tempfile.mkdtemp(prefix="chatd-notes-")
        profile = os.environ.get("CHATD_PROFILE", "sqlite")
        cls.backends = {}
        if profile == "postgres":
            cls.backends = {"pg": PostgreSQL().start(), "redis": Redis().start()}
        count = 3 if profile == "postgres" else 1
        cls.hooks = Receiver()

        def edit(s):
            for user, roles in (("sup1", "supervisor"), ("agent3", "agent"), ("cust1", "user")):
                s["auth"]["user.%s.password" % user] = hash_password(password_of(user))
                s["auth"]["user.%s.roles" % user] = roles
            s["server"]["presence_interval"] = "500ms"
            s["notify.push"] = {"plugin": "webhook", "url": cls.hooks.url}
            s["notify"] = {"coalesce": "0"}
            if profile == "postgres":
                s["storage"] = {"plugin": "postgres", "conninfo": cls.backends["pg"].conninfo}
                s["broker"] = {"plugin": "redis", "address": cls.backends["redis"].address}
            else:
                s["storage"] = {"plugin": "sqlite", "path": os.path.join(cls.data, "chat.db")}
                s["broker"] = {"plugin": "simple"}

        cls.nodes = []
        try:
            for _ in range(count):
                cls.nodes.append(Chatd(edit).start())
            for n in cls.nodes:
                wait_for(lambda: healthy(n.http_port), what="instance ready")
                wait_for(lambda: metric(n, "chatd_presence_peers") == count - 1, what="instances to know each other")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        errors = []
        for stop in [n.stop for n in cls.nodes] + [n.cleanup for n in cls.nodes] + \
                [b.cleanup for b in cls.backends.values()] + [cls.hooks.close]:
            try:
                stop()
            except Exception as e:  # reported below, after the rest is stopped
                errors.append(e)
        shutil.rmtree(cls.data, ignore_errors=True)
        if errors:
            raise errors[0]

    # ------------------------------------------------------------ helpers

    # Who is on which instance (all on the one with sqlite).
    CUSTOMER, AGENT, SUPERVISOR = 0, 1, 2

    def node(self, i):
        return self.nodes[i % len(self.nodes)]

    def api(self, user, i=0):
        return Api(self.node(i).http_port, user)

    def connect(self, user, i, *subscriptions):
        """A stomp.py session of `user` on instance i, subscribed to each
        destination (a pair: with headers), RECEIPTs awaited."""
        conn = stomp.Connection12([("127.0.0.1", self.node(i).stomp_port)])
        rec = Recorder()
        conn.set_listener("rec", rec)
        conn.connect(user, password_of(user), wait=True)
        self.addCleanup(disconnect_quietly, conn)
        for n, dest in enumerate(subscriptions):
            dest, headers = dest if isinstance(dest, tuple) else (dest, {})
            conn.subscribe(dest, id="s%d" % n, receipt="sub%d" % n, headers=headers)
            rec.wait_receipt("sub%d" % n)
        return conn, rec

    def event(self, rec, event, pred=None):
        def find():
            return next((f for f in rec.messages if f.headers.get("event") == event and (not pred or pred(f))), None)
        rec.wait(lambda: find() is not None, what=event)
        return find()

    def open_claimed(self, customer, agent="agent1"):
        api = self.api(customer, self.CUSTOMER)
        status, room = api.post("/api/rooms", {"kind": "support"})
        if status == 200:  # one left open by an earlier test: close it
            api.delete("/api/rooms/" + room["id"])
            status, room = api.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        self.addCleanup(api.delete, "/api/rooms/" + room["id"])
        rid = room["id"]
        status, room = self.api(agent, self.AGENT).post("/api/rooms/%s/claim" % rid)
        self.assertEqual((status, room.get("agent")), (200, agent), room)
        return rid

    def assert_no_secret(self, what, text):
        for s in SECRETS:
            self.assertNotIn(s, text, what)

    def online_everywhere(self, user):
        for i in range(len(self.nodes)):
            def seen():
                _, body = self.api("sup1", i).get("/api/agents")
                return any(a["user"] == user and a["status"] == "online" for a in body["agents"])
            wait_for(seen, what="%s online on instance %d" % (user, i))

    # -------------------------------------------------------------- tests

    def test_notes_reach_the_desk_and_never_the_customer(self):
        rid = self.open_claimed("alice")
        notes_topic = "/topic/rooms/%s/notes" % rid
        alice, alice_rec = self.connect("alice", self.CUSTOMER, "/topic/rooms/" + rid, "/user/queue/notifications")
        agent, agent_rec = self.connect("agent1", self.AGENT, "/topic/rooms/" + rid, notes_topic)
        _, sup_rec = self.connect("sup1", self.SUPERVISOR, notes_topic)
        alice.send("/app/rooms/%s/send" % rid, TEXT, headers={"receipt": "m1"})
        alice_rec.wait_receipt("m1")

        # The agent's note over STOMP, the supervisor's over REST.
        agent.send("/app/rooms/%s/notes" % rid, NOTE, headers={"receipt": "n1", "client-id": "note-1"})
        agent_rec.wait_receipt("n1")
        self.assertEqual(agent_rec.errors, [])
        receipt = next(r for r in agent_rec.receipts if r.headers.get("receipt-id") == "n1")
        self.assertEqual(receipt.headers.get("seq"), "1")
        status, posted = self.api("sup1", self.SUPERVISOR).post("/api/rooms/%s/notes" % rid,
                                                               {"body": SUPERVISOR_NOTE})
        self.assertEqual(status, 201, posted)
        self.assertEqual((posted["room"], posted["seq"], posted["sender"], posted["kind"], posted["body"]),
                         (rid, 2, "sup1", "note", SUPERVISOR_NOTE))
        # A retry of the agent's client-id stores nothing new.
        agent.send("/app/rooms/%s/notes" % rid, NOTE, headers={"receipt": "n1b", "client-id": "note-1"})
        agent_rec.wait_receipt("n1b")

        # Live, on every instance, to both readers of the desk: each note once.
        for rec in (agent_rec, sup_rec):
            rec.wait(lambda: len([f for f in rec.messages if f.headers.get("event") == "note"]) >= 2,
                     what="two notes")
            notes = [f for f in rec.messages if f.headers.get("event") == "note"]
            self.assertEqual([(f.headers["seq"], f.headers["sender"], f.headers["kind"], f.headers["room"], f.body)
                              for f in notes],
                             [("1", "agent1", "note", rid, NOTE), ("2", "sup1", "note", rid, SUPERVISOR_NOTE)])

        # The agent answers; the customer gets the answer and nothing else.
        agent.send("/app/rooms/%s/send" % rid, ANSWER, headers={"receipt": "m2"})
        agent_rec.wait_receipt("m2")
        self.event(alice_rec, "message", lambda f: f.body == ANSWER)
        for f in alice_rec.messages:
            self.assert_no_secret(f.headers, f.body)
            self.assertNotEqual(f.headers.get("event"), "note")

        # A replay from the start: the room's messages, no note, dense seqs.
        replay_rec_conn, replay_rec = self.connect("alice", self.CUSTOMER,
                                                   ("/topic/rooms/" + rid, {"since-seq": "0"}))
        replayed = [f for f in replay_rec.messages if f.headers.get("event") == "message"]
        self.assertEqual([(f.headers["seq"], f.body) for f in replayed], [("1", TEXT), ("2", ANSWER)])

        # What the customer reads over REST: history, the room, their rooms,
        # the transcript (JSON and text), search.
        api = self.api("alice", self.CUSTOMER)
        status, page = api.get("/api/rooms/%s/messages" % rid)
        self.assertEqual(status, 200, page)
        self.assertEqual([(m["seq"], m["body"]) for m in reversed(page["messages"])], [(1, TEXT), (2, ANSWER)])
        status, room = api.get("/api/rooms/" + rid)
        self.assertEqual((status, room["last_message"]["body"], room["last_seq"]), (200, ANSWER, 2), room)
        for path in ("/api/rooms/" + rid, "/api/rooms", "/api/rooms/%s/transcript" % rid,
                     "/api/search?q=" + urllib.parse.quote("메모"),
                     "/api/rooms/%s/search?q=%s" % (rid, urllib.parse.quote("메모"))):
            status, body = api.get(path)
            self.assertEqual(status, 200, (path, body))
            self.assert_no_secret(path, json.dumps(body, ensure_ascii=False))
        status, found = api.get("/api/search?q=" + urllib.parse.quote("메모"))
        self.assertEqual(found["messages"], [])
        text = raw_get(self.node(self.CUSTOMER).http_port, "alice", "/api/rooms/%s/transcript?format=text" % rid)
        self.assertIn(ANSWER, text)
        self.assert_no_secret("text transcript", text)

        # The desk reads both notes, newest first, paged with the cursor.
        for user, i in (("agent1", self.AGENT), ("sup1", self.SUPERVISOR)):
            status, page = self.api(user, i).get("/api/rooms/%s/notes?limit=1" % rid)
            self.assertEqual(status, 200, page)
            self.assertEqual([(n["seq"], n["sender"], n["body"], n["kind"]) for n in page["notes"]],
                             [(2, "sup1", SUPERVISOR_NOTE, "note")])
            status, page = self.api(user, i).get("/api/rooms/%s/notes?limit=1&before=%d" % (rid, page["next_before"]))
            self.assertEqual([(n["seq"], n["sender"], n["body"]) for n in page["notes"]], [(1, "agent1", NOTE)])
            self.assertNotIn("next_before", page)
        # since-rev is the room topic's alone.
        bad_conn, bad = self.connect("sup1", self.SUPERVISOR)
        bad_conn.subscribe(notes_topic, id="x", receipt="r", headers={"since-seq": "0", "since-rev": "0"})
        self.assertEqual(bad.wait_error().headers["message"], "invalid since-rev header")
        # A since-seq replay of the notes topic.
        _, sup_replay = self.connect("sup1", self.SUPERVISOR, (notes_topic, {"since-seq": "1"}))
        self.assertEqual([f.body for f in sup_replay.messages if f.headers.get("event") == "note"],
                         [SUPERVISOR_NOTE])

        # Offline now: the customer hears of the agent's next message through
        # the webhook, and of the notes written meanwhile never. (Until every
        # instance knows alice gone, a message may still count as watched:
        # each round writes a note and a message, until the webhook tells
        # alice of one.)
        alice.disconnect()
        replay_rec_conn.disconnect()
        sent = 2
        for k in range(1, 30):
            before = len(self.hooks.requests)
            agent.send("/app/rooms/%s/notes" % rid, "%s (%d)" % (NOTE, k), headers={"receipt": "n-%d" % k})
            agent_rec.wait_receipt("n-%d" % k)
            agent.send("/app/rooms/%s/send" % rid, "%s (%d)" % (ANSWER, k), headers={"receipt": "m-%d" % k})
            agent_rec.wait_receipt("m-%d" % k)
            sent += 1
            try:
                wait_for(lambda: any(json.loads(b).get("recipient") == "alice"
                                     for _, b in self.hooks.requests[before:]), timeout=1.0)
                break
            except AssertionError:
                continue
        told = [json.loads(b) for _, b in self.hooks.requests if json.loads(b).get("recipient") == "alice"]
        self.assertTrue(told, "no webhook POST for alice")
        self.assertEqual(told[-1]["seq"], sent)
        for _, body in self.hooks.requests:
            self.assert_no_secret("webhook", body.decode())
        # Her unread count and last message know nothing of the notes.
        status, room = api.get("/api/rooms/" + rid)
        self.assertEqual((room["last_seq"], room["unread"], room["last_message"]["body"]),
                         (sent, sent - 1, "%s (%d)" % (ANSWER, k)), room)

    def test_only_the_desk_writes_and_reads_notes(self):
        rid = self.open_claimed("bob")
        # The customer: a clear refusal on every path.
        status, body = self.api("bob", self.CUSTOMER).post("/api/rooms/%s/notes" % rid, {"body": NOTE})
        self.assertEqual(status, 403, body)
        self.assertIn("only agents and supervisors", body["message"])
        self.assertEqual(self.api("bob", self.CUSTOMER).get("/api/rooms/%s/notes" % rid)[0], 403)
        bob, rec = self.connect("bob", self.CUSTOMER)
        bob.send("/app/rooms/%s/notes" % rid, NOTE, headers={"receipt": "n1"})
        err = rec.wait_error()
        self.assertEqual(err.headers["message"], "not allowed")
        self.assertIn("only agents and supervisors", err.body)
        bob2, rec2 = self.connect("bob", self.CUSTOMER)
        bob2.subscribe("/topic/rooms/%s/notes" % rid, id="x", receipt="r")
        err = rec2.wait_error()
        self.assertEqual(err.headers["message"], "destination not allowed")
        # An agent who is not in the room (and it is not in the queue): 404.
        status, body = self.api("agent2", self.AGENT).post("/api/rooms/%s/notes" % rid, {"body": NOTE})
        self.assertEqual(status, 404, body)
        # Bad bodies.
        api = self.api("agent1", self.AGENT)
        self.assertEqual(api.post("/api/rooms/%s/notes" % rid, {"body": ""})[0], 400)
        self.assertEqual(api.post("/api/rooms/%s/notes" % rid, {"text": NOTE})[0], 400)
        self.assertEqual(api.post("/api/rooms/%s/notes" % rid, {"body": '{"x": 1}',
                                                                "content_type": "application/json"})[0], 400)
        self.assertEqual(api.post("/api/rooms/%s/notes" % rid, {"body": "x" * 70000})[0], 413)
        # No such room; not a support room.
        self.assertEqual(api.post("/api/rooms/rnosuchroom/notes", {"body": NOTE})[0], 404)
        status, group = self.api("alice", self.CUSTOMER).post("/api/rooms", {"kind": "group", "title": "g",
                                                                              "members": ["agent1"]})
        self.assertEqual(status, 201, group)
        self.assertEqual(api.post("/api/rooms/%s/notes" % group["id"], {"body": NOTE})[0], 404)
        # The notes' companion room is nobody's room.
        self.assertEqual(api.post("/api/rooms/%s/notes" % rid, {"body": NOTE})[0], 201)
        for user in ("bob", "agent1", "sup1"):
            self.assertEqual(self.api(user).get("/api/rooms/%s-notes" % rid)[0], 404, user)
            self.assertEqual(self.api(user).get("/api/rooms/%s-notes/messages" % rid)[0], 404, user)

    def test_supervisor_oversees_and_reassigns(self):
        rid = self.open_claimed("dana")
        sup = self.api("sup1", self.SUPERVISOR)
        _, agent2_rec = self.connect("agent2", self.AGENT, "/user/queue/notifications")
        self.online_everywhere("agent2")
        self.api("dana", self.CUSTOMER)
        # The overview: the room under agent1, the agents with their loads.
        status, view = sup.get("/api/support/overview")
        self.assertEqual(status, 200, view)
        mine = [r for r in view["assigned"] if r["id"] == rid]
        self.assertEqual([(r["agent"], r["state"]) for r in mine], [("agent1", "assigned")])
        agents = {a["user"]: a for a in view["agents"]}
        self.assertGreaterEqual(agents["agent1"]["open_chats"], 1)
        self.assertEqual(agents["agent2"]["status"], "online")
        self.assertIn("queue", view)
        # Agents and customers do not get it.
        self.assertEqual(self.api("agent1", self.AGENT).get("/api/support/overview")[0], 403)
        self.assertEqual(self.api("dana", self.CUSTOMER).get("/api/support/overview")[0], 403)

        # The supervisor reads and watches the room without being in it.
        status, page = sup.get("/api/rooms/%s/messages" % rid)
        self.assertEqual(status, 200, page)
        _, sup_room = self.connect("sup1", self.SUPERVISOR, "/topic/rooms/" + rid)
        dana, dana_rec = self.connect("dana", self.CUSTOMER, "/topic/rooms/" + rid)
        dana.send("/app/rooms/%s/send" % rid, TEXT, headers={"receipt": "m1"})
        dana_rec.wait_receipt("m1")
        self.event(sup_room, "message", lambda f: f.body == TEXT)
        # ... but does not write into it.
        sup_conn, sup_rec = self.connect("sup1", self.SUPERVISOR)
        sup_conn.send("/app/rooms/%s/send" % rid, TEXT, headers={"receipt": "x"})
        self.assertEqual(sup_rec.wait_error().headers["message"], "no such room")

        # A plain agent who does not hold the room may not hand it on.
        status, body = self.api("agent2", self.AGENT).post("/api/rooms/%s/transfer" % rid, {"to": "agent2"})
        self.assertIn(status, (403, 404), body)
        status, body = self.api("agent3", self.AGENT).post("/api/rooms/%s/transfer" % rid, {"to": None})
        self.assertIn(status, (403, 404), body)
        # The supervisor does: to agent2, then back to the queue. agent1's
        # watch of the notes ends with the hand-over.
        _, agent1_notes = self.connect("agent1", self.AGENT, "/topic/rooms/%s/notes" % rid)
        _, sup_notes = self.connect("sup1", self.SUPERVISOR, "/topic/rooms/%s/notes" % rid)
        status, room = sup.post("/api/rooms/%s/transfer" % rid, {"to": "agent2", "note": SUPERVISOR_NOTE})
        self.assertEqual((status, room.get("agent")), (200, "agent2"), room)
        ended = self.event(agent1_notes, "transferred")
        self.assertEqual(ended.headers.get("subscription-ended"), "true")
        self.assertEqual(sup.post("/api/rooms/%s/notes" % rid, {"body": SUPERVISOR_NOTE})[0], 201)
        self.event(sup_notes, "note")
        self.assertEqual(self.api("agent1", self.AGENT).get("/api/rooms/%s/notes" % rid)[0], 404)
        self.assertEqual([f for f in agent1_notes.messages if f.headers.get("event") == "note"], [])
        moved = json.loads(self.event(dana_rec, "transferred").body)
        self.assertEqual(moved, {"room": rid, "from": "agent1", "to": "agent2", "by": "sup1"})
        self.event(agent2_rec, "room-added", lambda f: json.loads(f.body)["id"] == rid)
        status, room = sup.post("/api/rooms/%s/transfer" % rid, {"to": None})
        self.assertEqual((status, room["state"]), (200, "unassigned"), room)
        status, view = sup.get("/api/support/overview")
        self.assertIn(rid, [r["id"] for r in view["queue"]])
        self.assertNotIn(rid, [r["id"] for r in view["assigned"]])
        # Waiting: an agent may not give it away; the supervisor gives it to
        # agent2 (a claim on their behalf: `assigned`, and agent2 told).
        status, body = self.api("agent3", self.AGENT).post("/api/rooms/%s/transfer" % rid, {"to": "agent2"})
        self.assertEqual(status, 409, body)
        added = len([f for f in agent2_rec.messages if f.headers.get("event") == "room-added"])
        status, room = sup.post("/api/rooms/%s/transfer" % rid, {"to": "agent2"})
        self.assertEqual((status, room["state"], room["agent"]), (200, "assigned", "agent2"), room)
        self.event(dana_rec, "assigned", lambda f: json.loads(f.body)["agent"] == "agent2")
        agent2_rec.wait(lambda: len([f for f in agent2_rec.messages if f.headers.get("event") == "room-added"]) > added,
                        what="room-added again")
        self.assertEqual(sup.post("/api/rooms/%s/transfer" % rid, {"to": "agent2"})[0], 400)
        for f in dana_rec.messages:
            self.assert_no_secret(f.headers, f.body)


if __name__ == "__main__":
    unittest.main()
