// Calls across a fleet (src/runtime/fleet/fleet-router.ts) on a real nats-server: a call made on
// one host runs on the shard's owner; errors keep their class; a takeover is waited out within a
// bound; a retried call is not run twice. Each host's local calls are a counter per session here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FleetRouter } from '../dist/src/runtime/fleet/fleet-router.js';
import { FencedError } from '../dist/src/runtime/fleet/shard-log.js';
import { shardOf } from '../dist/src/runtime/fleet/placement.js';
import { AskTimeoutError, ShardUnavailableError, UnknownSessionError } from '../dist/src/index.js';
import { startNats, type NatsServer } from './nats-server.js';

const SHARDS = 4;

describe('the fleet router on a real nats-server (2.9.10)', () => {
  let nats: NatsServer;
  const connections: NatsConnection[] = [];
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    try {
      for (const nc of connections) await nc.close();
    } finally {
      await nats?.stop();
    }
  }, 120_000);

  let fleets = 0;
  async function hosts(options: { requestTimeoutMs?: number; maxWaitMs?: number; delayMs?: number; acceptedBefore?: string[]; fenceOnce?: () => void } = {}) {
    const name = `routing${++fleets}`;
    const make = async (host: string) => {
      const nc = await connect({ servers: nats.url });
      connections.push(nc);
      const owned = new Set<number>();
      const counts = new Map<string, number>();
      const runs: string[] = [];
      const router = new FleetRouter({
        nc,
        name,
        shards: SHARDS,
        host,
        owns: (shard) => owned.has(shard),
        ledger: { callId: undefined, accepted: (callId) => (options.acceptedBefore ?? []).includes(callId) },
        requestTimeoutMs: options.requestTimeoutMs ?? 2_000,
        maxWaitMs: options.maxWaitMs ?? 5_000,
        local: {
          async call(op, id) {
            runs.push(`${op} ${id}`);
            if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
            if (op === 'inc' && host === 'host-b' && options.fenceOnce) {
              // The shard lost under the call: its write refused, nothing kept.
              const fence = options.fenceOnce;
              options.fenceOnce = undefined;
              fence();
              throw new FencedError('fenced', { unwritten: true });
            }
            if (op === 'inc') counts.set(id, (counts.get(id) ?? 0) + 1);
            if (op === 'missing') throw new UnknownSessionError(id);
            return { host, count: counts.get(id) ?? 0 };
          },
        },
      });
      const own = (shard: number) => {
        owned.add(shard);
        router.serve(shard);
      };
      const disown = (shard: number) => {
        owned.delete(shard);
        router.unserve(shard);
      };
      // The server has this host's subscriptions and unsubscriptions (a request after it sees them).
      const flushed = () => nc.flush();
      return { router, own, disown, flushed, counts, runs };
    };
    return { a: await make('host-a'), b: await make('host-b') };
  }

  const id = 'session-1';
  const shard = shardOf(id, SHARDS);

  it("a call made on a host that does not own the session's shard runs on its owner", async () => {
    const { a, b } = await hosts();
    b.own(shard);
    expect(await a.router.call('inc', id, [])).toEqual({ host: 'host-b', count: 1 });
    expect(b.counts.get(id)).toBe(1);
    expect(a.counts.get(id)).toBeUndefined();
    // On the owner itself: no request at all.
    expect(await b.router.call('inc', id, [])).toEqual({ host: 'host-b', count: 2 });
    a.router.close();
    b.router.close();
  });

  it("the owner's typed error arrives as the same class, with its code", async () => {
    const { a, b } = await hosts();
    b.own(shard);
    const error = await a.router.call('missing', id, []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownSessionError);
    expect(error).toMatchObject({ code: 'ERR_UNKNOWN_SESSION' });
    a.router.close();
    b.router.close();
  });

  it('a call during a takeover waits for the new owner; with no owner at all it rejects with ShardUnavailableError', async () => {
    const { a, b } = await hosts({ maxWaitMs: 1_500 });
    setTimeout(() => b.own(shard), 300);
    expect(await a.router.call('inc', id, [])).toEqual({ host: 'host-b', count: 1 });
    b.disown(shard);
    await b.flushed();
    const started = performance.now();
    const error = await a.router.call('inc', 'session-1', []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShardUnavailableError);
    expect((error as Error).message).toContain('nothing was done — try again');
    expect(error).toMatchObject({ mayBeDone: false });
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(b.counts.get(id)).toBe(1);
    a.router.close();
    b.router.close();
  });

  it('a call its owner took and did not answer within the bound: ShardUnavailableError says it may have been done', async () => {
    const { a, b } = await hosts({ requestTimeoutMs: 200, maxWaitMs: 600, delayMs: 1_500 });
    b.own(shard);
    await b.flushed();
    const error = await a.router.call('inc', id, []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShardUnavailableError);
    expect(error).toMatchObject({ mayBeDone: true });
    expect((error as Error).message).toContain('may have been done');
    // It was: the owner ran it once (the retries were answered from its first run).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(b.counts.get(id)).toBe(1);
    a.router.close();
    b.router.close();
  });

  it('a call whose owner lost the shard under it (its write fenced: nothing kept) is retried with the next owner, and done once', async () => {
    const owners: { a?: Awaited<ReturnType<typeof hosts>>['a']; b?: Awaited<ReturnType<typeof hosts>>['b'] } = {};
    const pair = await hosts({
      fenceOnce: () => {
        owners.b!.disown(shard);
        owners.a!.own(shard);
      },
    });
    Object.assign(owners, pair);
    pair.b.own(shard);
    expect(await pair.a.router.call('inc', id, [])).toEqual({ host: 'host-a', count: 1 });
    expect(pair.b.counts.get(id)).toBeUndefined();
    pair.a.router.close();
    pair.b.router.close();
  });

  it('a call retried after its answer was too slow runs once: the owner answers the retry with the first result', async () => {
    const { a, b } = await hosts({ requestTimeoutMs: 100, delayMs: 400 });
    b.own(shard);
    expect(await a.router.call('inc', id, [])).toEqual({ host: 'host-b', count: 1 });
    expect(b.runs).toEqual([`inc ${id}`]);
    a.router.close();
    b.router.close();
  });

  it("a send the shard's previous owner accepted (its answer lost) is not accepted again by the new owner", async () => {
    // host-a's first call id is "host-a:1"; the new owner finds it in the shard's journal.
    const { a, b } = await hosts({ acceptedBefore: ['host-a:1'] });
    b.own(shard);
    expect(await a.router.call('send', id, [{ type: 'INC' }])).toBeUndefined();
    expect(b.runs).toEqual([]);
    await a.router.call('send', id, [{ type: 'INC' }]);
    expect(b.runs).toEqual([`send ${id}`]);
    a.router.close();
    b.router.close();
  });

  it("an ask the shard's previous owner accepted is not accepted again: AskTimeoutError says its answer was lost in the takeover", async () => {
    const { a, b } = await hosts({ acceptedBefore: ['host-a:1'] });
    b.own(shard);
    const lost = a.router.call('ask', id, [{ type: 'GET' }]);
    await expect(lost).rejects.toBeInstanceOf(AskTimeoutError);
    await expect(lost).rejects.toThrow(/answer was lost when the session's shard moved/);
    expect(b.runs).toEqual([]);
    // Another ask (a new call id) is taken.
    await a.router.call('ask', id, [{ type: 'GET' }]);
    expect(b.runs).toEqual([`ask ${id}`]);
    a.router.close();
    b.router.close();
  });
});
