// A typed machine for the type tests (never run): input, events, context.
import { assign, setup } from 'xstate';

export default setup({
  types: {
    input: {} as { start: number },
    context: {} as { count: number; label: string },
    events: {} as { type: 'INC'; by: number } | { type: 'RESET' },
  },
}).createMachine({
  id: 'typed-agent',
  context: ({ input }) => ({ count: input.start, label: 'x' }),
  on: {
    INC: { actions: assign({ count: ({ context, event }) => context.count + event.by }) },
    RESET: { actions: assign({ count: 0 }) },
  },
});
