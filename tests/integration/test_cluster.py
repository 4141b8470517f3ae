"""Several chatd instances sharing storage (Redis) and a broker (Redis
pub/sub on a Redis server of its own, or RabbitMQ: CHATD_BROKER picks), so
that the broker can fail alone: clients spread over the instances talk,
claim, get notified and catch up as if on one server. CHATD_STORAGE: redis
(default) or mysql (a MariaDB the three instances share)."""
import json
import os
import re
import signal
import threading
import unittest
import urllib.error
import urllib.request

from chatd_harness import Chatd, PLUGIN_DIR, wait_for
from rooms_client import Api, send_message, stomp, subscribe
from servers import KafkaMock, MariaDB, RabbitMQ, Redis

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
        cls.store = (MariaDB if STORAGE == "mysql" else Redis)().start()
        cls.bus = {"rabbitmq": RabbitMQ, "kafka": KafkaMock}.get(BROKER, Redis)().start()
        cls.nodes = []
        for _ in range(3):
            def edit(s):
                s["storage"] = (cls.store.storage() if STORAGE == "mysql"
                                else {"plugin": "redis", "address": cls.store.address})
                s["server"]["presence_interval"] = "500ms"  # a dead peer is forgotten in 1.5 s
                s["support"] = {"first_response_target": "%dms" % SLA_MS}
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
        for stop in [n.stop for n in cls.nodes] + [n.cleanup for n in cls.nodes] + [cls.store.cleanup,
                                                                                    cls.bus.cleanup]:
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
        victim.log.close()
        victim.start()
        wait_for(lambda: healthy(victim.http_port), what="instance back")
        for n in self.nodes:
            wait_for(lambda: self.metric(n, "chatd_presence_peers") == 2, what="peers known again")


if __name__ == "__main__":
    unittest.main()
