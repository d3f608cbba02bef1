// The counter of the core benchmark that also answers: GET replies with the count.
import { assign, setup } from 'xstate';
import { reply } from '../../src/index.js';

export default setup({
  types: { context: {} as { count: number }, events: {} as { type: 'INC' } | { type: 'GET' } },
}).createMachine({
  id: 'bench-answer',
  context: { count: 0 },
  on: {
    INC: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    GET: { actions: reply(({ context }) => context.count) },
  },
});
