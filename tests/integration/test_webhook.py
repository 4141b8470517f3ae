"""notify-webhook against a real HTTP receiver on loopback: signed POSTs,
once per message; retries with the same delivery id; a receiver that hangs
or is gone does not hold up the chat (docs/notifications.md)."""
import hashlib
import hmac
import http.server
import json
import os
import re
import socket
import threading
import unittest
import urllib.request

from chatd_harness import Chatd, wait_for
from rooms_client import Api, send_message, stomp, subscribe

SECRET = "s3cret-for-tests"


class Receiver:
    """A threaded HTTP server that records POSTs; `fail` answers 500 to the
    first N requests."""

    def __init__(self, fail=0):
        self.requests, self.fail = [], fail
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.requests.append((dict(self.headers), body))
                    failing = outer.fail > 0
                    outer.fail -= 1
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hooks/chat?src=chatd" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def verify(headers, body):
    t, v1 = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", headers["X-Chatd-Signature"]).groups()
    expected = hmac.new(SECRET.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, v1)


def plugin_events(srv):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.http_port, timeout=5) as r:
        text = r.read().decode()
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'chatd_plugin_events_total\{section="notify.push",event="(\w+)"\} (\d+)', text)}


class Webhook(unittest.TestCase):
    def chatd(self, url, **keys):
        def edit(s):
            s["notify.push"] = dict({"plugin": "webhook", "url": url, "secret": SECRET,
                                     "header.Authorization": "Bearer hook-token"}, **keys)
            s["notify"] = {"coalesce": "0"}
        srv = Chatd(edit).start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        return srv

    def room(self, srv, members=("bob", "agent1", "agent2")):
        api = Api(srv.http_port, "alice")
        return api.post("/api/rooms", {"kind": "group", "title": "hook", "members": list(members)})[1]["id"]

    def client(self, srv, user):
        c = stomp(srv.stomp_port, user)
        self.addCleanup(c.close)
        return c

    def test_signed_once_per_offline_member_and_message(self):
        rx = Receiver()
        self.addCleanup(rx.close)
        srv = self.chatd(rx.url)
        rid = self.room(srv)
        watcher = self.client(srv, "agent1")  # in the room: nothing
        subscribe(watcher, "/topic/rooms/" + rid)
        watcher.expect("RECEIPT")
        online = self.client(srv, "agent2")  # connected: in-band only
        subscribe(online, "/user/queue/notifications")
        online.expect("RECEIPT")
        a = self.client(srv, "alice")
        for i in range(3):
            send_message(a, rid, "hook %d" % i, receipt="h%d" % i)
            a.expect("RECEIPT")
        wait_for(lambda: len(rx.requests) >= 3, what="three POSTs")
        wait_for(lambda: plugin_events(srv).get("delivered") == 3, what="three deliveries counted")
        self.assertEqual(len(rx.requests), 3)
        bodies = [json.loads(b) for _, b in rx.requests]
        self.assertEqual(sorted(b["seq"] for b in bodies), [1, 2, 3])
        self.assertTrue(all(b["recipient"] == "bob" and b["room"] == rid for b in bodies))
        for headers, body in rx.requests:
            self.assertTrue(verify(headers, body), "bad signature")
            self.assertEqual(headers["Authorization"], "Bearer hook-token")
            self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(len({h["X-Chatd-Delivery"] for h, _ in rx.requests}), 3)

    def test_failing_receiver_gets_retries(self):
        rx = Receiver(fail=2)
        self.addCleanup(rx.close)
        srv = self.chatd(rx.url, retry_delay="50ms")
        rid = self.room(srv, ["bob"])
        a = self.client(srv, "alice")
        send_message(a, rid, "retry me", receipt="r")
        a.expect("RECEIPT")
        wait_for(lambda: plugin_events(srv).get("delivered") == 1, what="delivery after two failures")
        self.assertEqual(len(rx.requests), 3)
        # The same delivery, body and signature each time: the receiver can dedupe.
        self.assertEqual(len({(h["X-Chatd-Delivery"], h["X-Chatd-Signature"], b) for h, b in rx.requests}), 1)
        self.assertEqual(plugin_events(srv).get("retried"), 2)

    def test_hung_receiver_does_not_hold_up_the_chat(self):
        # A listener that never accepts: connections hang until the timeout.
        hung = socket.socket()
        hung.bind(("127.0.0.1", 0))
        hung.listen(1)
        self.addCleanup(hung.close)
        srv = self.chatd("http://127.0.0.1:%d/" % hung.getsockname()[1], timeout="300ms", retries="1",
                         retry_delay="50ms", max_queue="5", concurrency="2")
        rid = self.room(srv)
        watcher = self.client(srv, "agent1")
        subscribe(watcher, "/topic/rooms/" + rid)
        watcher.expect("RECEIPT")
        a = self.client(srv, "alice")
        for i in range(40):
            send_message(a, rid, "busy %d" % i, receipt="b%d" % i)
        for i in range(40):
            self.assertEqual(a.expect("RECEIPT", timeout=5).headers["receipt-id"], "b%d" % i)
        got = [watcher.expect("MESSAGE", timeout=5) for _ in range(40)]
        self.assertEqual([int(f.headers["seq"]) for f in got], list(range(1, 41)))
        # The queue stayed bounded; what it could not hold is counted, and the
        # ones it held are given up on after their retries.
        wait_for(lambda: plugin_events(srv).get("dropped", 0) > 0, what="drops counted")
        wait_for(lambda: plugin_events(srv).get("failed", 0) > 0, timeout=15, what="give-ups counted")

    def test_preview_is_the_text_cut_on_a_character_boundary(self):
        """An offline member's notification carries the message's text (the
        `text` of a JSON body), cut after [notify] preview_length characters
        without splitting one (docs/notifications.md)."""
        rx = Receiver()
        self.addCleanup(rx.close)
        srv = self.chatd(rx.url)
        rid = self.room(srv, ["bob"])
        a = self.client(srv, "alice")
        korean = "안녕하세요" * 10 + " 😀 " + "반갑습니다" * 30  # 203 characters, 608 bytes
        family = "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"
        sends = [
            ({"content-type": "application/json"}, json.dumps({"text": korean}), korean[:140]),
            ({"content-type": "text/plain"}, korean, korean[:140]),
            ({}, "e\u0301" * 139 + family + "\U0001F1F0\U0001F1F7", "e\u0301" * 139 + family),
        ]
        for i, (headers, body, _) in enumerate(sends):
            h = {"destination": "/app/rooms/%s/send" % rid, "receipt": "k%d" % i}
            h.update(headers)
            a.send("SEND", h, body)
            a.expect("RECEIPT")
        wait_for(lambda: len(rx.requests) >= len(sends), what="one POST per message")
        got = {b["seq"]: b for b in (json.loads(body) for _, body in rx.requests)}
        for i, (_, _, preview) in enumerate(sends):
            self.assertEqual((got[i + 1]["recipient"], got[i + 1]["preview"]), ("bob", preview), "message %d" % (i + 1))

    def test_preview_length_counts_characters(self):
        rx = Receiver()
        self.addCleanup(rx.close)

        def edit(s):
            s["notify.push"] = {"plugin": "webhook", "url": rx.url}
            s["notify"] = {"coalesce": "0", "preview_length": "3"}
        srv = Chatd(edit).start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        rid = self.room(srv, ["bob"])
        a = self.client(srv, "alice")
        flags = "\U0001F1F0\U0001F1F7\U0001F1EF\U0001F1F5\U0001F1FA\U0001F1F8\U0001F1EB\U0001F1F7"
        texts = [("안녕하세요", "안녕하"), ("😀😀😀😀", "😀😀😀"), (flags, flags[:6]),
                 ("\u1100\u1161" * 4, "\u1100\u1161" * 3), ("ab", "ab")]
        for i, (text, _) in enumerate(texts):
            send_message(a, rid, text, receipt="t%d" % i)
            a.expect("RECEIPT")
        wait_for(lambda: len(rx.requests) >= len(texts), what="one POST per message")
        got = {b["seq"]: b["preview"] for b in (json.loads(body) for _, body in rx.requests)}
        self.assertEqual([got[i + 1] for i in range(len(texts))], [p for _, p in texts])

    def test_bad_url_is_a_config_error(self):
        srv = Chatd(lambda s: s.update({"notify.push": {"plugin": "webhook", "url": "ftp://x/"}}))
        self.addCleanup(srv.cleanup)
        import subprocess
        from chatd_harness import CHATD_BIN
        out = subprocess.run([CHATD_BIN, "--check-config", srv.config], capture_output=True, text=True)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("[notify.push] url:", out.stderr + out.stdout)


if __name__ == "__main__":
    unittest.main()
