"""A minimal STOMP client over a raw TCP socket, for exact wire checks."""
import socket
import time

from chatd_harness import password_of


class Frame:
    def __init__(self, command, headers, body):
        self.command, self.headers, self.body = command, headers, body

    def __repr__(self):
        return "Frame(%s, %r, %r)" % (self.command, self.headers, self.body[:80])


def encode(command, headers=None, body=b""):
    out = command.encode() + b"\n"
    for k, v in (headers or {}).items():
        out += ("%s:%s\n" % (k, v)).encode()
    if isinstance(body, str):
        body = body.encode()
    return out + b"\n" + body + b"\0"


class RawStomp:
    def __init__(self, port, timeout=10, ssl_context=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if ssl_context:  # STOMP over TLS ([server] stomp_tls_listen)
            self.sock = ssl_context.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.heartbeats = 0
        self.closed = False
        self.backlog = []  # MESSAGE frames set aside while waiting for another command

    def send(self, command, headers=None, body=b""):
        self.sock.sendall(encode(command, headers, body))

    def send_bytes(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def read(self, timeout=10):
        """The next frame (heart-beat EOLs counted and skipped), or None at
        close or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            while self.buf[:1] in (b"\n", b"\r"):
                if self.buf[:2] == b"\r\n":
                    self.buf = self.buf[2:]
                else:
                    self.buf = self.buf[1:]
                self.heartbeats += 1
            end = self.buf.find(b"\n\n")
            if end >= 0:
                lines = self.buf[:end].decode().split("\n")
                headers = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers.setdefault(k, v)
                start = end + 2
                if "content-length" in headers:
                    stop = start + int(headers["content-length"])
                    if len(self.buf) > stop:
                        f = Frame(lines[0], headers, self.buf[start:stop])
                        self.buf = self.buf[stop + 1:]
                        return f
                else:
                    stop = self.buf.find(b"\0", start)
                    if stop >= 0:
                        f = Frame(lines[0], headers, self.buf[start:stop])
                        self.buf = self.buf[stop + 1:]
                        return f
            if time.monotonic() >= deadline or self.closed or not self._fill(deadline):
                if self.closed or time.monotonic() >= deadline:
                    return None

    def expect(self, command, timeout=10):
        """The next `command` frame. Waiting for another command, MESSAGE
        frames (room events racing a RECEIPT) are kept for later."""
        if command == "MESSAGE" and self.backlog:
            return self.backlog.pop(0)
        while True:
            f = self.read(timeout)
            if f is not None and f.command == "MESSAGE" and command != "MESSAGE":
                self.backlog.append(f)
                continue
            assert f is not None and f.command == command, "expected %s, got %r" % (command, f)
            return f

    def wait_closed(self, timeout=10):
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            if not self._fill(deadline):
                break
        return self.closed

    def connect(self, user, version="1.2", heart_beat=None, extra=None):
        h = {"accept-version": version, "host": "x", "login": user, "passcode": password_of(user)}
        if heart_beat:
            h["heart-beat"] = heart_beat
        h.update(extra or {})
        self.send("CONNECT", h)
        return self.expect("CONNECTED")

    def close(self):
        self.sock.close()
