// One logical chat connection: a WebSocket that reconnects with backoff + jitter, keeps itself
// alive with pings, and reports a simple status for the UI. What to resume (session_id,
// last_seq) is asked for on every attempt, so a reconnect always continues where the UI is.

import { backoffDelay } from "./backoff";
import {
  CLOSE_FORBIDDEN,
  CLOSE_SESSION_NOT_FOUND,
  PING_FRAME,
  parseServerFrame,
  type ServerFrame,
} from "./protocol";

/** connecting: first attempt; connected: the `session` frame arrived; reconnecting: lost and
 *  retrying; offline: the browser has no network; closed: stopped for good (see closeCode). */
export type ConnStatus = "idle" | "connecting" | "connected" | "reconnecting" | "offline" | "closed";

export interface ConnInfo {
  status: ConnStatus;
  /** Failed attempts since the last good connection. */
  attempt: number;
  /** When the next attempt starts (ms since epoch), while waiting. */
  retryAt: number | null;
  /** Close code that ended the connection for good (4403 / 4404). */
  closeCode?: number;
}

export interface ConnectionOptions {
  /** The URL for the next attempt (reads the current session id and last seq). */
  url: () => string;
  onFrame: (frame: ServerFrame) => void;
  onStatus: (info: ConnInfo) => void;
  /** The socket went away (not called for stop()). Unacknowledged messages need resending. */
  onDrop?: () => void;
  /** 4403/4404: the session cannot be resumed; no more attempts are made. */
  onFatal?: (code: number) => void;
  /** Milliseconds between pings while connected. */
  pingEveryMs?: number;
  /** Silence (no frame at all) after which the socket is presumed dead. */
  deadAfterMs?: number;
  WebSocketImpl?: typeof WebSocket;
}

export class ChatConnection {
  private ws: WebSocket | null = null;
  private generation = 0;
  private attempt = 0;
  private everConnected = false;
  private stopped = true;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastRx = 0;
  private info: ConnInfo = { status: "idle", attempt: 0, retryAt: null };
  private readonly opts: ConnectionOptions;

  constructor(opts: ConnectionOptions) {
    this.opts = opts;
  }

  get status(): ConnStatus {
    return this.info.status;
  }

  /** Open the connection (idempotent). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.everConnected = false;
    if (typeof window !== "undefined") {
      window.addEventListener("online", this.handleOnline);
      window.addEventListener("offline", this.handleOffline);
      document.addEventListener("visibilitychange", this.handleVisible);
    }
    this.open();
  }

  /** Close for good (a new chat, leaving the page). No onDrop. */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.detach(1000, "client closing");
    if (typeof window !== "undefined") {
      window.removeEventListener("online", this.handleOnline);
      window.removeEventListener("offline", this.handleOffline);
      document.removeEventListener("visibilitychange", this.handleVisible);
    }
    this.setInfo({ status: "idle", attempt: 0, retryAt: null });
  }

  /** Write one text frame; false when there is no open socket. */
  send(text: string): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 /* OPEN */) return false;
    try {
      ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  /** Skip the remaining backoff and try now (button, network back, tab visible). */
  reconnectNow(): void {
    if (this.stopped || this.info.status === "closed") return;
    if (this.ws) return;
    this.clearTimers();
    this.open();
  }

  private open(): void {
    const Impl = this.opts.WebSocketImpl ?? (typeof WebSocket !== "undefined" ? WebSocket : undefined);
    if (!Impl) return;
    if (typeof navigator !== "undefined" && navigator.onLine === false) {
      this.setInfo({ status: "offline", attempt: this.attempt, retryAt: null });
      return; // "online" brings us back
    }
    const gen = ++this.generation;
    this.setInfo({
      status: this.everConnected || this.attempt > 0 ? "reconnecting" : "connecting",
      attempt: this.attempt,
      retryAt: null,
    });
    let ws: WebSocket;
    try {
      ws = new Impl(this.opts.url());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (gen !== this.generation) return;
      this.lastRx = Date.now();
      this.startPings(gen);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== this.generation || typeof ev.data !== "string") return;
      this.lastRx = Date.now();
      const frame = parseServerFrame(ev.data);
      if (!frame) return;
      if (frame.type === "session") {
        this.attempt = 0;
        this.everConnected = true;
        this.setInfo({ status: "connected", attempt: 0, retryAt: null });
      }
      this.opts.onFrame(frame);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (gen !== this.generation) return;
      this.handleClose(ev.code);
    };
    ws.onerror = () => {
      /* onclose follows and decides */
    };
  }

  private handleClose(code: number): void {
    this.ws = null;
    this.clearTimers();
    if (this.stopped) return;
    this.opts.onDrop?.();
    if (code === CLOSE_FORBIDDEN || code === CLOSE_SESSION_NOT_FOUND) {
      this.setInfo({ status: "closed", attempt: this.attempt, retryAt: null, closeCode: code });
      this.opts.onFatal?.(code);
      return;
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    const offline = typeof navigator !== "undefined" && navigator.onLine === false;
    this.setInfo({ status: offline ? "offline" : "reconnecting", attempt: this.attempt, retryAt: offline ? null : retryAt });
    if (offline) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  private startPings(gen: number): void {
    const every = this.opts.pingEveryMs ?? 25_000;
    const deadAfter = this.opts.deadAfterMs ?? 60_000;
    this.pingTimer = setInterval(() => {
      if (gen !== this.generation) return;
      if (Date.now() - this.lastRx > deadAfter) {
        // Half-open TCP: nothing arrives, not even pongs. Give up on this socket now.
        this.detach(4000, "heartbeat timeout");
        this.handleClose(4000);
        return;
      }
      this.send(PING_FRAME);
    }, every);
  }

  /** Forget the current socket (its late events are ignored) and close it. */
  private detach(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    this.generation++;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(code, reason);
      } catch {
        /* already closed */
      }
    }
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
  }

  private setInfo(info: ConnInfo): void {
    this.info = info;
    this.opts.onStatus(info);
  }

  private handleOnline = (): void => {
    if (this.info.status === "offline" || this.info.status === "reconnecting") this.reconnectNow();
  };

  private handleOffline = (): void => {
    if (this.info.status !== "connected") {
      this.clearTimers();
      this.setInfo({ status: "offline", attempt: this.attempt, retryAt: null });
    }
  };

  private handleVisible = (): void => {
    if (document.visibilityState === "visible" && this.info.status === "reconnecting") this.reconnectNow();
  };
}
