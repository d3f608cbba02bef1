/**
 * The session store: what outlives a session's worker and, when the store is durable, the host.
 *
 * Contract:
 * - `begin` records a new session (its kind, pool and input); `append` journals an accepted event
 *   and resolves once it is kept; `compact` stores a snapshot and drops the journal it covers.
 * - `save` keeps a session's whole state at once — an evicted session's (`passive`), or a live
 *   one's when the host shuts down; `load` returns everything needed to restore a session: meta,
 *   snapshot, and the journal after it (minus `drop`ped poison events).
 * - `delete` forgets a session. Writes for one id are applied in call order.
 * Small enough that a networked store can implement it later; `MemoryStore` (tests, 'memory')
 * and `LmdbStore` (the default) do.
 */
import { createPackr } from '../../protocol/wire.js';

export interface SessionMeta {
  kind: string;
  pool: string;
  input: unknown;
}

export interface StoredSession extends SessionMeta {
  /** Evicted (passivated), as opposed to live when the host stopped. */
  passive: boolean;
  snapshot: Uint8Array | undefined;
  snapshotSeq: number;
  /** Events after the snapshot, flat: `[seq₁, event₁, seq₂, event₂, …]`. */
  journal: unknown[];
  /** The last journaled seq (the snapshot's when the journal is empty). */
  seq: number;
}

/** A session's restorable state: a snapshot (if any) and the events after it. */
export interface SessionState {
  snapshot: Uint8Array | undefined;
  snapshotSeq: number;
  /** Flat: `[seq₁, event₁, seq₂, event₂, …]`. */
  journal: unknown[];
}

export interface SessionStore {
  /** Survives a host restart. */
  readonly durable: boolean;
  begin(id: string, meta: SessionMeta): void;
  /**
   * Journals an accepted event, given as its msgpack encoding (what the worker is sent too: encode
   * once); the store may keep the view until it has written it. `load` gives events back decoded.
   */
  append(id: string, seq: number, event: Uint8Array): Promise<void>;
  compact(id: string, seq: number, snapshot: Uint8Array): void;
  drop(id: string, seq: number): void;
  save(id: string, meta: SessionMeta, state: SessionState, passive: boolean): Promise<void>;
  load(id: string): StoredSession | undefined;
  /** Every stored session: id and meta, and whether it is passive. */
  list(): Array<{ id: string; pool: string; kind: string; passive: boolean }>;
  delete(id: string): Promise<void>;
  close(): Promise<void>;
}

interface MemoryEntry extends SessionMeta {
  passive: boolean;
  snapshot: Uint8Array | undefined;
  snapshotSeq: number;
  journal: Map<number, unknown>;
}

const packr = createPackr();

/** A store in the host's memory: for tests, and for hosts that need no restart durability. */
export class MemoryStore implements SessionStore {
  readonly durable = false;
  readonly #sessions = new Map<string, MemoryEntry>();

  begin(id: string, meta: SessionMeta): void {
    this.#sessions.set(id, { ...meta, passive: false, snapshot: undefined, snapshotSeq: 0, journal: new Map() });
  }

  append(id: string, seq: number, event: Uint8Array): Promise<void> {
    this.#sessions.get(id)?.journal.set(seq, packr.unpack(event));
    return Promise.resolve();
  }

  compact(id: string, seq: number, snapshot: Uint8Array): void {
    const entry = this.#sessions.get(id);
    if (!entry || seq <= entry.snapshotSeq) return;
    entry.passive = false;
    entry.snapshot = snapshot;
    entry.snapshotSeq = seq;
    for (const journaled of entry.journal.keys()) if (journaled <= seq) entry.journal.delete(journaled);
  }

  drop(id: string, seq: number): void {
    this.#sessions.get(id)?.journal.delete(seq);
  }

  save(id: string, meta: SessionMeta, state: SessionState, passive: boolean): Promise<void> {
    const journal = new Map<number, unknown>();
    for (let index = 0; index < state.journal.length; index += 2) journal.set(state.journal[index] as number, state.journal[index + 1]);
    this.#sessions.set(id, { ...meta, passive, snapshot: state.snapshot, snapshotSeq: state.snapshotSeq, journal });
    return Promise.resolve();
  }

  load(id: string): StoredSession | undefined {
    const entry = this.#sessions.get(id);
    if (!entry) return undefined;
    const journal: unknown[] = [];
    let seq = entry.snapshotSeq;
    for (const [journaled, event] of [...entry.journal].sort(([a], [b]) => a - b)) {
      journal.push(journaled, event);
      seq = journaled;
    }
    const { kind, pool, input, passive, snapshot, snapshotSeq } = entry;
    return { kind, pool, input, passive, snapshot, snapshotSeq, journal, seq };
  }

  list(): Array<{ id: string; pool: string; kind: string; passive: boolean }> {
    return [...this.#sessions].map(([id, { pool, kind, passive }]) => ({ id, pool, kind, passive }));
  }

  delete(id: string): Promise<void> {
    this.#sessions.delete(id);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
