"""Offline members reach the notify plugins, once per message; members who
watch the room get nothing; connected members get the in-band event."""
import json
import os
import tempfile
import unittest

from chatd_harness import Chatd, PLUGIN_DIR, wait_for
from rooms_client import Api, send_message, stomp, subscribe
from servers import Redis


class Notify(unittest.TestCase):
    def test_offline_member_is_notified_through_the_plugin(self):
        out = tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False)
        out.close()
        self.addCleanup(os.unlink, out.name)

        def edit(s):
            s["notify.file"] = {"plugin": os.path.join(PLUGIN_DIR, "notify_jsonl.so"), "path": out.name}
            s["notify"] = {"coalesce": "0"}  # one per message

        with Chatd(edit) as srv:
            api = Api(srv.http_port, "alice")
            # bob: offline; agent1: subscribed to the room; agent2: online elsewhere.
            rid = api.post("/api/rooms", {"kind": "group", "title": "n",
                                          "members": ["bob", "agent1", "agent2"]})[1]["id"]
            watcher = stomp(srv.stomp_port, "agent1")
            subscribe(watcher, "/topic/rooms/" + rid)
            watcher.expect("RECEIPT")
            online = stomp(srv.stomp_port, "agent2")
            subscribe(online, "/user/queue/notifications")
            online.expect("RECEIPT")
            a = stomp(srv.stomp_port, "alice")
            for i in range(3):
                send_message(a, rid, "ping %d" % i, receipt="p%d" % i)
                a.expect("RECEIPT")
            wait_for(lambda: len(open(out.name).read().splitlines()) >= 3, what="three notifications")
            self.assertEqual(online.expect("MESSAGE").headers["event"], "message")
            for c in (watcher, online, a):
                c.close()
        lines = [json.loads(l) for l in open(out.name).read().splitlines()]
        self.assertEqual([n["recipient"] for n in lines], ["bob"] * 3)  # once per message, bob only
        self.assertEqual([n["seq"] for n in lines], [1, 2, 3])
        self.assertTrue(all(n["room"] == rid and n["sender"] == "alice" for n in lines))
        self.assertEqual(lines[0]["preview"], "ping 0")
        self.assertEqual([n["unread"] for n in lines], [1, 2, 3])  # bob read nothing
        self.assertTrue(all(n["messages"] == 1 and n["room_kind"] == "group" for n in lines))

    def jsonl(self):
        out = tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False)
        out.close()
        self.addCleanup(os.unlink, out.name)
        return out.name

    @staticmethod
    def lines(path):
        with open(path) as f:
            return [json.loads(l) for l in f.read().splitlines()]

    def test_a_burst_is_coalesced_per_window(self):
        out = self.jsonl()

        def edit(s):
            s["notify.file"] = {"plugin": os.path.join(PLUGIN_DIR, "notify_jsonl.so"), "path": out}
            s["notify"] = {"coalesce": "1s"}

        with Chatd(edit) as srv:
            api = Api(srv.http_port, "alice")
            rid = api.post("/api/rooms", {"kind": "group", "title": "burst", "members": ["bob"]})[1]["id"]
            a = stomp(srv.stomp_port, "alice")
            self.addCleanup(a.close)
            for i in range(50):
                send_message(a, rid, "burst %d" % i, receipt="b%d" % i)
            for i in range(50):
                a.expect("RECEIPT")
            # The first at once, the other 49 as one when the window closes.
            wait_for(lambda: len(self.lines(out)) >= 2, what="the window to close")
            first, rest = self.lines(out)
            self.assertEqual((first["seq"], first["messages"]), (1, 1))
            self.assertEqual((rest["seq"], rest["messages"], rest["unread"]), (50, 49, 50))
            self.assertEqual(rest["preview"], "burst 49")
            # 49 were held back.
            wait_for(lambda: "chatd_notifications_coalesced_total 49" in metrics(srv), what="metrics")
        self.assertEqual(len(self.lines(out)), 2)

    def test_policy_direct_and_mentions(self):
        out = self.jsonl()

        def edit(s):
            s["notify.file"] = {"plugin": os.path.join(PLUGIN_DIR, "notify_jsonl.so"), "path": out}
            s["notify"] = {"coalesce": "0", "policy": "direct, mentions", "preview_length": "8"}

        with Chatd(edit) as srv:
            api = Api(srv.http_port, "alice")
            group = api.post("/api/rooms", {"kind": "group", "title": "g", "members": ["bob", "agent1"]})[1]["id"]
            direct = api.post("/api/rooms", {"kind": "direct", "with": "bob"})[1]["id"]
            a = stomp(srv.stomp_port, "alice")
            self.addCleanup(a.close)
            for i, (room, text) in enumerate([(group, "no mention here"), (group, "hey @bobby"),
                                              (group, "@bob: look"), (direct, "abc" + "e\u0301" * 6),
                                              (group, "mail bob@example.org")]):
                send_message(a, room, text, receipt="p%d" % i)
                a.expect("RECEIPT")
            wait_for(lambda: len(self.lines(out)) >= 2, what="two notifications")
        got = [(n["recipient"], n["room"], n["preview"]) for n in self.lines(out)]
        # "@bob" in the group (bob only, not agent1), and the direct message,
        # its preview cut after 8 characters: an e and its combining acute
        # accent count as one and stay together.
        self.assertEqual(got, [("bob", group, "@bob: lo"), ("bob", direct, "abc" + "e\u0301" * 5)])

    def test_mentions_are_looked_for_in_the_text(self):
        """In a JSON message, `text` is what mentions someone (escapes
        decoded), not the other members of the object."""
        out = self.jsonl()

        def edit(s):
            s["notify.file"] = {"plugin": os.path.join(PLUGIN_DIR, "notify_jsonl.so"), "path": out}
            s["notify"] = {"coalesce": "0", "policy": "mentions"}

        with Chatd(edit) as srv:
            api = Api(srv.http_port, "alice")
            group = api.post("/api/rooms", {"kind": "group", "title": "g", "members": ["bob"]})[1]["id"]
            a = stomp(srv.stomp_port, "alice")
            self.addCleanup(a.close)
            for i, body in enumerate(['{"text": "hello", "cc": "@bob"}', '{"text": "\\u0040bob \\uc548\\ub155"}']):
                a.send("SEND", {"destination": "/app/rooms/%s/send" % group, "receipt": "m%d" % i,
                                "content-type": "application/json"}, body)
                a.expect("RECEIPT")
            wait_for(lambda: len(self.lines(out)) >= 1, what="a notification")
        self.assertEqual([(n["seq"], n["preview"]) for n in self.lines(out)], [(2, "@bob 안녕")])

    def test_a_notification_that_cannot_be_published_is_counted(self):
        """With the broker down, the in-band notification of a stored message
        cannot go out: it is logged and counted, not dropped silently."""
        redis = Redis().start()
        self.addCleanup(redis.cleanup)

        def edit(s):
            s["broker"] = {"plugin": "redis", "address": redis.address}

        with Chatd(edit) as srv:
            wait_for(lambda: "chatd_broker_ready 1" in metrics(srv), what="broker ready")
            api = Api(srv.http_port, "alice")
            rid = api.post("/api/rooms", {"kind": "group", "title": "down", "members": ["bob"]})[1]["id"]
            bob = stomp(srv.stomp_port, "bob")  # connected, not in the room
            self.addCleanup(bob.close)
            subscribe(bob, "/user/queue/notifications")
            bob.expect("RECEIPT")
            self.assertIn("chatd_notifications_failed_total 0", metrics(srv))
            redis.kill()
            wait_for(lambda: "chatd_broker_ready 0" in metrics(srv), what="broker seen down")
            a = stomp(srv.stomp_port, "alice")
            self.addCleanup(a.close)
            send_message(a, rid, "안녕하세요 😀", receipt="r")
            a.expect("RECEIPT")  # stored all the same
            wait_for(lambda: "chatd_notifications_failed_total 1" in metrics(srv), what="the failure counted")
            self.assertIn("notification message of room %s for bob dropped" % rid, srv.read_log())


def metrics(srv):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.http_port, timeout=5) as r:
        return r.read().decode()


if __name__ == "__main__":
    unittest.main()
