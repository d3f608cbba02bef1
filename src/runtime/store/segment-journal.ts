/**
 * The LMDB store's journal of accepted events, written one segment per tick: every event accepted
 * in one turn of the host's code goes into one LMDB write, and every `send` of that tick resolves
 * when it commits. A segment is `[id₁, seq₁, bytes₁, id₂, seq₂, bytes₂, …]` (the bytes are the
 * events' msgpack, as their workers were sent them: encode once), keyed by a number that only
 * grows.
 *
 * A segment is removed once snapshots cover all of its events: the journal counts, per segment,
 * the events still needed, and keeps per session the segments its uncovered events are in. So
 * compaction is a few counter updates and, now and then, one removal — not one write per event
 * (measured: with a key per event, its put and its removal took a quarter of the host's time
 * under `durability: 'journal'`).
 *
 * At open, every segment is read once: the events a snapshot (or a poison mark) does not cover
 * are indexed, and segments with none are removed.
 */
import type { Database } from 'lmdb';
import { createPackr } from '../../protocol/wire.js';

const RESOLVED = Promise.resolve();
/** Segments decoded by `events` kept for the next call: a restart's loads read the same few. */
const DECODED_KEPT = 16;

interface Tick {
  segment: number;
  items: unknown[];
  /** Its events still needed (a snapshot may cover one before the tick ends). */
  live: number;
  done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export class SegmentJournal {
  readonly #db: Database<Uint8Array, number>;
  readonly #packr = createPackr();
  readonly #onError: (error: unknown) => void;
  /** Per session, its events no snapshot covers yet: `[seq, segment, seq, segment, …]`, by seq. */
  readonly #entries = new Map<string, number[]>();
  /** Per written segment, how many of its events are still needed (the tick counts its own). */
  readonly #live = new Map<number, number>();
  readonly #decoded = new Map<number, unknown[]>();
  #next: number;
  #tick: Tick | undefined;

  constructor(db: Database<Uint8Array, number>, onError: (error: unknown) => void) {
    this.#db = db;
    this.#onError = onError;
    let last = 0;
    for (const key of db.getKeys({ reverse: true, limit: 1 })) last = key;
    this.#next = last + 1;
  }

  /** At open: indexes the events `covered` says are still needed; removes segments with none. */
  recover(covered: (id: string, seq: number) => boolean): void {
    for (const { key, value } of this.#db.getRange()) {
      const items = this.#packr.unpack(value) as unknown[];
      let live = 0;
      for (let index = 0; index < items.length; index += 3) {
        const id = items[index] as string;
        const seq = items[index + 1] as number;
        if (covered(id, seq)) continue;
        this.#index(id, seq, key);
        live++;
      }
      if (live === 0) this.#db.remove(key).catch(this.#onError);
      else this.#live.set(key, live);
    }
  }

  /** Journals an event (its bytes are read when the tick ends); resolves when its segment is on disk. */
  append(id: string, seq: number, event: Uint8Array): Promise<void> {
    let tick = this.#tick;
    if (tick === undefined) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      tick = this.#tick = { segment: this.#next++, items: [], live: 0, done, resolve, reject };
      void RESOLVED.then(() => this.#flush());
    }
    tick.items.push(id, seq, event);
    this.#index(id, seq, tick.segment);
    tick.live++;
    return tick.done;
  }

  /** The events of `id` still journaled after `afterSeq`, by seq, decoded. */
  events(id: string, afterSeq: number): Map<number, unknown> {
    const bySeq = new Map<number, unknown>();
    const entries = this.#entries.get(id);
    if (!entries) return bySeq;
    const wanted = new Set<number>();
    for (let index = 0; index < entries.length; index += 2) if (entries[index]! > afterSeq) wanted.add(entries[index]!);
    for (const segment of new Set(entries.filter((_, index) => index % 2 === 1))) {
      const items = this.#items(segment);
      for (let index = 0; index < items.length; index += 3) {
        const seq = items[index + 1] as number;
        if (items[index] === id && wanted.has(seq)) bySeq.set(seq, this.#packr.unpack(items[index + 2] as Uint8Array));
      }
    }
    return bySeq;
  }

  /** Forgets `id`'s events up to `uptoSeq` (all by default): a snapshot covers them, or the session is gone. */
  release(id: string, uptoSeq = Number.MAX_SAFE_INTEGER): void {
    const entries = this.#entries.get(id);
    if (!entries) return;
    let index = 0;
    for (; index < entries.length && entries[index]! <= uptoSeq; index += 2) this.#unneeded(entries[index + 1]!);
    if (index === entries.length) this.#entries.delete(id);
    else entries.splice(0, index);
  }

  /** Forgets one event (dropped as poison). */
  releaseOne(id: string, seq: number): void {
    const entries = this.#entries.get(id);
    const index = entries?.findIndex((value, at) => at % 2 === 0 && value === seq) ?? -1;
    if (index < 0) return;
    this.#unneeded(entries![index + 1]!);
    entries!.splice(index, 2);
    if (entries!.length === 0) this.#entries.delete(id);
  }

  #index(id: string, seq: number, segment: number): void {
    const entries = this.#entries.get(id);
    if (entries) entries.push(seq, segment);
    else this.#entries.set(id, [seq, segment]);
  }

  #unneeded(segment: number): void {
    // The tick's own segment is not written yet: its flush skips it if nothing is left.
    if (segment === this.#tick?.segment) {
      this.#tick.live--;
      return;
    }
    const live = this.#live.get(segment)! - 1;
    if (live > 0) {
      this.#live.set(segment, live);
      return;
    }
    this.#live.delete(segment);
    this.#decoded.delete(segment);
    this.#db.remove(segment).catch(this.#onError);
  }

  #flush(): void {
    const tick = this.#tick!;
    this.#tick = undefined;
    if (tick.live === 0) return tick.resolve();
    this.#live.set(tick.segment, tick.live);
    // `pack` returns a view of the packr's reused buffer: the write gets its own copy.
    this.#db.put(tick.segment, this.#packr.pack(tick.items).slice()).then(tick.resolve, tick.reject);
  }

  #items(segment: number): unknown[] {
    if (segment === this.#tick?.segment) return this.#tick.items;
    let items = this.#decoded.get(segment);
    if (items === undefined) {
      const value = this.#db.get(segment);
      // Not committed yet (its tick's sends have not resolved): nothing to read, nothing to keep.
      if (!value) return [];
      items = this.#packr.unpack(value) as unknown[];
      if (this.#decoded.size >= DECODED_KEPT) this.#decoded.delete(this.#decoded.keys().next().value!);
      this.#decoded.set(segment, items);
    }
    return items;
  }
}
