/**
 * The host side of the connection shim: a newline-delimited JSON-RPC 2.0 server on a Unix socket
 * (default) or TCP on 127.0.0.1, with a per-session token. See docs/protocol.md.
 *
 * Contract:
 * - `issueToken(sessionId)` returns a fresh random 256-bit token (and closes any connection that
 *   used the session's previous one); `revoke(sessionId)` invalidates it and closes the session's
 *   connections. Tokens are compared in constant time.
 * - A connection may call nothing but `initialize` until it authenticates, and is closed if it has
 *   not within `authTimeoutMs`. A wrong token is answered with an error and closed — no retries
 *   are invited.
 * - Bad input never takes the server down: invalid JSON, a non-object, an unknown method get a
 *   JSON-RPC error and the connection stays; a line over 1 MiB closes that connection; a method
 *   that throws answers with a JSON-RPC error. Writes to a closed socket never throw.
 * - `close()` sends `bye` to every client, closes every connection and the server, and removes
 *   the socket file: no handle is left open.
 */
import { defaultLogger, unref, type Clock } from '../options.js';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  LineReader,
  PROTOCOL_VERSION,
  RPC_INTERNAL_ERROR,
  RPC_INVALID_REQUEST,
  RPC_METHOD_NOT_FOUND,
  RPC_PARSE_ERROR,
  RPC_UNAUTHORIZED,
  corkUntilNextTick,
  isBlank,
  writeMessage,
  type RpcMessage,
} from '../../protocol/json-rpc.js';
import { InvalidOptionError } from '../../errors.js';

/** A method the server answers once a session has authenticated. */
export type IpcMethod = (params: unknown, context: { sessionId: string }) => unknown;

export interface IpcServerOptions {
  /** Unix socket path. Default: `ipc.sock` in a new private (0700) directory under the OS temp dir. */
  path?: string;
  /** Listen on TCP instead, on 127.0.0.1 (`port: 0` picks a free port). */
  tcp?: { port?: number };
  /** Methods sessions may call, by name. */
  methods?: Record<string, IpcMethod>;
  /** Milliseconds a connection has to authenticate. Default: 5000. */
  authTimeoutMs?: number;
  /** What `initialize` answers as `serverInfo`. */
  serverInfo?: { name: string; version: string };
  logger?: Logger;
  /** The timers for the auth timeout and a closing link's grace. Default: Node's. */
  clock?: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
}

export interface IpcServer {
  /** Where clients connect: a socket path, or a TCP port on 127.0.0.1. */
  readonly address: { path: string } | { host: '127.0.0.1'; port: number };
  /** A fresh 256-bit token (hex) for the session; its previous token stops working. */
  issueToken(sessionId: string): string;
  /** Invalidates the session's token and closes its connections. */
  revoke(sessionId: string): void;
  /** Whether the session has a token (the runtime issues a fresh one when it reactivates it). */
  hasToken(sessionId: string): boolean;
  /** Sends a notification to every authenticated connection of the session; returns how many. */
  notify(sessionId: string, method: string, params?: unknown): number;
  /** Says `bye` to the session's connections and closes them (the client treats it as a loss). */
  bye(sessionId: string): void;
  /** Authenticated connections, of one session or of all. */
  connections(sessionId?: string): number;
  close(): Promise<void>;
}

interface Connection {
  socket: Socket;
  sessionId: string | undefined;
  authTimer: unknown;
}

/**
 * Starts the IPC server.
 *
 * @example
 * ```ts
 * import { createIpcServer } from 'actorhost';
 *
 * const ipc = await createIpcServer({ methods: { echo: (params) => params } });
 * const token = ipc.issueToken('conv-1'); // give it to the session (its input), with ipc.address
 * await ipc.close();
 * ```
 */
export async function createIpcServer(options: IpcServerOptions = {}): Promise<IpcServer> {
  const server = new IpcServerImpl(options);
  await server.listen();
  return server;
}

class IpcServerImpl implements IpcServer {
  readonly #server: Server;
  readonly #methods: Record<string, IpcMethod>;
  readonly #authTimeoutMs: number;
  readonly #serverInfo: { name: string; version: string };
  readonly #logger: Logger;
  readonly #clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  readonly #tcp: { port?: number } | undefined;
  #path: string | undefined;
  #privateDir: string | undefined;
  #port = 0;
  /** sha256(token) → session, and session → token: a lookup by hash, then a constant-time compare. */
  readonly #sessionsByTokenHash = new Map<string, string>();
  readonly #tokens = new Map<string, Buffer>();
  readonly #connections = new Set<Connection>();
  #closed = false;

  constructor(options: IpcServerOptions) {
    if (options.path !== undefined && options.tcp !== undefined) {
      throw new InvalidOptionError('createIpcServer: give options.path (a Unix socket) or options.tcp, not both');
    }
    this.#methods = options.methods ?? {};
    this.#authTimeoutMs = options.authTimeoutMs ?? 5_000;
    this.#serverInfo = options.serverInfo ?? { name: 'actorhost', version: PROTOCOL_VERSION };
    this.#logger = options.logger ?? defaultLogger();
    this.#clock = options.clock ?? { setTimeout: (callback, ms) => setTimeout(callback, ms), clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout) };
    this.#tcp = options.tcp;
    this.#path = options.path;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  async listen(): Promise<void> {
    if (this.#tcp) {
      await new Promise<void>((resolve, reject) => {
        this.#server.once('error', reject);
        this.#server.listen(this.#tcp!.port ?? 0, '127.0.0.1', () => resolve());
      });
      this.#port = (this.#server.address() as { port: number }).port;
      return;
    }
    if (this.#path === undefined) {
      // A private directory: the socket is unreachable to others from the moment it exists.
      this.#privateDir = mkdtempSync(join(tmpdir(), 'actorhost-ipc-'));
      this.#path = join(this.#privateDir, 'ipc.sock');
    }
    const path = this.#path;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
  }

  get address(): IpcServer['address'] {
    return this.#tcp ? { host: '127.0.0.1', port: this.#port } : { path: this.#path! };
  }

  issueToken(sessionId: string): string {
    this.revoke(sessionId);
    const token = randomBytes(32).toString('hex');
    this.#tokens.set(sessionId, Buffer.from(token));
    this.#sessionsByTokenHash.set(hash(token), sessionId);
    return token;
  }

  hasToken(sessionId: string): boolean {
    return this.#tokens.has(sessionId);
  }

  revoke(sessionId: string): void {
    const token = this.#tokens.get(sessionId);
    if (token) {
      this.#sessionsByTokenHash.delete(hash(token.toString()));
      this.#tokens.delete(sessionId);
    }
    for (const connection of this.#connections) {
      if (connection.sessionId !== sessionId) continue;
      connection.socket.destroy();
      this.#connections.delete(connection);
    }
  }

  notify(sessionId: string, method: string, params?: unknown): number {
    let reached = 0;
    for (const connection of this.#connections) {
      if (connection.sessionId !== sessionId) continue;
      if (writeMessage(connection.socket, params === undefined ? { method } : { method, params })) reached++;
    }
    return reached;
  }

  bye(sessionId: string): void {
    for (const connection of this.#connections) {
      if (connection.sessionId === sessionId) this.#sayBye(connection);
    }
  }

  connections(sessionId?: string): number {
    let count = 0;
    for (const connection of this.#connections) {
      if (connection.socket.destroyed || connection.sessionId === undefined) continue;
      if (sessionId === undefined || connection.sessionId === sessionId) count++;
    }
    return count;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections) this.#sayBye(connection);
    await closed;
    if (this.#privateDir) rmSync(this.#privateDir, { recursive: true, force: true });
    else if (this.#path) {
      try {
        unlinkSync(this.#path);
      } catch {
        // Already gone.
      }
    }
  }

  #sayBye(connection: Connection): void {
    writeMessage(connection.socket, { method: 'bye' });
    connection.socket.end();
    // A client that does not close its end within a moment is cut off.
    unref(this.#clock.setTimeout(() => connection.socket.destroy(), 1_000));
  }

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const connection: Connection = { socket, sessionId: undefined, authTimer: undefined };
    connection.authTimer = this.#clock.setTimeout(() => {
      writeMessage(socket, { id: null, error: { code: RPC_UNAUTHORIZED, message: `not authenticated within ${this.#authTimeoutMs} ms` } });
      socket.destroy();
    }, this.#authTimeoutMs);
    this.#connections.add(connection);
    const reader = new LineReader();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = reader.push(chunk);
      } catch (error) {
        writeMessage(socket, { id: null, error: { code: RPC_INVALID_REQUEST, message: (error as Error).message } });
        socket.destroy();
        return;
      }
      // The answers to one read leave in one write.
      if (lines.length > 1) corkUntilNextTick(socket);
      for (const line of lines) if (!isBlank(line)) this.#handleLine(connection, line);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#clock.clearTimeout(connection.authTimer);
      this.#connections.delete(connection);
    });
  }

  #handleLine(connection: Connection, line: string): void {
    const { socket } = connection;
    let message: RpcMessage;
    try {
      message = JSON.parse(line) as RpcMessage;
    } catch {
      writeMessage(socket, { id: null, error: { code: RPC_PARSE_ERROR, message: 'parse error: each line must be one JSON value' } });
      return;
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message) || typeof message.method !== 'string') {
      writeMessage(socket, {
        id: idOf(message),
        error: { code: RPC_INVALID_REQUEST, message: 'invalid request: expected an object with a string "method" (batches are not supported)' },
      });
      return;
    }
    const id = idOf(message);
    // A notification (no id) gets no answer, whatever happens.
    const replyTo = id === undefined || id === null ? undefined : id;
    if (message.method === 'initialize') {
      this.#initialize(connection, message.params, replyTo);
      return;
    }
    if (connection.sessionId === undefined) {
      this.#fail(socket, replyTo, RPC_UNAUTHORIZED, 'not authenticated: call initialize with your token first');
      return;
    }
    if (message.method === 'ping') {
      if (replyTo !== undefined) writeMessage(socket, { id: replyTo, result: 'pong' });
      return;
    }
    // Own methods only: `constructor` or `toString` from Object.prototype are not methods of ours.
    const method = typeof message.method === 'string' && Object.hasOwn(this.#methods, message.method) ? this.#methods[message.method] : undefined;
    if (typeof method !== 'function') {
      this.#fail(socket, replyTo, RPC_METHOD_NOT_FOUND, `unknown method "${message.method}"`);
      return;
    }
    const name = message.method;
    let result: unknown;
    try {
      result = method(message.params, { sessionId: connection.sessionId });
    } catch (error) {
      this.#fail(socket, replyTo, RPC_INTERNAL_ERROR, `${name} failed: ${(error as Error)?.message ?? String(error)}`);
      return;
    }
    if (replyTo === undefined) return;
    if (!isThenable(result)) {
      writeMessage(socket, { id: replyTo, result: result ?? null });
      return;
    }
    result.then(
      (value) => writeMessage(socket, { id: replyTo, result: value ?? null }),
      (error: unknown) => this.#fail(socket, replyTo, RPC_INTERNAL_ERROR, `${name} failed: ${(error as Error)?.message ?? String(error)}`),
    );
  }

  #fail(socket: Socket, replyTo: RpcMessage['id'] | undefined, code: number, message: string): void {
    if (replyTo !== undefined) writeMessage(socket, { id: replyTo, error: { code, message } });
  }

  #initialize(connection: Connection, params: unknown, replyTo: RpcMessage['id'] | undefined): void {
    const { token, version } = (params ?? {}) as { token?: unknown; version?: unknown };
    const sessionId = typeof token === 'string' ? this.#verify(token) : undefined;
    if (sessionId === undefined) {
      this.#fail(connection.socket, replyTo, RPC_UNAUTHORIZED, 'invalid token');
      connection.socket.end();
      return;
    }
    if (version !== PROTOCOL_VERSION) {
      this.#logger.warn({ sessionId, clientVersion: version, serverVersion: PROTOCOL_VERSION }, 'IPC protocol version mismatch');
    }
    this.#clock.clearTimeout(connection.authTimer);
    connection.sessionId = sessionId;
    if (replyTo !== undefined) writeMessage(connection.socket, { id: replyTo, result: { version: PROTOCOL_VERSION, serverInfo: this.#serverInfo } });
  }

  #verify(token: string): string | undefined {
    const sessionId = this.#sessionsByTokenHash.get(hash(token));
    const expected = sessionId === undefined ? undefined : this.#tokens.get(sessionId);
    const given = Buffer.from(token);
    if (!expected || expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    return sessionId;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function idOf(message: unknown): RpcMessage['id'] | undefined {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return null;
  const id = (message as RpcMessage).id;
  return typeof id === 'number' || typeof id === 'string' || id === null ? id : undefined;
}

