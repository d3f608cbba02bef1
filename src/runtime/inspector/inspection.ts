/**
 * Inspection on the host: turns the workers' plain inspection records back into XState
 * inspection events (`@xstate.actor`, `@xstate.event`, `@xstate.snapshot`) whose actor refs are
 * stubs with what inspectors read — `sessionId`, `id`, `_parent`, `logic.config`, `getSnapshot()` —
 * and hands them to the user's observer, so one inspector (the Stately inspector, say) sees every
 * worker's actors as one system.
 */
import type { InspectionEvent, Observer } from 'xstate';
import type { InspectRecord, InspectSettings } from '../../protocol/wire.js';
import { InvalidOptionError } from '../../errors.js';

export type InspectObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/** `createRuntime({ inspect })`: an observer, or an observer with filters and a rate cap. */
export type InspectOption =
  | InspectObserver
  | {
      observer: InspectObserver;
      /** Which events to report. Default: all three. */
      types?: Array<InspectRecord['type']>;
      /** Which machine kinds to inspect. Default: all. */
      kinds?: string[];
      /** Per session; actor events are never dropped. Default: 200. */
      maxEventsPerSecond?: number;
    };

interface StubRef {
  id: string;
  sessionId: string;
  _parent: StubRef | undefined;
  logic: { config: unknown } | undefined;
  snapshot: unknown;
  getSnapshot(): unknown;
}

const ALL_TYPES: Array<InspectRecord['type']> = ['@xstate.actor', '@xstate.event', '@xstate.snapshot'];

export function resolveInspect(option: InspectOption | undefined): { settings: InspectSettings; observer: InspectObserver | undefined } {
  const off = { settings: { enabled: false, types: [], kinds: [], maxEventsPerSecond: 0 }, observer: undefined };
  if (option === undefined) return off;
  const full = typeof option === 'object' && option !== null && 'observer' in option ? option : { observer: option as InspectObserver };
  const observer = full.observer;
  if (typeof observer !== 'function' && (observer === null || typeof observer !== 'object' || typeof observer.next !== 'function')) {
    throw new InvalidOptionError('options.inspect must be an inspection observer (a function, or { next }), or { observer, types?, kinds?, maxEventsPerSecond? }');
  }
  const maxEventsPerSecond = full.maxEventsPerSecond ?? 200;
  if (!Number.isSafeInteger(maxEventsPerSecond) || maxEventsPerSecond < 1) {
    throw new InvalidOptionError(`options.inspect.maxEventsPerSecond must be a positive integer (got ${String(maxEventsPerSecond)})`);
  }
  const types = full.types ?? ALL_TYPES;
  const unknown = types.find((type) => !ALL_TYPES.includes(type));
  if (unknown) throw new InvalidOptionError(`options.inspect.types: "${unknown}" is not one of ${ALL_TYPES.join(', ')}`);
  return { settings: { enabled: true, types, kinds: full.kinds ?? [], maxEventsPerSecond }, observer };
}

export class InspectionRelay {
  readonly #observer: InspectObserver;
  readonly #types: ReadonlySet<string>;
  readonly #refs = new Map<string, StubRef>();
  readonly #byKey = new Map<number, Set<string>>();

  constructor(observer: InspectObserver, settings: InspectSettings) {
    this.#observer = observer;
    this.#types = new Set(settings.types);
  }

  deliver(key: number, record: InspectRecord): void {
    const actorRef = this.#ref(key, record);
    if (record.type === '@xstate.snapshot' || record.type === '@xstate.actor') actorRef.snapshot = record.snapshot;
    const sourceRef = record.sourceId ? this.#refs.get(record.sourceId) : undefined;
    const event = {
      type: record.type,
      rootId: record.rootId,
      actorRef,
      ...(record.type === '@xstate.actor' ? {} : { event: record.event }),
      ...(record.type === '@xstate.event' ? { sourceRef } : {}),
      ...(record.type === '@xstate.snapshot' ? { snapshot: record.snapshot } : {}),
    } as unknown as InspectionEvent;
    this.emit(event);
  }

  /** Reports an event (the host's own actors' too: registry, supervisors), if its type is wanted. */
  emit(event: InspectionEvent): void {
    if (!this.#types.has(event.type)) return;
    try {
      if (typeof this.#observer === 'function') this.#observer(event);
      else this.#observer.next?.(event);
    } catch {
      // An observer that throws must not break the runtime; it simply misses this event.
    }
  }

  /** The session's incarnation ended: its actors' stubs go. */
  forget(key: number): void {
    const ids = this.#byKey.get(key);
    if (!ids) return;
    for (const id of ids) this.#refs.delete(id);
    this.#byKey.delete(key);
  }

  #ref(key: number, record: InspectRecord): StubRef {
    let ref = this.#refs.get(record.sessionId);
    if (!ref) {
      ref = {
        id: record.id ?? record.sessionId,
        sessionId: record.sessionId,
        _parent: record.parentId ? this.#refs.get(record.parentId) : undefined,
        logic: record.definition ? { config: JSON.parse(record.definition) as unknown } : undefined,
        snapshot: record.snapshot,
        getSnapshot() {
          return this.snapshot;
        },
      };
      this.#refs.set(record.sessionId, ref);
      let ids = this.#byKey.get(key);
      if (!ids) this.#byKey.set(key, (ids = new Set()));
      ids.add(record.sessionId);
    }
    return ref;
  }
}
