/**
 * `actorhost/internal`: the pure parts behind the public API, for tests, benchmarks and tools.
 * Not the contract: names here may change between minor versions. Use `actorhost` for the API.
 *
 * - the supervisor's decisions (pure functions over a pool or a restart window);
 * - the pool's LRU list, the tick batcher, the plain-data walker;
 * - the stores, for the store conformance suite;
 * - the inspector's view of a runtime (`runtime[INSPECTOR_API]()`) and the HTTP guard.
 */
export { balancePool, chooseEvictions, chooseForMemory, chooseIdle, decideRestart, makeRoom, type RestartDecision } from './runtime/supervision/decisions.js';
export { addRestart, type RestartPolicy } from './runtime/supervision/restart-window.js';
export { Pool, type PoolMember } from './runtime/pools/pool.js';
export { TickBatcher } from './runtime/workers/tick-batcher.js';
export { PlainCopier, type CopyFailure } from './protocol/plain-data.js';
export { MemoryStore, type SessionStore, type StoredSession, type SessionState, type SessionMeta } from './runtime/store/store.js';
export { LmdbStore } from './runtime/store/lmdb-store.js';
export { INSPECTOR_API, type InspectorApi } from './runtime/inspector/inspector-api.js';
export { createGuardedServer, decodeSegment, guardWebSocket, parseTarget, refuseUpgrade, type ServerLimits } from './runtime/inspector/http-guard.js';
export { JsonRpcConnection, corkUntilNextTick } from './protocol/json-rpc.js';
