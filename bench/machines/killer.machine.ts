// A session that takes its worker down on EXIT: the crash of the recovery benchmark.
import { setup } from 'xstate';

export default setup({}).createMachine({
  id: 'bench-killer',
  on: { EXIT: { actions: () => process.exit(3) } },
});
