/**
 * What a session's persisted snapshot carries beyond XState's own, and how it comes back.
 *
 * XState persists a machine's state but not its armed delayed events (`after`, a `sendTo` or
 * `raise` with a delay): a restored actor would wait forever. So the snapshot gets an envelope,
 * `$actorhost`: the machine's `version`, and every armed timer with its absolute deadline and
 * the actors it goes from and to (by their id paths from the session's root actor). A restore
 * re-arms each with the time it has left, at once if that has passed; the timer keeps its id, so
 * a state left during the replay still cancels it.
 *
 * A snapshot stored by an older version of the machine goes through the module's `migrate`
 * first. A snapshot that cannot be restored — a newer version, no `migrate`, `migrate` throws,
 * the state no longer exists — fails with `RestoreFailure`: the same input would fail the same
 * way again, so the host quarantines the session instead of retrying.
 */
import { createActor, type AnyActorRef, type InspectionEvent } from 'xstate';
import { describeCause } from '../../errors.js';
import type { MachineKind } from '../../protocol/machine-module.js';

export const ENVELOPE_KEY = '$actorhost';

export interface StoredTimer {
  /** Id paths from the session's root actor ([] is the root itself). */
  source: string[];
  target: string[];
  event: unknown;
  id: string;
  /** The deadline, in ms since the epoch. */
  at: number;
}

interface Envelope {
  version: number;
  timers: StoredTimer[];
}

interface ScheduledEvent {
  source: AnyActorRef;
  target: AnyActorRef;
  event: unknown;
  delay: number;
  id: string;
  startedAt: number;
}

interface SystemInternals {
  _snapshot: { _scheduledEvents: Record<string, ScheduledEvent> };
  scheduler: { schedule(source: AnyActorRef, target: AnyActorRef, event: unknown, delay: number, id: string): void };
}

/** A stored snapshot that this machine cannot take back; deterministic, so never retried. */
export class RestoreFailure extends Error {
  override name = 'SessionRestoreError';
}

/** The session's persisted snapshot with its envelope, and its earliest timer's deadline (0: none). */
export function persistedWithTimers(actor: AnyActorRef, version: number): { persisted: object; wakeAt: number } {
  const persisted = actor.getPersistedSnapshot() as object;
  const timers: StoredTimer[] = [];
  let wakeAt = 0;
  const scheduled = (actor.system as unknown as SystemInternals)._snapshot._scheduledEvents;
  for (const scheduledId in scheduled) {
    const { source, target, event, delay, id, startedAt } = scheduled[scheduledId]!;
    const sourcePath = pathOf(source, actor);
    const targetPath = pathOf(target, actor);
    if (!sourcePath || !targetPath) continue;
    const at = startedAt + delay;
    timers.push({ source: sourcePath, target: targetPath, event, id, at });
    if (wakeAt === 0 || at < wakeAt) wakeAt = at;
  }
  const envelope: Envelope = { version, timers };
  // `persisted` is XState's fresh copy: the envelope goes in place (a spread costs µs per snapshot).
  (persisted as Record<string, unknown>)[ENVELOPE_KEY] = envelope;
  return { persisted, wakeAt };
}

/**
 * The XState snapshot to restore from stored bytes (decoded), migrated to `kind.version`, and the
 * timers to re-arm once the actor has started. Throws `RestoreFailure` when it cannot be.
 */
export function restorable(kind: MachineKind, stored: unknown): { snapshot: object; timers: StoredTimer[]; migrated: boolean } {
  if (stored === null || typeof stored !== 'object') throw new RestoreFailure('the stored snapshot is not an object');
  const { [ENVELOPE_KEY]: envelope, ...snapshot } = stored as Record<string, unknown> & { [ENVELOPE_KEY]?: Envelope };
  const fromVersion = envelope?.version ?? 1;
  const timers = envelope?.timers ?? [];
  if (fromVersion === kind.version) return { snapshot, timers, migrated: false };
  if (fromVersion > kind.version) {
    throw new RestoreFailure(`it was stored by version ${fromVersion} of its machine, newer than the loaded version ${kind.version}; deploy that version (or newer) to restore it`);
  }
  if (!kind.migrate) {
    throw new RestoreFailure(
      `it was stored by version ${fromVersion} of its machine and the loaded version is ${kind.version}, whose module exports no migrate; export migrate(persistedSnapshot, fromVersion) to bring it forward`,
    );
  }
  let migrated: unknown;
  try {
    migrated = kind.migrate(snapshot, fromVersion);
  } catch (error) {
    throw new RestoreFailure(`migrate(snapshot, ${fromVersion}) threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (migrated === null || typeof migrated !== 'object' || migrated instanceof Promise) {
    throw new RestoreFailure(`migrate(snapshot, ${fromVersion}) returned ${migrated instanceof Promise ? 'a promise' : String(migrated)}; it must return the migrated snapshot, synchronously`);
  }
  // Timers of the old version may name states that are gone; their events then match nothing.
  return { snapshot: migrated, timers, migrated: true };
}

/**
 * The session's actor, from its machine's initial state or from a stored snapshot (decoded), and
 * the timers to re-arm once it has started. Throws `RestoreFailure` when the snapshot cannot be.
 */
export function createSessionActor(
  kind: MachineKind,
  options: { id: string; input: unknown; stored: unknown; clock: SessionClock; inspect: ((event: InspectionEvent) => void) | undefined },
): { actor: AnyActorRef; timers: StoredTimer[]; migrated: boolean } {
  const { id, input, stored, clock, inspect } = options;
  const { snapshot, timers, migrated } = stored === undefined ? { snapshot: undefined, timers: [], migrated: false } : restorable(kind, stored);
  const actorOptions: { id: string; input: unknown; clock: SessionClock; snapshot?: never; inspect?: (event: InspectionEvent) => void } = { id, input, clock };
  if (snapshot) actorOptions.snapshot = snapshot as never;
  if (inspect) actorOptions.inspect = inspect;
  const actor = createActor(kind.machine, actorOptions);
  // A snapshot that no longer fits the machine (a state renamed) leaves the actor in error.
  const restored = actor.getSnapshot() as { status: string; error?: unknown };
  if (snapshot && restored.status === 'error') throw new RestoreFailure(`its snapshot does not fit the machine: ${describeCause(restored.error)}`);
  return { actor, timers, migrated };
}

/** Re-arms stored timers on a restored, started actor, each with the time it has left. */
export function rearm(actor: AnyActorRef, timers: StoredTimer[], now: number): void {
  const { scheduler } = actor.system as unknown as SystemInternals;
  for (const { source, target, event, id, at } of timers) {
    const from = resolvePath(actor, source);
    const to = resolvePath(actor, target);
    if (from && to) scheduler.schedule(from, to, event, Math.max(0, at - now), id);
  }
}

/** The ids from `root` down to `ref`, or undefined when `ref` is not in root's tree. */
function pathOf(ref: AnyActorRef, root: AnyActorRef): string[] | undefined {
  const path: string[] = [];
  for (let current: AnyActorRef | undefined = ref; current; current = current._parent) {
    if (current === root) return path.reverse();
    path.push(current.id);
  }
  return undefined;
}

function resolvePath(root: AnyActorRef, path: string[]): AnyActorRef | undefined {
  let current: AnyActorRef | undefined = root;
  for (const id of path) {
    const snapshot = current?.getSnapshot() as { children?: Record<string, AnyActorRef> } | undefined;
    current = snapshot?.children?.[id];
    if (!current) return undefined;
  }
  return current;
}

/**
 * The clock XState's scheduler uses, one per worker: a timer is armed while its session's code
 * runs, so `current()` (the session context) names it; `armed` hears of it (its deadline must be
 * persisted), and its callback goes through `run` with the same session. (One clock for every
 * session: a clock per session cost ~300 B per idle session and a fifth of the spawn rate.)
 */
export interface SessionClock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export function sessionClock(
  current: () => number | undefined,
  armed: (key: number) => void,
  run: (key: number, fn: () => void) => void,
): SessionClock {
  return {
    setTimeout: (fn, ms) => {
      const key = current();
      if (key === undefined) return setTimeout(fn, ms);
      armed(key);
      return setTimeout(() => run(key, fn), ms);
    },
    clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
  };
}

/**
 * Items marked during a tick, handled once each at its end: a session that made many transitions
 * in one tick is persisted once.
 */
export class EndOfTick<T> {
  #marked = new Set<T>();
  readonly #handle: (item: T) => void;

  constructor(handle: (item: T) => void) {
    this.#handle = handle;
  }

  mark(item: T): void {
    if (this.#marked.size === 0) setImmediate(this.#flush);
    this.#marked.add(item);
  }

  /** Handled already (persisted on its own): not again at the end of the tick. */
  forget(item: T): void {
    this.#marked.delete(item);
  }

  readonly #flush = (): void => {
    const marked = this.#marked;
    this.#marked = new Set();
    for (const item of marked) this.#handle(item);
  };
}
