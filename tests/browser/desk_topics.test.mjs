// Topics and skills at the support desk in a real browser ([support]
// skills = agent1:billing; agent2:tech, round robin, one chat each): the
// customer picks a topic before the chat opens, and the chat goes to the
// agent with that skill, whose console shows the topic; a message with
// Korean and emoji reaches them; a billing chat waits for the billing
// agent while the tech agent is free.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { passwordOf, startChatd } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

let server, browser, env;

before(async () => {
  env = await startBrowserTest(() => startChatd({
    sections: ["[support]", "assign = round_robin", "max_chats_per_agent = 1",
               "skills = agent1:billing; agent2:tech"],
  }));
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
});

async function signIn(file, user, topic) {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
  await page.goto(`http://localhost:${server.http}/${file}`);
  await page.fill("#signin input[name=login]", user);
  await page.fill("#signin input[name=passcode]", passwordOf(user));
  if (topic !== undefined) await page.selectOption("#topic", topic);
  await page.click("#signin button[type=submit]");
  return page;
}

test("a billing chat goes to the billing agent, who sees its topic", async () => {
  const agent1 = await signIn("agent.html", "agent1");
  const agent2 = await signIn("agent.html", "agent2");
  for (const a of [agent1, agent2]) await a.waitForSelector('#availability[data-status="online"]');
  await agent2.waitForSelector('#agents li[data-agent="agent1"][data-status="online"]');
  await agent2.waitForFunction(() =>
    document.querySelector('#agents li[data-agent="agent1"] .info')?.textContent === "online · 0 open chats · billing");

  // agent1 would be first in turn; the tech chat goes to agent2 all the same.
  const bob = await signIn("customer.html", "bob", "tech");
  await bob.waitForSelector("text=You are talking with agent2");
  assert.equal(await bob.textContent("#room-topic"), "Topic: Technical problem");

  const alice = await signIn("customer.html", "alice", "billing");
  await alice.waitForSelector("text=You are talking with agent1");
  assert.equal(await alice.textContent("#room-topic"), "Topic: Billing and payments");
  const room = await alice.evaluate(() => window.__desk.room.id);
  const mine = `#mine li[data-room="${room}"]`;
  await agent1.waitForSelector(mine);
  assert.equal(await agent1.getAttribute(mine, "data-topic"), "billing");
  assert.equal(await agent1.textContent(`${mine} .topic`), "billing");

  const text = "카드가 두 번 결제됐어요 😀💳";
  await alice.fill("#composer input[name=text]", text);
  await alice.press("#composer input[name=text]", "Enter");
  await agent1.click(mine);
  await agent1.waitForSelector(`#messages >> text=${text}`);
  assert.equal(await agent1.textContent("#pane-title"), "Chat with alice · billing");
  await agent1.screenshot({ path: path.join(SHOTS, "agent-topics.png") });

  // bob closes his chat and starts a billing one: agent1 is at the limit
  // and agent2 has no billing, so it waits, its topic shown.
  await bob.click("#close");
  await bob.waitForSelector("#closed:not([hidden])");
  await bob.selectOption("#new-topic", "billing");
  await bob.click("#new");
  await bob.waitForSelector("text=Waiting for an agent");
  assert.equal(await bob.textContent("#room-topic"), "Topic: Billing and payments");
  assert.equal(await bob.evaluate(() => window.__desk.room.topic), "billing");
  const waiting = await bob.evaluate(() => window.__desk.room.id);
  await agent2.waitForSelector(`#queue li[data-room="${waiting}"][data-topic="billing"]`);

  // A customer on the sign-in page sees the topics offered.
  const carol = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
  await carol.goto(`http://localhost:${server.http}/customer.html`);
  await carol.fill("#signin input[name=login]", "carol");
  await carol.selectOption("#topic", "billing");
  await carol.screenshot({ path: path.join(SHOTS, "customer-topic.png") });
  for (const p of [agent1, agent2, alice, bob, carol]) await p.context().close();
});
