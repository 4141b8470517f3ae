"""Reconnect storms (docs/operations.md, "Reconnect storms"): after a
restart every client comes back at once. [stomp] connect_timeout bounds only
a client's time to send CONNECT, not the server's time to verify it;
auth-static verifies on its worker threads, shares one verification among
identical CONNECTs, remembers a success for [auth] cache_ttl (never a
failure; a reload forgets), and beyond [auth] max_pending answers the
retryable ERROR `server busy, retry` with a retry-after header."""
import base64
import concurrent.futures
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from chatd_harness import Recorder, hash_password, wait_for
from raw_stomp import RawStomp
from stomp_ws import WSConnection12
from test_reload import Server

BENCH = os.environ.get("CHAT_BENCH", "../../build/bench/chat-bench")

# What the shipped chat.ini hashes with: the cost a storm pays.
ITERATIONS = 100000


def pw(i):
    return "비밀번호🔑%d" % i


def auth_counters(srv):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.http_port, timeout=10) as r:
        text = r.read().decode()
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'^chatd_plugin_events_total\{section="auth",event="(\w+)"\} (\d+)$', text, re.M)}


def storm_users(n):
    return {"storm%d" % i: hash_password(pw(i), iterations=ITERATIONS) for i in range(n)}


class Storm(unittest.TestCase):
    def start(self, users, stomp=None, auth=None):
        def edit(sec):
            sec["auth"].update({"user.%s.password" % u: h for u, h in users.items()})
            sec["auth"].update(auth or {})
            sec["stomp"].update(stomp or {})
        s = Server(edit)
        s.start()
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        return s

    def burst(self, srv, logins):
        """Every CONNECT sent before any answer is read: [(client, frame)]."""
        clients = []
        for login, passcode in logins:
            c = RawStomp(srv.stomp_port, timeout=30)
            self.addCleanup(c.close)
            clients.append(c)
        for c, (login, passcode) in zip(clients, logins):
            c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": login, "passcode": passcode})
        return [(c, c.read(timeout=30)) for c in clients]

    def test_burst_longer_than_connect_timeout_all_connect(self):
        """One hashing thread, 40 users at 100,000 iterations: verifying them
        all takes longer than connect_timeout, and every client still gets
        its CONNECTED; a client that sends nothing still times out."""
        n = 40
        srv = self.start(storm_users(n), stomp={"connect_timeout": "300ms"}, auth={"workers": "1"})
        t0 = time.monotonic()
        answers = self.burst(srv, [("storm%d" % i, pw(i)) for i in range(n)])
        took = time.monotonic() - t0
        for i, (c, f) in enumerate(answers):
            self.assertIsNotNone(f, "no answer to storm%d" % i)
            self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "storm%d" % i), f.headers)
        self.assertGreater(took, 0.3, "the burst must outlast connect_timeout to show anything")
        self.assertEqual(auth_counters(srv).get("verifications"), n)

        silent = RawStomp(srv.stomp_port)
        self.addCleanup(silent.close)
        f = silent.read()
        self.assertEqual((f.command, f.headers.get("message")), ("ERROR", "timed out waiting for CONNECT"))

    def test_backlog_beyond_max_pending_is_shed_with_retry_after(self):
        n = 24
        srv = self.start(storm_users(n), stomp={"busy_retry_after": "1s"}, auth={"workers": "1", "max_pending": "3"})
        answers = self.burst(srv, [("storm%d" % i, pw(i)) for i in range(n)])
        busy = []
        for i, (c, f) in enumerate(answers):
            self.assertIsNotNone(f, "no answer to storm%d" % i)
            if f.command == "CONNECTED":
                continue
            self.assertEqual((f.command, f.headers.get("message")), ("ERROR", "server busy, retry"), f.headers)
            self.assertIn(f.headers.get("retry-after"), ("1", "2"))  # [busy_retry_after, 2 x busy_retry_after]
            self.assertIn(b"Connect again in", f.body)
            busy.append(i)
        self.assertGreaterEqual(len(busy), 1, "three in the backlog, 24 at once: some must be shed")
        self.assertLessEqual(len(busy), n - 3, "the first three fit in the backlog")
        self.assertEqual(auth_counters(srv).get("shed"), len(busy))
        # Each shed client that comes back is let in.
        for i in busy:
            c = RawStomp(srv.stomp_port)
            self.addCleanup(c.close)
            c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": "storm%d" % i, "passcode": pw(i)})
            self.assertEqual(c.expect("CONNECTED").headers["user-name"], "storm%d" % i)

    def test_rest_calls_beyond_max_pending_get_503_with_retry_after(self):
        """The same shedding over REST: 503 `server busy, retry` with a
        Retry-After header, and the call succeeds when made again."""
        n = 16
        srv = self.start(storm_users(n), stomp={"busy_retry_after": "1s"}, auth={"workers": "1", "max_pending": "2"})

        def call(i):
            token = base64.b64encode(("storm%d:%s" % (i, pw(i))).encode()).decode()
            req = urllib.request.Request("http://127.0.0.1:%d/api/rooms" % srv.http_port,
                                         headers={"Authorization": "Basic " + token})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(e.read())
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(call, range(n)))
        busy = [i for i, (status, _, _) in enumerate(answers) if status != 200]
        self.assertGreaterEqual(len(busy), 1, "two in the backlog, 16 at once: some must be shed")
        for i in busy:
            status, headers, body = answers[i]
            self.assertEqual((status, body["error"]), (503, "unavailable"), body)
            self.assertTrue(body["message"].startswith("server busy, retry"), body)
            self.assertIn(headers.get("retry-after"), ("1", "2"), headers)
        for i in busy:
            self.assertEqual(call(i)[0], 200)

    def test_shutdown_during_verifications_answers_and_frees_them(self):
        """SIGTERM while sign-ins are being verified (one hashing, others
        queued): chatd exits cleanly (under AddressSanitizer: nothing left
        unfreed), the waiting clients get an ERROR or the connection ends."""
        users = {"slow%d" % i: hash_password(pw(i), iterations=1000000) for i in range(3)}
        srv = self.start(users, auth={"workers": "1"})
        clients = []
        for i in range(3):
            c = RawStomp(srv.stomp_port, timeout=30)
            self.addCleanup(c.close)
            c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": "slow%d" % i, "passcode": pw(i)})
            clients.append(c)
        wait_for(lambda: auth_counters(srv).get("verifications", 0) >= 1, what="a verification under way")
        srv.stop()  # raises unless chatd exits 0
        for c in clients:
            f = c.read(timeout=10)
            self.assertTrue(f is None or f.command == "ERROR", f)

    def test_identical_credentials_share_one_verification(self):
        srv = self.start(storm_users(1), auth={"workers": "1"})
        answers = self.burst(srv, [("storm0", pw(0))] * 20)
        for c, f in answers:
            self.assertEqual(f.command, "CONNECTED", f.headers)
        got = auth_counters(srv)
        self.assertEqual(got.get("verifications"), 1, got)
        self.assertEqual(got.get("coalesced", 0) + got.get("cache_hits", 0), 19, got)

    def ws_connect(self, srv, user, passcode):
        """stomp.py over WebSocket: the CONNECTED or ERROR frame's command."""
        c = WSConnection12("ws://127.0.0.1:%d/ws" % srv.http_port, origin="http://localhost:%d" % srv.http_port)
        rec = Recorder()
        c.set_listener("r", rec)
        try:
            c.connect(user, passcode, wait=True)
        except Exception:
            rec.wait_error()
            return "ERROR", rec.errors[0].headers.get("message")
        finally:
            if c.is_connected():
                c.disconnect()
        return "CONNECTED", None

    def test_cache_hits_never_holds_a_wrong_password_and_is_dropped_on_reload(self):
        srv = self.start(storm_users(1))
        user, right = "storm0", pw(0)

        def expect(verifications, cache_hits):
            got = auth_counters(srv)
            self.assertEqual((got.get("verifications", 0), got.get("cache_hits", 0)), (verifications, cache_hits), got)

        self.assertEqual(self.ws_connect(srv, user, right), ("CONNECTED", None))
        expect(1, 0)
        self.assertEqual(self.ws_connect(srv, user, right), ("CONNECTED", None))
        expect(1, 1)
        # A wrong password is hashed every time, before and after a right one.
        for _ in range(2):
            self.assertEqual(self.ws_connect(srv, user, "wrong 🔑"), ("ERROR", "bad credentials"))
        expect(3, 1)
        self.assertEqual(self.ws_connect(srv, user, right), ("CONNECTED", None))
        expect(3, 2)
        # A reload starts an empty cache; the counters go on.
        srv.reload()
        self.assertEqual(self.ws_connect(srv, user, right), ("CONNECTED", None))
        expect(4, 2)
        self.assertEqual(self.ws_connect(srv, user, right), ("CONNECTED", None))
        expect(4, 3)

    def test_cache_off(self):
        srv = self.start(storm_users(1), auth={"cache_ttl": "0"})
        for _ in range(2):
            self.assertEqual(self.ws_connect(srv, "storm0", pw(0)), ("CONNECTED", None))
        got = auth_counters(srv)
        self.assertEqual((got.get("verifications"), got.get("cache_hits", 0)), (2, 0), got)


    def test_chat_bench_storm_every_session_back(self):
        """chat-bench (bench/storm.sh): the connect scenario retries what the
        server sheds, after its retry-after, until every session is in; the
        reconnect scenario drops them all at once and gets every one back."""
        n = 30
        srv = self.start(storm_users(n), stomp={"busy_retry_after": "1s"},
                         auth={"workers": "1", "max_pending": "3"})
        with tempfile.NamedTemporaryFile("w", suffix=".users", delete=False) as f:
            f.write("".join("storm%d %s\n" % (i, pw(i)) for i in range(n)))
        self.addCleanup(os.unlink, f.name)

        def bench(scenario):
            out = subprocess.run([BENCH, "--url", "ws://127.0.0.1:%d/ws" % srv.http_port, "--users", f.name,
                                  "--scenario", scenario, "--sessions", str(2 * n), "--concurrency", str(2 * n),
                                  "--json"], capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            return json.loads(out.stdout.strip().splitlines()[-1])
        r = bench("connect")
        self.assertEqual((r["ready"], r["failed"], r["error_frames"]), (2 * n, 0, 0), r)
        self.assertGreater(r["retries"], 0, "three in the backlog, thirty users at once: some must be shed")
        r = bench("reconnect")
        self.assertEqual((r["first_ready"], r["ready"], r["failed"], r["error_frames"]), (2 * n, 2 * n, 0, 0), r)
        self.assertLessEqual(r["setup_p99_ms"], r["setup_max_ms"])


if __name__ == "__main__":
    unittest.main()
