/**
 * The note router: what a worker tells the host about its sessions, dispatched to the part that
 * acts on it — snapshots to subscribers, persisted snapshots to the record and the store, a
 * session's end or failure to the directory and the lifecycle, inspection to the relay, an event
 * for an incarnation that is gone to the dead letters.
 */
import type { AnyMachineSnapshot } from 'xstate';
import {
  NOTE_BUSY,
  NOTE_CRASHED,
  NOTE_DONE,
  NOTE_INSPECT,
  NOTE_PERSIST,
  NOTE_EVENT,
  NOTE_REPLY,
  NOTE_SNAPSHOT,
  NOTE_UNDELIVERED,
  fromWireError,
  type Note,
  type WireSnapshot,
} from '../../protocol/wire.js';
import type { RuntimeCore } from '../core.js';
import { channels } from '../metrics.js';
import type { Shard } from '../workers/shard.js';
import type { SessionRecord } from './session-record.js';
import { HostSnapshot } from './host-snapshot.js';

/** Marks an observer that also wants the state at the moment its watch began (`waitFor`). */
export const INITIAL = Symbol('actorhost.initialSnapshot');

/** A wire snapshot as the machine's own snapshot on the host (`.matches`, `.context` work). */
export function resolveSnapshot(core: Pick<RuntimeCore, 'machines'>, record: SessionRecord, wire: WireSnapshot): AnyMachineSnapshot {
  return new HostSnapshot(core.machines.get(record.kind)!, wire) as unknown as AnyMachineSnapshot;
}

/** The session's pool is over capacity: the supervisor decides again (no timer per session). */
export function rebalance(core: RuntimeCore, record: SessionRecord): void {
  const pool = record.pooledIn;
  if (pool && pool.size > pool.capacity) core.supervisor.send({ type: 'pool.joined', pool: pool.name });
}

export function routeNotes(core: RuntimeCore, shard: Shard, notes: Note[]): void {
  const { directory, lifecycle, store, events } = core;
  const tell = (record: SessionRecord, snapshot: AnyMachineSnapshot) => {
    for (const observer of record.observers!) directory.guard(record, () => observer.next?.(snapshot));
  };
  for (const note of notes) {
    const key = note[1];
    const record = directory.byKey.get(key);
    switch (note[0]) {
      case NOTE_SNAPSHOT: {
        if (!record?.observers) break;
        const [, , wire, seq, replayed, initial] = note;
        if (initial) {
          // Only for readers that asked for the state at the watch's start (waitFor).
          const readers = [...record.observers].filter((observer) => INITIAL in observer);
          if (readers.length === 0) break;
          const snapshot = resolveSnapshot(core, record, wire);
          for (const reader of readers) directory.guard(record, () => reader.next?.(snapshot));
          break;
        }
        // A restore replays the journal: its subscribers see the states they had not seen yet.
        if (replayed && seq <= record.notifiedSeq) break;
        if (seq > record.notifiedSeq) record.notifiedSeq = seq;
        tell(record, resolveSnapshot(core, record, wire));
        break;
      }
      case NOTE_PERSIST: {
        if (!record) break;
        const [, , seq, bytes, wakeAt] = note;
        const snapshot = new Uint8Array(bytes);
        if (record.compact(seq, snapshot, wakeAt) && core.snapshotting) store.compact(record.id, seq, snapshot, wakeAt);
        break;
      }
      case NOTE_DONE: {
        if (!record || record.status === 'stopping') break;
        if (record.observers) tell(record, resolveSnapshot(core, record, note[2]));
        if (record.pids?.size) void record.shard.childProcesses.kill(record.pids);
        const owned = directory.owns(record);
        directory.unregister(record);
        if (owned) {
          core.labels.release(record.id);
          void store.delete(record.id);
          core.asks.sessionEnded(record.id, undefined);
        }
        events.emit('done', { id: record.id, output: note[2].output });
        break;
      }
      case NOTE_CRASHED: {
        if (!record || record.status === 'stopping') break;
        const [, , wireError, poisonSeq] = note;
        if (record.pids?.size) void record.shard.childProcesses.kill(record.pids);
        if (lifecycle.charge(record, fromWireError(wireError), poisonSeq ?? undefined)) {
          directory.rekey(record);
          void lifecycle.restore(record);
        }
        break;
      }
      case NOTE_BUSY: {
        if (!record) break;
        record.busy = note[2];
        if (record.busy) {
          record.busySince = core.now();
          if (channels.turn.hasSubscribers) channels.turn.publish({ id: record.id, busy: true });
          break;
        }
        core.metrics.turnEnded(record.id, record.pool, core.now() - record.busySince);
        // A turn ended: its pool may be waiting for a candidate to come back to capacity.
        rebalance(core, record);
        break;
      }
      case NOTE_EVENT:
        if (record) core.eventTaps?.get(record.id)?.forEach((tap) => tap(note[2], true));
        break;
      case NOTE_REPLY:
        core.asks.answered(note[2], note[3], note[4]);
        break;
      case NOTE_INSPECT:
        core.inspection?.deliver(key, note[2]);
        break;
      case NOTE_UNDELIVERED: {
        // Addressed to an incarnation that a restart retired: the event is in the journal and
        // was replayed into the new one.
        if (record || directory.retiredKeys.has(key)) break;
        events.deadLetter(undefined, note[2], 'the session was no longer running', shard.logger);
        break;
      }
    }
  }
}
