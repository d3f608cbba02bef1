/**
 * A shard's supervisor: keeps one worker running for the shard. An XState machine on the host.
 *
 * running ──worker.exited──▶ recovering ──(replaced, sessions restored)──▶ running
 *                                │
 *                                └──(replacement failed to start)──▶ down
 *
 * `recover` replaces the worker and restores the shard's sessions; it rejects only when the
 * replacement fails to start, which is not retried in a loop: the shard stays down and its
 * sessions are reported crashed. A replacement that dies while sessions are being restored onto
 * it (a poison session, say) is recovered again as soon as the current recovery ends.
 */
import { assign, fromPromise, setup } from 'xstate';

/** How a recovery ended: restored, or the decision to give the shard up (with why). */
export type RecoveryOutcome = { restored: number } | { giveUp: Error };

export interface ShardSupervisorInput {
  shard: number;
  /** Rejects only when the replacement worker fails to start. */
  recover(cause: Error): Promise<RecoveryOutcome>;
  giveUp(cause: Error): void;
}

export interface ShardSupervisorContext extends ShardSupervisorInput {
  lastCause: Error | undefined;
  /** The replacement died while recovering: recover again once this recovery ends. */
  exitedWhileRecovering: boolean;
}

export const shardSupervisorMachine = setup({
  types: {
    input: {} as ShardSupervisorInput,
    context: {} as ShardSupervisorContext,
    events: {} as { type: 'worker.exited'; cause: Error },
  },
  actors: {
    recover: fromPromise<RecoveryOutcome, { recover: (cause: Error) => Promise<RecoveryOutcome>; cause: Error }>(({ input }) =>
      input.recover(input.cause),
    ),
  },
}).createMachine({
  id: 'actorhost.shardSupervisor',
  context: ({ input }) => ({ ...input, lastCause: undefined, exitedWhileRecovering: false }),
  initial: 'running',
  states: {
    running: {
      on: {
        'worker.exited': {
          target: 'recovering',
          actions: assign({ lastCause: ({ event }) => event.cause }),
        },
      },
    },
    recovering: {
      entry: assign({ exitedWhileRecovering: false }),
      on: {
        'worker.exited': {
          actions: assign({
            lastCause: ({ event }) => event.cause,
            exitedWhileRecovering: true,
          }),
        },
      },
      invoke: {
        src: 'recover',
        input: ({ context }) => ({ recover: context.recover, cause: context.lastCause! }),
        onDone: [
          // The decision was to give up (the worker keeps dying with no session to blame).
          {
            guard: ({ event }) => 'giveUp' in event.output,
            target: 'down',
            actions: ({ context, event }) => context.giveUp((event.output as { giveUp: Error }).giveUp),
          },
          { guard: ({ context }) => context.exitedWhileRecovering, target: 'recovering', reenter: true },
          { target: 'running' },
        ],
        onError: {
          target: 'down',
          actions: ({ context, event }) => context.giveUp(event.error instanceof Error ? event.error : new Error(String(event.error))),
        },
      },
    },
    down: {},
  },
});
