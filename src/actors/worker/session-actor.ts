/**
 * Small operations on a session's actor inside a worker, run through the shard host's `#run`
 * (which names the session in the shared state while its code runs).
 */
import type { AnyActorRef, Observer } from 'xstate';
import { NOTE_EVENT, SHUTDOWN_EVENT, inspectable, toWireError, type Note, type StopResult, type WireSnapshot } from '../../protocol/wire.js';

/** Where a session's observer reports: its shard host. */
export interface SessionSink {
  snapshot(session: HostedSession, snapshot: WireSnapshot): void;
  error(session: HostedSession, error: unknown): void;
  complete(session: HostedSession): void;
}

/**
 * A session as its worker holds it; it is also its actor's observer (`observe`), so watching a
 * session costs one entry in a set XState allocates anyway.
 */
export class HostedSession {
  readonly key: number;
  readonly actor: AnyActorRef;
  /** Its machine's version, recorded in every snapshot it persists. */
  readonly version: number;
  watched: boolean;
  /** The seq of the last event processed, and of the last one a persisted snapshot covers. */
  seq: number;
  snapshotSeq: number;
  /** Set while `stop` runs: completion then resolves the stop instead of reporting `done`. */
  onStopped: ((error?: unknown) => void) | undefined = undefined;
  /** While `spawn` starts it and replays its journal: a failure is the spawn's answer, not a note. */
  starting = true;
  /** While the inspector watches its events: the inspection subscription that notes internal ones. */
  eventTap: { unsubscribe(): void } | undefined = undefined;
  /** The event being processed armed a timer: persist after it, so the deadline is kept. */
  armed = false;
  /** In a state tagged busy, as last told to the host. */
  busy = false;
  failure: { error: unknown; poisonSeq: number | null; quarantine?: boolean } | undefined = undefined;
  readonly #sink: SessionSink;

  constructor(init: { key: number; actor: AnyActorRef; version: number; watched: boolean; seq: number }, sink: SessionSink) {
    this.key = init.key;
    this.actor = init.actor;
    this.version = init.version;
    this.watched = init.watched;
    this.seq = init.seq;
    this.snapshotSeq = init.seq;
    this.#sink = sink;
  }

  next(snapshot: WireSnapshot): void {
    this.#sink.snapshot(this, snapshot);
  }

  /**
   * A getter: XState reads `observer.error` and calls it detached from its observer, so the
   * listener is made when an error happens (nothing per session until then).
   */
  get error(): (error: unknown) => void {
    return (error) => this.#sink.error(this, error);
  }

  complete(): void {
    this.#sink.complete(this);
  }
}

/**
 * Makes `session` its actor's observer. Not `actor.subscribe`: it wraps the observer in a new
 * object of three bound functions plus a subscription — 490 B per session, measured, a seventh of
 * an idle session. XState's `Actor#observers` is the set `subscribe` adds to; it calls `next` and
 * `complete` on each member as methods, and `error` detached (see `HostedSession#error`).
 */
export function observe(session: HostedSession): void {
  (session.actor as unknown as { observers: Set<Partial<Observer<WireSnapshot>>> }).observers.add(session);
}

export function startActor(actor: AnyActorRef): void {
  actor.start();
  compactOptions(actor);
}

/**
 * XState keeps the actor's options as `{ ...defaults, ...options }`; keys the defaults lack (`id`,
 * `input`) leave that object in a slow dictionary shape (240 B per session, measured), and it holds
 * the restored snapshot for good. Once started, XState reads none of it but `devTools` (at start):
 * a plain object with the same values replaces it.
 */
function compactOptions(actor: AnyActorRef): void {
  const internals = actor as unknown as { options: { clock: unknown; logger: unknown; devTools: unknown; id: unknown; input: unknown } };
  const { clock, logger, devTools, id, input } = internals.options;
  internals.options = { clock, logger, devTools, id, input };
}

export function sendEvent(actor: AnyActorRef, event: { type: string }): void {
  actor.send(event);
}

export function stopActor(actor: AnyActorRef): void {
  actor.stop();
}

/**
 * The part of a snapshot the host needs. Not `getPersistedSnapshot`: that also persists every
 * child's snapshot, which the host drops (measured: ~19 µs of an idle send→snapshot round trip).
 */
export function wireSnapshot(actor: AnyActorRef): WireSnapshot {
  const snapshot = actor.getSnapshot() as WireSnapshot;
  return {
    status: snapshot.status,
    value: snapshot.value,
    context: plainContext(snapshot.context),
    ...(snapshot.output !== undefined ? { output: snapshot.output } : {}),
    ...(snapshot.error !== undefined ? { error: toWireError(snapshot.error) } : {}),
  };
}

/** The context with actor refs as XState persists them (`{ xstate$$type: 1, id }`); copied only where one is found. */
function plainContext(part: unknown): unknown {
  if (part === null || typeof part !== 'object') return part;
  let copy: Record<string, unknown> | unknown[] | undefined;
  const source = part as Record<string, unknown>;
  for (const key in source) {
    const value = source[key];
    if (value === null || typeof value !== 'object') continue;
    const plain = 'sessionId' in value && 'send' in value && 'ref' in value ? { xstate$$type: 1, id: (value as unknown as { id: unknown }).id } : plainContext(value);
    if (plain === value) continue;
    copy ??= Array.isArray(part) ? part.slice() : { ...source };
    (copy as Record<string, unknown>)[key] = plain;
  }
  return copy ?? part;
}

/** A session whose state cannot be encoded for the host fails with this. */
export function unencodableError(what: string, cause: unknown): Error {
  const error = new Error(`${what} cannot be encoded for the host (${cause instanceof Error ? cause.message : String(cause)}); keep only plain data in context`);
  error.name = 'UnencodableStateError';
  return error;
}

/**
 * The shutdown contract for one session: send `actorhost.shutdown` when the machine handles it and
 * wait for a final state (`onStopped` is called by the session's observer); stop at once when it
 * does not; stop by force after `timeoutMs`. `saved` (a snapshot taken first) goes with the result.
 */
export function shutDown(
  session: HostedSession,
  timeoutMs: number,
  saved: Partial<StopResult>,
  run: (fn: () => void) => void,
): StopResult | Promise<StopResult> {
  const { actor } = session;
  if (!actor.getSnapshot().can(SHUTDOWN_EVENT)) {
    session.onStopped = () => {};
    run(() => actor.stop());
    return { outcome: 'no-handler', ...saved };
  }
  return new Promise<StopResult>((resolve) => {
    const timer = setTimeout(() => {
      session.onStopped = () => resolve({ outcome: 'forced', ...saved });
      run(() => actor.stop());
    }, timeoutMs);
    session.onStopped = (error) => {
      clearTimeout(timer);
      resolve(error === undefined ? { outcome: 'final', ...saved } : { outcome: 'failed', error: toWireError(error), ...saved });
    };
    run(() => actor.send(SHUTDOWN_EVENT));
  });
}

/** The id of the library's connection machine (`connectionMachine`). */
const CONNECTION_MACHINE_ID = 'actorhost.connection';

/** Hands a fresh IPC link to every connection machine in the session's actor tree. */
export function relinkConnections(actor: AnyActorRef, link: { address: unknown; token: string }): void {
  const children = (actor.getSnapshot() as { children?: Record<string, AnyActorRef> }).children ?? {};
  for (const child of Object.values(children)) {
    if ((child as { logic?: { id?: unknown } }).logic?.id === CONNECTION_MACHINE_ID) child.send({ type: 'connection.relink', ...link });
    relinkConnections(child, link);
  }
}

/**
 * The inspector watches the session's events: the ones its root actor gets from inside — a timer,
 * an invoke's result, a child — are noted (the host sees the ones it sent itself). Costs nothing
 * while off: XState builds inspection events only for a system with an observer.
 */
export function tapInternalEvents(session: HostedSession, on: boolean, note: (note: Note) => void): void {
  if (!on || session.eventTap) {
    if (!on) session.eventTap?.unsubscribe();
    if (!on) session.eventTap = undefined;
    return;
  }
  session.eventTap = session.actor.system.inspect((event: { type: string; actorRef?: unknown; sourceRef?: unknown; event?: unknown }) => {
    if (event.type === '@xstate.event' && event.actorRef === session.actor && event.sourceRef !== undefined) note([NOTE_EVENT, session.key, inspectable(event.event)]);
  });
}
