"""Start chatd on free loopback ports with a generated chat.ini, and stop it.

Environment (set by ctest): CHATD_BIN, CHATD_PLUGIN_DIR, CHATD_SOURCE_DIR; optionally
CHATD_WRAPPER, a command chatd is started under (e.g. valgrind and its options)."""
import hashlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import stomp
import stomp.exception

from free_port import free_port  # noqa: F401 (the tests take it from here)

CHATD_BIN = os.environ.get("CHATD_BIN", "build/core/chatd")
PLUGIN_DIR = os.environ.get("CHATD_PLUGIN_DIR", "build/plugins")
SOURCE_DIR = os.environ.get("CHATD_SOURCE_DIR", ".")
WRAPPER = shlex.split(os.environ.get("CHATD_WRAPPER", ""))
# A wrapped chatd (valgrind) starts and exits many times slower.
SLOWDOWN = 10 if WRAPPER else 1

# dana: a customer whose data a test erases; admin1: may erase users' data.
USERS = {"alice": "user", "bob": "user", "dana": "user", "agent1": "agent", "agent2": "agent", "admin1": "admin"}


def password_of(user):
    return user + "-pw"


def hash_password(password, iterations=1000):
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 32)
    return "pbkdf2-sha256$%d$%s$%s" % (iterations, salt.hex(), digest.hex())


def wait_for(cond, timeout=10.0, what="condition"):
    """Poll cond() until true; the interval grows so waits stay cheap."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        result = cond()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def render_ini(sections):
    lines = []
    for name, keys in sections.items():
        lines.append("[%s]" % name)
        for k, v in keys.items():
            lines.append("%s = %s" % (k, v))
        lines.append("")
    return "\n".join(lines)


def default_sections(http_port, stomp_port):
    auth = {"plugin": "static"}
    for user, role in USERS.items():
        auth["user.%s.password" % user] = hash_password(password_of(user))
        auth["user.%s.roles" % user] = role
    return {
        "server": {
            "listen": "127.0.0.1:%d" % http_port,
            "stomp_listen": "127.0.0.1:%d" % stomp_port,
            "plugin_dir": PLUGIN_DIR,
            "web_root": os.path.join(SOURCE_DIR, "examples", "web"),
            "allowed_origins": "http://localhost:%d http://127.0.0.1:%d" % (http_port, http_port),
            "log_level": "debug",
            "shutdown_timeout": "5s",
        },
        "stomp": {
            "allow.topics": "send,subscribe /topic/** user,agent",
            "allow.queues": "send,subscribe /queue/** user,agent",
            "allow.own": "subscribe /user/queue/** user,agent",
            "allow.direct": "send /user/*/queue/** user,agent",
        },
        "auth": auth,
        "storage": {"plugin": "memory"},
        "broker": {"plugin": "simple"},
    }


class Chatd:
    """One chatd process. Use as a context manager."""

    def __init__(self, edit=None):
        self.dir = tempfile.mkdtemp(prefix="chatd-test-")
        self.http_port = free_port()
        self.stomp_port = free_port()
        self.sections = default_sections(self.http_port, self.stomp_port)
        if edit:
            edit(self.sections)
        self.config = os.path.join(self.dir, "chat.ini")
        self.write_config()
        self.log_path = os.path.join(self.dir, "chatd.log")
        self.proc = None

    def write_config(self):
        """(Re)write chat.ini from self.sections."""
        with open(self.config, "w") as f:
            f.write(render_ini(self.sections))

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(WRAPPER + [CHATD_BIN, "-c", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or
                 (port_open(self.http_port) and port_open(self.stomp_port)),
                 timeout=10 * SLOWDOWN, what="chatd to listen")
        if self.proc.poll() is not None:
            raise AssertionError("chatd exited at start:\n" + self.read_log())
        return self

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, expect_code=0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=20 * SLOWDOWN)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("chatd did not stop on SIGTERM:\n" + self.read_log())
            if expect_code is not None and code != expect_code:
                raise AssertionError("chatd exited %d:\n%s" % (code, self.read_log()))
        self.log.close()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop(expect_code=None if exc_type else 0)
        finally:
            if exc_type:
                print("---- chatd log ----\n" + self.read_log())
            self.cleanup()


class Recorder:
    """A stomp.py listener that records frames and lets tests await them."""

    def __init__(self):
        self.cond = threading.Condition()
        self.messages, self.receipts, self.errors = [], [], []
        self.disconnected = False

    def _add(self, bucket, frame):
        with self.cond:
            bucket.append(frame)
            self.cond.notify_all()

    def on_message(self, frame):
        self._add(self.messages, frame)

    def on_receipt(self, frame):
        self._add(self.receipts, frame)

    def on_error(self, frame):
        self._add(self.errors, frame)

    def on_disconnected(self):
        with self.cond:
            self.disconnected = True
            self.cond.notify_all()

    def wait(self, pred, timeout=10.0, what="frame"):
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                raise AssertionError("timed out waiting for " + what)

    def wait_receipt(self, rid, timeout=10.0):
        self.wait(lambda: any(r.headers.get("receipt-id") == rid for r in self.receipts), timeout,
                  "RECEIPT " + rid)

    def wait_messages(self, n, timeout=10.0):
        self.wait(lambda: len(self.messages) >= n, timeout, "%d messages" % n)

    def wait_error(self, timeout=10.0):
        self.wait(lambda: self.errors, timeout, "ERROR")
        return self.errors[0]


class OneServer(unittest.TestCase):
    """A test class whose tests share one chatd, started before the first
    and stopped after the last. A subclass changes its chat.ini with a
    static `edit(sections)`."""

    edit = None

    @classmethod
    def setUpClass(cls):
        cls.server = Chatd(cls.edit).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def raw(self, user=None, **kw):
        """A raw STOMP client over TCP, CONNECTed as `user` when given,
        closed after the test."""
        from raw_stomp import RawStomp  # raw_stomp imports this module
        c = RawStomp(self.server.stomp_port)
        self.addCleanup(c.close)
        if user:
            c.connect(user, **kw)
        return c



def stomp_session(test, port, user, *subscriptions):
    """A stomp.py session of `user` on `port` with a Recorder, subscribed to
    each destination (ids s0, s1, ..., each RECEIPT awaited), disconnected
    after the test: (connection, recorder)."""
    conn = stomp.Connection12([("127.0.0.1", port)])
    rec = Recorder()
    conn.set_listener("rec", rec)
    conn.connect(user, password_of(user), wait=True)
    test.addCleanup(disconnect_quietly, conn)
    for i, dest in enumerate(subscriptions):
        conn.subscribe(dest, id="s%d" % i, receipt="sub%d" % i)
        rec.wait_receipt("sub%d" % i)
    return conn, rec


def disconnect_quietly(conn):
    """A test's clean-up: DISCONNECT a stomp.py connection still open. The
    server may close it (after an ERROR) between the check and the frame;
    that is the end the clean-up wanted anyway."""
    if not conn.is_connected():
        return
    try:
        conn.disconnect()
    except (OSError, stomp.exception.StompException):
        pass
