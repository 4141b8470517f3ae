"""The Debian package `make deb` builds: what it holds, and, as root, that
it installs on this machine, starts chatd as its own user on the packaged
configuration, and purges cleanly.

CHATD_DEB names the package (build-deb/chatd_*.deb by default)."""
import glob
import os
import pwd
import grp
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from free_port import free_port  # noqa: E402
from raw_stomp import RawStomp  # noqa: E402

SOURCE = os.environ.get("CHATD_SOURCE_DIR", os.path.join(HERE, "..", ".."))


def the_deb():
    if os.environ.get("CHATD_DEB"):
        return os.environ["CHATD_DEB"]
    found = sorted(glob.glob(os.path.join(SOURCE, "build-deb", "chatd_*.deb")))
    if not found:
        raise AssertionError("no build-deb/chatd_*.deb: run `make deb` first")
    return found[-1]


def project_version():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
        for line in f:
            if line.startswith("project(chatd VERSION "):
                return line.split()[2]
    raise AssertionError("no version in CMakeLists.txt")


def run(*argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def installed():
    r = run("dpkg-query", "-W", "-f=${Status}", "chatd")
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


class PackageContents(unittest.TestCase):
    def test_fields(self):
        fields = {}
        for line in run("dpkg-deb", "-f", the_deb()).stdout.splitlines():
            if ": " in line and not line.startswith(" "):
                k, v = line.split(": ", 1)
                fields[k] = v
        self.assertEqual(fields["Package"], "chatd")
        self.assertEqual(fields["Version"], project_version())
        for lib in ("libwebsockets", "libevent", "libjansson", "libsqlite3"):
            self.assertIn(lib, fields["Depends"])

    def test_files(self):
        names = set()
        for line in run("dpkg-deb", "-c", the_deb()).stdout.splitlines():
            names.add(line.split()[-1].lstrip("."))
        for path in ("/usr/bin/chatd", "/usr/bin/chatd-token", "/etc/chatd/chat.ini",
                     "/lib/systemd/system/chatd.service", "/usr/include/chatd/plugin.h",
                     "/usr/include/chatd/host.h", "/usr/share/chatd/web/customer.html",
                     "/usr/share/chatd/web/node_modules/@stomp/stompjs/bundles/stomp.umd.min.js",
                     "/usr/share/chatd/web/spring.html",
                     "/usr/share/chatd/web/chatd-client/index.js",
                     "/usr/share/chatd/web/chatd-client/stompjs/index.js",
                     "/usr/share/chatd/web/node_modules/sockjs-client/dist/sockjs.min.js",
                     "/usr/share/doc/chatd/openapi.yaml", "/usr/share/doc/chatd/events.schema.json"):
            self.assertIn(path, names)
        for plugin in ("auth_static", "auth_jwt", "storage_sqlite", "storage_postgres", "storage_redis",
                       "broker_simple", "broker_redis", "notify_webhook", "files_local", "files_postgres"):
            self.assertTrue(any(n.endswith("/chatd/plugins/%s.so" % plugin) for n in names), plugin)
        self.assertTrue(any(n.endswith("/pkgconfig/chatd.pc") for n in names))

    def test_configuration_is_a_conffile(self):
        with tempfile.TemporaryDirectory() as ctrl:
            r = run("dpkg-deb", "-e", the_deb(), os.path.join(ctrl, "DEBIAN"))
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(ctrl, "DEBIAN", "conffiles")) as f:
                self.assertEqual(f.read().split(), ["/etc/chatd/chat.ini"])


@unittest.skipUnless(os.geteuid() == 0, "installing a package needs root")
class InstallAndServe(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.was_installed = installed()
        r = run("dpkg", "-i", the_deb())
        if r.returncode != 0:
            raise AssertionError("dpkg -i failed:\n" + r.stdout + r.stderr)

    @classmethod
    def tearDownClass(cls):
        if not cls.was_installed:
            r = run("dpkg", "--purge", "chatd")
            assert r.returncode == 0, r.stdout + r.stderr
            assert not os.path.exists("/usr/bin/chatd")
            assert not os.path.exists("/var/lib/chatd")

    def test_user_state_and_permissions(self):
        user = pwd.getpwnam("chatd")
        self.assertEqual(user.pw_dir, "/var/lib/chatd")
        self.assertEqual(user.pw_shell, "/usr/sbin/nologin")
        st = os.stat("/var/lib/chatd")
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (user.pw_uid, 0o750))
        st = os.stat("/etc/chatd/chat.ini")
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                         (0, grp.getgrnam("chatd").gr_gid, 0o640))

    def test_unit_names_the_installed_binary(self):
        with open("/lib/systemd/system/chatd.service") as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/bin/chatd -c /etc/chatd/chat.ini", unit)
        self.assertNotIn("/usr/local", unit)
        if shutil.which("systemd-analyze"):
            r = run("systemd-analyze", "verify", "/lib/systemd/system/chatd.service")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_check_config_and_serve_as_chatd(self):
        r = run("runuser", "-u", "chatd", "--", "/usr/bin/chatd", "--check-config", "-c", "/etc/chatd/chat.ini")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        http, stomp = free_port(), free_port()
        env = dict(os.environ, CHATD_LISTEN="127.0.0.1:%d" % http, CHATD_STOMP_LISTEN="127.0.0.1:%d" % stomp)
        proc = subprocess.Popen(["/usr/bin/chatd", "-c", "/etc/chatd/chat.ini"], user="chatd", group="chatd",
                                extra_groups=[], cwd="/var/lib/chatd", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % http, timeout=2) as resp:
                        self.assertEqual(resp.status, 200)
                        break
                except (urllib.error.URLError, ConnectionError):
                    self.assertIsNone(proc.poll(), "chatd exited")
                    self.assertLess(time.monotonic(), deadline, "chatd did not answer /healthz")
                    time.sleep(0.05)
            for page in ("customer.html", "chat.html", "node_modules/@stomp/stompjs/bundles/stomp.umd.min.js",
                         "chatd-client/index.js", "chatd-client/stompjs/client.js"):
                with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (http, page), timeout=5) as resp:
                    self.assertEqual(resp.status, 200, page)
            # The REST API's description, served by the installed binary: the
            # one installed beside the docs.
            with urllib.request.urlopen("http://127.0.0.1:%d/api/docs" % http, timeout=5) as resp:
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.headers.get_content_type(), "application/yaml")
                served = resp.read()
            with open("/usr/share/doc/chatd/openapi.yaml", "rb") as f:
                self.assertEqual(served, f.read())
            self.assertIn(b"\n  /api/docs:\n", served)
            # The packaged configuration has no users: a CONNECT is refused.
            c = RawStomp(stomp)
            c.send("CONNECT", {"accept-version": "1.2", "host": "chatd", "login": "alice", "passcode": "alice"})
            f = c.read()
            c.close()
            self.assertEqual(f.command, "ERROR")
            self.assertTrue(os.path.exists("/var/lib/chatd/chat.db"))
            self.assertEqual(os.stat("/var/lib/chatd/chat.db").st_uid, pwd.getpwnam("chatd").pw_uid)
        finally:
            proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=30)[0]
        self.assertEqual(proc.returncode, 0, out)


if __name__ == "__main__":
    unittest.main()
