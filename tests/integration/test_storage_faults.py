"""Storage faults against a real server: the backend dies mid-stream; sends
in flight get an ERROR and no RECEIPT; readiness drops and comes back; after
the restart every receipted message is there, in order, once, and new
messages are stored again (docs/storage.md). CHATD_PROFILE: redis (default)
postgres or mysql (the server SIGKILLed: InnoDB crash recovery)."""
import json
import os
import signal
import threading
import unittest
import urllib.error
import urllib.request

from chatd_harness import Chatd, wait_for
from raw_stomp import RawStomp
from rooms_client import Api, check_receipted, history, send_message, send_until_refused
from servers import MariaDB, PostgreSQL, Redis

PROFILE = os.environ.get("CHATD_PROFILE", "redis")


def health(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class BackendRestart(unittest.TestCase):
    def test_backend_killed_and_restarted(self):
        if PROFILE == "postgres":
            backend = PostgreSQL().start()
            storage = {"plugin": "postgres", "conninfo": backend.conninfo}
        elif PROFILE == "mysql":
            backend = MariaDB().start()
            storage = backend.storage()
        else:
            backend = Redis().start()
            storage = {"plugin": "redis", "address": backend.address}
        self.addCleanup(backend.cleanup)
        srv = Chatd(lambda s: s.update({"storage": storage})).start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        wait_for(lambda: health(srv.http_port)[0] == 200, what="ready")
        api = Api(srv.http_port, "alice")
        rid = api.post("/api/rooms", {"kind": "group", "title": "faults", "members": ["bob", "agent1"]})[1]["id"]
        receipted, errors = {}, {}

        def sender(user):
            send_until_refused(srv.stomp_port, rid, user, receipted, errors)

        threads = [threading.Thread(target=sender, args=(u,)) for u in ("alice", "bob", "agent1")]
        for t in threads:
            t.start()
        wait_for(lambda: sum(len(v) for v in receipted.values()) >= 300, timeout=30, what="300 receipts")
        backend.kill()
        for t in threads:
            t.join()
        # Every sender was told, with a clear reason, that its last send was not stored.
        self.assertEqual(sorted(errors), ["agent1", "alice", "bob"])
        for f in errors.values():
            self.assertEqual(f.command, "ERROR")
            # Either the room lookup before the append or the append itself failed.
            self.assertIn(f.headers["message"], ("storage unavailable", "message not stored"))
        wait_for(lambda: health(srv.http_port)[0] == 503, what="not ready while the backend is down")
        self.assertFalse(health(srv.http_port)[1]["storage"])

        backend.start()  # same dir: the AOF / the WAL holds what was acknowledged
        wait_for(lambda: health(srv.http_port)[0] == 200, timeout=20, what="ready again")
        check_receipted(self, history(api, rid), receipted)
        # And the room works again.
        c = RawStomp(srv.stomp_port)
        self.addCleanup(c.close)
        c.connect("bob")
        send_message(c, rid, "after the restart", receipt="again")
        self.assertEqual(c.expect("RECEIPT").headers["receipt-id"], "again")
        self.assertEqual(api.get("/api/rooms/%s/messages?limit=1" % rid)[1]["messages"][0]["body"],
                         "after the restart")

    @unittest.skipUnless(PROFILE == "redis", "Redis' script cache")
    def test_script_cache_flushed(self):
        """storage-redis calls its scripts by SHA-1; after a SCRIPT FLUSH it
        reconnects, loads them again and serves on."""
        import socket
        backend = Redis().start()
        self.addCleanup(backend.cleanup)
        srv = Chatd(lambda s: s.update({"storage": {"plugin": "redis", "address": backend.address}})).start()
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.stop)
        wait_for(lambda: health(srv.http_port)[0] == 200, what="ready")
        api = Api(srv.http_port, "alice")
        rid = api.post("/api/rooms", {"kind": "group", "title": "scripts", "members": ["bob"]})[1]["id"]
        with socket.create_connection(("127.0.0.1", backend.port)) as r:
            r.sendall(b"SCRIPT FLUSH\r\n")
            self.assertTrue(r.recv(64).startswith(b"+OK"))

        def stored():
            c = RawStomp(srv.stomp_port)
            try:
                c.connect("bob")
                send_message(c, rid, "after the flush", receipt="r")
                f = c.read(timeout=10)
                return f is not None and f.command == "RECEIPT"
            finally:
                c.close()
        wait_for(stored, timeout=20, what="a message stored after the flush")
        self.assertEqual(history(api, rid)[-1]["body"], "after the flush")


if __name__ == "__main__":
    unittest.main()
