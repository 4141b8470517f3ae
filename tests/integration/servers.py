"""Real backing servers for the tests, each on a free loopback port in a temp
dir of its own, stopped and removed afterwards. Never a shared service."""
import os
import shutil
import socket
import subprocess
import tempfile

from chatd_harness import free_port, wait_for


class Redis:
    """redis-server with AOF fsync'd on every write, so a restart keeps
    everything it acknowledged."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-redis-")
        self.port = free_port()
        self.proc = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.dir,
             "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--logfile", os.path.join(self.dir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is not None or self.ping(), what="redis-server to answer")
        if self.proc.poll() is not None:
            raise AssertionError("redis-server exited at start")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
