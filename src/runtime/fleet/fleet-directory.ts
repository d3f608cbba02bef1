/**
 * What each host of a fleet knows of the other hosts' sessions: `peek` and `list` for any session,
 * and labels across hosts (shared/FLEET.md, "Shape": `peek(id).host` says where a session lives).
 *
 * Contract:
 * - Two KV buckets, watched live: the fleet's sessions (kind, pool, label: each session's owner
 *   puts it when the session begins, deletes it when it ends for good — jetstream-store.ts) and
 *   the shard leases (each lease's value is its holder's name).
 * - `info(id)` of a session this host does not have: status `remote`, `host` the holder of its
 *   shard as last seen (`undefined` while no host holds it, e.g. between a crash and a takeover).
 * - Every session's label is held in this host's label index (`hold`): `lookup`, `deliver` (sent
 *   where the session lives) and the untargeted policies see the whole fleet; a label taken on
 *   another host is `labelTaken` here too, so mail held here for it is sent there. A session that
 *   ends for good anywhere releases its label everywhere.
 * - Eventually consistent (a watch's delay, ~ms on one network): for operators and addressing,
 *   never for ownership — that is decided only by leases.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import { createPackr } from '../../protocol/wire.js';
import type { SessionLabel } from '../store/store.js';
import type { SessionInfo } from '../types.js';
import { shardOf } from './placement.js';

interface Entry {
  kind: string;
  pool: string;
  label: SessionLabel | undefined;
}

export interface FleetDirectoryHooks {
  /** Whether this host has session `id` (live, leaving, passive or quarantined). */
  has(id: string): boolean;
  hold(id: string, label: SessionLabel): void;
  release(id: string): void;
  labelTaken(group: string, label: string, id: string): void;
}

export class FleetDirectory {
  readonly #shards: number;
  readonly #hooks: FleetDirectoryHooks;
  readonly #packr = createPackr();
  readonly #sessions = new Map<string, Entry>();
  /** shard → the host holding its lease, as last seen. */
  readonly #holders = new Map<number, string>();
  readonly #watches: Array<QueuedIterator<KvWatchEntry>> = [];

  private constructor(shards: number, hooks: FleetDirectoryHooks) {
    this.#shards = shards;
    this.#hooks = hooks;
  }

  static async open(buckets: { sessions: KV; leases: KV }, shards: number, hooks: FleetDirectoryHooks): Promise<FleetDirectory> {
    const directory = new FleetDirectory(shards, hooks);
    directory.#follow(await buckets.sessions.watch(), (entry) => directory.#session(entry));
    directory.#follow(await buckets.leases.watch({ key: 'shard.>' }), (entry) => directory.#lease(entry));
    return directory;
  }

  /** The host holding session `id`'s shard, as last seen. */
  hostOf(id: string): string | undefined {
    return this.holderOf(shardOf(id, this.#shards));
  }

  /** The host holding `shard`'s lease, as last seen. */
  holderOf(shard: number): string | undefined {
    return this.#holders.get(shard);
  }

  /** Session `id` as seen from here when it lives on another host; `undefined` if no host has it. */
  info(id: string): SessionInfo | undefined {
    const entry = this.#sessions.get(id);
    return entry && this.#info(id, entry);
  }

  /** Every session of the fleet this host does not have, that `wanted` keeps. */
  *rows(wanted: (id: string, pool: string, status: SessionInfo['status']) => boolean): IterableIterator<SessionInfo> {
    for (const [id, entry] of this.#sessions) if (!this.#hooks.has(id) && wanted(id, entry.pool, 'remote')) yield this.#info(id, entry);
  }

  close(): void {
    for (const watch of this.#watches) watch.stop();
  }

  #info(id: string, { kind, pool, label }: Entry): SessionInfo {
    const info: SessionInfo = { id, kind, pool, status: 'remote', pinned: false, lastActiveAt: 0, shard: -1, mailbox: 0, restarts: 0, pids: [] };
    const host = this.hostOf(id);
    if (host !== undefined) info.host = host;
    if (label) {
      info.label = label.label;
      info.group = label.group;
    }
    return info;
  }

  #follow(watch: QueuedIterator<KvWatchEntry>, apply: (entry: KvWatchEntry) => void): void {
    this.#watches.push(watch);
    void (async () => {
      for await (const entry of watch) apply(entry);
    })().catch(() => {});
  }

  #session(entry: KvWatchEntry): void {
    const id = Buffer.from(entry.key, 'hex').toString('utf8');
    if (entry.operation !== 'PUT') {
      this.#sessions.delete(id);
      if (!this.#hooks.has(id)) this.#hooks.release(id);
      return;
    }
    const { kind, pool, label } = this.#packr.unpack(entry.value) as { kind: string; pool: string; label?: SessionLabel | null };
    const known = this.#sessions.has(id);
    this.#sessions.set(id, { kind, pool, label: label ?? undefined });
    if (!label) return;
    this.#hooks.hold(id, label);
    // Taken on another host just now: mail held here for that label goes there.
    if (!known && entry.isUpdate && !this.#hooks.has(id)) this.#hooks.labelTaken(label.group, label.label, id);
  }

  #lease(entry: KvWatchEntry): void {
    const shard = Number(entry.key.slice('shard.'.length));
    if (entry.operation === 'PUT') this.#holders.set(shard, new TextDecoder().decode(entry.value));
    else this.#holders.delete(shard);
  }
}
