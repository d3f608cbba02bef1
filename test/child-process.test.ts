import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  eventually,
  fixture,
  manualClock,
  processExists,
  type Runtime,
  useRuntime,
} from './helpers.js';

const start = useRuntime({
  machines: { owner: fixture('child'), counter: fixture('counter') },
});

/** A killed grandchild is reparented to init, which reaps it: until then it is a zombie, not alive. */
function running(pid: number): boolean {
  if (!processExists(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Spawns a session that runs `sh`, which starts a grandchild; resolves with both pids. */
async function spawnOwner(rt: Runtime, id: string, pool?: string): Promise<{ pid: number; grandchild: number }> {
  await rt.spawn('owner', { id, ...(pool ? { pool } : {}) });
  // Generous: on a loaded 2-core machine a subprocess and its child can take seconds to start.
  const snapshot = await rt.waitFor(id, (s) => s.context.pid > 0 && s.context.grandchild > 0, { timeoutMs: 25_000 });
  const { pid, grandchild } = snapshot.context as { pid: number; grandchild: number };
  expect(running(pid) && running(grandchild)).toBe(true);
  expect(rt.peek(id)!.pids).toEqual([pid]);
  return { pid, grandchild };
}

describe('no orphans: a session’s subprocess tree is killed', () => {
  it('on stop, before stop resolves', async () => {
    const rt = await start();
    const { pid, grandchild } = await spawnOwner(rt, 'owner');
    await rt.stop('owner');
    expect(processExists(pid)).toBe(false);
    await eventually(() => !running(grandchild), 25_000);
  });

  it('on eviction — after the evicted event, whose handlers still see it alive', async () => {
    const clock = manualClock();
    const rt = await start({ pools: { chat: { capacity: 1 } }, now: clock.now });
    const { pid, grandchild } = await spawnOwner(rt, 'owner', 'chat');
    clock.advance(10);
    let aliveWhenReported = false;
    const done = new Promise<Promise<void>>((resolve) =>
      rt.on('evicted', (event) => {
        aliveWhenReported = running(pid);
        resolve(event.done);
      }),
    );
    await rt.spawn('counter', { id: 'newcomer', pool: 'chat' });
    await (await done);
    expect(aliveWhenReported).toBe(true);
    expect(processExists(pid)).toBe(false);
    await eventually(() => !running(grandchild), 25_000);
  });

  it('on restart after an action throws; the restored session starts a new one', async () => {
    const rt = await start();
    const { pid, grandchild } = await spawnOwner(rt, 'owner');
    await rt.send('owner', { type: 'BOOM' });
    await eventually(() => !processExists(pid) && !running(grandchild));
    await eventually(() => (rt.peek('owner')?.pids ?? []).some((p) => p !== pid));
    const [fresh] = rt.peek('owner')!.pids;
    expect(running(fresh!)).toBe(true);
  });

  it('on worker death: the host kills what the dead worker’s sessions had started', async () => {
    const rt = await start();
    const first = await spawnOwner(rt, 'first');
    const second = await spawnOwner(rt, 'second');
    await rt.send('first', { type: 'EXIT' });
    await eventually(() => [first.pid, second.pid].every((pid) => !processExists(pid)));
    await eventually(() => ![first.grandchild, second.grandchild].some(running));
    // Both sessions were restored, each with a new subprocess.
    await eventually(() => ['first', 'second'].every((id) => (rt.peek(id)?.pids.length ?? 0) === 1));
  });

  it('on shutdown', async () => {
    const rt = await start();
    const trees = [await spawnOwner(rt, 'a'), await spawnOwner(rt, 'b')];
    await rt.shutdown();
    for (const { pid, grandchild } of trees) {
      expect(processExists(pid)).toBe(false);
      await eventually(() => !running(grandchild), 25_000);
    }
  });
});
