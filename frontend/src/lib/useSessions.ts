"use client";
// The sidebar's data: pages of the user's sessions from the history API, or, when the API is
// not there (404/503/network), the sessions this browser remembers.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  apiBaseUrl,
  HistoryClient,
  HistoryUnavailableError,
  toMillis,
  type SessionSummary,
} from "./historyApi";
import { accessToken } from "./auth";
import { listLocalSessions } from "./storage";

export type SessionsStatus = "loading" | "ready" | "unavailable" | "error";

export interface SessionItem {
  sessionId: string;
  title: string;
  startMs: number | null;
  durationSeconds: number | null;
  live: boolean;
}

export interface SessionsView {
  items: SessionItem[];
  status: SessionsStatus;
  hasMore: boolean;
  loadingMore: boolean;
  loadMore: () => void;
  refresh: () => void;
  client: HistoryClient | null;
}

const PAGE = 20;

export function toItem(s: SessionSummary): SessionItem {
  const start = toMillis(s.start_time);
  const end = toMillis(s.end_time);
  const duration =
    typeof s.duration_seconds === "number" ? s.duration_seconds : start !== null && end !== null ? (end - start) / 1000 : null;
  return {
    sessionId: s.session_id,
    title: (s.summary || s.first_message || "").trim(),
    startMs: start,
    durationSeconds: duration,
    live: end === null,
  };
}

export function useSessions(userId: string | null, refreshKey: number): SessionsView {
  const client = useMemo(
    () =>
      userId
        ? new HistoryClient({
            userId,
            accessToken: accessToken(),
            baseUrl: apiBaseUrl(process.env.NEXT_PUBLIC_API_URL, process.env.NEXT_PUBLIC_WEBSOCKET_URL),
          })
        : null,
    [userId],
  );
  const [items, setItems] = useState<SessionItem[]>([]);
  const [status, setStatus] = useState<SessionsStatus>("loading");
  const [cursor, setCursor] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const abortRef = useRef<AbortController | null>(null);
  // Once the API said it is not there, automatic refreshes use the local list only (no request
  // per finished turn); the user's "try again" and a page load ask the server again.
  const unavailable = useRef(false);

  const showLocal = useCallback(() => {
    if (!userId) return;
    setItems(
      listLocalSessions(userId).map((s) => ({
        sessionId: s.session_id,
        title: s.first_message ?? "",
        startMs: s.start_time,
        durationSeconds: Math.max(0, (s.last_time - s.start_time) / 1000),
        live: false,
      })),
    );
    setCursor(null);
  }, [userId]);

  const loadFirst = useCallback(
    (quiet: boolean) => {
      if (!client) return;
      if (quiet && unavailable.current) {
        showLocal();
        return;
      }
      abortRef.current?.abort();
      const ac = new AbortController();
      abortRef.current = ac;
      if (!quiet) setStatus("loading");
      client
        .listSessions(null, PAGE, ac.signal)
        .then((page) => {
          if (ac.signal.aborted) return;
          unavailable.current = false;
          setItems(page.sessions.map(toItem));
          setCursor(page.next_cursor);
          setStatus("ready");
        })
        .catch((e: unknown) => {
          if (ac.signal.aborted || (e as Error)?.name === "AbortError") return;
          unavailable.current = e instanceof HistoryUnavailableError;
          setStatus(unavailable.current ? "unavailable" : "error");
          showLocal();
        });
    },
    [client, showLocal],
  );

  useEffect(() => {
    loadFirst(false);
    return () => abortRef.current?.abort();
  }, [loadFirst]);

  // After a turn finishes the summary / first message may have changed.
  useEffect(() => {
    if (refreshKey === 0) return;
    const t = setTimeout(() => loadFirst(true), 600);
    return () => clearTimeout(t);
  }, [refreshKey, loadFirst]);

  const loadMore = useCallback(() => {
    if (!client || !cursor || loadingMore) return;
    setLoadingMore(true);
    client
      .listSessions(cursor, PAGE)
      .then((page) => {
        setItems((prev) => {
          const seen = new Set(prev.map((p) => p.sessionId));
          return [...prev, ...page.sessions.map(toItem).filter((s) => !seen.has(s.sessionId))];
        });
        setCursor(page.next_cursor);
      })
      .catch(() => {
        /* keep what is shown; the button stays for another try */
      })
      .finally(() => setLoadingMore(false));
  }, [client, cursor, loadingMore]);

  const refresh = useCallback(() => loadFirst(false), [loadFirst]);

  return { items, status, hasMore: status === "ready" && cursor !== null, loadingMore, loadMore, refresh, client };
}
