/**
 * Calls across a fleet (shared/FLEET.md, "Routing"): a call for a session whose shard another
 * host owns is a NATS request to the shard's subject; the owner runs it and answers.
 *
 * Contract:
 * - A host serves the subjects of the shards it owns (`serve`/`unserve`) and runs each call with
 *   `local`. A call that arrives after the shard moved is answered "moved", and the caller retries.
 * - `call` runs locally when this host owns the shard; else it requests, retrying with backoff
 *   (no responder, "moved", a timeout) until `maxWaitMs`, then rejects with
 *   `ShardUnavailableError` — nothing was done, unless a request reached a host and timed out
 *   (`mayBeDone`: that host may have done it after all).
 * - Each call carries an id made once by its caller; the owner answers a repeated id with the
 *   first call's result, within `dedupWindowMs`, so a retried `send` is not accepted twice.
 * - Errors cross as their class: a typed actorhost error thrown by the owner is rethrown as the
 *   same class on the caller.
 */
import { NoRespondersError, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import * as errors from '../../errors.js';
import { createPackr, toWireError, type WireError } from '../../protocol/wire.js';
import { shardOf } from './placement.js';
import { FencedError } from './shard-log.js';

export interface LocalCalls {
  call(op: string, id: string, args: unknown[]): Promise<unknown>;
}

/** Where the owner journals a routed call's id with its event, and finds calls accepted before (by a previous owner too). */
export interface CallLedger {
  callId: string | undefined;
  accepted(callId: string): boolean;
}

/** Calls that accept an event: their id is journaled with it. */
const JOURNALED = new Set(['send', 'ask']);

export interface FleetRouterOptions {
  nc: NatsConnection;
  name: string;
  shards: number;
  host: string;
  owns(shard: number): boolean;
  local: LocalCalls;
  /** The store's ledger of accepted calls; without one, a retry is recognised only by the host that first got it. */
  ledger?: CallLedger;
  /** One request's wait; default 5 s. */
  requestTimeoutMs?: number;
  /** How long a call keeps retrying before `ShardUnavailableError`; default 15 s. */
  maxWaitMs?: number;
  dedupWindowMs?: number;
}

type Answer = { ok: unknown } | { error: WireError & { code?: string } } | { moved: true };

export class FleetRouter {
  readonly #options: FleetRouterOptions;
  readonly #packr = createPackr();
  readonly #served = new Map<number, Subscription>();
  /** Calls answered (or under way) by id, in arrival order, for the dedup window. */
  readonly #seen = new Map<string, { at: number; answer: Promise<Answer> }>();
  #nextCall = 0;

  constructor(options: FleetRouterOptions) {
    this.#options = options;
  }

  /** Starts answering calls for `shard` (this host owns it now). */
  serve(shard: number): void {
    if (this.#served.has(shard)) return;
    const subscription = this.#options.nc.subscribe(this.#subject(shard), {
      callback: (error, message) => {
        if (error) return;
        void this.#answer(shard, message.data).then((answer) => message.respond(this.#packr.pack(answer).slice()));
      },
    });
    this.#served.set(shard, subscription);
  }

  /** Stops answering for `shard` (released or lost): callers retry until its new owner serves it. */
  unserve(shard: number): void {
    this.#served.get(shard)?.unsubscribe();
    this.#served.delete(shard);
  }

  /** Runs `op` for session `id` where its shard lives. */
  async call(op: string, id: string, args: unknown[]): Promise<unknown> {
    const { shards, owns, local, nc } = this.#options;
    const shard = shardOf(id, shards);
    if (owns(shard)) return local.call(op, id, args);
    const callId = `${this.#options.host}:${++this.#nextCall}`;
    const request = this.#packr.pack({ callId, op, id, args }).slice();
    const maxWaitMs = this.#options.maxWaitMs ?? 15_000;
    const started = performance.now();
    // A request that reached a host and timed out may have been done there (its answer late).
    let mayBeDone = false;
    for (let attempt = 0; ; attempt++) {
      // It may have become ours meanwhile (a takeover by this host): the previous owner may have
      // accepted this very call before its answer was lost — the journal says so.
      if (owns(shard)) {
        const done = this.#acceptedBefore(op, id, args, callId);
        if (done) return 'ok' in done ? done.ok : Promise.reject(revive(done.error));
        try {
          return await this.#runLocal(op, id, args, callId);
        } catch (error) {
          // Lost again under the call: nothing written, asked where it is next; its fate unknown, said so.
          if (!(error instanceof FencedError)) throw error;
          if (!error.unwritten) throw new errors.ShardUnavailableError(id, shard, Math.round(performance.now() - started), true);
        }
      }
      let answer: Answer | undefined;
      try {
        const reply = await nc.request(this.#subject(shard), request, { timeout: this.#options.requestTimeoutMs ?? 5_000 });
        answer = this.#packr.unpack(reply.data) as Answer;
      } catch (error) {
        // No responder (no owner right now) or no answer in time: retried, same call id.
        if (!(error instanceof NoRespondersError) && !(error instanceof Error && error.cause instanceof NoRespondersError)) mayBeDone = true;
      }
      if (answer && 'ok' in answer) return answer.ok;
      if (answer && 'error' in answer) throw revive(answer.error);
      const waited = performance.now() - started;
      if (waited >= maxWaitMs) throw new errors.ShardUnavailableError(id, shard, Math.round(waited), mayBeDone);
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 25 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())));
    }
  }

  close(): void {
    for (const shard of [...this.#served.keys()]) this.unserve(shard);
  }

  async #answer(shard: number, data: Uint8Array): Promise<Answer> {
    if (!this.#options.owns(shard)) return { moved: true };
    const { callId, op, id, args } = this.#packr.unpack(data) as { callId: string; op: string; id: string; args: unknown[] };
    this.#forgetOld();
    const seen = this.#seen.get(callId);
    if (seen) return seen.answer;
    const done = this.#acceptedBefore(op, id, args, callId);
    if (done) return done;
    const answer = this.#runLocal(op, id, args, callId).then(
      (ok): Answer => ({ ok }),
      (error: unknown): Answer =>
        // The shard was lost under the call, nothing written here: the caller asks its next owner.
        (error instanceof FencedError && error.unwritten) || (error instanceof errors.ShardUnavailableError && !error.mayBeDone)
          ? { moved: true }
          : { error: { ...toWireError(error), ...(error instanceof errors.ActorhostError ? { code: error.code } : {}) } },
    );
    this.#seen.set(callId, { at: performance.now(), answer });
    // "Moved" is not remembered: a retry finds the shard here again if it comes back.
    void answer.then((settled) => {
      if ('moved' in settled) this.#seen.delete(callId);
    });
    return answer;
  }

  /**
   * A journaled call the shard's previous owner accepted (its answer was lost in the takeover): not
   * accepted again. A `send` is done; an `ask`'s answer is gone with that owner.
   */
  #acceptedBefore(op: string, id: string, args: unknown[], callId: string): Exclude<Answer, { moved: true }> | undefined {
    if (!JOURNALED.has(op) || !this.#options.ledger?.accepted(callId)) return undefined;
    if (op === 'send') return { ok: undefined };
    const type = String((args[0] as { type?: unknown } | undefined)?.type ?? '?');
    const error = new errors.AskTimeoutError(id, type, 0, true);
    return { error: { ...toWireError(error), code: error.code } };
  }

  /** Runs the call here; a journaled call's id goes into the journal with its event (set while the call runs synchronously). */
  #runLocal(op: string, id: string, args: unknown[], callId: string): Promise<unknown> {
    const { ledger, local } = this.#options;
    if (!ledger || !JOURNALED.has(op)) return local.call(op, id, args);
    ledger.callId = callId;
    try {
      return local.call(op, id, args);
    } finally {
      ledger.callId = undefined;
    }
  }

  #forgetOld(): void {
    const horizon = performance.now() - (this.#options.dedupWindowMs ?? 60_000);
    for (const [callId, { at }] of this.#seen) {
      if (at >= horizon) break;
      this.#seen.delete(callId);
    }
  }

  #subject(shard: number): string {
    return `${this.#options.name}.call.${shard}`;
  }
}

/** The owner's error as the caller's: the same actorhost class when it is one. */
export function revive(wire: WireError & { code?: string }): Error {
  const Class = (errors as Record<string, unknown>)[wire.name];
  const error: Error =
    typeof Class === 'function' && Class.prototype instanceof errors.ActorhostError ? (Object.create(Class.prototype as object) as Error) : new Error(wire.message);
  Object.defineProperties(error, {
    message: { value: wire.message, writable: true, configurable: true },
    name: { value: wire.name, writable: true, configurable: true },
    ...(wire.code ? { code: { value: wire.code, enumerable: true } } : {}),
    ...(wire.stack ? { stack: { value: wire.stack, writable: true, configurable: true } } : {}),
  });
  return error;
}
