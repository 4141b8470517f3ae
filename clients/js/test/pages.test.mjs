// What the web pages (examples/web) use of @chatd/client beyond the
// basics: reconnecting with back-off and jitter, replies, any destination
// kept across reconnects, presence, the desk's queue events, queue
// positions, and attachments; against a real chatd.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { backoffDelay, connect, isVisitor, userLabel } from "../dist/index.js";
import { notification, roomNotesEvent, supportAgentsEvent, supportQueueEvent } from "../dist/events.js";
import { cuttableSockets, next, passwordOf, startChatd, waitFor } from "./server.mjs";

const KOREAN = "안녕하세요 😀";
let server, files, store;
const clients = [];

before(async () => {
  server = await startChatd();
  store = mkdtempSync(path.join(os.tmpdir(), "chatd-client-files-"));
  // Attachments, and agents who write canned replies.
  files = await startChatd({ sections: ["[files]", "plugin = local", `dir = ${store}`,
                                        "[support]", "canned_writers = agents"] });
});
after(async () => {
  for (const c of clients) await c.close();
  await server.stop();
  await files.stop();
  rmSync(store, { recursive: true, force: true });
});

async function login(user, extra = {}, on = server) {
  const c = await connect({ url: `http://127.0.0.1:${on.http}`, login: user, passcode: passwordOf(user),
                            reconnectDelay: 50, ...extra });
  clients.push(c);
  return c;
}

test("a visitor is named by a short label, anyone else as is", () => {
  const v = "visitor:ab12CD34ef56GH78ij90kl";
  assert.equal(isVisitor(v), true);
  assert.equal(userLabel(v), "Visitor ab12");
  assert.equal(userLabel(v, "방문자"), "방문자 ab12");
  for (const u of ["alice", "민지", "visitor:", "visitors", "😀 visitor:ab12"]) {
    assert.equal(isVisitor(u), false, u);
    assert.equal(userLabel(u, "방문자"), u);
  }
});

describe("reconnecting", () => {
  test("the wait doubles per failed attempt up to the cap, drawn from its upper half", () => {
    const lo = () => 0, hi = () => 0.999999;
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 1000, 10000, lo)), [500, 1000, 2000, 4000, 5000, 5000]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 1000, 10000, hi)), [1000, 2000, 4000, 8000, 10000, 10000]);
    assert.equal(backoffDelay(100, 1000, 30000, hi), 30000);
    assert.equal(backoffDelay(1, 0, 30000), 0);
    // Jitter: many clients cut off together do not all come back at once.
    const waits = new Set(Array.from({ length: 50 }, () => backoffDelay(3, 1000, 30000)));
    assert.ok(waits.size > 10, `only ${waits.size} distinct waits`);
    for (const w of waits) assert.ok(w >= 2000 && w <= 4000, String(w));
  });

  test("while the server cannot be reached the attempts spread out, and a connection resets the wait", async () => {
    const net = cuttableSockets(server);
    const opened = [];
    const factory = () => { opened.push(Date.now()); return net.factory(); };
    const c = await login("alice", { webSocketFactory: factory, reconnectDelay: 40, maxReconnectDelay: 400 });
    const told = [];
    c.on("disconnect", (e) => told.push(e.retryIn));
    net.offline = true;
    net.cut();
    await waitFor(() => opened.length >= 7, "seven attempts", 20000);
    net.offline = false;
    const back = await next(c, "connect");
    assert.equal(back.reconnected, true);
    // Each wait announced is within its step's range, the steps double to the cap.
    for (let i = 0; i < 6; i++) {
      const ceiling = Math.min(400, 40 * 2 ** i);
      assert.ok(told[i] >= ceiling / 2 && told[i] <= ceiling, `wait ${i + 1}: ${told[i]} for ${ceiling}`);
    }
    // ... and the attempts are that far apart (the timer may only be late).
    for (let i = 2; i < 7; i++) assert.ok(opened[i] - opened[i - 1] >= told[i - 1] - 5, `gap ${i}`);
    // Connected again: the next drop starts from the first step.
    opened.length = 0;
    told.length = 0;
    net.cut();
    await next(c, "connect");
    assert.ok(told[0] <= 40, `after a connection: ${told[0]}`);
  });

  test("close() while waiting to reconnect ends the wait", async () => {
    const net = cuttableSockets(server);
    const c = await connect({ url: `http://127.0.0.1:${server.http}`, login: "bob", passcode: passwordOf("bob"),
                              webSocketFactory: net.factory, reconnectDelay: 60000 });
    net.offline = true;
    const gone = next(c, "disconnect");
    net.cut();
    assert.ok((await gone).retryIn >= 30000);
    const t = Date.now();
    await c.close();
    assert.ok(Date.now() - t < 2000);
  });
});

describe("replies", () => {
  test("send with replyTo: the live event and history carry reply_to; a bad one is refused", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const room = await alice.rooms.createGroup("답장 💬", ["bob"]);
    const first = await room.send("질문 " + KOREAN);
    const got = [];
    await bob.room(room.id).watch({ message: (e) => got.push(e.message) });
    const reply = await bob.room(room.id).send("답 ✅", { replyTo: first.seq });
    await waitFor(() => got.some((m) => m.seq === reply.seq), "the reply live");
    assert.equal(got.find((m) => m.seq === reply.seq).reply_to, first.seq);
    const page = await room.page({ after: 0 });
    assert.deepEqual(page.messages.map((m) => [m.body, m.reply_to ?? null]),
                     [["질문 " + KOREAN, null], ["답 ✅", first.seq]]);
    await assert.rejects(room.send("nowhere", { replyTo: 9999 }), (e) => e.code === "invalid reply-to");
  });
});

describe("any destination", () => {
  test("listen(): kept across reconnects, headers asked anew, ready once in place", async () => {
    const net = cuttableSockets(server);
    const alice = await login("alice");
    const agent = await login("agent1", { webSocketFactory: net.factory, reconnectDelay: 20 });
    const room = await alice.rooms.openSupport();
    await agent.room(room.id).claim();
    const notes = [];
    let since = 0, lives = 0;
    const l = agent.listen(`/topic/rooms/${room.id}/notes`, (m) => {
      notes.push(m.body);
      since = Math.max(since, Number(m.headers.seq));
    }, { headers: () => ({ "since-seq": String(since) }), onLive: () => lives++ });
    await l.ready;
    const note = (body) => agent.rest.request("POST", `/api/rooms/${room.id}/notes`, { body });
    await note("첫 메모 📝");
    await waitFor(() => notes.length === 1, "the note live");
    net.offline = true;
    net.cut();
    await waitFor(() => !agent.connected, "offline");
    await note("둘째 메모"); // written while the socket is down

    net.offline = false;
    await waitFor(() => notes.includes("둘째 메모") && lives >= 2, "the notes missed, replayed");
    assert.deepEqual(notes, ["첫 메모 📝", "둘째 메모"]);
    l.stop();
    await note("after stop");
    await agent.rest.request("GET", `/api/rooms/${room.id}/notes`);
    assert.ok(!notes.includes("after stop"));
    await room.close();
  });

  test("presence: setPresence() and onPresence()", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    await alice.rooms.openDirect("bob");
    const seen = [];
    const l = alice.onPresence((p) => seen.push(p));
    await l.ready;
    bob.setPresence("away");
    await waitFor(() => seen.some((p) => p.user === "bob" && p.status === "away"), "bob away");
    bob.setPresence("online");
    await waitFor(() => seen.some((p) => p.user === "bob" && p.status === "online"), "bob back");
  });

  test("onNotification().ready: the notification right after is not missed", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const got = [];
    const stop = bob.onNotification({ "room-added": (n) => got.push(n) });
    await stop.ready;
    const room = await alice.rooms.createGroup("바로 🎈", ["bob"]);
    await waitFor(() => got.some((n) => n.roomId === room.id), "room-added");
    // A second handler on the same subscription is ready at once.
    const again = bob.onNotification({});
    await again.ready;
    stop();
    again();
  });
});

describe("internal notes", () => {
  test("addNote(), notes() and watchNotes(): each note once, the ones missed replayed", async () => {
    const net = cuttableSockets(server);
    const customer = await login("bob");
    const agent = await login("agent2", { webSocketFactory: net.factory, reconnectDelay: 20 });
    const room = await customer.rooms.openSupport();
    await agent.room(room.id).claim();
    const mine = agent.room(room.id);
    const first = await mine.addNote("첫 메모 🔒");
    assert.equal(first.kind, "note");
    assert.equal(first.seq, 1);
    const got = [];
    const w = mine.watchNotes((n) => got.push(n), { sinceSeq: first.seq });
    await w.ready;
    await mine.addNote("둘");
    await waitFor(() => got.length === 1, "the note live");
    net.offline = true;
    net.cut();
    await waitFor(() => !agent.connected, "offline");
    await mine.addNote("셋, while the socket is down");
    net.offline = false;
    await waitFor(() => got.length === 2, "the note missed");
    await mine.addNote("넷");
    await waitFor(() => got.length === 3, "live again");
    assert.deepEqual(got.map((n) => [n.seq, n.sender, n.kind]), [[2, "agent2", "note"], [3, "agent2", "note"], [4, "agent2", "note"]]);
    const page = await mine.notes({ limit: 2 });
    assert.deepEqual(page.notes.map((n) => n.body), ["넷", "셋, while the socket is down"]);
    await assert.rejects(customer.room(room.id).notes(), (e) => e.status === 403);
    w();
    await customer.room(room.id).close();
  });
});

describe("the desk's events", () => {
  const frame = (headers, body) => ({ headers, body: JSON.stringify(body) });

  test("agent-status and the notes channel's events are typed; unknown ones are left out", () => {
    assert.deepEqual(supportAgentsEvent(frame({ event: "agent-status" }, { user: "상담원😀", status: "away" })),
                     { type: "agent-status", user: "상담원😀", status: "away" });
    assert.equal(supportAgentsEvent(frame({ event: "agent-load" }, { user: "a" })), null);
    const note = roomNotesEvent({ headers: { event: "note", room: "r1", seq: "3", sender: "민지", "message-id": "m3",
                                             timestamp: "7", kind: "note" }, body: "메모 🔒" });
    assert.equal(note.type, "note");
    assert.deepEqual([note.note.seq, note.note.sender, note.note.body, note.note.kind], [3, "민지", "메모 🔒", "note"]);
    assert.deepEqual(roomNotesEvent(frame({ event: "transferred", room: "r1" }, { room: "r1", from: "a", to: null, by: "a" })),
                     { type: "transferred", room: "r1", from: "a", to: null, by: "a" });
    assert.equal(roomNotesEvent(frame({ event: "pinned" }, {})), null);
  });

  test("onAgents() hears an agent go away and come back, typed", async () => {
    const watcher = await login("agent1");
    const got = [];
    const l = watcher.onAgents((e) => got.push(e));
    await l.ready;
    const other = await login("agent2");
    await other.support.setStatus("away");
    await waitFor(() => got.some((e) => e.user === "agent2" && e.status === "away"), "agent2 away");
    await other.support.setStatus("online");
    await waitFor(() => got.some((e, i) => i > got.findIndex((x) => x.status === "away") && e.user === "agent2" &&
                                         e.status === "online"), "agent2 back");
    assert.ok(got.every((e) => e.type === "agent-status"));
    l();
  });

  test("watchNotes() hears the room handed on", async () => {
    const customer = await login("alice");
    const agent = await login("agent1");
    const room = await customer.rooms.openSupport();
    await agent.room(room.id).claim();
    const moves = [];
    const w = agent.room(room.id).watchNotes(() => {}, { onTransferred: (e) => moves.push(e) });
    await w.ready;
    await agent.room(room.id).transfer(null, "다음 분께 🙏");
    await waitFor(() => moves.length === 1, "the transfer on the notes channel");
    assert.deepEqual(moves[0], { type: "transferred", room: room.id, from: "agent1", to: null, by: "agent1" });
    w();
    await customer.room(room.id).close();
  });

  test("queue-position, sla-breached and rated are typed", () => {
    assert.deepEqual(notification(frame({ event: "queue-position" }, { room: "r1", position: 2, estimated_wait_ms: 90000 })),
                     { type: "queue-position", roomId: "r1", position: 2, estimatedWaitMs: 90000 });
    assert.deepEqual(notification(frame({ event: "queue-position" }, { room: "r1", position: 1 })),
                     { type: "queue-position", roomId: "r1", position: 1 });
    assert.deepEqual(supportQueueEvent(frame({ event: "sla-breached" },
                                             { room: "r2", customer: "민지", waiting_since: 5, target_ms: 300000 })),
                     { type: "sla-breached", roomId: "r2", customer: "민지", waitingSince: 5, targetMs: 300000 });
    const rated = supportQueueEvent(frame({ event: "rated" }, { id: "r3", kind: "support", rating: { score: 5 } }));
    assert.equal(rated.type, "rated");
    assert.equal(rated.room.rating.score, 5);
  });

  test("rated reaches agents on the queue topic", async () => {
    const bob = await login("bob");
    const agent = await login("agent1");
    const events = [];
    const l = agent.onSupportQueue((e) => events.push(e));
    await l.ready;
    const room = await bob.rooms.openSupport();
    await agent.room(room.id).claim();
    await agent.room(room.id).complete();
    await bob.rest.request("POST", `/api/rooms/${room.id}/rating`, { rating: 4, comment: "고마워요 🙏" });
    await waitFor(() => events.some((e) => e.type === "rated" && e.room.id === room.id), "rated");
    assert.equal(events.find((e) => e.type === "rated").room.rating.comment, "고마워요 🙏");
    l();
  });
});

describe("the desk's calls", () => {
  test("agents and their status, canned replies, rating and transcript, search (all rooms, one room), presence", async () => {
    const alice = await login("alice");
    const agent = await login("agent1");
    const away = await agent.support.setStatus("away");
    assert.deepEqual(away, { user: "agent1", status: "away" });
    const { agents } = await agent.support.agents();
    assert.equal(agents.find((a) => a.user === "agent1").status, "away");
    await agent.support.setStatus("online");
    await assert.rejects(alice.support.agents(), (e) => e.status === 403);
    await assert.rejects(agent.support.overview(), (e) => e.status === 403);

    assert.equal((await agent.support.canned()).can_edit, false);
    const writer = await login("agent2", {}, files); // where agents write them
    assert.equal((await writer.support.canned()).can_edit, true);
    await writer.support.saveCanned("환불", "Refunds 💸", "환불은 3일 걸립니다.\nThanks!");
    const again = await writer.support.canned();
    assert.equal(again.replies.find((r) => r.shortcut === "환불").body, "환불은 3일 걸립니다.\nThanks!");
    await writer.support.deleteCanned("환불");
    assert.equal((await writer.support.canned()).replies.some((r) => r.shortcut === "환불"), false);

    const room = await alice.rooms.openSupport();
    await agent.room(room.id).claim();
    await room.send("검색어찾기 " + KOREAN);
    const found = await alice.search("검색어찾");
    assert.ok(found.messages.some((m) => m.room === room.id && m.body.startsWith("검색어찾기")));
    const inRoom = await room.search("검색어찾", { limit: 5 });
    assert.deepEqual(inRoom.messages.map((m) => m.room), [room.id]);
    await assert.rejects((await login("bob")).room(room.id).search("검색어찾"), (e) => e.status === 404);
    await agent.room(room.id).complete();
    const rated = await room.rate(5, "좋아요 👍");
    assert.equal(rated.rating.score, 5);
    const text = await (await room.transcript()).text();
    assert.match(text, /검색어찾기 안녕하세요 😀/);

    const seen = await alice.presence(["agent1", "alice"]);
    assert.deepEqual(seen.map((p) => p.user), ["agent1", "alice"]);
    assert.equal(seen[1].status, "online");
  });
});

describe("attachments", () => {
  test("sendFile(): the upload, then its file message; the bytes back with rest.blob()", async () => {
    const alice = await login("alice", {}, files);
    const bob = await login("bob", {}, files);
    const room = await alice.rooms.createGroup("파일 📎", ["bob"]);
    const got = [];
    await bob.room(room.id).watch({ message: (e) => got.push(e.message) });
    const text = "메모 " + KOREAN;
    const blob = new Blob([text], { type: "text/plain" });
    const sent = await room.sendFile(blob, { name: "메모.txt", caption: "읽어 보세요" });
    await waitFor(() => got.some((m) => m.seq === sent.seq), "the file message");
    const m = got.find((m) => m.seq === sent.seq);
    assert.equal(m.kind, "file");
    const body = JSON.parse(m.body);
    assert.equal(body.text, "읽어 보세요");
    assert.equal(body.file.name, "메모.txt");
    const back = await bob.rest.blob(body.file.url);
    assert.equal(await back.text(), text);
    await assert.rejects(room.sendFile(new Blob(["x"], { type: "application/x-msdownload" }), { name: "a.exe" }),
                         (e) => e.status >= 400);
  });
});
