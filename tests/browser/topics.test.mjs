// The live topics page in a real browser: two users on a topic, a second
// topic, a dropped connection (the subscription comes back, the page says
// when it retries), and signing out.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { passwordOf } from "../conformance/harness.mjs";
import { startBrowserTest } from "./browser.mjs";

let server, browser, env;

before(async () => {
  env = await startBrowserTest();
  ({ server, browser } = env);
});
after(async () => {
  await env?.stop();
});

async function signIn(user, password = passwordOf(user)) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`http://localhost:${server.http}/topics.html`);
  await page.fill("#signin input[name=login]", user);
  await page.fill("#signin input[name=passcode]", password);
  await page.click("#signin button[type=submit]");
  return page;
}

async function say(page, text) {
  await page.fill("#composer input[name=text]", text);
  await page.press("#composer input[name=text]", "Enter");
}

test("two users on a topic, another topic, a dropped connection, signing out", async () => {
  const bad = await signIn("alice", "wrong");
  await bad.waitForSelector("#signin-error >> text=bad credentials");

  const alice = await signIn("alice");
  const bob = await signIn("bob");
  for (const p of [alice, bob]) {
    await p.waitForSelector("#status.online >> text=signed in as");
    await p.waitForSelector("#messages li.system >> text=joined #lobby");
  }
  await say(alice, "안녕 로비 👋");
  await bob.waitForSelector("#messages li >> text=안녕 로비 👋");
  await alice.waitForSelector("#messages li.mine >> text=안녕 로비 👋");
  assert.match(await bob.textContent("#messages li:not(.system) .meta"), /^alice · /);

  // bob moves to another topic: alice's lines there only.
  await bob.fill("#topic-form input[name=topic]", "random");
  await bob.click("#topic-form button[type=submit]");
  await bob.waitForSelector("#messages li.system >> text=joined #random");
  await say(alice, "still in the lobby");
  await alice.waitForSelector("#messages li >> text=still in the lobby");

  // alice's connection drops: the page says it retries, comes back on the
  // lobby, and hears bob there.
  await bob.fill("#topic-form input[name=topic]", "lobby");
  await bob.click("#topic-form button[type=submit]");
  await bob.waitForSelector("#messages li.system >> text=joined #lobby");
  assert.equal(await bob.locator("#messages li", { hasText: "still in the lobby" }).count(), 0);
  await alice.evaluate(() => window.__topics.chat.stomp.forceDisconnect());
  await alice.waitForSelector("#status >> text=disconnected — retrying in");
  await alice.waitForSelector("#status.online");
  await alice.waitForFunction(() => document.querySelectorAll("#messages li.system").length === 2);
  await say(bob, "다시 왔네요 🎉");
  await alice.waitForSelector("#messages li >> text=다시 왔네요 🎉");

  await alice.click("#signout");
  await alice.waitForSelector("#signin:not([hidden])");
  assert.equal(await alice.textContent("#status"), "signed out");
});
