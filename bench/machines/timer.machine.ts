// The counter of the core benchmark with a timer: every INC re-enters `waiting`, which arms an
// `after` (a turn timeout, say) — so under `noRollback` every event is followed by a snapshot.
import { assign, setup } from 'xstate';

export default setup({
  types: { context: {} as { count: number }, events: {} as { type: 'INC' } },
}).createMachine({
  id: 'bench-timer',
  context: { count: 0 },
  initial: 'waiting',
  states: {
    waiting: { after: { 60_000: 'timedOut' } },
    timedOut: {},
  },
  on: { INC: { target: '.waiting', reenter: true, actions: assign({ count: ({ context }) => context.count + 1 }) } },
});
