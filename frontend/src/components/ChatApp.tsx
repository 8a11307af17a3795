"use client";
// The chat application: sidebar (drawer on small screens), header, transcript and composer,
// wired to the chat session (WebSocket) and the sessions list (history API).

import { AnimatePresence, LazyMotion, domAnimation, m } from "framer-motion";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { accessToken, tokenSubject } from "@/lib/auth";
import { awaitingFirstFrame, isGenerating, lastUserMessage, userMessageForTurn, type ChatMessage } from "@/lib/chatState";
import { eventsToMessages, HistoryUnavailableError } from "@/lib/historyApi";
import { getOrCreateUserId, loadLocalTranscript } from "@/lib/storage";
import { useChatSession } from "@/lib/useChatSession";
import { useSessions, type SessionItem } from "@/lib/useSessions";
import { EmptyState, FatalBanner, Header, MockBanner } from "./Chrome";
import { Composer, type ComposerHandle } from "./Composer";
import { preloadMarkdown } from "./Markdown";
import { MessageList } from "./MessageList";
import { AssistantBubble, NoticeRow, TypingRow, UserBubble } from "./Messages";
import { Sidebar } from "./Sidebar";

function Backdrop() {
  return (
    <div aria-hidden className="pointer-events-none fixed inset-0 -z-10 overflow-hidden bg-ink-950">
      <div className="absolute -top-[20%] -left-[10%] size-[60vmax] rounded-full bg-violet-700/25 blur-[120px] animate-float" />
      <div
        className="absolute -right-[15%] -bottom-[25%] size-[55vmax] rounded-full bg-indigo-600/20 blur-[120px] animate-float"
        style={{ animationDelay: "-7s" }}
      />
      <div className="absolute top-[30%] left-[45%] size-[30vmax] rounded-full bg-fuchsia-600/10 blur-[100px]" />
      <div className="absolute inset-0 bg-[radial-gradient(ellipse_at_top,rgba(255,255,255,0.04),transparent_60%)]" />
      <div
        className="absolute inset-0 opacity-[0.035]"
        style={{
          backgroundImage:
            "linear-gradient(rgba(255,255,255,.6) 1px, transparent 1px), linear-gradient(90deg, rgba(255,255,255,.6) 1px, transparent 1px)",
          backgroundSize: "56px 56px",
          maskImage: "radial-gradient(ellipse at center, black 30%, transparent 75%)",
          WebkitMaskImage: "radial-gradient(ellipse at center, black 30%, transparent 75%)",
        }}
      />
    </div>
  );
}

export default function ChatApp() {
  const [userId, setUserId] = useState<string | null>(null);
  // With an access token the gateway's user is the token's subject; else a browser-made id.
  useEffect(() => setUserId(tokenSubject(accessToken()) ?? getOrCreateUserId()), []);

  const chat = useChatSession(userId);
  const { state } = chat;
  const [listKey, setListKey] = useState(0);
  const sessions = useSessions(userId, chat.turnsDone + listKey);
  const [drawer, setDrawer] = useState(false);
  const [openingId, setOpeningId] = useState<string | null>(null);
  const [followKey, setFollowKey] = useState(0);
  const composer = useRef<ComposerHandle>(null);
  const menuButtonFocus = useRef<HTMLElement | null>(null);

  const generating = isGenerating(state);
  const awaiting = awaitingFirstFrame(state);

  useEffect(() => {
    if (userId && window.matchMedia?.("(pointer: fine)").matches) composer.current?.focus();
  }, [userId]);

  // Fetch the Markdown renderer while idle, before the first answer needs it.
  useEffect(() => {
    const w = window as Window & { requestIdleCallback?: (cb: () => void, o?: { timeout: number }) => number };
    if (w.requestIdleCallback) w.requestIdleCallback(preloadMarkdown, { timeout: 2500 });
    else setTimeout(preloadMarkdown, 1200);
  }, []);

  const { send: chatSend, newChat: chatNewChat, openSession: chatOpenSession } = chat;
  const send = useCallback(
    (text: string) => {
      chatSend(text);
      setFollowKey((k) => k + 1);
    },
    [chatSend],
  );

  const newChat = useCallback(() => {
    chatNewChat();
    setDrawer(false);
    setFollowKey((k) => k + 1);
    setListKey((k) => k + 1);
    composer.current?.focus();
  }, [chatNewChat]);

  const openSession = useCallback(
    async (sessionId: string) => {
      if (sessionId === state.sessionId) {
        setDrawer(false);
        return;
      }
      setOpeningId(sessionId);
      const local = loadLocalTranscript(sessionId);
      let messages: ChatMessage[] | null = null;
      try {
        if (sessions.client) messages = eventsToMessages(await sessions.client.sessionEvents(sessionId));
      } catch (e) {
        if (!(e instanceof HistoryUnavailableError)) console.warn("loading the transcript failed:", e);
      }
      if (!messages || (messages.length === 0 && local)) messages = local?.messages ?? [];
      chatOpenSession(sessionId, messages, local?.lastSeq ?? -1);
      setOpeningId(null);
      setDrawer(false);
      setFollowKey((k) => k + 1);
    },
    [chatOpenSession, sessions.client, state.sessionId],
  );

  const current: SessionItem | null = useMemo(() => {
    const first = state.messages.find((x) => x.kind === "user");
    if (!state.sessionId || !first || first.kind !== "user") return null;
    return { sessionId: state.sessionId, title: first.content, startMs: first.ts, durationSeconds: null, live: true };
  }, [state.sessionId, state.messages]);

  // The drawer: Escape closes it; focus moves in and back.
  useEffect(() => {
    if (!drawer) return;
    menuButtonFocus.current = document.activeElement as HTMLElement | null;
    const t = setTimeout(() => document.querySelector<HTMLElement>("#sessions-drawer button")?.focus(), 30);
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setDrawer(false);
    window.addEventListener("keydown", onKey);
    return () => {
      clearTimeout(t);
      window.removeEventListener("keydown", onKey);
      menuButtonFocus.current?.focus?.();
    };
  }, [drawer]);

  // Stable across renders (reads the latest state), so memoised bubbles do not re-render.
  const stateRef = useRef(state);
  stateRef.current = state;
  const resend = useCallback(
    (turnId: string) => {
      const q = userMessageForTurn(stateRef.current, turnId) ?? lastUserMessage(stateRef.current);
      if (q) send(q.content);
    },
    [send],
  );

  const sidebarProps = {
    view: sessions,
    currentSessionId: state.sessionId,
    current,
    openingId,
    userId,
    onOpen: openSession,
    onNewChat: newChat,
  };

  const hasMessages = state.messages.length > 0;
  const offline = chat.conn.status === "offline" || chat.conn.status === "reconnecting";

  return (
    <LazyMotion features={domAnimation} strict>
      <Backdrop />
      <a
        href="#composer"
        className="sr-only focus:not-sr-only focus:fixed focus:top-3 focus:left-3 focus:z-50 focus:rounded-lg focus:bg-ink-800 focus:px-3 focus:py-2 focus:text-sm"
      >
        Skip to message input
      </a>
      <div className="flex h-dvh w-full overflow-hidden">
        <aside className="glass hidden w-72 shrink-0 border-y-0 border-l-0 lg:block xl:w-80">
          <Sidebar {...sidebarProps} />
        </aside>

        <AnimatePresence>
          {drawer && (
            <>
              <m.div
                key="scrim"
                className="fixed inset-0 z-40 bg-black/60 backdrop-blur-sm lg:hidden"
                initial={{ opacity: 0 }}
                animate={{ opacity: 1 }}
                exit={{ opacity: 0 }}
                onClick={() => setDrawer(false)}
                aria-hidden
              />
              <m.aside
                key="drawer"
                id="sessions-drawer"
                role="dialog"
                aria-modal="true"
                aria-label="Conversations"
                className="fixed inset-y-0 left-0 z-50 w-[86vw] max-w-80 border-r border-white/10 bg-ink-900/95 shadow-2xl backdrop-blur-2xl lg:hidden"
                initial={{ x: "-100%" }}
                animate={{ x: 0 }}
                exit={{ x: "-100%" }}
                transition={{ type: "spring", stiffness: 380, damping: 38 }}
              >
                <Sidebar {...sidebarProps} onClose={() => setDrawer(false)} />
              </m.aside>
            </>
          )}
        </AnimatePresence>

        <main className="flex min-w-0 flex-1 flex-col">
          <Header conn={chat.conn} onReconnect={chat.reconnectNow} onMenu={() => setDrawer(true)} onNewChat={newChat} menuOpen={drawer} />
          <MockBanner show={state.llm === "mock"} />
          {state.fatal && <FatalBanner message={state.fatal.message} onNewChat={newChat} />}
          <MessageList followKey={followKey} busy={generating}>
            {!hasMessages && chat.ready && <EmptyState onPick={send} />}
            {state.messages.map((msg) => {
              if (msg.kind === "user") return <UserBubble key={msg.key} msg={msg} onRetry={chat.retryMessage} />;
              if (msg.kind === "notice") return <NoticeRow key={msg.key} msg={msg} onDismiss={chat.dismiss} />;
              return <AssistantBubble key={msg.key} msg={msg} onRetry={resend} />;
            })}
            <AnimatePresence>{awaiting && <TypingRow key="typing" />}</AnimatePresence>
          </MessageList>
          <Composer
            ref={composer}
            onSend={send}
            onStop={chat.stop}
            generating={generating}
            canStop={chat.conn.status === "connected"}
            disabled={!!state.fatal}
            hint={offline ? "Not connected — messages are sent as soon as the connection is back" : undefined}
          />
        </main>
      </div>
    </LazyMotion>
  );
}
