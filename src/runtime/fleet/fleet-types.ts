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

/** `promise`, or a rejection naming `what` after `ms` (a NATS call whose answer never comes must not hold a round, or a shutdown, forever). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`fleet: ${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
