/**
 * The session store: what outlives a session's worker and, when the store is durable, the host.
 *
 * Contract:
 * - `begin` records a new session (its kind, pool and input); `append` journals an accepted event
 *   and resolves once it is kept; `compact` stores a snapshot and drops the journal it covers.
 * - `save` keeps a session's whole state at once — an evicted session's (`passive`), or a live
 *   one's when the host shuts down; `load` returns everything needed to restore a session: meta,
 *   snapshot, and the journal after it (minus `drop`ped poison events).
 * - A session's earliest armed timer (`wakeAt`, ms since the epoch; 0: none) is kept with its
 *   snapshot, so a passive session can be woken for it without decoding the snapshot.
 * - `quarantine` marks a session whose state the loaded machine cannot restore; everything stored
 *   stays as it was (`quarantine(id, undefined)` lifts the mark).
 * - `delete` forgets a session. Writes for one id are applied in call order.
 * - Labels: a session's label travels in its meta; the label each `key` last had is remembered per
 *   group (`rememberLabel`), so the same key gets it back, even on another host process.
 * - Held mail: what `deliver` holds for a label no session has, in order (`holdMail` resolves
 *   once it is kept).
 * - The process ledger: every subprocess a session starts is recorded (pid and start time) until
 *   it exits, so the next host on a durable store can kill what a dead host left running.
 * Small enough that a networked store can implement it later; `MemoryStore` (tests, 'memory')
 * and `LmdbStore` (the default) do.
 */
import { createPackr } from '../../protocol/wire.js';

export interface SessionMeta {
  kind: string;
  pool: string;
  input: unknown;
  /** It had an IPC token: restored by another host process, it gets a fresh one. */
  linked?: boolean;
  /** Its label in a group (`spawn(kind, { label })`): held while it is stored, freed when it ends. */
  label?: SessionLabel;
}

export interface SessionLabel {
  group: string;
  label: string;
  key?: string;
}

/** An event `deliver` holds for a label (or, untargeted, for the group) until a session takes it. */
export interface HeldMail {
  to: string | undefined;
  event: unknown;
  /** ms since the epoch. */
  expiresAt: number;
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
  /** Its earliest armed timer's deadline (ms since the epoch); 0: none. */
  wakeAt: number;
  quarantined: Quarantine | undefined;
}

/** Why a stored session cannot be restored, and since when. */
export interface Quarantine {
  name: string;
  message: string;
  at: number;
}

/** A stored session as `list` gives it. */
export interface StoredSummary {
  id: string;
  pool: string;
  kind: string;
  passive: boolean;
  wakeAt: number;
  quarantined: Quarantine | undefined;
  linked: boolean;
  label: SessionLabel | undefined;
}

/** A session's restorable state: a snapshot (if any) and the events after it. */
export interface SessionState {
  snapshot: Uint8Array | undefined;
  snapshotSeq: number;
  /** Flat: `[seq₁, event₁, seq₂, event₂, …]`. */
  journal: unknown[];
  /** The snapshot's earliest armed timer (ms since the epoch); 0 or absent: none. */
  wakeAt?: number;
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
  /** Keeps a snapshot covering events up to `seq` (a later one at the same seq replaces it). */
  compact(id: string, seq: number, snapshot: Uint8Array, wakeAt?: number): void;
  drop(id: string, seq: number): void;
  save(id: string, meta: SessionMeta, state: SessionState, passive: boolean): Promise<void>;
  load(id: string): StoredSession | undefined;
  /** Marks (or with `undefined`, unmarks) a session as quarantined; nothing else changes. */
  quarantine(id: string, cause: Quarantine | undefined): Promise<void>;
  /** Every stored session: id and meta, whether it is passive, its wake time, its quarantine. */
  list(): StoredSummary[];
  delete(id: string): Promise<void>;
  rememberLabel(group: string, key: string, label: string): void;
  rememberedLabels(): Array<{ group: string; key: string; label: string }>;
  holdMail(group: string, seq: number, mail: HeldMail): Promise<void>;
  releaseMail(group: string, seq: number): void;
  heldMail(): Array<{ group: string; seq: number; mail: HeldMail }>;
  recordProcess(pid: number, startTime: string): void;
  forgetProcess(pid: number): void;
  recordedProcesses(): Array<{ pid: number; startTime: string }>;
  close(): Promise<void>;
}

interface MemoryEntry extends SessionMeta {
  passive: boolean;
  wakeAt: number;
  quarantined: Quarantine | undefined;
  snapshot: Uint8Array | undefined;
  snapshotSeq: number;
  journal: Map<number, unknown>;
}

const packr = createPackr();

/** A store in the host's memory: for tests, and for hosts that need no restart durability. */
export class MemoryStore implements SessionStore {
  readonly durable = false;
  readonly #sessions = new Map<string, MemoryEntry>();
  readonly #processes = new Map<number, string>();
  readonly #labels = new Map<string, { group: string; key: string; label: string }>();
  readonly #mail = new Map<string, { group: string; seq: number; mail: HeldMail }>();

  begin(id: string, meta: SessionMeta): void {
    const { kind, pool, input, linked, label } = meta;
    this.#sessions.set(id, { kind, pool, input, linked, label, passive: false, wakeAt: 0, quarantined: undefined, snapshot: undefined, snapshotSeq: 0, journal: new Map() });
  }

  append(id: string, seq: number, event: Uint8Array): Promise<void> {
    this.#sessions.get(id)?.journal.set(seq, packr.unpack(event));
    return Promise.resolve();
  }

  compact(id: string, seq: number, snapshot: Uint8Array, wakeAt = 0): void {
    const entry = this.#sessions.get(id);
    if (!entry || seq < entry.snapshotSeq) return;
    entry.passive = false;
    entry.wakeAt = wakeAt;
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
    this.#sessions.set(id, { ...meta, passive, wakeAt: state.wakeAt ?? 0, quarantined: undefined, snapshot: state.snapshot, snapshotSeq: state.snapshotSeq, journal });
    return Promise.resolve();
  }

  quarantine(id: string, cause: Quarantine | undefined): Promise<void> {
    const entry = this.#sessions.get(id);
    if (entry) entry.quarantined = cause;
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
    const { kind, pool, input, linked, label, passive, snapshot, snapshotSeq, wakeAt, quarantined } = entry;
    return { kind, pool, input, linked, ...(label ? { label } : {}), passive, snapshot, snapshotSeq, journal, seq, wakeAt, quarantined };
  }

  list(): StoredSummary[] {
    return [...this.#sessions].map(([id, { pool, kind, passive, wakeAt, quarantined, linked = false, label }]) => ({ id, pool, kind, passive, wakeAt, quarantined, linked, label }));
  }

  delete(id: string): Promise<void> {
    this.#sessions.delete(id);
    return Promise.resolve();
  }

  rememberLabel(group: string, key: string, label: string): void {
    this.#labels.set(`${group}\u0000${key}`, { group, key, label });
  }

  rememberedLabels(): Array<{ group: string; key: string; label: string }> {
    return [...this.#labels.values()];
  }

  holdMail(group: string, seq: number, mail: HeldMail): Promise<void> {
    this.#mail.set(`${group}\u0000${seq}`, { group, seq, mail });
    return Promise.resolve();
  }

  releaseMail(group: string, seq: number): void {
    this.#mail.delete(`${group}\u0000${seq}`);
  }

  heldMail(): Array<{ group: string; seq: number; mail: HeldMail }> {
    return [...this.#mail.values()].sort((a, b) => (a.group === b.group ? a.seq - b.seq : a.group < b.group ? -1 : 1));
  }

  recordProcess(pid: number, startTime: string): void {
    this.#processes.set(pid, startTime);
  }

  forgetProcess(pid: number): void {
    this.#processes.delete(pid);
  }

  recordedProcesses(): Array<{ pid: number; startTime: string }> {
    return [...this.#processes].map(([pid, startTime]) => ({ pid, startTime }));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
