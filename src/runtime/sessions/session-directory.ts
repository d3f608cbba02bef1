/**
 * The session directory: which incarnation holds an id, which key a worker speaks of, who is on
 * the way out, who is passive in the store.
 *
 * Contract:
 * - `byId` holds the id's current owner (starting, active or restarting); `byKey` every
 *   incarnation a worker may still speak of; `retiredKeys` keys a restart retired (their late
 *   messages are stale: their events were replayed).
 * - A stop or eviction frees the id at once (`leaving`); its completion touches the id's
 *   bookkeeping only if no newer session took the id meanwhile (`owns`).
 * - `unregister` removes one incarnation's bookkeeping, never a newer one's: its IPC token, its
 *   pool place, its inspection state; its observers hear `error` (with the cause) or `complete`.
 */
import type { Logger } from 'pino';
import { SessionQuarantinedError, UnknownSessionError } from '../../errors.js';
import type { RuntimeCore } from '../core.js';
import type { SessionInfo } from '../types.js';
import type { SessionRecord } from './session-record.js';

export type StopMode = 'stop' | 'replace' | 'evict' | 'shutdown';

/** An incarnation on its way out; the id is already free for a new session. */
export interface Leaving {
  record: SessionRecord;
  mode: StopMode;
  /** A new session took the id (`replace`): this one's end must not touch the id's store entry. */
  superseded: boolean;
  done: Promise<void>;
}

export interface PassiveSession {
  kind: string;
  pool: string;
  /** Its earliest armed timer (ms since the epoch); 0: none. */
  wakeAt: number;
  /** It had an IPC token: reactivated, it gets a fresh one. */
  linked: boolean;
}

/** A stored session the loaded machine cannot restore: kept, listed, never deleted by the runtime. */
export interface QuarantinedSession {
  kind: string;
  pool: string;
  error: SessionQuarantinedError;
  /** Settles when the store holds its state (a retry reads it back). */
  kept: Promise<unknown>;
}

export class SessionDirectory {
  readonly #core: RuntimeCore;
  /** Live sessions (starting, active, restarting) by id: the id's current owner. */
  readonly byId = new Map<string, SessionRecord>();
  /** Every incarnation a worker may still speak of, by its current key. */
  readonly byKey = new Map<number, SessionRecord>();
  /** Keys retired by a restart: their late messages are stale (their events are replayed). */
  readonly retiredKeys = new Map<number, SessionRecord>();
  readonly leaving = new Map<string, Leaving>();
  readonly stopping = new Map<SessionRecord, Promise<void>>();
  /** Evicted (or not yet resumed) sessions in the store. */
  readonly passive = new Map<string, PassiveSession>();
  readonly quarantined = new Map<string, QuarantinedSession>();
  #nextKey = 1;

  constructor(core: RuntimeCore) {
    this.#core = core;
  }

  /** A fresh key: keys name incarnations on the wire, never reused. */
  nextKey(): number {
    return this.#nextKey++;
  }

  /** The live session with this id; `UnknownSessionError` if none. */
  live(id: string): SessionRecord {
    const record = this.byId.get(id);
    if (record) return record;
    if (this.passive.has(id)) throw new UnknownSessionError(id, 'it is evicted; send to it to reactivate it');
    throw this.quarantined.get(id)?.error ?? new UnknownSessionError(id);
  }

  /** The incarnation a worker speaks of by `key`, current or retired. */
  byAnyKey(key: number): SessionRecord | undefined {
    return this.byKey.get(key) ?? this.retiredKeys.get(key);
  }

  /** Whether the id still names this incarnation (no newer session took it). */
  owns(record: SessionRecord): boolean {
    const holder = this.byId.get(record.id);
    if (holder) return holder === record;
    const leaving = this.leaving.get(record.id);
    return !leaving || leaving.record === record;
  }

  register(record: SessionRecord): void {
    this.byId.set(record.id, record);
    this.byKey.set(record.key, record);
    const pool = this.#core.pools.get(record.pool)!;
    pool.add(record, this.#core.now());
    record.pooledIn = pool;
    record.shard.sessions++;
  }

  unpool(record: SessionRecord): void {
    record.pooledIn?.remove(record);
    record.pooledIn = undefined;
  }

  /** Marks activity: O(1) (an intrusive LRU list), never a copy. */
  touch(record: SessionRecord): void {
    if (record.pooledIn) record.pooledIn.touch(record, this.#core.now());
    else record.lastActiveAt = this.#core.now();
  }

  /** A new incarnation: a fresh key, so nothing still addressed to the old one can reach it. */
  rekey(record: SessionRecord): void {
    this.retiredKeys.set(record.key, record);
    this.byKey.delete(record.key);
    record.key = this.nextKey();
    this.byKey.set(record.key, record);
    if (record.status !== 'stopping') record.status = 'restarting';
    record.reincarnated();
  }

  /** Removes this incarnation's bookkeeping: never a newer session's that reuses the id. */
  unregister(record: SessionRecord, cause?: Error): void {
    if (record.ended) return;
    const { inspection, options } = this.#core;
    // Its IPC token goes with it — unless a newer session holds the id (and its own token), or
    // is about to (`replace`: the application issued the new session's token before the spawn).
    if (this.owns(record) && this.leaving.get(record.id)?.mode !== 'replace') options.ipcServer?.revoke(record.id);
    if (this.byId.get(record.id) === record) this.byId.delete(record.id);
    this.byKey.delete(record.key);
    inspection?.forget(record.key);
    for (const [key, retired] of this.retiredKeys) {
      if (retired !== record) continue;
      this.retiredKeys.delete(key);
      inspection?.forget(key);
    }
    this.unpool(record);
    record.shard.sessions--;
    record.end(cause);
    const observers = record.observers;
    record.observers = undefined;
    if (!observers) return;
    for (const observer of observers) {
      this.guard(record, () => (cause ? observer.error?.(cause) : observer.complete?.()));
    }
  }

  /** Runs a user callback; its error is logged, never propagated into the runtime. */
  guard(record: SessionRecord, callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.logger(record).error({ err: error }, 'a subscriber threw; ignored');
    }
  }

  logger(record: SessionRecord): Logger {
    return record.shard.logger.child({ sessionId: record.id });
  }

  /** The operator's view of one session, live, leaving or passive; `undefined` if unknown. */
  info(id: string): SessionInfo | undefined {
    const record = this.byId.get(id) ?? this.leaving.get(id)?.record;
    if (record) return this.#labelled(infoOf(record));
    const passive = this.passive.get(id);
    if (passive) return this.#labelled(passiveInfo(id, passive, 'evicted'));
    const quarantined = this.quarantined.get(id);
    return quarantined && this.#labelled(passiveInfo(id, quarantined, 'quarantined'));
  }

  #labelled(info: SessionInfo): SessionInfo {
    const held = this.#core.labels.of(info.id);
    const host = this.#core.options.fleet?.host;
    // `info` is this call's own object.
    if (host !== undefined) info.host = host;
    if (held) {
      info.label = held.label;
      info.group = held.group;
    }
    return info;
  }

  /** Every session, live, leaving and passive, that `wanted` keeps, in that order. */
  *select(wanted: (id: string, pool: string, status: SessionInfo['status']) => boolean): IterableIterator<() => SessionInfo> {
    const labelled = (info: SessionInfo) => this.#labelled(info);
    for (const record of this.byId.values()) if (wanted(record.id, record.pool, record.status)) yield () => labelled(infoOf(record));
    for (const { record } of this.leaving.values()) if (wanted(record.id, record.pool, record.status)) yield () => labelled(infoOf(record));
    for (const [id, passive] of this.passive) if (wanted(id, passive.pool, 'evicted')) yield () => labelled(passiveInfo(id, passive, 'evicted'));
    for (const [id, kept] of this.quarantined) if (wanted(id, kept.pool, 'quarantined')) yield () => labelled(passiveInfo(id, kept, 'quarantined'));
  }
}

function infoOf(record: SessionRecord): SessionInfo {
  return {
    id: record.id,
    kind: record.kind,
    pool: record.pool,
    status: record.status,
    pinned: record.pins > 0,
    lastActiveAt: record.lastActiveAt,
    shard: record.shard.index,
    mailbox: record.inFlight,
    restarts: record.restarts?.length ?? 0,
    pids: record.pids ? [...record.pids] : [],
  };
}

function passiveInfo(id: string, { kind, pool }: { kind: string; pool: string }, status: 'evicted' | 'quarantined'): SessionInfo {
  return { id, kind, pool, status, pinned: false, lastActiveAt: 0, shard: -1, mailbox: 0, restarts: 0, pids: [] };
}
