"use client";
// The message input: Enter sends, Shift+Enter adds a line, Escape stops a running answer.
// It grows with its text, and offers a stop button while an answer is being generated.

import { AnimatePresence, m } from "framer-motion";
import { forwardRef, useCallback, useImperativeHandle, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { SendIcon, StopIcon } from "./Icons";

/** Keeps user_message frames well under the gateway's 64 KiB limit. */
export const MAX_MESSAGE_CHARS = 16_000;

export interface ComposerHandle {
  focus: () => void;
}

interface Props {
  onSend: (text: string) => void;
  onStop: () => void;
  generating: boolean;
  /** Stop needs an open connection. */
  canStop?: boolean;
  disabled?: boolean;
  hint?: string;
}

export const Composer = forwardRef<ComposerHandle, Props>(function Composer({ onSend, onStop, generating, canStop = true, disabled, hint }, ref) {
  const [text, setText] = useState("");
  const ta = useRef<HTMLTextAreaElement>(null);
  useImperativeHandle(ref, () => ({ focus: () => ta.current?.focus() }), []);

  useLayoutEffect(() => {
    const el = ta.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 220)}px`;
  }, [text]);

  const canSend = !disabled && text.trim().length > 0 && text.length <= MAX_MESSAGE_CHARS;

  const submit = useCallback(() => {
    if (!canSend) return;
    onSend(text);
    setText("");
  }, [canSend, onSend, text]);

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === "Escape" && generating && canStop) {
      e.preventDefault();
      onStop();
    }
  };

  const over = text.length > MAX_MESSAGE_CHARS;
  return (
    <form
      className="mx-auto w-full max-w-3xl px-3 pb-[max(0.75rem,env(safe-area-inset-bottom))] sm:px-6 sm:pb-5"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <div className="group relative rounded-[1.35rem] bg-gradient-to-r from-violet-500/40 via-fuchsia-500/30 to-indigo-500/40 p-px shadow-2xl shadow-violet-950/40 transition focus-within:from-violet-400/80 focus-within:via-fuchsia-400/70 focus-within:to-indigo-400/80">
        <div className="flex items-end gap-2 rounded-[1.3rem] bg-ink-900/90 p-2 pl-4 backdrop-blur-xl">
          <label htmlFor="composer" className="sr-only">
            Message
          </label>
          <textarea
            id="composer"
            ref={ta}
            rows={1}
            value={text}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={onKeyDown}
            placeholder="Type your message…"
            aria-describedby="composer-hint"
            aria-keyshortcuts="Enter Shift+Enter Escape"
            aria-invalid={over || undefined}
            disabled={disabled}
            className="max-h-[220px] min-h-[2.75rem] flex-1 resize-none bg-transparent py-2.5 text-[0.95rem] leading-6 text-slate-100 placeholder:text-slate-500 focus:outline-none disabled:opacity-50"
            style={{ outline: "none" }}
          />
          <AnimatePresence initial={false}>
            {generating && (
              <m.button
                key="stop"
                type="button"
                onClick={onStop}
                disabled={!canStop}
                initial={{ opacity: 0, scale: 0.6 }}
                animate={{ opacity: 1, scale: 1 }}
                exit={{ opacity: 0, scale: 0.6 }}
                className="grid size-11 shrink-0 place-items-center rounded-xl bg-white/10 text-white ring-1 ring-white/15 transition enabled:hover:bg-rose-500/80 disabled:opacity-40"
                aria-label="Stop generating"
                title={canStop ? "Stop generating (Esc)" : "Stop needs a connection"}
              >
                <StopIcon className="size-4" />
              </m.button>
            )}
          </AnimatePresence>
          <button
            type="submit"
            disabled={!canSend}
            className="grid size-11 shrink-0 place-items-center rounded-xl bg-gradient-to-br from-violet-500 via-fuchsia-500 to-indigo-500 text-white shadow-lg shadow-fuchsia-900/40 transition enabled:hover:brightness-110 enabled:active:scale-95 disabled:cursor-not-allowed disabled:opacity-35 disabled:shadow-none"
            aria-label="Send message"
            title="Send (Enter)"
          >
            <SendIcon className="size-5" />
          </button>
        </div>
      </div>
      <p
        id="composer-hint"
        className={`mt-2 justify-between gap-2 px-2 text-[0.7rem] text-slate-500 ${over || hint ? "flex" : "hidden sm:flex"}`}
      >
        <span className={over ? "text-rose-300" : ""}>
          {over
            ? `Too long: ${text.length.toLocaleString()} / ${MAX_MESSAGE_CHARS.toLocaleString()} characters`
            : hint ?? "Enter to send · Shift + Enter for a new line"}
        </span>
        {generating && <span className="hidden sm:inline">Esc to stop</span>}

      </p>
    </form>
  );
});
