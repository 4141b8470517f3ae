// The agent console's transfer dialog in a real browser: agent1 hands the
// customer's chat to agent2 with a note, agent2 hands it back to the
// queue; the customer sees who answers now and the system messages, never
// the note.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { passwordOf } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

let server, browser, env;

before(async () => {
  env = await startBrowserTest();
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
});

async function signIn(file, user) {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
  await page.goto(`http://localhost:${server.http}/${file}`);
  await page.fill("#signin input[name=login]", user);
  await page.fill("#signin input[name=passcode]", passwordOf(user));
  await page.click("#signin button[type=submit]");
  return page;
}

const NOTE = "환불 문의 😀 — order 1234";

test("an agent transfers a chat to another agent, who hands it back to the queue", async () => {
  const agent1 = await signIn("agent.html", "agent1");
  const agent2 = await signIn("agent.html", "agent2");
  await agent1.waitForSelector('#agents li[data-agent="agent2"][data-status="online"]');

  const alice = await signIn("customer.html", "alice");
  await alice.waitForSelector("text=Waiting for an agent");
  const room = await alice.evaluate(() => window.__desk.room.id);
  await alice.fill("#composer input[name=text]", "안녕하세요 😀 환불해 주세요");
  await alice.press("#composer input[name=text]", "Enter");

  // agent1 claims and answers.
  await agent1.click(`#queue li[data-room="${room}"] button`);
  await alice.waitForSelector("text=You are talking with agent1");
  await agent1.waitForFunction(() => document.querySelectorAll("#messages li").length === 1);
  await agent1.fill("#composer input[name=text]", "잠시만요, 담당자에게 전달할게요 🙏");
  await agent1.press("#composer input[name=text]", "Enter");
  await alice.waitForFunction(() => document.querySelectorAll("#messages li").length === 2);

  // The dialog: the online agents (not me) and the queue.
  await agent1.click("#transfer");
  await agent1.waitForSelector("#transfer-dialog[open]");
  const options = await agent1.$$eval("#transfer-to option", (os) => os.map((o) => [o.value, o.textContent]));
  assert.deepEqual(options, [["agent2", "agent2 · 0 open chats"], ["", "Back to the queue"]]);
  await agent1.selectOption("#transfer-to", "agent2");
  await agent1.fill("#transfer-note", NOTE);
  await agent1.screenshot({ path: path.join(SHOTS, "agent-transfer.png") });
  await agent1.click("#transfer-submit");
  await agent1.waitForSelector("#transfer-dialog", { state: "hidden" });
  await agent1.waitForSelector("#pane", { state: "hidden" });
  assert.equal(await agent1.textContent("#handed"), "Handed to agent2.");
  await agent1.waitForSelector(`#mine li[data-room="${room}"]`, { state: "detached" });

  // agent2 has it, with the history whole and the system message.
  await agent2.waitForSelector(`#mine li[data-room="${room}"]`);
  await agent2.click(`#mine li[data-room="${room}"]`);
  await agent2.waitForFunction(() => document.querySelectorAll("#messages li").length === 3);
  assert.equal(await agent2.textContent("#messages li.system .text"), "agent1 passed this chat on to agent2.");
  assert.equal(await agent2.locator("#messages li.system .tools").count(), 0);

  // The customer: who answers now, the system message, never the note.
  await alice.waitForSelector("text=You are talking with agent2");
  await alice.waitForSelector("#messages li.system");
  assert.equal(await alice.textContent("#messages li.system .text"), "agent1 passed this chat on to agent2.");
  assert.equal((await alice.content()).includes("환불 문의"), false);
  await alice.screenshot({ path: path.join(SHOTS, "customer-transferred.png") });

  // agent2 hands it back to the queue: it waits in agent1's queue again.
  await agent2.click("#transfer");
  await agent2.waitForSelector("#transfer-dialog[open]");
  await agent2.selectOption("#transfer-to", "");
  await agent2.click("#transfer-submit");
  await agent2.waitForSelector("#pane", { state: "hidden" });
  assert.equal(await agent2.textContent("#handed"), "Back in the queue.");
  await agent1.waitForSelector(`#queue li[data-room="${room}"]`);
  await alice.waitForSelector("text=Waiting for an agent");
  await alice.waitForFunction(() => document.querySelectorAll("#messages li.system").length === 2);

  // A refusal shows in the dialog: agent1 claims it, agent2 goes offline,
  // and agent1's transfer to them is refused.
  await agent1.click(`#queue li[data-room="${room}"] button`);
  await agent1.waitForSelector("#pane:not([hidden])");
  await agent1.click("#transfer");
  await agent1.waitForSelector("#transfer-dialog[open]");
  await agent1.selectOption("#transfer-to", "agent2");
  await agent2.context().close();
  await agent1.waitForFunction(async () => {
    const r = await desk.chat.rest.request("GET", "/api/agents");
    return r.agents.some((a) => a.user === "agent2" && a.status === "offline");
  });
  await agent1.click("#transfer-submit");
  await agent1.waitForFunction(() => document.getElementById("transfer-error").textContent === "that agent is offline");
  assert.equal(await agent1.isVisible("#transfer-dialog[open]"), true);
  for (const p of [agent1, alice]) await p.context().close();
});
