"""chatd --check-config, --version and --help: one clear line per problem."""
import os
import subprocess
import tempfile
import unittest

from chatd_harness import CHATD_BIN, default_sections, render_ini


def check(sections=None, text=None):
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write(text if text is not None else render_ini(sections))
        path = f.name
    try:
        p = subprocess.run([CHATD_BIN, "--check-config", "-c", path], capture_output=True, text=True,
                           timeout=30)
        return p, path
    finally:
        os.unlink(path)


class CheckConfig(unittest.TestCase):
    def assert_one_line(self, p, path, *parts):
        self.assertNotEqual(p.returncode, 0)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith(path + ": "), lines[0])
        for part in parts:
            self.assertIn(part, lines[0])
        return lines[0]

    def test_good_config(self):
        p, path = check(default_sections(1, 2))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), path + ": ok")

    def test_shipped_config_is_valid(self):
        src = os.environ.get("CHATD_SOURCE_DIR", ".")
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, CHATD_PLUGIN_DIR=os.environ.get("CHATD_PLUGIN_DIR", ""),
                       CHATD_DB=os.path.join(d, "chat.db"), CHATD_FILES=os.path.join(d, "files"))
            p = subprocess.run([CHATD_BIN, "--check-config", "-c", os.path.join(src, "etc/chat.ini")],
                               capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_deployment_examples_are_valid(self):
        """examples/deploy/*.ini (docs/deploying.md) load every plugin they
        name; the servers they point at need not be there."""
        src = os.environ.get("CHATD_SOURCE_DIR", ".")
        folder = os.path.join(src, "examples", "deploy")
        names = sorted(n for n in os.listdir(folder) if n.endswith(".ini"))
        self.assertEqual(names, ["mysql-redis.ini", "postgres-kafka.ini", "postgres-rabbitmq.ini", "postgres-redis.ini",
                                 "redis-redis.ini", "single-node.ini", "spring.ini"])
        for name in names:
            with self.subTest(name), tempfile.TemporaryDirectory() as d:
                env = dict(os.environ, CHATD_PLUGIN_DIR=os.environ.get("CHATD_PLUGIN_DIR", ""),
                           CHAT_JWT_SECRET="an-example-secret-0123", CHATD_PUSH_SECRET="s",
                           CHATD_RABBIT_PASSWORD="p", CHATD_MYSQL_PASSWORD="비밀😀", CHATD_DB=os.path.join(d, "chat.db"))
                p = subprocess.run([CHATD_BIN, "--check-config", "-c", os.path.join(folder, name)],
                                   capture_output=True, text=True, timeout=60, env=env)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn(name + ": ok", p.stdout)

    def test_mysql_keys(self):
        """storage-mysql names the key at fault: a missing user or database,
        a port out of range, a relative socket path, an unknown key."""
        cases = [({"database": "chatd"}, "[storage] user", "required"),
                 ({"user": "chatd"}, "[storage] database", "required"),
                 ({"user": "u", "database": "d", "port": "70000"}, "[storage] port", ""),
                 ({"user": "u", "database": "d", "socket": "run/mysqld.sock"}, "[storage] socket", "absolute"),
                 ({"user": "u", "database": "d", "tls_ca": "/ca.pem"}, "[storage] tls_ca", "tls = true"),
                 ({"user": "u", "database": "d", "conninfo": "x"}, "[storage] conninfo", "")]
        for keys, where, why in cases:
            with self.subTest(where):
                s = default_sections(1, 2)
                s["storage"] = dict({"plugin": "mysql"}, **keys)
                p, path = check(s)
                self.assert_one_line(p, path, where, why)
        s = default_sections(1, 2)
        s["storage"] = {"plugin": "mysql", "user": "채팅", "password": "비밀 😀", "database": "chatd",
                        "socket": "/run/mysqld/mysqld.sock", "connections": "8", "tls": "true",
                        "tls_ca": "/etc/ssl/ca.pem", "tls_verify": "false"}
        p, path = check(s)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_bad_plugin_path(self):
        s = default_sections(1, 2)
        s["storage"]["plugin"] = "/nonexistent/storage_nope.so"
        p, path = check(s)
        self.assert_one_line(p, path, "[storage] plugin: cannot load /nonexistent/storage_nope.so")

    def test_unknown_plugin_name(self):
        s = default_sections(1, 2)
        s["broker"]["plugin"] = "nosuch"
        p, path = check(s)
        self.assert_one_line(p, path, "[broker] plugin: cannot load", "broker_nosuch.so")

    def test_missing_section(self):
        s = default_sections(1, 2)
        del s["storage"]
        p, path = check(s)
        self.assert_one_line(p, path, "[storage]", "missing section")

    def test_unknown_key_in_server(self):
        s = default_sections(1, 2)
        s["server"]["colour"] = "blue"
        p, path = check(s)
        self.assert_one_line(p, path, "[server] colour: unknown key")

    def test_unknown_key_in_plugin_section(self):
        s = default_sections(1, 2)
        s["auth"]["realm"] = "x"
        p, path = check(s)
        self.assert_one_line(p, path, "[auth] realm: unknown key")

    def test_plugin_rejects_bad_value(self):
        s = default_sections(1, 2)
        s["auth"]["user.alice.roles"] = "superuser"
        p, path = check(s)
        self.assert_one_line(p, path, "[auth] user.alice.roles:", "unknown role")

    def test_reconnect_storm_keys(self):
        """auth-static's pool, backlog and cache, and the retry-after of a
        shed CONNECT: good values load, a bad one is one line naming it."""
        s = default_sections(1, 2)
        s["auth"].update({"workers": "2", "max_pending": "100", "cache_ttl": "30s", "cache_size": "0"})
        s["stomp"]["busy_retry_after"] = "5s"
        p, path = check(s)
        self.assertEqual(p.returncode, 0, p.stderr)
        bad = [("auth", "workers", "lots", "expected an integer from 0 to 64"),
               ("auth", "workers", "65", "expected an integer from 0 to 64"),
               ("auth", "max_pending", "0", "expected an integer from 1 to"),
               ("auth", "cache_ttl", "soon", "expected a duration"),
               ("auth", "cache_size", "-1", "expected an integer from 0 to"),
               ("stomp", "busy_retry_after", "500ms", "")]
        for section, key, value, why in bad:
            with self.subTest(key=key, value=value):
                s = default_sections(1, 2)
                s[section][key] = value
                p, path = check(s)
                self.assert_one_line(p, path, "[%s] %s:" % (section, key), why, value)

    def test_rooms_retention(self):
        for good in ("30d", "12h", "0", ""):
            with self.subTest(good):
                s = default_sections(1, 2)
                s["rooms"] = {"retention": good}
                p, path = check(s)
                self.assertEqual(p.returncode, 0, p.stderr)
        s = default_sections(1, 2)
        s["rooms"] = {"retention": "soon"}
        p, path = check(s)
        self.assert_one_line(p, path, "[rooms] retention:", "expected a duration", "'soon'")
        s["rooms"] = {"retention": "30d", "colour": "blue"}
        p, path = check(s)
        self.assert_one_line(p, path, "[rooms] colour: unknown key")

    def test_support_topic_wait(self):
        """[support] topic_wait: a duration up to 30 days; anything else is
        one line naming the file, the section and the key."""
        for good in ("0", "500ms", "2m", "30d"):
            with self.subTest(good):
                s = default_sections(1, 2)
                s["support"] = {"assign": "round_robin", "skills": "상담원:billing", "topic_wait": good}
                p, path = check(s)
                self.assertEqual(p.returncode, 0, p.stderr)
        for bad in ("soon", "31d", "-1s", "2 분"):
            with self.subTest(bad):
                s = default_sections(1, 2)
                s["support"] = {"topic_wait": bad}
                p, path = check(s)
                self.assert_one_line(p, path, "[support] topic_wait: ", "expected a duration", "'%s'" % bad)

    def test_presence_offline_grace(self):
        for good in ("5s", "250ms", "0", "1h"):
            with self.subTest(good):
                s = default_sections(1, 2)
                s["presence"] = {"offline_grace": good}
                p, path = check(s)
                self.assertEqual(p.returncode, 0, p.stderr)
        for bad in ("soon", "2h", "-1s"):
            with self.subTest(bad):
                s = default_sections(1, 2)
                s["presence"] = {"offline_grace": bad}
                p, path = check(s)
                self.assert_one_line(p, path, "[presence] offline_grace:", "expected a duration", "'%s'" % bad)
        s = default_sections(1, 2)
        s["presence"] = {"offline_grace": "5s", "idle": "5m"}
        p, path = check(s)
        self.assert_one_line(p, path, "[presence] idle: unknown key")

    def test_retention_needs_a_storage_plugin_that_purges(self):
        """storage-files (an example) has no room_purge: retention cannot be
        kept, so chatd does not start rather than keep transcripts forever."""
        s = default_sections(1, 2)
        s["rooms"] = {"retention": "30d"}
        with tempfile.TemporaryDirectory() as d:
            s["storage"] = {"plugin": "files", "path": os.path.join(d, "chat.log")}
            p, path = check(s)
        self.assert_one_line(p, path, "[rooms] retention:", "storage plugin 'files'", "cannot purge closed rooms")

    def test_unknown_section(self):
        s = default_sections(1, 2)
        s["extra"] = {"a": "1"}
        p, path = check(s)
        self.assert_one_line(p, path, "[extra]", "unknown section")

    def test_bad_value_in_core_section(self):
        s = default_sections(1, 2)
        s["server"]["listen"] = "nowhere"
        p, path = check(s)
        self.assert_one_line(p, path, "[server] listen:", "HOST:PORT")

    def test_two_listeners_on_one_port(self):
        s = default_sections(8080, 8080)
        p, path = check(s)
        self.assert_one_line(p, path, "[server] stomp_listen:", "port 8080 is listen's too")
        s = default_sections(8080, 61613)
        s["server"]["stomp_listen"] = "0.0.0.0:8080"
        p, path = check(s)
        self.assert_one_line(p, path, "[server] stomp_listen:", "port 8080 is listen's too")
        # one port on two addresses is two sockets
        s["server"]["stomp_listen"] = "127.0.0.2:8080"
        p, _ = check(s)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_websocket_paths_and_sockjs(self):
        cases = [
            ({"websocket_paths": "ws"}, "[server] websocket_paths:", "starts with '/'"),
            ({"websocket_paths": "/ws/"}, "[server] websocket_paths:", "no trailing '/'"),
            ({"websocket_paths": "/"}, "[server] websocket_paths:", "starts with '/'"),
            ({"websocket_paths": "/a//b"}, "[server] websocket_paths:", "single '/'"),
            ({"websocket_paths": "/채팅"}, "[server] websocket_paths:", "only letters"),
            ({"websocket_paths": "/api/ws"}, "[server] websocket_paths:", "under /api"),
            ({"websocket_paths": "/ws, /ws"}, "[server] websocket_paths:", "listed twice"),
            ({"websocket_paths": " , "}, "[server] websocket_paths:", "one or more paths"),
            ({"websocket_paths": ",".join("/p%d" % i for i in range(9))}, "[server] websocket_paths:", "at most 8"),
            ({"websocket_paths": "/" + "x" * 64}, "[server] websocket_paths:", "at most 64"),
            ({"sockjs": "maybe"}, "[server] sockjs:", "'maybe' is not one of the websocket_paths"),
            ({"websocket_paths": "/a", "sockjs": "/b"}, "[server] sockjs:", "'/b'"),
            ({"sockjs": ""}, "[server] sockjs:", "expected on, off"),
            ({"sockjs_heartbeat": "0"}, "[server] sockjs_heartbeat:",),
            ({"sockjs_disconnect_delay": "2h"}, "[server] sockjs_disconnect_delay:",),
            ({"sockjs_response_limit": "1K"}, "[server] sockjs_response_limit:",),
        ]
        for keys, *parts in cases:
            with self.subTest(keys):
                s = default_sections(1, 2)
                s["server"].update(keys)
                p, path = check(s)
                self.assert_one_line(p, path, *parts)
        for keys in ({"websocket_paths": "/ws /ws-stomp /a/b.c_d~e", "sockjs": "/ws-stomp, /ws"},
                     {"sockjs": "off"}, {"sockjs": "on", "sockjs_heartbeat": "1s"}):
            with self.subTest(keys):
                s = default_sections(1, 2)
                s["server"].update(keys)
                p, path = check(s)
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_unset_environment_variable(self):
        s = default_sections(1, 2)
        s["server"]["web_root"] = "${CHATD_TEST_SURELY_UNSET}"
        p, path = check(s)
        self.assert_one_line(p, path, "[server] web_root:", "CHATD_TEST_SURELY_UNSET")

    def test_send_rule_over_server_destinations_warns(self):
        """A rule whose send pattern reaches where the server publishes is
        valid (it still opens the rest) but gets one warning line each,
        naming the file, section, key and the destinations."""
        s = default_sections(1, 2)
        s["stomp"] = {
            "allow.everything": "send,subscribe /** user,agent",
            "allow.support": "send /topic/support/* agent",
            "allow.watch": "subscribe /topic/** agent",
            "allow.chat": "send /topic/chat.* user",
            "allow.inbox": "send /user/*/queue/inbox user",
        }
        p, path = check(s)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), path + ": ok")
        lines = [l for l in p.stderr.splitlines() if "[stomp] allow." in l]
        self.assertEqual(len(lines), 2, p.stderr)
        everything, support = lines
        self.assertIn(path + ": [stomp] allow.everything: ", everything)
        for d in ("/topic/rooms/", "/topic/support/queue", "/user/{user}/queue/notifications"):
            self.assertIn(d, everything)
        self.assertIn(path + ": [stomp] allow.support: ", support)
        self.assertIn("/topic/support/queue", support)
        self.assertNotIn("/topic/rooms/", support)
        self.assertIn("refused", support)

    def test_syntax_error(self):
        p, path = check(text="[server\nlisten = 1\n")
        self.assert_one_line(p, path, "line 1")

    def test_missing_file(self):
        p = subprocess.run([CHATD_BIN, "--check-config", "-c", "/nonexistent.ini"], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stderr.strip(), "/nonexistent.ini: cannot open: No such file or directory")

    def test_version_and_help(self):
        p = subprocess.run([CHATD_BIN, "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("chatd "))
        p = subprocess.run([CHATD_BIN, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--check-config", p.stdout)

    def test_hash_password_round_trip(self):
        """A hash made by chatd hash-password signs a user in (checked by config load)."""
        p = subprocess.run([CHATD_BIN, "hash-password", "--iterations", "1000"], input="s3cret\n",
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.strip(), r"^pbkdf2-sha256\$1000\$[0-9a-f]{32}\$[0-9a-f]{64}$")


if __name__ == "__main__":
    unittest.main()
