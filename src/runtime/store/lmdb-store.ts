/**
 * The default store: an embedded LMDB environment (the `lmdb` package) in a directory.
 *
 * Layout: `sessions` (id → meta, passive flag, latest snapshot and the seq it covers);
 * `segments`, the journal of accepted events, one write per tick (segment-journal.ts); `events`
 * (`journalKey(id, seq)` → an event's msgpack bytes) for the journals `save` writes whole, and an
 * empty value marking an event dropped as poison. Stores written before encode-once kept events
 * as objects in `journal`: `load` still reads them, clearing removes them.
 *
 * One owner per store: `open` takes ownership inside an LMDB write transaction, which LMDB makes
 * exclusive across processes, so checking that the previous owner is dead and taking over is one
 * atomic step and two hosts racing for a dead owner's store can never both win. The owner is
 * recorded with its process start time, so a pid the OS has since given to another process does
 * not pass for the old owner.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { StoreError, StoreLockedError } from '../../errors.js';
import { createPackr } from '../../protocol/wire.js';
import { processStartTime } from '../workers/process-start-time.js';
import { SegmentJournal } from './segment-journal.js';
import type { HeldMail, Quarantine, SessionMeta, SessionState, SessionStore, StoredSession, StoredSummary } from './store.js';

interface SessionRow extends SessionMeta {
  passive: boolean;
  snapshotSeq: number;
  snapshot?: Uint8Array;
  /** Absent in rows written before timers were kept: none. */
  wakeAt?: number;
  quarantined?: Quarantine;
}

interface OwnerRow {
  pid: number;
  startedAt: string | null;
}

const OWNER_KEY = 'owner';
/** Journal entries are msgpack, as `createPackr` writes them (encode once). */
const packr = createPackr();
/** Store directories a runtime of this process has open: the per-process half of ownership. */
const OPEN_IN_THIS_PROCESS = new Set<string>();
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export class LmdbStore implements SessionStore {
  readonly durable = true;
  readonly path: string;
  readonly #root: RootDatabase;
  readonly #sessions: Database<SessionRow, string>;
  readonly #journal: Database<Uint8Array, string>;
  readonly #segments: SegmentJournal;
  /** Ids with keys in `events` or the legacy journal: only theirs are cleared by a range scan. */
  readonly #perEvent = new Set<string>();
  /** The journal of stores written before encode-once: objects, read and cleared, never written. */
  readonly #legacyJournal: Database<unknown, string>;
  readonly #meta: Database<OwnerRow, string>;
  /** Subprocesses of the owner's sessions: pid → start time. */
  readonly #processes: Database<string, number>;
  /** `group NUL key` → the label that key last had. */
  readonly #labels: Database<string, string>;
  /** `group NUL seq (base 36, padded)` → held mail. */
  readonly #mail: Database<HeldMail, string>;

  /** Where a background write's failure is reported; a rejected write must never go unhandled. */
  readonly #onError: (error: unknown) => void;

  private constructor(path: string, onError: (error: unknown) => void) {
    this.path = path;
    this.#onError = onError;
    this.#root = open({ path });
    this.#sessions = this.#root.openDB<SessionRow, string>({ name: 'sessions' });
    this.#journal = this.#root.openDB<Uint8Array, string>({ name: 'events', encoding: 'binary' });
    this.#segments = new SegmentJournal(this.#root.openDB<Uint8Array, number>({ name: 'segments', encoding: 'binary' }), onError);
    this.#legacyJournal = this.#root.openDB<unknown, string>({ name: 'journal' });
    this.#meta = this.#root.openDB<OwnerRow, string>({ name: 'meta' });
    this.#processes = this.#root.openDB<string, number>({ name: 'processes' });
    this.#labels = this.#root.openDB<string, string>({ name: 'labels' });
    this.#mail = this.#root.openDB<HeldMail, string>({ name: 'mail' });
  }

  /** Opens the store and takes ownership; rejects with `StoreLockedError` if a live host owns it. */
  static async open(path: string, onError: (error: unknown) => void = () => {}): Promise<LmdbStore> {
    const absolute = resolve(path);
    // LMDB's own lock lets one process open an environment many times; ownership is per
    // process (pid), so a second runtime in this process is refused here.
    if (OPEN_IN_THIS_PROCESS.has(absolute)) {
      throw new StoreLockedError(absolute, process.pid, 'is open in another runtime of this process');
    }
    let store: LmdbStore;
    try {
      // Owner only: the store holds every session's context, IPC tokens included.
      mkdirSync(absolute, { recursive: true, mode: 0o700 });
      store = new LmdbStore(absolute, onError);
      for (const file of ['data.mdb', 'lock.mdb']) chmodSync(join(absolute, file), 0o600);
    } catch (error) {
      throw new StoreError(absolute, error);
    }
    try {
      store.#takeOwnership();
    } catch (error) {
      await store.#root.close();
      throw error;
    }
    OPEN_IN_THIS_PROCESS.add(absolute);
    store.#recover();
    return store;
  }

  #takeOwnership(): void {
    const me: OwnerRow = { pid: process.pid, startedAt: processStartTime(process.pid) };
    this.#root.transactionSync(() => {
      const owner = this.#meta.get(OWNER_KEY);
      if (owner && owner.pid !== process.pid && isSameLiveProcess(owner)) {
        throw new StoreLockedError(this.path, owner.pid);
      }
      this.#meta.putSync(OWNER_KEY, me);
    });
  }

  /** Indexes what the journal holds that no snapshot covers. */
  #recover(): void {
    const dropped = new Set<string>();
    for (const { key, value } of this.#journal.getRange()) {
      this.#perEvent.add(key.slice(0, key.lastIndexOf('\u0000')));
      if (value.length === 0) dropped.add(key);
    }
    for (const key of this.#legacyJournal.getKeys()) this.#perEvent.add(key.slice(0, key.lastIndexOf('\u0000')));
    const covers = new Map<string, number>();
    this.#segments.recover((id, seq) => {
      let snapshotSeq = covers.get(id);
      if (snapshotSeq === undefined) covers.set(id, (snapshotSeq = this.#sessions.get(id)?.snapshotSeq ?? MAX_SEQ));
      return seq <= snapshotSeq || dropped.has(journalKey(id, seq));
    });
  }

  begin(id: string, meta: SessionMeta): void {
    this.#clearJournal(id, MAX_SEQ);
    const row: SessionRow = rowMeta(meta);
    row.passive = false;
    row.snapshotSeq = 0;
    this.#background(this.#sessions.put(id, row));
  }

  append(id: string, seq: number, event: Uint8Array): Promise<void> {
    return this.#segments.append(id, seq, event);
  }

  compact(id: string, seq: number, snapshot: Uint8Array, wakeAt = 0): void {
    // Read and written in one write transaction: it sees the writes queued before it (a read
    // outside would see only committed ones, and an older snapshot could replace a newer).
    this.#background(
      this.#root.transaction(() => {
        const row = this.#sessions.get(id);
        if (!row || seq < row.snapshotSeq) return;
        // The row is this read's own copy: changed in place (a spread and new keys cost µs each).
        row.passive = false;
        row.snapshotSeq = seq;
        row.snapshot = snapshot;
        row.wakeAt = wakeAt;
        void this.#sessions.put(id, row);
        this.#clearJournal(id, seq);
      }),
    );
  }

  drop(id: string, seq: number): void {
    // A mark, not a removal: the event stays in its segment until a snapshot covers it.
    this.#segments.releaseOne(id, seq);
    this.#perEvent.add(id);
    this.#background(this.#journal.put(journalKey(id, seq), new Uint8Array(0)));
  }

  async save(id: string, meta: SessionMeta, state: SessionState, passive: boolean): Promise<void> {
    this.#clearJournal(id, MAX_SEQ);
    for (let index = 0; index < state.journal.length; index += 2) {
      this.#background(this.#journal.put(journalKey(id, state.journal[index] as number), packr.pack(state.journal[index + 1]).slice()));
    }
    if (state.journal.length > 0) this.#perEvent.add(id);
    const row: SessionRow = rowMeta(meta);
    row.passive = passive;
    row.snapshotSeq = state.snapshotSeq;
    row.wakeAt = state.wakeAt ?? 0;
    if (state.snapshot) row.snapshot = state.snapshot;
    await this.#sessions.put(id, row);
  }

  async quarantine(id: string, cause: Quarantine | undefined): Promise<void> {
    await this.#root.transaction(() => {
      const row = this.#sessions.get(id);
      if (!row) return;
      const { quarantined: _previous, ...rest } = row;
      void this.#sessions.put(id, cause ? { ...rest, quarantined: cause } : rest);
    });
  }

  load(id: string): StoredSession | undefined {
    const row = this.#sessions.get(id);
    if (!row) return undefined;
    const range = { start: journalKey(id, row.snapshotSeq + 1), end: journalKey(id, MAX_SEQ) };
    const bySeq = this.#segments.events(id, row.snapshotSeq);
    if (this.#perEvent.has(id)) {
      for (const { key, value } of this.#legacyJournal.getRange(range)) bySeq.set(seqOf(key), value);
      for (const { key, value } of this.#journal.getRange(range)) {
        if (value.length === 0) bySeq.delete(seqOf(key));
        else bySeq.set(seqOf(key), packr.unpack(value));
      }
    }
    const journal: unknown[] = [];
    let seq = row.snapshotSeq;
    for (const journaled of [...bySeq.keys()].sort((a, b) => a - b)) {
      journal.push(journaled, bySeq.get(journaled));
      seq = journaled;
    }
    const snapshot = row.snapshot ? new Uint8Array(row.snapshot) : undefined;
    const { kind, pool, input, linked, label, passive, snapshotSeq, wakeAt = 0, quarantined } = row;
    return { kind, pool, input, linked, ...(label ? { label } : {}), passive, snapshot, snapshotSeq, journal, seq, wakeAt, quarantined };
  }

  list(): StoredSummary[] {
    const rows: StoredSummary[] = [];
    for (const { key, value } of this.#sessions.getRange()) {
      const { pool, kind, passive, wakeAt = 0, quarantined, linked = false, label } = value;
      rows.push({ id: key, pool, kind, passive, wakeAt, quarantined, linked, label });
    }
    return rows;
  }

  async delete(id: string): Promise<void> {
    this.#clearJournal(id, MAX_SEQ);
    await this.#sessions.remove(id);
  }

  rememberLabel(group: string, key: string, label: string): void {
    this.#background(this.#labels.put(`${group}\u0000${key}`, label));
  }

  rememberedLabels(): Array<{ group: string; key: string; label: string }> {
    return [...this.#labels.getRange()].map(({ key, value }) => {
      const separator = key.indexOf('\u0000');
      return { group: key.slice(0, separator), key: key.slice(separator + 1), label: value };
    });
  }

  holdMail(group: string, seq: number, mail: HeldMail): Promise<void> {
    return this.#mail.put(mailKey(group, seq), mail) as Promise<unknown> as Promise<void>;
  }

  releaseMail(group: string, seq: number): void {
    this.#background(this.#mail.remove(mailKey(group, seq)));
  }

  heldMail(): Array<{ group: string; seq: number; mail: HeldMail }> {
    return [...this.#mail.getRange()].map(({ key, value }) => {
      const separator = key.lastIndexOf('\u0000');
      return { group: key.slice(0, separator), seq: parseInt(key.slice(separator + 1), 36), mail: value };
    });
  }

  recordProcess(pid: number, startTime: string): void {
    // Written before the spawn is reported: a host killed a moment later still has it on record
    // (a background write could still be queued). One small write per subprocess start.
    try {
      this.#processes.putSync(pid, startTime);
    } catch (error) {
      this.#onError(error);
    }
  }

  forgetProcess(pid: number): void {
    this.#background(this.#processes.remove(pid));
  }

  recordedProcesses(): Array<{ pid: number; startTime: string }> {
    return [...this.#processes.getRange()].map(({ key, value }) => ({ pid: key, startTime: value }));
  }

  /** Writes everything queued, gives up ownership, closes the environment. */
  async close(): Promise<void> {
    await this.#root.flushed;
    this.#root.transactionSync(() => {
      if (this.#meta.get(OWNER_KEY)?.pid === process.pid) this.#meta.removeSync(OWNER_KEY);
    });
    await this.#root.close();
    OPEN_IN_THIS_PROCESS.delete(this.path);
  }

  #background(write: Promise<unknown>): void {
    write.catch(this.#onError);
  }

  #clearJournal(id: string, uptoSeq: number): void {
    this.#segments.release(id, uptoSeq);
    if (!this.#perEvent.has(id)) return;
    if (uptoSeq === MAX_SEQ) this.#perEvent.delete(id);
    const range = { start: journalKey(id, 0), end: journalKey(id, uptoSeq + 1) };
    for (const key of this.#journal.getKeys(range)) this.#background(this.#journal.remove(key));
    for (const key of this.#legacyJournal.getKeys(range)) this.#background(this.#legacyJournal.remove(key));
  }
}

/**
 * A journal key: the id, a separator that sorts below every character, and the seq in base 36
 * padded to a fixed width, so keys sort by id, then by seq. (Measured: string keys encode faster
 * than [id, seq] array keys, on the send path of `durability: 'journal'`.)
 */
function journalKey(id: string, seq: number): string {
  return `${id}\u0000${seq.toString(36).padStart(11, '0')}`;
}

function mailKey(group: string, seq: number): string {
  return `${group}\u0000${seq.toString(36).padStart(11, '0')}`;
}

/** A session row with what it keeps of its meta; the caller sets the rest. */
function rowMeta(meta: SessionMeta): SessionRow {
  const row: SessionRow = { kind: meta.kind, pool: meta.pool, input: meta.input, linked: meta.linked === true, passive: false, snapshotSeq: 0 };
  if (meta.label) row.label = meta.label;
  return row;
}

function seqOf(key: string): number {
  return parseInt(key.slice(key.lastIndexOf('\u0000') + 1), 36);
}

/** Whether the process recorded as owner still runs (and is the same process, not a reused pid). */
function isSameLiveProcess(owner: OwnerRow): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return owner.startedAt === null || processStartTime(owner.pid) === owner.startedAt;
}
