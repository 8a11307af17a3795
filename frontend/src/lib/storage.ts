// Browser persistence: the user id (localStorage, until auth exists), the tab's open session
// with its transcript and last seq (sessionStorage, so a reload resumes mid-answer), and a small
// local index of this browser's sessions (localStorage; the sidebar's fallback).

import type { ChatMessage, ChatState } from "./chatState";
import { USER_ID_RE } from "./protocol";

const USER_KEY = "nexus.user_id";
const ACTIVE_KEY = "nexus.active.v1";
const INDEX_KEY = "nexus.sessions.v1";
const TRANSCRIPT_PREFIX = "nexus.transcript.v1.";
const MAX_LOCAL_SESSIONS = 30;

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback; // storage disabled, quota exceeded, private mode...
  }
}

export function randomId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = new Uint8Array(16);
  if (typeof crypto !== "undefined" && crypto.getRandomValues) crypto.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The user id of this browser: `user-<random>`, made on the first visit. */
export function getOrCreateUserId(): string {
  return safe(() => {
    const existing = localStorage.getItem(USER_KEY);
    if (existing && USER_ID_RE.test(existing)) return existing;
    const id = `user-${randomId().replace(/-/g, "").slice(0, 12)}`;
    localStorage.setItem(USER_KEY, id);
    return id;
  }, `user-${randomId().replace(/-/g, "").slice(0, 12)}`);
}

export interface PersistedChat {
  userId: string;
  sessionId: string | null;
  lastSeq: number;
  llm: string | null;
  messages: ChatMessage[];
  savedAt: number;
}

/** Save the tab's chat: transcript and lastSeq go together in one value, so a reload always
 *  resumes from exactly what it shows (the replay then fills in the rest). */
export function saveActiveChat(state: ChatState): void {
  if (!state.userId) return;
  const data: PersistedChat = {
    userId: state.userId,
    sessionId: state.sessionId,
    lastSeq: state.lastSeq,
    llm: state.llm,
    messages: state.messages,
    savedAt: Date.now(),
  };
  safe(() => sessionStorage.setItem(ACTIVE_KEY, JSON.stringify(data)), undefined);
}

export function loadActiveChat(userId: string): PersistedChat | null {
  return safe(() => {
    const raw = sessionStorage.getItem(ACTIVE_KEY);
    if (!raw) return null;
    const data = JSON.parse(raw) as PersistedChat;
    if (data.userId !== userId || !Array.isArray(data.messages)) return null;
    return data;
  }, null);
}

export function clearActiveChat(): void {
  safe(() => sessionStorage.removeItem(ACTIVE_KEY), undefined);
}

/** One session this browser took part in. */
export interface LocalSession {
  session_id: string;
  start_time: number;
  last_time: number;
  first_message: string | null;
}

export function listLocalSessions(userId: string): LocalSession[] {
  return safe(() => {
    const raw = localStorage.getItem(`${INDEX_KEY}.${userId}`);
    const list = raw ? (JSON.parse(raw) as LocalSession[]) : [];
    return Array.isArray(list) ? list.sort((a, b) => b.start_time - a.start_time) : [];
  }, []);
}

/** Remember the session and its transcript locally (bounded; oldest dropped first). */
export function rememberSession(state: ChatState): void {
  const { userId, sessionId } = state;
  if (!userId || !sessionId) return;
  const firstUser = state.messages.find((m) => m.kind === "user");
  if (!firstUser) return; // an empty chat is not worth listing
  safe(() => {
    const list = listLocalSessions(userId);
    const now = Date.now();
    const i = list.findIndex((s) => s.session_id === sessionId);
    const entry: LocalSession = {
      session_id: sessionId,
      start_time: i >= 0 ? list[i].start_time : firstUser.ts || now,
      last_time: now,
      first_message: firstUser.kind === "user" ? firstUser.content.slice(0, 200) : null,
    };
    if (i >= 0) list[i] = entry;
    else list.unshift(entry);
    list.sort((a, b) => b.start_time - a.start_time);
    for (const old of list.splice(MAX_LOCAL_SESSIONS)) localStorage.removeItem(TRANSCRIPT_PREFIX + old.session_id);
    localStorage.setItem(`${INDEX_KEY}.${userId}`, JSON.stringify(list));
    const t = JSON.stringify({ lastSeq: state.lastSeq, messages: state.messages });
    try {
      localStorage.setItem(TRANSCRIPT_PREFIX + sessionId, t);
    } catch {
      // Quota: drop the oldest transcripts and try once more.
      for (const old of list.slice(Math.floor(list.length / 2))) localStorage.removeItem(TRANSCRIPT_PREFIX + old.session_id);
      localStorage.setItem(TRANSCRIPT_PREFIX + sessionId, t);
    }
  }, undefined);
}

export function loadLocalTranscript(sessionId: string): { lastSeq: number; messages: ChatMessage[] } | null {
  return safe(() => {
    const raw = localStorage.getItem(TRANSCRIPT_PREFIX + sessionId);
    if (!raw) return null;
    const t = JSON.parse(raw) as { lastSeq: number; messages: ChatMessage[] };
    return Array.isArray(t.messages) ? t : null;
  }, null);
}
