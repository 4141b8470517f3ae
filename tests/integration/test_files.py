"""Attachments (docs/files.md) with real clients: uploads over HTTP
(http.client and a raw socket), downloads with ranges, every bad input
(oversize, a type not allowed, a type the bytes contradict, bytes of no
type, path tricks and control characters in names, a missing
Content-Length, a client gone midway, a quota), who may read, and the
`file` message over STOMP (stomp.py) in events, history and
notifications; files leave with their room and with an erased user. One
chatd with files-local."""
import base64
import http.client
import json
import os
import socket
import struct
import urllib.parse
import zlib

import stomp

import unittest

from chatd_harness import Chatd, OneServer, Recorder, disconnect_quietly, password_of, stomp_session, wait_for
from rooms_client import Api

MAX = 3 * 1024 * 1024


def png(w, h, extra=0):
    """A real PNG of w x h (an uncompressed gray picture), padded with an
    ancillary chunk of `extra` bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + b"\x80" * w for _ in range(h))
    pad = chunk(b"teXt", b"x" * extra) if extra else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + pad +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg(w, h):
    """The start of a baseline JPEG: SOI, APP0, SOF0 of w x h."""
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" +
            b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", h, w) + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01" +
            b"\xff\xd9")


def gif(w, h):
    return b"GIF89a" + struct.pack("<HH", w, h) + b"\x00\x00\x00;"


def webp(w, h):
    """A VP8X (extended) WebP header of a w x h canvas."""
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (w - 1).to_bytes(3, "little") + \
        (h - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


class Files(OneServer):
    @staticmethod
    def edit(sections):
        sections["files"] = {"plugin": "local", "dir": os.path.join(Files.files_dir), "max_size": str(MAX),
                             "allowed_types": "image/png image/jpeg image/gif image/webp text/plain",
                             "quota_per_user": str(7 * 1024 * 1024)}

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="chatd-files-")
        Files.files_dir = os.path.join(cls.tmp, "store")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ------------------------------------------------------------ helpers

    def auth(self, user):
        return "Basic " + base64.b64encode(("%s:%s" % (user, password_of(user))).encode()).decode()

    def request(self, user, method, path, body=None, headers=None):
        """(status, headers dict with lower-case names, body bytes)."""
        h = dict(headers or {})
        if user:
            h["Authorization"] = self.auth(user)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def upload(self, user, room, data, ctype=None, name=None, header_name=None):
        """(status, JSON answer)."""
        path = "/api/rooms/%s/files" % room
        if name is not None:
            path += "?" + urllib.parse.urlencode({"name": name})
        headers = {}
        if ctype:
            headers["Content-Type"] = ctype
        if header_name is not None:
            headers["X-File-Name"] = urllib.parse.quote(header_name, safe="")
        status, _, body = self.request(user, "POST", path, data, headers)
        return status, json.loads(body)

    def download(self, user, url, rng=None):
        return self.request(user, "GET", url, headers={"Range": rng} if rng else None)

    def group(self, owner, members, title="파일 📎"):
        status, room = Api(self.server.http_port, owner).post("/api/rooms", {"kind": "group", "title": title,
                                                                               "members": members})
        self.assertEqual(status, 201, room)
        return room["id"]

    def stored(self):
        """The files of the store (finished ones), by id."""
        return {n[:-5] for n in os.listdir(self.files_dir) if n.endswith(".meta")}

    def connect(self, user, *subscriptions):
        return stomp_session(self, self.server.stomp_port, user, *subscriptions)

    # -------------------------------------------------------------- tests

    def test_text_upload_and_download_keep_a_korean_name(self):
        rid = self.group("alice", ["bob"])
        text = "안녕하세요 😀\r\n두 번째 줄\n".encode()
        status, f = self.upload("alice", rid, text, "text/plain; charset=utf-8", name="회의록 📝.txt")
        self.assertEqual(status, 201, f)
        self.assertEqual((f["name"], f["content_type"], f["size"], f["room"]), ("회의록 📝.txt", "text/plain",
                                                                                len(text), rid))
        self.assertNotIn("width", f)
        self.assertEqual(f["url"], "/api/rooms/%s/files/%s" % (rid, f["id"]))
        status, h, body = self.download("bob", f["url"])
        self.assertEqual(status, 200)
        self.assertEqual(body, text)
        self.assertEqual(h["content-type"], "text/plain; charset=utf-8")
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertEqual(h["accept-ranges"], "bytes")
        self.assertIn("sandbox", h["content-security-policy"])
        self.assertEqual(h["content-disposition"],
                         "attachment; filename=\"___ _.txt\"; filename*=UTF-8''" +
                         urllib.parse.quote("회의록 📝.txt", safe=""))
        # The name from the header when the query has none.
        status, f2 = self.upload("alice", rid, b"plain", "text/plain", header_name="머리글 ✅.txt")
        self.assertEqual((status, f2["name"]), (201, "머리글 ✅.txt"))
        # Without Content-Type the bytes decide; without a name it is "file".
        status, f3 = self.upload("alice", rid, b"no type given")
        self.assertEqual((status, f3["content_type"], f3["name"]), (201, "text/plain", "file"))

    def test_images_answer_their_size(self):
        rid = self.group("alice", ["bob"])
        for ctype, data, (w, h) in [("image/png", png(300, 200), (300, 200)), ("image/jpeg", jpeg(640, 480), (640, 480)),
                                    ("image/gif", gif(32, 16), (32, 16)), ("image/webp", webp(1024, 768), (1024, 768)),
                                    ("application/octet-stream", png(7, 9), (7, 9))]:
            status, f = self.upload("alice", rid, data, ctype, name="그림")
            self.assertEqual(status, 201, f)
            self.assertEqual((f["width"], f["height"], f["size"]), (w, h, len(data)), ctype)
            st, headers, body = self.download("bob", f["url"])
            self.assertEqual((st, body), (200, data))
            self.assertTrue(headers["content-disposition"].startswith("inline;"), headers)
            self.assertEqual(headers["content-type"], f["content_type"])

    def test_bad_types_are_refused(self):
        rid = self.group("alice", ["bob"])
        before = self.stored()
        status, e = self.upload("alice", rid, os.urandom(2000), "image/png")
        self.assertEqual((status, e["error"]), (415, "unsupported_type"), e)
        status, e = self.upload("alice", rid, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf")
        self.assertEqual((status, e["error"]), (415, "type_not_allowed"), e)
        self.assertIn("application/pdf", e["message"])
        status, e = self.upload("alice", rid, png(4, 4), "image/jpeg")
        self.assertEqual((status, e["error"]), (415, "type_mismatch"), e)
        self.assertEqual(e["message"], "Content-Type says image/jpeg, the bytes are image/png")
        status, e = self.upload("alice", rid, "<html>한글</html>".encode(), "text/html")
        self.assertEqual((status, e["error"]), (415, "type_mismatch"), e)
        status, e = self.upload("alice", rid, b"text with a NUL\0", "text/plain")
        self.assertEqual((status, e["error"]), (415, "unsupported_type"), e)
        # Refused after its first 64 KiB, the rest of a large body still sent: the client reads the answer.
        status, e = self.upload("alice", rid, os.urandom(2500000), "image/png")
        self.assertEqual((status, e["error"]), (415, "unsupported_type"), e)
        self.assertEqual(self.stored(), before, "nothing refused is kept")
        self.assertEqual(self.upload("alice", rid, b"and the server goes on", "text/plain")[0], 201)

    def test_size_limit(self):
        rid = self.group("dana", ["bob"])
        status, e = self.upload("dana", rid, b"x" * (MAX + 1), "text/plain")
        self.assertEqual((status, e["error"], e["max_size"]), (413, "too_large", MAX), e)
        # At the limit, and through the gateway's window (reading pauses).
        data = png(64, 64, extra=MAX - len(png(64, 64)) - 12)
        self.assertEqual(len(data), MAX)
        status, f = self.upload("dana", rid, data, "image/png")
        self.assertEqual(status, 201, f)
        st, _, body = self.download("bob", f["url"])
        self.assertEqual((st, len(body), body == data), (200, MAX, True))
        self.request("dana", "DELETE", "/api/rooms/%s?for=everyone" % rid)

    def test_quota(self):
        rid = self.group("agent2", ["bob"])
        big = b"q" * (3 * 1024 * 1024)
        self.assertEqual(self.upload("agent2", rid, big, "text/plain")[0], 201)
        self.assertEqual(self.upload("agent2", rid, big, "text/plain")[0], 201)
        status, e = self.upload("agent2", rid, big, "text/plain")
        self.assertEqual((status, e["error"], e["quota"], e["used"]), (413, "quota_exceeded", 7 * 1024 * 1024,
                                                                        6 * 1024 * 1024), e)
        self.assertIn("quota", e["message"])
        # What fits still goes in.
        self.assertEqual(self.upload("agent2", rid, b"q" * 1024, "text/plain")[0], 201)
        # Deleting the room frees the quota.
        status, _, _ = self.request("agent2", "DELETE", "/api/rooms/%s?for=everyone" % rid)
        self.assertEqual(status, 200)
        rid2 = self.group("agent2", ["bob"])
        wait_for(lambda: self.upload("agent2", rid2, b"q" * 1024, "text/plain")[0] == 201 and
                 self.upload("agent2", rid2, big, "text/plain")[0] == 201, what="quota freed")

    def test_path_tricks_in_names(self):
        rid = self.group("alice", ["bob"])
        before = self.stored()
        cases = [("../../etc/passwd", "passwd"), ("..\\..\\windows\\win.ini", "win.ini"),
                 ("a/b/../c.txt", "c.txt"), ("..", "file"), ("../", "file"), (".bashrc", "bashrc"),
                 ("rtl\u202egpj.exe", "rtlgpj.exe"), ("보고서 최종본 😀👨‍👩‍👧.txt", "보고서 최종본 😀👨‍👩‍👧.txt"),
                 ("   .   spaced.txt  ", "spaced.txt"), ("esc\x1b[31m\x7f.txt", "esc[31m.txt")]
        for given, want in cases:
            status, f = self.upload("alice", rid, b"x", "text/plain", name=given)
            self.assertEqual((status, f.get("name")), (201, want), given)
        # Control characters, NUL included, in the X-File-Name header.
        for given, want in [("nul\0byte.txt", "nulbyte.txt"), ("tab\tand\r\nnewline.txt", "tabandnewline.txt"),
                            ("../../h\0idden/x.txt", "x.txt"), ("..\\사진\x85 😀.png", "사진 😀.png")]:
            status, f = self.upload("alice", rid, b"x", "text/plain", header_name=given)
            self.assertEqual((status, f.get("name")), (201, want), given)
        # A NUL in the query: the HTTP layer refuses the request itself.
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            self.upload("alice", rid, b"x", "text/plain", name="nul\0.txt")
        self.assertEqual(len(self.stored() - before), len(cases) + 4)
        long = "가" * 100  # 300 bytes: cut to 200 at most, whole characters
        status, f = self.upload("alice", rid, b"x", "text/plain", name=long)
        self.assertEqual((status, f["name"]), (201, "가" * 66))
        status, f = self.upload("alice", rid, b"x", "text/plain", header_name=long)
        self.assertEqual((status, f["name"]), (201, "가" * 66))
        # Only the store's own names are on disk, and nothing outside it.
        for n in os.listdir(self.files_dir):
            stem = n.split(".")[0]
            self.assertTrue(len(stem) == 32 and all(c in "0123456789abcdef" for c in stem), n)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["store"])

    def test_ids_that_try_to_leave_the_store(self):
        rid = self.group("alice", ["bob"])
        for fid in ["..%2F..%2Fetc%2Fpasswd", "..%5C..%5Cetc%5Cpasswd", "x.meta"]:
            status, _, body = self.download("alice", "/api/rooms/%s/files/%s" % (rid, fid))
            self.assertEqual(status, 404, (fid, body))

    def test_who_may_read(self):
        rid = self.group("alice", ["bob"])
        status, f = self.upload("alice", rid, "비밀 🤫".encode(), "text/plain")
        self.assertEqual(status, 201)
        status, _, body = self.download("dana", f["url"])
        self.assertEqual((status, json.loads(body)["error"]), (404, "not_found"))
        status, e = self.upload("dana", rid, b"x", "text/plain")
        self.assertEqual((status, e["error"]), (404, "not_found"))
        self.assertEqual(self.download(None, f["url"])[0], 401)
        # A file of another room is not this room's.
        other = self.group("dana", ["bob"])
        self.assertEqual(self.download("bob", "/api/rooms/%s/files/%s" % (other, f["id"]))[0], 404)
        # A support room: the customer uploads, an agent reads it from the queue.
        status, room = Api(self.server.http_port, "dana").post("/api/rooms", {"kind": "support"})
        self.assertIn(status, (200, 201), room)
        status, sf = self.upload("dana", room["id"], png(10, 10), "image/png", name="스크린샷.png")
        self.assertEqual(status, 201, sf)
        status, _, body = self.download("agent1", sf["url"])
        self.assertEqual((status, body), (200, png(10, 10)))
        self.assertEqual(self.download("bob", sf["url"])[0], 404)

    def test_ranges(self):
        rid = self.group("alice", ["bob"])
        data = "0123456789".encode() * 1000
        status, f = self.upload("alice", rid, data, "text/plain")
        self.assertEqual(status, 201)
        n = len(data)
        for rng, first, last in [("bytes=0-9", 0, 9), ("bytes=9990-", 9990, n - 1), ("bytes=-5", n - 5, n - 1),
                                 ("bytes=100-99999", 100, n - 1)]:
            status, h, body = self.download("bob", f["url"], rng)
            self.assertEqual(status, 206, rng)
            self.assertEqual(body, data[first:last + 1], rng)
            self.assertEqual(h["content-range"], "bytes %d-%d/%d" % (first, last, n))
            self.assertEqual(int(h["content-length"]), last - first + 1)
        for rng in ["bytes=%d-" % n, "bytes=-0"]:
            status, h, body = self.download("bob", f["url"], rng)
            self.assertEqual(status, 416, rng)
            self.assertEqual(h["content-range"], "bytes */%d" % n)
            self.assertEqual(json.loads(body)["error"], "range_not_satisfiable")
        for rng in ["bytes=0-1,5-6", "items=0-5", "bytes=9-2", "garbage"]:
            status, h, body = self.download("bob", f["url"], rng)
            self.assertEqual((status, body), (200, data), rng)

    def raw_request(self, head, body=b"", close_early=False):
        s = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=20)
        try:
            s.sendall(head.encode() + body)
            if close_early:
                return None
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out:
                    hdr, _, rest = out.partition(b"\r\n\r\n")
                    length = [int(line.split(b":")[1]) for line in hdr.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")]
                    if length and len(rest) >= length[0]:
                        break
            return out
        finally:
            s.close()

    def test_missing_length_and_a_client_gone_midway(self):
        rid = self.group("alice", ["bob"])
        out = self.raw_request("POST /api/rooms/%s/files HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n" % (rid, self.auth("alice")), b"5\r\nhello\r\n0\r\n\r\n")
        self.assertIn(b" 411 ", out.split(b"\r\n")[0])
        self.assertIn(b"length_required", out)
        # 2 MB announced, 300 KB sent, then the client is gone.
        self.raw_request("POST /api/rooms/%s/files HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                         "Content-Type: text/plain\r\nContent-Length: 2000000\r\n\r\n" % (rid, self.auth("alice")),
                         b"a" * 300000, close_early=True)
        wait_for(lambda: not [n for n in os.listdir(self.files_dir) if n.endswith((".part", ".upload"))],
                 what="the unfinished upload discarded")
        # The server goes on.
        self.assertEqual(self.upload("alice", rid, b"after", "text/plain")[0], 201)

    def test_file_message_over_stomp(self):
        rid = self.group("alice", ["bob"])
        other = self.group("alice", ["dana"])
        status, f = self.upload("alice", rid, png(120, 80), "image/png", name="사진 😀.png")
        self.assertEqual(status, 201)
        status, g = self.upload("alice", other, b"elsewhere", "text/plain")
        bob, bob_rec = self.connect("bob", "/user/queue/notifications")
        alice, rec = self.connect("alice", "/topic/rooms/%s" % rid)
        alice.send("/app/rooms/%s/send" % rid, json.dumps({"file": f["id"], "text": "휴가 사진 🏖️"}),
                   headers={"kind": "file", "receipt": "f1", "content-type": "application/json"})
        rec.wait_receipt("f1")
        rec.wait(lambda: [m for m in rec.messages if m.headers.get("event") == "message"], what="the event")
        msgs = [m for m in rec.messages if m.headers.get("event") == "message"]
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0].headers["kind"], "file")
        body = json.loads(msgs[0].body)
        self.assertEqual(body["text"], "휴가 사진 🏖️")
        self.assertEqual(body["file"]["id"], f["id"])
        self.assertEqual((body["file"]["name"], body["file"]["content_type"], body["file"]["width"],
                          body["file"]["height"], body["file"]["size"]), ("사진 😀.png", "image/png", 120, 80,
                                                                          len(png(120, 80))))
        self.assertEqual(body["file"]["url"], f["url"])
        # History and replay carry it.
        status, page = Api(self.server.http_port, "bob").get("/api/rooms/%s/messages?after=0" % rid)
        self.assertEqual(status, 200)
        m = page["messages"][-1]
        self.assertEqual(m["kind"], "file")
        self.assertEqual(m["content_type"], "application/json")
        stored = m["body"] if isinstance(m["body"], dict) else json.loads(m["body"])
        self.assertEqual(stored["file"]["id"], f["id"])
        replay, replay_rec = self.connect("bob")
        replay.subscribe("/topic/rooms/%s" % rid, id="r", receipt="r", headers={"since-seq": "0"})
        replay_rec.wait(lambda: [x for x in replay_rec.messages if x.headers.get("kind") == "file"],
                        what="the file message replayed")
        # Bob, not subscribed to the room, hears of it with the caption.
        bob_rec.wait(lambda: [x for x in bob_rec.messages if x.headers.get("event") == "message"],
                     what="notification")
        note = [x for x in bob_rec.messages if x.headers.get("event") == "message"][0]
        nb = json.loads(note.body)
        self.assertEqual((nb["room"], nb["preview"]), (rid, "휴가 사진 🏖️"))
        # Without a caption the text is the file's name.
        alice.send("/app/rooms/%s/send" % rid, json.dumps({"file": f["id"]}), headers={"kind": "file", "receipt": "f2"})
        rec.wait_receipt("f2")
        last = Api(self.server.http_port, "bob").get("/api/rooms/%s/messages?limit=1" % rid)[1]["messages"][0]
        lb = last["body"] if isinstance(last["body"], dict) else json.loads(last["body"])
        self.assertEqual(lb["text"], "사진 😀.png")

    def test_file_message_refusals(self):
        rid = self.group("alice", ["bob"])
        other = self.group("alice", ["dana"])
        status, g = self.upload("alice", other, b"elsewhere", "text/plain")
        self.assertEqual(status, 201)
        for body, want in [(json.dumps({"file": "nosuchfile"}), "no such file"),
                           (json.dumps({"file": g["id"]}), "no such file"),
                           ("not json", "invalid message body"), (json.dumps({"file": 5}), "invalid message body"),
                           (json.dumps({"file": g["id"], "text": 5}), "invalid message body")]:
            conn, rec = self.connect("alice")
            conn.send("/app/rooms/%s/send" % rid, body, headers={"kind": "file", "receipt": "x"})
            self.assertEqual(rec.wait_error().headers["message"], want, body)
        conn, rec = self.connect("alice")
        conn.send("/app/rooms/%s/send" % rid, "x", headers={"kind": "system", "receipt": "x"})
        self.assertEqual(rec.wait_error().headers["message"], "invalid kind")
        status, page = Api(self.server.http_port, "alice").get("/api/rooms/%s/messages?after=0" % rid)
        self.assertEqual(page["messages"], [], "nothing refused was stored")

    def test_files_leave_with_their_room_and_their_owner(self):
        rid = self.group("bob", ["alice"])
        _, f1 = self.upload("bob", rid, b"one", "text/plain")
        _, f2 = self.upload("alice", rid, b"two", "text/plain")
        keep = self.group("alice", ["bob"])
        _, f3 = self.upload("bob", keep, b"three", "text/plain")
        _, f4 = self.upload("alice", keep, b"four", "text/plain")
        self.assertTrue({f1["id"], f2["id"], f3["id"], f4["id"]} <= self.stored())
        status, _, _ = self.request("bob", "DELETE", "/api/rooms/%s?for=everyone" % rid)
        self.assertEqual(status, 200)
        wait_for(lambda: not ({f1["id"], f2["id"]} & self.stored()), what="the deleted room's files removed")
        self.assertTrue({f3["id"], f4["id"]} <= self.stored())
        self.assertEqual(self.download("alice", f1["url"])[0], 404)


class FilesErase(OneServer):
    """A user's erasure takes their files, and leaves the others'."""

    @staticmethod
    def edit(sections):
        sections["files"] = {"plugin": "local", "dir": FilesErase.files_dir}

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="chatd-files-erase-")
        FilesErase.files_dir = os.path.join(cls.tmp, "store")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_erase(self):
        t = Files.request.__get__(self)
        up = Files.upload.__get__(self)
        self.auth = Files.auth.__get__(self)
        self.request = t
        status, room = Api(self.server.http_port, "dana").post("/api/rooms", {"kind": "group", "title": "지우기",
                                                                              "members": ["bob"]})
        rid = room["id"]
        _, mine = up("dana", rid, b"dana's", "text/plain")
        _, theirs = up("bob", rid, b"bob's", "text/plain")
        status, _, body = t("admin1", "DELETE", "/api/users/dana")
        self.assertEqual(status, 200, body)
        stored = lambda: {n[:-5] for n in os.listdir(self.files_dir) if n.endswith(".meta")}
        wait_for(lambda: mine["id"] not in stored(), what="the erased user's file removed")
        self.assertIn(theirs["id"], stored())


class FilesReload(OneServer):
    """[files] takes effect at a restart: a reload that changes it is
    refused, naming the key, and the server keeps the limits it has."""

    @staticmethod
    def edit(sections):
        sections["files"] = {"plugin": "local", "dir": FilesReload.files_dir, "max_size": "64K"}

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="chatd-files-reload-")
        FilesReload.files_dir = os.path.join(cls.tmp, "store")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_reload_refused(self):
        self.server.sections["files"]["max_size"] = "1K"
        self.server.write_config()
        token = "Basic " + base64.b64encode(("admin1:" + password_of("admin1")).encode()).decode()
        conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=10)
        conn.request("POST", "/api/admin/reload", headers={"Authorization": token})
        r = conn.getresponse()
        body = json.loads(r.read())
        conn.close()
        self.assertEqual((r.status, body["error"]), (409, "reload_refused"), body)
        self.assertIn("changing [files] max_size needs a restart", body["message"])
        status, room = Api(self.server.http_port, "bob").post("/api/rooms", {"kind": "group", "title": "t",
                                                                             "members": []})
        self.assertEqual(status, 201, room)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=10)
        conn.request("POST", "/api/rooms/%s/files" % room["id"], b"x" * 4096,
                     {"Authorization": "Basic " + base64.b64encode(("bob:" + password_of("bob")).encode()).decode(),
                      "Content-Type": "text/plain"})
        r = conn.getresponse()
        self.assertEqual(r.status, 201, r.read())
        conn.close()


class FilesShared(unittest.TestCase):
    """Two instances over one PostgreSQL (storage-postgres and
    files-postgres): a file uploaded through one is read, ranged, posted
    and removed through the other."""

    def test_two_instances_share_files(self):
        from servers import PostgreSQL
        pg = PostgreSQL().start()
        self.addCleanup(pg.cleanup)
        self.addCleanup(pg.stop)

        def edit(sections):
            sections["storage"] = {"plugin": "postgres", "conninfo": pg.conninfo}
            sections["files"] = {"plugin": "postgres", "conninfo": pg.conninfo, "max_size": "2M"}
        a, b = Chatd(edit).start(), Chatd(edit).start()
        for server in (a, b):
            self.addCleanup(server.cleanup)
            self.addCleanup(server.stop)
        status, room = Api(a.http_port, "alice").post("/api/rooms", {"kind": "group", "title": "공유 📁",
                                                                    "members": ["bob"]})
        self.assertEqual(status, 201, room)
        data = png(200, 100, extra=1500000)

        def request(server, user, method, path, body=None, headers=None):
            h = dict(headers or {})
            h["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % (user, password_of(user))).encode()).decode()
            conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
            try:
                conn.request(method, path, body=body, headers=h)
                r = conn.getresponse()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
            finally:
                conn.close()
        status, _, body = request(a, "alice", "POST", "/api/rooms/%s/files?name=%s" % (
            room["id"], urllib.parse.quote("공유 그림.png")), data, {"Content-Type": "image/png"})
        self.assertEqual(status, 201, body)
        f = json.loads(body)
        self.assertEqual((f["width"], f["height"], f["name"]), (200, 100, "공유 그림.png"))
        status, h, got = request(b, "bob", "GET", f["url"])
        self.assertEqual((status, got == data), (200, True))
        status, h, got = request(b, "bob", "GET", f["url"], headers={"Range": "bytes=1000000-1000009"})
        self.assertEqual((status, got, h["content-range"]), (206, data[1000000:1000010],
                                                            "bytes 1000000-1000009/%d" % len(data)))
        self.assertEqual(request(b, "dana", "GET", f["url"])[0], 404)
        # bob posts it through b; alice, on a, has it in history.
        conn = stomp.Connection12([("127.0.0.1", b.stomp_port)])
        rec = Recorder()
        conn.set_listener("rec", rec)
        conn.connect("bob", password_of("bob"), wait=True)
        self.addCleanup(disconnect_quietly, conn)
        conn.send("/app/rooms/%s/send" % room["id"], json.dumps({"file": f["id"]}), headers={"kind": "file",
                                                                                           "receipt": "f"})
        rec.wait_receipt("f")
        page = Api(a.http_port, "alice").get("/api/rooms/%s/messages?after=0" % room["id"])[1]
        m = page["messages"][-1]
        body = m["body"] if isinstance(m["body"], dict) else json.loads(m["body"])
        self.assertEqual((m["kind"], body["file"]["id"]), ("file", f["id"]))
        # Deleting the room through b removes the file for a too.
        self.assertEqual(request(b, "alice", "DELETE", "/api/rooms/%s?for=everyone" % room["id"])[0], 200)
        wait_for(lambda: request(a, "alice", "GET", f["url"])[0] == 404, what="the file gone for every instance")


if __name__ == "__main__":
    import unittest
    unittest.main()
