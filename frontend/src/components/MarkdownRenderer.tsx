"use client";
// The Markdown renderer: GFM (tables, task lists, strikethrough), highlighted code blocks with a
// copy button. Raw HTML in answers is not rendered (react-markdown escapes it). Loaded lazily
// (see Markdown.tsx): it is most of the JavaScript and is needed only once an answer arrives.

import { useMemo, type ComponentProps } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import { highlightToHtml } from "@/lib/highlight";
import { CopyButton } from "./Copy";

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

export default function MarkdownRenderer({ text, streaming }: { text: string; streaming?: boolean }) {
  return (
    <div className={`md${streaming ? " streaming" : ""}`}>
      <ReactMarkdown remarkPlugins={remarkPlugins} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
}
