/**
 * The connection shim: a session's link to the host's IPC server, as an XState machine. It runs
 * inside the session (in a worker), invoked or spawned by the session's machine.
 *
 *   idle ─▶ connecting ─▶ authed
 *              │    ▲        │
 *              ▼    │        ▼
 *              lost ◀────────┘        lost ──(attempts exhausted)──▶ failed (final, with the cause)
 *
 * Contract:
 * - Every failure — socket error, close, `bye`, missed pongs, handshake timeout — arrives as one
 *   event, `socket.lost`, and takes the one transition to `lost`.
 * - From `lost` it reconnects after `backoffDelay(attempt)` (exponential, with jitter, bounded);
 *   after `backoff.maxAttempts` it is `failed`, with the cause.
 * - A refused token is an `AuthError`: straight to `failed`, no retries.
 * - The handshake re-checks the connection after its await: a `bye` that arrived in the same read
 *   as the `initialize` result has closed it by then, so the machine goes to `lost`, never `authed`.
 * - Liveness: a `ping` every `pingIntervalMs`; `missedPongs` unanswered in a row → `lost`.
 * - Requests (`connection.request`) carry ids and time out. While not `authed` they wait in a
 *   queue of at most `maxQueued`, sent in order once `authed`; past the bound, or when `failed`,
 *   they are answered with an error. Answers go back as `connection.response`; the server's
 *   notifications as `connection.notification` — to the parent, and as emitted events.
 * - `connection.relink` (a new address and token) reconnects with them from any state but
 *   `failed`; the runtime sends it when it restores a session whose token it renewed.
 * - A protocol version mismatch is reported (`connection.versionMismatch`, both versions) and
 *   logged by the server; the connection goes on.
 */
import { connect } from 'node:net';
import { assign, enqueueActions, fromCallback, setup, type AnyActorRef } from 'xstate';
import { AuthError, ConnectionLostError, QueueFullError, plainError } from '../errors.js';
import {
  JsonRpcConnection,
  PROTOCOL_VERSION,
  RPC_UNAUTHORIZED,
  RpcError,
} from '../protocol/json-rpc.js';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0..1: the delay is reduced by up to this fraction, at random, so clients do not retry in step. */
  jitter: number;
  maxAttempts: number;
}

/** Where the IPC server listens: `ipc.address`. */
export type IpcAddress = { path: string } | { host?: string; port: number };

export interface ConnectionInput {
  address: IpcAddress;
  token: string;
  /** The protocol version this client speaks. Default: the library's. */
  version?: string;
  handshakeTimeoutMs?: number;
  requestTimeoutMs?: number;
  pingIntervalMs?: number;
  missedPongs?: number;
  backoff?: Partial<BackoffOptions>;
  maxQueued?: number;
  /** The randomness of the jitter (tests make it fixed). Default: Math.random. */
  random?: () => number;
}

export interface ConnectionRequest {
  type: 'connection.request';
  id: string | number;
  method: string;
  params?: unknown;
}

export type ConnectionEvent =
  | ConnectionRequest
  | { type: 'connection.notify'; method: string; params?: unknown }
  /** A fresh link (the runtime sends it when it restores a session with a new token): reconnect with it. */
  | { type: 'connection.relink'; address: IpcAddress; token: string };

/** What the connection tells its parent (and emits). */
export type ConnectionOutputEvent =
  | { type: 'connection.response'; id: string | number; result?: unknown; error?: { name: string; message: string } }
  | { type: 'connection.notification'; method: string; params: unknown }
  | { type: 'connection.versionMismatch'; clientVersion: string; serverVersion: string };

export type SocketEvent =
  | { type: 'socket.authed'; serverVersion: string }
  | { type: 'socket.lost'; reason: string }
  | { type: 'socket.authFailed'; reason: string }
  | { type: 'socket.response'; id: string | number; result?: unknown; error?: { name: string; message: string } }
  | { type: 'socket.notification'; method: string; params: unknown };

export interface ConnectionContext {
  address: IpcAddress;
  token: string;
  version: string;
  handshakeTimeoutMs: number;
  requestTimeoutMs: number;
  pingIntervalMs: number;
  missedPongs: number;
  backoff: BackoffOptions;
  maxQueued: number;
  random: () => number;
  attempt: number;
  queue: ConnectionRequest[];
  serverVersion: string | undefined;
  error: { name: string; message: string } | undefined;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2, maxAttempts: 10 };

/**
 * Backoff. The delay before reconnect attempt `attempt` (1, 2, …): `initialMs × factor^(attempt−1)`,
 * capped at `maxMs`, less up to `jitter` of it at random. Never above `maxMs`; never below
 * `(1 − jitter)` of the capped value.
 */
export function backoffDelay(attempt: number, { initialMs, maxMs, factor, jitter }: BackoffOptions, random: () => number): number {
  const capped = Math.min(maxMs, initialMs * Math.pow(factor, Math.max(0, attempt - 1)));
  return Math.round(capped * (1 - jitter * random()));
}

/** The socket actor: one connection attempt, for as long as it lives. */
const socketLogic = fromCallback<ConnectionRequest | { type: 'connection.notify'; method: string; params?: unknown }, ConnectionContext, SocketEvent>(
  ({ input, sendBack, receive }) => {
    const socket = 'path' in input.address ? connect(input.address.path) : connect(input.address.port, input.address.host ?? '127.0.0.1');
    const rpc = new JsonRpcConnection(socket);
    let stopped = false;
    let lostReported = false;
    let pingTimer: NodeJS.Timeout | undefined;
    const lose = (reason: string) => {
      if (stopped || lostReported) return;
      lostReported = true;
      sendBack({ type: 'socket.lost', reason });
    };
    rpc.onClose = lose;
    rpc.onNotification = (method, params) => {
      if (method !== 'bye') sendBack({ type: 'socket.notification', method, params });
    };
    const handshakeTimer = setTimeout(() => rpc.close(`handshake timed out after ${input.handshakeTimeoutMs} ms`), input.handshakeTimeoutMs);
    socket.once('connect', async () => {
      let result: { version?: string } | undefined;
      try {
        result = (await rpc.request('initialize', { token: input.token, version: input.version }, input.handshakeTimeoutMs)) as { version?: string };
      } catch (error) {
        clearTimeout(handshakeTimer);
        if (error instanceof RpcError && error.rpcCode === RPC_UNAUTHORIZED) {
          lostReported = true;
          sendBack({ type: 'socket.authFailed', reason: error.message });
          rpc.close('authentication refused');
        } else {
          rpc.close(`handshake failed: ${(error as Error).message}`);
        }
        return;
      }
      clearTimeout(handshakeTimer);
      // Re-check after the await: a `bye` read together with the answer has closed it already.
      if (stopped || rpc.closedReason !== undefined) return;
      sendBack({ type: 'socket.authed', serverVersion: String(result?.version ?? '') });
      let missed = 0;
      pingTimer = setInterval(() => {
        rpc.request('ping', undefined, input.pingIntervalMs).then(
          () => (missed = 0),
          () => {
            if (++missed >= input.missedPongs) rpc.close(`${missed} pongs missed`);
          },
        );
      }, input.pingIntervalMs);
    });
    receive((event) => {
      if (event.type === 'connection.notify') {
        rpc.notify(event.method, event.params);
        return;
      }
      rpc.request(event.method, event.params, input.requestTimeoutMs).then(
        (result) => sendBack({ type: 'socket.response', id: event.id, result }),
        (error: Error) => sendBack({ type: 'socket.response', id: event.id, error: { name: error.name, message: error.message } }),
      );
    });
    return () => {
      stopped = true;
      clearTimeout(handshakeTimer);
      clearInterval(pingTimer);
      rpc.close('the connection actor stopped');
    };
  },
);

interface Teller {
  sendParent(event: ConnectionOutputEvent): void;
  emit(event: ConnectionOutputEvent): void;
}

/** Sends to the parent, if there is one, and emits, so a standalone actor can be listened to. */
function tell(enqueue: Teller, self: unknown, event: ConnectionOutputEvent): void {
  if ((self as AnyActorRef)._parent) enqueue.sendParent(event);
  enqueue.emit(event);
}

export const connectionMachine = setup({
  types: {
    input: {} as ConnectionInput,
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent | SocketEvent,
    emitted: {} as ConnectionOutputEvent,
    output: {} as { error: { name: string; message: string } | undefined },
  },
  actors: { socket: socketLogic },
  delays: {
    // `random` is not plain data: a snapshot persisted and restored (a restart, a reactivation,
    // a resumed host) comes back without it.
    backoff: ({ context }) =>
      backoffDelay(context.attempt, context.backoff, typeof context.random === 'function' ? context.random : Math.random),
  },
  guards: {
    attemptsExhausted: ({ context }) => context.attempt > context.backoff.maxAttempts,
    queueHasRoom: ({ context }) => context.queue.length < context.maxQueued,
  },
  actions: {
    recordLoss: assign({
      error: ({ event }) => plainError(new ConnectionLostError(event.type === 'socket.lost' ? event.reason : 'lost')),
    }),
    recordAuthFailure: assign({
      error: ({ event }) => plainError(new AuthError(event.type === 'socket.authFailed' ? event.reason : '')),
    }),
    recordAuthed: assign({
      serverVersion: ({ event }) => (event.type === 'socket.authed' ? event.serverVersion : undefined),
      attempt: 0,
      error: undefined,
    }),
    countAttempt: assign({ attempt: ({ context }) => context.attempt + 1 }),
    recordRelink: assign(({ event }) => (event.type === 'connection.relink' ? { address: event.address, token: event.token, attempt: 0, error: undefined } : {})),
    reportVersionMismatch: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type === 'socket.authed' && event.serverVersion !== context.version) {
        tell(enqueue as unknown as Teller, self, { type: 'connection.versionMismatch', clientVersion: context.version, serverVersion: event.serverVersion });
      }
    }),
    tellNotification: enqueueActions(({ event, enqueue, self }) => {
      if (event.type === 'socket.notification') {
        tell(enqueue as unknown as Teller, self, { type: 'connection.notification', method: event.method, params: event.params });
      }
    }),
    tellResponse: enqueueActions(({ event, enqueue, self }) => {
      if (event.type === 'socket.response') tell(enqueue as unknown as Teller, self, { ...event, type: 'connection.response' });
    }),
    forwardToSocket: enqueueActions(({ event, enqueue }) => {
      if (event.type === 'connection.request' || event.type === 'connection.notify') enqueue.sendTo('socket', event);
    }),
    flushQueue: enqueueActions(({ context, enqueue }) => {
      for (const request of context.queue) enqueue.sendTo('socket', request);
      enqueue.assign({ queue: [] });
    }),
    enqueueRequest: assign({
      queue: ({ context, event }) => (event.type === 'connection.request' ? [...context.queue, event] : context.queue),
    }),
    refuseRequest: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'connection.request') return;
      tell(enqueue as unknown as Teller, self, {
        type: 'connection.response',
        id: event.id,
        error: plainError(new QueueFullError(context.maxQueued)),
      });
    }),
    refuseQueued: enqueueActions(({ context, enqueue, self }) => {
      const error = context.error ?? plainError(new ConnectionLostError('the connection failed'));
      for (const request of context.queue) tell(enqueue as unknown as Teller, self, { type: 'connection.response', id: request.id, error });
      enqueue.assign({ queue: [] });
    }),
  },
}).createMachine({
  id: 'actorhost.connection',
  context: ({ input }) => ({
    address: input.address,
    token: input.token,
    version: input.version ?? PROTOCOL_VERSION,
    handshakeTimeoutMs: input.handshakeTimeoutMs ?? 2_000,
    requestTimeoutMs: input.requestTimeoutMs ?? 5_000,
    pingIntervalMs: input.pingIntervalMs ?? 1_000,
    missedPongs: input.missedPongs ?? 3,
    backoff: { ...DEFAULT_BACKOFF, ...input.backoff },
    maxQueued: input.maxQueued ?? 64,
    random: input.random ?? Math.random,
    attempt: 0,
    queue: [],
    serverVersion: undefined,
    error: undefined,
  }),
  initial: 'idle',
  // In any state but `failed`: the old socket (if any) is closed, a new one opens with the new token.
  on: { 'connection.relink': { target: '.online', reenter: true, actions: 'recordRelink' } },
  states: {
    idle: { always: 'online' },
    online: {
      invoke: { id: 'socket', src: 'socket', input: ({ context }) => context },
      on: {
        // The one transition every failure takes.
        'socket.lost': { target: 'lost', actions: 'recordLoss' },
        'socket.authFailed': { target: 'failed', actions: 'recordAuthFailure' },
        'socket.notification': { actions: 'tellNotification' },
      },
      initial: 'connecting',
      states: {
        connecting: {
          on: {
            'socket.authed': { target: 'authed', actions: ['recordAuthed', 'reportVersionMismatch'] },
            'connection.request': [{ guard: 'queueHasRoom', actions: 'enqueueRequest' }, { actions: 'refuseRequest' }],
          },
        },
        authed: {
          entry: 'flushQueue',
          on: {
            'connection.request': { actions: 'forwardToSocket' },
            'connection.notify': { actions: 'forwardToSocket' },
            'socket.response': { actions: 'tellResponse' },
          },
        },
      },
    },
    lost: {
      entry: 'countAttempt',
      always: { guard: 'attemptsExhausted', target: 'failed' },
      after: { backoff: 'online' },
      on: {
        'connection.request': [{ guard: 'queueHasRoom', actions: 'enqueueRequest' }, { actions: 'refuseRequest' }],
      },
    },
    failed: { type: 'final', entry: 'refuseQueued' },
  },
  output: ({ context }) => ({ error: context.error }),
});
