// Chaos: workers killed at random (exit, hang, heap exhaustion) under load. Afterwards the host is
// alive, every session's count equals the events accepted for it, no subprocess is left, and the
// registry agrees with the workers. Seeded: set CHAOS_SEED to replay a run.
import { describe, expect, it } from 'vitest';
import {
  MailboxFullError,
  createRuntime,
  eventually,
  fixture,
  processExists,
  silentLogger,
  type RuntimeEvents,
} from './helpers.js';

/** mulberry32: a small deterministic PRNG. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const SESSIONS = 1_000;
const EVENTS = 20_000;
const KILL_EVERY = 3_000; // ⇒ 6 kills
const KILLS = ['EXIT', 'HANG', 'OOM'] as const;

describe('chaos', () => {
  it('keeps every accepted event through random worker deaths', { timeout: 120_000 }, async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000_007);
    process.stdout.write(`chaos seed: ${seed} (CHAOS_SEED=${seed} to replay)\n`);
    const next = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;

    const runtime = await createRuntime({
      machines: { killer: fixture('killer'), owner: fixture('child') },
      workers: 2,
      logger: silentLogger,
      store: 'memory',
      restart: { intensity: 100, periodMs: 1_000 },
      watchdog: { heartbeatMs: 100, hangTimeoutMs: 1_000 },
      resourceLimits: { maxOldGenerationSizeMb: 128 },
      snapshotEvery: 20,
    });
    const pidsSeen = new Set<number>();
    try {
      const exits: Array<RuntimeEvents['workerExit']> = [];
      runtime.on('workerExit', (exit) => exits.push(exit));
      const ids = Array.from({ length: SESSIONS }, (_, i) => `c${i}`);
      await Promise.all(ids.map((id) => runtime.spawn('killer', { id })));
      const killers = Array.from({ length: 6 }, (_, i) => `k${i}`);
      await Promise.all(killers.map((id) => runtime.spawn('killer', { id })));
      const owners = ['o0', 'o1', 'o2', 'o3'];
      await Promise.all(owners.map((id) => runtime.spawn('owner', { id })));
      const notePids = () => owners.forEach((id) => runtime.peek(id)?.pids.forEach((pid) => pidsSeen.add(pid)));

      const accepted = new Map<string, number>(ids.map((id) => [id, 0]));
      let refused = 0;
      let kills = 0;
      for (let sent = 0; sent < EVENTS; sent += 500) {
        const batch = Array.from({ length: 500 }, () => {
          const id = pick(ids);
          return runtime.send(id, { type: 'INC' }).then(
            () => accepted.set(id, accepted.get(id)! + 1),
            (error: unknown) => {
              if (!(error instanceof MailboxFullError)) throw error;
              refused++;
            },
          );
        });
        if (sent > 0 && sent % KILL_EVERY === 0) {
          const how = KILLS[kills % KILLS.length]!;
          void runtime.send(pick(killers), { type: how });
          kills++;
        }
        await Promise.all(batch);
        notePids();
        await new Promise((resolve) => setTimeout(resolve, Math.floor(next() * 40)));
      }

      // Let every kill be noticed and recovered, every mailbox drain, a heartbeat report.
      await eventually(() => exits.length >= kills, 60_000);
      await eventually(() => {
        const stats = runtime.stats();
        return (
          stats.mailboxed === 0 &&
          stats.shards.every((shard, index) => shard.alive && shard.shard === index && shard.actors === shard.sessions)
        );
      }, 30_000).catch((error: unknown) => {
        const { shards, mailboxed, restarts, crashed } = runtime.stats();
        const stuck = runtime.list().filter((s) => s.status !== 'active' || s.mailbox > 0).slice(0, 5);
        process.stdout.write(`chaos: not quiescent: ${JSON.stringify({ shards, mailboxed, restarts, crashed, stuck })}\n`);
        throw error;
      });
      notePids();

      expect(kills).toBeGreaterThanOrEqual(5);
      expect(exits.length).toBeGreaterThanOrEqual(5);
      const counts = await Promise.all(ids.map(async (id) => (await runtime.getSnapshot(id)).context.count as number));
      const mismatched = ids.filter((id, i) => counts[i] !== accepted.get(id));
      expect(mismatched).toEqual([]);
      const total = [...accepted.values()].reduce((sum, n) => sum + n, 0);
      expect(total + refused).toBe(EVENTS);
      expect(runtime.stats().sessions).toBe(SESSIONS + killers.length + owners.length);
      process.stdout.write(`chaos: ${exits.length} worker deaths, ${total} events accepted and kept, ${refused} refused\n`);
    } finally {
      await runtime.shutdown();
    }
    // Nothing any session started outlives the runtime.
    expect(pidsSeen.size).toBeGreaterThanOrEqual(4);
    expect([...pidsSeen].filter(processExists)).toEqual([]);
  });
});
