// A machine whose events each cost ~100 µs of CPU: the CPU-heavy scenario.
import { assign, setup } from 'xstate';

function burn(microseconds: number): number {
  const until = performance.now() + microseconds / 1000;
  let spins = 0;
  while (performance.now() < until) spins++;
  return spins;
}

export default setup({
  types: { context: {} as { work: number }, events: {} as { type: 'WORK' } },
}).createMachine({
  id: 'bench-heavy',
  context: { work: 0 },
  on: { WORK: { actions: assign({ work: ({ context }) => context.work + (burn(100) > 0 ? 1 : 0) }) } },
});
