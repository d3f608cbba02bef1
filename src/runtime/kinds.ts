/**
 * Typed kinds: a machine module's URL that carries its machine's type, so the runtime's calls are
 * checked against it — `spawn` the kind's name and its `input`, `send`/`ask`/`deliver` the event
 * type, and `getSnapshot`/`subscribe`/`waitFor` give the machine's own snapshot type.
 *
 * @example
 * ```ts
 * import { createRuntime, kind } from 'actorhost';
 * import type agentMachine from './agent.machine.js';
 *
 * const runtime = await createRuntime({
 *   machines: { agent: kind<typeof agentMachine>(new URL('./agent.machine.js', import.meta.url)) },
 * });
 * ```
 * A plain URL works as before, untyped.
 */
import type { AnyStateMachine, EventFrom, InputFrom, SnapshotFrom } from 'xstate';

declare const MACHINE: unique symbol;

/** A module URL that carries its machine's type (only for the compiler: at run time, the URL). */
export type KindUrl<TMachine extends AnyStateMachine> = URL & { readonly [MACHINE]?: TMachine };

/** Marks a machine module's URL with the machine's type (`typeof` its default export). */
export function kind<TMachine extends AnyStateMachine>(url: URL | string): KindUrl<TMachine> {
  return (typeof url === 'string' ? new URL(url) : url) as KindUrl<TMachine>;
}

/** Machine kinds by name. */
export type Kinds = Record<string, AnyStateMachine>;

/** The kinds `machines` declares: each typed kind's machine, `AnyStateMachine` for a plain URL. */
export type KindsOf<M> = {
  [N in keyof M]: M[N] extends { readonly [MACHINE]?: infer T } ? (T extends AnyStateMachine ? T : AnyStateMachine) : AnyStateMachine;
};

/** The events any of the kinds accepts. */
export type EventOf<K extends Kinds> = { [N in keyof K]: EventFrom<K[N]> }[keyof K];
/** The snapshots any of the kinds has. */
export type SnapshotOf<K extends Kinds> = { [N in keyof K]: SnapshotFrom<K[N]> }[keyof K];
/** The input kind `N` takes. */
export type InputOf<K extends Kinds, N extends keyof K> = InputFrom<K[N]>;
