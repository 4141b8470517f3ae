"""The example plugins in a running chatd, as a user meets them:
auth-csv logs users in from a CSV file, broker-unixdgram carries events
between two instances on one host, storage-files keeps every receipted
message across a kill and a restart.

Environment: CHATD_BIN, CHATD_PLUGIN_DIR (the shipped plugins the rest of
the config uses), CHATD_EXAMPLES_DIR (where the examples' .so files are:
the build tree, or an out-of-tree build; see out_of_tree.sh),
CHATD_STORAGE_CONFORMANCE (tests/storage's binary, for the write-failure
test)."""
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from chatd_harness import CHATD_BIN, PLUGIN_DIR, Chatd, wait_for  # noqa: E402
from raw_stomp import RawStomp  # noqa: E402
from rooms_client import Api, check_receipted, history, send_message  # noqa: E402

EXAMPLES = os.environ.get("CHATD_EXAMPLES_DIR", PLUGIN_DIR)
CONFORMANCE = os.environ.get("CHATD_STORAGE_CONFORMANCE")


def example(name):
    return os.path.join(EXAMPLES, name + ".so")


def connect(port, login, passcode):
    c = RawStomp(port)
    c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": login, "passcode": passcode})
    return c, c.read()


class AuthCsv(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-csv-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.csv = os.path.join(self.dir, "users.csv")
        with open(self.csv, "w") as f:
            f.write("# user,password,roles\n"
                    "alice,alice-secret,user\n"
                    "\n"
                    "carol,pa,ss word,user | agent\n")

    def edit(self, s):
        s["auth"] = {"plugin": example("auth_csv"), "path": self.csv}

    def test_users_log_in_with_their_password_and_roles(self):
        with Chatd(self.edit) as srv:
            alice, f = connect(srv.stomp_port, "alice", "alice-secret")
            self.assertEqual(f.command, "CONNECTED", f)
            self.assertEqual(f.headers.get("user-name"), "alice")
            # The password runs from the first comma to the last.
            carol, f = connect(srv.stomp_port, "carol", "pa,ss word")
            self.assertEqual(f.command, "CONNECTED", f)
            # Roles reach chatd: only agents may watch the support queue.
            for c, expected in ((carol, "RECEIPT"), (alice, "ERROR")):
                c.send("SUBSCRIBE", {"id": "q", "destination": "/topic/support/queue", "receipt": "q"})
                self.assertEqual(c.expect(expected).command, expected)
            alice.close()
            carol.close()

    def test_a_wrong_password_or_user_is_refused(self):
        with Chatd(self.edit) as srv:
            for login, passcode in (("alice", "alice-secreT"), ("alice", "alice-secret "), ("alice", ""),
                                    ("mallory", "alice-secret"), ("", "")):
                with self.subTest(login=login, passcode=passcode):
                    c, f = connect(srv.stomp_port, login, passcode)
                    self.assertIsNotNone(f)
                    self.assertEqual(f.command, "ERROR", f)
                    self.assertEqual(f.headers.get("message"), "bad credentials")
                    self.assertTrue(c.wait_closed())
                    c.close()

    def test_a_bad_line_names_file_and_line(self):
        with open(self.csv, "a") as f:
            f.write("dave,pw,admin\n")
        srv = Chatd(self.edit)
        self.addCleanup(srv.cleanup)
        p = subprocess.run([CHATD_BIN, "--check-config", "-c", srv.config], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stderr.strip(), "%s: [auth] path: %s:5: roles must be user, agent or user|agent"
                         % (srv.config, self.csv))


class BrokerUnixDgram(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-ud-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def instance(self, name):
        def edit(s):
            s["broker"] = {"plugin": example("broker_unixdgram"), "dir": self.dir, "name": name}
        return Chatd(edit)

    def sock(self, name):
        return os.path.join(self.dir, name + ".sock")

    def test_a_topic_message_reaches_the_other_instance(self):
        with self.instance("a") as a, self.instance("b") as b:
            self.assertTrue(os.path.exists(self.sock("a")) and os.path.exists(self.sock("b")))
            subs = {}
            for srv, user in ((a, "alice"), (b, "bob")):
                c = RawStomp(srv.stomp_port)
                c.connect(user)
                c.send("SUBSCRIBE", {"id": "x", "destination": "/topic/x", "receipt": "sx"})
                c.expect("RECEIPT")
                subs[user] = c
            pub = RawStomp(a.stomp_port)
            pub.connect("agent1")
            pub.send("SEND", {"destination": "/topic/x", "receipt": "p1"}, "hello from a")
            pub.expect("RECEIPT")
            # On the other instance, and on the publisher's own: its socket is in the directory too.
            for user in ("bob", "alice"):
                m = subs[user].expect("MESSAGE")
                self.assertEqual((m.headers.get("destination"), m.body), ("/topic/x", b"hello from a"))
            # Only /topic/x reaches bob's subscription: the next thing he sees is the next x message.
            pub.send("SEND", {"destination": "/topic/y", "receipt": "p2"}, "not for bob")
            pub.send("SEND", {"destination": "/topic/x", "receipt": "p3"}, "second")
            pub.expect("RECEIPT")
            pub.expect("RECEIPT")
            self.assertEqual(subs["bob"].expect("MESSAGE").body, b"second")
            for c in list(subs.values()) + [pub]:
                c.close()
        # fini unlinks each instance's socket.
        self.assertEqual(sorted(os.listdir(self.dir)), [])

    def test_a_stale_socket_is_removed_and_does_not_block_the_rest(self):
        # An instance that died without unlinking: bound once, nobody reads it.
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        dead.bind(self.sock("dead"))
        dead.close()
        with self.instance("a") as a, self.instance("b") as b:
            sub = RawStomp(b.stomp_port)
            sub.connect("bob")
            sub.send("SUBSCRIBE", {"id": "x", "destination": "/topic/x", "receipt": "sx"})
            sub.expect("RECEIPT")
            pub = RawStomp(a.stomp_port)
            pub.connect("alice")
            pub.send("SEND", {"destination": "/topic/x", "receipt": "p1"}, "still delivered")
            pub.expect("RECEIPT")
            self.assertEqual(sub.expect("MESSAGE").body, b"still delivered")
            wait_for(lambda: not os.path.exists(self.sock("dead")), what="the stale socket to go")
            sub.close()
            pub.close()

    def test_a_second_instance_with_the_same_name_is_refused(self):
        with self.instance("a"):
            other = self.instance("a")
            self.addCleanup(other.cleanup)
            p = subprocess.run([CHATD_BIN, "--check-config", "-c", other.config], capture_output=True,
                               text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("[broker] name: cannot bind %s: another running instance uses this name"
                          % self.sock("a"), p.stderr)
            self.assertTrue(os.path.exists(self.sock("a")))  # the live one keeps its socket


class StorageFiles(unittest.TestCase):
    def test_receipted_messages_survive_sigkill_and_restart(self):
        data = tempfile.mkdtemp(prefix="chatd-files-")
        self.addCleanup(shutil.rmtree, data, True)
        log = os.path.join(data, "chat.log")

        def edit(s):
            s["storage"] = {"plugin": example("storage_files"), "path": log}

        srv = Chatd(edit).start()
        self.addCleanup(srv.cleanup)
        api = Api(srv.http_port, "alice")
        rid = api.post("/api/rooms", {"kind": "group", "title": "files", "members": ["bob"]})[1]["id"]
        receipted = {}

        def sender(user):
            c = RawStomp(srv.stomp_port)
            c.connect(user)
            done = receipted.setdefault(user, [])
            try:
                for i in range(100000):
                    cid = "%s-%d" % (user, i)
                    send_message(c, rid, "%s says %d" % (user, i), receipt=cid, client_id=cid)
                    f = c.read(timeout=10)
                    if f is None or f.command != "RECEIPT":
                        return
                    done.append(cid)
            except OSError:
                return
            finally:
                c.close()

        threads = [threading.Thread(target=sender, args=(u,)) for u in ("alice", "bob")]
        for t in threads:
            t.start()
        wait_for(lambda: sum(len(v) for v in receipted.values()) >= 100, timeout=30, what="100 receipts")
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        for t in threads:
            t.join()
        srv.log.close()
        # A crash in the middle of an append leaves a line without its end;
        # nobody was told it succeeded, and the restart cuts it off.
        with open(log, "ab") as f:
            f.write(b'{"op":"message","room":"%s","sender":"alice","client_id":"torn' % rid.encode())

        again = Chatd(edit)
        again.start()
        try:
            api = Api(again.http_port, "alice")
            stored = history(api, rid)
            check_receipted(self, stored, receipted)
            # The restarted instance appends after the replayed history.
            c = RawStomp(again.stomp_port)
            c.connect("bob")
            send_message(c, rid, "after the restart", receipt="r")
            c.expect("RECEIPT")
            c.close()
            newest = api.get("/api/rooms/%s/messages?limit=1" % rid)[1]["messages"][0]
            self.assertEqual(newest["seq"], len(stored) + 1)
        finally:
            again.stop()
            again.cleanup()
        with open(log, "rb") as f:
            self.assertTrue(f.read().endswith(b"\n"))
        self.assertNotIn("torn", [m["client_id"] for m in stored])

    @unittest.skipUnless(CONFORMANCE, "CHATD_STORAGE_CONFORMANCE not set")
    def test_a_failed_write_fails_the_operations_instead_of_acknowledging_them(self):
        data = tempfile.mkdtemp(prefix="chatd-files-")
        self.addCleanup(shutil.rmtree, data, True)
        log = os.path.join(data, "chat.log")

        def small_disk():  # the log may grow to 4 KiB; past that, write() fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

        p = subprocess.run([CONFORMANCE, example("storage_files"), "path=" + log], capture_output=True,
                           text=True, timeout=60, preexec_fn=small_disk)
        self.assertNotIn("Sanitizer", p.stderr)
        self.assertEqual(p.returncode, 1, p.stderr)
        # The appends past the limit say so, rather than claiming a seq.
        self.assertRegex(p.stderr, r"FAIL .*append \d+: backend unavailable")
        self.assertLessEqual(os.path.getsize(log), 4096)

    def test_a_corrupt_line_stops_the_start_and_names_it(self):
        data = tempfile.mkdtemp(prefix="chatd-files-")
        self.addCleanup(shutil.rmtree, data, True)
        log = os.path.join(data, "chat.log")
        with open(log, "w") as f:
            f.write('{"op":"create","room":"r1","kind":3,"state":1,"title":"t","owner":"alice","agent":null,'
                    '"created_ms":1,"assigned_ms":0,"members":["alice"],"unique_key":null}\n'
                    'garbage\n'
                    '{"op":"join","room":"r1","user":"bob"}\n')

        def edit(s):
            s["storage"] = {"plugin": example("storage_files"), "path": log}

        srv = Chatd(edit)
        self.addCleanup(srv.cleanup)
        p = subprocess.run([CHATD_BIN, "--check-config", "-c", srv.config], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stderr.strip(), "%s: [storage] path: %s:2: not a change this log can replay"
                         % (srv.config, log))


if __name__ == "__main__":
    unittest.main()
