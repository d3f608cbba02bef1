// An example agent session. It owns a "model" subprocess (a small shell script that streams a
// reply as deltas, as a model would) and a link back to the host (connectionMachine, with its own
// token). A user message starts a turn: the message goes to the model's stdin, the deltas stream
// back, and when the model says `done` the turn is reported to the host and the agent is idle.
import { assign, enqueueActions, sendTo, setup } from 'xstate';
import { connectionMachine, fromChildProcess, type ConnectionOutputEvent, type IpcAddress } from '../../src/index.js';

export interface AgentInput {
  ipc: { address: IpcAddress; token: string } | undefined;
  /** Deltas per reply. */
  deltas?: number;
}

export interface AgentContext {
  ipc: AgentInput['ipc'];
  deltas: number;
  turns: number;
  streamed: number;
  reply: string;
  lastMessage: string;
  modelPid: number;
}

/**
 * The model: for each line on stdin, `deltas` lines of `delta N`, then `done`. POSIX `sh` builtins
 * only: no process is forked per turn (a `sleep` per delta forked ~2,400 processes a second across
 * 1,000 sessions and starved the host, measured with the example's status line), and `sh`, unlike
 * `bash`, reads no rc file when its stdin is a socket.
 */
const MODEL_SCRIPT = 'while IFS= read -r line; do i=1; while [ "$i" -le "$1" ]; do echo "delta $i"; i=$((i + 1)); done; echo done; done';

export default setup({
  types: {
    input: {} as AgentInput,
    context: {} as AgentContext,
    events: {} as
      | { type: 'USER_MESSAGE'; text: string }
      | { type: 'actorhost.shutdown' }
      | { type: 'child.started'; pid: number }
      | { type: 'child.stdout'; data: string }
      | { type: 'child.stderr'; data: string }
      | { type: 'child.exit'; code: number | null; signal: string | null }
      | { type: 'child.error'; message: string }
      | ConnectionOutputEvent,
  },
  actors: { model: fromChildProcess, link: connectionMachine },
  guards: {
    isDone: ({ event }) => event.type === 'child.stdout' && event.data === 'done',
    hasLink: ({ context }) => context.ipc !== undefined,
  },
  actions: {
    collect: assign({
      streamed: ({ context }) => context.streamed + 1,
      reply: ({ context, event }) => (event.type === 'child.stdout' ? `${context.reply}${event.data} ` : context.reply),
    }),
  },
}).createMachine({
  id: 'agent',
  context: ({ input }) => ({
    ipc: input.ipc,
    deltas: input.deltas ?? 8,
    turns: 0,
    streamed: 0,
    reply: '',
    lastMessage: '',
    modelPid: 0,
  }),
  initial: 'running',
  // Shutting down leaves `running`: the model subprocess and the link stop with it.
  on: { 'actorhost.shutdown': '.closed' },
  states: {
    closed: { type: 'final' },
    running: {
      type: 'parallel',
      states: {
        model: {
          invoke: {
            id: 'model',
            src: 'model',
            input: ({ context }) => ({ command: 'sh', args: ['-c', MODEL_SCRIPT, 'model', String(context.deltas)] }),
          },
          on: { 'child.started': { actions: assign({ modelPid: ({ event }) => event.pid }) } },
        },
        link: {
          initial: 'choosing',
          // Restored by a host that restarted (or reactivated), the link is handed a fresh token
          // by the runtime itself (`connection.relink`): nothing to do here.
          states: {
            choosing: { always: [{ guard: 'hasLink', target: 'linked' }, { target: 'unlinked' }] },
            linked: {
              invoke: { id: 'link', src: 'link', input: ({ context }) => ({ address: context.ipc!.address, token: context.ipc!.token }) },
            },
            unlinked: {},
          },
        },
        turn: {
          initial: 'idle',
          states: {
            idle: {
              on: {
                USER_MESSAGE: {
                  target: 'thinking',
                  actions: [
                    assign({ lastMessage: ({ event }) => event.text, reply: '', streamed: 0 }),
                    sendTo('model', ({ event }) => ({ type: 'child.write' as const, data: `${event.text.replaceAll('\n', ' ')}\n` })),
                  ],
                },
              },
            },
            thinking: { on: { 'child.stdout': { target: 'streaming', actions: 'collect' } } },
            streaming: {
              on: {
                'child.stdout': [
                  {
                    guard: 'isDone',
                    target: 'idle',
                    actions: [
                      assign({ turns: ({ context }) => context.turns + 1 }),
                      // Reported to the host over the link, when there is one.
                      enqueueActions(({ context, enqueue, self }) => {
                        if (!self.getSnapshot().children.link) return;
                        enqueue.sendTo('link', {
                          type: 'connection.request',
                          id: context.turns,
                          method: 'turnDone',
                          params: { turns: context.turns, streamed: context.streamed },
                        });
                      }),
                    ],
                  },
                  { actions: 'collect' },
                ],
              },
            },
          },
        },
      },
    },
  },
});
