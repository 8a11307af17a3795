// The chat transcript as a pure reducer: server frames and local actions in, a new state out.
// No I/O here, so it is unit-tested directly (src/lib/chatState.test.ts) and persisted as JSON.
//
// Rules that keep replays exact:
//  * every turn frame carries `seq`; a frame with seq <= lastSeq was already applied and is
//    dropped, so a reconnect with ?last_seq= can replay freely without duplicates;
//  * `turn_reset` drops what was shown of that turn (another worker restarts it);
//  * once a turn is done, later frames for it (a replay of an already complete turn, e.g. one
//    loaded from the history API) are ignored apart from advancing lastSeq.

import type { FinishReason, ServerFrame, Usage } from "./protocol";

export interface ErrorInfo {
  code: string;
  message: string;
}

/** queued: not written to an open socket yet (or the socket closed before the ack);
 *  sent: written, waiting for `ack`; acked: durably accepted; failed: rejected by the gateway. */
export type UserStatus = "queued" | "sent" | "acked" | "failed";

export interface UserMessage {
  kind: "user";
  key: string;
  clientId: string;
  content: string;
  turnId: string | null;
  status: UserStatus;
  error?: ErrorInfo;
  /** Acknowledged by a `duplicate` frame: its answer may have been shown before this page
   *  existed, so a missing answer does not mean one is still coming. */
  duplicate?: boolean;
  ts: number;
}

export interface TextPart {
  type: "text";
  text: string;
}

export interface ToolPart {
  type: "tool";
  callId: string;
  name: string;
  args: unknown;
  hasResult: boolean;
  result?: unknown;
}

export type Part = TextPart | ToolPart;

export interface AssistantMessage {
  kind: "assistant";
  key: string;
  turnId: string;
  parts: Part[];
  status: "streaming" | "done";
  finishReason?: FinishReason | string;
  usage?: Usage;
  error?: ErrorInfo;
  /** How many times the turn was restarted (turn_reset). */
  resets: number;
  ts: number;
}

/** A problem that belongs to no turn (e.g. a frame the gateway could not parse). */
export interface NoticeMessage {
  kind: "notice";
  key: string;
  code: string;
  message: string;
  ts: number;
}

export type ChatMessage = UserMessage | AssistantMessage | NoticeMessage;

export interface ChatState {
  sessionId: string | null;
  userId: string | null;
  /** "mock" when the stack runs on mock-llm, "openai" otherwise, null before `session`. */
  llm: string | null;
  resumed: boolean;
  /** Highest seq applied; -1 before any. Sent back as ?last_seq= on reconnect. */
  lastSeq: number;
  messages: ChatMessage[];
  /** The session cannot be used any more (forbidden / session_not_found). */
  fatal: ErrorInfo | null;
  /** Counter for keys of notices, so the reducer stays deterministic. */
  nextKey: number;
}

export type ChatAction =
  | { type: "frame"; frame: ServerFrame; now?: number }
  | { type: "user_send"; clientId: string; content: string; now?: number }
  | { type: "user_sent"; clientIds: string[] }
  | { type: "user_failed"; clientId: string; error: ErrorInfo }
  | { type: "connection_lost" }
  | { type: "retry_message"; clientId: string }
  | { type: "dismiss"; key: string }
  | { type: "fatal"; error: ErrorInfo }
  | { type: "load"; sessionId: string | null; messages: ChatMessage[]; lastSeq: number; llm?: string | null }
  | { type: "new_chat" };

/** Codes of errors without a turn that reject the oldest unacknowledged user message. */
const REJECTS_MESSAGE = new Set([
  "empty_message",
  "busy",
  "unavailable",
  "invalid_message",
  "invalid_json",
  "unknown_type",
]);

const FATAL_CODES = new Set(["forbidden", "session_not_found"]);

export function initialChatState(userId: string | null = null): ChatState {
  return {
    sessionId: null,
    userId,
    llm: null,
    resumed: false,
    lastSeq: -1,
    messages: [],
    fatal: null,
    nextKey: 1,
  };
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "frame":
      return applyFrame(state, action.frame, action.now ?? Date.now());
    case "user_send": {
      const msg: UserMessage = {
        kind: "user",
        key: `u:${action.clientId}`,
        clientId: action.clientId,
        content: action.content,
        turnId: null,
        status: "queued",
        ts: action.now ?? Date.now(),
      };
      return { ...state, messages: [...state.messages, msg] };
    }
    case "user_sent": {
      const ids = new Set(action.clientIds);
      return mapUsers(state, (m) => (ids.has(m.clientId) && m.status === "queued" ? { ...m, status: "sent" } : m));
    }
    case "user_failed":
      return mapUsers(state, (m) => (m.clientId === action.clientId ? { ...m, status: "failed", error: action.error } : m));
    case "connection_lost":
      // Unacknowledged messages are sent again (same id, so idempotent) after reconnecting.
      return mapUsers(state, (m) => (m.status === "sent" ? { ...m, status: "queued" } : m));
    case "retry_message":
      return mapUsers(state, (m) =>
        m.clientId === action.clientId && m.status === "failed" ? { ...m, status: "queued", error: undefined } : m,
      );
    case "dismiss":
      return { ...state, messages: state.messages.filter((m) => m.key !== action.key) };
    case "fatal":
      return { ...state, fatal: action.error };
    case "load":
      return {
        ...initialChatState(state.userId),
        sessionId: action.sessionId,
        lastSeq: action.lastSeq,
        llm: action.llm ?? null,
        messages: action.messages,
        nextKey: state.nextKey,
      };
    case "new_chat":
      return { ...initialChatState(state.userId), llm: state.llm, nextKey: state.nextKey };
    default:
      return state;
  }
}

function mapUsers(state: ChatState, fn: (m: UserMessage) => UserMessage): ChatState {
  let changed = false;
  const messages = state.messages.map((m) => {
    if (m.kind !== "user") return m;
    const n = fn(m);
    if (n !== m) changed = true;
    return n;
  });
  return changed ? { ...state, messages } : state;
}

function applyFrame(state: ChatState, f: ServerFrame, now: number): ChatState {
  if ("seq" in f && typeof f.seq === "number") {
    if (f.seq <= state.lastSeq) return state; // already shown: a replay after reconnect
    state = { ...state, lastSeq: f.seq };
  }
  switch (f.type) {
    case "session": {
      const newSession = state.sessionId !== null && state.sessionId !== f.session_id;
      return {
        ...state,
        sessionId: f.session_id,
        userId: f.user_id || state.userId,
        llm: f.llm ?? state.llm,
        resumed: f.resumed,
        // seq numbers are per session: a different session starts from scratch.
        lastSeq: newSession ? -1 : state.lastSeq,
        fatal: null,
      };
    }
    case "ack":
      return applyAck(state, f.id, f.turn_id, false);
    case "duplicate":
      return applyAck(state, f.id, f.turn_id, true);
    case "token": {
      if (!f.content) return state;
      return updateTurn(state, f.turn_id, now, (a) => {
        const parts = a.parts.slice();
        const last = parts[parts.length - 1];
        if (last && last.type === "text") parts[parts.length - 1] = { type: "text", text: last.text + f.content };
        else parts.push({ type: "text", text: f.content });
        return { ...a, parts };
      });
    }
    case "tool_call":
      return updateTurn(state, f.turn_id, now, (a) => {
        if (f.call_id && a.parts.some((p) => p.type === "tool" && p.callId === f.call_id)) return a;
        const part: ToolPart = { type: "tool", callId: f.call_id, name: f.name, args: f.arguments, hasResult: false };
        return { ...a, parts: [...a.parts, part] };
      });
    case "tool_result":
      return updateTurn(state, f.turn_id, now, (a) => {
        const i = a.parts.findIndex((p) => p.type === "tool" && p.callId === f.call_id && !p.hasResult);
        const parts = a.parts.slice();
        if (i >= 0) {
          parts[i] = { ...(parts[i] as ToolPart), hasResult: true, result: f.content };
        } else if (!a.parts.some((p) => p.type === "tool" && p.callId === f.call_id)) {
          parts.push({ type: "tool", callId: f.call_id, name: f.name, args: undefined, hasResult: true, result: f.content });
        } else {
          return a;
        }
        return { ...a, parts };
      });
    case "turn_reset":
      return updateTurn(state, f.turn_id, now, (a) => ({
        ...a,
        parts: [],
        error: undefined,
        resets: a.resets + 1,
      }));
    case "done": {
      const next = updateTurn(
        state,
        f.turn_id,
        now,
        (a) => ({ ...a, status: "done", finishReason: f.finish_reason, usage: f.usage }),
      );
      // A done turn was certainly accepted, even if its ack was lost with a connection.
      return f.turn_id ? markTurnAcked(next, f.turn_id) : next;
    }
    case "error":
      return applyError(state, f.code, f.message, f.turn_id, now);
    case "pong":
    default:
      return state;
  }
}

function applyAck(state: ChatState, id: string | undefined, turnId: string | undefined, duplicate: boolean): ChatState {
  const msgs = state.messages;
  let idx = id ? msgs.findIndex((m) => m.kind === "user" && m.clientId === id) : -1;
  if (idx < 0) {
    // An ack without a known id answers the oldest message still waiting for one.
    idx = msgs.findIndex((m) => m.kind === "user" && (m.status === "sent" || m.status === "queued") && !m.turnId);
  }
  if (idx < 0) return state;
  const m = msgs[idx] as UserMessage;
  const messages = msgs.slice();
  messages[idx] = { ...m, status: "acked", turnId: turnId ?? m.turnId, error: undefined, ...(duplicate ? { duplicate: true } : {}) };
  return { ...state, messages };
}

function markTurnAcked(state: ChatState, turnId: string): ChatState {
  const idx = state.messages.findIndex((m) => m.kind === "user" && m.turnId === turnId);
  if (idx < 0) return state;
  const m = state.messages[idx] as UserMessage;
  if (m.status === "acked") return state;
  const messages = state.messages.slice();
  messages[idx] = { ...m, status: "acked" };
  return { ...state, messages };
}

/** The turn a frame without turn_id belongs to: the newest one still streaming. */
function currentTurnId(state: ChatState): string | null {
  for (let i = state.messages.length - 1; i >= 0; i--) {
    const m = state.messages[i];
    if (m.kind === "assistant" && m.status === "streaming") return m.turnId;
  }
  return null;
}

/** Apply `fn` to the assistant message of `turnId`, creating it when the turn is new. Frames for
 *  a finished turn are ignored: nothing follows `done` except in a replay of what was shown. */
function updateTurn(
  state: ChatState,
  turnId: string | undefined,
  now: number,
  fn: (a: AssistantMessage) => AssistantMessage,
): ChatState {
  let tid = turnId ?? currentTurnId(state);
  let key = state.nextKey;
  if (!tid) tid = `local-${key++}`;
  const idx = state.messages.findIndex((m) => m.kind === "assistant" && m.turnId === tid);
  if (idx >= 0) {
    const cur = state.messages[idx] as AssistantMessage;
    if (cur.status === "done") return state;
    const next = fn(cur);
    if (next === cur) return state;
    const messages = state.messages.slice();
    messages[idx] = next;
    return { ...state, messages, nextKey: key };
  }
  const fresh: AssistantMessage = {
    kind: "assistant",
    key: `a:${tid}`,
    turnId: tid,
    parts: [],
    status: "streaming",
    resets: 0,
    ts: now,
  };
  const created = fn(fresh);
  const messages = state.messages.slice();
  messages.splice(insertPosition(state.messages, tid), 0, created);
  return { ...state, messages, nextKey: key };
}

/** Right after the user message of the turn (turns of one session run in order); else the end. */
function insertPosition(messages: ChatMessage[], turnId: string): number {
  const u = messages.findIndex((m) => m.kind === "user" && m.turnId === turnId);
  if (u < 0) return messages.length;
  let i = u + 1;
  while (i < messages.length && messages[i].kind === "notice") i++;
  return i;
}

function applyError(state: ChatState, code: string, message: string, turnId: string | undefined, now: number): ChatState {
  const error = { code, message };
  if (FATAL_CODES.has(code)) return { ...state, fatal: error };
  if (turnId) {
    // A turn error: shown on the answer; `done` with finish_reason "error" follows.
    return updateTurn(state, turnId, now, (a) => ({ ...a, error }));
  }
  if (REJECTS_MESSAGE.has(code)) {
    // The gateway handles one connection's frames in order, so the rejected message is the
    // oldest one that was sent and not yet acknowledged.
    const idx = state.messages.findIndex((m) => m.kind === "user" && m.status === "sent");
    if (idx >= 0) {
      const messages = state.messages.slice();
      messages[idx] = { ...(messages[idx] as UserMessage), status: "failed", error };
      return { ...state, messages };
    }
  }
  const notice: NoticeMessage = { kind: "notice", key: `n:${state.nextKey}`, code, message, ts: now };
  return { ...state, messages: [...state.messages, notice], nextKey: state.nextKey + 1 };
}

// ---- selectors ----

/** User messages to write after (re)connecting: queued ones, in order. */
export function outbox(state: ChatState): UserMessage[] {
  return state.messages.filter((m): m is UserMessage => m.kind === "user" && m.status === "queued");
}

/** True while an answer is being generated or a message waits for its answer. */
export function isGenerating(state: ChatState): boolean {
  const answered = new Set<string>();
  for (const m of state.messages) {
    if (m.kind === "assistant") {
      if (m.status === "streaming") return true;
      answered.add(m.turnId);
    }
  }
  return state.messages.some(
    (m) => m.kind === "user" && m.status !== "failed" && !m.duplicate && (m.turnId === null || !answered.has(m.turnId)),
  );
}

/** True when the newest user message waits for the first frame of its answer. */
export function awaitingFirstFrame(state: ChatState): boolean {
  for (let i = state.messages.length - 1; i >= 0; i--) {
    const m = state.messages[i];
    if (m.kind === "notice") continue;
    if (m.kind === "assistant") return false;
    if (m.status === "failed" || m.duplicate) return false;
    if (m.turnId && state.messages.some((a) => a.kind === "assistant" && a.turnId === m.turnId)) return false;
    return true;
  }
  return false;
}

/** The user message that started a turn (for "retry"). */
export function userMessageForTurn(state: ChatState, turnId: string): UserMessage | undefined {
  return state.messages.find((m): m is UserMessage => m.kind === "user" && m.turnId === turnId);
}

export function lastUserMessage(state: ChatState): UserMessage | undefined {
  for (let i = state.messages.length - 1; i >= 0; i--) {
    const m = state.messages[i];
    if (m.kind === "user") return m;
  }
  return undefined;
}

/** Plain text of an answer (for copy). */
export function answerText(a: AssistantMessage): string {
  return a.parts
    .filter((p): p is TextPart => p.type === "text")
    .map((p) => p.text)
    .join("");
}
