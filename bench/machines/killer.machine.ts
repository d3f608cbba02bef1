// A counter that takes its worker down on EXIT: the crash of the recovery and crash-storm scenarios.
import { assign, setup } from 'xstate';

export default setup({ types: { context: {} as { count: number } } }).createMachine({
  id: 'bench-killer',
  context: { count: 0 },
  on: {
    INC: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    EXIT: { actions: () => process.exit(3) },
  },
});
