"use client";
// The scrolling transcript. It follows new content while the reader is at the bottom, stops
// following as soon as they scroll up, and offers a "jump to latest" button meanwhile.

import { AnimatePresence, m } from "framer-motion";
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from "react";
import { ArrowDownIcon } from "./Icons";

const NEAR_BOTTOM_PX = 72;

export function MessageList({
  children,
  followKey,
  busy,
}: {
  children: ReactNode;
  /** Changes when the user sends: scroll to the bottom and follow again. */
  followKey: number;
  busy: boolean;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  const [showJump, setShowJump] = useState(false);

  const toBottom = useCallback((smooth: boolean) => {
    const el = scroller.current;
    if (!el) return;
    el.scrollTo({ top: el.scrollHeight, behavior: smooth ? "smooth" : "auto" });
  }, []);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    const near = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
    follow.current = near;
    setShowJump(!near);
  }, []);

  // An upward wheel or touch drag stops following at once, before content growth wins the race.
  const stopFollowing = useCallback((e: WheelEvent | TouchEvent) => {
    if ("deltaY" in e && e.deltaY >= 0) return;
    const el = scroller.current;
    if (el && el.scrollHeight > el.clientHeight) follow.current = false;
  }, []);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    el.addEventListener("wheel", stopFollowing, { passive: true });
    el.addEventListener("touchmove", stopFollowing, { passive: true });
    return () => {
      el.removeEventListener("wheel", stopFollowing);
      el.removeEventListener("touchmove", stopFollowing);
    };
  }, [stopFollowing]);

  // Content grows (tokens, cards, images): keep the bottom in view while following.
  useEffect(() => {
    const el = content.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (follow.current) toBottom(false);
      else {
        const s = scroller.current;
        if (s) setShowJump(s.scrollHeight - s.scrollTop - s.clientHeight >= NEAR_BOTTOM_PX);
      }
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [toBottom]);

  useLayoutEffect(() => {
    follow.current = true;
    setShowJump(false);
    toBottom(false);
  }, [followKey, toBottom]);

  const jump = () => {
    follow.current = true;
    setShowJump(false);
    toBottom(true);
  };

  return (
    <div className="relative min-h-0 flex-1">
      <div ref={scroller} onScroll={onScroll} className="h-full overflow-y-auto overscroll-contain" tabIndex={-1}>
        <div
          ref={content}
          role="log"
          aria-live="polite"
          aria-relevant="additions text"
          aria-busy={busy}
          aria-label="Conversation"
          className="mx-auto flex w-full max-w-3xl flex-col gap-6 px-3 pt-6 pb-10 sm:px-6"
        >
          {children}
        </div>
      </div>
      <div className="pointer-events-none absolute inset-x-0 bottom-4 flex justify-center">
      <AnimatePresence>
        {showJump && (
          <m.button
            type="button"
            key="jump"
            onClick={jump}
            initial={{ opacity: 0, y: 12, scale: 0.9 }}
            animate={{ opacity: 1, y: 0, scale: 1 }}
            exit={{ opacity: 0, y: 12, scale: 0.9 }}
            className="glass pointer-events-auto inline-flex items-center gap-2 rounded-full bg-ink-900/80 px-4 py-2 text-sm text-white shadow-xl shadow-black/40 hover:bg-white/15"
          >
            <ArrowDownIcon /> {busy ? "Jump to latest" : "Back to bottom"}
          </m.button>
        )}
      </AnimatePresence>
      </div>
    </div>
  );
}
