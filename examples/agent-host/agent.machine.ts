// An example agent session: a user message starts a turn; the agent thinks, streams a reply in
// deltas, and is idle again. It handles `actorhost.shutdown` from any state.
import { assign, setup } from 'xstate';

export interface AgentContext {
  turns: number;
  deltas: number;
  streamed: number;
  lastMessage: string;
}

export default setup({
  types: {
    context: {} as AgentContext,
    events: {} as { type: 'USER_MESSAGE'; text: string } | { type: 'actorhost.shutdown' },
  },
  delays: { thinkMs: 20, deltaMs: 5 },
  guards: { moreToStream: ({ context }) => context.streamed < 8 },
}).createMachine({
  id: 'agent',
  context: { turns: 0, deltas: 0, streamed: 0, lastMessage: '' },
  initial: 'idle',
  on: { 'actorhost.shutdown': '.closed' },
  states: {
    idle: {
      on: {
        USER_MESSAGE: { target: 'thinking', actions: assign({ lastMessage: ({ event }) => event.text }) },
      },
    },
    thinking: { after: { thinkMs: { target: 'streaming', actions: assign({ streamed: 0 }) } } },
    streaming: {
      after: {
        deltaMs: [
          {
            guard: 'moreToStream',
            target: 'streaming',
            reenter: true,
            actions: assign({ streamed: ({ context }) => context.streamed + 1, deltas: ({ context }) => context.deltas + 1 }),
          },
          { target: 'idle', actions: assign({ turns: ({ context }) => context.turns + 1 }) },
        ],
      },
    },
    closed: { type: 'final' },
  },
});
