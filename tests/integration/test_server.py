"""The daemon around the protocol: static files, graceful shutdown, logs."""
import json
import signal
import socket
import unittest

import websocket

from chatd_harness import Chatd, password_of, wait_for


def http_get_keepalive(port, paths):
    """GET each path on one kept-alive connection; [(status, body)]."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        buf = b""
        for path in paths:
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n" % path).encode())
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            status = int(lines[0].split()[1])
            length = next((int(l.split(":", 1)[1]) for l in lines if l.lower().startswith("content-length:")), 0)
            while len(buf) < length:
                buf += s.recv(65536)
            out.append((status, buf[:length]))
            buf = buf[length:]
    return out


def connect_raw(port, user):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"CONNECT\naccept-version:1.2\nhost:x\nlogin:%s\npasscode:%s\n\n\0"
              % (user.encode(), password_of(user).encode()))
    buf = b""
    while b"\0" not in buf:
        buf += s.recv(4096)
    assert buf.startswith(b"CONNECTED"), buf
    return s


def read_until_close(s):
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b


class Server(unittest.TestCase):
    def test_static_files_keepalive_and_404(self):
        with Chatd() as srv:
            res = http_get_keepalive(srv.http_port, ["/", "/app.css", "/desk.js", "/chatd-client/index.js", "/nope"])
            self.assertEqual([r[0] for r in res], [200, 200, 200, 200, 404])
            self.assertIn(b"<html", res[0][1])
            self.assertIn(b":root", res[1][1])
            self.assertIn(b"chatd-client", res[2][1])  # the pages use the client package (`make web`)
            self.assertIn(b"ChatClient", res[3][1])

    def test_sigterm_closes_every_session_properly(self):
        srv = Chatd().start()
        try:
            tcp = connect_raw(srv.stomp_port, "alice")
            ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % srv.http_port,
                                             subprotocols=["v12.stomp"], timeout=30)
            ws.send("CONNECT\naccept-version:1.2\nhost:x\nlogin:bob\npasscode:%s\n\n\0" % password_of("bob"))
            self.assertTrue(ws.recv().startswith("CONNECTED"))
            srv.proc.send_signal(signal.SIGTERM)
            out = read_until_close(tcp)
            self.assertTrue(out.startswith(b"ERROR\n"), out)
            self.assertIn(b"message:server shutting down\n", out)
            frame = ws.recv()
            self.assertIn("message:server shutting down", frame)
            opcode, data = ws.recv_data(control_frame=True)
            self.assertEqual(opcode, websocket.ABNF.OPCODE_CLOSE)
            self.assertEqual(int.from_bytes(data[:2], "big"), 1000)
            self.assertEqual(srv.proc.wait(timeout=20), 0)
            self.assertIn("shutting down", srv.read_log())
            tcp.close()
            ws.close()
        finally:
            srv.stop(expect_code=None)
            srv.cleanup()

    def test_json_logs(self):
        def edit(s):
            s["server"]["log_format"] = "json"
        with Chatd(edit) as srv:
            connect_raw(srv.stomp_port, "alice").close()
            wait_for(lambda: "connected as alice" in srv.read_log(), what="the session log line")
            lines = [l for l in srv.read_log().splitlines() if l.strip()]
        self.assertTrue(lines)
        records = [json.loads(l) for l in lines]  # every line is one JSON object
        self.assertTrue(all({"ts", "level", "source", "msg"} <= r.keys() for r in records))
        session = [r for r in records if "connected as alice" in r["msg"]]
        self.assertTrue(session and isinstance(session[0]["session"], int))

    def test_health_and_metrics(self):
        import urllib.request
        from rooms_client import Api, send_message, stomp
        with Chatd() as srv:
            base = "http://127.0.0.1:%d" % srv.http_port
            with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
                self.assertEqual((r.status, json.loads(r.read())["status"]), (200, "ready"))
            rid = Api(srv.http_port, "alice").post("/api/rooms", {"kind": "group", "title": "m"})[1]["id"]
            c = stomp(srv.stomp_port, "alice")
            c.send("SUBSCRIBE", {"id": "1", "destination": "/topic/rooms/" + rid, "receipt": "s"})
            c.expect("RECEIPT")
            c.send("SEND", {"destination": "/queue/jobs"}, "waiting")  # no one takes it
            send_message(c, rid, "counted", receipt="r")
            c.expect("RECEIPT")
            c.expect("MESSAGE")
            idle = socket.create_connection(("127.0.0.1", srv.stomp_port))  # no CONNECT yet
            self.addCleanup(idle.close)
            wait_for(lambda: "chatd_connections 2" in urllib.request.urlopen(base + "/metrics").read().decode(),
                     what="the idle connection counted")
            with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
                self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
                text = r.read().decode()
            c.close()
        values = dict(l.rsplit(" ", 1) for l in text.splitlines() if l and not l.startswith("#"))
        self.assertEqual(values["chatd_sessions"], "1")
        self.assertEqual(values["chatd_connections"], "2")
        self.assertEqual(values["chatd_subscriptions"], "1")
        self.assertEqual(values["chatd_queue_messages"], "1")
        self.assertEqual(values["chatd_messages_stored_total"], "1")
        self.assertEqual(values['chatd_store_seconds_bucket{le="+Inf"}'], "1")
        self.assertEqual(values['chatd_delivery_seconds_bucket{le="+Inf"}'], "1")
        self.assertGreaterEqual(int(values["chatd_frames_in_total"]), 2)

    def test_origin_not_allowed(self):
        with Chatd() as srv:
            with self.assertRaises(websocket.WebSocketException):
                websocket.create_connection("ws://127.0.0.1:%d/ws" % srv.http_port,
                                            subprotocols=["v12.stomp"], origin="http://evil.example", timeout=30)

    def test_websocket_only_at_ws(self):
        with Chatd() as srv:
            with self.assertRaises(websocket.WebSocketBadStatusException) as e:
                websocket.create_connection("ws://127.0.0.1:%d/elsewhere" % srv.http_port,
                                            subprotocols=["v12.stomp"], timeout=30)
            self.assertEqual(e.exception.status_code, 404)
            ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % srv.http_port, subprotocols=["v12.stomp"],
                                             timeout=30)
            ws.close()

    def test_websocket_without_subprotocol(self):
        with Chatd() as srv:
            ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % srv.http_port, timeout=30)
            ws.send("CONNECT\naccept-version:1.1\nhost:x\nlogin:bob\npasscode:%s\n\n\0" % password_of("bob"))
            self.assertIn("version:1.1", ws.recv())
            ws.close()


if __name__ == "__main__":
    unittest.main()
