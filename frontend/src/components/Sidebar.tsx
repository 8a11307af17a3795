"use client";
// The sessions sidebar: new chat, the user's past sessions newest first (grouped by day,
// paginated), and a quiet fallback to this browser's sessions when history is unavailable.

import { dayGroup, formatDuration, formatStart, oneLine, type DayGroup } from "@/lib/format";
import type { SessionItem, SessionsView } from "@/lib/useSessions";
import { ChatIcon, CloseIcon, HistoryIcon, PlusIcon, RetryIcon, UserIcon } from "./Icons";

interface Props {
  view: SessionsView;
  currentSessionId: string | null;
  /** The open chat, listed first until the API knows it. */
  current: SessionItem | null;
  openingId: string | null;
  userId: string | null;
  onOpen: (sessionId: string) => void;
  onNewChat: () => void;
  /** In the phone drawer: a close button. */
  onClose?: () => void;
}

function Skeleton() {
  return (
    <ul className="space-y-2 px-1" aria-hidden>
      {[0, 1, 2, 3, 4].map((i) => (
        <li key={i} className="rounded-xl px-3 py-2.5">
          <div
            className="h-3 rounded-full bg-[linear-gradient(90deg,rgba(255,255,255,.05),rgba(255,255,255,.12),rgba(255,255,255,.05))] bg-[length:200%_100%] animate-shimmer"
            style={{ width: `${85 - i * 9}%` }}
          />
          <div className="mt-2 h-2 w-1/3 rounded-full bg-white/[0.05]" />
        </li>
      ))}
    </ul>
  );
}

function Row({ item, active, opening, onOpen }: { item: SessionItem; active: boolean; opening: boolean; onOpen: () => void }) {
  const start = formatStart(item.startMs);
  const dur = item.live ? "" : formatDuration(item.durationSeconds);
  return (
    <li>
      <button
        type="button"
        onClick={onOpen}
        aria-current={active ? "true" : undefined}
        className={`group relative w-full rounded-xl px-3 py-2.5 text-left transition ${
          active ? "bg-white/[0.09] ring-1 ring-white/15" : "hover:bg-white/[0.05]"
        }`}
      >
        {active && <span className="absolute top-2.5 bottom-2.5 left-0 w-0.5 rounded-full bg-gradient-to-b from-violet-400 to-fuchsia-400" aria-hidden />}
        <span className={`block truncate text-sm ${active ? "text-white" : "text-slate-300 group-hover:text-white"}`}>
          {oneLine(item.title, 90) || "New conversation"}
        </span>
        <span className="mt-0.5 flex items-center gap-1.5 text-[0.7rem] text-slate-500">
          {start && <time>{start}</time>}
          {dur && <span aria-label={`lasted ${dur}`}>· {dur}</span>}
          {item.live && active && <span className="text-emerald-300/80">· live</span>}
          {opening && <span className="ml-auto size-3 animate-spin rounded-full border-2 border-white/20 border-t-white/80" aria-label="Opening" />}
        </span>
      </button>
    </li>
  );
}

export function Sidebar({ view, currentSessionId, current, openingId, userId, onOpen, onNewChat, onClose }: Props) {
  // The open chat first when the list does not have it yet (a brand-new session).
  const items = [...view.items];
  if (current && current.title && !items.some((s) => s.sessionId === current.sessionId)) items.unshift(current);
  const visible = items.filter((s) => s.title || s.sessionId === currentSessionId);

  const groups: { name: DayGroup; items: SessionItem[] }[] = [];
  for (const s of visible) {
    const g = dayGroup(s.startMs);
    const last = groups[groups.length - 1];
    if (last && last.name === g) last.items.push(s);
    else groups.push({ name: g, items: [s] });
  }

  return (
    <nav className="flex h-full flex-col" aria-label="Conversations">
      <div className="flex items-center gap-2 p-3">
        <button
          type="button"
          onClick={onNewChat}
          className="group flex flex-1 items-center gap-2.5 rounded-xl bg-gradient-to-r from-violet-600/80 via-fuchsia-600/70 to-indigo-600/80 px-4 py-2.5 text-sm font-semibold text-white shadow-lg shadow-violet-950/40 ring-1 ring-white/15 transition hover:brightness-110 active:scale-[0.98]"
        >
          <PlusIcon className="size-4 transition group-hover:rotate-90" /> New chat
        </button>
        {onClose && (
          <button
            type="button"
            onClick={onClose}
            className="grid size-10 shrink-0 place-items-center rounded-xl text-slate-300 ring-1 ring-white/10 hover:bg-white/10 hover:text-white"
            aria-label="Close conversations"
          >
            <CloseIcon className="size-5" />
          </button>
        )}
      </div>
      <div className="flex items-center gap-2 px-5 pt-1 pb-2 text-[0.7rem] font-semibold tracking-wider text-slate-500 uppercase">
        <HistoryIcon /> History
      </div>
      <div className="min-h-0 flex-1 overflow-y-auto px-2 pb-3">
        {view.status === "loading" && visible.length === 0 && <Skeleton />}
        {(view.status === "unavailable" || view.status === "error") && (
          <div className="mx-1 mb-3 rounded-xl border border-white/[0.07] bg-white/[0.03] px-3 py-2.5 text-xs text-slate-400" role="status">
            <div className="flex items-center justify-between gap-2">
              <span className="font-medium text-slate-300">History unavailable</span>
              <button
                type="button"
                onClick={view.refresh}
                className="rounded-md p-1 text-slate-400 hover:bg-white/10 hover:text-white"
                aria-label="Try loading history again"
                title="Try again"
              >
                <RetryIcon />
              </button>
            </div>
            <p className="mt-0.5 text-slate-500">
              {visible.length ? "Showing conversations from this browser." : "Past conversations will appear here."}
            </p>
          </div>
        )}
        {view.status === "ready" && visible.length === 0 && (
          <div className="flex flex-col items-center gap-2 px-4 py-10 text-center text-xs text-slate-500">
            <ChatIcon className="size-6 text-slate-600" />
            No conversations yet
          </div>
        )}
        {groups.map((g) => (
          <section key={g.name} className="mb-2" aria-label={g.name}>
            <h3 className="px-3 pt-2 pb-1 text-[0.68rem] font-medium text-slate-500">{g.name}</h3>
            <ul className="space-y-0.5">
              {g.items.map((s) => (
                <Row
                  key={s.sessionId}
                  item={s}
                  active={s.sessionId === currentSessionId}
                  opening={s.sessionId === openingId}
                  onOpen={() => onOpen(s.sessionId)}
                />
              ))}
            </ul>
          </section>
        ))}
        {view.hasMore && (
          <button
            type="button"
            onClick={view.loadMore}
            disabled={view.loadingMore}
            className="mx-auto mt-1 block rounded-lg px-3 py-1.5 text-xs text-slate-400 ring-1 ring-white/10 hover:bg-white/[0.06] hover:text-white disabled:opacity-50"
          >
            {view.loadingMore ? "Loading…" : "Load more"}
          </button>
        )}
      </div>
      <div className="flex items-center gap-3 border-t border-white/[0.07] p-3">
        <div className="grid size-8 place-items-center rounded-full bg-white/[0.06] text-slate-300 ring-1 ring-white/10" aria-hidden>
          <UserIcon />
        </div>
        <div className="min-w-0">
          <div className="truncate text-xs font-medium text-slate-300" title={userId ?? ""}>
            {userId ?? "…"}
          </div>
          <div className="text-[0.68rem] text-slate-500">Guest · this browser</div>
        </div>
      </div>
    </nav>
  );
}
