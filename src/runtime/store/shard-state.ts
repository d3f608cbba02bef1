/**
 * A shard's state in a fleet's store, as the writes of its log build it (jetstream-store.ts): the
 * writes, how each applies, and checkpoints.
 *
 * A checkpoint is the shard's whole state written as consecutive messages of its log:
 * `['checkpoint', 'begin']`, a `save` (and `quarantine`) per session and the routed calls
 * accepted lately (`calls`), then `['checkpoint', 'end']`. Once its end is written, every message
 * before its first one can be purged: a takeover replays the checkpoint and what follows.
 * A replay applies a checkpoint only when it reads its end: one cut short (its owner fenced
 * mid-way, so the next write is another owner's epoch marker) is ignored, and what came before
 * it still stands.
 */
import type { Packr } from 'msgpackr';
import type { MemoryStore, Quarantine, SessionMeta, SessionState } from './store.js';

export type Write =
  | ['epoch', number]
  | ['begin', string, SessionMeta]
  | ['append', string, number, Uint8Array]
  | ['append', string, number, Uint8Array, string]
  | ['compact', string, number, Uint8Array, number]
  | ['drop', string, number]
  | ['save', string, SessionMeta, SessionState, boolean]
  | ['quarantine', string, Quarantine | null]
  | ['delete', string]
  | ['checkpoint', 'begin' | 'end']
  | ['calls', string[]];

/** Applies one write to the state (a checkpoint's markers and call ids are the replay's business). */
export function applyWrite(state: MemoryStore, write: Write): void {
  switch (write[0]) {
    case 'begin':
      state.begin(write[1], write[2]);
      break;
    case 'append':
      void state.append(write[1], write[2], write[3]);
      break;
    case 'compact':
      state.compact(write[1], write[2], write[3], write[4]);
      break;
    case 'drop':
      state.drop(write[1], write[2]);
      break;
    case 'save':
      void state.save(write[1], write[2], write[3], write[4]);
      break;
    case 'quarantine':
      void state.quarantine(write[1], write[2] ?? undefined);
      break;
    case 'delete':
      void state.delete(write[1]);
      break;
    default:
      break;
  }
}

/** Replays one shard's log, message by message, into `state` (the shard's sessions in it are replaced). */
export class ShardReplay {
  readonly #state: MemoryStore;
  readonly #inShard: (id: string) => boolean;
  readonly #onCall: (callId: string) => void;
  /** A checkpoint being read: applied when its end comes. */
  #checkpoint: Write[] | undefined;
  /** Messages after the last complete checkpoint (or from the start). */
  sinceCheckpoint = 0;

  constructor(state: MemoryStore, inShard: (id: string) => boolean, onCall: (callId: string) => void) {
    this.#state = state;
    this.#inShard = inShard;
    this.#onCall = onCall;
    this.#clear();
  }

  message(writes: Write[]): void {
    this.sinceCheckpoint++;
    for (const write of writes) {
      if (write[0] === 'checkpoint') {
        if (write[1] === 'begin') this.#checkpoint = [];
        else if (this.#checkpoint) this.#apply(this.#checkpoint);
        continue;
      }
      if (this.#checkpoint && (write[0] === 'save' || write[0] === 'quarantine' || write[0] === 'calls')) {
        this.#checkpoint.push(write);
        continue;
      }
      // Anything else inside a checkpoint: it was cut short (another owner wrote next).
      this.#checkpoint = undefined;
      applyWrite(this.#state, write);
      if (write[0] === 'append' && write[4] !== undefined) this.#onCall(write[4]);
    }
  }

  #apply(checkpoint: Write[]): void {
    this.#checkpoint = undefined;
    this.sinceCheckpoint = 0;
    this.#clear();
    for (const write of checkpoint) {
      if (write[0] === 'calls') for (const callId of write[1]) this.#onCall(callId);
      else applyWrite(this.#state, write);
    }
  }

  #clear(): void {
    for (const { id } of this.#state.list()) if (this.#inShard(id)) void this.#state.delete(id);
  }
}

/**
 * The shard's state (sessions `ids` of `state`, and `calls`) as checkpoint messages, each at most
 * about `maxBytes` packed (a NATS message is at most 1 MB by default).
 */
export function checkpointMessages(state: MemoryStore, ids: string[], calls: string[], packr: Packr, maxBytes: number): Uint8Array[] {
  const messages: Uint8Array[] = [];
  let part: Write[] = [['checkpoint', 'begin'], ['calls', calls]];
  let bytes = 0;
  for (const id of ids) {
    const stored = state.load(id);
    if (!stored) continue;
    const { kind, pool, input, linked, label, snapshot, snapshotSeq, journal, wakeAt, passive, quarantined } = stored;
    const meta: SessionMeta = label ? { kind, pool, input, linked, label } : { kind, pool, input, linked };
    const writes: Write[] = [['save', id, meta, { snapshot, snapshotSeq, journal, wakeAt }, passive]];
    if (quarantined) writes.push(['quarantine', id, quarantined]);
    const size = packr.pack(writes).length;
    if (bytes > 0 && bytes + size > maxBytes) {
      messages.push(packr.pack(part).slice());
      part = [];
      bytes = 0;
    }
    part.push(...writes);
    bytes += size;
  }
  part.push(['checkpoint', 'end']);
  messages.push(packr.pack(part).slice());
  return messages;
}
