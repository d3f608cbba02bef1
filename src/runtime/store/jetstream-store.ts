/**
 * The store of a fleet: JetStream behind the same `SessionStore` interface (shared/FLEET.md,
 * "Storage"). Fleet groundwork: it passes the store conformance suite; the runtime does not yet
 * open it (no `fleet` option yet).
 *
 * Each shard's sessions are kept as a log of their writes on the shard's own subject (a
 * `ShardLog`: fenced — a previous owner's writes are refused once this host took the shard). The
 * writes of one tick to one shard are one message; a shard's state is rebuilt by replaying its
 * log when this host acquires it, and is then served from memory (`load` and `list` are
 * synchronous). Labels, held mail and the process ledger live in KV buckets, mirrored in memory.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { createPackr } from '../../protocol/wire.js';
import { shardOf } from '../fleet/placement.js';
import { FencedError, ShardLog } from '../fleet/shard-log.js';
import { RECONNECT } from '../fleet/fleet-types.js';
import { applyWrite, checkpointMessages, ShardReplay, type Write } from './shard-state.js';
import { MemoryStore, type HeldMail, type Quarantine, type SessionMeta, type SessionState, type SessionStore, type StoredSession, type StoredSummary } from './store.js';

interface Shard {
  log: ShardLog;
  pending: Write[];
  done: Promise<void> | undefined;
  /** Messages written (or replayed) since the last checkpoint. */
  sinceCheckpoint: number;
  checkpointing: boolean;
}

/** A checkpoint message's size, at most (a NATS message is at most 1 MB by default). */
const CHECKPOINT_PART_BYTES = 256 * 1024;
/** How long a routed call's id is kept for recognising its retries (the router's bound is 15 s). */
const CALL_MEMORY_MS = 120_000;

const RESOLVED = Promise.resolve();

export interface JetStreamStoreOptions {
  servers: string | string[];
  /** The fleet's name: its stream, subjects and buckets are named after it. */
  name: string;
  shards: number;
  /** This host's name (its process ledger is its own). */
  host: string;
  /** JetStream replicas of the stream and buckets (3 on a three-node cluster). */
  replicas?: number;
  /** A shard's log is checkpointed (its whole state written, what came before purged) every this many messages; default 1,000. */
  checkpointEvery?: number;
  onError?: (error: unknown) => void;
}

export class JetStreamStore implements SessionStore {
  readonly durable = true;
  readonly #options: JetStreamStoreOptions;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #state = new MemoryStore();
  readonly #shards = new Map<number, Shard>();
  /** Ids of routed calls whose events are journaled, from the logs of the shards held: when accepted, in which shard. */
  readonly #calls = new Map<string, { shard: number; at: number }>();
  readonly #packr = createPackr();
  readonly #labels: Mirror<string>;
  readonly #mail: Mirror<HeldMail>;
  readonly #processes: Mirror<string>;
  /** The fleet's sessions (kind, pool, label), for every host's directory (fleet/fleet-directory.ts). */
  readonly #sessions: KV;

  private constructor(
    options: JetStreamStoreOptions,
    nc: NatsConnection,
    jsm: JetStreamManager,
    buckets: { labels: Mirror<string>; mail: Mirror<HeldMail>; processes: Mirror<string>; sessions: KV },
  ) {
    this.#options = options;
    this.#nc = nc;
    this.#js = jetstream(nc);
    this.#jsm = jsm;
    this.#labels = buckets.labels;
    this.#mail = buckets.mail;
    this.#processes = buckets.processes;
    this.#sessions = buckets.sessions;
  }

  static async open(options: JetStreamStoreOptions): Promise<JetStreamStore> {
    const nc = await connect({ servers: options.servers, ...RECONNECT });
    try {
      const jsm = await jetstreamManager(nc);
      const replicas = options.replicas ?? 1;
      const stream = streamName(options.name);
      await jsm.streams.info(stream).catch(() => jsm.streams.add({ name: stream, subjects: [`${options.name}.shard.*`], num_replicas: replicas }));
      const kvm = new Kvm(nc);
      const kv = (suffix: string) => kvm.create(`${options.name}-${suffix}`, { history: 1, replicas });
      const bucket = async <T>(suffix: string) => Mirror.open<T>(await kv(suffix));
      // Held mail and the process ledger are this host's own; labels and the directory the fleet's.
      return new JetStreamStore(options, nc, jsm, {
        labels: await bucket('labels'),
        mail: await bucket(`mail-${options.host}`),
        processes: await bucket(`processes-${options.host}`),
        sessions: await kv('sessions'),
      });
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /**
   * Takes shard `shard` over under `epoch` (its lease's): replays its log, then fences it for this
   * host with a marker conditional on the last message replayed (`FencedError` if a previous
   * owner's write landed meanwhile: the caller tries again, and the next replay has it).
   */
  async acquire(shard: number, epoch: number): Promise<void> {
    const stream = streamName(this.#options.name);
    const subject = `${this.#options.name}.shard.${shard}`;
    const { entries, last } = await ShardLog.read({ js: this.#js, jsm: this.#jsm, stream, subject });
    const marker: Write[] = [['epoch', epoch]];
    const log = await ShardLog.open({ js: this.#js, jsm: this.#jsm, stream, subject, epoch, marker: this.#packr.pack(marker).slice(), after: last });
    // Applied once the marker is written: the state is exactly the log this host now owns.
    const now = performance.now();
    const replay = new ShardReplay(this.#state, (id) => shardOf(id, this.#options.shards) === shard, (callId) => this.#calls.set(callId, { shard, at: now }));
    for (const entry of entries) replay.message(this.#packr.unpack(entry.data) as Write[]);
    this.#shards.set(shard, { log, pending: [], done: undefined, sinceCheckpoint: replay.sinceCheckpoint, checkpointing: false });
  }

  /** Set by the router while it runs a routed call synchronously: journaled with the call's event. */
  callId: string | undefined;

  /** Set by the fleet host: another owner wrote to shard `shard`'s log — this host must let it go. */
  onFenced: ((shard: number) => void) | undefined;

  /** Whether a routed call with this id was accepted (by this host or a previous owner of its shard). */
  accepted(callId: string): boolean {
    return this.#calls.has(callId);
  }

  /** Whether this host holds shard `shard` (acquired, not released, its log not fenced by another owner's write). */
  holds(shard: number): boolean {
    const held = this.#shards.get(shard);
    return held !== undefined && !held.log.fenced;
  }

  /**
   * Lets shard `shard` go (handed off or lost): its writes already made are awaited, later ones
   * are refused, and its sessions' state leaves this host's memory.
   */
  async release(shard: number): Promise<void> {
    const held = this.#shards.get(shard);
    if (!held) return;
    this.#shards.delete(shard);
    // At once, not after the last write: this host may take the shard back meanwhile, and its
    // replayed state must not be deleted under it. (Writes made were applied here already.)
    for (const { id } of this.#state.list()) if (shardOf(id, this.#options.shards) === shard) void this.#state.delete(id);
    await held.done?.catch(() => {});
  }

  /** Every shard at once, for a host that is the whole fleet (and the conformance suite). */
  async acquireAll(epoch: number): Promise<void> {
    for (let shard = 0; shard < this.#options.shards; shard++) await this.acquire(shard, epoch);
  }

  begin(id: string, meta: SessionMeta): void {
    void this.#write(id, ['begin', id, meta]).catch(this.#onError);
    const { kind, pool, label } = meta;
    void this.#sessions.put(directoryKey(id), this.#packr.pack({ kind, pool, label }).slice()).catch(this.#onError);
  }

  append(id: string, seq: number, event: Uint8Array): Promise<void> {
    // The bytes may be a view of a buffer reused later: the write keeps its own copy.
    // A routed call's id travels with its event (`callId`, set by the router around the call):
    // the next owner of the shard knows the call was accepted, and does not accept it again.
    const callId = this.callId;
    return this.#write(id, callId === undefined ? ['append', id, seq, event.slice()] : ['append', id, seq, event.slice(), callId]);
  }

  compact(id: string, seq: number, snapshot: Uint8Array, wakeAt = 0): void {
    void this.#write(id, ['compact', id, seq, snapshot, wakeAt]).catch(this.#onError);
  }

  drop(id: string, seq: number): void {
    void this.#write(id, ['drop', id, seq]).catch(this.#onError);
  }

  save(id: string, meta: SessionMeta, state: SessionState, passive: boolean): Promise<void> {
    return this.#write(id, ['save', id, meta, state, passive]);
  }

  quarantine(id: string, cause: Quarantine | undefined): Promise<void> {
    return this.#write(id, ['quarantine', id, cause ?? null]);
  }

  load(id: string): StoredSession | undefined {
    return this.#state.load(id);
  }

  list(): StoredSummary[] {
    return this.#state.list();
  }

  delete(id: string): Promise<void> {
    const deleted = this.#write(id, ['delete', id]);
    void deleted.then(() => this.#sessions.delete(directoryKey(id))).catch(this.#onError);
    return deleted;
  }

  rememberLabel(group: string, key: string, label: string): void {
    void this.#labels.put(`${group}\u0000${key}`, label).catch(this.#onError);
  }

  rememberedLabels(): Array<{ group: string; key: string; label: string }> {
    return this.#labels.entries().map(([key, label]) => {
      const separator = key.indexOf('\u0000');
      return { group: key.slice(0, separator), key: key.slice(separator + 1), label };
    });
  }

  holdMail(group: string, seq: number, mail: HeldMail): Promise<void> {
    return this.#mail.put(`${group}\u0000${seq}`, mail);
  }

  releaseMail(group: string, seq: number): void {
    void this.#mail.remove(`${group}\u0000${seq}`).catch(this.#onError);
  }

  heldMail(): Array<{ group: string; seq: number; mail: HeldMail }> {
    return this.#mail
      .entries()
      .map(([key, mail]) => ({ group: key.slice(0, key.indexOf('\u0000')), seq: Number(key.slice(key.indexOf('\u0000') + 1)), mail }))
      .sort((a, b) => (a.group === b.group ? a.seq - b.seq : a.group < b.group ? -1 : 1));
  }

  recordProcess(pid: number, startTime: string): void {
    void this.#processes.put(String(pid), startTime).catch(this.#onError);
  }

  forgetProcess(pid: number): void {
    void this.#processes.remove(String(pid)).catch(this.#onError);
  }

  recordedProcesses(): Array<{ pid: number; startTime: string }> {
    return this.#processes.entries().map(([pid, startTime]) => ({ pid: Number(pid), startTime }));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#shards.values()].map((shard) => shard.done));
    await Promise.allSettled([this.#labels.settled(), this.#mail.settled(), this.#processes.settled()]);
    await this.#nc.close();
  }

  readonly #onError = (error: unknown) => this.#options.onError?.(error);

  /** Applies the write here at once (reads see it), and sends it with the rest of this tick's writes to the shard. */
  #write(id: string, write: Write): Promise<void> {
    const index = shardOf(id, this.#options.shards);
    const shard = this.#shards.get(index);
    // Refused as a fenced write is: nothing was written (the caller may send it where the shard is now).
    if (!shard) return Promise.reject(new FencedError(`session ${JSON.stringify(id)} is in shard ${index}, which this host does not own`, { unwritten: true }));
    applyWrite(this.#state, write);
    if (shard.pending.push(write) === 1) {
      shard.done = RESOLVED.then(() => {
        const writes = shard.pending;
        shard.pending = [];
        const written = shard.log.append(this.#packr.pack(writes).slice()).then(
          () => {
            // A call counts as accepted once its event is in the log — not when it was applied here:
            // a write refused (fenced) or lost must not make a retry of its call look done.
            const at = performance.now();
            for (const write of writes) if (write[0] === 'append' && write[4] !== undefined) this.#calls.set(write[4], { shard: index, at });
          },
          (error: unknown) => {
            if (error instanceof FencedError && this.#shards.get(index) === shard) this.onFenced?.(index);
            throw error;
          },
        );
        if (++shard.sinceCheckpoint >= (this.#options.checkpointEvery ?? 1_000) && !shard.checkpointing) {
          shard.sinceCheckpoint = 0;
          const calls = this.#recentCalls(index);
          // Now, before any later write is queued: the state here is exactly the log up to `writes`.
          // Not on a cluster: nats-server 2.9.10 can replay a subject's purge as a whole stream's
          // after a node restarts (measured: every message lost), so replicated logs are not purged.
          if ((this.#options.replicas ?? 1) === 1) this.#checkpoint(index, shard, calls);
        }
        return written;
      });
    }
    return shard.done!;
  }

  /** Forgets routed call ids older than their retries can be; returns shard `index`'s. (Else they would pile up.) */
  #recentCalls(index: number): string[] {
    const horizon = performance.now() - CALL_MEMORY_MS;
    const calls: string[] = [];
    for (const [callId, { shard, at }] of this.#calls) {
      if (at < horizon) this.#calls.delete(callId);
      else if (shard === index) calls.push(callId);
    }
    return calls;
  }

  /**
   * Writes shard `index`'s whole state after its last write (shard-state.ts), then purges what came
   * before: a takeover replays the checkpoint and what follows, not the shard's whole history.
   */
  #checkpoint(index: number, shard: Shard, calls: string[]): void {
    shard.checkpointing = true;
    const ids = this.#state.list().filter(({ id }) => shardOf(id, this.#options.shards) === index).map(({ id }) => id);
    const parts = checkpointMessages(this.#state, ids, calls, this.#packr, CHECKPOINT_PART_BYTES);
    const written = parts.map((part) => shard.log.append(part));
    void Promise.all(written)
      .then(([first]) => this.#jsm.streams.purge(streamName(this.#options.name), { filter: shard.log.subject, seq: first! }))
      .catch(this.#onError)
      .finally(() => (shard.checkpointing = false));
  }
}

/** A session's key in the fleet's directory bucket (hex: KV keys allow few characters). */
export function directoryKey(id: string): string {
  return Buffer.from(id, 'utf8').toString('hex');
}

function streamName(fleet: string): string {
  return `${fleet}_shards`;
}

/**
 * A KV bucket mirrored in memory: reads are synchronous, writes go to the bucket (keys hex-encoded:
 * KV keys allow few characters). Loaded once at open.
 */
class Mirror<T> {
  readonly #kv: KV;
  readonly #values = new Map<string, T>();
  readonly #packr = createPackr();
  #writes: Promise<unknown> = RESOLVED;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  static async open<T>(kv: KV): Promise<Mirror<T>> {
    const mirror = new Mirror<T>(kv);
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry && entry.operation === 'PUT') mirror.#values.set(Buffer.from(key, 'hex').toString('utf8'), mirror.#packr.unpack(entry.value) as T);
    }
    return mirror;
  }

  entries(): Array<[string, T]> {
    return [...this.#values];
  }

  put(key: string, value: T): Promise<void> {
    this.#values.set(key, value);
    return this.#track(this.#kv.put(Buffer.from(key, 'utf8').toString('hex'), this.#packr.pack(value).slice()));
  }

  remove(key: string): Promise<void> {
    this.#values.delete(key);
    return this.#track(this.#kv.delete(Buffer.from(key, 'utf8').toString('hex')));
  }

  settled(): Promise<unknown> {
    return this.#writes;
  }

  #track(write: Promise<unknown>): Promise<void> {
    const done = write.then(() => undefined);
    this.#writes = Promise.allSettled([this.#writes, done]);
    return done;
  }
}
