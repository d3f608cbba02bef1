// Two hosts of one fleet in this process, on a nats-server of their own, for the fleet's tests:
// host A starts first (it takes every shard), then host B, which gets its share (half) from A's
// handoffs. The lease is long, so shards stay put on a busy machine. Shut down after the file.
import { afterAll, beforeAll } from 'vitest';
import { createRuntime, type Runtime, type RuntimeOptions } from '../dist/src/index.js';
import { eventually, silentLogger } from './helpers.js';
import { startNats, type NatsServer } from './nats-server.js';

export const PAIR_SHARDS = 4;

export interface FleetPair {
  nats: NatsServer & { restart(): Promise<void> };
  a: Runtime;
  b: Runtime;
  /** The shards host B took from host A. */
  shardsOfB: Set<number>;
}

export function useFleetPair(name: string, options: Partial<RuntimeOptions> & Pick<RuntimeOptions, 'machines'>): FleetPair {
  const pair = { shardsOfB: new Set<number>() } as FleetPair;
  const host = (host: string) =>
    createRuntime({
      workers: 1,
      logger: silentLogger,
      ...options,
      fleet: { servers: pair.nats.url, name, host, shards: PAIR_SHARDS, leaseTtlMs: 6_000 },
    });
  beforeAll(async () => {
    pair.nats = await startNats();
    pair.a = await host('host-a');
    pair.b = await host('host-b');
    pair.b.on('shardAcquired', ({ shard }) => pair.shardsOfB.add(shard));
    await eventually(() => pair.shardsOfB.size === PAIR_SHARDS / 2, 30_000);
  }, 60_000);
  afterAll(async () => {
    try {
      await pair.a?.shutdown();
      await pair.b?.shutdown();
    } finally {
      await pair.nats?.stop();
    }
  }, 60_000);
  return pair;
}
