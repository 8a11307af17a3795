"use client";
// React glue: the chat reducer as a small synchronous store, wired to one ChatConnection, with
// the tab's state persisted so that a reload resumes the session where it was.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { accessToken } from "./auth";
import { chatReducer, initialChatState, outbox, type ChatAction, type ChatMessage, type ChatState } from "./chatState";
import { ChatConnection, type ConnInfo } from "./connection";
import { buildWsUrl, MAX_FRAME_BYTES, STOP_FRAME, userMessageFrame, utf8Bytes } from "./protocol";
import { clearActiveChat, loadActiveChat, randomId, rememberSession, saveActiveChat } from "./storage";

const WS_OVERRIDE = process.env.NEXT_PUBLIC_WEBSOCKET_URL ?? "";
const SAVE_EVERY_MS = 300;

export interface ChatSession {
  state: ChatState;
  conn: ConnInfo;
  send: (content: string) => void;
  stop: () => void;
  retryMessage: (clientId: string) => void;
  dismiss: (key: string) => void;
  newChat: () => void;
  openSession: (sessionId: string, messages: ChatMessage[], lastSeq: number) => void;
  reconnectNow: () => void;
  /** Increases when a turn of this session finishes (the sidebar refreshes on it). */
  turnsDone: number;
  /** The saved chat (if any) has been restored: the empty state may show now. */
  ready: boolean;
}

export function useChatSession(userId: string | null): ChatSession {
  const storeRef = useRef<ChatState>(initialChatState(userId));
  const [state, setState] = useState<ChatState>(storeRef.current);
  const [conn, setConn] = useState<ConnInfo>({ status: "idle", attempt: 0, retryAt: null });
  const [turnsDone, setTurnsDone] = useState(0);
  const [ready, setReady] = useState(false);
  const renderPending = useRef(false);
  const connRef = useRef<ChatConnection | null>(null);
  const saveTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const persistNow = useCallback(() => {
    if (saveTimer.current) clearTimeout(saveTimer.current);
    saveTimer.current = null;
    saveActiveChat(storeRef.current);
  }, []);

  const dispatch = useCallback(
    (action: ChatAction) => {
      const next = chatReducer(storeRef.current, action);
      if (next === storeRef.current) return;
      storeRef.current = next;
      // Tokens can arrive faster than the screen refreshes: render at most once per frame.
      if (!renderPending.current) {
        renderPending.current = true;
        const flush = () => {
          renderPending.current = false;
          setState(storeRef.current);
        };
        if (typeof document !== "undefined" && !document.hidden && typeof requestAnimationFrame === "function") {
          requestAnimationFrame(flush);
        } else {
          setTimeout(flush, 50);
        }
      }
      // Transcript and lastSeq are saved together (one snapshot), throttled while streaming.
      if (!saveTimer.current) saveTimer.current = setTimeout(persistNow, SAVE_EVERY_MS);
    },
    [persistNow],
  );

  /** Write every queued user message (after connecting, or right after sending). */
  const flushOutbox = useCallback(() => {
    const c = connRef.current;
    if (!c || c.status !== "connected") return;
    const sent: string[] = [];
    for (const m of outbox(storeRef.current)) {
      const frame = userMessageFrame(m.content, m.clientId);
      if (utf8Bytes(frame) > MAX_FRAME_BYTES - 64) {
        dispatch({ type: "user_failed", clientId: m.clientId, error: { code: "too_large", message: "This message is too long to send." } });
        continue;
      }
      if (!c.send(frame)) break;
      sent.push(m.clientId);
    }
    if (sent.length) dispatch({ type: "user_sent", clientIds: sent });
  }, [dispatch]);

  // One connection per user; (re)created when the user id is known.
  useEffect(() => {
    if (!userId) return;
    storeRef.current = initialChatState(userId);
    const saved = loadActiveChat(userId);
    if (saved) {
      dispatch({ type: "load", sessionId: saved.sessionId, messages: saved.messages, lastSeq: saved.lastSeq, llm: saved.llm });
      dispatch({ type: "connection_lost" }); // unacknowledged messages go out again after connecting
    }
    setState(storeRef.current); // now, not on the next frame: no flash of the empty state
    setReady(true);
    const c = new ChatConnection({
      url: () =>
        buildWsUrl({
          override: WS_OVERRIDE,
          location: window.location,
          userId,
          sessionId: storeRef.current.sessionId,
          lastSeq: storeRef.current.lastSeq,
          accessToken: accessToken(),
        }),
      onFrame: (frame) => {
        dispatch({ type: "frame", frame });
        if (frame.type === "session") flushOutbox();
        if (frame.type === "done") {
          persistNow();
          rememberSession(storeRef.current);
          setTurnsDone((n) => n + 1);
        }
      },
      onStatus: setConn,
      onDrop: () => dispatch({ type: "connection_lost" }),
      onFatal: (code) => {
        if (!storeRef.current.fatal) {
          dispatch({
            type: "fatal",
            error:
              code === 4403
                ? { code: "forbidden", message: "This conversation belongs to another user." }
                : { code: "session_not_found", message: "This conversation no longer exists on the server." },
          });
        }
      },
    });
    connRef.current = c;
    c.start();
    const onHide = () => persistNow();
    window.addEventListener("pagehide", onHide);
    window.addEventListener("beforeunload", onHide);
    return () => {
      window.removeEventListener("pagehide", onHide);
      window.removeEventListener("beforeunload", onHide);
      persistNow();
      c.stop();
      connRef.current = null;
    };
  }, [userId, dispatch, flushOutbox, persistNow]);

  const send = useCallback(
    (content: string) => {
      const text = content.trim();
      if (!text) return;
      dispatch({ type: "user_send", clientId: randomId(), content: text });
      flushOutbox();
      rememberSession(storeRef.current);
    },
    [dispatch, flushOutbox],
  );

  const stop = useCallback(() => {
    connRef.current?.send(STOP_FRAME);
  }, []);

  const retryMessage = useCallback(
    (clientId: string) => {
      dispatch({ type: "retry_message", clientId });
      flushOutbox();
    },
    [dispatch, flushOutbox],
  );

  const dismiss = useCallback((key: string) => dispatch({ type: "dismiss", key }), [dispatch]);

  /** Close the current session's socket and connect fresh with `prepare` applied. */
  const restart = useCallback(
    (prepare: ChatAction) => {
      const c = connRef.current;
      c?.stop();
      rememberSession(storeRef.current);
      dispatch(prepare);
      clearActiveChat();
      persistNow();
      c?.start();
    },
    [dispatch, persistNow],
  );

  const newChat = useCallback(() => restart({ type: "new_chat" }), [restart]);

  const openSession = useCallback(
    (sessionId: string, messages: ChatMessage[], lastSeq: number) =>
      restart({ type: "load", sessionId, messages, lastSeq, llm: storeRef.current.llm }),
    [restart],
  );

  const reconnectNow = useCallback(() => connRef.current?.reconnectNow(), []);

  return useMemo(
    () => ({ state, conn, send, stop, retryMessage, dismiss, newChat, openSession, reconnectNow, turnsDone, ready }),
    [state, conn, send, stop, retryMessage, dismiss, newChat, openSession, reconnectNow, turnsDone, ready],
  );
}
