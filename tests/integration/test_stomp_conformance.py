"""STOMP 1.0/1.1/1.2 as the spec and docs/protocol.md say: versions, ack
modes, queues, transactions, heart-beats, /user/queue, access rules."""
import time
import unittest

import stomp

from chatd_harness import Chatd, OneServer, Recorder, password_of, wait_for
from raw_stomp import RawStomp
from stomp_ws import WSConnection12


class Conformance(OneServer):
    @staticmethod
    def edit(s):
        s["stomp"]["heartbeat_send"] = "200ms"
        s["stomp"]["heartbeat_receive"] = "200ms"
        # One-segment topics for everyone (and the version test's v1.x);
        # /topic/agents.* for agents only.
        s["stomp"]["allow.topics"] = "send,subscribe /topic/* user,agent"
        s["stomp"]["allow.versions"] = "send,subscribe /topic/v*.* user,agent"
        s["stomp"]["allow.restricted"] = "subscribe /topic/agents.* agent"

    # -- versions, with stomp.py's own protocol classes --------------------
    def test_each_version_with_stomp_py(self):
        for cls, version in ((stomp.Connection10, "1.0"), (stomp.Connection11, "1.1"),
                             (stomp.Connection12, "1.2")):
            with self.subTest(version=version):
                conn = cls([("127.0.0.1", self.server.stomp_port)])
                rec = Recorder()
                conn.set_listener("r", rec)
                conn.connect("alice", password_of("alice"), wait=True)
                dest = "/topic/v" + version
                if version == "1.0":
                    conn.subscribe(dest, ack="auto", headers={"receipt": "s"})
                else:
                    conn.subscribe(dest, id="1", ack="auto", headers={"receipt": "s"})
                rec.wait_receipt("s")
                conn.send(dest, "body with: colon\nand newline", headers={"k": "a:b"})
                rec.wait_messages(1)
                self.assertEqual(rec.messages[0].body, "body with: colon\nand newline")
                self.assertEqual(rec.messages[0].headers["k"], "a:b")
                conn.disconnect()

    def test_version_negotiation(self):
        c = self.raw()
        f = c.connect("bob", version="1.0,1.1")
        self.assertEqual(f.headers["version"], "1.1")
        self.assertEqual(f.headers["user-name"], "bob")
        self.assertTrue(f.headers["session"])
        self.assertTrue(f.headers["server"].startswith("chatd/"))
        c2 = self.raw()
        c2.send("CONNECT", {"accept-version": "2.0", "host": "x", "login": "bob", "passcode": password_of("bob")})
        err = c2.expect("ERROR")
        self.assertEqual(err.headers["message"], "unsupported STOMP version")
        self.assertEqual(err.headers["version"], "1.0,1.1,1.2")
        self.assertTrue(c2.wait_closed())

    def test_stomp_command_connects(self):
        c = self.raw()
        c.send("STOMP", {"accept-version": "1.2", "host": "x", "login": "bob", "passcode": password_of("bob")})
        c.expect("CONNECTED")

    # -- acknowledgement --------------------------------------------------
    def test_client_individual_ack_and_nack_redelivery_on_queue(self):
        a = self.raw("alice")
        a.send("SUBSCRIBE", {"id": "q", "destination": "/queue/jobs.ind", "ack": "client-individual",
                             "receipt": "r"})
        a.expect("RECEIPT")
        p = self.raw("bob")
        for i in range(3):
            p.send("SEND", {"destination": "/queue/jobs.ind"}, "job%d" % i)
        msgs = [a.expect("MESSAGE") for _ in range(3)]
        self.assertEqual([m.body for m in msgs], [b"job0", b"job1", b"job2"])
        self.assertTrue(all("ack" in m.headers for m in msgs))
        a.send("ACK", {"id": msgs[0].headers["ack"]})
        a.send("NACK", {"id": msgs[1].headers["ack"]})
        again = a.expect("MESSAGE")
        self.assertEqual(again.body, b"job1")
        self.assertEqual(again.headers.get("redelivered"), "true")
        # Acking an id twice is an error.
        a.send("ACK", {"id": msgs[0].headers["ack"], "receipt": "twice"})
        err = a.expect("ERROR")
        self.assertEqual(err.headers["message"], "unknown message to acknowledge")
        self.assertEqual(err.headers["receipt-id"], "twice")

    def test_client_ack_is_cumulative(self):
        a = self.raw("alice")
        a.send("SUBSCRIBE", {"id": "c", "destination": "/queue/jobs.cum", "ack": "client", "receipt": "r"})
        a.expect("RECEIPT")
        p = self.raw("bob")
        for i in range(3):
            p.send("SEND", {"destination": "/queue/jobs.cum"}, "m%d" % i)
        msgs = [a.expect("MESSAGE") for _ in range(3)]
        a.send("ACK", {"id": msgs[1].headers["ack"], "receipt": "acked"})
        a.expect("RECEIPT")
        # m0 went with m1; only m2 is still unacknowledged.
        a.send("ACK", {"id": msgs[0].headers["ack"], "receipt": "x"})
        self.assertEqual(a.expect("ERROR").headers["message"], "unknown message to acknowledge")

    def test_queue_round_robin_and_redelivery_when_subscriber_leaves(self):
        a, b = self.raw("alice"), self.raw("bob")
        for c, name in ((a, "a"), (b, "b")):
            c.send("SUBSCRIBE", {"id": name, "destination": "/queue/jobs.rr", "ack": "client-individual",
                                 "receipt": "r"})
            c.expect("RECEIPT")
        p = self.raw("agent1")
        for i in range(4):
            p.send("SEND", {"destination": "/queue/jobs.rr"}, "j%d" % i)
        got_a = [a.expect("MESSAGE").body for _ in range(2)]
        got_b = [b.expect("MESSAGE").body for _ in range(2)]
        self.assertEqual(sorted(got_a + got_b), [b"j0", b"j1", b"j2", b"j3"])
        # a leaves without acking: its two messages go to b, marked redelivered.
        a.close()
        again = [b.expect("MESSAGE") for _ in range(2)]
        self.assertEqual(sorted(m.body for m in again), sorted(got_a))
        self.assertTrue(all(m.headers.get("redelivered") == "true" for m in again))

    def test_queue_holds_messages_until_a_subscriber_comes(self):
        p = self.raw("bob")
        p.send("SEND", {"destination": "/queue/jobs.later", "receipt": "sent"}, "waiting")
        p.expect("RECEIPT")
        a = self.raw("alice")
        a.send("SUBSCRIBE", {"id": "1", "destination": "/queue/jobs.later"})
        self.assertEqual(a.expect("MESSAGE").body, b"waiting")

    def test_version_11_acks_by_message_id(self):
        a = self.raw("alice", version="1.1")
        a.send("SUBSCRIBE", {"id": "s", "destination": "/queue/jobs.v11", "ack": "client-individual"})
        p = self.raw("bob")
        p.send("SEND", {"destination": "/queue/jobs.v11"}, "x")
        m = a.expect("MESSAGE")
        self.assertNotIn("ack", m.headers)
        a.send("ACK", {"message-id": m.headers["message-id"], "subscription": "s", "receipt": "ok"})
        a.expect("RECEIPT")

    # -- transactions -----------------------------------------------------
    def test_transaction_commit_abort_and_disconnect(self):
        sub = self.raw("alice")
        sub.send("SUBSCRIBE", {"id": "t", "destination": "/topic/tx", "receipt": "r"})
        sub.expect("RECEIPT")
        p = self.raw("bob")
        p.send("BEGIN", {"transaction": "t1"})
        p.send("SEND", {"destination": "/topic/tx", "transaction": "t1"}, "in-t1")
        p.send("BEGIN", {"transaction": "t2"})
        p.send("SEND", {"destination": "/topic/tx", "transaction": "t2"}, "in-t2")
        p.send("ABORT", {"transaction": "t2"})
        p.send("SEND", {"destination": "/topic/tx"}, "outside")
        p.send("COMMIT", {"transaction": "t1", "receipt": "c"})
        p.expect("RECEIPT")
        self.assertEqual(sub.expect("MESSAGE").body, b"outside")
        self.assertEqual(sub.expect("MESSAGE").body, b"in-t1")
        # A transaction left open at disconnect vanishes.
        p.send("BEGIN", {"transaction": "t3"})
        p.send("SEND", {"destination": "/topic/tx", "transaction": "t3"}, "never")
        p.send("DISCONNECT", {"receipt": "bye"})
        p.expect("RECEIPT")
        marker = self.raw("bob")
        marker.send("SEND", {"destination": "/topic/tx"}, "marker")
        self.assertEqual(sub.expect("MESSAGE").body, b"marker")

    def test_transaction_errors(self):
        c = self.raw("bob")
        c.send("COMMIT", {"transaction": "nope"})
        self.assertEqual(c.expect("ERROR").headers["message"], "unknown transaction")
        c = self.raw("bob")
        c.send("BEGIN", {"transaction": "a"})
        c.send("BEGIN", {"transaction": "a"})
        self.assertEqual(c.expect("ERROR").headers["message"], "transaction already begun")
        c = self.raw("bob")
        c.send("SEND", {"destination": "/topic/x", "transaction": "ghost"}, "x")
        self.assertEqual(c.expect("ERROR").headers["message"], "unknown transaction")

    def test_transactional_ack(self):
        a = self.raw("alice")
        a.send("SUBSCRIBE", {"id": "q", "destination": "/queue/jobs.txack", "ack": "client-individual"})
        p = self.raw("bob")
        p.send("SEND", {"destination": "/queue/jobs.txack"}, "one")
        m = a.expect("MESSAGE")
        a.send("BEGIN", {"transaction": "t"})
        a.send("NACK", {"id": m.headers["ack"], "transaction": "t"})
        a.send("ABORT", {"transaction": "t", "receipt": "aborted"})
        a.expect("RECEIPT")  # the NACK vanished: no redelivery
        a.send("BEGIN", {"transaction": "t"})
        a.send("NACK", {"id": m.headers["ack"], "transaction": "t"})
        a.send("COMMIT", {"transaction": "t"})
        again = a.expect("MESSAGE")
        self.assertEqual((again.body, again.headers.get("redelivered")), (b"one", "true"))

    # -- heart-beats ------------------------------------------------------
    def test_server_sends_heartbeats(self):
        c = self.raw("alice", heart_beat="0,100")
        self.assertEqual(c.read(timeout=1.0), None)  # nothing but EOLs arrives
        self.assertGreaterEqual(c.heartbeats, 2)
        self.assertFalse(c.closed)

    def test_silent_client_is_closed(self):
        c = self.raw()
        f = c.connect("alice", heart_beat="100,0")
        self.assertEqual(f.headers["heart-beat"], "200,200")
        err = c.expect("ERROR", timeout=5)
        self.assertEqual(err.headers["message"], "heart-beat timeout")
        self.assertTrue(c.wait_closed())

    def test_client_heartbeats_keep_it_open(self):
        c = self.raw("alice", heart_beat="100,0")
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            c.send_bytes(b"\n")
            time.sleep(0.1)  # the client's own heart-beat period, not a wait for the server
        c.send("SUBSCRIBE", {"id": "1", "destination": "/topic/hb", "receipt": "alive"})
        c.expect("RECEIPT")

    def test_invalid_heartbeat_header(self):
        c = self.raw()
        c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": "bob", "passcode": password_of("bob"),
                           "heart-beat": "fast"})
        self.assertEqual(c.expect("ERROR").headers["message"], "invalid heart-beat header")

    # -- destinations -----------------------------------------------------
    def test_user_queue_reaches_every_session_of_that_user(self):
        s1, s2 = self.raw("alice"), self.raw("alice")
        for c in (s1, s2):
            c.send("SUBSCRIBE", {"id": "me", "destination": "/user/queue/inbox", "receipt": "r"})
            c.expect("RECEIPT")
        other = self.raw("bob")
        other.send("SUBSCRIBE", {"id": "me", "destination": "/user/queue/inbox", "receipt": "r"})
        other.expect("RECEIPT")
        p = self.raw("agent1")
        p.send("SEND", {"destination": "/user/alice/queue/inbox"}, "for alice")
        self.assertEqual(s1.expect("MESSAGE").body, b"for alice")
        self.assertEqual(s2.expect("MESSAGE").body, b"for alice")
        p.send("SEND", {"destination": "/user/bob/queue/inbox"}, "for bob")
        self.assertEqual(other.expect("MESSAGE").body, b"for bob")

    def test_access_rules_by_role(self):
        agent = self.raw("agent1")
        agent.send("SUBSCRIBE", {"id": "1", "destination": "/topic/agents.room", "receipt": "ok"})
        agent.expect("RECEIPT")
        user = self.raw("alice")
        user.send("SUBSCRIBE", {"id": "1", "destination": "/topic/agents.room", "receipt": "no"})
        err = user.expect("ERROR")
        self.assertEqual(err.headers["message"], "destination not allowed")
        self.assertEqual(err.headers["receipt-id"], "no")
        self.assertTrue(user.wait_closed())

    def test_duplicate_subscription_id(self):
        c = self.raw("alice")
        c.send("SUBSCRIBE", {"id": "1", "destination": "/topic/a"})
        c.send("SUBSCRIBE", {"id": "1", "destination": "/topic/b"})
        self.assertEqual(c.expect("ERROR").headers["message"], "duplicate subscription id")

    def test_unsubscribe_stops_delivery(self):
        c = self.raw("alice")
        c.send("SUBSCRIBE", {"id": "1", "destination": "/topic/u1"})
        c.send("SUBSCRIBE", {"id": "2", "destination": "/topic/u2", "receipt": "r"})
        c.expect("RECEIPT")
        c.send("UNSUBSCRIBE", {"id": "1", "receipt": "gone"})
        c.expect("RECEIPT")
        p = self.raw("bob")
        p.send("SEND", {"destination": "/topic/u1"}, "not for you")
        p.send("SEND", {"destination": "/topic/u2"}, "for you")
        m = c.expect("MESSAGE")
        self.assertEqual((m.headers["subscription"], m.body), ("2", b"for you"))

    def test_body_with_nuls_round_trips(self):
        c = self.raw("alice")
        c.send("SUBSCRIBE", {"id": "1", "destination": "/topic/bin", "receipt": "r"})
        c.expect("RECEIPT")
        p = self.raw("bob")
        body = b"a\0b\0\0c"
        p.send("SEND", {"destination": "/topic/bin", "content-length": str(len(body))}, body)
        self.assertEqual(c.expect("MESSAGE").body, body)

    def test_crlf_frames(self):
        c = RawStomp(self.server.stomp_port)
        self.addCleanup(c.close)
        c.send_bytes(b"CONNECT\r\naccept-version:1.2\r\nhost:x\r\nlogin:alice\r\npasscode:"
                     + password_of("alice").encode() + b"\r\n\r\n\0")
        c.expect("CONNECTED")
        c.send_bytes(b"SUBSCRIBE\r\nid:1\r\ndestination:/topic/crlf\r\nreceipt:r\r\n\r\n\0")
        c.expect("RECEIPT")


class LargeMessages(unittest.TestCase):
    """[stomp] max_outbound_bytes bounds what waits before a frame, not the
    frame: a message larger than it reaches subscribers that keep up."""

    def test_message_above_the_outbound_bound_reaches_every_subscriber(self):
        def edit(s):
            s["stomp"].update({"max_frame_size": "20M", "max_body_size": "20M", "max_outbound_bytes": "4M"})
        with Chatd(edit) as srv:
            tcp = RawStomp(srv.stomp_port, timeout=30)
            self.addCleanup(tcp.close)
            tcp.connect("alice")
            tcp.send("SUBSCRIBE", {"id": "big", "destination": "/topic/big", "receipt": "s"})
            tcp.expect("RECEIPT")
            ws = WSConnection12("ws://127.0.0.1:%d/ws" % srv.http_port, origin="http://127.0.0.1:%d" % srv.http_port)
            rec = Recorder()
            ws.set_listener("r", rec)
            ws.connect("bob", password_of("bob"), wait=True)
            self.addCleanup(ws.disconnect)
            ws.subscribe("/topic/big", id="big", headers={"receipt": "s"})
            rec.wait_receipt("s")

            text = "안녕하세요 😀 "
            unit = text.encode()
            size = 16 << 20
            body = unit * (size // len(unit))
            body += b"x" * (size - len(body))
            sender = RawStomp(srv.stomp_port, timeout=30)
            self.addCleanup(sender.close)
            sender.connect("agent1")
            sender.send("SEND", {"destination": "/topic/big", "content-type": "text/plain;charset=utf-8",
                                 "content-length": str(len(body)), "receipt": "sent"}, body)
            sender.expect("RECEIPT", timeout=30)

            m = tcp.expect("MESSAGE", timeout=30)
            self.assertEqual(len(m.body), size)
            self.assertTrue(m.body == body, "the TCP subscriber's copy differs")
            rec.wait_messages(1, timeout=30)
            self.assertTrue(rec.messages[0].body == body.decode(), "the WebSocket subscriber's copy differs")
            # Both are still connected and served.
            tcp.send("SUBSCRIBE", {"id": "after", "destination": "/topic/after", "receipt": "alive"})
            tcp.expect("RECEIPT")
            ws.subscribe("/topic/after", id="after", headers={"receipt": "alive"})
            rec.wait_receipt("alive")
            self.assertEqual(rec.errors, [])
            self.assertNotIn("slow consumer", srv.read_log())


class HeartbeatTiming(unittest.TestCase):
    """A client silent for twice its heart-beat interval is closed then, not
    up to a timer tick later."""

    def test_silent_client_is_closed_on_time(self):
        def edit(s):
            s["stomp"].update({"heartbeat_receive": "2s", "heartbeat_send": "10s"})
        with Chatd(edit) as srv:
            c = RawStomp(srv.stomp_port)
            self.addCleanup(c.close)
            f = c.connect("alice", heart_beat="1000,500")
            self.assertEqual(f.headers["heart-beat"], "10000,2000")
            # The client's last bytes: a heart-beat a little after CONNECTED
            # (off the server's own schedule), then nothing.
            time.sleep(0.3)  # the client's own pace, not a wait for the server
            last = time.monotonic()  # before the byte leaves: the server cannot see it earlier
            c.send_bytes(b"\n")
            err = c.expect("ERROR", timeout=10)
            elapsed = time.monotonic() - last
            self.assertEqual(err.headers["message"], "heart-beat timeout")
            self.assertGreaterEqual(elapsed, 4.0)
            self.assertLess(elapsed, 4.5)
            self.assertTrue(c.wait_closed())


if __name__ == "__main__":
    unittest.main()
