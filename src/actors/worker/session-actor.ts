/**
 * Small operations on a session's actor inside a worker, run through the shard host's `#run`
 * (which names the session in the shared state while its code runs).
 */
import type { AnyActorRef } from 'xstate';
import { toWireError, type WireSnapshot } from '../../protocol/wire.js';

export function startActor(actor: AnyActorRef): void {
  actor.start();
}

export function sendEvent(actor: AnyActorRef, event: { type: string }): void {
  actor.send(event);
}

export function stopActor(actor: AnyActorRef): void {
  actor.stop();
}

/** The part of a snapshot the host needs; `children` can be large and the host has no use for it. */
export function wireSnapshot(actor: AnyActorRef): WireSnapshot {
  const persisted = actor.getPersistedSnapshot() as WireSnapshot;
  return {
    status: persisted.status,
    value: persisted.value,
    context: persisted.context,
    ...(persisted.output !== undefined ? { output: persisted.output } : {}),
    ...(persisted.error !== undefined ? { error: toWireError(persisted.error) } : {}),
  };
}

/** A session whose state cannot be encoded for the host fails with this. */
export function unencodableError(what: string, cause: unknown): Error {
  const error = new Error(`${what} cannot be encoded for the host (${cause instanceof Error ? cause.message : String(cause)}); keep only plain data in context`);
  error.name = 'UnencodableStateError';
  return error;
}
