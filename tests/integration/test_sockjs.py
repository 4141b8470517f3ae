"""SockJS at the WebSocket endpoint (docs/protocol.md, "SockJS"): bad input
gets a clear HTTP error or a SockJS close frame, sessions end as the
protocol says, and everyone else keeps being served."""
import http.client
import json
import socket
import threading
import time
import unittest
import uuid

import websocket

from chatd_harness import Chatd, OneServer, password_of, wait_for

HELLO = "안녕하세요 😀"


def stomp_frame(command, headers, body=""):
    return command + "\n" + "".join("%s:%s\n" % kv for kv in headers.items()) + "\n" + body + "\0"


class SockJS:
    """A SockJS session over xhr polling, spoken by hand."""

    def __init__(self, port, path="/ws", session=None):
        self.port = port
        self.base = "%s/000/%s" % (path, session or uuid.uuid4().hex[:12])

    def request(self, method, url, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, url, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read().decode()
        finally:
            c.close()

    def poll(self, timeout=10):
        status, _, body = self.request("POST", self.base + "/xhr", timeout=timeout)
        assert status == 200, (status, body)
        return body

    def send(self, body, headers=None):
        if isinstance(body, str):
            body = body.encode()
        return self.request("POST", self.base + "/xhr_send", body, headers)

    def send_frames(self, *frames):
        status, _, body = self.send(json.dumps(list(frames)))
        assert status == 204, (status, body)

    def messages(self, timeout=10):
        """Poll until an a[...] frame comes; its messages."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.poll()
            if body.startswith("a"):
                return json.loads(body[1:])
            if body.startswith("c"):
                raise AssertionError("closed: " + body)
        raise AssertionError("no messages")

    def open_connected(self, user):
        assert self.poll() == "o\n"
        self.send_frames(stomp_frame("CONNECT", {"accept-version": "1.2", "login": user,
                                                 "passcode": password_of(user), "heart-beat": "0,0"}))
        connected = "".join(self.messages())
        assert connected.startswith("CONNECTED\n"), connected
        return self


class SockJSBadInput(OneServer):
    @staticmethod
    def edit(s):
        s["server"].update({"sockjs_disconnect_delay": "1s", "sockjs_heartbeat": "2s"})
        s["stomp"].update({"max_frame_size": "4K", "max_body_size": "2K"})

    def setUp(self):
        self.watcher = self.raw("agent2")
        self.watcher.send("SUBSCRIBE", {"id": "1", "destination": "/topic/bystander", "receipt": "r"})
        self.watcher.expect("RECEIPT")

    def tearDown(self):
        # Whatever the test sent, a bystander is still served.
        p = self.raw("bob")
        text = "still here " + HELLO + " " + self.id()
        p.send("SEND", {"destination": "/topic/bystander"}, text)
        self.assertEqual(self.watcher.expect("MESSAGE").body, text.encode())

    def sockjs(self, **kw):
        return SockJS(self.server.http_port, **kw)

    def test_info_and_greeting(self):
        s = self.sockjs()
        status, headers, body = s.request("GET", "/ws/info")
        self.assertEqual(status, 200)
        info = json.loads(body)
        self.assertEqual(info["websocket"], True)
        self.assertEqual(info["cookie_needed"], False)
        self.assertEqual(info["origins"], ["*:*"])
        self.assertIsInstance(info["entropy"], int)
        self.assertIn("no-cache", headers["cache-control"])
        self.assertTrue(headers["content-type"].startswith("application/json"))
        status, _, body = s.request("GET", "/ws")
        self.assertEqual((status, body), (200, "Welcome to SockJS!\n"))

    def test_cors(self):
        s = self.sockjs()
        origin = "http://localhost:%d" % self.server.http_port
        status, headers, _ = s.request("OPTIONS", s.base + "/xhr_send",
                                       headers={"Origin": origin, "Access-Control-Request-Headers": "content-type"})
        self.assertEqual(status, 204)
        self.assertEqual(headers["access-control-allow-origin"], origin)
        self.assertEqual(headers["access-control-allow-credentials"], "true")
        self.assertEqual(headers["access-control-allow-methods"], "OPTIONS, POST")
        self.assertEqual(headers["access-control-allow-headers"], "content-type")
        self.assertGreater(int(headers["access-control-max-age"]), 0)
        status, headers, _ = s.request("OPTIONS", "/ws/info", headers={"Origin": origin})
        self.assertEqual((status, headers["access-control-allow-methods"]), (204, "OPTIONS, GET"))
        status, headers, _ = s.request("POST", s.base + "/xhr", headers={"Origin": origin})
        self.assertEqual(headers["access-control-allow-origin"], origin)
        # A foreign Origin is refused, as for WebSocket upgrades.
        for method, url in (("GET", "/ws/info"), ("POST", self.sockjs().base + "/xhr"),
                            ("OPTIONS", s.base + "/xhr_send")):
            status, _, body = s.request(method, url, headers={"Origin": "http://evil.example"})
            self.assertEqual((status, body), (403, "Origin not allowed."), (method, url))

    def test_malformed_posts(self):
        s = self.sockjs().open_connected("alice")
        cases = [
            (b"", 500, "Payload expected."),
            (b"   ", 500, "Payload expected."),
            (b"not json", 500, "Broken JSON encoding."),
            (b'{"a":"b"}', 500, "Broken JSON encoding."),
            (b'"a string"', 500, "Broken JSON encoding."),
            (b"[1, 2]", 500, "Broken JSON encoding."),
            (b'["a",]', 500, "Broken JSON encoding."),
            (b'["a"', 500, "Broken JSON encoding."),
            (b'["unterminated', 500, "Broken JSON encoding."),
            (b'["bad \\q escape"]', 500, "Broken JSON encoding."),
            (b'["bad \\u12x4 escape"]', 500, "Broken JSON encoding."),
            (b'["raw \x01 control"]', 500, "Broken JSON encoding."),
            (b'["a"] trailing', 500, "Broken JSON encoding."),
        ]
        for body, status, text in cases:
            with self.subTest(body=body):
                got = s.send(body)
                self.assertEqual((got[0], got[2]), (status, text))
        # None of it reached the session: it still works.
        s.send_frames(stomp_frame("SUBSCRIBE", {"id": "1", "destination": "/topic/sockjs.bad", "receipt": "r1"}))
        self.assertTrue("".join(s.messages()).startswith("RECEIPT\nreceipt-id:r1\n"))

    def test_unknown_session(self):
        s = self.sockjs()
        status, _, body = s.send('["x"]')
        self.assertEqual((status, body), (404, "Session not found."))

    def test_chunked_post_gets_411(self):
        s = self.sockjs().open_connected("alice")
        sock = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=10)
        try:
            sock.sendall(("POST %s/xhr_send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "6\r\n[\"\\n\"]\r\n0\r\n\r\n" % s.base).encode())
            answer = b""
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
        finally:
            sock.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 411 "), answer)
        self.assertTrue(answer.endswith(b"\r\n\r\nContent-Length required."), answer)

    def test_oversize_post(self):
        s = self.sockjs().open_connected("alice")
        # Above twice max_frame_size (4K) plus 64 KiB.
        big = json.dumps(["x" * (100 * 1024)])
        status, _, body = s.send(big)
        self.assertEqual((status, body), (413, "Payload too large."))
        # A STOMP body above max_body_size (2K) in a post that fits: ERROR, then close.
        s.send_frames(stomp_frame("SEND", {"destination": "/topic/sockjs.big"}, "y" * 5000))
        text = "".join(s.messages())
        self.assertTrue(text.startswith("ERROR\n"), text)
        self.assertIn("message:body too large", text)
        self.assertEqual(s.poll(), 'c[3000,"Go away!"]\n')

    def test_bad_stomp_closes_with_error_then_go_away(self):
        s = self.sockjs().open_connected("alice")
        s.send_frames("FLY\n\n\0")
        text = "".join(s.messages())
        self.assertTrue(text.startswith("ERROR\n"), text)
        self.assertIn("message:unknown command", text)
        self.assertEqual(s.poll(), 'c[3000,"Go away!"]\n')
        # A closed session: receivers get the close frame, sends a 404.
        self.assertEqual(s.poll(), 'c[3000,"Go away!"]\n')
        status, _, body = s.send('["SEND\\ndestination:/topic/x\\n\\n\\u0000"]')
        self.assertEqual((status, body), (404, "Session closed."))

    def test_another_receiver(self):
        s = self.sockjs().open_connected("alice")
        answers = []
        polls = [threading.Thread(target=lambda: answers.append(s.poll())) for _ in range(2)]
        for t in polls:
            t.start()
        for t in polls:
            t.join(10)
        # One poll is held until the SockJS heart-beat (2s) releases it; the
        # other, concurrent one is refused.
        self.assertEqual(sorted(answers), ['c[2010,"Another connection still open"]\n', "h\n"])
        s.send_frames(stomp_frame("DISCONNECT", {"receipt": "bye"}))
        self.assertTrue("".join(s.messages()).startswith("RECEIPT"))

    def test_polling_session_times_out(self):
        s = self.sockjs().open_connected("alice")
        s.send_frames(stomp_frame("SUBSCRIBE", {"id": "1", "destination": "/topic/sockjs.timeout", "receipt": "r"}))
        s.messages()
        # No receiving request for sockjs_disconnect_delay (1s): the STOMP
        # session ends (the core logs its close) and the session answers
        # with the close frame.
        line = "SockJS session %s: no receiving request for 1000 ms" % s.base.rsplit("/", 1)[1]
        wait_for(lambda: line in self.server.read_log(), what="the time-out")
        sid = [entry for entry in self.server.read_log().splitlines() if line in entry][0].split("session=")[1].split()[0]
        wait_for(lambda: "session=%s closed" % sid in self.server.read_log(), what="the core to see the close")
        self.assertEqual(s.poll(), 'c[3000,"Go away!"]\n')
        status, _, body = s.send('["\\n"]')
        self.assertEqual((status, body), (404, "Session closed."))

    def test_websocket_transport_bad_json(self):
        url = "ws://127.0.0.1:%d/ws/000/%s/websocket" % (self.server.http_port, uuid.uuid4().hex[:8])
        ws = websocket.create_connection(url, timeout=10)
        try:
            self.assertEqual(ws.recv(), "o")
            ws.send(json.dumps([stomp_frame("CONNECT", {"accept-version": "1.2", "login": "alice",
                                                        "passcode": password_of("alice")})]))
            self.assertTrue(json.loads(ws.recv()[1:])[0].startswith("CONNECTED\n"))
            ws.send("[\"SEND\\ndestination:/topic/x\\n\\n\", oops]")
            error = ws.recv()
            self.assertTrue(error.startswith("a["), error)
            self.assertIn("message:Broken JSON encoding.", json.loads(error[1:])[0])
            self.assertEqual(ws.recv(), 'c[3000,"Go away!"]')
        finally:
            ws.close()

    def test_websocket_transport_round_trip(self):
        url = "ws://127.0.0.1:%d/ws/000/%s/websocket" % (self.server.http_port, uuid.uuid4().hex[:8])
        ws = websocket.create_connection(url, timeout=10)
        try:
            self.assertEqual(ws.recv(), "o")
            # Frames split across messages and two frames in one message.
            connect = stomp_frame("CONNECT", {"accept-version": "1.2", "login": "alice",
                                              "passcode": password_of("alice")})
            ws.send(json.dumps([connect[:10]]))
            ws.send(json.dumps([connect[10:], stomp_frame("SUBSCRIBE", {"id": "1", "destination":
                                                                        "/topic/sockjs.ws", "receipt": "r"})]))
            got = ""
            while "RECEIPT" not in got:
                got += "".join(json.loads(ws.recv()[1:]))
            p = self.raw("bob")
            p.send("SEND", {"destination": "/topic/sockjs.ws"}, HELLO)
            msg = "".join(json.loads(ws.recv()[1:]))
            self.assertTrue(msg.startswith("MESSAGE\n"), msg)
            self.assertTrue(msg.endswith("\n\n" + HELLO + "\0") or ("\n\n" + HELLO + "\0") in msg, msg)
        finally:
            ws.close()


class SockJSLimits(OneServer):
    """Flow control and limits apply to SockJS sessions as to WebSocket."""

    @staticmethod
    def edit(s):
        s["server"].update({"sockjs_disconnect_delay": "30s"})
        s["stomp"].update({"max_outbound_bytes": "8K", "slow_consumer_timeout": "300ms",
                           "max_sends_per_second": "0", "max_send_bytes_per_second": "8K"})


    def test_a_session_that_stops_polling_is_a_slow_consumer(self):
        reader = SockJS(self.server.http_port).open_connected("alice")
        reader.send_frames(stomp_frame("SUBSCRIBE", {"id": "1", "destination": "/topic/sockjs.slow", "receipt": "r"}))
        reader.messages()
        # The reader does not poll: what it is sent waits in its queue. Past
        # half of max_outbound_bytes the publisher is held; after
        # slow_consumer_timeout the reader is cut off and the publisher goes on.
        p = self.raw("bob")
        for i in range(12):
            p.send("SEND", {"destination": "/topic/sockjs.slow"}, ("%d %s " % (i, HELLO)) * 60)
        p.send("SEND", {"destination": "/topic/sockjs.slow", "receipt": "done"}, "last")
        p.expect("RECEIPT")
        self.assertIn("slow consumer disconnected", self.server.read_log())
        body = reader.poll()
        while body.startswith("a"):  # what was queued before the cut, if any
            body = reader.poll()
        self.assertEqual(body, 'c[3000,"Go away!"]\n')

    def test_byte_rate_holds_the_xhr_send_answer(self):
        s = SockJS(self.server.http_port).open_connected("alice")
        # 24K of SENDs against 8K/s with a burst of 8K: reading pauses for
        # about two seconds, and the answer to the post waits for it.
        frames = [stomp_frame("SEND", {"destination": "/topic/sockjs.rate"}, HELLO + "x" * 8000) for _ in range(3)]
        start = time.monotonic()
        s.send_frames(*frames)
        first = time.monotonic() - start
        start = time.monotonic()
        s.send_frames(stomp_frame("SEND", {"destination": "/topic/sockjs.rate", "receipt": "paced"}, HELLO))
        waited = first + time.monotonic() - start
        self.assertGreater(waited, 1.5)
        got = "".join(s.messages())
        self.assertTrue(got.startswith("RECEIPT\nreceipt-id:paced\n"), got)


class SockJSLongRequests(OneServer):
    """A receiving request is held for as long as the session has nothing
    to say: here until the 7 s heart-beat, past the 5 s libwebsockets gives
    an unfinished HTTP request by default."""

    @staticmethod
    def edit(s):
        s["server"].update({"sockjs_heartbeat": "7s", "sockjs_disconnect_delay": "10s"})

    def test_streaming_and_polling_requests_outlast_five_seconds(self):
        polled = {}

        def poll():
            p = SockJS(self.server.http_port)
            assert p.poll() == "o\n"
            t0 = time.monotonic()
            polled["body"] = p.poll(timeout=20)
            polled["after"] = time.monotonic() - t0

        poller = threading.Thread(target=poll)
        poller.start()
        sock = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=20)
        try:
            sock.sendall(("POST /ws/000/%s/xhr_streaming HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Length: 0\r\n\r\n" % uuid.uuid4().hex[:12]).encode())
            got = b""
            while b"\no\n" not in got:
                chunk = sock.recv(4096)
                self.assertTrue(chunk, got)
                got += chunk
            t0 = time.monotonic()
            rest = got.split(b"\no\n", 1)[1]
            while b"\n" not in rest:
                chunk = sock.recv(4096)
                self.assertTrue(chunk, "the streaming response ended after %.1f s" % (time.monotonic() - t0))
                rest += chunk
            self.assertEqual(rest, b"h\n")
            self.assertGreater(time.monotonic() - t0, 6)
        finally:
            sock.close()
        poller.join()
        self.assertEqual(polled["body"], "h\n")
        self.assertGreater(polled["after"], 6)


class SockJSConnectionLimit(OneServer):
    @staticmethod
    def edit(s):
        s["server"].update({"max_connections_per_ip": "2"})

    def test_connections_per_ip_count_sockjs_sessions(self):
        a = SockJS(self.server.http_port).open_connected("alice")
        b = SockJS(self.server.http_port).open_connected("bob")
        refused = SockJS(self.server.http_port)
        self.assertEqual(refused.poll(), "o\n")
        error = "".join(refused.messages())
        self.assertTrue(error.startswith("ERROR\n"), error)
        self.assertIn("message:too many connections from this address", error)
        self.assertEqual(refused.poll(), 'c[3000,"Go away!"]\n')
        # A session that ends gives its place back.
        a.send_frames(stomp_frame("DISCONNECT", {"receipt": "bye"}))
        self.assertTrue("".join(a.messages()).startswith("RECEIPT"))
        self.assertEqual(a.poll(), 'c[3000,"Go away!"]\n')
        c = SockJS(self.server.http_port).open_connected("agent1")
        for s in (b, c):
            s.send_frames(stomp_frame("DISCONNECT", {"receipt": "bye"}))
            s.messages()


class SockJSShutdown(unittest.TestCase):
    def test_idle_polling_sessions_do_not_hold_the_shutdown(self):
        with Chatd(lambda s: s["server"].update({"shutdown_timeout": "20s"})) as srv:
            SockJS(srv.http_port).open_connected("alice")
            SockJS(srv.http_port).open_connected("bob")
            start = time.monotonic()
            srv.stop()
            # Not the 20 s bound: sessions without a receiving request end at once.
            self.assertLess(time.monotonic() - start, 5)


class SockJSPaths(OneServer):
    """websocket_paths with SockJS on one path only."""

    @staticmethod
    def edit(s):
        s["server"].update({"websocket_paths": "/ws, /ws-stomp", "sockjs": "/ws-stomp"})

    def test_sockjs_only_where_on(self):
        s = SockJS(self.server.http_port)
        self.assertEqual(s.request("GET", "/ws-stomp/info")[0], 200)
        self.assertEqual(s.request("GET", "/ws/info")[0], 404)
        j = SockJS(self.server.http_port, path="/ws-stomp").open_connected("alice")
        j.send_frames(stomp_frame("DISCONNECT", {"receipt": "bye"}))
        self.assertTrue("".join(j.messages()).startswith("RECEIPT"))

    def test_plain_websocket_at_both_paths(self):
        for path in ("/ws", "/ws-stomp"):
            ws = websocket.create_connection("ws://127.0.0.1:%d%s" % (self.server.http_port, path),
                                             subprotocols=["v12.stomp"], timeout=10)
            try:
                ws.send(stomp_frame("CONNECT", {"accept-version": "1.2", "login": "bob",
                                                "passcode": password_of("bob")}))
                self.assertTrue(ws.recv().startswith("CONNECTED\n"))
            finally:
                ws.close()
        with self.assertRaises(websocket.WebSocketBadStatusException):
            websocket.create_connection("ws://127.0.0.1:%d/elsewhere" % self.server.http_port,
                                        subprotocols=["v12.stomp"], timeout=10)


if __name__ == "__main__":
    unittest.main()
