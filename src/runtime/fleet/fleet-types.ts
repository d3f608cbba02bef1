/** A monotonic clock with timers: `performance.now()` and the global timers, or a test's. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * How the fleet's NATS connections reconnect: at once and then every 250 ms, forever — a lease
 * renewal must get through well within the lease after a server restart (the client's default
 * waits 2 s between attempts).
 */
export const RECONNECT = { maxReconnectAttempts: -1, reconnectTimeWait: 250 } as const;
