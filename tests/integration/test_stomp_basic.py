"""Two real STOMP clients (stomp.py) exchange messages through chatd, over
raw TCP and over WebSocket; bad credentials and bad frames are refused."""
import socket
import unittest

import stomp

from chatd_harness import OneServer, Recorder, disconnect_quietly, hash_password, password_of, wait_for
from stomp_ws import WSConnection12


class StompBasic(OneServer):

    def client(self, transport, user, connect=True):
        if transport == "tcp":
            conn = stomp.Connection12([("127.0.0.1", self.server.stomp_port)])
        else:
            conn = WSConnection12("ws://127.0.0.1:%d/ws" % self.server.http_port,
                                  origin="http://localhost:%d" % self.server.http_port)
        rec = Recorder()
        conn.set_listener("rec", rec)
        if connect:
            conn.connect(user, password_of(user), wait=True)
            self.addCleanup(disconnect_quietly, conn)
        return conn, rec

    def exchange(self, transport):
        sub, sub_rec = self.client(transport, "alice")
        pub, pub_rec = self.client(transport, "agent1")
        dest = "/topic/basic.%s" % transport
        sub.subscribe(dest, id="s1", receipt="sub-1")
        sub_rec.wait_receipt("sub-1")
        pub.send(dest, "hello over " + transport, headers={"x-note": "a:b\\c"}, receipt="send-1")
        pub_rec.wait_receipt("send-1")
        sub_rec.wait_messages(1)
        m = sub_rec.messages[0]
        self.assertEqual(m.body, "hello over " + transport)
        self.assertEqual(m.headers["destination"], dest)
        self.assertEqual(m.headers["subscription"], "s1")
        self.assertTrue(m.headers["message-id"])
        self.assertEqual(m.headers["x-note"], "a:b\\c")
        # The publisher is not subscribed and gets nothing.
        self.assertEqual(pub_rec.messages, [])

    def test_exchange_over_tcp(self):
        self.exchange("tcp")

    def test_exchange_over_websocket(self):
        self.exchange("ws")

    def test_websocket_and_tcp_clients_meet(self):
        sub, sub_rec = self.client("ws", "bob")
        pub, pub_rec = self.client("tcp", "agent2")
        sub.subscribe("/topic/mixed", id="m", receipt="r")
        sub_rec.wait_receipt("r")
        pub.send("/topic/mixed", "cross-transport", receipt="s")
        sub_rec.wait_messages(1)
        self.assertEqual(sub_rec.messages[0].body, "cross-transport")

    def test_wrong_password_gets_error_and_close(self):
        for transport in ("tcp", "ws"):
            conn, rec = self.client(transport, "alice", connect=False)
            conn.connect("alice", "wrong", wait=False)
            err = rec.wait_error()
            self.assertEqual(err.headers.get("message"), "bad credentials")
            rec.wait(lambda: rec.disconnected, what="close after ERROR")

    def test_disconnect_receipt(self):
        """DISCONNECT with a receipt: the RECEIPT, then the server closes."""
        pw = password_of("bob").encode()
        out = self.raw(b"CONNECT\naccept-version:1.2\nhost:x\nlogin:bob\npasscode:" + pw + b"\n\n\0",
                       then=b"DISCONNECT\nreceipt:bye-1\n\n\0", after=b"CONNECTED")
        self.assertTrue(out.endswith(b"RECEIPT\nreceipt-id:bye-1\n\n\0"), out)

    def raw(self, data, then=None, after=None):
        """Send raw bytes on TCP; once `after` appears in the output send
        `then`; return everything until the server closes."""
        with socket.create_connection(("127.0.0.1", self.server.stomp_port), timeout=10) as s:
            s.sendall(data)
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    return out
                out += b
                if then and after in out:
                    s.sendall(then)
                    then = None

    def test_frame_before_connect_is_refused(self):
        out = self.raw(b"SEND\ndestination:/topic/x\n\nhi\0")
        self.assertTrue(out.startswith(b"ERROR\n"), out)
        self.assertIn(b"message:not connected\n", out)

    def test_unparsable_frame_is_refused(self):
        out = self.raw(b"HELLO\n\n\0")
        self.assertTrue(out.startswith(b"ERROR\n"), out)
        self.assertIn(b"message:unknown command\n", out)

    def test_unknown_destination(self):
        conn, rec = self.client("tcp", "alice")
        conn.subscribe("/nowhere/x", id="1")
        err = rec.wait_error()
        self.assertEqual(err.headers.get("message"), "unknown destination")

    def test_pipelined_frames_after_connect(self):
        """CONNECT, SUBSCRIBE and SEND in one write: held until CONNECTED."""
        pw = password_of("alice").encode()
        data = (b"CONNECT\naccept-version:1.2\nhost:x\nlogin:alice\npasscode:" + pw + b"\n\n\0"
                b"SUBSCRIBE\nid:1\ndestination:/topic/pipe\n\n\0"
                b"SEND\ndestination:/topic/pipe\n\nping\0")
        out = self.raw(data, then=b"DISCONNECT\nreceipt:done\n\n\0", after=b"ping\0")
        self.assertTrue(out.startswith(b"CONNECTED\n"), out)
        self.assertIn(b"MESSAGE\n", out)
        self.assertIn(b"ping\0", out)
        self.assertIn(b"RECEIPT\nreceipt-id:done\n", out)


MANY_USERS = 20000
MANY_PASSWORD = "공유-비밀번호-🔑"


def many_static_users(sections):
    """A static user list of MANY_USERS Korean names with emoji (one hash
    for all: PBKDF2 of each would be slow to make, not to load)."""
    digest = hash_password(MANY_PASSWORD)
    auth = sections["auth"]
    for i in range(MANY_USERS):
        auth["user.고객%d😀.password" % i] = digest
        auth["user.고객%d😀.roles" % i] = "agent" if i % 100 == 0 else "user"


class ManyStaticUsers(OneServer):
    """The static plugin with 20,000 users (40,000 keys in [auth]): every
    one of them signs in, strangers and wrong passwords do not."""

    edit = staticmethod(many_static_users)

    def connect(self, login, passcode):
        c = self.raw()
        c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": login, "passcode": passcode})
        return c

    def test_first_middle_and_last_users_sign_in(self):
        for i in (0, MANY_USERS // 2 + 7, MANY_USERS - 1):
            f = self.connect("고객%d😀" % i, MANY_PASSWORD).expect("CONNECTED")
            self.assertEqual(f.headers["user-name"], "고객%d😀" % i)
        # the users of the default list are still there
        self.raw("alice")

    def test_strangers_and_wrong_passwords_are_refused(self):
        for login, passcode in (("고객%d😀" % MANY_USERS, MANY_PASSWORD), ("고객1", MANY_PASSWORD),
                                ("고객5😀", "wrong")):
            err = self.connect(login, passcode).expect("ERROR")
            self.assertEqual(err.headers.get("message"), "bad credentials")


if __name__ == "__main__":
    unittest.main()
