// Unit tests of the sidebar's time and text formatting.
import { describe, expect, it } from "vitest";
import { dayGroup, formatDuration, oneLine } from "./format";

describe("formatDuration", () => {
  it("formats seconds, minutes, hours and days", () => {
    expect(formatDuration(42)).toBe("42 s");
    expect(formatDuration(240)).toBe("4 min");
    expect(formatDuration(3900)).toBe("1 h 05 min");
    expect(formatDuration(3 * 86400 + 7200)).toBe("3 d 2 h");
    expect(formatDuration(null)).toBe("");
    expect(formatDuration(-1)).toBe("");
  });
});

describe("dayGroup", () => {
  it("groups by calendar day", () => {
    const now = new Date(2025, 5, 10, 15, 0).getTime();
    expect(dayGroup(new Date(2025, 5, 10, 1, 0).getTime(), now)).toBe("Today");
    expect(dayGroup(new Date(2025, 5, 9, 23, 0).getTime(), now)).toBe("Yesterday");
    expect(dayGroup(new Date(2025, 5, 5, 12, 0).getTime(), now)).toBe("Previous 7 days");
    expect(dayGroup(new Date(2025, 4, 1).getTime(), now)).toBe("Older");
    expect(dayGroup(null, now)).toBe("Older");
  });
});

describe("oneLine", () => {
  it("collapses white space and truncates", () => {
    expect(oneLine("  a\n\n b  ")).toBe("a b");
    expect(oneLine("abcdef", 4)).toBe("abc…");
  });
});
