"""Bad input gets a clear ERROR and a close; everyone else keeps being served
and nothing leaks (docs/protocol.md, "Errors")."""
import os
import socket
import unittest

from chatd_harness import Chatd, password_of, wait_for
from raw_stomp import RawStomp

CASES = [
    # Every header and the body within their limits, the whole above 4K.
    ("oversize frame", b"SEND\n" + b"".join(b"h%d:" % i + b"v" * 400 + b"\n" for i in range(10)) + b"\n"
     + b"x" * 1000 + b"\0", "frame too large"),
    ("oversize header", b"SEND\nk:" + b"v" * 600 + b"\n\n\0", "header too long"),
    ("oversize body", b"SEND\ndestination:/topic/x\n\n" + b"b" * 3000 + b"\0", "body too large"),
    ("too many headers", b"SEND\n" + b"".join(b"h%d:v\n" % i for i in range(20)) + b"\n\0", "too many headers"),
    ("negative content-length", b"SEND\ncontent-length:-5\n\n\0", "invalid content-length"),
    ("non-numeric content-length", b"SEND\ncontent-length:ten\n\n\0", "invalid content-length"),
    ("huge content-length", b"SEND\ncontent-length:99999999999\n\n\0", "body too large"),
    ("no NUL after body", b"SEND\ncontent-length:3\n\nabcd\0", "missing NUL after body"),
    ("undefined escape", b"SEND\nk:a\\tb\n\n\0", "undefined escape sequence"),
    ("CR inside header", b"SEND\nk:a\rb\n\n\0", "CR inside header"),
    ("header without colon", b"SEND\nnocolon\n\n\0", "header without colon"),
    ("unknown command", b"FLY\n\n\0", "unknown command"),
]


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        def edit(s):
            s["stomp"].update({"max_frame_size": "4K", "max_body_size": "2K", "max_header_length": "512",
                               "max_headers": "16", "max_subscriptions": "4", "connect_timeout": "500ms"})
        cls.server = Chatd(edit).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def bystander(self):
        """A connected, subscribed session that must keep working."""
        c = RawStomp(self.server.stomp_port)
        self.addCleanup(c.close)
        c.connect("agent2")
        c.send("SUBSCRIBE", {"id": "1", "destination": "/topic/bystander", "receipt": "r"})
        c.expect("RECEIPT")
        return c

    def assert_bystander_served(self, c, text):
        p = RawStomp(self.server.stomp_port)
        self.addCleanup(p.close)
        p.connect("bob")
        p.send("SEND", {"destination": "/topic/bystander"}, text)
        self.assertEqual(c.expect("MESSAGE").body, text.encode())

    def test_each_bad_frame_after_connect(self):
        watcher = self.bystander()
        for name, data, message in CASES:
            with self.subTest(name):
                c = RawStomp(self.server.stomp_port)
                self.addCleanup(c.close)
                c.connect("alice")
                c.send_bytes(data)
                err = c.expect("ERROR")
                self.assertEqual(err.headers["message"], message)
                self.assertTrue(c.wait_closed(), "connection left open")
        self.assert_bystander_served(watcher, "still here")

    def test_each_bad_frame_before_connect(self):
        for name, data, message in CASES:
            with self.subTest(name):
                c = RawStomp(self.server.stomp_port)
                self.addCleanup(c.close)
                c.send_bytes(data)
                self.assertEqual(c.expect("ERROR").headers["message"], message)
                self.assertTrue(c.wait_closed())

    def test_frame_before_connect(self):
        c = RawStomp(self.server.stomp_port)
        self.addCleanup(c.close)
        c.send("SUBSCRIBE", {"id": "1", "destination": "/topic/x"})
        self.assertEqual(c.expect("ERROR").headers["message"], "not connected")
        self.assertTrue(c.wait_closed())

    def test_too_many_subscriptions(self):
        c = RawStomp(self.server.stomp_port)
        self.addCleanup(c.close)
        c.connect("alice")
        for i in range(5):
            c.send("SUBSCRIBE", {"id": str(i), "destination": "/topic/s%d" % i})
        self.assertEqual(c.expect("ERROR").headers["message"], "too many subscriptions")

    def test_connect_timeout(self):
        c = RawStomp(self.server.stomp_port)
        self.addCleanup(c.close)
        self.assertEqual(c.expect("ERROR", timeout=5).headers["message"], "timed out waiting for CONNECT")
        self.assertTrue(c.wait_closed())

    def test_over_websocket_too(self):
        import websocket
        ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % self.server.http_port, subprotocols=["v12.stomp"],
                                         timeout=30)
        ws.send("CONNECT\naccept-version:1.2\nhost:x\nlogin:bob\npasscode:%s\n\n\0" % password_of("bob"))
        self.assertTrue(ws.recv().startswith("CONNECTED"))
        # One frame spread over three WebSocket messages, then a bad one.
        for part in ("SUBSCRIBE\nid:1\ndesti", "nation:/topic/ws\nrece", "ipt:r\n\n\0"):
            ws.send(part)
        self.assertIn("receipt-id:r", ws.recv())
        ws.send("SEND\nk:a\\qb\n\n\0")
        frame = ws.recv()
        self.assertTrue(frame.startswith("ERROR"), frame)
        self.assertIn("message:undefined escape sequence", frame)
        ws.close()

    def test_garbage_connections_leave_nothing_behind(self):
        pid = self.server.proc.pid

        def fds():
            return len(os.listdir("/proc/%d/fd" % pid))

        watcher = self.bystander()
        baseline = fds()
        for i in range(100):
            s = socket.create_connection(("127.0.0.1", self.server.stomp_port))
            s.sendall(os.urandom(64) + b"\n\n\0")
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        wait_for(lambda: fds() <= baseline, timeout=15, what="fd count back to baseline")
        self.assert_bystander_served(watcher, "after the storm")


class SendRateLimit(unittest.TestCase):
    """[stomp] max_sends_per_second: a burst above the bucket is refused with a
    clear ERROR; the sessions within their rate keep going."""

    def test_flood_is_cut_off(self):
        with Chatd(lambda s: s["stomp"].update({"max_sends_per_second": "5"})) as server:
            watcher = RawStomp(server.stomp_port)
            self.addCleanup(watcher.close)
            watcher.connect("agent2")
            watcher.send("SUBSCRIBE", {"id": "1", "destination": "/topic/rate", "receipt": "r"})
            watcher.expect("RECEIPT")
            flood = RawStomp(server.stomp_port)
            self.addCleanup(flood.close)
            flood.connect("alice")
            for i in range(50):
                flood.send("SEND", {"destination": "/topic/rate"}, "m%d" % i)
            err = flood.expect("ERROR")
            self.assertEqual(err.headers["message"], "rate limit exceeded")
            self.assertTrue(flood.wait_closed())
            # The bucket held 5: those were delivered, the rest refused.
            bodies = [watcher.expect("MESSAGE").body for _ in range(5)]
            self.assertEqual(bodies, [b"m%d" % i for i in range(5)])
            calm = RawStomp(server.stomp_port)
            self.addCleanup(calm.close)
            calm.connect("bob")
            calm.send("SEND", {"destination": "/topic/rate"}, "calm")
            self.assertEqual(watcher.expect("MESSAGE").body, b"calm")


if __name__ == "__main__":
    unittest.main()
