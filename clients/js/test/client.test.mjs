// @chatd/client against a real chatd (static users, memory storage).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ChatdError, connect } from "../dist/index.js";
import { cuttableSockets, next, passwordOf, startChatd, waitFor } from "./server.mjs";

const KOREAN = "안녕하세요 😀";
let server;
const clients = [];

before(async () => { server = await startChatd(); });
after(async () => {
  for (const c of clients) await c.close();
  await server.stop();
});

async function login(user, extra = {}) {
  const c = await connect({ url: `http://127.0.0.1:${server.http}`, login: user, passcode: passwordOf(user),
                            reconnectDelay: 50, ...extra });
  clients.push(c);
  return c;
}

/** Collects a watch's events by type. */
function recorder() {
  const got = [];
  return {
    got,
    handlers: { event: (e) => got.push(e) },
    of: (type) => got.filter((e) => e.type === type),
    wait: (what, pred) => waitFor(() => got.some(pred), what),
  };
}

async function history(room) {
  const all = [];
  for await (const m of room.messages({ limit: 100 })) all.push(m);
  return all;
}

describe("connecting", () => {
  test("login and passcode, with the ws package found by itself", async () => {
    const c = await login("alice");
    assert.equal(c.user, "alice");
    assert.ok(c.session);
    assert.equal(c.connected, true);
  });

  test("refused credentials reject with the server's reason", async () => {
    await assert.rejects(
      connect({ url: `http://127.0.0.1:${server.http}`, login: "alice", passcode: "wrong", reconnectDelay: 0 }),
      (e) => e instanceof ChatdError && e.code === "bad credentials");
  });

  test("without reconnecting, an unreachable server rejects", async () => {
    await assert.rejects(connect({ url: "http://127.0.0.1:1", login: "alice", passcode: "x", reconnectDelay: 0 }),
                         (e) => e instanceof ChatdError && e.code === "connection failed");
  });

  test("REST errors carry status and code", async () => {
    const c = await login("bob");
    await assert.rejects(c.rooms.get("no-such-room"), (e) => e instanceof ChatdError && e.status === 404 &&
                         e.code === "not_found");
    await assert.rejects(c.rooms.list("unassigned"), (e) => e.status === 403);
  });
});

describe("rooms", () => {
  test("support: open, queue, claim, assigned, complete, close", async () => {
    const alice = await login("alice");
    const agent = await login("agent1");
    const queue = [];
    const stopQueue = agent.onSupportQueue((e) => queue.push(e));
    const notes = [];
    const stopNotes = alice.onNotification({ notification: (n) => notes.push(n) });
    await waitFor(() => agent.connected, "agent");

    const room = await alice.rooms.openSupport("billing");
    assert.equal(room.info.kind, "support");
    assert.equal(room.info.state, "unassigned");
    assert.equal(room.info.topic, "billing");
    const again = await alice.rooms.openSupport();
    assert.equal(again.id, room.id, "the open one is returned again");
    assert.equal(again.info.topic, "billing", "as it was opened");
    await waitFor(() => queue.some((e) => e.type === "opened" && e.room.id === room.id), "opened on the queue");
    assert.equal(queue.find((e) => e.type === "opened" && e.room.id === room.id).room.topic, "billing");
    const unassigned = await agent.rooms.list("unassigned");
    assert.ok(unassigned.some((r) => r.id === room.id && r.info.waiting_ms >= 0));

    const events = recorder();
    const w = await room.watch(events.handlers);
    const claimed = await agent.room(room.id).claim();
    assert.equal(claimed.state, "assigned");
    assert.equal(claimed.agent, "agent1");
    await events.wait("assigned", (e) => e.type === "assigned" && e.agent === "agent1");
    await waitFor(() => queue.some((e) => e.type === "claimed" && e.room.id === room.id), "claimed on the queue");
    await waitFor(() => notes.some((n) => n.type === "assigned" && n.roomId === room.id && n.room.agent === "agent1"),
                  "assigned notification");
    assert.ok((await agent.rooms.list("assigned")).some((r) => r.id === room.id));

    await room.send(KOREAN);
    await agent.room(room.id).complete();
    await events.wait("completed", (e) => e.type === "completed" && e.agent === "agent1");
    // The ERROR closes the session; the client comes back by itself.
    const back = next(alice, "connect");
    await assert.rejects(room.send("too late"), (e) => e.code === "room is closed to new messages");
    assert.equal((await back).reconnected, true);
    await w.ready;

    const res = await alice.room(room.id).close();
    assert.equal(res.result, "closed");
    await events.wait("closed", (e) => e.type === "closed");
    assert.equal(events.of("closed")[0].by, "alice");
    assert.equal((await room.get()).state, "closed");
    const mine = await alice.rooms.list();
    assert.ok(mine.some((r) => r.id === room.id && r.info.state === "closed"));
    w.stop();
    stopQueue();
    stopNotes();
  });

  test("support: transfer to another agent with a note, back to the queue", async () => {
    const alice = await login("alice");
    const agent1 = await login("agent1");
    const agent2 = await login("agent2");
    const queue = [];
    const stopQueue = agent1.onSupportQueue((e) => queue.push(e));
    const notes = [];
    const stopNotes = agent2.onNotification({ notification: (n) => notes.push(n) });
    await waitFor(() => agent1.connected && agent2.connected, "agents");
    await waitFor(async () => (await agent1.rest.request("GET", "/api/agents")).agents
      .some((a) => a.user === "agent2" && a.status === "online"), "agent2 online");

    const room = await alice.rooms.openSupport();
    const events = recorder();
    const w = await room.watch(events.handlers);
    await agent1.room(room.id).claim();
    await room.send(KOREAN);
    const note = "환불 문의 😀";
    const moved = await agent1.room(room.id).transfer("agent2", note);
    assert.equal(moved.agent, "agent2");
    await events.wait("transferred", (e) => e.type === "transferred" && e.to === "agent2" && e.from === "agent1");
    const isSystem = (e) => e.type === "message" && e.message.kind === "system";
    await events.wait("system message", isSystem);
    assert.equal(events.got.find(isSystem).message.body, "agent1 passed this chat on to agent2.");
    assert.ok(events.got.every((e) => !JSON.stringify(e).includes("환불")), "the note never reaches the customer");
    await waitFor(() => notes.some((n) => n.type === "transferred" && n.roomId === room.id && n.note === note),
                  "the new agent hears of it with the note");
    await waitFor(() => queue.some((e) => e.type === "transferred" && e.roomId === room.id && e.note === note),
                  "the queue's watchers too");

    const queued = await agent2.room(room.id).transfer(null);
    assert.equal(queued.state, "unassigned");
    await events.wait("transferred", (e) => e.type === "transferred" && e.to === null);
    await assert.rejects(agent1.room(room.id).transfer("agent2"), (e) => e.status === 409);
    w.stop();
    stopQueue();
    stopNotes();
    await alice.room(room.id).close();
  });

  test("direct: created once, the other side hears of it", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const added = [];
    bob.onNotification({ "room-added": (n) => added.push(n) });
    await waitFor(() => bob.connected, "bob");
    const a = await alice.rooms.openDirect("bob");
    const b = await bob.rooms.openDirect("alice");
    assert.equal(a.id, b.id);
    assert.equal(a.info.kind, "direct");
    assert.deepEqual([...a.info.members].sort(), ["alice", "bob"]);
    const got = await bob.rooms.get(a.id);
    assert.equal(got.info.id, a.id);
  });

  test("group: members, roles, rename, leave, delete, with their events", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const added = [];
    bob.onNotification({ "room-added": (n) => added.push(n) });
    const group = await alice.rooms.createGroup("우리 팀 🎉", []);
    assert.equal(group.info.title, "우리 팀 🎉");
    assert.equal(group.info.owner, "alice");

    const events = recorder();
    const w = await group.watch(events.handlers);
    assert.deepEqual(await group.addMember("bob"), { room: group.id, added: "bob" });
    await events.wait("member-joined", (e) => e.type === "member-joined" && e.user === "bob" && e.by === "alice");
    await waitFor(() => added.some((n) => n.roomId === group.id && n.room?.title === "우리 팀 🎉"), "room-added");

    const r = await group.setRole("bob", "admin");
    assert.deepEqual(r.admins, ["bob"]);
    await events.wait("role-changed", (e) => e.type === "role-changed" && e.user === "bob" && e.role === "admin");

    const renamed = await bob.room(group.id).rename("새 이름 🚀");
    assert.equal(renamed.title, "새 이름 🚀");
    await events.wait("renamed", (e) => e.type === "renamed" && e.title === "새 이름 🚀" && e.by === "bob");

    await group.addMember("agent2");
    await events.wait("member-joined agent2", (e) => e.type === "member-joined" && e.user === "agent2");
    await bob.room(group.id).removeMember("agent2");
    await events.wait("member-left", (e) => e.type === "member-left" && e.user === "agent2" && e.by === "bob" &&
                      !e.subscriptionEnded);

    // bob's own watch ends when he leaves.
    const bobEvents = recorder();
    const bw = await bob.room(group.id).watch(bobEvents.handlers);
    await bob.room(group.id).leave();
    await bobEvents.wait("bob's member-left", (e) => e.type === "member-left" && e.user === "bob" &&
                         e.subscriptionEnded);
    assert.equal(bw.ended, true);
    await assert.rejects(bob.rooms.get(group.id), (e) => e.status === 404);

    await group.deleteForEveryone();
    await events.wait("deleted", (e) => e.type === "deleted" && e.by === "alice" && e.subscriptionEnded);
    assert.equal(w.ended, true);
    await assert.rejects(group.get(), (e) => e.status === 404);
  });
});

describe("messages", () => {
  test("Korean and emoji round-trip: send, live event, history, notification", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const notes = [];
    bob.onNotification({ message: (n) => notes.push(n) });
    const room = await alice.rooms.openDirect("bob");
    const events = recorder();
    await room.watch(events.handlers);

    const { clientId, seq } = await room.send(KOREAN);
    await events.wait("the message", (e) => e.type === "message" && e.message.client_id === clientId);
    const live = events.of("message").find((e) => e.message.client_id === clientId);
    assert.equal(live.message.body, KOREAN);
    assert.equal(live.message.sender, "alice");
    assert.equal(live.replay, false);
    assert.ok(live.message.seq > 0 && live.message.id && live.message.timestamp > 0);
    assert.equal(seq, live.message.seq); // the RECEIPT said where it was stored

    const [newest] = (await room.page({ limit: 1 })).messages;
    assert.equal(newest.body, KOREAN);
    assert.equal(newest.client_id, clientId);
    assert.equal(newest.seq, live.message.seq);

    await waitFor(() => notes.some((n) => n.seq === live.message.seq), "bob's notification");
    const n = notes.find((x) => x.seq === live.message.seq);
    assert.deepEqual(n, { type: "message", room: room.id, room_kind: "direct", seq: live.message.seq,
                          message_id: live.message.id, sender: "alice", preview: KOREAN });

    // bob reads it on another device: this one's badge hears of it
    const unread = [];
    bob.onNotification({ unread: (u) => unread.push(u) });
    const other = await login("bob");
    await other.rooms.get(room.id).then((r) => r.markRead(live.message.seq));
    await waitFor(() => unread.some((u) => u.roomId === room.id && u.unread === 0), "bob's unread event");
    assert.deepEqual(unread.find((u) => u.roomId === room.id),
                     { type: "unread", roomId: room.id, readSeq: live.message.seq, unread: 0 });

    // A JSON body: its text is what the preview shows; the body comes back as sent.
    const json = { text: "{ " + KOREAN + " }", extra: 1 };
    const sent = await room.send(json);
    await events.wait("json", (e) => e.type === "message" && e.message.client_id === sent.clientId);
    assert.deepEqual(JSON.parse(events.of("message").at(-1).message.body), json);
    // Text that begins with "{" stays text.
    const brace = await room.send("{not json 😀");
    await events.wait("brace", (e) => e.type === "message" && e.message.client_id === brace.clientId &&
                      e.message.body === "{not json 😀");
  });

  test("messages() pages newest first through the whole history", async () => {
    const alice = await login("alice");
    const room = await alice.rooms.createGroup("pages");
    const sends = [];
    for (let i = 1; i <= 45; i++) sends.push(room.send(`m${i} ${KOREAN}`));
    await Promise.all(sends);
    const seen = [];
    for await (const m of room.messages({ limit: 10 })) seen.push(m);
    assert.equal(seen.length, 45);
    assert.deepEqual(seen.map((m) => m.body), Array.from({ length: 45 }, (_, i) => `m${45 - i} ${KOREAN}`));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].seq > seen[i].seq);
    // Stopping early stops paging; `before` starts lower.
    const firstThree = [];
    for await (const m of room.messages({ limit: 2, before: seen[9].seq })) {
      firstThree.push(m.body);
      if (firstThree.length === 3) break;
    }
    assert.deepEqual(firstThree, ["m35 " + KOREAN, "m34 " + KOREAN, "m33 " + KOREAN]);
    const catchUp = await room.page({ after: seen[2].seq, limit: 5 });
    assert.deepEqual(catchUp.messages.map((m) => m.body), ["m44 " + KOREAN, "m45 " + KOREAN]);
  });

  test("a watch from sinceSeq replays what came before, then goes live", async () => {
    const alice = await login("alice");
    const room = await alice.rooms.createGroup("replay");
    for (let i = 1; i <= 5; i++) await room.send("r" + i);
    const events = recorder();
    const w = await room.watch(events.handlers, { sinceSeq: 2 });
    assert.deepEqual(events.of("message").map((e) => [e.message.body, e.replay]),
                     [["r3", true], ["r4", true], ["r5", true]]);
    await room.send("r6");
    await events.wait("r6", (e) => e.type === "message" && e.message.body === "r6" && !e.replay);
    assert.equal(w.lastSeq, 6);
  });

  test("a watch of a room one is not in is refused, the client goes on", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const room = await alice.rooms.createGroup("private");
    const errors = [];
    const back = next(bob, "connect");
    await assert.rejects(bob.room(room.id).watch({}, { sinceSeq: 0, onError: (e) => errors.push(e.code) }),
                         (e) => e.code === "no such room");
    assert.deepEqual(errors, ["no such room"]);
    await back;
    await assert.rejects(bob.room(room.id).get(), (e) => e.status === 404);
  });

  test("read marks and typing", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const room = await alice.rooms.createGroup("read", ["bob"]);
    await room.send("one");
    await room.send("two");
    const events = recorder();
    await bob.room(room.id).watch(events.handlers);
    alice.room(room.id).typing();
    await events.wait("typing", (e) => e.type === "typing" && e.user === "alice");

    const bobRoom = bob.room(room.id);
    assert.equal((await bobRoom.get()).unread, 2);
    await bobRoom.read(1);
    assert.equal((await bobRoom.get()).read_seq, 1, "the RECEIPT came after the mark was stored");
    await events.wait("read", (e) => e.type === "read" && e.user === "bob" && e.seq === 1);
    await bobRoom.markRead(2);
    assert.equal((await bobRoom.get()).unread, 0);
  });
});

describe("resume and retry", () => {
  test("the socket cut during a flood of 500: every message once, in seq order", async () => {
    const alice = await login("alice");
    const room = await alice.rooms.createGroup("flood", ["bob"]);
    const net = cuttableSockets(server);
    const bob = await connect({ url: `http://127.0.0.1:${server.http}`, login: "bob", passcode: passwordOf("bob"),
                                webSocketFactory: net.factory, reconnectDelay: 20 });
    clients.push(bob);
    const reconnects = [];
    bob.on("connect", (e) => reconnects.push(e));
    let resumed = 0;
    const seqs = [];
    const bodies = [];
    const start = (await room.get()).last_seq;
    await bob.room(room.id).watch({
      message: (e) => {
        seqs.push(e.message.seq);
        bodies.push(e.message.body);
        if (seqs.length === 50) net.cut(); // 450 still to come
      },
      resumed: () => resumed++,
    });

    const flood = [];
    for (let i = 1; i <= 500; i++) flood.push(room.send(`flood ${i} ${KOREAN}`));
    await Promise.all(flood);
    await waitFor(() => reconnects.some((e) => e.reconnected), "bob to reconnect");
    // A last message: once it is here, anything doubled would be too.
    await room.send("end");
    await waitFor(() => bodies.includes("end"), "the end marker", 20000);
    assert.ok(resumed >= 1);
    assert.equal(seqs.length, 501);
    assert.deepEqual(seqs, Array.from({ length: 501 }, (_, i) => start + i + 1));
    assert.deepEqual(bodies.slice(0, 500), Array.from({ length: 500 }, (_, i) => `flood ${i + 1} ${KOREAN}`));
  });

  test("edits and deletes: events live, then the ones missed while offline after the reconnect", async () => {
    const alice = await login("alice");
    const room = await alice.rooms.createGroup("고치기 ✏️", ["bob"]);
    const first = await room.send("첫 " + KOREAN);
    const second = await room.send("둘");
    const third = await room.send("셋");
    const net = cuttableSockets(server);
    const bob = await connect({ url: `http://127.0.0.1:${server.http}`, login: "bob", passcode: passwordOf("bob"),
                                webSocketFactory: net.factory, reconnectDelay: 20 });
    clients.push(bob);
    const reconnects = [];
    bob.on("connect", (e) => reconnects.push(e));
    const rec = recorder();
    const w = await bob.room(room.id).watch(rec.handlers, { sinceSeq: third.seq });

    const edited = await room.editMessage(first.seq, { text: "고침 " + KOREAN });
    assert.equal(edited.seq, first.seq);
    assert.equal(JSON.parse(edited.body).text, "고침 " + KOREAN);
    await rec.wait("message-edited", (e) => e.type === "message-edited");
    const live = rec.of("message-edited")[0];
    assert.equal(live.message.seq, first.seq);
    assert.equal(live.rev, edited.rev);
    assert.equal(live.by, "alice");
    assert.equal(live.replay, false);
    assert.equal(w.lastRev, edited.rev);

    // Offline: a delete and an edit happen; back online, both arrive once.
    net.offline = true;
    net.cut();
    await waitFor(() => !bob.connected, "bob offline");
    const gone = await room.deleteMessage(second.seq);
    assert.equal(gone.deleted, true);
    const again = await room.editMessage(third.seq, "셋 ✏️");
    net.offline = false;
    await waitFor(() => reconnects.some((e) => e.reconnected), "bob to reconnect");
    await rec.wait("the changes replayed", (e) => e.type === "message-edited" && e.message.seq === third.seq);
    const deleted = rec.of("message-deleted");
    assert.equal(deleted.length, 1);
    assert.equal(deleted[0].message.seq, second.seq);
    assert.equal(deleted[0].message.body, "");
    assert.equal(deleted[0].replay, true);
    assert.equal(rec.of("message-edited").length, 2);
    assert.equal(w.lastRev, again.rev);
    // History: every seq, the latest text, the tombstone.
    const page = (await room.page({ after: 0 })).messages;
    assert.deepEqual(page.map((m) => [m.seq, m.body, m.deleted ?? false]),
                     [[first.seq, edited.body, false], [second.seq, "", true], [third.seq, "셋 ✏️", false]]);
    // Another's message: refused.
    await assert.rejects(bob.room(room.id).editMessage(first.seq, "mine"),
                         (e) => e instanceof ChatdError && e.status === 403);
  });

  test("reactions: react and unreact, the typed event, history with me, refusals", async () => {
    const alice = await login("alice");
    const bob = await login("bob");
    const room = await alice.rooms.createGroup("반응 😀", ["bob"]);
    const first = await room.send(KOREAN);
    const rec = recorder();
    await bob.room(room.id).watch(rec.handlers);

    const mine = await room.react(first.seq, "👍🏽");
    assert.deepEqual(mine, [{ emoji: "👍🏽", count: 1, me: true }]);
    assert.deepEqual(await room.react(first.seq, "👍🏽"), mine); // twice is once
    const both = await bob.room(room.id).react(first.seq, "👨‍👩‍👧");
    assert.deepEqual(both.map((r) => [r.emoji, r.count, r.me]), [["👍🏽", 1, false], ["👨‍👩‍👧", 1, true]]);
    await rec.wait("two reaction events", () => rec.of("reaction").length >= 2);
    const [added, family] = rec.of("reaction");
    assert.deepEqual(added, { type: "reaction", room: room.id, seq: first.seq, emoji: "👍🏽", user: "alice",
                              action: "added", reactions: [{ emoji: "👍🏽", count: 1 }] });
    assert.equal(family.user, "bob");

    const page = (await bob.room(room.id).page({ after: 0 })).messages;
    assert.deepEqual(page[0].reactions, both);
    assert.deepEqual(await room.unreact(first.seq, "👍🏽"), [{ emoji: "👨‍👩‍👧", count: 1, me: false }]);
    await rec.wait("the removal", (e) => e.type === "reaction" && e.action === "removed");
    await assert.rejects(room.react(first.seq, ":)"), (e) => e instanceof ChatdError && e.status === 400);
    await assert.rejects(room.react(99, "👍"), (e) => e instanceof ChatdError && e.status === 404);
  });

  test("sends while offline are queued and stored once after reconnecting", async () => {
    const alice = await login("alice");
    const room = await alice.rooms.createGroup("offline", ["bob"]);
    const net = cuttableSockets(server);
    const bob = await connect({ url: `http://127.0.0.1:${server.http}`, login: "bob", passcode: passwordOf("bob"),
                                webSocketFactory: net.factory, reconnectDelay: 20 });
    clients.push(bob);
    const bobRoom = bob.room(room.id);
    const before = (await room.get()).last_seq;

    net.offline = true;
    const down = next(bob, "disconnect");
    net.cut();
    await down;
    assert.equal(bob.connected, false);
    const sends = [];
    for (let i = 1; i <= 20; i++) sends.push(bobRoom.send(`offline ${i} ${KOREAN}`));
    assert.equal(bob.pendingSends, 20);
    // Nothing reached the server (REST works: it is not the socket).
    assert.equal((await room.get()).last_seq, before);

    const up = next(bob, "connect");
    net.offline = false;
    await up;
    const ids = (await Promise.all(sends)).map((r) => r.clientId);
    assert.equal(bob.pendingSends, 0);
    const stored = (await history(room)).filter((m) => m.seq > before).reverse();
    assert.deepEqual(stored.map((m) => m.body), Array.from({ length: 20 }, (_, i) => `offline ${i + 1} ${KOREAN}`));
    assert.deepEqual(stored.map((m) => m.client_id), ids);
  });

  test("sends cut off before their RECEIPT are sent again and stored once", async () => {
    const alice = await login("alice");
    const room = await alice.rooms.createGroup("retry", ["bob"]);
    const net = cuttableSockets(server);
    const bob = await connect({ url: `http://127.0.0.1:${server.http}`, login: "bob", passcode: passwordOf("bob"),
                                webSocketFactory: net.factory, reconnectDelay: 20 });
    clients.push(bob);
    const before = (await room.get()).last_seq;
    // Cut bob's socket when alice sees his first message stored: the rest
    // are on their way or stored without their RECEIPT yet.
    let waiting = -1;
    await room.watch({ message: (e) => { if (waiting < 0) { waiting = bob.pendingSends; net.cut(); } } });
    const sends = [];
    for (let i = 1; i <= 100; i++) sends.push(bob.room(room.id).send(`retry ${i}`));
    await Promise.all(sends);
    assert.ok(waiting > 0, "some sends had no RECEIPT when the socket was cut");
    assert.ok(net.sockets.length >= 2, "bob reconnected");
    const stored = (await history(room)).filter((m) => m.seq > before).reverse();
    assert.equal(stored.length, 100);
    assert.deepEqual(stored.map((m) => m.body), Array.from({ length: 100 }, (_, i) => `retry ${i + 1}`));
    assert.equal(new Set(stored.map((m) => m.client_id)).size, 100);
  });

  test("the same client-id twice stores one message", async () => {
    const alice = await login("alice");
    const room = await alice.rooms.createGroup("dedup");
    const a = await room.send(KOREAN, { clientId: "same-id" });
    const b = await room.send(KOREAN, { clientId: "same-id" });
    assert.equal(a.clientId, b.clientId);
    const all = await history(room);
    assert.equal(all.length, 1);
    assert.equal(all[0].client_id, "same-id");
  });
});
