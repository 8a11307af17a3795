// Unit tests of the history API client (against a fake fetch) and the event → message mapping.
import { describe, expect, it } from "vitest";
import {
  HistoryClient,
  HistoryHttpError,
  HistoryUnavailableError,
  apiBaseUrl,
  eventsToMessages,
  type HistoryEvent,
} from "./historyApi";

function fakeFetch(status: number, body: unknown, contentType = "application/json") {
  const calls: { url: string; init?: RequestInit }[] = [];
  const impl = (async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    return new Response(typeof body === "string" ? body : JSON.stringify(body), {
      status,
      headers: { "content-type": contentType },
    });
  }) as unknown as typeof fetch;
  return { impl, calls };
}

describe("HistoryClient", () => {
  it("lists sessions with cursor, limit and the X-User-Id header", async () => {
    const f = fakeFetch(200, {
      sessions: [{ session_id: "s1", start_time: "2025-01-01T10:00:00Z", end_time: null, duration_seconds: null, summary: null, first_message: "hi" }],
      next_cursor: "c2",
    });
    const c = new HistoryClient({ userId: "user-1", fetchImpl: f.impl });
    const page = await c.listSessions("c1", 10);
    expect(page.next_cursor).toBe("c2");
    expect(page.sessions[0].session_id).toBe("s1");
    expect(f.calls[0].url).toBe("/api/sessions?limit=10&cursor=c1");
    expect((f.calls[0].init?.headers as Record<string, string>)["X-User-Id"]).toBe("user-1");
  });

  it("sends the access token instead of X-User-Id when it has one", async () => {
    const f = fakeFetch(200, { sessions: [], next_cursor: null });
    await new HistoryClient({ userId: "u", accessToken: "t.o.k", fetchImpl: f.impl }).listSessions(null);
    const h = f.calls[0].init?.headers as Record<string, string>;
    expect(h.Authorization).toBe("Bearer t.o.k");
    expect(h["X-User-Id"]).toBeUndefined();
  });

  it("reports 404 and 503 as unavailable, other failures as HTTP errors", async () => {
    await expect(new HistoryClient({ userId: "u", fetchImpl: fakeFetch(404, {}).impl }).listSessions(null)).rejects.toBeInstanceOf(
      HistoryUnavailableError,
    );
    await expect(new HistoryClient({ userId: "u", fetchImpl: fakeFetch(503, "x", "text/plain").impl }).listSessions(null)).rejects.toBeInstanceOf(
      HistoryUnavailableError,
    );
    await expect(new HistoryClient({ userId: "u", fetchImpl: fakeFetch(500, {}).impl }).listSessions(null)).rejects.toBeInstanceOf(
      HistoryHttpError,
    );
  });

  it("treats an HTML answer (a static server's fallback page) as unavailable", async () => {
    const f = fakeFetch(200, "<!doctype html>", "text/html");
    await expect(new HistoryClient({ userId: "u", fetchImpl: f.impl }).listSessions(null)).rejects.toBeInstanceOf(HistoryUnavailableError);
  });

  it("fetches a session's events with the id escaped", async () => {
    const f = fakeFetch(200, { session_id: "a/b", events: [{ event_type: "user_message", content: "x", timestamp: 1, turn_id: "t" }] });
    const ev = await new HistoryClient({ userId: "u", baseUrl: "http://h:1/", fetchImpl: f.impl }).sessionEvents("a/b");
    expect(ev).toHaveLength(1);
    expect(f.calls[0].url).toBe("http://h:1/api/sessions/a%2Fb/events");
  });
});

describe("apiBaseUrl", () => {
  it("prefers the API override, then the WebSocket override's origin", () => {
    expect(apiBaseUrl("https://api.example/", "wss://x")).toBe("https://api.example");
    expect(apiBaseUrl("", "wss://gw.example:8443/ws/session")).toBe("https://gw.example:8443");
    expect(apiBaseUrl(undefined, undefined)).toBe("");
  });
});

describe("eventsToMessages", () => {
  const NOW = Date.parse("2025-01-01T12:00:00Z");
  const ev = (event_type: string, content: unknown, turn_id: string, minute: number): HistoryEvent => ({
    event_type,
    content: typeof content === "string" ? content : JSON.stringify(content),
    timestamp: `2025-01-01T10:${String(minute).padStart(2, "0")}:00Z`,
    turn_id,
  });

  it("builds user and assistant messages with tool cards", () => {
    const msgs = eventsToMessages(
      [
        ev("user_message", "weather in Paris?", "t1", 0),
        ev("tool_call", { call_id: "c1", name: "get_weather", arguments: { location: "Paris" } }, "t1", 1),
        ev("tool_result", { call_id: "c1", name: "get_weather", content: { temperature: 18, condition: "sunny" } }, "t1", 1),
        ev("ai_response", "It is 18°C and sunny.", "t1", 2),
        ev("user_message", "thanks", "t2", 3),
        ev("ai_response", "You're welcome", "t2", 4),
      ],
      NOW,
    );
    expect(msgs.map((m) => m.kind)).toEqual(["user", "assistant", "user", "assistant"]);
    const a = msgs[1];
    if (a.kind !== "assistant") throw new Error("expected assistant");
    expect(a.status).toBe("done");
    expect(a.parts[0]).toMatchObject({ type: "tool", callId: "c1", hasResult: true, result: { temperature: 18 } });
    expect(a.parts[1]).toEqual({ type: "text", text: "It is 18°C and sunny." });
  });

  it("marks errors and old unanswered turns as finished", () => {
    const msgs = eventsToMessages(
      [
        ev("user_message", "q1", "t1", 0),
        ev("error", { code: "llm_unavailable", message: "down" }, "t1", 1),
        ev("user_message", "q2", "t2", 2),
      ],
      NOW,
    );
    expect(msgs).toHaveLength(4);
    expect(msgs[1]).toMatchObject({ kind: "assistant", status: "done", error: { code: "llm_unavailable" } });
    expect(msgs[3]).toMatchObject({ kind: "assistant", status: "done", finishReason: "interrupted" });
  });

  it("leaves a recent unanswered last turn open for the live replay", () => {
    const msgs = eventsToMessages([ev("user_message", "q", "t1", 0)], Date.parse("2025-01-01T10:01:00Z"));
    expect(msgs).toHaveLength(1);
  });
});

describe("eventsToMessages meta", () => {
  it("takes finish_reason, usage and interrupted from ai_response meta", () => {
    const base = { timestamp: "2025-01-01T10:00:00.123456Z" };
    const msgs = eventsToMessages([
      { ...base, event_type: "user_message", content: "q", turn_id: "t1" },
      { ...base, event_type: "ai_response", content: "partial", turn_id: "t1", meta: { finish_reason: "cancelled", usage: { total_tokens: 7 } } },
      { ...base, event_type: "user_message", content: "q2", turn_id: "t2" },
      { ...base, event_type: "ai_response", content: "cut", turn_id: "t2", meta: { finish_reason: "stop", interrupted: true } },
    ]);
    expect(msgs[1]).toMatchObject({ kind: "assistant", finishReason: "cancelled", usage: { total_tokens: 7 } });
    expect(msgs[3]).toMatchObject({ kind: "assistant", finishReason: "interrupted" });
    expect(msgs[0].ts).toBe(Date.parse("2025-01-01T10:00:00.123Z"));
  });
});
