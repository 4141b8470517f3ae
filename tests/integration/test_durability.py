"""A RECEIPT means stored: kill chatd with SIGKILL mid-stream, start it
again on the same database, and every receipted message is there, in
order, once. CHATD_PROFILE: sqlite (default), postgres or mysql."""
import os
import shutil
import signal
import tempfile
import threading
import unittest

from chatd_harness import Chatd, wait_for
from rooms_client import Api, check_receipted, history, send_until_refused
from servers import MariaDB, PostgreSQL

PROFILE = os.environ.get("CHATD_PROFILE", "sqlite")


class Durability(unittest.TestCase):
    def test_sigkill_loses_nothing_receipted(self):
        data = tempfile.mkdtemp(prefix="chatd-durable-")
        self.addCleanup(shutil.rmtree, data, True)
        if PROFILE == "postgres":
            pg = PostgreSQL().start()
            self.addCleanup(pg.cleanup)
            storage = {"plugin": "postgres", "conninfo": pg.conninfo}
        elif PROFILE == "mysql":
            db = MariaDB().start()
            self.addCleanup(db.cleanup)
            storage = db.storage()
        else:
            storage = {"plugin": "sqlite", "path": os.path.join(data, "chat.db")}

        def edit(s):
            s["storage"] = storage

        srv = Chatd(edit).start()
        api = Api(srv.http_port, "alice")
        rid = api.post("/api/rooms", {"kind": "group", "title": "durable", "members": ["bob", "agent1"]})[1]["id"]
        receipted = {}  # user -> [client-id, ...] in receipt order

        def sender(user):
            send_until_refused(srv.stomp_port, rid, user, receipted)

        threads = [threading.Thread(target=sender, args=(u,)) for u in ("alice", "bob", "agent1")]
        for t in threads:
            t.start()
        # Kill once a good number of messages are acknowledged.
        wait_for(lambda: sum(len(v) for v in receipted.values()) >= 300, timeout=30, what="300 receipts")
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        for t in threads:
            t.join()
        srv.log.close()
        self.assertGreaterEqual(sum(len(v) for v in receipted.values()), 300)

        again = Chatd(edit)
        again.start()
        try:
            api = Api(again.http_port, "alice")
            check_receipted(self, history(api, rid), receipted)
        finally:
            again.stop()
            again.cleanup()
        srv.cleanup()


if __name__ == "__main__":
    unittest.main()
