"""A broker plugin that reports inside its own operations (reentrant_broker.c):
deliver inside publish, channel_live inside subscribe. SDK 2 allows it; the
host holds the reports until the operation returned, so a SUBSCRIBE gets
its RECEIPT and every event reaches the subscribers once, in order."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from chatd_harness import Chatd  # noqa: E402
from raw_stomp import RawStomp  # noqa: E402
from rooms_client import Api, send_message, subscribe  # noqa: E402

ABI_DIR = os.environ.get("CHATD_ABI_DIR", "build/tests/sdk/plugins")


class ReentrantBroker(unittest.TestCase):
    def setUp(self):
        plugin = os.path.join(ABI_DIR, "sdk_reentrant_broker.so")
        self.assertTrue(os.path.exists(plugin), "not built: " + plugin)

        def edit(s):
            s["broker"] = {"plugin": plugin}
        self.server = Chatd(edit).start()
        self.addCleanup(self.server.cleanup)
        self.addCleanup(self.server.stop)

    def stomp(self, user):
        c = RawStomp(self.server.stomp_port)
        c.connect(user)
        self.addCleanup(c.close)
        return c

    def test_topic_goes_live_and_events_arrive_in_order(self):
        watch, talk = self.stomp("bob"), self.stomp("alice")
        subscribe(watch, "/topic/안녕", sid="t")
        self.assertEqual(watch.expect("RECEIPT").headers["receipt-id"], "sub-t")
        texts = ["안녕하세요 😀 %d" % i for i in range(5)]
        for i, t in enumerate(texts):
            talk.send("SEND", {"destination": "/topic/안녕", "receipt": "s%d" % i}, t)
        for i in range(5):
            self.assertEqual(talk.expect("RECEIPT").headers["receipt-id"], "s%d" % i)
        got = [watch.expect("MESSAGE").body.decode() for _ in texts]
        self.assertEqual(got, texts)

    def test_room_messages_reach_a_subscriber(self):
        alice = Api(self.server.http_port, "alice")
        status, g = alice.post("/api/rooms", {"kind": "group", "title": "되돌이 🔁", "members": ["bob"]})
        self.assertEqual(status, 201, g)
        watch = self.stomp("bob")
        subscribe(watch, "/topic/rooms/" + g["id"], sid="g")
        self.assertEqual(watch.expect("RECEIPT").headers["receipt-id"], "sub-g")
        talk = self.stomp("alice")
        send_message(talk, g["id"], "안녕하세요 😀", receipt="m")
        self.assertEqual(talk.expect("RECEIPT").headers["receipt-id"], "m")
        m = watch.expect("MESSAGE")
        self.assertIn("안녕하세요 😀", m.body.decode())


if __name__ == "__main__":
    unittest.main()
