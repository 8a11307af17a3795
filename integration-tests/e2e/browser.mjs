// Shared helpers for the browser scripts: Debian's Chromium through playwright-core (never a
// downloaded browser), a fresh profile per launch, and the fake gateway as a child process.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A browser context with its own throw-away profile. Call close() when done. */
export async function openBrowser({ width, height, mobile = false, scale = 1 }) {
  const profile = mkdtempSync(join(tmpdir(), "e2e-profile-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width, height },
    deviceScaleFactor: scale,
    isMobile: mobile,
    hasTouch: mobile,
    colorScheme: "dark",
    reducedMotion: "no-preference",
  });
  const problems = [];
  const watch = (page) => {
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${new URL(r.url()).pathname}`);
    });
  };
  ctx.on("page", watch);
  for (const p of ctx.pages()) watch(p);
  const close = async () => {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, page: ctx.pages()[0] ?? (await ctx.newPage()), problems, close };
}

/** Start fake_gateway.py on a free port; resolves to { url, stop }. */
export function startFakeGateway(extra = []) {
  const root = join(HERE, "..", "..", "frontend", "out");
  const proc = spawn("python3", [join(HERE, "fake_gateway.py"), "--port", "0", "--root", root, ...extra], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/listening on (\d+)/);
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, stop: () => proc.kill("SIGTERM") });
    });
    proc.on("exit", (code) => reject(new Error(`fake gateway exited (${code})`)));
  });
}

/** Send a message through the UI and wait until its answer is complete (one more finished
 *  answer than before, and nothing generating). */
export async function ask(page, text, { timeout = 30_000 } = {}) {
  const finished = 'article[aria-label="Assistant answered"][aria-busy="false"]';
  const before = await page.locator(finished).count();
  await page.locator("#composer").fill(text);
  await page.locator("#composer").press("Enter");
  await page.waitForFunction(
    ([sel, n]) =>
      document.querySelectorAll(sel).length > n &&
      document.querySelector('[role="log"]')?.getAttribute("aria-busy") === "false",
    [finished, before],
    { timeout, polling: 100 },
  );
}
