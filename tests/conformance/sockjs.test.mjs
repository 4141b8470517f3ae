// sockjs-client + @stomp/stompjs (what Spring-style front ends run:
// `new SockJS('/ws')` under a STOMP client) against chatd, once per SockJS
// transport, forced with the `transports` option.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Client } from "@stomp/stompjs";
import SockJS from "sockjs-client";

import { passwordOf, startChatd, waitFor } from "./harness.mjs";

// sockjs-client's Node driver sends POST bodies with node's http, which
// chunks a body written before end(); browsers' XHR always send a
// Content-Length, and libwebsockets 4.1 reads no chunked request body (chatd
// answers those 411). So the Node client here sends what a browser sends.
const httpRequest = http.request;
http.request = function (options, callback) {
  const req = httpRequest.call(http, options, callback);
  if (options.method !== "POST") return req;
  const parts = [];
  const write = req.write.bind(req), end = req.end.bind(req);
  req.write = (data) => { parts.push(Buffer.from(data)); return true; };
  req.end = (data) => {
    if (data) parts.push(Buffer.from(data));
    const body = Buffer.concat(parts);
    req.setHeader("Content-Length", body.length);
    if (body.length) write(body);
    return end();
  };
  return req;
};

const TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling", "eventsource"];
const HELLO = "안녕하세요 😀";
const REPLY = "반가워요 🎉 잘 지내요?";

let server;
before(async () => {
  server = await startChatd({
    server: ["sockjs_heartbeat = 1s"],
    stomp: ["heartbeat_send = 300ms", "heartbeat_receive = 300ms"],
  });
});
after(async () => { await server.stop(); });

function sockjs(transports, url) {
  return new SockJS(url ?? `http://127.0.0.1:${server.http}/ws`, null, { transports });
}

function client(user, transports, { url, heartbeat = 0 } = {}) {
  const c = new Client({
    webSocketFactory: () => sockjs(transports, url),
    connectHeaders: { login: user, passcode: passwordOf(user) },
    reconnectDelay: 0,
    heartbeatIncoming: heartbeat,
    heartbeatOutgoing: heartbeat,
  });
  return c;
}

function connect(c) {
  return new Promise((resolve, reject) => {
    c.onConnect = resolve;
    c.onStompError = (f) => reject(new Error(f.headers.message));
    c.onWebSocketClose = (e) => reject(new Error("closed before CONNECTED: " + (e?.reason ?? "")));
    c.activate();
  });
}

function receipt(c, id) {
  return new Promise((resolve) => c.watchForReceipt(id, resolve));
}

async function subscribe(c, destination, headers = {}) {
  const waiting = [], got = [];
  const id = "r-" + Math.random();
  const done = receipt(c, id);
  const sub = c.subscribe(destination, (m) => {
    const w = waiting.shift();
    if (w) w(m); else got.push(m);
  }, { ...headers, receipt: id });
  await done;
  return { sub, next: () => got.length ? Promise.resolve(got.shift()) : new Promise((r) => waiting.push(r)) };
}

async function api(user, method, path, body) {
  const res = await fetch(`http://127.0.0.1:${server.http}${path}`, {
    method,
    headers: { Authorization: "Basic " + Buffer.from(`${user}:${passwordOf(user)}`).toString("base64"),
               "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function directRoom(a, b) {
  const r = await api(a, "POST", "/api/rooms", { kind: "direct", with: b });
  assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r));
  return r.body.id;
}

async function sendRoom(c, room, text) {
  const id = "s-" + Math.random();
  const done = receipt(c, id);
  c.publish({ destination: `/app/rooms/${room}/send`, body: text, headers: { receipt: id } });
  await done;
}

// The next `message` event of a room subscription.
async function nextRoomMessage(s) {
  for (;;) {
    const m = await s.next();
    if (m.headers.event === "message") return { headers: m.headers, body: m.body };
  }
}

for (const transport of TRANSPORTS) {
  describe(`SockJS ${transport}`, () => {
    test("connects, subscribes with a receipt, room messages both ways in Korean and emoji", async () => {
      const room = await directRoom("alice", "bob");
      const a = client("alice", [transport]), b = client("bob", [transport]);
      const connected = await connect(a);
      await connect(b);
      assert.equal(connected.headers["user-name"], "alice");
      assert.equal(a.webSocket.transport, transport);
      assert.equal(b.webSocket.transport, transport);
      const sa = await subscribe(a, `/topic/rooms/${room}`);
      const sb = await subscribe(b, `/topic/rooms/${room}`);
      await sendRoom(a, room, HELLO);
      const atB = await nextRoomMessage(sb);
      assert.equal(atB.body, HELLO);
      assert.equal(atB.headers.sender, "alice");
      assert.equal(atB.headers.room, room);
      await sendRoom(b, room, REPLY);
      const mine = await nextRoomMessage(sa); // alice's own message first
      assert.equal(mine.body, HELLO);
      const atA = await nextRoomMessage(sa);
      assert.equal(atA.body, REPLY);
      assert.equal(atA.headers.sender, "bob");
      assert.ok(Number(atA.headers.seq) > Number(atB.headers.seq));
      await a.deactivate(); await b.deactivate();
    });

    test("STOMP heart-beats flow both ways and keep the session", async () => {
      const c = client("alice", [transport], { heartbeat: 300 });
      let pongs = 0;
      c.debug = (line) => { if (line.includes("<<< PONG")) pongs++; };
      const frame = await connect(c);
      assert.equal(frame.headers["heart-beat"], "300,300");
      // The server closes a client silent for twice 300 ms: the client's
      // heart-beats reach it over this transport, its own arrive here.
      await waitFor(() => pongs >= 5, "five heart-beats from the server");
      assert.equal(c.connected, true);
      const s = await subscribe(c, "/topic/sockjs.hb");
      c.publish({ destination: "/topic/sockjs.hb", body: HELLO });
      assert.equal((await s.next()).body, HELLO);
      await c.deactivate();
    });

    test("SockJS heart-beat frames ('h') reach an idle session", async () => {
      const sock = sockjs([transport]);
      let beats = 0;
      await new Promise((resolve, reject) => { sock.onopen = resolve; sock.onclose = (e) => reject(new Error(e.reason)); });
      sock.onclose = null;
      sock.addEventListener("heartbeat", () => beats++);
      await waitFor(() => beats >= 2, "two 'h' frames (sockjs_heartbeat = 1s)");
      assert.equal(sock.transport, transport);
      sock.close();
    });

    test("a reconnect catches up with since-seq", async () => {
      const room = await directRoom("alice", "agent1");
      const a = client("alice", [transport]), b = client("agent1", [transport]);
      await connect(a); await connect(b);
      const first = await subscribe(a, `/topic/rooms/${room}`);
      await sendRoom(b, room, "before " + HELLO);
      const seen = await nextRoomMessage(first);
      await a.deactivate();
      await sendRoom(b, room, "missed 1 " + HELLO);
      await sendRoom(b, room, "missed 2 " + REPLY);
      const again = client("alice", [transport]);
      await connect(again);
      const s = await subscribe(again, `/topic/rooms/${room}`, { "since-seq": seen.headers.seq });
      assert.equal((await nextRoomMessage(s)).body, "missed 1 " + HELLO);
      assert.equal((await nextRoomMessage(s)).body, "missed 2 " + REPLY);
      await sendRoom(b, room, "live " + HELLO);
      assert.equal((await nextRoomMessage(s)).body, "live " + HELLO);
      await again.deactivate(); await b.deactivate();
    });
  });
}

// A proxy that passes plain HTTP to chatd and refuses every WebSocket
// upgrade, as some corporate proxies do.
function noWebSocketProxy(target) {
  const proxy = http.createServer((req, res) => {
    const up = httpRequest.call(http, { host: "127.0.0.1", port: target, method: req.method, path: req.url,
                                        headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  proxy.on("upgrade", (req, socket) => socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"));
  return new Promise((resolve) => proxy.listen(0, "127.0.0.1", () => resolve(proxy)));
}

test("falls back to xhr-streaming when WebSocket is refused on the way", async () => {
  const proxy = await noWebSocketProxy(server.http);
  try {
    const url = `http://127.0.0.1:${proxy.address().port}/ws`;
    const c = client("alice", ["websocket", "xhr-streaming"], { url });
    const frame = await connect(c);
    assert.equal(frame.headers["user-name"], "alice");
    assert.equal(c.webSocket.transport, "xhr-streaming");
    const s = await subscribe(c, "/topic/sockjs.fallback");
    c.publish({ destination: "/topic/sockjs.fallback", body: HELLO });
    assert.equal((await s.next()).body, HELLO);
    await c.deactivate();
  } finally {
    proxy.closeAllConnections();
    proxy.close();
  }
});

test("a plain WebSocket STOMP client and SockJS clients share the endpoint", async () => {
  const { default: WebSocket } = await import("ws");
  const plain = new Client({
    webSocketFactory: () => new WebSocket(`ws://127.0.0.1:${server.http}/ws`, ["v12.stomp"], { origin: server.origin }),
    connectHeaders: { login: "bob", passcode: passwordOf("bob") },
    reconnectDelay: 0, heartbeatIncoming: 0, heartbeatOutgoing: 0,
  });
  const viaSockjs = client("alice", ["xhr-polling"]);
  await connect(plain); await connect(viaSockjs);
  const s = await subscribe(plain, "/topic/sockjs.mixed");
  viaSockjs.publish({ destination: "/topic/sockjs.mixed", body: HELLO });
  assert.equal((await s.next()).body, HELLO);
  await plain.deactivate(); await viaSockjs.deactivate();
});
