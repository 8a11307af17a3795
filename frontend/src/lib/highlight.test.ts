// Unit tests of the code highlighter: known languages get token spans, everything is escaped.
import { describe, expect, it } from "vitest";
import { highlightToHtml } from "./highlight";

describe("highlightToHtml", () => {
  it("highlights a known language", () => {
    expect(highlightToHtml('printf("hi\\n");', "c")).toContain("hljs-string");
  });
  it("escapes unknown languages", () => {
    expect(highlightToHtml("<b>&</b>", "klingon")).toBe("&lt;b&gt;&amp;&lt;/b&gt;");
  });
  it("escapes HTML inside highlighted code", () => {
    expect(highlightToHtml('const s = "<script>";', "js")).not.toContain("<script>");
  });
});
