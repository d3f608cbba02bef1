/**
 * Answers to `runtime.ask`, on the worker's side: a `reply` action's value goes to the host as a
 * note; an asked event handled without a reply (and whose token the machine did not keep) is
 * answered with the state it left the session in, for `NoReplyError`.
 */
import type { AnyActorRef } from 'xstate';
import type { Packr } from 'msgpackr';
import { ASK_PREFIX, holdsToken } from '../../protocol/reply.js';
import { NOTE_REPLY, type Note } from '../../protocol/wire.js';

export class Replies {
  readonly #note: (note: Note) => void;
  readonly #packr: Packr;
  /** Asks answered while the event that carried them is being processed. */
  readonly #answered = new Set<string>();

  constructor(note: (note: Note) => void, packr: Packr) {
    this.#note = note;
    this.#packr = packr;
  }

  /** A `reply` action ran in session `key`; `during`: while it processes an event from the host. */
  reply(key: number, to: string, value: unknown, during: boolean): void {
    if (during) this.#answered.add(to);
    try {
      this.#packr.pack(value);
    } catch (error) {
      this.#note([NOTE_REPLY, key, to, undefined, { message: `the reply cannot be encoded (${(error as Error).message}); reply with plain data` }]);
      return;
    }
    this.#note([NOTE_REPLY, key, to, value]);
  }

  /** After the session processed `event`: an ask it neither answered nor kept is answered "no reply". */
  processed(key: number, actor: AnyActorRef, event: { replyTo?: unknown }): void {
    const to = event.replyTo;
    if (typeof to !== 'string' || !to.startsWith(ASK_PREFIX) || this.#answered.delete(to)) return;
    const snapshot = actor.getSnapshot() as { status: string; value: unknown; context: unknown };
    if (snapshot.status === 'active' && holdsToken(snapshot.context, to)) return;
    this.#note([NOTE_REPLY, key, to, undefined, { noReply: snapshot.value }]);
  }
}
