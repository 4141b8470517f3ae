"""The loader's version rule, seen from plugins built for other SDK versions:
every minor up to chatd's own loads (an older plugin keeps working after an
upgrade), and a plugin of the previous major is refused with one line that
says why. (A newer minor and the next major: tests/loader/test_loader.py.)
A storage plugin built with the SDK 1.1 headers serves rooms in this chatd,
without what 1.2 added (transcripts)."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from chatd_harness import CHATD_BIN, Chatd, default_sections, render_ini, wait_for  # noqa: E402
from rooms_client import Api  # noqa: E402

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

    def test_previous_major_is_refused(self):
        major, minor = chatd_abi()
        plugin = so(major - 1, minor)
        p, path = check_with(plugin)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(lines, ["%s: [notify.abi] plugin: %s was built for SDK ABI %d.%d; this chatd speaks "
                                 "%d.%d (major versions differ)" % (path, plugin, major - 1, minor, major, minor)])



STORAGE_1_1 = os.path.join(ABI_DIR, "storage_files_abi_1_1.so")


class StoragePluginOfSdk11(unittest.TestCase):
    """examples/plugins/storage-files built against the SDK 1.1 headers: its
    struct chatd_room ends before closed_ms, and it has no room_close,
    room_purge or user_erase."""

    def test_retention_is_refused_at_start(self):
        def edit(s):
            del s["notify.abi"]
            s["storage"] = {"plugin": STORAGE_1_1, "path": "/nonexistent/never-opened.log"}
            s["rooms"] = {"retention": "30d"}
        with tempfile.TemporaryDirectory() as d:
            def edit_in(s):
                edit(s)
                s["storage"]["path"] = os.path.join(d, "chat.log")
            p, path = check_with("unused", edit_in)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stderr.strip().splitlines(),
                         ["%s: [rooms] retention: the storage plugin 'files' (SDK 1.1) cannot purge closed rooms "
                          "(room_purge, SDK 1.2)" % path])

    def test_rooms_are_served_and_closing_deletes(self):
        with tempfile.TemporaryDirectory() as d:
            def edit(s):
                s["storage"] = {"plugin": STORAGE_1_1, "path": os.path.join(d, "chat.log")}
            with Chatd(edit) as srv:
                alice, agent, admin = (Api(srv.http_port, u) for u in ("alice", "agent1", "admin1"))
                status, support = alice.post("/api/rooms", {"kind": "support"})
                self.assertEqual(status, 201, support)
                titles = ["첫 번째 😀", "second", "third 🙏"]
                groups = [alice.post("/api/rooms", {"kind": "group", "title": t, "members": ["bob"]})[1]
                          for t in titles]
                self.assertEqual(agent.post("/api/rooms/%s/claim" % support["id"])[0], 200)
                # A list is an array of the plugin's own, shorter structs.
                rooms = wait_for(lambda: alice.get("/api/rooms")[1]["rooms"], what="the rooms")
                self.assertEqual([(r["id"], r["kind"], r["title"]) for r in rooms],
                                 [(support["id"], "support", None)] + [(g["id"], "group", g["title"]) for g in groups])
                self.assertEqual([r["state"] for r in rooms], ["assigned", "open", "open", "open"])
                self.assertTrue(all("closed_at" not in r for r in rooms))
                self.assertEqual([r["id"] for r in agent.get("/api/rooms?scope=assigned")[1]["rooms"]],
                                 [support["id"]])
                # Without room_close, closing deletes the room and its history.
                status, closed = alice.delete("/api/rooms/" + support["id"])
                self.assertEqual((status, closed["history"]), (200, "deleted"))
                self.assertEqual(alice.get("/api/rooms/" + support["id"])[0], 404)
                self.assertEqual(alice.post("/api/rooms", {"kind": "support"})[0], 201)
                # Without user_erase, an erase cannot be done.
                status, err = admin.delete("/api/users/bob")
                self.assertEqual((status, err["error"]), (501, "not_supported"))
                self.assertIn("(SDK 1.1)", err["message"])


if __name__ == "__main__":
    unittest.main()
