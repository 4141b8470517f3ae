"""A new build of the auth plugin on reload: the file named by `[auth]
plugin` is replaced by another build (here the SDK's auth-csv example,
compiled twice with cc: the second build says so in its start-up line and
its version), SIGHUP, and the new build answers the logins from then on
while the sessions opened before stay; an unchanged file is the same build;
a file that is no plugin refuses the reload and the old build serves on."""
import os
import shutil
import subprocess
import tempfile
import unittest

from test_reload import Sessions

SOURCE = os.environ.get("CHATD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
KOREAN = "안녕하세요 🎉"


def build(src, out, second=False):
    """cc the auth-csv example into out; the second build differs in its
    version and start-up line."""
    with open(src) as f:
        code = f.read()
    if second:
        code = code.replace('.version = "1.0"', '.version = "1.1"')
        code = code.replace('"%zu users from %s"', '"%zu users from %s (second build)"')
        assert "second build" in code and '"1.1"' in code
    with tempfile.TemporaryDirectory() as d:
        c = os.path.join(d, "auth_csv.c")
        with open(c, "w") as f:
            f.write(code)
        subprocess.run(["cc", "-std=c17", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-O1",
                        "-I", os.path.join(SOURCE, "sdk", "include"), c, "-o", out],
                       check=True, capture_output=True, timeout=120)


class NewBuildOnReload(Sessions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="chatd-plugin-reload-")
        src = os.path.join(SOURCE, "examples", "plugins", "auth-csv", "auth_csv.c")
        cls.first = os.path.join(cls.dir, "first.so")
        cls.second = os.path.join(cls.dir, "second.so")
        build(src, cls.first)
        build(src, cls.second, second=True)
        cls.users = os.path.join(cls.dir, "users.csv")
        with open(cls.users, "w") as f:
            f.write("alice,%s,user\nbob,bob-pw,user\n" % KOREAN)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def install(self, build_path, plugin):
        """Replace the plugin file as a package upgrade does: a new file
        renamed over the old one."""
        tmp = plugin + ".new"
        shutil.copyfile(build_path, tmp)
        os.rename(tmp, plugin)

    def start_with(self, plugin):
        def edit(s):
            s["auth"] = {"plugin": plugin, "path": self.users}
        return self.start(edit)

    def test_a_replaced_file_is_loaded_and_sessions_stay(self):
        plugin = os.path.join(self.dir, "auth_csv_a.so")
        self.install(self.first, plugin)
        s = self.start_with(plugin)
        before = self.connect(s, "alice", KOREAN)
        self.subscribe(before, "/topic/chat.reload", "s1")

        # the same file again: the same build, no word of a new one
        line = s.reload()
        self.assertNotIn("new build", s.read_log())
        self.connect(s, "bob", "bob-pw")

        self.install(self.second, plugin)
        offset = len(s.read_log())
        s.reload()
        log = s.log_since(offset)
        self.assertIn("(second build)", log)
        self.assertIn("a new build of csv (1.1, was 1.0)", log)
        self.connect(s, "bob", "bob-pw")
        self.assert_refused(s, "bob", "wrong")
        # the session opened under the first build is still served
        self.send(before, "/topic/chat.reload", KOREAN, "r1")
        msg = before.expect("MESSAGE")
        self.assertEqual(msg.body.decode(), KOREAN)

        # reloading again without a change keeps the second build
        offset = len(s.read_log())
        s.reload()
        self.assertNotIn("new build", s.log_since(offset))
        self.assertIn("(second build)", s.log_since(offset))
        self.connect(s, "alice", KOREAN)

        # and back to the first build
        self.install(self.first, plugin)
        offset = len(s.read_log())
        s.reload()
        self.assertIn("a new build of csv (1.0, was 1.1)", s.log_since(offset))
        self.assertNotIn("(second build)", s.log_since(offset))
        self.connect(s, "alice", KOREAN)

    def test_a_file_that_is_no_plugin_refuses_the_reload(self):
        plugin = os.path.join(self.dir, "auth_csv_b.so")
        self.install(self.first, plugin)
        s = self.start_with(plugin)
        with open(plugin + ".new", "w") as f:
            f.write("not a shared object\n")
        os.rename(plugin + ".new", plugin)
        line = s.reload(expect="reload refused")
        self.assertIn("[auth] plugin", line)
        self.assertIn("cannot load the new build", line)
        self.connect(s, "alice", KOREAN)


if __name__ == "__main__":
    unittest.main()
