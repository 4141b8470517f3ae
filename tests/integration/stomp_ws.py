"""STOMP over WebSocket for stomp.py 8.0, which ships only TCP.

A stomp.py Transport whose byte stream is a WebSocket (python3-websocket),
so the real stomp.py protocol engine is what talks to chatd's /ws."""
import stomp
import websocket
from stomp import exception
from stomp.transport import BaseTransport, Transport


class WSTransport(Transport):
    def __init__(self, url, subprotocols=("v12.stomp",), origin=None, sslopt=None, **kwargs):
        super().__init__([("127.0.0.1", 0)], **kwargs)
        self.url = url
        self.sslopt = sslopt  # wss://: websocket-client's TLS options
        self.subprotocols = list(subprotocols) if subprotocols else None
        self.origin = origin

    def attempt_connection(self):
        self.connection_error = False
        try:
            self.socket = websocket.create_connection(
                self.url, subprotocols=self.subprotocols, origin=self.origin, timeout=10, sslopt=self.sslopt)
        except (OSError, websocket.WebSocketException) as e:
            self.socket = None
            raise exception.ConnectFailedException() from e
        # Reads block in stomp.py's receiver thread until data or close.
        self.socket.settimeout(None)
        self.current_host_and_port = ("127.0.0.1", 0)

    def is_connected(self):
        return self.socket is not None and BaseTransport.is_connected(self)

    def send(self, encoded_frame):
        if self.socket is None:
            raise exception.NotConnectedException()
        self.socket.send(encoded_frame.decode("utf-8", "surrogateescape"))

    def receive(self):
        try:
            data = self.socket.recv()
        except (websocket.WebSocketConnectionClosedException, OSError, AttributeError):
            return b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        return data or b""

    def disconnect_socket(self):
        self.running = False
        if self.socket is not None:
            try:
                self.socket.close()
            except Exception:
                pass
        self.socket = None
        self.current_host_and_port = None
        if not self.notified_on_disconnect:
            self.notify("disconnected")

    def cleanup(self):
        self.disconnect_socket()


class WSConnection12(stomp.connect.BaseConnection, stomp.protocol.Protocol12):
    def __init__(self, url, subprotocols=("v12.stomp",), origin=None, heartbeats=(0, 0), sslopt=None):
        transport = WSTransport(url, subprotocols, origin, sslopt)
        stomp.connect.BaseConnection.__init__(self, transport)
        stomp.protocol.Protocol12.__init__(self, transport, heartbeats)

    def connect(self, *args, **kwargs):
        self.transport.start()
        stomp.protocol.Protocol12.connect(self, *args, **kwargs)

    def disconnect(self, receipt=None, headers=None, **keyword_headers):
        stomp.protocol.Protocol12.disconnect(self, receipt, headers, **keyword_headers)
        self.transport.stop()
