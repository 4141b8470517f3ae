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

from chatd_harness import OneServer, hash_password, password_of

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


class ChatBenchDesk(OneServer):
    """The desk scenario: customers with Korean names open support rooms,
    least-busy routing gives them to two agents held to two chats each."""

    CUSTOMERS = 12

    @staticmethod
    def edit(s):
        s["server"]["max_connections_per_ip"] = "0"
        s["support"] = {"assign": "least_busy", "max_chats_per_agent": "2"}
        for i in range(1, ChatBenchDesk.CUSTOMERS + 1):
            s["auth"]["user.고객%d.password" % i] = hash_password(password_of("고객%d" % i))
            s["auth"]["user.고객%d.roles" % i] = "user"

    def test_every_room_is_assigned_answered_and_completed(self):
        out = subprocess.run([BENCH, "--scenario", "desk", "--url", "tcp://127.0.0.1:%d" % self.server.stomp_port,
                              "--http-url", "http://127.0.0.1:%d" % self.server.http_port,
                              "--sessions", str(self.CUSTOMERS), "--login", "고객%d", "--passcode", "고객%d-pw",
                              "--agents", "2", "--agent-passcode", "agent%d-pw", "--max-chats", "2",
                              "--rate", "20", "--think-time", "0.2", "--warmup", "0.2", "--duration", "30",
                              "--json"], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        n = self.CUSTOMERS
        self.assertEqual(r["ready"], n + 2)
        self.assertTrue(r["all_handled"], r)
        self.assertEqual((r["opened"], r["open_ok"], r["completed"]), (n, n, n))
        # Every room was seen assigned by its customer and its agent, and answered.
        self.assertEqual((r["assign_customer_samples"], r["assign_agent_samples"], r["wait_samples"]), (n, n, n))
        self.assertGreater(r["assign_customer_p50_ms"], 0)
        # The agent answers once it has the room: no customer waits less than that.
        self.assertGreaterEqual(r["wait_p50_ms"], r["assign_agent_p50_ms"])
        self.assertGreater(r["rooms_per_s"], 0)
        # Two agents at two chats each: both worked, neither above the limit.
        self.assertEqual(r["agent_peak_chats"], 2)
        self.assertEqual(r["agents_over_limit"], 0)
        self.assertGreater(r["agent_rooms_min"], 0)
        self.assertEqual(r["error_frames"] + r["disconnects"] + r["connect_failures"] + r["http_errors"] +
                         r["double_assigned"] + r["unknown_rooms"], 0)

    def test_desk_needs_an_http_url_per_instance(self):
        out = subprocess.run([BENCH, "--scenario", "desk", "--url", "tcp://127.0.0.1:%d" % self.server.stomp_port,
                              "--login", "고객%d"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--http-url", out.stderr)


if __name__ == "__main__":
    unittest.main()
