/**
 * Alarms for passive sessions: an evicted (or not yet resumed) session whose timer comes due is
 * woken for it — reactivated, and the restore fires the timer — like a Durable Object's alarm.
 *
 * One timer for the whole runtime, on the runtime's clock, set for the earliest deadline; a
 * min-heap of (deadline, id). An entry whose session is no longer passive with that deadline
 * (reactivated, stopped, evicted again with another timer) is skipped when it comes up, so nothing
 * is searched when a session leaves. When the session's pool has no room, it is left passive: its
 * timer then fires when it is next reactivated.
 */
import type { RuntimeCore } from '../core.js';
import { MAX_TIMER_MS, unref } from '../options.js';

interface Alarm {
  at: number;
  id: string;
}

export class PassiveAlarms {
  readonly #core: RuntimeCore;
  readonly #heap: Alarm[] = [];
  #timer: unknown;
  #timerAt = Infinity;

  constructor(core: RuntimeCore) {
    this.#core = core;
  }

  /** Wakes passive session `id` at `at` (ms since the epoch); 0: it has no timer. */
  set(id: string, at: number): void {
    if (!at || this.#core.closed) return;
    this.#push({ at, id });
    if (at < this.#timerAt) this.#schedule();
  }

  stop(): void {
    this.#core.options.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#heap.length = 0;
  }

  #schedule(): void {
    const { options, now } = this.#core;
    options.clearTimeout(this.#timer);
    const next = this.#heap[0];
    if (!next) {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    this.#timerAt = next.at;
    this.#timer = unref(options.setTimeout(() => this.#fire(), Math.min(MAX_TIMER_MS, Math.max(0, next.at - now()))));
  }

  #fire(): void {
    const { directory, lifecycle, logger, closed } = this.#core;
    if (closed) return;
    const now = this.#core.now();
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const { id, at } = this.#pop();
      if (directory.passive.get(id)?.wakeAt !== at) continue;
      const woken = lifecycle.reactivate(id);
      if (woken instanceof Error) logger.info({ sessionId: id, reason: woken.message }, 'a passive session has a timer due; it fires when the session is reactivated');
    }
    this.#schedule();
  }

  #push(alarm: Alarm): void {
    const heap = this.#heap;
    heap.push(alarm);
    for (let index = heap.length - 1; index > 0; ) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.at <= heap[index]!.at) break;
      [heap[parent], heap[index]] = [heap[index]!, heap[parent]!];
      index = parent;
    }
  }

  #pop(): Alarm {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    heap[0] = last;
    for (let index = 0; ; ) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && heap[left]!.at < heap[smallest]!.at) smallest = left;
      if (right < heap.length && heap[right]!.at < heap[smallest]!.at) smallest = right;
      if (smallest === index) break;
      [heap[smallest], heap[index]] = [heap[index]!, heap[smallest]!];
      index = smallest;
    }
    return top;
  }
}
