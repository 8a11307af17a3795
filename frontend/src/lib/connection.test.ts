// Unit tests of the reconnecting connection against a fake WebSocket and fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ChatConnection, type ConnInfo } from "./connection";
import type { ServerFrame } from "./protocol";

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  closed: { code?: number } | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeSocket.all.push(this);
  }
  send(t: string) {
    this.sent.push(t);
  }
  close(code?: number) {
    this.closed = { code };
  }
  // test side
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  frame(f: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

function setup(urlFn?: () => string) {
  const frames: ServerFrame[] = [];
  const states: ConnInfo[] = [];
  const onDrop = vi.fn();
  const onFatal = vi.fn();
  let n = 0;
  const conn = new ChatConnection({
    url: urlFn ?? (() => `ws://x/ws/session/u?n=${n++}`),
    onFrame: (f) => frames.push(f),
    onStatus: (s) => states.push(s),
    onDrop,
    onFatal,
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    pingEveryMs: 1000,
    deadAfterMs: 3000,
  });
  return { conn, frames, states, onDrop, onFatal };
}

const last = () => FakeSocket.all[FakeSocket.all.length - 1];
const SESSION = { type: "session", session_id: "s1", user_id: "u", resumed: false, llm: "mock" };

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
  vi.spyOn(Math, "random").mockReturnValue(0.5);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("ChatConnection", () => {
  it("is connected only after the session frame", () => {
    const t = setup();
    t.conn.start();
    expect(t.conn.status).toBe("connecting");
    last().open();
    expect(t.conn.status).toBe("connecting");
    last().frame(SESSION);
    expect(t.conn.status).toBe("connected");
    expect(t.frames[0].type).toBe("session");
    expect(t.conn.send("x")).toBe(true);
  });

  it("reconnects with growing delays and asks for a fresh URL each time", () => {
    let seq = 0;
    const t = setup(() => `ws://x/ws/session/u?session_id=s1&last_seq=${seq}`);
    t.conn.start();
    last().open();
    last().frame(SESSION);
    seq = 7;
    last().drop();
    expect(t.onDrop).toHaveBeenCalledTimes(1);
    expect(t.conn.status).toBe("reconnecting");
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(374); // attempt 0: 500 ms * (0.5 + 0.5*0.5) = 375
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    expect(last().url).toContain("last_seq=7");
    last().drop(); // attempt 1: 750 ms
    vi.advanceTimersByTime(749);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(3);
    last().open();
    last().frame({ ...SESSION, resumed: true });
    expect(t.conn.status).toBe("connected");
    last().drop(); // the delay starts small again after a good connection
    vi.advanceTimersByTime(375);
    expect(FakeSocket.all).toHaveLength(4);
  });

  it("stops for good on 4403/4404", () => {
    const t = setup();
    t.conn.start();
    last().open();
    last().drop(4404);
    expect(t.onFatal).toHaveBeenCalledWith(4404);
    expect(t.conn.status).toBe("closed");
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("does not reconnect after stop() and ignores the old socket's events", () => {
    const t = setup();
    t.conn.start();
    const s = last();
    s.open();
    s.frame(SESSION);
    t.conn.stop();
    expect(s.closed).not.toBeNull();
    s.frame({ type: "token", content: "late", turn_id: "t", seq: 1 });
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(t.frames).toHaveLength(1);
    expect(t.onDrop).not.toHaveBeenCalled();
  });

  it("pings while connected and gives up on a silent socket", () => {
    const t = setup();
    t.conn.start();
    last().open();
    last().frame(SESSION);
    vi.advanceTimersByTime(1000);
    expect(last().sent).toContain('{"type":"ping"}');
    vi.advanceTimersByTime(3000); // no frame for > deadAfterMs
    expect(t.onDrop).toHaveBeenCalled();
    expect(t.conn.status).toBe("reconnecting");
    vi.advanceTimersByTime(400);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it("reconnectNow skips the remaining backoff", () => {
    const t = setup();
    t.conn.start();
    last().drop();
    expect(FakeSocket.all).toHaveLength(1);
    t.conn.reconnectNow();
    expect(FakeSocket.all).toHaveLength(2);
  });
});
