"use client";
// One transcript entry each: the user's bubble, the assistant's answer (Markdown, tool cards,
// errors, status), a notice, and the typing indicator.

import { m } from "framer-motion";
import { memo } from "react";
import { answerText, type AssistantMessage, type NoticeMessage, type UserMessage } from "@/lib/chatState";
import { AlertIcon, ClockIcon, CloseIcon, RetryIcon, SparklesIcon, UserIcon } from "./Icons";
import { CopyButton } from "./Copy";
import { Markdown } from "./Markdown";
import { ToolCard } from "./ToolCard";

const enter = {
  initial: { opacity: 0, y: 10, scale: 0.985 },
  animate: { opacity: 1, y: 0, scale: 1 },
  transition: { type: "spring" as const, stiffness: 420, damping: 34, mass: 0.7 },
};

export function AssistantAvatar({ pulse = false }: { pulse?: boolean }) {
  return (
    <div className="relative mt-0.5 shrink-0" aria-hidden>
      {pulse && <span className="absolute inset-0 animate-ping rounded-xl bg-fuchsia-500/30" />}
      <div className="relative grid size-8 place-items-center rounded-xl sm:size-9 bg-gradient-to-br from-violet-500 via-fuchsia-500 to-indigo-500 text-white shadow-lg shadow-fuchsia-900/40 ring-1 ring-white/20">
        <SparklesIcon className="size-[1.15rem]" />
      </div>
    </div>
  );
}

function UserAvatar() {
  return (
    <div
      className="mt-0.5 grid size-8 shrink-0 place-items-center rounded-full bg-white/[0.06] sm:size-9 text-slate-200 ring-1 ring-white/15"
      aria-hidden
    >
      <UserIcon className="size-[1.1rem]" />
    </div>
  );
}

function timeOf(ts: number): string {
  return new Date(ts).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export const UserBubble = memo(function UserBubble({ msg, onRetry }: { msg: UserMessage; onRetry: (clientId: string) => void }) {
  const pending = msg.status === "queued" || msg.status === "sent";
  return (
    <m.article {...enter} className="flex justify-end gap-2.5 sm:gap-3" aria-label="You said">
      <div className="flex max-w-[85%] flex-col items-end sm:max-w-[75%]">
        <div
          className={`rounded-2xl rounded-tr-md bg-gradient-to-br from-violet-600 via-purple-600 to-indigo-600 px-4 py-2.5 text-[0.95rem] leading-relaxed whitespace-pre-wrap text-white shadow-lg shadow-violet-950/50 ring-1 ring-white/15 [overflow-wrap:anywhere] ${
            msg.status === "failed" ? "opacity-60" : ""
          }`}
        >
          {msg.content}
        </div>
        <div className="mt-1 flex items-center gap-2 px-1 text-[0.7rem] text-slate-500">
          {pending && (
            <span className="inline-flex items-center gap-1" role="status">
              <ClockIcon /> Sending…
            </span>
          )}
          {msg.status === "failed" && (
            <span className="inline-flex items-center gap-1.5 text-rose-300" role="alert">
              <AlertIcon /> Not delivered{msg.error ? `: ${msg.error.message}` : ""}
              <button
                type="button"
                onClick={() => onRetry(msg.clientId)}
                className="ml-1 inline-flex items-center gap-1 rounded-md bg-rose-500/15 px-2 py-0.5 font-medium text-rose-100 hover:bg-rose-500/25"
              >
                <RetryIcon /> Retry
              </button>
            </span>
          )}
          {!pending && msg.status !== "failed" && <time dateTime={new Date(msg.ts).toISOString()}>{timeOf(msg.ts)}</time>}
        </div>
      </div>
      <UserAvatar />
    </m.article>
  );
});

function finishLabel(a: AssistantMessage): string | null {
  switch (a.finishReason) {
    case "cancelled":
      return "Stopped";
    case "length":
      return "Cut off: length limit";
    case "interrupted":
      return "Interrupted";
    case "error":
      return a.error ? null : "Failed";
    default:
      return null;
  }
}

export const AssistantBubble = memo(function AssistantBubble({
  msg,
  onRetry,
}: {
  msg: AssistantMessage;
  /** Resend the question of a turn (as a new message). */
  onRetry?: (turnId: string) => void;
}) {
  const streaming = msg.status === "streaming";
  const text = answerText(msg);
  const empty = msg.parts.length === 0;
  const label = finishLabel(msg);
  const lastTextIdx = msg.parts.map((p) => p.type).lastIndexOf("text");
  return (
    <m.article {...enter} className="flex gap-2.5 sm:gap-3" aria-label="Assistant answered" aria-busy={streaming}>
      <AssistantAvatar pulse={streaming && empty} />
      <div className="min-w-0 flex-1">
        {msg.resets > 0 && streaming && (
          <div className="mb-2 inline-flex items-center gap-1.5 rounded-full bg-amber-400/10 px-2.5 py-1 text-xs text-amber-200 ring-1 ring-amber-300/20">
            <RetryIcon /> The answer restarted on another worker
          </div>
        )}
        <div className="flex flex-col gap-3">
          {msg.parts.map((p, i) =>
            p.type === "tool" ? (
              <ToolCard key={`t:${p.callId}:${i}`} part={p} />
            ) : (
              <div
                key={`x:${i}`}
                className="glass w-fit max-w-full rounded-2xl rounded-tl-md px-4 py-3 shadow-xl shadow-black/20 sm:px-5 sm:py-3.5"
              >
                <Markdown text={p.text} streaming={streaming && i === lastTextIdx && i === msg.parts.length - 1} />
              </div>
            ),
          )}
          {streaming && (empty || msg.parts[msg.parts.length - 1].type === "tool") && <TypingDots />}
        </div>
        {msg.error && (
          <div
            role="alert"
            className="mt-3 flex flex-wrap items-start gap-3 rounded-2xl border border-rose-400/25 bg-rose-500/10 px-4 py-3 text-sm text-rose-100"
          >
            <AlertIcon className="mt-0.5 shrink-0 text-rose-300" />
            <div className="min-w-0 flex-1">
              <div className="font-medium">The answer failed</div>
              <div className="text-rose-200/80">
                {msg.error.message} <span className="font-mono text-xs text-rose-300/70">({msg.error.code})</span>
              </div>
            </div>
            {onRetry && !streaming && (
              <button
                type="button"
                onClick={() => onRetry(msg.turnId)}
                className="inline-flex items-center gap-1.5 rounded-lg bg-rose-500/20 px-3 py-1.5 font-medium text-rose-50 ring-1 ring-rose-300/25 transition hover:bg-rose-500/30"
              >
                <RetryIcon /> Retry
              </button>
            )}
          </div>
        )}
        {!streaming && (
          <div className="mt-1.5 flex flex-wrap items-center gap-2 px-1 text-[0.7rem] text-slate-500">
            <time dateTime={new Date(msg.ts).toISOString()}>{timeOf(msg.ts)}</time>
            {label && <span className="rounded-full bg-white/[0.06] px-2 py-0.5 text-slate-300">{label}</span>}
            {msg.usage?.completion_tokens !== undefined && (
              <span title={`${msg.usage.prompt_tokens ?? 0} prompt + ${msg.usage.completion_tokens} completion tokens`}>
                {msg.usage.completion_tokens} tokens
              </span>
            )}
            {text && <CopyButton text={text} label="Copy" className="-my-1" />}
            {label && onRetry && !msg.error && (
              <button
                type="button"
                onClick={() => onRetry(msg.turnId)}
                className="-my-1 inline-flex items-center gap-1.5 rounded-md px-2 py-1 text-xs text-slate-400 transition hover:bg-white/10 hover:text-white"
              >
                <RetryIcon /> Regenerate
              </button>
            )}
          </div>
        )}
      </div>
    </m.article>
  );
});

export function TypingDots() {
  return (
    <div
      className="glass inline-flex w-fit items-center gap-1.5 rounded-2xl rounded-tl-md px-4 py-3.5"
      role="status"
      aria-label="Assistant is typing"
    >
      {[0, 1, 2].map((i) => (
        <span
          key={i}
          className="size-2 rounded-full bg-gradient-to-br from-violet-300 to-fuchsia-300 animate-dot"
          style={{ animationDelay: `${i * 0.16}s` }}
        />
      ))}
    </div>
  );
}

/** The indicator shown before the first frame of an answer arrives. */
export function TypingRow() {
  return (
    <m.div {...enter} className="flex gap-3">
      <AssistantAvatar pulse />
      <TypingDots />
    </m.div>
  );
}

export const NoticeRow = memo(function NoticeRow({ msg, onDismiss }: { msg: NoticeMessage; onDismiss: (key: string) => void }) {
  return (
    <m.div
      {...enter}
      role="alert"
      className="mx-auto flex w-full max-w-xl items-start gap-3 rounded-2xl border border-amber-300/20 bg-amber-400/[0.08] px-4 py-3 text-sm text-amber-100"
    >
      <AlertIcon className="mt-0.5 shrink-0 text-amber-300" />
      <div className="min-w-0 flex-1">
        {msg.message} <span className="font-mono text-xs text-amber-300/70">({msg.code})</span>
      </div>
      <button
        type="button"
        onClick={() => onDismiss(msg.key)}
        className="rounded-md p-1 text-amber-200/70 hover:bg-white/10 hover:text-white"
        aria-label="Dismiss"
      >
        <CloseIcon />
      </button>
    </m.div>
  );
});
