"""chat-bench (bench/) against chatd over every transport it speaks: the
load generator behind bench/RESULTS.md sets its sessions up, and every
message it publishes reaches every member, over plain WebSocket, raw TCP
and SockJS (websocket, and xhr-streaming with streaming responses cut
short so that clients keep opening the next). A check of the tool, and of
chatd's SockJS under many sessions at once."""
import json
import os
import subprocess
import unittest

from chatd_harness import OneServer, password_of

BENCH = os.environ.get("CHAT_BENCH", "../../build/bench/chat-bench")


class ChatBench(OneServer):
    @staticmethod
    def edit(s):
        # 4K: a streaming response carries a few dozen messages, then the
        # client opens the next one.
        s["server"].update({"sockjs_response_limit": "4K", "max_connections_per_ip": "0"})
        s["stomp"].update({"max_sends_per_second": "0"})

    def bench(self, url, *args):
        out = subprocess.run([BENCH, "--url", url, "--login", "alice", "--passcode", password_of("alice"),
                              "--destination-prefix", "/topic/bench.", "--json", *args],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def urls(self):
        http, stomp = self.server.http_port, self.server.stomp_port
        return {"ws": "ws://127.0.0.1:%d/ws" % http, "tcp": "tcp://127.0.0.1:%d" % stomp,
                "sockjs-ws": "sockjs-ws://127.0.0.1:%d/ws" % http,
                "sockjs-xhr": "sockjs-xhr://127.0.0.1:%d/ws" % http}

    def test_fanout_over_every_transport(self):
        for transport, url in self.urls().items():
            with self.subTest(transport=transport):
                r = self.bench(url, "--scenario", "fanout", "--sessions", "60", "--rooms", "6", "--members", "10",
                               "--rate", "200", "--duration", "1", "--drain", "10", "--body-size", "300")
                self.assertEqual(r["transport"], transport)
                self.assertEqual(r["ready"], 60)
                self.assertGreater(r["expected_total"], 0)
                self.assertEqual(r["delivered_total"], r["expected_total"])
                self.assertEqual(r["error_frames"] + r["disconnects"] + r["connect_failures"] + r["timeouts"], 0)

    def test_idle_sessions_over_sockjs(self):
        for transport in ("sockjs-ws", "sockjs-xhr"):
            with self.subTest(transport=transport):
                r = self.bench(self.urls()[transport], "--scenario", "idle", "--sessions", "200", "--duration", "1")
                self.assertEqual(r["ready"], 200)
                self.assertEqual(r["error_frames"] + r["disconnects"] + r["connect_failures"], 0)

    def test_blast_is_refused_over_sockjs(self):
        out = subprocess.run([BENCH, "--url", self.urls()["sockjs-xhr"], "--scenario", "blast", "--readers", "1"],
                             capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("blast runs over ws:// or tcp://", out.stderr)


if __name__ == "__main__":
    unittest.main()
