"use client";
// Cards for tool calls: a rich weather card for get_weather, a generic card for other tools.

import type { ReactNode } from "react";
import type { ToolPart } from "@/lib/chatState";
import {
  ChevronDownIcon,
  CloudIcon,
  CloudSunIcon,
  DropletIcon,
  FogIcon,
  PinIcon,
  RainIcon,
  SnowIcon,
  StormIcon,
  SunIcon,
  WindIcon,
  WrenchIcon,
} from "./Icons";

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {};
}

function pick(o: Obj, keys: string[]): unknown {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null && typeof o[k] !== "object") return o[k];
  return undefined;
}

export interface WeatherData {
  location?: string;
  temperature?: number;
  unit?: string;
  condition?: string;
  humidity?: number;
  wind?: string;
  source?: string;
  error?: string;
}

/** Read a weather result, tolerant of key variants (temp, temperature_c, wind_kph, …). */
export function readWeather(result: unknown, args: unknown): WeatherData {
  const r = asObj(result);
  const a = asObj(args);
  if (typeof r.error === "string") return { error: r.error, location: String(a.location ?? "") || undefined };
  const num = (v: unknown) => (typeof v === "number" ? v : typeof v === "string" && v.trim() && !Number.isNaN(+v) ? +v : undefined);
  let unit = pick(r, ["unit", "units", "temperature_unit"]) as string | undefined;
  let temperature = num(pick(r, ["temperature", "temp"]));
  if (temperature === undefined) {
    const c = num(pick(r, ["temperature_c", "temp_c"]));
    const f = num(pick(r, ["temperature_f", "temp_f"]));
    temperature = c ?? f;
    unit = unit ?? (c !== undefined ? "celsius" : f !== undefined ? "fahrenheit" : undefined);
  }
  unit = unit ?? (typeof a.unit === "string" ? a.unit : undefined);
  const windKph = num(pick(r, ["wind_kph", "wind_kmh"]));
  const windMph = num(pick(r, ["wind_mph"]));
  const windRaw = pick(r, ["wind", "wind_speed"]);
  const wind =
    windKph !== undefined ? `${windKph} km/h` : windMph !== undefined ? `${windMph} mph` : windRaw !== undefined ? String(windRaw) : undefined;
  return {
    location: String(pick(r, ["location", "city", "name"]) ?? a.location ?? "") || undefined,
    temperature,
    unit,
    condition: pick(r, ["condition", "conditions", "description", "summary", "weather", "forecast"]) as string | undefined,
    humidity: num(pick(r, ["humidity", "humidity_pct"])),
    wind,
    source: typeof r.source === "string" ? r.source : undefined,
  };
}

function unitSymbol(unit?: string): string {
  if (!unit) return "°";
  const u = unit.toLowerCase();
  if (u.startsWith("f")) return "°F";
  if (u.startsWith("c")) return "°C";
  if (u.startsWith("k")) return " K";
  return ` ${unit}`;
}

function conditionLook(condition = ""): { Icon: typeof SunIcon; tint: string; glow: string } {
  const c = condition.toLowerCase();
  if (c.includes("thunder") || c.includes("storm"))
    return { Icon: StormIcon, tint: "from-indigo-500/30 via-slate-700/30 to-violet-900/30", glow: "text-amber-200" };
  if (c.includes("snow")) return { Icon: SnowIcon, tint: "from-sky-300/25 via-slate-400/15 to-indigo-400/20", glow: "text-sky-100" };
  if (c.includes("rain") || c.includes("drizzle") || c.includes("shower"))
    return { Icon: RainIcon, tint: "from-sky-600/30 via-blue-700/25 to-indigo-800/30", glow: "text-sky-200" };
  if (c.includes("fog") || c.includes("mist") || c.includes("haze"))
    return { Icon: FogIcon, tint: "from-slate-400/20 via-slate-500/15 to-slate-700/25", glow: "text-slate-200" };
  if (c.includes("wind")) return { Icon: WindIcon, tint: "from-teal-500/25 via-cyan-600/20 to-sky-700/25", glow: "text-teal-100" };
  if (c.includes("partly")) return { Icon: CloudSunIcon, tint: "from-amber-400/25 via-sky-500/20 to-indigo-600/25", glow: "text-amber-100" };
  if (c.includes("cloud") || c.includes("overcast"))
    return { Icon: CloudIcon, tint: "from-slate-400/25 via-slate-500/20 to-indigo-600/25", glow: "text-slate-100" };
  return { Icon: SunIcon, tint: "from-amber-400/30 via-orange-500/20 to-fuchsia-600/25", glow: "text-amber-200" };
}

function Stat({ icon, label, value }: { icon: ReactNode; label: string; value: string }) {
  return (
    <div className="flex items-center gap-2.5 rounded-xl bg-black/20 px-3 py-2 ring-1 ring-white/[0.06]">
      <span className="grid size-7 shrink-0 place-items-center rounded-lg bg-white/[0.07] text-[0.95rem]">{icon}</span>
      <span className="min-w-0">
        <span className="block text-[0.65rem] tracking-wider text-white/55 uppercase">{label}</span>
        <span className="block truncate text-sm font-semibold text-white tabular-nums">{value}</span>
      </span>
    </div>
  );
}

function WeatherCard({ part }: { part: ToolPart }) {
  const w = readWeather(part.result, part.args);
  const loading = !part.hasResult;
  const place = w.location || String(asObj(part.args).location ?? "") || "somewhere";
  if (loading) {
    return (
      <div className="glass relative w-full max-w-md overflow-hidden rounded-2xl p-4" role="status" aria-label={`Checking the weather in ${place}`}>
        <div className="flex items-center gap-3">
          <div className="grid size-11 place-items-center rounded-xl bg-sky-400/15 text-xl text-sky-200">
            <CloudSunIcon className="animate-pulse" />
          </div>
          <div className="min-w-0 flex-1">
            <div className="text-sm text-slate-200">
              Checking the weather in <span className="font-semibold text-white">{place}</span>…
            </div>
            <div className="mt-2 h-2 w-2/3 rounded-full bg-[linear-gradient(90deg,rgba(255,255,255,.06),rgba(255,255,255,.22),rgba(255,255,255,.06))] bg-[length:200%_100%] animate-shimmer" />
          </div>
        </div>
      </div>
    );
  }
  if (w.error) {
    return (
      <div className="w-full max-w-md rounded-2xl border border-rose-400/25 bg-rose-500/10 p-4 text-sm text-rose-100" role="group" aria-label="Weather tool error">
        <div className="flex items-center gap-2 font-medium">
          <WrenchIcon /> get_weather failed
        </div>
        <p className="mt-1 text-rose-200/90">{w.error}</p>
      </div>
    );
  }
  const { Icon, tint, glow } = conditionLook(w.condition);
  const temp = w.temperature !== undefined ? `${Math.round(w.temperature * 10) / 10}${unitSymbol(w.unit)}` : "—";
  return (
    <figure
      className={`glass relative w-full max-w-md overflow-hidden rounded-2xl bg-gradient-to-br ${tint} p-4 sm:p-5`}
      aria-label={`Weather in ${place}: ${temp}, ${w.condition ?? "unknown"}`}
    >
      <div aria-hidden className="pointer-events-none absolute -top-10 -right-10 size-40 rounded-full bg-white/10 blur-2xl" />
      <div className="relative flex items-start justify-between gap-4">
        <div className="min-w-0">
          <div className="flex items-center gap-1.5 text-sm font-medium text-white/90">
            <PinIcon className="shrink-0 text-white/70" />
            <span className="truncate">{place}</span>
          </div>
          <div className="mt-2 text-5xl font-semibold tracking-tight text-white tabular-nums">{temp}</div>
          <div className="mt-1 text-sm text-white/80 capitalize">{w.condition ?? "Unknown conditions"}</div>
        </div>
        <Icon className={`size-16 shrink-0 drop-shadow-[0_0_18px_rgba(255,255,255,0.35)] ${glow}`} strokeWidth={1.4} />
      </div>
      <div className="relative mt-4 grid grid-cols-2 gap-2">
        <Stat icon={<DropletIcon className="text-sky-200" />} label="Humidity" value={w.humidity !== undefined ? `${w.humidity}%` : "—"} />
        <Stat icon={<WindIcon className="text-teal-200" />} label="Wind" value={w.wind ?? "—"} />
      </div>
      <figcaption className="relative mt-3 flex items-center gap-1.5 text-[0.7rem] tracking-wide text-white/45 uppercase">
        <WrenchIcon /> get_weather{w.source ? ` · ${w.source} data` : ""}
      </figcaption>
    </figure>
  );
}

function json(v: unknown): string {
  if (v === undefined) return "";
  try {
    return typeof v === "string" ? v : JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

function GenericToolCard({ part }: { part: ToolPart }) {
  return (
    <details className="glass group w-full max-w-xl overflow-hidden rounded-2xl" role="group" aria-label={`Tool ${part.name}`}>
      <summary className="flex cursor-pointer list-none items-center gap-3 px-4 py-3 text-sm [&::-webkit-details-marker]:hidden">
        <span className="grid size-8 place-items-center rounded-lg bg-violet-500/15 text-violet-200">
          <WrenchIcon />
        </span>
        <span className="font-mono text-slate-100">{part.name}</span>
        <span className={`ml-auto rounded-full px-2 py-0.5 text-xs ${part.hasResult ? "bg-emerald-400/15 text-emerald-200" : "bg-amber-400/15 text-amber-200"}`}>
          {part.hasResult ? "done" : "running…"}
        </span>
        <ChevronDownIcon className="text-slate-400 transition group-open:rotate-180" />
      </summary>
      <div className="space-y-3 border-t border-white/[0.07] px-4 py-3 text-xs">
        <div>
          <div className="mb-1 text-slate-400">Arguments</div>
          <pre className="overflow-x-auto rounded-lg bg-black/30 p-3 font-mono text-slate-200">{json(part.args) || "{}"}</pre>
        </div>
        {part.hasResult && (
          <div>
            <div className="mb-1 text-slate-400">Result</div>
            <pre className="max-h-64 overflow-auto rounded-lg bg-black/30 p-3 font-mono text-slate-200">{json(part.result)}</pre>
          </div>
        )}
      </div>
    </details>
  );
}

export function ToolCard({ part }: { part: ToolPart }) {
  return part.name === "get_weather" ? <WeatherCard part={part} /> : <GenericToolCard part={part} />;
}
