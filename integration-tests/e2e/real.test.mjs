// The web UI against the REAL stack (gateway + llm-worker + mock-llm + persister + summarizer +
// PostgreSQL), started by ../test_ui_e2e.py, which sets E2E_BASE_URL (and E2E_GRACE_MS, the
// worker's SESSION_END_GRACE_MS). Weather card with the tool's data, Markdown, Stop, a reload
// mid-answer, and the sidebar listing a finished, summarized session that can be continued.
// Screenshots: screenshots/real-*.png (1440x900, one at 390x844).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { HERE, ask, openBrowser } from "./browser.mjs";

const BASE = process.env.E2E_BASE_URL?.replace(/\/+$/, "");
const GRACE_MS = Number(process.env.E2E_GRACE_MS || 1500);
const SKIP = BASE ? false : "needs E2E_BASE_URL (run through ../test_ui_e2e.py)";
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844, mobile: true, scale: 2 };
const ANSWER = 'article[aria-label="Assistant answered"]';
const YOU = 'article[aria-label="You said"]';
const SHOTS = join(HERE, "screenshots");
// Every full long answer of mock-llm ends with this sentence (compose.c, put_long).
const LONG_END = "and long outputs can be tested end to end.";

mkdirSync(SHOTS, { recursive: true });

/** Fresh profile, open the app, wait for the session; `fn(page, frames)` runs the test, then
 *  no console errors or failed requests are allowed. `frames` collects parsed server frames. */
async function withPage(fn, size = DESKTOP) {
  const b = await openBrowser(size);
  const frames = [];
  b.page.on("websocket", (ws) =>
    ws.on("framereceived", (f) => {
      try {
        frames.push(JSON.parse(f.payload));
      } catch {
        /* binary or not JSON: ignore */
      }
    }),
  );
  try {
    await b.page.goto(BASE, { waitUntil: "domcontentloaded" });
    await connected(b.page);
    await fn(b.page, frames);
    assert.deepEqual(b.problems, [], "console errors or failed requests");
  } finally {
    await b.close();
  }
}

const connected = (page) => page.locator('[title="Connection: Connected"]').waitFor({ timeout: 30_000 });
const shot = (page, name) => page.screenshot({ path: join(SHOTS, `real-${name}.png`) });
const lastAnswer = async (page) => (await page.locator(ANSWER).last().innerText()).trim();
/** The answer's text without its footer (time, Stopped, Copy, Regenerate). */
const body = (text) => text.split(/\n\s*\d{1,2}:\d{2}(\s?[AP]M)?\s*\n/)[0].trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitIdle(page, timeout = 60_000) {
  await page.waitForFunction(
    (sel) => document.querySelector('[role="log"]')?.getAttribute("aria-busy") === "false" && document.querySelector(sel),
    ANSWER,
    { timeout, polling: 100 },
  );
}

async function send(page, text) {
  await page.locator("#composer").fill(text);
  await page.locator("#composer").press("Enter");
}

/** How often each "Part N of this long answer" sentence occurs. */
function countParts(text) {
  const counts = {};
  for (const m of text.matchAll(/Part (\d+) of this long answer/g)) counts[m[1]] = (counts[m[1]] ?? 0) + 1;
  return counts;
}

function assertNoDuplicateParts(text) {
  const counts = countParts(text);
  const n = Object.keys(counts).length;
  assert.ok(n >= 5, `only ${n} parts in:\n${text}`);
  for (let i = 1; i <= n; i++) assert.equal(counts[i], 1, `part ${i} shown ${counts[i] ?? 0} times in:\n${text}`);
}

describe("web UI on the real stack", { skip: SKIP }, () => {
  test("weather: a card with the tool's data, the final text names Paris, mock banner", async () => {
    await withPage(async (page, frames) => {
      await page.getByText("Running on mock-llm — a test double, not a language model").waitFor();
      await ask(page, "What's the weather in Paris?", { timeout: 60_000 });
      const result = frames.find((f) => f.type === "tool_result");
      assert.ok(result, `no tool_result frame in ${JSON.stringify(frames.map((f) => f.type))}`);
      const data = typeof result.content === "string" ? JSON.parse(result.content) : result.content;
      assert.equal(typeof data.temperature, "number", JSON.stringify(data));
      assert.ok(data.condition, JSON.stringify(data));
      const card = page.locator("figure", { hasText: "Paris" });
      await card.waitFor();
      const label = await card.getAttribute("aria-label");
      const temp = `${Math.round(data.temperature * 10) / 10}°`;
      assert.ok(label.includes(temp), `card "${label}" lacks the tool's temperature ${temp}`);
      assert.ok(label.toLowerCase().includes(String(data.condition).toLowerCase()), `card "${label}" lacks ${data.condition}`);
      const text = await card.innerText();
      assert.ok(text.includes(temp), text);
      const final = await lastAnswer(page);
      assert.match(final, /Paris/);
      await shot(page, "1-weather");
    });
  });

  test("markdown: a rendered table, code block and bold text, no raw Markdown", async () => {
    await withPage(async (page) => {
      await ask(page, "show me markdown", { timeout: 60_000 });
      const answer = page.locator(ANSWER).last();
      assert.equal(await answer.locator("table").count(), 1);
      assert.ok((await answer.locator("table tr").count()) >= 3, "header + 2 rows");
      assert.equal(await answer.locator("pre code").count(), 1);
      assert.match(await answer.locator("pre code").innerText(), /printf\("hello from mock-llm\\n"\);/);
      assert.ok((await answer.locator("strong", { hasText: "Markdown" }).count()) >= 1);
      assert.ok((await answer.locator("ul > li").count()) >= 3);
      assert.ok((await answer.locator("h2").count()) >= 1);
      const text = await answer.innerText();
      assert.ok(!text.includes("**"), `raw ** in:\n${text}`);
      assert.ok(!text.includes("```"), `raw fence in:\n${text}`);
      assert.ok(!/\|\s*---/.test(text), `raw table in:\n${text}`);
      await answer.locator("table").scrollIntoViewIfNeeded();
      await shot(page, "2-markdown");
    });
  });

  test("stop: the turn ends, the partial answer stays", async () => {
    await withPage(async (page) => {
      await send(page, "write a long answer");
      await page.locator(ANSWER).last().getByText("Mock reply to").waitFor({ timeout: 60_000 });
      const stop = page.getByRole("button", { name: "Stop generating" });
      await stop.click();
      await waitIdle(page);
      await stop.waitFor({ state: "detached", timeout: 15_000 });
      await page.locator(ANSWER).last().getByText("Stopped").waitFor({ timeout: 15_000 });
      const partial = await lastAnswer(page);
      assert.match(partial, /Mock reply to: "write a long answer"/);
      const parts = Object.keys(countParts(partial)).length;
      assert.ok(parts < 8, `${parts} parts: the answer went on despite Stop:\n${partial}`);
      // It stays: nothing more arrives and it is still there a moment later.
      await sleep(2000);
      assert.equal(await lastAnswer(page), partial);
      await shot(page, "3-stopped");
    });
  });

  test("reload mid-answer: the answer completes once, equal to an uninterrupted one", async () => {
    await withPage(async (page) => {
      await send(page, "write a long answer");
      await page.locator(ANSWER).last().getByText("Mock reply to").waitFor({ timeout: 60_000 });
      await sleep(1000);
      await page.reload({ waitUntil: "domcontentloaded" });
      await connected(page);
      await shot(page, "4a-reloaded-mid-answer");
      await page.waitForFunction(
        ([sel, end]) =>
          document.querySelector('[role="log"]')?.getAttribute("aria-busy") === "false" &&
          [...document.querySelectorAll(sel)].pop()?.getAttribute("aria-busy") === "false" &&
          [...document.querySelectorAll(sel)].pop()?.innerText.includes(end),
        [ANSWER, LONG_END],
        { timeout: 90_000, polling: 200 },
      );
      const resumed = body(await lastAnswer(page));
      assert.ok(resumed.endsWith(LONG_END), resumed);
      assertNoDuplicateParts(resumed);
      assert.equal(await page.locator(YOU).count(), 1, "the question is not sent twice");
      await shot(page, "4b-reload-complete");

      // The same question in a new session, uninterrupted, gets the very same answer.
      await page.getByRole("button", { name: "New chat" }).first().click();
      await connected(page);
      await page.locator(ANSWER).first().waitFor({ state: "detached" });
      await ask(page, "write a long answer", { timeout: 90_000 });
      const straight = body(await lastAnswer(page));
      assert.equal(resumed, straight);
    });
  });

  test("sidebar: a left session is listed with its summary, reopens and continues with context", async () => {
    await withPage(async (page) => {
      await ask(page, "Remember the word pineapple", { timeout: 60_000 });
      // Leave it: a new chat closes its socket; after the grace period the worker ends the
      // session and the summarizer writes the summary.
      await page.getByRole("button", { name: "New chat" }).first().click();
      await connected(page);
      const nav = page.getByRole("navigation", { name: "Conversations" }).first();
      const row = nav.getByRole("button", { name: /Mock summary/ });
      const deadline = Date.now() + GRACE_MS + 60_000;
      await sleep(GRACE_MS);
      for (;;) {
        await page.reload({ waitUntil: "domcontentloaded" });
        await connected(page);
        try {
          await row.first().waitFor({ timeout: 3000 });
          break;
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`no summarized session in the sidebar: ${await nav.innerText()}`);
        }
      }
      assert.equal(await row.count(), 1);
      assert.match(await row.innerText(), /Mock summary: the user sent 1 messages? about .*Remember the word pineapple/);
      await shot(page, "5a-sidebar-summary");

      await row.click();
      await page.locator(YOU, { hasText: "Remember the word pineapple" }).waitFor({ timeout: 20_000 });
      await page.locator(ANSWER, { hasText: 'Mock reply to: "Remember the word pineapple"' }).waitFor();
      await connected(page);
      await shot(page, "5b-reopened");
      await ask(page, "What did I ask you to remember?", { timeout: 60_000 });
      const answer = await lastAnswer(page);
      assert.match(answer, /Earlier you said: "Remember the word pineapple"/);
      assert.equal(await page.locator(YOU).count(), 2);
      await shot(page, "5c-continued");
    });
  });

  test("phone: the conversation at 390x844", async () => {
    await withPage(async (page) => {
      await ask(page, "What's the weather in Paris?", { timeout: 60_000 });
      await page.locator("figure", { hasText: "Paris" }).waitFor();
      assert.match(await lastAnswer(page), /Paris/);
      await shot(page, "6-phone");
    }, PHONE);
  });
});
