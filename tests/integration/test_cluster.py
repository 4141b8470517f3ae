"""Several chatd instances sharing storage (Redis) and a broker (Redis
pub/sub on a Redis server of its own, or RabbitMQ: CHATD_BROKER picks), so
that the broker can fail alone: clients spread over the instances talk,
claim, get notified and catch up as if on one server; reactions, search,
pushed unread counts, message kinds and replies in since-seq replay, and
attachments (files-postgres, one PostgreSQL the three share) work through
any instance. CHATD_STORAGE: redis (default) or mysql (a MariaDB the three
instances share)."""
import base64
import http.client
import json
import os
import re
import secrets
import signal
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

from chatd_harness import Chatd, PLUGIN_DIR, password_of, wait_for
from rooms_client import Api, send_message, stomp, subscribe
from servers import KafkaMock, MariaDB, PostgreSQL, RabbitMQ, Redis

BROKER = os.environ.get("CHATD_BROKER", "redis")
SLA_MS = 700  # [support] first_response_target
STORAGE = os.environ.get("CHATD_STORAGE", "redis")


def healthy(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False


def next_event(c, event):
    while True:
        f = c.expect("MESSAGE")
        if f.headers.get("event") == event:
            return f


class Cluster(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.store = cls.bus = cls.files = None
        cls.nodes = []
        try:
            cls.start_servers()
        except Exception:  # what started is stopped: nothing outlives the test
            cls.tearDownClass()
            raise

    @classmethod
    def start_servers(cls):
        cls.store = (MariaDB if STORAGE == "mysql" else Redis)().start()
        cls.bus = {"rabbitmq": RabbitMQ, "kafka": KafkaMock}.get(BROKER, Redis)().start()
        cls.files = PostgreSQL().start()  # the attachments' bytes, shared
        for _ in range(3):
            def edit(s):
                s["storage"] = (cls.store.storage() if STORAGE == "mysql"
                                else {"plugin": "redis", "address": cls.store.address})
                s["server"]["presence_interval"] = "500ms"  # a dead peer is forgotten in 1.5 s
                s["support"] = {"first_response_target": "%dms" % SLA_MS}
                s["files"] = {"plugin": "postgres", "conninfo": cls.files.conninfo, "max_size": "2M"}
                s["broker"] = {
                    "rabbitmq": lambda: {"plugin": "rabbitmq", "port": str(cls.bus.port)},
                    # Fetch at once rather than after the default 500 ms.
                    "kafka": lambda: {"plugin": "kafka", "brokers": cls.bus.bootstrap, "kafka.fetch.wait.max.ms": "10"},
                    "redis": lambda: {"plugin": "redis", "address": cls.bus.address},
                }[BROKER]()
            node = Chatd(edit)
            # Offline notifications of each instance go to a file of its own.
            node.notified = os.path.join(node.dir, "notified.jsonl")
            node.sections["notify.file"] = {"plugin": os.path.join(PLUGIN_DIR, "notify_jsonl.so"),
                                            "path": node.notified}
            node.sections["notify"] = {"coalesce": "0"}  # one per message
            node.write_config()
            cls.nodes.append(node.start())
        for n in cls.nodes:
            wait_for(lambda: healthy(n.http_port), what="instance ready")
            wait_for(lambda: cls.metric(n, "chatd_presence_peers") == 2, what="instances to know each other")

    @classmethod
    def tearDownClass(cls):
        # Every server is stopped even when one of them fails to stop cleanly.
        errors = []
        stops = [n.stop for n in cls.nodes] + [n.cleanup for n in cls.nodes]
        stops += [x.cleanup for x in (cls.store, cls.bus) if x]
        if cls.files:
            stops += [cls.files.stop, cls.files.cleanup]
        for stop in stops:
            try:
                stop()
            except Exception as e:  # reported below, after the rest is stopped
                errors.append(e)
        if errors:
            raise errors[0]

    @staticmethod
    def metric(node, name):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % node.http_port, timeout=5) as r:
            m = re.search(r"^%s (\d+)$" % name, r.read().decode(), re.M)
            return int(m.group(1)) if m else None

    def notified(self):
        lines = []
        for n in self.nodes:
            if os.path.exists(n.notified):
                with open(n.notified) as f:
                    lines += [json.loads(l) for l in f.read().splitlines()]
        return lines

    def api(self, node, user):
        return Api(self.nodes[node].http_port, user)

    def stomp(self, node, user):
        c = stomp(self.nodes[node].stomp_port, user)
        self.addCleanup(c.close)
        return c

    def test_support_across_instances(self):
        watcher = self.stomp(2, "agent2")
        subscribe(watcher, "/topic/support/queue")
        watcher.expect("RECEIPT")
        alice = self.api(0, "alice")
        status, room = alice.post("/api/rooms", {"kind": "support"})
        if status == 200:
            alice.delete("/api/rooms/" + room["id"])
            status, room = alice.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201)
        rid = room["id"]
        self.addCleanup(alice.delete, "/api/rooms/" + rid)
        self.assertEqual(next_event(watcher, "opened").headers["room"], rid)

        # Two agents on two other instances race: the storage decides once.
        results = {}
        def claim(name, node):
            results[name] = self.api(node, name).post("/api/rooms/%s/claim" % rid)[0]
        threads = [threading.Thread(target=claim, args=a) for a in (("agent1", 1), ("agent2", 2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results.values()), [200, 409])
        winner = "agent1" if results["agent1"] == 200 else "agent2"
        self.assertEqual(next_event(watcher, "claimed").headers["room"], rid)

        cust, agent = self.stomp(0, "alice"), self.stomp(1, winner)
        for c in (cust, agent):
            subscribe(c, "/topic/rooms/" + rid)
            c.expect("RECEIPT")
        send_message(cust, rid, "hello from instance 0", receipt="c1")
        cust.expect("RECEIPT")
        send_message(agent, rid, "hello from instance 1", receipt="a1")
        agent.expect("RECEIPT")
        for c in (cust, agent):
            # Two instances publish independently: arrival order may differ,
            # seq is the order (docs/scaling.md, "Order").
            got = sorted((next_event(c, "message") for _ in range(2)), key=lambda f: int(f.headers["seq"]))
            self.assertEqual([f.body for f in got], [b"hello from instance 0", b"hello from instance 1"])
            self.assertEqual([int(f.headers["seq"]) for f in got], [1, 2])

    def open_support(self, node, user):
        api = self.api(node, user)
        status, room = api.post("/api/rooms", {"kind": "support"})
        if status == 200:
            api.delete("/api/rooms/" + room["id"])
            status, room = api.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, room)
        self.addCleanup(api.delete, "/api/rooms/" + room["id"])
        return room["id"]

    def test_first_response_target_once_across_instances(self):
        """Rooms opened on instance 0: one left waiting is told once to the
        agents of every instance; one answered on instance 1 in time is not
        told (instance 0 finds the answer in the storage at the deadline)."""
        watchers = []
        for node in (1, 2):
            w = self.stomp(node, "agent2")
            subscribe(w, "/topic/support/queue")
            w.expect("RECEIPT")
            watchers.append(w)
        before = self.metric(self.nodes[0], "chatd_support_first_response_seconds_count")
        breaches = self.metric(self.nodes[0], "chatd_support_first_response_breaches_total")
        waiting = self.open_support(0, "alice")
        answered = self.open_support(0, "bob")
        self.assertEqual(self.api(1, "agent1").post("/api/rooms/%s/claim" % answered)[0], 200)
        # bob watches (on the answering instance): no offline notification.
        bob = self.stomp(1, "bob")
        subscribe(bob, "/topic/rooms/" + answered)
        bob.expect("RECEIPT")
        agent = self.stomp(1, "agent1")
        send_message(agent, answered, "안녕하세요, 1번 인스턴스입니다 😀", receipt="a1")
        agent.expect("RECEIPT")
        # Opened after bob's answer: told after bob's deadline has passed.
        last = self.open_support(0, "dana")
        for w in watchers:
            told = []
            while last not in told:
                told.append(next_event(w, "sla-breached").headers["room"])
            self.assertEqual(told, [waiting, last])
        wait_for(lambda: self.metric(self.nodes[0], "chatd_support_first_response_seconds_count") == before + 1,
                 what="bob's answer counted by instance 0")
        self.assertEqual(self.metric(self.nodes[0], "chatd_support_first_response_breaches_total"), breaches + 2)
        for node in (1, 2):
            self.assertEqual(self.metric(self.nodes[node], "chatd_support_first_response_breaches_total"), 0)
        # Every instance's lists show the flags (the waits are shared), and
        # none shows a wait for the room answered in time.
        def flagged(node):
            _, body = self.api(node, "agent2").get("/api/rooms?scope=unassigned")
            return {r["id"]: r.get("sla_breached") for r in body["rooms"] if r["id"] in (waiting, last, answered)}
        for node in (0, 1, 2):
            wait_for(lambda: flagged(node) == {waiting: True, last: True},
                     what="the flags on instance %d" % node)
            _, room = self.api(node, "agent1").get("/api/rooms/" + answered)
            self.assertNotIn("sla_breached", room)
        # Answered late on instance 2: the flag goes on every instance,
        # the one keeping the wait included.
        self.assertEqual(self.api(2, "agent2").post("/api/rooms/%s/claim" % waiting)[0], 200)
        # alice watches on the instance that stores the answer: in-band, so
        # no offline notification reaches the notify plugin.
        alice = self.stomp(2, "alice")
        subscribe(alice, "/topic/rooms/" + waiting)
        alice.expect("RECEIPT")
        late = self.stomp(2, "agent2")
        send_message(late, waiting, "늦어서 죄송합니다 🙇", receipt="l1")
        late.expect("RECEIPT")
        for node in (0, 1, 2):
            wait_for(lambda: "sla_breached" not in self.api(node, "agent2").get("/api/rooms/" + waiting)[1],
                     what="the flag gone on instance %d" % node)

    def test_removal_ends_subscriptions_on_every_instance(self):
        alice = self.api(0, "alice")
        gid = alice.post("/api/rooms", {"kind": "group", "title": "팀 🚀", "members": ["bob", "agent1"]})[1]["id"]
        # bob on two other instances, agent1 beside one of them.
        bobs, stays = [self.stomp(1, "bob"), self.stomp(2, "bob")], self.stomp(2, "agent1")
        for c in bobs + [stays]:
            subscribe(c, "/topic/rooms/" + gid, sid="g")
            c.expect("RECEIPT")
        self.assertEqual(alice.delete("/api/rooms/%s/members/bob" % gid)[0], 200)
        for c in bobs:
            last = next_event(c, "member-left")
            self.assertEqual((last.headers["user"], last.headers["subscription-ended"]), ("bob", "true"))
        sender = self.stomp(0, "alice")
        send_message(sender, gid, "비밀 🤫", receipt="s")
        sender.expect("RECEIPT")
        self.assertEqual(next_event(stays, "message").body, "비밀 🤫".encode())
        # Once agent1 has it, bob's session beside it would have had it too.
        bobs[1].send("SUBSCRIBE", {"id": "n", "destination": "/user/queue/notifications", "receipt": "fence"})
        bobs[1].expect("RECEIPT")
        self.assertEqual([f.headers.get("event") for f in bobs[1].backlog], [])

    def test_a_deleted_group_ends_subscriptions_on_every_instance(self):
        alice = self.api(0, "alice")
        gid = alice.post("/api/rooms", {"kind": "group", "title": "끝 🏁", "members": ["bob", "agent1"]})[1]["id"]
        self.assertEqual(alice.call("PUT", "/api/rooms/%s/members/agent1/role" % gid, {"role": "admin"})[0], 200)
        watchers = [self.stomp(1, "bob"), self.stomp(2, "bob"), self.stomp(2, "alice"), self.stomp(0, "agent1")]
        for c in watchers:
            subscribe(c, "/topic/rooms/" + gid, sid="g")
            c.expect("RECEIPT")
        # Deleted through an instance none of them is on.
        self.assertEqual(self.api(1, "agent1").delete("/api/rooms/%s?for=everyone" % gid)[0], 200)
        for c in watchers:
            last = next_event(c, "deleted")
            self.assertEqual((last.headers["room"], last.headers["subscription-ended"]), (gid, "true"))
            self.assertEqual(json.loads(last.body), {"room": gid, "by": "agent1"})
        for i in range(3):
            self.assertEqual(self.api(i, "bob").get("/api/rooms/%s/messages" % gid)[0], 404)

    def test_edits_and_deletes_reach_every_instance(self):
        """A message edited through one instance and deleted through another
        (by the group's owner) reaches watchers on all three; concurrent
        edits from two instances each get their own rev, and every instance
        shows the one with the higher rev."""
        # agent1 owns it and watches it everywhere: no offline notification
        # of these messages reaches the notify plugin other tests read.
        gid = self.api(0, "agent1").post("/api/rooms", {"kind": "group", "title": "고침 ✏️",
                                                        "members": ["bob"]})[1]["id"]
        watchers = [self.stomp(i, "agent1") for i in range(3)]
        for c in watchers:
            subscribe(c, "/topic/rooms/" + gid, sid="g")
            c.expect("RECEIPT")
        bob = self.stomp(2, "bob")
        bob.send("SEND", {"destination": "/app/rooms/%s/send" % gid, "receipt": "s1"}, "첫 글 😀")
        bob.expect("RECEIPT")
        bob.send("SEND", {"destination": "/app/rooms/%s/send" % gid, "receipt": "s2"}, "둘째 글")
        bob.expect("RECEIPT")
        bob.send("SEND", {"destination": "/app/rooms/%s/edit" % gid, "receipt": "e1", "message-seq": "1"},
                 "고친 글 ✏️")
        bob.expect("RECEIPT")
        for c in watchers:
            f = next_event(c, "message-edited")
            self.assertEqual((f.headers["seq"], f.headers["rev"], f.body.decode()), ("1", "1", "고친 글 ✏️"))
        self.assertEqual(self.api(1, "agent1").delete("/api/rooms/%s/messages/2" % gid)[0], 200)
        for c in watchers:
            f = next_event(c, "message-deleted")
            self.assertEqual((f.headers["seq"], f.headers["rev"], f.headers["by"]), ("2", "2", "agent1"))
        # Two edits of one message at once, through two instances.
        results = [None, None]

        def edit(i):
            results[i] = self.api(i, "bob").patch("/api/rooms/%s/messages/1" % gid, {"body": "경쟁 %d" % i})

        threads = [threading.Thread(target=edit, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(r[1]["rev"] for r in results), [3, 4])
        winner = max(results, key=lambda r: r[1]["rev"])[1]["body"]
        for i in range(3):
            page = self.api(i, "bob").get("/api/rooms/%s/messages?after=0" % gid)[1]["messages"]
            self.assertEqual([(m["body"], m.get("rev"), m.get("deleted", False)) for m in page],
                             [(winner, 4, False), ("", 2, True)])

    def test_broker_restart_loses_nothing(self):
        alice = self.api(0, "alice")
        status, room = alice.post("/api/rooms", {"kind": "group", "title": "resync", "members": ["bob"]})
        self.assertEqual(status, 201)
        rid = room["id"]
        self.addCleanup(alice.delete, "/api/rooms/" + rid)
        readers = [self.stomp(1, "bob"), self.stomp(2, "bob"), self.stomp(0, "alice")]
        for r in readers:
            subscribe(r, "/topic/rooms/" + rid)
            r.expect("RECEIPT")
        sender = self.stomp(0, "alice")

        def send(lo, hi):
            for i in range(lo, hi):
                send_message(sender, rid, "m%d" % i, receipt="r%d" % i)
            for i in range(lo, hi):
                self.assertEqual(sender.expect("RECEIPT").headers["receipt-id"], "r%d" % i)

        send(0, 30)
        self.bus.kill()
        wait_for(lambda: not any(healthy(n.http_port) for n in self.nodes), what="instances not ready")
        send(30, 60)  # stored; their events have no broker to travel on
        self.bus.start()
        wait_for(lambda: all(healthy(n.http_port) for n in self.nodes), timeout=30, what="instances ready again")
        send(60, 80)
        for r in readers:
            got = [next_event(r, "message") for _ in range(80)]
            self.assertEqual([int(f.headers["seq"]) for f in got], list(range(1, 81)))
            self.assertEqual([f.body for f in got], [b"m%d" % i for i in range(80)])

    def test_notifications_once_across_instances(self):
        alice = self.api(0, "alice")
        status, room = alice.post("/api/rooms", {"kind": "group", "title": "notes",
                                                 "members": ["bob", "agent1", "agent2"]})
        self.assertEqual(status, 201)
        rid = room["id"]
        self.addCleanup(alice.delete, "/api/rooms/" + rid)
        # bob: connected to instance 1, not in the room; agent2: in the room on
        # instance 2; agent1: offline. alice sends on instance 0.
        bob = self.stomp(1, "bob")
        subscribe(bob, "/user/queue/notifications")
        bob.expect("RECEIPT")
        agent2 = self.stomp(2, "agent2")
        subscribe(agent2, "/topic/rooms/" + rid)
        agent2.expect("RECEIPT")
        before = len(self.notified())
        wait_for(lambda: (self.metric(self.nodes[0], "chatd_presence_remote_users"),
                          self.metric(self.nodes[0], "chatd_presence_remote_watches")) == (2, 1),
                 what="instance 0 to see bob and agent2")
        sender = self.stomp(0, "alice")
        for i in range(3):
            send_message(sender, rid, "note %d" % i, receipt="n%d" % i)
            sender.expect("RECEIPT")
        # In-band for bob, on his instance, once per message.
        got = [next_event(bob, "message") for _ in range(3)]
        self.assertEqual([json.loads(f.body)["seq"] for f in got], [1, 2, 3])
        self.assertEqual([next_event(agent2, "message").body for _ in range(3)],
                         [b"note 0", b"note 1", b"note 2"])
        # Through the notify plugin for agent1 only, exactly once per message,
        # by one instance of the three.
        wait_for(lambda: len(self.notified()) - before >= 3, what="three offline notifications")
        lines = self.notified()[before:]
        self.assertEqual(sorted((n["recipient"], n["seq"]) for n in lines),
                         [("agent1", 1), ("agent1", 2), ("agent1", 3)])

    def test_instance_killed_clients_resume_elsewhere(self):
        alice = self.api(0, "alice")
        status, room = alice.post("/api/rooms", {"kind": "group", "title": "failover", "members": ["bob"]})
        rid = room["id"]
        self.addCleanup(alice.delete, "/api/rooms/" + rid)
        # bob reads on instance 2, alice writes on instance 0.
        bob = stomp(self.nodes[2].stomp_port, "bob")
        subscribe(bob, "/topic/rooms/" + rid)
        bob.expect("RECEIPT")
        sender = self.stomp(0, "alice")
        for i in range(10):
            send_message(sender, rid, "f%d" % i, receipt="f%d" % i)
            sender.expect("RECEIPT")
        seen = [int(next_event(bob, "message").headers["seq"]) for _ in range(10)]
        # Instance 2 dies; bob's connection with it.
        victim = self.nodes[2]
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        self.assertTrue(bob.wait_closed())
        bob.close()
        for i in range(10, 20):
            send_message(sender, rid, "f%d" % i, receipt="f%d" % i)
            sender.expect("RECEIPT")
        # bob reconnects to instance 1 and resumes after the last seq he had.
        again = self.stomp(1, "bob")
        subscribe(again, "/topic/rooms/" + rid, **{"since-seq": str(seen[-1])})
        again.expect("RECEIPT")
        for i in range(20, 25):
            send_message(sender, rid, "f%d" % i, receipt="f%d" % i)
            sender.expect("RECEIPT")
        got = [next_event(again, "message") for _ in range(15)]
        self.assertEqual(seen, list(range(1, 11)))
        self.assertEqual([int(f.headers["seq"]) for f in got], list(range(11, 26)))
        self.assertEqual([f.body for f in got], [b"f%d" % i for i in range(10, 25)])
        # The others forget the dead instance; it comes back, as a new one.
        for n in self.nodes[:2]:
            wait_for(lambda: self.metric(n, "chatd_presence_peers") == 1, what="the dead instance forgotten")
        # A customer starts waiting while instance 2 is down, and is flagged
        # before it is back: no more news of that wait would reach it.
        waiting = self.open_support(0, "dana")

        def wait_of(node):
            _, body = self.api(node, "agent2").get("/api/rooms?scope=unassigned")
            return {r["id"]: (r.get("waiting_since"), r.get("sla_breached")) for r in body["rooms"]}.get(waiting)
        wait_for(lambda: wait_of(0)[1] is True, what="the wait flagged on instance 0")
        victim.log.close()
        victim.start()
        wait_for(lambda: healthy(victim.http_port), what="instance back")
        for n in self.nodes:
            wait_for(lambda: self.metric(n, "chatd_presence_peers") == 2, what="peers known again")

        # The instance back asked for the waits it missed: its lists show
        # that wait, flagged, as the instance keeping it does.
        wait_for(lambda: wait_of(2)[0] is not None, what="instance 2 to know the wait begun while it was down")
        self.assertEqual(wait_of(2), wait_of(0))

    # Messaging features through any instance. Every member of these rooms
    # is connected while their messages are sent, and their names sort
    # after test_notifications_once_across_instances: none of them hands an
    # offline notification to the notify plugin that test reads.

    def group(self, node, owner, members, title):
        status, room = self.api(node, owner).post("/api/rooms", {"kind": "group", "title": title,
                                                               "members": members})
        self.assertEqual(status, 201, room)
        return room["id"]

    def watch(self, node, user, *destinations, **headers):
        c = self.stomp(node, user)
        for i, dest in enumerate(destinations):
            subscribe(c, dest, sid="w%d" % i, **headers)
            c.expect("RECEIPT")
        return c

    def send(self, c, rid, body, receipt, **headers):
        h = {"destination": "/app/rooms/%s/send" % rid, "receipt": receipt}
        h.update(headers)
        c.send("SEND", h, body)
        self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], receipt)

    def http(self, node, user, method, path, body=None, headers=None):
        """(status, headers with lower-case names, body bytes)."""
        h = dict(headers or {})
        h["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % (user, password_of(user))).encode()).decode()
        conn = http.client.HTTPConnection("127.0.0.1", self.nodes[node].http_port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def test_reactions_reach_every_instance(self):
        """A reaction added through instance 0 (STOMP) and one through
        instance 2 (REST) reach the room's subscribers on all three live,
        and history read through each instance counts them."""
        thumbs, family = "👍🏽", "👨‍👩‍👧"
        rid = self.group(0, "alice", ["bob", "dana"], "반응 😀")
        watchers = [self.watch(1, "bob", "/topic/rooms/" + rid), self.watch(2, "dana", "/topic/rooms/" + rid),
                    self.watch(0, "bob", "/topic/rooms/" + rid)]
        alice = self.watch(0, "alice", "/topic/rooms/" + rid)
        self.send(alice, rid, "안녕하세요 😀", "m1")
        self.send(alice, rid, "둘째 글", "m2")
        alice.send("SEND", {"destination": "/app/rooms/%s/react" % rid, "receipt": "r1", "message-seq": "1"},
                   thumbs)
        alice.expect("RECEIPT")
        for c in watchers + [alice]:
            e = json.loads(next_event(c, "reaction").body)
            self.assertEqual(e, {"room": rid, "seq": 1, "emoji": thumbs, "user": "alice", "action": "added",
                                 "reactions": [{"emoji": thumbs, "count": 1}]})
        for node, user in ((0, "alice"), (1, "bob"), (2, "dana")):
            page = self.api(node, user).get("/api/rooms/%s/messages?after=0" % rid)[1]["messages"]
            self.assertEqual([m["reactions"] for m in page],
                             [[{"emoji": thumbs, "count": 1, "me": user == "alice"}], []], node)
        # dana reacts through instance 2 over REST: instances 0 and 1 hear it.
        path = "/api/rooms/%s/messages/1/reactions/%s" % (rid, urllib.parse.quote(family, safe=""))
        status, body = self.api(2, "dana").call("PUT", path)
        self.assertEqual(status, 200, body)
        want = sorted([{"emoji": thumbs, "count": 1}, {"emoji": family, "count": 1}],
                      key=lambda r: r["emoji"].encode())
        for c in watchers + [alice]:
            e = json.loads(next_event(c, "reaction").body)
            self.assertEqual((e["user"], e["emoji"], e["action"], e["reactions"]), ("dana", family, "added", want))
        # alice takes hers back through instance 1.
        self.assertEqual(self.api(1, "alice").delete(path.replace(urllib.parse.quote(family, safe=""),
                                                                  urllib.parse.quote(thumbs, safe="")))[0], 200)
        for c in watchers:
            e = json.loads(next_event(c, "reaction").body)
            self.assertEqual((e["user"], e["action"], e["reactions"]),
                             ("alice", "removed", [{"emoji": family, "count": 1}]))
        for node in range(3):
            page = self.api(node, "bob").get("/api/rooms/%s/messages?after=0" % rid)[1]["messages"]
            self.assertEqual(page[0]["reactions"], [{"emoji": family, "count": 1, "me": False}])

    def test_search_through_every_instance(self):
        """A message stored through one instance is found through each of
        the three, by a Korean word inside a sentence and by an emoji; a
        room the caller is not in is never found, and its search is 404."""
        tag = "t" + secrets.token_hex(4)
        mine = self.group(0, "alice", ["bob"], "찾기 🔎")
        theirs = self.group(1, "dana", [], "남의 방")
        self.watch(1, "bob", "/topic/rooms/" + mine)  # every member connected
        alice, dana = self.stomp(0, "alice"), self.stomp(2, "dana")
        self.send(alice, mine, "내일 오후 회의실에서 만나요 🎉 " + tag, "s1")
        self.send(dana, theirs, "비밀 회의실 🎉 " + tag, "s2")

        def found(node, user, q, room=None):
            path = ("/api/rooms/%s/search?" % room if room else "/api/search?") + urllib.parse.urlencode({"q": q})
            status, body = self.api(node, user).get(path)
            self.assertEqual(status, 200, body)
            return [(m["room"], m["seq"]) for m in body["messages"]]

        # Both messages hold the first two; only alice's the others.
        queries = [("회의", True), ("🎉 " + tag, True), ("회의실에서 만나", False), ("오후 회", False),
                   ("요 🎉 " + tag, False)]
        for node in range(3):
            for q, both in queries:
                got = [r for r in found(node, "bob", q) if r[0] in (mine, theirs)]
                self.assertEqual(got, [(mine, 1)], (node, q))
                got = [r for r in found(node, "dana", q) if r[0] in (mine, theirs)]
                self.assertEqual(got, [(theirs, 1)] if both else [], (node, q))
            self.assertEqual(found(node, "alice", "오후 회의", mine), [(mine, 1)])
            status, body = self.api(node, "alice").get("/api/rooms/%s/search?q=%s" % (
                theirs, urllib.parse.quote("회의")))
            self.assertEqual((status, body["error"]), (404, "not_found"), node)

    def test_unread_reaches_every_instance(self):
        """bob's read mark moved through instance 2 (REST) and instance 0
        (STOMP): his sessions on the other instances get `unread`."""
        rid = self.group(0, "alice", ["bob"], "읽음 📖")
        notes = [self.watch(1, "bob", "/user/queue/notifications"),
                 self.watch(2, "bob", "/user/queue/notifications")]
        sender = self.watch(0, "alice", "/topic/rooms/" + rid)
        for i in range(3):
            self.send(sender, rid, "안 읽은 글 %d 😀" % i, "u%d" % i)
        status, body = self.api(2, "bob").post("/api/rooms/%s/read" % rid, {"seq": 2})
        self.assertEqual(status, 200, body)
        for c in notes:
            unread = next_event(c, "unread")
            self.assertEqual((unread.headers["room"], json.loads(unread.body)),
                             (rid, {"room": rid, "read_seq": 2, "unread": 1}))
        wait_for(lambda: json.loads(next_event(sender, "read").body)["user"] == "bob", what="bob's read event")
        bob = self.stomp(0, "bob")
        bob.send("SEND", {"destination": "/app/rooms/%s/read" % rid, "receipt": "rd"}, '{"seq": 3}')
        bob.expect("RECEIPT")
        for c in notes:
            self.assertEqual(json.loads(next_event(c, "unread").body), {"room": rid, "read_seq": 3, "unread": 0})
        for node in range(3):
            rooms = {r["id"]: r for r in self.api(node, "bob").get("/api/rooms")[1]["rooms"]}
            self.assertEqual(rooms[rid]["unread"], 0, node)

    def upload(self, node, user, rid, data, ctype, name):
        status, _, body = self.http(node, user, "POST", "/api/rooms/%s/files?%s" % (
            rid, urllib.parse.urlencode({"name": name})), data, {"Content-Type": ctype})
        self.assertEqual(status, 201, body)
        return json.loads(body)

    def test_since_seq_replay_keeps_kinds_and_replies(self):
        """Messages stored through instance 0 with a content type, a
        reply-to and the file kind are replayed after since-seq through
        instances 1 and 2 with each of them, as live."""
        rid = self.group(0, "alice", ["bob"], "답장 📎")
        live = self.watch(2, "bob", "/topic/rooms/" + rid)
        f = self.upload(0, "alice", rid, "메모 ✍️ 내용".encode(), "text/plain", "메모 ✍️.txt")
        alice = self.stomp(0, "alice")
        self.send(alice, rid, "**안녕하세요** 😀", "k1", **{"content-type": "text/markdown"})
        self.send(alice, rid, "답장입니다 🙏", "k2", **{"reply-to": "1"})
        self.send(alice, rid, json.dumps({"file": f["id"], "text": "파일 보내요 📎"}), "k3",
                  **{"kind": "file", "content-type": "application/json", "reply-to": "2"})
        want = [("text/markdown", "text", None), ("text/plain;charset=utf-8", "text", "1"),
                ("application/json", "file", "2")]

        def seen(frames):
            return [(f.headers.get("content-type"), f.headers.get("kind"), f.headers.get("reply-to"))
                    for f in frames]

        self.assertEqual(seen([next_event(live, "message") for _ in want]), want)
        for node in (1, 2):
            again = self.watch(node, "bob", "/topic/rooms/" + rid, **{"since-seq": "0"})
            got = [next_event(again, "message") for _ in want]
            self.assertEqual([g.headers.get("replay") for g in got], ["true"] * 3, node)
            self.assertEqual(seen(got), want, node)
            self.assertEqual(got[0].body.decode(), "**안녕하세요** 😀")
            body = json.loads(got[2].body)
            self.assertEqual((body["text"], body["file"]["id"], body["file"]["name"]),
                             ("파일 보내요 📎", f["id"], "메모 ✍️.txt"), node)
            # Resumed after the first: the two after it.
            later = self.watch(node, "bob", "/topic/rooms/" + rid, **{"since-seq": "1"})
            self.assertEqual(seen([next_event(later, "message") for _ in want[1:]]), want[1:], node)
            page = self.api(node, "bob").get("/api/rooms/%s/messages?after=0" % rid)[1]["messages"]
            self.assertEqual([(m["content_type"], m["kind"], m["reply_to"]) for m in page],
                             [("text/markdown", "text", None), ("text/plain;charset=utf-8", "text", 1),
                              ("application/json", "file", 2)], node)

    def test_shared_files_through_every_instance(self):
        """A file uploaded through instance 0 is downloaded, whole and by a
        range, through 1 and 2, by members only; the room deleted through 2
        takes it away for all three."""
        rid = self.group(0, "alice", ["bob"], "공유 📁")
        watchers = [self.watch(i, "bob", "/topic/rooms/" + rid) for i in range(3)]
        data = b"".join(("%06d 공유된 글 😀\n" % i).encode() for i in range(40000))  # about 1 MB of text
        f = self.upload(0, "alice", rid, data, "text/plain", "공유 자료 📁.txt")
        self.assertEqual((f["name"], f["size"]), ("공유 자료 📁.txt", len(data)))
        for node in (1, 2):
            status, h, got = self.http(node, "bob", "GET", f["url"])
            self.assertEqual((status, len(got), got == data), (200, len(data), True), node)
            self.assertIn("attachment", h["content-disposition"])
            status, h, got = self.http(node, "bob", "GET", f["url"], headers={"Range": "bytes=500000-500099"})
            self.assertEqual((status, got, h["content-range"]),
                             (206, data[500000:500100], "bytes 500000-500099/%d" % len(data)), node)
            status, h, got = self.http(node, "alice", "GET", f["url"], headers={"Range": "bytes=-10"})
            self.assertEqual((status, got), (206, data[-10:]), node)
            self.assertEqual(self.http(node, "dana", "GET", f["url"])[0], 404, node)
        # Posted as a file message through instance 1: every instance's subscriber has it.
        bob = self.stomp(1, "bob")
        self.send(bob, rid, json.dumps({"file": f["id"]}), "f1", kind="file")
        for c in watchers:
            m = next_event(c, "message")
            self.assertEqual((m.headers["kind"], json.loads(m.body)["file"]["id"]), ("file", f["id"]))
        # Deleted through instance 2: gone for all.
        self.assertEqual(self.api(2, "alice").delete("/api/rooms/%s?for=everyone" % rid)[0], 200)
        for node in range(3):
            wait_for(lambda: self.http(node, "alice", "GET", f["url"])[0] == 404,
                     what="the file gone through instance %d" % node)
            self.assertEqual(self.http(node, "bob", "GET", f["url"], headers={"Range": "bytes=0-9"})[0], 404)


if __name__ == "__main__":
    unittest.main()
