"use client";
// Markdown for answers, with the renderer (react-markdown, GFM, highlight.js) in a lazily loaded
// chunk. Until it arrives the text shows as plain pre-wrapped text; it is also preloaded when
// the browser is idle, so normally the first answer is already formatted.

import { lazy, memo, Suspense } from "react";

const load = () => import("./MarkdownRenderer");
const Renderer = lazy(load);

/** Start loading the renderer ahead of the first answer. */
export function preloadMarkdown(): void {
  void load();
}

function Plain({ text, streaming }: { text: string; streaming?: boolean }) {
  return (
    <div className={`md${streaming ? " streaming" : ""}`}>
      <p className="whitespace-pre-wrap">{text}</p>
    </div>
  );
}

function MarkdownImpl({ text, streaming }: { text: string; streaming?: boolean }) {
  return (
    <Suspense fallback={<Plain text={text} streaming={streaming} />}>
      <Renderer text={text} streaming={streaming} />
    </Suspense>
  );
}

export const Markdown = memo(MarkdownImpl);
