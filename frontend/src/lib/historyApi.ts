// Client for the gateway's read API (sessions list and a session's events), authenticated by
// the X-User-Id header for now, and the mapping of stored events to transcript messages.
//
//   GET /api/sessions?cursor=…&limit=…  → {"sessions":[…],"next_cursor":…|null}
//   GET /api/sessions/{id}/events       → {"session_id","events":[{event_type,content,timestamp,turn_id}]}

import type { AssistantMessage, ChatMessage, ToolPart, UserMessage } from "./chatState";
import { maybeJson } from "./protocol";

export interface SessionSummary {
  session_id: string;
  start_time: string | number | null;
  end_time: string | number | null;
  duration_seconds: number | null;
  summary: string | null;
  first_message: string | null;
}

export interface SessionPage {
  sessions: SessionSummary[];
  next_cursor: string | null;
}

export type HistoryEventType = "user_message" | "ai_response" | "tool_call" | "tool_result" | "error";

export interface HistoryEvent {
  event_type: HistoryEventType | string;
  content: string;
  timestamp: string | number;
  turn_id: string | null;
  /** The rest of the stored payload, e.g. {finish_reason, usage, interrupted} of ai_response. */
  meta?: Record<string, unknown> | null;
}

/** The API is not there (404) or not ready (503): the sidebar shows a quiet state. */
export class HistoryUnavailableError extends Error {
  constructor(public readonly status: number) {
    super(`history unavailable (${status})`);
    this.name = "HistoryUnavailableError";
  }
}

export class HistoryHttpError extends Error {
  constructor(public readonly status: number) {
    super(`history request failed (${status})`);
    this.name = "HistoryHttpError";
  }
}

export interface HistoryClientOptions {
  /** Origin of the API, "" for the page's own origin. */
  baseUrl?: string;
  userId: string;
  /** When set, sent as "Authorization: Bearer"; the gateway then ignores X-User-Id. */
  accessToken?: string | null;
  fetchImpl?: typeof fetch;
}

/** The API origin: NEXT_PUBLIC_API_URL, else the origin of NEXT_PUBLIC_WEBSOCKET_URL, else "". */
export function apiBaseUrl(apiOverride?: string, wsOverride?: string): string {
  if (apiOverride && apiOverride.trim()) return apiOverride.trim().replace(/\/+$/, "");
  if (wsOverride && wsOverride.trim()) {
    try {
      const u = new URL(wsOverride.trim());
      return `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}`;
    } catch {
      return "";
    }
  }
  return "";
}

export class HistoryClient {
  private readonly base: string;
  private readonly userId: string;
  private readonly accessToken: string | null;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: HistoryClientOptions) {
    this.base = (opts.baseUrl ?? "").replace(/\/+$/, "");
    this.userId = opts.userId;
    this.accessToken = opts.accessToken ?? null;
    this.fetchImpl = opts.fetchImpl ?? ((...a) => fetch(...a));
  }

  /** One page of the user's sessions, newest first. */
  async listSessions(cursor: string | null, limit = 20, signal?: AbortSignal): Promise<SessionPage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (cursor) q.set("cursor", cursor);
    const body = await this.get(`/api/sessions?${q.toString()}`, signal);
    const o = (body ?? {}) as Partial<SessionPage>;
    return {
      sessions: Array.isArray(o.sessions) ? o.sessions.filter((s) => s && typeof s.session_id === "string") : [],
      next_cursor: typeof o.next_cursor === "string" && o.next_cursor ? o.next_cursor : null,
    };
  }

  /** A session's stored events in order. */
  async sessionEvents(sessionId: string, signal?: AbortSignal): Promise<HistoryEvent[]> {
    const body = await this.get(`/api/sessions/${encodeURIComponent(sessionId)}/events`, signal);
    const events = (body as { events?: unknown })?.events;
    return Array.isArray(events) ? (events as HistoryEvent[]) : [];
  }

  private async get(path: string, signal?: AbortSignal): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.base}${path}`, {
        headers: this.accessToken
          ? { Authorization: `Bearer ${this.accessToken}`, Accept: "application/json" }
          : { "X-User-Id": this.userId, Accept: "application/json" },
        signal,
      });
    } catch (e) {
      if ((e as Error)?.name === "AbortError") throw e;
      throw new HistoryUnavailableError(0); // network error: treat like "not there"
    }
    if (res.status === 404 || res.status === 503 || res.status === 501) throw new HistoryUnavailableError(res.status);
    if (!res.ok) throw new HistoryHttpError(res.status);
    const type = res.headers.get("content-type") ?? "";
    // A static server answering an unknown path with index.html means: no API here.
    if (!type.includes("json")) throw new HistoryUnavailableError(res.status);
    try {
      return await res.json();
    } catch {
      throw new HistoryUnavailableError(res.status);
    }
  }
}

/** Milliseconds since the epoch from an ISO string, seconds or milliseconds. */
export function toMillis(t: string | number | null | undefined): number | null {
  if (t === null || t === undefined || t === "") return null;
  if (typeof t === "number") return t < 1e12 ? t * 1000 : t;
  const n = Number(t);
  if (Number.isFinite(n)) return n < 1e12 ? n * 1000 : n;
  const d = Date.parse(t);
  return Number.isNaN(d) ? null : d;
}

/** How recent a turn without ai_response must be to still count as being answered. */
const IN_PROGRESS_WINDOW_MS = 5 * 60 * 1000;

/** Turn stored events into transcript messages. Turns are kept in order of first appearance;
 *  a turn's tool calls come before its answer text (the model calls tools, then answers). The
 *  newest turn without an answer stays "streaming" when recent, so the live replay completes it. */
export function eventsToMessages(events: HistoryEvent[], now = Date.now()): ChatMessage[] {
  const out: ChatMessage[] = [];
  const answers = new Map<string, AssistantMessage>();
  let anon = 0;
  const assistantFor = (turnId: string, ts: number): AssistantMessage => {
    let a = answers.get(turnId);
    if (!a) {
      a = { kind: "assistant", key: `a:${turnId}`, turnId, parts: [], status: "streaming", resets: 0, ts };
      answers.set(turnId, a);
      out.push(a);
    }
    return a;
  };
  let lastTs = 0;
  for (const ev of events) {
    if (!ev || typeof ev.event_type !== "string") continue;
    const ts = toMillis(ev.timestamp) ?? lastTs;
    lastTs = Math.max(lastTs, ts);
    const turnId = ev.turn_id || `hist-${anon++}`;
    const content = typeof ev.content === "string" ? ev.content : JSON.stringify(ev.content ?? "");
    switch (ev.event_type) {
      case "user_message": {
        const u: UserMessage = {
          kind: "user",
          key: `u:hist-${turnId}`,
          clientId: `hist-${turnId}`,
          content,
          turnId,
          status: "acked",
          ts,
        };
        out.push(u);
        break;
      }
      case "tool_call": {
        const o = asObject(maybeJson(content));
        const a = assistantFor(turnId, ts);
        const callId = String(o.call_id ?? `call-${a.parts.length}`);
        if (!a.parts.some((p) => p.type === "tool" && p.callId === callId)) {
          a.parts.push({ type: "tool", callId, name: String(o.name ?? "tool"), args: maybeJson(o.arguments), hasResult: false });
        }
        break;
      }
      case "tool_result": {
        const o = asObject(maybeJson(content));
        const a = assistantFor(turnId, ts);
        const callId = String(o.call_id ?? "");
        const p = a.parts.find((x): x is ToolPart => x.type === "tool" && x.callId === callId);
        const result = maybeJson(o.content);
        if (p) {
          p.hasResult = true;
          p.result = result;
        } else {
          a.parts.push({ type: "tool", callId, name: String(o.name ?? "tool"), args: undefined, hasResult: true, result });
        }
        break;
      }
      case "ai_response": {
        const a = assistantFor(turnId, ts);
        const meta = asObject(ev.meta);
        if (content) a.parts.push({ type: "text", text: content });
        a.status = "done";
        a.finishReason = a.error
          ? "error"
          : meta.interrupted === true
            ? "interrupted"
            : typeof meta.finish_reason === "string"
              ? meta.finish_reason
              : "stop";
        if (meta.usage && typeof meta.usage === "object") a.usage = meta.usage as AssistantMessage["usage"];
        break;
      }
      case "error": {
        const o = asObject(maybeJson(content));
        const a = assistantFor(turnId, ts);
        a.error = {
          code: typeof o.code === "string" ? o.code : "error",
          message: typeof o.message === "string" ? o.message : content,
        };
        a.status = "done";
        a.finishReason = "error";
        break;
      }
      default:
        break;
    }
  }
  // Turns that never got an answer: only the newest, and only if recent, may still be running
  // (the live replay after connecting completes it); older ones were interrupted.
  const recent = now - lastTs < IN_PROGRESS_WINDOW_MS;
  const lastTurn = [...out].reverse().find((m) => m.kind !== "notice")?.turnId ?? null;
  const result: ChatMessage[] = [];
  for (const m of out) {
    result.push(m);
    const open = recent && m.kind !== "notice" && m.turnId === lastTurn;
    if (m.kind === "assistant" && m.status === "streaming" && !open) {
      m.status = "done";
      m.finishReason = "interrupted";
    }
    if (m.kind === "user" && m.turnId && !answers.has(m.turnId) && !open) {
      result.push({
        kind: "assistant",
        key: `a:${m.turnId}`,
        turnId: m.turnId,
        parts: [],
        status: "done",
        finishReason: "interrupted",
        resets: 0,
        ts: m.ts,
      });
    }
  }
  return result;
}

function asObject(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
