/**
 * Reading a session's state from the host: `getSnapshot` (after every event accepted before the
 * call) and `waitFor` (the first snapshot, current or later, that matches).
 */
import type { AnyMachineSnapshot, Observer } from 'xstate';
import { InvalidOptionError, SessionCrashedError, UnknownSessionError, WaitForTimeoutError } from '../../errors.js';
import { describe } from '../../protocol/plain-data.js';
import { createPackr, WATCH_OFF, WATCH_ON, type WireSnapshot } from '../../protocol/wire.js';
import type { RuntimeCore } from '../core.js';
import { MAX_TIMER_MS, type ResolvedOptions } from '../options.js';
import { INITIAL, resolveSnapshot } from './note-router.js';
import type { SessionRecord } from './session-record.js';

const packr = createPackr();

/** The session's snapshot after every event accepted before the call, across restarts. */
export async function readSnapshot(core: RuntimeCore, record: SessionRecord): Promise<AnyMachineSnapshot> {
  const { options } = core;
  for (;;) {
    await record.settled();
    if (record.ended) throw record.endCause ?? new UnknownSessionError(record.id, 'it has stopped');
    const key = record.key;
    let answer: Uint8Array | 'failed' | undefined;
    try {
      answer = await record.shard.call<Uint8Array | 'failed' | undefined>((api) => api.snapshot(key));
    } catch (error) {
      // Its worker died under the call: wait for the restore, unless there is none coming.
      if (record.key === key && record.status !== 'restarting' && record.shard.alive) throw error;
      // The recovery gives it a new key (or ends it): wait for that, not on a poll.
      if (!record.startup) await record.nextIncarnation(key);
      continue;
    }
    // A restart between the two steps: ask the new incarnation.
    if (record.key !== key || record.status === 'restarting') continue;
    if (answer === 'failed') {
      // Its state could not be encoded, so it failed; the crash note is on its way (on the data
      // port, which is not ordered with this answer): wait for the restart, or its end.
      await untilRekeyed(options, record, key);
      continue;
    }
    if (answer === undefined) throw record.endCause ?? new UnknownSessionError(record.id, 'it has stopped');
    return resolveSnapshot(core, record, packr.unpack(answer) as WireSnapshot);
  }
}

/**
 * Waits until the session `key` named has been restarted under a new key, or has ended; bounded
 * by the watchdog's hang timeout (the crash note comes from a live worker).
 */
async function untilRekeyed(options: ResolvedOptions, record: SessionRecord, key: number): Promise<void> {
  let timer: unknown;
  const late = new Promise<never>((_, reject) => {
    timer = options.setTimeout(
      () => reject(new SessionCrashedError(record.id, new Error('it failed and was not restarted in time'))),
      options.watchdog.hangTimeoutMs,
    );
  });
  try {
    await Promise.race([record.nextIncarnation(key), late]);
  } finally {
    options.clearTimeout(timer);
  }
}

/**
 * `subscribe` on this host: `observer` hears every snapshot from now on (an evicted session is
 * reactivated first, when its pool has room: passivation is invisible). Returns the unsubscribe.
 */
export function observe(core: RuntimeCore, id: string, observer: Partial<Observer<AnyMachineSnapshot>>): () => void {
  const { lifecycle } = core;
  const record = lifecycle.liveOrReactivated(id);
  if (record.observers === undefined) {
    record.observers = new Set();
    lifecycle.enqueueMarker(record, WATCH_ON);
  }
  record.observers.add(observer);
  return () => {
    const observers = record.observers;
    if (!observers?.delete(observer) || observers.size > 0 || record.ended) return;
    record.observers = undefined;
    lifecycle.enqueueMarker(record, WATCH_OFF);
  };
}

/** `waitFor`: checks its arguments, then subscribes first and reads the current snapshot second. */
export function waitForSnapshot(
  options: Pick<ResolvedOptions, 'setTimeout' | 'clearTimeout'>,
  id: string,
  predicate: (snapshot: AnyMachineSnapshot) => boolean,
  { timeoutMs = Infinity }: { timeoutMs?: number },
  session: {
    subscribe(observer: Partial<Observer<AnyMachineSnapshot>>): () => void;
    getSnapshot(): Promise<AnyMachineSnapshot>;
  },
): Promise<AnyMachineSnapshot> {
  if (typeof predicate !== 'function') {
    return Promise.reject(new InvalidOptionError(`waitFor: the predicate must be a function (got ${describe(predicate)})`));
  }
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || (timeoutMs > MAX_TIMER_MS && timeoutMs !== Infinity)) {
    return Promise.reject(
      new InvalidOptionError(`waitFor: timeoutMs must be a number of milliseconds from 0 to ${MAX_TIMER_MS}, or Infinity (got ${describe(timeoutMs)})`),
    );
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    let unsubscribe: (() => void) | undefined;
    let timer: unknown;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      options.clearTimeout(timer);
      unsubscribe?.();
      fn();
    };
    const check = (snapshot: AnyMachineSnapshot) => {
      try {
        if (predicate(snapshot)) settle(() => resolve(snapshot));
      } catch (error) {
        settle(() => reject(error));
      }
    };
    try {
      unsubscribe = session.subscribe({
        next: check,
        error: (error) => settle(() => reject(error)),
        complete: () => settle(() => reject(new UnknownSessionError(id, 'it stopped before the predicate matched'))),
        // The read below travels the control port, the watch the data port: it can run before the
        // watch begins, and a transition between the two would be missed. The watch's own first
        // snapshot closes that gap.
        [INITIAL]: true,
      } as Partial<Observer<AnyMachineSnapshot>>);
    } catch (error) {
      settle(() => reject(error));
      return;
    }
    if (Number.isFinite(timeoutMs)) {
      timer = options.setTimeout(() => settle(() => reject(new WaitForTimeoutError(id, timeoutMs))), timeoutMs);
    }
    session.getSnapshot().then(check, (error: unknown) => settle(() => reject(error)));
  });
}
