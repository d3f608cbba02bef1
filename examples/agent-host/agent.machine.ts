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
 * The model: for each line on stdin, `deltas` lines of `delta N` 10 ms apart, then `done`. It waits
 * with `read -t` on a pipe it holds open, not `sleep`: a `sleep` per delta forked ~2,400 processes
 * a second across 1,000 sessions and starved the host (measured with the example's status line).
 */
const MODEL_SCRIPT =
  'exec 3<> <(:); while IFS= read -r line; do for ((i = 1; i <= $1; i++)); do read -t 0.01 -u 3; echo "delta $i"; done; echo done; done';

export default setup({
  types: {
    input: {} as AgentInput,
    context: {} as AgentContext,
    events: {} as
      | { type: 'USER_MESSAGE'; text: string }
      | { type: 'RELINK'; ipc: NonNullable<AgentInput['ipc']> }
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
            input: ({ context }) => ({ command: 'bash', args: ['-c', MODEL_SCRIPT, 'model', String(context.deltas)] }),
          },
          on: { 'child.started': { actions: assign({ modelPid: ({ event }) => event.pid }) } },
        },
        link: {
          initial: 'choosing',
          // A host that restarted hands resumed sessions its new address and a new token.
          on: { RELINK: { target: '.linked', reenter: true, actions: assign({ ipc: ({ event }) => event.ipc }) } },
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
