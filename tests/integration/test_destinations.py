"""Destinations the server owns, and headers only the server sets
(docs/protocol.md, "Destinations" and "Frames").

With allow rules as broad as an operator might write, a client still cannot
SEND where chatd publishes its own events (room topics, the support queue,
anyone's notifications), and what it publishes on generic destinations
carries `sender` = the authenticated user and none of the server's event
headers, on this instance and on the others behind the broker."""
import unittest

from chatd_harness import Chatd
from raw_stomp import RawStomp
from rooms_client import Api, send_message, subscribe
from servers import Redis

KOREAN = "안녕하세요 😀"
# Headers a client tries to pass off as the server's.
FORGED = {"sender": "agent1", "event": "message", "seq": "99", "room": "x", "timestamp": "1",
          "trace-id": "forged", "replay": "true"}
SERVER_ONLY = "destination is server-only"


def broad_rules(s):
    s["stomp"] = {
        "allow.topics": "send,subscribe /topic/** user,agent",
        "allow.users": "send,subscribe /user/** user,agent",
        "allow.queues": "send,subscribe /queue/** user,agent",
    }


class ServerDestinations(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Chatd(broad_rules).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def raw(self, user, version="1.2"):
        c = RawStomp(self.server.stomp_port)
        self.addCleanup(c.close)
        c.connect(user, version=version)
        return c

    def api(self, user):
        return Api(self.server.http_port, user)

    def refused(self, user, destination, body=KOREAN):
        """`user` SENDs to a server-owned destination with forged server
        headers: ERROR (with its receipt-id), then the connection closes."""
        c = self.raw(user)
        headers = dict(FORGED, destination=destination, receipt="forged")
        headers["x-note"] = KOREAN
        c.send("SEND", headers, body)
        err = c.expect("ERROR")
        self.assertEqual(err.headers["message"], SERVER_ONLY)
        self.assertEqual(err.headers["receipt-id"], "forged")
        self.assertTrue(c.wait_closed())

    def direct_room(self, user, other):
        status, room = self.api(user).post("/api/rooms", {"kind": "direct", "with": other})
        self.assertIn(status, (200, 201), room)
        return room["id"]

    # -- SEND where the server publishes ----------------------------------
    def test_room_topic_is_server_only_for_members_and_others(self):
        rid = self.direct_room("alice", "agent1")
        agent = self.raw("agent1")
        subscribe(agent, "/topic/rooms/" + rid)
        agent.expect("RECEIPT")
        self.refused("alice", "/topic/rooms/" + rid)  # a member
        self.refused("bob", "/topic/rooms/" + rid)    # not a member
        # The next event the agent sees is the real message: nothing forged
        # was published before it.
        alice = self.raw("alice")
        send_message(alice, rid, KOREAN + " real", receipt="m1")
        self.assertEqual(alice.expect("RECEIPT").headers["receipt-id"], "m1")
        m = agent.expect("MESSAGE")
        self.assertEqual((m.headers["event"], m.headers["seq"], m.headers["sender"], m.body.decode()),
                         ("message", "1", "alice", KOREAN + " real"))

    def test_support_queue_is_server_only(self):
        agent = self.raw("agent1")
        subscribe(agent, "/topic/support/queue")
        agent.expect("RECEIPT")
        self.refused("alice", "/topic/support/queue", '{"room":"fake"}')
        self.refused("agent2", "/topic/support/queue", '{"room":"fake"}')  # agents neither
        # The next queue event is a real one.
        api = self.api("bob")
        status, room = api.post("/api/rooms", {"kind": "support"})
        self.assertIn(status, (200, 201), room)
        self.addCleanup(api.delete, "/api/rooms/" + room["id"])
        m = agent.expect("MESSAGE")
        self.assertEqual((m.headers["event"], m.headers["room"]), ("opened", room["id"]))

    def test_notifications_of_another_user_are_server_only(self):
        agent = self.raw("agent1")
        subscribe(agent, "/user/queue/notifications")
        agent.expect("RECEIPT")
        self.refused("alice", "/user/agent1/queue/notifications", '{"event":"assigned"}')
        self.refused("agent1", "/user/agent1/queue/notifications")  # one's own neither
        rid = self.direct_room("bob", "agent1")
        m = agent.expect("MESSAGE")
        self.assertEqual((m.headers["event"], m.headers["room"]), ("room-added", rid))

class AcrossInstances(unittest.TestCase):
    """Two instances on one Redis broker: what one instance stamps is what
    the other delivers."""

    @classmethod
    def setUpClass(cls):
        cls.bus = Redis().start()
        cls.nodes = []

        def edit(s):
            broad_rules(s)
            s["broker"] = {"plugin": "redis", "address": cls.bus.address}
        for _ in range(2):
            cls.nodes.append(Chatd(edit).start())

    @classmethod
    def tearDownClass(cls):
        try:
            for n in cls.nodes:
                n.stop()
        finally:
            for n in cls.nodes:
                n.cleanup()
            cls.bus.cleanup()

    def raw(self, node, user):
        c = RawStomp(self.nodes[node].stomp_port)
        self.addCleanup(c.close)
        c.connect(user)
        return c

    def test_peer_notifications_are_server_only(self):
        agent = self.raw(1, "agent1")
        subscribe(agent, "/user/queue/notifications")
        agent.expect("RECEIPT")
        alice = self.raw(0, "alice")
        alice.send("SEND", dict(FORGED, destination="/user/agent1/queue/notifications"), "{}")
        self.assertEqual(alice.expect("ERROR").headers["message"], SERVER_ONLY)
        # The next notification the agent sees is a real one.
        status, room = Api(self.nodes[0].http_port, "bob").post("/api/rooms", {"kind": "direct", "with": "agent1"})
        self.assertIn(status, (200, 201), room)
        m = agent.expect("MESSAGE")
        self.assertEqual((m.headers["event"], m.headers["room"]), ("room-added", room["id"]))


if __name__ == "__main__":
    unittest.main()
