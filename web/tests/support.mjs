// What the browser tests share: the server on a free loopback port, Debian's Chromium driven by
// playwright-core (never a downloaded browser), pages that join one room, and waiting helpers.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { startServer } from "../server.mjs";

const require = createRequire(fileURLToPath(new URL("../../tools/node/package.json", import.meta.url)));
const { chromium } = require("playwright-core");

export const RESULTS = fileURLToPath(new URL("../test-results/", import.meta.url));

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // WebRTC between pages on loopback, with host candidates (no mDNS names) and no prompts.
  "--allow-loopback-in-peer-connection",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  // Several pages at once, none of them in front: keep their timers at full rate.
  "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding",
  "--disable-backgrounding-occluded-windows",
];

export async function launch() {
  mkdirSync(RESULTS, { recursive: true });
  const server = await startServer({ port: 0, quiet: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    // playwright-core gives the browser a fresh, empty profile directory of its own.
    args: CHROMIUM_ARGS,
    headless: true,
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.grantPermissions(["camera", "microphone"]);
  return { server, browser, context };
}

/** Waits until `fn()` returns a truthy value (polled), or throws with `what` and the last value. */
export async function until(fn, what, timeoutMs = 20000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Opens a page of the demo in `room`; resolves once the node runs in it. */
export async function openPeer(ctx, url, room, extra = "") {
  const page = await ctx.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") page.errors.push(m.text());
  });
  await page.goto(`${url}?room=${room}${extra}`);
  await page.waitForFunction(() => window.demo?.host?.up === true, null, { timeout: 20000 });
  return page;
}

/** The status of the node in `page`. */
export const status = (page) => page.evaluate(() => window.demo.host.status());

export async function shot(page, name) {
  await page.screenshot({ path: join(RESULTS, `${name}.png`) });
}
