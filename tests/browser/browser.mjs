// What both browser tests share: one chatd, one headless Debian chromium,
// and where screenshots go.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

import { startChatd } from "../conformance/harness.mjs";

export const SHOTS = process.env.CHATD_SCREENSHOTS ??
  path.join(process.env.CHATD_SOURCE_DIR ?? ".", "docs", "screenshots");

// { server, browser }; stop() ends both. start: how chatd is started (the
// harness's test configuration unless a test names another).
export async function startBrowserTest(start = () => startChatd()) {
  mkdirSync(SHOTS, { recursive: true });
  const server = await start();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  return { server, browser, stop: async () => { await browser.close(); await server.stop(); } };
}
