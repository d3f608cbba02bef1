// A session owning a subprocess tree (a shell and a grandchild), for the SIGKILL scenario.
import { assign, setup } from 'xstate';
import { fromChildProcess } from '../../src/index.js';

export default setup({
  types: { context: {} as { pid: number; grandchild: number } },
  actors: { shell: fromChildProcess },
}).createMachine({
  id: 'bench-child',
  context: { pid: 0, grandchild: 0 },
  invoke: { src: 'shell', input: { command: 'sh', args: ['-c', 'sleep 600 & echo $!; sleep 600'] } },
  on: {
    'child.started': { actions: assign({ pid: ({ event }) => event.pid }) },
    'child.stdout': { actions: assign({ grandchild: ({ event }) => Number(event.data) }) },
  },
});
