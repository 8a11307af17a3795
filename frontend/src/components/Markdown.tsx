"use client";
// Markdown answers: GFM (tables, task lists, strikethrough), highlighted code blocks with a copy
// button. Raw HTML in answers is not rendered (react-markdown escapes it).

import { memo, useCallback, useMemo, useState, type ComponentProps } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import { highlightToHtml } from "@/lib/highlight";
import { CheckIcon, CopyIcon } from "./Icons";

/** Copy text to the clipboard; falls back to a hidden textarea outside secure contexts. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through */
  }
  try {
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    return ok;
  } catch {
    return false;
  }
}

export function CopyButton({ text, label = "Copy", className = "" }: { text: string; label?: string; className?: string }) {
  const [copied, setCopied] = useState(false);
  const onClick = useCallback(async () => {
    if (await copyText(text)) {
      setCopied(true);
      setTimeout(() => setCopied(false), 1600);
    }
  }, [text]);
  return (
    <button
      type="button"
      onClick={onClick}
      className={`inline-flex items-center gap-1.5 rounded-md px-2 py-1 text-xs text-slate-400 transition hover:bg-white/10 hover:text-white ${className}`}
      aria-label={copied ? "Copied" : label}
      title={copied ? "Copied" : label}
    >
      {copied ? <CheckIcon className="text-emerald-400" /> : <CopyIcon />}
      <span>{copied ? "Copied" : label}</span>
    </button>
  );
}

interface HastNode {
  type: string;
  value?: string;
  tagName?: string;
  properties?: { className?: unknown };
  children?: HastNode[];
}

function hastText(node: HastNode | undefined): string {
  if (!node) return "";
  if (node.type === "text") return node.value ?? "";
  return (node.children ?? []).map(hastText).join("");
}

function CodeBlock({ node }: { node?: HastNode }) {
  const code = node?.children?.find((c) => c.tagName === "code");
  const classes = Array.isArray(code?.properties?.className) ? (code!.properties!.className as string[]) : [];
  const lang = classes.find((c) => c.startsWith("language-"))?.slice("language-".length) ?? "";
  const text = hastText(code).replace(/\n$/, "");
  const html = useMemo(() => highlightToHtml(text, lang), [text, lang]);
  return (
    <div className="code-block group/code my-4 overflow-hidden rounded-xl border border-white/10 bg-[#0c0a1a]/90 shadow-lg shadow-black/30">
      <div className="flex items-center justify-between border-b border-white/[0.07] bg-white/[0.035] py-1 pr-1.5 pl-3.5">
        <span className="font-mono text-[0.7rem] tracking-wider text-slate-400 uppercase">{lang || "code"}</span>
        <CopyButton text={text} label="Copy code" />
      </div>
      <pre className="overflow-x-auto p-4 font-mono text-[0.82rem] leading-6">
        <code className="hljs" dangerouslySetInnerHTML={{ __html: html }} />
      </pre>
    </div>
  );
}

const components: Components = {
  pre: ({ node }) => <CodeBlock node={node as unknown as HastNode} />,
  table: ({ node: _node, ...props }) => (
    <div className="table-wrap">
      <table {...props} />
    </div>
  ),
  a: ({ node: _node, ...props }: ComponentProps<"a"> & { node?: unknown }) => (
    <a {...props} target="_blank" rel="noopener noreferrer" />
  ),
};

const remarkPlugins = [remarkGfm];

function MarkdownImpl({ text, streaming }: { text: string; streaming?: boolean }) {
  return (
    <div className={`md${streaming ? " streaming" : ""}`}>
      <ReactMarkdown remarkPlugins={remarkPlugins} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
}

export const Markdown = memo(MarkdownImpl);
