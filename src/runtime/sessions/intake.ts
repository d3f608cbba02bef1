/**
 * The intake: what `send` does on the host before an event reaches its worker.
 *
 * Contract (DESIGN.md, "Accepted means kept"): `send` resolves once the event is accepted — it
 * passed the plain-data walk, fits `maxEventBytes`, fits the session's mailbox (by count and by
 * bytes), is in the session's journal (on disk first with `durability: 'journal'`), and is queued
 * in order for the session's worker. It never throws: every refusal is a typed rejection. An
 * event sent while its session is being evicted waits for the eviction, then reactivates it: the
 * checked copy waits, never the caller's object.
 */
import {
  ActorhostError,
  InvalidEventError,
  InvalidOptionError,
  MailboxFullError,
  RuntimeClosedError,
  ShardUnavailableError,
  UnknownSessionError,
} from '../../errors.js';
import { shardOf } from '../fleet/placement.js';
import { FencedError } from '../fleet/shard-log.js';
import { PlainCopier, describe } from '../../protocol/plain-data.js';
import { createPackr } from '../../protocol/wire.js';
import type { RuntimeCore } from '../core.js';
import { MAX_TIMER_MS } from '../options.js';
import { channels } from '../metrics.js';
import type { SessionEvent } from '../types.js';
import type { SessionRecord } from './session-record.js';
import { checkId } from './spawn-options.js';

const RESOLVED = Promise.resolve();

export class Intake {
  readonly #core: RuntimeCore;
  readonly #copier = new PlainCopier();
  readonly #packr = createPackr();

  constructor(core: RuntimeCore) {
    this.#core = core;
  }

  /** The walker, shared with spawn's input check (one per runtime, reused: no allocation per call). */
  get copier(): PlainCopier {
    return this.#copier;
  }

  send(id: string, event: SessionEvent, replyTo?: string): Promise<void> {
    try {
      return this.#send(id, event, replyTo);
    } catch (error) {
      // Nothing of the caller's may make `send` throw: a throwing getter, a Proxy, a symbol id.
      return Promise.reject(
        error instanceof ActorhostError
          ? error
          : new InvalidEventError(`it could not be read (${error instanceof Error ? error.message : describe(error)}); events must be plain data`),
      );
    }
  }

  /** A checked copy of `event` (for `deliver` to hold); throws a typed error, as `send` rejects. */
  checked(event: SessionEvent): SessionEvent {
    if (event === null || typeof event !== 'object' || typeof event.type !== 'string') {
      throw new InvalidEventError(`expected an object with a string "type", such as { type: 'USER_MESSAGE' } (got ${describeEvent(event)})`);
    }
    try {
      return this.#check(event);
    } catch (error) {
      if (error instanceof ActorhostError) throw error;
      throw new InvalidEventError(`it could not be read (${error instanceof Error ? error.message : describe(error)}); events must be plain data`);
    }
  }

  /** `send` with a `replyTo` token: resolves with the session's answer (see asks.ts). */
  ask(id: string, event: SessionEvent, options: { timeoutMs?: number } | undefined): Promise<unknown> {
    const timeoutMs = options?.timeoutMs ?? 30_000;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMER_MS) {
      return Promise.reject(new InvalidOptionError(`ask: timeoutMs must be a positive integer of at most ${MAX_TIMER_MS} ms (got ${describe(timeoutMs)})`));
    }
    const type = typeof (event as { type?: unknown } | null)?.type === 'string' ? event.type : '?';
    const { replyTo, answer } = this.#core.asks.open(id, type, timeoutMs);
    this.send(id, event, replyTo).catch((error: Error) => this.#core.asks.fail(replyTo, error));
    return answer;
  }

  #send(id: string, event: SessionEvent, replyTo?: string): Promise<void> {
    const { directory, lifecycle, events, route } = this.#core;
    if (this.#core.closed) return Promise.reject(new RuntimeClosedError('send'));
    checkId('send', id);
    // A fleet's shard moved away (even while this send waited for an eviction): sent there.
    if (route?.elsewhere(id)) return route.call('send', id, [event]) as Promise<void>;
    if (event === null || typeof event !== 'object' || typeof event.type !== 'string') {
      return Promise.reject(
        new InvalidEventError(`expected an object with a string "type", such as { type: 'USER_MESSAGE' } (got ${describeEvent(event)})`),
      );
    }
    const copy = this.#check(event);
    // An ask's token travels in the event (reserved: `replyTo`), journaled with it.
    if (replyTo !== undefined) copy.replyTo = replyTo;
    const bytes = this.#copier.bytes + (replyTo === undefined ? 0 : 48);
    let record = directory.byId.get(id);
    if (record === undefined) {
      const leaving = directory.leaving.get(id);
      // The copy waits, not the caller's object: what was checked is what is sent.
      if (leaving?.mode === 'evict' && !leaving.superseded) return leaving.done.then(() => this.send(id, copy));
      if (leaving) return Promise.reject(new UnknownSessionError(id, 'it is stopping'));
      if (!directory.passive.has(id)) return Promise.reject(directory.quarantined.get(id)?.error ?? new UnknownSessionError(id));
      const reactivated = lifecycle.reactivate(id);
      if (reactivated instanceof Error) {
        events.deadLetter(id, copy, reactivated.message);
        return Promise.reject(reactivated);
      }
      record = reactivated;
    }
    return this.#accept(record, copy, bytes);
  }

  /** A checked copy of `event`, within `maxEventBytes`; throws `InvalidEventError`. */
  #check(event: SessionEvent): SessionEvent {
    const limit = this.#core.options.maxEventBytes;
    const copy = this.#copier.copy(event, 'event', limit);
    const failure = this.#copier.failure;
    const tooLarge = (size: string) =>
      new InvalidEventError(`"${event.type}" is ${size} bytes encoded; the limit is options.maxEventBytes = ${limit}. Send a reference to large data instead.`);
    if (copy === undefined) throw failure?.kind === 'too-large' ? tooLarge(`more than ${limit}`) : new InvalidEventError(failure?.message ?? 'not plain data');
    // The copier's estimate is an upper bound: encode only when it might be over the limit.
    if (this.#copier.bytes > limit) {
      const size = this.#packr.pack(copy).length;
      if (size > limit) throw tooLarge(String(size));
    }
    return copy;
  }

  /** `bytes`: the walker's upper-bound estimate. An empty mailbox takes any event within maxEventBytes. */
  #accept(record: SessionRecord, copy: SessionEvent, bytes: number): Promise<void> {
    const core = this.#core;
    const { id } = record;
    const { mailboxCapacity: capacity, mailboxMaxBytes: maxBytes } = core.options;
    if (record.inFlight >= capacity) return Promise.reject(new MailboxFullError(id, capacity));
    if (record.inFlightBytes + bytes > maxBytes && record.inFlight > 0) {
      return Promise.reject(new MailboxFullError(id, capacity, { waiting: record.inFlightBytes, maxBytes }));
    }
    const seq = record.journalEvent(copy, bytes);
    core.counters.eventsAccepted++;
    if (channels.send.hasSubscribers) channels.send.publish({ id, type: copy.type });
    core.directory.touch(record);
    if (core.eventTaps) core.eventTaps.get(id)?.forEach((tap) => tap(copy));
    // A session in byId is starting, active or restarting (a stopping one has left it).
    const active = record.status === 'active';
    if (!active) (record.pending ??= []).push(copy);
    if (!core.journaling) {
      if (active) record.shard.enqueue(record.key, copy, record);
      return RESOLVED;
    }
    // Encode once: the event is packed here, into its batch, and the journal keeps those bytes.
    // (`pack` returns a view of the packr's reused buffer: the batch copies it at once.)
    const packed = this.#packr.pack(copy);
    const inBatch = active ? record.shard.enqueueEncoded(record.key, packed, record) : undefined;
    // A call routed here from another host (its id journaled with it): its caller retries, with its own id.
    const routed = (core.store as { callId?: string }).callId !== undefined;
    const kept = core.store.append(id, seq, inBatch ?? packed.slice());
    return core.route ? kept.catch((error: unknown) => this.#elsewhere(id, copy, error, routed)) : kept;
  }

  /**
   * In a fleet, the journal write of an event accepted here failed: certainly not written (the
   * shard was lost under it: fenced), the event is sent where the shard lives now — an ask is
   * refused instead (its answer would come here), and a routed call is left to its caller;
   * otherwise (the write's fate unknown) refused.
   */
  #elsewhere(id: string, copy: SessionEvent, error: unknown, routed: boolean): Promise<void> {
    if (error instanceof ActorhostError) return Promise.reject(error);
    const { route, options } = this.#core;
    const fenced = error instanceof FencedError && error.unwritten;
    // Routed here: the router answers "moved", and the caller retries with the call's own id (a
    // retry from here, under another id, could be accepted beside the caller's).
    if (fenced && routed) return Promise.reject(error);
    if (fenced && copy.replyTo === undefined) return route!.call('send', id, [copy]) as Promise<void>;
    return Promise.reject(new ShardUnavailableError(id, shardOf(id, options.fleet!.shards), 0, !fenced));
  }
}

function describeEvent(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object whose "type" is ${typeof (value as { type?: unknown }).type}`;
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : typeof value;
}
