// The support desk with automatic assignment (round_robin, at most one
// chat per agent) in a real browser: availability on the agent console,
// the agents' status and load, and the customer's place in line.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { passwordOf, startChatd } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

let server, browser, env;

before(async () => {
  env = await startBrowserTest(() => startChatd({
    sections: ["[support]", "assign = round_robin", "max_chats_per_agent = 1"],
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

const agentRow = (page, agent) => page.locator(`#agents li[data-agent="${agent}"] .info`);

test("rooms go to available agents under the limit; the others wait and see their place", async () => {
  const agent1 = await signIn("agent.html", "agent1");
  await agent1.waitForSelector('#availability[data-status="online"]');
  await agent1.waitForSelector('#agents li[data-agent="agent1"][data-status="online"]');

  // alice's chat goes to agent1 at once; agent1 is then at the limit.
  const alice = await signIn("customer.html", "alice");
  await alice.waitForSelector("text=You are talking with agent1");
  const aliceRoom = await alice.evaluate(() => window.__desk.room.id);
  await agent1.waitForSelector(`#mine li[data-room="${aliceRoom}"]`);
  await agent1.waitForFunction(() =>
    document.querySelector('#agents li[data-agent="agent1"] .info')?.textContent === "online · 1 open chat");

  // bob waits: first in line, with an estimate from alice's wait.
  const bob = await signIn("customer.html", "bob");
  await bob.waitForSelector("text=Waiting for an agent");
  await bob.waitForSelector("#queue-position:not([hidden])");
  assert.match(await bob.textContent("#queue-position"), /^You are 1st in line( · less than a minute| · about \d+ minutes?)?$/);
  await bob.screenshot({ path: path.join(SHOTS, "customer-queue-position.png") });

  // agent1 goes away; agent2 comes and gets bob's chat, and sees agent1's
  // status and load.
  await agent1.click("#away-toggle");
  await agent1.waitForSelector('#availability[data-status="away"]');
  assert.equal(await agent1.textContent("#away-toggle"), "Come back");
  // and alice, whose chat agent1 has, sees agent1 away beside their name
  await alice.waitForSelector('#agent-dot .dot.away[data-user="agent1"]');
  const agent2 = await signIn("agent.html", "agent2");
  await bob.waitForSelector("text=You are talking with agent2");
  assert.equal(await bob.isHidden("#queue-position"), true);
  await agent2.waitForSelector('#agents li[data-agent="agent1"][data-status="away"]');
  assert.equal(await agentRow(agent2, "agent1").textContent(), "away · 1 open chat");
  await agent2.waitForFunction(() =>
    document.querySelector('#agents li[data-agent="agent2"] .info')?.textContent === "online · 1 open chat");
  assert.equal(await agent2.textContent("#agents-limit"), "at most 1 chat each");

  // agent1 comes back: agent2's console follows live.
  await agent1.click("#away-toggle");
  await agent2.waitForSelector('#agents li[data-agent="agent1"][data-status="online"]');
  await alice.waitForSelector('#agent-dot .dot.online[data-user="agent1"]');
  await agent2.screenshot({ path: path.join(SHOTS, "agent-availability.png") });
  for (const p of [agent1, agent2, alice, bob]) await p.context().close();
});
