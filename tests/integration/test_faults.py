"""Faults a production server meets: a consumer that stops reading, a flood
of SENDs behind one DISCONNECT, connections dropped half-way, too many
connections from one address, a WebSocket from a foreign page
(docs/protocol.md "Errors", docs/configuration.md "[server]", "[stomp]")."""
import json
import os
import resource
import shutil
import socket
import struct
import tempfile
import threading
import unittest
import urllib.request

import websocket

from chatd_harness import Chatd, password_of, wait_for
from raw_stomp import RawStomp, encode
from rooms_client import Api

LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode()
    return {k: float(v) for k, v in (l.rsplit(" ", 1) for l in text.splitlines() if l and not l.startswith("#"))}


def sessions(srv):
    """Connections the core knows, CONNECTed or not (chatd_connections)."""
    return int(metrics(srv.http_port)["chatd_connections"])


def proc_status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need and (hard == resource.RLIM_INFINITY or hard >= need):
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= need


class SmallWindowStomp(RawStomp):
    """A RawStomp whose receive buffer is set tiny before connecting, so
    that the server's writes back up as soon as the test stops reading."""

    def __init__(self, port, rcvbuf=4096):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.heartbeats = 0
        self.closed = False
        self.backlog = []


def ws_connect(srv, user, **kw):
    ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % srv.http_port, subprotocols=["v12.stomp"],
                                     timeout=10, **kw)
    ws.send("CONNECT\naccept-version:1.2\nhost:x\nlogin:%s\npasscode:%s\n\n\0" % (user, password_of(user)))
    return ws


class SlowConsumer(unittest.TestCase):
    """[stomp] max_outbound_bytes: a subscriber that stops reading is cut off;
    the others on the same topic get everything; memory stays bounded."""

    BODY = b"x" * 16384
    COUNT = 6000  # ~94 MiB through the server: more than the memory bound below
    BATCH = 8     # the reading subscriber is never more than this behind

    def setUp(self):
        # Under AddressSanitizer freed memory sits in a quarantine (256 MiB by
        # default) and would look like growth; keep it small. Other builds
        # ignore the variable.
        old = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = (old + ":" if old else "") + "quarantine_size_mb=16"
        self.addCleanup(lambda: os.environ.pop("ASAN_OPTIONS") if old is None
                        else os.environ.__setitem__("ASAN_OPTIONS", old))

    def test_slow_consumer_is_cut_off_and_memory_stays_flat(self):
        def edit(s):
            # Unpaced; a reader that stops holds the publisher back for 1 s
            # (docs/protocol.md "Flow control"), then it is cut off.
            s["stomp"].update({"max_outbound_bytes": "256K", "max_sends_per_second": "0",
                               "max_send_bytes_per_second": "0", "slow_consumer_timeout": "1s"})
        with Chatd(edit) as srv:
            good = RawStomp(srv.stomp_port)
            self.addCleanup(good.close)
            good.connect("bob")
            good.send("SUBSCRIBE", {"id": "1", "destination": "/topic/busy", "receipt": "g"})
            good.expect("RECEIPT")
            slow = SmallWindowStomp(srv.stomp_port)
            self.addCleanup(slow.close)
            slow.connect("agent2")
            slow.send("SUBSCRIBE", {"id": "1", "destination": "/topic/busy", "receipt": "s"})
            slow.expect("RECEIPT")
            pub = RawStomp(srv.stomp_port)
            self.addCleanup(pub.close)
            pub.connect("alice")
            baseline = proc_status_kib(srv.proc.pid, "VmRSS")

            received = 0
            for start in range(0, self.COUNT, self.BATCH):
                batch = b"".join(encode("SEND", {"destination": "/topic/busy", "n": str(i)}, self.BODY)
                                 for i in range(start, start + self.BATCH))
                pub.send_bytes(batch)
                for i in range(start, start + self.BATCH):
                    f = good.expect("MESSAGE")
                    self.assertEqual((f.headers["n"], len(f.body)), (str(i), len(self.BODY)))
                    received += 1
            self.assertEqual(received, self.COUNT)

            # The slow one was disconnected: what the kernel held for it
            # arrives, then the end of the stream, far short of everything.
            got = 0
            while True:
                f = slow.read(timeout=15)
                if f is None:
                    break
                self.assertEqual(f.command, "MESSAGE")
                got += 1
            self.assertTrue(slow.closed, "the slow consumer was not disconnected")
            self.assertLess(got, self.COUNT // 2)
            wait_for(lambda: sessions(srv) == 2, what="the slow consumer's session to end")
            self.assertIn("slow consumer disconnected", srv.read_log())

            # Peak memory over the whole storm, against the calm before it.
            peak = proc_status_kib(srv.proc.pid, "VmHWM")
            self.assertLess(peak - baseline, 64 * 1024,
                            "RSS grew from %d KiB to a peak of %d KiB" % (baseline, peak))

            # And the reader that kept up is still served.
            pub.send("SEND", {"destination": "/topic/busy", "n": "last"}, "after the storm")
            self.assertEqual(good.expect("MESSAGE").body, b"after the storm")


class Flood(unittest.TestCase):
    """10,000 room SENDs written at once, then DISCONNECT with a receipt:
    the receipt comes after every one is stored, and every one is stored
    and delivered, in order."""

    COUNT = 10000

    def test_ten_thousand_sends_then_disconnect(self):
        data = tempfile.mkdtemp(prefix="chatd-faults-")
        self.addCleanup(shutil.rmtree, data, True)

        def edit(s):
            s["stomp"]["max_sends_per_second"] = "0"
            s["storage"] = {"plugin": "sqlite", "path": os.path.join(data, "chat.db")}
        with Chatd(edit) as srv:
            alice = Api(srv.http_port, "alice")
            status, room = alice.post("/api/rooms", {"kind": "group", "title": "flood", "members": ["bob"]})
            self.assertEqual(status, 201, room)
            rid = room["id"]

            bob = RawStomp(srv.stomp_port, timeout=60)
            self.addCleanup(bob.close)
            bob.connect("bob")
            bob.send("SUBSCRIBE", {"id": "r", "destination": "/topic/rooms/" + rid, "receipt": "sub"})
            bob.expect("RECEIPT")
            delivered = []
            done = threading.Event()

            def read_bob():
                try:
                    while len(delivered) < self.COUNT:
                        f = bob.read(timeout=120)
                        if f is None:
                            break
                        if f.command == "MESSAGE" and f.headers.get("event") == "message":
                            delivered.append((int(f.headers["seq"]), f.body))
                finally:
                    done.set()
            reader = threading.Thread(target=read_bob, daemon=True)
            reader.start()

            sender = RawStomp(srv.stomp_port, timeout=60)
            self.addCleanup(sender.close)
            sender.connect("alice")
            dest = "/app/rooms/%s/send" % rid
            burst = b"".join(encode("SEND", {"destination": dest}, "m%05d" % i) for i in range(self.COUNT))
            sender.send_bytes(burst + encode("DISCONNECT", {"receipt": "bye"}))
            receipt = sender.expect("RECEIPT", timeout=120)
            self.assertEqual(receipt.headers["receipt-id"], "bye")

            # Right at the receipt, history holds all of them (newest first,
            # paged with `before`).
            stored, before = [], None
            while True:
                path = "/api/rooms/%s/messages?limit=100" % rid + ("&before=%d" % before if before else "")
                status, page = alice.get(path)
                self.assertEqual(status, 200, page)
                stored.extend(page["messages"])
                before = page.get("next_before")
                if not before or not page["messages"]:
                    break
            stored.reverse()
            self.assertEqual(len(stored), self.COUNT)
            self.assertEqual([m["body"] for m in stored], ["m%05d" % i for i in range(self.COUNT)])
            seqs = [m["seq"] for m in stored]
            self.assertEqual(seqs, sorted(set(seqs)))
            self.assertTrue(sender.wait_closed())

            self.assertTrue(done.wait(120), "the subscriber did not get every message")
            self.assertEqual(len(delivered), self.COUNT)
            self.assertEqual([b for _, b in delivered], [("m%05d" % i).encode() for i in range(self.COUNT)])
            self.assertEqual([s for s, _ in delivered], seqs)


class AbruptDisconnects(unittest.TestCase):
    """1,000 connections in every state, dropped without a goodbye (some
    with a RST): every fd and every session is released."""

    COUNT = 1000

    def test_thousand_connections_dropped(self):
        if not raise_fd_limit(self.COUNT + 200):
            self.skipTest("the open-files limit is below %d" % (self.COUNT + 200))

        def edit(s):
            s["server"]["max_connections_per_ip"] = "0"  # all come from 127.0.0.1
        with Chatd(edit) as srv:
            pid = srv.proc.pid
            bystander = RawStomp(srv.stomp_port)
            self.addCleanup(bystander.close)
            bystander.connect("agent2")
            bystander.send("SUBSCRIBE", {"id": "1", "destination": "/topic/still", "receipt": "r"})
            bystander.expect("RECEIPT")
            base_fds, base_sessions = fd_count(pid), sessions(srv)

            socks = []  # (raw socket, extra close step)
            upgrade = ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
            try:
                for i in range(self.COUNT):
                    kind = i % 5
                    if kind == 0:    # raw TCP, CONNECTed
                        c = RawStomp(srv.stomp_port)
                        c.connect("alice")
                        socks.append(c.sock)
                    elif kind == 1:  # WebSocket, CONNECTed
                        ws = ws_connect(srv, "bob")
                        self.assertTrue(ws.recv().startswith("CONNECTED"))
                        socks.append(ws.sock)
                    elif kind == 2:  # raw TCP, half a frame
                        s = socket.create_connection(("127.0.0.1", srv.stomp_port))
                        s.sendall(b"CONNECT\naccept-version:1.2\nlogin:al")
                        socks.append(s)
                    elif kind == 3:  # WebSocket, half a STOMP frame
                        ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % srv.http_port,
                                                         subprotocols=["v12.stomp"], timeout=10)
                        ws.send("CONNECT\naccept-version:1.2\nho")
                        socks.append(ws.sock)
                    else:            # HTTP upgrade request cut off in its headers
                        s = socket.create_connection(("127.0.0.1", srv.http_port))
                        s.sendall(upgrade.encode())
                        socks.append(s)
                wait_for(lambda: fd_count(pid) >= base_fds + self.COUNT, timeout=30,
                         what="the server to accept every connection")
                # Four kinds in five are sessions; the cut-off upgrades are not.
                wait_for(lambda: sessions(srv) >= base_sessions + self.COUNT * 4 // 5, timeout=30,
                         what="the sessions to open")
            finally:
                for i, s in enumerate(socks):
                    if i % 2:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
                    s.close()
            wait_for(lambda: fd_count(pid) <= base_fds, timeout=30, what="fd count back to baseline")
            wait_for(lambda: sessions(srv) == base_sessions, timeout=30, what="chatd_connections back to baseline")

            p = RawStomp(srv.stomp_port)
            self.addCleanup(p.close)
            p.connect("bob")
            p.send("SEND", {"destination": "/topic/still"}, "still here")
            self.assertEqual(bystander.expect("MESSAGE").body, b"still here")


class ConnectionsPerAddress(unittest.TestCase):
    """[server] max_connections_per_ip: the connection above the limit gets
    ERROR `too many connections from this address` and is closed, over TCP
    and WebSocket alike; the ones within it are not affected."""

    def test_limit_per_address(self):
        with Chatd(lambda s: s["server"].update({"max_connections_per_ip": "3"})) as srv:
            tcp = [RawStomp(srv.stomp_port) for _ in range(2)]
            for c in tcp:
                self.addCleanup(c.close)
                c.connect("alice")
            ws = ws_connect(srv, "bob")
            self.addCleanup(ws.close)
            self.assertTrue(ws.recv().startswith("CONNECTED"))

            extra = RawStomp(srv.stomp_port)
            self.addCleanup(extra.close)
            err = extra.read()
            self.assertEqual((err.command, err.headers["message"]), ("ERROR", "too many connections from this address"))
            self.assertTrue(extra.wait_closed())

            extra_ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % srv.http_port,
                                                   subprotocols=["v12.stomp"], timeout=10)
            self.addCleanup(extra_ws.close)
            frame = extra_ws.recv()
            self.assertTrue(frame.startswith("ERROR\n"), frame)
            self.assertIn("message:too many connections from this address\n", frame)
            opcode, _ = extra_ws.recv_data(control_frame=True)
            self.assertEqual(opcode, websocket.ABNF.OPCODE_CLOSE)

            # The refused never became sessions; plain HTTP is not counted.
            self.assertEqual(sessions(srv), 3)
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % srv.http_port, timeout=10) as r:
                self.assertEqual(json.loads(r.read())["status"], "ready")

            # The sessions within the limit work on.
            tcp[0].send("SUBSCRIBE", {"id": "1", "destination": "/topic/lim", "receipt": "r"})
            tcp[0].expect("RECEIPT")
            tcp[1].send("SEND", {"destination": "/topic/lim"}, "hello")
            self.assertEqual(tcp[0].expect("MESSAGE").body, b"hello")

            # A closed connection frees its place.
            tcp[1].close()

            def connects():
                c = RawStomp(srv.stomp_port)
                try:
                    c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": "bob",
                                       "passcode": password_of("bob")})
                    f = c.read()
                    return f is not None and f.command == "CONNECTED"
                finally:
                    c.close()
            wait_for(connects, what="a place to free up")


class ForeignOrigin(unittest.TestCase):
    """[server] allowed_origins: test_server.py checks that the upgrade fails;
    here, that the client is told why (403) and an allowed page gets in."""

    def test_upgrade_from_foreign_origin_gets_403(self):
        with Chatd() as srv:
            with self.assertRaises(websocket.WebSocketBadStatusException) as cm:
                websocket.create_connection("ws://127.0.0.1:%d/ws" % srv.http_port, subprotocols=["v12.stomp"],
                                            origin="http://evil.example", timeout=10)
            self.assertEqual(cm.exception.status_code, 403)
            ws = ws_connect(srv, "bob", origin="http://127.0.0.1:%d" % srv.http_port)
            self.addCleanup(ws.close)
            self.assertTrue(ws.recv().startswith("CONNECTED"))


if __name__ == "__main__":
    unittest.main()
