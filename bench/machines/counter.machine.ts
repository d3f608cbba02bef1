// The trivial-event machine of the core benchmark: one context field, one transition.
import { assign, setup } from 'xstate';

export default setup({
  types: { context: {} as { count: number }, events: {} as { type: 'INC' } },
}).createMachine({
  id: 'bench-counter',
  context: { count: 0 },
  on: { INC: { actions: assign({ count: ({ context }) => context.count + 1 }) } },
});
