/**
 * A session's snapshot as the host gives it to `subscribe`, `getSnapshot` and `waitFor`: what the
 * worker sent (value, context, status, output, error) with the machine snapshot's methods.
 *
 * Resolved lazily: `machine.resolveState` costs ~25 µs (measured: more than the rest of the host's
 * part of a send→snapshot round trip); `value`, `context`, `status` and `matches` — what readers
 * mostly use — need none of it. `hasTag`, `can`, `getMeta`, `tags` and `toJSON` resolve it once.
 */
import { matchesState, type AnyMachineSnapshot, type AnyStateMachine, type StateValue } from 'xstate';
import type { WireSnapshot } from '../../protocol/wire.js';

export class HostSnapshot {
  readonly status: WireSnapshot['status'];
  readonly value: StateValue;
  readonly context: unknown;
  readonly output: unknown;
  readonly error: unknown;
  readonly machine: AnyStateMachine;
  /** The worker keeps the session's children; the host sees none. */
  readonly children: Record<string, never> = {};
  #resolved: AnyMachineSnapshot | undefined;

  constructor(machine: AnyStateMachine, wire: WireSnapshot) {
    this.machine = machine;
    this.status = wire.status;
    this.value = wire.value as StateValue;
    this.context = wire.context;
    this.output = wire.output;
    this.error = wire.error;
  }

  #full(): AnyMachineSnapshot {
    this.#resolved ??= this.machine.resolveState({
      value: this.value as never,
      context: this.context as never,
      status: this.status,
      output: this.output,
      error: this.error,
    } as never);
    return this.#resolved;
  }

  matches(value: StateValue): boolean {
    return matchesState(value, this.value);
  }

  hasTag(tag: string): boolean {
    return this.#full().hasTag(tag);
  }

  can(event: { type: string }): boolean {
    return this.#full().can(event as never);
  }

  getMeta(): Record<string, unknown> {
    return this.#full().getMeta();
  }

  get tags(): Set<string> {
    return this.#full().tags;
  }

  get historyValue(): unknown {
    return this.#full().historyValue;
  }

  get _nodes(): unknown {
    return this.#full()._nodes;
  }

  toJSON(): unknown {
    return this.#full().toJSON();
  }
}
