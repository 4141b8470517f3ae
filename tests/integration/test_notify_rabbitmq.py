"""notify-rabbitmq against a real RabbitMQ and a real consumer (pika):
one persistent message per offline member and message, routed per
recipient; notifications made while RabbitMQ is down are published once it
is back (docs/notifications.md)."""
import json
import os
import unittest

import pika

from chatd_harness import Chatd, wait_for
from rooms_client import Api, send_message, stomp
from servers import RabbitMQ

EXCHANGE = "chatd.notifications"


class NotifyRabbitMQ(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rabbit = RabbitMQ().start()

    @classmethod
    def tearDownClass(cls):
        cls.rabbit.cleanup()

    def consumer(self, queue):
        """A durable queue bound to every recipient's key, like a push service's."""
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.rabbit.port))
        ch = conn.channel()
        ch.exchange_declare(EXCHANGE, "topic", durable=True)
        ch.queue_declare(queue, durable=True)
        ch.queue_bind(queue, EXCHANGE, "user.*")
        return conn, ch

    def drain(self, queue, n, timeout=30):
        got = []

        def more():
            conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.rabbit.port))
            try:
                ch = conn.channel()
                while True:
                    method, props, body = ch.basic_get(queue, auto_ack=True)
                    if method is None:
                        break
                    got.append((method.routing_key, props, json.loads(body)))
            finally:
                conn.close()
            return len(got) >= n

        wait_for(more, timeout=timeout, what="%d notifications in %s" % (n, queue))
        return got

    def chatd(self):
        def edit(s):
            s["notify.bus"] = {"plugin": "rabbitmq", "port": str(self.rabbit.port)}
            s["notify"] = {"coalesce": "0"}
        srv = Chatd(edit).start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        return srv

    def test_published_persistent_per_recipient_and_after_an_outage(self):
        conn, _ = self.consumer("push")
        conn.close()
        srv = self.chatd()
        api = Api(srv.http_port, "alice")
        rid = api.post("/api/rooms", {"kind": "group", "title": "mq", "members": ["bob", "agent1"]})[1]["id"]
        a = stomp(srv.stomp_port, "alice")
        self.addCleanup(a.close)
        for i in range(2):
            send_message(a, rid, "mq %d" % i, receipt="m%d" % i)
            a.expect("RECEIPT")
        got = self.drain("push", 4)
        self.assertEqual(sorted((k, b["seq"]) for k, _, b in got),
                         [("user.agent1", 1), ("user.agent1", 2), ("user.bob", 1), ("user.bob", 2)])
        for _, props, body in got:
            self.assertEqual(props.delivery_mode, 2)  # persistent
            self.assertEqual(props.content_type, "application/json")
            self.assertEqual(props.message_id, "%s/%s" % (body["message_id"], body["recipient"]))

        # RabbitMQ goes away; the chat goes on; what was notified meanwhile
        # arrives once it is back (the durable queue keeps it for the consumer).
        self.rabbit.stop()
        for i in range(2, 4):
            send_message(a, rid, "mq %d" % i, receipt="m%d" % i)
            a.expect("RECEIPT")
        self.rabbit.start()
        got = self.drain("push", 4)
        self.assertEqual(sorted((k, b["seq"]) for k, _, b in got),
                         [("user.agent1", 3), ("user.agent1", 4), ("user.bob", 3), ("user.bob", 4)])


if __name__ == "__main__":
    unittest.main()
