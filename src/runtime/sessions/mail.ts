/**
 * `deliver` (DESIGN.md, "Messaging"): events addressed to a label in a group, or to the group.
 *
 * Contract:
 * - To a label a session holds (live or stored: passivation is invisible) → sent to it, accepted
 *   like `send`. To a label no session holds → **held**: kept in the store, in order, bounded per
 *   group (`maxHeld`: past it, the event is a dead letter and `deliver` rejects with
 *   `HeldMailFullError`) and for `heldTtlMs` (then a dead letter); delivered, in order, as soon as
 *   a session takes that label.
 * - Untargeted, the group's policy: `primary` — the holder with the lowest label (held when there
 *   is none, for the next session that takes a label in the group); `broadcast` — every live
 *   holder (in a fleet, every holder on another host too); `drop` — a dead letter.
 * - `deliver` resolves once the event is accepted (sent) or held (kept): both mean kept.
 */
import { HeldMailFullError, InvalidOptionError } from '../../errors.js';
import type { RuntimeCore } from '../core.js';
import { unref } from '../options.js';
import type { HeldMail } from '../store/store.js';
import type { SessionEvent } from '../types.js';
import type { Intake } from './intake.js';
import type { Labels } from './labels.js';

interface Held {
  seq: number;
  mail: HeldMail;
}

export class Mail {
  readonly #core: RuntimeCore;
  readonly #intake: Intake;
  readonly #labels: Labels;
  /** group → held mail, oldest first. */
  readonly #held = new Map<string, Held[]>();
  #seq = 0;
  #expiryTimer: unknown;
  #expiryAt = Infinity;

  constructor(core: RuntimeCore, intake: Intake, labels: Labels) {
    this.#core = core;
    this.#intake = intake;
    this.#labels = labels;
  }

  /** Held mail from the store (a previous host's). */
  load(): void {
    for (const { group, seq, mail } of this.#core.store.heldMail()) {
      this.#queue(group).push({ seq, mail });
      this.#seq = Math.max(this.#seq, seq);
    }
    this.#scheduleExpiry();
  }

  async deliver(group: string, event: SessionEvent, options: { to?: string } = {}): Promise<void> {
    const policy = this.#core.options.groups.get(group);
    if (!policy) {
      throw new InvalidOptionError(`deliver: ${JSON.stringify(group)} is not a group; known: ${[...this.#core.options.groups.keys()].join(', ') || '(none)'}`);
    }
    const { to } = options ?? {};
    if (to !== undefined && typeof to !== 'string') throw new InvalidOptionError(`deliver: options.to must be a label string (got ${typeof to})`);
    if (to !== undefined) {
      const holder = this.#labels.lookup(group, to);
      return holder === undefined ? this.#hold(group, to, event) : this.#intake.send(holder, event);
    }
    const holders = this.#labels.holders(group);
    switch (policy.untargeted) {
      case 'primary':
        return holders.length === 0 ? this.#hold(group, undefined, event) : this.#intake.send(holders[0]![1], event);
      case 'broadcast': {
        // In a fleet, the other hosts' holders too (sent where they live; whether live is not known here).
        const live = holders.filter(([, id]) => this.#core.directory.byId.has(id) || this.#core.route?.elsewhere(id));
        if (live.length === 0) return this.#deadLetter(group, event, 'broadcast to a group with no live session');
        await Promise.all(live.map(([, id]) => this.#intake.send(id, event)));
        return;
      }
      case 'drop':
        return this.#deadLetter(group, event, "untargeted, and the group's policy is drop");
    }
  }

  /** Session `id` took `label` in `group` (it started): what was held for it is sent, in order. */
  labelTaken(group: string, label: string, id: string): void {
    const queue = this.#held.get(group);
    if (!queue || queue.length === 0) return;
    this.#expire(this.#core.now());
    const primary = this.#core.options.groups.get(group)?.untargeted === 'primary';
    const kept: Held[] = [];
    // In a fleet, a session on another host: each is sent once the previous one was accepted there.
    let previous: Promise<unknown> | undefined = this.#core.route?.elsewhere(id) ? Promise.resolve() : undefined;
    for (const held of queue) {
      const mine = held.mail.to === label || (held.mail.to === undefined && primary);
      if (!mine) {
        kept.push(held);
        continue;
      }
      this.#core.store.releaseMail(group, held.seq);
      // Sent in order, one after the other: each is accepted before the next is sent.
      const send = () =>
        this.#intake.send(id, held.mail.event as SessionEvent).catch((error: Error) => this.#deadLetter(group, held.mail.event, `held, then refused: ${error.message}`));
      if (previous) previous = previous.then(send);
      else void send();
    }
    this.#held.set(group, kept);
  }

  stop(): void {
    this.#core.options.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
  }

  async #hold(group: string, to: string | undefined, event: SessionEvent): Promise<void> {
    const { maxHeld, heldTtlMs } = this.#core.options.groups.get(group)!;
    const copy = this.#intake.checked(event);
    this.#expire(this.#core.now());
    const queue = this.#queue(group);
    if (queue.length >= maxHeld) {
      this.#deadLetter(group, copy, `held mail is full (options.groups.${group}.maxHeld = ${maxHeld})`);
      throw new HeldMailFullError(group, to, maxHeld);
    }
    const held: Held = { seq: ++this.#seq, mail: { to, event: copy, expiresAt: this.#core.now() + heldTtlMs } };
    queue.push(held);
    this.#scheduleExpiry();
    await this.#core.store.holdMail(group, held.seq, held.mail);
  }

  #deadLetter(group: string, event: unknown, reason: string): void {
    this.#core.events.deadLetter(undefined, event, `deliver to group ${group}: ${reason}`);
  }

  /** Held mail past its time to live becomes dead letters. */
  #expire(now: number): void {
    for (const [group, queue] of this.#held) {
      let expired = 0;
      while (expired < queue.length && queue[expired]!.mail.expiresAt <= now) {
        const { seq, mail } = queue[expired]!;
        this.#core.store.releaseMail(group, seq);
        this.#deadLetter(group, mail.event, `held for ${mail.to ?? 'the group'} past options.groups.${group}.heldTtlMs`);
        expired++;
      }
      if (expired > 0) queue.splice(0, expired);
    }
  }

  /** One timer for the earliest expiry (each group's queue is in expiry order). */
  #scheduleExpiry(): void {
    let earliest = Infinity;
    for (const queue of this.#held.values()) if (queue.length > 0) earliest = Math.min(earliest, queue[0]!.mail.expiresAt);
    if (earliest === Infinity || earliest >= this.#expiryAt || this.#core.closed) return;
    const { options } = this.#core;
    options.clearTimeout(this.#expiryTimer);
    this.#expiryAt = earliest;
    this.#expiryTimer = unref(
      options.setTimeout(() => {
        this.#expiryAt = Infinity;
        this.#expire(this.#core.now());
        this.#scheduleExpiry();
      }, Math.max(0, Math.min(earliest - this.#core.now(), 2_147_483_647))),
    );
  }

  #queue(group: string): Held[] {
    let queue = this.#held.get(group);
    if (!queue) this.#held.set(group, (queue = []));
    return queue;
  }
}
