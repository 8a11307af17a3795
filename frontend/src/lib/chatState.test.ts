// Unit tests of the stream state reducer: tokens, tool cards, done, errors, turn_reset, replay.
import { describe, expect, it } from "vitest";
import {
  answerText,
  awaitingFirstFrame,
  chatReducer,
  initialChatState,
  isGenerating,
  outbox,
  type AssistantMessage,
  type ChatAction,
  type ChatState,
  type UserMessage,
} from "./chatState";
import { parseServerFrame, type ServerFrame } from "./protocol";

const T1 = "turn-1";
const T2 = "turn-2";

function run(state: ChatState, ...actions: ChatAction[]): ChatState {
  return actions.reduce(chatReducer, state);
}

function frame(f: Record<string, unknown>): ChatAction {
  const parsed = parseServerFrame(JSON.stringify(f));
  if (!parsed) throw new Error(`bad frame ${JSON.stringify(f)}`);
  return { type: "frame", frame: parsed as ServerFrame, now: 1000 };
}

const session = (resumed = false) =>
  frame({ type: "session", session_id: "s-1", user_id: "user-a", resumed, llm: "mock" });
const tok = (content: string, seq: number, turn_id = T1) => frame({ type: "token", content, turn_id, seq });
const done = (seq: number, turn_id = T1, finish_reason = "stop") =>
  frame({ type: "done", turn_id, finish_reason, seq, usage: { total_tokens: 5 } });

function assistants(s: ChatState): AssistantMessage[] {
  return s.messages.filter((m): m is AssistantMessage => m.kind === "assistant");
}
function users(s: ChatState): UserMessage[] {
  return s.messages.filter((m): m is UserMessage => m.kind === "user");
}

/** A state with one user message sent and acknowledged as turn T1. */
function started(): ChatState {
  return run(
    initialChatState("user-a"),
    session(),
    { type: "user_send", clientId: "c1", content: "hello", now: 1 },
    { type: "user_sent", clientIds: ["c1"] },
    frame({ type: "ack", id: "c1", turn_id: T1 }),
  );
}

describe("session frame", () => {
  it("records session, user and llm", () => {
    const s = run(initialChatState("user-a"), session());
    expect(s.sessionId).toBe("s-1");
    expect(s.userId).toBe("user-a");
    expect(s.llm).toBe("mock");
    expect(s.lastSeq).toBe(-1);
  });

  it("resets lastSeq when a different session starts", () => {
    let s = run(started(), tok("a", 4));
    expect(s.lastSeq).toBe(4);
    s = run(s, frame({ type: "session", session_id: "s-2", user_id: "user-a", resumed: false, llm: "openai" }));
    expect(s.lastSeq).toBe(-1);
    expect(s.llm).toBe("openai");
  });

  it("keeps lastSeq when the same session resumes", () => {
    const s = run(started(), tok("a", 4), session(true));
    expect(s.lastSeq).toBe(4);
    expect(s.resumed).toBe(true);
  });
});

describe("user messages", () => {
  it("queues, sends and acks with the turn id", () => {
    let s = run(initialChatState("u"), { type: "user_send", clientId: "c1", content: "hi" });
    expect(outbox(s).map((m) => m.clientId)).toEqual(["c1"]);
    expect(isGenerating(s)).toBe(true);
    expect(awaitingFirstFrame(s)).toBe(true);
    s = run(s, { type: "user_sent", clientIds: ["c1"] });
    expect(users(s)[0].status).toBe("sent");
    expect(outbox(s)).toEqual([]);
    s = run(s, frame({ type: "ack", id: "c1", turn_id: T1 }));
    expect(users(s)[0]).toMatchObject({ status: "acked", turnId: T1 });
  });

  it("re-queues unacknowledged messages when the connection drops", () => {
    let s = run(
      initialChatState("u"),
      { type: "user_send", clientId: "c1", content: "one" },
      { type: "user_send", clientId: "c2", content: "two" },
      { type: "user_sent", clientIds: ["c1", "c2"] },
      frame({ type: "ack", id: "c1", turn_id: T1 }),
      { type: "connection_lost" },
    );
    expect(outbox(s).map((m) => m.clientId)).toEqual(["c2"]);
    expect(users(s)[0].status).toBe("acked");
    s = run(s, { type: "user_sent", clientIds: ["c2"] }, frame({ type: "ack", id: "c2", turn_id: T2 }));
    expect(users(s)[1]).toMatchObject({ status: "acked", turnId: T2 });
  });

  it("marks the oldest sent message failed on a rejection error, and retries it", () => {
    let s = run(
      initialChatState("u"),
      { type: "user_send", clientId: "c1", content: " " },
      { type: "user_sent", clientIds: ["c1"] },
      frame({ type: "error", code: "empty_message", message: "content is empty" }),
    );
    expect(users(s)[0]).toMatchObject({ status: "failed", error: { code: "empty_message" } });
    expect(isGenerating(s)).toBe(false);
    expect(awaitingFirstFrame(s)).toBe(false);
    s = run(s, { type: "retry_message", clientId: "c1" });
    expect(users(s)[0].status).toBe("queued");
    expect(users(s)[0].error).toBeUndefined();
  });
});

describe("streaming a turn", () => {
  it("appends tokens in order into one text part", () => {
    const s = run(started(), tok("Hel", 1), tok("lo", 2), tok(" world", 3));
    const [a] = assistants(s);
    expect(a.parts).toEqual([{ type: "text", text: "Hello world" }]);
    expect(a.status).toBe("streaming");
    expect(s.lastSeq).toBe(3);
    expect(isGenerating(s)).toBe(true);
    expect(awaitingFirstFrame(s)).toBe(false);
  });

  it("places the answer right after its user message", () => {
    const s = run(started(), tok("x", 1));
    expect(s.messages.map((m) => m.kind)).toEqual(["user", "assistant"]);
  });

  it("awaits the first frame after the ack", () => {
    const s = started();
    expect(awaitingFirstFrame(s)).toBe(true);
    expect(isGenerating(s)).toBe(true);
  });

  it("finishes on done with reason and usage", () => {
    const s = run(started(), tok("Hi", 1), done(2));
    const [a] = assistants(s);
    expect(a.status).toBe("done");
    expect(a.finishReason).toBe("stop");
    expect(a.usage?.total_tokens).toBe(5);
    expect(isGenerating(s)).toBe(false);
    expect(answerText(a)).toBe("Hi");
  });

  it("shows a cancelled turn even without tokens", () => {
    const s = run(started(), done(1, T1, "cancelled"));
    const [a] = assistants(s);
    expect(a).toMatchObject({ status: "done", finishReason: "cancelled", parts: [] });
    expect(isGenerating(s)).toBe(false);
  });

  it("accepts token frames without turn_id or seq (minimal servers)", () => {
    const s = run(started(), frame({ type: "token", content: "a" }), frame({ type: "token", content: "b" }));
    expect(assistants(s)).toHaveLength(1);
    expect(answerText(assistants(s)[0])).toBe("ab");
    expect(s.lastSeq).toBe(-1);
  });
});

describe("tool cards", () => {
  const call = (seq: number) =>
    frame({
      type: "tool_call",
      call_id: "call_1",
      name: "get_weather",
      arguments: { location: "Paris", unit: "celsius" },
      turn_id: T1,
      seq,
    });
  const result = (seq: number) =>
    frame({
      type: "tool_result",
      call_id: "call_1",
      name: "get_weather",
      content: { location: "Paris", temperature: 18, unit: "celsius", condition: "sunny", humidity: 60, wind_kph: 12 },
      turn_id: T1,
      seq,
    });

  it("adds a card on tool_call and fills it on tool_result, then text after it", () => {
    let s = run(started(), call(1));
    let [a] = assistants(s);
    expect(a.parts).toHaveLength(1);
    expect(a.parts[0]).toMatchObject({ type: "tool", callId: "call_1", name: "get_weather", hasResult: false });
    s = run(s, result(2), tok("It is sunny", 3), done(4));
    [a] = assistants(s);
    expect(a.parts[0]).toMatchObject({ hasResult: true, result: { temperature: 18 } });
    expect(a.parts[1]).toEqual({ type: "text", text: "It is sunny" });
  });

  it("keeps text before and after a tool call in separate parts", () => {
    const s = run(started(), tok("Let me check. ", 1), call(2), result(3), tok("Done.", 4));
    expect(assistants(s)[0].parts.map((p) => p.type)).toEqual(["text", "tool", "text"]);
  });

  it("parses tool arguments given as a JSON string", () => {
    const s = run(
      started(),
      frame({ type: "tool_call", call_id: "c", name: "get_weather", arguments: '{"location":"Oslo"}', turn_id: T1, seq: 1 }),
    );
    expect((assistants(s)[0].parts[0] as { args: unknown }).args).toEqual({ location: "Oslo" });
  });

  it("does not duplicate a tool call with the same call_id", () => {
    const s = run(started(), call(1), frame({ type: "tool_call", call_id: "call_1", name: "get_weather", arguments: {}, turn_id: T1, seq: 2 }));
    expect(assistants(s)[0].parts).toHaveLength(1);
  });
});

describe("errors", () => {
  it("attaches a turn error to the answer, then done ends it", () => {
    const s = run(
      started(),
      tok("partial", 1),
      frame({ type: "error", code: "llm_unavailable", message: "LLM down", turn_id: T1, seq: 2 }),
      done(3, T1, "error"),
    );
    const [a] = assistants(s);
    expect(a.error).toEqual({ code: "llm_unavailable", message: "LLM down" });
    expect(a.finishReason).toBe("error");
    expect(isGenerating(s)).toBe(false);
  });

  it("records forbidden / session_not_found as fatal", () => {
    const s = run(started(), frame({ type: "error", code: "session_not_found", message: "no such session" }));
    expect(s.fatal).toEqual({ code: "session_not_found", message: "no such session" });
  });

  it("shows other errors without a turn as notices that can be dismissed", () => {
    let s = run(started(), frame({ type: "error", code: "binary_not_supported", message: "binary" }));
    const n = s.messages.find((m) => m.kind === "notice");
    expect(n).toBeDefined();
    s = run(s, { type: "dismiss", key: n!.key });
    expect(s.messages.some((m) => m.kind === "notice")).toBe(false);
  });
});

describe("turn_reset", () => {
  it("drops the shown partial answer and streams the restarted one", () => {
    let s = run(started(), tok("Hello wor", 1), tok("ld and", 2));
    s = run(s, frame({ type: "turn_reset", turn_id: T1, seq: 3 }));
    let [a] = assistants(s);
    expect(a.parts).toEqual([]);
    expect(a.resets).toBe(1);
    expect(a.status).toBe("streaming");
    s = run(s, tok("Hello world", 4), done(5));
    [a] = assistants(s);
    expect(answerText(a)).toBe("Hello world");
    expect(assistants(s)).toHaveLength(1);
  });

  it("drops tool cards of the reset turn too", () => {
    const s = run(
      started(),
      frame({ type: "tool_call", call_id: "c1", name: "get_weather", arguments: {}, turn_id: T1, seq: 1 }),
      frame({ type: "turn_reset", turn_id: T1, seq: 2 }),
    );
    expect(assistants(s)[0].parts).toEqual([]);
  });
});

describe("replay and seq", () => {
  it("ignores frames with seq <= lastSeq (replay after reconnect)", () => {
    let s = run(started(), tok("A", 1), tok("B", 2), tok("C", 3));
    // Reconnected with last_seq=3; a gateway replays from an older point anyway.
    s = run(s, session(true), tok("B", 2), tok("C", 3), tok("D", 4), tok("D", 4), done(5));
    expect(answerText(assistants(s)[0])).toBe("ABCD");
    expect(s.lastSeq).toBe(5);
  });

  it("ignores a duplicated done and later frames of a finished turn", () => {
    const s = run(started(), tok("A", 1), done(2), done(2), tok("late", 3));
    expect(answerText(assistants(s)[0])).toBe("A");
    expect(s.lastSeq).toBe(3);
  });

  it("returns the same state object for a dropped frame", () => {
    const s = run(started(), tok("A", 5));
    expect(chatReducer(s, tok("A", 5))).toBe(s);
  });

  it("completes a persisted partial answer after reload + replay", () => {
    const before = run(started(), tok("The whole ", 1), tok("ans", 2));
    // Reload: the persisted transcript and lastSeq are loaded together.
    const json = JSON.parse(JSON.stringify(before)) as ChatState;
    let s = run(
      initialChatState("user-a"),
      { type: "load", sessionId: json.sessionId, messages: json.messages, lastSeq: json.lastSeq, llm: json.llm },
      { type: "connection_lost" },
      session(true),
    );
    // Server replays the current turn after last_seq=2 (plus an overlap that must be ignored).
    s = run(s, tok("ans", 2), tok("wer.", 3), done(4));
    expect(answerText(assistants(s)[0])).toBe("The whole answer.");
    expect(assistants(s)).toHaveLength(1);
    expect(isGenerating(s)).toBe(false);
  });

  it("ignores a replay of a turn that is already complete (loaded from history)", () => {
    const loaded = run(initialChatState("u"), {
      type: "load",
      sessionId: "s-1",
      lastSeq: -1,
      messages: [
        { kind: "user", key: "u:h", clientId: "h", content: "q", turnId: T1, status: "acked", ts: 1 },
        { kind: "assistant", key: `a:${T1}`, turnId: T1, parts: [{ type: "text", text: "full" }], status: "done", finishReason: "stop", resets: 0, ts: 2 },
      ],
    });
    const s = run(loaded, session(true), tok("fu", 10), tok("ll", 11), done(12));
    expect(answerText(assistants(s)[0])).toBe("full");
    expect(s.lastSeq).toBe(12);
  });

  it("starts a second turn as a new answer after the first", () => {
    let s = run(started(), tok("one", 1), done(2));
    s = run(
      s,
      { type: "user_send", clientId: "c2", content: "again" },
      { type: "user_sent", clientIds: ["c2"] },
      frame({ type: "ack", id: "c2", turn_id: T2 }),
      tok("two", 3, T2),
      done(4, T2),
    );
    expect(s.messages.map((m) => m.kind)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(assistants(s).map(answerText)).toEqual(["one", "two"]);
  });
});

describe("new chat", () => {
  it("keeps the user and clears the session", () => {
    const s = run(started(), tok("x", 1), { type: "new_chat" });
    expect(s.userId).toBe("user-a");
    expect(s.sessionId).toBeNull();
    expect(s.messages).toEqual([]);
    expect(s.lastSeq).toBe(-1);
  });
});

describe("duplicate", () => {
  it("acknowledges a resend with the original turn and does not wait for a second answer", () => {
    let s = run(
      initialChatState("u"),
      session(),
      { type: "user_send", clientId: "c1", content: "hi" },
      { type: "user_sent", clientIds: ["c1"] },
      frame({ type: "duplicate", id: "c1", turn_id: T1 }),
    );
    expect(users(s)[0]).toMatchObject({ status: "acked", turnId: T1, duplicate: true });
    expect(isGenerating(s)).toBe(false);
    expect(awaitingFirstFrame(s)).toBe(false);
    // The original turn may still be streaming on this session: its frames still show.
    s = run(s, tok("yes", 1), done(2));
    expect(answerText(assistants(s)[0])).toBe("yes");
  });
});
