/**
 * `ask`: an event sent like any other (ordered with sends, journaled, replayed after a crash)
 * that carries a `replyTo` token; the promise settles when the session answers it (see
 * protocol/reply.ts), rejects at once when it handled the event without a reply, and after
 * `timeoutMs` otherwise.
 *
 * Answered once: a restore that replays an asked event the session had already answered answers
 * it again, and the second answer finds no pending ask. An ask whose event crashed the session
 * (poison) or whose session ended for good is rejected with the cause: an ask never hangs.
 */
import { AskTimeoutError, NoReplyError, SessionCrashedError } from '../../errors.js';
import { ASK_PREFIX } from '../../protocol/reply.js';
import type { RuntimeCore } from '../core.js';
import { unref } from '../options.js';

interface PendingAsk {
  id: string;
  eventType: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: unknown;
}

export class Asks {
  readonly #core: RuntimeCore;
  readonly #pending = new Map<string, PendingAsk>();
  /** Pending asks by session id, to reject them when it ends. */
  readonly #bySession = new Map<string, Set<string>>();
  #next = 0;

  constructor(core: RuntimeCore) {
    this.#core = core;
  }

  /** A new ask of session `id`: its token, and the promise its answer settles. */
  open(id: string, eventType: string, timeoutMs: number): { replyTo: string; answer: Promise<unknown> } {
    const replyTo = `${ASK_PREFIX}${++this.#next}`;
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = unref(this.#core.options.setTimeout(() => this.#settle(replyTo, (ask) => ask.reject(new AskTimeoutError(id, eventType, timeoutMs))), timeoutMs));
      this.#pending.set(replyTo, { id, eventType, resolve, reject, timer });
    });
    let tokens = this.#bySession.get(id);
    if (!tokens) this.#bySession.set(id, (tokens = new Set()));
    tokens.add(replyTo);
    return { replyTo, answer };
  }

  /** The session's answer (a note from its worker). */
  answered(to: string, value: unknown, failure: { noReply?: unknown; message?: string } | undefined): void {
    this.#settle(to, (ask) => {
      if (!failure) ask.resolve(value);
      else ask.reject(new NoReplyError(ask.id, ask.eventType, failure.noReply, failure.message));
    });
  }

  /** The ask failed before an answer: its event was refused, or crashed the session. */
  fail(to: unknown, error: Error): void {
    if (typeof to === 'string') this.#settle(to, (ask) => ask.reject(error));
  }

  /** Session `id` ended for good (stopped, crashed, finished): its pending asks are rejected. */
  /** `cause` may be a function: the error is then made only when an ask is pending (an error's stack costs ~10 µs). */
  sessionEnded(id: string, cause: Error | (() => Error) | undefined): void {
    const tokens = this.#bySession.get(id);
    if (!tokens) return;
    for (const to of [...tokens]) {
      const error = typeof cause === 'function' ? cause() : cause ?? new SessionCrashedError(id, new Error('the session ended before it answered'));
      this.#settle(to, (ask) => ask.reject(error));
    }
  }

  #settle(to: string, settle: (ask: PendingAsk) => void): void {
    const ask = this.#pending.get(to);
    if (!ask) return;
    this.#pending.delete(to);
    this.#core.options.clearTimeout(ask.timer);
    const tokens = this.#bySession.get(ask.id);
    tokens?.delete(to);
    if (tokens?.size === 0) this.#bySession.delete(ask.id);
    settle(ask);
  }
}
