/**
 * `subscribe` (and so `waitFor`) across a fleet: a host watching a session that lives on another
 * host.
 *
 * Contract:
 * - The watcher listens on an inbox of its own and asks the owner (a routed `watch` call) to
 *   publish there every snapshot the session reaches, its crash (`error`) and its end
 *   (`complete`). It renews the watch every third of the lease; the owner drops a watch not
 *   renewed within a lease (its watcher died), and every watch of a shard it lets go.
 * - When the shard moves, the next renewal reaches the new owner, which starts the watch again
 *   and publishes the current snapshot first: a snapshot reached between the move and the
 *   renewal is not seen, the state after it is (so `waitFor` still sees a state that stays).
 * - A watch the owner refuses (no such session) reaches the observer as `error`; unsubscribing
 *   stops the renewals and tells the owner (best effort: else it expires).
 */
import { createInbox, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { AnyMachineSnapshot, Observer } from 'xstate';
import { createPackr, toWireError, type WireError, type WireSnapshot } from '../../protocol/wire.js';
import { revive } from './fleet-router.js';

type Note = { next: { kind: string; wire: WireSnapshot } } | { error: WireError } | { complete: true };

export interface FleetWatchOptions {
  nc: NatsConnection;
  leaseTtlMs: number;
  /** A routed call (`watch`, `unwatch`) to the session's owner. */
  call(op: string, id: string, args: unknown[]): Promise<unknown>;
  /** The owner's own subscribe and current snapshot (the runtime's). */
  subscribe(id: string, observer: Partial<Observer<AnyMachineSnapshot>>): () => void;
  getSnapshot(id: string): Promise<AnyMachineSnapshot>;
  kindOf(id: string): string | undefined;
  /** A snapshot as the watcher's callers get it (typed, with `matches`, from the kind's machine). */
  resolve(kind: string, wire: WireSnapshot): AnyMachineSnapshot;
}

interface Served {
  id: string;
  off: () => void;
  renewedAt: number;
}

export class FleetWatches {
  readonly #options: FleetWatchOptions;
  readonly #packr = createPackr();
  /** Watches this host serves as the owner, by the watcher's inbox. */
  readonly #served = new Map<string, Served>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: FleetWatchOptions) {
    this.#options = options;
    this.#sweeper = setInterval(() => this.#sweep(), options.leaseTtlMs).unref();
  }

  /**
   * The watcher's side: `observer` hears of session `id`, which lives on another host. With
   * `current`, the owner sends the current snapshot first (`waitFor`: a state reached before the
   * watch was registered is still seen).
   */
  watch(id: string, observer: Partial<Observer<AnyMachineSnapshot>>, current = false): () => void {
    const { nc, call, leaseTtlMs, resolve } = this.#options;
    const inbox = createInbox();
    let closed = false;
    const subscription: Subscription = nc.subscribe(inbox, {
      callback: (error, message) => {
        if (error || closed) return;
        const note = this.#packr.unpack(message.data) as Note;
        if ('next' in note) observer.next?.(resolve(note.next.kind, note.next.wire));
        else if ('error' in note) {
          close();
          observer.error?.(revive(note.error));
        } else {
          close();
          observer.complete?.();
        }
      },
    });
    const close = () => {
      closed = true;
      clearInterval(renewal);
      subscription.unsubscribe();
    };
    const register = (renew: boolean) =>
      call('watch', id, [inbox, renew]).catch((error: unknown) => {
        if (closed) return;
        close();
        observer.error?.(error);
      });
    // Registered before this returns its unsubscribe: the inbox is subscribed already, so no note is lost.
    void nc.flush().then(() => (closed ? undefined : register(current)));
    const renewal = setInterval(() => void register(true), leaseTtlMs / 3).unref();
    return () => {
      if (closed) return;
      close();
      void call('unwatch', id, [inbox]).catch(() => {});
    };
  }

  /** The owner's side: starts (or renews) the watch of `inbox` on session `id`; with `current`, sends the current snapshot first when it starts. */
  async serve(id: string, inbox: string, current: boolean): Promise<void> {
    const served = this.#served.get(inbox);
    if (served) {
      served.renewedAt = performance.now();
      return;
    }
    const { nc, subscribe, getSnapshot, kindOf } = this.#options;
    const publish = (note: Note) => nc.publish(inbox, this.#packr.pack(note).slice());
    const send = (snapshot: AnyMachineSnapshot) => {
      const { status, value, context, output, error } = snapshot as unknown as WireSnapshot;
      publish({ next: { kind: kindOf(id) ?? '', wire: { status, value, context, output, error } as WireSnapshot } });
    };
    const off = subscribe(id, {
      next: send,
      error: (error) => {
        this.#served.delete(inbox);
        publish({ error: toWireError(error) });
      },
      complete: () => {
        this.#served.delete(inbox);
        publish({ complete: true });
      },
    });
    this.#served.set(inbox, { id, off, renewedAt: performance.now() });
    // Asked for (`waitFor`), or taken over from another owner (a renewal): the watcher may have missed what happened meanwhile.
    if (current) send(await getSnapshot(id));
  }

  /** The owner's side: the watcher unsubscribed. */
  unserve(inbox: string): void {
    this.#served.get(inbox)?.off();
    this.#served.delete(inbox);
  }

  /** The owner let the sessions `leaves` names go (their shard moved): their watchers renew with the next owner. */
  drop(leaves: (id: string) => boolean): void {
    for (const [inbox, { id }] of this.#served) if (leaves(id)) this.unserve(inbox);
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const inbox of [...this.#served.keys()]) this.unserve(inbox);
  }

  #sweep(): void {
    const horizon = performance.now() - this.#options.leaseTtlMs;
    for (const [inbox, { renewedAt }] of this.#served) if (renewedAt < horizon) this.unserve(inbox);
  }
}
