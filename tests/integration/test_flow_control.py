"""Publisher flow control (docs/protocol.md "Flow control"): one client
blasting SENDs slows down instead of getting the readers of its topic
disconnected; a reader that stops altogether is cut off after
[stomp] slow_consumer_timeout; [stomp] max_send_bytes_per_second paces a
sender without an ERROR."""
import threading
import time
import unittest

from chatd_harness import Chatd
from raw_stomp import RawStomp, encode
from test_faults import SmallWindowStomp

BODY = ("빠른 발행자 🚀 " * 400).encode()[:8192]  # 8 KiB of Korean and emoji
COUNT = 4000


def blast(pub, dest, count, body, last_receipt):
    """Every SEND in one go, as fast as the socket takes them, the last one
    with a receipt; in a thread, since the server may stop reading."""
    frames = [encode("SEND", {"destination": dest, "n": str(i)}, body) for i in range(count - 1)]
    frames.append(encode("SEND", {"destination": dest, "n": str(count - 1), "receipt": last_receipt}, body))
    data = b"".join(frames)
    t = threading.Thread(target=pub.send_bytes, args=(data,), daemon=True)
    t.start()
    return t


class Reader(threading.Thread):
    """A subscriber that reads as fast as it can and checks order."""

    def __init__(self, client, count):
        super().__init__(daemon=True)
        self.client, self.count, self.got, self.error = client, count, 0, None

    def run(self):
        try:
            while self.got < self.count:
                f = self.client.read(timeout=30)
                if f is None or f.command != "MESSAGE":
                    self.error = "after %d messages: %r (closed: %s)" % (self.got, f, self.client.closed)
                    return
                if f.headers["n"] != str(self.got) or f.body != BODY:
                    self.error = "message %d out of order or damaged: %r" % (self.got, f)
                    return
                self.got += 1
        except Exception as e:  # reported by the test
            self.error = repr(e)


class FlowControl(unittest.TestCase):
    def subscriber(self, srv, user, dest, cls=RawStomp):
        c = cls(srv.stomp_port)
        self.addCleanup(c.close)
        c.connect(user)
        c.send("SUBSCRIBE", {"id": "1", "destination": dest, "receipt": "s"})
        c.expect("RECEIPT")
        return c

    def publisher(self, srv):
        pub = RawStomp(srv.stomp_port, timeout=60)
        self.addCleanup(pub.close)
        pub.connect("alice")
        return pub

    def test_a_burst_reaches_every_reader_without_disconnects(self):
        def edit(s):
            s["stomp"].update({"max_sends_per_second": "0", "max_send_bytes_per_second": "0"})
        with Chatd(edit) as srv:
            readers = [Reader(self.subscriber(srv, u, "/topic/burst"), COUNT) for u in ("bob", "agent1")]
            for r in readers:
                r.start()
            pub = self.publisher(srv)
            sender = blast(pub, "/topic/burst", COUNT, BODY, "done")
            self.assertEqual(pub.expect("RECEIPT", timeout=60).headers["receipt-id"], "done")
            sender.join(60)
            for r in readers:
                r.join(60)
                self.assertIsNone(r.error)
                self.assertEqual(r.got, COUNT)
            self.assertNotIn("slow consumer", srv.read_log())

    def test_a_reader_that_stops_is_cut_off_and_the_others_get_everything(self):
        def edit(s):
            s["stomp"].update({"max_sends_per_second": "0", "max_send_bytes_per_second": "0",
                               "slow_consumer_timeout": "1s"})
        with Chatd(edit) as srv:
            reader = Reader(self.subscriber(srv, "bob", "/topic/stall"), COUNT)
            stalled = self.subscriber(srv, "agent2", "/topic/stall", cls=SmallWindowStomp)
            reader.start()
            pub = self.publisher(srv)
            started = time.monotonic()
            sender = blast(pub, "/topic/stall", COUNT, BODY, "done")
            self.assertEqual(pub.expect("RECEIPT", timeout=60).headers["receipt-id"], "done")
            sender.join(60)
            reader.join(60)
            self.assertIsNone(reader.error)
            self.assertEqual(reader.got, COUNT)
            # The publisher waited for the stalled reader at most about the
            # timeout, then that reader was disconnected.
            self.assertLess(time.monotonic() - started, 30)
            while stalled.read(timeout=15) is not None:
                pass
            self.assertTrue(stalled.closed)
            self.assertIn("slow consumer disconnected", srv.read_log())

    def test_byte_rate_paces_a_sender_without_an_error(self):
        rate = 1 << 20
        def edit(s):
            s["stomp"].update({"max_sends_per_second": "0", "max_send_bytes_per_second": "1M"})
        with Chatd(edit) as srv:
            count = 3 * rate // len(BODY)  # 3 MiB: one second's burst, then two at the rate
            reader = Reader(self.subscriber(srv, "bob", "/topic/paced"), count)
            reader.start()
            pub = self.publisher(srv)
            started = time.monotonic()
            sender = blast(pub, "/topic/paced", count, BODY, "done")
            self.assertEqual(pub.expect("RECEIPT", timeout=60).headers["receipt-id"], "done")
            elapsed = time.monotonic() - started
            sender.join(60)
            reader.join(60)
            self.assertIsNone(reader.error)
            self.assertEqual(reader.got, count)
            self.assertGreaterEqual(elapsed, 1.8)


if __name__ == "__main__":
    unittest.main()
