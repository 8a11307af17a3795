// End-to-end tests of the web UI in Debian's Chromium (playwright-core), run with `node --test`.
// By default they start fake_gateway.py (static files + WebSocket protocol + history API on one
// port). With E2E_BASE_URL=http://host:port they run against a real gateway instead, and the
// tests that need the fake's canned answers or its /__drop hook are skipped.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ask, openBrowser, startFakeGateway } from "./browser.mjs";

const REAL = process.env.E2E_BASE_URL;
const FAKE_ONLY = REAL ? "needs the fake gateway" : false;
const DESKTOP = { width: 1280, height: 860 };
const ANSWER = 'article[aria-label="Assistant answered"]';

let gw; // with the history API
let gwNoApi; // without it (404)

before(async () => {
  if (REAL) {
    gw = gwNoApi = { url: REAL.replace(/\/+$/, ""), stop() {} };
    return;
  }
  gw = await startFakeGateway(["--api", "--token-ms", "15"]);
  gwNoApi = await startFakeGateway(["--token-ms", "15"]);
});

after(() => {
  gw?.stop();
  gwNoApi?.stop();
});

/** Open the app in a fresh profile and wait for the session; `fn(page, sockets)` runs the test. */
async function withPage(server, fn, size = DESKTOP) {
  const b = await openBrowser(size);
  const sockets = [];
  b.page.on("websocket", (ws) => sockets.push(ws.url()));
  try {
    await b.page.goto(server.url, { waitUntil: "domcontentloaded" });
    await connected(b.page);
    await fn(b.page, sockets);
    const unexpected = b.problems.filter((p) => !(server === gwNoApi && /404/.test(p)));
    assert.deepEqual(unexpected, [], "console errors or failed requests");
  } finally {
    await b.close();
  }
}

const connected = (page) => page.locator('[title="Connection: Connected"]').waitFor({ timeout: 20_000 });

async function lastAnswer(page) {
  return (await page.locator(ANSWER).last().innerText()).trim();
}

async function waitIdle(page, timeout = 30_000) {
  await page.waitForFunction(
    (sel) => document.querySelector('[role="log"]')?.getAttribute("aria-busy") === "false" && document.querySelector(sel),
    ANSWER,
    { timeout, polling: 100 },
  );
}

function countParts(text) {
  const counts = {};
  for (const m of text.matchAll(/Part (\d+) of this long answer/g)) counts[m[1]] = (counts[m[1]] ?? 0) + 1;
  return counts;
}

function assertWholeLongAnswer(text) {
  const counts = countParts(text);
  for (let i = 1; i <= 15; i++) assert.equal(counts[i], 1, `part ${i} shown ${counts[i] ?? 0} times in:\n${text}`);
}

describe("chat", () => {
  test("streams an answer with a weather card and the mock banner", async () => {
    await withPage(gw, async (page) => {
      await page.getByText("Running on mock-llm — a test double, not a language model").waitFor();
      await ask(page, "What's the weather in Paris?");
      const card = page.locator("figure", { hasText: "Paris" });
      await card.waitFor();
      const text = await card.innerText();
      assert.match(text, /-?\d+(\.\d+)?°[CF]/);
      assert.match(text, /HUMIDITY|Humidity/);
      assert.match(text, /WIND|Wind/);
      assert.match(await lastAnswer(page), /Paris/);
    });
  });

  test("renders Markdown: table, list and a highlighted code block with copy", { skip: FAKE_ONLY }, async () => {
    await withPage(gw, async (page) => {
      await ask(page, "Show me some markdown");
      const answer = page.locator(ANSWER).last();
      assert.equal(await answer.locator("table").count(), 1);
      assert.ok((await answer.locator("ol > li").count()) >= 3);
      assert.ok((await answer.locator(".hljs-keyword").count()) > 0, "code is highlighted");
      await answer.getByRole("button", { name: "Copy code" }).waitFor();
    });
  });

  test("a reload mid-answer shows the whole answer exactly once", { skip: FAKE_ONLY }, async () => {
    await withPage(gw, async (page, sockets) => {
      await page.locator("#composer").fill("Write a long answer please");
      await page.locator("#composer").press("Enter");
      await page.locator(ANSWER).getByText("Part 3 of").waitFor();
      await page.reload({ waitUntil: "domcontentloaded" });
      await connected(page);
      await waitIdle(page);
      assertWholeLongAnswer(await lastAnswer(page));
      assert.equal(await page.locator('article[aria-label="You said"]').count(), 1, "the question is not sent twice");
      const resumed = sockets[sockets.length - 1];
      assert.match(resumed, /session_id=[^&]+&last_seq=\d+/, resumed);
    });
  });

  test("a dropped connection reconnects, replays what was missed and duplicates nothing", { skip: FAKE_ONLY }, async () => {
    await withPage(gw, async (page, sockets) => {
      await page.locator("#composer").fill("Another long answer");
      await page.locator("#composer").press("Enter");
      await page.locator(ANSWER).getByText("Part 2 of").waitFor();
      const dropped = await page.evaluate(async (u) => (await fetch(`${u}/__drop`)).text(), gw.url);
      assert.equal(dropped, "1");
      await waitIdle(page);
      assertWholeLongAnswer(await lastAnswer(page));
      assert.ok(sockets.length >= 2, "reconnected");
      assert.match(sockets[sockets.length - 1], /session_id=[^&]+&last_seq=\d+/);
    });
  });

  test("turn_reset replaces the partial answer", { skip: FAKE_ONLY }, async () => {
    await withPage(gw, async (page) => {
      await ask(page, "reset me");
      const text = await lastAnswer(page);
      assert.equal(text.match(/You said/g)?.length, 1, text);
      assert.match(text, /You said: "reset me"\. This answer comes from a fake gateway used to develop the web UI\./);
    });
  });

  test("stop cancels the answer being generated", { skip: FAKE_ONLY }, async () => {
    await withPage(gw, async (page) => {
      await page.locator("#composer").fill("A long one to stop");
      await page.locator("#composer").press("Enter");
      await page.locator(ANSWER).getByText("Part 1 of").waitFor();
      await page.getByRole("button", { name: "Stop generating" }).click();
      await waitIdle(page);
      await page.locator(ANSWER).last().getByText("Stopped").waitFor();
      assert.ok(!(await lastAnswer(page)).includes("Part 15 of"));
    });
  });

  test("a failed turn shows the error and Retry sends the question again", { skip: FAKE_ONLY }, async () => {
    await withPage(gw, async (page) => {
      await ask(page, "please fail");
      await page.getByRole("alert").filter({ hasText: "The answer failed" }).waitFor();
      await page.getByRole("button", { name: "Retry" }).click();
      await page.locator('article[aria-label="You said"]').nth(1).waitFor();
      assert.equal(await page.locator('article[aria-label="You said"]', { hasText: "please fail" }).count(), 2);
    });
  });

  test("Shift+Enter adds a line, Enter sends", async () => {
    await withPage(gw, async (page) => {
      const box = page.locator("#composer");
      await box.click();
      await page.keyboard.type("first line");
      await page.keyboard.press("Shift+Enter");
      await page.keyboard.type("second line");
      assert.equal(await box.inputValue(), "first line\nsecond line");
      await page.keyboard.press("Enter");
      await waitIdle(page);
      assert.equal(await box.inputValue(), "");
      assert.match(await page.locator('article[aria-label="You said"]').first().innerText(), /first line\s+second line/);
    });
  });
});

describe("sessions sidebar", () => {
  test("opening a past session shows its transcript and continuing resumes it", { skip: FAKE_ONLY }, async () => {
    await withPage(gw, async (page, sockets) => {
      await ask(page, "Remember the word pineapple");
      await page.getByRole("button", { name: "New chat" }).first().click();
      await connected(page);
      assert.equal(await page.locator(ANSWER).count(), 0);
      const nav = page.getByRole("navigation", { name: "Conversations" }).first();
      await nav.getByRole("button", { name: /Remember the word pineapple/ }).click();
      await page.locator('article[aria-label="You said"]', { hasText: "pineapple" }).waitFor();
      await connected(page);
      assert.match(sockets[sockets.length - 1], /session_id=/);
      await ask(page, "And now?");
      assert.equal(await page.locator('article[aria-label="You said"]').count(), 2);
    });
  });

  test("without the history API the sidebar says history is unavailable", { skip: FAKE_ONLY }, async () => {
    await withPage(gwNoApi, async (page) => {
      await page.getByText("History unavailable").waitFor();
    });
  });

  test("on a phone the sidebar is a drawer that Escape closes", async () => {
    await withPage(
      gw,
      async (page) => {
        assert.equal(await page.getByRole("navigation", { name: "Conversations" }).isVisible(), false);
        await page.getByRole("button", { name: "Open conversations" }).click();
        const drawer = page.getByRole("dialog", { name: "Conversations" });
        await drawer.waitFor();
        await page.keyboard.press("Escape");
        await drawer.waitFor({ state: "detached" });
      },
      { width: 390, height: 844, mobile: true, scale: 2 },
    );
  });
});
