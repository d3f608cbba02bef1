/**
 * `reply`: how a session answers `runtime.ask`. Shared by both sides: the machine (in a worker)
 * calls it; the host matches the answer to the ask by its `replyTo` token.
 *
 * An asked event reaches the machine with `event.replyTo`, a plain string token. `reply(value)` in
 * the transition's actions answers it at once. To answer later (after an invoke, a child's
 * answer), the machine keeps the token — `assign({ pending: ({ event }) => event.replyTo })` — and
 * replies when it can with `reply(value, { to: ({ context }) => context.pending })`. An asked
 * event handled without a reply, whose token the machine did not keep in its context, is answered
 * at once with `NoReplyError`.
 */
export const REPLY_HOOK = Symbol.for('actorhost.replyHook');
export const ASK_PREFIX = 'actorhost.ask:';

/** Installed by the worker entry. `system` is the actor system of the session replying. */
export interface ReplyHook {
  reply(system: object, to: string, value: unknown): void;
}

interface ReplyArgs {
  context: unknown;
  event: unknown;
  self: { system: unknown };
}

/**
 * The action arguments `reply` reads. `any`: `reply` serves every machine, and XState types the
 * arguments of the callbacks given to it from the machine it is used in.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ActionArgs = { context: any; event: any };
type Resolvable<T> = T | ((args: ActionArgs) => T);

export interface ReplyOptions {
  /** The ask to answer (a kept `event.replyTo`); default: the event being handled. */
  to?: (args: ActionArgs) => unknown;
}

/**
 * An XState action that answers an ask with `value` (or what `value(args)` returns): plain data.
 *
 * @example
 * ```ts
 * on: { GET_USAGE: { actions: reply(({ context }) => context.usage) } }
 * ```
 */
export function reply(value: (args: ActionArgs) => unknown, options?: ReplyOptions): (args: ReplyArgs) => void;
export function reply(value: unknown, options?: ReplyOptions): (args: ReplyArgs) => void;
export function reply(value: Resolvable<unknown>, options: ReplyOptions = {}): (args: ReplyArgs) => void {
  return (args) => {
    const to = options.to ? options.to(args) : (args.event as { replyTo?: unknown } | undefined)?.replyTo;
    if (typeof to !== 'string' || !to.startsWith(ASK_PREFIX)) return;
    const hook = (globalThis as Record<symbol, ReplyHook | undefined>)[REPLY_HOOK];
    hook?.reply(args.self.system as object, to, typeof value === 'function' ? (value as (a: ReplyArgs) => unknown)(args) : value);
  };
}

/** Whether `value` (a context) holds the string `token` anywhere: the machine kept the ask. */
export function holdsToken(value: unknown, token: string, depth = 0): boolean {
  if (value === token) return true;
  if (value === null || typeof value !== 'object' || depth > 32) return false;
  for (const item of Array.isArray(value) ? value : Object.values(value)) if (holdsToken(item, token, depth + 1)) return true;
  return false;
}
