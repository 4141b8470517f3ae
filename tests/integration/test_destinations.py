"""Destinations the server owns, and headers only the server sets
(docs/protocol.md, "Destinations" and "Frames").

With allow rules as broad as an operator might write, a client still cannot
SEND where chatd publishes its own events (room topics, the support queue,
anyone's notifications), and what it publishes on generic destinations
carries `sender` = the authenticated user and none of the server's event
headers, on this instance and on the others behind the broker."""
import time
import unittest

import stomp

from chatd_harness import Chatd, Recorder, password_of
from raw_stomp import RawStomp
from rooms_client import Api, send_message, subscribe
from servers import Redis
from stomp_ws import WSConnection12

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


def raw_frame(c, timeout=10):
    """The next frame's command and header lines exactly as sent (repeats
    kept), and its body: RawStomp keeps only the first of a repeated
    header, and a check for injected header lines needs them all."""
    deadline = time.monotonic() + timeout
    while True:
        c.buf = c.buf.lstrip(b"\r\n")  # heart-beats
        end = c.buf.find(b"\n\n")
        if end >= 0:
            head = c.buf[:end].decode().split("\n")
            length = [int(l.split(":", 1)[1]) for l in head if l.startswith("content-length:")]
            start = end + 2
            stop = start + length[0] if length else c.buf.find(b"\0", start)
            if stop >= start and len(c.buf) > stop:
                body = c.buf[start:stop]
                c.buf = c.buf[stop + 1:]
                return head[0], head[1:], body
        if not c._fill(deadline):
            raise AssertionError("no frame within %ss" % timeout)


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

    def test_other_user_queues_stay_open(self):
        """Only /queue/notifications of a user is the server's."""
        bob = self.raw("bob")
        subscribe(bob, "/user/queue/inbox")
        bob.expect("RECEIPT")
        alice = self.raw("alice")
        alice.send("SEND", {"destination": "/user/bob/queue/inbox", "receipt": "s"}, KOREAN)
        alice.expect("RECEIPT")
        m = bob.expect("MESSAGE")
        self.assertEqual((m.headers["sender"], m.body.decode()), ("alice", KOREAN))

    # -- headers the server stamps ----------------------------------------
    def test_forged_server_headers_are_replaced_on_generic_destinations(self):
        url = "ws://127.0.0.1:%d/ws" % self.server.http_port
        bob = WSConnection12(url, origin="http://localhost:%d" % self.server.http_port)
        bob_rec = Recorder()
        bob.set_listener("r", bob_rec)
        bob.connect("bob", password_of("bob"), wait=True)
        self.addCleanup(lambda: bob.is_connected() and bob.disconnect())
        dests = ["/topic/lobby.forged", "/queue/forged", "/user/bob/queue/forged"]
        for i, d in enumerate(dests):
            bob.subscribe("/user/queue/forged" if d.startswith("/user/") else d, id=str(i), receipt="s%d" % i)
            bob_rec.wait_receipt("s%d" % i)
        alice = stomp.Connection12([("127.0.0.1", self.server.stomp_port)])
        alice_rec = Recorder()
        alice.set_listener("r", alice_rec)
        alice.connect("alice", password_of("alice"), wait=True)
        self.addCleanup(lambda: alice.is_connected() and alice.disconnect())
        for i, d in enumerate(dests):
            alice.send(d, "%s %d" % (KOREAN, i), headers=dict(FORGED, **{"x-note": KOREAN, "receipt": "p%d" % i}))
            alice_rec.wait_receipt("p%d" % i)
        bob_rec.wait_messages(len(dests))
        self.assertEqual(alice_rec.errors, [])
        for m in bob_rec.messages:
            i = int(m.headers["subscription"])
            with self.subTest(destination=dests[i]):
                self.assertEqual(m.headers["sender"], "alice")
                self.assertEqual(m.headers["destination"], dests[i])
                self.assertEqual(m.headers["x-note"], KOREAN)
                self.assertEqual(m.body, "%s %d" % (KOREAN, i))
                for name in FORGED:
                    if name != "sender":
                        self.assertNotIn(name, m.headers)

    def test_stomp_10_subscriber_gets_no_injected_header_lines(self):
        """STOMP 1.0 cannot escape a newline in a header value: such a
        header is left out for a 1.0 subscriber rather than becoming a
        header line of its own."""
        bob = self.raw("bob", version="1.0")
        bob.send("SUBSCRIBE", {"destination": "/topic/inject", "receipt": "s"})
        bob.expect("RECEIPT")
        alice = self.raw("alice")
        # 1.2 escapes: the value is "a<LF>sender:agent1<LF>event:message".
        alice.send("SEND", {"destination": "/topic/inject", "x-note": "a\\nsender\\cagent1\\nevent\\cmessage",
                            "x-ok": KOREAN, "receipt": "p"}, KOREAN)
        alice.expect("RECEIPT")
        command, lines, body = raw_frame(bob)
        self.assertEqual(command, "MESSAGE")
        self.assertEqual([l for l in lines if l.startswith("sender:")], ["sender:alice"])
        self.assertFalse([l for l in lines if l.startswith(("event:", "x-note:"))], lines)
        self.assertIn("x-ok:" + KOREAN, lines)
        self.assertEqual(body.decode(), KOREAN)


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

    def test_peer_delivers_the_publishers_stamp(self):
        bob = self.raw(1, "bob")
        subscribe(bob, "/topic/peer.forged")
        bob.expect("RECEIPT")
        alice = self.raw(0, "alice")
        # The RECEIPT of a SUBSCRIBE means the broker routes the channel.
        alice.send("SEND", dict(FORGED, **{"destination": "/topic/peer.forged", "x-note": KOREAN, "receipt": "p"}),
                   KOREAN)
        alice.expect("RECEIPT")
        m = bob.expect("MESSAGE")
        self.assertEqual(m.command, "MESSAGE")
        self.assertEqual(m.headers["sender"], "alice")
        self.assertEqual(m.headers["x-note"], KOREAN)
        self.assertEqual(m.body.decode(), KOREAN)
        for name in FORGED:
            if name != "sender":
                self.assertNotIn(name, m.headers)

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
