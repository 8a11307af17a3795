// Screenshots of the UI against the fake gateway, at desktop (1440×900) and phone (390×844)
// widths, saved under screenshots/. Usage: npm run screenshots (after `npm run build` in
// frontend/). Prints any console errors the page logged and exits non-zero if there were any.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { HERE, ask, openBrowser, startFakeGateway } from "./browser.mjs";

const OUT = join(HERE, "screenshots");
mkdirSync(OUT, { recursive: true });
const only = process.argv[2];
const problems = [];

async function shot(page, name) {
  if (only && !name.includes(only)) return;
  await page.waitForTimeout(700); // let entrance animations settle
  const file = join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  // Keep the committed pictures small: 256-colour palette when pngquant is installed.
  if (existsSync("/usr/bin/pngquant")) {
    try {
      execFileSync("/usr/bin/pngquant", ["--force", "--skip-if-larger", "--nofs", "--quality", "75-95", "--output", file, file]);
    } catch {
      /* keep the full-colour file */
    }
  }
  console.log(`saved ${name}.png (${Math.round(statSync(file).size / 1024)} KiB)`);
}

async function scene(gw, size, fn, allow = null) {
  const b = await openBrowser(size);
  try {
    await b.page.goto(gw.url, { waitUntil: "networkidle" });
    await b.page.locator('[title="Connection: Connected"]').waitFor({ timeout: 15_000 });
    await fn(b.page);
  } finally {
    // Without --api the history API answers 404 on purpose (the "history unavailable" state);
    // Chromium logs that failed request itself. Exactly one such request per page load is fine.
    let expected = gw.api ? 0 : 2;
    for (const p of b.problems) {
      const known = p === "HTTP 404 /api/sessions" || /Failed to load resource: .* 404/.test(p);
      if (known && expected > 0) expected--;
      else if (!(allow && allow.test(p))) problems.push(p);
    }
    await b.close();
  }
}

const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844, mobile: true, scale: 1 };

const api = { ...(await startFakeGateway(["--api", "--token-ms", "12"])), api: true };
const noApi = await startFakeGateway(["--token-ms", "12"]);
try {
  await scene(noApi, DESKTOP, async (page) => {
    await shot(page, "desktop-empty");
  });

  await scene(api, DESKTOP, async (page) => {
    await ask(page, "What's the weather in Paris?");
    await ask(page, "Show me some markdown");
    await page.locator("[role=log]").evaluate((el) => el.parentElement.scrollTo(0, 0));
    await shot(page, "desktop-chat-top");
    await page.locator("[role=log]").evaluate((el) => el.parentElement.scrollTo(0, el.parentElement.scrollHeight));
    await shot(page, "desktop-chat");
  });

  await scene(api, DESKTOP, async (page) => {
    await ask(page, "Please fail this time");
    await page.locator("#composer").fill("Write a long answer about streaming");
    await page.locator("#composer").press("Enter");
    await page.waitForTimeout(1400);
    await shot(page, "desktop-error-streaming");
  });

  await scene(api, PHONE, async (page) => {
    await ask(page, "Compare the weather in Oslo and Rome");
    await shot(page, "phone-chat");
    await page.getByRole("button", { name: "Open conversations" }).click();
    await shot(page, "phone-drawer");
  });

  await scene(noApi, PHONE, async (page) => {
    await shot(page, "phone-empty");
  });

  // The gateway goes away mid-answer: the header shows the reconnect countdown.
  const doomed = await startFakeGateway(["--token-ms", "40"]);
  await scene({ ...doomed, api: true }, DESKTOP, async (page) => {
    await ask(page, "What's the weather in Rome?");
    await page.locator("#composer").fill("Write a long answer about streaming");
    await page.locator("#composer").press("Enter");
    await page.getByText("Part 2 of").waitFor();
    doomed.stop();
    await page.locator('[title^="Connection: Reconnecting in"]').waitFor();
    await page.waitForTimeout(300);
    await shot(page, "desktop-reconnecting");
  }, /ERR_CONNECTION_REFUSED|404/); // the gateway is down on purpose
} finally {
  api.stop();
  noApi.stop();
}

if (problems.length) {
  console.error(`page problems:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("no console errors");
