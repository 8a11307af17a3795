// WebSocket protocol between the browser and the gateway (docs/PROTOCOL.md): frame types,
// a defensive parser for server frames and builders for client frames.

export type FinishReason = "stop" | "length" | "cancelled" | "error";

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export interface SessionFrame {
  type: "session";
  session_id: string;
  user_id: string;
  resumed: boolean;
  llm?: string;
}

export interface AckFrame {
  type: "ack";
  id?: string;
  turn_id?: string;
}

/** A resend (same id) of a message that is answered or being answered already: its answer is
 *  the original turn's; nothing more comes for this turn_id in reply to the resend. */
export interface DuplicateFrame {
  type: "duplicate";
  id?: string;
  turn_id?: string;
}

/** Fields every frame of a turn carries. Both are optional: "a client that reads only type and
 *  content of token frames still works", so the parser tolerates frames without them. */
interface TurnFields {
  turn_id?: string;
  seq?: number;
}

export interface TokenFrame extends TurnFields {
  type: "token";
  content: string;
}

export interface ToolCallFrame extends TurnFields {
  type: "tool_call";
  call_id: string;
  name: string;
  arguments: unknown;
}

export interface ToolResultFrame extends TurnFields {
  type: "tool_result";
  call_id: string;
  name: string;
  content: unknown;
}

export interface TurnResetFrame extends TurnFields {
  type: "turn_reset";
}

export interface DoneFrame extends TurnFields {
  type: "done";
  finish_reason: FinishReason | string;
  usage?: Usage;
}

export interface ErrorFrame extends TurnFields {
  type: "error";
  code: string;
  message: string;
}

export interface PongFrame {
  type: "pong";
  ts?: number;
}

export type ServerFrame =
  | SessionFrame
  | AckFrame
  | DuplicateFrame
  | TokenFrame
  | ToolCallFrame
  | ToolResultFrame
  | TurnResetFrame
  | DoneFrame
  | ErrorFrame
  | PongFrame;

/** Close codes with a meaning for the client (docs/PROTOCOL.md, "Close codes"). */
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_SESSION_NOT_FOUND = 4404;

/** The gateway rejects frames above GATEWAY_MAX_MESSAGE_BYTES (64 KiB by default, close 1009). */
export const MAX_FRAME_BYTES = 64 * 1024;

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function seqOf(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Parse one text frame from the server. Returns null for anything that is not a frame this
 *  client understands (unknown types are ignored, never fatal). */
export function parseServerFrame(text: string): ServerFrame | null {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return null;
  }
  if (!o || typeof o !== "object" || Array.isArray(o)) return null;
  const r = o as Record<string, unknown>;
  const turn = { turn_id: str(r.turn_id), seq: seqOf(r.seq) };
  switch (r.type) {
    case "session":
      if (!str(r.session_id)) return null;
      return {
        type: "session",
        session_id: r.session_id as string,
        user_id: str(r.user_id) ?? "",
        resumed: r.resumed === true,
        llm: str(r.llm),
      };
    case "ack":
    case "duplicate":
      return { type: r.type, id: str(r.id), turn_id: str(r.turn_id) };
    case "token":
      return { type: "token", content: str(r.content) ?? "", ...turn };
    case "tool_call":
      return {
        type: "tool_call",
        call_id: str(r.call_id) ?? "",
        name: str(r.name) ?? "tool",
        arguments: maybeJson(r.arguments),
        ...turn,
      };
    case "tool_result":
      return {
        type: "tool_result",
        call_id: str(r.call_id) ?? "",
        name: str(r.name) ?? "tool",
        content: maybeJson(r.content),
        ...turn,
      };
    case "turn_reset":
      return { type: "turn_reset", ...turn };
    case "done":
      return {
        type: "done",
        finish_reason: str(r.finish_reason) ?? "stop",
        usage: r.usage && typeof r.usage === "object" ? (r.usage as Usage) : undefined,
        ...turn,
      };
    case "error":
      return {
        type: "error",
        code: str(r.code) ?? "error",
        message: str(r.message) ?? "Something went wrong.",
        ...turn,
      };
    case "pong":
      return { type: "pong", ts: seqOf(r.ts) };
    default:
      return null;
  }
}

/** Tool arguments/results are JSON objects, but a string holding JSON is accepted too. */
export function maybeJson(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const t = v.trim();
  if (!(t.startsWith("{") || t.startsWith("["))) return v;
  try {
    return JSON.parse(t);
  } catch {
    return v;
  }
}

export function userMessageFrame(content: string, id: string): string {
  return JSON.stringify({ type: "user_message", content, id });
}

export const STOP_FRAME = JSON.stringify({ type: "stop" });
export const PING_FRAME = JSON.stringify({ type: "ping" });

/** UTF-8 size of a string, to keep frames under MAX_FRAME_BYTES. */
export function utf8Bytes(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Valid user ids: 1–128 characters of A-Z a-z 0-9 _ . @ - */
export const USER_ID_RE = /^[A-Za-z0-9_.@-]{1,128}$/;

export interface WsUrlInput {
  /** NEXT_PUBLIC_WEBSOCKET_URL, e.g. "wss://chat.example/ws/session"; empty for same origin. */
  override?: string;
  /** window.location (protocol and host are used). */
  location: { protocol: string; host: string };
  userId: string;
  sessionId?: string | null;
  lastSeq?: number | null;
  /** Sent as ?access_token= when the gateway requires a token. */
  accessToken?: string | null;
}

/** The WebSocket URL: ws(s)://<host>/ws/session/<user_id>[?session_id=…&last_seq=…]. */
export function buildWsUrl(input: WsUrlInput): string {
  let base = (input.override ?? "").trim();
  if (!base) {
    const scheme = input.location.protocol === "https:" ? "wss:" : "ws:";
    base = `${scheme}//${input.location.host}/ws/session`;
  } else if (base.startsWith("http:") || base.startsWith("https:")) {
    base = base.replace(/^http/, "ws");
  }
  base = base.replace(/\/+$/, "");
  const url = new URL(`${base}/${encodeURIComponent(input.userId)}`);
  if (input.sessionId) {
    url.searchParams.set("session_id", input.sessionId);
    if (typeof input.lastSeq === "number" && input.lastSeq >= 0) {
      url.searchParams.set("last_seq", String(input.lastSeq));
    }
  }
  if (input.accessToken) url.searchParams.set("access_token", input.accessToken);
  return url.toString();
}
