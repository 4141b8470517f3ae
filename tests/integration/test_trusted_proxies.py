"""[server] trusted_proxies: behind a trusted proxy a WebSocket or SockJS
connection counts as the client the proxy names (Forwarded, else
X-Forwarded-For, read from the right), for max_connections_per_ip and the
logs; from anyone else those headers are ignored."""
import http.client
import re
import socket
import struct
import unittest
import urllib.request
import uuid

import websocket

from chatd_harness import OneServer, password_of, wait_for
from test_check_config import check
from chatd_harness import default_sections


def ws_connect(port, user, headers=()):
    """A STOMP session over WebSocket with extra upgrade headers: the first
    frame the server sends back (CONNECTED, or ERROR)."""
    ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % port, subprotocols=["v12.stomp"],
                                     header=list(headers), timeout=10)
    ws.send("CONNECT\naccept-version:1.2\nlogin:%s\npasscode:%s\n\n\0" % (user, password_of(user)))
    return ws, ws.recv()


class TrustedProxy(OneServer):
    @staticmethod
    def edit(s):
        s["server"].update({"trusted_proxies": "127.0.0.1, 10.0.0.0/8", "max_connections_per_ip": "1"})

    def open(self, *headers):
        ws, first = ws_connect(self.server.http_port, "alice", headers)
        self.addCleanup(ws.close)
        return first

    def test_each_forwarded_client_counts_as_itself(self):
        self.assertTrue(self.open("X-Forwarded-For: 198.51.100.7").startswith("CONNECTED"))
        # Another client behind the same proxy: its own address, its own count.
        self.assertTrue(self.open("X-Forwarded-For: 198.51.100.8, 10.1.2.3").startswith("CONNECTED"))
        # The first client again: over its limit of one.
        first = self.open("X-Forwarded-For: 198.51.100.7")
        self.assertTrue(first.startswith("ERROR"), first)
        self.assertIn("message:too many connections from this address", first)
        log = self.server.read_log()
        self.assertIn("opened from 198.51.100.7 over websocket", log)
        self.assertIn("opened from 198.51.100.8 over websocket", log)
        self.assertIn("connection from 198.51.100.7 refused", log)

    def test_forwarded_wins_over_x_forwarded_for(self):
        first = self.open('Forwarded: for="[2001:db8::17]:4711";proto=https, for=10.9.9.9',
                          "X-Forwarded-For: 198.51.100.99")
        self.assertTrue(first.startswith("CONNECTED"), first)
        wait_for(lambda: "opened from 2001:db8::17 over websocket" in self.server.read_log(),
                 what="the Forwarded client in the log")

    def test_a_client_cannot_forge_its_way_past_the_proxy(self):
        # What the client wrote on the left is not believed: the proxy's own
        # hop (203.0.113.5, not trusted) is the client.
        first = self.open("X-Forwarded-For: 10.0.0.1, 203.0.113.5")
        self.assertTrue(first.startswith("CONNECTED"), first)
        again = self.open("X-Forwarded-For: 192.0.2.200, 203.0.113.5")
        self.assertTrue(again.startswith("ERROR"), again)

    def test_a_hop_that_is_no_address_stops_at_the_proxy(self):
        # "unknown" is the proxy's hop; the client is then the proxy itself.
        first = self.open("X-Forwarded-For: unknown, 10.20.30.40")
        self.assertTrue(first.startswith("CONNECTED"), first)
        wait_for(lambda: "opened from 10.20.30.40 over websocket" in self.server.read_log(),
                 what="the last trusted hop in the log")

    def test_sockjs_sessions_count_as_the_forwarded_client(self):
        def open_session(xff):
            c = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=10)
            c.request("POST", "/ws/000/%s/xhr" % uuid.uuid4().hex[:12], headers={"X-Forwarded-For": xff})
            r = c.getresponse()
            body = r.read().decode()
            c.close()
            return body
        self.assertEqual(open_session("198.51.100.30"), "o\n")
        wait_for(lambda: "opened from 198.51.100.30 over websocket" in self.server.read_log(),
                 what="the SockJS session's client in the log")


class UntrustedProxy(OneServer):
    @staticmethod
    def edit(s):
        s["server"].update({"max_connections_per_ip": "1"})

    def setUp(self):
        # The harness' readiness probe counts against the one connection
        # allowed from 127.0.0.1 until the server has seen it close.
        def connections():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.server.http_port, timeout=10) as r:
                return int(re.search(r"^chatd_connections (\d+)$", r.read().decode(), re.M).group(1))
        wait_for(lambda: connections() == 0, what="no connection open")

    def test_without_trusted_proxies_the_headers_are_ignored(self):
        ws, first = ws_connect(self.server.http_port, "alice", ["X-Forwarded-For: 198.51.100.7"])
        self.addCleanup(ws.close)
        self.assertTrue(first.startswith("CONNECTED"), first)
        ws2, second = ws_connect(self.server.http_port, "alice", ["X-Forwarded-For: 198.51.100.8"])
        self.addCleanup(ws2.close)
        self.assertTrue(second.startswith("ERROR"), second)
        self.assertNotIn("198.51.100", self.server.read_log())


V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(client, port=51000):
    """A PROXY protocol version 2 header for a TCP/IPv4 client."""
    addrs = socket.inet_aton(client) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", port, 61613)
    return V2_SIG + b"\x21\x11" + struct.pack("!H", len(addrs)) + addrs


def connect_frame(user):
    return ("CONNECT\naccept-version:1.2\nhost:채팅 🙂\nlogin:%s\npasscode:%s\n\n\0"
            % (user, password_of(user))).encode()


def raw_first_frame(port, *chunks, source="127.0.0.1"):
    """Write chunks to the raw STOMP port from source; the first frame back
    (the socket is left open, closed by the caller's cleanup)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    for c in chunks:
        sock.sendall(c)
    data = b""
    while b"\0" not in data:
        more = sock.recv(4096)
        if not more:
            break
        data += more
    return sock, data.split(b"\0")[0].decode()


class ProxyProtocol(OneServer):
    """[server] proxy_protocol: raw STOMP from a trusted proxy opens with a
    PROXY header (version 1 or 2) and counts as the client it names."""
    @staticmethod
    def edit(s):
        s["server"].update({"trusted_proxies": "127.0.0.1", "proxy_protocol": "on",
                            "max_connections_per_ip": "1", "log_level": "debug"})

    def open(self, *chunks, source="127.0.0.1"):
        sock, first = raw_first_frame(self.server.stomp_port, *chunks, source=source)
        self.addCleanup(sock.close)
        return first

    def test_each_client_named_by_the_proxy_counts_as_itself(self):
        # version 2 with the CONNECT in the same write
        first = self.open(proxy_v2("198.51.100.7") + connect_frame("alice"))
        self.assertTrue(first.startswith("CONNECTED"), first)
        # version 1, the header cut in two and the CONNECT apart
        line = b"PROXY TCP4 198.51.100.8 127.0.0.1 51001 61613\r\n"
        second = self.open(line[:9], line[9:], connect_frame("bob"))
        self.assertTrue(second.startswith("CONNECTED"), second)
        third = self.open(proxy_v2("198.51.100.7", 51002) + connect_frame("alice"))
        self.assertTrue(third.startswith("ERROR"), third)
        self.assertIn("message:too many connections from this address", third)
        log = self.server.read_log()
        self.assertIn("opened from 198.51.100.7 over tcp", log)
        self.assertIn("opened from 198.51.100.8 over tcp", log)

    def test_ipv6_clients_and_the_proxys_own_checks(self):
        line = b"PROXY TCP6 2001:db8::17 ::1 4711 61613\r\n"
        self.assertTrue(self.open(line + connect_frame("alice")).startswith("CONNECTED"))
        # LOCAL: the proxy's own connection (a health check) counts as the proxy
        local = self.open(V2_SIG + b"\x20\x00\x00\x00", connect_frame("bob"))
        self.assertTrue(local.startswith("CONNECTED"), local)
        wait_for(lambda: "opened from 2001:db8::17 over tcp" in self.server.read_log(), what="the IPv6 client")
        wait_for(lambda: "opened from 127.0.0.1 over tcp" in self.server.read_log(), what="the proxy itself")

    def test_a_bad_or_missing_header_is_refused_and_others_go_on(self):
        for chunks, why in (((b"PROXY TCP4 198.51.100.7 127.0.0.1 99999 61613\r\n",), "malformed port"),
                            ((connect_frame("alice"),), "no PROXY protocol header"),
                            ((V2_SIG + b"\x21\x11\x00\x04\x01\x02\x03\x04",), "too short")):
            with self.subTest(why=why):
                first = self.open(*chunks)
                self.assertTrue(first.startswith("ERROR"), first)
                self.assertIn("message:bad PROXY protocol header", first)
                self.assertIn(why, first)
        self.assertTrue(self.open(proxy_v2("198.51.100.9") + connect_frame("alice")).startswith("CONNECTED"))

    def test_a_header_from_an_untrusted_peer_is_not_believed(self):
        # 127.0.0.2 is not a trusted proxy: its connection opens as itself
        # at once, and a PROXY line is no STOMP frame.
        first = self.open(b"PROXY TCP4 198.51.100.7 127.0.0.1 51000 61613\r\n" + connect_frame("alice"),
                          source="127.0.0.2")
        self.assertTrue(first.startswith("ERROR"), first)
        self.assertNotIn("198.51.100.7", self.server.read_log())
        # (another untrusted address: the refused connection above may still
        # count against max_connections_per_ip = 1 of its own)
        plain = self.open(connect_frame("bob"), source="127.0.0.3")
        self.assertTrue(plain.startswith("CONNECTED"), plain)


class TrustedProxiesConfig(unittest.TestCase):
    def test_proxy_protocol_needs_trusted_proxies(self):
        for extra, why in (({"proxy_protocol": "on"}, "trusted_proxies is empty"),
                           ({"proxy_protocol": "maybe", "trusted_proxies": "10.0.0.1"}, "expected true or false")):
            with self.subTest(why=why):
                s = default_sections(1, 2)
                s["server"].update(extra)
                p, path = check(s)
                self.assertNotEqual(p.returncode, 0)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertIn("[server] proxy_protocol", lines[0])
                self.assertIn(why, lines[0])

    def test_bad_ranges_are_refused_with_one_line(self):
        for value, why in (("10.0.0.0/33", "the bits after '/' must be 0 to 32"),
                           ("proxy.example.com", "'proxy.example.com' is not an address"),
                           ("::1/129", "must be 0 to 128"), ("10.0.0.0/x", "must be 0 to 32")):
            with self.subTest(value=value):
                s = default_sections(1, 2)
                s["server"]["trusted_proxies"] = value
                p, path = check(s)
                self.assertNotEqual(p.returncode, 0)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertIn("[server] trusted_proxies", lines[0])
                self.assertIn(why, lines[0])

    def test_good_ranges(self):
        s = default_sections(1, 2)
        s["server"]["trusted_proxies"] = "10.0.0.0/8 172.16.0.0/12, 192.168.1.10 ::1 fd00::/8 ::ffff:10.0.0.0/104"
        p, path = check(s)
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main()
