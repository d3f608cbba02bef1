// An agent's turn, reduced: INC starts a turn (`thinking`, tagged busy) that ends by itself 20 ms
// later, as a model's reply would; an INC during a turn is counted and joins it.
import { assign, setup } from 'xstate';

export default setup({
  types: { context: {} as { count: number }, events: {} as { type: 'INC' } },
}).createMachine({
  id: 'bench-timed-turn',
  context: { count: 0 },
  initial: 'idle',
  on: { INC: { actions: assign({ count: ({ context }) => context.count + 1 }) } },
  states: {
    idle: { on: { INC: { target: 'thinking', actions: assign({ count: ({ context }) => context.count + 1 }) } } },
    thinking: { tags: ['busy'], after: { 20: 'idle' } },
  },
});
