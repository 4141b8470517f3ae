"""The support desk (docs/support-desk.md): agents' availability, automatic
assignment of support rooms ([support] assign = round_robin,
max_chats_per_agent = 2), waiting customers. CHATD_PROFILE: sqlite (one
instance) or postgres (postgres storage, redis broker, three instances)."""
import json
import os
import re
import shutil
import tempfile
import threading
import unittest
import urllib.request

from chatd_harness import Chatd, default_sections, hash_password, password_of, wait_for
from rooms_client import Api, send_message, stomp, subscribe
from servers import PostgreSQL, Redis
from test_check_config import check

TEXT = "안녕하세요 😀"
AGENTS = ["desk%d" % i for i in range(1, 10)]
CUSTOMERS = ["cust%d" % i for i in range(1, 18)]
LIMIT = 2


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


class SupportDesk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = tempfile.mkdtemp(prefix="chatd-desk-")
        profile = os.environ.get("CHATD_PROFILE", "sqlite")
        cls.backends = {}
        if profile == "postgres":
            cls.backends = {"pg": PostgreSQL().start(), "redis": Redis().start()}
        count = 3 if profile == "postgres" else 1

        def edit(s):
            for user in AGENTS:
                s["auth"]["user.%s.password" % user] = hash_password(password_of(user))
                s["auth"]["user.%s.roles" % user] = "agent"
            for user in CUSTOMERS:
                s["auth"]["user.%s.password" % user] = hash_password(password_of(user))
                s["auth"]["user.%s.roles" % user] = "user"
            s["support"] = {"assign": "round_robin", "max_chats_per_agent": str(LIMIT)}
            s["server"]["presence_interval"] = "500ms"
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
                [b.cleanup for b in cls.backends.values()]:
            try:
                stop()
            except Exception as e:  # reported below, after the rest is stopped
                errors.append(e)
        shutil.rmtree(cls.data, ignore_errors=True)
        if errors:
            raise errors[0]

    def setUp(self):
        # Each test starts with the desk empty: an agent an earlier test
        # connected is offline on every instance (its session's end may
        # still be on its way), so routing gives this test's rooms only to
        # this test's agents.
        for i in range(len(self.nodes)):
            def idle():
                _, body = self.api("desk1", i).get("/api/agents")
                return all(a["status"] == "offline" for a in body["agents"])
            wait_for(idle, what="every agent offline on instance %d" % i)

    def node(self, i):
        return self.nodes[i % len(self.nodes)]

    def api(self, user, i=0):
        return Api(self.node(i).http_port, user)

    def agent_session(self, user, i=0):
        """An agent connected to instance i, listening to their notifications."""
        c = stomp(self.node(i).stomp_port, user)
        self.addCleanup(c.close)
        subscribe(c, "/user/queue/notifications", sid="n")
        c.expect("RECEIPT")
        return c

    def status_of(self, user, i=0):
        _, body = self.api("desk1", i).get("/api/agents")
        return {a["user"]: a for a in body["agents"]}.get(user, {}).get("status")

    def await_status(self, user, status):
        for i in range(len(self.nodes)):
            wait_for(lambda: self.status_of(user, i) == status, what="%s %s on instance %d" % (user, status, i))

    def open_support(self, customer, i=0):
        api = self.api(customer, i)
        status, room = api.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        self.addCleanup(api.delete, "/api/rooms/" + room["id"])
        return room["id"]

    def room(self, rid, customer, i=0):
        status, room = self.api(customer, i).get("/api/rooms/" + rid)
        self.assertEqual(status, 200, room)
        return room

    def added_rooms(self, c, want, timeout=10):
        """The rooms of `want` room-added notifications (no more arrive
        before the room states say so)."""
        got = []
        while len(got) < want:
            f = c.expect("MESSAGE", timeout=timeout)
            if f.headers.get("event") == "room-added":
                got.append(json.loads(f.body)["id"])
        return got

    # ------------------------------------------------------------ tests

    def test_config_errors_name_file_section_key(self):
        s = default_sections(1, 2)
        s["support"] = {"assign": "randomly"}
        p, path = check(s)
        self.assertNotEqual(p.returncode, 0)
        line = p.stderr.strip()
        self.assertEqual(len(line.splitlines()), 1, p.stderr)
        self.assertTrue(line.startswith(path + ": "), line)
        self.assertIn("[support] assign", line)
        self.assertIn("randomly", line)
        s["support"] = {"assign": "least_busy", "max_chats_per_agent": "-1"}
        p, path = check(s)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("[support] max_chats_per_agent", p.stderr)
        s["support"] = {"assign": "least_busy", "max_chats_per_agent": "3", "topics": "x"}
        p, path = check(s)
        self.assertIn("[support] topics: unknown key", p.stderr)
        s["support"] = {"assign": "least_busy", "skills": "alice:billing; bob:Tech"}
        p, path = check(s)
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(p.stderr.startswith(path + ": [support] skills: "), p.stderr)
        self.assertIn("'Tech'", p.stderr)
        s["support"] = {"assign": "manual", "max_chats_per_agent": "0"}
        p, path = check(s)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_routing_exactly_once_within_limits(self):
        """Customers open rooms on every instance while two agents connect:
        each room goes to one agent once, no agent above the limit; the
        rest waits and goes out as chats complete."""
        agents = AGENTS[0:2]
        customers = CUSTOMERS[0:6]
        rooms, sessions, errors = {}, {}, []

        def open_one(k, customer):
            try:
                status, room = self.api(customer, k).post("/api/rooms", {"kind": "support"})
                assert status == 201, (status, room)
                rooms[customer] = room["id"]
            except Exception as e:  # reported by the main thread
                errors.append(e)

        def connect(k, agent):
            try:
                sessions[agent] = self.agent_session(agent, k)
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=open_one, args=(k, c)) for k, c in enumerate(customers)]
        threads += [threading.Thread(target=connect, args=(k + 1, a)) for k, a in enumerate(agents)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for customer, rid in rooms.items():
            self.addCleanup(self.api(customer).delete, "/api/rooms/" + rid)

        # Two agents, two chats each: four rooms assigned, two waiting. An
        # agent is available from CONNECT on, so a room may be given before
        # their SUBSCRIBE to notifications is in: the rooms' states say who
        # got what, not the room-added frames.
        def states():
            return {rid: self.room(rid, c, 2) for c, rid in rooms.items()}
        wait_for(lambda: sum(r["state"] == "assigned" for r in states().values()) >= 2 * LIMIT,
                 what="four rooms assigned")
        now = states()
        got = {a: sorted(rid for rid, r in now.items() if r["state"] == "assigned" and r["agent"] == a)
               for a in agents}
        assigned = [rid for a in agents for rid in got[a]]
        self.assertEqual(len(set(assigned)), 2 * LIMIT)
        for a in agents:
            for rid in got[a]:
                owner = [c for c, r in rooms.items() if r == rid][0]
                room = self.room(rid, owner, 2)
                self.assertEqual((room["state"], room["agent"]), ("assigned", a))
        waiting = [c for c, r in rooms.items() if r not in assigned]
        self.assertEqual(len(waiting), 2)
        for i in range(len(self.nodes)):
            _, body = self.api("desk1", i).get("/api/agents")
            loads = {x["user"]: x["open_chats"] for x in body["agents"]}
            self.assertEqual([loads[a] for a in agents], [LIMIT, LIMIT])
            self.assertEqual(body["max_chats_per_agent"], LIMIT)

        # The customer and agent talk (Korean and emoji).
        first = got[agents[0]][0]
        owner = [c for c, r in rooms.items() if r == first][0]
        c = stomp(self.node(1).stomp_port, owner)
        self.addCleanup(c.close)
        send_message(c, first, TEXT, receipt="m1")
        self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "m1")

        # agents[0] completes one: one waiting room is theirs, the other waits.
        status, _ = self.api(agents[0], 1).post("/api/rooms/%s/complete" % first)
        self.assertEqual(status, 200)
        more = self.added_rooms(sessions[agents[0]], 1)[0]
        while more in assigned:  # a room-added of the first assignments, read late
            more = self.added_rooms(sessions[agents[0]], 1)[0]
        self.assertIn(more, [rooms[w] for w in waiting])
        still = [rooms[w] for w in waiting if rooms[w] != more][0]
        owner = [c for c, r in rooms.items() if r == still][0]
        self.assertEqual(self.room(still, owner)["state"], "unassigned")
        # The same room was not given twice: no agent heard of it twice.
        for i in range(len(self.nodes)):
            _, body = self.api("desk1", i).get("/api/agents")
            loads = {x["user"]: x["open_chats"] for x in body["agents"]}
            self.assertEqual([loads[a] for a in agents], [LIMIT, LIMIT])

    def test_away_agent_skipped_until_back(self):
        away, online = AGENTS[2], AGENTS[3]
        s_away = self.agent_session(away, 0)
        s_online = self.agent_session(online, 1)
        self.await_status(online, "online")
        status, body = self.api(away, 2).call("PUT", "/api/agents/me/status", {"status": "away"})
        self.assertEqual((status, body), (200, {"user": away, "status": "away"}))
        self.await_status(away, "away")
        r1 = self.open_support(CUSTOMERS[6], 1)
        r2 = self.open_support(CUSTOMERS[7], 2)
        self.assertEqual(sorted(self.added_rooms(s_online, 2)), sorted([r1, r2]))
        # Back: the next room may go to them (round robin after `online`).
        status, body = self.api(away, 1).call("PUT", "/api/agents/me/status", {"status": "online"})
        self.assertEqual((status, body), (200, {"user": away, "status": "online"}))
        self.await_status(away, "online")
        r3 = self.open_support(CUSTOMERS[8], 0)
        self.assertEqual(self.added_rooms(s_away, 1), [r3])
        self.assertEqual(self.room(r3, CUSTOMERS[8], 2)["agent"], away)

    def test_manual_claim_in_automatic_mode(self):
        agent = AGENTS[4]
        session = self.agent_session(agent, 2)
        self.await_status(agent, "online")
        status, _ = self.api(agent).call("PUT", "/api/agents/me/status", {"status": "away"})
        self.assertEqual(status, 200)
        self.await_status(agent, "away")
        rid = self.open_support(CUSTOMERS[9], 1)
        self.assertEqual(self.room(rid, CUSTOMERS[9])["state"], "unassigned")
        status, room = self.api(agent, 0).post("/api/rooms/%s/claim" % rid)
        self.assertEqual((status, room["agent"]), (200, agent))
        # Offline everywhere: no longer away when they come back.
        session.close()
        self.await_status(agent, "offline")
        self.agent_session(agent, 0)
        self.await_status(agent, "online")

    def customer_session(self, user, i=0):
        c = stomp(self.node(i).stomp_port, user)
        self.addCleanup(c.close)
        subscribe(c, "/user/queue/notifications", sid="n")
        c.expect("RECEIPT")
        return c

    def next_event(self, c, event):
        while True:
            f = c.expect("MESSAGE")
            if f.headers.get("event") == event:
                return f

    def test_agents_topic_is_the_servers_and_the_agents(self):
        customer = stomp(self.node(0).stomp_port, CUSTOMERS[11])
        self.addCleanup(customer.close)
        subscribe(customer, "/topic/support/agents", sid="a")
        self.assertEqual(customer.expect("ERROR").headers["message"], "destination not allowed")
        watcher = stomp(self.node(1).stomp_port, AGENTS[5])
        self.addCleanup(watcher.close)
        watcher.send("SEND", {"destination": "/topic/support/agents", "receipt": "s"}, TEXT)
        self.assertIn("message", watcher.expect("ERROR").headers)
        watcher = stomp(self.node(1).stomp_port, AGENTS[5])
        self.addCleanup(watcher.close)
        subscribe(watcher, "/topic/support/agents", sid="a")
        watcher.expect("RECEIPT")
        agent = AGENTS[6]
        s = stomp(self.node(2).stomp_port, agent)
        f = self.next_event(watcher, "agent-status")
        self.assertEqual((f.headers["user"], json.loads(f.body)), (agent, {"user": agent, "status": "online"}))
        self.assertEqual(self.api(agent, 0).call("PUT", "/api/agents/me/status", {"status": "away"})[0], 200)
        f = self.next_event(watcher, "agent-status")
        self.assertEqual(json.loads(f.body), {"user": agent, "status": "away"})
        s.close()
        f = self.next_event(watcher, "agent-status")
        self.assertEqual(json.loads(f.body), {"user": agent, "status": "offline"})

    def test_queue_position_and_estimate(self):
        agent = AGENTS[6]
        session = self.agent_session(agent, 0)
        self.await_status(agent, "online")
        self.assertEqual(self.api(agent).call("PUT", "/api/agents/me/status", {"status": "away"})[0], 200)
        self.await_status(agent, "away")
        who = CUSTOMERS[12:15]
        notes = [self.customer_session(c, k) for k, c in enumerate(who)]
        rooms = [self.open_support(c, k) for k, c in enumerate(who)]
        for k, c in enumerate(notes):
            body = json.loads(self.next_event(c, "queue-position").body)
            self.assertEqual((body["room"], body["position"]), (rooms[k], k + 1))
        # Back: the first two go to the agent (limit 2), the third moves up
        # with an estimate from the waits just seen.
        self.assertEqual(self.api(agent, 1).call("PUT", "/api/agents/me/status", {"status": "online"})[0], 200)
        self.assertEqual(sorted(self.added_rooms(session, 2)), sorted(rooms[:2]))
        body = json.loads(self.next_event(notes[2], "queue-position").body)
        self.assertEqual((body["room"], body["position"]), (rooms[2], 1))
        self.assertGreaterEqual(body["estimated_wait_ms"], 0)
        self.assertEqual(sum(metric(n, "chatd_support_queue_rooms") for n in self.nodes), 1)
        self.assertGreaterEqual(sum(metric(n, "chatd_support_assign_wait_seconds_count") for n in self.nodes), 2)
        # Agents talk to customers in any language.
        f = self.next_event(notes[0], "assigned")
        self.assertEqual(json.loads(f.body)["agent"], agent)
        send_message(session, rooms[0], TEXT, receipt="k")
        self.assertEqual(session.expect("RECEIPT").headers["receipt-id"], "k")

    def test_room_handed_back_to_the_queue_is_routed(self):
        """An agent hands a routed room back to the queue (going away
        first): the routing gives it to the other available agent, on
        whichever instance routes."""
        first, second = AGENTS[7], AGENTS[8]
        s_first = self.agent_session(first, 0)
        self.await_status(first, "online")
        customer = CUSTOMERS[15]
        rid = self.open_support(customer, 1)
        self.assertEqual(self.added_rooms(s_first, 1), [rid])
        s_second = self.agent_session(second, 2)
        self.await_status(second, "online")
        self.assertEqual(self.api(first, 1).call("PUT", "/api/agents/me/status", {"status": "away"})[0], 200)
        self.await_status(first, "away")
        status, room = self.api(first, 2).post("/api/rooms/%s/transfer" % rid, {"to": None, "note": TEXT})
        self.assertEqual(status, 200, room)
        self.assertEqual(self.added_rooms(s_second, 1), [rid])
        room = self.room(rid, customer, 0)
        self.assertEqual((room["state"], room["agent"]), ("assigned", second))
        _, page = self.api(customer, 1).get("/api/rooms/%s/messages" % rid)
        self.assertEqual([(m["kind"], m["sender"]) for m in page["messages"]], [("system", first)])
        self.assertEqual(self.api(first).call("PUT", "/api/agents/me/status", {"status": "online"})[0], 200)

    def test_agents_list_is_for_agents_and_admins(self):
        self.assertEqual(self.api(CUSTOMERS[10]).get("/api/agents")[0], 403)
        self.assertEqual(self.api("admin1").get("/api/agents")[0], 200)
        status, body = self.api(AGENTS[5]).call("PUT", "/api/agents/me/status", {"status": "쉬는 중 😀"})
        self.assertEqual((status, body["error"]), (400, "bad_request"))


if __name__ == "__main__":
    unittest.main()
