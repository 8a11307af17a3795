// Human-friendly times, durations and session grouping for the sidebar.

const DAY = 86_400_000;

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

function hhmm(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** "14:32" today, "Yesterday 09:10", "Mon 14:32" this week, else "3 Mar 2025, 14:32". */
export function formatStart(ms: number | null, now = Date.now()): string {
  if (ms === null) return "";
  const today = startOfDay(now);
  if (ms >= today) return hhmm(ms);
  if (ms >= today - DAY) return `Yesterday ${hhmm(ms)}`;
  if (ms >= today - 6 * DAY) return `${new Date(ms).toLocaleDateString(undefined, { weekday: "short" })} ${hhmm(ms)}`;
  return `${new Date(ms).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" })}, ${hhmm(ms)}`;
}

/** "45 s", "4 min", "1 h 05 min", "2 d 3 h". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(s / 3600);
  if (h < 24) return `${h} h ${String(Math.round((s % 3600) / 60)).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export type DayGroup = "Today" | "Yesterday" | "Previous 7 days" | "Older";

/** The heading a session falls under in the sidebar. */
export function dayGroup(ms: number | null, now = Date.now()): DayGroup {
  if (ms === null) return "Older";
  const today = startOfDay(now);
  if (ms >= today) return "Today";
  if (ms >= today - DAY) return "Yesterday";
  if (ms >= today - 7 * DAY) return "Previous 7 days";
  return "Older";
}

/** One line of a message for a title: collapsed white space, cut at `max` characters. */
export function oneLine(text: string | null | undefined, max = 80): string {
  const t = (text ?? "").replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}
