// @stomp/stompjs (the client web apps use) against chatd over WebSocket.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@stomp/stompjs";
import WebSocket from "ws";

import { passwordOf, startChatd, waitFor } from "./harness.mjs";

let server;
before(async () => { server = await startChatd(); });
after(async () => { await server.stop(); });

function client(user, { password, versions, on } = {}) {
  const srv = on ?? server;
  const c = new Client({
    webSocketFactory: () => new WebSocket(`ws://127.0.0.1:${srv.http}/ws`,
      versions ?? ["v12.stomp", "v11.stomp", "v10.stomp"], { origin: srv.origin }),
    connectHeaders: { login: user, passcode: password ?? passwordOf(user) },
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  });
  return c;
}

function connect(c) {
  return new Promise((resolve, reject) => {
    c.onConnect = resolve;
    c.onStompError = (f) => reject(new Error(f.headers.message));
    c.activate();
  });
}

function receipt(c, id) {
  return new Promise((resolve) => c.watchForReceipt(id, resolve));
}

function nextMessage(sub) {
  return new Promise((resolve) => sub.push(resolve));
}

// Subscribe with a receipt; returns a queue-like helper for its messages.
async function subscribe(c, destination, headers = {}) {
  const waiting = [];
  const got = [];
  const id = "r-" + Math.random();
  const done = receipt(c, id);
  const sub = c.subscribe(destination, (m) => {
    const w = waiting.shift();
    if (w) w(m); else got.push(m);
  }, { ...headers, receipt: id });
  await done;
  return {
    sub,
    next: () => got.length ? Promise.resolve(got.shift()) : new Promise((r) => waiting.push(r)),
    pending: () => got.length,
  };
}

test("connects and learns its user name", async () => {
  const c = client("alice");
  const frame = await connect(c);
  assert.equal(frame.headers["user-name"], "alice");
  assert.equal(frame.headers.version, "1.2");
  await c.deactivate();
});

test("publish and subscribe with headers", async () => {
  const a = client("alice"), b = client("bob");
  await connect(a); await connect(b);
  const s = await subscribe(a, "/topic/js.basic");
  b.publish({ destination: "/topic/js.basic", body: "hi from bob", headers: { "x-k": "v:1" } });
  const m = await s.next();
  assert.equal(m.body, "hi from bob");
  assert.equal(m.headers.destination, "/topic/js.basic");
  assert.equal(m.headers.subscription, s.sub.id);
  assert.ok(m.headers["message-id"]);
  assert.equal(m.headers["x-k"], "v:1");
  await a.deactivate(); await b.deactivate();
});

test("binary body with NULs arrives intact", async () => {
  const a = client("alice"), b = client("bob");
  await connect(a); await connect(b);
  const s = await subscribe(a, "/topic/js.binary");
  const body = new Uint8Array([1, 0, 2, 0, 0, 255]);
  b.publish({ destination: "/topic/js.binary", binaryBody: body, headers: { "content-type": "application/octet-stream" } });
  const m = await s.next();
  assert.deepEqual([...m.binaryBody], [...body]);
  await a.deactivate(); await b.deactivate();
});

test("wrong password: ERROR bad credentials", async () => {
  const c = client("alice", { password: "nope" });
  await assert.rejects(connect(c), /bad credentials/);
  await c.deactivate();
});

test("unsubscribe stops delivery", async () => {
  const a = client("alice"), b = client("bob");
  await connect(a); await connect(b);
  const one = await subscribe(a, "/topic/js.one");
  const two = await subscribe(a, "/topic/js.two");
  const gone = receipt(a, "unsub");
  one.sub.unsubscribe({ receipt: "unsub" });
  await gone;
  b.publish({ destination: "/topic/js.one", body: "not for a" });
  b.publish({ destination: "/topic/js.two", body: "for a" });
  assert.equal((await two.next()).body, "for a");
  assert.equal(one.pending(), 0); // js.one was published first: it would be here by now
  await a.deactivate(); await b.deactivate();
});

test("client-individual ack and nack on a queue", async () => {
  const a = client("alice"), b = client("bob");
  await connect(a); await connect(b);
  const s = await subscribe(a, "/queue/js.jobs", { ack: "client-individual" });
  b.publish({ destination: "/queue/js.jobs", body: "job" });
  const m = await s.next();
  m.nack();
  const again = await s.next();
  assert.equal(again.body, "job");
  assert.equal(again.headers.redelivered, "true");
  const acked = receipt(a, "acked");
  again.ack({ receipt: "acked" });
  await acked;
  await a.deactivate(); await b.deactivate();
});

test("transactions commit and abort", async () => {
  const a = client("alice"), b = client("bob");
  await connect(a); await connect(b);
  const s = await subscribe(a, "/topic/js.tx");
  const t1 = b.begin();
  b.publish({ destination: "/topic/js.tx", body: "committed", headers: { transaction: t1.id } });
  const t2 = b.begin();
  b.publish({ destination: "/topic/js.tx", body: "aborted", headers: { transaction: t2.id } });
  t2.abort();
  t1.commit();
  b.publish({ destination: "/topic/js.tx", body: "after" });
  assert.equal((await s.next()).body, "committed");
  assert.equal((await s.next()).body, "after");
  await a.deactivate(); await b.deactivate();
});

for (const version of ["1.2", "1.1"]) {
  test(`acks in a transaction take effect at commit, also for an auto subscription (${version})`, async () => {
    // stompjs acks an auto subscription's message only where it has an id
    // to give (1.1: message-id; 1.2 MESSAGEs of auto subscriptions carry no ack).
    const a = client("alice", { versions: [`v${version.replace(".", "")}.stomp`] });
    a.stompVersions = { supportedVersions: () => [version], supportedProtocols: () => [`v${version.replace(".", "")}.stomp`] };
    const b = client("bob");
    await connect(a); await connect(b);
    const queue = `/queue/js.txack.${version}`, topic = `/topic/js.txack.${version}`;
    const q = await subscribe(a, queue, { ack: "client-individual" });
    const t = await subscribe(a, topic);
    b.publish({ destination: queue, body: "안녕하세요 😀" });
    b.publish({ destination: topic, body: "안녕하세요 😀" });
    const [held, auto] = [await q.next(), await t.next()];
    const errors = [];
    a.onStompError = (f) => errors.push(f.headers.message);
    const tx = a.begin();
    auto.ack({ transaction: tx.id }); // auto: already acknowledged, a no-op
    held.ack({ transaction: tx.id });
    tx.commit();
    await a.deactivate(); // its DISCONNECT's receipt comes after the COMMIT ran
    assert.deepEqual(errors, []);
    // Nothing is left in the queue: the next subscriber's first message is a later one.
    const c = client("agent1");
    await connect(c);
    const again = await subscribe(c, queue, { ack: "client-individual" });
    b.publish({ destination: queue, body: "marker" });
    assert.equal((await again.next()).body, "marker");
    await b.deactivate(); await c.deactivate();
  });
}

test("a frame dropped by ABORT still gets its receipt", async () => {
  const a = client("alice");
  await connect(a);
  const tx = a.begin();
  const dropped = receipt(a, "dropped");
  a.publish({ destination: "/topic/js.aborted", body: "never", headers: { transaction: tx.id, receipt: "dropped" } });
  tx.abort();
  await dropped;
  await a.deactivate();
});

test("heart-beats are negotiated and kept", async () => {
  const c = client("alice");
  c.heartbeatIncoming = 200;
  c.heartbeatOutgoing = 200;
  const frame = await connect(c);
  assert.equal(frame.headers["heart-beat"], "10000,10000");
  await c.deactivate();
});

test("STOMP 1.1 over v11.stomp", async () => {
  const c = client("bob", { versions: ["v11.stomp"] });
  c.stompVersions = { supportedVersions: () => ["1.1"], supportedProtocols: () => ["v11.stomp"] };
  const frame = await connect(c);
  assert.equal(frame.headers.version, "1.1");
  await c.deactivate();
});

test("fan-out to 20 subscribers", async () => {
  const subs = [];
  for (let i = 0; i < 20; i++) {
    const c = client(i % 2 ? "alice" : "agent1");
    await connect(c);
    subs.push({ c, s: await subscribe(c, "/topic/js.fanout") });
  }
  const p = client("bob");
  await connect(p);
  p.publish({ destination: "/topic/js.fanout", body: "everyone" });
  const bodies = await Promise.all(subs.map(({ s }) => s.next().then((m) => m.body)));
  assert.deepEqual(bodies, Array(20).fill("everyone"));
  for (const { c } of subs) await c.deactivate();
  await p.deactivate();
});

test("disconnect with receipt", async () => {
  const c = client("alice");
  await connect(c);
  await c.deactivate(); // stompjs sends DISCONNECT with a receipt and waits for it
  await waitFor(() => server.log().includes("closed"), "the session to close");
});

test("a Spring-style front end (/pub + /sub) beside an /app + /topic one", async () => {
  const spring = await startChatd({ stomp: ["application_prefix = /app, /pub", "topic_prefix = /topic, /sub"] });
  try {
    const auth = "Basic " + Buffer.from("alice:" + passwordOf("alice")).toString("base64");
    const res = await fetch(`http://127.0.0.1:${spring.http}/api/rooms`, {
      method: "POST", headers: { Authorization: auth, "Content-Type": "application/json" },
      body: JSON.stringify({ kind: "direct", with: "bob" }),
    });
    assert.ok(res.status === 200 || res.status === 201);
    const room = (await res.json()).id;
    const text = "안녕하세요 😀";
    const fresh = client("alice", { on: spring }), old = client("bob", { on: spring });
    await connect(fresh); await connect(old);
    const sNew = await subscribe(fresh, `/sub/rooms/${room}`);
    const sOld = await subscribe(old, `/topic/rooms/${room}`);
    const sent = receipt(fresh, "m1");
    fresh.publish({ destination: `/pub/rooms/${room}/send`, body: text, headers: { receipt: "m1" } });
    await sent;
    const [a, b] = [await sNew.next(), await sOld.next()];
    assert.equal(a.headers.destination, `/sub/rooms/${room}`);
    assert.equal(b.headers.destination, `/topic/rooms/${room}`);
    for (const m of [a, b]) {
      assert.equal(m.body, text);
      assert.equal(m.headers.sender, "alice");
      assert.equal(m.headers.seq, "1");
    }
    // Generic topics under the alias: the allow rule is written as /topic/**.
    const sChat = await subscribe(old, "/sub/js.prefix");
    fresh.publish({ destination: "/topic/js.prefix", body: text });
    const c = await sChat.next();
    assert.equal(c.headers.destination, "/sub/js.prefix");
    assert.equal(c.body, text);
    await fresh.deactivate(); await old.deactivate();
  } finally {
    await spring.stop();
  }
});
