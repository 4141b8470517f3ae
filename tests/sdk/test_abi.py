"""The loader's version rule, seen from plugins built for other SDK versions:
every minor of chatd's major loads, older (a plugin keeps working after an
upgrade) and newer (a plugin built against newer headers runs in an older
chatd, without what that chatd lacks); SDK 1.0 to 1.2 plugins load through
the host's 1.x adapter; the next major, and an SDK 1 minor that never
existed, are refused with one line that says to rebuild. Every struct of
the headers starts with its size.
A storage plugin of SDK 1.1 serves rooms in chatd as before, and groups
with the fallback for group roles (docs/plugin-guide.md); it has none of the
transcripts operations either: closing a support room deletes it, an erase
answers 501, a retention is refused."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from chatd_harness import CHATD_BIN, Chatd, default_sections, render_ini, wait_for  # noqa: E402
from raw_stomp import RawStomp  # noqa: E402
from rooms_client import Api, history, send_message, subscribe  # noqa: E402

ABI_DIR = os.environ.get("CHATD_ABI_DIR", "build/tests/sdk/plugins")


def chatd_abi():
    out = subprocess.run([CHATD_BIN, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"SDK ABI (\d+)\.(\d+)", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def check_with(plugin, edit=None):
    s = default_sections(1, 2)
    s["notify.abi"] = {"plugin": plugin}
    if edit:
        edit(s)
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write(render_ini(s))
        path = f.name
    try:
        return subprocess.run([CHATD_BIN, "--check-config", "-c", path], capture_output=True, text=True,
                              timeout=30), path
    finally:
        os.unlink(path)


def so(major, minor):
    return os.path.join(ABI_DIR, "sdk_abi_%d_%d.so" % (major, minor))


class AbiVersions(unittest.TestCase):
    def test_every_minor_up_to_chatds_loads(self):
        major, minor = chatd_abi()
        for m in range(minor + 1):
            with self.subTest(plugin_abi="%d.%d" % (major, m)):
                self.assertTrue(os.path.exists(so(major, m)), "not built: " + so(major, m))
                p, _ = check_with(so(major, m))
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_a_newer_minor_loads(self):
        major, minor = chatd_abi()
        plugin = so(major, minor + 1)
        self.assertTrue(os.path.exists(plugin), "not built: " + plugin)
        p, _ = check_with(plugin)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_sdk1_plugins_load(self):
        for m in range(3):
            with self.subTest(plugin_abi="1.%d" % m):
                self.assertTrue(os.path.exists(so(1, m)), "not built: " + so(1, m))
                p, _ = check_with(so(1, m))
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_next_major_is_refused(self):
        major, minor = chatd_abi()
        plugin = so(major + 1, 0)
        p, path = check_with(plugin)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(lines, ["%s: [notify.abi] plugin: %s was built for SDK ABI %d.0; this chatd speaks "
                                 "%d.%d (major versions differ: rebuild the plugin against SDK %d)"
                                 % (path, plugin, major + 1, major, minor, major)])

    def test_an_sdk1_minor_that_never_was_is_refused(self):
        major, minor = chatd_abi()
        plugin = so(1, 3)
        p, path = check_with(plugin)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(lines, ["%s: [notify.abi] plugin: %s was built for SDK ABI 1.3; this chatd speaks "
                                 "%d.%d and loads SDK 1.0 to 1.2 (rebuild the plugin against SDK %d)"
                                 % (path, plugin, major, minor, major)])


class StructsGrow(unittest.TestCase):
    """Every struct the headers define starts with `size_t size;` (the
    descriptor: its two version numbers, then its size), and abi_layout.c,
    which asserts it at compile time, names each one."""

    def test_every_struct_starts_with_its_size(self):
        src = os.environ.get("CHATD_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "abi_layout.c")) as f:
            layout = f.read()
        seen = []
        for header in ("host.h", "plugin.h"):
            with open(os.path.join(src, "sdk", "include", "chatd", header)) as f:
                text = f.read()
            for m in re.finditer(r"^struct (chatd_\w+) \{\n((?:\s*(?:/\*.*?\*/\s*)?\n?)*?)\s*([^\n]*;)", text,
                                 re.M | re.S):
                name, first = m.group(1), m.group(3).split("/*")[0].strip()
                seen.append(name)
                if name == "chatd_plugin":
                    self.assertEqual(first, "uint32_t abi_major;", name)
                    self.assertIn("offsetof(struct chatd_plugin, size) == 8", layout)
                    continue
                self.assertEqual(first, "size_t size;", name)
                self.assertIn("STARTS_WITH_SIZE(%s);" % name, layout, name)
        self.assertGreaterEqual(len(seen), 14, seen)


class StoragePluginOfSdk11(unittest.TestCase):
    """storage-files built against the SDK 1.1 headers: no group_change, the
    1.1 struct chatd_room."""

    def setUp(self):
        plugin = os.path.join(ABI_DIR, "sdk_storage_files_1_1.so")
        self.assertTrue(os.path.exists(plugin), "not built: " + plugin)
        self.log = tempfile.NamedTemporaryFile(suffix=".log", delete=False).name
        self.addCleanup(os.unlink, self.log)

        def edit(s):
            s["storage"] = {"plugin": plugin, "path": self.log}
        self.server = Chatd(edit).start()
        self.addCleanup(self.server.cleanup)
        self.addCleanup(self.server.stop)

    def api(self, user):
        return Api(self.server.http_port, user)

    def stomp(self, user):
        c = RawStomp(self.server.stomp_port)
        c.connect(user)
        self.addCleanup(c.close)
        return c

    def test_rooms_are_listed_whole(self):
        alice = self.api("alice")
        made = {}
        for title in ("하나 1️⃣", "둘 2️⃣", "셋 3️⃣"):
            g = alice.post("/api/rooms", {"kind": "group", "title": title, "members": ["bob"]})[1]
            made[g["id"]] = title
        did = alice.post("/api/rooms", {"kind": "direct", "with": "bob"})[1]["id"]
        status, page = self.api("bob").get("/api/rooms")
        self.assertEqual(status, 200)
        listed = {r["id"]: (r.get("title"), r["owner"], sorted(r["members"]), r.get("admins")) for r in page["rooms"]}
        want = {rid: (t, "alice", ["alice", "bob"], []) for rid, t in made.items()}
        want[did] = (None, "alice", ["alice", "bob"], None)
        self.assertEqual(listed, want)

    def test_groups_fall_back_to_their_owner(self):
        alice, bob = self.api("alice"), self.api("bob")
        gid = alice.post("/api/rooms", {"kind": "group", "title": "예전 방 🕰️",
                                        "members": ["bob", "agent1"]})[1]["id"]
        refused = bob.delete("/api/rooms/%s/members/agent1" % gid)
        self.assertEqual((refused[0], refused[1]["error"]), (403, "forbidden"))
        self.assertEqual(alice.post("/api/rooms/%s/members" % gid, {"user": "carol"})[0], 200)
        self.assertEqual(alice.delete("/api/rooms/%s/members/carol" % gid)[0], 200)
        for answer in (alice.call("PUT", "/api/rooms/%s/members/bob/role" % gid, {"role": "admin"}),
                       alice.call("PATCH", "/api/rooms/" + gid, {"title": "새 이름"})):
            self.assertEqual((answer[0], answer[1]["error"]), (501, "not_supported"), answer)
        self.assertIn("does not store group roles",
                      alice.call("PUT", "/api/rooms/%s/members/bob/role" % gid, {"role": "admin"})[1]["message"])
        self.assertEqual(bob.delete("/api/rooms/%s?for=everyone" % gid)[0], 403)
        watch = self.stomp("bob")
        subscribe(watch, "/topic/rooms/" + gid, sid="g")
        watch.expect("RECEIPT")
        self.assertEqual(alice.delete("/api/rooms/%s?for=everyone" % gid)[0], 200)
        last = watch.expect("MESSAGE")
        self.assertEqual((last.headers["event"], last.headers["subscription-ended"]), ("deleted", "true"))
        self.assertEqual(json.loads(last.body), {"room": gid, "by": "alice"})
        self.assertEqual(bob.get("/api/rooms/%s/messages" % gid)[0], 404)
        # The owner may leave; then nobody manages the group, everyone may leave.
        gid = alice.post("/api/rooms", {"kind": "group", "title": "주인 없음", "members": ["bob"]})[1]["id"]
        self.assertEqual(alice.delete("/api/rooms/" + gid)[0], 200)
        self.assertEqual(bob.post("/api/rooms/%s/members" % gid, {"user": "carol"})[0], 403)
        c = self.stomp("bob")
        send_message(c, gid, "안녕하세요 😀", receipt="m")
        self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "m")
        self.assertEqual(bob.delete("/api/rooms/" + gid)[0], 200)

    def test_closing_deletes_and_erasing_is_not_supported(self):
        alice, agent, admin = self.api("alice"), self.api("agent1"), self.api("admin1")
        status, support = alice.post("/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201, support)
        self.assertEqual(agent.post("/api/rooms/%s/claim" % support["id"])[0], 200)
        listed = alice.get("/api/rooms")[1]["rooms"]
        self.assertEqual([(r["id"], r["state"]) for r in listed], [(support["id"], "assigned")])
        self.assertNotIn("closed_at", listed[0])
        # Without room_close, closing deletes the room and its history.
        status, closed = alice.delete("/api/rooms/" + support["id"])
        self.assertEqual((status, closed["history"]), (200, "deleted"))
        self.assertEqual(alice.get("/api/rooms/" + support["id"])[0], 404)
        self.assertEqual(alice.post("/api/rooms", {"kind": "support"})[0], 201)
        # Without user_erase, an erase cannot be done.
        status, err = admin.delete("/api/users/bob")
        self.assertEqual((status, err["error"]), (501, "not_supported"))
        self.assertIn("(SDK 1.1)", err["message"])

    def test_retention_is_refused_at_start(self):
        with tempfile.TemporaryDirectory() as d:
            def edit(s):
                del s["notify.abi"]
                s["storage"] = {"plugin": os.path.join(ABI_DIR, "sdk_storage_files_1_1.so"),
                                "path": os.path.join(d, "chat.log")}
                s["rooms"] = {"retention": "30d"}
            p, path = check_with("unused", edit)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stderr.strip().splitlines(),
                         ["%s: [rooms] retention: the storage plugin 'files' (SDK 1.1) cannot purge closed rooms "
                          "(room_purge, SDK 1.2)" % path])


class AuthAndNotifyPluginsOfSdk11(unittest.TestCase):
    """auth-csv and notify-jsonl built against the SDK 1.1 headers: the
    credentials they read, the identity auth-csv answers and the
    notification notify-jsonl writes all cross in the 1.x layout."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-sdk11-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.csv = os.path.join(self.dir, "users.csv")
        with open(self.csv, "w") as f:
            f.write("alice,앨리스 비밀 😀,user\nbob,bob-pw,user\ncarol,carol-pw,user|agent\n")
        self.out = os.path.join(self.dir, "notifications.jsonl")
        open(self.out, "w").close()

        def edit(s):
            s["auth"] = {"plugin": os.path.join(ABI_DIR, "sdk_auth_csv_1_1.so"), "path": self.csv}
            s["notify.file"] = {"plugin": os.path.join(ABI_DIR, "sdk_notify_jsonl_1_1.so"), "path": self.out}
            s["notify"] = {"coalesce": "0"}
        self.server = Chatd(edit).start()
        self.addCleanup(self.server.cleanup)
        self.addCleanup(self.server.stop)

    def login(self, user, password):
        c = RawStomp(self.server.stomp_port)
        self.addCleanup(c.close)
        c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": user, "passcode": password})
        return c, c.read()

    def test_logins_roles_and_notifications_cross_in_the_1x_layout(self):
        alice, f = self.login("alice", "앨리스 비밀 😀")
        self.assertEqual((f.command, f.headers.get("user-name")), ("CONNECTED", "alice"), f)
        _, f = self.login("alice", "bob-pw")
        self.assertEqual((f.command, f.headers.get("message")), ("ERROR", "bad credentials"), f)
        carol, f = self.login("carol", "carol-pw")
        self.assertEqual(f.command, "CONNECTED", f)
        for c, expected in ((carol, "RECEIPT"), (alice, "ERROR")):  # roles: only agents watch the queue
            c.send("SUBSCRIBE", {"id": "q", "destination": "/topic/support/queue", "receipt": "q"})
            self.assertEqual(c.expect(expected).command, expected)
        alice, f = self.login("alice", "앨리스 비밀 😀")
        # bob is offline: he hears of alice's message through notify-jsonl.
        req = urllib.request.Request("http://127.0.0.1:%d/api/rooms" % self.server.http_port,
                                     data=json.dumps({"kind": "group", "title": "예전 📣", "members": ["bob"]}).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "Authorization": "Basic " + base64.b64encode(
                                                                 "alice:앨리스 비밀 😀".encode()).decode()})
        with urllib.request.urlopen(req, timeout=10) as r:
            rid = json.loads(r.read())["id"]
        send_message(alice, rid, "안녕하세요 😀", receipt="m")
        self.assertEqual(alice.expect("RECEIPT").headers["receipt-id"], "m")
        wait_for(lambda: open(self.out).read().strip(), what="a notification")
        note = json.loads(open(self.out).read().splitlines()[0])
        self.assertEqual((note["recipient"], note["room"], note["sender"], note["seq"], note["preview"]),
                         ("bob", rid, "alice", 1, "안녕하세요 😀"))


class StoragePluginOfTheNextMinor(unittest.TestCase):
    """storage-files built against the next minor's headers (next_minor.py):
    its descriptor, ops table, rooms and messages are all one member longer
    than chatd's. chatd loads it, says so, and reads its arrays at the
    plugin's stride: every room and message whole, none shifted."""

    def setUp(self):
        plugin = os.path.join(ABI_DIR, "sdk_storage_files_next.so")
        self.assertTrue(os.path.exists(plugin), "not built: " + plugin)
        self.log = tempfile.NamedTemporaryFile(suffix=".log", delete=False).name
        self.addCleanup(os.unlink, self.log)

        def edit(s):
            s["storage"] = {"plugin": plugin, "path": self.log}
        self.server = Chatd(edit).start()
        self.addCleanup(self.server.cleanup)
        self.addCleanup(self.server.stop)

    def test_loaded_with_a_line_naming_both_versions(self):
        major, minor = chatd_abi()
        self.assertIn("files 1.0 was built for SDK %d.%d; this chatd speaks %d.%d" % (major, minor + 1, major, minor),
                      self.server.read_log())

    def test_rooms_and_messages_are_read_whole(self):
        alice, bob = Api(self.server.http_port, "alice"), Api(self.server.http_port, "bob")
        made = {}
        for title in ("하나 1️⃣", "둘 2️⃣", "셋 3️⃣"):
            g = alice.post("/api/rooms", {"kind": "group", "title": title, "members": ["bob"]})[1]
            made[g["id"]] = title
        c = RawStomp(self.server.stomp_port)
        c.connect("alice")
        self.addCleanup(c.close)
        texts = ["안녕하세요 😀 %d" % i for i in range(4)]
        rid = next(iter(made))
        for i, t in enumerate(texts):
            send_message(c, rid, t, receipt="m%d" % i)
            self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "m%d" % i)
        status, page = bob.get("/api/rooms")
        self.assertEqual(status, 200, page)
        listed = {r["id"]: (r.get("title"), r["owner"], sorted(r["members"])) for r in page["rooms"]}
        self.assertEqual(listed, {i: (t, "alice", ["alice", "bob"]) for i, t in made.items()})
        last = [r for r in page["rooms"] if r["id"] == rid][0]["last_message"]
        self.assertEqual((last["seq"], last["sender"], last["body"]), (4, "alice", texts[-1]))
        stored = history(bob, rid)
        self.assertEqual([(m["seq"], m["sender"], m["body"]) for m in stored],
                         [(i + 1, "alice", t) for i, t in enumerate(texts)])


if __name__ == "__main__":
    unittest.main()
