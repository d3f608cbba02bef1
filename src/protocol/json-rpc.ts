/**
 * Newline-delimited JSON-RPC 2.0 over a stream socket (a Unix socket or TCP): the framing shared
 * by the IPC server (host) and the connection machine (in a session). See docs/protocol.md.
 *
 * Contract:
 * - One JSON value per line. A line longer than `MAX_LINE_BYTES` is refused: the reader reports
 *   it and the connection is closed (nothing in it can be trusted to be framed correctly).
 * - `request` resolves with the result, or rejects with `RpcError` (the peer's error), with
 *   `RequestTimeoutError` after its timeout, or with `ConnectionClosedError` when the socket
 *   closes first. It never hangs.
 * - Writing to a destroyed socket never throws.
 */
import type { Socket } from 'node:net';
import { ConnectionClosedError, LineTooLongError, RequestTimeoutError, RpcError } from '../errors.js';

export { ConnectionClosedError, LineTooLongError, RequestTimeoutError, RpcError };

export const MAX_LINE_BYTES = 1024 * 1024;
export const PROTOCOL_VERSION = '1';

export interface RpcMessage {
  jsonrpc?: '2.0';
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** JSON-RPC error codes used by actorhost. */
export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INTERNAL_ERROR = -32603;
export const RPC_UNAUTHORIZED = -32001;




/** Splits a byte stream into lines, refusing a line over `maxBytes`. */
export class LineReader {
  readonly #maxBytes: number;
  #partial = '';

  constructor(maxBytes = MAX_LINE_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** The complete lines in `chunk`; throws `LineTooLongError` when a line would exceed the bound. */
  push(chunk: string): string[] {
    const text = this.#partial + chunk;
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    if (this.#tooLong(this.#partial) || lines.some((line) => this.#tooLong(line))) {
      this.#partial = '';
      throw new LineTooLongError(this.#maxBytes);
    }
    return lines;
  }

  /** A UTF-16 string of n units is at most 3n bytes of UTF-8: only long lines are measured. */
  #tooLong(line: string): boolean {
    return line.length * 3 > this.#maxBytes && Buffer.byteLength(line) > this.#maxBytes;
  }
}


/** An empty line (or a lone CR): skipped without copying the line as `trim()` would. */
export function isBlank(line: string): boolean {
  return line.length === 0 || (line.length === 1 && line === '\r');
}

/** Requests made in one tick leave in one write. */
export function corkUntilNextTick(socket: Socket): void {
  if (socket.writableCorked > 0) return;
  socket.cork();
  process.nextTick(() => socket.uncork());
}

/** Writes one message; false when the socket is gone (never throws). */
export function writeMessage(socket: Socket, message: RpcMessage): boolean {
  if (socket.destroyed || !socket.writable) return false;
  try {
    // The fixed member first, the rest appended: no object copy per message.
    const rest = JSON.stringify(message).slice(1);
    return socket.write(rest === '}' ? '{"jsonrpc":"2.0"}\n' : `{"jsonrpc":"2.0",${rest}\n`);
  } catch {
    return false;
  }
}

interface Pending {
  method: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
  deadline: number;
  timeoutMs: number;
}

/**
 * How often pending requests are checked for their deadline. One sweep timer per connection
 * instead of a timer per request (measured: per-request timers held pipelined throughput back);
 * a request times out at most this much after its deadline.
 */
const SWEEP_MS = 25;

/**
 * The client side of one socket: requests with ids and timeouts, notifications in both
 * directions. `onNotification` hears the server's notifications (`bye`, logs, …); `onClose`
 * fires once, with the reason.
 */
export class JsonRpcConnection {
  readonly socket: Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #reader = new LineReader();
  #nextId = 1;
  #closedReason: string | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  onNotification: (method: string, params: unknown) => void = () => {};
  onClose: (reason: string) => void = () => {};

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#read(chunk));
    socket.on('error', (error) => this.close(`socket error: ${error.message}`));
    socket.on('close', () => this.close('socket closed'));
  }

  /** Why it closed, once it has. Checked after every await: a frame read with another may have closed it. */
  get closedReason(): string | undefined {
    return this.#closedReason;
  }

  request(method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    if (this.#closedReason) return Promise.reject(new ConnectionClosedError(method, this.#closedReason));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { method, resolve, reject, deadline: performance.now() + timeoutMs, timeoutMs });
      this.#sweeper ??= setInterval(() => this.#sweep(), Math.min(SWEEP_MS, timeoutMs));
      corkUntilNextTick(this.socket);
      writeMessage(this.socket, { id, method, params });
    });
  }

  #sweep(): void {
    const now = performance.now();
    for (const [id, pending] of this.#pending) {
      if (pending.deadline > now) continue;
      this.#pending.delete(id);
      pending.reject(new RequestTimeoutError(pending.method, pending.timeoutMs));
    }
    if (this.#pending.size === 0) this.#stopSweeping();
  }

  #stopSweeping(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  notify(method: string, params?: unknown): void {
    writeMessage(this.socket, params === undefined ? { method } : { method, params });
  }

  close(reason: string): void {
    if (this.#closedReason) return;
    this.#closedReason = reason;
    this.#stopSweeping();
    for (const pending of this.#pending.values()) pending.reject(new ConnectionClosedError(pending.method, reason));
    this.#pending.clear();
    this.socket.destroy();
    this.onClose(reason);
  }

  #read(chunk: string): void {
    let lines: string[];
    try {
      lines = this.#reader.push(chunk);
    } catch (error) {
      this.close((error as Error).message);
      return;
    }
    // Every frame of the read is handled before any awaiting code resumes: a `bye` that came
    // with an answer has closed the connection by the time the awaiter checks `closedReason`.
    for (const line of lines) {
      if (this.#closedReason) return;
      if (isBlank(line)) continue;
      let message: RpcMessage;
      try {
        message = JSON.parse(line) as RpcMessage;
      } catch {
        this.close('the server sent a line that is not JSON');
        return;
      }
      this.#handle(message);
    }
  }

  #handle(message: RpcMessage): void {
    if (message.method !== undefined && (message.id === undefined || message.id === null)) {
      if (message.method === 'bye') {
        this.onNotification('bye', message.params);
        this.close('the server said bye');
        return;
      }
      this.onNotification(message.method, message.params);
      return;
    }
    if (typeof message.id !== 'number') return;
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.error) pending.reject(new RpcError(pending.method, message.error));
    else pending.resolve(message.result);
  }
}
