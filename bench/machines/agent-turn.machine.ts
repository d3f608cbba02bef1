// A realistic turn of an agent session (DESIGN.md, "Performance"): a user message, a stream of
// deltas from the model, a tool call and its result, more deltas, done. The session keeps a
// bounded transcript (the last 20 messages) and answers the DONE ask with its turn count.
import { assign, setup } from 'xstate';
import { reply } from '../../src/index.js';

const KEEP = 20;
const keep = (messages: string[], message: string) => [...messages.slice(-(KEEP - 1)), message];

type TurnEvent =
  | { type: 'USER_MESSAGE'; text: string }
  | { type: 'DELTA'; text: string }
  | { type: 'TOOL_CALL'; name: string; args: { path: string } }
  | { type: 'TOOL_RESULT'; output: string }
  | { type: 'DONE'; replyTo?: string };

export default setup({
  types: { context: {} as { turns: number; tools: number; draft: string; messages: string[] }, events: {} as TurnEvent },
}).createMachine({
  id: 'bench-agent-turn',
  context: { turns: 0, tools: 0, draft: '', messages: [] },
  initial: 'idle',
  states: {
    idle: {
      on: {
        USER_MESSAGE: { target: 'thinking', actions: assign({ messages: ({ context, event }) => keep(context.messages, event.text) }) },
      },
    },
    thinking: {
      tags: ['busy'],
      on: {
        DELTA: { actions: assign({ draft: ({ context, event }) => context.draft + event.text }) },
        TOOL_CALL: { target: 'tool', actions: assign({ tools: ({ context }) => context.tools + 1 }) },
        DONE: {
          target: 'idle',
          actions: [
            assign(({ context }) => ({ turns: context.turns + 1, draft: '', messages: keep(context.messages, context.draft) })),
            reply(({ context }) => context.turns),
          ],
        },
      },
    },
    tool: {
      tags: ['busy'],
      on: { TOOL_RESULT: { target: 'thinking', actions: assign({ messages: ({ context, event }) => keep(context.messages, event.output) }) } },
    },
  },
});
