// Unit tests of the frame parser, the WebSocket URL builder and the backoff.
import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff";
import { buildWsUrl, parseServerFrame, userMessageFrame } from "./protocol";

describe("parseServerFrame", () => {
  it("parses the session frame", () => {
    expect(parseServerFrame('{"type":"session","session_id":"s","user_id":"u","resumed":true,"llm":"mock"}')).toEqual({
      type: "session",
      session_id: "s",
      user_id: "u",
      resumed: true,
      llm: "mock",
    });
  });
  it("rejects garbage and unknown types", () => {
    expect(parseServerFrame("not json")).toBeNull();
    expect(parseServerFrame("[1,2]")).toBeNull();
    expect(parseServerFrame('{"type":"wat"}')).toBeNull();
    expect(parseServerFrame('{"type":"session"}')).toBeNull();
  });
  it("keeps seq only when it is a number", () => {
    expect(parseServerFrame('{"type":"token","content":"a","turn_id":"t","seq":"3"}')).toMatchObject({ seq: undefined });
    expect(parseServerFrame('{"type":"token","content":"a","turn_id":"t","seq":3}')).toMatchObject({ seq: 3 });
  });
});

describe("buildWsUrl", () => {
  const loc = { protocol: "http:", host: "localhost:8000" };
  it("derives the URL from the page location", () => {
    expect(buildWsUrl({ location: loc, userId: "user-1" })).toBe("ws://localhost:8000/ws/session/user-1");
    expect(buildWsUrl({ location: { protocol: "https:", host: "chat.example" }, userId: "u" })).toBe(
      "wss://chat.example/ws/session/u",
    );
  });
  it("adds session_id and last_seq for a resume", () => {
    expect(buildWsUrl({ location: loc, userId: "u", sessionId: "abc", lastSeq: 7 })).toBe(
      "ws://localhost:8000/ws/session/u?session_id=abc&last_seq=7",
    );
    expect(buildWsUrl({ location: loc, userId: "u", sessionId: "abc", lastSeq: -1 })).toBe(
      "ws://localhost:8000/ws/session/u?session_id=abc",
    );
    expect(buildWsUrl({ location: loc, userId: "u", lastSeq: 7 })).toBe("ws://localhost:8000/ws/session/u");
  });
  it("honours NEXT_PUBLIC_WEBSOCKET_URL", () => {
    expect(buildWsUrl({ override: "wss://gw.example/ws/session/", location: loc, userId: "u" })).toBe(
      "wss://gw.example/ws/session/u",
    );
    expect(buildWsUrl({ override: "http://gw:9000/ws/session", location: loc, userId: "a.b@c" })).toBe(
      "ws://gw:9000/ws/session/a.b%40c",
    );
  });
  it("adds the access token when there is one", () => {
    expect(buildWsUrl({ location: loc, userId: "u", sessionId: "abc", lastSeq: 2, accessToken: "a.b.c" })).toBe(
      "ws://localhost:8000/ws/session/u?session_id=abc&last_seq=2&access_token=a.b.c",
    );
    expect(buildWsUrl({ location: loc, userId: "u", accessToken: null })).toBe("ws://localhost:8000/ws/session/u");
  });
});

describe("userMessageFrame", () => {
  it("encodes content and id", () => {
    expect(JSON.parse(userMessageFrame('say "hi"\n', "id-1"))).toEqual({ type: "user_message", content: 'say "hi"\n', id: "id-1" });
  });
});

describe("backoffDelay", () => {
  it("grows exponentially with jitter in [exp/2, exp]", () => {
    for (let a = 0; a < 8; a++) {
      const exp = Math.min(15_000, 500 * 2 ** a);
      expect(backoffDelay(a, { random: () => 0 })).toBe(exp / 2);
      expect(backoffDelay(a, { random: () => 0.999999 })).toBeLessThanOrEqual(exp);
      expect(backoffDelay(a, { random: () => 0.999999 })).toBeGreaterThan(exp * 0.99);
    }
  });
  it("is capped", () => {
    expect(backoffDelay(50, { random: () => 0.5 })).toBeLessThanOrEqual(15_000);
    expect(backoffDelay(50, { capMs: 1000, random: () => 1 })).toBe(1000);
  });
});
