// Internal notes and the supervisor's page in a real browser: agent1 writes
// a note beside alice's chat, the supervisor sees every agent and chat,
// reads the chat and its notes live, adds a note agent1 sees at once, and
// hands the chat to agent2; alice never sees a note.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { USERS, passwordOf, startChatd } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

let server, browser, env;

before(async () => {
  USERS.sup1 = "supervisor";
  env = await startBrowserTest(() => startChatd());
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
});

async function signIn(file, user) {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 860 } })).newPage();
  await page.goto(`http://localhost:${server.http}/${file}`);
  await page.fill("#signin input[name=login]", user);
  await page.fill("#signin input[name=passcode]", passwordOf(user));
  await page.click("#signin button[type=submit]");
  return page;
}

const NOTE = "내부 메모: VIP 고객, 환불 승인 필요 🔒";
const SUPERVISOR_NOTE = "감독자 메모: agent2에게 넘깁니다 🧭";

test("notes stay with the desk; the supervisor oversees and reassigns", async () => {
  const agent1 = await signIn("agent.html", "agent1");
  const agent2 = await signIn("agent.html", "agent2");
  await agent1.waitForSelector('#agents li[data-agent="agent2"][data-status="online"]');

  const alice = await signIn("customer.html", "alice");
  await alice.waitForSelector("text=Waiting for an agent");
  const room = await alice.evaluate(() => window.__desk.room.id);
  await alice.fill("#composer input[name=text]", "안녕하세요 😀 환불해 주세요");
  await alice.press("#composer input[name=text]", "Enter");

  // agent1 claims, answers, and writes a note beside the chat.
  await agent1.click(`#queue li[data-room="${room}"] button`);
  await alice.waitForSelector("text=You are talking with agent1");
  await agent1.waitForFunction(() => document.querySelectorAll("#messages li").length === 1);
  await agent1.fill("#composer input[name=text]", "확인해 볼게요 🙏");
  await agent1.press("#composer input[name=text]", "Enter");
  await agent1.fill("#note-form input[name=text]", NOTE);
  await agent1.click("#note-form button[type=submit]");
  await agent1.waitForSelector("#notes li.note");
  assert.equal(await agent1.textContent("#notes li.note .text"), NOTE);
  assert.match(await agent1.textContent("#notes li.note .meta"), /^Internal note · agent1 · /);
  // The note is not in the conversation.
  assert.equal((await agent1.textContent("#messages")).includes("내부 메모"), false);

  // The supervisor: both agents with their loads, the chat under agent1.
  const sup = await signIn("supervisor.html", "sup1");
  await sup.waitForSelector(`#assigned li[data-room="${room}"]`);
  assert.equal(await sup.textContent(`#assigned li[data-room="${room}"] .who`), "alice → agent1");
  await sup.waitForSelector('#agents li[data-agent="agent2"][data-status="online"]');
  assert.equal(await sup.textContent('#agents li[data-agent="agent1"] .info'), "online · 1 open chat");
  assert.equal(await sup.isVisible("#queue-empty"), true);

  // It reads the chat and its notes, and adds one agent1 sees live.
  await sup.click(`#assigned li[data-room="${room}"]`);
  await sup.waitForFunction(() => document.querySelectorAll("#messages li").length === 2);
  await sup.waitForSelector("#notes li.note");
  assert.equal(await sup.textContent("#notes li.note .text"), NOTE);
  await sup.fill("#note-form input[name=text]", SUPERVISOR_NOTE);
  await sup.click("#note-form button[type=submit]");
  await sup.waitForFunction(() => document.querySelectorAll("#notes li.note").length === 2);
  await agent1.waitForFunction(() => document.querySelectorAll("#notes li.note").length === 2);
  assert.equal(await agent1.textContent('#notes li.note[data-sender="sup1"] .text'), SUPERVISOR_NOTE);
  // Live in the supervisor's view: alice writes again.
  await alice.fill("#composer input[name=text]", "감사합니다 😀");
  await alice.press("#composer input[name=text]", "Enter");
  await sup.waitForFunction(() => document.querySelectorAll("#messages li").length === 3);
  await agent1.screenshot({ path: path.join(SHOTS, "agent-notes.png") });

  // Reassign to agent2: the options are the online agents who do not have it.
  const options = await sup.$$eval("#reassign-to option", (os) => os.map((o) => [o.value, o.textContent]));
  assert.deepEqual(options, [["agent2", "agent2 · 0 open chats"], ["", "Back to the queue"]]);
  await sup.selectOption("#reassign-to", "agent2");
  await sup.screenshot({ path: path.join(SHOTS, "supervisor.png") });
  await sup.click("#reassign-submit");
  await sup.waitForFunction((r) => document.querySelector(`#assigned li[data-room="${r}"] .who`)?.textContent ===
                           "alice → agent2", room);
  await agent1.waitForSelector("#pane", { state: "hidden" });
  await agent2.waitForSelector(`#mine li[data-room="${room}"]`);
  await agent2.click(`#mine li[data-room="${room}"]`);
  await agent2.waitForFunction(() => document.querySelectorAll("#notes li.note").length === 2);
  await alice.waitForSelector("text=You are talking with agent2");
  assert.equal(await alice.textContent("#messages li.system .text"), "sup1 passed this chat on to agent2.");

  // Back to the queue, by the supervisor.
  await sup.selectOption("#reassign-to", "");
  await sup.click("#reassign-submit");
  await sup.waitForSelector(`#queue li[data-room="${room}"]`);
  await alice.waitForSelector("text=Waiting for an agent");
  // Waiting: the supervisor gives it to agent1 (no "back to the queue").
  await sup.waitForFunction(() => [...document.querySelectorAll("#reassign-to option")].map((o) => o.value).join() ===
                            "agent1,agent2");
  await sup.selectOption("#reassign-to", "agent1");
  await sup.click("#reassign-submit");
  await sup.waitForFunction((r) => document.querySelector(`#assigned li[data-room="${r}"] .who`)?.textContent ===
                           "alice → agent1", room);
  await agent1.waitForSelector(`#mine li[data-room="${room}"]`);
  await alice.waitForSelector("text=You are talking with agent1");

  // The customer never sees a note, nor loads the notes.
  const page = await alice.content();
  for (const secret of ["내부 메모", "감독자 메모", "🔒", "🧭"]) assert.equal(page.includes(secret), false, secret);
  assert.equal(await alice.locator("#notes").count(), 0);

  // A plain agent is no supervisor.
  const refused = await agent2.evaluate(async () => {
    try { await desk.chat.rest.request("GET", "/api/support/overview"); return null; } catch (e) { return e.status; }
  });
  assert.equal(refused, 403);
  for (const p of [agent1, agent2, alice, sup]) await p.context().close();
});
