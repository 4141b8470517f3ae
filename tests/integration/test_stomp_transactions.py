"""Transactions and acknowledgements as docs/protocol.md says: a frame of a
transaction takes effect, and is answered, at COMMIT (a room message once
stored), the COMMIT's RECEIPT after all of them; ABORT drops the frames and
settles their receipts; ACK and NACK in every version, ack mode and in or
out of a transaction, with the redelivery a queue makes of them."""
import unittest

import stomp

from chatd_harness import OneServer, Recorder, disconnect_quietly, password_of, wait_for
from rooms_client import Api, history

TEXT = "안녕하세요 😀"


class Transactions(OneServer):
    @staticmethod
    def edit(s):
        s["storage"]["max_messages_per_room"] = "4"

    def group(self, title):
        status, room = Api(self.server.http_port, "alice").post(
            "/api/rooms", {"kind": "group", "title": title, "members": ["bob"]})
        self.assertEqual(status, 201, room)
        return room["id"]

    def receipts_until(self, c, last):
        """The receipt-ids c gets up to and including `last`."""
        got = []
        while not got or got[-1] != last:
            got.append(c.expect("RECEIPT").headers["receipt-id"])
        return got

    # -- receipts of transactional frames ---------------------------------
    def test_receipts_come_at_commit_room_messages_once_stored(self):
        rid = self.group("tx receipts")
        listener = self.raw("bob")
        listener.send("SUBSCRIBE", {"id": "room", "destination": "/topic/rooms/" + rid, "receipt": "s"})
        listener.expect("RECEIPT")
        c = self.raw("alice")
        c.send("BEGIN", {"transaction": "t"})
        for i in range(3):
            c.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "transaction": "t",
                            "receipt": "m%d" % i}, "%s %d" % (TEXT, i))
        c.send("SEND", {"destination": "/topic/tx.plain", "transaction": "t", "receipt": "topic"}, TEXT)
        # Nothing of the transaction is answered before its COMMIT.
        c.send("SUBSCRIBE", {"id": "x", "destination": "/topic/tx.marker", "receipt": "marker"})
        self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "marker")
        self.assertEqual(history(Api(self.server.http_port, "alice"), rid), [])
        c.send("COMMIT", {"transaction": "t", "receipt": "commit"})
        got = self.receipts_until(c, "commit")
        self.assertEqual(sorted(got[:-1]), ["m0", "m1", "m2", "topic"])
        # The COMMIT's RECEIPT means every message of it is stored.
        stored = history(Api(self.server.http_port, "alice"), rid)
        self.assertEqual([m["body"] for m in stored], ["%s %d" % (TEXT, i) for i in range(3)])
        self.assertEqual([listener.expect("MESSAGE").body.decode() for _ in range(3)],
                         ["%s %d" % (TEXT, i) for i in range(3)])

    def test_frames_after_a_commit_wait_for_its_receipt(self):
        rid = self.group("tx order")
        c = self.raw("alice")
        c.send("BEGIN", {"transaction": "t"})
        c.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "transaction": "t", "receipt": "in"}, TEXT)
        c.send("SUBSCRIBE", {"id": "x", "destination": "/topic/tx.marker", "receipt": "marker"})
        c.send("COMMIT", {"transaction": "t", "receipt": "commit"})
        c.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "after"}, TEXT + " after")
        self.assertEqual(self.receipts_until(c, "after"), ["marker", "in", "commit", "after"])
        stored = history(Api(self.server.http_port, "alice"), rid)
        self.assertEqual([m["body"] for m in stored], [TEXT, TEXT + " after"])

    def test_a_failing_frame_at_commit_is_an_error_and_no_commit_receipt(self):
        rid = self.group("tx failure")
        c = self.raw("alice")
        for i in range(4):  # the room's limit (max_messages_per_room)
            c.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "receipt": "f%d" % i}, TEXT)
        self.assertEqual(self.receipts_until(c, "f3"), ["f0", "f1", "f2", "f3"])
        c.send("BEGIN", {"transaction": "t"})
        c.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "transaction": "t", "receipt": "full"}, TEXT)
        c.send("COMMIT", {"transaction": "t", "receipt": "commit"})
        err = c.expect("ERROR")
        self.assertEqual((err.headers["message"], err.headers.get("receipt-id")), ("message not stored", "full"))
        self.assertTrue(c.wait_closed())
        self.assertNotIn(b"receipt-id:commit", c.buf)

    def test_abort_drops_the_frames_and_settles_their_receipts(self):
        rid = self.group("tx abort")
        sub = self.raw("bob")
        sub.send("SUBSCRIBE", {"id": "t", "destination": "/topic/tx.abort", "receipt": "s"})
        sub.expect("RECEIPT")
        c = self.raw("alice")
        c.send("BEGIN", {"transaction": "t"})
        c.send("SEND", {"destination": "/app/rooms/%s/send" % rid, "transaction": "t", "receipt": "a1"}, TEXT)
        c.send("SEND", {"destination": "/topic/tx.abort", "transaction": "t"}, TEXT)
        c.send("SEND", {"destination": "/topic/tx.abort", "transaction": "t", "receipt": "a2"}, TEXT)
        c.send("SUBSCRIBE", {"id": "x", "destination": "/topic/tx.marker", "receipt": "held"})
        c.send("ABORT", {"transaction": "t", "receipt": "abort"})
        self.assertEqual(self.receipts_until(c, "abort"), ["held", "a1", "a2", "abort"])
        c.send("SEND", {"destination": "/topic/tx.abort", "receipt": "marker"}, "marker")
        c.expect("RECEIPT")
        self.assertEqual(sub.expect("MESSAGE").body, b"marker")
        self.assertEqual(history(Api(self.server.http_port, "alice"), rid), [])
        # A transaction open at DISCONNECT is aborted the same way.
        c.send("BEGIN", {"transaction": "u"})
        c.send("SEND", {"destination": "/topic/tx.abort", "transaction": "u", "receipt": "d1"}, TEXT)
        c.send("DISCONNECT", {"receipt": "bye"})
        self.assertEqual(self.receipts_until(c, "bye"), ["d1", "bye"])

    # -- ACK and NACK inside transactions ---------------------------------
    def queue_with_message(self, queue, version):
        """A client-individual subscriber of `queue` with one message held
        unacknowledged, plus an auto topic subscription that also got one."""
        a = self.raw("alice", version=version)
        a.send("SUBSCRIBE", {"id": "q", "destination": queue, "ack": "client-individual"})
        a.send("SUBSCRIBE", {"id": "t", "destination": queue.replace("/queue/", "/topic/"), "receipt": "r"})
        a.expect("RECEIPT")
        p = self.raw("bob")
        p.send("SEND", {"destination": queue}, TEXT)
        p.send("SEND", {"destination": queue.replace("/queue/", "/topic/")}, TEXT)
        msgs = {m.headers["subscription"]: m for m in (a.expect("MESSAGE"), a.expect("MESSAGE"))}
        return a, msgs

    @staticmethod
    def ack_headers(version, m, sub, tx=None):
        h = {"id": m.headers.get("ack", m.headers["message-id"])} if version == "1.2" else \
            {"message-id": m.headers["message-id"]}
        if version != "1.0":
            h["subscription"] = sub
        if tx:
            h["transaction"] = tx
        return h

    def next_subscriber_gets(self, queue, expected):
        """After the first session is gone: what a new subscriber of queue
        gets first, a marker sent after it subscribed proving the rest."""
        b = self.raw("bob")
        b.send("SUBSCRIBE", {"id": "q", "destination": queue, "ack": "client-individual", "receipt": "r"})
        b.expect("RECEIPT")
        self.raw("agent1").send("SEND", {"destination": queue}, "marker")
        m = b.expect("MESSAGE")
        self.assertEqual(m.body.decode(), expected)
        return m

    def test_acks_in_a_committed_transaction_take_effect(self):
        for version in ("1.0", "1.1", "1.2"):
            with self.subTest(version=version):
                queue = "/queue/txack.commit" + version
                a, msgs = self.queue_with_message(queue, version)
                a.send("BEGIN", {"transaction": "t"})
                # A client that acknowledges whatever it processed, the auto
                # subscription's message included.
                a.send("ACK", self.ack_headers(version, msgs["t"], "t", "t"))
                a.send("ACK", self.ack_headers(version, msgs["q"], "q", "t"))
                a.send("COMMIT", {"transaction": "t", "receipt": "c"})
                self.assertEqual(a.expect("RECEIPT").headers["receipt-id"], "c")
                a.send("DISCONNECT", {"receipt": "bye"})
                a.expect("RECEIPT")
                self.next_subscriber_gets(queue, "marker")

    def test_acks_in_an_aborted_transaction_vanish(self):
        for version in ("1.0", "1.1", "1.2"):
            with self.subTest(version=version):
                queue = "/queue/txack.abort" + version
                a, msgs = self.queue_with_message(queue, version)
                a.send("BEGIN", {"transaction": "t"})
                a.send("ACK", self.ack_headers(version, msgs["q"], "q", "t"))
                a.send("ABORT", {"transaction": "t", "receipt": "ab"})
                a.expect("RECEIPT")
                a.send("DISCONNECT", {"receipt": "bye"})
                a.expect("RECEIPT")
                m = self.next_subscriber_gets(queue, TEXT)
                self.assertEqual(m.headers.get("redelivered"), "true")

    def test_cumulative_nack_redelivers_in_order(self):
        a = self.raw("alice")
        a.send("SUBSCRIBE", {"id": "c", "destination": "/queue/txack.cum", "ack": "client", "receipt": "r"})
        a.expect("RECEIPT")
        p = self.raw("bob")
        for i in range(3):
            p.send("SEND", {"destination": "/queue/txack.cum"}, "%s %d" % (TEXT, i))
        msgs = [a.expect("MESSAGE") for _ in range(3)]
        a.send("NACK", {"id": msgs[1].headers["ack"]})
        again = [a.expect("MESSAGE") for _ in range(2)]
        self.assertEqual([m.body.decode() for m in again], ["%s %d" % (TEXT, i) for i in range(2)])
        self.assertTrue(all(m.headers.get("redelivered") == "true" for m in again))


class AckMatrix(OneServer):
    """stomp.py's Connection10/11/12 x auto/client/client-individual x in
    and out of a transaction, on a queue: an ACKed message is gone, a NACKed
    one comes again (client modes), and nothing is left for the next
    subscriber."""

    def connect(self, cls):
        conn = cls([("127.0.0.1", self.server.stomp_port)])
        rec = Recorder()
        conn.set_listener("r", rec)
        conn.connect("alice", password_of("alice"), wait=True)
        self.addCleanup(disconnect_quietly, conn)
        return conn, rec

    def ack(self, conn, version, m, nack, tx, receipt):
        h = m.headers
        if version == "1.0":
            # STOMP 1.0 has no NACK; stomp.py sends it as a plain frame.
            headers = {"message-id": h["message-id"], "receipt": receipt}
            if tx:
                headers["transaction"] = tx
            conn.send_frame("NACK" if nack else "ACK", headers)
        elif version == "1.1":
            (conn.nack if nack else conn.ack)(h["message-id"], h["subscription"], transaction=tx, receipt=receipt)
        else:  # an auto subscription's MESSAGE has no `ack` header to give back
            (conn.nack if nack else conn.ack)(h.get("ack", h["message-id"]), transaction=tx, receipt=receipt)

    def test_matrix(self):
        n = 0
        for cls, version in ((stomp.Connection10, "1.0"), (stomp.Connection11, "1.1"), (stomp.Connection12, "1.2")):
            for mode in ("auto", "client", "client-individual"):
                for in_tx in (False, True):
                    n += 1
                    with self.subTest(version=version, mode=mode, tx=in_tx):
                        self.one(cls, version, mode, in_tx, "/queue/matrix.%d" % n)

    def one(self, cls, version, mode, in_tx, queue):
        conn, rec = self.connect(cls)
        conn.subscribe(queue, id="s", ack=mode, headers={"receipt": "sub"})
        rec.wait_receipt("sub")
        for i in range(2):
            conn.send(queue, "%s %d" % (TEXT, i))
        rec.wait_messages(2)
        first, second = rec.messages[:2]
        self.assertEqual([first.body, second.body], ["%s 0" % TEXT, "%s 1" % TEXT])
        tx = conn.begin() if in_tx else None
        self.ack(conn, version, first, False, tx, "acked")
        self.ack(conn, version, second, True, tx, "nacked")
        if tx:
            conn.commit(tx, headers={"receipt": "commit"})
            rec.wait_receipt("commit")
        rec.wait_receipt("nacked")
        self.assertEqual(rec.errors, [])
        if mode == "auto":
            self.assertEqual(len(rec.messages), 2)  # consumed at delivery: a NACK changes nothing
        else:
            rec.wait_messages(3)
            again = rec.messages[2]
            self.assertEqual((again.body, again.headers.get("redelivered")), ("%s 1" % TEXT, "true"))
            self.ack(conn, version, again, False, None, "again")
            rec.wait_receipt("again")
            self.assertEqual(rec.errors, [])
        conn.disconnect(receipt="bye")
        # Nothing is left in the queue for the next subscriber.
        other, orec = self.connect(cls)
        other.subscribe(queue, id="s", ack="client-individual", headers={"receipt": "sub"})
        orec.wait_receipt("sub")
        other.send(queue, "marker")
        orec.wait_messages(1)
        self.assertEqual(orec.messages[0].body, "marker")


if __name__ == "__main__":
    unittest.main()
