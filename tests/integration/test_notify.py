"""Offline members reach the notify plugins, once per message; members who
watch the room get nothing; connected members get the in-band event."""
import json
import os
import tempfile
import unittest

from chatd_harness import Chatd, PLUGIN_DIR, wait_for
from rooms_client import Api, send_message, stomp, subscribe


class Notify(unittest.TestCase):
    def test_offline_member_is_notified_through_the_plugin(self):
        out = tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False)
        out.close()
        self.addCleanup(os.unlink, out.name)

        def edit(s):
            s["notify.file"] = {"plugin": os.path.join(PLUGIN_DIR, "notify_jsonl.so"), "path": out.name}

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


if __name__ == "__main__":
    unittest.main()
