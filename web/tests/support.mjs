// What the browser tests share: the server on a free loopback port, Debian's Chromium driven by
// playwright-core (never a downloaded browser), pages that join one room, and waiting helpers.
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

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

/**
 * `node web/server.mjs` in a process of its own (as `make demo` runs it), so that its memory can
 * be read apart from the test's: resolves to { url, port, pid, memory(), close() }.
 */
export async function startServerProcess() {
  const child = spawn(process.execPath, [fileURLToPath(new URL("../server.mjs", import.meta.url))], {
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const url = await new Promise((ok, fail) => {
    const onData = (d) => {
      out += d;
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out);
      if (m) {
        out = "";
        ok(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => fail(new Error(`server exited (${code}): ${out}`)));
  });
  child.stdout.on("data", () => {}); // its room log, not needed
  const exited = new Promise((ok) => child.once("exit", (code, sig) => ok({ code, sig })));
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid,
    alive: () => child.exitCode === null && child.signalCode === null,
    /** Resident and peak resident memory of the server process, in MiB (Linux /proc). */
    memory() {
      const st = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(st)?.[1] ?? NaN);
      return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
    },
    async close() {
      if (child.exitCode !== null) return exited;
      child.kill("SIGINT");
      return exited;
    },
  };
}

export async function launch() {
  mkdirSync(RESULTS, { recursive: true });
  const server = await startServerProcess();
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

/** Opens a page of the demo in `room`; resolves once the node runs in it (a new tab's node starts
 * once it has learnt the membership from a member's status). */
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

/** Saves a screenshot of the viewport (1400×900) and checks that it is a real picture of the page. */
export async function shot(page, name) {
  const path = join(RESULTS, `${name}.png`);
  const png = await page.screenshot({ path });
  assert.equal(png.subarray(1, 4).toString(), "PNG");
  assert.equal(png.readUInt32BE(16), 1400, "screenshot width");
  assert.equal(png.readUInt32BE(20), 900, "screenshot height");
  assert.ok(statSync(path).size > 20000, `${name}.png is more than an empty page`);
}

/** Where an element sits in the 1400×900 viewport (no scrolling): checks it is on screen. */
export async function onScreen(page, selector, minHeight = 80) {
  const box = await page.locator(selector).boundingBox();
  assert.ok(box, `${selector} is drawn`);
  assert.ok(box.y >= 0 && box.y + minHeight <= 900 && box.x + box.width <= 1400, `${selector} at ${JSON.stringify(box)} is visible at 1400×900`);
  return box;
}
