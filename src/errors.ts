/**
 * Every error actorhost raises, in one place. Each class has a stable `code` and a message that
 * says what to do; catch them with `instanceof` or by `code`.
 *
 * @example
 * ```ts
 * import { UnknownSessionError } from 'actorhost';
 * try {
 *   await runtime.send('conv-9', { type: 'PING' });
 * } catch (error) {
 *   if (error instanceof UnknownSessionError) console.log(error.code); // 'ERR_UNKNOWN_SESSION'
 * }
 * ```
 */
export type ErrorCode =
  | 'ERR_ASK_TIMEOUT'
  | 'ERR_AUTH'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_CONNECTION_LOST'
  | 'ERR_DUPLICATE_SESSION'
  | 'ERR_HELD_MAIL_FULL'
  | 'ERR_INVALID_EVENT'
  | 'ERR_INVALID_OPTION'
  | 'ERR_LINE_TOO_LONG'
  | 'ERR_MACHINE_MODULE'
  | 'ERR_MAILBOX_FULL'
  | 'ERR_NO_REPLY'
  | 'ERR_POOL_FULL'
  | 'ERR_QUEUE_FULL'
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_RPC'
  | 'ERR_RUNTIME_CLOSED'
  | 'ERR_SESSION_CRASHED'
  | 'ERR_SESSION_QUARANTINED'
  | 'ERR_SHARD_UNAVAILABLE'
  | 'ERR_STORE'
  | 'ERR_STORE_LOCKED'
  | 'ERR_UNKNOWN_MACHINE'
  | 'ERR_UNKNOWN_SESSION'
  | 'ERR_WAIT_FOR_TIMEOUT'
  | 'ERR_WORKER_HANG'
  | 'ERR_WORKER_START';

export class ActorhostError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option passed to `createRuntime` breaks a rule; the message names the option and the rule. */
export class InvalidOptionError extends ActorhostError {
  constructor(message: string) {
    super('ERR_INVALID_OPTION', message);
  }
}

/** `spawn` named a machine kind that was not registered in `createRuntime({ machines })`. */
export class UnknownMachineError extends ActorhostError {
  readonly kind: string;

  constructor(kind: string, known: readonly string[]) {
    super(
      'ERR_UNKNOWN_MACHINE',
      `Unknown machine "${kind}"; known: ${known.join(', ') || '(none)'}. ` +
        'Register it in createRuntime({ machines: { name: new URL(...) } }).',
    );
    this.kind = kind;
  }
}

/** A machine module failed to import in a worker or on the host, or exports no machine. */
export class MachineModuleError extends ActorhostError {
  readonly url: string;

  constructor(url: string, reason: string, cause?: unknown) {
    super('ERR_MACHINE_MODULE', `Machine module ${url} ${reason}`, { cause });
    this.url = url;
  }
}

/** `spawn` used an id that a live session already has. */
export class DuplicateSessionError extends ActorhostError {
  readonly sessionId: string;

  constructor(sessionId: string, state = 'already exists') {
    super('ERR_DUPLICATE_SESSION', `Session "${sessionId}" ${state}; stop it first or spawn with { replace: true }.`);
    this.sessionId = sessionId;
  }
}

/** The id names no live session. */
export class UnknownSessionError extends ActorhostError {
  readonly sessionId: string;

  constructor(sessionId: string, detail = 'it was never spawned, or it has stopped') {
    super('ERR_UNKNOWN_SESSION', `Unknown session "${sessionId}": ${detail}. Spawn it first.`);
    this.sessionId = sessionId;
  }
}

/** The event is not an object with a string `type`, is not plain serializable data, or is too large. */
export class InvalidEventError extends ActorhostError {
  constructor(reason: string) {
    super('ERR_INVALID_EVENT', `Invalid event: ${reason}`);
  }
}

/** The session's mailbox holds `mailbox.capacity` events that are not yet processed. */
export class MailboxFullError extends ActorhostError {
  readonly sessionId: string;

  constructor(sessionId: string, capacity: number, bytes?: { waiting: number; maxBytes: number }) {
    super(
      'ERR_MAILBOX_FULL',
      bytes
        ? `Mailbox of session "${sessionId}" is full (${bytes.waiting} bytes of events waiting, the limit is ${bytes.maxBytes}); ` +
            'wait for it to drain (await runtime.waitFor or retry later), send smaller events, or raise options.mailbox.maxBytes.'
        : `Mailbox of session "${sessionId}" is full (${capacity} events waiting); ` +
            'wait for it to drain (await runtime.waitFor or retry later) or raise options.mailbox.capacity.',
    );
    this.sessionId = sessionId;
  }
}

/** The runtime was shut down (or is shutting down); create a new one. */
export class RuntimeClosedError extends ActorhostError {
  constructor(operation: string) {
    super(
      'ERR_RUNTIME_CLOSED',
      `Cannot ${operation}: the runtime has been shut down. Create a new runtime with createRuntime().`,
    );
  }
}

/** `waitFor` saw no matching snapshot within `timeoutMs`. */
export class WaitForTimeoutError extends ActorhostError {
  readonly sessionId: string;

  constructor(sessionId: string, timeoutMs: number) {
    super(
      'ERR_WAIT_FOR_TIMEOUT',
      `waitFor("${sessionId}") saw no matching snapshot within ${timeoutMs} ms; ` +
        'raise timeoutMs or check the predicate.',
    );
    this.sessionId = sessionId;
  }
}

/** A worker could not start (for example, it ran out of memory while loading the machines). */
export class WorkerStartError extends ActorhostError {
  constructor(shard: number, cause: unknown) {
    super(
      'ERR_WORKER_START',
      `Worker for shard ${shard} failed to start: ${describeCause(cause)}`,
      { cause },
    );
  }
}

/** A worker stopped answering heartbeats (an endless loop, say) and was terminated. */
export class WorkerHangError extends ActorhostError {
  constructor(shard: number, waitedMs: number) {
    super(
      'ERR_WORKER_HANG',
      `Worker for shard ${shard} did not answer a heartbeat for ${waitedMs} ms and was terminated; ` +
        'a session blocked its event loop (raise options.watchdog.hangTimeoutMs if its turns are that long).',
    );
  }
}

/**
 * In a fleet: no host served the session's shard within the retry bound — a takeover is under
 * way, or no live member holds the shard. Nothing was done; the call can be made again.
 */
export class ShardUnavailableError extends ActorhostError {
  readonly shard: number;

  /** Whether a host took the call and did not answer in time (so it may have been done). */
  readonly mayBeDone: boolean;

  constructor(id: string, shard: number, waitedMs: number, mayBeDone = false) {
    super(
      'ERR_SHARD_UNAVAILABLE',
      `Session ${JSON.stringify(id)} is in shard ${shard}, which no host of the fleet served for ${waitedMs} ms (a takeover under way, or no live member holds it); ` +
        (mayBeDone
          ? 'a host took the call but did not answer in time, so it may have been done — check the session before you try again, and that the fleet is healthy.'
          : "nothing was done — try again, and check that the fleet's hosts are running."),
    );
    this.shard = shard;
    this.mayBeDone = mayBeDone;
  }
}

/** The store is owned by another live host process. */
export class StoreLockedError extends ActorhostError {
  readonly pid: number;

  constructor(path: string, pid: number, detail?: string) {
    super(
      'ERR_STORE_LOCKED',
      detail
        ? `Store ${path} ${detail}; shut that runtime down first, or give this one another options.store.path.`
        : `Store ${path} is owned by the live process ${pid}; stop that host first, or give this one another options.store.path.`,
    );
    this.pid = pid;
  }
}

/** The store could not be opened or written: a directory that cannot be created or written. */
export class StoreError extends ActorhostError {
  readonly path: string;

  constructor(path: string, cause: unknown) {
    super(
      'ERR_STORE',
      `Store ${path} could not be opened (${describeCause(cause)}); give options.store.path a writable directory on a disk, or use store: 'memory'.`,
      { cause },
    );
    this.path = path;
  }
}

/** `send` to an evicted session whose pool has no room to reactivate it. */
export class PoolFullError extends ActorhostError {
  readonly sessionId: string;

  constructor(sessionId: string, pool: string, size: number, capacity: number) {
    super(
      'ERR_POOL_FULL',
      `Session "${sessionId}" is evicted and pool "${pool}" has no room to reactivate it (${size}/${capacity}, ` +
        'every session pinned, busy or inside the recency floor); retry later or raise the pool capacity (setPoolCapacity).',
    );
    this.sessionId = sessionId;
  }
}

/** The IPC server refused the token: it is wrong, revoked, or was replaced by a newer one. */
export class AuthError extends ActorhostError {
  constructor(detail: string) {
    super('ERR_AUTH', `The IPC server refused the token (${detail}); issue a new one with ipc.issueToken(sessionId).`);
  }
}

/** The session failed: its machine threw, or its worker died. Carries the original cause. */
/**
 * The session's stored state cannot be restored by the loaded machine (stored by a newer version,
 * no `migrate` or one that threw, a state that no longer exists). It is kept in the store as it
 * was, never deleted by the runtime, until an operator retries or removes it.
 */
export class SessionQuarantinedError extends ActorhostError {
  readonly sessionId: string;

  constructor(sessionId: string, reason: string, options?: { cause?: unknown }) {
    super(
      'ERR_SESSION_QUARANTINED',
      `Session "${sessionId}" is quarantined: ${reason}. Its stored state is kept. Fix the machine module ` +
        `(its version or migrate) and call runtime.retryQuarantined("${sessionId}"), or delete it with runtime.removeQuarantined("${sessionId}").`,
      options,
    );
    this.sessionId = sessionId;
  }
}

/** The session handled an asked event without replying (and did not keep its `replyTo`). */
export class NoReplyError extends ActorhostError {
  readonly sessionId: string;
  readonly state: unknown;

  constructor(sessionId: string, eventType: string, state: unknown, reason?: string) {
    super(
      'ERR_NO_REPLY',
      reason
        ? `Session "${sessionId}" could not answer "${eventType}": ${reason}`
        : `Session "${sessionId}" handled "${eventType}" in state ${JSON.stringify(state)} without replying. ` +
            "Add reply(...) to that transition's actions, or keep event.replyTo in context and reply(value, { to }) later.",
    );
    this.sessionId = sessionId;
    this.state = state;
  }
}

/** `deliver` would hold more events for a group than its `maxHeld`. */
export class HeldMailFullError extends ActorhostError {
  readonly group: string;

  constructor(group: string, to: string | undefined, maxHeld: number) {
    super(
      'ERR_HELD_MAIL_FULL',
      `Group "${group}" already holds ${maxHeld} events for labels no session has${to ? ` (this one was for "${to}")` : ''}; ` +
        `the event is a dead letter. Start a session that takes the label, or raise options.groups.${group}.maxHeld.`,
    );
    this.group = group;
  }
}

/** No answer to an ask within its `timeoutMs`. */
export class AskTimeoutError extends ActorhostError {
  readonly sessionId: string;

  /** `lostInTakeover`: in a fleet, the answer went to a host that lost the session's shard before it could pass it on. */
  constructor(sessionId: string, eventType: string, timeoutMs: number, lostInTakeover = false) {
    super(
      'ERR_ASK_TIMEOUT',
      lostInTakeover
        ? `Session "${sessionId}" took "${eventType}", but its answer was lost when the session's shard moved to another host. The event was accepted and is processed (not again); ask with another event for its result.`
        : `Session "${sessionId}" did not answer "${eventType}" within ${timeoutMs} ms. The event was accepted and is processed; ` +
            'raise timeoutMs, or check that the machine replies (a kept replyTo must be answered).',
    );
    this.sessionId = sessionId;
  }
}

export class SessionCrashedError extends ActorhostError {
  readonly sessionId: string;

  constructor(sessionId: string, cause: unknown) {
    super('ERR_SESSION_CRASHED', `Session "${sessionId}" crashed: ${describeCause(cause)}`, { cause });
    this.sessionId = sessionId;
  }
}

/** The IPC peer answered a request with a JSON-RPC error; `rpcCode` is its error code. */
export class RpcError extends ActorhostError {
  readonly rpcCode: number;

  constructor(method: string, error: { code: number; message: string }) {
    super('ERR_RPC', `${method} failed: ${error.message} (JSON-RPC error ${error.code})`);
    this.rpcCode = error.code;
  }
}

/** An IPC request got no answer in time. */
export class RequestTimeoutError extends ActorhostError {
  constructor(method: string, timeoutMs: number) {
    super('ERR_REQUEST_TIMEOUT', `${method} got no answer within ${timeoutMs} ms; the peer may be down or overloaded.`);
  }
}

/** The IPC connection closed before a request was answered. */
export class ConnectionClosedError extends ActorhostError {
  constructor(method: string, reason: string) {
    super('ERR_CONNECTION_CLOSED', `${method} was not answered: the connection closed (${reason}).`);
  }
}

/** A JSON-RPC line was longer than the bound; the connection is closed. */
export class LineTooLongError extends ActorhostError {
  constructor(maxBytes: number) {
    super('ERR_LINE_TOO_LONG', `a JSON-RPC line exceeded ${maxBytes} bytes; the connection is closed`);
  }
}

/**
 * The connection machine lost its link (or gave up reconnecting); requests it held are answered
 * with it. In a machine's context it travels as plain data (`plainError`); `name` and `code` say which.
 */
export class ConnectionLostError extends ActorhostError {
  /** The message is the reason alone (`2 pongs missed`, `server said bye`): the machine reconnects by itself. */
  constructor(reason: string) {
    super('ERR_CONNECTION_LOST', reason);
  }
}

/** The connection machine is not connected and already holds `maxQueued` requests. */
export class QueueFullError extends ActorhostError {
  constructor(maxQueued: number) {
    super('ERR_QUEUE_FULL', `Not connected, and ${maxQueued} requests already wait (maxQueued); retry once connected.`);
  }
}

/** An error as plain data, for a machine's context or a snapshot: its class name and message. */
export function plainError(error: ActorhostError): { name: string; message: string } {
  return { name: error.name, message: error.message };
}

/** A one-line description of any thrown value, for messages. */
export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  if (cause && typeof cause === 'object' && 'message' in cause) return String(cause.message);
  return String(cause);
}
