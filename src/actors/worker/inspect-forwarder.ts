/**
 * Inspection inside a worker: turns XState inspection events of the sessions it inspects into
 * plain records for the host (actor refs become session ids prefixed with the session's key),
 * filtered by type and kind, and capped per session per second (`@xstate.actor` events are never
 * dropped: the inspector needs every actor). Off, it is never called: XState builds no events.
 */
import type { AnyActorRef, InspectionEvent } from 'xstate';
import { NOTE_INSPECT, inspectable, type InspectRecord, type InspectSettings, type Note } from '../../protocol/wire.js';

export class InspectForwarder {
  readonly #settings: InspectSettings;
  readonly #note: (note: Note) => void;
  /** Budget per session key: events left in the current second, and when it began. */
  readonly #budget = new Map<number, { second: number; left: number }>();

  constructor(settings: InspectSettings | undefined, note: (note: Note) => void) {
    this.#settings = settings ?? { enabled: false, types: [], kinds: [], maxEventsPerSecond: 0 };
    this.#note = note;
  }

  /** The session ended: its budget goes. */
  forget(key: number): void {
    this.#budget.delete(key);
  }

  inspects(kind: string): boolean {
    const { enabled, kinds } = this.#settings;
    return enabled && (kinds.length === 0 || kinds.includes(kind));
  }

  record(key: number, event: InspectionEvent): void {
    const type = event.type as InspectRecord['type'];
    if (!this.#settings.types.includes(type)) return;
    if (type !== '@xstate.actor' && !this.#withinBudget(key)) return;
    const prefix = `${key}.`;
    const actorRef = event.actorRef as AnyActorRef & { _parent?: AnyActorRef; logic?: { config?: unknown } };
    const record: InspectRecord = { type, sessionId: prefix + actorRef.sessionId, rootId: prefix + event.rootId };
    if (event.type === '@xstate.actor') {
      record.id = actorRef.id;
      if (actorRef._parent) record.parentId = prefix + actorRef._parent.sessionId;
      const config = actorRef.logic?.config;
      if (config && typeof config === 'object') record.definition = JSON.stringify(inspectable(config, 32));
      // No snapshot here: XState refuses to read one while the actor initializes (which is when
      // this event comes); the host's stub answers with the first @xstate.snapshot instead.
    } else if (event.type === '@xstate.event') {
      if (event.sourceRef) record.sourceId = prefix + event.sourceRef.sessionId;
      record.event = inspectable(event.event);
    } else if (event.type === '@xstate.snapshot') {
      record.event = inspectable(event.event);
      record.snapshot = inspectable(event.snapshot);
    }
    this.#note([NOTE_INSPECT, key, record]);
  }

  /** At most `maxEventsPerSecond` inspection events per session: a chatty one cannot flood the host. */
  #withinBudget(key: number): boolean {
    const second = Math.floor(performance.now() / 1000);
    let budget = this.#budget.get(key);
    if (!budget || budget.second !== second) {
      budget = { second, left: this.#settings.maxEventsPerSecond };
      this.#budget.set(key, budget);
    }
    if (budget.left <= 0) return false;
    budget.left--;
    return true;
  }
}
