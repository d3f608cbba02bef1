/**
 * Warming a standby worker: XState's start, event, persist and restore paths run on a built-in
 * machine — never user code — so a standby worker's JIT is warm when a recovery restores a
 * shard's sessions onto it. (Measured: a fresh worker spawned sessions ~2× slower than a warm
 * one; a restore is a spawn.)
 */
import { assign, createActor, setup } from 'xstate';
import type { Packr } from 'msgpackr';

const WARM_UP_MACHINE = setup({ types: { context: {} as { n: number } } }).createMachine({
  context: { n: 0 },
  initial: 'a',
  states: {
    a: { on: { NEXT: { target: 'b', actions: assign({ n: ({ context }) => context.n + 1 }) } } },
    b: { on: { NEXT: { target: 'a', actions: assign({ n: ({ context }) => context.n + 1 }) } } },
  },
});

export function warmUp(rounds: number, packr: Packr): void {
  for (let round = 0; round < rounds; round++) {
    const actor = createActor(WARM_UP_MACHINE).start();
    actor.send({ type: 'NEXT' });
    const persisted = packr.unpack(packr.pack(actor.getPersistedSnapshot()).slice());
    actor.stop();
    const restored = createActor(WARM_UP_MACHINE, { snapshot: persisted as never }).start();
    restored.send({ type: 'NEXT' });
    restored.stop();
  }
}
