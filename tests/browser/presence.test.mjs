// Presence dots on the chat page in a real browser: alice sees bob come
// online, go away (his choice, with the page's button) and go offline with
// when he was last seen, in the chat list and the members line; agent1,
// never signed in, stays offline.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { passwordOf, startChatd } from "../conformance/harness.mjs";
import { SHOTS, startBrowserTest } from "./browser.mjs";

let server, browser, env;

before(async () => {
  env = await startBrowserTest(() => startChatd({ sections: ["[presence]", "offline_grace = 300ms"] }));
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
});

async function signIn(user) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  await page.goto(`http://localhost:${server.http}/chat.html`);
  await page.fill("#signin input[name=login]", user);
  await page.fill("#signin input[name=passcode]", passwordOf(user));
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("#console:not([hidden])");
  return page;
}

test("online, away and last seen of the people of one's chats", async () => {
  const alice = await signIn("alice");
  await alice.fill("#new-direct input[name=with]", "bob");
  await alice.click("#new-direct button");
  await alice.waitForSelector("#pane:not([hidden])");
  const direct = await alice.evaluate(() => window.__chat.open.id);
  await alice.fill("#new-group input[name=title]", "모임 🎉");
  await alice.fill("#new-group input[name=members]", "bob, agent1");
  await alice.click("#new-group button");
  await alice.waitForSelector("#pane-title >> text=모임 🎉");
  // bob has never signed in: offline, no last seen.
  await alice.waitForSelector(`#rooms li[data-room="${direct}"] .dot.offline[data-user="bob"]`);
  assert.equal(await alice.textContent(`#rooms li[data-room="${direct}"] .who`), "bob");

  const bob = await signIn("bob");
  await alice.waitForSelector(`#rooms li[data-room="${direct}"] .dot.online[data-user="bob"]`);
  await alice.waitForSelector(`#members .dot.online[data-user="bob"]`);
  // bob sees alice online from the start (asked when he signed in).
  await bob.waitForSelector(`#rooms li .dot.online[data-user="alice"]`);

  // bob goes away with the button: alice sees it; his button offers to come back.
  await bob.click("#away");
  await bob.waitForSelector("#away[aria-pressed=true] >> text=I'm back");
  await alice.waitForSelector(`#rooms li[data-room="${direct}"] .dot.away[data-user="bob"]`);
  await alice.waitForSelector(`#members .dot.away[data-user="bob"]`);
  await alice.waitForSelector(`#members .dot.online[data-user="alice"]`);
  await alice.waitForSelector(`#members .dot.offline[data-user="agent1"]`);
  assert.equal(await alice.getAttribute(`#members .dot[data-user="bob"]`, "aria-label"), "bob: away");
  await alice.screenshot({ path: path.join(SHOTS, "chat-presence.png") });

  // Back, then gone: offline after the grace, with when he was last seen.
  await bob.click("#away");
  await alice.waitForSelector(`#rooms li[data-room="${direct}"] .dot.online[data-user="bob"]`);
  const before = Date.now();
  await bob.context().close();
  await alice.waitForSelector(`#rooms li[data-room="${direct}"] .dot.offline[data-user="bob"]`);
  const seen = await alice.evaluate(() => window.__chat.presence.get("bob"));
  assert.equal(seen.status, "offline");
  assert.ok(seen.last_seen >= before - 1000 && seen.last_seen <= Date.now(), JSON.stringify(seen));
  await alice.click(`#rooms li[data-room="${direct}"]`);
  await alice.waitForSelector("#members >> text=/bob · last seen/");
});
