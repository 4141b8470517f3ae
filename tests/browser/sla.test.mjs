// The first-response target on the agent console in a real browser: a
// customer left waiting past [support] first_response_target is flagged in
// the queue with their waiting time; claimed, the chat is still flagged in
// the agent's list until the agent answers.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { passwordOf, startChatd } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

let server, browser, env;

before(async () => {
  env = await startBrowserTest(() => startChatd({
    sections: ["[support]", "first_response_target = 1s"],
  }));
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

test("a customer waiting past the target is flagged until an agent answers", async () => {
  const agent1 = await signIn("agent.html", "agent1");
  await agent1.waitForSelector('#availability[data-status="online"]');
  const alice = await signIn("customer.html", "alice");
  await alice.waitForSelector("text=Waiting for an agent");
  const room = await alice.evaluate(() => window.__desk.room.id);
  await alice.fill("#composer input[name=text]", "안녕하세요? 아무도 없나요 😢");
  await alice.press("#composer input[name=text]", "Enter");

  // In the queue, flagged once past 1 s, with the time waited.
  const item = `#queue li[data-room="${room}"]`;
  await agent1.waitForSelector(item);
  await agent1.waitForSelector(`${item}[data-sla="breached"]`);
  assert.equal(await agent1.textContent(`${item} .sla`), "over target");
  assert.match(await agent1.textContent(`${item} .info`), /^waiting \d+ s$/);
  await agent1.screenshot({ path: path.join(SHOTS, "agent-sla.png") });

  // Claimed: still waiting for an answer, still flagged in "My chats".
  await agent1.click(`${item} button`);
  const mine = `#mine li[data-room="${room}"]`;
  await agent1.waitForSelector(`${mine}[data-sla="breached"]`);
  await agent1.waitForFunction(() => document.querySelectorAll("#messages li").length === 1);
  await agent1.fill("#composer input[name=text]", "늦어서 죄송합니다 🙇 무엇을 도와드릴까요?");
  await agent1.press("#composer input[name=text]", "Enter");
  await alice.waitForFunction(() => document.querySelectorAll("#messages li").length === 2);
  // Answered: the flag goes.
  await agent1.waitForSelector(`${mine}:not([data-sla])`);
  assert.equal(await agent1.locator(`${mine} .sla`).count(), 0);
  // The customer never sees it.
  assert.equal(await alice.locator(".sla").count(), 0);
  for (const p of [agent1, alice]) await p.context().close();
});
