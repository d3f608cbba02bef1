// A session whose every event starts or ends a turn: INC toggles between `idle` and `thinking`
// (tagged busy), so the worker reports a busy change on every event — the busy flag's worst case.
import { assign, setup } from 'xstate';

export default setup({
  types: { context: {} as { count: number }, events: {} as { type: 'INC' } },
}).createMachine({
  id: 'bench-turn',
  context: { count: 0 },
  initial: 'idle',
  states: {
    idle: { on: { INC: { target: 'thinking', actions: assign({ count: ({ context }) => context.count + 1 }) } } },
    thinking: { tags: ['busy'], on: { INC: { target: 'idle', actions: assign({ count: ({ context }) => context.count + 1 }) } } },
  },
});
