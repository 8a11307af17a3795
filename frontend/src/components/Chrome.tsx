"use client";
// The frame around the chat: header with title and connection state, the mock-llm banner,
// the fatal-session banner and the empty state with suggestions.

import { AnimatePresence, m } from "framer-motion";
import { useEffect, useState } from "react";
import type { ConnInfo } from "@/lib/connection";
import {
  AlertIcon,
  ChatIcon,
  CloudSunIcon,
  FlaskIcon,
  MenuIcon,
  PlusIcon,
  RetryIcon,
  SparklesIcon,
  WifiOffIcon,
  WrenchIcon,
} from "./Icons";

export function Logo({ size = "md" }: { size?: "md" | "lg" }) {
  const box = size === "lg" ? "size-14 rounded-2xl sm:size-16" : "size-10 rounded-xl";
  return (
    <div className={`relative ${box} shrink-0`} aria-hidden>
      <div className={`absolute inset-0 ${box} bg-gradient-to-br from-violet-500 via-fuchsia-500 to-indigo-500 opacity-70 blur-md`} />
      <div
        className={`relative grid ${box} place-items-center bg-gradient-to-br from-violet-500/90 via-fuchsia-500/80 to-indigo-500/90 text-white ring-1 ring-white/25`}
      >
        <SparklesIcon className={size === "lg" ? "size-7 sm:size-8" : "size-5"} />
      </div>
    </div>
  );
}

function useCountdown(until: number | null): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!until) return;
    const t = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(t);
  }, [until]);
  return until ? Math.max(0, Math.ceil((until - now) / 1000)) : null;
}

const LOOK: Record<string, { dot: string; text: string; label: string }> = {
  idle: { dot: "bg-slate-400", text: "text-slate-300", label: "Starting" },
  connecting: { dot: "bg-amber-300", text: "text-amber-100", label: "Connecting" },
  connected: { dot: "bg-emerald-400", text: "text-emerald-100", label: "Connected" },
  reconnecting: { dot: "bg-amber-400", text: "text-amber-100", label: "Reconnecting" },
  offline: { dot: "bg-rose-400", text: "text-rose-100", label: "Offline" },
  closed: { dot: "bg-rose-400", text: "text-rose-100", label: "Disconnected" },
};

export function ConnectionPill({ info, onRetry }: { info: ConnInfo; onRetry: () => void }) {
  const look = LOOK[info.status] ?? LOOK.idle;
  const secs = useCountdown(info.status === "reconnecting" ? info.retryAt : null);
  const busy = info.status === "connecting" || info.status === "reconnecting";
  const detail = info.status === "reconnecting" && secs !== null && secs > 0 ? ` in ${secs}s` : busy ? "…" : "";
  return (
    <div className="flex items-center gap-1.5">
      <div
        role="status"
        aria-live="polite"
        className={`inline-flex items-center gap-2 rounded-full bg-white/[0.05] px-3 py-1.5 text-xs font-medium ring-1 ring-white/10 ${look.text}`}
        title={`Connection: ${look.label}${detail}`}
      >
        <span className="relative flex size-2">
          {(busy || info.status === "connected") && (
            <span className={`absolute inline-flex size-full rounded-full ${look.dot} opacity-60 ${busy ? "animate-ping" : "animate-pulse"}`} />
          )}
          <span className={`relative inline-flex size-2 rounded-full ${look.dot}`} />
        </span>
        {info.status === "offline" && <WifiOffIcon className="-ml-0.5" />}
        <span className="hidden min-[420px]:inline">
          {look.label}
          {detail}
        </span>
        <span className="sr-only min-[420px]:hidden">{look.label}</span>
      </div>
      {info.status === "reconnecting" && info.retryAt !== null && (
        <button
          type="button"
          onClick={onRetry}
          className="grid size-8 place-items-center rounded-full text-slate-300 ring-1 ring-white/10 transition hover:bg-white/10 hover:text-white"
          aria-label="Reconnect now"
          title="Reconnect now"
        >
          <RetryIcon />
        </button>
      )}
    </div>
  );
}

export function Header({
  conn,
  onReconnect,
  onMenu,
  onNewChat,
  menuOpen,
}: {
  conn: ConnInfo;
  onReconnect: () => void;
  onMenu: () => void;
  onNewChat: () => void;
  menuOpen: boolean;
}) {
  return (
    <header className="relative z-10 flex items-center gap-3 border-b border-white/[0.07] bg-ink-950/40 px-3 py-3 backdrop-blur-xl sm:px-5">
      <button
        type="button"
        onClick={onMenu}
        className="grid size-10 place-items-center rounded-xl text-slate-300 ring-1 ring-white/10 transition hover:bg-white/10 hover:text-white lg:hidden"
        aria-label="Open conversations"
        aria-expanded={menuOpen}
        aria-controls="sessions-drawer"
      >
        <MenuIcon className="size-5" />
      </button>
      <div className="flex min-w-0 items-center gap-3">
        <Logo />
        <div className="min-w-0">
          <h1 className="text-gradient truncate text-lg font-bold tracking-tight sm:text-xl">Realtime AI Nexus</h1>
          <p className="hidden text-xs text-slate-500 sm:block">Streaming answers, live over WebSocket</p>
        </div>
      </div>
      <div className="ml-auto flex items-center gap-2">
        <ConnectionPill info={conn} onRetry={onReconnect} />
        <button
          type="button"
          onClick={onNewChat}
          className="grid size-10 place-items-center rounded-xl text-slate-300 ring-1 ring-white/10 transition hover:bg-white/10 hover:text-white lg:hidden"
          aria-label="New chat"
          title="New chat"
        >
          <PlusIcon className="size-5" />
        </button>
      </div>
    </header>
  );
}

export const MOCK_BANNER_TEXT = "Running on mock-llm — a test double, not a language model";

export function MockBanner({ show }: { show: boolean }) {
  return (
    <AnimatePresence initial={false}>
      {show && (
        <m.div
          key="mock"
          initial={{ height: 0, opacity: 0 }}
          animate={{ height: "auto", opacity: 1 }}
          exit={{ height: 0, opacity: 0 }}
          className="overflow-hidden"
        >
          <div
            role="note"
            className="flex items-center justify-center gap-1.5 border-b border-amber-300/15 bg-gradient-to-r from-amber-500/10 via-amber-400/[0.14] to-amber-500/10 px-2 py-1.5 text-center text-[0.68rem] font-medium text-amber-100 sm:gap-2 sm:px-4 sm:text-xs"
          >
            <FlaskIcon className="shrink-0 text-amber-300" />
            <span>{MOCK_BANNER_TEXT}</span>
          </div>
        </m.div>
      )}
    </AnimatePresence>
  );
}

export function FatalBanner({ message, onNewChat }: { message: string; onNewChat: () => void }) {
  return (
    <div role="alert" className="mx-auto mt-4 flex w-full max-w-3xl px-3 sm:px-6">
      <div className="flex w-full flex-wrap items-center gap-3 rounded-2xl border border-rose-400/25 bg-rose-500/10 px-4 py-3 text-sm text-rose-100">
        <AlertIcon className="shrink-0 text-rose-300" />
        <span className="min-w-0 flex-1">
          <span className="font-medium">This conversation can’t be continued.</span> {message}
        </span>
        <button
          type="button"
          onClick={onNewChat}
          className="inline-flex items-center gap-1.5 rounded-lg bg-white/10 px-3 py-1.5 font-medium text-white ring-1 ring-white/15 hover:bg-white/20"
        >
          <PlusIcon /> New chat
        </button>
      </div>
    </div>
  );
}

const SUGGESTIONS = [
  { icon: CloudSunIcon, title: "What's the weather in Paris?", hint: "Calls the get_weather tool", color: "text-sky-300" },
  { icon: SparklesIcon, title: "Show me some markdown", hint: "Tables, lists and code", color: "text-fuchsia-300" },
  { icon: ChatIcon, title: "Write a long answer about streaming", hint: "Watch tokens arrive live", color: "text-violet-300" },
  { icon: WrenchIcon, title: "Compare the weather in Oslo and Rome", hint: "Two tool calls in one turn", color: "text-amber-300" },
];

export function EmptyState({ onPick }: { onPick: (text: string) => void }) {
  return (
    <m.section
      initial={{ opacity: 0, y: 14 }}
      animate={{ opacity: 1, y: 0 }}
      transition={{ duration: 0.5, ease: [0.2, 0.8, 0.2, 1] }}
      className="flex flex-col items-center pt-[2vh] text-center sm:pt-[10vh]"
      aria-label="Start a conversation"
    >
      <Logo size="lg" />
      <h2 className="mt-5 text-[1.7rem] font-bold tracking-tight text-white sm:mt-6 sm:text-4xl">
        How can I <span className="text-gradient">help</span> today?
      </h2>
      <p className="mt-2.5 max-w-md text-sm leading-relaxed text-slate-400 sm:mt-3 sm:text-base">
        Ask anything. Answers stream in token by token, tools show their work, and your conversation survives reloads and
        reconnects.
      </p>
      <div className="mt-6 grid w-full max-w-2xl grid-cols-1 gap-2.5 sm:mt-8 sm:grid-cols-2 sm:gap-3">
        {SUGGESTIONS.map((s, i) => (
          <m.button
            key={s.title}
            type="button"
            onClick={() => onPick(s.title)}
            initial={{ opacity: 0, y: 10 }}
            animate={{ opacity: 1, y: 0 }}
            transition={{ delay: 0.08 + i * 0.05 }}
            whileHover={{ y: -2 }}
            className="glass group flex items-center gap-3 rounded-2xl px-3.5 py-3 text-left transition hover:border-white/20 hover:bg-white/[0.08] sm:items-start sm:p-4"
          >
            <span className={`grid size-9 shrink-0 place-items-center rounded-xl bg-white/[0.06] ${s.color}`}>
              <s.icon className="size-[1.1rem]" />
            </span>
            <span className="min-w-0">
              <span className="block text-sm font-medium text-slate-100">{s.title}</span>
              <span className="mt-0.5 block text-xs text-slate-500">{s.hint}</span>
            </span>
          </m.button>
        ))}
      </div>
    </m.section>
  );
}
