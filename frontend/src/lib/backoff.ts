// Reconnect delays: exponential backoff with "equal jitter" (half fixed, half random), capped.

export interface BackoffOptions {
  /** Delay of the first retry before jitter, ms. */
  baseMs?: number;
  /** Upper bound of any delay, ms. */
  capMs?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/** Delay before reconnect attempt number `attempt` (0 = first retry). The exponential part is
 *  min(cap, base * 2^attempt); the result lies in [exp/2, exp), so clients that lost the same
 *  gateway at once spread out instead of stampeding it together. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 500;
  const cap = opts.capMs ?? 15_000;
  const random = opts.random ?? Math.random;
  const n = Math.max(0, Math.min(30, Math.floor(attempt)));
  const exp = Math.min(cap, base * 2 ** n);
  return Math.round(exp / 2 + random() * (exp / 2));
}
