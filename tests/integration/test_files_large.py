"""Large attachments (docs/files.md, "Streaming and memory"): a file of
64 MiB goes up and comes down whole and in ranges that cross the reads'
boundaries, checked by sha256, while chatd's resident memory (VmRSS)
stays far below the file's size: uploads and downloads are streamed in
bounded windows. A client that stops reading holds only its window on
the server; one that goes away midway ends its download; a file removed
midway cuts the download short. With files-local, with files-postgres (a
server of its own), and with files-local over HTTPS."""
import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import tempfile
import urllib.parse

import unittest

from chatd_harness import Chatd, free_port, password_of, port_open, wait_for
from peak_rss import PeakRss
from rooms_client import Api

MIB = 1024 * 1024
SIZE = int(os.environ.get("CHATD_FILES_LARGE_MIB", "64")) * MIB
# What chatd may grow by while it moves SIZE bytes each way: its windows
# (about 2 MiB a download, 1 MiB an upload) and the allocator's slack,
# far below one copy of the file.
BOUND = 24 * MIB


def content(size):
    """size bytes of numbered text lines: every range differs from every
    other, and the type sniffs as text/plain."""
    line = 16
    data = b"".join(b"%015d\n" % i for i in range(size // line))
    return data + b"\n" * (size - len(data))


class LargeFiles:
    """The scenarios; a subclass names the files plugin (files_section)."""

    server = None
    data = content(SIZE)
    digest = hashlib.sha256(data).hexdigest()

    @classmethod
    def setUpClass(cls):
        # Under AddressSanitizer freed memory sits in a quarantine (256 MiB
        # by default) and would look like growth; keep it small. Other
        # builds ignore the variable.
        cls.old_asan = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = (cls.old_asan + ":" if cls.old_asan else "") + "quarantine_size_mb=4"
        cls.tmp = tempfile.mkdtemp(prefix="chatd-files-large-")
        cls.start_backend()

        def edit(sections):
            sections["server"]["log_level"] = "info"
            sections["files"] = dict(cls.files_section(), max_size=str(SIZE + MIB), quota_per_user="0",
                                     allowed_types="text/plain image/png")
            cls.edit_server(sections)
        cls.server = Chatd(edit).start()
        cls.server_started()
        status, room = Api(cls.server.http_port, "alice").post("/api/rooms", {
            "kind": "group", "title": "큰 파일 📦", "members": ["bob"]})
        assert status == 201, room
        cls.room = room["id"]
        cls.base_rss = PeakRss(cls.server.proc.pid).now()
        with PeakRss(cls.server.proc.pid) as rss:
            status, body = cls.upload(cls.data)
        assert status == 201, body
        cls.file = json.loads(body)
        cls.upload_peak = rss.peak

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.server:
                cls.server.stop()
                cls.server.cleanup()
        finally:
            cls.stop_backend()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            if cls.old_asan is None:
                os.environ.pop("ASAN_OPTIONS", None)
            else:
                os.environ["ASAN_OPTIONS"] = cls.old_asan

    @classmethod
    def start_backend(cls):
        pass

    @staticmethod
    def edit_server(sections):
        pass

    @classmethod
    def stop_backend(cls):
        pass

    @classmethod
    def server_started(cls):
        pass

    @staticmethod
    def auth(user):
        return "Basic " + base64.b64encode(("%s:%s" % (user, password_of(user))).encode()).decode()

    @classmethod
    def http(cls):
        """An HTTP connection to chatd."""
        return http.client.HTTPConnection("127.0.0.1", cls.server.http_port, timeout=120)

    @classmethod
    def socket(cls, rcvbuf):
        """A connected socket to chatd's HTTP listener with a receive
        buffer of rcvbuf bytes."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(60)
        s.connect(("127.0.0.1", cls.server.http_port))
        return s

    @classmethod
    def upload(cls, data, room=None):
        conn = cls.http()
        try:
            conn.request("POST", "/api/rooms/%s/files?%s" % (room or cls.room, urllib.parse.urlencode(
                {"name": "큰 기록 📜.txt"})), body=data, headers={"Authorization": cls.auth("alice"),
                                                                  "Content-Type": "text/plain"})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def get(self, rng=None, url=None):
        """(status, headers, sha256 hex of the body, body length, the body
        when it is at most 8 MiB), read in pieces of 1 MiB."""
        h = {"Authorization": self.auth("bob")}
        if rng:
            h["Range"] = rng
        conn = self.http()
        try:
            conn.request("GET", url or self.file["url"], headers=h)
            r = conn.getresponse()
            sha, n, keep = hashlib.sha256(), 0, []
            while True:
                piece = r.read(MIB)
                if not piece:
                    break
                sha.update(piece)
                n += len(piece)
                if n <= 8 * MIB:
                    keep.append(piece)
            return r.status, {k.lower(): v for k, v in r.getheaders()}, sha.hexdigest(), n, \
                b"".join(keep) if n <= 8 * MIB else None
        finally:
            conn.close()

    def raw_get(self, url=None, rcvbuf=64 * 1024):
        """A raw HTTP/1.1 GET of the whole file on a socket with a small
        receive buffer; returns the socket, nothing read yet."""
        s = self.socket(rcvbuf)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n" % (
            url or self.file["url"], self.auth("bob"))).encode())
        return s

    @staticmethod
    def read_exactly(s, n, sha=None):
        got = 0
        while got < n:
            piece = s.recv(min(256 * 1024, n - got))
            if not piece:
                raise AssertionError("the connection closed after %d of %d bytes" % (got, n))
            if sha:
                sha.update(piece)
            got += len(piece)

    @staticmethod
    def read_head(s):
        """The response's header block (bytes) and what came after it."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            piece = s.recv(4096)
            if not piece:
                raise AssertionError("the connection closed in the headers")
            buf += piece
        head, _, rest = buf.partition(b"\r\n\r\n")
        return head, rest

    # -------------------------------------------------------------- tests

    def test_upload_is_streamed(self):
        self.assertEqual((self.file["size"], self.file["name"], self.file["content_type"]),
                         (SIZE, "큰 기록 📜.txt", "text/plain"))
        self.assertLess(self.upload_peak - self.base_rss, BOUND,
                        "chatd grew by %.1f MiB taking a file of %d MiB" % (
                            (self.upload_peak - self.base_rss) / MIB, SIZE // MIB))

    def test_download_is_streamed_with_bounded_memory(self):
        before = PeakRss(self.server.proc.pid).now()
        with PeakRss(self.server.proc.pid) as rss:
            status, h, sha, n, _ = self.get()
        self.assertEqual((status, n, sha), (200, SIZE, self.digest))
        self.assertEqual(int(h["content-length"]), SIZE)
        self.assertIn("filename*=UTF-8''", h["content-disposition"])
        self.assertEqual(h["accept-ranges"], "bytes")
        self.assertLess(rss.peak - before, BOUND, "chatd grew by %.1f MiB sending a file of %d MiB" % (
            (rss.peak - before) / MIB, SIZE // MIB))

    def test_ranges_across_reads(self):
        cases = [("bytes=0-0", 0, 0), ("bytes=%d-%d" % (MIB - 5, 3 * MIB + 7), MIB - 5, 3 * MIB + 7),
                 ("bytes=-%d" % (5 * MIB + 3), SIZE - 5 * MIB - 3, SIZE - 1),
                 ("bytes=%d-" % (SIZE - 10), SIZE - 10, SIZE - 1),
                 ("bytes=%d-%d" % (2 * MIB, 2 * MIB), 2 * MIB, 2 * MIB)]
        for rng, first, last in cases:
            status, h, sha, n, body = self.get(rng)
            self.assertEqual(status, 206, rng)
            self.assertEqual(h["content-range"], "bytes %d-%d/%d" % (first, last, SIZE), rng)
            self.assertEqual((n, int(h["content-length"])), (last - first + 1, last - first + 1), rng)
            self.assertEqual(body, self.data[first:last + 1], rng)
        # A range of most of the file, by digest.
        first, last = 12345, SIZE - 54321
        before = PeakRss(self.server.proc.pid).now()
        with PeakRss(self.server.proc.pid) as rss:
            status, h, sha, n, _ = self.get("bytes=%d-%d" % (first, last))
        self.assertEqual((status, n, sha), (206, last - first + 1,
                                            hashlib.sha256(self.data[first:last + 1]).hexdigest()))
        self.assertLess(rss.peak - before, BOUND, "chatd grew by %.1f MiB sending a range" % (
            (rss.peak - before) / MIB))
        status, h, _, _, body = self.get("bytes=%d-" % SIZE)
        self.assertEqual((status, h["content-range"]), (416, "bytes */%d" % SIZE))

    def test_a_reader_that_stops_holds_only_its_window(self):
        s = self.raw_get()
        self.addCleanup(s.close)
        head, rest = self.read_head(s)
        self.assertIn(b" 200 ", head.split(b"\r\n")[0])
        sha = hashlib.sha256(rest)
        self.read_exactly(s, MIB - len(rest), sha)
        # It stops reading. Another client downloads the whole file
        # meanwhile: had chatd read ahead for the stalled one without a
        # bound, it would have read all of it by the time this one ends
        # (the plugin serves the two downloads' reads in turn).
        before = PeakRss(self.server.proc.pid).now()
        with PeakRss(self.server.proc.pid) as rss:
            status, _, digest, n, _ = self.get()
        self.assertEqual((status, n, digest), (200, SIZE, self.digest))
        self.assertLess(rss.peak - before, BOUND, "chatd grew by %.1f MiB with a stalled reader" % (
            (rss.peak - before) / MIB))
        # The stalled client reads on: every byte comes, in order.
        self.read_exactly(s, SIZE - MIB, sha)
        self.assertEqual(sha.hexdigest(), self.digest)

    def test_a_reader_gone_midway_ends_its_download(self):
        for _ in range(3):
            s = self.raw_get()
            self.read_head(s)
            self.read_exactly(s, 3 * MIB)
            s.close()
        # The server goes on serving (and, under ASan, leaks nothing at its stop).
        status, _, _, _, body = self.get("bytes=100-199")
        self.assertEqual((status, body), (206, self.data[100:200]))


    def test_a_file_removed_midway_cuts_its_download(self):
        status, room = Api(self.server.http_port, "alice").post("/api/rooms", {
            "kind": "group", "title": "사라질 방 🗑️", "members": ["bob"]})
        self.assertEqual(status, 201, room)
        size = 16 * MIB
        status, body = self.upload(content(size), room["id"])
        self.assertEqual(status, 201, body)
        url = json.loads(body)["url"]
        s = self.raw_get(url)
        self.addCleanup(s.close)
        head, rest = self.read_head(s)
        self.assertIn(b"Content-Length: %d" % size, head.replace(b"content-length", b"Content-Length"))
        self.read_exactly(s, MIB - len(rest))
        # The room and its files go while the reader is stalled: what was
        # handed over still comes, then the connection closes short.
        status, _ = Api(self.server.http_port, "alice").delete("/api/rooms/%s?for=everyone" % room["id"])
        self.assertEqual(status, 200)
        wait_for(lambda: self.get(url=url)[0] == 404, what="the file gone")
        got = MIB
        while True:
            piece = s.recv(256 * 1024)
            if not piece:
                break
            got += len(piece)
        self.assertLess(got, size)
        # The server goes on serving.
        status, _, _, _, body = self.get("bytes=0-99")
        self.assertEqual((status, body), (206, self.data[:100]))


class LargeFilesLocal(LargeFiles, unittest.TestCase):
    @classmethod
    def files_section(cls):
        return {"plugin": "local", "dir": os.path.join(cls.tmp, "store")}


class LargeFilesPostgres(LargeFiles, unittest.TestCase):
    @classmethod
    def start_backend(cls):
        from servers import PostgreSQL
        cls.pg = PostgreSQL().start()

    @classmethod
    def stop_backend(cls):
        cls.pg.stop()
        cls.pg.cleanup()

    @classmethod
    def files_section(cls):
        return {"plugin": "postgres", "conninfo": cls.pg.conninfo}



class LargeFilesTls(LargeFiles, unittest.TestCase):
    """files-local over HTTPS: TLS writes the pieces in records and may
    take part of a write."""

    @classmethod
    def start_backend(cls):
        from tls_certs import Certs
        cls.certs = Certs(cls.tmp)
        cls.tls_port = free_port()
        cls.ctx = ssl.create_default_context(cafile=cls.certs.path("ca.pem"))

    @classmethod
    def edit_server(cls, sections):
        sections["server"].update({"tls_listen": "127.0.0.1:%d" % cls.tls_port,
                                   "tls_cert": cls.certs.path("server.pem"),
                                   "tls_key": cls.certs.path("server.key")})

    @classmethod
    def server_started(cls):
        wait_for(lambda: cls.server.proc.poll() is not None or port_open(cls.tls_port), what="the TLS listener")

    @classmethod
    def files_section(cls):
        return {"plugin": "local", "dir": os.path.join(cls.tmp, "store")}

    @classmethod
    def http(cls):
        return http.client.HTTPSConnection("127.0.0.1", cls.tls_port, context=cls.ctx, timeout=120)

    @classmethod
    def socket(cls, rcvbuf):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(60)
        s.connect(("127.0.0.1", cls.tls_port))
        return cls.ctx.wrap_socket(s, server_hostname="localhost")


if __name__ == "__main__":
    unittest.main()
