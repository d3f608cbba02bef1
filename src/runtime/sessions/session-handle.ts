import type { AnyMachineSnapshot, AnyStateMachine, Observer } from 'xstate';
import type { SessionEvent, SessionRef, SnapshotListener } from '../types.js';

/** What a handle calls: the runtime's methods, with the handle's id. */
export interface SessionCalls {
  send(id: string, event: SessionEvent): Promise<void>;
  getSnapshot(id: string): Promise<AnyMachineSnapshot>;
  subscribe(id: string, listener: SnapshotListener | Partial<Observer<AnyMachineSnapshot>>): () => void;
  stop(id: string): Promise<void>;
}

/** One object per handle, methods on the prototype: spawning allocates no closures for it. */
export class SessionHandle implements SessionRef<AnyStateMachine> {
  readonly #runtime: SessionCalls;
  readonly id: string;

  constructor(runtime: SessionCalls, id: string) {
    this.#runtime = runtime;
    this.id = id;
  }

  send(event: SessionEvent): Promise<void> {
    return this.#runtime.send(this.id, event);
  }

  getSnapshot(): Promise<AnyMachineSnapshot> {
    return this.#runtime.getSnapshot(this.id);
  }

  subscribe(listener: SnapshotListener | Partial<Observer<AnyMachineSnapshot>>): () => void {
    return this.#runtime.subscribe(this.id, listener);
  }

  stop(): Promise<void> {
    return this.#runtime.stop(this.id);
  }
}

