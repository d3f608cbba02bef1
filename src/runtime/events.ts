/**
 * The runtime's events (`runtime.on`): handlers per event, called in order; a handler that throws
 * is logged and the others still run. Failures are also kept, the last 50, for the inspector.
 */
import type { Logger } from 'pino';
import type { Handler, RuntimeEvents } from './types.js';

export interface FailureRecord {
  id: string;
  at: number;
  kind: 'crashed' | 'restarted' | 'deadLetter';
  message: string;
}

const KEPT_FAILURES = 50;

export class RuntimeEventHub {
  readonly #handlers = new Map<keyof RuntimeEvents, Set<(payload: never) => void>>();
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly failures: FailureRecord[] = [];
  deadLetters = 0;

  constructor(logger: Logger, now: () => number) {
    this.#logger = logger;
    this.#now = now;
  }

  /** Listens for a runtime event; returns the function that stops listening. */
  on<E extends keyof RuntimeEvents>(event: E, handler: Handler<E>): () => void {
    let handlers = this.#handlers.get(event);
    if (!handlers) this.#handlers.set(event, (handlers = new Set()));
    handlers.add(handler as (payload: never) => void);
    return () => handlers.delete(handler as (payload: never) => void);
  }

  emit<E extends keyof RuntimeEvents>(event: E, payload: RuntimeEvents[E]): void {
    if (event === 'crashed' || event === 'restarted' || event === 'deadLetter') {
      const { id, error, reason } = payload as { id?: string; error?: Error; reason?: string };
      this.failures.push({ id: id ?? '?', at: this.#now(), kind: event, message: error?.message ?? reason ?? '' });
      if (this.failures.length > KEPT_FAILURES) this.failures.shift();
    }
    const handlers = this.#handlers.get(event);
    if (!handlers) return;
    for (const handler of handlers) {
      try {
        (handler as Handler<E>)(payload);
      } catch (error) {
        this.#logger.error({ err: error, event }, 'a runtime event handler threw; ignored');
      }
    }
  }

  /** An event no session processed: logged, counted, reported. */
  deadLetter(id: string | undefined, event: unknown, reason: string, logger: Logger = this.#logger): void {
    this.deadLetters++;
    logger.warn({ sessionId: id, event: (event as { type?: unknown })?.type, reason }, 'dead letter');
    this.emit('deadLetter', { id, event, reason });
  }
}
