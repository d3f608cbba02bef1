// CPU-heavy events, and a crash storm: workers killed under load.
import { createActor, type AnyActorRef, type AnyStateMachine } from 'xstate';
import { MailboxFullError } from '../../src/index.js';
import { benchRuntime, drive, until } from '../measure.js';

const HEAVY = new URL('../machines/heavy.machine.js', import.meta.url);
const KILLER = new URL('../machines/killer.machine.js', import.meta.url);

/** Events of ~100 µs each: actorhost on `workers` workers beside the same machine in-process. */
export async function cpuHeavy(sessions: number, events: number, workers: number): Promise<{ actorhost: number; inProcess: number }> {
  const machine = ((await import(HEAVY.href)) as { default: AnyStateMachine }).default;
  const actors: AnyActorRef[] = Array.from({ length: sessions }, () => createActor(machine).start());
  const inProcessStarted = performance.now();
  await drive(events, 200, (i) => actors[i % sessions]!.send({ type: 'WORK' }));
  const inProcess = events / ((performance.now() - inProcessStarted) / 1000);
  for (const actor of actors) actor.stop();

  const runtime = await benchRuntime({ machines: { heavy: HEAVY }, workers, standbyWorker: false, mailbox: { capacity: 100_000 } });
  try {
    const ids = Array.from({ length: sessions }, (_, i) => `h${i}`);
    await Promise.all(ids.map((id) => runtime.spawn('heavy', { id })));
    const started = performance.now();
    await drive(events, 200, (i) => void runtime.send(ids[i % sessions]!, { type: 'WORK' }));
    await until(() => runtime.stats().mailboxed === 0, 300_000);
    return { actorhost: events / ((performance.now() - started) / 1000), inProcess };
  } finally {
    await runtime.shutdown();
  }
}

/**
 * Crash storm: `kills` workers killed (process.exit) while `events` events are sent. Reports each
 * recovery's time (death → every session restored) and the events lost: accepted minus counted,
 * which must be 0.
 */
export async function crashStorm(sessions: number, events: number, kills: number): Promise<{ recoveriesMs: number[]; accepted: number; counted: number; lost: number; refused: number }> {
  const runtime = await benchRuntime({ machines: { counter: KILLER }, workers: 2, restart: { intensity: 1_000, periodMs: 1_000 } });
  try {
    const ids = Array.from({ length: sessions }, (_, i) => `c${i}`);
    await Promise.all(ids.map((id) => runtime.spawn('counter', { id })));
    const killers = Array.from({ length: kills }, (_, i) => `k${i}`);
    await Promise.all(killers.map((id) => runtime.spawn('counter', { id })));
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the standby worker is up
    const recoveriesMs: number[] = [];
    let diedAt = 0;
    runtime.on('workerExit', () => (diedAt = performance.now()));
    let accepted = 0;
    let refused = 0;
    const every = Math.floor(events / (kills + 1));
    for (let sent = 0, killed = 0; sent < events; sent += 1_000) {
      const batch = Array.from({ length: 1_000 }, (_, i) =>
        runtime.send(ids[(sent + i) % sessions]!, { type: 'INC' }).then(
          () => void accepted++,
          (error: unknown) => {
            if (!(error instanceof MailboxFullError)) throw error;
            refused++;
          },
        ),
      );
      if (killed < kills && sent >= every * (killed + 1)) {
        diedAt = 0;
        void runtime.send(killers[killed++]!, { type: 'EXIT' });
        await until(() => diedAt > 0, 30_000);
        await until(() => runtime.list({ status: 'restarting' }).length === 0, 60_000);
        recoveriesMs.push(performance.now() - diedAt);
      }
      await Promise.all(batch);
    }
    await until(() => runtime.stats().mailboxed === 0, 60_000);
    const counts = await Promise.all(ids.map(async (id) => (await runtime.getSnapshot(id)).context.count as number));
    const counted = counts.reduce((sum, count) => sum + count, 0);
    return { recoveriesMs, accepted, counted, lost: accepted - counted, refused };
  } finally {
    await runtime.shutdown();
  }
}
